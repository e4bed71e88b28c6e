r"""The NTK of a finite-width MLP at two inputs: mean and 1/n shift (F17), fluctuations (F21, F22); smooth activations.

Two inputs, components :math:`r = (ab) \in \{11, 12, 22\}` as in :mod:`eigencalc.finite.two_input`;
NTK parameterisation as in :mod:`eigencalc.finite.ntk`.  :math:`\hat H_{ij;ab} = \sum_\theta
\partial_\theta z_{i;a}\,\partial_\theta z_{j;b}`; exactly

.. math:: \hat H^{(l+1)}_{ij;ab} = \delta_{ij}\hat G^{(l+1)}_{ab} + \sum_{k,m} W_{ik}W_{jm} M^{ab}_{km},
          \qquad M^{ab}_{km} = \phi'(z_{k;a})\phi'(z_{m;b})\hat H_{km;ab}.

Objects (normalised by :math:`n_{l-1}`): :math:`E\hat H_{ii;r} = H_r + H_{1,r}/n`,
:math:`D_{s,r}/n = \mathrm{Cov}(\hat G_s, \hat H_{ii;r})`, and for :math:`i \ne j`
:math:`F_{ab;cd}/n = E[\hat H_{ij;ab}\, z_{i;c}\, z_{j;d}]` (16 entries, a, b, c, d in {1, 2}).
Write :math:`p_r(G) = E[\phi'(z_{a})\phi'(z_{b})]`, :math:`\chi^\perp_r = C_W p_r`,
:math:`\chi_{rt} = C_W\,\partial g_r/\partial G_t` (F5), :math:`\kappa_{ru} = \chi_{ru} + C_W H_r\,\partial p_r/\partial G_u`.
The same three Gaussian identities as for (F8)–(F13), now for functions of the 2-vector
:math:`z_k = b_k + w\cdot\Phi` (Stein :math:`E[u(z)w] = \sigma^2\sum_e \Phi_{\cdot e} E\partial_e u`;
:math:`E[f(z)w_pw_q] = \sigma^2\delta_{pq}Ef + \sigma^4\sum_{cd}\Phi_{pc}\Phi_{qd}E\partial_c\partial_d f`), give (F17):

.. math::

    H^{(l+1)}_r &= K^{(l+1)}_r + \chi^\perp_r H_r, \\
    D^{(l+1)}_{s,r} &= C_W^2\,\mathrm{Cov}(\phi_s, \phi_r + H_r\phi'_r)
        + \tfrac{n_l}{n_{l-1}}\sum_t \chi_{st}\Big[\sum_u \kappa_{ru} V_{tu} + \chi^\perp_r D_{t,r}\Big], \\
    F^{(l+1)}_{ab;cd} &= C_W^2\langle\phi_c\phi'_a\phi'_b\phi_d\rangle H_{ab}
        + \tfrac{n_l}{n_{l-1}}\, C_W^2\sum_{e,g} E[\partial_e(\phi_c\phi'_a)]\,E[\partial_g(\phi'_b\phi_d)]\, F_{ab;eg}, \\
    H^{(l+1)}_{1,r} &= K^{(l+1)}_{1,r} + \tfrac{n_l}{n_{l-1}}\Big[\chi^\perp_r H_{1,r}
        + C_W\sum_u \partial_u p_r\,(H_r K_{1,u} + D_{u,r}) + \tfrac{C_W}{2} H_r \sum_{uv}\partial_u\partial_v p_r\, V_{uv}
        + C_W\sum_{c,d} E[\partial_c\partial_d(\phi'_a\phi'_b)]\, F_{ab;cd}\Big],

with :math:`\phi_s = \phi(z_{s_1})\phi(z_{s_2})`, :math:`\phi'_r = \phi'(z_{r_1})\phi'(z_{r_2})`, :math:`\phi_c = \phi(z_c)`.

Fluctuations (F21, F22).  For :math:`i \ne j` define (normalised by :math:`n_{l-1}`)
:math:`A_{r,s}/n = \mathrm{Cov}(\hat H_{ii;r}, \hat H_{jj;s})` (3x3, symmetric) and
:math:`B_{ab,cd}/n = E[\hat H_{ij;ab}\hat H_{ij;cd}]` (16 ordered entries; :math:`B_{ab,cd} = B_{cd,ab} = B_{ba,dc}`).
Conditional on layer l, with :math:`\sigma^2 = C_W/n_l` and :math:`M^{ba} = M^{ab\top}`: the rows of :math:`W^{(l+1)}`
are independent, :math:`E[\hat H_{ij;ab}\hat H_{ij;cd}\,|\,l] = \sigma^4\mathrm{tr}(M^{ab}M^{cd\top})`
(:math:`i \ne j`), :math:`E[\hat H_{ii;ab}\,|\,l] = \hat G_{ab} + \sigma^2\mathrm{tr}M^{ab}`, and for a Gaussian row
:math:`\mathrm{Cov}(w^\top P w, w^\top Q w) = \sigma^4[\mathrm{tr}(PQ) + \mathrm{tr}(PQ^\top)]`.  So exactly

.. math:: \mathrm{Cov}(\hat H_{ii;ab}, \hat H_{ii;cd}) = \frac{A_{(ab),(cd)} + B_{ab,cd} + B_{ab,dc}}{n},
          \qquad \mathrm{Cov}(\hat H_{ii;r}, \hat H_{jj;s})_{i \ne j} = \frac{A_{r,s}}{n}

(:math:`\mathrm{tr}(M^{ab}M^{cd}) = \mathrm{tr}(M^{ab}M^{dc\top})`); at one input :math:`\mathrm{Var} = (A + 2B)/n`.

* (F21) :math:`\sigma^4\mathrm{tr}(M^{ab}M^{cd\top}) = \sigma^4[\sum_k \phi'_{k;a}\phi'_{k;b}\phi'_{k;c}\phi'_{k;d}
  \hat H_{kk;ab}\hat H_{kk;cd} + \sum_{k \ne m} u_{ac}(z_k)\,u_{bd}(z_m)\,\hat H_{km;ab}\hat H_{km;cd}]`,
  :math:`u_{ac} = \phi'_a\phi'_c`.  Given layer l-1, :math:`\hat H_{km} = w_k^\top M^{(l-1)} w_m` with independent
  rows :math:`w_k, w_m`; the second identity in each row gives
  :math:`E[u_{ac}(z_k)u_{bd}(z_m)\hat H_{km;ab}\hat H_{km;cd}] = \langle u_{ac}\rangle\langle u_{bd}\rangle
  E[\hat H_{km;ab}\hat H_{km;cd}] + O(n^{-2})` (the :math:`\sigma^6|M\Phi|^2` terms are :math:`O(n^{-2})`):

  .. math:: B^{(l+1)}_{ab,cd} = C_W^2\langle\phi'_a\phi'_b\phi'_c\phi'_d\rangle H_{ab}H_{cd}
            + \tfrac{n_l}{n_{l-1}}\,\chi^\perp_{ac}\chi^\perp_{bd}\, B^{(l)}_{ab,cd}

  (:math:`\chi^\perp_{ac} = C_W\langle\phi'_a\phi'_c\rangle`, the :math:`\chi^\perp_r` of the pair r = (ac)).

* (F22) :math:`A^{(l+1)}_{r,s}/n_l = \mathrm{Cov}(Y_r, Y_s)`, :math:`Y_r = C_b + \frac{C_W}{n_l}\sum_k X_{k;r}`,
  :math:`X_{k;r} = \phi_{k;r} + \phi'_{k;r}\hat H_{kk;r}`.  Given layer l-1 the :math:`(z_k, \hat H_{kk})` are
  i.i.d. over k, so for :math:`k \ne m`, :math:`\mathrm{Cov}(X_{k;r}, X_{m;s}) = \mathrm{Cov}(f_r, f_s)` with
  :math:`f_r = E[X_{k;r}|l-1] = g_r(\hat G) + p_r(\hat G)\bar H_r + O(n^{-1})` (the :math:`\sigma^4\Phi^\top M\Phi` part
  of the second identity has :math:`O(n^{-1})` mean and smaller fluctuations), :math:`\bar H_r = E[\hat H_{kk;r}|l-1]`;
  linearising, :math:`C_W\delta f_r = \sum_u \kappa_{ru}\delta\hat G_u + \chi^\perp_r\delta\bar H_r`, and
  :math:`\mathrm{Cov}(\hat G_u, \bar H_s) = D_{u,s}/n`, :math:`\mathrm{Cov}(\bar H_r, \bar H_s) = A_{r,s}/n`:

  .. math:: A^{(l+1)}_{r,s} = C_W^2\,\mathrm{Cov}(\phi_r + H_r\phi'_r,\ \phi_s + H_s\phi'_s)
            + \tfrac{n_l}{n_{l-1}}\Big[(\kappa V\kappa^\top)_{rs} + \chi^\perp_s(\kappa D)_{rs} + \chi^\perp_r(\kappa D)_{sr}
            + \chi^\perp_r\chi^\perp_s A^{(l)}_{r,s}\Big].

  Deep linear (:math:`\phi = z`, :math:`C_W = 1`, :math:`C_b = 0`, equal widths): :math:`\kappa = 1`,
  :math:`V^{(l)} = (l-1)Q`, :math:`D^{(l)} = \binom{l}{2}Q`, :math:`A^{(l)} = Q\sum_{m<l}m^2`,
  :math:`B^{(l)}_{ab,cd} = q_{ab}q_{cd}\sum_{m<l}m^2`, :math:`Q_{(ab),(cd)} = q_{ac}q_{bd} + q_{ad}q_{bc}` (tested).

At :math:`x_1 = x_2` every component reduces to (F8)–(F13) (tested); Monte-Carlo in the tests.
Gaussian means: one float64 tensor Gauss–Hermite rule (smooth activations only: the ReLU family
needs the distributional :math:`\partial_c\partial_d(\phi'\phi')`, not implemented).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np

from ..core.tables import Tabular
from ..core.validate import check_int
from ..duals.activations import activation
from ..special.gaussian import hermite_rule_float
from .bivariate import PAIRS, float_nodes
from .two_input import COMPONENTS, _check_q0, finite_width_pair
from .recursions import _positive, check_widths

__all__ = ["FiniteWidthPairNTK", "finite_width_pair_ntk"]

_C = (0.5, 1.0, 0.5)  # heat-equation constants of the symmetric coordinates 11, 12, 22


def _count(idx: tuple, a: int) -> int:
    return sum(1 for i in idx if i == a)


class _Rule:
    """Tensor Gauss–Hermite expectations E[u(z1, z2)] at covariance G, with phi^(j) on both axes cached."""

    def __init__(self, act, G: tuple):
        n = float_nodes(G)
        u, w = hermite_rule_float(n)
        s1 = np.sqrt(G[0])
        al = G[1] / s1
        be = np.sqrt(max(G[2] - al * al, 0.0))
        self.w = w
        z = (np.broadcast_to((s1 * u)[:, None], (n, n)), al * u[:, None] + be * u[None, :])
        self.f = [[act.numpy_function(j)(za) for j in range(6)] for za in z]  # f[a][j] = phi^(j)(z_a)

    def mean(self, values: np.ndarray) -> float:
        return float(self.w @ values @ self.w)

    def prod(self, orders: dict) -> float:
        """E[prod_{a, j} phi^(j)(z_a)^power] for orders {(a, j): power}."""
        v = 1.0
        for (a, j), k in orders.items():
            v = v * self.f[a][j] ** k
        return self.mean(v)


def _pair_orders(r: tuple, j: int) -> dict:
    """phi^(j)(z_{r1}) phi^(j)(z_{r2}) as an orders dict."""
    out: dict = {}
    for a in r:
        out[(a, j)] = out.get((a, j), 0) + 1
    return out


def _merge(*ds) -> dict:
    out: dict = {}
    for d in ds:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _derivative_means(rule: _Rule, r: tuple, base: int) -> tuple:
    r"""Gradient and Hessian in (G11, G12, G22) of :math:`E[\phi^{(base)}(z_{r_1})\phi^{(base)}(z_{r_2})]` (heat equation:
    :math:`\partial_{G_t} E f = c_t E[\partial_{t_1}\partial_{t_2} f]`)."""
    grad = [_C[t] * _leibniz(rule, r, base, PAIRS[t]) for t in range(3)]
    hess = [[_C[t] * _C[u] * _leibniz(rule, r, base, PAIRS[t] + PAIRS[u]) for u in range(3)] for t in range(3)]
    return grad, hess


def _first(rule: _Rule, c: int, a: int, e: int) -> float:
    r""":math:`E[\partial_e(\phi(z_c)\phi'(z_a))]`."""
    if c == a:
        return rule.prod({(a, 1): 2}) + rule.prod({(a, 0): 1, (a, 2): 1}) if e == a else 0.0
    return rule.prod({(c, 1 if e == c else 0): 1, (a, 2 if e == a else 1): 1})


def _leibniz(rule: _Rule, r: tuple, base: int, extra: tuple) -> float:
    r""":math:`E[\partial_{extra} (\phi^{(base)}(z_{r_1})\phi^{(base)}(z_{r_2}))]` by the Leibniz rule."""
    if r[0] != r[1]:
        n1, n2 = _count(extra, r[0]), _count(extra, r[1])
        return rule.prod(_merge({(r[0], base + n1): 1}, {(r[1], base + n2): 1}))
    a = r[0]
    if any(e != a for e in extra):
        return 0.0
    m = len(extra)  # d^m (f^2) = sum_k binom(m, k) f^(k) f^(m-k), f = phi^(base)
    return sum(comb(m, k) * rule.prod(_merge({(a, base + k): 1}, {(a, base + m - k): 1})) for k in range(m + 1))


_IDX4 = tuple((a, b, c, d) for a in (0, 1) for b in (0, 1) for c in (0, 1) for d in (0, 1))
_COMP = {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2}


def _next_B(rule: _Rule, C_W: float, h: tuple, chi_perp: list, B: dict, ratio: float) -> dict:
    """(F21): the 16 ordered entries B_{ab,cd} of the next layer."""
    out = {}
    for a, b, c, d in _IDX4:
        src = rule.prod(_merge(_pair_orders((a, b), 1), _pair_orders((c, d), 1))) * h[_COMP[(a, b)]] * h[_COMP[(c, d)]]
        out[(a, b, c, d)] = C_W**2 * src + ratio * chi_perp[_COMP[(a, c)]] * chi_perp[_COMP[(b, d)]] * B[(a, b, c, d)]
    return out


def _next_A(rule: _Rule, C_W: float, h: tuple, p: list, kappa, V, D, A, ratio: float) -> np.ndarray:
    """(F22): the 3x3 A_{r,s} of the next layer (kappa, V, D, A are the 3x3 arrays of the current layer)."""
    X = [(_pair_orders(r, 0), _pair_orders(r, 1)) for r in PAIRS]  # X_r = phi_r + H_r phi'_r
    cov = np.zeros((3, 3))
    for r, (fr, dr) in enumerate(X):
        for s, (fs, ds) in enumerate(X):
            second = (rule.prod(_merge(fr, fs)) + h[s] * rule.prod(_merge(fr, ds)) + h[r] * rule.prod(_merge(dr, fs))
                      + h[r] * h[s] * rule.prod(_merge(dr, ds)))
            cov[r, s] = second - (rule.prod(fr) + h[r] * p[r]) * (rule.prod(fs) + h[s] * p[s])
    chi_perp = C_W * np.array(p)
    kD = kappa @ D
    prop = kappa @ V @ kappa.T + kD * chi_perp[None, :] + (kD * chi_perp[None, :]).T + np.outer(chi_perp, chi_perp) * A
    return C_W**2 * cov + ratio * prop


@dataclass(frozen=True)
class FiniteWidthPairNTK(Tabular):
    r"""Per-layer two-input NTK mean H_r, 1/n shift H1_r (F17), fluctuations A (F22), B (F21); float64.

    ``H[i]``, ``H1[i]`` are 3-vectors (r = 11, 12, 22), ``A[i]``, ``D[i]`` 3x3 arrays, ``B[i]``, ``F[i]``
    dicts over ordered (a, b, c, d) in {0, 1}^4, for layer i + 1; ``kernel`` holds (F5)–(F7).
    """

    activation: str
    widths: tuple
    kernel: Any
    H: tuple
    H1: tuple
    D: tuple
    F: tuple
    A: tuple
    B: tuple

    @property
    def depth(self) -> int:
        return len(self.widths)

    def ntk_mean(self, l: int) -> tuple:
        """Predicted :math:`E\\hat H_{ii;ab} = H_r + H_{1,r}/n_{l-1}` at layer l (1-based)."""
        i = l - 1
        return self.H[i] if i == 0 else tuple(h + h1 / self.widths[i - 1] for h, h1 in zip(self.H[i], self.H1[i]))

    def ntk_covariance(self, l: int) -> tuple:
        r"""Predicted 3x3 :math:`\mathrm{Cov}(\hat H_{ii;r}, \hat H_{ii;s})` and :math:`\mathrm{Cov}(\hat H_{ii;r}, \hat H_{jj;s})_{i \ne j}`
        at layer l (1-based): :math:`(A_{r,s} + B_{ab,cd} + B_{ab,dc})/n_{l-1}` and :math:`A_{r,s}/n_{l-1}`; zero at l = 1."""
        l = check_int(l, "l", 1)
        if l > self.depth:
            raise ValueError(f"layer l must be in 1..{self.depth}, got {l}")
        i = l - 1
        if i == 0:
            return np.zeros((3, 3)), np.zeros((3, 3))
        B = self.B[i]
        same = np.array([[self.A[i][r, s] + B[pr + ps] + B[pr + ps[::-1]] for s, ps in enumerate(PAIRS)]
                         for r, pr in enumerate(PAIRS)])
        n = self.widths[i - 1]
        return same / n, np.array(self.A[i]) / n

    def rows(self) -> list:
        """One row per layer: H_r, H1_r, predicted Var H_ii;r (``var_r``) and Cov(H_ii;r, H_jj;r) (``cross_r``)."""
        out = []
        for i in range(self.depth):
            same, cross = self.ntk_covariance(i + 1)
            row = {"layer": i + 1, "width": self.widths[i]}
            row.update({f"H_{c}": self.H[i][r] for r, c in enumerate(COMPONENTS)})
            row.update({f"H1_{c}": self.H1[i][r] for r, c in enumerate(COMPONENTS)})
            row.update({f"var_{c}": float(same[r, r]) for r, c in enumerate(COMPONENTS)})
            row.update({f"cross_{c}": float(cross[r, r]) for r, c in enumerate(COMPONENTS)})
            out.append(row)
        return out


def finite_width_pair_ntk(widths: Any, act: Any, C_W: Any, C_b: Any = 0, q0: Any = (1, 0, 1)) -> FiniteWidthPairNTK:
    r"""Two-input NTK mean, 1/n shift (F17) and fluctuations (F21, F22), float64 Gauss–Hermite; smooth activations only.

    >>> r = finite_width_pair_ntk([10, 10, 10], "tanh", 1, 0, (1, 0.5, 1))
    >>> [round(float(h), 6) for h in r.H[2]], round(float(r.H1[2][1]), 6)
    ([0.78305, 0.334031, 0.78305], -0.036411)
    """
    widths = check_widths(widths)
    act = activation(act)
    try:
        act.numpy_function(5)
    except ValueError:
        raise ValueError(f"activation {act.name!r} is not covered by the two-input NTK recursion: "
                         "phi must be smooth (derivatives up to order 5 are functions)") from None
    _positive(C_W, "C_W")
    q0 = _check_q0(q0)
    kern = finite_width_pair(widths, act, C_W, C_b, q0, precision="float64")
    C_W, C_b = float(kern.C_W), float(kern.C_b)
    idx4, comp = _IDX4, _COMP
    H, H1 = [tuple(float(k) for k in kern.K[0])], [(0.0, 0.0, 0.0)]
    D, F = [np.zeros((3, 3))], [dict.fromkeys(idx4, 0.0)]
    A, B = [np.zeros((3, 3))], [dict.fromkeys(idx4, 0.0)]
    for i in range(len(widths) - 1):
        K = tuple(float(k) for k in kern.K[i])
        V = np.array(kern.V[i], dtype=float)
        K1 = np.array(kern.K1[i], dtype=float)
        chi = np.array(kern.chi[i], dtype=float)
        ratio = widths[i] / widths[i - 1] if i else 0.0
        rule = _Rule(act, K)
        p, dp, d2p = [], [], []
        for r in PAIRS:
            p.append(rule.prod(_pair_orders(r, 1)))
            g_, h_ = _derivative_means(rule, r, 1)
            dp.append(g_)
            d2p.append(h_)
        dp, d2p = np.array(dp), np.array(d2p)
        h = H[i]
        chi_perp = [C_W * v for v in p]
        kappa = chi + C_W * np.array(h)[:, None] * dp
        newD = np.zeros((3, 3))
        for s, ps in enumerate(PAIRS):
            for r, pr in enumerate(PAIRS):
                phs, phr, dphr = _pair_orders(ps, 0), _pair_orders(pr, 0), _pair_orders(pr, 1)
                cov = (rule.prod(_merge(phs, phr)) + h[r] * rule.prod(_merge(phs, dphr))
                       - rule.prod(phs) * (rule.prod(phr) + h[r] * p[r]))
                prop = sum(chi[s, t] * (kappa[r] @ V[t] + chi_perp[r] * D[i][t, r]) for t in range(3))
                newD[s, r] = C_W**2 * cov + ratio * prop
        newF = {}
        for a, b, c, d in idx4:
            src = rule.prod(_merge({(c, 0): 1}, {(a, 1): 1}, {(b, 1): 1}, {(d, 0): 1})) * h[comp[(a, b)]]
            prop = sum(_first(rule, c, a, e) * _first(rule, d, b, g) * F[i][(a, b, e, g)] for e in (0, 1) for g in (0, 1))
            newF[(a, b, c, d)] = C_W**2 * src + ratio * C_W**2 * prop
        Kn = tuple(float(k) for k in kern.K[i + 1])
        K1n = tuple(float(k) for k in kern.K1[i + 1])
        newH, newH1 = [], []
        for r, (a, b) in enumerate(PAIRS):
            second = 0.0
            for c in (0, 1):
                for d in (0, 1):
                    second += _leibniz(rule, (a, b), 1, (c, d)) * F[i][(a, b, c, d)]
            shift = (chi_perp[r] * H1[i][r] + C_W * sum(dp[r, u] * (h[r] * K1[u] + D[i][u, r]) for u in range(3))
                     + C_W / 2 * h[r] * float(np.sum(d2p[r] * V)) + C_W * second)
            newH.append(Kn[r] + chi_perp[r] * h[r])
            newH1.append(K1n[r] + ratio * shift)
        A.append(_next_A(rule, C_W, h, p, kappa, V, D[i], A[i], ratio))  # (F22)
        B.append(_next_B(rule, C_W, h, chi_perp, B[i], ratio))  # (F21)
        H.append(tuple(newH))
        H1.append(tuple(newH1))
        D.append(newD)
        F.append(newF)
    return FiniteWidthPairNTK(act.name, widths, kern, tuple(H), tuple(H1), tuple(D), tuple(F), tuple(A), tuple(B))
