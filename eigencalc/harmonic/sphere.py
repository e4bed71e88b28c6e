r"""Dot-product kernels on one sphere :math:`S^{n-1}` (MATH.md section 4, M9--M11).

A kernel :math:`k(x, y) = f(\langle x, y\rangle)` on the unit sphere
:math:`S^{n-1} \subset \mathbb R^n` (uniform probability measure) is
diagonalised by spherical harmonics; the eigenvalue of the degree-k harmonics
is the Funk--Hecke coefficient

.. math::

    \mu_k = \frac{|S^{n-2}|}{|S^{n-1}|} \int_{-1}^{1} f(t)\, P_k(n; t)\,
            (1 - t^2)^{(n-3)/2}\, dt, \qquad
    f(t) = \sum_{k \ge 0} \mu_k\, N(n, k)\, P_k(n; t),

with multiplicity :math:`N(n, k)` and :math:`P_k(n; 1) = 1` (M9, M10).

Two engines:

* **exact-M11** -- a polynomial :math:`f = \sum_a c_a t^a` (sympy expression)
  gives :math:`\mu_k = \sum_a c_a \mu_k(t^a)` with the rational monomial
  coefficients of M11; exact whenever the :math:`c_a` are.
* **quadrature** -- anything else, in mpmath at ``mpmath.mp.dps`` digits.
  With :math:`t = \cos\theta`,

  .. math::

      \mu_k = c_n \int_0^\pi f(\cos\theta)\, P_k(n; \cos\theta)\,
              \sin^{n-2}\theta\, d\theta, \qquad
      c_n = \frac{\Gamma(n/2)}{\sqrt\pi\,\Gamma((n-1)/2)},

  by Gauss--Legendre in :math:`\theta`.  Endpoint behaviour
  :math:`(1 \mp t)^{m/2}` (ReLU-type NNGP/NTK kernels, the weight for every n)
  is analytic in :math:`\theta` (:math:`1 - \cos\theta = 2\sin^2(\theta/2)`),
  so the rule converges geometrically.  Other endpoint exponents
  (:math:`(1-t)^{1/3}`: :math:`\theta^{2/3}`) would converge only
  algebraically; when the plain rules have not converged by twice the initial
  node count, the map :math:`\theta = \pi u^3/(u^3 + (1-u)^3)` takes over
  (:math:`\theta^\alpha d\theta \to u^{3\alpha+2} du`) and the result's
  ``notes`` say so.  All :math:`\mu_0, \dots, \mu_{k_{max}}` come from one
  pass of the three-term recurrence of :math:`P_k` over the nodes, done in
  fixed-point integer arithmetic (exact big-integer products, one rounding
  per step), which is far faster than mpf arithmetic.

**Error estimate (quadrature).**  Two Gauss--Legendre rules with
:math:`N_1 < N_2` nodes; ``error_estimate[k]`` is
:math:`|\mu_k^{(N_2)} - \mu_k^{(N_1)}|` plus a bound on the fixed-point
rounding (and, for float-valued callables, on the float64 rounding of f).  The
reported value is the :math:`N_2` one, whose error is much smaller than the
difference once the rule has resolved the integrand (Gauss rules converge
geometrically).  Nodes are added until every
:math:`\text{error}_k \le 10^{-\text{dps}}\max(|\mu_k|, 10^{-\text{dps}} S)`,
:math:`S = c_n \int |f| \sin^{n-2}`: every eigenvalue to ``dps`` significant
digits, or to :math:`10^{-2\,\text{dps}} S` absolutely if it is smaller than
that (eigenvalues that vanish by symmetry).  The working precision is
therefore about :math:`2\,\text{dps}` digits.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Callable

import mpmath
import numpy as np
import sympy

from ..core.numbers import finite_mpf
from ..core.tables import Tabular
from ..core.validate import check_int
from ..special.orthopoly import (
    check_sphere_dimension,
    fixed_point_step,
    float_step,
    gegenbauer_normalized,
    gegenbauer_normalized_all,
    gegenbauer_recurrence,
    is_exact_argument,
    sphere_multiplicity,
)
from .domains import sphere_monomial_eigenvalue

__all__ = [
    "SphereSpectrum",
    "QuadratureWarning",
    "gegenbauer_normalized",
    "gegenbauer_normalized_all",
    "sphere_eigenvalues",
    "sphere_multiplicity",
    "sphere_area_ratio",
]


class QuadratureWarning(UserWarning):
    """A quadrature result is less accurate than requested (the result says how much)."""


# --------------------------------------------------------------------------
# Kernel functions f(t)
# --------------------------------------------------------------------------


def _kernel_symbol(expr: sympy.Expr) -> sympy.Symbol:
    """The free symbol t of a sympy kernel expression (a fresh ``t`` if constant)."""
    free = expr.free_symbols
    if len(free) > 1:
        raise ValueError(f"f must depend on one symbol t only, got free symbols {sorted(map(str, free))}")
    return next(iter(free)) if free else sympy.Symbol("t")


# probe points for finiteness checks: both endpoints, the centre and a few
# irregular interior points (avoid hitting symmetric special values only)
_PROBES = ("-1", "-0.9999", "-0.7071", "-0.3", "0", "0.1234", "0.5", "0.9", "0.9999", "1")


@dataclass(frozen=True)
class _KernelFunction:
    """A kernel f of t in [-1, 1], normalised for the engines."""

    expr: sympy.Expr | None  # sympy form, when given
    symbol: sympy.Symbol | None
    mp: Callable  # mpf -> mpf at the current precision
    float_valued: bool  # values only known to float64


def _coerce_kernel(f: Any, what: str = "f") -> _KernelFunction:
    """Accept a sympy expression in one symbol or a callable; probe finiteness on [-1, 1]."""
    if isinstance(f, sympy.Basic):
        if not isinstance(f, sympy.Expr):
            raise TypeError(f"{what} must be a sympy expression or a callable, got {type(f).__name__}")
        t = _kernel_symbol(f)
        g = sympy.lambdify(t, f, modules="mpmath", cse=True)
        kern = _KernelFunction(f, t, g, False)
    elif isinstance(f, numbers.Number) and not isinstance(f, bool):
        expr = sympy.nsimplify(f) if isinstance(f, (int, Fraction)) else sympy.Float(f)
        return _coerce_kernel(sympy.sympify(expr), what)
    elif callable(f):
        kern = _KernelFunction(None, None, f, False)
    else:
        raise TypeError(f"{what} must be a sympy expression in t or a callable of one real t, got {type(f).__name__}")
    float_valued = False
    with mpmath.workdps(max(mpmath.mp.dps, 20)):
        for p in _PROBES:
            t = mpmath.mpf(p)
            try:
                raw = kern.mp(t)
            except (ZeroDivisionError, OverflowError) as exc:
                raise ValueError(f"{what} is not finite at t = {p}: {exc}") from None
            except (TypeError, AttributeError):
                if kern.expr is not None:
                    raise
                raw = f(float(t))  # a float-only callable (numpy functions)
                float_valued = True
            if isinstance(raw, (float, np.floating)):
                float_valued = True
            val = finite_mpf(raw, f"{what}({p})")
            if not mpmath.isfinite(val):
                raise ValueError(f"{what} is not finite at t = {p}")
    if float_valued and kern.expr is None:
        g = f

        def mp_from_float(t, g=g):
            try:
                v = g(t)
            except (TypeError, AttributeError):
                v = g(float(t))
            return v

        kern = _KernelFunction(None, None, mp_from_float, True)
    return kern


def _eval_kernel(kern: _KernelFunction, t: mpmath.mpf) -> mpmath.mpf:
    return finite_mpf(kern.mp(t), "f(t)")


# --------------------------------------------------------------------------
# Area ratio (M10); multiplicities and Gegenbauer polynomials: special/orthopoly.py
# --------------------------------------------------------------------------


def sphere_area_ratio(n: int) -> sympy.Expr:
    r""":math:`c_n = |S^{n-2}| / |S^{n-1}| = \Gamma(n/2) / (\sqrt\pi\, \Gamma((n-1)/2))`, exact (M10).

    .. math::

        c_n \int_{-1}^{1} (1 - t^2)^{(n-3)/2}\, dt = 1.

    >>> sphere_area_ratio(3), sphere_area_ratio(2)
    (1/2, 1/pi)
    >>> t = sympy.Symbol('t'); sympy.integrate(sphere_area_ratio(5) * (1 - t**2), (t, -1, 1))
    1
    """
    n = check_sphere_dimension(n)
    return sympy.gamma(sympy.Rational(n, 2)) / (sympy.sqrt(sympy.pi) * sympy.gamma(sympy.Rational(n - 1, 2)))


# --------------------------------------------------------------------------
# Exact engine (M11)
# --------------------------------------------------------------------------


def _polynomial_coefficients(expr: sympy.Expr, t: sympy.Symbol):
    """Coefficients [c_0, c_1, ...] if expr is a polynomial in t, else None."""
    if not expr.free_symbols:
        return [expr]
    if not expr.is_polynomial(t):
        return None
    poly = sympy.Poly(sympy.expand(expr), t)
    return list(reversed(poly.all_coeffs()))


def _exact_m11(coeffs: list, n: int, kmax: int) -> list:
    r""":math:`\mu_k = \sum_a c_a \mu_k(t^a)` with M11 rational monomial coefficients."""
    mus = []
    for k in range(kmax + 1):
        acc = sympy.Integer(0)
        for a in range(k, len(coeffs), 2):
            c = coeffs[a]
            if c != 0:
                m = sphere_monomial_eigenvalue(k, a, n)
                acc += c * sympy.Rational(m.numerator, m.denominator)
        mus.append(acc)
    return mus


# --------------------------------------------------------------------------
# Quadrature engine: Gauss-Legendre in theta, fixed-point recurrences
# --------------------------------------------------------------------------


def _legendre_pair(N: int, x, p0, p1, step) -> tuple:
    """(P_N, P_{N-1}) of the Legendre polynomials P_k = P_k(3; x) (M9 with n = 3) in the arithmetic of ``step``."""
    prev, last = deque(gegenbauer_recurrence(N, 3, x, p0, p1, step), maxlen=2)
    return last, prev


@lru_cache(maxsize=16)
def _gauss_legendre_fixed(N: int, bits: int):
    r"""Gauss--Legendre nodes :math:`x_i > 0` (and 0 for odd N) and weights on [-1, 1].

    Returned as fixed-point python ints at scale :math:`2^{bits}` (object
    arrays), non-negative half only.  float64 Newton from Tricomi's
    approximation, then Halley steps (:math:`P_N''` from Legendre's ODE) in
    fixed point with :math:`2\log_2 N + 24` guard bits; the weights
    :math:`2 / ((1-x^2) P_N'(x)^2)` use :math:`P_N'` re-expanded to second
    order at the final node, so their error is far below :math:`2^{-bits}`.
    """
    m = (N + 1) // 2
    i = np.arange(1, m + 1, dtype=np.float64)
    x = np.cos(np.pi * (i - 0.25) / (N + 0.5))
    for _ in range(12):
        pN, pN1 = _legendre_pair(N, x, np.ones_like(x), x.copy(), float_step)
        dp = N * (x * pN - pN1) / (x * x - 1)
        dx = pN / dp
        x = x - dx
        if np.max(np.abs(dx)) < 4e-16:
            break
    if N % 2:
        x[-1] = 0.0
    log2N = math.log2(max(N, 2))
    guard = int(2 * log2N) + 24
    B = bits + guard
    one = 1 << B
    X = np.array([int(round(float(v) * 2.0**52)) << (B - 52) for v in x], dtype=object)
    NN = N * (N + 1)
    # stop once the Halley step is below 2^-(B/2 + 3 log2 N): then the new node
    # is exact to ~B bits (cubic convergence, constant ~N^4) and the first-order
    # re-expansion of P_N' for the weight has error ~N^4 dx^2 < 2^-B
    stop = 1 << max(0, B - (B // 2 + int(3 * log2N) + 4))
    for _ in range(12):
        p1, p0 = _legendre_pair(N, X, np.full(m, one, dtype=object), X.copy(), fixed_point_step(B))
        den = one - ((X * X) >> B)  # 1 - x^2 > 0
        dp = ((N * (p0 - ((X * p1) >> B))) << B) // den  # P_N'
        ddp = (((2 * ((X * dp) >> B)) - NN * p1) << B) // den  # P_N''
        # Halley: dx = 2 P P' / (2 P'^2 - P P'')
        num = 2 * ((p1 * dp) >> B)
        dd = 2 * ((dp * dp) >> B) - ((p1 * ddp) >> B)
        dx = (num << B) // dd
        Xn = X - dx
        if max(abs(v) for v in dx) <= stop:
            dpn = dp - ((ddp * dx) >> B)  # P_N'(x + dx) to first order
            den_n = one - ((Xn * Xn) >> B)
            W = ((2 * one) << (2 * B)) // (den_n * ((dpn * dpn) >> B))
            if N % 2:
                Xn[-1] = 0
            return (Xn >> guard), (W >> guard)
        X = Xn
    raise ArithmeticError(f"Gauss-Legendre nodes for N = {N} did not converge")  # pragma: no cover


def _fixed_from_mpf(v: mpmath.mpf, bits: int) -> int:
    sign, man, exp, _ = v._mpf_  # not mpf(v): that would round to the ambient precision
    if sign:
        man = -man
    shift = exp + bits
    return man << shift if shift >= 0 else man >> (-shift)


def _quadrature_pass(kern: _KernelFunction, n: int, kmax: int, N: int, dps_work: int, q: int = 1):
    r"""One Gauss-Legendre rule with N nodes: (list of mpf mu_k, scale S, rounding bound).

    Nodes :math:`x \in (-1, 1)` map to :math:`\theta = \pi g(u)`, :math:`u = (1+x)/2`,
    :math:`g(u) = u^q / (u^q + (1-u)^q)` (q = 1: the identity); q = 3 turns an
    endpoint behaviour :math:`\theta^{\alpha}` into :math:`u^{3\alpha + 2}`, much smoother.
    :math:`g(1-u) = 1 - g(u)` keeps the mirror symmetry :math:`\theta \to \pi - \theta`.
    """
    bits = int(dps_work * 3.3219280948873626) + 16
    X, W = _gauss_legendre_fixed(N, bits)
    m = len(X)
    mid = N % 2 == 1
    one = 1 << bits
    with mpmath.workprec(bits + 10):
        cn = mpmath.gamma(mpmath.mpf(n) / 2) / (mpmath.sqrt(mpmath.pi) * mpmath.gamma(mpmath.mpf(n - 1) / 2))
        half_pi = mpmath.pi / 2
        scale2 = mpmath.mpf(2) ** (-bits)
        tnodes = []
        Gp, Gm = [], []
        S = mpmath.mpf(0)
        for idx in range(m):
            x = mpmath.mpf(X[idx]) * scale2
            w = mpmath.mpf(W[idx]) * scale2 * half_pi * cn
            # x -> theta = pi g((1 + x)/2) and its mirror pi - theta
            if q == 1:
                th = half_pi * (1 + x)
            else:
                u = (1 + x) / 2
                a, b = u**q, (1 - u) ** q
                th = 2 * half_pi * a / (a + b)
                w *= q * (u * (1 - u)) ** (q - 1) / (a + b) ** 2
            c, s = mpmath.cos(th), mpmath.sin(th)
            sw = w * s ** (n - 2)
            with mpmath.workprec(bits + 40):
                fp = _eval_kernel(kern, c)
                fm = _eval_kernel(kern, -c) if not (mid and idx == m - 1) else mpmath.mpf(0)
            gp, gm = fp * sw, fm * sw
            tnodes.append(c)
            Gp.append(gp)
            Gm.append(gm)
            S += abs(gp) + abs(gm)
        if S == 0:
            return [mpmath.mpf(0)] * (kmax + 1), S, [mpmath.mpf(0)] * (kmax + 1)
        # scale the weights so that S is O(1) in fixed point
        e = -int(mpmath.floor(mpmath.log(S, 2)))
        T = np.array([_fixed_from_mpf(c, bits) for c in tnodes], dtype=object)
        Ev = np.array([_fixed_from_mpf(mpmath.ldexp(a + b, e), bits) for a, b in zip(Gp, Gm)], dtype=object)
        Od = np.array([_fixed_from_mpf(mpmath.ldexp(a - b, e), bits) for a, b in zip(Gp, Gm)], dtype=object)

    # P_k(n; t_i) by the M9 recurrence in fixed point (scale 2^bits, one rounding per step)
    P = gegenbauer_recurrence(kmax, n, T, np.full(m, one, dtype=object), T.copy(), fixed_point_step(bits))
    sums = [int(np.dot(Od if k % 2 else Ev, p)) for k, p in enumerate(P)]
    with mpmath.workprec(bits + 10):
        unit = mpmath.mpf(2) ** (-(2 * bits + e))
        mus = [mpmath.mpf(v) * unit for v in sums]
        # rounding: each P_k(t_i) carries <= ~(k+2)^2 ulps (stable recurrence), each
        # weight one ulp, sums of m terms: generous bound
        rnd = [S * mpmath.mpf(2) ** (-bits) * (4 * (k + 2) ** 2) + m * mpmath.mpf(2) ** (-bits - e) for k in range(kmax + 1)]
    return mus, S, rnd


def _node_counts(kmax: int, dps_work: int, nodes: int | None) -> tuple:
    """(N1, N2): the larger rule resolves cos(k theta), k <= kmax, plus the digits wanted.

    Measured for ReLU NTK/NNGP kernels: the Gauss-Legendre error in theta drops
    below 10^-dps_work once N exceeds about kmax + dps_work (n = 3..10,
    kmax = 200..1000); N2 - N1 is a fixed fraction so that the difference of
    the two rules estimates the error of the smaller one.
    """
    if nodes is not None:
        return max(2, nodes - max(8, nodes // 8)), nodes
    N1 = kmax + dps_work + 16
    return N1, N1 + max(16, (kmax + dps_work) // 8)


_MAX_NODE_FACTOR = 6  # give up (with a warning) beyond this multiple of the first count


def _quadrature(kern: _KernelFunction, n: int, kmax: int, dps: int, nodes: int | None):
    """mu_0..mu_kmax by pairs of Gauss-Legendre rules; nodes grow until the estimate meets the goal.

    Plain rules in theta first (geometric convergence for analytic f(cos theta));
    if they have not converged by twice the initial node count (an endpoint
    power that is not a half-integer), switch to the q = 3 endpoint-clustering
    map.  Returns (mu, error estimates, nodes, goal met, q).
    """
    dps_work = 2 * dps + 10
    eps_f = mpmath.mpf(2) ** -52 if kern.float_valued else mpmath.mpf(0)
    tol = mpmath.mpf(10) ** (-dps)
    best = None
    phases = [(1, 1, 1)] if nodes is not None else [(1, 1, 2), (3, 1.5, _MAX_NODE_FACTOR)]
    for q, start, growth in phases:
        N1, N2 = _node_counts(kmax, dps_work, nodes)
        N1, N2 = int(start * N1), int(start * N2)
        Nmax = growth * N2
        prev = _quadrature_pass(kern, n, kmax, N1, dps_work, q)
        while True:
            mus, S, rnd = _quadrature_pass(kern, n, kmax, N2, dps_work, q)
            with mpmath.workdps(dps_work):
                err = [abs(a - b) + r + eps_f * S for a, b, r in zip(mus, prev[0], rnd)]
                goal = [tol * max(abs(mu), tol * S) for mu in mus]
                # a float-valued f caps the goal at what its values can give
                worst = max((e_ / g_ if g_ else mpmath.inf) if not (eps_f and e_ <= 4 * eps_f * S) else 0 for e_, g_ in zip(err, goal))
            if best is None or worst < best[0]:
                best = (worst, mus, err, N2, q)
            if worst <= 1 or N2 >= Nmax:
                break
            prev = (mus, S, rnd)
            N1, N2 = N2, int(1.25 * N2) + 16
        if worst <= 1:
            break
    worst, mus, err, N2, q = best
    return mus, err, N2, worst <= 1, q


# --------------------------------------------------------------------------
# Public front end
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SphereSpectrum(Tabular):
    r"""Funk--Hecke eigenvalues :math:`\mu_0, \dots, \mu_{k_{max}}` of :math:`f(\langle x,y\rangle)` on :math:`S^{n-1}`.

    ``eigenvalues[k]`` is :math:`\mu_k` (sympy numbers when ``method ==
    "exact-M11"``, mpmath mpf for ``"quadrature"``), ``multiplicities[k]`` is
    :math:`N(n, k)`.  ``exact`` is True only for exact sympy values;
    ``error_estimate[k]`` bounds :math:`|\mu_k - \text{true}|` (estimated, see
    module docs; zeros for exact results), ``dps`` the target digits and
    ``nodes`` the Gauss--Legendre node count.
    """

    n: int
    eigenvalues: list
    multiplicities: list
    exact: bool
    method: str
    error_estimate: list | None = None
    dps: int | None = None
    nodes: int | None = None
    notes: tuple = field(default_factory=tuple)

    @property
    def kmax(self) -> int:
        return len(self.eigenvalues) - 1

    def rows(self) -> list:
        """One row per degree k: mu_k, N(n, k) and the error estimate."""
        est = self.error_estimate or [0] * len(self.eigenvalues)
        return [
            {"k": k, "eigenvalue": mu, "multiplicity": N, "error_estimate": e}
            for k, (mu, N, e) in enumerate(zip(self.eigenvalues, self.multiplicities, est))
        ]

    _latex_bounds = {"eigenvalue": "error_estimate"}

    def numeric(self) -> list:
        """The eigenvalues as mpf at the current ``mpmath.mp.dps``."""
        return [finite_mpf(m, "mu_k") for m in self.eigenvalues]

    def trace(self):
        r""":math:`\sum_{k \le k_{max}} \mu_k N(n, k)`, equal to :math:`f(1)` up to the tail (M10)."""
        if self.exact or self.method == "exact-M11":
            return sympy.Add(*[m * N for m, N in zip(self.eigenvalues, self.multiplicities)])
        return mpmath.fsum(m * N for m, N in zip(self.eigenvalues, self.multiplicities))

    def reconstruct(self, t: Any):
        r"""Mercer partial sum :math:`\sum_{k \le k_{max}} \mu_k N(n, k) P_k(n; t)` (M10).

        Exact for exact eigenvalues and exact t; mpf for scalars otherwise; a
        float64 array for numpy array input.
        """
        if isinstance(t, (np.ndarray, list, tuple)):
            t = np.asarray(t, dtype=np.float64)
            P = gegenbauer_normalized_all(self.kmax, self.n, t)
            return sum(float(m) * N * p for m, N, p in zip(self.eigenvalues, self.multiplicities, P))
        if self.exact and is_exact_argument(t):
            P = gegenbauer_normalized_all(self.kmax, self.n, t)
            return sympy.Add(*[m * N * p for m, N, p in zip(self.eigenvalues, self.multiplicities, P)])
        t = finite_mpf(t, "t")
        P = gegenbauer_normalized_all(self.kmax, self.n, t)
        return mpmath.fsum(finite_mpf(m, "mu_k") * N * p for m, N, p in zip(self.eigenvalues, self.multiplicities, P))


_METHODS = ("auto", "exact", "quadrature")


def sphere_eigenvalues(f: Any, n: int, kmax: int, *, method: str = "auto", nodes: int | None = None) -> SphereSpectrum:
    r""":math:`\mu_k = c_n \int_{-1}^1 f(t) P_k(n;t) (1-t^2)^{(n-3)/2} dt`, :math:`k = 0..k_{max}` (M10, M11).

    .. math::

        f(\langle x, y\rangle) = \sum_{k} \mu_k\, N(n, k)\, P_k(n; \langle x, y\rangle)
        \quad\text{on } S^{n-1}, \qquad \sum_k \mu_k N(n, k) = f(1).

    ``f`` is a sympy expression in one symbol (any name) or a callable of one
    real t (mpmath numbers are passed in; a callable that only accepts floats
    is evaluated in float64 and the result says so).  ``method``: ``"auto"``
    (exact M11 for sympy polynomials, else quadrature), ``"exact"`` (M11 or
    ValueError) or ``"quadrature"`` (Gauss--Legendre in
    :math:`\theta = \arccos t` at ``mpmath.mp.dps`` digits, see the module
    docs for the error estimate).  ``nodes`` fixes the node count of the
    larger rule (no adaptivity).  A :class:`QuadratureWarning` (and a line in
    ``notes``) reports a missed accuracy goal or float64-only values of f.

    >>> t = sympy.Symbol('t')
    >>> S = sphere_eigenvalues(t**3 + t**2 / 2, 3, 4); S.eigenvalues
    [1/6, 1/5, 1/15, 2/35, 0]
    >>> S.trace() == 1 + sympy.Rational(1, 2) and S.exact
    True
    >>> with mpmath.workdps(20):
    ...     Q = sphere_eigenvalues(t**3 + t**2 / 2, 3, 4, method="quadrature")
    ...     print(Q.method, mpmath.nstr(Q.eigenvalues[1] - mpmath.mpf(1) / 5, 3), max(Q.error_estimate) < 1e-20)
    quadrature 0.0 True
    """
    n = check_sphere_dimension(n)
    kmax = check_int(kmax, "kmax", 0)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if nodes is not None:
        nodes = check_int(nodes, "nodes", 2)
    kern = _coerce_kernel(f)
    mults = [sphere_multiplicity(n, k) for k in range(kmax + 1)]
    coeffs = None
    if kern.expr is not None and method in ("auto", "exact"):
        coeffs = _polynomial_coefficients(kern.expr, kern.symbol)
    if method == "exact" and coeffs is None:
        raise ValueError("method='exact' needs a polynomial sympy expression f(t) (M11); use method='quadrature'")
    if coeffs is not None and method != "quadrature":
        mus = _exact_m11(coeffs, n, kmax)
        exact = not any(c.has(sympy.Float) for c in coeffs)
        return SphereSpectrum(n, mus, mults, exact, "exact-M11", [sympy.Integer(0)] * (kmax + 1))
    dps = mpmath.mp.dps
    mus, err, N2, ok, q = _quadrature(kern, n, kmax, dps, nodes)
    notes = []
    if q != 1:
        notes.append(f"endpoint-clustering map theta = pi u^{q}/(u^{q} + (1-u)^{q}) used (non-analytic endpoint behaviour)")
    if kern.float_valued:
        notes.append("f accepts only floats: its values carry float64 rounding (included in error_estimate)")
        warnings.warn("f was evaluated in float64; eigenvalues are accurate to about 1e-16 * max|f| only", QuadratureWarning, stacklevel=2)
    if not ok:
        worst = max(float(e / max(abs(m), mpmath.mpf(10) ** -dps)) for e, m in zip(err, mus))
        how = f"with nodes={nodes}" if nodes is not None else f"with up to {N2} nodes"
        notes.append(f"accuracy goal of {dps} digits not met {how} (worst relative error estimate {worst:.1e})")
        warnings.warn(notes[-1], QuadratureWarning, stacklevel=2)
    with mpmath.workdps(dps):
        mus = [+m for m in mus]
        err = [+e for e in err]
    return SphereSpectrum(n, mus, mults, False, "quadrature", err, dps, N2, tuple(notes))
