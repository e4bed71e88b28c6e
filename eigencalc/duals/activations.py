r"""Dual activations: Hermite coefficients, dual kernels and derivative duals.

Implements ``../shared/MATH.md`` section 2 (M5–M8).  For an activation
:math:`\phi` and the Gaussian measure :math:`\gamma = N(0,1)`:

.. math::

    \phi(\sqrt{q}\,z) = \sum_k a_k(q)\, h_k(z), \qquad h_k = He_k/\sqrt{k!},

    E[\phi(u)\phi(v)] = \sum_k a_k(q_1) a_k(q_2)\, \rho^k, \qquad
    \rho = c/\sqrt{q_1 q_2},

    E[\phi'(u)\phi'(v)] = \partial_c E[\phi(u)\phi(v)]
    = \frac{1}{\sqrt{q_1 q_2}} \sum_k k\, a_k(q_1) a_k(q_2)\, \rho^{k-1}.

Every activation knows its sympy expression :math:`\phi(x)`; families with a
closed form (ReLU family, step, erf, sin, cos, exp, polynomials) override the
exact hooks.  The rest (tanh, sigmoid, GELU, swish, softplus, user
expressions) use mpmath quadrature at the current ``mpmath.mp.dps`` (Hermite
coefficients) and float64 Gauss–Hermite rules (kernels), and say so through
``Activation.exact`` and ``DualSeries.exact``.

Gaussian integration by parts, :math:`E[\phi(z) He_k(z)] = E[\phi^{(k)}(z)]`,
gives the closed-form coefficients below; each one is re-checked in the tests
against quadrature and Monte-Carlo.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Sequence

import mpmath
import numpy as np
import sympy

from ..core.numbers import exact_real, to_float, to_mpf
from ..core.tables import Tabular
from ..core.validate import check_int
from ..special import gaussian as _gaussian
from ..special.ufuncs import erf as _erf_ufunc

__all__ = [
    "Activation",
    "DualSeries",
    "TruncationWarning",
    "activation",
    "dual_taylor_coefficients",
    "dual_taylor_closed_form",
    "ACTIVATION_NAMES",
    "x",
    "rho",
]

#: The symbol of an activation's argument, :math:`\phi(x)`.
x = sympy.Symbol("x", real=True)
#: The correlation symbol of dual kernels, :math:`\hat\phi(\rho)`.
rho = sympy.Symbol("rho", real=True)

_RHO_SLACK = 1e-12  # |rho| <= 1 + slack is accepted (rounding), then clipped


class TruncationWarning(UserWarning):
    """A truncated series could not reach the requested accuracy."""


# --------------------------------------------------------------------------
# Small validated conversions
# --------------------------------------------------------------------------


def _check_variance(q: Any) -> sympy.Expr:
    q = exact_real(q, "variance q")
    if not q.is_positive:
        raise ValueError(f"variance q must be > 0, got {q}")
    return q


def _check_correlation(r: Any) -> np.ndarray:
    r = np.asarray(r, dtype=float)
    if np.isnan(r).any():
        raise ValueError("correlation rho contains NaN")
    if (np.abs(r) > 1 + _RHO_SLACK).any():
        bad = r[np.abs(r) > 1 + _RHO_SLACK].flat[0]
        raise ValueError(f"correlation rho must lie in [-1, 1], got {bad}")
    return np.clip(r, -1.0, 1.0)


def _check_covariances(q1: Any, q2: Any, c: Any):
    q1, q2, c = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (q1, q2, c)))
    if np.isnan(q1).any() or np.isnan(q2).any() or np.isnan(c).any():
        raise ValueError("covariance arguments contain NaN")
    if (q1 <= 0).any() or (q2 <= 0).any():
        raise ValueError("variances q1, q2 must be > 0")
    bound = np.sqrt(q1 * q2)
    if (np.abs(c) > bound * (1 + _RHO_SLACK)).any():
        raise ValueError("covariance violates Cauchy–Schwarz: |c| > sqrt(q1 q2)")
    return q1, q2, np.clip(c, -bound, bound)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DualSeries(Tabular):
    r"""Power series :math:`\hat\phi_q(\rho) = \sum_{k \le k_{max}} a_k(q)^2 \rho^k` (M6).

    ``tail`` is :math:`E[\phi(\sqrt q z)^2] - \sum_{k\le k_{max}} a_k^2 \ge 0`;
    since all coefficients are nonnegative it bounds the truncation error of
    the series at every :math:`|\rho| \le 1`, and
    ``derivative_tail`` bounds that of :math:`\sum_k k a_k^2 \rho^{k-1}` (which
    equals :math:`q\,E[\phi'(\sqrt q z)^2]` at :math:`\rho = 1`).

    ``exact`` says whether the coefficients are exact sympy numbers (True) or
    mpmath numbers at ``dps`` digits (False).
    """

    coefficients: tuple
    tail: Any
    derivative_tail: Any
    q: Any
    exact: bool
    dps: int | None = None

    @property
    def kmax(self) -> int:
        return len(self.coefficients) - 1

    def __call__(self, r):
        """Evaluate the truncated series at correlation(s) ``r`` (float64)."""
        r = _check_correlation(r)
        c = np.array([to_float(v) for v in self.coefficients])
        return np.polynomial.polynomial.polyval(r, c)

    def derivative(self, r):
        r"""Truncated :math:`\sum_k k a_k^2 \rho^{k-1}` at ``r`` (float64)."""
        r = _check_correlation(r)
        c = np.array([k * to_float(v) for k, v in enumerate(self.coefficients)])[1:]
        return np.polynomial.polynomial.polyval(r, c) if len(c) else np.zeros_like(r)

    def rows(self) -> list:
        """One row per k: the coefficient a_k^2 (exact or mpmath)."""
        return [{"k": k, "coefficient": c, "exact": self.exact} for k, c in enumerate(self.coefficients)]

    def as_expr(self) -> sympy.Expr:
        """The truncated series as a sympy polynomial in :data:`rho`."""
        return sum((sympy.sympify(c) * rho**k for k, c in enumerate(self.coefficients)), sympy.Integer(0))


# --------------------------------------------------------------------------
# Taylor coefficients of a dual at r0 (M6, shifted)
# --------------------------------------------------------------------------


def dual_taylor_coefficients(coefficients: Sequence, r0: Any, J: int, total: Callable = sum) -> list:
    r"""Taylor coefficients :math:`g_0..g_J` at :math:`r_0` of the power series :math:`\sum_k c_k \rho^k` (M6).

    .. math::

        \sum_k c_k (r_0 + s)^k = \sum_j g_j\, s^j, \qquad
        g_j = \frac{\hat\phi^{(j)}(r_0)}{j!} = \sum_{k \ge j} c_k \binom{k}{j} r_0^{k-j},

    for :math:`c_k = a_k(q)^2` (the dual :math:`\hat\phi_q`, M6, or a finite
    part of it: then each :math:`g_j` is a lower bound, all terms being
    :math:`\ge 0` for :math:`r_0 \ge 0`), or :math:`c_k = a_k^2 q^{-k}` for the
    dual as a series in the covariance.  Each term is
    ``c_k * binom(k, j) * r0 ** (k - j)`` in the arithmetic of the inputs;
    ``total`` sums a list of terms (``sum``, ``mpmath.fsum``, a sympy ``Add``).

    >>> half, s = sympy.Rational(1, 2), sympy.Rational(1, 3)
    >>> g = dual_taylor_coefficients([1, 2, 3], half, 3); g      # 1 + 2 rho + 3 rho^2 about rho = 1/2
    [11/4, 5, 3, 0]
    >>> sum(gj * s**j for j, gj in enumerate(g)) == 1 + 2 * (half + s) + 3 * (half + s) ** 2
    True
    """
    c = coefficients
    return [total([c[k] * math.comb(k, j) * r0 ** (k - j) for k in range(j, len(c))]) for j in range(J + 1)]


def dual_taylor_closed_form(expr: sympy.Expr, J: int, value: Callable) -> list:
    r"""Taylor coefficients of a closed-form dual :math:`\hat\phi(\rho)` (a sympy expression in :data:`rho`), j = 0..J.

    .. math:: g_j = \frac{1}{j!}\, \frac{d^j \hat\phi}{d\rho^j}(r_0)

    by symbolic differentiation; ``value(derivative, j)`` evaluates the j-th
    derivative at the point :math:`r_0` and normalises it (:math:`1/j!`, times
    :math:`q^{-j}` for a series in the covariance), exactly or numerically.

    >>> dual_taylor_closed_form(sympy.exp(2 * rho), 3, lambda d, j: d.subs(rho, 0) / sympy.factorial(j))   # 2^j / j!
    [1, 2, 2, 4/3]
    """
    out, current = [], expr
    for j in range(J + 1):
        if j:
            current = sympy.diff(current, rho)
        out.append(value(current, j))
    return out


# --------------------------------------------------------------------------
# The activation base class: generic (quadrature) behaviour
# --------------------------------------------------------------------------


class Activation:
    r"""An activation :math:`\phi` and everything Gaussian about it (M5–M8).

    Subclasses override the ``_exact_*`` and ``_closed_*`` hooks where closed
    forms exist; the defaults compute by quadrature and are marked inexact.
    """

    #: True when Hermite coefficients and dual series are exact sympy numbers.
    exact: bool = False
    #: Positive homogeneity degree ``p`` (phi(s z) = s^p phi(z), s > 0) or None.
    homogeneity: int | None = None

    def __init__(self, name: str, expr: sympy.Expr, params: dict | None = None):
        self.name = name
        self.expr = expr
        self.params = dict(params or {})

    # ----- presentation ------------------------------------------------------
    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"activation({self.name!r}{', ' + args if args else ''})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and (self.name, self.params, self.expr) == (
            other.name,
            other.params,
            other.expr,
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items())), self.expr))

    # ----- pointwise evaluation ----------------------------------------------
    def __call__(self, z):
        """phi(z) elementwise on float arrays."""
        return self._numpy_phi(np.asarray(z, dtype=float))

    def derivative(self, z):
        """phi'(z) elementwise on float arrays (weak derivative)."""
        return self._numpy_dphi(np.asarray(z, dtype=float))

    @property
    def _numpy_phi(self) -> Callable:
        return _lambdify_numpy(self.expr)

    @property
    def _numpy_dphi(self) -> Callable:
        d = sympy.diff(self.expr, x)
        if d.has(sympy.DiracDelta):
            raise ValueError(f"{self.name}: the derivative is a distribution, not a function")
        return _lambdify_numpy(d)

    @property
    def _mp_phi(self) -> Callable:
        return _lambdify_mpmath(self.expr)

    def mp_function(self, derivative: int = 0) -> Callable:
        r"""The mpmath callable :math:`z \mapsto \phi^{(j)}(z)`, j = ``derivative`` (weak derivative, sympy-differentiated).

        Public accessor for high-precision quadrature; evaluates at the mpmath context precision.
        Raises ValueError when the j-th derivative is a distribution (e.g. j = 2 for ReLU).

        >>> import mpmath; activation("tanh").mp_function(1)(mpmath.mpf(0))
        mpf('1.0')
        """
        j = check_int(derivative, "derivative", 0)
        d = _derivative_expr(self.expr, j)
        if d.has(sympy.DiracDelta):
            raise ValueError(f"{self.name}: derivative {j} is a distribution, not a function")
        return _lambdify_mpmath(d)

    def numpy_function(self, derivative: int = 0) -> Callable:
        r"""The float64 ufunc-like callable :math:`z \mapsto \phi^{(j)}(z)` on arrays (sympy-differentiated).

        >>> float(activation("tanh").numpy_function(1)(0.0))
        1.0
        """
        j = check_int(derivative, "derivative", 0)
        d = _derivative_expr(self.expr, j)
        if d.has(sympy.DiracDelta):
            raise ValueError(f"{self.name}: derivative {j} is a distribution, not a function")
        return _lambdify_numpy_cse(d)

    @property
    def breakpoints(self) -> tuple:
        """Points where phi is not smooth (floats, 0 always included): quadrature splits there."""
        return self._breakpoints()

    @property
    def _mp_dphi(self) -> Callable:
        d = sympy.diff(self.expr, x)
        if d.has(sympy.DiracDelta):
            raise ValueError(f"{self.name}: the derivative is a distribution, not a function")
        return _lambdify_mpmath(d)

    # ----- Hermite coefficients (M5, M8) -------------------------------------
    def hermite(self, k: int, q: Any = 1):
        r"""Normalized Hermite coefficient :math:`a_k(q) = E[\phi(\sqrt q z) h_k(z)]` (M5, M8).

        Exact (sympy) for the closed-form families, else an mpmath number at
        the current ``mpmath.mp.dps``.
        """
        k = check_int(k, "Hermite degree k", 0)
        return self.hermite_coefficients(k, q)[k]

    def hermite_coefficients(self, kmax: int, q: Any = 1) -> list:
        """[a_0(q), ..., a_kmax(q)] (M5, M8); exact or mpmath, see :meth:`hermite`."""
        kmax = check_int(kmax, "kmax", 0)
        q = _check_variance(q)
        self._check_l2(q)
        if self.exact:
            return [self._exact_hermite(k, q) for k in range(kmax + 1)]
        return list(_numeric_hermite(self, kmax, q, mpmath.mp.dps))

    def _hermite_squares(self, kmax: int, q: Any) -> list:
        r""":math:`[a_0(q)^2, \dots, a_{kmax}(q)^2]` (M6); subclasses with a closed form for the squares override it."""
        return [a * a for a in self.hermite_coefficients(kmax, q)]

    # ----- second moments -----------------------------------------------------
    def second_moment(self, q: Any = 1):
        r""":math:`E[\phi(\sqrt q z)^2] = \hat\phi_q(1) = \sum_k a_k(q)^2` (M6)."""
        q = _check_variance(q)
        self._check_l2(q)
        value = self._exact_second_moment(q)
        if value is not None:
            return value
        return _numeric_gaussian_mean(lambda z: self._mp_phi(z) ** 2, q, self._breakpoints())

    def derivative_second_moment(self, q: Any = 1):
        r""":math:`E[\phi'(\sqrt q z)^2]` (M7 at :math:`\rho = 1`)."""
        q = _check_variance(q)
        value = self._exact_derivative_second_moment(q)
        if value is not None:
            return value
        return _numeric_gaussian_mean(lambda z: self._mp_dphi(z) ** 2, q, self._breakpoints())

    # ----- dual series (M6) ---------------------------------------------------
    def dual_series(self, kmax: int, q: Any = 1) -> DualSeries:
        r"""Coefficients :math:`a_k(q)^2`, k <= kmax, with the rigorous tail (M6, M16)."""
        squares = self._hermite_squares(kmax, q)
        q = _check_variance(q)
        if self.exact:
            total = self.second_moment(q)
            tail = total - sum(squares)
            d_total = q * self.derivative_second_moment(q)
            d_tail = d_total - sum(k * s for k, s in enumerate(squares))
            return DualSeries(tuple(squares), tail, d_tail, q, True)
        total = self.second_moment(q)
        tail = total - mpmath.fsum(squares)
        try:
            d_total = to_mpf(q) * self.derivative_second_moment(q)
            d_tail = d_total - mpmath.fsum(k * s for k, s in enumerate(squares))
        except ValueError:
            d_tail = mpmath.inf
        return DualSeries(tuple(squares), tail, d_tail, q, False, mpmath.mp.dps)

    # ----- dual kernels (M6, M7, M8), float64 ---------------------------------
    def dual(self, r, q: Any = 1):
        r""":math:`\hat\phi_q(\rho) = E[\phi(u)\phi(v)]`, Var u = Var v = q, Corr = rho (M6)."""
        r = _check_correlation(r)
        qf = to_float(_check_variance(q))
        return self.kernel(qf, qf, qf * r)

    def dual_derivative(self, r, q: Any = 1):
        r""":math:`E[\phi'(u)\phi'(v)] = \hat\phi_q'(\rho)/q` at equal variances q (M7)."""
        r = _check_correlation(r)
        qf = to_float(_check_variance(q))
        return self.derivative_kernel(qf, qf, qf * r)

    def kernel(self, q1, q2, c):
        r""":math:`E[\phi(u)\phi(v)]` for Var u = q1, Var v = q2, Cov = c (M8), float64.

        Closed form where one exists; else, at equal variances, the Hermite
        series (M6) truncated with tail below 1e-14 relative; else a tensor
        Gauss–Hermite rule in float64.
        """
        q1, q2, c = _check_covariances(q1, q2, c)
        closed = self._closed_kernel(q1, q2, c)
        if closed is not None:
            return closed
        return self._numeric_kernel(q1, q2, c, derivative=False)

    def derivative_kernel(self, q1, q2, c):
        r""":math:`E[\phi'(u)\phi'(v)] = \partial_c E[\phi(u)\phi(v)]` (M7, Price), float64."""
        q1, q2, c = _check_covariances(q1, q2, c)
        closed = self._closed_derivative_kernel(q1, q2, c)
        if closed is not None:
            return closed
        return self._numeric_kernel(q1, q2, c, derivative=True)

    def _numeric_kernel(self, q1, q2, c, derivative: bool):
        if q1.size and np.all(q1 == q1.flat[0]) and np.all(q2 == q1.flat[0]):
            series = _float_dual_series(self, float(q1.flat[0]))
            r = np.clip(c / q1.flat[0], -1.0, 1.0)
            if derivative:
                return series.derivative(r) / q1.flat[0]
            return series(r)
        f = self.derivative if derivative else self
        return _gaussian.bivariate_gaussian_expectation(f, f, q1, q2, c)

    def dual_expr(self, q: Any = 1) -> sympy.Expr | None:
        r"""Closed form of :math:`\hat\phi_q(\rho)` as a sympy expression in :data:`rho`, or None."""
        return self._closed_dual_expr(_check_variance(q))

    def dual_derivative_expr(self, q: Any = 1) -> sympy.Expr | None:
        r"""Closed form of :math:`E[\phi'(u)\phi'(v)] = \hat\phi_q'(\rho)/q`, or None (M7)."""
        q = _check_variance(q)
        expr = self._closed_dual_expr(q)
        return None if expr is None else sympy.simplify(sympy.diff(expr, rho) / q)

    # ----- hooks for closed-form families --------------------------------------
    def _exact_hermite(self, k: int, q: sympy.Expr) -> sympy.Expr:  # pragma: no cover
        raise NotImplementedError

    def _exact_second_moment(self, q):
        return None

    def _exact_derivative_second_moment(self, q):
        return None

    def _closed_kernel(self, q1, q2, c):
        return None

    def _closed_derivative_kernel(self, q1, q2, c):
        return None

    def _closed_dual_expr(self, q):
        return None

    # ----- validity -------------------------------------------------------------
    def _breakpoints(self) -> tuple:
        """Points where phi is not smooth (quadrature splits there)."""
        return _kinks(self.expr)

    def _check_l2(self, q) -> None:
        r"""Raise unless :math:`E[\phi(\sqrt q z)^2] < \infty` (phi in L2(gamma))."""
        return None


# --------------------------------------------------------------------------
# Numeric engines for the generic path (cached per precision)
# --------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _lambdify_numpy(expr: sympy.Expr) -> Callable:
    fn = sympy.lambdify(x, expr, modules=[{"erf": _erf_ufunc}, "numpy"])

    def vectorised(z):
        z = np.asarray(z, dtype=float)
        return np.broadcast_to(np.asarray(fn(z), dtype=float), z.shape).copy()

    return vectorised


@lru_cache(maxsize=None)
def _derivative_expr(expr: sympy.Expr, j: int) -> sympy.Expr:
    """The j-th derivative of expr in x (cached)."""
    return sympy.diff(expr, x, j) if j else expr


@lru_cache(maxsize=None)
def _lambdify_numpy_cse(expr: sympy.Expr) -> Callable:
    """Like :func:`_lambdify_numpy`, with common subexpressions computed once (derivatives of tanh, GELU)."""
    fn = sympy.lambdify(x, expr, modules=[{"erf": _erf_ufunc}, "numpy"], cse=True)

    def vectorised(z):
        z = np.asarray(z, dtype=float)
        return np.broadcast_to(np.asarray(fn(z), dtype=float), z.shape).copy()

    return vectorised


@lru_cache(maxsize=None)
def _lambdify_mpmath(expr: sympy.Expr) -> Callable:
    return sympy.lambdify(x, expr, modules="mpmath")


@lru_cache(maxsize=None)
def _kinks(expr: sympy.Expr) -> tuple:
    """Real zeros of the arguments of Abs, sign, Heaviside, Max and Min in expr."""
    points = set()
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
            args = [node.args[0]]
        elif isinstance(node, (sympy.Max, sympy.Min)):
            args = [node.args[0] - a for a in node.args[1:]]
        elif isinstance(node, sympy.Piecewise):
            args = [c.lhs - c.rhs for _, c in node.args if isinstance(c, sympy.core.relational.Relational)]
        else:
            continue
        for a in args:
            try:
                zeros = sympy.solveset(a, x, domain=sympy.S.Reals)
            except Exception:  # pragma: no cover - sympy could not solve; 0 is still used
                continue
            if isinstance(zeros, sympy.FiniteSet):
                points.update(float(p) for p in zeros)
    points.add(0.0)
    return tuple(sorted(points))


def _numeric_gaussian_mean(g: Callable, q, breakpoints: Sequence[float]):
    r""":math:`E[g(\sqrt q z)]` by tanh-sinh quadrature split at the kinks (mpmath)."""
    s = mpmath.sqrt(to_mpf(q))
    pts = [-mpmath.inf] + [mpmath.mpf(p) / s for p in breakpoints] + [mpmath.inf]
    return mpmath.quad(lambda z: g(s * z) * mpmath.npdf(z), pts)


def _node_count_for(kmax: int) -> int:
    """Gauss–Hermite nodes used for coefficients up to kmax (a fixed ladder, for caching)."""
    return 64 * (-(-(2 * kmax + 64) // 64))


@lru_cache(maxsize=256)
def _numeric_hermite(act: Activation, kmax: int, q: sympy.Expr, dps: int) -> tuple:
    r"""a_0..a_kmax of phi(sqrt(q) z) by quadrature at ``dps`` digits.

    Smooth activations: one Gauss–Hermite rule with N >= 2 kmax + 64 nodes,
    :math:`a_k = \sum_i w_i \phi(\sqrt q z_i) h_k(z_i)`.  Activations with kinks
    (user expressions with Abs, Heaviside, ...): tanh-sinh quadrature per
    coefficient, split at the kinks.
    """
    with mpmath.workdps(dps):
        s = mpmath.sqrt(to_mpf(q))
        phi = act._mp_phi
        if _has_kink(act.expr):
            return tuple(
                +_numeric_gaussian_mean(
                    lambda zs, k=k: phi(zs) * _gaussian.normalized_hermite_values_mp(k, zs / s)[k],
                    q,
                    act._breakpoints(),
                )
                for k in range(kmax + 1)
            )
        nodes, weights = _gaussian.hermite_rule_mp(_node_count_for(kmax))
        acc = [mpmath.mpf(0)] * (kmax + 1)
        for z, w in zip(nodes, weights):
            fz = w * phi(s * z)
            for k, hk in enumerate(_gaussian.normalized_hermite_values_mp(kmax, z)):
                acc[k] += fz * hk
        return tuple(+a for a in acc)


def _has_kink(expr: sympy.Expr) -> bool:
    return expr.has(sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Max, sympy.Min, sympy.Piecewise)


@lru_cache(maxsize=64)
def _float_dual_series(act: Activation, q: float, rtol: float = 1e-13) -> DualSeries:
    r"""Dual series at variance q accurate enough for float64 kernels.

    Grows kmax along a ladder until the M6 tail is below ``rtol`` E[phi^2] and
    the derivative tail below ``100 rtol`` q E[phi'^2]; warns
    (:class:`TruncationWarning`) if kmax = 248 does not get there.
    """
    exact_q = exact_real(q, "q")
    with mpmath.workdps(20):
        scale = abs(to_float(act.second_moment(exact_q)))
        d_scale = abs(to_float(exact_q * act.derivative_second_moment(exact_q)))
        for kmax in (24, 56, 120, 248):
            series = act.dual_series(kmax, exact_q)
            if abs(to_float(series.tail)) <= rtol * scale and abs(to_float(series.derivative_tail)) <= 100 * rtol * d_scale:
                return series
    warnings.warn(
        f"{act.name}: dual series at q={q} truncated at k={series.kmax} with tail "
        f"{to_float(series.tail):.3g} (relative accuracy target {rtol:g} not reached)",
        TruncationWarning,
        stacklevel=3,
    )
    return series


# --------------------------------------------------------------------------
# Closed-form families
# --------------------------------------------------------------------------


class _ExactActivation(Activation):
    exact = True


class ABRelu(_ExactActivation):
    r""":math:`\phi(x) = a \min(x, 0) + b \max(x, 0) = a x + (b - a)\,\mathrm{relu}(x)`.

    ReLU is (0, 1), leaky ReLU (slope, 1), abs (-1, 1).  With
    :math:`\theta = \arccos\rho` and the degree-1 arc-cosine kernel
    :math:`J_1 = (\sqrt{q_1 q_2 - c^2} + (\pi - \theta) c)/(2\pi)`:

    .. math::

        E[\phi(u)\phi(v)] = a b\, c + (b-a)^2 J_1, \qquad
        E[\phi'(u)\phi'(v)] = a b + (b-a)^2 \frac{\pi - \theta}{2\pi},

    using :math:`E[u\,\mathrm{relu}(v)] = c/2`.  Hermite coefficients
    (Gaussian integration by parts, :math:`\mathrm{relu}'' = \delta`):
    :math:`a_0 = (b-a)\sqrt{q/2\pi}`, :math:`a_1 = \sqrt q (a+b)/2`,
    :math:`a_k = (b-a)\sqrt q\, He_{k-2}(0) / \sqrt{2\pi k!}` for k >= 2.
    """

    homogeneity = 1

    def __init__(self, name: str, a, b, params=None):
        self.a, self.b = exact_real(a, "a"), exact_real(b, "b")
        super().__init__(name, self.a * sympy.Min(x, 0) + self.b * sympy.Max(x, 0), params)

    def _exact_hermite(self, k, q):
        a, b, s = self.a, self.b, sympy.sqrt(q)
        if k == 0:
            return (b - a) * s / sympy.sqrt(2 * sympy.pi)
        if k == 1:
            return s * (a + b) / 2
        return (b - a) * s * _gaussian.hermite_e_at_zero(k - 2) / sympy.sqrt(2 * sympy.pi * sympy.factorial(k))

    def _hermite_squares(self, kmax, q):
        r""":math:`a_k^2` directly, rational multiples of q and q/π: :math:`a_k^2 = (b-a)^2 q\, He_{k-2}(0)^2 / (2\pi k!)`.

        The same numbers as squaring :meth:`_exact_hermite`, without sympy
        simplifying square roots (which dominates deep dual series).
        """
        kmax = check_int(kmax, "kmax", 0)
        q = _check_variance(q)
        self._check_l2(q)
        a, b = self.a, self.b
        scale = (b - a) ** 2 * q / sympy.pi
        out = [scale / 2, q * (a + b) ** 2 / 4]
        factorial = 2
        for k in range(2, kmax + 1):
            factorial *= k if k > 2 else 1
            out.append(scale * sympy.Rational(_gaussian.hermite_e_at_zero(k - 2) ** 2, 2 * factorial))
        return out[: kmax + 1]

    def _exact_second_moment(self, q):
        return q * (self.a**2 + self.b**2) / 2

    def _exact_derivative_second_moment(self, q):
        return (self.a**2 + self.b**2) / 2

    def _closed_kernel(self, q1, q2, c):
        a, b = float(self.a), float(self.b)
        theta = np.arccos(np.clip(c / np.sqrt(q1 * q2), -1.0, 1.0))
        j1 = (np.sqrt(np.maximum(q1 * q2 - c * c, 0.0)) + (np.pi - theta) * c) / (2 * np.pi)
        return a * b * c + (b - a) ** 2 * j1

    def _closed_derivative_kernel(self, q1, q2, c):
        a, b = float(self.a), float(self.b)
        theta = np.arccos(np.clip(c / np.sqrt(q1 * q2), -1.0, 1.0))
        return a * b + (b - a) ** 2 * (np.pi - theta) / (2 * np.pi)

    def _closed_dual_expr(self, q):
        a, b = self.a, self.b
        j1 = q * (sympy.sqrt(1 - rho**2) + (sympy.pi - sympy.acos(rho)) * rho) / (2 * sympy.pi)
        return a * b * q * rho + (b - a) ** 2 * j1

    def __call__(self, z):
        z = np.asarray(z, dtype=float)
        return float(self.a) * np.minimum(z, 0.0) + float(self.b) * np.maximum(z, 0.0)

    def derivative(self, z):
        z = np.asarray(z, dtype=float)
        return np.where(z > 0, float(self.b), float(self.a))


class Step(_ExactActivation):
    r""":math:`\phi(x) = \mathbb 1[x > 0]`: :math:`E[\phi(u)\phi(v)] = (\pi - \theta)/(2\pi)`.

    Hermite: :math:`a_0 = 1/2`, :math:`a_k = He_{k-1}(0)/\sqrt{2\pi k!}` (k >= 1),
    independent of q.  The derivative is a Dirac delta:
    :math:`E[\delta(u)\delta(v)] = 1/(2\pi\sqrt{q_1 q_2 - c^2})`, which is the
    M7 series :math:`\hat\phi'(\rho)/q` and diverges at :math:`|\rho| = 1`.
    """

    homogeneity = 0

    def __init__(self):
        super().__init__("step", sympy.Heaviside(x, 0))

    def _exact_hermite(self, k, q):
        if k == 0:
            return sympy.Rational(1, 2)
        return _gaussian.hermite_e_at_zero(k - 1) / sympy.sqrt(2 * sympy.pi * sympy.factorial(k))

    def _exact_second_moment(self, q):
        return sympy.Rational(1, 2)

    def _exact_derivative_second_moment(self, q):
        return sympy.oo

    def _closed_kernel(self, q1, q2, c):
        theta = np.arccos(np.clip(c / np.sqrt(q1 * q2), -1.0, 1.0))
        return (np.pi - theta) / (2 * np.pi)

    def _closed_derivative_kernel(self, q1, q2, c):
        with np.errstate(divide="ignore"):
            return 1.0 / (2 * np.pi * np.sqrt(np.maximum(q1 * q2 - c * c, 0.0)))

    def _closed_dual_expr(self, q):
        return (sympy.pi - sympy.acos(rho)) / (2 * sympy.pi)

    def __call__(self, z):
        return (np.asarray(z, dtype=float) > 0).astype(float)

    def derivative(self, z):
        raise ValueError("step: the derivative is a Dirac delta, not a function")


class Erf(_ExactActivation):
    r""":math:`\phi = \mathrm{erf}`: :math:`E[\phi(u)\phi(v)] = \frac{2}{\pi}\arcsin\frac{2c}{\sqrt{(1+2q_1)(1+2q_2)}}`.

    Derivative dual :math:`\frac{4}{\pi}((1+2q_1)(1+2q_2) - 4c^2)^{-1/2}`.
    Hermite, k = 2j+1 (even k vanish), from :math:`E[\phi He_k] = E[\phi^{(k)}]`
    and the Gaussian generating function:

    .. math:: a_k(q) = \frac{2\sqrt q}{\sqrt{\pi(1+2q)}}\,(-1)^j \frac{(2j)!}{j!\,2^j}
              \Big(\frac{2q}{1+2q}\Big)^j \frac{1}{\sqrt{k!}}.
    """

    def __init__(self):
        super().__init__("erf", sympy.erf(x))

    def _exact_hermite(self, k, q):
        if k % 2 == 0:
            return sympy.Integer(0)
        j = (k - 1) // 2
        ratio = 2 * q / (1 + 2 * q)
        lead = 2 * sympy.sqrt(q) / sympy.sqrt(sympy.pi * (1 + 2 * q))
        return lead * (-1) ** j * sympy.factorial(2 * j) / (sympy.factorial(j) * 2**j) * ratio**j / sympy.sqrt(
            sympy.factorial(k)
        )

    def _exact_second_moment(self, q):
        return 2 / sympy.pi * sympy.asin(2 * q / (1 + 2 * q))

    def _exact_derivative_second_moment(self, q):
        return 4 / (sympy.pi * sympy.sqrt(1 + 4 * q))

    def _closed_kernel(self, q1, q2, c):
        return 2 / np.pi * np.arcsin(np.clip(2 * c / np.sqrt((1 + 2 * q1) * (1 + 2 * q2)), -1.0, 1.0))

    def _closed_derivative_kernel(self, q1, q2, c):
        return 4 / np.pi / np.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c * c)

    def _closed_dual_expr(self, q):
        return 2 / sympy.pi * sympy.asin(2 * q * rho / (1 + 2 * q))

    def __call__(self, z):
        return _erf_ufunc(np.asarray(z, dtype=float))

    def derivative(self, z):
        z = np.asarray(z, dtype=float)
        return 2 / np.sqrt(np.pi) * np.exp(-z * z)


class Trig(_ExactActivation):
    r"""sin or cos: :math:`E[\sin u \sin v] = e^{-(q_1+q_2)/2}\sinh c`, cos with cosh.

    Hermite (from :math:`E[e^{isz}] = e^{-s^2/2}`):
    :math:`a_k = q^{k/2} e^{-q/2} \sin(k\pi/2)/\sqrt{k!}` for sin, cos(k pi/2) for cos.
    """

    def __init__(self, which: str):
        self.which = which
        super().__init__(which, sympy.sin(x) if which == "sin" else sympy.cos(x))

    def _exact_hermite(self, k, q):
        phase = sympy.sin(k * sympy.pi / 2) if self.which == "sin" else sympy.cos(k * sympy.pi / 2)
        return q ** sympy.Rational(k, 2) * sympy.exp(-q / 2) * phase / sympy.sqrt(sympy.factorial(k))

    def _hyperbolic(self, derivative: bool):
        odd = (self.which == "sin") != derivative  # sin -> sinh; its derivative cos -> cosh
        return odd

    def _exact_second_moment(self, q):
        return sympy.exp(-q) * (sympy.sinh(q) if self._hyperbolic(False) else sympy.cosh(q))

    def _exact_derivative_second_moment(self, q):
        return sympy.exp(-q) * (sympy.sinh(q) if self._hyperbolic(True) else sympy.cosh(q))

    def _closed_kernel(self, q1, q2, c):
        return np.exp(-(q1 + q2) / 2) * (np.sinh(c) if self._hyperbolic(False) else np.cosh(c))

    def _closed_derivative_kernel(self, q1, q2, c):
        return np.exp(-(q1 + q2) / 2) * (np.sinh(c) if self._hyperbolic(True) else np.cosh(c))

    def _closed_dual_expr(self, q):
        return sympy.exp(-q) * (sympy.sinh(q * rho) if self._hyperbolic(False) else sympy.cosh(q * rho))


class Exp(_ExactActivation):
    r""":math:`\phi = \exp`: :math:`E[e^u e^v] = e^{(q_1+q_2)/2 + c}`, :math:`a_k = e^{q/2} q^{k/2}/\sqrt{k!}`."""

    def __init__(self):
        super().__init__("exp", sympy.exp(x))

    def _exact_hermite(self, k, q):
        return sympy.exp(q / 2) * q ** sympy.Rational(k, 2) / sympy.sqrt(sympy.factorial(k))

    def _exact_second_moment(self, q):
        return sympy.exp(2 * q)

    def _exact_derivative_second_moment(self, q):
        return sympy.exp(2 * q)

    def _closed_kernel(self, q1, q2, c):
        return np.exp((q1 + q2) / 2 + c)

    _closed_derivative_kernel = _closed_kernel

    def _closed_dual_expr(self, q):
        return sympy.exp(q + q * rho)


class Polynomial(_ExactActivation):
    r""":math:`\phi(x) = \sum_j p_j x^j` (coefficients in ascending powers).

    With :math:`z^j = \sum_k c_{jk} He_k(z)` and
    :math:`A_k(q) = \sum_j p_j c_{jk} q^{(j-k)/2}` (integer powers, j - k even):

    .. math:: a_k(q) = \sqrt{k!}\, q^{k/2} A_k(q), \qquad
              E[\phi(u)\phi(v)] = \sum_k k!\, A_k(q_1) A_k(q_2)\, c^k,

    a polynomial in (q1, q2, c): exact, and finite at every variance.
    """

    def __init__(self, coeffs: Sequence, name: str = "polynomial", params=None):
        coeffs = [exact_real(p, "polynomial coefficient") for p in coeffs]
        while len(coeffs) > 1 and coeffs[-1] == 0:
            coeffs.pop()
        if not coeffs:
            raise ValueError("polynomial needs at least one coefficient")
        self.coeffs = tuple(coeffs)
        expr = sum((p * x**j for j, p in enumerate(self.coeffs)), sympy.Integer(0))
        super().__init__(name, expr, params if params is not None else {"coeffs": tuple(self.coeffs)})

    @property
    def degree(self) -> int:
        return len(self.coeffs) - 1

    def _A(self, k: int, q) -> sympy.Expr:
        return sum(
            (p * _gaussian.monomial_in_hermite(j, k) * q ** ((j - k) // 2) for j, p in enumerate(self.coeffs) if j >= k),
            sympy.Integer(0),
        )

    def _exact_hermite(self, k, q):
        if k > self.degree:
            return sympy.Integer(0)
        return sympy.expand(sympy.sqrt(sympy.factorial(k)) * q ** sympy.Rational(k, 2) * self._A(k, q))

    def _exact_second_moment(self, q):
        return sympy.expand(sum(sympy.factorial(k) * q**k * self._A(k, q) ** 2 for k in range(self.degree + 1)))

    def _derivative_polynomial(self) -> "Polynomial":
        return Polynomial([j * p for j, p in enumerate(self.coeffs)][1:] or [0], name="derivative")

    def _exact_derivative_second_moment(self, q):
        return self._derivative_polynomial()._exact_second_moment(q)

    def _closed_kernel(self, q1, q2, c):
        q = sympy.Symbol("q")
        total = np.zeros(np.broadcast(q1, q2, c).shape)
        for k in range(self.degree + 1):
            A = sympy.Poly(self._A(k, q), q)
            A1 = np.polynomial.polynomial.polyval(q1, [float(v) for v in reversed(A.all_coeffs())])
            A2 = np.polynomial.polynomial.polyval(q2, [float(v) for v in reversed(A.all_coeffs())])
            total = total + math.factorial(k) * A1 * A2 * c**k
        return total

    def _closed_derivative_kernel(self, q1, q2, c):
        return self._derivative_polynomial()._closed_kernel(q1, q2, c)

    def _closed_dual_expr(self, q):
        return sympy.expand(sum(self._exact_hermite(k, q) ** 2 * rho**k for k in range(self.degree + 1)))

    def __call__(self, z):
        return np.polynomial.polynomial.polyval(np.asarray(z, dtype=float), [float(p) for p in self.coeffs])

    def derivative(self, z):
        return self._derivative_polynomial()(z)


# --------------------------------------------------------------------------
# Quadrature-only activations and user expressions
# --------------------------------------------------------------------------


class _QuadratureActivation(Activation):
    """Activations without closed forms: mpmath quadrature, float Gauss–Hermite."""

    def __init__(self, name, expr, params=None, numpy_phi=None, numpy_dphi=None):
        super().__init__(name, expr, params)
        self._phi_override = numpy_phi
        self._dphi_override = numpy_dphi

    def __call__(self, z):
        z = np.asarray(z, dtype=float)
        return self._phi_override(z) if self._phi_override else self._numpy_phi(z)

    def derivative(self, z):
        z = np.asarray(z, dtype=float)
        return self._dphi_override(z) if self._dphi_override else self._numpy_dphi(z)

    def _check_l2(self, q) -> None:
        _check_gaussian_growth(self.expr, q, self.name)


def _check_gaussian_growth(expr: sympy.Expr, q, name: str) -> None:
    r"""Raise ValueError unless :math:`\phi(\sqrt q z)^2 e^{-z^2/2}` is integrable.

    Probes :math:`\log|\phi(x)|/x^2` at |x| = 30, 60 (mpmath, high precision):
    an activation growing like :math:`e^{\beta x^2}` is in
    :math:`L^2(N(0, q))` only for :math:`\beta q < 1/4`.
    """
    fn = _lambdify_mpmath(expr)
    qf = to_float(q)
    with mpmath.workdps(30):
        for z in (30, 60, -30, -60):
            try:
                value = mpmath.mpmathify(fn(mpmath.mpf(z)))
            except (ZeroDivisionError, ValueError, TypeError) as err:
                raise ValueError(f"{name}: cannot evaluate phi({z}): {err}") from err
            if value == 0:
                continue
            if not mpmath.isfinite(value):
                raise ValueError(f"{name}: phi({z}) is not finite, phi is not in L2(gamma)")
            beta = mpmath.log(abs(value)) / z**2
            if beta * qf >= 0.245:
                raise ValueError(
                    f"{name}: phi grows like exp({float(beta):.3g} x^2); "
                    f"phi(sqrt(q) z) is not square-integrable under N(0,1) at q={qf:g}"
                )


def _from_expression(expr: sympy.Expr) -> Activation:
    """An Activation for a sympy expression in one real symbol (validated, never eval'd)."""
    if not isinstance(expr, sympy.Expr):
        raise TypeError(f"activation expression must be a sympy expression, got {type(expr).__name__}")
    free = expr.free_symbols
    if len(free) > 1:
        raise ValueError(f"activation expression must have one free symbol, got {sorted(map(str, free))}")
    if free:
        (sym,) = free
        expr = expr.subs(sym, x)
    if expr.has(sympy.I) or any(not a.is_real for a in expr.atoms(sympy.Number)):
        raise ValueError("activation expression must be real-valued")
    try:
        domain = sympy.calculus.util.continuous_domain(expr, x, sympy.S.Reals)
    except Exception:  # pragma: no cover - sympy cannot decide; probing below still runs
        domain = sympy.S.Reals
    if _has_kink(expr):
        domain = sympy.S.Reals  # kinks are allowed; poles and branch cuts are not
    if domain != sympy.S.Reals:
        raise ValueError(f"activation {expr} is not defined and continuous on all of R (domain {domain})")
    poly = sympy.Poly(expr, x) if expr.is_polynomial(x) else None
    if poly is not None and all(c.is_Rational for c in poly.all_coeffs()):
        return Polynomial(list(reversed(poly.all_coeffs())), name=str(expr), params={})
    act = _QuadratureActivation(str(expr), expr, {})
    act._check_l2(1)
    return act


# --------------------------------------------------------------------------
# The registry and the public factory
# --------------------------------------------------------------------------


def _sigmoid_np(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _gelu_np(z):
    return 0.5 * z * (1.0 + _erf_ufunc(z / np.sqrt(2.0)))


def _gelu_dnp(z):
    return 0.5 * (1.0 + _erf_ufunc(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


def _softplus_np(z):
    return np.logaddexp(0.0, z)


def _swish_dnp(z):
    s = _sigmoid_np(z)
    return s + z * s * (1 - s)


_SIGMOID = 1 / (1 + sympy.exp(-x))

_QUADRATURE_FAMILIES = {
    "tanh": (sympy.tanh(x), np.tanh, lambda z: 1.0 / np.cosh(z) ** 2),
    "sigmoid": (_SIGMOID, _sigmoid_np, lambda z: _sigmoid_np(z) * (1 - _sigmoid_np(z))),
    "gelu": (x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2, _gelu_np, _gelu_dnp),
    "swish": (x * _SIGMOID, lambda z: z * _sigmoid_np(z), _swish_dnp),
    "softplus": (sympy.log(1 + sympy.exp(x)), _softplus_np, _sigmoid_np),
}

_ALIASES = {"silu": "swish", "absolute": "abs", "heaviside": "step", "leakyrelu": "leaky_relu"}

#: Every name :func:`activation` understands (aliases included).
ACTIVATION_NAMES = tuple(
    sorted(
        [
            "relu",
            "leaky_relu",
            "abrelu",
            "abs",
            "step",
            "erf",
            "sin",
            "cos",
            "exp",
            "monomial",
            "polynomial",
            "linear",
            *_QUADRATURE_FAMILIES,
            *_ALIASES,
        ]
    )
)


def _no_params(name: str, params: dict) -> None:
    if params:
        raise TypeError(f"activation {name!r} takes no parameters, got {sorted(params)}")


def _build(name: str, params: dict) -> Activation:
    if name == "relu":
        _no_params(name, params)
        return ABRelu("relu", 0, 1)
    if name == "leaky_relu":
        slope = params.pop("slope", 0.01)
        _no_params(name, params)
        return ABRelu("leaky_relu", slope, 1, {"slope": slope})
    if name == "abrelu":
        a, b = params.pop("a"), params.pop("b")
        _no_params(name, params)
        return ABRelu("abrelu", a, b, {"a": a, "b": b})
    if name == "abs":
        _no_params(name, params)
        return ABRelu("abs", -1, 1)
    if name == "linear":
        _no_params(name, params)
        return ABRelu("linear", 1, 1)
    if name == "step":
        _no_params(name, params)
        return Step()
    if name == "erf":
        _no_params(name, params)
        return Erf()
    if name in ("sin", "cos"):
        _no_params(name, params)
        return Trig(name)
    if name == "exp":
        _no_params(name, params)
        return Exp()
    if name == "monomial":
        degree = check_int(params.pop("degree"), "monomial degree", 0)
        _no_params(name, params)
        return Polynomial([0] * degree + [1], name="monomial", params={"degree": degree})
    if name == "polynomial":
        coeffs = params.pop("coeffs")
        _no_params(name, params)
        if isinstance(coeffs, (str, bytes)) or not isinstance(coeffs, Sequence):
            raise TypeError("polynomial coeffs must be a sequence of numbers (ascending powers)")
        return Polynomial(coeffs, params={"coeffs": tuple(coeffs)})
    expr, phi, dphi = _QUADRATURE_FAMILIES[name]
    _no_params(name, params)
    return _QuadratureActivation(name, expr, {}, phi, dphi)


def activation(spec: str | sympy.Expr | Activation, **params) -> Activation:
    r"""Look up an activation by name, or wrap a sympy expression in one symbol.

    Names: ``relu, leaky_relu(slope=0.01), abrelu(a, b), abs, linear, step, erf,
    tanh, sigmoid, gelu, swish`` (alias ``silu``), ``softplus, sin, cos, exp,
    monomial(degree), polynomial(coeffs)`` (ascending powers).

    >>> activation("relu").hermite(2) == 1 / (2 * sympy.sqrt(sympy.pi))
    True
    >>> activation("monomial", degree=2).dual_expr()  # x^2 = He_2 + 1: a_0 = 1, a_2 = sqrt(2)
    2*rho**2 + 1
    """
    if isinstance(spec, Activation):
        if params:
            raise TypeError("parameters cannot be given with an Activation instance")
        return spec
    if isinstance(spec, sympy.Basic):
        if params:
            raise TypeError("parameters cannot be given with an expression")
        return _from_expression(spec)
    if not isinstance(spec, str):
        raise TypeError(f"activation spec must be a name or a sympy expression, got {type(spec).__name__}")
    key = spec.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in ACTIVATION_NAMES:
        raise ValueError(f"unknown activation {spec!r}; known: {', '.join(ACTIVATION_NAMES)}")
    try:
        return _build(key, dict(params))
    except KeyError as missing:
        raise TypeError(f"activation {spec!r} needs parameter {missing}") from None
