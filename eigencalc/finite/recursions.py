r"""Leading finite-width corrections of a deep MLP at one input (Roberts–Yaida–Hanin, ch. 4).

Network (RYH eq. 2.5 conventions): hidden widths :math:`n_1, \dots, n_L`,

.. math:: z^{(1)}_i = b_i + \sum_j W^{(1)}_{ij} x_j, \qquad
          z^{(l+1)}_i = b_i + \sum_{j \le n_l} W^{(l+1)}_{ij}\, \phi(z^{(l)}_j),

with :math:`\mathrm{Var}\, b = C_b`, :math:`\mathrm{Var}\, W^{(l+1)}_{ij} = C_W / n_l`
and :math:`\|x\|^2/n_0 = q_0`.  Write :math:`\langle f(z) \rangle_K` for the mean
over :math:`z \sim N(0, K)` and :math:`g(K) = \langle \phi(z)^2 \rangle_K`.

Derivation (all tags below).  Conditional on layer l the preactivations
:math:`z^{(l+1)}_i` are i.i.d. :math:`N(0, \hat G^{(l+1)})` with the stochastic
metric :math:`\hat G^{(l+1)} = C_b + \frac{C_W}{n_l}\sum_j \phi(z^{(l)}_j)^2`.
Hence, exactly, :math:`E[z_i^2] = E[\hat G]` and, for :math:`i \ne j`,
:math:`E[z_i^2 z_j^2] - E[z_i^2]E[z_j^2] = \mathrm{Var}\,\hat G`.  Define
:math:`G^{(l)} = E\hat G^{(l)} = K^{(l)} + K_1^{(l)}/n_{l-1} + O(n^{-2})` and
:math:`\mathrm{Var}\,\hat G^{(l)} = V^{(l)}/n_{l-1} + O(n^{-2})`.  The first layer
is exactly Gaussian: :math:`\hat G^{(1)} = C_b + C_W q_0`, so :math:`V^{(1)} = K_1^{(1)} = 0`.

* (F1) infinite-width kernel (RYH eq. 4.29 / MATH.md section 3):
  :math:`K^{(1)} = C_b + C_W q_0`, :math:`K^{(l+1)} = C_b + C_W\, g(K^{(l)})`.
* Gaussian derivatives in the variance (differentiate the density
  :math:`e^{-z^2/2K}/\sqrt{2\pi K}` under the integral):

  .. math:: g'(K) = \frac{\langle \phi^2 (z^2 - K)\rangle_K}{2K^2}, \qquad
            g''(K) = \frac{\langle \phi^2 (z^4 - 6 K z^2 + 3 K^2)\rangle_K}{4K^4}.

  (F2) :math:`\chi_\parallel^{(l)} = C_W\, g'(K^{(l)})` (RYH eq. 4.86 ff., 5.9).
* (F3) four-point vertex (RYH eq. 4.90 with its width ratio).  Split
  :math:`\mathrm{Var}\,\hat G^{(l+1)} = (C_W/n_l)^2 [\, n_l \mathrm{Var}\,\phi_j^2 +
  n_l(n_l - 1) \mathrm{Cov}(\phi_i^2, \phi_j^2)]`.  At leading order
  :math:`\mathrm{Var}\,\phi_j^2 = \langle\phi^4\rangle_K - \langle\phi^2\rangle_K^2`;
  given :math:`\hat G^{(l)}` the :math:`z^{(l)}_j` are i.i.d., so
  :math:`\mathrm{Cov}(\phi_i^2,\phi_j^2) = \mathrm{Var}\, g(\hat G^{(l)}) = g'(K)^2 V^{(l)}/n_{l-1} + O(n^{-2})`.
  Therefore

  .. math:: V^{(l+1)} = C_W^2 \left[\langle\phi^4\rangle_{K^{(l)}} - \langle\phi^2\rangle_{K^{(l)}}^2\right]
            + \frac{n_l}{n_{l-1}} \left(\chi_\parallel^{(l)}\right)^2 V^{(l)}.

* (F4) 1/n shift of the mean kernel (RYH eqs. 4.115–4.118, single input).
  :math:`E\phi(z^{(l)}_j)^2 = E\, g(\hat G^{(l)}) = g(G^{(l)}) + \tfrac12 g''(K^{(l)})\,\mathrm{Var}\,\hat G^{(l)} + O(n^{-2})`
  and :math:`g(G^{(l)}) = g(K^{(l)}) + g'(K^{(l)}) K_1^{(l)}/n_{l-1} + O(n^{-2})`, so

  .. math:: K_1^{(l+1)} = \frac{n_l}{n_{l-1}} \left[\chi_\parallel^{(l)} K_1^{(l)}
            + \frac{C_W}{2} g''(K^{(l)})\, V^{(l)}\right].

  The predicted mean is :math:`E[z^{(l)2}_i] = K^{(l)} + K_1^{(l)}/n_{l-1}`.

Checks: for :math:`\phi(z) = z`, :math:`C_b = 0` the recursions give
:math:`V^{(l)} = 2 (l - 1) (K^{(l)})^2` and :math:`K_1 = 0` at equal widths
(exact finite-width answer: :math:`E\hat G^2 = K^2 \prod_{m<l} (1 + 2/n_m)`); for
ReLU at :math:`C_W = 2`, :math:`V^{(l)} = 5(l-1) K^2` (RYH eq. 5.45 ff.).

Reference: D. A. Roberts, S. Yaida, B. Hanin, *The Principles of Deep Learning
Theory*, arXiv:2106.10165, chapter 4 (sections 4.3 and 4.5) and chapter 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import flint
import mpmath
import numpy as np
import sympy

from ..core.balls import arb_to_mpf, flint_precision, mpf_to_arb
from ..core.numbers import exact_real, to_mpf
from ..core.tables import Tabular
from ..core.validate import check_int
from ..duals.activations import ABRelu, Activation, Polynomial, activation, x
from ..special.gaussian import gaussian_moment

__all__ = ["FiniteWidthMLP", "finite_width_mlp", "check_widths", "gaussian_means", "gaussian_table"]


def check_widths(widths: Any) -> tuple:
    """Hidden widths ``(n_1, ..., n_L)``: a non-empty sequence of integers >= 1.

    >>> check_widths([3, 4])
    (3, 4)
    """
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise TypeError(f"widths must be a sequence of integers, got {widths!r}")
    if len(widths) == 0:
        raise ValueError("widths must contain at least one layer width")
    return tuple(check_int(n, f"widths[{i}]", 1) for i, n in enumerate(widths))


def require_derivative(act: Activation, what: str) -> Activation:
    """``act`` itself if phi' is a function (not a distribution, as for step), else one clear error naming ``what``."""
    try:
        act.numpy_function(1)
    except ValueError:
        raise ValueError(f"activation {act.name!r} is not covered by the {what}: phi' must be a function") from None
    return act


def _positive(value: Any, what: str, allow_zero: bool = False) -> sympy.Expr:
    v = exact_real(value, what)
    if v.is_negative or (v.is_zero and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


# ----------------------------------------------------------------------------
# Gaussian means E[phi(z)^m z^k], z ~ N(0, K)
# ----------------------------------------------------------------------------

def _half_moment(j: int) -> sympy.Expr:
    r""":math:`E[z^j 1\{z > 0\}]`, z ~ N(0, 1): (j-1)!!/2 (j even), 2^{(j-1)/2} ((j-1)/2)!/\sqrt{2\pi} (j odd)."""
    if j % 2 == 0:
        return gaussian_moment(j) / 2
    h = (j - 1) // 2
    return 2**h * sympy.factorial(h) / sympy.sqrt(2 * sympy.pi)


def _exact_mean(act: Activation, m: int, k: int, K: sympy.Expr) -> sympy.Expr:
    """E[phi(z)^m z^k] exactly at variance K (polynomial and ABRelu families)."""
    if isinstance(act, Polynomial):
        poly = sympy.Poly(sympy.expand(act.expr**m * x**k), x)
        return sympy.expand(sum((c * gaussian_moment(e) * K ** sympy.Rational(e, 2) for (e,), c in poly.terms()), sympy.Integer(0)))
    j = m + k  # phi = b z on z > 0, a z on z < 0
    return sympy.simplify(K ** sympy.Rational(j, 2) * _half_moment(j) * (act.b**m + (-1) ** j * act.a**m))


def _node_sums(nodes, s, phi, dphi, keys, ms, ks, js) -> dict:
    r""":math:`\sum_{\rm nodes} w\,\varphi(u)\,\phi^m\phi'^k z^j` for every key: phi evaluated once per node (mpmath),
    the powers and products in python-flint balls at the same working precision (10x faster than mpf)."""
    sums = dict.fromkeys(keys, flint.arb(0))
    inv_sqrt_2pi = 1 / (2 * flint.arb.pi()).sqrt()
    for u, w in nodes:
        z = s * u
        ua = mpf_to_arb(u)
        f, weight = mpf_to_arb(phi(z)), mpf_to_arb(w) * (-ua * ua / 2).exp() * inv_sqrt_2pi  # w * npdf(u)
        df = mpf_to_arb(dphi(z)) if dphi else flint.arb(1)
        za = mpf_to_arb(z)
        fp = {m: weight * f**m for m in ms}
        dp = {k: df**k for k in ks}
        zp = {j: za**j for j in js}
        for key in keys:
            m, k, j = key
            sums[key] += fp[m] * dp[k] * zp[j] if k else fp[m] * zp[j]
    return {key: arb_to_mpf(v) for key, v in sums.items()}


def _tanh_sinh_means(act: Activation, keys: tuple, K: mpmath.mpf) -> dict:
    r""":math:`E[\phi^m \phi'^k z^j]` for every (m, k, j) in ``keys`` by one tanh-sinh rule on u = z/sqrt(K).

    mpmath's own rule and stopping test (``TanhSinh.sum_next``, ``estimate_error``) on each piece between
    phi's kinks, with phi and phi' evaluated once per node for all keys (the powers, products and sums in
    python-flint at the same working precision, :func:`_node_sums`); the degree rises until every key has
    converged, so each value is as accurate as its own ``mpmath.quad`` would be.
    """
    ctx = mpmath.mp
    rule = mpmath.calculus.quadrature.TanhSinh(ctx)
    s = mpmath.sqrt(K)
    phi = act.mp_function()
    dphi = act.mp_function(1) if any(k for _, k, _ in keys) else None
    pts = [-ctx.inf] + sorted({mpmath.mpf(p) / s for p in act.breakpoints} | {mpmath.mpf(0)}) + [ctx.inf]
    prec, eps = ctx.prec, ctx.eps
    ms, ks, js = ({key[i] for key in keys} for i in range(3))
    totals = dict.fromkeys(keys, mpmath.mpf(0))
    with mpmath.workprec(prec + 20), flint_precision(prec + 20):
        for a, b in zip(pts, pts[1:]):
            results = {key: [] for key in keys}
            for degree in range(1, rule.guess_degree(prec) + 1):
                sums = _node_sums(rule.get_nodes(a, b, degree, prec), s, phi, dphi, keys, ms, ks, js)
                h = ctx.mpf(2) ** -degree
                for key in keys:
                    prev = results[key]
                    prev.append(h * ((prev[-1] / (2 * h) if prev else ctx.zero) + sums[key]))
                if degree > 1 and all(rule.estimate_error(r, prec, eps) <= eps for r in results.values()):
                    break
            for key in keys:
                totals[key] += results[key][-1]
    return {key: +v for key, v in totals.items()}


_MEANS_CACHE: dict = {}


def gaussian_table(act: Activation, K: Any, keys: tuple) -> dict:
    r""":math:`E[\phi(z)^m \phi'(z)^k z^j]`, :math:`z \sim N(0, K)`, for every (m, k, j) in ``keys`` (mpmath, context precision).

    tanh-sinh quadrature split at the kinks, all uncached keys on one set of nodes
    (:func:`_tanh_sinh_means`); cached per (activation, K, key, precision), so the kernel (F1–F4),
    NTK (F8–F13) and metric-chain (F18, F19) recursions share their Gaussian means.  (A Gauss–Hermite rule
    converges too slowly here: GELU behaves like a smoothed kink, 1e-12 only at 192 nodes.)

    >>> with mpmath.workdps(20):
    ...     t = gaussian_table(activation("erf"), 1, ((2, 0, 0),))
    ...     mpmath.nstr(t[(2, 0, 0)] - 2 / mpmath.pi * mpmath.asin(mpmath.mpf(2) / 3), 3)   # MATH.md erf closed form
    '0.0'
    """
    K = to_mpf(K)
    tag = (act, K, mpmath.mp.dps)
    missing = tuple(key for key in dict.fromkeys(keys) if (tag, key) not in _MEANS_CACHE)
    if missing:
        if len(_MEANS_CACHE) > 65536:
            _MEANS_CACHE.clear()
        for key, value in _tanh_sinh_means(act, missing, K).items():
            _MEANS_CACHE[(tag, key)] = value
    return {key: _MEANS_CACHE[(tag, key)] for key in keys}


def gaussian_means(act: Any, K: Any, exact: bool | None = None) -> dict:
    r"""The single-input Gaussian data at variance K: g, <phi^4>, g', g'' (F2 derivation).

    Returns ``{"g": <phi^2>_K, "phi4": <phi^4>_K, "dg": g'(K), "d2g": g''(K)}``;
    exact sympy numbers for polynomial and ABRelu activations (when K is exact),
    else mpmath numbers at the context precision.

    >>> m = gaussian_means("relu", 2); (m["g"], m["phi4"], m["dg"], m["d2g"])
    (1, 6, 1/2, 0)
    """
    act = activation(act)
    if exact is None:
        exact = isinstance(act, (Polynomial, ABRelu)) and not isinstance(K, (float, np.floating, mpmath.mpf))
    if exact:
        K = exact_real(K, "K")
        M = lambda m, k: _exact_mean(act, m, k, K)  # noqa: E731
        simp = sympy.simplify
    else:
        K = to_mpf(K)
        table = gaussian_table(act, K, ((2, 0, 0), (2, 0, 2), (2, 0, 4), (4, 0, 0)))
        M = lambda m, k: table[(m, 0, k)]  # noqa: E731
        simp = lambda v: v  # noqa: E731
    m20, m22, m24, m40 = M(2, 0), M(2, 2), M(2, 4), M(4, 0)
    return {
        "g": simp(m20),
        "phi4": simp(m40),
        "dg": simp((m22 - K * m20) / (2 * K**2)),
        "d2g": simp((m24 - 6 * K * m22 + 3 * K**2 * m20) / (4 * K**4)),
    }


# ----------------------------------------------------------------------------
# The recursions
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FiniteWidthMLP(Tabular):
    r"""Per-layer K (F1), chi_par (F2), V (F3), K_1 (F4) of an MLP at one input.

    Arrays are indexed by layer l = 1..L (index 0 is layer 1).  ``V[l]`` and
    ``K1[l]`` are normalised by :math:`n_{l-1}` (RYH): the predicted connected
    four-point function is ``four_point = V / n_{l-1}`` and the predicted mean
    is ``mean = K + K1 / n_{l-1}`` (both 0-corrected at layer 1).  ``exact``
    says whether the values are sympy numbers; otherwise they are mpmath
    numbers at ``dps`` digits (quadrature at the context precision).
    """

    activation: str
    widths: tuple
    C_W: Any
    C_b: Any
    q0: Any
    K: tuple
    chi_parallel: tuple
    V: tuple
    K1: tuple
    exact: bool
    dps: int | None

    @property
    def depth(self) -> int:
        return len(self.widths)

    def _previous_width(self, i: int):
        return None if i == 0 else self.widths[i - 1]

    @property
    def four_point(self) -> tuple:
        """Predicted :math:`E[z_i^2 z_j^2] - E[z_i^2]E[z_j^2] = V^{(l)}/n_{l-1}` per layer (0 at l = 1)."""
        return tuple(0 * v if i == 0 else v / self.widths[i - 1] for i, v in enumerate(self.V))

    @property
    def mean(self) -> tuple:
        """Predicted :math:`E[z^2] = K^{(l)} + K_1^{(l)}/n_{l-1}` per layer."""
        return tuple(k if i == 0 else k + k1 / self.widths[i - 1] for i, (k, k1) in enumerate(zip(self.K, self.K1)))

    @property
    def normalized_vertex(self) -> tuple:
        """:math:`V^{(l)} / (K^{(l)})^2` per layer."""
        return tuple(v / k**2 for v, k in zip(self.V, self.K))

    def rows(self) -> list:
        """One row per layer: width, K, chi_par, V, V/K^2, V/n_{l-1}, K1, K + K1/n_{l-1}, exact."""
        out = []
        fp, mean, nv = self.four_point, self.mean, self.normalized_vertex
        for i in range(self.depth):
            out.append({
                "layer": i + 1, "width": self.widths[i], "K": self.K[i], "chi_parallel": self.chi_parallel[i],
                "V": self.V[i], "V_over_K2": nv[i], "four_point": fp[i], "K1": self.K1[i], "mean": mean[i],
                "exact": self.exact,
            })
        return out


def finite_width_mlp(widths: Any, act: Any, C_W: Any, C_b: Any = 0, q0: Any = 1) -> FiniteWidthMLP:
    r"""Leading-order finite-width recursions (F1)–(F4) for one input, layers 1..L.

    ``widths = (n_1, ..., n_L)`` are the widths of the preactivation layers.

    >>> r = finite_width_mlp([10, 10, 10], "linear", 1); r.V, r.K1
    ((0, 2, 4), (0, 0, 0))
    >>> finite_width_mlp([8, 8, 8], "relu", 2).normalized_vertex  # V = 5 (l - 1) K^2
    (0, 5, 10)
    """
    widths = check_widths(widths)
    act = activation(act)
    C_W = _positive(C_W, "C_W")
    C_b = _positive(C_b, "C_b", allow_zero=True)
    q0 = _positive(q0, "q0")
    exact = isinstance(act, (Polynomial, ABRelu))
    if exact:
        num = lambda v: sympy.nsimplify(v) if isinstance(v, sympy.Float) else v  # noqa: E731
        C_W, C_b, q0 = num(C_W), num(C_b), num(q0)
        simp = sympy.simplify
    else:
        C_W, C_b, q0 = to_mpf(C_W), to_mpf(C_b), to_mpf(q0)
        simp = lambda v: +v  # noqa: E731  (round to the context precision)
    zero = sympy.Integer(0) if exact else mpmath.mpf(0)
    K, V, K1 = [simp(C_b + C_W * q0)], [zero], [zero]  # (F1), V^(1) = K_1^(1) = 0
    chi = []
    for i in range(len(widths)):
        m = gaussian_means(act, K[i], exact=exact)
        chi.append(simp(C_W * m["dg"]))  # (F2)
        if i + 1 == len(widths):
            break
        ratio = sympy.Rational(widths[i], widths[i - 1]) if i > 0 else 0  # n_l / n_{l-1}; V^(1) = K1^(1) = 0
        if not exact:
            ratio = mpmath.mpf(ratio.p) / ratio.q if i > 0 else zero
        K.append(simp(C_b + C_W * m["g"]))
        V.append(simp(C_W**2 * (m["phi4"] - m["g"] ** 2) + ratio * chi[i] ** 2 * V[i]))  # (F3)
        K1.append(simp(ratio * (chi[i] * K1[i] + C_W / 2 * m["d2g"] * V[i])))  # (F4)
    return FiniteWidthMLP(
        act.name, widths, C_W, C_b, q0, tuple(K), tuple(chi), tuple(V), tuple(K1), exact,
        None if exact else mpmath.mp.dps,
    )
