r"""Beyond leading order at one input: the exact Markov chain of the stochastic metric and its moment closure.

The recursions (F3), (F4) of :mod:`.recursions` keep the first order in 1/n.  Their remainder is of relative
size :math:`v = V/(nK^2)`, and v is not small at :math:`L/n = 1/2` (ReLU: :math:`v = 5L/n`; the exact
:math:`\mathrm{Var}\,\hat G/K^2 = (1 + 5/n)^{L-1} - 1` is 7.8 at L = 16, n = 32, where the leading term says
2.3).  At one input the finite network reduces *exactly* to a scalar Markov chain, which this module propagates
beyond any fixed order.

(F18) The metric chain.  With the conventions of :mod:`.recursions` (RYH eq. 2.5), given layer l the
preactivations :math:`z^{(l)}_j` are i.i.d. :math:`N(0, \hat G^{(l)})`, and

.. math:: \hat G^{(1)} = C_b + C_W q_0, \qquad
          \hat G^{(l+1)} = C_b + \frac{C_W}{n_l}\sum_{j=1}^{n_l} X_j, \qquad
          X_j = \phi\big(\sqrt{\hat G^{(l)}}\,\xi_j\big)^2,\ \ \xi_j \text{ i.i.d. } N(0, 1),

so :math:`E[z_i^2] = E\hat G^{(l)}` and the connected four-point function is
:math:`E[z_i^2 z_j^2] - E[z_i^2]E[z_j^2] = \mathrm{Var}\,\hat G^{(l)}` (i ≠ j), exactly at every width.
Given :math:`\hat G^{(l)} = G`, the cumulants of :math:`\hat G^{(l+1)}` are those of a sample mean,
:math:`\kappa_1 = C_b + C_W\kappa_1(X)`, :math:`\kappa_k = C_W^k\kappa_k(X)/n_l^{k-1}` (k ≥ 2), with the
:math:`\kappa_k(X)` obtained from the moments :math:`\nu_j(G) = E X^j = \langle\phi^{2j}\rangle_G`
(moment–cumulant recursion :math:`\nu_k = \sum_{j=1}^{k}\binom{k-1}{j-1}\kappa_j\nu_{k-j}`).  Hence the
conditional moments :math:`M_k(G) = E[(\hat G^{(l+1)})^k \mid \hat G^{(l)} = G]` are polynomials in
:math:`\nu_1(G), \dots, \nu_k(G)` and :math:`1/n_l`.

(F19) The moment closure.  Expand :math:`M_k` about the mean :math:`\mu = E\hat G^{(l)}` and take expectations:

.. math:: E(\hat G^{(l+1)})^k = \sum_{r=0}^{R} \frac{M_k^{(r)}(\mu)}{r!}\, c_r^{(l)}, \qquad
          c_r^{(l)} = E(\hat G^{(l)} - \mu)^r, \qquad k = 1, \dots, R,

where the Taylor coefficients come from the heat equation for the Gaussian density of variance G,
:math:`\partial_G^r \varphi_G = 2^{-r}\partial_z^{2r}\varphi_G`, integrated by parts:

.. math:: \frac{\nu_j^{(r)}(\mu)}{r!} = \frac{\langle \phi(z)^{2j}\, He_{2r}(z/\sqrt\mu)\rangle_\mu}{(2\mu)^r\, r!}

(r = 1, 2 are the g', g'' of (F2), (F4)).  No derivative of φ is needed, so kinks are fine.  Since
:math:`c_r = O(n^{-\lceil r/2 \rceil})`, truncating at an even R leaves an error :math:`O(n^{-(R/2+1)})` in the
mean and the variance: R = 2 is the leading order, R = 4 adds the :math:`1/n^2` terms, R = 6 the
:math:`1/n^3` terms.  **Exact cases.**  When :math:`\nu_j(G)` is a polynomial of degree ≤ j in G (the
scale-invariant family :math:`\phi = a\min(z,0) + b\max(z,0)`, and affine φ), :math:`M_k` has degree k ≤ R,
the expansion terminates, and (F19) is the exact finite-width answer; with exact inputs the arithmetic is
exact too (sympy), e.g. ReLU at :math:`C_W = 2`, :math:`C_b = 0`: :math:`\mathrm{Var}\,\hat G^{(l)} =
K^2[\prod_{m<l}(1 + 5/n_m) - 1]`.  Otherwise the Gaussian means are mpmath tanh-sinh quadratures
(:func:`~eigencalc.finite.recursions.gaussian_table`) at the context precision plus guard digits, and the
result carries its truncation order.

(F20) The Gauss closure.  (F19) expands :math:`M_k` about the mean, which fails when the law of
:math:`\hat G` is broad (GELU at criticality, :math:`L/n = 1/2`: :math:`\mathrm{Var}\,\hat G/(E\hat G)^2 \approx 2`).
Instead carry the law as the N-point Gauss rule :math:`(g_a, p_a)` of its moments :math:`m_0..m_{2N-1}`
(Golub–Welsch, :func:`_gauss_rule`) and integrate the conditional moments exactly at the nodes:

.. math:: E(\hat G^{(l+1)})^k = \sum_{a=1}^{N} p_a\, M_k(g_a), \qquad k = 0, \dots, 2N,

with :math:`\nu_j(g_a) = \langle\phi^{2j}\rangle_{g_a}` by quadrature.  This is exact whenever
:math:`M_k` is a polynomial of degree < 2N (the exact cases above), involves no expansion in 1/n, and
converges with N at the rate at which the :math:`M_k` are approximated by polynomials on the support of
the law (tests: N = 4, 6, 8).

Checks (tests): exact ReLU/linear closed forms with and without bias (an independent χ²-binomial oracle);
:math:`n \cdot \mathrm{Var}\,\hat G \to V` and :math:`n(E\hat G - K) \to K_1` of (F3), (F4) as n grows for tanh
and GELU; the orders R = 4, 6, 8 agree to the stated order; Monte-Carlo of finite networks within 4 standard
errors at :math:`L/n` up to 1/2 for ReLU, tanh and GELU.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

import mpmath
import sympy

from ..core.numbers import to_mpf
from ..core.progress import progress as progress_bar
from ..core.tables import Tabular
from ..core.validate import check_int
from ..duals.activations import ABRelu, Activation, Polynomial, activation
from .recursions import _exact_mean, _positive, check_widths, gaussian_table

__all__ = ["FiniteWidthMoments", "finite_width_moments"]

_GUARD_DIGITS = 10  # the He_{2r} weights cancel about log10((2r-1)!!) digits


def _hermite_e_coefficients(n: int) -> list:
    r"""Coefficients of :math:`He_n(u) = \sum_m (-1)^m \frac{n!}{m!(n-2m)!2^m} u^{n-2m}` as ``[(power, coeff)]``."""
    return [(n - 2 * m, (-1) ** m * sympy.factorial(n) / (sympy.factorial(m) * sympy.factorial(n - 2 * m) * 2**m))
            for m in range(n // 2 + 1)]


def _series_mul(a: list, b: list) -> list:
    """Product of two power series in ε truncated to ``len(a)`` terms."""
    R = len(a)
    return [sum((a[i] * b[r - i] for i in range(r + 1)), 0 * a[0]) for r in range(R)]


def _moment_taylor(act: Activation, mu: Any, R: int, exact: bool) -> list:
    r"""Taylor coefficients ``T[j][r]`` of :math:`\nu_j(\mu + \varepsilon) = \langle\phi^{2j}\rangle_{\mu+\varepsilon}`, j, r ≤ R (F19)."""
    if exact:
        mean = lambda j, i: _exact_mean(act, 2 * j, i, mu)  # noqa: E731
    else:
        keys = tuple((2 * j, 0, 2 * i) for j in range(1, R + 1) for i in range(R + 1))
        table = gaussian_table(act, mu, keys)
        mean = lambda j, i: table[(2 * j, 0, i)]  # noqa: E731
    T = [[sympy.Integer(1) if r == 0 else sympy.Integer(0) for r in range(R + 1)]]  # nu_0 = 1
    for j in range(1, R + 1):
        row = []
        for r in range(R + 1):
            he = sum((c * mean(j, p) / mu ** sympy.Rational(p, 2) for p, c in _hermite_e_coefficients(2 * r)), 0)
            row.append(he / ((2 * mu) ** r * sympy.factorial(r)))
        T.append(row if exact else [to_mpf(v) for v in row])
    if not exact:
        T[0] = [mpmath.mpf(v) for v in T[0]]
    return T


def _conditional_moment_series(T: list, C_W, C_b, n: int) -> list:
    r"""Series of :math:`M_k(\mu+\varepsilon)`, k = 0..R, from the moment series ``T`` of X (F18)."""
    R = len(T) - 1
    kappa_X = [None]
    for k in range(1, R + 1):  # nu_k = sum_j binom(k-1, j-1) kappa_j nu_{k-j}
        rest = [0 * t for t in T[k]]
        for j in range(1, k):
            rest = [u + comb(k - 1, j - 1) * v for u, v in zip(rest, _series_mul(kappa_X[j], T[k - j]))]
        kappa_X.append([u - v for u, v in zip(T[k], rest)])
    kappa = [None, [C_W * v + (C_b if r == 0 else 0) for r, v in enumerate(kappa_X[1])]]
    kappa += [[C_W**k * v / n ** (k - 1) for v in kappa_X[k]] for k in range(2, R + 1)]
    M = [T[0]]
    for k in range(1, R + 1):  # M_k = sum_j binom(k-1, j-1) kappa_j M_{k-j}
        acc = [0 * t for t in T[0]]
        for j in range(1, k + 1):
            acc = [u + comb(k - 1, j - 1) * v for u, v in zip(acc, _series_mul(kappa[j], M[k - j]))]
        M.append(acc)
    return M


def _central_moments(raw: list) -> list:
    """Central moments c_0..c_R from raw moments m_0..m_R."""
    mu = raw[1]
    return [sum((comb(r, i) * raw[i] * (-mu) ** (r - i) for i in range(r + 1)), 0 * mu) for r in range(len(raw))]


def _closure_is_exact(act: Activation) -> bool:
    """nu_j(G) has degree <= j in G: the scale-invariant family and affine activations (F19, exact cases)."""
    return isinstance(act, ABRelu) or (isinstance(act, Polynomial) and act.degree <= 1)


def _gauss_rule(raw: list, atoms: int) -> tuple:
    r"""The ``atoms``-point Gauss rule of a law on the line from its raw moments :math:`m_0..m_{2N}` (Golub–Welsch).

    Cholesky :math:`H = R^\top R` of the Hankel matrix :math:`H_{ij} = m_{i+j}` (i, j ≤ N) gives the
    three-term recurrence :math:`\alpha_j = r_{j,j+1}/r_{jj} - r_{j-1,j}/r_{j-1,j-1}`,
    :math:`\sqrt{\beta_{j+1}} = r_{j+1,j+1}/r_{jj}`; the nodes are the eigenvalues of the Jacobi matrix and
    the weights :math:`m_0 v_{0a}^2`.  The rule reproduces :math:`m_0..m_{2N-1}`.  A law with fewer than N
    support points (a singular Hankel matrix), or moments whose rule would put a node at G ≤ 0 (digits lost
    to the Hankel matrix's conditioning), gets the largest rule that exists.
    """
    for N in range(atoms, 0, -1):
        H = mpmath.matrix([[raw[i + j] for j in range(N + 1)] for i in range(N + 1)])
        try:
            Rt = mpmath.cholesky(H)  # lower triangular L = R^T
        except ValueError:
            continue
        r = lambda i, j: Rt[j, i]  # noqa: E731
        J = mpmath.matrix(N, N)
        for j in range(N):
            J[j, j] = r(j, j + 1) / r(j, j) - (r(j - 1, j) / r(j - 1, j - 1) if j else 0)
            if j + 1 < N:
                J[j, j + 1] = J[j + 1, j] = r(j + 1, j + 1) / r(j, j)
        E, Q = mpmath.eigsy(J)
        if min(E[a] for a in range(N)) <= 0:  # a metric is positive: a node at or below 0 means lost digits
            continue
        return [E[a] for a in range(N)], [raw[0] * Q[0, a] ** 2 for a in range(N)]
    return [raw[1] / raw[0]], [raw[0]]


def _taylor_step(act, raw: list, C_W, C_b, n: int, exact: bool) -> list:
    """Raw moments of the next metric from those of this one by the Taylor closure (F19)."""
    R = len(raw) - 1
    c = _central_moments(raw)
    M = _conditional_moment_series(_moment_taylor(act, raw[1], R, exact), C_W, C_b, n)
    new = [sum((Mk[r] * c[r] for r in range(R + 1)), 0 * c[0]) for Mk in M]
    return [sympy.expand(v) for v in new] if exact else new


def _gauss_step(act, raw: list, C_W, C_b, n: int) -> list:
    r"""Raw moments :math:`m_0..m_{2N}` of the next metric: the conditional moments (F18) summed over the Gauss rule (F20)."""
    top = len(raw) - 1
    nodes, weights = _gauss_rule(raw, top // 2)
    keys = tuple((2 * j, 0, 0) for j in range(1, top + 1))
    new = [mpmath.mpf(0)] * (top + 1)
    for g, p in zip(nodes, weights):
        nu = gaussian_table(act, g, keys)
        M = _conditional_moment_series([[mpmath.mpf(1)]] + [[nu[key]] for key in keys], C_W, C_b, n)
        new = [v + p * Mk[0] for v, Mk in zip(new, M)]
    return new


@dataclass(frozen=True)
class FiniteWidthMoments(Tabular):
    r"""Mean and variance of the stochastic metric per layer, beyond leading order (F18–F20).

    ``mean[l-1]`` is :math:`E[z_i^{(l)2}] = E\hat G^{(l)}` and ``four_point[l-1]`` is
    :math:`\mathrm{Var}\,\hat G^{(l)} = E[z_i^2 z_j^2] - E[z_i^2]E[z_j^2]`.  ``method`` is ``"taylor"`` (F19,
    ``size`` = R moments) or ``"gauss"`` (F20, ``size`` = N atoms).  ``closed`` says the closure is the exact
    finite-width answer (the ReLU family and affine φ); ``exact`` says the arithmetic is exact (sympy),
    else mpmath at ``dps`` digits.
    """

    activation: str
    widths: tuple
    C_W: Any
    C_b: Any
    q0: Any
    method: str
    size: int
    mean: tuple
    four_point: tuple
    closed: bool
    exact: bool
    dps: int | None

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def truncation(self) -> str:
        """What is neglected: ``"none"`` when closed, ``"O(n^-k)"`` (Taylor), ``"N-point rule"`` (Gauss)."""
        if self.closed:
            return "none"
        return f"O(n^-{self.size // 2 + 1})" if self.method == "taylor" else f"{self.size}-point rule"

    @property
    def normalized_four_point(self) -> tuple:
        r""":math:`\mathrm{Var}\,\hat G / (E\hat G)^2` per layer (the all-orders analogue of :math:`V/(nK^2)`)."""
        return tuple(v / m**2 for v, m in zip(self.four_point, self.mean))

    def rows(self) -> list:
        """One row per layer: width, E[z^2], Var G (the connected four-point function), its ratio to E[z^2]^2."""
        nv = self.normalized_four_point
        return [{"layer": i + 1, "width": n, "mean": self.mean[i], "four_point": self.four_point[i],
                 "four_point_over_mean2": nv[i], "method": self.method, "truncation": self.truncation,
                 "exact": self.exact and self.closed}
                for i, n in enumerate(self.widths)]


def _numbers(act: Activation, C_W, C_b, q0) -> tuple:
    """Exact sympy inputs for polynomial/ReLU-family activations, else mpmath (same rule as finite_width_mlp)."""
    if isinstance(act, (Polynomial, ABRelu)):
        num = lambda v: sympy.nsimplify(v) if isinstance(v, sympy.Float) else v  # noqa: E731
        return True, num(C_W), num(C_b), num(q0)
    return False, to_mpf(C_W), to_mpf(C_b), to_mpf(q0)


def _check_method(method: str, act: Activation, order, atoms) -> tuple:
    if method not in ("auto", "taylor", "gauss"):
        raise ValueError(f"method must be 'auto', 'taylor' or 'gauss', got {method!r}")
    if method == "auto":
        method = "taylor" if _closure_is_exact(act) else "gauss"
    if method == "taylor":
        R = check_int(6 if order is None else order, "order", 2)
        if R % 2:
            raise ValueError(f"order must be even (the closure keeps whole orders of 1/n), got {order}")
        return method, R
    return method, check_int(6 if atoms is None else atoms, "atoms", 1)


def finite_width_moments(widths: Any, act: Any, C_W: Any, C_b: Any = 0, q0: Any = 1, *, method: str = "auto",
                         order: int | None = None, atoms: int | None = None,
                         progress: bool | None = None) -> FiniteWidthMoments:
    r"""E[z^2] and the connected four-point function per layer from the metric chain (F18), beyond leading order.

    ``method="taylor"`` closes the chain by the Taylor expansion (F19) at ``order`` R (even, default 6):
    the systematic 1/n expansion, error :math:`O(n^{-(R/2+1)})`; R = 2 is the leading order of (F3), (F4).
    ``method="gauss"`` (F20) carries the law of :math:`\hat G` as an ``atoms``-point Gauss rule (default 6):
    no expansion in 1/n, so it holds where :math:`\mathrm{Var}\,\hat G/(E\hat G)^2` is not small (ReLU-like
    activations at :math:`L/n \sim 1/2`), and converges as the rule grows.  ``"auto"`` (default) takes the
    exact Taylor closure for the ReLU family and affine φ (sympy numbers) and the Gauss rule otherwise.
    Cost: one tanh-sinh quadrature per atom and layer (tanh, N = 6: about 0.4 s per layer); ``progress``
    shows a tqdm bar over the layers (``None``: only on a terminal).

    >>> r = finite_width_moments([8, 8, 8], "relu", 2, 0, 1)   # K = 2: Var G = 4 [(13/8)^(l-1) - 1]
    >>> r.four_point, r.closed, r.exact
    ((0, 5/2, 105/16), True, True)
    """
    widths = check_widths(widths)
    act = activation(act)
    method, size = _check_method(method, act, order, atoms)
    C_W = _positive(C_W, "C_W")
    C_b = _positive(C_b, "C_b", allow_zero=True)
    q0 = _positive(q0, "q0")
    exact, C_W, C_b, q0 = _numbers(act, C_W, C_b, q0)
    exact = exact and method == "taylor"
    if not exact:
        C_W, C_b, q0 = to_mpf(C_W), to_mpf(C_b), to_mpf(q0)
    dps = None if exact else mpmath.mp.dps
    top = size if method == "taylor" else 2 * size
    with mpmath.workdps((dps or 15) + _GUARD_DIGITS):
        G1 = C_b + C_W * q0
        raw = [G1**k for k in range(top + 1)]
        means, variances = [], []
        for i, n in enumerate(progress_bar(widths, desc="metric chain", enabled=progress)):
            means.append(raw[1] / raw[0])
            variances.append(raw[2] / raw[0] - means[-1] ** 2)
            if i + 1 < len(widths):
                raw = (_taylor_step(act, raw, C_W, C_b, n, exact) if method == "taylor"
                       else _gauss_step(act, raw, C_W, C_b, n))
    if exact:
        means, variances = [sympy.simplify(v) for v in means], [sympy.simplify(v) for v in variances]
    else:
        with mpmath.workdps(dps):
            means, variances = [+v for v in means], [+v for v in variances]
    return FiniteWidthMoments(act.name, widths, C_W, C_b, q0, method, size, tuple(means), tuple(variances),
                              _closure_is_exact(act), exact, dps)
