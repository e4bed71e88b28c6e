r"""Eigenvalues of tree-structured DAG kernels by moment recursion (private).

Implements M15/M16 of ``../shared/MATH.md`` without expanding the d-variate
series.  For a multi-index r let :math:`L_r` be the linear functional on power
series in :math:`t_1..t_d` with :math:`L_r[t^\alpha] = \prod_i \mu_{r_i}(t^{\alpha_i})`
(M11 sphere / M12 hypercube); then :math:`\lambda(r) = L_r[K]` (M15).  On a DAG
whose multi-child nodes have pairwise disjoint receptive fields (a *tree*:
tree CNNs, Flatten/Dense MLPs) :math:`L_r` is multiplicative over children,
so each node u only needs the moment vectors

.. math:: A_u[p] = L_{r_u}[\Sigma_u^p], \qquad B_u[p] = L_{r_u}[\Sigma_u^p\,\Theta_u],
          \qquad p = 0..P,

computed bottom-up:

* leaf i: :math:`A[p] = \mu_{r_i}(t^p)`, :math:`B = 0` (:math:`\Theta = 0` at the input);
* linear node :math:`S = b + \sum_j w_j \Sigma_j` (Conv/Dense M1, Flatten M4):
  exponential generating functions multiply,
  :math:`\sum_p A_u[p] z^p/p! = e^{bz}\prod_j \sum_p A_j[p] (w_j z)^p/p!`, and
  :math:`\Theta_u = \sum_j w_j \Theta_j + [\text{trainable}]\,\Sigma_u` (M2);
* activation node, child c with variance :math:`q_c`:
  :math:`\Sigma_u = f(\Sigma_c)`, :math:`f(s) = \sum_k e_k s^k`, :math:`e_k = a_k(q_c)^2 q_c^{-k}`
  (M6, M8), :math:`\Theta_u = \Theta_c\, f'(\Sigma_c)` (M3, M7).

To converge fast the moments are *centred*: :math:`A_u[p] = L[\delta_u^p]`,
:math:`B_u[p] = L[\delta_u^p \Theta_u]` with :math:`\delta_u = \Sigma_u - S_u`,
:math:`S_u = \Sigma_u(0)`, and the dual is expanded about :math:`S_c`:
:math:`f(S_c + \delta) = \sum_j f_j \delta^j`, :math:`f_j = \sum_{k \ge j} e_k \binom{k}{j} S_c^{k-j} \ge 0`.
Then :math:`A_u[p] = \sum_{m} [\delta^m] (f - f_0)^p\, A_c[m]` and
:math:`B_u[p] = \sum_m [\delta^m] (f - f_0)^p f'\, B_c[m]`, while a linear node
has :math:`\delta_u = \sum_j w_j \delta_j` and
:math:`B_u[p] = \sum_j w_j L[\delta_u^p \Theta_j] + [\text{trainable}](S_u A_u[p] + A_u[p+1])`.
Since :math:`\delta` has no constant term, every dropped power :math:`\delta^m`, m > P,
only holds monomials of total degree > P, whose eigenvalues are small.

Every power series involved has nonnegative coefficients (:math:`S_u \ge 0`),
and the only approximations drop nonnegative terms (powers above P, dual
coefficients beyond ``dual_terms``), so the computed kernel is a
coefficientwise lower bound of the true one.  Running the same recursion with
the functional "evaluate at t = 1" gives the captured mass; with
:math:`|L_r[g]| \le g(1)/\mathrm{mult}(r)` for nonnegative g this yields the
rigorous bound (M16)

.. math:: |\lambda(r) - \lambda_P(r)| \le \frac{K(1) - K_P(1)}{\mathrm{mult}(r)}.

Exact arithmetic (``fractions.Fraction``) is used when every dual is a
polynomial with rational coefficients; mpmath at the working precision
otherwise.
"""

from __future__ import annotations

import math

import mpmath

from ..core.defaults import DUAL_TERMS
from ..core.fields import FRACTIONS, MPMATH, SYMPY, NotInField
from ..duals.activations import Polynomial, dual_taylor_coefficients
from ..kernel.diagonal import diagonal_walk
from ..kernel.ops import Op

__all__ = ["TreeRecursion", "Signatures", "is_tree", "ONES"]

#: Sentinel "patch degree" whose leaf functional evaluates at t = 1.
ONES = -1
#: Same, with the dual coefficients raised by their truncation bounds (see ``low_degree_slack``).
ONES_UPPER = -2


def is_tree(dag) -> bool:
    """True when every multi-child node reachable from the output has disjoint child receptive fields."""
    for u in dag.ancestors_of_output():
        node = dag.nodes[u]
        if node.op in (Op.SUM, Op.POOL):
            return False
        seen: set = set()
        for c in node.children:
            rf = dag.receptive_field(c)
            if seen & rf:
                return False
            seen |= rf
    return True


class Signatures:
    """Canonical ids of (node, local multi-index) pairs on a tree DAG.

    Two pairs get the same id when their subtrees have the same structure
    (layer, op, weights, bias, activation) and the same multiset of child ids,
    so they have equal moment vectors and equal eigenvalues.  Pure bookkeeping:
    no arithmetic, so symmetry classes can be listed without building a
    :class:`TreeRecursion`.
    """

    def __init__(self, dag):
        self.dag = dag
        self._structures: dict = {}
        self._ids: dict = {}
        self._weight_keys: dict = {}  # node -> str(weight) per child, printed once
        self._blank: dict = {}  # node -> id with no harmonic degree in its receptive field

    def weight_keys(self, u: int) -> tuple:
        """``str(weight)`` of each child edge of node u (the canonical form of an exact weight)."""
        keys = self._weight_keys.get(u)
        if keys is None:
            keys = self._weight_keys[u] = tuple(str(w) for w in self.dag.nodes[u].exact_weights)
        return keys

    @staticmethod
    def _intern(table: dict, key) -> int:
        if key not in table:
            table[key] = len(table)
        return table[key]

    def leaf(self, degree: int) -> int:
        """Id of a patch carrying harmonic degree ``degree``."""
        return self._intern(self._ids, ("leaf", degree))

    def node(self, u: int, children: tuple) -> int:
        """Id of node u whose children have the sorted ``(str(weight), child id)`` pairs ``children``."""
        n = self.dag.nodes[u]
        structure = (n.layer, n.op, n.exact_weights, n.exact_bias, n.activation, len(n.children))
        return self._intern(self._ids, (self._intern(self._structures, structure), children))

    def signature(self, u: int, r: dict) -> int:
        """Id of (node u, the restriction of the multi-index r to its receptive field)."""
        node = self.dag.nodes[u]
        if node.op == Op.INPUT:
            return self.leaf(r.get(node.position, 0))
        if not any(r.get(i, 0) for i in r if i in node.receptive_field):
            return self._blank_signature(u)
        kids = tuple(sorted(zip(self.weight_keys(u), (self.signature(c, r) for c in node.children))))
        return self.node(u, kids)

    def _blank_signature(self, u: int) -> int:
        """Id of node u when its receptive field carries no harmonic (every degree 0); memoised per node."""
        sig = self._blank.get(u)
        if sig is None:
            node = self.dag.nodes[u]
            if node.op == Op.INPUT:
                sig = self.leaf(0)
            else:
                sig = self.node(u, tuple(sorted(zip(self.weight_keys(u), map(self._blank_signature, node.children)))))
            self._blank[u] = sig
        return sig


def _fixed_point(values: list):
    """mpf values as exact integers over one power of two, ``(ints, E)`` with ``v_i = ints[i] 2^E``; None unless all finite >= 0."""
    if not values or not all(isinstance(v, mpmath.mpf) for v in values):
        return None
    tups = [v._mpf_ for v in values]
    if any(sign or (man == 0 and exp != 0) for sign, man, exp, _ in tups):  # negative, or inf / nan
        return None
    exps = [exp for _, man, exp, _ in tups if man]
    if not exps:
        return [0] * len(values), 0
    E = min(exps)
    return [man << (exp - E) if man else 0 for _, man, exp, _ in tups], E


def _kronecker_mul(a: list, b: list, n: int):
    r"""Exact product of two nonnegative mpf coefficient lists, rounded once per coefficient, or None.

    Kronecker substitution: with :math:`a_i = \alpha_i 2^{E_a}` (integers), the
    packed integers :math:`\sum_i \alpha_i 2^{s i}` multiply into
    :math:`\sum_k (\sum_{i+j=k} \alpha_i\beta_j) 2^{s k}` exactly when the slot s
    exceeds every convolution sum's bit length; one big-integer product replaces
    :math:`O(n^2)` mpf operations and the only rounding is the final one (to the
    context precision, nearest), so the result is at least as accurate as the
    termwise loop.
    """
    fa, fb = _fixed_point(a[: n + 1]), _fixed_point(b[: n + 1])
    if fa is None or fb is None:
        return None
    (ia, ea), (ib, eb) = fa, fb
    slot = max(ia).bit_length() + max(ib).bit_length() + (n + 1).bit_length() + 1
    pack = lambda ints: sum(v << (slot * i) for i, v in enumerate(ints))  # noqa: E731
    product = pack(ia) * pack(ib)
    mask = (1 << slot) - 1
    prec, exp = mpmath.mp.prec, ea + eb
    make = mpmath.mpf
    out = []
    for k in range(n + 1):
        c = (product >> (slot * k)) & mask
        out.append(make(mpmath.libmp.from_man_exp(c, exp, prec, "n")))
    return out


def _poly_mul(a: list, b: list, n: int, zero) -> list:
    """Product of coefficient lists truncated to degree n (length n + 1)."""
    fast = _kronecker_mul(a, b, n) if isinstance(zero, mpmath.mpf) else None
    if fast is not None:
        return fast
    out = [zero] * (n + 1)
    for i, ai in enumerate(a[: n + 1]):
        if ai == 0:
            continue
        for j, bj in enumerate(b[: n + 1 - i]):
            out[i + j] += ai * bj
    return out


def _poly_pow(a: list, k: int, n: int, zero, one) -> list:
    result = [one] + [zero] * n
    base = list(a[: n + 1]) + [zero] * max(0, n + 1 - len(a))
    while k:
        if k & 1:
            result = _poly_mul(result, base, n, zero)
        k >>= 1
        if k:
            base = _poly_mul(base, base, n, zero)
    return result


class TreeRecursion:
    """Moment recursion on a tree DAG for one domain and kind (see module docstring)."""

    def __init__(
        self, dag, domain, kind: str, max_power: int, *, exact: bool | None = None, symbolic: bool = False,
        dual_terms: int = DUAL_TERMS,
    ):
        if not is_tree(dag):
            raise ValueError("the moment recursion needs a tree DAG (disjoint receptive fields at every node)")
        if dag.pooled:
            raise ValueError("pooling networks are not supported by the moment recursion")
        self.dag, self.domain, self.kind, self.P = dag, domain, kind, int(max_power)
        self.ntk = kind == "ntk"
        self.dual_terms = int(dual_terms)
        self.field = FRACTIONS if exact is not False and self._all_polynomial() else MPMATH
        if symbolic:
            if not self._all_polynomial():
                raise ValueError("symbolic eigenvalues need polynomial activations")
            self.field = SYMPY
        if exact and not self.field.exact:
            raise ValueError("exact eigenvalues need polynomial activations with rational coefficients")
        try:
            self._setup()
        except NotInField:
            if exact:
                raise ValueError("exact eigenvalues need rational weights, biases and duals") from None
            self.field = MPMATH
            self._setup()

    # ------------------------------------------------------------------ set-up
    def _all_polynomial(self) -> bool:
        need = self.dag.ancestors_of_output()
        return all(
            isinstance(self.dag.nodes[u].activation, Polynomial) for u in need if self.dag.nodes[u].op == Op.ACTIVATION
        )

    def _setup(self) -> None:
        F = self.field
        dag = self.dag
        self.need = dag.ancestors_of_output()
        # Sigma_u(1) (node variances) and Theta_u(1): the diagonal forward pass (M1-M3)
        self.q, self.theta1 = diagonal_walk(dag, F, self.need)
        self.s0: dict = {}  # S_u = Sigma_u(0) as used by the (truncated) recursion
        self.dual: dict = {}
        self.weights = {u: tuple(F.num(w) for w in dag.nodes[u].exact_weights) for u in self.need}
        self.bias = {u: F.num(dag.nodes[u].exact_bias) for u in self.need}
        self._dual_cache: dict = {}
        for u in sorted(self.need):
            node = dag.nodes[u]
            if node.op == Op.INPUT:
                self.s0[u] = F.zero
            elif node.op == Op.ACTIVATION:
                (c,) = node.children
                self.dual[u] = self._dual_matrices(node.activation, self.q[c], self.s0[c])
                self.s0[u] = self.dual[u][2]
            else:
                w = self.weights[u]
                self.s0[u] = self.bias[u] + sum((wi * self.s0[c] for wi, c in zip(w, node.children)), F.zero)
        self.signatures = Signatures(dag)
        self._memo: dict = {}
        self._powers: dict = {}
        self._rows: dict = {}
        self._scales: dict = {}

    def _dual_matrices(self, act, q, s0):
        r"""Centred dual matrices [d^m](f - f_0)^p and [d^m](f - f_0)^p f', p, m <= P, and f_0.

        :math:`f_j = \sum_{k \ge j} e_k \binom{k}{j} s_0^{k-j}` summed to k = K
        (``dual_terms``).  The omitted part is at most
        :math:`\Delta_j = q^{-j} \tau_K \sum_{k > K} \binom{k}{j} x^{k-j}`, with
        :math:`x = s_0/q` and :math:`\tau_K` the M6 tail; the geometric bound
        :math:`\sum_{k>K}\binom{k}{j}x^{k-j} \le \binom{K+1}{j} x^{K+1-j}/(1 - x\frac{K+2}{K+2-j})`
        gives upper matrices (returned fourth/fifth) for :meth:`low_degree_slack`.
        Cached per activation, variance and centre.
        """
        key = (act, q, s0)
        if key in self._dual_cache:
            return self._dual_cache[key]
        F, P = self.field, self.P
        kmax = act.degree if isinstance(act, Polynomial) else max(self.dual_terms, P + 2)
        coefficients, tail = self._dual_series(act, kmax, q)
        e = [c / q**k for k, c in enumerate(coefficients)]
        f = dual_taylor_coefficients(e, s0, P + 1, total=lambda terms: sum(terms, F.zero))
        f_up = list(f)
        if not isinstance(act, Polynomial):
            tau = abs(tail)
            x = s0 / q
            K = len(e) - 1
            for j in range(P + 2):
                ratio = x * (K + 2) / (K + 2 - j)
                if ratio >= 1:
                    f_up[j] = mpmath.inf
                    continue
                geometric = math.comb(K + 1, j) * x ** (K + 1 - j) / (1 - ratio)
                f_up[j] = f[j] + tau * geometric / q**j
        matrices = self._power_matrices(f) + (f[0],) + self._power_matrices(f_up)
        self._dual_cache[key] = matrices
        return matrices

    def _dual_series(self, act, kmax: int, q) -> tuple:
        r"""The dual coefficients :math:`a_k(q)^2` (k <= kmax) and their tail (M6, M16) in the field.

        A positively homogeneous activation of degree h (ReLU family: h = 1)
        has :math:`a_k(q)^2 = q^h a_k(1)^2`, so its series is computed once at
        q = 1 and scaled; every node of a deep tree has its own q.
        """
        F = self.field
        h = getattr(act, "homogeneity", None)
        if h is None or F.exact:
            series = act.dual_series(kmax, F.to_sympy(q))
            return [F.num(c) for c in series.coefficients], F.num(series.tail)
        key = ("unit-dual", act, kmax)
        if key not in self._dual_cache:
            series = act.dual_series(kmax, 1)
            self._dual_cache[key] = ([F.num(c) for c in series.coefficients], F.num(series.tail))
        unit, tail = self._dual_cache[key]
        scale = q**h
        return [scale * c for c in unit], scale * tail

    def _power_matrices(self, f: list) -> tuple:
        F, P = self.field, self.P
        centred = [F.zero] + list(f[1 : P + 1])
        df = [(j + 1) * f[j + 1] for j in range(P + 1)]
        Fm, Gm = [], []
        power = [F.one] + [F.zero] * P
        for _ in range(P + 1):
            Fm.append(power)
            Gm.append(_poly_mul(power, df, P, F.zero))
            power = _poly_mul(power, centred, P, F.zero)
        return Fm, Gm

    # ------------------------------------------------------------- signatures
    def signature(self, u: int, r: dict) -> int:
        """Canonical id of (node u, local multi-index): equal ids => equal moment vectors."""
        return self.signatures.signature(u, r)

    # ---------------------------------------------------------------- moments
    def _leaf(self, degree: int):
        F, P = self.field, self.P
        if degree in (ONES, ONES_UPPER):
            A = [F.one] * (P + 1)
        else:
            A = [F.num(self.domain.monomial_eigenvalue(degree, p)) for p in range(P + 1)]
        return A, [F.zero] * (P + 1)

    def moments(self, u: int, r: dict):
        """(A_u, B_u) for the local multi-index r (dict patch -> degree, ONES for evaluation at 1)."""
        values = set(r.values())
        if ONES_UPPER in values:
            key = ("ones-upper", u)
        elif ONES in values:
            key = ("ones", u)
        else:
            key = self.signature(u, r)
        if key in self._memo:
            return self._memo[key]
        node = self.dag.nodes[u]
        if node.op == Op.INPUT:
            out = self._leaf(r.get(node.position, 0))
        elif node.op == Op.ACTIVATION:
            out = self._activation_moments(u, node, r)
        else:
            out = self._linear_moments(u, node, r)
        self._memo[key] = out
        return out

    def _activation_moments(self, u, node, r):
        F, P = self.field, self.P
        (c,) = node.children
        A_c, B_c = self.moments(c, r)
        upper = ONES_UPPER in r.values()
        Fm, Gm = self.dual[u][3:5] if upper else self.dual[u][0:2]
        A = self._matvec(Fm, A_c)
        if not self.ntk:
            return A, [F.zero] * (P + 1)
        return A, self._matvec(Gm, B_c)

    def _matvec(self, M: list, v: list) -> list:
        r""":math:`(\sum_m M_{pm} v_m)_p`; for nonnegative mpf entries each sum is formed exactly in integers and rounded once.

        The fixed-point rows of a dual matrix are cached (the matrices are
        shared by every class); otherwise (exact fields, signs, infinities) the
        plain sum in the field.
        """
        F, P = self.field, self.P
        fv = _fixed_point(v[: P + 1]) if isinstance(F.zero, mpmath.mpf) else None
        rows = self._fixed_rows(M) if fv is not None else None
        if rows is None:
            return [sum((M[p][m] * v[m] for m in range(P + 1)), F.zero) for p in range(P + 1)]
        iv, ev = fv
        prec, make = mpmath.mp.prec, mpmath.mpf
        return [make(mpmath.libmp.from_man_exp(sum(x * y for x, y in zip(ir, iv)), er + ev, prec, "n")) for ir, er in rows]

    def _fixed_rows(self, M: list):
        key = id(M)
        if key not in self._rows:
            rows = [_fixed_point(list(row[: self.P + 1])) for row in M[: self.P + 1]]
            self._rows[key] = (M, None if any(r is None for r in rows) else rows)  # M kept alive: ids stay unique
        return self._rows[key][1]

    def _linear_moments(self, u, node, r):
        F, P = self.field, self.P
        n = P + 1  # one more power for Theta's + Sigma_u term
        fact = [math.factorial(p) for p in range(n + 1)]
        groups: dict = {}  # identical children (same moments and weight) are grouped
        for c, w in zip(node.children, self.weights[u]):
            A_c, B_c = self.moments(c, r)
            scale = self._egf_scale(w, n, fact)
            a = tuple(A_c[p] * scale[p] if p <= P else F.zero for p in range(n + 1))
            b = tuple(B_c[p] * scale[p] for p in range(P + 1))
            groups[(a, b, w)] = groups.get((a, b, w), 0) + 1
        bias = [F.one] + [F.zero] * n  # centred: the bias cancels in delta_u
        a_counts: dict = {}
        for (a, _, _), count in groups.items():
            a_counts[a] = a_counts.get(a, 0) + count
        product = self._product(a_counts, n, bias)
        A_full = [product[p] * fact[p] for p in range(n + 1)]
        A = A_full[: P + 1]
        if not self.ntk:
            return A, [F.zero] * (P + 1)
        theta = [F.zero] * (P + 1)
        for (a, b, w), count in groups.items():
            if all(v == 0 for v in b):
                continue
            others = dict(a_counts)
            others[a] -= 1
            term = _poly_mul(self._product(others, P, bias), list(b), P, F.zero)
            for p in range(P + 1):
                theta[p] += count * w * term[p] * fact[p]
        if node.trainable:  # Theta_u += kappa Sigma_u + c (Node.ntk_scale, ntk_shift; 1 and 0 in the NTK parameterization)
            kappa, shift = node.ntk_scale, node.ntk_shift
            if kappa == 1 and shift == 0:
                theta = [theta[p] + self.s0[u] * A_full[p] + A_full[p + 1] for p in range(P + 1)]
            else:
                kappa, shift = F.num(kappa), F.num(shift)
                theta = [theta[p] + kappa * (self.s0[u] * A_full[p] + A_full[p + 1]) + shift * A_full[p] for p in range(P + 1)]
        return A, theta

    def _egf_scale(self, w, n: int, fact: list) -> list:
        """:math:`w^p / p!`, p <= n: a child's moments into its exponential generating function (cached per weight)."""
        key = (w, n)
        if key not in self._scales:
            self._scales[key] = [w**p / fact[p] for p in range(n + 1)]
        return self._scales[key]

    def _product(self, counts: dict, n: int, start: list) -> list:
        """start * prod_key key^count, truncated at degree n (powers by squaring, memoised per key and count)."""
        F = self.field
        out = None if start[0] == F.one and not any(start[1 : n + 1]) else list(start[: n + 1])
        for key, count in counts.items():
            if count:
                power = self._power(key, count, n)
                out = list(power) if out is None else _poly_mul(out, power, n, F.zero)
        return [F.one] + [F.zero] * n if out is None else out

    def _power(self, key: tuple, count: int, n: int) -> list:
        """``key^count`` truncated at degree n; children repeat across nodes and classes, so powers are cached."""
        cached = self._powers.get((key, count, n))
        if cached is None:
            F = self.field
            cached = self._powers[(key, count, n)] = _poly_pow(list(key), count, n, F.zero, F.one)
        return cached

    # ------------------------------------------------------------- eigenvalues
    def root_value(self, r: dict):
        """lambda_P(r) = L_r[K_P]: S_root A_root[0] + A_root[1] (NNGP) or B_root[0] (NTK)."""
        A, B = self.moments(self.dag.output, r)
        return B[0] if self.ntk else self.s0[self.dag.output] * A[0] + A[1]

    def trace(self):
        """K(1, ..., 1) from the exact diagonal recursion (q or Theta at t = 1): the trace (M16)."""
        u = self.dag.output
        return self.theta1[u] if self.ntk else self.q[u]

    def captured_trace(self):
        """K_P(1, ..., 1): the same truncated recursion evaluated at t = 1 (the part of the trace it captures)."""
        return self.root_value({i: ONES for i in range(self.dag.d)})

    def low_degree_slack(self):
        r"""Bound on the mass lost by truncating the dual series at ``dual_terms`` (any degree).

        The same recursion at t = 1 with every centred coefficient :math:`f_j`
        raised by :math:`\Delta_j` minus :math:`K_P(1)`; infinite when a
        centre is too close to the dual's singularity for the geometric bound.
        """
        if self.field.exact and all(isinstance(self.dag.nodes[u].activation, Polynomial) for u in self.dual):
            return self.field.zero
        upper = self.root_value({i: ONES_UPPER for i in range(self.dag.d)})
        slack = upper - self.captured_trace()
        return slack if slack > 0 else self.field.zero

    def tail(self):
        """K(1) - K_P(1) >= 0 (M16); clipped at 0 against rounding in mpmath mode."""
        t = self.trace() - self.captured_trace()
        return t if self.field.exact or t > 0 else self.field.zero
