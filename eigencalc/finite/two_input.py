r"""Leading finite-width corrections of a deep MLP at two inputs (Roberts–Yaida–Hanin ch. 4, general inputs).

Same network and conventions as :mod:`eigencalc.finite.recursions`, now at two inputs
:math:`x_1, x_2` with input covariances :math:`q_{ab} = x_a\cdot x_b/n_0`.  Index the
symmetric pairs by :math:`r = (a_1a_2) \in \{11, 12, 22\}` (so :math:`G_{12}` is one
coordinate), write :math:`\phi_r = \phi(z_{a_1})\phi(z_{a_2})` and
:math:`g_r(G) = E_{z \sim N(0,G)}[\phi_r]`.

Derivation.  Conditional on layer l, the vectors :math:`(z^{(l+1)}_{i;1}, z^{(l+1)}_{i;2})`
are i.i.d. over neurons i, Gaussian with the stochastic metric

.. math:: \hat G^{(l+1)}_{a_1a_2} = C_b + \frac{C_W}{n_l}\sum_j \phi(z^{(l)}_{j;a_1})\phi(z^{(l)}_{j;a_2}).

So exactly :math:`E[z_{i;a_1}z_{i;a_2}] = E\hat G_{a_1a_2}` and, for :math:`i \ne j`,
:math:`E[z_{i;a_1}z_{i;a_2}z_{j;a_3}z_{j;a_4}] - E[\cdot]E[\cdot] = \mathrm{Cov}(\hat G_{a_1a_2}, \hat G_{a_3a_4})`.
Define :math:`E\hat G^{(l)}_r = K^{(l)}_r + K^{(l)}_{1,r}/n_{l-1} + O(n^{-2})` and
:math:`\mathrm{Cov}(\hat G^{(l)}_r, \hat G^{(l)}_s) = V^{(l)}_{rs}/n_{l-1} + O(n^{-2})`
(:math:`V_{rs}` is RYH's :math:`V_{(a_1a_2)(a_3a_4)}`); at layer 1 everything is deterministic.

* (F5) kernel: :math:`K^{(1)}_r = C_b + C_W q_r`, :math:`K^{(l+1)}_r = C_b + C_W g_r(K^{(l)})`
  (MATH.md M1, M3).  Susceptibility matrix
  :math:`\chi^{(l)}_{rs} = C_W\, \partial g_r/\partial G_s\,(K^{(l)})` (3x3: :math:`g_{11}` depends on
  :math:`G_{11}` only, so :math:`\chi_{11,11} = \chi_\parallel(K_{11})` of F2; the row r = 12 holds
  :math:`\chi_{12,12} = C_W E[\phi'\phi']`, RYH's :math:`\chi_\perp`-type entry).
* (F6) four-point vertex.  :math:`\mathrm{Cov}(\hat G^{(l+1)}_r, \hat G^{(l+1)}_s) = (C_W/n_l)^2
  [\,n_l\,\mathrm{Cov}(\phi_{j,r}, \phi_{j,s}) + n_l(n_l-1)\,\mathrm{Cov}(\phi_{i,r},\phi_{j,s})]`;
  the first covariance is :math:`\langle\phi_r\phi_s\rangle_K - g_r g_s` at leading order, and for
  :math:`i \ne j` (conditionally i.i.d. given :math:`\hat G^{(l)}`) the second is
  :math:`\mathrm{Cov}(g_r(\hat G^{(l)}), g_s(\hat G^{(l)})) = \sum_{tu}\partial_t g_r\,\partial_u g_s\, V^{(l)}_{tu}/n_{l-1}`.  Hence

  .. math:: V^{(l+1)}_{rs} = C_W^2\left[\langle\phi_r\phi_s\rangle_{K^{(l)}} - g_r g_s\right]
            + \frac{n_l}{n_{l-1}} \sum_{t,u} \chi^{(l)}_{rt}\chi^{(l)}_{su} V^{(l)}_{tu}.

* (F7) 1/n mean shift: :math:`E g_r(\hat G^{(l)}) = g_r(G^{(l)}) + \tfrac12 \sum_{tu}\partial_t\partial_u g_r\,
  \mathrm{Cov}(\hat G_t, \hat G_u) + O(n^{-2})` and :math:`g_r(G) = g_r(K) + \sum_t \partial_t g_r K_{1,t}/n_{l-1}`, so

  .. math:: K^{(l+1)}_{1,r} = \frac{n_l}{n_{l-1}}\left[\sum_t \chi^{(l)}_{rt} K^{(l)}_{1,t}
            + \frac{C_W}{2}\sum_{t,u} \partial_t\partial_u g_r(K^{(l)})\, V^{(l)}_{tu}\right].

At :math:`x_1 = x_2` every component equals the single-input value and (F5)–(F7) reduce to
(F1)–(F4): the row sums :math:`\sum_t \chi_{12,t}` and :math:`\sum_{tu}\partial_t\partial_u g_{12}` are the
derivatives of :math:`g_{12}` along :math:`G \mapsto G + \epsilon\,\mathbf{1}\mathbf{1}^\top`, i.e. of
:math:`g(K)`.  (Tested.)

Gaussian means come from :mod:`eigencalc.finite.bivariate` (exact for polynomial activations,
mpmath closed forms for the ReLU family, tensor Gauss–Hermite for smooth activations).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import sympy

from ..core.numbers import exact_real, to_mpf
from ..core.tables import Tabular
from ..duals.activations import ABRelu, activation
from ..special.gaussian import hermite_rule_float
from .bivariate import float_nodes, pair_engine, pair_means
from .recursions import _positive, check_widths, gaussian_means

__all__ = ["FiniteWidthPair", "finite_width_pair", "COMPONENTS"]

#: Labels of the symmetric components r, in the order of every 3-vector and 3x3 matrix here.
COMPONENTS = ("11", "12", "22")


@dataclass(frozen=True)
class FiniteWidthPair(Tabular):
    r"""Per-layer two-input K_r (F5), chi_rs, V_rs (F6), K1_r (F7); r in (11, 12, 22).

    ``K[l][r]``, ``K1[l][r]`` (3-vectors) and ``V[l][r][s]``, ``chi[l][r][s]`` (3x3) for layers
    l = 1..L (index 0 is layer 1), normalised by :math:`n_{l-1}` as in :class:`FiniteWidthMLP`:
    predicted :math:`E[z_{i;a}z_{i;b}] = K_r + K_{1,r}/n_{l-1}` and
    :math:`\mathrm{Cov}(z_{i;a_1}z_{i;a_2}, z_{j;a_3}z_{j;a_4}) = V_{rs}/n_{l-1}` for :math:`i \ne j`.
    ``numbers`` says how they were computed: ``"exact"`` (sympy), ``"mpmath"`` (context precision)
    or ``"float64"`` (Gauss–Hermite: about 1e-12 relative for GELU-like φ, 1e-8 for high tanh
    moments such as ⟨sech^8⟩).
    """

    activation: str
    widths: tuple
    C_W: Any
    C_b: Any
    q0: tuple
    K: tuple
    chi: tuple
    V: tuple
    K1: tuple
    numbers: str

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def exact(self) -> bool:
        return self.numbers == "exact"

    def mean(self, l: int) -> tuple:
        """Predicted :math:`E[z_a z_b]` at layer l (1-based): K + K1/n_{l-1} per component."""
        i = l - 1
        return self.K[i] if i == 0 else tuple(k + k1 / self.widths[i - 1] for k, k1 in zip(self.K[i], self.K1[i]))

    def four_point(self, l: int) -> tuple:
        """Predicted connected four-point matrix :math:`V_{rs}/n_{l-1}` at layer l (zero at l = 1)."""
        i = l - 1
        n = self.widths[i - 1] if i else None
        return tuple(tuple(0 * v if n is None else v / n for v in row) for row in self.V[i])

    def correlation(self, l: int):
        r"""Infinite-width correlation :math:`\rho^{(l)} = K_{12}/\sqrt{K_{11}K_{22}}`."""
        K = self.K[l - 1]
        return K[1] / (sympy.sqrt(K[0] * K[2]) if self.exact else mpmath.sqrt(K[0] * K[2]))

    def rows(self) -> list:
        """One row per layer: width, K_r, K1_r and the six distinct V_rs."""
        out = []
        for i in range(self.depth):
            row = {"layer": i + 1, "width": self.widths[i]}
            row.update({f"K_{c}": self.K[i][r] for r, c in enumerate(COMPONENTS)})
            row.update({f"K1_{c}": self.K1[i][r] for r, c in enumerate(COMPONENTS)})
            for r in range(3):
                for s in range(r, 3):
                    row[f"V_{COMPONENTS[r]}_{COMPONENTS[s]}"] = self.V[i][r][s]
            row["numbers"] = self.numbers
            out.append(row)
        return out


def _check_q0(q0: Any) -> tuple:
    if isinstance(q0, (str, bytes)) or not hasattr(q0, "__len__") or len(q0) != 3:
        raise TypeError(f"q0 must be the input covariances (q11, q12, q22), got {q0!r}")
    q11 = _positive(q0[0], "q0[0] (q11)")
    q22 = _positive(q0[2], "q0[2] (q22)")
    q12 = exact_real(q0[1], "q0[1] (q12)")
    if q12**2 > q11 * q22:
        raise ValueError(f"q0 violates Cauchy-Schwarz: q12^2 > q11 q22 ({q0!r})")
    return q11, q12, q22


@lru_cache(maxsize=64)
def _unit_means(act) -> dict:
    return gaussian_means(act, 1)


def _float_diagonal(act, K) -> dict:
    r"""F2 data at variance K by 1D Gauss–Hermite (float64), via the heat equation.

    :math:`g' = \tfrac12\langle(\phi^2)^{(2)}\rangle`, :math:`g'' = \tfrac14\langle(\phi^2)^{(4)}\rangle` with
    :math:`(\phi^2)^{(2)} = 2(\phi'^2 + \phi\phi^{(2)})` and
    :math:`(\phi^2)^{(4)} = 2(\phi\phi^{(4)} + 4\phi'\phi^{(3)} + 3(\phi^{(2)})^2)`.
    """
    u, w = hermite_rule_float(float_nodes((K, 0, K)))
    f = [act.numpy_function(j)(float(mpmath.sqrt(K)) * u) for j in range(5)]
    E = lambda v: mpmath.mpf(float(w @ v))  # noqa: E731
    return {"g": E(f[0] ** 2), "phi4": E(f[0] ** 4), "dg": E(f[1] ** 2 + f[0] * f[2]),
            "d2g": E(f[0] * f[4] + 4 * f[1] * f[3] + 3 * f[2] ** 2) / 2}


def _diagonal(act, K, exact: bool, numeric, numbers: str) -> dict:
    """Single-input means at variance K (F2 data), as exact or numeric numbers."""
    if isinstance(act, ABRelu) and not exact:  # homogeneous of degree 1: scale the exact unit-variance values
        m = _unit_means(act)
        return {"g": numeric(m["g"]) * K, "phi4": numeric(m["phi4"]) * K**2, "dg": numeric(m["dg"]), "d2g": 0 * K}
    if exact:
        return gaussian_means(act, K, exact=True)
    if numbers == "float64":
        return {k: float(v) for k, v in _float_diagonal(act, K).items()}
    return {k: numeric(v) for k, v in gaussian_means(act, K, exact=False).items()}


def _layer_data(act, K: tuple, exact: bool, precision: str, numeric, numbers: str) -> tuple:
    """g_r, the gradient matrix dg[r][s], the Hessians d2g[r][s][t] and the covariances <phi_r phi_s> - g_r g_s."""
    d1, d2 = _diagonal(act, K[0], exact, numeric, numbers), _diagonal(act, K[2], exact, numeric, numbers)
    pm = pair_means(act, K, exact=exact, precision=precision)
    pm = {"g12": numeric(pm["g12"]), "dg12": [numeric(v) for v in pm["dg12"]],
          "d2g12": [[numeric(v) for v in r] for r in pm["d2g12"]], "four": {k: numeric(v) for k, v in pm["four"].items()}}
    zero = 0 * d1["g"]
    g = (d1["g"], pm["g12"], d2["g"])
    grad = ((d1["dg"], zero, zero), tuple(pm["dg12"]), (zero, zero, d2["dg"]))
    h1 = [[zero] * 3 for _ in range(3)]
    h1[0][0] = d1["d2g"]
    h3 = [[zero] * 3 for _ in range(3)]
    h3[2][2] = d2["d2g"]
    hess = (h1, pm["d2g12"], h3)
    f = pm["four"]  # E[phi1^a phi2^(4-a)]
    moment = {(0, 0): d1["phi4"], (0, 1): f[(3, 1)], (0, 2): f[(2, 2)], (1, 1): f[(2, 2)], (1, 2): f[(1, 3)],
              (2, 2): d2["phi4"]}
    cov = [[None] * 3 for _ in range(3)]
    for r in range(3):
        for s in range(r, 3):
            cov[r][s] = cov[s][r] = moment[(r, s)] - g[r] * g[s]
    return g, grad, hess, cov


def finite_width_pair(widths: Any, act: Any, C_W: Any, C_b: Any = 0, q0: Any = (1, 0, 1), *,
                      precision: str | None = None) -> FiniteWidthPair:
    r"""Two-input leading-order finite-width recursions (F5)–(F7), layers 1..L.

    ``q0 = (x1.x1/n0, x1.x2/n0, x2.x2/n0)``.  Exact sympy for polynomial activations with exact
    parameters.  Otherwise ``precision`` picks the arithmetic: ``"mpmath"`` (context precision; the default
    for the ReLU family, closed forms, needs :math:`|\rho| < 1`) or ``"float64"`` (the default for smooth
    activations, tensor Gauss–Hermite, ~1e-12 relative error, 1e-8 for high tanh moments; for the ReLU
    family the same closed forms in float64, for speed).

    >>> from eigencalc import activation
    >>> r = finite_width_pair([5, 5, 5], activation("monomial", degree=1), 1, 0, (2, 1, 2))   # deep linear
    >>> r.V[2][1][1]     # V_{12,12} = (l - 1)(K11 K22 + K12^2) = 2 * 5 at l = 3
    10
    """
    widths = check_widths(widths)
    act = activation(act)
    C_W = _positive(C_W, "C_W")
    C_b = _positive(C_b, "C_b", allow_zero=True)
    q0 = _check_q0(q0)
    engine = pair_engine(act)
    if precision is None:
        precision = "mpmath" if engine == "relu-closed-form" else "float64"
    if precision not in ("float64", "mpmath"):
        raise ValueError(f"precision must be None, 'float64' or 'mpmath', got {precision!r}")
    exact = engine == "exact" and all(not v.has(sympy.Float) for v in (C_W, C_b, *q0))
    if exact:
        numeric, simp = (lambda v: v), sympy.expand  # noqa: E731
        numbers = "exact"
    elif precision == "float64":
        numeric = simp = lambda v: float(v)  # noqa: E731
        numbers = "float64"
    else:
        numeric = lambda v: to_mpf(v) if isinstance(v, sympy.Basic) else (+v if isinstance(v, mpmath.mpf) else mpmath.mpf(v))  # noqa: E731
        simp = numeric
        numbers = "mpmath"
    if not exact:
        C_W, C_b, q0 = numeric(C_W), numeric(C_b), tuple(numeric(q) for q in q0)
    zero = C_W * 0
    K = [tuple(simp(C_b + C_W * q) for q in q0)]
    V = [tuple((zero,) * 3 for _ in range(3))]
    K1 = [(zero,) * 3]
    chis = []
    for i in range(len(widths)):
        g, grad, hess, cov = _layer_data(act, K[i], exact, precision, numeric, numbers)
        chi = tuple(tuple(simp(C_W * d) for d in row) for row in grad)
        chis.append(chi)
        if i + 1 == len(widths):
            break
        ratio = sympy.Rational(widths[i], widths[i - 1]) if i > 0 else 0
        ratio = ratio if exact else numeric(ratio)
        Vi, K1i = V[i], K1[i]
        K.append(tuple(simp(C_b + C_W * gr) for gr in g))  # (F5)
        newV = [[None] * 3 for _ in range(3)]
        for r in range(3):
            for s in range(r, 3):
                prop = sum((chi[r][t] * chi[s][u] * Vi[t][u] for t in range(3) for u in range(3)), zero)
                newV[r][s] = newV[s][r] = simp(C_W**2 * cov[r][s] + ratio * prop)  # (F6)
        V.append(tuple(tuple(row) for row in newV))
        K1.append(tuple(simp(ratio * (sum((chi[r][t] * K1i[t] for t in range(3)), zero)
                                      + C_W / 2 * sum((hess[r][t][u] * Vi[t][u] for t in range(3) for u in range(3)), zero)))
                        for r in range(3)))  # (F7)
    return FiniteWidthPair(act.name, widths, C_W, C_b, q0, tuple(K), tuple(chis), tuple(V), tuple(K1), numbers)
