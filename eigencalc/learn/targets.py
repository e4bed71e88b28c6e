r"""Target functions as eigen-expansions on product domains (MATH.md M14, section 7).

A :class:`Target` is a finite combination of *fixed* product harmonics, one
chosen eigenfunction :math:`\phi_r` per multi-index :math:`r \in \mathbb N^d`:

.. math::

    f(x) = \sum_r c_r\, \phi_r(x), \qquad \phi_r(x) = \prod_{i=1}^{d} Y_{r_i}(x_i),
    \qquad E[\phi_r \phi_s] = \delta_{rs},

so its squared :math:`L^2` mass in the eigenspace of :math:`r` (M14) is
:math:`c_r^2` (:meth:`Target.mass_by_index`), which is what the eigenlearning
prediction (:func:`eigencalc.learning.learning_curve`, MATH.md section 7)
needs.  The chosen one-patch harmonics :math:`Y_k` are

* hypercube patch :math:`\{-1,1\}^{n_0}` (M12): the Walsh monomial of the
  *first* k coordinates, :math:`Y_k(x_i) = \prod_{j<k} x_{i,j}`
  (defined for :math:`k \le n_0`);
* sphere patch of radius :math:`\sqrt{n_0}` (M9): the normalised zonal
  harmonic about the first coordinate axis :math:`e = e_1`,
  :math:`Y_k(x_i) = \sqrt{N(n_0,k)}\,P_k(n_0; \langle x_i, e\rangle/\sqrt{n_0})`,
  with unit second moment.  (Any fixed unit vector would do: the kernel
  eigenvalue depends only on r; :math:`e_1` matches
  :func:`eigencalc.numerics.zonal_harmonic`-based Monte-Carlo checks.)

Constructors: :func:`harmonic` (one :math:`\phi_r`), :func:`k_local` and
:func:`k_global` (Mori–Ueda), :func:`f_LF`, :func:`f_HF` and
:func:`cyclic_local` (Misiakiewicz–Mei); targets add and scale
(``0.6 * f + 0.8 * g``), combining coefficients of equal r.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..core.validate import check_int
from ..harmonic.domains import Domain, ProductHypercube, check_domain
from ..special.orthopoly import zonal_harmonic

__all__ = ["Target", "harmonic", "k_local", "k_global", "cyclic_local", "f_LF", "f_HF"]

_ZERO = 1e-15  # coefficients with |c| below this times the largest are dropped after arithmetic


def _check_patch_degree(domain: Domain, k: int, what: str) -> None:
    top = domain.max_patch_degree()
    if top is not None and k > top:
        raise ValueError(
            f"{what}: {domain!r} has no harmonic of degree {k} on a patch (a hypercube patch "
            f"{{-1,1}}^{top} carries Walsh functions of degree <= n0 = {top}); the target is not expressible on this domain"
        )


class Target:
    r"""A target :math:`f = \sum_r c_r \phi_r` on a product domain (M14); see the module docstring.

    ``coefficients`` maps multi-indices r (length d) to real :math:`c_r`.
    ``f(X)`` evaluates on inputs of shape ``(N, d, n0)``;
    :meth:`mass_by_index` gives :math:`\{r: c_r^2\}`.

    >>> from eigencalc.domains import ProductHypercube
    >>> dom = ProductHypercube(4, 1)
    >>> f = 0.6 * harmonic(dom, (1, 1, 0, 0)) + 0.8 * harmonic(dom, (0, 0, 0, 1))
    >>> round(f.norm2(), 12), {k: round(v, 12) for k, v in f.frequencies().items()}
    (1.0, {1: 0.64, 2: 0.36})
    """

    def __init__(self, domain: Domain, coefficients: Mapping, name: str | None = None, *, _evaluator: Callable | None = None):
        self.domain = check_domain(domain)
        coeffs: dict = {}
        for r, c in dict(coefficients).items():
            r = domain.check_index(r)
            _check_patch_degree(domain, max(r), "Target")
            c = float(c)
            if not math.isfinite(c):
                raise ValueError(f"Target: coefficient of {r} is not finite ({c})")
            coeffs[r] = coeffs.get(r, 0.0) + c
        big = max((abs(c) for c in coeffs.values()), default=0.0)
        self.coefficients = {r: c for r, c in coeffs.items() if abs(c) > _ZERO * big}
        self.name = name or "target"
        self._evaluator = _evaluator

    # ---------------------------------------------------------------- masses
    def mass_by_index(self) -> dict:
        r""":math:`\{r: c_r^2\}`: squared :math:`L^2` mass in the r-eigenspace (M14)."""
        return {r: c * c for r, c in self.coefficients.items()}

    def norm2(self) -> float:
        r""":math:`E[f^2] = \sum_r c_r^2` (Parseval)."""
        return float(sum(c * c for c in self.coefficients.values()))

    def frequencies(self) -> dict:
        r"""Mass per frequency :math:`|r|` (M18): :math:`\{k: \sum_{|r| = k} c_r^2\}`."""
        out: dict = {}
        for r, c in self.coefficients.items():
            out[sum(r)] = out.get(sum(r), 0.0) + c * c
        return dict(sorted(out.items()))

    def mass_by_class(self, spectrum) -> dict:
        r"""Mass per (frequency, space) of ``spectrum``'s DAG (M18): :math:`\{(|r|, s(r)): \sum c_r^2\}`."""
        out: dict = {}
        for r, c in self.coefficients.items():
            key = (sum(r), spectrum.space(r))
            out[key] = out.get(key, 0.0) + c * c
        return dict(sorted(out.items()))

    @property
    def max_frequency(self) -> int:
        """Largest |r| with a nonzero coefficient (0 for the zero target)."""
        return max((sum(r) for r in self.coefficients), default=0)

    # ------------------------------------------------------------ evaluation
    def __call__(self, X: Any) -> np.ndarray:
        r""":math:`f(x_n)` for inputs ``X`` of shape ``(N, d, n0)`` on the domain; float64, shape ``(N,)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim >= 3 and X.shape[1:] == (*self.domain.grid, self.domain.n0):
            X = X.reshape(X.shape[0], self.domain.d, self.domain.n0)  # a grid of patches, row-major
        if X.ndim != 3 or X.shape[1:] != (self.domain.d, self.domain.n0):
            raise ValueError(
                f"inputs must have shape (N, d, n0) = (N, {self.domain.d}, {self.domain.n0}), got {X.shape}"
            )
        if self._evaluator is not None:
            return self._evaluator(X)
        return self._evaluate_terms(X)

    def _patch_harmonics(self, X: np.ndarray) -> dict:
        """(patch i, degree k) -> Y_k(x_i) for the degrees the terms use."""
        needed = {(i, k) for r in self.coefficients for i, k in enumerate(r) if k}
        out = {}
        if isinstance(self.domain, ProductHypercube):
            cum = np.cumprod(X, axis=2)
            for i, k in needed:
                out[i, k] = cum[:, i, k - 1]
        else:
            n0 = self.domain.n0
            s = np.clip(X[:, :, 0] / math.sqrt(n0), -1.0, 1.0)
            for i, k in needed:
                out[i, k] = zonal_harmonic(k, n0, s[:, i])
        return out

    def _evaluate_terms(self, X: np.ndarray) -> np.ndarray:
        H = self._patch_harmonics(X)
        y = np.zeros(X.shape[0])
        for r, c in self.coefficients.items():
            term = np.full(X.shape[0], c)
            for i, k in enumerate(r):
                if k:
                    term *= H[i, k]
            y += term
        return y

    # ------------------------------------------------------------ arithmetic
    def _same_domain(self, other: "Target") -> None:
        if not isinstance(other, Target):
            raise TypeError(f"can only combine a Target with a Target, got {type(other).__name__}")
        if other.domain != self.domain or type(other.domain) is not type(self.domain):
            raise ValueError(f"targets live on different domains: {self.domain!r} and {other.domain!r}")

    def __add__(self, other: "Target") -> "Target":
        if isinstance(other, (int, float)) and other == 0:
            return self
        self._same_domain(other)
        coeffs = dict(self.coefficients)
        for r, c in other.coefficients.items():
            coeffs[r] = coeffs.get(r, 0.0) + c
        return Target(self.domain, coeffs, f"({self.name} + {other.name})")

    def __radd__(self, other):  # sum([...]) starts from 0
        return self.__add__(other)

    def __mul__(self, scale: Any) -> "Target":
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
            return NotImplemented
        scale = float(scale)
        ev = self._evaluator
        return Target(
            self.domain,
            {r: scale * c for r, c in self.coefficients.items()},
            f"{scale:g}*{self.name}",
            _evaluator=None if ev is None else (lambda X: scale * ev(X)),
        )

    __rmul__ = __mul__

    def __neg__(self) -> "Target":
        return self * -1.0

    def __sub__(self, other: "Target") -> "Target":
        return self + (-other)

    def normalized(self) -> "Target":
        """The same direction with unit L2 norm."""
        n = self.norm2()
        if n == 0:
            raise ValueError("cannot normalise the zero target")
        return self * (1.0 / math.sqrt(n))

    def __repr__(self) -> str:
        return (
            f"Target({self.name}, {self.domain!r}, terms={len(self.coefficients)}, "
            f"norm2={self.norm2():.6g}, frequencies={sorted(self.frequencies())})"
        )


# --------------------------------------------------------------------------
# Constructors
# --------------------------------------------------------------------------


def harmonic(domain: Domain, r: Sequence) -> Target:
    r"""One normalised product harmonic :math:`\phi_r(x) = \prod_i Y_{r_i}(x_i)` (M14).

    .. math:: E[\phi_r^2] = 1,\qquad \text{hypercube: } Y_k(x_i) = \prod_{j<k} x_{i,j},\qquad
              \text{sphere: } Y_k(x_i) = \sqrt{N(n_0,k)}\,P_k\!\big(n_0; x_{i,1}/\sqrt{n_0}\big).

    >>> from eigencalc.domains import ProductHypercube
    >>> f = harmonic(ProductHypercube(2, 3), (2, 1))
    >>> float(f(np.array([[[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]]]))[0])
    1.0
    >>> harmonic(ProductHypercube(2, 1), (2, 0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: harmonic: ProductHypercube(d=2, n0=1) has no harmonic of degree 2 on a patch ...
    """
    domain = check_domain(domain)
    r = domain.check_index(r)
    _check_patch_degree(domain, max(r), "harmonic")
    return Target(domain, {r: 1.0}, f"Y{r}")


def k_local(domain: Domain, k: int, start: int = 0, *, degree: int = 1) -> Target:
    r"""Mori–Ueda k-local target: one product of k *adjacent* patches.

    .. math:: f(x) = \prod_{i=s}^{s+k-1} Y_{\text{deg}}(x_i), \qquad E[f^2] = 1,

    positions :math:`s, \dots, s+k-1` (no wrap-around), each patch entering
    through its degree-``degree`` harmonic (on the plain hypercube,
    n0 = 1: :math:`x_s x_{s+1} \cdots x_{s+k-1}`).  Frequency
    :math:`k\cdot\text{deg}`.

    Reference: T. Mori, M. Ueda, "Is deeper better? It depends on locality of
    relevant features", arXiv:2005.12488 (k-local label: product of k
    neighbouring components).

    >>> from eigencalc.domains import ProductHypercube
    >>> k_local(ProductHypercube(6, 1), 3, start=2).mass_by_index()
    {(0, 0, 1, 1, 1, 0): 1.0}
    """
    domain = check_domain(domain)
    k = check_int(k, "k_local: k", 1)
    start = check_int(start, "k_local: start", 0)
    degree = check_int(degree, "k_local: degree", 1)
    if start + k > domain.d:
        raise ValueError(
            f"k_local: positions {start}..{start + k - 1} are out of range for d = {domain.d} patches"
        )
    _check_patch_degree(domain, degree, "k_local")
    r = tuple(degree if start <= i < start + k else 0 for i in range(domain.d))
    return Target(domain, {r: 1.0}, f"k_local(k={k}, start={start})")


def k_global(domain: Domain, k: int, blocks: Sequence[Sequence[int]] | None = None, *, degree: int = 1) -> Target:
    r"""Mori–Ueda k-global target: a product of k normalised block sums spread over the input.

    .. math:: f(x) = \prod_{b=1}^{k} \Big(\frac{1}{\sqrt{|B_b|}} \sum_{i \in B_b} Y_{\text{deg}}(x_i)\Big)
              = \sum_{i_1 \in B_1, \dots, i_k \in B_k} \prod_b \frac{Y_{\text{deg}}(x_{i_b})}{\sqrt{|B_b|}},
              \qquad E[f^2] = 1,

    a sum of :math:`\prod_b |B_b|` product harmonics of frequency
    :math:`k\cdot\text{deg}`, each of mass :math:`\prod_b |B_b|^{-1}`
    (disjoint blocks make the factors independent with unit second moment).
    Default blocks: k contiguous blocks of :math:`d/k` patches (k must divide d).

    Reference: T. Mori, M. Ueda, "Is deeper better? It depends on locality of
    relevant features", arXiv:2005.12488 (k-global label: product of the
    sums over k blocks covering the input).

    >>> from eigencalc.domains import ProductHypercube
    >>> f = k_global(ProductHypercube(4, 1), 2)
    >>> sorted(f.mass_by_index().items())[:2]
    [((0, 1, 0, 1), 0.25), ((0, 1, 1, 0), 0.25)]
    """
    domain = check_domain(domain)
    k = check_int(k, "k_global: k", 1)
    degree = check_int(degree, "k_global: degree", 1)
    _check_patch_degree(domain, degree, "k_global")
    d = domain.d
    if blocks is None:
        if k > d or d % k:
            raise ValueError(f"k_global: k = {k} must divide d = {d} (or pass explicit blocks)")
        size = d // k
        blocks = [list(range(b * size, (b + 1) * size)) for b in range(k)]
    else:
        blocks = [[check_int(p, "k_global: block position", 0) for p in B] for B in blocks]
        if len(blocks) != k:
            raise ValueError(f"k_global: need k = {k} blocks, got {len(blocks)}")
        seen: set = set()
        for B in blocks:
            if not B:
                raise ValueError("k_global: blocks must be non-empty")
            for p in B:
                if p >= d:
                    raise ValueError(f"k_global: position {p} out of range for d = {d} patches")
                if p in seen:
                    raise ValueError(f"k_global: blocks must be disjoint (position {p} repeated)")
                seen.add(p)
    coeffs = {}
    weight = 1.0 / math.sqrt(math.prod(len(B) for B in blocks))
    for choice in itertools.product(*blocks):
        r = [0] * d
        for p in choice:
            r[p] = degree
        coeffs[tuple(r)] = weight

    frozen = [list(B) for B in blocks]

    def evaluate(X: np.ndarray) -> np.ndarray:
        if isinstance(domain, ProductHypercube):
            Y = np.prod(X[:, :, :degree], axis=2)
        else:
            s = np.clip(X[:, :, 0] / math.sqrt(domain.n0), -1.0, 1.0)
            Y = zonal_harmonic(degree, domain.n0, s)
        out = np.ones(X.shape[0])
        for B in frozen:
            out *= Y[:, B].sum(axis=1) / math.sqrt(len(B))
        return out

    return Target(domain, coeffs, f"k_global(k={k}, blocks={[len(B) for B in blocks]})", _evaluator=evaluate)


def cyclic_local(domain: Domain, k: int, j: int = 0, *, degree: int = 1) -> Target:
    r"""Cyclic sum of local products with shift frequency j (Misiakiewicz–Mei, section 6 pooling).

    .. math:: f(x) \propto \sum_{i=0}^{d-1} \cos\!\Big(\frac{2\pi j i}{d}\Big)
              \prod_{a=0}^{k-1} Y_{\text{deg}}(x_{i+a \bmod d}), \qquad E[f^2] = 1,

    the real part of the shift-orbit mode :math:`\psi_{j,S}` of MATH.md section 6
    with S = k adjacent patches; j = 0 is :func:`f_LF`, j = d/2 is :func:`f_HF`.
    Needs :math:`k \le d`; normalised after collecting equal r.

    Reference: T. Misiakiewicz, S. Mei, "Learning with convolution and pooling
    operations in kernel methods", arXiv:2111.08308.
    """
    domain = check_domain(domain)
    k = check_int(k, "cyclic_local: k", 1)
    j = check_int(j, "cyclic_local: j", 0)
    degree = check_int(degree, "cyclic_local: degree", 1)
    d = domain.d
    if k > d:
        raise ValueError(f"cyclic_local: k = {k} adjacent patches do not fit in d = {d}")
    _check_patch_degree(domain, degree, "cyclic_local")
    coeffs: dict = {}
    for i in range(d):
        w = math.cos(2 * math.pi * j * i / d)
        if 2 * j == d:
            w = float((-1) ** i)
        elif j == 0:
            w = 1.0
        r = [0] * d
        for a in range(k):
            r[(i + a) % d] = degree
        coeffs[tuple(r)] = coeffs.get(tuple(r), 0.0) + w
    target = Target(domain, coeffs, f"cyclic_local(k={k}, j={j})")
    if target.norm2() == 0:
        raise ValueError(f"cyclic_local: the shift mode j = {j} of a {k}-local product vanishes for d = {d}")
    return target.normalized()


def f_LF(domain: Domain, k: int) -> Target:
    r"""Misiakiewicz–Mei's low-frequency (shift-invariant) local target :math:`f_{LF,k}`.

    .. math:: f_{LF,k}(x) = \frac{1}{\sqrt d} \sum_{i=0}^{d-1} x_i x_{i+1} \cdots x_{i+k-1}
              \quad (\text{indices mod } d,\ n_0 = 1;\ \text{patches through } Y_1 \text{ otherwise}).

    Reference: T. Misiakiewicz, S. Mei, "Learning with convolution and pooling
    operations in kernel methods", arXiv:2111.08308 (numerical section: cyclic
    degree-3 polynomials on the hypercube).

    >>> from eigencalc.domains import ProductHypercube
    >>> f = f_LF(ProductHypercube(8, 1), 3)
    >>> len(f.coefficients), round(f.norm2(), 12)
    (8, 1.0)
    """
    t = cyclic_local(domain, k, 0)
    t.name = f"f_LF,{k}"
    return t


def f_HF(domain: Domain, k: int) -> Target:
    r"""Misiakiewicz–Mei's high-frequency local target :math:`f_{HF,k}` (alternating signs; d even).

    .. math:: f_{HF,k}(x) = \frac{1}{\sqrt d} \sum_{i=0}^{d-1} (-1)^i\, x_i x_{i+1} \cdots x_{i+k-1},

    the highest shift frequency j = d/2: same local eigenspaces and masses as
    :func:`f_LF` for pooling-free kernels, orthogonal to every shift-invariant
    function (killed by global pooling, MATH.md section 6).

    Reference: T. Misiakiewicz, S. Mei, "Learning with convolution and pooling
    operations in kernel methods", arXiv:2111.08308.
    """
    domain = check_domain(domain)
    if domain.d % 2:
        raise ValueError(f"f_HF: the alternating-sign cyclic sum needs an even number of patches, got d = {domain.d}")
    t = cyclic_local(domain, k, domain.d // 2)
    t.name = f"f_HF,{k}"
    return t
