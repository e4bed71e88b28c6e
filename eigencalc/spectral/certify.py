r"""Certified eigenvalues of tree DAG kernels: ball arithmetic and a per-class truncation bound (M15, M16).

:mod:`eigencalc.spectral.tree` computes :math:`\lambda_P(r) = L_r[K_P]` from the
centred moments :math:`A_u[p] = L_r[\delta_u^p]`, :math:`B_u[p] = L_r[\delta_u^p\Theta_u]`
(:math:`p \le P`) and bounds the error by the *global* tail mass
:math:`(K(1) - K_P(1))/\mathrm{mult}(r)`.  For ReLU the dual is singular at
:math:`\rho = 1`, the centred series converges at :math:`\delta = \delta(1)`
with no margin, that mass decays like :math:`P^{-1/2}` and the bound certifies
nothing for small eigenvalues (issue 15).  This module replaces it by a bound
that carries the functional :math:`L_r` through the tail, computes every
number as an interval (python-flint ``arb`` balls, so rounding is part of the
proof), and raises the truncation order N per class until the bound is below
``rtol`` times the eigenvalue.

Notation
--------
All series are in :math:`t = (t_1..t_d)` with nonnegative coefficients.
:math:`L_r[t^\alpha] = \prod_i \mu_{r_i}(t^{\alpha_i}) \ge 0` (M11/M12; every
:math:`\mu_k(t^a)` is an eigenvalue of the PSD kernel :math:`t^a`, so
:math:`\ge 0`).  :math:`\delta_u = \Sigma_u - \Sigma_u(0)` (no constant term),
:math:`D_u = \delta_u(1) = q_u - S_u`.  The envelope
:math:`U_k(a) = \sup_{a' \ge a} \mu_k(t^{a'})` is nonincreasing in a and
defines a second multiplicative functional
:math:`\bar L_r[t^\alpha] = \prod_i U_{r_i}(\alpha_i)`.

Lemma 1 (majorant).  For series g, h with nonnegative coefficients,
:math:`L_r[g] \le \bar L_r[g]` and :math:`\bar L_r[g h] \le h(1)\, \bar L_r[g]`.
*Proof.*  Termwise: :math:`\mu_k(t^a) \le U_k(a)`, and
:math:`U_k(a + b) \le U_k(a)` for every monomial :math:`t^\beta` of h, so
:math:`\bar L_r[gh] = \sum_{\alpha,\beta} g_\alpha h_\beta \bar L_r[t^{\alpha+\beta}]
\le \sum_{\alpha,\beta} g_\alpha h_\beta \bar L_r[t^\alpha]`.  ∎
The code uses the envelope :math:`U_k(a) = \max(\max_{a \le a' \le N+1} \mu_k(t^{a'}),\ M)`
with M the domain's proven :meth:`~eigencalc.harmonic.domains.Domain.monomial_envelope`
(an upper bound of the supremum over :math:`a' \ge N+2`); extended by the true
supremum beyond N + 1 it is still nonincreasing and :math:`\ge \mu_k`, so Lemma 1 holds for it.

Corollary.  For m > N:
:math:`A_u[m] \le \bar A_u[m] \le D_u^{m-N} \bar A_u[N]` and
:math:`B_u[m] \le D_u^{m-N} \bar B_u[N]` (take :math:`h = \delta_u^{m-N}`).

Lemma 2 (activation tail).  At an activation node u with child c and centred
dual :math:`g = f(S_c + \cdot) - S_u`,
:math:`F[p][m] = [\delta^m] g^p \ge 0` and :math:`\sum_m F[p][m] D_c^m = g(D_c)^p = D_u^p`
(the dual converges at :math:`\rho = 1` since :math:`\sum_k a_k^2 = E\phi^2`).  Hence

.. math:: 0 \le A_u[p] - \sum_{m \le N} F[p][m] A_c[m]
          \le \frac{\bar A_c[N]}{D_c^N} \Big(D_u^p - \sum_{m \le N} F[p][m] D_c^m\Big),

and the same with :math:`G[p][m] = [\delta^m] g^p f'` for B, where
:math:`\sum_m G[p][m] D_c^m = D_u^p f'(q_c)` and
:math:`f'(q_c) = E[\phi'(\sqrt{q_c} z)^2]` (M7).  The factor
:math:`\bar A_c[N]/D_c^N` is the normalised N-th moment of the child under
:math:`\bar L_r`: it decays in N like the moments of :math:`\delta_c/D_c` near
its maximum (polynomially, faster the more patches the child sees), which
is what makes the bound per class and small where the global mass is not.

Linear nodes (Conv/Dense M1-M2, Flatten M4) are exact up to order N (their
exponential generating functions multiply); the one extra moment
:math:`A_c[N+1]` that the NTK term :math:`\Theta_u \mathrel{+}= \Sigma_u` needs
is enclosed in :math:`[0, D_c \bar A_c[N]]` (Corollary).  Leaves are exact.

Dual coefficients.  :math:`f(s) = \sum_k e_k s^k`, :math:`e_k = a_k(q_c)^2 q_c^{-k}` (M6, M8);
the Taylor coefficients about the (enclosed) centre are
:math:`f_j = \sum_{k \le K} e_k \binom{k}{j} S_c^{k-j} + [0, \Delta_j]` with
:math:`\Delta_j = q_c^{-j}\tau_K \sum_{k > K} \binom{k}{j} x^{k-j}`,
:math:`x = S_c/q_c`, :math:`\tau_K = E\phi^2 - \sum_{k \le K} a_k^2` (each dropped
:math:`a_k^2 \le \tau_K`), summed by the ratio bound; every :math:`F`, :math:`G` is then
a ball containing the true coefficient.

Theorem.  Running the recursion in ball arithmetic with the tail balls
:math:`[0, \cdot]` of Lemma 2 (for L, with :math:`\bar A_c, \bar B_c` from the
same recursion run for :math:`\bar L`) gives balls that contain the true
moments at every node, hence a ball containing :math:`\lambda(r)`
(:math:`S_{root} A[0] + A[1]` for the NNGP, :math:`B[0]` for the NTK).  *Proof.*
Induction over the tree, children first: leaves exact; linear nodes are
polynomial identities in enclosed inputs; activation nodes by Lemma 2, whose
hypotheses use only upper bounds of :math:`\bar A_c[N]`, :math:`\bar B_c[N]`
(enclosed by the :math:`\bar L` run, itself correct by the same induction
with Lemma 1 applied to :math:`\bar L`).  ∎

Trust base: the Hermite coefficients :math:`a_k^2` and second moments are
exact (sympy) for the closed-form activations (ReLU family, step, erf,
sin/cos, exp, polynomials) and converted to balls by interval evaluation; for
quadrature activations (tanh, GELU, ...) they are mpmath values at the
working precision ``mp.dps``; each enters as a ball of relative radius
:math:`10^{3 - \text{dps}}`, so the enclosure trusts all but three of their
digits (``CertifiedValue.proof`` says which case applies).

Reach.  On product spheres :math:`U_k(a) \sim a^{-(n_0-1)/2}` per patch, so the
normalised moment of a child seeing m patches decays roughly like
:math:`N^{-m(n_0-1)/2}` and the bound shrinks polynomially in N, fast enough
that the ``make demo`` networks reach 1e-6 relative at N <= 96 up to
frequency 4; a single patch of low dimension is the slow case (one sphere
:math:`S^4` under a ReLU layer: ~1e-5 at N = 192; spectra of one sphere are
better served by :func:`~eigencalc.harmonic.sphere.sphere_eigenvalues`).  On product hypercubes :math:`U_k(a)` tends to a positive constant
(t = 1 has positive probability), the factor does not decay, and the bound
shrinks only like the dual's mass tail at t = 1 (:math:`N^{-1/2}` for the ReLU
NTK): rows then say that rtol was not reached; enumeration is exact there for
small grids.  The truncation of the dual at K terms needs
:math:`x (K+2)/(K+2-j) < 1` for the ratio bound, so K grows with N
(up to :data:`MAX_DUAL_TERMS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import sympy
from flint import arb, arb_mat, arb_poly, ctx

from ..core.balls import flint_precision, mpf_to_arb
from ..core.defaults import DUAL_TERMS
from ..core.fields import MPMATH, SYMPY, NotInField
from ..duals.activations import Polynomial
from ..kernel.diagonal import diagonal_walk
from ..kernel.ops import Op
from .tree import Signatures, is_tree

__all__ = ["CertifiedTree", "CertifiedValue", "RTOL", "ORDERS", "to_arb"]

#: Default relative tolerance of certified tables (issue 15).
RTOL = 1e-6
#: Truncation orders tried per class, lowest first.
ORDERS = (24, 48, 96, 192)
#: Largest number of dual (Hermite) terms the truncation bound may ask for.
MAX_DUAL_TERMS = 1024
#: Working precision of the balls (bits).
PREC = 128
#: Hermite squares as balls, shared by every recursion: {prec: {(activation, K, q): ...}}.
_HERMITE_CACHE: dict = {}

_FUNCS = {
    sympy.acos: "acos", sympy.asin: "asin", sympy.atan: "atan", sympy.exp: "exp", sympy.log: "log",
    sympy.sin: "sin", sympy.cos: "cos", sympy.sinh: "sinh", sympy.cosh: "cosh", sympy.tanh: "tanh",
    sympy.erf: "erf", sympy.erfc: "erfc", sympy.gamma: "gamma",
}


def to_arb(value: Any) -> arb:
    r"""A ball containing ``value`` (int, Fraction, sympy number, mpmath or float).

    sympy expressions are evaluated by interval arithmetic on their tree
    (rationals, :math:`\pi`, :math:`e`, sums, products, powers and the common
    elementary functions); anything else is evaluated by ``evalf`` at the ball
    precision plus guard digits and given a radius of :math:`2^{-(\text{prec}-8)}`
    relative.  mpmath numbers and floats are taken as exact binary numbers
    (their own rounding is the caller's trust base).

    >>> x = to_arb(sympy.Rational(1, 3) + 1 / sympy.pi)
    >>> x.contains(arb(1) / 3 + 1 / arb.pi())
    True
    """
    if isinstance(value, arb):
        return value
    if isinstance(value, bool):
        return arb(int(value))
    if isinstance(value, int):
        return arb(value)
    if isinstance(value, Fraction):
        return arb(value.numerator) / value.denominator
    if isinstance(value, mpmath.mpf):
        return mpf_to_arb(value)
    if isinstance(value, float):
        return arb(value)
    v = sympy.sympify(value)
    if v.is_Integer:
        return arb(int(v))
    if v.is_Rational:
        return arb(int(v.p)) / int(v.q)
    if v is sympy.pi:
        return arb.pi()
    if v is sympy.E:
        return arb(1).exp()
    if v.is_Add:
        out = arb(0)
        for a in v.args:
            out += to_arb(a)
        return out
    if v.is_Mul:
        out = arb(1)
        for a in v.args:
            out *= to_arb(a)
        return out
    if v.is_Pow:
        base, e = v.args
        if e.is_Integer:
            return to_arb(base) ** int(e)
        if e.is_Rational:
            return to_arb(base) ** (arb(int(e.p)) / int(e.q))
        return to_arb(base) ** to_arb(e)
    if isinstance(v, sympy.Function) and v.func in _FUNCS and len(v.args) == 1:
        return getattr(to_arb(v.args[0]), _FUNCS[v.func])()
    if v.is_Float or v.is_number:
        digits = int(ctx.prec * 0.30103) + 10
        x = arb(str(sympy.Float(v.evalf(digits), digits)))
        slack = abs(x).upper() * arb(2) ** (-(ctx.prec - 8)) if x != 0 else arb(2) ** (-(ctx.prec - 8))
        return x + arb(0, slack)
    raise TypeError(f"cannot enclose {value!r} in a ball")


def _trusted(value: Any) -> arb:
    """A ball for an exact value, or for an mpmath value trusted to all but 3 of its ``mp.dps`` digits."""
    x = to_arb(value)
    if isinstance(value, mpmath.mpf) and x != 0:
        x += arb(0, abs(x).upper() * arb(10) ** (-(mpmath.mp.dps - 3)))
    return x


def _upper(x: arb) -> arb:
    """The exact upper endpoint of a ball, clipped at 0 from below."""
    u = x.upper()
    return u if u > 0 else arb(0)


def _zero_to(x: arb) -> arb:
    """The ball [0, upper(x)] (x >= 0 assumed)."""
    u = _upper(x)
    return (u / 2) + arb(0, u / 2) if u != 0 else arb(0)


@dataclass(frozen=True)
class CertifiedValue:
    """A proven enclosure ``eigenvalue ± error_bound`` of one eigenvalue.

    ``eigenvalue`` is the ball's midpoint (mpmath), ``error_bound`` its radius
    rounded up (float); ``order`` the truncation N used; ``certified`` is True
    when ``error_bound <= rtol * (eigenvalue - error_bound)``; ``note`` says why
    not, or which trust base the proof has (``proof``).
    """

    eigenvalue: Any
    error_bound: float
    order: int
    certified: bool
    note: str
    proof: str
    ball: Any = None

    @property
    def relative_bound(self) -> float:
        v = abs(float(self.eigenvalue))
        return math.inf if v == 0 else self.error_bound / v


class CertifiedTree:
    r"""Ball-arithmetic moment recursion with the per-class bound of the module docstring.

    ``dag``: a tree DAG (see :func:`~eigencalc.spectral.tree.is_tree`);
    ``domain``: :class:`~eigencalc.domains.ProductSphere` or
    :class:`~eigencalc.domains.ProductHypercube`; ``kind``: ``"nngp"`` or ``"ntk"``.
    :meth:`ball` gives the enclosure at one order N, :meth:`certify` raises N.

    The trace identity (M10/M16) as a check: on one sphere the balls of all
    degrees k, times their multiplicities N(n, k), sum to at most K(1).

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> from eigencalc.domains import ProductSphere
    >>> net, dom = serial(Dense(), Relu(), Dense()), ProductSphere(1, 16)
    >>> cert = CertifiedTree(net.dag(1), dom, "ntk")
    >>> v = cert.certify((2,), rtol=1e-6)
    >>> v.certified, v.error_bound <= 1e-6 * float(v.eigenvalue)
    (True, True)
    >>> lower = sum(float(cert.ball((k,), 48).lower()) * dom.multiplicity((k,)) for k in range(30))
    >>> lower <= float(cert.theta1[net.dag(1).output].upper())
    True
    """

    def __init__(self, dag, domain, kind: str, *, dual_terms: int = DUAL_TERMS, prec: int = PREC):
        if not is_tree(dag) or dag.pooled:
            raise ValueError("certified eigenvalues need a pooling-free tree DAG")
        self.dag, self.domain, self.kind = dag, domain, kind
        self.ntk = kind == "ntk"
        self.dual_terms = int(dual_terms)
        self.prec = int(prec)
        self.signatures = Signatures(dag)
        self.need = dag.ancestors_of_output()
        self._memo: dict = {}
        self._mats: dict = {}
        self._leaves: dict = {}
        self._duals = _HERMITE_CACHE.setdefault(self.prec, {})
        with flint_precision(self.prec):
            self._setup()

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        dag = self.dag
        self.proof = "exact duals"
        try:
            q, theta = diagonal_walk(dag, SYMPY, self.need)
        except (NotInField, TypeError, ValueError):
            q, theta = diagonal_walk(dag, MPMATH, self.need)
            self.proof = f"quadrature duals (mpmath, {mpmath.mp.dps} digits)"
        self.q_exact = q
        self.q = {u: _trusted(v) for u, v in q.items()}
        self.theta1 = {u: _trusted(v) for u, v in theta.items()}
        self.w = {u: tuple(to_arb(w) for w in dag.nodes[u].exact_weights) for u in self.need}
        self.S: dict = {}
        self.dual: dict = {}
        for u in sorted(self.need):
            node = dag.nodes[u]
            if node.op == Op.INPUT:
                self.S[u] = arb(0)
            elif node.op == Op.ACTIVATION:
                (c,) = node.children
                self.dual[u] = self._dual(node.activation, c)
                self.S[u] = self.dual[u]["f0"]
            else:
                s = to_arb(node.exact_bias)
                for wi, c in zip(self.w[u], node.children):
                    s += wi * self.S[c]
                self.S[u] = s
        self.D = {u: self.q[u] - self.S[u] for u in self.need}

    def _hermite_squares(self, act, c, K: int) -> tuple:
        """Balls of a_k(q_c)^2 (k <= K), the tail tau_K and E[phi'^2] at variance q_c."""
        qe = self.q_exact[c]
        hom = getattr(act, "homogeneity", None)
        key = (act, K, None if hom is not None else str(qe))
        longer = [k for k in self._duals if k[0] == act and k[2] == key[2] and k[1] > K]
        if key not in self._duals and longer:
            coeffs, tail, dmoment = self._duals[min(longer, key=lambda k: k[1])]
            self._duals[key] = (coeffs[: K + 1], tail + sum(coeffs[K + 1 :], arb(0)), dmoment)
        if key not in self._duals:
            base = 1 if hom is not None else qe
            if not isinstance(base, (int, sympy.Basic)):
                base = sympy.Float(base, mpmath.mp.dps)
            s = act.dual_series(K, base)
            coeffs = [_trusted(v) for v in s.coefficients]
            total = _trusted(act.second_moment(base))
            try:
                dmoment = _trusted(act.derivative_second_moment(base))
            except (ValueError, TypeError):
                dmoment = None
            acc = arb(0)
            for v in coeffs:
                acc += v
            self._duals[key] = (coeffs, total - acc, dmoment)
        coeffs, tail, dmoment = self._duals[key]
        if hom is not None:
            scale = self.q[c] ** hom
            coeffs = [v * scale for v in coeffs]
            tail = tail * scale
            if dmoment is not None:
                dmoment = dmoment * self.q[c] ** (hom - 1)
        return coeffs, _upper(tail), dmoment

    def _dual(self, act, c, K: int | None = None) -> dict:
        """Dual coefficients e_k (k <= K, default ``dual_terms``), their tail, and the centre value f(S_c)."""
        if isinstance(act, Polynomial):
            K = act.degree
        elif K is None:
            K = self.dual_terms
        squares, tau, dmoment = self._hermite_squares(act, c, K)
        q = self.q[c]
        e = [v / q**k for k, v in enumerate(squares)]
        info = {"act": act, "c": c, "e": e, "tau": tau if not isinstance(act, Polynomial) else arb(0),
                "dmoment": dmoment, "K": K}
        info["f0"] = self._taylor(info, 0)
        return info

    def _taylor(self, info: dict, j: int) -> arb:
        r""":math:`f_j = \sum_{k\ge j} e_k \binom{k}{j} S_c^{k-j}`, the dropped k > K enclosed by the ratio bound."""
        e, K, tau = info["e"], info["K"], info["tau"]
        c = info["c"]
        S = self.S[c]
        out = arb(0)
        power = arb(1)
        for k in range(j, K + 1):
            out += e[k] * math.comb(k, j) * power
            power *= S
        if tau == 0:
            return out
        q = self.q[c]
        x = _upper(S / q)
        k0 = max(K + 1, j)
        ratio = x * (k0 + 1) / (k0 + 1 - j)
        if not ratio < 1:
            return out + arb("inf")
        first = math.comb(k0, j) * x ** (k0 - j)
        return out + _zero_to(tau * first / (1 - ratio) / q**j)

    # ------------------------------------------------------------- matrices
    def _matrices(self, u: int, N: int) -> dict:
        """F[p][m] = [d^m] g^p, G = [d^m] g^p f' (p, m <= N) as arb_mat, and the tail masses of Lemma 2."""
        info = self.dual[u]
        Sc = self.S[info["c"]]
        key = (id(info["act"]), str(self.q_exact[info["c"]]), Sc.mid().man_exp(), Sc.rad().man_exp(), N)
        if key in self._mats:
            return self._mats[key]
        if not isinstance(info["act"], Polynomial):
            # the ratio bound of _taylor needs x (K + 2) / (K + 2 - j) < 1 for j <= N + 1
            x = float(_upper(Sc / self.q[info["c"]]).mid())
            K = max(self.dual_terms, N + 2) if x == 0 else max(self.dual_terms, math.ceil((N + 3) / max(1 - x, 1e-3)) + 16)
            K = min(-(-K // 64) * 64, MAX_DUAL_TERMS)
            if K != info["K"]:
                info = self._dual(info["act"], info["c"], K)
        f = [self._taylor(info, j) for j in range(N + 2)]
        g = arb_poly([arb(0)] + f[1 : N + 1])
        df = arb_poly([(j + 1) * f[j + 1] for j in range(N + 1)])
        F_rows, G_rows = [], []
        power = arb_poly([1])
        for _ in range(N + 1):
            pc = _coeffs(power, N)
            F_rows.append(pc)
            if self.ntk:
                G_rows.append(_coeffs(power * df, N))
            power = _truncate(power * g, N)
        c = info["c"]
        Dc, Du = self.D[c], self.D[u]
        Dpow = [Dc**m for m in range(N + 1)]
        tauF = []
        for p in range(N + 1):
            s = arb(0)
            for m in range(N + 1):
                s += F_rows[p][m] * Dpow[m]
            tauF.append(_upper(Du**p - s))
        out = {"F": arb_mat(F_rows), "tauF": tauF, "DcN": Dc**N}
        if self.ntk:
            dm = info["dmoment"]
            tauG = []
            for p in range(N + 1):
                s = arb(0)
                for m in range(N + 1):
                    s += G_rows[p][m] * Dpow[m]
                tauG.append(arb("inf") if dm is None else _upper(Du**p * dm - s))
            out["G"] = arb_mat(G_rows)
            out["tauG"] = tauG
        self._mats[key] = out
        return out

    # ---------------------------------------------------------------- leaves
    def _leaf(self, k: int, N: int, bar: bool) -> tuple:
        key = (k, N, bar)
        if key not in self._leaves:
            mu = [self.domain.monomial_eigenvalue(k, a) for a in range(N + 2)]
            if bar:
                top = to_arb(self.domain.monomial_envelope(k, N + 2))  # sup over a >= N + 2
                env = [arb(0)] * (N + 2)
                run = top
                for a in range(N + 1, -1, -1):
                    v = to_arb(mu[a])
                    run = run if _upper(run) >= _upper(v) else v
                    env[a] = run
                A = env
            else:
                A = [to_arb(v) for v in mu]
            self._leaves[key] = (A[: N + 1], A[N + 1], [arb(0)] * (N + 1))
        return self._leaves[key]

    # --------------------------------------------------------------- moments
    def moments(self, u: int, r: dict, N: int, bar: bool) -> tuple:
        """(A[0..N], enclosure of A[N+1], B[0..N]) at node u for the local multi-index r."""
        key = (self.signatures.signature(u, r), N, bar)
        if key in self._memo:
            return self._memo[key]
        node = self.dag.nodes[u]
        if node.op == Op.INPUT:
            out = self._leaf(r.get(node.position, 0), N, bar)
        elif node.op == Op.ACTIVATION:
            out = self._activation(u, node, r, N, bar)
        else:
            out = self._linear(u, node, r, N, bar)
        self._memo[key] = out
        return out

    def _activation(self, u, node, r, N, bar):
        (c,) = node.children
        A_c, _, B_c = self.moments(c, r, N, bar)
        A_bar, _, B_bar = (A_c, None, B_c) if bar else self.moments(c, r, N, True)
        M = self._matrices(u, N)
        constant_child = self.D[c] == 0  # delta_c = 0: nothing is dropped
        A = _matvec(M["F"], A_c)
        if not constant_child:
            scale = _upper(A_bar[N]) / M["DcN"]
            A = [A[p] + _zero_to(M["tauF"][p] * scale) for p in range(N + 1)]
        # A_u[N+1] <= D_u * Abar_u[N] (Corollary)
        top = A[N] if bar else self.moments(u, r, N, True)[0][N]
        extra = _zero_to(self.D[u] * top)
        if not self.ntk:
            return A, extra, [arb(0)] * (N + 1)
        B = _matvec(M["G"], B_c)
        if not constant_child:
            scale = _upper(B_bar[N]) / M["DcN"]
            B = [B[p] + _zero_to(M["tauG"][p] * scale) for p in range(N + 1)]
        return A, extra, B

    def _linear(self, u, node, r, N, bar):
        n = N + 1
        fact = [math.factorial(p) for p in range(n + 1)]
        groups: dict = {}
        for c, w, wk in zip(node.children, self.w[u], self.signatures.weight_keys(u)):
            sig = self.signatures.signature(c, r)
            if (sig, wk) not in groups:
                A_c, ext, B_c = self.moments(c, r, N, bar)
                a = [A_c[p] * w**p / fact[p] for p in range(N + 1)] + [ext * w**n / fact[n]]
                b = [B_c[p] * w**p / fact[p] for p in range(N + 1)]
                groups[(sig, wk)] = [arb_poly(a), arb_poly(b), w, 0]
            groups[(sig, wk)][3] += 1
        polys = {key: (g[0], g[3]) for key, g in groups.items()}
        product = self._product(polys, n)
        A_full = [_coeff(product, p) * fact[p] for p in range(n + 1)]
        A = A_full[: N + 1]
        extra = A_full[n]
        if not self.ntk:
            return A, extra, [arb(0)] * (N + 1)
        theta = [arb(0)] * (N + 1)
        for key, (a, b, w, count) in groups.items():
            if all(x == 0 for x in b.coeffs()) or b.degree() < 0:
                continue
            others = dict(polys)
            others[key] = (a, count - 1)
            term = _truncate(self._product(others, N) * b, N)
            for p in range(N + 1):
                theta[p] += count * w * _coeff(term, p) * fact[p]
        if node.trainable:  # Theta_u += kappa Sigma_u + c (Node.ntk_scale / ntk_shift; 1, 0 in the NTK parameterization)
            kappa, shift = to_arb(node.ntk_scale), to_arb(node.ntk_shift)
            theta = [theta[p] + kappa * (self.S[u] * A_full[p] + A_full[p + 1]) + shift * A_full[p] for p in range(N + 1)]
        return A, extra, theta

    @staticmethod
    def _product(polys: dict, n: int) -> arb_poly:
        out = arb_poly([1])
        for poly, count in polys.values():
            base, k = poly, count
            while k:
                if k & 1:
                    out = _truncate(out * base, n)
                k >>= 1
                if k:
                    base = _truncate(base * base, n)
        return out

    # ------------------------------------------------------------ eigenvalues
    def ball(self, r: tuple, N: int) -> arb:
        """A ball containing lambda(r), from the recursion truncated at order N."""
        with flint_precision(self.prec):
            local = {i: v for i, v in enumerate(r) if v}
            A, _, B = self.moments(self.dag.output, local, N, False)
            if self.ntk:
                return B[0]
            return self.S[self.dag.output] * A[0] + A[1]

    def certify(self, r: tuple, rtol: float = RTOL, orders=ORDERS) -> CertifiedValue:
        """Raise the order along ``orders`` until radius <= rtol * lower end; report the last finite ball either way.

        Stops early when the ball lies within the working precision of 0 (relative to
        the trace :math:`K(1)`): such an eigenvalue is 0 as far as balls can tell, and no
        relative bound can be certified.  ``eigenvalue`` is None when no order gave a
        finite ball (a dual series tail could not be bounded).
        """
        last, note = None, ""
        with flint_precision(self.prec):
            scale = abs(self.theta1[self.dag.output] if self.ntk else self.q[self.dag.output]).upper()
            tiny = scale * arb(2) ** (-(self.prec - 24))
            for N in orders:
                b = self.ball(r, N)
                if not b.is_finite():
                    note = f"a dual series tail could not be bounded at order {N} (raise dual_terms)"
                    break
                last = (b, N)
                rad, mid = b.rad(), b.mid()
                lower = mid - rad
                if lower > 0 and rad <= lower * arb(rtol):
                    return self._value(b, N, True, "")
                if abs(b).upper() <= tiny:
                    note = f"eigenvalue is 0 to the ball precision (|eigenvalue| <= {float(abs(b).upper()):.1e})"
                    break
        if last is None:
            return CertifiedValue(None, math.inf, orders[0], False, note, self.proof, None)
        b, N = last
        if not note and not b.lower() > 0:
            note = f"the ball contains 0 at order {N} (|eigenvalue| <= {float(abs(b).upper()):.1e})"
        elif not note:
            note = f"rtol {rtol:g} not reached by order {N} (relative bound {float(b.rad()) / abs(float(b.mid())):.1e})"
        return self._value(b, N, False, note)

    def _value(self, b: arb, N: int, ok: bool, note: str) -> CertifiedValue:
        with flint_precision(self.prec):
            man, exp = b.mid().man_exp()
            value = mpmath.mpf((int(man), int(exp))) if man else mpmath.mpf(0)
            rad = float(b.rad().upper())
            rad = math.nextafter(rad, math.inf) if rad else 0.0
        return CertifiedValue(value, rad, N, ok, note, self.proof, b)


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _coeff(poly: arb_poly, i: int) -> arb:
    return poly[i] if i < poly.length() else arb(0)


def _coeffs(poly: arb_poly, n: int) -> list:
    c = poly.coeffs()[: n + 1]
    return list(c) + [arb(0)] * (n + 1 - len(c))


def _truncate(poly: arb_poly, n: int) -> arb_poly:
    """poly mod z^(n+1)."""
    return poly if poly.length() <= n + 1 else arb_poly(poly.coeffs()[: n + 1])


def _matvec(M: arb_mat, v: list) -> list:
    col = M * arb_mat([[x] for x in v])
    return [col[i, 0] for i in range(col.nrows())]
