r"""Argument checks shared by every layer of eigencalc (no mathematics, no I/O).

Each check returns the coerced value or raises ``TypeError`` (wrong type) /
``ValueError`` (right type, bad value) with a message that names the argument.
Integers are python, numpy or sympy integers; booleans are never integers.

>>> check_int(3, "d"), check_kind("ntk")
(3, 'ntk')
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

__all__ = ["KINDS", "REQUIRED", "check_kind", "required_kind", "check_int", "check_grid", "check_nonnegative", "check_inputs"]

#: The kernel kinds understood everywhere: the NNGP :math:`\Sigma` and the NTK :math:`\Theta` (M1-M4).
KINDS = ("nngp", "ntk")


def check_kind(kind: Any) -> str:
    """``kind`` is ``"nngp"`` or ``"ntk"``.

    >>> check_kind("svm")
    Traceback (most recent call last):
    ...
    ValueError: kind must be one of ('nngp', 'ntk'), got 'svm'
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


class _Required:
    """The default of an argument that callers must pass (during its deprecation period)."""

    def __repr__(self) -> str:
        return "<required>"


#: Default of ``kind`` everywhere: it must be given (omitting it is deprecated, see :func:`required_kind`).
REQUIRED = _Required()


def required_kind(kind: Any, where: str, old_default: str) -> str:
    """``kind`` checked by :func:`check_kind`; when omitted, the old default with a ``DeprecationWarning``.

    The defaults policy: ``kind`` has no default anywhere.  For one release a
    call that omits it keeps its old meaning (``"nngp"`` for kernel functions,
    ``"ntk"`` for spectral ones) and warns.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     required_kind(REQUIRED, "gram", "nngp"), caught[0].category.__name__
    ('nngp', 'DeprecationWarning')
    """
    if kind is REQUIRED:
        warnings.warn(
            f"{where}: pass kind='nngp' or kind='ntk'; omitting kind is deprecated (here it meant "
            f"kind={old_default!r}) and kind will be required in the next release",
            DeprecationWarning,
            stacklevel=3,
        )
        kind = old_default
    return check_kind(kind)


def check_int(value: Any, what: str, minimum: int | None = 1) -> int:
    """An integer (python, numpy or sympy; not bool) that is ``>= minimum`` (no bound when None).

    >>> check_int(0, "degree k", 1)
    Traceback (most recent call last):
    ...
    ValueError: degree k must be >= 1, got 0
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        value = int(value)
    elif getattr(value, "is_Integer", False):  # a sympy Integer
        value = int(value)
    else:
        raise TypeError(f"{what} must be an integer, got {value!r} of type {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def check_nonnegative(value: Any, what: str) -> float:
    """A finite real number ``>= 0``, as a float.

    >>> check_nonnegative(-1, "ridge")
    Traceback (most recent call last):
    ...
    ValueError: ridge must be finite and >= 0, got -1.0
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be finite and >= 0, got {value}")
    return value


def check_grid(d: Any, noun: str = "input patches") -> tuple:
    """A grid of patches: an int ``d`` (a row, 1-D) or a shape such as ``(H, W)``; returned as a tuple of ints >= 1.

    ``noun`` names the patches in messages.  The kernel compiler and the product domains read grids through this.

    >>> check_grid(4), check_grid((2, 3))
    ((4,), (2, 3))
    """
    if isinstance(d, (tuple, list, np.ndarray)):
        if len(d) == 0:
            raise ValueError(f"the grid of {noun} needs at least one axis, got ()")
        return tuple(check_int(v, f"grid axis {k} (patches along it)", 1) for k, v in enumerate(d))
    return (check_int(d, f"d (number of {noun})", 1),)


def check_inputs(X: Any, name: str) -> np.ndarray:
    """Raw network inputs: a finite float array of shape ``(N, d, n0)`` or ``(N, H, W, n0)``, no empty axis."""
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real array of shape (N, d, n0): {err}") from None
    if X.ndim < 3:
        raise ValueError(
            f"{name} must have shape (N, d, n0) (inputs, patches, channels) or (N, H, W, n0) on a grid, "
            f"got shape {X.shape}"
        )
    if 0 in X.shape:
        raise ValueError(f"{name} has an empty axis: shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X
