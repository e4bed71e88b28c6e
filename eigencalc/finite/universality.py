r"""Criticality and universality at finite width: large-depth constants of V/K^2, K_1 and the NTK fluctuations.

Equal widths n, criticality (MATH.md section 3).  The expansion parameter of every 1/n correction
is the normalised vertex :math:`V^{(l)}/(n K^{(l)2})`; at criticality it grows linearly in the depth,
so the effective theory is controlled by the depth-to-width ratio l/n (RYH sections 5.4, 5.5, 8.x).

* (F14) scale-invariant class, :math:`\phi = a\min(z,0) + b\max(z,0)`, :math:`C_b = 0`,
  :math:`C_W = 2/(a^2 + b^2)`: every K is a fixed point, :math:`\chi_\parallel = \chi_\perp = 1`, all
  Gaussian means are polynomials in K with constant coefficients, and (F3), (F8)–(F13) are linear
  recursions with polynomial sources, solved exactly by summation (sympy):
  :math:`V^{(l)}/K^2 = c_V (l-1)` with :math:`c_V = C_W^2[\tfrac32(a^4+b^4) - \tfrac14(a^2+b^2)^2]`
  (ReLU: :math:`c_V = 5`, RYH eq. 5.47, from memory: "V/K^2 = 5 l/n"), :math:`K_1 = 0`,
  :math:`H = lK`, :math:`H_1 = 0`, and :math:`(A + 2B)/H^2` a rational function of l whose large-l
  slope is returned (ReLU, our derivation: :math:`B/H^2 = (l-1)(2l-1)/3l`, :math:`A/H^2 = (l-1)(7l-2)/3l`,
  so the NTK variance :math:`(A+2B)/(nH^2) = (l-1)(11l-4)/(3ln) \simeq \tfrac{11}{3}\, l/n`; RYH ch. 8 also finds
  linear growth in l/n for ReLU — we could not check their constant).
* (F15) :math:`K^* = 0` class, :math:`\phi(0) = 0`, :math:`C_b = 0`, :math:`C_W = 1/\sigma_1^2`, with
  Taylor coefficients :math:`\sigma_j = \phi^{(j)}(0)`, :math:`a_1 = \sigma_3/\sigma_1 + \tfrac34(\sigma_2/\sigma_1)^2 < 0`
  and :math:`b_1 = \sigma_3/\sigma_1 + (\sigma_2/\sigma_1)^2`.  Small-K expansions
  :math:`C_W g = K + a_1K^2`, :math:`\chi_\parallel = 1 + 2a_1K`, :math:`C_W^2(\langle\phi^4\rangle - g^2) = 2K^2`,
  :math:`\tfrac{C_W}{2}g'' = a_1`, :math:`\chi_\perp = 1 + b_1K`, :math:`C_W^2\langle\phi'^4\rangle = 1` in the
  recursions and power-law ansätze, matched at order :math:`1/l^2`, give

  .. math:: K^{(l)} \simeq \frac{1}{-a_1 l}, \quad \frac{V^{(l)}}{K^{(l)2}} \simeq \frac23\, l, \quad
            K_1^{(l)} \to \frac{1}{3a_1}, \quad \frac{K_1}{K} \simeq -\frac{l}{3},

  (RYH eqs. 5.92–5.96 and 5.120 ff., from memory: :math:`K \sim 1/(-a_1 l)`, :math:`V/(nK^2) \sim \tfrac23\, l/n`),
  and for the NTK, with :math:`p_\perp = b_1/a_1 > 0`: :math:`H^{(l)} \to 1/(-b_1)`,
  :math:`B/H^2 \simeq l/(1 + 2p_\perp)`, and :math:`A/H^2 = o(l)` (its sources vanish as
  :math:`\kappa = \chi_\parallel + C_W p' H = O(1/l)`), so :math:`(A + 2B)/H^2 \simeq 2l/(1 + 2p_\perp)`
  (tanh: :math:`a_1 = b_1 = -2`, :math:`K \simeq 1/2l`, :math:`K_1 \to -1/6`, :math:`H \to 1/2`,
  :math:`(A+2B)/H^2 \simeq \tfrac23 l`) — our derivation; logarithmic corrections are
  :math:`O(\log l / l)` relative.

Both are checked numerically against the recursions at large depth in the tests
(:func:`float_flow`, a float64 engine for deep flows, itself checked against (F1)–(F13)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from ..core.tables import Tabular
from ..duals.activations import ABRelu, activation, x
from ..special.gaussian import hermite_rule_float
from .ntk import ntk_means
from .recursions import gaussian_means

__all__ = ["LargeDepthConstants", "large_depth_constants", "float_flow"]

#: The depth symbol of the closed forms.
l = sympy.Symbol("l", positive=True, integer=True)


@dataclass(frozen=True)
class LargeDepthConstants(Tabular):
    r"""Large-depth behaviour of one universality class at criticality, equal widths.

    ``exprs`` maps a quantity name (``"K"``, ``"V/K^2"``, ``"K1"``, ``"H"``, ``"(A+2B)/H^2"``, ...) to a
    sympy expression in the depth :data:`l` (exact for every l in the scale-invariant class, leading
    asymptotics in the K* = 0 class); ``slopes`` the leading coefficients of l in the normalised
    fluctuations (multiply by l/n); ``reference`` the book equation they reproduce.
    """

    activation: str
    universality: str
    C_W: Any
    exprs: dict
    slopes: dict
    exact_for_all_l: bool
    reference: str

    def rows(self) -> list:
        """One row per quantity: the expression in l and, for normalised fluctuations, its slope."""
        return [{"quantity": k, "expression": str(v), "slope": self.slopes.get(k), "exact_for_all_l": self.exact_for_all_l}
                for k, v in self.exprs.items()]


def _accumulate(source: sympy.Expr) -> sympy.Expr:
    r"""The solution of X(1) = 0, X(l+1) = X(l) + s(l) (all susceptibilities 1): :math:`X(l) = \sum_{m=1}^{l-1} s(m)`."""
    m = sympy.Symbol("m", positive=True, integer=True)
    return sympy.factor(sympy.summation(source.subs(l, m), (m, 1, l - 1)))


def _scale_invariant(act: ABRelu) -> LargeDepthConstants:
    a, b = act.a, act.b
    C_W = 2 / (a**2 + b**2)
    K = sympy.Symbol("K", positive=True)
    g1, n1 = gaussian_means(act, 1), ntk_means(act, 1)  # homogeneous of degree 1: <phi^a phi'^b> ~ K^{a/2}
    gm = {"g": g1["g"] * K, "phi4": g1["phi4"] * K**2, "dg": g1["dg"], "d2g": g1["d2g"] / K}
    nm = {"p": n1["p"], "dp": n1["dp"] / K, "dphi4": n1["dphi4"], "phi2dphi2": n1["phi2dphi2"] * K}
    chi_par, chi_perp = sympy.simplify(C_W * gm["dg"]), sympy.simplify(C_W * nm["p"])
    assert chi_par == 1 and chi_perp == 1 and nm["dp"] == 0 and gm["d2g"] == 0
    H = l * K
    V = _accumulate(C_W**2 * (gm["phi4"] - gm["g"] ** 2))  # (F3)
    B = _accumulate(C_W**2 * nm["dphi4"] * H**2)  # (F9)
    F = _accumulate(C_W**2 * nm["phi2dphi2"] * H)  # (F12)
    mix = gm["phi4"] + H * nm["phi2dphi2"]
    cov = mix - gm["g"] * (gm["g"] + H * nm["p"])
    var = mix + H * nm["phi2dphi2"] + H**2 * nm["dphi4"] - (gm["g"] + H * nm["p"]) ** 2
    D = _accumulate(C_W**2 * cov + V)  # (F10), kappa = chi_par = 1
    A = _accumulate(C_W**2 * var + V + 2 * D)  # (F11)
    exprs = {"K": K, "V/K^2": sympy.factor(V / K**2), "K1": sympy.Integer(0), "H/K": l, "H1": sympy.Integer(0),
             "B/H^2": sympy.factor(B / H**2), "A/H^2": sympy.factor(A / H**2), "D/(K H)": sympy.factor(D / (K * H)),
             "F/(K H)": sympy.factor(F / (K * H)), "(A+2B)/H^2": sympy.factor((A + 2 * B) / H**2)}
    slopes = {k: sympy.limit(exprs[k] / l, l, sympy.oo) for k in ("V/K^2", "B/H^2", "A/H^2", "(A+2B)/H^2")}
    return LargeDepthConstants(act.name, "scale-invariant", C_W, exprs, slopes, True,
                               "RYH eq. 5.47 (ReLU V/K^2 = 5 l/n; from memory); NTK rows: (F9)-(F13) summed exactly")


def _taylor(act) -> tuple:
    series = sympy.series(act.expr, x, 0, 4).removeO()
    return tuple(sympy.nsimplify(series.coeff(x, j) * sympy.factorial(j)) for j in range(4))


def _k_star_zero(act) -> LargeDepthConstants:
    s0, s1, s2, s3 = _taylor(act)
    if s0 != 0 or s1 == 0:
        raise ValueError(f"{act.name}: the K* = 0 class needs phi(0) = 0 and phi'(0) != 0")
    a1 = sympy.simplify(s3 / s1 + sympy.Rational(3, 4) * (s2 / s1) ** 2)
    b1 = sympy.simplify(s3 / s1 + (s2 / s1) ** 2)
    if not a1.is_negative:
        raise ValueError(f"{act.name}: a_1 = {a1} >= 0, the flow to K* = 0 is not attractive (no K* = 0 criticality)")
    exprs, slopes = _k_star_zero_asymptotics(a1, b1)
    return LargeDepthConstants(act.name, "K*=0", 1 / s1**2, exprs, slopes, False,
                               "RYH eqs. 5.92-5.96 (K ~ 1/(-a1 l), V/K^2 ~ (2/3) l; from memory); NTK rows: our derivation")


def _k_star_zero_asymptotics(a1: sympy.Expr, b1: sympy.Expr) -> tuple:
    r"""Leading large-l solutions of the K* = 0 recursions (F15), by matching ansätze at order 1/l^2 with sympy."""
    c, d, h, beta = sympy.symbols("c d h beta")
    K = 1 / (-a1 * l)
    # V = c/l: V(l+1) - V(l) = -c/l^2 must equal 2K^2 + ((1 + 2 a1 K)^2 - 1) V = 2/(a1^2 l^2) - 4c/l^2 + O(l^-3)
    c_val = sympy.solve(sympy.Eq(-c, 2 / a1**2 - 4 * c), c)[0]
    # K1 = d: 0 = 2 a1 K d + a1 V  =>  -2 d / l + a1 c / l = 0
    d_val = sympy.solve(sympy.Eq(0, -2 * d + a1 * c_val), d)[0]
    # H = h: 0 = K + b1 K h  (order 1/l)
    h_val = sympy.solve(sympy.Eq(0, 1 + b1 * h), h)[0]
    # B = beta l: beta = h^2 + 2 b1 K l beta  =>  beta = h^2 - 2 (b1/a1) beta
    p_perp = sympy.simplify(b1 / a1)
    beta_val = sympy.solve(sympy.Eq(beta, h_val**2 - 2 * p_perp * beta), beta)[0]
    exprs = {"K": sympy.simplify(K), "V/K^2": sympy.simplify(c_val / l / K**2), "K1": d_val,
             "K1/K": sympy.simplify(d_val / K), "H": h_val, "B/H^2": sympy.simplify(beta_val * l / h_val**2),
             "(A+2B)/H^2": sympy.simplify(2 * beta_val * l / h_val**2)}
    slopes = {k: sympy.simplify(exprs[k] / l) for k in ("V/K^2", "K1/K", "B/H^2", "(A+2B)/H^2")}
    return exprs, slopes


def large_depth_constants(act: Any) -> LargeDepthConstants:
    r"""Large-depth constants of the universality class of ``act`` at criticality (F14, F15).

    >>> c = large_depth_constants("relu"); c.exprs["V/K^2"], c.exprs["(A+2B)/H^2"], c.slopes["(A+2B)/H^2"]
    (5*(l - 1), (l - 1)*(11*l - 4)/(3*l), 11/3)
    >>> t = large_depth_constants("tanh"); t.exprs["K"], t.slopes["V/K^2"], t.exprs["K1"], t.exprs["H"]
    (1/(2*l), 2/3, -1/6, 1/2)
    """
    act = activation(act)
    if isinstance(act, ABRelu):
        return _scale_invariant(act)
    return _k_star_zero(act)


def float_flow(act: Any, C_W: float, C_b: float, q0: float, depth: int, nodes: int = 96) -> dict:
    r"""(F1)–(F4), (F8)–(F13) at equal widths in float64 (1D Gauss–Hermite), for deep flows (thousands of layers).

    Returns arrays ``K, V, K1, H, H1, A, B, D, F`` of length ``depth``, normalised as in
    :class:`FiniteWidthNTK` (equal widths: all width ratios 1).  Derivatives by the Gaussian weights
    :math:`(z^2-K)/2K^2` and :math:`(z^4 - 6Kz^2 + 3K^2)/4K^4`, so only :math:`\phi, \phi'` are needed.
    """
    act = activation(act)
    u, w = hermite_rule_float(nodes)
    phi, dphi = act.numpy_function(0), act.numpy_function(1)
    out = {k: np.zeros(depth) for k in ("K", "V", "K1", "H", "H1", "A", "B", "D", "F")}
    out["K"][0] = out["H"][0] = C_b + C_W * q0
    for i in range(depth - 1):
        K, V, K1, H = out["K"][i], out["V"][i], out["K1"][i], out["H"][i]
        z = np.sqrt(K) * u
        f, df = phi(z), dphi(z)
        w1, w2 = w * (z * z - K) / (2 * K * K), w * (z**4 - 6 * K * z * z + 3 * K * K) / (4 * K**4)
        g, phi4, dg, d2g = w @ f**2, w @ f**4, w1 @ f**2, w2 @ f**2
        p, dp, d2p, dphi4, mixed = w @ df**2, w1 @ df**2, w2 @ df**2, w @ df**4, w @ (f * df) ** 2
        ratio = 0.0 if i == 0 else 1.0
        chi_par, chi_perp = C_W * dg, C_W * p
        kappa = chi_par + C_W * dp * H
        cov = phi4 + H * mixed - g * (g + H * p)
        var = phi4 + 2 * H * mixed + H * H * dphi4 - (g + H * p) ** 2
        out["K"][i + 1] = C_b + C_W * g
        out["V"][i + 1] = C_W**2 * (phi4 - g * g) + ratio * chi_par**2 * V
        out["K1"][i + 1] = ratio * (chi_par * K1 + C_W / 2 * d2g * V)
        out["H"][i + 1] = out["K"][i + 1] + chi_perp * H
        out["B"][i + 1] = C_W**2 * dphi4 * H * H + ratio * chi_perp**2 * out["B"][i]
        out["D"][i + 1] = C_W**2 * cov + ratio * chi_par * (kappa * V + chi_perp * out["D"][i])
        out["A"][i + 1] = C_W**2 * var + ratio * (kappa**2 * V + 2 * kappa * chi_perp * out["D"][i] + chi_perp**2 * out["A"][i])
        out["F"][i + 1] = C_W**2 * mixed * H + ratio * chi_par**2 * out["F"][i]
        out["H1"][i + 1] = out["K1"][i + 1] + ratio * (chi_perp * out["H1"][i] + C_W * dp * (H * K1 + out["D"][i] + 2 * out["F"][i])
                                                       + C_W / 2 * d2p * H * V)
    return out
