r"""Conversions between the number kinds eigencalc uses: exact (sympy, Fraction), mpmath, float64.

Precision is taken from the mpmath context (``mpmath.mp.dps``, set with
``mpmath.workdps``), never from a hidden global of eigencalc; a float is
read as the shortest decimal that rounds to it.  No function here parses text.

>>> to_float(sympy.Rational(1, 3)) == 1 / 3, exact_real(0.1, "b_std")
(True, 1/10)
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import sympy

__all__ = ["to_float", "to_mpf", "finite_mpf", "exact_real", "exact_number"]

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
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return mpmath.mpf(value)


def finite_mpf(value: Any, what: str = "value") -> mpmath.mpf:
    r"""A checked :func:`to_mpf`: a real, finite :math:`x \in \mathbb R` as an mpf, else an error naming ``what``.

    Accepts python, numpy (0-d arrays too), Fraction, sympy and mpmath numbers;
    a complex value with zero imaginary part is taken as real.  Raises
    ``ValueError`` (``"... is not finite"`` / ``"... is not real"``) or
    ``TypeError`` (not a number).  An mpf is returned unchanged (no rounding to
    the context precision).

    >>> with mpmath.workdps(20):
    ...     finite_mpf(sympy.Rational(1, 4)) == finite_mpf(Fraction(1, 4)) == to_mpf(0.25)
    True
    >>> finite_mpf(sympy.oo, "f(1)")
    Traceback (most recent call last):
    ...
    ValueError: f(1) is not finite: oo
    """
    if type(value) is mpmath.mpf:
        if not mpmath.isfinite(value):
            raise ValueError(f"{what} is not finite: {value}")
        return value
    if isinstance(value, sympy.Basic):
        if not (isinstance(value, sympy.Expr) and value.is_number):
            raise TypeError(f"{what} is not a number: {value}")
        if value.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
            raise ValueError(f"{what} is not finite: {value}")
        re, im = sympy.N(value, mpmath.mp.dps + GUARD_DIGITS).as_real_imag()
        if im != 0:
            raise ValueError(f"{what} is not real: {value}")
        value = to_mpf(re)
    elif isinstance(value, Fraction):
        value = to_mpf(value)
    elif isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (mpmath.mpc, complex)) or np.iscomplexobj(value):
        if mpmath.im(value) != 0:
            raise ValueError(f"{what} is not real: {value}")
        value = mpmath.re(value)
    try:
        value = mpmath.mpf(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} is not a real number: {value!r}") from None
    if not mpmath.isfinite(value):
        raise ValueError(f"{what} is not finite: {value}")
    return value


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


def exact_number(value: Any, what: str = "value") -> sympy.Expr | None:
    r"""``value`` as an exact sympy number, or None when it is inexact (float, mpf, sympy ``Float``).

    Python and numpy integers and Fractions become sympy Integers and
    Rationals; exact sympy numbers (:math:`\sqrt 2`, :math:`\pi`) stay as they
    are.  An exact number that is infinite or not real raises ``ValueError``
    (``"<what> is not finite"`` / ``"<what> is not real"``).  Unlike
    :func:`exact_real` a float is *not* read as a decimal: it is inexact.

    >>> exact_number(Fraction(1, 3)), exact_number(2), exact_number(0.5), exact_number(sympy.Float(1))
    (1/3, 2, None, None)
    >>> exact_number(sympy.sqrt(2)) ** 2 == 2
    True
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return sympy.Integer(int(value))
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, sympy.Basic):
        if isinstance(value, sympy.Expr) and value.is_number and not value.has(sympy.Float):
            if value.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
                raise ValueError(f"{what} is not finite: {value}")
            if value.is_real is False:
                raise ValueError(f"{what} is not real: {value}")
            return value
    return None
