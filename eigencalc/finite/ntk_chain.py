r"""The NTK mean and variance of a finite MLP at one input, beyond leading order, for any activation (F24).

The leading order (F8)-(F13) carries a remainder of relative size about :math:`3l/n`; the exact ReLU
result (F23) rests on Euler's identity.  This module evaluates :math:`E\hat H_{ii}` and
:math:`E\hat H_{ii}^2` for any :math:`\phi` with a derivative, biases, any widths, with no expansion in 1/n.

**Backward split (exact).**  NTK parameterisation of :mod:`.ntk`:
:math:`\hat H^{(L)}_{ii} = \sum_{l=1}^{L}\hat G^{(l)}x_l`, :math:`x_l = |\delta^{(l)}|^2`,
:math:`\delta^{(l)} = \partial z^{(L)}_i/\partial z^{(l)}`, :math:`\hat G^{(l)} = C_b + g_l`,
:math:`g_l = C_W|\phi^{(l-1)}|^2/n_{l-1}` (:math:`g_1 = C_Wq_0`).  Given :math:`\phi^{(l)}`, write
:math:`z^{(l+1)} = \sqrt{g_{l+1}}\,\zeta + b` with :math:`\zeta = \omega\hat\phi` standard normal and independent of
the layers below; the rest of :math:`\omega^{(l+1)}` is :math:`\omega P^\perp`, independent of everything else.  So
with :math:`u = \hat\phi^{(l)}`, :math:`t_l = \zeta^{(l)}\cdot\delta^{(l)}`, :math:`\sigma_l^2 = C_W/n_l`,

.. math:: \delta^{(l)} = \sigma_l D\,(u\,t_{l+1} + \sqrt{x_{l+1}}\,\eta), \qquad \eta \sim N(0, I - uu^\top)
          \text{ fresh}, \qquad t_L = \zeta^{(L)}_i \sim N(0,1),\ x_L = 1,

:math:`D = \mathrm{diag}\,\phi'(z^{(l)})`.  Averaging over η, the monomials :math:`(t^2, x, h)` and
:math:`(t^4, t^2x, x^2, t^2h, xh, h^2)` of the backward state (h: the partial sum of :math:`\hat G x` above) map
linearly (the path matrices :math:`T_l`, F24a), with entries polynomial in the unit sums of layer l

.. math:: R = \sum_j\phi_j^2,\ \sum_j\zeta_j\phi_j'\phi_j,\ \sum_j\zeta_j^2\phi_j'^2,\ \sum_j\phi_j'^2\phi_j^2,\
          \sum_j\phi_j'^2,\ \sum_j\phi_j'^4,\ \sum_j\phi_j'^4\phi_j^2,\ \sum_j\zeta_j^2\phi_j'^4,\ \sum_j\zeta_j\phi_j'^3\phi_j

divided by :math:`R` or :math:`R^2` (from :math:`uu^\top`), and Gaussian moments of η
(:math:`E(c\cdot\eta)^2 = c^\top Pc`, :math:`E[(c\cdot\eta)^2\eta^\top M\eta] = c^\top Pc\,\mathrm{tr}PM + 2c^\top PMPc`, ...).
For ReLU, :math:`T_l` reduces to the path matrices of (F23).

**Transfer over the metric (F24b).**  Given :math:`g_l` the units :math:`(\zeta_j, b_j)` of layer l are i.i.d.,
:math:`T_l` depends on them and :math:`g_{l+1} = C_WR/n_l` fixes the law of the layers above, so
:math:`F_l(g) = E[T_l\,F_{l+1}(C_WR/n_l)\,|\,g_l = g]` with :math:`F_L(g) = (1, 1, C_b+g)`,
:math:`(3, 1, 1, C_b+g, C_b+g, (C_b+g)^2)`, and :math:`E\hat H = F_1^h(g_1)`,
:math:`E\hat H^2 = F_1^{h^2}(g_1)`.  The conditional means of products of unit sums follow from exchangeability,
:math:`E[\prod_k S_{i_k}e^{-sR}] = \sum_\pi (n)_{|\pi|}\prod_{B\in\pi}E[f_Be^{-s\phi^2}]\,E[e^{-s\phi^2}]^{n-|\pi|}`
(set partitions π, :math:`f_B` the product of the block's unit functions), and negative powers by
:math:`R^{-a}(R+\rho)^{-b}` = a Laplace integral over s of that transform (partial fractions), so every
conditional mean is a one-dimensional integral of one-dimensional Gaussian integrals (float64 trapezoid
rules in :math:`\log|z|` and :math:`\log s`, exponentially convergent for activations smooth away from 0).

**Closure (F24c), the only approximation.**  :math:`F_{l+1}` is carried by its values at N Chebyshev nodes
in :math:`g_{l+1}` and interpolated as :math:`\omega(R)\,P(v(R))` with P a polynomial of degree N-1.  Bounded
:math:`\phi`: :math:`v = (R - c)/w`, :math:`\omega = 1`, on the leading-order law of :math:`g_{l+1}` to 8 standard
deviations (F1, F3), clipped to the support :math:`[0, C_W\sup\phi^2]` (sub-Gaussian tails: what lies beyond
carries no weight, and the conditional means of :math:`v^j` come from centred series, so narrow laws cost
no digits).  Unbounded :math:`\phi`: all of :math:`(0,\infty)` with :math:`v = (R-\rho)/(R+\rho)`,
:math:`\omega = ((R+\rho)/\rho)^\gamma` (γ = 1 for the mean, 2 for the second moment; ρ at the infinite-width
kernel), so nothing is extrapolated into the exponential tails.  The conditional means of
:math:`\omega v^j` are exact (above).  The closure is exact when :math:`F_{l+1}` is such a function, which is
the case for ReLU (bias-free, any N >= 3: the result equals F23).  The reported ``closure_error`` is the
change from N - 2 to N nodes; it is largest for deep K* = 0 networks (tanh, 20 layers of width 50: 0.6%),
whose transferred functions have poles at :math:`g \approx -3/(2m)` (the kernel flow of m layers) close to
the law.

Checks (tests): ReLU equals the exact rationals of (F23) to 1e-9; n × variance tends to (A + 2B) and the
gap to the leading order is O(1/n^2); Monte-Carlo of finite tanh and GELU networks within raw 4 standard
errors at L/n = 0.05 to 0.5, where the leading order misses by up to 20 of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy
from sympy.utilities.iterables import multiset_partitions

from ..core.progress import progress as progress_bar
from ..core.validate import check_int
from ..duals.activations import Activation, activation
from .recursions import _positive, check_widths, require_derivative
from .relu_ntk import NTKMomentsTable

__all__ = ["FiniteWidthNTKMoments", "finite_width_ntk_moments"]

# The unit functions of the sums of (F24a): zeta^a phi^b phi'^c.
_UNIT = {"A": (1, 1, 1), "qq": (2, 0, 2), "al": (0, 2, 2), "p": (0, 0, 2), "pp": (0, 0, 4),
         "ppuu": (0, 2, 4), "pqq": (2, 0, 4), "pqu": (1, 1, 3)}
_S = {k: sympy.Symbol("S_" + k) for k in _UNIT}
_RINV, _SIG2, _G = sympy.symbols("Rinv sigma2 G")


def _path_matrices() -> tuple:
    r"""The η-averaged path matrices of (F24a): new state = T · old state, for the mean (3x3, state
    :math:`(t^2, x, h)`) and the second moment (6x6, :math:`(t^4, t^2x, x^2, t^2h, xh, h^2)`); sympy entries
    in the unit sums, :math:`R^{-1}`, :math:`\sigma_l^2` and :math:`\hat G^{(l)}`."""
    A2 = _S["A"] ** 2 * _RINV  # (q.u)^2, q = zeta phi'
    AP = _S["A"] * _S["pqu"] * _RINV  # (q.u) sum p q u, p = phi'^2
    al = _S["al"] * _RINV  # u^T D_p u
    ppuu = _S["ppuu"] * _RINV
    qq, p, pp, pqq = _S["qq"], _S["p"], _S["pp"], _S["pqq"]
    qP = qq - A2  # q^T P q
    trPD = p - al  # tr P D_p
    trPDPD = pp - 2 * ppuu + al**2
    qPDPq = pqq - 2 * AP + A2 * al
    bPb = ppuu - al**2  # (p u)^T P (p u)
    s2, s4, G = _SIG2, _SIG2**2, _G
    mean = [[s2 * A2, s2 * qP, 0], [s2 * al, s2 * trPD, 0], [G * s2 * al, G * s2 * trPD, 1]]
    t4 = [s4 * A2**2, 6 * s4 * A2 * qP, 3 * s4 * qP**2]
    t2x = [s4 * A2 * al, s4 * (A2 * trPD + 4 * (AP - A2 * al) + al * qP), s4 * (qP * trPD + 2 * qPDPq)]
    x2 = [s4 * al**2, s4 * (4 * bPb + 2 * al * trPD), s4 * (trPD**2 + 2 * trPDPD)]
    second = [t4 + [0, 0, 0], t2x + [0, 0, 0], x2 + [0, 0, 0],
              [G * v for v in t2x] + [s2 * A2, s2 * qP, 0],
              [G * v for v in x2] + [s2 * al, s2 * trPD, 0],
              [G**2 * v for v in x2] + [2 * G * s2 * al, 2 * G * s2 * trPD, 1]]
    return mean, second


def _terms(entry) -> tuple:
    """An entry as terms (coefficient, sigma^2 power, G power, unit-sum names, power of 1/R)."""
    entry = sympy.expand(entry)
    if entry == 0:
        return ()
    gens = [*_S.values(), _RINV, _SIG2, _G]
    out = []
    for mon, coef in sympy.Poly(entry, *gens).terms():
        names = tuple(name for name, e in zip(_UNIT, mon[:8]) for _ in range(e))
        out.append((float(coef), mon[9], mon[10], names, mon[8]))
    return tuple(out)


@lru_cache(maxsize=None)
def _transfer_terms() -> dict:
    """gamma (1: mean, 2: second moment) -> matrix of term tuples."""
    mean, second = _path_matrices()
    return {g: tuple(tuple(_terms(e) for e in row) for row in M) for g, M in ((1, mean), (2, second))}


@lru_cache(maxsize=None)
def _set_partitions(m: int) -> tuple:
    return ((),) if m == 0 else tuple(tuple(tuple(b) for b in p) for p in multiset_partitions(list(range(m))))


def _falling(n: int, k: int) -> int:
    return math.prod(range(n - k + 1, n + 1))


@lru_cache(maxsize=None)
def _toeplitz_index(K: int) -> tuple:
    lag = np.arange(K)[None, :] - np.arange(K)[:, None]
    return np.clip(lag, 0, None), lag < 0


def _series_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of truncated power series along the last axis (rows of equal shape)."""
    K = a.shape[-1]
    if K <= 3:
        out = a * b[..., :1]
        for i in range(1, K):
            out[..., i:] += a[..., : K - i] * b[..., i : i + 1]
        return out
    index, below = _toeplitz_index(K)
    T = b[..., index]  # out_j = sum_i a_i b_{j-i}
    T[..., below] = 0.0
    return np.einsum("...i,...ij->...j", a, T)


def _series_pow(a: np.ndarray, m: int) -> np.ndarray:
    out, base = np.zeros_like(a), a.copy()
    out[..., 0] = 1.0
    while m:
        if m & 1:
            out = _series_mul(out, base)
        base, m = _series_mul(base, base), m >> 1
    return out


def _double_factorial(k: int) -> int:
    return 1 if k <= 0 else k * _double_factorial(k - 2)


class _UnitRule:
    r"""Quadrature for one unit of a layer whose weight part has variance g (bias variance :math:`C_b`).

    z ~ N(0, g + C_b) by the trapezoid rule in :math:`\log|z|` on each half-line (so kinks at 0 cost
    nothing); :math:`\zeta = (z - b)/\sqrt g` enters through :math:`E[\zeta^a|z]`; the Laplace variable s runs
    on a trapezoid rule in :math:`\log s`.  Per unit :math:`y = (\phi^2 - c/n)/w`, so the unit sums give
    :math:`(R - c)/w`; ``powers`` moments of y are kept.
    """

    DU, DV = 0.1, 0.2

    def __init__(self, act: Activation, g: float, C_b: float, n: int, powers: int = 3, centre: float = 0.0,
                 width: float = 1.0):
        G = g + C_b
        u = np.arange(-32.0, math.log(37.0) + self.DU / 2, self.DU)  # e^{-37^2/2} > 0 in float64
        r = math.sqrt(G) * np.exp(u)
        z = np.concatenate([-r[::-1], r])
        w = np.exp(u - np.exp(2 * u) / 2) * self.DU / math.sqrt(2 * math.pi)
        self.weight = np.concatenate([w[::-1], w])
        with np.errstate(over="ignore", invalid="ignore"):
            self.phi = np.broadcast_to(act.numpy_function(0)(z), z.shape).astype(float)
            self.dphi = np.broadcast_to(act.numpy_function(1)(z), z.shape).astype(float)
        bad = ~(np.isfinite(self.phi) & np.isfinite(self.dphi))
        if (self.weight[bad] > 1e-250).any():
            raise ValueError(f"{act.name}: phi or phi' is not finite where the Gaussian weight is not negligible")
        self.phi[bad], self.dphi[bad], self.weight[bad] = 0.0, 0.0, 0.0  # far tails, weight below 1e-250
        slope, noise = math.sqrt(g) / G, C_b / G  # zeta | z ~ N(slope z, noise)
        self.zeta = [sum(math.comb(a, k) * (slope * z) ** (a - k) * noise ** (k / 2) * _double_factorial(k - 1)
                         for k in range(0, a + 1, 2)) * np.ones_like(z) for a in range(9)]
        phi2 = self.phi**2
        self.n = n
        y = (phi2 - centre / n) / width
        self.powers = np.array([y**k / math.factorial(k) for k in range(powers)])  # (K, M)
        self.s = np.exp(np.arange(-30.0, 60.0 + self.DV / 2, self.DV)) / (n * float(self.weight @ phi2) + 1e-300)
        self.ds = self.s * self.DV
        self._cache: dict = {}

    @property
    def _laplace_matrix(self) -> np.ndarray:
        r""":math:`e^{-s\phi^2}` on (s rule) x (z rule), built on first use."""
        if "laplace" not in self._cache:
            self._cache["laplace"] = np.exp(-np.outer(self.s, self.phi**2))
        return self._cache["laplace"]

    def _f(self, abc: tuple) -> np.ndarray:
        a, b, c = abc
        return self.zeta[a] * self.phi**b * self.dphi**c * self.weight

    def series(self, abc: tuple, laplace: bool = True) -> np.ndarray:
        r"""Rows :math:`s = 0, s_1, s_2, \dots` (only s = 0 unless ``laplace``) of
        :math:`E[f\,e^{-s\phi^2}e^{\theta y}]` as truncated power series in θ."""
        key = ("series", abc, laplace)
        if key not in self._cache:
            fy = self.powers * self._f(abc)  # (K, M)
            row0 = fy.sum(axis=1)[None, :]
            self._cache[key] = np.vstack([row0, self._laplace_matrix @ fy.T]) if laplace else row0
        return self._cache[key]

    def rest(self, m: int, laplace: bool = True) -> np.ndarray:
        r"""The transform of the m units outside the blocks: :meth:`series` of f = 1 to the power m."""
        key = ("rest", m, laplace)
        if key not in self._cache:
            self._cache[key] = _series_pow(self.series((0, 0, 0), laplace), m)
        return self._cache[key]

    def kernel(self, a: int, b: int, rho: float) -> np.ndarray:
        r"""Weights k(s) on the s rule with :math:`R^{-a}(R+\rho)^{-b} = \int_0^\infty k(s)e^{-sR}ds` (a + b >= 1):
        :math:`s^{a-1}/\Gamma(a)`, :math:`s^{b-1}e^{-\rho s}/\Gamma(b)`, and for both the partial fractions
        :math:`\frac{1}{R^a(R+\rho)^b} = \frac{\rho^{-b}}{R^a} - \sum_{i=1}^b\frac{\rho^{-(b-i+1)}}{R^{a-1}(R+\rho)^i}`."""
        key = ("kernel", a, b, rho)
        if key not in self._cache:
            if b == 0:
                k = self.ds * self.s ** (a - 1) / math.gamma(a)
            elif a == 0:
                k = self.ds * np.exp((b - 1) * np.log(self.s) - rho * self.s - math.lgamma(b))
            else:
                k = rho ** (-b) * self.kernel(a, 0, rho)
                for i in range(1, b + 1):
                    k = k - rho ** (-(b - i + 1)) * self.kernel(a - 1, i, rho)
            self._cache[key] = k
        return self._cache[key]


def _block(names: tuple, block: tuple) -> tuple:
    return tuple(sum(_UNIT[names[i]][k] for i in block) for k in range(3))


def _exchangeable(rule: _UnitRule, names: tuple, laplace: bool) -> np.ndarray:
    r"""Rows :math:`s = 0, s_1, \dots` of :math:`E[\prod S\,e^{-sR}\,e^{\theta(R-c)/w}]` as power series in θ (F24b):
    the sum over set partitions of the product of block transforms (``k!`` applied: entry k is the k-th moment);
    the rows s > 0 only if ``laplace`` (they serve the :math:`R^{-k}` factors)."""
    n = rule.n
    out = np.zeros_like(rule.series((0, 0, 0), laplace))
    for partition in _set_partitions(len(names)):
        k = len(partition)
        if k > n:
            continue
        term = rule.rest(n - k, laplace)
        for block in partition:
            term = _series_mul(term, rule.series(_block(names, block), laplace))
        out += _falling(n, k) * term
    return out * np.array([math.factorial(k) for k in range(out.shape[1])])


def _inverse_power(rule: _UnitRule, Phi: np.ndarray, a: int, b: int, rho: float) -> np.ndarray:
    r""":math:`E[\prod S\,R^{-a}(R+\rho)^{-b}\,((R-c)/w)^j]` for every j (a + b >= 1), from the rows
    :math:`s_1, s_2, \dots` of :func:`_exchangeable`."""
    return rule.kernel(a, b, rho) @ Phi[1:]


@dataclass(frozen=True)
class _Nodes:
    r"""Interpolation nodes of one layer's metric and the basis :math:`\omega(R)v(R)^j` of (F24c).

    R is the unit sum of the layer below (width ``n_below``), :math:`g = C_W R/n_{below}`.  ``interval``:
    :math:`v = (R - c)/w` on the leading-order law of the metric to 8 standard deviations (bounded φ);
    otherwise :math:`v = (R - \rho)/(R + \rho)`, :math:`\omega = ((R+\rho)/\rho)^\gamma` on all of (0, ∞).
    """

    v: np.ndarray
    n_below: int
    C_W: float
    interval: bool
    centre: float  # c, or rho
    width: float = 1.0

    @property
    def R(self) -> np.ndarray:
        if self.interval:
            return self.centre + self.width * self.v
        return self.centre * (1 + self.v) / (1 - self.v)

    @property
    def g(self) -> np.ndarray:
        return self.C_W * self.R / self.n_below

    def rule(self, act: Activation, g: float, C_b: float, n: int) -> _UnitRule:
        """The unit rule of a source node, with the per-unit variable this basis needs."""
        if self.interval:
            return _UnitRule(act, g, C_b, n, len(self.v), self.centre, self.width)
        return _UnitRule(act, g, C_b, n, 3)

    def weight(self, gamma: int) -> np.ndarray:
        r""":math:`1/\omega(R)` at the nodes."""
        return np.ones_like(self.v) if self.interval else (self.centre / (self.R + self.centre)) ** gamma

    def functionals(self, rule: _UnitRule, k: int, gamma: int, transform: np.ndarray) -> np.ndarray:
        r""":math:`E[\prod S\,R^{-k}\,\omega(R)v(R)^j]`, j < N, exactly (F24b); ``transform`` from :func:`_exchangeable`."""
        N = len(self.v)
        if self.interval:
            return transform[0] if k == 0 else _inverse_power(rule, transform, k, 0, 0.0)
        rho = self.centre  # omega v^j = sum_i C(j,i) (-2)^i ((R+rho)/rho)^(gamma-i)
        power = {m: transform[0][m] if m >= 0 else _inverse_power(rule, transform, -m, 0, rho)[0]
                 for m in range(-k, gamma - k + 1)}  # E[prod S R^m]
        u = {}
        for e in range(gamma - N + 1, gamma + 1):
            if e >= 0:
                u[e] = sum(math.comb(e, i) * rho ** (e - i) * power[i - k] for i in range(e + 1)) * rho ** (-e)
            else:
                u[e] = _inverse_power(rule, transform, k, -e, rho)[0] * rho ** (-e)
        return np.array([sum(math.comb(j, i) * (-2) ** i * u[gamma - i] for i in range(j + 1)) for j in range(N)])


def _chebyshev(N: int) -> np.ndarray:
    return np.cos(np.pi * (2 * np.arange(N) + 1) / (2 * N))


def _phi_squared_bound(act: Activation) -> float:
    """sup phi^2 on the line if phi is bounded (checked out to |z| = 1e8), else inf."""
    z = np.concatenate([-np.geomspace(1e-3, 1e8, 4000), np.geomspace(1e-3, 1e8, 4000), [0.0]])
    vals = np.broadcast_to(act.numpy_function(0)(z), z.shape).astype(float) ** 2
    far = np.abs(z) > 1e6
    bounded = np.isfinite(vals).all() and vals[far].max() <= vals[~far].max() * (1 + 1e-9) + 1e-300
    return float(vals.max()) if bounded else math.inf


class _Chain:
    """The backward recursion (F24b) with cached per-layer, per-node transfer tensors."""

    SPREAD = 8.0  # interval nodes: the law of g_l to this many (leading-order) standard deviations

    def __init__(self, act, widths, C_W, C_b, q0, N):
        self.act, self.widths, self.C_W, self.C_b, self.N = act, widths, C_W, C_b, N
        self.sup = _phi_squared_bound(act)
        self.g1 = C_W * q0
        self.nodes = [None]
        mean, var = self.g1, 0.0  # leading-order law of g_l: mean (F1) and variance (F3), to place the nodes
        for n in widths[:-1]:
            mean, var = self._next_law(mean, var, n)
            self.nodes.append(self._interval_nodes(n, mean, math.sqrt(var)) if math.isfinite(self.sup) else
                              _Nodes(_chebyshev(N), n, C_W, False, n * mean / C_W))
        self._tensors: dict = {}
        self._rules: dict = {}  # (l, i) -> (unit rule of source node i, its exchangeable transforms)

    def _next_law(self, mean: float, var: float, n: int) -> tuple:
        r"""Leading order: :math:`E g_{l+1} = \mu(E g_l)`, :math:`\mathrm{Var}\,g_{l+1} = C_W^2\mathrm{Var}(\phi^2)/n_l
        + \mu'^2\,\mathrm{Var}\,g_l` with :math:`\mu(g) = C_W\langle\phi^2\rangle_{g+C_b}` (F1, F3)."""
        def moments(g):
            rule = _UnitRule(self.act, g, self.C_b, n)
            return [float(rule.weight @ rule.phi ** (2 * k)) for k in (1, 2)]

        m2, m4 = moments(mean)
        h = 1e-4 * mean
        slope = self.C_W * (moments(mean + h)[0] - moments(mean - h)[0]) / (2 * h)
        return self.C_W * m2, self.C_W**2 * max(m4 - m2 * m2, 0.0) / n + slope**2 * var

    def _interval_nodes(self, n: int, mean: float, sd: float) -> _Nodes:
        """Bounded phi: Chebyshev nodes on mean +- SPREAD sd of g_l, clipped to the support [0, C_W sup phi^2]."""
        lo = max(0.0, mean - self.SPREAD * sd)
        hi = min(self.C_W * self.sup, mean + self.SPREAD * sd)
        hi = max(hi, lo + 1e-9 * max(hi, 1.0))
        R_lo, R_hi = n * lo / self.C_W, n * hi / self.C_W
        return _Nodes(_chebyshev(self.N), n, self.C_W, True, (R_lo + R_hi) / 2, (R_hi - R_lo) / 2)

    def source(self, l: int) -> np.ndarray:
        """Values of g_l at which F_l is needed: the nodes of layer l (layer 0: g_1 itself)."""
        return np.array([self.g1]) if l == 0 else self.nodes[l].g

    def tensor(self, l: int, i: int, gamma: int) -> np.ndarray:
        r"""(rows, cols, N): conditional means of the path-matrix entries times the basis of layer l + 1."""
        key = (l, i, gamma)
        if key in self._tensors:
            return self._tensors[key]
        g, n, target = float(self.source(l)[i]), self.widths[l], self.nodes[l + 1]
        if (l, i) not in self._rules:
            self._rules[(l, i)] = (target.rule(self.act, g, self.C_b, n), {})
        rule, transforms = self._rules[(l, i)]
        sig2, G = self.C_W / n, self.C_b + g
        terms = _transfer_terms()[gamma]
        out = np.zeros((len(terms), len(terms), self.N))
        funcs: dict = {}
        for r, row in enumerate(terms):
            for c, entry in enumerate(row):
                for coef, e_sig, e_G, names, k in entry:
                    if (names, k) not in funcs:
                        laplace = k > 0 or not target.interval  # the half-line basis needs 1/(R + rho)^b
                        if (names, laplace) not in transforms:
                            transforms[(names, laplace)] = _exchangeable(rule, names, laplace)
                        funcs[(names, k)] = target.functionals(rule, k, gamma, transforms[(names, laplace)])
                    out[r, c] += coef * sig2**e_sig * G**e_G * funcs[(names, k)]
        self._tensors[key] = out
        return out

    def moments(self, top: int) -> tuple:
        """(E H, E H^2) at layer top (0-based)."""
        def final(g, gamma):
            G = self.C_b + g
            return np.array([1.0, 1.0, G]) if gamma == 1 else np.array([3.0, 1.0, 1.0, G, G, G * G])

        out = []
        for gamma in (1, 2):
            F = np.array([final(g, gamma) for g in self.source(top)])
            for l in range(top - 1, -1, -1):
                target = self.nodes[l + 1]
                V = np.vander(target.v, self.N, increasing=True)
                P = np.linalg.solve(V, F * target.weight(gamma)[:, None])  # (N, cols)
                F = np.array([np.einsum("rcj,jc->r", self.tensor(l, i, gamma), P) for i in range(len(self.source(l)))])
            out.append(F[0, -1])
        return tuple(out)


@dataclass(frozen=True)
class FiniteWidthNTKMoments(NTKMomentsTable):
    r""":math:`E\hat H^{(l)}_{ii}` and :math:`\mathrm{Var}\,\hat H^{(l)}_{ii}` per layer, all orders in 1/n (F24).

    float64 quadrature with the polynomial closure (F24c) on ``nodes`` nodes per layer; ``closure_error``
    is the change of the variance from ``nodes - 2`` nodes (0 where the closure is exact, e.g. ReLU).
    """

    activation: str
    widths: tuple
    C_W: float
    C_b: float
    q0: float
    nodes: int
    mean: tuple
    variance: tuple
    closure_error: tuple

    def _extra(self, i: int) -> dict:
        return {"closure_error": self.closure_error[i], "exact": False}


def finite_width_ntk_moments(widths: Any, act: Any, C_W: Any, C_b: Any = 0, q0: Any = 1, *, nodes: int = 12,
                             progress: bool | None = None) -> FiniteWidthNTKMoments:
    r"""NTK mean and variance at one input, every layer, beyond leading order (F24), any activation with a
    derivative, biases and widths per layer.

    NTK parameterisation of :mod:`.ntk`; float64.  ``nodes`` (>= 5) interpolation nodes per layer (F24c); the
    closure is also run at ``nodes - 2`` to report ``closure_error``.  Cost: 1-2 s for five layers of width 8,
    growing like depth^2 (every layer's moments rerun the backward recursion; ``progress`` shows a bar).

    >>> r = finite_width_ntk_moments([8, 8, 8], "relu", 2)     # equals the exact rationals of F23
    >>> [round(v, 9) for v in r.variance]
    [0.0, 6.0, 36.0625]
    """
    widths = check_widths(widths)
    act = require_derivative(activation(act), "NTK chain (F24)")
    C_W = float(_positive(C_W, "C_W"))
    C_b = float(_positive(C_b, "C_b", allow_zero=True))
    q0 = float(_positive(q0, "q0"))
    nodes = check_int(nodes, "nodes", 5)
    main, coarse = _Chain(act, widths, C_W, C_b, q0, nodes), _Chain(act, widths, C_W, C_b, q0, nodes - 2)
    means, variances, errors = [], [], []
    for top in progress_bar(range(len(widths)), desc="NTK chain (F24)", enabled=progress):
        m1, m2 = main.moments(top)
        c1, c2 = coarse.moments(top)
        means.append(float(m1))
        variances.append(float(m2 - m1 * m1))
        errors.append(float(abs((m2 - m1 * m1) - (c2 - c1 * c1))))
    return FiniteWidthNTKMoments(act.name, widths, C_W, C_b, q0, nodes, tuple(means), tuple(variances), tuple(errors))

