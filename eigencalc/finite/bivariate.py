r"""Gaussian means of two correlated preactivations, and their derivatives in the covariance.

The two-input recursions (F5)–(F7) of :mod:`eigencalc.finite.two_input` need, at a
2x2 covariance :math:`G = (G_{11}, G_{12}, G_{22})` and :math:`(z_1, z_2) \sim N(0, G)`:

* :math:`g_{12}(G) = E[\phi(z_1)\phi(z_2)]`;
* its gradient and Hessian in the three *symmetric coordinates*
  :math:`G_r, r \in \{11, 12, 22\}` (the off-diagonal entry counted once).  With
  :math:`D_{11} = \tfrac12\partial_1^2`, :math:`D_{12} = \partial_1\partial_2`,
  :math:`D_{22} = \tfrac12\partial_2^2` (heat equation of the Gaussian density,
  :math:`\partial_{G_{ij}} p = \tfrac12 \partial_i\partial_j p`, both off-diagonal
  entries moving together),

  .. math:: \partial_{G_r} g_{12} = c_r\, E[\phi^{(n_1)}(z_1)\phi^{(n_2)}(z_2)], \qquad
            \partial_{G_r}\partial_{G_s} g_{12} = c_r c_s\, E[\phi^{(m_1)}(z_1)\phi^{(m_2)}(z_2)],

  where :math:`c_{11} = c_{22} = 1/2`, :math:`c_{12} = 1` and :math:`n_a, m_a` count
  the indices equal to a in (r) resp. (r, s);
* the fourth moments :math:`E[\phi(z_1)^\alpha \phi(z_2)^\beta]`, :math:`\alpha + \beta = 4`.

Three engines, chosen by the activation:

* polynomial :math:`\phi`: exact sympy, from
  :math:`E[z_1^i z_2^j] = \frac{i!\,j!}{k!\,2^k} [t_1^i t_2^j] (G_{11}t_1^2 + 2G_{12}t_1t_2 + G_{22}t_2^2)^k`,
  :math:`k = (i+j)/2` (the moment generating function :math:`e^{t^\top G t/2}`),
  differentiated symbolically;
* ReLU family :math:`\phi = a\min(z,0) + b\max(z,0)`: the closed form
  :math:`g_{12} = ab\,G_{12} + (b-a)^2 J_1`, :math:`J_1 = (\sqrt{G_{11}G_{22} - G_{12}^2} + (\pi - \theta)G_{12})/2\pi`
  (MATH.md section 2, :math:`\theta = \arccos\rho`), differentiated symbolically and
  evaluated in mpmath; the fourth moments by the polar identity
  :math:`E f(z) = \frac{E R^4}{2\pi}\int_0^{2\pi} f(L\omega_\theta)\,d\theta` for f
  homogeneous of degree 4 (:math:`R^2 \sim \chi^2_2`, :math:`E R^4 = 8`, L the
  Cholesky factor), tanh-sinh split at the four kink angles;
* smooth :math:`\phi` (tanh, GELU, erf, swish, ...): a tensor Gauss–Hermite rule in
  mpmath at the context precision with ``nodes`` per axis,
  :math:`z_1 = \sqrt{G_{11}}\, u`, :math:`z_2 = \frac{G_{12}}{\sqrt{G_{11}}} u + \sqrt{G_{22} - G_{12}^2/G_{11}}\, v`;
  exact for polynomials of degree < 2N per axis and geometrically convergent for
  integrands analytic in a strip.  :math:`\phi^{(j)}` comes from
  :meth:`Activation.mp_function`; an activation whose fourth derivative is a
  distribution (kinks other than the ReLU family, step) is not covered.
"""

from __future__ import annotations

import math
from functools import lru_cache
from math import factorial
from typing import Any

import mpmath
import numpy as np
import sympy

from ..core.numbers import to_mpf
from ..duals.activations import ABRelu, Activation, Polynomial, x
from ..special.gaussian import hermite_rule_float, hermite_rule_mp

__all__ = ["PAIRS", "pair_means", "pair_engine", "gh_nodes", "float_nodes"]

#: The symmetric coordinates r = 11, 12, 22 as index pairs (0-based).
PAIRS = ((0, 0), (0, 1), (1, 1))
_C = (sympy.Rational(1, 2), sympy.Integer(1), sympy.Rational(1, 2))
_S11, _S12, _S22 = sympy.symbols("G11 G12 G22", real=True)
_SYMS = (_S11, _S12, _S22)


def pair_engine(act: Activation) -> str:
    """Which engine :func:`pair_means` uses: ``"exact"``, ``"relu-closed-form"`` or ``"gauss-hermite"``.

    >>> pair_engine(__import__("eigencalc").activation("tanh"))
    'gauss-hermite'
    """
    if isinstance(act, Polynomial):
        return "exact"
    if isinstance(act, ABRelu):
        return "relu-closed-form"
    try:
        act.mp_function(4)
    except ValueError:
        raise ValueError(
            f"activation {act.name!r} is not covered by the two-input recursion: its derivatives up to order 4 "
            "must be functions (smooth activations, polynomials or the ReLU family)"
        ) from None
    return "gauss-hermite"


def gh_nodes(dps: int | None = None) -> int:
    """Gauss–Hermite nodes per axis used at ``dps`` digits (default: context): 2 dps + 24."""
    return 2 * int(dps or mpmath.mp.dps) + 24


# ----------------------------------------------------------------------------
# exact engine: polynomial activations
# ----------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _moment(i: int, j: int) -> sympy.Expr:
    r""":math:`E[z_1^i z_2^j]` under N(0, G) as a polynomial in (G11, G12, G22)."""
    if (i + j) % 2:
        return sympy.Integer(0)
    k = (i + j) // 2
    t1, t2 = sympy.symbols("t1 t2")
    Q = sympy.Poly((_S11 * t1**2 + 2 * _S12 * t1 * t2 + _S22 * t2**2) ** k, t1, t2)
    return sympy.expand(Q.coeff_monomial(t1**i * t2**j) * factorial(i) * factorial(j) / (factorial(k) * 2**k))


def _poly_mean(f: sympy.Expr, h: sympy.Expr) -> sympy.Expr:
    """E[f(z1) h(z2)] for polynomials f, h in x, as a polynomial in (G11, G12, G22)."""
    pf, ph = sympy.Poly(f, x), sympy.Poly(h, x)
    return sympy.expand(sum(
        (cf * ch * _moment(i, j) for (i,), cf in pf.terms() for (j,), ch in ph.terms()), sympy.Integer(0)))


@lru_cache(maxsize=64)
def _polynomial_tables(act: Polynomial):
    g = _poly_mean(act.expr, act.expr)
    grad = tuple(sympy.diff(g, s) for s in _SYMS)
    hess = tuple(tuple(sympy.diff(d, s) for s in _SYMS) for d in grad)
    four = {(a, 4 - a): _poly_mean(act.expr**a, act.expr ** (4 - a)) for a in range(5)}
    return g, grad, hess, four


def _exact_pair_means(act: Polynomial, G: tuple) -> dict:
    g, grad, hess, four = _polynomial_tables(act)
    sub = dict(zip(_SYMS, G))
    ev = lambda e: sympy.expand(e.subs(sub))  # noqa: E731
    return {"g12": ev(g), "dg12": tuple(ev(d) for d in grad), "d2g12": tuple(tuple(ev(d) for d in row) for row in hess),
            "four": {k: ev(v) for k, v in four.items()}}


# ----------------------------------------------------------------------------
# ReLU family: closed form + polar quadrature
# ----------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _relu_tables(a: sympy.Expr, b: sympy.Expr):
    det = sympy.sqrt(_S11 * _S22 - _S12**2)
    theta = sympy.acos(_S12 / sympy.sqrt(_S11 * _S22))
    g = a * b * _S12 + (b - a) ** 2 * (det + (sympy.pi - theta) * _S12) / (2 * sympy.pi)
    grad = [sympy.diff(g, s) for s in _SYMS]
    hess = [[sympy.diff(d, s) for s in _SYMS] for d in grad]
    out = []
    for module in ("mpmath", "math"):
        lam = lambda e: sympy.lambdify(_SYMS, e, modules=module)  # noqa: E731
        out.append((lam(g), tuple(lam(d) for d in grad), tuple(tuple(lam(d) for d in row) for row in hess)))
    return tuple(out)


def _cholesky(G: tuple):
    s1 = mpmath.sqrt(G[0])
    alpha = G[1] / s1
    beta = mpmath.sqrt(max(G[2] - alpha**2, mpmath.mpf(0)))
    return s1, alpha, beta


@lru_cache(maxsize=8)
def _fourier_table(dps: int):
    """cos(k t_m), sin(k t_m) at the 9 equispaced angles t_m = 2 pi m / 9, k = 0..4 (cached per precision)."""
    ts = [2 * mpmath.pi * m / 9 for m in range(9)]
    return tuple(tuple(mpmath.cos(k * t) for t in ts) for k in range(5)), tuple(tuple(mpmath.sin(k * t) for t in ts) for k in range(5))


def _relu_four(act: ABRelu, G: tuple) -> dict:
    r""":math:`E[\phi(z_1)^\alpha\phi(z_2)^\beta]`, :math:`\alpha+\beta = 4`, by the polar identity (degree 4).

    On each arc between the kink angles (:math:`z_1 = 0` or :math:`z_2 = 0`) the integrand is
    :math:`s^\alpha t^\beta Q(\theta)` with slopes s, t in {a, b} and the trigonometric polynomial
    :math:`Q = (\sqrt{G_{11}}\cos\theta)^\alpha(\alpha_L\cos\theta + \beta_L\sin\theta)^\beta` of degree 4;
    its Fourier coefficients :math:`Q = \sum_{k \le 4} A_k \cos k\theta + B_k \sin k\theta` are exact from
    9 equispaced samples, so every arc integral is exact up to rounding.
    """
    a, b = to_mpf(act.a), to_mpf(act.b)
    s1, al_, be_ = _cholesky(G)
    theta0 = mpmath.atan2(-al_, be_)  # z2 = 0
    cuts = {-mpmath.pi / 2, mpmath.pi / 2, theta0, theta0 + mpmath.pi if theta0 < 0 else theta0 - mpmath.pi}
    pts = [-mpmath.pi] + sorted(c for c in cuts if -mpmath.pi < c < mpmath.pi) + [mpmath.pi]
    cos_t, sin_t = _fourier_table(mpmath.mp.dps)
    trig = [([mpmath.cos(k * t) for k in range(5)], [mpmath.sin(k * t) for k in range(5)]) for t in pts]
    slopes = []
    for t0, t1 in zip(pts, pts[1:]):
        mid = (t0 + t1) / 2
        slopes.append((b if mpmath.cos(mid) > 0 else a, b if al_ * mpmath.cos(mid) + be_ * mpmath.sin(mid) > 0 else a))
    z1 = [s1 * c for c in cos_t[1]]
    z2 = [al_ * c + be_ * sn for c, sn in zip(cos_t[1], sin_t[1])]
    out = {}
    for al in range(5):
        Q = [p**al * q ** (4 - al) for p, q in zip(z1, z2)]
        A = [mpmath.fdot(Q, cos_t[k]) * (1 if k == 0 else 2) / 9 for k in range(5)]
        B = [mpmath.fdot(Q, sin_t[k]) * 2 / 9 for k in range(5)]
        total = mpmath.mpf(0)
        for i, (sl1, sl2) in enumerate(slopes):
            (c0, s0), (c1, s1_), dt = trig[i], trig[i + 1], pts[i + 1] - pts[i]
            arc = A[0] * dt + mpmath.fsum((A[k] * (s1_[k] - s0[k]) - B[k] * (c1[k] - c0[k])) / k for k in range(1, 5))
            total += sl1**al * sl2 ** (4 - al) * arc
        out[(al, 4 - al)] = 4 * total / mpmath.pi  # E R^4 / (2 pi) = 8 / (2 pi)
    return out


def _relu_four_float(act: ABRelu, G: tuple) -> dict:
    """:func:`_relu_four` in float64 (numpy), for speed."""
    a, b = float(act.a), float(act.b)
    s1 = math.sqrt(G[0])
    al_ = G[1] / s1
    be_ = math.sqrt(max(G[2] - al_**2, 0.0))
    theta0 = math.atan2(-al_, be_)
    cuts = {-math.pi / 2, math.pi / 2, theta0, theta0 + math.pi if theta0 < 0 else theta0 - math.pi}
    pts = np.array([-math.pi] + sorted(c for c in cuts if -math.pi < c < math.pi) + [math.pi])
    ts = 2 * math.pi * np.arange(9) / 9
    k = np.arange(5)
    cos_t, sin_t = np.cos(np.outer(k, ts)), np.sin(np.outer(k, ts))
    z1, z2 = s1 * np.cos(ts), al_ * np.cos(ts) + be_ * np.sin(ts)
    mid = (pts[:-1] + pts[1:]) / 2
    sl1 = np.where(np.cos(mid) > 0, b, a)
    sl2 = np.where(al_ * np.cos(mid) + be_ * np.sin(mid) > 0, b, a)
    ck, sk = np.cos(np.outer(pts, k[1:])), np.sin(np.outer(pts, k[1:]))
    out = {}
    for al in range(5):
        Q = z1**al * z2 ** (4 - al)
        A, B = cos_t @ Q * 2 / 9, sin_t @ Q * 2 / 9
        arcs = A[0] / 2 * np.diff(pts) + (np.diff(sk, axis=0) @ (A[1:] / k[1:]) - np.diff(ck, axis=0) @ (B[1:] / k[1:]))
        out[(al, 4 - al)] = float(4 * np.sum(sl1**al * sl2 ** (4 - al) * arcs) / math.pi)
    return out


def _relu_pair_means(act: ABRelu, G: tuple, precision: str = "mpmath") -> dict:
    tables = _relu_tables(act.a, act.b)
    g, grad, hess = tables[0] if precision == "mpmath" else tables[1]
    if precision == "float64":
        G = tuple(float(v) for v in G)
    if G[0] * G[2] - G[1] ** 2 <= 0:
        raise ValueError("the ReLU-family two-input recursion needs non-parallel inputs (|rho| < 1); "
                         "for x1 = x2 use the single-input finite_width_mlp")
    return {"g12": g(*G), "dg12": tuple(d(*G) for d in grad), "d2g12": tuple(tuple(d(*G) for d in row) for row in hess),
            "four": _relu_four(act, G) if precision == "mpmath" else _relu_four_float(act, G)}


# ----------------------------------------------------------------------------
# smooth activations: tensor Gauss–Hermite in mpmath
# ----------------------------------------------------------------------------

def _gh_pair_means(act: Activation, G: tuple, nodes: int) -> dict:
    u, w = hermite_rule_mp(nodes)
    s1, alpha, beta = _cholesky(G)
    f = [act.mp_function(j) for j in range(5)]
    z1 = [s1 * ui for ui in u]
    F1 = [[fj(z) for z in z1] for fj in f]  # F1[j][i] = phi^(j)(z1_i)
    acc = {}
    keys_d = [(j, k) for j in range(5) for k in range(5) if j + k in (2, 4) or (j, k) == (0, 0)]
    for i, ui in enumerate(u):
        row = [alpha * ui + beta * vj for vj in u]
        F2 = [[fj(z) for z in row] for fj in f]
        for j, k in keys_d:  # E[phi^(j)(z1) phi^(k)(z2)]
            acc[("d", j, k)] = acc.get(("d", j, k), 0) + w[i] * F1[j][i] * mpmath.fdot(w, F2[k])
        p1 = F1[0][i]
        for al in range(5):
            p2 = [v ** (4 - al) for v in F2[0]]
            acc[("p", al)] = acc.get(("p", al), 0) + w[i] * p1**al * mpmath.fdot(w, p2)
    count = lambda r, a: sum(1 for idx in r if idx == a)  # noqa: E731
    grad, hess = [], []
    for r, pr in enumerate(PAIRS):
        grad.append(_C[r] * acc[("d", count(pr, 0), count(pr, 1))])
        hess.append([_C[r] * _C[s] * acc[("d", count(pr + ps, 0), count(pr + ps, 1))] for s, ps in enumerate(PAIRS)])
    conv = lambda v: to_mpf(v) if isinstance(v, sympy.Basic) else +v  # noqa: E731
    return {"g12": +acc[("d", 0, 0)], "dg12": tuple(conv(v) for v in grad),
            "d2g12": tuple(tuple(conv(v) for v in row) for row in hess),
            "four": {(al, 4 - al): +acc[("p", al)] for al in range(5)}}


def _gh_pair_means_float(act: Activation, G: tuple, nodes: int) -> dict:
    """The Gauss–Hermite engine in float64 (numpy): same formulas as the mpmath engine, vectorised."""
    u, w = hermite_rule_float(nodes)
    s1, alpha, beta = (float(v) for v in _cholesky(tuple(to_mpf(g) for g in G)))
    f = [act.numpy_function(j) for j in range(5)]
    z1, z2 = s1 * u, alpha * u[:, None] + beta * u[None, :]
    F1 = [fj(z1) for fj in f]
    F2 = [fj(z2) for fj in f]
    D = lambda j, k: float(w @ (F1[j][:, None] * F2[k]) @ w)  # noqa: E731  E[phi^(j)(z1) phi^(k)(z2)]
    count = lambda r, a: sum(1 for idx in r if idx == a)  # noqa: E731
    grad = [float(_C[r]) * D(count(pr, 0), count(pr, 1)) for r, pr in enumerate(PAIRS)]
    hess = [[float(_C[r] * _C[s]) * D(count(pr + ps, 0), count(pr + ps, 1)) for s, ps in enumerate(PAIRS)]
            for r, pr in enumerate(PAIRS)]
    four = {(al, 4 - al): float(w @ (F1[0][:, None] ** al * F2[0] ** (4 - al)) @ w) for al in range(5)}
    return {"g12": D(0, 0), "dg12": tuple(grad), "d2g12": tuple(tuple(r) for r in hess), "four": four}


def float_nodes(G: tuple) -> int:
    """Default float64 Gauss–Hermite nodes per axis: 128, growing linearly with the largest variance above 1."""
    return int(min(320, max(128, 128 * max(float(G[0]), float(G[2])))))


def pair_means(act: Activation, G: Any, exact: bool = False, precision: str = "float64", nodes: int | None = None) -> dict:
    r"""g12, its gradient ``dg12[r]`` and Hessian ``d2g12[r][s]`` in (G11, G12, G22), and the fourth moments.

    ``four[(alpha, beta)]`` is :math:`E[\phi(z_1)^\alpha\phi(z_2)^\beta]`.  Exact sympy for a polynomial
    activation with ``exact=True``; the ReLU family in mpmath (closed forms, context precision); smooth
    activations by tensor Gauss–Hermite, in float64 (``precision="float64"``, default: fast, error about
    1e-13 relative at variances <= 2) or mpmath (``precision="mpmath"``, context precision, slow).

    >>> from eigencalc import activation
    >>> m = pair_means(activation("monomial", degree=1), (2, 1, 3), exact=True)     # phi(z) = z
    >>> m["g12"], m["dg12"], m["four"][(2, 2)]                          # G12; E[z1^2 z2^2] = G11 G22 + 2 G12^2
    (1, (0, 1, 0), 8)
    """
    engine = pair_engine(act)
    if engine == "exact" and exact:
        return _exact_pair_means(act, tuple(sympy.sympify(g) for g in G))
    G = tuple(to_mpf(g) for g in G)
    if engine == "relu-closed-form":
        return _relu_pair_means(act, G, precision)
    if precision == "float64":
        return _gh_pair_means_float(act, G, nodes or float_nodes(G))
    if precision != "mpmath":
        raise ValueError(f"precision must be 'float64' or 'mpmath', got {precision!r}")
    return _gh_pair_means(act, G, nodes or gh_nodes())
