"""Critical initialization and universality classes (Roberts-Yaida-Hanin ch. 5).

A facade: the code lives in :mod:`eigencalc.duals.criticality`;
this module re-exports its public names so that user code keeps working.
"""

from .duals.criticality import (  # noqa: F401
    Criticality, criticality, kernel_flow, x,
)

__all__ = ['Criticality', 'criticality', 'kernel_flow', 'x']
