r"""Dot-product kernels on one hypercube :math:`\{-1, 1\}^n` (MATH.md section 4, M12).

With the uniform probability measure and :math:`k(x, y) = f(\langle x, y\rangle / n)`,
the Walsh functions :math:`\chi_S(x) = \prod_{i \in S} x_i` are eigenfunctions;
the eigenvalue depends on :math:`|S| = k` only:

.. math::

    \mu_k = 2^{-n} \sum_{j=0}^{n} \binom{n}{j}\, f\!\Big(1 - \frac{2j}{n}\Big)\,
            \frac{K_k(j)}{\binom{n}{k}}, \qquad
    f\!\Big(1 - \frac{2j}{n}\Big) = \sum_{k=0}^{n} \mu_k\, K_k(j),

with the Krawtchouk polynomials :math:`K_k(j) = \sum_{\chi_S,\,|S|=k} \chi_S(x)`
for x at Hamming distance j from the all-ones vector, and multiplicity
:math:`\binom{n}{k}`.  Exact in rational arithmetic whenever the n + 1 values
of f are exact.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
import sympy

from ..core.numbers import exact_number, finite_mpf
from ..core.tables import Tabular
from ..special.orthopoly import (
    check_cube_dimension,
    hypercube_multiplicity,
    krawtchouk,
    krawtchouk_table,
)
from .sphere import _kernel_symbol

__all__ = [
    "HypercubeSpectrum",
    "hypercube_eigenvalues",
    "hypercube_multiplicity",
    "krawtchouk",
]


# K_k(j; n), binom(n, k) and the dimension check live in special/orthopoly.py (M12).


# --------------------------------------------------------------------------
# Values of f on the n + 1 correlations
# --------------------------------------------------------------------------


def _values(f: Any, n: int):
    """(kind, values) with kind "exact" (sympy numbers), or (kind, evaluator) with
    kind "mpmath" (evaluator(digits) -> mpf values at that precision) or "float64"
    (evaluator ignores digits: the values are float64)."""
    ts = [sympy.Rational(n - 2 * j, n) for j in range(n + 1)]
    if isinstance(f, sympy.Basic):
        if not isinstance(f, sympy.Expr):
            raise TypeError(f"f must be a sympy expression or a callable, got {type(f).__name__}")
        t = _kernel_symbol(f)
        vals = [f.xreplace({t: x}) for x in ts]
        exact = [exact_number(v, "f") for v in vals]
        if all(v is not None for v in exact):
            return "exact", exact
        g = sympy.lambdify(t, f, modules="mpmath")
        kind = "float64" if f.has(sympy.Float) else "mpmath"  # Float coefficients carry ~float64 precision
    elif isinstance(f, numbers.Number) and not isinstance(f, bool):
        return _values(sympy.nsimplify(f) if isinstance(f, (numbers.Integral, Fraction)) else sympy.Float(f), n)
    elif callable(f):
        # a callable: exact arguments first, then mpmath, then float64
        try:
            exact = [exact_number(f(x), "f") for x in ts]
            if all(v is not None for v in exact):
                return "exact", exact
        except (TypeError, AttributeError, ValueError):
            pass
        g = f
        try:
            with mpmath.workdps(mpmath.mp.dps + 10):
                probe = [g(mpmath.mpf(n - 2 * j) / n) for j in range(n + 1)]
            kind = "mpmath" if all(isinstance(v, mpmath.mpf) for v in probe) else "float64"
        except (TypeError, AttributeError):
            kind = "float64"
    else:
        raise TypeError(f"f must be a sympy expression in t or a callable of one real t, got {type(f).__name__}")

    def evaluate(digits: int) -> list:
        out = []
        with mpmath.workdps(digits):
            for j in range(n + 1):
                x = mpmath.mpf(n - 2 * j) / n
                try:
                    v = g(x)
                except (TypeError, AttributeError):
                    if kind != "float64":
                        raise
                    v = g((n - 2 * j) / n)
                out.append(finite_mpf(v, f"f({(n - 2 * j) / n})"))
        return out

    evaluate(mpmath.mp.dps)  # probe: finite and real at every correlation
    return kind, evaluate


# --------------------------------------------------------------------------
# Result object and front end
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class HypercubeSpectrum(Tabular):
    r"""Eigenvalues :math:`\mu_0, \dots, \mu_n` of :math:`f(\langle x, y\rangle/n)` on :math:`\{-1,1\}^n` (M12).

    ``exact``: sympy numbers from exact values of f (rationals when those are
    rational); otherwise mpf at ``dps`` digits computed from mpmath values of f
    (``method == "mpmath-M12"``) or from float64 values (``"float64-M12"``), and
    ``error_estimate[k]`` bounds the effect of the rounding of the values:
    :math:`\epsilon \sum_j |f_j \nu_k(j)|` with :math:`\epsilon = 2^{-52}`
    resp. :math:`10^{5-w}` for values computed at w digits (the sums cancel
    heavily for large k, so they are done with guard digits).  mpmath values are
    recomputed at higher precision until each eigenvalue has ``dps``
    significant digits or an absolute error below :math:`10^{-2\,\text{dps}}`
    times the sum of its terms' sizes (the sphere quadrature's rule).
    """

    n: int
    eigenvalues: list
    multiplicities: list
    exact: bool
    method: str
    error_estimate: list
    dps: int | None = None

    def rows(self) -> list:
        """One row per degree k: mu_k, binom(n, k) and the error estimate."""
        return [
            {"k": k, "eigenvalue": mu, "multiplicity": N, "error_estimate": e}
            for k, (mu, N, e) in enumerate(zip(self.eigenvalues, self.multiplicities, self.error_estimate))
        ]

    _latex_bounds = {"eigenvalue": "error_estimate"}

    def numeric(self) -> list:
        """The eigenvalues as mpf at the current ``mpmath.mp.dps``."""
        return [finite_mpf(m, "mu_k") for m in self.eigenvalues]

    def trace(self):
        r""":math:`\sum_k \mu_k \binom{n}{k} = f(1)` (exact when the spectrum is)."""
        if self.exact:
            return sympy.Add(*[m * N for m, N in zip(self.eigenvalues, self.multiplicities)])
        return mpmath.fsum(m * N for m, N in zip(self.eigenvalues, self.multiplicities))

    def reconstruct(self, t: Any):
        r""":math:`f(t) = \sum_k \mu_k K_k(j)` at :math:`t = 1 - 2j/n` (the Mercer sum on the cube)."""
        tq = sympy.nsimplify(t) if not isinstance(t, sympy.Basic) else t
        j = (1 - tq) * self.n / 2
        if not (j.is_Integer and 0 <= j <= self.n):
            raise ValueError(f"t must be one of 1 - 2j/n, j = 0..{self.n}; got {t}")
        row = [krawtchouk(k, int(j), self.n) for k in range(self.n + 1)]
        if self.exact:
            return sympy.Add(*[m * K for m, K in zip(self.eigenvalues, row)])
        return mpmath.fsum(m * K for m, K in zip(self.eigenvalues, row))


def hypercube_eigenvalues(f: Any, n: int) -> HypercubeSpectrum:
    r""":math:`\mu_k = 2^{-n}\sum_j \binom{n}{j} f(1 - 2j/n) K_k(j) / \binom{n}{k}`, :math:`k = 0..n` (M12).

    .. math::

        f(\langle x, y\rangle / n) = \sum_{S \subseteq [n]} \mu_{|S|}\, \chi_S(x)\, \chi_S(y)
        \quad\text{on } \{-1,1\}^n, \qquad \sum_k \mu_k \binom{n}{k} = f(1).

    ``f``: a sympy expression in one symbol, or a callable of t (it is first
    called with sympy rationals: exact sympy/int/Fraction results give an
    exact spectrum; else with mpf, else with floats).

    >>> t = sympy.Symbol('t')
    >>> H = hypercube_eigenvalues(t**2, 4); H.eigenvalues, H.exact
    ([1/4, 0, 1/8, 0, 0], True)
    >>> H.trace() == 1 and H.reconstruct(sympy.Rational(1, 2)) == sympy.Rational(1, 4)
    True
    """
    n = check_cube_dimension(n)
    kind, vals = _values(f, n)
    table = krawtchouk_table(n)
    mults = [hypercube_multiplicity(n, k) for k in range(n + 1)]
    binom_j = [math.comb(n, j) for j in range(n + 1)]
    if kind == "exact":
        mus = []
        for k in range(n + 1):
            den = 2**n * mults[k]
            acc = sympy.Add(*[sympy.Rational(binom_j[j] * table[k][j], den) * vals[j] for j in range(n + 1) if table[k][j]])
            mus.append(acc)
        return HypercubeSpectrum(n, mus, mults, True, "exact-M12", [sympy.Integer(0)] * (n + 1))
    dps = mpmath.mp.dps

    def spectrum(digits):
        values = vals(digits)
        # float64 values are exact binary numbers: sum them exactly enough (the sums cancel)
        with mpmath.workdps(digits + n // 3 + 10):
            mus, scale = [], []
            for k in range(n + 1):
                den = 2**n * mults[k]
                terms = [mpmath.mpf(binom_j[j] * table[k][j]) / den * values[j] for j in range(n + 1)]
                mus.append(mpmath.fsum(terms))
                scale.append(mpmath.fsum(abs(x) for x in terms))
        return mus, scale

    if kind == "float64":
        digits = dps
        eps = mpmath.mpf(2) ** -52
        mus, scale = spectrum(digits)
    else:
        # same goal as the sphere quadrature: dps significant digits, or 10^-2dps * scale absolutely;
        # values at `digits` digits give an absolute error ~ 10^(5-digits) * scale_k
        digits = dps + 10
        mus, scale = spectrum(digits)
        with mpmath.workdps(dps + 10):
            need = max(
                mpmath.log10(sc / max(abs(m), mpmath.mpf(10) ** -dps * sc)) if sc else 0
                for m, sc in zip(mus, scale)
            )
        if need > 5:
            digits = dps + 10 + int(mpmath.ceil(need))
            mus, scale = spectrum(digits)
        eps = mpmath.mpf(10) ** (5 - digits)
    with mpmath.workdps(dps):
        errs = [+(eps * sc) for sc in scale]
        mus = [+m for m in mus]
    return HypercubeSpectrum(n, mus, mults, False, f"{kind}-M12", errs, dps)
