"""Dual activations: Hermite coefficients, dual kernels and derivative duals (M5-M8).

A facade: the code lives in :mod:`eigencalc.duals.activations`;
this module re-exports its public names so that user code keeps working.
"""

from .duals.activations import (  # noqa: F401
    Activation, DualSeries, TruncationWarning, activation, ACTIVATION_NAMES, x, rho, ABRelu,
    Step, Erf, Trig, Exp, Polynomial,
)

__all__ = ['Activation', 'DualSeries', 'TruncationWarning', 'activation', 'ACTIVATION_NAMES', 'x', 'rho', 'ABRelu', 'Step', 'Erf', 'Trig', 'Exp', 'Polynomial']
