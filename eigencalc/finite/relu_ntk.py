r"""The exact NTK mean and variance of a bias-free ReLU MLP at one input, at every width (F23).

The leading-order NTK fluctuations (F9), (F11) carry a remainder of relative size
:math:`(A+2B)/(nH^2)`, about 3.4 l/n for ReLU, so they are off by a factor 2 at L/n = 1/2.  For
:math:`\phi(z) = b\max(z, 0)` and :math:`C_b = 0` the finite network's NTK at one input reduces exactly to
independent per-layer random variables, and its first two moments are finite sums of rationals.

Derivation (NTK parameterisation of :mod:`.ntk`; output unit i of layer L).  With
:math:`\delta^{(l)} = \partial z^{(L)}_i/\partial z^{(l)}`, every parameter of layer l enters through a rank-one
gradient, so :math:`\hat H^{(L)}_{ii} = \sum_{l=1}^{L}\hat G^{(l)}\,x_l`, :math:`x_l = |\delta^{(l)}|^2`,
:math:`\hat G^{(l)} = C_W|\phi(z^{(l-1)})|^2/n_{l-1}` (:math:`\hat G^{(1)} = C_W q_0`).  Write
:math:`z^{(l+1)} = W a` with W standard normal and :math:`a = \sigma_l\phi(z^{(l)})`, :math:`\sigma_l^2 = C_W/n_l`.
Split :math:`W = W P_a + W P_a^\perp`: the forward pass sees only :math:`Wa = z^{(l+1)}`, and
:math:`W P_a^\perp` is independent of it and of everything above, so

.. math:: W^\top\delta^{(l+1)} = \hat a\,\frac{s_{l+1}}{|a|} + \sqrt{x_{l+1}}\; g_\perp, \qquad
          s_l = z^{(l)}\cdot\delta^{(l)},\quad g_\perp \sim N(0, I - \hat a\hat a^\top) \text{ independent},

and :math:`\delta^{(l)} = \sigma_l D_l W^\top\delta^{(l+1)}` with :math:`D_l = \mathrm{diag}\,\phi'(z^{(l)})`.  For ReLU,
:math:`D_l` projects onto the :math:`B_l` active units, :math:`D_l\hat a = \hat a`, and with
:math:`U_l = |\phi(z^{(l)})|^2/\hat G^{(l)} \sim \chi^2_{B_l}`, :math:`V_l = |D_l g_\perp|^2 \sim \chi^2_{B_l-1}`:

.. math:: s_l = s_{l+1} = z^{(L)}_i \quad\text{(Euler)}, \qquad
          x_l = \frac{C_W}{n_l}\Big[\frac{\hat G^{(L)}}{\hat G^{(l+1)}}\,\xi^2 + V_l\, x_{l+1}\Big], \qquad
          \hat G^{(l+1)} = Y_l \hat G^{(l)},\ Y_l = \frac{C_W}{n_l}U_l,

with :math:`x_L = 1`, :math:`\xi = z^{(L)}_i/\sqrt{\hat G^{(L)}} \sim N(0,1)`.  Given that no layer is dead, the
:math:`B_l \sim \mathrm{Bin}(n_l, \tfrac12)` are independent, :math:`U_l, V_l` are independent given
:math:`B_l`, and everything is independent of ξ; a dead layer (:math:`B_l = 0`, probability :math:`2^{-n_l}`)
makes :math:`\hat H_{ii} = 0`.  Expanding, :math:`\hat H_{ii} = \hat G^{(1)}\,e_0^\top T_1\cdots T_{L-1}\mathbf 1`
(F23) with the path matrices

.. math:: T_l = \begin{pmatrix} Y_l & V'_l & c_l\xi^2 \\ 0 & V'_l & c_l\xi^2 \\ 0 & 0 & Y_l\end{pmatrix}
          \mathbf 1\{B_l \ge 1\}, \qquad c_l = \frac{C_W}{n_l},\ V'_l = c_l V_l

(state 0: layers below the one whose parameters are counted; 1: between it and the layer where
:math:`s^2/|a|^2` enters; 2: above), so by independence :math:`E\hat H_{ii} = \hat G^{(1)} e_0^\top\prod_l E[T_l]\mathbf 1`
and :math:`E\hat H_{ii}^2 = \hat G^{(1)2}(e_0\otimes e_0)^\top\prod_l E[T_l\otimes T_l](\mathbf 1\otimes\mathbf 1)`, with
:math:`E\xi^2 = 1`, :math:`E\xi^4 = 3` applied at the end (ξ is shared by the layers) and
:math:`E[U^aV^b\mathbf 1\{B\ge1\}] = \sum_{B\ge1}\binom{n}{B}2^{-n}\,\mu_a(B)\mu_b(B-1)`,
:math:`\mu_a(k) = k(k+2)\cdots(k+2a-2)`.

Checks: :math:`E\hat H_{ii} = lK` exactly (the mean has no 1/n shift, as F13 says for ReLU); n × variance
tends to (A + 2B) of (F9), (F11); Monte-Carlo of finite networks within 4 standard errors at L/n up to 1/2
(tests), where the leading order is off by a factor of about 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from ..core.numbers import exact_real
from ..core.tables import Tabular
from ..duals.activations import ABRelu, activation
from .recursions import _positive, check_widths

__all__ = ["ExactReluNTK", "exact_relu_ntk"]


def _chi2_moment(k: int, a: int) -> int:
    r""":math:`E(\chi^2_k)^a = k(k+2)\cdots(k+2a-2)`."""
    out = 1
    for i in range(a):
        out *= k + 2 * i
    return out


def _layer_moments(n: int, C_W: sympy.Expr) -> dict:
    r""":math:`E[Y^aV'^b\mathbf 1\{B\ge1\}]` for a + b ≤ 2, and ``"alive"`` = :math:`P(B \ge 1)` (F23)."""
    c = C_W / n
    out = {}
    for a in range(3):
        for b in range(3 - a):
            total = sum(sympy.binomial(n, B) * _chi2_moment(B, a) * _chi2_moment(B - 1, b) for B in range(1, n + 1))
            out[(a, b)] = total / sympy.Integer(2) ** n * c ** (a + b)
    return out


# The path matrix T_l of (F23): entry kinds "Y", "V" (V'), "c" (c_l xi^2) or None.
_KINDS = (("Y", "V", "c"), (None, "V", "c"), (None, None, "Y"))
_POWERS = {"Y": (1, 0, 0), "V": (0, 1, 0), "c": (0, 0, 1)}  # powers of (Y, V', c xi^2)


def _expected(kinds: tuple, mom: dict, c: sympy.Expr) -> list:
    r"""E of a product of path-matrix entries of one layer, as coefficients of :math:`\xi^{2k}`, k = 0, 1, 2."""
    a = sum(_POWERS[k][0] for k in kinds)
    b = sum(_POWERS[k][1] for k in kinds)
    e = sum(_POWERS[k][2] for k in kinds)
    coeffs = [sympy.Integer(0)] * 3
    coeffs[e] = mom[(a, b)] * c**e
    return coeffs


def _transfer(mom: dict, c: sympy.Expr, square: bool) -> list:
    r""":math:`E[T_l]` (3x3) or :math:`E[T_l\otimes T_l]` (9x9), entries as :math:`\xi^2`-coefficient lists."""
    idx = [(i,) for i in range(3)] if not square else [(i, j) for i in range(3) for j in range(3)]
    M = []
    for row in idx:
        M.append([])
        for col in idx:
            kinds = tuple(_KINDS[r][q] for r, q in zip(row, col))
            M[-1].append(None if None in kinds else _expected(kinds, mom, c))
    return M


def _vec_times(v: list, M: list) -> list:
    """Row vector (entries: xi^2-coefficient lists) times a matrix of the same, truncated at xi^4."""
    out = []
    for j in range(len(M[0])):
        acc = [sympy.Integer(0)] * 3
        for i, vi in enumerate(v):
            if M[i][j] is None:
                continue
            for p in range(3):
                for q in range(3 - p):
                    acc[p + q] += vi[p] * M[i][j][q]
        out.append(acc)
    return out


class NTKMomentsTable(Tabular):
    r"""Shared view of per-layer NTK moments beyond leading order (F23, F24): fields ``widths``, ``mean``,
    ``variance``; subclasses add their own columns through :meth:`_extra`."""

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def normalized_variance(self) -> tuple:
        r""":math:`\mathrm{Var}\,\hat H/(E\hat H)^2` per layer (the all-orders analogue of :math:`(A+2B)/(nH^2)`)."""
        return tuple(v / m**2 for v, m in zip(self.variance, self.mean))

    def _extra(self, i: int) -> dict:
        return {}

    def rows(self) -> list:
        """One row per layer: width, NTK mean and variance, their ratio, then the subclass's columns."""
        nv = self.normalized_variance
        return [{"layer": i + 1, "width": n, "ntk_mean": self.mean[i], "ntk_variance": self.variance[i],
                 "variance_over_mean2": nv[i], **self._extra(i)} for i, n in enumerate(self.widths)]


@dataclass(frozen=True)
class ExactReluNTK(NTKMomentsTable):
    r"""Exact :math:`E\hat H^{(l)}_{ii}` and :math:`\mathrm{Var}\,\hat H^{(l)}_{ii}` per layer l of a bias-free ReLU MLP (F23); sympy rationals."""

    activation: str
    widths: tuple
    C_W: Any
    q0: Any
    mean: tuple
    variance: tuple

    def _extra(self, i: int) -> dict:
        return {"exact": True}


def _check_scale_invariant_relu(act, C_W, C_b) -> sympy.Expr:
    """phi = b max(z, 0) and C_b = 0, else a clear error; returns (C_W, C_W b^2): the first layer sees C_W,
    the deeper ones (forward and backward) the same as ReLU at C_W b^2."""
    if not isinstance(act, ABRelu) or act.a != 0:
        raise ValueError(f"the exact NTK moments (F23) cover phi = b max(z, 0) only, got {act.name!r}; "
                         "use finite_width_ntk for the leading order")
    if exact_real(C_b, "C_b") != 0:
        raise ValueError("the exact NTK moments (F23) need C_b = 0 (a bias breaks the Euler identity s_l = s_L)")
    C_W = _positive(C_W, "C_W")
    return C_W, C_W * act.b**2


def exact_relu_ntk(widths: Any, act: Any = "relu", C_W: Any = 2, C_b: Any = 0, q0: Any = 1) -> ExactReluNTK:
    r"""Exact mean and variance of the diagonal NTK :math:`\hat H^{(l)}_{ii}` at one input, every layer (F23).

    ``widths = (n_1, ..., n_L)``; NTK parameterisation; :math:`\phi = b\max(z,0)`, no bias (for b ≠ 1 the
    layers above the first are those of ReLU at :math:`C_W b^2`).

    >>> r = exact_relu_ntk([10, 10, 8])
    >>> r.mean, r.variance[2]        # H = l K with K = 2; Var at layer 3
    ((2, 4, 6), 693/25)
    """
    widths = check_widths(widths)
    act = activation(act)
    C_W, C_deep = _check_scale_invariant_relu(act, C_W, C_b)
    q0 = _positive(q0, "q0")
    g1 = C_W * q0
    mean_vec = [[sympy.Integer(1), 0, 0], [sympy.Integer(0)] * 3, [sympy.Integer(0)] * 3]
    sq_vec = [[sympy.Integer(1), 0, 0]] + [[sympy.Integer(0)] * 3 for _ in range(8)]
    xi = (1, 1, 3)  # E xi^0, E xi^2, E xi^4
    means, variances = [], []
    for l, n in enumerate(widths):
        m1 = g1 * sum(sum(v[k] * xi[k] for k in range(3)) for v in mean_vec)
        m2 = g1**2 * sum(sum(v[k] * xi[k] for k in range(3)) for v in sq_vec)
        means.append(sympy.sympify(m1))
        variances.append(sympy.expand(m2 - m1**2))
        if l + 1 < len(widths):
            mom, c = _layer_moments(n, C_deep), C_deep / n
            mean_vec = _vec_times(mean_vec, _transfer(mom, c, square=False))
            sq_vec = _vec_times(sq_vec, _transfer(mom, c, square=True))
    return ExactReluNTK(act.name, widths, C_W, q0, tuple(means), tuple(variances))
