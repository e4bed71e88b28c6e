r"""Real data on a product of spheres, and a target's power per (frequency, space) class (issue 13).

:func:`digits_on_spheres` puts scikit-learn's shipped 8x8 digits (1797 images,
no download) patch-wise onto :math:`\prod_{i} \sqrt{n_0}\,S^{n_0-1}`:

1. pixels scaled to [0, 1] (divided by 16);
2. ``centre="dataset"``: the dataset's mean image is subtracted, so every
   coordinate has mean 0 over the data, as it has under the uniform measure on
   the sphere (``None``: no centring);
3. the image is cut into a grid of ``patch x patch`` blocks
   (:math:`n_0 = \text{patch}^2` coordinates each, row-major inside the block);
4. a constant ``bias`` is added to every coordinate.  Without it, blank blocks
   (the corners of every digit, zero after centring) have no direction; with it
   they map to the constant direction :math:`(1, \dots, 1)` and every block is
   away from the origin (a block is 0 only if all its centred pixels equal
   ``-bias``; checked, with an error);
5. every block is scaled to norm :math:`\sqrt{n_0}`.

The data are *not* uniform on the product of spheres, which is what the
spectra and the eigenlearning prediction assume; :func:`class_power` measures
the target against the uniform-measure eigenfunctions on the data.

:func:`class_power` estimates, for each (frequency, space) class of a
spectrum, the power :math:`\sum_{r \in \text{class}} \sum_{Y} \langle f, Y_r\rangle^2`
of a target in the span of the class's eigenfunctions (products of per-patch
spherical harmonics, M14).  With the reproducing kernel of the degree-k
harmonics on one patch (M9),

.. math::

    Z_k(x, x') = \sum_{Y \in \mathcal H_k} Y(x) Y(x') = N(n_0, k)\, P_k(n_0; \langle x, x'\rangle / n_0),
    \qquad Z_r(x, x') = \prod_i Z_{r_i}(x_i, x'_i),

the sum over the class's eigenfunctions of :math:`\langle f, Y\rangle^2` is
:math:`E[f(x) f(x') Z(x, x')]` over independent x, x', estimated from the
sample without its diagonal (a U-statistic, unbiased for
:math:`\sum (E_{\rm data}[f Y])^2`):

.. math:: \widehat P = \frac{1}{N(N-1)} \sum_{a \ne b} f_a f_b \sum_{r \in \text{class}} Z_r(x_a, x_b).

Exact for data drawn from the uniform measure (then the :math:`Y_r` are
orthonormal and the powers of all classes sum to :math:`E[f^2]`); on real data
the :math:`Y_r` are not orthonormal under the data distribution, so the powers
are the squared correlations with the uniform-measure eigenfunctions, can
overlap, and need not sum to :math:`E_{\rm data}[f^2]`.  The rest,
``total - sum(powers)`` (mass beyond ``max_frequency`` plus that overlap), is
reported as the residual.  For the hypercube :math:`Z_k` is the elementary
symmetric polynomial :math:`e_k(x_1 x'_1, \dots, x_{n_0} x'_{n_0})` (M12).

On real data the uniform-measure projection overcounts badly (the digits'
patches cluster in a few directions, so the zonal sums are large on the data:
on the digit-0 target the frequency <= 2 powers add up to about 90 times
:math:`E[y^2]`).  :func:`empirical_class_power` is the route that works there:
eigendecompose the Gram matrix of the data, :math:`K/N = U \hat\Lambda U^T`;
the target's power on the i-th empirical eigenvector is
:math:`(u_i^T y)^2 / N` (these add up to :math:`E_{\rm data}[y^2]` exactly);
the i-th largest empirical eigenvalue is assigned to the (frequency, space)
class of the i-th largest uniform-measure eigenvalue counted with multiplicity
(rank matching).  Approximate: it assumes the data measure keeps the order of
the eigenvalues, which it need not.  :func:`empirical_learning_curve` is the
eigenlearning prediction from the empirical eigensystem itself (no class
matching, no uniform-measure assumption).

Reference: L. Xiao, "Eigenspace restructuring: a principle of space and
frequency in neural networks", arXiv:2109.05579 (section on real images).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validate import check_int, check_nonnegative
from ..harmonic.domains import Domain, ProductHypercube, ProductSphere, check_domain
from ..special.orthopoly import gegenbauer_normalized, sphere_multiplicity
from .curves import _check_m, _Modes, _solve_kappa

__all__ = [
    "ClassPower",
    "class_power",
    "class_target",
    "digits_on_spheres",
    "empirical_class_power",
    "empirical_learning_curve",
    "patches_on_spheres",
]


def patches_on_spheres(images: Any, patch: int = 2, *, bias: float = 0.25, centre: str | None = "dataset"):
    r"""Images ``(N, H, W)`` to patches on spheres ``(N, H/patch, W/patch, patch^2)`` of norm :math:`\sqrt{n_0}`.

    Steps 2–5 of the module docstring (centring over the data set, cutting into
    blocks, bias, scaling).  Deterministic; float64.

    >>> X = patches_on_spheres(np.arange(32.0).reshape(2, 4, 4), 2)
    >>> X.shape, bool(np.allclose(np.linalg.norm(X, axis=-1), 2.0))
    ((2, 2, 2, 4), True)
    """
    images = np.asarray(images, dtype=np.float64)
    patch = check_int(patch, "patch (block side)", 1)
    if images.ndim != 3 or images.shape[1] % patch or images.shape[2] % patch:
        raise ValueError(f"images must have shape (N, H, W) with H, W multiples of patch = {patch}, got {images.shape}")
    if centre == "dataset":
        images = images - images.mean(axis=0)
    elif centre is not None:
        raise ValueError(f"centre must be 'dataset' or None, got {centre!r}")
    N, H, W = images.shape
    n0 = patch * patch
    blocks = images.reshape(N, H // patch, patch, W // patch, patch).transpose(0, 1, 3, 2, 4).reshape(
        N, H // patch, W // patch, n0
    )
    blocks = blocks + float(bias)
    norms = np.linalg.norm(blocks, axis=-1, keepdims=True)
    if norms.min() <= 1e-8:
        raise ValueError(f"a block has (near) zero norm {norms.min():.3g} after centring and bias {bias}; change bias")
    return math.sqrt(n0) * blocks / norms


def digits_on_spheres(
    patch: int = 2,
    *,
    target: str = "one_vs_rest",
    digit: int = 0,
    bias: float = 0.25,
    centre: str | None = "dataset",
):
    r"""scikit-learn's 8x8 digits on a product of spheres: ``(X, y, domain)``.

    ``X``: ``(1797, 8/patch, 8/patch, patch^2)``, every block of norm
    :math:`\sqrt{n_0}` (module docstring); ``domain``:
    ``ProductSphere((8/patch, 8/patch), patch^2)``; ``y`` from the labels:
    ``target="one_vs_rest"``: +1 for ``digit``, -1 otherwise;
    ``"label"``: the label centred and scaled to unit variance over the data set.
    Needs scikit-learn (the data ship with it; nothing is downloaded).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("digits_on_spheres needs scikit-learn (pip install scikit-learn)") from err
    if 8 % check_int(patch, "patch (block side)", 1):
        raise ValueError(f"patch must divide 8, got {patch}")
    data = load_digits()
    X = patches_on_spheres(data.images / 16.0, patch, bias=bias, centre=centre)
    labels = data.target.astype(np.int64)
    if target == "one_vs_rest":
        digit = check_int(digit, "digit", 0)
        if digit > 9:
            raise ValueError(f"digit must be 0..9, got {digit}")
        y = np.where(labels == digit, 1.0, -1.0)
    elif target == "label":
        y = (labels - labels.mean()) / labels.std()
    else:
        raise ValueError(f"target must be 'one_vs_rest' or 'label', got {target!r}")
    side = 8 // patch
    return X, y, ProductSphere((side, side), patch * patch)


# --------------------------------------------------------------------------
# Power per (frequency, space) class by projection
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassPower:
    """A target's estimated power per (frequency, space) class (see :func:`class_power`).

    ``power[(frequency, space)]``: U-statistic estimate; ``total``: the mean of
    ``y**2`` over the data; ``residual = total - sum(power.values())`` (beyond
    ``max_frequency``, plus the overlap of non-orthogonal eigenfunctions on real data).
    """

    power: dict
    total: float
    max_frequency: int
    n_samples: int

    @property
    def residual(self) -> float:
        return self.total - float(sum(self.power.values()))

    def rows(self) -> list:
        return [
            {"frequency": f, "space": s, "power": p, "fraction": p / self.total}
            for (f, s), p in sorted(self.power.items())
        ]


def _patch_correlations(X: np.ndarray, domain: Domain) -> np.ndarray:
    """t[i, a, b] = <x_a,i, x_b,i> / n0 for each patch i (shape (d, N, N))."""
    Xf = X.reshape(X.shape[0], domain.d, domain.n0)
    return np.einsum("aik,bik->iab", Xf, Xf) / domain.n0


def _zonal(k: int, domain: Domain, X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Z_k per patch, shape (d, N, N): the reproducing kernel of the degree-k harmonics of one patch."""
    n0 = domain.n0
    if isinstance(domain, ProductHypercube):
        # e_k of the products z_j = x_j x'_j, by Newton's recurrence on power sums p_j(z) = sum z^j
        Xf = X.reshape(X.shape[0], domain.d, n0)
        z = np.einsum("aik,bik->iabk", Xf, Xf)
        e = [np.ones(z.shape[:3])]
        p = [None] + [np.sum(z**j, axis=-1) for j in range(1, k + 1)]
        for m in range(1, k + 1):
            e.append(sum((-1) ** (j - 1) * e[m - j] * p[j] for j in range(1, m + 1)) / m)
        return e[k]
    return sphere_multiplicity(n0, k) * gegenbauer_normalized(k, n0, np.clip(t, -1.0, 1.0))


def _multi_indices(d: int, frequency: int, max_degree: int):
    """Every r in N^d with |r| = frequency and r_i <= max_degree, as (support, degrees)."""
    for parts in _compositions(frequency, max_degree):
        for support in itertools.permutations(range(d), len(parts)):
            if all(support[i] < support[i + 1] or parts[i] != parts[i + 1] for i in range(len(parts) - 1)):
                yield support, parts


def _compositions(n: int, max_part: int):
    """Partitions of n into parts <= max_part, non-increasing (each multiset of degrees once)."""
    def rec(n, largest):
        if n == 0:
            yield ()
            return
        for p in range(min(n, largest), 0, -1):
            for rest in rec(n - p, p):
                yield (p,) + rest
    yield from rec(n, max_part)


def class_power(X: Any, y: Any, spectrum, max_frequency: int | None = None) -> ClassPower:
    r"""Power of the target ``y`` (values on the inputs ``X``) per (frequency, space) class, by projection.

    U-statistic of the module docstring: for every multi-index r with
    :math:`|r| \le` ``max_frequency`` (default: the spectrum's), the estimate
    :math:`\frac{1}{N(N-1)}\sum_{a\ne b} y_a y_b Z_r(x_a, x_b)`, summed into the
    class ``(|r|, spectrum.space(r))``.  Cost: one N x N product per multi-index
    (:math:`\binom{d}{2} + 2d` of them at frequency 2).  ``X``: ``(N, *grid, n0)``
    on ``spectrum.domain``.

    >>> from eigencalc.architectures import serial, Flatten, Dense, Relu
    >>> from eigencalc.domains import ProductSphere
    >>> from eigencalc.spectra import spectrum
    >>> dom = ProductSphere(2, 3); X = dom.sample(1500, seed=0)
    >>> s = spectrum(serial(Flatten(), Dense(), Relu(), Dense()), dom, "nngp", 1)
    >>> cp = class_power(X, X[:, 0, 0] + X[:, 1, 0], s)   # two degree-1 harmonics, unit power each
    >>> bool(abs(cp.power[(1, 1)] - 2.0) < 0.3), bool(abs(cp.power[(0, 0)]) < 0.02)   # Monte-Carlo, N = 1500
    (True, True)
    """
    domain = check_domain(spectrum.domain)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.shape[1:] not in ((*domain.grid, domain.n0), (domain.d, domain.n0)) or X.shape[0] != y.size:
        raise ValueError(f"X must have shape (N, {domain.grid}, {domain.n0}) and y shape (N,), got {X.shape}, {y.shape}")
    N = y.size
    if N < 2:
        raise ValueError("class_power needs at least 2 samples")
    F = spectrum.max_frequency if max_frequency is None else check_int(max_frequency, "max_frequency", 0)
    max_degree = domain.n0 if isinstance(domain, ProductHypercube) else F
    t = _patch_correlations(X, domain)
    zonal = {k: _zonal(k, domain, X, t) for k in range(1, min(F, max_degree) + 1)}
    norm = 1.0 / (N * (N - 1))
    yy = np.outer(y, y)
    np.fill_diagonal(yy, 0.0)
    power = {(0, 0): float(yy.sum() * norm)}
    for frequency in range(1, F + 1):
        for support, parts in _multi_indices(domain.d, frequency, max_degree):
            Z = yy
            for i, k in zip(support, parts):
                Z = Z * zonal[k][i]
            r = [0] * domain.d
            for i, k in zip(support, parts):
                r[i] = k
            key = (frequency, int(spectrum.space(tuple(r))))
            power[key] = power.get(key, 0.0) + float(Z.sum() * norm)
    return ClassPower(power, float(np.mean(y**2)), F, N)


def class_target(spectrum, power: Any) -> dict:
    r"""A target mapping ``{r: v_r^2}`` for :func:`~eigencalc.learn.curves.learning_curve` from power per class.

    The power of each (frequency, space) class (a :class:`ClassPower` or a dict)
    is spread over the class's eigenfunctions uniformly, i.e. over its symmetry
    classes (entries) in proportion to their multiplicity, and put on each
    entry's representative r (same eigenvalue, so the same learnability).
    Classes absent from the spectrum, and negative estimates, are dropped.
    """
    power = power.power if isinstance(power, ClassPower) else dict(power)
    groups: dict = {}
    for e in spectrum.entries():
        groups.setdefault((e.frequency, e.space), []).append(e)
    out = {}
    for key, p in power.items():
        if key not in groups or p <= 0:
            continue
        total = sum(int(e.multiplicity) for e in groups[key])
        for e in groups[key]:
            out[tuple(e.r)] = p * int(e.multiplicity) / total
    return out


def _empirical_eigensystem(K: Any, y: Any):
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if K.ndim != 2 or K.shape != (y.size, y.size):
        raise ValueError(f"K must be the (N, N) Gram matrix of the N targets, got {K.shape} and {y.shape}")
    lam, U = np.linalg.eigh(0.5 * (K + K.T) / y.size)
    order = np.argsort(lam)[::-1]
    lam, U = np.clip(lam[order], 0.0, None), U[:, order]
    return lam, (U.T @ y) ** 2 / y.size


def empirical_class_power(K: Any, y: Any, spectrum) -> ClassPower:
    r"""Power of ``y`` per (frequency, space) class from the Gram matrix ``K`` of the data, by rank matching.

    :math:`K/N = U \hat\Lambda U^T` (descending); the power :math:`(u_i^T y)^2/N`
    of the i-th eigenvector goes to the class of the i-th largest eigenvalue of
    ``spectrum`` counted with multiplicity (module docstring); ranks beyond the
    spectrum's total multiplicity are left in the residual.  ``total`` is
    :math:`E_{\rm data}[y^2]`, so the powers and the residual add up to it.

    >>> from eigencalc.architectures import serial, Flatten, Dense, Relu
    >>> from eigencalc.domains import ProductSphere
    >>> from eigencalc.spectra import spectrum
    >>> dom = ProductSphere(3, 3); net = serial(Flatten(), Dense(), Relu(), Dense())
    >>> X = dom.sample(400, seed=0); s = spectrum(net, dom, "ntk", 2)
    >>> cp = empirical_class_power(net.kernel_fn(X, kind="ntk"), X[:, 0, 0], s)  # a degree-1 harmonic
    >>> bool(cp.power[(1, 1)] > 0.9 * cp.total)
    True
    """
    _, power = _empirical_eigensystem(K, y)
    ranked = sorted(spectrum.entries(), key=lambda e: -float(e.eigenvalue))
    out: dict = {}
    start = 0
    for e in ranked:
        stop = min(start + int(e.multiplicity), power.size)
        if stop > start:
            key = (e.frequency, e.space)
            out[key] = out.get(key, 0.0) + float(power[start:stop].sum())
        start = stop
        if start >= power.size:
            break
    return ClassPower(out, float(power.sum()), spectrum.max_frequency, power.size)


def empirical_learning_curve(K: Any, y: Any, m: Any, ridge: Any = 0.0) -> np.ndarray:
    r"""Eigenlearning test MSE (MATH.md section 7) with the empirical eigensystem of the data.

    Eigenvalues of :math:`K/N`, coefficients :math:`v_i^2 = (u_i^T y)^2/N`;
    the prediction for m samples drawn from the N data points (ridge :math:`\delta`
    in :math:`K_{XX} + \delta I`, as in :func:`~eigencalc.learn.curves.learning_curve`).
    Needs ``ridge > 0`` or m below the number of nonzero eigenvalues.
    """
    lam, power = _empirical_eigensystem(K, y)
    ms = _check_m(m)
    ridge = check_nonnegative(ridge, "ridge")
    modes = _Modes([], lam, np.ones_like(lam), float(lam.sum()), 0.0)
    out = np.empty(ms.size)
    for j, mj in enumerate(ms):
        kappa = _solve_kappa(modes, float(mj), ridge)
        L = lam / (lam + kappa)
        out[j] = mj / (mj - float(np.sum(L**2))) * float(np.dot((1 - L) ** 2, power))
    return out
