"""eigencalc: eigenstructure of infinite-width NNGP and NTK kernels.

The public API is this curated list of names; the code lives in one module
per concept (``activations``, ``criticality``, ...).  Conventions and
equation tags (M1, M2, ...) follow ``shared/MATH.md``.
"""

__version__ = "0.1.0"

from .activations import ACTIVATION_NAMES, Activation, DualSeries, TruncationWarning, activation
from .criticality import Criticality, criticality, kernel_flow

__all__ = [
    "ACTIVATION_NAMES",
    "Activation",
    "Criticality",
    "DualSeries",
    "TruncationWarning",
    "activation",
    "criticality",
    "kernel_flow",
]
