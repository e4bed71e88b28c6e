r"""Input domains: products of spheres and of hypercubes (MATH.md section 5, M14).

Each input has ``d`` patches of ``n0`` coordinates.  On a
:class:`ProductSphere` every patch is uniform on the sphere of radius
:math:`\sqrt{n_0}` in :math:`\mathbb R^{n_0}`; on a :class:`ProductHypercube`
uniform on :math:`\{-1, 1\}^{n_0}`.  In both cases the per-patch correlation
:math:`t_i = \langle x_i, y_i\rangle / n_0` lies in [-1, 1] and products of
one-patch harmonics :math:`Y_r(x) = \prod_i Y_{r_i}(x_i)` diagonalise every
kernel :math:`K(t_1, \dots, t_d)`.

The one-patch building block is the eigenvalue of a monomial,
:math:`\mu_k(t^a; n_0)`: M11 on the sphere, M12 on the hypercube.  Both are
exact rationals (``fractions.Fraction``) for integer ``n0``; the sphere one is
also available with a sympy symbol for ``n0`` (asymptotics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

__all__ = [
    "Domain",
    "ProductSphere",
    "ProductHypercube",
    "Sphere",
    "Hypercube",
    "sphere_monomial_eigenvalue",
    "hypercube_monomial_eigenvalue",
]


def _check_positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


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
def _krawtchouk(k: int, j: int, n: int) -> int:
    return sum((-1) ** i * math.comb(j, i) * math.comb(n - j, k - i) for i in range(k + 1))


@lru_cache(maxsize=None)
def hypercube_signed_measure(k: int, n: int) -> tuple:
    r"""Weights :math:`\nu_k(j) = 2^{-n}\binom{n}{j} K_k(j)/\binom{n}{k}` on :math:`t = 1 - 2j/n` (M12).

    :math:`\mu_k(f) = \sum_j f(1 - 2j/n)\,\nu_k(j)` for every function f of t.
    """
    return tuple(Fraction(math.comb(n, j) * _krawtchouk(k, j, n), 2**n * math.comb(n, k)) for j in range(n + 1))


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
    """A product of ``d`` identical patch domains with ``n0`` coordinates each (M14)."""

    d: int
    n0: int

    kind = "abstract"

    def __post_init__(self):
        _check_positive_int(self.d, "d (number of patches)")
        _check_positive_int(self.n0, "n0 (coordinates per patch)", self._min_n0)

    _min_n0 = 1

    # one patch -----------------------------------------------------------------
    def patch_multiplicity(self, k: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def monomial_eigenvalue(self, k: int, a: int) -> Fraction:  # pragma: no cover - abstract
        raise NotImplementedError

    def max_patch_degree(self) -> int | None:
        """Largest degree with a nonzero eigenspace on one patch (None: unbounded)."""
        return None

    # multi-indices -------------------------------------------------------------
    def check_index(self, r: Any) -> tuple:
        """Validate a multi-index r (length d, nonnegative integers)."""
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

    def multiplicity(self, r: Any) -> int:
        r"""Dimension of the eigenspace of :math:`Y_r` (M14): :math:`\prod_i N(n_0, r_i)`."""
        r = self.check_index(r)
        return math.prod(self.patch_multiplicity(k) for k in r)

    def sample(self, N: int, seed: Any = None) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class ProductSphere(Domain):
    r"""d patches, each uniform on the sphere of radius :math:`\sqrt{n_0}` in :math:`\mathbb R^{n_0}`."""

    kind = "sphere"
    _min_n0 = 2

    def patch_multiplicity(self, k: int) -> int:
        r""":math:`N(n, 0) = 1`, :math:`N(n, k) = \frac{2k+n-2}{k}\binom{k+n-3}{k-1}` (M9)."""
        if k == 0:
            return 1
        n = self.n0
        return (2 * k + n - 2) * math.comb(k + n - 3, k - 1) // k

    def monomial_eigenvalue(self, k: int, a: int) -> Fraction:
        return sphere_monomial_eigenvalue(k, a, self.n0)

    def sample(self, N: int, seed: Any = None) -> np.ndarray:
        """N inputs of shape (d, n0), each patch uniform on the radius-sqrt(n0) sphere."""
        N = _check_positive_int(N, "N (number of samples)")
        g = np.random.default_rng(seed).standard_normal((N, self.d, self.n0))
        return g * (np.sqrt(self.n0) / np.linalg.norm(g, axis=-1, keepdims=True))

    def __repr__(self) -> str:
        return f"ProductSphere(d={self.d}, n0={self.n0})"


@dataclass(frozen=True)
class ProductHypercube(Domain):
    r"""d patches, each uniform on :math:`\{-1, 1\}^{n_0}` (n0 = 1: the hypercube :math:`\{-1,1\}^d`)."""

    kind = "hypercube"

    def patch_multiplicity(self, k: int) -> int:
        r""":math:`\binom{n_0}{k}` Walsh functions of degree k (M12)."""
        return math.comb(self.n0, k)

    def monomial_eigenvalue(self, k: int, a: int) -> Fraction:
        return hypercube_monomial_eigenvalue(k, a, self.n0)

    def max_patch_degree(self) -> int:
        return self.n0

    def sample(self, N: int, seed: Any = None) -> np.ndarray:
        """N inputs of shape (d, n0) with independent uniform signs."""
        N = _check_positive_int(N, "N (number of samples)")
        rng = np.random.default_rng(seed)
        return rng.choice(np.array([-1.0, 1.0]), size=(N, self.d, self.n0))

    def __repr__(self) -> str:
        return f"ProductHypercube(d={self.d}, n0={self.n0})"


def Sphere(n: int) -> ProductSphere:
    """The sphere of radius sqrt(n) in R^n: one patch (d = 1, n0 = n)."""
    return ProductSphere(1, n)


def Hypercube(n: int) -> ProductHypercube:
    """The hypercube {-1, 1}^n as one patch (d = 1, n0 = n)."""
    return ProductHypercube(1, n)
