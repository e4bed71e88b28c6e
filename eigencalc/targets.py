"""Target functions for learning curves (section 7).

A facade: the code lives in :mod:`eigencalc.learn.targets`;
this module re-exports its public names so that user code keeps working.
"""

from .learn.targets import (  # noqa: F401
    Target, harmonic, k_local, k_global, cyclic_local, f_LF, f_HF,
)

__all__ = ['Target', 'harmonic', 'k_local', 'k_global', 'cyclic_local', 'f_LF', 'f_HF']
