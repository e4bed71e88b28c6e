r"""Coefficient fields: one object owns the arithmetic of a computation (exact or mpmath).

Modelled on ``sympy.polys.domains``: the kernel series (M15, M16) and the tree
moment recursion run the same code over

* :data:`FRACTIONS` -- :math:`\mathbb Q` as ``fractions.Fraction`` (fast exact);
* :data:`SYMPY` -- exact sympy numbers and expressions (:math:`\pi`,
  :math:`\sqrt 2`, symbols such as ``n0``);
* :data:`MPMATH` -- mpmath numbers at the context precision ``mpmath.mp.dps``
  (set it with ``mpmath.workdps``; sympy input is evaluated with
  :data:`~eigencalc.core.numbers.GUARD_DIGITS` extra digits).

Every field has the same interface: ``exact``, ``zero``, ``one``, ``num``
(a value into the field; exact fields raise :class:`NotInField` for a value
they cannot hold), ``to_sympy`` (a field element as a sympy number, for calls
into sympy-valued APIs such as ``Activation.second_moment``), ``out`` (the
element as a result), ``mul``, ``total`` (sum of a non-empty list) and
``is_zero``.

>>> [F.num(1) + F.num(Fraction(1, 2)) for F in (FRACTIONS, SYMPY)]
[Fraction(3, 2), 3/2]
>>> with mpmath.workdps(20):
...     MPMATH.num(sympy.Rational(1, 3)) * 3 == 1
True
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import sympy

from .numbers import GUARD_DIGITS, to_mpf

__all__ = ["NotInField", "FractionField", "SympyField", "MpField", "FRACTIONS", "SYMPY", "MPMATH"]


class NotInField(Exception):
    """A value cannot be represented in an exact field (the message says which and why)."""


class _Field:
    """The operations every field shares (python operators on its elements)."""

    exact: bool = True
    zero: Any = 0
    one: Any = 1

    @staticmethod
    def mul(a, b):
        """:math:`a b` in the field."""
        return a * b

    @staticmethod
    def total(terms: list):
        r""":math:`\sum_i t_i` of a non-empty list (a single term is returned as it is)."""
        return sum(terms[1:], terms[0]) if len(terms) > 1 else terms[0]

    @staticmethod
    def is_zero(value) -> bool:
        return value == 0

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class FractionField(_Field):
    r""":math:`\mathbb Q` as ``fractions.Fraction``; :meth:`num` raises :class:`NotInField` for irrationals.

    >>> FRACTIONS.num(sympy.Rational(2, 6)), FRACTIONS.out(Fraction(1, 3))
    (Fraction(1, 3), 1/3)
    """

    exact = True
    zero, one = Fraction(0), Fraction(1)

    @staticmethod
    def num(value) -> Fraction:
        if isinstance(value, Fraction):
            return value
        if isinstance(value, int):
            return Fraction(value)
        value = sympy.nsimplify(value) if isinstance(value, sympy.Float) else sympy.sympify(value)
        if not value.is_Rational:
            raise NotInField(f"{value} is not rational")
        return Fraction(int(value.p), int(value.q))

    @staticmethod
    def to_sympy(value) -> sympy.Rational:
        return sympy.Rational(value.numerator, value.denominator)

    out = to_sympy


class SympyField(_Field):
    r"""Exact sympy arithmetic; a product with a sum is expanded, so coefficients stay in normal form.

    >>> t = sympy.Symbol("t"); SYMPY.mul(2 * t, t + 1), SYMPY.total([t, t, 1])
    (2*t**2 + 2*t, 2*t + 1)
    """

    exact = True
    zero, one = sympy.Integer(0), sympy.Integer(1)

    @staticmethod
    def num(value) -> sympy.Expr:
        if isinstance(value, sympy.Basic):
            return value
        if isinstance(value, int):
            return sympy.Integer(value)
        if isinstance(value, Fraction):
            return sympy.Rational(value.numerator, value.denominator)
        raise NotInField(f"a non-exact number {value!r} entered the exact expansion")

    @staticmethod
    def mul(a, b):
        p = a * b
        if isinstance(a, sympy.Add) or isinstance(b, sympy.Add):
            p = sympy.expand(p)
        return p

    @staticmethod
    def total(terms: list):
        return sympy.Add(*terms) if len(terms) > 1 else terms[0]

    @staticmethod
    def to_sympy(value) -> sympy.Expr:
        return value

    @staticmethod
    def out(value) -> sympy.Expr:
        """A result in normal form: :math:`p/q` cancelled and factored."""
        return sympy.factor(sympy.cancel(value))


class MpField(_Field):
    r"""mpmath numbers at the context precision; sums are exactly rounded (``mpmath.fsum``).

    >>> with mpmath.workdps(30):
    ...     x = MPMATH.num(sympy.pi)
    ...     MPMATH.to_sympy(x) == sympy.Float(x, 35), MPMATH.total([x, -x, MPMATH.one])
    (True, mpf('1.0'))
    """

    exact = False
    zero, one = mpmath.mpf(0), mpmath.mpf(1)

    @staticmethod
    def num(value) -> mpmath.mpf:
        if isinstance(value, mpmath.mpf):
            return value
        if isinstance(value, (sympy.Basic, Fraction)):
            return to_mpf(value)
        return mpmath.mpf(value)

    @staticmethod
    def total(terms: list):
        return mpmath.fsum(terms) if len(terms) > 1 else terms[0]

    @staticmethod
    def to_sympy(value) -> sympy.Float:
        """An mpf as a sympy Float with the context precision plus guard digits (exact conversion)."""
        return sympy.Float(value, mpmath.mp.dps + GUARD_DIGITS)

    @staticmethod
    def out(value) -> mpmath.mpf:
        """The element rounded to the context precision."""
        return +value


#: The field instances (fields are stateless; compare with ``is``).
FRACTIONS = FractionField()
SYMPY = SympyField()
MPMATH = MpField()
