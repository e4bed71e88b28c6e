r"""Large-degree decay of dot-product kernel eigenvalues on :math:`S^{n-1}` (MATH.md M13).

Bietti & Bach, "Deep Equals Shallow for ReLU Networks in Kernel Regimes"
(arXiv:2009.14397): if near the endpoints

.. math::

    f(1 - s) = \text{poly}(s) + c_+ s^{\nu_+} + \dots, \qquad
    f(-1 + s) = \text{poly}(s) + c_- s^{\nu_-} + \dots \qquad (s \downarrow 0)

with :math:`\nu_\pm` not integers, then
:math:`\mu_k \sim (C_+ + (-1)^k C_-)\, k^{-(n-1) - 2\nu}` on :math:`S^{n-1}`
(only the endpoints with the smallest :math:`\nu` enter the leading term).

**Derivation of the constant.**  With the Rodrigues formula
:math:`P_k(n;t)(1-t^2)^{\beta} = \frac{(-1)^k \Gamma(\beta+1)}{2^k\Gamma(k+\beta+1)}
\frac{d^k}{dt^k}(1-t^2)^{k+\beta}`, :math:`\beta = (n-3)/2`, k integrations by
parts and a Beta integral give the exact Funk--Hecke coefficient of a pure
endpoint power (analytic continuation in :math:`\nu` covers the singular
cases; :math:`\nu \in \mathbb N` reproduces M11):

.. math::

    \mu_k\big((1-t)^\nu\big) = \frac{\Gamma(\frac n2)\, 2^{\nu+n-2}\,
        \Gamma(\nu + \frac{n-1}{2})}{\sqrt\pi}\,
        \frac{(-\nu)_k}{\Gamma(k + \nu + n - 1)}
    \;\sim\; \frac{\Gamma(\frac n2)\, 2^{\nu+n-2}\, \Gamma(\nu + \frac{n-1}{2})}
        {\sqrt\pi\, \Gamma(-\nu)}\; k^{-(n-1)-2\nu},

using :math:`(-\nu)_k = \Gamma(k-\nu)/\Gamma(-\nu)` and
:math:`\Gamma(k+a)/\Gamma(k+b) \sim k^{a-b}`.  Since
:math:`P_k(n;-t) = (-1)^k P_k(n;t)`, the term :math:`c_-(1+t)^\nu` contributes
:math:`(-1)^k c_-\, \mu_k((1-t)^\nu)`.  The polynomial parts only touch finitely
many k, and the smooth remainder decays faster than every retained term.

For each parity :math:`\sigma = (-1)^k` the combined coefficient of the
singular power :math:`s^{\nu}` is :math:`c_+(\nu) + \sigma c_-(\nu)`; if it
vanishes (e.g. odd k of the arc-cosine kernel of degree 1) the next singular
power decides that parity, so ``exponent_even`` and ``exponent_odd`` can differ.

**Puiseux expansion.**  ``sympy.series`` is far too slow for compositions of
arc-cosine kernels (minutes at depth 2), so this module carries its own
truncated Puiseux series in :math:`s` with exact sympy coefficients, evaluated
bottom-up over the expression DAG (shared subexpressions once): sums,
products, rational powers (binomial series about the leading term), Taylor
series of sympy functions at regular points, and the branch points of
``acos``/``asin`` at :math:`\pm 1`
(:math:`\arccos(1-w) = 2\sum_m \frac{(2m)!}{4^m m!^2 (2m+1)} (w/2)^{m+1/2}`).
Whether a coefficient vanishes is decided numerically at 50 digits (exact zero
recognition for such constants is undecidable in general); the result lists
every singular term it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import mpmath
import sympy

from ..core.numbers import to_mpf
from ..core.tables import Tabular
from ..core.validate import check_int
from ..special.orthopoly import check_sphere_dimension
from .sphere import _coerce_kernel

__all__ = ["DecayLaw", "decay", "funk_hecke_power", "puiseux_endpoint"]


# --------------------------------------------------------------------------
# Exact Funk-Hecke coefficient of an endpoint power
# --------------------------------------------------------------------------


def _gamma_constant(n: int, nu: sympy.Expr) -> sympy.Expr:
    r""":math:`\Gamma(n/2) 2^{\nu+n-2} \Gamma(\nu+(n-1)/2) / \sqrt\pi`."""
    return sympy.gamma(sympy.Rational(n, 2)) * 2 ** (nu + n - 2) * sympy.gamma(nu + sympy.Rational(n - 1, 2)) / sympy.sqrt(sympy.pi)


def funk_hecke_power(k: int, n: int, nu: Any) -> sympy.Expr:
    r""":math:`\mu_k((1-t)^\nu)` on :math:`S^{n-1}`, exact (derivation in the module docs; M10, M13).

    .. math::

        \mu_k\big((1-t)^\nu\big) = \frac{\Gamma(\frac n2)\, 2^{\nu+n-2}\,
        \Gamma(\nu + \frac{n-1}{2})}{\sqrt\pi}\, \frac{(-\nu)_k}{\Gamma(k+\nu+n-1)},
        \qquad \nu > -\tfrac{n-1}{2}.

    For :math:`\nu \in \mathbb N` it vanishes for :math:`k > \nu` and agrees
    with M11 applied to the expanded polynomial:

    >>> from eigencalc.spheres import sphere_eigenvalues
    >>> t = sympy.Symbol('t')
    >>> [funk_hecke_power(k, 5, 2) for k in range(4)] == sphere_eigenvalues((1 - t)**2, 5, 3).eigenvalues
    True
    >>> funk_hecke_power(0, 3, sympy.Rational(1, 2)) == sympy.integrate(sympy.sqrt(1 - t), (t, -1, 1)) / 2
    True
    """
    k = check_int(k, "k (degree)", 0)
    n = check_sphere_dimension(n)
    nu = sympy.sympify(nu)
    if nu.is_number and (nu + sympy.Rational(n - 1, 2)).is_nonpositive:
        raise ValueError(f"(1-t)^nu is not integrable on S^{n - 1} for nu = {nu} <= -(n-1)/2")
    # numeric nu: sympy evaluates the half-integer Gammas itself (no simplify: k may be large)
    return _gamma_constant(n, nu) * sympy.rf(-nu, k) / sympy.gamma(k + nu + n - 1)


def _asymptotic_factor(n: int, nu: sympy.Expr) -> sympy.Expr:
    r""":math:`\lim_k k^{(n-1)+2\nu} \mu_k((1-t)^\nu) = \Gamma(\frac n2) 2^{\nu+n-2}\Gamma(\nu+\frac{n-1}2)/(\sqrt\pi\,\Gamma(-\nu))`."""
    return sympy.simplify(_gamma_constant(n, nu) / sympy.gamma(-nu))


# --------------------------------------------------------------------------
# Truncated Puiseux series in s > 0 with exact sympy coefficients
# --------------------------------------------------------------------------

_ZERO_DPS = 50
_ZERO_TOL = mpmath.mpf(10) ** -40


@dataclass
class _PS:
    """sum_e terms[e] s^e + O(s^prec); exponents are sympy Rationals."""

    terms: dict
    prec: Any  # Rational or sympy.oo

    def lo(self):
        return min(self.terms) if self.terms else self.prec


class _NotSupported(NotImplementedError):
    pass


def _clean(terms: dict, prec) -> dict:
    return {e: c for e, c in terms.items() if e < prec and c != 0}


def _cap(terms: dict, prec, P):
    """Truncate at the working order P: the precision drops to P only if terms are cut."""
    if any(e >= P for e in terms):
        prec = min(prec, P)
    return _clean(terms, prec), prec


# functions analytic away from their branch points (Taylor series by sympy.diff)
_ANALYTIC = frozenset({
    sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.sinh, sympy.cosh, sympy.tanh,
    sympy.asin, sympy.acos, sympy.atan, sympy.asinh, sympy.atanh, sympy.erf, sympy.erfc,
})


class _Expander:
    """Bottom-up Puiseux expansion of a sympy expression at t = point + sign * s."""

    def __init__(self, t: sympy.Symbol, point: int, order: sympy.Rational):
        self.t = t
        self.point = point
        self.P = order
        self.memo: dict = {}
        # large constants (values of inner kernels at the endpoint, derivatives
        # there) are replaced by opaque symbols while expanding, so that the
        # coefficients stay small polynomials; restore() substitutes them back
        self.consts: dict = {}  # Dummy -> expression (may contain earlier Dummies)
        self.numeric: dict = {}  # Dummy -> Float at _ZERO_DPS + 10 digits

    # constants ---------------------------------------------------------------
    def atom(self, c: sympy.Expr, size: int = 12) -> sympy.Expr:
        if c.is_Atom or c.is_Rational or sympy.count_ops(c) <= size:
            return c
        d = sympy.Dummy(f"c{len(self.consts)}")
        self.consts[d] = c
        self.numeric[d] = sympy.N(c.xreplace(self.numeric), _ZERO_DPS + 10)
        return d

    def coef(self, c: sympy.Expr) -> sympy.Expr:
        """Normal form of a series coefficient: expanded, or an opaque constant if large."""
        return self.atom(sympy.expand(c), 24)

    def num(self, c: sympy.Expr):
        """c as a sympy Float (complex if need be) at _ZERO_DPS digits."""
        return sympy.N(c.xreplace(self.numeric), _ZERO_DPS)

    def is_zero(self, c: sympy.Expr) -> bool:
        if c == 0:
            return True
        v = complex(self.num(c))
        return abs(v) < float(_ZERO_TOL)

    def restore(self, c: sympy.Expr) -> sympy.Expr:
        for _ in range(len(self.consts) + 1):
            if not c.has(*self.consts) if self.consts else True:
                return c
            c = c.xreplace(self.consts)
        return c  # pragma: no cover

    # basic arithmetic --------------------------------------------------------
    def const(self, c) -> _PS:
        return _PS({} if c == 0 else {sympy.Integer(0): c}, sympy.oo)

    def add(self, a: _PS, b: _PS) -> _PS:
        terms = dict(a.terms)
        for e, c in b.terms.items():
            terms[e] = terms.get(e, 0) + c
        return _PS(*_cap({e: self.coef(c) for e, c in terms.items()}, min(a.prec, b.prec), self.P))

    def scale(self, a: _PS, c) -> _PS:
        return _PS(_clean({e: self.coef(c * v) for e, v in a.terms.items()}, a.prec), a.prec)

    def mul(self, a: _PS, b: _PS) -> _PS:
        if not a.terms and a.prec == sympy.oo or not b.terms and b.prec == sympy.oo:
            return _PS({}, sympy.oo)
        prec = min(a.prec + b.lo(), b.prec + a.lo())
        terms: dict = {}
        for e1, c1 in a.terms.items():
            for e2, c2 in b.terms.items():
                e = e1 + e2
                if e < prec:
                    terms[e] = terms.get(e, 0) + c1 * c2
        return _PS(*_cap({e: self.coef(c) for e, c in terms.items()}, prec, self.P))

    def power_series(self, D: _PS, coeffs) -> _PS:
        """sum_m coeffs(m) D^m for D with positive valuation (truncated at the order)."""
        d = D.lo()
        if D.terms and d <= 0:
            raise _NotSupported("internal: power series in a non-small argument")
        out = self.const(coeffs(0))
        if not D.terms:
            return _PS(out.terms, D.prec)
        Dm = self.const(sympy.Integer(1))
        m = 0
        while True:
            m += 1
            if m * d >= self.P:
                break
            Dm = self.mul(Dm, D)
            c = coeffs(m)
            if c != 0:
                out = self.add(out, self.scale(Dm, c))
        # the tail sum_{m' >= m} is O(s^{m d}) (zero if the coefficients stop)
        prec = min(out.prec, m * d) if any(coeffs(j) != 0 for j in range(m, m + 3)) else out.prec
        return _PS(_clean(out.terms, prec), prec)

    def leading(self, a: _PS):
        """(exponent, coefficient) of the first numerically nonzero term."""
        for e in sorted(a.terms):
            if not self.is_zero(a.terms[e]):
                return e, a.terms[e]
        raise _NotSupported("cannot find the leading term of a series (all computed coefficients vanish); raise the order")

    def drop_zero_head(self, a: _PS, e0) -> _PS:
        return _PS({e: c for e, c in a.terms.items() if e >= e0}, a.prec)

    def rpow(self, a: _PS, r) -> _PS:
        r = sympy.sympify(r)
        if r.is_Integer and r >= 0:
            out = self.const(sympy.Integer(1))
            for _ in range(int(r)):
                out = self.mul(out, a)
            return out
        e0, c0 = self.leading(a)
        a = self.drop_zero_head(a, e0)
        if e0 == 0:
            a0 = c0
            if not r.is_Integer and self.num(a0) < 0:
                raise ValueError(f"f is not real near the endpoint: ({a0})^({r})")
            D = self.add(a, self.const(-a0))
            return self.power_series(D, lambda m: sympy.binomial(r, m) * a0 ** (r - m))
        if not r.is_Rational:
            raise _NotSupported(f"power s^({e0}*{r}) with an irrational exponent")
        if not r.is_Integer and self.num(c0) < 0:
            raise ValueError(f"f is not real near the endpoint: ({c0} s^{e0})^({r})")
        # a = c0 s^e0 (1 + D)
        inv = self.atom(1 / c0)
        shifted = _PS({e - e0: self.coef(c * inv) for e, c in a.terms.items()}, a.prec - e0)
        D = self.add(shifted, self.const(sympy.Integer(-1)))
        saveP = self.P
        self.P = saveP - e0 * r if e0 * r < 0 else saveP  # keep enough relative terms
        try:
            inner = self.power_series(D, lambda m: sympy.binomial(r, m))
        finally:
            self.P = saveP
        lead = self.atom(c0**r)
        terms = {e + e0 * r: self.coef(lead * c) for e, c in inner.terms.items()}
        return _PS(*_cap(terms, inner.prec + e0 * r, self.P))

    # functions ----------------------------------------------------------------
    def acos_at_one(self, w: _PS) -> _PS:
        r"""acos(1 - w) for w = O(s^e), e > 0: 2 sum_m a_m (w/2)^{m + 1/2}."""
        half_w = self.scale(w, sympy.Rational(1, 2))
        root = self.rpow(half_w, sympy.Rational(1, 2))
        series = self.power_series(
            half_w,
            lambda m: 2 * sympy.factorial(2 * m) / (4**m * sympy.factorial(m) ** 2 * (2 * m + 1)),
        )
        return self.mul(root, series)

    def function(self, func, a: _PS) -> _PS:
        if func not in _ANALYTIC:
            raise _NotSupported(f"{func.__name__} is not one of the analytic functions the endpoint expansion supports")
        if a.terms and a.lo() < 0:
            raise ValueError(f"f is unbounded near the endpoint (argument of {func.__name__} blows up)")
        a0 = a.terms.get(sympy.Integer(0), sympy.Integer(0))
        D = self.add(a, self.const(-a0))
        if func in (sympy.acos, sympy.asin):
            v = self.num(a0)
            if abs(v) > 1 + 1e-25:
                raise ValueError(f"f is not real near the endpoint: {func.__name__}({a0})")
            if abs(abs(v) - 1) < 1e-25:
                sgn = 1 if v > 0 else -1
                # acos(sgn (1 - w)) with w = 1 - sgn * a
                w = self.scale(self.add(a, self.const(-sgn)), -sgn)
                w = _PS({e: c for e, c in w.terms.items() if e != 0}, w.prec)  # w(0) = 0 (numerically)
                if w.terms:
                    e0, c0 = self.leading(w)
                    if self.num(c0) < 0:
                        raise ValueError(f"f is not real near the endpoint: {func.__name__} argument leaves [-1, 1]")
                    w = self.drop_zero_head(w, e0)
                    ac = self.acos_at_one(w)
                else:
                    ac = _PS({}, w.prec)
                if sgn < 0:  # acos(-(1-w)) = pi - acos(1-w)
                    ac = self.add(self.const(sympy.pi), self.scale(ac, -1))
                if func is sympy.asin:  # asin = pi/2 - acos
                    ac = self.add(self.const(sympy.pi / 2), self.scale(ac, -1))
                return ac
        if func is sympy.log and self.is_zero(a0):
            raise _NotSupported("logarithmic endpoint terms are not covered by M13")
        x = sympy.Dummy("x")
        derivs = [func(x)]
        cache: dict = {}

        def coeff(m):
            if m not in cache:
                while len(derivs) <= m:
                    derivs.append(sympy.diff(derivs[-1], x))
                val = derivs[m].xreplace({x: a0})
                if val.has(sympy.zoo, sympy.oo, sympy.nan) or not sympy.N(val.xreplace(self.numeric), 20).is_finite:
                    raise _NotSupported(f"{func.__name__} is singular at the endpoint value {self.restore(a0)}")
                cache[m] = self.atom(val / sympy.factorial(m))
            return cache[m]

        return self.power_series(D, coeff)

    # traversal ----------------------------------------------------------------
    def expand(self, expr: sympy.Expr) -> _PS:
        hit = self.memo.get(expr)
        if hit is not None:
            return hit
        out = self._expand(expr)
        self.memo[expr] = out
        return out

    def _expand(self, expr: sympy.Expr) -> _PS:
        if self.t not in expr.free_symbols:
            return self.const(self.atom(expr))
        if expr == self.t:
            return _PS({sympy.Integer(0): sympy.Integer(self.point), sympy.Integer(1): sympy.Integer(-self.point)}, sympy.oo)
        if expr.is_Add:
            out = self.const(sympy.Integer(0))
            for arg in expr.args:
                out = self.add(out, self.expand(arg))
            return out
        if expr.is_Mul:
            out = self.const(sympy.Integer(1))
            for arg in expr.args:
                out = self.mul(out, self.expand(arg))
            return out
        if expr.is_Pow:
            base, ex = expr.args
            if self.t in ex.free_symbols:
                return self.function(sympy.exp, self.mul(self.expand(ex), self.function(sympy.log, self.expand(base))))
            return self.rpow(self.expand(base), ex)
        if isinstance(expr, sympy.Function) and len(expr.args) == 1:
            return self.function(expr.func, self.expand(expr.args[0]))
        raise _NotSupported(f"cannot expand {type(expr).__name__} ({expr}) at an endpoint")


@lru_cache(maxsize=64)
def _endpoint_terms(f: sympy.Expr, endpoint: int, order: sympy.Rational) -> tuple:
    """[(exponent, exact coefficient, Float value)] of the expansion at an endpoint."""
    free = f.free_symbols
    if len(free) > 1:
        raise ValueError(f"f must depend on one symbol only, got {sorted(map(str, free))}")
    t = next(iter(free)) if free else sympy.Symbol("t")
    work = order
    while True:  # relative-precision losses (division by leading terms) need a higher working order
        ex = _Expander(t, endpoint, work)
        try:
            ps = ex.expand(f)
        except _NotSupported as exc:
            raise NotImplementedError(str(exc)) from None
        if ps.prec >= order:
            break
        if work >= order + 8:
            raise NotImplementedError(f"expansion only valid to O(s^{ps.prec}); ask for a lower order")
        work += max(order - ps.prec, sympy.Rational(1, 2))
    return tuple(
        (e, _tidy(ex.restore(c)), ex.num(c))
        for e, c in sorted(ps.terms.items())
        if e < order and not ex.is_zero(c)
    )


def puiseux_endpoint(f: sympy.Expr, endpoint: int, order: Any = 3) -> list:
    r"""Terms :math:`(e, c)` of :math:`f(\pm(1 - s)) = \sum_e c\, s^e + O(s^{\text{order}})`, exact.

    .. math::

        f(1 - s) \text{ (endpoint } +1\text{)}, \qquad f(-1 + s) \text{ (endpoint } -1\text{)}, \qquad s \downarrow 0,

    a truncated Puiseux series with rational exponents and exact sympy
    coefficients (the engine behind :func:`decay`, M13).

    >>> t = sympy.Symbol('t')
    >>> puiseux_endpoint(sympy.acos(t), 1, 2)
    [(1/2, sqrt(2)), (3/2, sqrt(2)/12)]
    >>> puiseux_endpoint(t * sympy.sqrt(1 + t), -1, 2)
    [(1/2, -1), (3/2, 1)]
    """
    if endpoint not in (1, -1):
        raise ValueError(f"endpoint must be 1 or -1, got {endpoint!r}")
    f = sympy.sympify(f)
    if not isinstance(f, sympy.Expr):
        raise TypeError("f must be a sympy expression")
    order = sympy.Rational(order)
    if order <= 0:
        raise ValueError(f"order must be positive, got {order}")
    return [(e, c) for e, c, _ in _endpoint_terms(f, endpoint, order)]


def _tidy(c: sympy.Expr) -> sympy.Expr:
    """Light simplification of a coefficient (skipped for large expressions)."""
    return sympy.simplify(c) if sympy.count_ops(c) < 60 else c


# --------------------------------------------------------------------------
# Decay law
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DecayLaw(Tabular):
    r"""Asymptotic law :math:`\mu_k \sim C_{\text{parity}(k)}\, k^{-p_{\text{parity}(k)}}` on :math:`S^{n-1}` (M13).

    ``exponent`` is :math:`p = \min(p_{even}, p_{odd})`; ``C_even`` /
    ``C_odd`` are the exact constants at the parity's own exponent
    ``exponent_even`` / ``exponent_odd`` (equal to ``exponent`` unless the
    leading endpoint terms cancel for one parity; a parity whose terms cancel
    up to the expansion order has exponent None and constant 0).
    ``terms_plus`` / ``terms_minus``: the singular terms :math:`(\nu, c)` of
    :math:`f(1-s)` / :math:`f(-1+s)` found below :math:`s^{\text{order}}`;
    ``numeric`` holds 50-digit values of the constants (keys ``"C_even"``,
    ``"C_odd"``) and of the coefficients (keys ``(+1, nu)``, ``(-1, nu)``),
    because the exact expressions of deep kernels are large trees;
    ``expression`` is the law as a sympy expression in the symbol ``k``.
    """

    n: int
    exponent: sympy.Expr | None
    C_even: sympy.Expr
    C_odd: sympy.Expr
    exponent_even: sympy.Expr | None
    exponent_odd: sympy.Expr | None
    terms_plus: tuple
    terms_minus: tuple
    expression: sympy.Expr
    order: sympy.Expr
    numeric: dict = field(default_factory=dict, compare=False)
    notes: tuple = field(default_factory=tuple)

    @property
    def nu(self):
        r"""Leading singular exponent :math:`\nu = (p - (n-1))/2` (None without one)."""
        return None if self.exponent is None else (self.exponent - (self.n - 1)) / 2

    _latex_bounds: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def rows(self) -> list:
        """One row per parity: exponent p and constant C of mu_k ~ C k^-p (exact and 50-digit)."""
        out = []
        for parity, p, C in (("even", self.exponent_even, self.C_even), ("odd", self.exponent_odd, self.C_odd)):
            numeric = self.numeric.get(f"C_{parity}")
            out.append({"parity": parity, "exponent": p, "constant": numeric if numeric is not None else C, "n": self.n})
        return out

    def predict(self, k: int, *, shifted: bool = False) -> mpmath.mpf:
        r""":math:`C_{\text{parity}(k)}\, \kappa^{-p_{\text{parity}(k)}}` as an mpf, :math:`\kappa = k` or :math:`k + (n-2)/2`.

        ``shifted=True`` uses :math:`\kappa = k + (n-2)/2`, the midpoint for
        which :math:`\Gamma(k-\nu)/\Gamma(k+\nu+n-1) = \kappa^{-p}(1 + O(\kappa^{-2}))`
        (the :math:`O(1/k)` term of the plain law, about :math:`-(p/2)(n-2)/k`
        relative, disappears), so it is accurate to about :math:`10^{-4}` at k = 200.
        """
        k = check_int(k, "k", 1)
        p = self.exponent_even if k % 2 == 0 else self.exponent_odd
        if p is None:
            return mpmath.mpf(0)
        C = to_mpf(self.numeric["C_even" if k % 2 == 0 else "C_odd"])
        kappa = mpmath.mpf(k) + (mpmath.mpf(self.n - 2) / 2 if shifted else 0)
        return C * kappa ** (-to_mpf(p))

    def singular_part(self, k: int) -> mpmath.mpf:
        r""":math:`\sum_j (c_{+,j} + (-1)^k c_{-,j})\, \mu_k((1-t)^{\nu_j})`: exact Funk--Hecke of the singular terms.

        For k above the degree of the polynomial parts this differs from
        :math:`\mu_k` only by the expansion remainder (the next singular power,
        beyond ``order``), so it is sharper at finite k than :meth:`predict`,
        which drops the :math:`1 + O(1/k)` factor of the Gamma ratio.
        """
        k = check_int(k, "k", 0)
        n = self.n
        sgn = 1 if k % 2 == 0 else -1
        total = mpmath.mpf(0)
        with mpmath.workdps(mpmath.mp.dps + 10):
            for side, terms in ((1, self.terms_plus), (-1, self.terms_minus)):
                for nu, _ in terms:
                    x = to_mpf(nu)
                    pref = mpmath.gamma(mpmath.mpf(n) / 2) * mpmath.power(2, x + n - 2)
                    pref *= mpmath.gamma(x + mpmath.mpf(n - 1) / 2) / mpmath.sqrt(mpmath.pi)
                    val = pref * mpmath.rf(-x, k) / mpmath.gamma(k + x + n - 1)
                    total += (sgn if side < 0 else 1) * to_mpf(self.numeric[(side, nu)]) * val
        return +total


def decay(f: Any, n: int, *, order: Any = 3) -> DecayLaw:
    r"""Bietti--Bach decay law :math:`\mu_k \sim (C_+ + (-1)^k C_-)\, k^{-(n-1)-2\nu}` on :math:`S^{n-1}` (M13).

    .. math::

        C_\pm = c_\pm\, \frac{\Gamma(\frac n2)\, 2^{\nu+n-2}\, \Gamma(\nu + \frac{n-1}{2})}{\sqrt\pi\, \Gamma(-\nu)},
        \qquad f(\pm(1 - s)) = \text{poly}(s) + c_\pm s^{\nu} + \dots

    ``f`` is a sympy expression in one symbol; its endpoint expansions are
    computed up to :math:`O(s^{\text{order}})` (raised automatically up to 10
    while no non-integer power shows up).  ReLU NTK: :math:`\nu = 1/2`,
    exponent n; ReLU NNGP: :math:`\nu = 3/2`, exponent n + 2 (Bietti--Bach,
    arXiv:2009.14397).

    >>> t = sympy.Symbol('t')
    >>> k0 = 1 - sympy.acos(t) / sympy.pi          # arc-cosine kernel of degree 0
    >>> law = decay(k0, 3); law.exponent, law.C_even, law.C_odd
    (3, 0, 1/pi)
    >>> law.exponent_even is None                    # even k >= 2 vanish exactly
    True
    """
    n = check_sphere_dimension(n)
    if not isinstance(f, sympy.Expr):
        raise TypeError("decay needs f as a sympy expression in t (the endpoint expansions are symbolic)")
    _coerce_kernel(f)  # probes finiteness and realness on [-1, 1]
    order = sympy.Rational(order)
    if order <= 0:
        raise ValueError(f"order must be positive, got {order}")

    def singular(terms):
        return [(e, c, v) for e, c, v in terms if not e.is_Integer]

    while True:
        plus = singular(_endpoint_terms(f, 1, order))
        minus = singular(_endpoint_terms(f, -1, order))
        if plus or minus or order >= 10:
            break
        order = min(2 * order, sympy.Integer(10))
    for nu, _, _ in plus + minus:
        if nu <= 0:
            raise ValueError(f"f is not bounded at an endpoint (term s^{nu})")
    numeric = {(1, nu): v for nu, _, v in plus}
    numeric.update({(-1, nu): v for nu, _, v in minus})
    cp = {nu: c for nu, c, _ in plus}
    cm = {nu: c for nu, c, _ in minus}
    nus = sorted(set(cp) | set(cm))
    found = {}
    for parity, sgn in (("even", 1), ("odd", -1)):
        found[parity] = (None, sympy.Integer(0), sympy.Float(0))
        for nu in nus:
            value = numeric.get((1, nu), 0) + sgn * numeric.get((-1, nu), 0)
            if abs(complex(value)) > float(_ZERO_TOL):
                factor = _asymptotic_factor(n, nu)
                C = _tidy(factor * (cp.get(nu, 0) + sgn * cm.get(nu, 0)))
                found[parity] = ((n - 1) + 2 * nu, C, sympy.N(factor, _ZERO_DPS) * value)
                break
    (pe, Ce, ve), (po, Co, vo) = found["even"], found["odd"]
    numeric["C_even"], numeric["C_odd"] = ve, vo
    exps = [p for p in (pe, po) if p is not None]
    exponent = min(exps) if exps else None
    k = sympy.Symbol("k", positive=True, integer=True)
    notes = []
    if exponent is None:
        notes.append(f"no non-integer endpoint power below s^{order}: eigenvalues decay faster than any power (or vanish)")
        expr = sympy.Integer(0)
    elif pe == po:
        expr = (_tidy((Ce + Co) / 2) + (-1) ** k * _tidy((Ce - Co) / 2)) * k ** (-exponent)
    else:
        even = Ce * k ** (-pe) if pe is not None else 0
        odd = Co * k ** (-po) if po is not None else 0
        expr = (1 + (-1) ** k) / 2 * even + (1 - (-1) ** k) / 2 * odd
    return DecayLaw(
        n, exponent, Ce, Co, pe, po,
        tuple((nu, c) for nu, c, _ in plus), tuple((nu, c) for nu, c, _ in minus),
        expr, order, numeric, tuple(notes),
    )
