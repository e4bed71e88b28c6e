r"""The neural tangent kernel of a finite-width MLP at one input: mean, 1/n shift, fluctuations (RYH ch. 8).

Parameterisation (NTK / neural-tangents ``stax``, MATH.md M2): :math:`W^{(l+1)} = \sqrt{C_W/n_l}\,\omega`,
:math:`b = \sqrt{C_b}\,\beta` with standard normal trainable :math:`\omega, \beta`; equivalently RYH's
learning-rate tensor :math:`\lambda_b = C_b`, :math:`\lambda_W^{(l+1)} = C_W/n_l` per weight.  The NTK of the
preactivations of layer l is :math:`\hat H^{(l)}_{ij} = \sum_\theta \partial_\theta z_i\,\partial_\theta z_j`
(sum over :math:`\omega, \beta` of layers :math:`\le l`), and exactly

.. math:: \hat H^{(l+1)}_{ij} = \delta_{ij}\hat G^{(l+1)} + \sum_{k,m} W^{(l+1)}_{ik}W^{(l+1)}_{jm}\, M_{km},
          \qquad M_{km} = \phi'(z^{(l)}_k)\phi'(z^{(l)}_m)\hat H^{(l)}_{km},

with :math:`\hat G^{(1)} = \hat H^{(1)}_{ii} = C_b + C_W q_0`.  Write :math:`p(K) = \langle\phi'^2\rangle_K`,
:math:`\chi_\perp = C_W p`, :math:`\chi_\parallel = C_W g'(K)` (F2), and the fluctuation objects (book's
notation, RYH eqs. 8.x, from memory; each defined here by what it measures, all normalised by :math:`n_{l-1}`):

.. math:: E[\hat H_{ii}] = H + \frac{H_1}{n}, \quad
          \mathrm{Cov}(\hat H_{ij}, \hat H_{km}) = \frac{A\,\delta_{ij}\delta_{km} + B(\delta_{ik}\delta_{jm} + \delta_{im}\delta_{jk})}{n},
          \quad \mathrm{Cov}(\hat G, \hat H_{ii}) = \frac{D}{n}, \quad E[\hat H_{ij} z_i z_j]_{i \ne j} = \frac{F}{n}.

So :math:`\mathrm{Var}\,\hat H_{ii} = (A + 2B)/n` (the NTK variance), :math:`\mathrm{Cov}(\hat H_{ii},\hat H_{jj}) = A/n`,
:math:`E\hat H_{ij}^2 = B/n` for :math:`i \ne j`.  All vanish at layer 1.

Derivation (condition on layer l; :math:`\sigma^2 = C_W/n_l`; three exact Gaussian identities in the fresh
row :math:`w` of :math:`W^{(l+1)}`, with :math:`z = b + w\cdot\phi`: Stein :math:`E[f(z)w] = \sigma^2\phi\,E f'`,
:math:`E[f(z)w_aw_b] = \sigma^2\delta_{ab}Ef + \sigma^4\phi_a\phi_b E f''`, and the heat equation
:math:`E f''(z) = 2\,\partial_G E f`):

* (F8) :math:`E[\hat H^{(l+1)}_{ii}\,|\,l] = \hat G^{(l+1)} + \sigma^2\mathrm{tr}\,M`, so :math:`H^{(1)} = K^{(1)}`,
  :math:`H^{(l+1)} = K^{(l+1)} + \chi_\perp^{(l)} H^{(l)}` (M2).
* (F9) Off-diagonal: :math:`E[\hat H_{ij}^2] = \sigma^4\mathrm{tr}\,M^2 = \sigma^4[\sum_k\phi_k'^4\hat H_{kk}^2 + \sum_{k\ne m}\phi_k'^2\phi_m'^2\hat H_{km}^2]`:

  .. math:: B^{(l+1)} = C_W^2\langle\phi'^4\rangle H^2 + \frac{n_l}{n_{l-1}}\chi_\perp^2 B^{(l)}.

* (F10), (F11) Diagonal: :math:`E[\hat H_{ii}|l] = C_b + \frac{C_W}{n_l}\sum_k X_k`, :math:`X_k = \phi_k^2 + \phi_k'^2\hat H_{kk}`.
  Given layer l-1 the pairs :math:`(z_k, \hat H_{kk})` are i.i.d., :math:`E[X_k|l-1] = f(\hat G, \bar H) + O(n^{-1})` with
  :math:`f(G, H) = g(G) + H p(G)` and :math:`\bar H = E[\hat H_{kk}|l-1]`; so with
  :math:`\kappa = C_W(g' + p'H) = \chi_\parallel + C_W p' H`,

  .. math:: D^{(l+1)} = C_W^2\,\mathrm{Cov}(\phi^2, \phi^2 + H\phi'^2) + \frac{n_l}{n_{l-1}}\chi_\parallel\left[\kappa V + \chi_\perp D\right],

  .. math:: A^{(l+1)} = C_W^2\,\mathrm{Var}(\phi^2 + H\phi'^2) + \frac{n_l}{n_{l-1}}\left[\kappa^2 V + 2\kappa\chi_\perp D + \chi_\perp^2 A\right].

* (F12) :math:`E[\hat H_{ij}z_iz_j] = \sigma^4\,\phi^\top M\phi` exactly; the off-diagonal part by Stein in layer l,
  :math:`E[f(z_k)f(z_m)\hat H_{km}] = \sigma_{l-1}^4 (Ef')^2\phi^\top M^{(l-1)}\phi` with :math:`f = \phi\phi'`,
  :math:`C_W E f' = \chi_\parallel`:

  .. math:: F^{(l+1)} = C_W^2\langle\phi^2\phi'^2\rangle H + \frac{n_l}{n_{l-1}}\chi_\parallel^2 F^{(l)}.

* (F13) mean shift: :math:`E[\phi'(z_k)^2\hat H_{kk}|l-1] = p(\hat G)\bar H + 2p'(\hat G)\,\sigma_{l-1}^4\phi^\top M\phi`
  (the second Gaussian identity with :math:`f = \phi'^2`), whose mean is
  :math:`pH + [pH_1 + p'(HK_1 + D + 2F) + \tfrac12 p'' H V]/n_{l-1}`:

  .. math:: H_1^{(l+1)} = K_1^{(l+1)} + \frac{n_l}{n_{l-1}}\left[\chi_\perp H_1 + C_W p'\,(H K_1 + D + 2F) + \frac{C_W}{2}p'' H V\right].

Means :math:`\langle\phi^a\phi'^b z^c\rangle_K` are exact (sympy) for polynomial and ReLU-family activations,
mpmath tanh-sinh quadrature otherwise (:func:`~eigencalc.finite.recursions.gaussian_table`, split at the kinks); :math:`p' = \langle\phi'^2(z^2-K)\rangle/2K^2`,
:math:`p'' = \langle\phi'^2(z^4 - 6Kz^2 + 3K^2)\rangle/4K^4` need only :math:`\phi'` (ReLU works; step does not).
Checks: deep linear (:math:`\phi = z`, :math:`C_b = 0`, :math:`C_W = 1`): :math:`H = lK`, :math:`H_1 = 0`,
:math:`B^{(l)} = K^2\sum_{m<l} m^2`; ReLU at :math:`C_W = 2`: :math:`p' = 0`; Monte-Carlo in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import sympy

from ..core.numbers import exact_real, to_mpf
from ..core.tables import Tabular
from ..duals.activations import ABRelu, Activation, Polynomial, activation, x
from ..special.gaussian import gaussian_moment
from .recursions import _half_moment, _positive, check_widths, require_derivative, finite_width_mlp, gaussian_means, gaussian_table

__all__ = ["FiniteWidthNTK", "finite_width_ntk", "ntk_means"]


def _exact_mean(act: Activation, m: int, k: int, j: int, K: sympy.Expr) -> sympy.Expr:
    r""":math:`E[\phi^m \phi'^k z^j]` exactly at variance K (polynomial and ReLU families)."""
    if isinstance(act, Polynomial):
        poly = sympy.Poly(sympy.expand(act.expr**m * sympy.diff(act.expr, x) ** k * x**j), x)
        return sympy.expand(sum((c * gaussian_moment(e) * K ** sympy.Rational(e, 2) for (e,), c in poly.terms()),
                                sympy.Integer(0)))
    e = m + j  # phi = b z, phi' = b on z > 0; a z, a on z < 0
    return sympy.simplify(K ** sympy.Rational(e, 2) * _half_moment(e) * (act.b ** (m + k) + (-1) ** e * act.a ** (m + k)))


def ntk_means(act: Any, K: Any, exact: bool | None = None) -> dict:
    r"""The Gaussian data of (F8)–(F13) at variance K.

    Keys: ``p`` :math:`\langle\phi'^2\rangle`, ``dp`` :math:`p'(K)`, ``d2p`` :math:`p''(K)`,
    ``dphi4`` :math:`\langle\phi'^4\rangle`, ``phi2dphi2`` :math:`\langle\phi^2\phi'^2\rangle`.

    >>> m = ntk_means("relu", 3); (m["p"], m["dp"], m["d2p"], m["dphi4"], m["phi2dphi2"])
    (1/2, 0, 0, 1/2, 3/2)
    """
    act = require_derivative(activation(act), "NTK recursion")
    if exact is None:
        exact = isinstance(act, (Polynomial, ABRelu)) and not isinstance(K, (float, mpmath.mpf))
    if exact:
        K = exact_real(K, "K")
        M = lambda m, k, j: _exact_mean(act, m, k, j, K)  # noqa: E731
        simp = sympy.simplify
    else:
        K = to_mpf(K)
        table = gaussian_table(act, K, ((0, 2, 0), (0, 2, 2), (0, 2, 4), (0, 4, 0), (2, 2, 0)))
        M = lambda m, k, j: table[(m, k, j)]  # noqa: E731
        simp = lambda v: v  # noqa: E731
    p0, p2, p4 = M(0, 2, 0), M(0, 2, 2), M(0, 2, 4)
    return {
        "p": simp(p0),
        "dp": simp((p2 - K * p0) / (2 * K**2)),
        "d2p": simp((p4 - 6 * K * p2 + 3 * K**2 * p0) / (4 * K**4)),
        "dphi4": simp(M(0, 4, 0)),
        "phi2dphi2": simp(M(2, 2, 0)),
    }


@dataclass(frozen=True)
class FiniteWidthNTK(Tabular):
    r"""Per-layer NTK mean H (F8), shift H1 (F13), fluctuations A, B (F9, F11), cross terms D, F (F10, F12).

    Also carries the kernel objects K, V, K1 of :func:`finite_width_mlp`.  Normalised by
    :math:`n_{l-1}`: predicted :math:`E\hat H_{ii} = H + H_1/n_{l-1}`,
    :math:`\mathrm{Var}\,\hat H_{ii} = (A + 2B)/n_{l-1}` (:attr:`ntk_variance`).
    """

    activation: str
    widths: tuple
    C_W: Any
    C_b: Any
    q0: Any
    K: tuple
    V: tuple
    K1: tuple
    H: tuple
    H1: tuple
    A: tuple
    B: tuple
    D: tuple
    F: tuple
    exact: bool

    @property
    def depth(self) -> int:
        return len(self.widths)

    def _scaled(self, values) -> tuple:
        return tuple(0 * v if i == 0 else v / self.widths[i - 1] for i, v in enumerate(values))

    @property
    def ntk_mean(self) -> tuple:
        """Predicted :math:`E\\hat H_{ii} = H + H_1/n_{l-1}` per layer."""
        return tuple(h + s for h, s in zip(self.H, self._scaled(self.H1)))

    @property
    def ntk_variance(self) -> tuple:
        r"""Predicted :math:`\mathrm{Var}\,\hat H_{ii} = (A + 2B)/n_{l-1}` per layer."""
        return self._scaled([a + 2 * b for a, b in zip(self.A, self.B)])

    @property
    def normalized_ntk_variance(self) -> tuple:
        """:math:`(A + 2B)/H^2` per layer (the NTK analogue of V/K^2; multiply by 1/n_{l-1})."""
        return tuple((a + 2 * b) / h**2 for a, b, h in zip(self.A, self.B, self.H))

    def rows(self) -> list:
        """One row per layer: width, H, H1, A, B, D, F, (A+2B)/H^2 and the predicted mean and variance."""
        mean, var, nv = self.ntk_mean, self.ntk_variance, self.normalized_ntk_variance
        return [
            {"layer": i + 1, "width": self.widths[i], "H": self.H[i], "H1": self.H1[i], "A": self.A[i],
             "B": self.B[i], "D": self.D[i], "F": self.F[i], "var_over_H2": nv[i], "ntk_mean": mean[i],
             "ntk_variance": var[i], "exact": self.exact}
            for i in range(self.depth)
        ]


def finite_width_ntk(widths: Any, act: Any, C_W: Any, C_b: Any = 0, q0: Any = 1) -> FiniteWidthNTK:
    r"""Leading finite-width NTK statistics (F8)–(F13) at one input, layers 1..L.

    >>> r = finite_width_ntk([6, 6, 6], activation("monomial", degree=1), 1, 0, 1)   # deep linear, K = 1
    >>> r.H, r.H1, r.B
    ((1, 2, 3), (0, 0, 0), (0, 1, 5))
    """
    widths = check_widths(widths)
    act = activation(act)
    kern = finite_width_mlp(widths, act, C_W, C_b, q0)
    exact = kern.exact
    _positive(C_W, "C_W")
    C_W, C_b = kern.C_W, kern.C_b
    simp = sympy.simplify if exact else (lambda v: +v)  # noqa: E731
    zero = sympy.Integer(0) if exact else mpmath.mpf(0)
    H, H1, A, B, D, F = [kern.K[0]], [zero], [zero], [zero], [zero], [zero]
    for i in range(len(widths) - 1):
        K, V, K1 = kern.K[i], kern.V[i], kern.K1[i]
        gm, nm = gaussian_means(act, K, exact=exact), ntk_means(act, K, exact=exact)
        ratio = (sympy.Rational(widths[i], widths[i - 1]) if exact else mpmath.mpf(widths[i]) / widths[i - 1]) if i else zero
        h = H[i]
        chi_par, chi_perp = C_W * gm["dg"], C_W * nm["p"]
        kappa = chi_par + C_W * nm["dp"] * h
        mix = gm["phi4"] + h * nm["phi2dphi2"]
        cov = mix - gm["g"] * (gm["g"] + h * nm["p"])  # Cov(phi^2, phi^2 + H phi'^2)
        var = mix + h * nm["phi2dphi2"] + h**2 * nm["dphi4"] - (gm["g"] + h * nm["p"]) ** 2
        H.append(simp(kern.K[i + 1] + chi_perp * h))  # (F8)
        B.append(simp(C_W**2 * nm["dphi4"] * h**2 + ratio * chi_perp**2 * B[i]))  # (F9)
        D.append(simp(C_W**2 * cov + ratio * chi_par * (kappa * V + chi_perp * D[i])))  # (F10)
        A.append(simp(C_W**2 * var + ratio * (kappa**2 * V + 2 * kappa * chi_perp * D[i] + chi_perp**2 * A[i])))  # (F11)
        F.append(simp(C_W**2 * nm["phi2dphi2"] * h + ratio * chi_par**2 * F[i]))  # (F12)
        H1.append(simp(kern.K1[i + 1] + ratio * (chi_perp * H1[i] + C_W * nm["dp"] * (h * K1 + D[i] + 2 * F[i])
                                                  + C_W / 2 * nm["d2p"] * h * V)))  # (F13)
    return FiniteWidthNTK(act.name, widths, C_W, C_b, kern.q0, kern.K, kern.V, kern.K1, tuple(H), tuple(H1),
                          tuple(A), tuple(B), tuple(D), tuple(F), exact)
