r"""Closed-form leading asymptotics of eigenvalues on tree DAGs (private; MATH.md M19).

As :math:`n_0 \to \infty`, :math:`\lambda(r) = \partial^r K(0)\, n_0^{-|r|}(1 + O(1/n_0))`
(see :meth:`eigencalc.spectra.Spectrum.asymptotic`).  The Taylor coefficient
:math:`c_r = [t^r] K` is computed exactly by a *centred* moment recursion:
with :math:`\delta_u = \Sigma_u(t) - \Sigma_u(0)`,

.. math:: A_u[p] = [t^{r_u}]\,\delta_u^p, \qquad B_u[p] = [t^{r_u}]\,\delta_u^p\,\Theta_u,

leaves :math:`A[p] = [p = r_i]`; a linear node multiplies exponential
generating functions of its children (only children with nonzero local
frequency enter :math:`A`, all enter :math:`B` through :math:`\Theta_c(0)`);
an activation node composes with the Taylor expansion of the dual at the
child's value at t = 0, :math:`f(S_0 + \delta) = \sum_j f_j \delta^j`,
:math:`f_j = \hat\phi^{(j)}_{q}(S_0/q) / (j!\, q^j)` (M6–M8, exact from the
closed form ``dual_expr``).  Every power of :math:`\delta` needed is at most
:math:`|r| + 1`, so the result is exact.  The averaging weight of a node that
merges :math:`k_l` children is written :math:`W^2/k_l` with a symbol per
aggregation level; :math:`\Sigma(0), \Theta(0)` do not depend on :math:`k_l`.
"""

from __future__ import annotations

import math

import sympy

from ..duals.activations import dual_taylor_closed_form, rho
from ..harmonic.domains import sphere_monomial_eigenvalue_symbolic
from ..kernel.ops import Op
from .tree import TreeRecursion, _poly_mul

__all__ = ["leading_taylor_coefficient", "eigenvalue_in_n0", "filter_symbols"]


def filter_symbols(n_levels: int) -> tuple:
    """Symbols k1 .. kL for the number of children merged at each aggregation level."""
    return tuple(sympy.Symbol(f"k{l}", positive=True) for l in range(1, n_levels + 1))


def _diagonal_and_zero(dag, need):
    """Exact q_u = Sigma_u(1), Sigma_u(0), Theta_u(0) for every needed node (sympy)."""
    q, s0, th0 = {}, {}, {}
    for u in sorted(need):
        node = dag.nodes[u]
        if node.op == Op.INPUT:
            q[u], s0[u], th0[u] = sympy.Integer(1), sympy.Integer(0), sympy.Integer(0)
        elif node.op == Op.ACTIVATION:
            (c,) = node.children
            act = node.activation
            q[u] = sympy.nsimplify(act.second_moment(q[c]))
            dual = act.dual_expr(q[c])
            d_dual = act.dual_derivative_expr(q[c])
            if dual is None:
                raise ValueError(f"asymptotic(): {act.name} has no closed-form dual; exact Taylor coefficients need one")
            s0[u] = sympy.simplify(dual.subs(rho, s0[c] / q[c]))
            th0[u] = sympy.simplify(th0[c] * d_dual.subs(rho, s0[c] / q[c])) if th0[c] != 0 else sympy.Integer(0)
        else:
            w = node.exact_weights
            q[u] = node.exact_bias + sum(wi * q[c] for wi, c in zip(w, node.children))
            s0[u] = node.exact_bias + sum(wi * s0[c] for wi, c in zip(w, node.children))
            t = sum(wi * th0[c] for wi, c in zip(w, node.children))
            th0[u] = t + (node.ntk_scale * s0[u] + node.ntk_shift if node.trainable else 0)
    return q, s0, th0


def _dual_taylor(act, q, s0, order: int):
    """f_j and g_j (j <= order) of s -> dual(s/q) and s -> E[phi'phi'](s/q) at s0."""
    r0 = s0 / q

    def value(derivative, j):
        return sympy.simplify(derivative.subs(rho, r0) / (math.factorial(j) * q**j))

    f = dual_taylor_closed_form(act.dual_expr(q), order, value)
    g = dual_taylor_closed_form(act.dual_derivative_expr(q), order, value)
    return f, g


def leading_taylor_coefficient(dag, r: tuple, kind: str, levels: dict, leading_in_filters: bool) -> sympy.Expr:
    """c_r = [t^r] K with one symbol per aggregation level for the averaging weights."""
    need = dag.ancestors_of_output()
    q, s0, th0 = _diagonal_and_zero(dag, need)
    R = sum(r)
    n = R + 2
    zero = sympy.Integer(0)
    symbols = filter_symbols(max(levels.values(), default=0))
    ntk = kind == "ntk"
    memo: dict = {}

    def local_freq(u):
        return sum(r[i] for i in dag.receptive_field(u))

    def moments(u):
        if u in memo:
            return memo[u]
        node = dag.nodes[u]
        if local_freq(u) == 0:
            out = ([sympy.Integer(1)] + [zero] * (n - 1), [th0[u]] + [zero] * (n - 1))
        elif node.op == Op.INPUT:
            out = ([sympy.Integer(1) if p == r[node.position] else zero for p in range(n)], [zero] * n)
        elif node.op == Op.ACTIVATION:
            (c,) = node.children
            A_c, B_c = moments(c)
            f, g = _dual_taylor(node.activation, q[c], s0[c], n)
            f_centred = [zero] + f[1:n]
            power = [sympy.Integer(1)] + [zero] * (n - 1)
            A, B = [], []
            for _ in range(n):
                A.append(sympy.expand(sum(power[m] * A_c[m] for m in range(n))))
                pg = _poly_mul(power, g[:n], n - 1, zero)
                B.append(sympy.expand(sum(pg[m] * B_c[m] for m in range(n))))
                power = _poly_mul(power, f_centred, n - 1, zero)
            out = (A, B)
        else:
            out = _linear(u, node)
        memo[u] = out
        return out

    def _linear(u, node):
        level = levels.get(u)
        weights = list(node.exact_weights)
        m = len(weights)
        if level is not None and len(set(weights)) == 1:
            weights = [weights[0] * m / symbols[level - 1]] * m
            count_scale = symbols[level - 1]
        else:
            count_scale = m
        support = [j for j, c in enumerate(node.children) if local_freq(c)]
        egf = []
        for j in support:
            A_c, _ = moments(node.children[j])
            egf.append([A_c[p] * weights[j] ** p / math.factorial(p) for p in range(n)])
        prod = [sympy.Integer(1)] + [zero] * (n - 1)
        for e in egf:
            prod = _poly_mul(prod, e, n - 1, zero)
        A = [sympy.expand(prod[p] * math.factorial(p)) for p in range(n)]
        theta = [zero] * n
        # children carrying frequency: their Theta moments times the others' Sigma moments
        for jj, j in enumerate(support):
            _, B_c = moments(node.children[j])
            others = [sympy.Integer(1)] + [zero] * (n - 1)
            for kk, e in enumerate(egf):
                if kk != jj:
                    others = _poly_mul(others, e, n - 1, zero)
            b = [B_c[p] * weights[j] ** p / math.factorial(p) for p in range(n)]
            term = _poly_mul(others, b, n - 1, zero)
            theta = [theta[p] + weights[j] * term[p] * math.factorial(p) for p in range(n)]
        # frequency-free children: Theta_c(0) each, (count - |support|) of them
        free = [c for c in node.children if not local_freq(c)]
        if free:
            values = {th0[c] for c in free}
            if len(values) == 1 and len(set(weights)) == 1:
                factor = (count_scale - len(support)) * weights[0] * values.pop()
            else:
                factor = sum(weights[node.children.index(c)] * th0[c] for c in free)
            theta = [theta[p] + factor * A[p] for p in range(n)]
        if node.trainable:  # + kappa Sigma_u + c (Node.ntk_scale / ntk_shift)
            kappa, c = node.ntk_scale, node.ntk_shift
            theta = [theta[p] + kappa * (s0[u] * A[p] + (A[p + 1] if p + 1 < n else zero)) + c * A[p] for p in range(n)]
        return A, [sympy.expand(v) for v in theta]

    A, B = moments(dag.output)
    if R == 0:
        value = th0[dag.output] if ntk else s0[dag.output]
    else:
        value = B[0] if ntk else A[1]
    value = sympy.expand(value)
    if leading_in_filters and symbols:
        value = _leading_monomial(value, symbols)
    return value


def _leading_monomial(expr: sympy.Expr, symbols: tuple) -> sympy.Expr:
    """Keep, for each k_l -> infinity in turn, only the leading power of 1/k_l.

    With :math:`u = 1/k_l` the coefficient is a rational function N(u)/D(u);
    its leading term is the ratio of the lowest-order terms of N and D.
    """
    for k in symbols:
        u = sympy.Symbol(f"_u_{k}", positive=True)
        num, den = sympy.fraction(sympy.together(expr.subs(k, 1 / u)))
        num, den = sympy.expand(num), sympy.expand(den)
        if not num.has(u) and not den.has(u):
            continue
        lead = []
        for part in (num, den):
            poly = sympy.Poly(part, u)
            low = min(m[0] for m in poly.monoms())
            lead.append((poly.coeff_monomial(u**low), low))
        (cn, ln), (cd, ld) = lead
        expr = sympy.simplify(cn / cd) * k ** (ld - ln)
    return expr


class _SymbolicSphere:
    """Product sphere with a symbolic n0 (for eigenvalues as rational functions of n0)."""

    def __init__(self, n0):
        self.n0 = n0

    def monomial_eigenvalue(self, k, a):
        return sphere_monomial_eigenvalue_symbolic(k, a, self.n0)

    def max_patch_degree(self):
        return None


def eigenvalue_in_n0(dag, r: tuple, kind: str, max_power: int = 12) -> sympy.Expr:
    """Exact lambda(r) on the product sphere as a rational function of the symbol n0 (polynomial duals)."""
    n0 = sympy.Symbol("n0", positive=True)
    rec = TreeRecursion(dag, _SymbolicSphere(n0), kind, max_power, symbolic=True)
    tail = sympy.simplify(rec.trace() - rec.captured_trace())
    if tail != 0:
        raise ValueError(f"max_power={max_power} does not capture the whole polynomial kernel (tail {tail})")
    return rec.field.out(rec.root_value({i: v for i, v in enumerate(r) if v}))
