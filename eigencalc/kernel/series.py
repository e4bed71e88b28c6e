r"""Multivariate power series of NNGP / NTK kernels on the architecture DAG (M6, M15, M16).

Private module behind :mod:`eigencalc.architectures`.  For a pooling-free
network and equal-norm patches every DAG node holds a kernel
:math:`K_u(t) = \sum_\alpha c_\alpha t^\alpha` in the correlations of the
patches of its receptive field, with all :math:`c_\alpha \ge 0` (each layer
map preserves nonnegative coefficients).  This module computes those series
truncated at total degree D, node by node:

* linear nodes (Dense/Conv, Flatten, FanInSum): weighted sums plus the bias;
* activation nodes: with :math:`q` the input variance, :math:`r_0 = K_c(0)/q`
  and :math:`s = K_c/q - r_0` (no constant term), a Taylor shift of the dual
  :math:`\hat\phi_q(\rho) = \sum_k a_k(q)^2 \rho^k`,

  .. math::

      \hat\phi_q(r_0 + s) = \sum_{j \le D} g_j\, s^j, \quad
      g_j = \frac{\hat\phi_q^{(j)}(r_0)}{j!} = \sum_{k \ge j} a_k^2 \binom{k}{j} r_0^{k-j},

  and :math:`\Theta_u = \Theta_c \cdot \hat\phi_q'(r_0 + s)/q` for the NTK (M7).

**Exactness.**  The :math:`g_j` are finite exact sums when :math:`r_0 = 0`
(then :math:`g_j = a_j^2`) or when the dual series is a polynomial
(polynomial activations); then, for activations with exact Hermite
coefficients, every coefficient is an exact sympy number.  Otherwise they
are computed in mpmath at ``dps`` digits: from the closed form
:math:`\hat\phi_q` (``Activation.dual_expr``) differentiated symbolically, or,
without a closed form, from ``dual_terms`` Hermite terms (a lower bound).

**Tail bound (M16).**  All true coefficients are :math:`\ge 0` and every
computed one is either exact or a lower bound (up to rounding), so
:math:`K(1,\dots,1) - \sum_{|\alpha| \le D} c_\alpha` bounds
:math:`|K(t) - \text{series}(t)|` on :math:`[-1, 1]^d` and the truncation
error of every eigenvalue (M15).  :math:`K(1,\dots,1)` comes from the exact
(or mpmath) second moments, independently of the series.

**Sharing.**  Two nodes whose sub-DAGs are isomorphic up to a monotone
relabelling of their patches (every position of a translation-equivariant
CNN layer, the identical children of a tree CNN) get the same *signature*
and are expanded once; series are stored sparsely over a node's own
receptive field (a monomial is the sorted tuple of its local variable
indices with repetition), so disjoint children multiply without collisions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy

from ..core.defaults import DUAL_TERMS
from ..core.deprecation import warn_deprecated
from ..core.fields import MPMATH, SYMPY, NotInField
from ..core.numbers import to_float
from ..core.validate import REQUIRED, check_int, required_kind
from ..duals.activations import dual_taylor_closed_form, dual_taylor_coefficients, rho
from . import dag as _dag
from .dag import _require_pooling_free
from .diagonal import activation_diagonal, linear_diagonal
from .ops import Op
from .spec import LayerSpec as Layer

__all__ = ["KernelSeries", "kernel_series"]


class _NeedsNumeric(NotInField):
    """An exact expansion is impossible for some node (carries the reason)."""


# --------------------------------------------------------------------------
# Sparse graded series over local variables
# --------------------------------------------------------------------------
# A series is a list ``S[k] = {monomial: coefficient}`` for total degree k = 0..D,
# a monomial being the sorted tuple of its variable indices with repetition.


def _empty(D: int) -> list:
    return [{} for _ in range(D + 1)]


def _finish(acc: list, dom) -> list:
    out = []
    for bucket in acc:
        level = {}
        for m, terms in bucket.items():
            v = dom.total(terms)
            if not dom.is_zero(v):
                level[m] = v
        out.append(level)
    return out


def _linear(parts: list, const, D: int, dom) -> list:
    """sum_i w_i * relabel(S_i, map_i) + const; parts = [(w, S, map)], map None = same variables."""
    acc = [defaultdict(list) for _ in range(D + 1)]
    if not dom.is_zero(const):
        acc[0][()].append(const)
    for w, S, mapping in parts:
        for k, level in enumerate(S):
            bucket = acc[k]
            for m, c in level.items():
                key = m if (mapping is None or not k) else tuple(mapping[v] for v in m)
                bucket[key].append(dom.mul(w, c))
    return _finish(acc, dom)


def _mul(A: list, B: list, D: int, dom) -> list:
    """Truncated product A * B (total degree <= D)."""
    acc = [defaultdict(list) for _ in range(D + 1)]
    for a, la in enumerate(A):
        if not la:
            continue
        for b in range(D + 1 - a):
            lb = B[b]
            if not lb:
                continue
            bucket = acc[a + b]
            for m1, c1 in la.items():
                for m2, c2 in lb.items():
                    if not m1:
                        m = m2
                    elif not m2:
                        m = m1
                    elif m1[-1] <= m2[0]:
                        m = m1 + m2
                    else:
                        m = tuple(sorted(m1 + m2))
                    bucket[m].append(dom.mul(c1, c2))
    return _finish(acc, dom)


# --------------------------------------------------------------------------
# Taylor coefficients of dual activations at r0
# --------------------------------------------------------------------------


def _exact_sum(terms: list):
    return sympy.expand(sympy.Add(*terms))


def _taylor(act, q, r0, J: int, dom, dual_terms: int, where: str, notes: list) -> list:
    r"""g_j = \hat\phi_q^{(j)}(r_0)/j! for j = 0..J, exact or mpmath (see module docstring)."""
    degree = getattr(act, "degree", None)  # polynomial activations: finite dual series
    if dom.exact:
        if not act.exact:
            raise _NeedsNumeric(f"{where}: {act.name} has no exact Hermite coefficients")
        if dom.is_zero(r0):
            coeffs = act.dual_series(J, q).coefficients
            return [coeffs[j] for j in range(J + 1)]
        if degree is not None:
            coeffs = act.dual_series(max(J, degree), q).coefficients
            return dual_taylor_coefficients(coeffs, r0, J, total=_exact_sum)
        raise _NeedsNumeric(
            f"{where}: the input of {act.name} has a nonzero constant term (r0 = {sympy.N(r0, 6)}), "
            "so each coefficient is an infinite sum of Hermite terms"
        )
    qs = dom.to_sympy(q)
    if dom.is_zero(r0):
        coeffs = act.dual_series(J, qs).coefficients
        return [dom.num(coeffs[j]) for j in range(J + 1)]
    if degree is not None:
        coeffs = [dom.num(c) for c in act.dual_series(max(J, degree), qs).coefficients]
        return dual_taylor_coefficients(coeffs, r0, J, total=mpmath.fsum)
    expr = act.dual_expr(qs)
    if expr is not None:
        r0s = dom.to_sympy(r0)
        return dual_taylor_closed_form(
            expr, J, lambda d, j: dom.num(d.evalf(mpmath.mp.dps, subs={rho: r0s})) / mpmath.factorial(j)
        )
    K = max(dual_terms, J)
    coeffs = [dom.num(c) for c in act.dual_series(K, qs).coefficients]
    notes.append(
        f"{where}: no closed-form dual for {act.name}; Taylor coefficients at r0 = "
        f"{mpmath.nstr(r0, 6)} summed from {K + 1} Hermite terms (lower bounds; the deficit "
        "is inside tail_bound)"
    )
    return dual_taylor_coefficients(coeffs, r0, J, total=mpmath.fsum)


# --------------------------------------------------------------------------
# Node expansion with signature sharing
# --------------------------------------------------------------------------


@dataclass
class _Value:
    sigma: list  # graded series over the node's local variables
    theta: list | None
    q: Any  # Sigma_u(1..1), the node variance
    theta1: Any  # Theta_u(1..1)
    depends: bool = True  # the (untruncated) kernel depends on t (False only through W_std = 0)


class _Expander:
    def __init__(self, dag: _dag.Dag, D: int, ntk: bool, dom, dual_terms: int, auto: bool = False):
        self.dag, self.D, self.ntk, self.dom, self.dual_terms = dag, D, ntk, dom, dual_terms
        self.auto = auto  # exact=None: stay exact only while activation inputs are rational
        self.notes: list = []
        self.sig_ids: dict = {}
        self.values: dict = {}  # signature id -> _Value
        self.node_sid: dict = {}
        self.node_leaves: dict = {}
        self._taylor_cache: dict = {}

    def where(self, n) -> str:
        L = self.dag.layers[n.layer]
        return f"{L.layer!r} at {L.path}"

    def run(self) -> _Value:
        need = self.dag.ancestors_of_output()
        for n in self.dag.nodes:
            if n.id in need:
                self.visit(n)
        return self.values[self.node_sid[self.dag.output]]

    def visit(self, n) -> None:
        leaves = tuple(sorted(n.receptive_field))
        self.node_leaves[n.id] = leaves
        if n.op == Op.INPUT:
            sig = ("input",)
            maps = ()
        else:
            pos = {l: i for i, l in enumerate(leaves)}
            maps = tuple(tuple(pos[l] for l in self.node_leaves[c]) for c in n.children)
            sig = (
                n.op,
                n.exact_weights,
                n.exact_bias,
                n.activation,
                tuple(self.node_sid[c] for c in n.children),
                maps,
            )
        sid = self.sig_ids.setdefault(sig, len(self.sig_ids))
        self.node_sid[n.id] = sid
        if sid not in self.values:
            self.values[sid] = self.expand(n, maps)

    def expand(self, n, maps) -> _Value:
        dom, D = self.dom, self.D
        if n.op == Op.INPUT:
            S = _empty(D)
            if D >= 1:
                S[1][(0,)] = dom.one
            return _Value(S, _empty(D) if self.ntk else None, dom.one, dom.zero, True)
        kids = [self.values[self.node_sid[c]] for c in n.children]
        if n.op == Op.ACTIVATION:
            return self.activation(n, kids[0])
        weights = [dom.num(w) for w in n.exact_weights]
        bias = dom.num(n.exact_bias)
        sigma = _linear([(w, k.sigma, m) for w, k, m in zip(weights, kids, maps)], bias, D, dom)
        ntk = (n.ntk_scale, n.ntk_shift)
        q, theta1 = linear_diagonal(dom, weights, bias, [k.q for k in kids], [k.theta1 for k in kids], n.trainable, ntk)
        theta = None
        if self.ntk:  # Theta_u = sum_c w_c Theta_c + [trainable] (kappa Sigma_u + c)  (M2, Node)
            parts = [(w, k.theta, m) for w, k, m in zip(weights, kids, maps)]
            shift = dom.zero
            if n.trainable:
                scale = dom.one if ntk[0] == 1 else dom.num(ntk[0])
                parts.append((scale, sigma, tuple(range(len(self.node_leaves[n.id])))))
                shift = dom.zero if ntk[1] == 0 else dom.num(ntk[1])
            theta = _linear(parts, shift, D, dom)
        depends = any(k.depends and not dom.is_zero(w) for w, k in zip(weights, kids))
        return _Value(sigma, theta, q, theta1, depends)

    def activation(self, n, kid: _Value) -> _Value:
        dom, D, act = self.dom, self.D, n.activation
        where = self.where(n)
        if dom.exact and not act.exact:
            raise _NeedsNumeric(f"{where}: {act.name} has no exact Hermite coefficients (quadrature only)")
        q = kid.q
        if dom.is_zero(q):
            raise ValueError(f"{where}: its input has variance 0 (W_std = b_std = 0?); activations need > 0")
        q_act, theta1 = activation_diagonal(dom, act, q, kid.theta1, derivative=self.ntk)
        if not kid.depends:
            # Sigma_c is the constant q: rho = 1 everywhere, phi_hat(1) = E[phi^2], phi_hat'(1)/q = E[phi'^2].
            sigma = _linear([], q_act, D, dom)
            theta = None
            if self.ntk:
                theta = _empty(D)
                if any(kid.theta):
                    dq = dom.num(act.derivative_second_moment(dom.to_sympy(q)))
                    theta = _linear([(dq, kid.theta, None)], dom.zero, D, dom)
            return _Value(sigma, theta, q_act, theta1, False)
        if dom.exact and self.auto and not (q.is_Rational and all(c.is_Rational for level in kid.sigma for c in level.values())):
            raise _NeedsNumeric(
                f"{where}: the input of {act.name} has irrational exact coefficients (nested closed-form "
                "duals swell; pass exact=True to expand them exactly anyway)"
            )
        const = kid.sigma[0].get((), dom.zero)
        inv_q = (1 / q) if dom.exact else mpmath.mpf(1) / q
        r0 = dom.mul(const, inv_q) if not dom.is_zero(const) else dom.zero
        J = D + 1 if self.ntk else D
        key = (act, q, r0, J)
        if key not in self._taylor_cache:
            self._taylor_cache[key] = _taylor(act, q, r0, J, dom, self.dual_terms, where, self.notes)
        g = self._taylor_cache[key]
        # s = Sigma_c / q - r0, then its powers s^j (j <= D).
        s = [{}] + [{m: dom.mul(c, inv_q) for m, c in level.items()} for level in kid.sigma[1:]]
        powers = [None, s]
        for _ in range(2, D + 1):
            powers.append(_mul(powers[-1], s, D, dom))
        sigma = _linear([(g[j], powers[j], None) for j in range(1, D + 1)], g[0], D, dom)
        theta = None
        if self.ntk:
            h = [dom.mul(dom.num((j + 1)), dom.mul(g[j + 1], inv_q)) for j in range(D + 1)]
            H = _linear([(h[j], powers[j], None) for j in range(1, D + 1)], h[0], D, dom)
            theta = _mul(kid.theta, H, D, dom) if any(kid.theta) else _empty(D)
        return _Value(sigma, theta, q_act, theta1)




# --------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------


@dataclass
class KernelSeries:
    r"""Truncated power series :math:`K(t) \approx \sum_{|\alpha| \le D} c_\alpha t^\alpha` with tail bound (M15, M16).

    ``coefficients`` maps exponent tuples :math:`\alpha = (\alpha_1..\alpha_d)`
    to :math:`c_\alpha \ge 0` (only nonzero entries); exact sympy numbers when
    ``exact`` else mpmath numbers at ``dps`` digits.  ``at_ones`` is
    :math:`K(1,\dots,1)` (:meth:`trace`) and ``tail_bound = at_ones - sum(coefficients)``, which
    bounds :math:`|K(t) - \text{series}(t)|` on :math:`[-1,1]^d` (M16).
    ``notes`` records every approximation made.
    """

    d: int
    kind: str
    max_degree: int
    coefficients: dict
    at_ones: Any
    tail_bound: Any
    exact: bool
    dps: int | None
    notes: tuple = ()
    _float_terms: list = field(default=None, repr=False)

    def __repr__(self) -> str:
        tail = self.tail_bound if self.exact else mpmath.nstr(self.tail_bound, 6)
        return (
            f"KernelSeries(d={self.d}, kind={self.kind!r}, max_degree={self.max_degree}, "
            f"terms={len(self.coefficients)}, exact={self.exact}, tail_bound={tail})"
        )

    def trace(self) -> Any:
        r""":math:`K(1, \dots, 1) = \sum_\alpha c_\alpha` (all terms): the kernel's trace on a product domain (M16)."""
        return self.at_ones

    @property
    def total(self) -> Any:
        """Deprecated spelling of :meth:`trace`."""
        warn_deprecated("KernelSeries.total", "KernelSeries.trace()")
        return self.at_ones

    def coefficient(self, alpha) -> Any:
        r""":math:`c_\alpha` for an exponent tuple :math:`\alpha` of length d (zero when absent; M15).

        .. math:: c_\alpha = \frac{\partial^\alpha K(0)}{\alpha!}
        """
        alpha = tuple(int(a) for a in alpha)
        if len(alpha) != self.d:
            raise ValueError(f"exponent must have length d = {self.d}, got {alpha}")
        return self.coefficients.get(alpha, sympy.Integer(0) if self.exact else mpmath.mpf(0))

    @property
    def tail_bound_float(self) -> float:
        r"""``tail_bound`` as a float, rounded up by a few ulps of ``total`` (M16).

        .. math:: \overline{\epsilon} = K(1..1) - \textstyle\sum_\alpha c_\alpha + 4u\,K(1..1)
        """
        value = float(self.tail_bound) if not self.exact else float(sympy.N(self.tail_bound, 30))
        return value + 4e-16 * abs(to_float(self.at_ones))

    def by_degree(self) -> list:
        r"""``[{alpha: c}]`` grouped by total degree :math:`|\alpha| = 0..D` (M18 frequency).

        .. math:: K_k(t) = \sum_{|\alpha| = k} c_\alpha t^\alpha
        """
        out = [{} for _ in range(self.max_degree + 1)]
        for alpha, c in self.coefficients.items():
            out[sum(alpha)][alpha] = c
        return out

    def evaluate(self, t) -> np.ndarray:
        r"""The truncated series at correlations ``t`` (shape ``(..., d)``), float64.

        .. math:: \sum_{|\alpha| \le D} c_\alpha \prod_i t_i^{\alpha_i}
        """
        t = np.asarray(t, dtype=float)
        if t.ndim == 0 or t.shape[-1] != self.d:
            raise ValueError(f"t must have shape (..., d) with d = {self.d}, got shape {t.shape}")
        if self._float_terms is None:
            groups = defaultdict(lambda: ([], []))
            for alpha, c in self.coefficients.items():
                vars_ = tuple(i for i, a in enumerate(alpha) for _ in range(a))
                groups[len(vars_)][0].append(vars_)
                groups[len(vars_)][1].append(float(c))
            self._float_terms = [
                (k, np.array(v, dtype=np.intp).reshape(len(v), k), np.array(c)) for k, (v, c) in sorted(groups.items())
            ]
        out = np.zeros(t.shape[:-1])
        for k, V, c in self._float_terms:
            if k == 0:
                out = out + c.sum()
            else:
                out = out + np.prod(t[..., V], axis=-1) @ c
        return out

    def symbols(self) -> tuple:
        """The sympy symbols ``t1 .. td`` used by :meth:`as_poly`."""
        return sympy.symbols(f"t1:{self.d + 1}", real=True)

    def as_poly(self) -> sympy.Poly:
        r"""The truncated series as a sympy ``Poly`` in ``t1 .. td`` (Float coefficients unless exact; M15).

        .. math:: \sum_{|\alpha| \le D} c_\alpha\, t_1^{\alpha_1} \cdots t_d^{\alpha_d}
        """
        gens = self.symbols()
        terms = {}
        for alpha, c in self.coefficients.items():
            terms[alpha] = c if self.exact else sympy.Float(c, self.dps)
        if not terms:
            return sympy.Poly(0, *gens)
        return sympy.Poly.from_dict(terms, *gens, domain="EX" if self.exact else sympy.RealField(prec=int(self.dps * 3.33) + 1))

    def univariate(self) -> list:
        r"""``[c_0, ..., c_D]`` for ``d = 1`` (an MLP; M6 composed).

        .. math:: K(t) \approx \sum_{k \le D} c_k t^k
        """
        if self.d != 1:
            raise ValueError(f"univariate() needs d = 1, this series has d = {self.d}")
        return [self.coefficient((k,)) for k in range(self.max_degree + 1)]


# --------------------------------------------------------------------------
# Front end
# --------------------------------------------------------------------------


def _expand(dag, D, ntk, dom, dual_terms, auto=False):
    ex = _Expander(dag, D, ntk, dom, dual_terms, auto)
    root = ex.run()
    return ex, root


#: Digits a numeric series carries beyond the mpmath context precision.
SERIES_GUARD_DIGITS = 15


def _series_digits(dps) -> int:
    """Digits of a numeric series: the context's plus guard digits, or the deprecated explicit ``dps``."""
    if dps is None:
        return mpmath.mp.dps + SERIES_GUARD_DIGITS
    warn_deprecated("kernel_series(dps=...)", "the mpmath context: with mpmath.workdps(...)", stacklevel=4)
    if isinstance(dps, bool) or not isinstance(dps, int) or dps < 15:
        raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
    return dps


def kernel_series(
    net: Layer, d: int, kind: str = REQUIRED, max_degree: int = 4, *, exact=None, dps: int | None = None,
    dual_terms: int = DUAL_TERMS,
) -> KernelSeries:
    r"""Power series of the kernel in the patch correlations, truncated at total degree D (M15, M16).

    .. math::

        K(t_1, \dots, t_d) = \sum_{|\alpha| \le D} c_\alpha\, t^\alpha + R(t), \qquad
        |R(t)| \le K(1, \dots, 1) - \sum_{|\alpha| \le D} c_\alpha \quad (t \in [-1, 1]^d)

    ``exact``: None (exact while every activation sees rational coefficients
    -- one transcendental layer, or polynomial activations -- else mpmath, with
    a note), True (exact whenever mathematically possible, however large the
    expressions; raises ``ValueError`` naming the layer when impossible) or
    False (mpmath).  Precision comes from the mpmath context: numbers carry
    ``mpmath.mp.dps + 15`` digits (:data:`SERIES_GUARD_DIGITS` guard digits, because the tail
    bound is a difference of nearly equal sums; 30 digits at the default context), and the
    work runs 10 digits above that.  ``dps=`` (digits) is the deprecated spelling of
    ``with mpmath.workdps(dps - 15)``.  ``dual_terms`` Hermite terms are used for activations
    without a closed-form dual whose input has a constant term.
    Pooling-free networks only.

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> s = kernel_series(serial(Dense(), Relu(), Dense()), 1, "nngp", 3)
    >>> s.univariate(), s.tail_bound
    ([1/(2*pi), 1/4, 1/(4*pi), 0], 1/4 - 3/(4*pi))
    """
    kind = required_kind(kind, "kernel_series", "nngp")
    D = check_int(max_degree, "max_degree", 0)
    if exact not in (None, True, False):
        raise TypeError(f"exact must be None, True or False, got {exact!r}")
    dps = _series_digits(dps)
    dag = _dag.build_dag(net, d)
    _require_pooling_free(dag, "kernel_series")
    ntk = kind == "ntk"
    notes: list = []
    ex = root = None
    if exact is not False:
        try:
            ex, root = _expand(dag, D, ntk, SYMPY, dual_terms, auto=exact is None)
        except NotInField as why:
            if exact:
                raise ValueError(f"no exact series: {why}") from None
            notes.append(f"mpmath at {dps} digits: {why}")
    if root is None:
        with mpmath.workdps(dps + 10):
            ex, root = _expand(dag, D, ntk, MPMATH, dual_terms)
    dom = ex.dom
    notes.extend(ex.notes)
    leaves = ex.node_leaves[dag.output]
    series = root.theta if ntk else root.sigma
    coefficients = {}
    for level in series:
        for m, c in level.items():
            alpha = [0] * dag.d
            for v in m:
                alpha[leaves[v]] += 1
            coefficients[tuple(alpha)] = c
    total = root.theta1 if ntk else root.q
    if dom.exact:
        tail = sympy.expand(total - sympy.Add(*coefficients.values()))
        return KernelSeries(dag.d, kind, D, coefficients, total, tail, True, None, tuple(notes))
    with mpmath.workdps(dps + 10):
        tail = total - mpmath.fsum(coefficients.values())
        coefficients = {a: +c for a, c in coefficients.items()}
    with mpmath.workdps(dps):
        coefficients = {a: +c for a, c in coefficients.items()}
        tail = max(+tail, mpmath.mpf(0))  # the true tail is >= 0; negatives are rounding
        total = +total
    return KernelSeries(dag.d, kind, D, coefficients, total, tail, False, dps, tuple(notes))
