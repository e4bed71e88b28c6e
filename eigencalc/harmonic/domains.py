r"""Input domains: products of spheres and of hypercubes (MATH.md section 5, M14).

Each input has ``d`` patches of ``n0`` coordinates.  On a
:class:`ProductSphere` every patch is uniform on the sphere of radius
:math:`\sqrt{n_0}` in :math:`\mathbb R^{n_0}`; on a :class:`ProductHypercube`
uniform on :math:`\{-1, 1\}^{n_0}`.  In both cases the per-patch correlation
:math:`t_i = \langle x_i, y_i\rangle / n_0` lies in [-1, 1] and products of
one-patch harmonics :math:`Y_r(x) = \prod_i Y_{r_i}(x_i)` diagonalise every
kernel :math:`K(t_1, \dots, t_d)`.

The patches sit on a row (``d`` an int, 1-D) or on a grid (``d = (H, W)``,
2-D, any number of axes): the domain keeps the ``grid``, ``d`` is the number
of patches, and multi-indices, patches and positions are numbered row-major,
as the kernel compiler numbers them.  A multi-index on a grid may be given in
its grid shape (``r[h][w]``) or flat.

The one-patch building block is the eigenvalue of a monomial,
:math:`\mu_k(t^a; n_0)`: M11 on the sphere, M12 on the hypercube.  Both are
exact rationals (``fractions.Fraction``) for integer ``n0``; the sphere one is
also available with a sympy symbol for ``n0`` (asymptotics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from ..core.validate import check_grid, check_int
from ..special.orthopoly import (
    hypercube_multiplicity,
    krawtchouk_table,
    sphere_multiplicity,
)

__all__ = [
    "Domain",
    "ProductSphere",
    "ProductHypercube",
    "Sphere",
    "Hypercube",
    "sphere_monomial_eigenvalue",
    "hypercube_monomial_eigenvalue",
    "check_domain",
    "sample",
]


@lru_cache(maxsize=None)
def sphere_monomial_eigenvalue(k: int, a: int, n: int) -> Fraction:
    r""":math:`\mu_k(t^a)` on :math:`S^{n-1}` (M11), exact.

    .. math:: \mu_k(t^a) = \frac{a!\,\Gamma(n/2)}{2^a\,((a-k)/2)!\,\Gamma((a+k+n)/2)}
              = \frac{a!}{2^a\,((a-k)/2)!\,(n/2)_{(a+k)/2}}

    for :math:`a \ge k`, :math:`a - k` even, else 0; :math:`(x)_m` is the rising
    factorial.  Sum rule: :math:`\sum_k \mu_k(t^a) N(n, k) = 1`.

    >>> sphere_monomial_eigenvalue(1, 1, 3), sphere_monomial_eigenvalue(0, 2, 3)
    (Fraction(1, 3), Fraction(1, 3))
    """
    if a < k or (a - k) % 2:
        return Fraction(0)
    m = (a + k) // 2
    rising = Fraction(1)
    for i in range(m):
        rising *= Fraction(n, 2) + i
    return Fraction(math.factorial(a), 2**a * math.factorial((a - k) // 2)) / rising


def sphere_monomial_eigenvalue_symbolic(k: int, a: int, n: sympy.Symbol) -> sympy.Expr:
    """M11 with a sympy symbol ``n`` (a rational function of n)."""
    if a < k or (a - k) % 2:
        return sympy.Integer(0)
    m = (a + k) // 2
    return sympy.factorial(a) / (2**a * sympy.factorial((a - k) // 2) * sympy.rf(n / 2, m))


@lru_cache(maxsize=None)
def hypercube_signed_measure(k: int, n: int) -> tuple:
    r"""Weights :math:`\nu_k(j) = 2^{-n}\binom{n}{j} K_k(j)/\binom{n}{k}` on :math:`t = 1 - 2j/n` (M12).

    :math:`\mu_k(f) = \sum_j f(1 - 2j/n)\,\nu_k(j)` for every function f of t.
    """
    K = krawtchouk_table(n)[k]
    return tuple(Fraction(math.comb(n, j) * K[j], 2**n * hypercube_multiplicity(n, k)) for j in range(n + 1))


@lru_cache(maxsize=None)
def hypercube_monomial_eigenvalue(k: int, a: int, n: int) -> Fraction:
    r""":math:`\mu_k(t^a)` on :math:`\{-1,1\}^n` with :math:`t = \langle x, y\rangle/n` (M12), exact.

    >>> hypercube_monomial_eigenvalue(1, 1, 4), hypercube_monomial_eigenvalue(0, 2, 4)
    (Fraction(1, 4), Fraction(1, 4))
    """
    if k > n:
        return Fraction(0)
    nu = hypercube_signed_measure(k, n)
    return sum((Fraction(n - 2 * j, n) ** a * w for j, w in enumerate(nu)), Fraction(0))


@dataclass(frozen=True)
class Domain:
    """A product of ``d`` identical patch domains with ``n0`` coordinates each (M14).

    ``d`` is an int (a row of patches) or a grid shape such as ``(H, W)``;
    after construction ``d`` is the number of patches and ``grid`` the shape
    (``(d,)`` for a row).
    """

    d: int
    n0: int
    grid: tuple = field(init=False, repr=False)

    kind = "abstract"

    def __post_init__(self):
        grid = check_grid(self.d, "patches")
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "d", math.prod(grid))
        check_int(self.n0, "n0 (coordinates per patch)", self._min_n0)

    @property
    def ndim(self) -> int:
        """Number of grid axes (1 for a row of patches, 2 for an image grid)."""
        return len(self.grid)

    def _geometry(self) -> str:
        return f"d={self.d}" if self.ndim == 1 else f"d={self.grid}"

    def grid_index(self, r: tuple) -> tuple:
        """A flat multi-index in the grid's shape: nested tuples ``r[h][w]`` (the flat tuple on a row)."""
        def nested(a):
            return tuple(nested(b) for b in a) if isinstance(a, list) else int(a)

        return nested(np.asarray(r, dtype=np.int64).reshape(self.grid).tolist())

    _min_n0 = 1

    # one patch -----------------------------------------------------------------
    def patch_multiplicity(self, k: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def monomial_eigenvalue(self, k: int, a: int) -> Fraction:  # pragma: no cover - abstract
        raise NotImplementedError

    def max_patch_degree(self) -> int | None:
        """Largest degree with a nonzero eigenspace on one patch (None: unbounded)."""
        return None

    def monomial_envelope(self, k: int, a: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def degree_envelope(self, r: tuple, D: int) -> float:
        r"""Upper bound on :math:`\prod_i \mu_{r_i}(t^{\alpha_i})` over :math:`\alpha \ge r`, :math:`|\alpha| \ge D`.

        Used to bound eigenvalue errors from dropped monomials of total degree
        >= D (M16 refined).  Patches with :math:`r_i = 0` contribute moments
        :math:`\mu_0(t^a) = E[t^a]`, log-convex in a (Hölder) and decreasing, so
        their extra degree is best concentrated on one patch; patches in the
        support use the envelope :math:`U_k(a) = \sup_{a' \ge a} \mu_k(t^{a'})`,
        optimised exactly over splits by dynamic programming.  float64, rounded up.
        """
        support = [k for k in r if k > 0]
        zeros = len(r) - len(support)
        units = max(0, -(-(D - sum(r)) // 2))  # extra degree comes in steps of 2 per patch
        best = [0.0] * (units + 1)
        for m in range(units + 1):  # the zero-frequency bucket takes 2m extra degrees
            if m and not zeros:
                break
            best[m] = self.monomial_envelope(0, 2 * m)
        for k in support:
            new = [0.0] * (units + 1)
            for have in range(units + 1):
                if best[have] == 0.0:
                    continue
                for m in range(units + 1 - have):
                    v = best[have] * self.monomial_envelope(k, k + 2 * m)
                    if v > new[have + m]:
                        new[have + m] = v
            best = new
        # allocations that overshoot the budget are dominated (envelopes are nonincreasing)
        return max(best[units:]) * (1 + 1e-12) if units < len(best) else 0.0

    # multi-indices -------------------------------------------------------------
    def check_index(self, r: Any) -> tuple:
        """Validate a multi-index r (length d, or the grid's shape; nonnegative integers); returns it flat."""
        if self.ndim > 1:
            r = self._flatten_grid_index(r)
        try:
            r = tuple(r)
        except TypeError:
            raise TypeError(f"multi-index r must be a sequence of {self.d} integers, got {r!r}") from None
        if len(r) != self.d:
            raise ValueError(f"multi-index r must have length d = {self.d}, got length {len(r)}")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"multi-index entries must be integers, got {v!r}")
            if v < 0:
                raise ValueError(f"multi-index entries must be >= 0, got {v}")
        return tuple(int(v) for v in r)

    def _flatten_grid_index(self, r: Any):
        """A multi-index given in the grid's shape, row-major; flat ones pass through."""
        try:
            shape = np.shape(np.asarray(r, dtype=object))
        except ValueError:  # ragged
            raise ValueError(f"multi-index r must have shape {self.grid} (or length {self.d}), got a ragged {r!r}") from None
        if shape == self.grid:
            return list(np.asarray(r, dtype=object).reshape(-1))
        if len(shape) == 1:
            return r
        raise ValueError(f"multi-index r must have shape {self.grid} (the grid) or length {self.d}, got shape {shape}")

    def check_harmonic_index(self, r: Any) -> tuple:
        r"""A multi-index r (:meth:`check_index`) whose eigenspace exists: :math:`\mathrm{mult}(r) > 0` (M14).

        On a hypercube patch the degrees are :math:`r_i \le n_0`
        (:math:`\binom{n_0}{r_i} = 0` beyond); a sphere patch has harmonics of every degree.

        >>> ProductHypercube(2, 1).check_harmonic_index([1, 0]), ProductSphere(1, 3).check_harmonic_index((5,))
        ((1, 0), (5,))
        >>> ProductHypercube(2, 1).check_harmonic_index((2, 0))
        Traceback (most recent call last):
        ...
        ValueError: ProductHypercube(d=2, n0=1) has no harmonics of degree 2 > n0 = 1 on a patch
        """
        r = self.check_index(r)
        top = self.max_patch_degree()
        if top is not None and max(r) > top:
            raise ValueError(f"{self!r} has no harmonics of degree {max(r)} > n0 = {top} on a patch")
        return r

    def multiplicity(self, r: Any) -> int:
        r"""Dimension of the eigenspace of :math:`Y_r` (M14): :math:`\prod_i N(n_0, r_i)`."""
        r = self.check_index(r)
        degrees: dict = {}
        for k in r:  # patches of equal degree share N(n0, k): one call per distinct degree
            degrees[k] = degrees.get(k, 0) + 1
        return math.prod(self.patch_multiplicity(k) ** count for k, count in degrees.items())

    def sample(self, N: int, seed: Any = None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class ProductSphere(Domain):
    r"""d patches, each uniform on the sphere of radius :math:`\sqrt{n_0}` in :math:`\mathbb R^{n_0}`."""

    kind = "sphere"
    _min_n0 = 2

    def patch_multiplicity(self, k: int) -> int:
        r""":math:`N(n_0, k)` harmonics of degree k on one patch (M9, :func:`~eigencalc.special.orthopoly.sphere_multiplicity`)."""
        return sphere_multiplicity(self.n0, k)

    def monomial_eigenvalue(self, k: int, a: int) -> Fraction:
        return sphere_monomial_eigenvalue(k, a, self.n0)

    def monomial_envelope(self, k: int, a: int) -> float:
        r""":math:`\sup_{a' \ge a,\ a' \equiv k (2)} \mu_k(t^{a'})` on the sphere (M11).

        The ratio :math:`\mu_k(t^{a+2})/\mu_k(t^a) = \frac{(a+1)(a+2)}{(a-k+2)(a+k+n)}`
        is <= 1 once :math:`(n-1)a \ge (k-2)(k+n) + 2`, so the supremum is a
        finite maximum.
        """
        n = self.n0
        a = max(a, k)
        if (a - k) % 2:
            a += 1
        turn = max(a, -(-((k - 2) * (k + n) + 2) // (n - 1)) + 2)
        return max(float(sphere_monomial_eigenvalue(k, b, n)) for b in range(a, turn + 1, 2)) * (1 + 1e-12)

    def sample(self, N: int, seed: Any = None) -> np.ndarray:
        """N inputs of shape (d, n0) (on a grid ``(H, W, n0)``), each patch uniform on the radius-sqrt(n0) sphere."""
        N = check_int(N, "N (number of samples)")
        g = np.random.default_rng(seed).standard_normal((N, *self.grid, self.n0))
        return g * (np.sqrt(self.n0) / np.linalg.norm(g, axis=-1, keepdims=True))

    def __repr__(self) -> str:
        return f"ProductSphere({self._geometry()}, n0={self.n0})"


@dataclass(frozen=True)
class ProductHypercube(Domain):
    r"""d patches, each uniform on :math:`\{-1, 1\}^{n_0}` (n0 = 1: the hypercube :math:`\{-1,1\}^d`)."""

    kind = "hypercube"

    def patch_multiplicity(self, k: int) -> int:
        r""":math:`\binom{n_0}{k}` Walsh functions of degree k (M12)."""
        return hypercube_multiplicity(self.n0, k)

    def monomial_eigenvalue(self, k: int, a: int) -> Fraction:
        return hypercube_monomial_eigenvalue(k, a, self.n0)

    def max_patch_degree(self) -> int:
        return self.n0

    def monomial_envelope(self, k: int, a: int) -> float:
        r""":math:`\sup_{a' \ge a,\ a' \equiv k (2)} \mu_k(t^{a'})` on the hypercube (M12).

        :math:`\mu_k(t^a) = \nu_k(0) + (-1)^a \nu_k(n) + R(a)` with
        :math:`|R(a)| \le \sum_{0<j<n} |\nu_k(j)| (1 - 2/n)^a`; the maximum of the
        first values and the limit plus that remainder bound the supremum.
        """
        n = self.n0
        if k > n:
            return 0.0
        a = max(a, k)
        if (a - k) % 2:
            a += 1
        nu = [float(v) for v in hypercube_signed_measure(k, n)]
        if n == 1:
            return abs(nu[0] + (-1) ** a * nu[1])
        horizon = a + 400
        inner = sum(abs(v) for v in nu[1:-1])
        limit = nu[0] + (-1) ** k * nu[-1] + inner * (1 - 2 / n) ** horizon
        head = max(float(hypercube_monomial_eigenvalue(k, b, n)) for b in range(a, horizon + 1, 2))
        return max(head, limit) * (1 + 1e-12)

    def sample(self, N: int, seed: Any = None) -> np.ndarray:
        """N inputs of shape (d, n0) (on a grid ``(H, W, n0)``) with independent uniform signs."""
        N = check_int(N, "N (number of samples)")
        rng = np.random.default_rng(seed)
        return rng.choice(np.array([-1.0, 1.0]), size=(N, *self.grid, self.n0))

    def __repr__(self) -> str:
        return f"ProductHypercube({self._geometry()}, n0={self.n0})"


def Sphere(n: int) -> ProductSphere:
    """The sphere of radius sqrt(n) in R^n: one patch (d = 1, n0 = n)."""
    return ProductSphere(1, n)


def Hypercube(n: int) -> ProductHypercube:
    """The hypercube {-1, 1}^n as one patch (d = 1, n0 = n)."""
    return ProductHypercube(1, n)


def check_domain(domain: Any) -> Domain:
    """``domain`` is a :class:`ProductSphere` or a :class:`ProductHypercube` (else ``TypeError``)."""
    if not isinstance(domain, (ProductSphere, ProductHypercube)):
        raise TypeError(f"domain must be a ProductSphere or ProductHypercube, got {type(domain).__name__}")
    return domain


# --------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------


def sample(domain: Domain, N: int, seed: Any = None) -> np.ndarray:
    r"""N independent uniform inputs of shape ``(N, d, n0)`` (``(N, H, W, n0)`` on a grid) on a product domain (M14).

    Delegates to ``domain.sample``: on a :class:`~eigencalc.domains.ProductSphere`
    each patch is uniform on the sphere of radius :math:`\sqrt{n_0}`, on a
    :class:`~eigencalc.domains.ProductHypercube` uniform on :math:`\{-1,1\}^{n_0}`.

    .. math:: x = (x_1, \dots, x_d), \quad x_i \sim \mathrm{Unif}(\sqrt{n_0}\, S^{n_0 - 1}) \ \text{or}\ \mathrm{Unif}\{-1,1\}^{n_0}

        >>> X = sample(ProductSphere(3, 4), 2, seed=0)
    >>> X.shape, bool(np.allclose((X**2).sum(-1), 4.0))
    ((2, 3, 4), True)
    """
    domain = check_domain(domain)
    N = check_int(N, "N (number of samples)")
    return np.ascontiguousarray(domain.sample(N, seed), dtype=np.float64)
