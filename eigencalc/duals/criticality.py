r"""Criticality of deep networks at initialization (Roberts–Yaida–Hanin, ch. 5).

Implements ``../shared/MATH.md`` section 3.  The single-input kernel follows

.. math:: K_{l+1} = C_b + C_W\, g(K_l), \qquad g(K) = \langle \phi(z)^2 \rangle_K,

and at a fixed point :math:`K^*` the parallel and perpendicular
susceptibilities are

.. math::

    \chi_\parallel = \frac{C_W}{2 K^{*2}} \langle \phi(z)^2 (z^2 - K^*) \rangle_{K^*}
                   = C_W\, g'(K^*), \qquad
    \chi_\perp = C_W \langle \phi'(z)^2 \rangle_{K^*}.

Criticality is :math:`\chi_\parallel = \chi_\perp = 1`.  Two Gaussian
integrations by parts give :math:`g'(K) = \langle \phi'^2 + \phi\phi'' \rangle_K`,
so a critical point with :math:`K^* > 0` needs :math:`\langle \phi \phi''\rangle_{K^*} = 0`
— the equation solved numerically for activations outside the two classes
with closed answers:

* scale-invariant (:math:`\phi = a\min(x,0) + b\max(x,0)`): every K is a fixed
  point at :math:`C_b = 0`, :math:`C_W = 2/(a^2 + b^2)`, exactly;
* :math:`K^* = 0` (:math:`\phi(0) = 0`, :math:`\sigma_1 = \phi'(0) \ne 0`):
  :math:`C_b = 0`, :math:`C_W = 1/\sigma_1^2`, provided the flow towards 0 is
  attractive, i.e. :math:`a_1 = \sigma_3/\sigma_1 + \tfrac34 (\sigma_2/\sigma_1)^2 < 0`
  (RYH eq. 5.86 ff.; tanh: :math:`a_1 = -2`; GELU and swish have :math:`a_1 > 0`).

Reference: D. A. Roberts, S. Yaida, B. Hanin, *The Principles of Deep Learning
Theory*, arXiv:2106.10165, chapter 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from ..core.numbers import to_mpf
from ..core.tables import Tabular
from .activations import (
    ABRelu,
    Activation,
    Polynomial,
    _numeric_gaussian_mean,
    activation,
    x,
)

__all__ = ["Criticality", "criticality", "kernel_flow"]


@dataclass(frozen=True)
class Criticality(Tabular):
    r"""Critical initialization of an activation (RYH ch. 5, MATH.md section 3).

    ``K_star`` is None for the scale-invariant class (a line of fixed points).
    ``exact`` says whether the numbers are exact sympy values or mpmath numbers
    found by root finding at the current ``mpmath.mp.dps``.
    """

    activation: str
    universality: str
    C_b: Any
    C_W: Any
    K_star: Any
    chi_parallel: Any
    chi_perp: Any
    exact: bool
    note: str = ""
    details: dict = field(default_factory=dict)

    @property
    def is_critical(self) -> bool:
        return self.universality != "none"

    def rows(self) -> list:
        """One row: activation, class, C_b, C_W, K*, susceptibilities, exactness."""
        keys = ("activation", "universality", "C_b", "C_W", "K_star", "chi_parallel", "chi_perp", "exact")
        return [{k: getattr(self, k) for k in keys}]


def _taylor_at_zero(act: Activation, order: int = 3) -> list:
    """sigma_j = phi^{(j)}(0), j = 0..order, exactly (sympy)."""
    expr = act.expr
    out = []
    for j in range(order + 1):
        value = sympy.limit(sympy.diff(expr, x, j), x, 0)
        out.append(sympy.nsimplify(value) if value.is_Float else value)
    return out


def _is_scale_invariant(act: Activation):
    if isinstance(act, ABRelu):
        return act.a, act.b
    if isinstance(act, Polynomial) and act.degree == 1 and act.coeffs[0] == 0:
        return act.coeffs[1], act.coeffs[1]
    return None


def _gaussian_mean(act: Activation, integrand_expr: sympy.Expr, K) -> mpmath.mpf:
    fn = sympy.lambdify(x, integrand_expr, modules="mpmath")
    return _numeric_gaussian_mean(fn, K, act._breakpoints())


def criticality(act: Any, *, k_range: tuple = (1e-3, 1e3), grid: int = 60) -> Criticality:
    r"""Critical :math:`(C_b, C_W)`, fixed point :math:`K^*` and susceptibilities (MATH.md section 3).

    >>> c = criticality("relu"); (c.universality, c.C_W, c.C_b)
    ('scale-invariant', 2, 0)
    >>> c = criticality("tanh"); (c.universality, c.C_W, c.K_star, c.chi_parallel)
    ('K*=0', 1, 0, 1)
    """
    act = activation(act)
    ab = _is_scale_invariant(act)
    if ab is not None:
        a, b = ab
        return Criticality(
            act.name,
            "scale-invariant",
            sympy.Integer(0),
            2 / (a**2 + b**2),
            None,
            sympy.Integer(1),
            sympy.Integer(1),
            True,
            "every K > 0 is a fixed point at criticality (C_b = 0)",
        )
    sigma = _taylor_at_zero(act)
    notes = []
    if sigma[0] == 0 and sigma[1] not in (0, sympy.nan) and sigma[1].is_finite:
        a1 = sympy.simplify(sigma[3] / sigma[1] + sympy.Rational(3, 4) * (sigma[2] / sigma[1]) ** 2)
        if a1.is_negative:
            one = sympy.Integer(1)
            return Criticality(
                act.name, "K*=0", sympy.Integer(0), 1 / sigma[1] ** 2, sympy.Integer(0), one, one, True,
                f"a1 = {a1} < 0: K -> 0 like 1/(-a1 l)", {"a1": a1, "sigma": sigma},
            )
        notes.append(f"phi(0) = 0 but a1 = {a1} >= 0: K* = 0 is not an attractive critical point")
    return _nonzero_fixed_point(act, k_range, grid, notes)


def _nonzero_fixed_point(act: Activation, k_range, grid, notes) -> Criticality:
    r"""Solve :math:`\langle\phi\phi''\rangle_K = 0` for K > 0, then C_W, C_b >= 0."""
    if act.homogeneity == 0 or sympy.diff(act.expr, x).has(sympy.DiracDelta):
        return Criticality(act.name, "none", None, None, None, None, None, False,
                           "phi' is not a function: chi_perp is infinite")
    phi_ddphi = act.expr * sympy.diff(act.expr, x, 2)
    if phi_ddphi.has(sympy.DiracDelta):
        return Criticality(act.name, "none", None, None, None, None, None, False, "phi'' is a distribution")
    h = lambda K: _gaussian_mean(act, phi_ddphi, K)  # noqa: E731 - one-line integrand
    lo, hi = (mpmath.mpf(v) for v in k_range)
    grid_points = [lo * (hi / lo) ** (mpmath.mpf(i) / grid) for i in range(grid + 1)]
    values = [h(K) for K in grid_points]
    for K0, K1, h0, h1 in zip(grid_points, grid_points[1:], values, values[1:]):
        if h0 == 0 or h0 * h1 < 0:
            K_star = K0 if h0 == 0 else mpmath.findroot(h, (K0, K1), solver="anderson")
            phi_sq = _gaussian_mean(act, act.expr**2, K_star)
            dphi_sq = _gaussian_mean(act, sympy.diff(act.expr, x) ** 2, K_star)
            C_W = 1 / dphi_sq
            C_b = K_star - C_W * phi_sq
            if C_b < 0:
                notes.append(f"root K = {mpmath.nstr(K_star, 8)} needs C_b < 0")
                continue
            chi_par = C_W * (dphi_sq + h(K_star))
            return Criticality(act.name, "K*>0", C_b, C_W, K_star, chi_par, C_W * dphi_sq, False,
                               "; ".join(notes + ["<phi phi''>_{K*} = 0 solved numerically"]))
    notes.append(f"<phi phi''>_K has no admissible zero for K in [{k_range[0]:g}, {k_range[1]:g}]")
    return Criticality(act.name, "none", None, None, None, None, None, False, "; ".join(notes))


def kernel_flow(act: Any, C_W: Any, C_b: Any, K0: Any, depth: int) -> list:
    r"""The single-input kernel recursion :math:`K_{l+1} = C_b + C_W \langle\phi^2\rangle_{K_l}` (RYH ch. 5).

    Returns :math:`[K_0, \dots, K_{depth}]`: exact sympy rationals while every
    value stays rational (ReLU family and polynomials with rational inputs),
    mpmath numbers at the working precision otherwise (nested closed forms
    such as erf's arcsin would grow without bound).

    >>> kernel_flow("relu", 2, 0, 1, 3)
    [1, 1, 1, 1]
    """
    act = activation(act)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    C_W, C_b, K = (sympy.nsimplify(sympy.sympify(v)) if isinstance(v, float) else sympy.sympify(v) for v in (C_W, C_b, K0))
    exact = isinstance(act, (ABRelu, Polynomial)) and all(v.is_Rational for v in (C_W, C_b, K))
    if not exact:
        C_W, C_b, K = to_mpf(C_W), to_mpf(C_b), to_mpf(K)
    flow = [K]
    for _ in range(depth):
        moment = act.second_moment(K if exact else sympy.Float(K, mpmath.mp.dps))
        K = C_b + C_W * (moment if exact else to_mpf(moment))
        flow.append(K)
    return flow
