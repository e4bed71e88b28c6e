r"""Conversions between the number kinds eigencalc uses: exact (sympy, Fraction), mpmath, float64.

Precision is taken from the mpmath context (``mpmath.mp.dps``, set with
``mpmath.workdps``), never from a hidden global of eigencalc; a float is
read as the shortest decimal that rounds to it.  No function here parses text.

>>> to_float(sympy.Rational(1, 3)) == 1 / 3, exact_real(0.1, "b_std")
(True, 1/10)
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import sympy

__all__ = ["to_float", "to_mpf", "exact_real"]

#: Guard digits added to the mpmath context precision when a sympy number is evaluated.
GUARD_DIGITS = 5


def to_float(value: Any) -> float:
    """The nearest float64 of a sympy, Fraction, mpmath or python number (sympy evaluated to 20 digits).

    >>> to_float(sympy.pi), to_float(Fraction(1, 4))
    (3.141592653589793, 0.25)
    """
    if isinstance(value, sympy.Basic):
        return float(sympy.N(value, 20))
    return float(value)


def to_mpf(value: Any) -> mpmath.mpf:
    """A sympy or python real as an mpmath number at the context precision (plus guard digits).

    >>> with mpmath.workdps(30):
    ...     str(to_mpf(sympy.Rational(1, 3)))
    '0.333333333333333333333333333333'
    """
    if isinstance(value, mpmath.mpf):
        return value
    if isinstance(value, sympy.Basic):
        if value.is_infinite:
            return mpmath.inf if value.is_positive else -mpmath.inf
        return mpmath.mpf(str(sympy.N(value, mpmath.mp.dps + GUARD_DIGITS)))
    return mpmath.mpf(value)


def exact_real(value: Any, what: str) -> sympy.Expr:
    r"""A real parameter :math:`w \in \mathbb R` as an exact sympy number (never parses user strings).

    Integers, fractions and sympy numbers stay exact; a float is read as the
    shortest decimal that rounds to it (``0.1`` -> ``1/10``).  Pass
    ``sympy.sqrt(2)`` for an exact sqrt(2).

    >>> exact_real(0.5, "W_std"), exact_real(2, "W_std"), exact_real(0.1, "b_std")
    (1/2, 2, 1/10)
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{what} must be a real number, got {value!r}")
    if isinstance(value, sympy.Basic):
        if not (value.is_number and value.is_real):
            raise TypeError(f"{what} must be a real number, got {value!r}")
        if not value.is_finite:
            raise ValueError(f"{what} must be finite, got {value}")
        return value
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, got {value!r}")
        # repr of a float is a canonical decimal literal, not user text.
        return sympy.Rational(repr(float(value)))
    raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
