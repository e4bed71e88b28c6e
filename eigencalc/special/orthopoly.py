r"""Orthogonal polynomials of the sphere and the hypercube, and their multiplicities (M9, M12).

* normalised Gegenbauer polynomials :math:`P_k(n; t) = C_k^{(n-2)/2}(t) / C_k^{(n-2)/2}(1)`
  on :math:`S^{n-1}` (M9), from one three-term recurrence
  (:func:`gegenbauer_recurrence`) that takes its arithmetic as a parameter:
  exact sympy, float64/numpy, mpmath, or the fixed-point integers of the
  sphere quadrature;
* Krawtchouk polynomials :math:`K_k(j; n) = \sum_i (-1)^i \binom{j}{i}\binom{n-j}{k-i}`
  on :math:`\{-1, 1\}^n` (M12), exact integers from their three-term recurrence;
* multiplicities :math:`N(n, k)` (sphere) and :math:`\binom{n}{k}` (hypercube).

Like ``sympy.polys.orthopolys``: the recurrence is written once and the
front ends validate their input and choose the arithmetic.

>>> gegenbauer_normalized(2, 3, sympy.Rational(1, 2)), krawtchouk(1, 1, 4), sphere_multiplicity(3, 2)
(-1/8, 2, 5)
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable, Iterator

import numpy as np
import sympy

from ..core.validate import check_int

__all__ = [
    "gegenbauer_recurrence",
    "float_step",
    "fixed_point_step",
    "gegenbauer_normalized_all",
    "gegenbauer_normalized",
    "zonal_harmonic",
    "sphere_multiplicity",
    "hypercube_multiplicity",
    "krawtchouk_table",
    "krawtchouk",
    "krawtchouk_ratio",
    "check_sphere_dimension",
    "check_cube_dimension",
    "is_exact_argument",
]


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------


def check_sphere_dimension(n: Any) -> int:
    """The ambient dimension n >= 2 of the sphere :math:`S^{n-1}` (python int).

    >>> check_sphere_dimension(1)
    Traceback (most recent call last):
    ...
    ValueError: n (ambient dimension of the sphere S^{n-1}) must be >= 2, got 1
    """
    return check_int(n, "n (ambient dimension of the sphere S^{n-1})", 2)


def check_cube_dimension(n: Any) -> int:
    """The dimension n >= 1 of the hypercube :math:`\\{-1, 1\\}^n` (python int).

    >>> check_cube_dimension(3)
    3
    """
    return check_int(n, "n (dimension of the hypercube {-1,1}^n)", 1)


def is_exact_argument(t: Any) -> bool:
    """True for arguments evaluated exactly: sympy objects (numbers, symbols), Fractions, python ints.

    >>> is_exact_argument(Fraction(1, 2)), is_exact_argument(0.5), is_exact_argument(True)
    (True, False, False)
    """
    return isinstance(t, (sympy.Basic, Fraction)) or (isinstance(t, numbers.Integral) and not isinstance(t, bool))


# --------------------------------------------------------------------------
# Normalised Gegenbauer polynomials (M9)
# --------------------------------------------------------------------------


def gegenbauer_recurrence(kmax: int, n: int, t: Any, p0: Any, p1: Any, combine: Callable) -> Iterator:
    r"""Yield :math:`P_0(n; t), \dots, P_{k_{max}}(n; t)` in the arithmetic given by ``combine`` (M9).

    .. math::

        P_{k+1} = \frac{a_k\, t\, P_k - b_k\, P_{k-1}}{c_k}, \qquad
        a_k = 2k + n - 2,\ b_k = k,\ c_k = k + n - 2,

    with :math:`P_0` = ``p0`` and :math:`P_1` = ``p1`` (one and t in that
    arithmetic); ``combine(a, b, c, t, P_k, P_{k-1})`` computes one step.  No
    validation: the front ends (:func:`gegenbauer_normalized_all`) do that.
    The forward recurrence is stable on [-1, 1], where :math:`|P_k| \le 1`.

    >>> P = list(gegenbauer_recurrence(3, 3, 0.5, 1.0, 0.5, float_step)); P   # n = 3: Legendre at t = 1/2
    [1.0, 0.5, -0.125, -0.4375]
    >>> P[3] == (5 * 0.5**3 - 3 * 0.5) / 2
    True
    """
    if kmax < 0:
        return
    yield p0
    if kmax < 1:
        return
    yield p1
    prev, cur = p0, p1
    for k in range(1, kmax):
        prev, cur = cur, combine(2 * k + n - 2, k, k + n - 2, t, cur, prev)
        yield cur


def float_step(a: int, b: int, c: int, t, p, q):
    r"""One step of :func:`gegenbauer_recurrence` in float/numpy/mpmath arithmetic: :math:`(a\,t\,P_k - b\,P_{k-1})/c`.

    >>> float_step(3, 1, 2, 0.5, 0.5, 1.0)    # P_2(3; 1/2) = (3 t^2 - 1)/2
    -0.125
    """
    return (a * t * p - b * q) / c


def fixed_point_step(bits: int) -> Callable:
    r"""The step of :func:`gegenbauer_recurrence` on integers at scale :math:`2^{bits}` (exact products, one rounding per step).

    .. math:: P_{k+1} = \big\lfloor (a \lfloor t P_k / 2^{bits} \rfloor - b P_{k-1}) / c \big\rfloor

    >>> B = 20; P = list(gegenbauer_recurrence(2, 3, 1 << (B - 1), 1 << B, 1 << (B - 1), fixed_point_step(B)))
    >>> P[2] == -(1 << B) // 8                # P_2(3; 1/2) = -1/8
    True
    """

    def step(a: int, b: int, c: int, t, p, q):
        return (a * ((t * p) >> bits) - b * q) // c

    return step


def _exact_step(a: int, b: int, c: int, t, p, q):
    return sympy.Rational(a, c) * t * p - sympy.Rational(b, c) * q


def _expanded_step(a: int, b: int, c: int, t, p, q):
    return sympy.expand(_exact_step(a, b, c, t, p, q))


def _gegenbauer_values(kmax: int, n: int, t: Any) -> Iterator:
    """Validate, pick the arithmetic of t (exact or its own), return the recurrence iterator."""
    kmax = check_int(kmax, "kmax", 0)
    n = check_sphere_dimension(n)
    if is_exact_argument(t):
        if isinstance(t, Fraction):
            t = sympy.Rational(t.numerator, t.denominator)
        t = sympy.sympify(t)
        step = _expanded_step if t.free_symbols else _exact_step
        return gegenbauer_recurrence(kmax, n, t, sympy.Integer(1), t, step)
    if isinstance(t, (list, tuple)):
        t = np.asarray(t, dtype=np.float64)
    one = t * 0 + 1
    return gegenbauer_recurrence(kmax, n, t, one, t * one, float_step)


def gegenbauer_normalized_all(kmax: int, n: int, t: Any) -> list:
    r""":math:`[P_0(n; t), \dots, P_{k_{max}}(n; t)]`, normalised Gegenbauer polynomials (M9).

    .. math::

        P_k(n; t) = \frac{C_k^{(n-2)/2}(t)}{C_k^{(n-2)/2}(1)}, \qquad
        P_{k+1} = \frac{(2k + n - 2)\, t\, P_k - k\, P_{k-1}}{k + n - 2},

    :math:`P_0 = 1`, :math:`P_1 = t` (n = 2: Chebyshev :math:`T_k`, n = 3:
    Legendre).  The forward recurrence is stable on [-1, 1] (:math:`|P_k| \le 1`
    there), so k = 1000 is fine in float64.  Exact for python ints, Fractions and
    sympy input (a symbol gives expanded polynomials); mpmath, float and numpy
    arrays are evaluated in their own arithmetic.

    >>> P = gegenbauer_normalized_all(4, 3, sympy.Rational(1, 2)); P
    [1, 1/2, -1/8, -7/16, -37/128]
    >>> x = sympy.Symbol('x'); gegenbauer_normalized_all(3, 2, x)[3] == sympy.chebyshevt(3, x)
    True
    """
    return list(_gegenbauer_values(kmax, n, t))


def gegenbauer_normalized(k: int, n: int, t: Any) -> Any:
    r""":math:`P_k(n; t) = C_k^{(n-2)/2}(t) / C_k^{(n-2)/2}(1)`, so :math:`P_k(n; 1) = 1` (M9).

    .. math::

        \int_{-1}^{1} P_j(n;t) P_k(n;t) (1-t^2)^{(n-3)/2} dt = 0 \quad (j \ne k),
        \qquad P_k(n; -t) = (-1)^k P_k(n; t).

    Three-term recurrence, see :func:`gegenbauer_normalized_all`; exact for
    exact input, float/mpmath/numpy otherwise.

    >>> x = sympy.Symbol('x')
    >>> C = sympy.gegenbauer(4, sympy.Rational(3, 2), x)
    >>> sympy.expand(gegenbauer_normalized(4, 5, x) - C / C.subs(x, 1))
    0
    >>> gegenbauer_normalized(1000, 10, 1.0), gegenbauer_normalized(1000, 7, -1)
    (1.0, 1)
    """
    k = check_int(k, "k (degree)", 0)
    return deque(_gegenbauer_values(k, n, t), maxlen=1)[0]


def zonal_harmonic(k: int, n: int, s: Any) -> np.ndarray:
    r"""Normalised zonal harmonic :math:`\sqrt{N(n,k)}\, P_k(n; s)` on :math:`S^{n-1}` (M9).

    :math:`P_k(n; s)` is the Gegenbauer polynomial normalised by :math:`P_k(1) = 1`,
    from the three-term recurrence

    .. math:: (k + n - 2)\,P_{k+1}(s) = (2k + n - 2)\, s\, P_k(s) - k\, P_{k-1}(s),

    and :math:`E_{x}[P_k(n; \langle x, e\rangle)^2] = 1/N(n, k)` for x uniform on
    the unit sphere, so the result has unit second moment.

    >>> [round(float(v), 10) for v in zonal_harmonic(2, 3, [1.0, 0.0])]  # sqrt(5) (3 s^2 - 1)/2
    [2.2360679775, -1.1180339887]
    """
    k = check_int(k, "degree k", 0)
    n = check_int(n, "n (sphere dimension + 1)", 2)
    return math.sqrt(sphere_multiplicity(n, k)) * gegenbauer_normalized(k, n, np.asarray(s, dtype=np.float64))


# --------------------------------------------------------------------------
# Multiplicities (M9, M12)
# --------------------------------------------------------------------------


def sphere_multiplicity(n: int, k: int) -> int:
    r""":math:`N(n, k)`, the number of independent degree-k harmonics on :math:`S^{n-1}` (M9).

    .. math::

        N(n, 0) = 1, \qquad N(n, k) = \frac{2k + n - 2}{k}\binom{k + n - 3}{k - 1}.

    Exact python int.  Identity: :math:`\sum_{j \le k} N(n, j) = \binom{n+k-1}{k} + \binom{n+k-2}{k-1}`
    (harmonic polynomials of degree <= k, split by parity).

    >>> [sphere_multiplicity(3, k) for k in range(5)]
    [1, 3, 5, 7, 9]
    >>> k = 7; sum(sphere_multiplicity(5, j) for j in range(k + 1)) == math.comb(5 + k - 1, k) + math.comb(5 + k - 2, k - 1)
    True
    """
    n = check_sphere_dimension(n)
    k = check_int(k, "k (degree)", 0)
    if k == 0:
        return 1
    return (2 * k + n - 2) * math.comb(k + n - 3, k - 1) // k


def hypercube_multiplicity(n: int, k: int) -> int:
    r""":math:`\binom{n}{k}`, the number of Walsh functions :math:`\chi_S` with :math:`|S| = k` (M12).

    .. math::

        \sum_{k=0}^{n} \binom{n}{k} = 2^n = \dim L^2(\{-1,1\}^n).

    >>> sum(hypercube_multiplicity(6, k) for k in range(7)) == 2**6
    True
    """
    n = check_cube_dimension(n)
    k = check_int(k, "k (degree)", 0)
    return math.comb(n, k)


# --------------------------------------------------------------------------
# Krawtchouk polynomials (M12)
# --------------------------------------------------------------------------


@lru_cache(maxsize=64)
def krawtchouk_table(n: int) -> tuple:
    r"""All :math:`K_k(j; n)`, :math:`0 \le k, j \le n`, as a tuple of rows ``[k][j]`` (exact ints, M12).

    Three-term recurrence in k:
    :math:`(k+1) K_{k+1}(j) = (n - 2j) K_k(j) - (n - k + 1) K_{k-1}(j)`,
    :math:`K_0 = 1`, :math:`K_1(j) = n - 2j`.  No validation (n >= 1).

    >>> T = krawtchouk_table(5); all(T[k][0] == math.comb(5, k) for k in range(6))   # K_k(0) = binom(n, k)
    True
    """
    rows = [[1] * (n + 1), [n - 2 * j for j in range(n + 1)]]
    for k in range(1, n):
        prev, cur = rows[k - 1], rows[k]
        nxt = []
        for j in range(n + 1):
            num = (n - 2 * j) * cur[j] - (n - k + 1) * prev[j]
            q, r = divmod(num, k + 1)
            assert r == 0
            nxt.append(q)
        rows.append(nxt)
    return tuple(tuple(r) for r in rows[: n + 1])


def krawtchouk(k: int, j: int, n: int) -> int:
    r"""Krawtchouk polynomial :math:`K_k(j) = \sum_i (-1)^i \binom{j}{i}\binom{n-j}{k-i}` (M12), exact int.

    .. math::

        \sum_{j=0}^{n} \binom{n}{j} K_k(j) K_l(j) = 2^n \binom{n}{k}\, \delta_{kl},
        \qquad K_k(0) = \binom{n}{k}.

    >>> krawtchouk(2, 1, 4), krawtchouk(3, 4, 4)
    (0, -4)
    >>> n = 6; all(sum(math.comb(n, j) * krawtchouk(k, j, n) * krawtchouk(l, j, n) for j in range(n + 1))
    ...          == (2**n * math.comb(n, k) if k == l else 0) for k in range(n + 1) for l in range(n + 1))
    True
    """
    n = check_cube_dimension(n)
    k = check_int(k, "k (degree)", 0)
    j = check_int(j, "j (Hamming distance)", 0)
    if j > n:
        raise ValueError(f"j must be <= n = {n}, got {j}")
    if k > n:
        return 0
    return krawtchouk_table(n)[k][j]


def krawtchouk_ratio(k: int, j: Any, n: int) -> np.ndarray:
    r""":math:`K_k(j; n)/\binom{n}{k}` in float64 for an integer array ``j`` (M12): the hypercube :math:`P_k`.

    With :math:`t = 1 - 2j/n` it is the addition-theorem average
    :math:`\binom{n}{k}^{-1}\sum_{|S| = k}\chi_S(x)\chi_S(y)`, equal to 1 at
    j = 0.  No validation (``0 <= k, j <= n``).

    >>> krawtchouk_ratio(2, np.array([0, 1, 2]), 4).tolist()    # K_2(j; 4) = 6, 0, -2
    [1.0, 0.0, -0.3333333333333333]
    """
    binom = math.comb(n, k)
    return np.array([K / binom for K in krawtchouk_table(n)[k]])[j]
