r"""Monte-Carlo eigenvalue estimates with standard errors (M14).

:func:`monte_carlo_eigenvalue` estimates :math:`\lambda(r) = E_{x,y}[K(x,y) Y_r(x) Y_r(y)]`
from independent uniform pairs; every result carries its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validate import check_int as _check_int
from ..core.validate import check_kind as _check_kind
from ..harmonic.domains import Domain, ProductHypercube, ProductSphere, sample
from ..harmonic.domains import check_domain as _check_domain
from ..kernel.engine import _check_network
from ..kernel.spec import LayerSpec as Layer
from ..kernel.engine import kernel_pairs

__all__ = ["zonal_harmonic", "MonteCarloEstimate", "monte_carlo_eigenvalue"]


# --------------------------------------------------------------------------
# Monte-Carlo eigenvalues (M14)
# --------------------------------------------------------------------------


def zonal_harmonic(k: int, n: int, s: Any) -> np.ndarray:
    r"""Normalised zonal harmonic :math:`\sqrt{N(n,k)}\, P_k(n; s)` on :math:`S^{n-1}` (M9).

    :math:`P_k(n; s)` is the Gegenbauer polynomial normalised by :math:`P_k(1) = 1`,
    from the three-term recurrence

    .. math:: (k + n - 2)\,P_{k+1}(s) = (2k + n - 2)\, s\, P_k(s) - k\, P_{k-1}(s),

    and :math:`E_{x}[P_k(n; \langle x, e\rangle)^2] = 1/N(n, k)` for x uniform on
    the unit sphere, so the result has unit second moment.

    >>> [round(float(v), 10) for v in zonal_harmonic(2, 3, [1.0, 0.0])]  # sqrt(5) (3 s^2 - 1)/2
    [2.2360679775, -1.1180339887]
    """
    k = _check_int(k, "degree k", 0)
    n = _check_int(n, "n (sphere dimension + 1)", 2)
    return math.sqrt(ProductSphere(1, n).patch_multiplicity(k)) * _gegenbauer(k, n, np.asarray(s, dtype=np.float64))


def _gegenbauer(k: int, n: int, s: np.ndarray) -> np.ndarray:
    """P_k(n; s) with P_k(1) = 1 (M9), three-term recurrence."""
    if k == 0:
        return np.ones_like(s)
    prev, cur = np.ones_like(s), s.copy()
    for j in range(1, k):
        prev, cur = cur, ((2 * j + n - 2) * s * cur - j * prev) / (j + n - 2)
    return cur


def _krawtchouk_ratio(k: int, n: int, j: np.ndarray) -> np.ndarray:
    r""":math:`K_k(j)/\binom{n}{k}` (M12): the hypercube analogue of :math:`P_k(n; t)`, t = 1 - 2j/n."""
    table = np.array(
        [sum((-1) ** i * math.comb(jj, i) * math.comb(n - jj, k - i) for i in range(k + 1)) / math.comb(n, k) for jj in range(n + 1)]
    )
    return table[j]


def _zonal_factor(domain: Domain, r: tuple, X: np.ndarray) -> np.ndarray:
    r""":math:`Y_r(x) = \prod_i Y_{r_i}(x_i)` with unit second moment (M14), for a batch ``X``."""
    Y = np.ones(X.shape[0])
    for i, k in enumerate(r):
        if k == 0:
            continue
        if isinstance(domain, ProductSphere):
            s = np.clip(X[:, i, 0] / math.sqrt(domain.n0), -1.0, 1.0)
            Y *= zonal_harmonic(k, domain.n0, s)
        else:
            Y *= np.prod(X[:, i, :k], axis=-1)
    return Y


def _addition_factor(domain: Domain, r: tuple, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{mult}(r)^{-1}\sum_{m} Y_{r,m}(x) Y_{r,m}(y) = \prod_i P_{r_i}(n_0; t_i)` (addition theorem)."""
    n0 = domain.n0
    t = np.einsum("nic,nic->ni", X, Y) / n0
    H = np.ones(X.shape[0])
    for i, k in enumerate(r):
        if k == 0:
            continue
        if isinstance(domain, ProductSphere):
            H *= _gegenbauer(k, n0, np.clip(t[:, i], -1.0, 1.0))
        else:
            j = np.rint(n0 * (1 - t[:, i]) / 2).astype(np.int64)
            H *= _krawtchouk_ratio(k, n0, j)
    return H


def _check_multi_index(domain: Domain, r: Any) -> tuple:
    r = domain.check_index(r)
    top = domain.max_patch_degree()
    if top is not None and max(r) > top:
        raise ValueError(f"{domain!r} has no harmonics of degree {max(r)} > n0 = {top} on a patch")
    return r


_ESTIMATORS = ("zonal", "addition")


@dataclass(frozen=True)
class MonteCarloEstimate:
    r"""A Monte-Carlo estimate of :math:`\lambda(r)` with its standard error (``value +- stderr``).

    ``estimator`` is ``"zonal"`` or ``"addition"``; ``centre`` the constant
    subtracted from K (0.0 when none), see :func:`monte_carlo_eigenvalue`.
    """

    r: tuple
    kind: str
    value: float
    stderr: float
    n_samples: int
    seed: Any
    estimator: str = "zonal"
    centre: float = 0.0

    def __repr__(self) -> str:
        return (
            f"MonteCarloEstimate(r={self.r}, {self.kind}: {self.value:.6g} +- {self.stderr:.2g}, "
            f"n={self.n_samples}, {self.estimator})"
        )


def _mc_estimates(net, domain, rs, n_samples, seed, kind, block, engine, estimator, centre):
    """Estimates for several r from the same pairs: (means, stderrs, centre).

    Chan's pairwise update of mean and sum of squares per block.  The centre is
    the mean of K over 1024 pilot pairs drawn from a separate generator (seeded
    by one draw of the main one), so it is a constant given the main sample.
    """
    rng = np.random.default_rng(seed)
    c = 0.0
    if centre:
        pilot = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
        c = float(kernel_pairs(net, sample(domain, 1024, pilot), sample(domain, 1024, pilot), kind, engine=engine).mean())
    k = len(rs)
    count, mean, m2 = 0, np.zeros(k), np.zeros(k)
    for a in range(0, n_samples, block):
        b = min(a + block, n_samples) - a
        X = sample(domain, b, rng)
        Y = sample(domain, b, rng)
        K = kernel_pairs(net, X, Y, kind, engine=engine)
        rows = []
        for r in rs:
            Kc = K - c if any(r) else K  # E[c Y_r(x) Y_r(y)] = c E[Y_r]^2 = 0 for r != 0
            if estimator == "zonal":
                rows.append(Kc * _zonal_factor(domain, r, X) * _zonal_factor(domain, r, Y))
            else:
                rows.append(Kc * _addition_factor(domain, r, X, Y))
        Z = np.stack(rows)
        bmean = Z.mean(axis=1)
        bm2 = ((Z - bmean[:, None]) ** 2).sum(axis=1)
        delta = bmean - mean
        total = count + b
        mean = mean + delta * b / total
        m2 = m2 + bm2 + delta**2 * count * b / total
        count = total
    var = m2 / (count - 1)
    return mean, np.sqrt(var / count), c


def monte_carlo_eigenvalue(
    net: Layer,
    domain: Domain,
    r: Any,
    n_samples: int = 100_000,
    seed: Any = 0,
    kind: str = "ntk",
    *,
    estimator: str = "zonal",
    centre: bool = False,
    block: int = 1 << 15,
    engine: str = "auto",
) -> MonteCarloEstimate:
    r"""Unbiased Monte-Carlo estimate of :math:`\lambda(r)` with its standard error (M14).

    .. math::

        \lambda(r) = E_{x, y}\big[K(x, y)\, Y_r(x)\, Y_r(y)\big]
        \approx \frac1n \sum_{k=1}^n K(x_k, y_k)\, Y_r(x_k)\, Y_r(y_k)

    over ``n_samples`` independent uniform pairs :math:`(x_k, y_k)` (streamed
    in blocks); standard error = sample standard deviation / :math:`\sqrt n`.
    :math:`Y_r = \prod_i Y_{r_i}(x_i)` is a normalised member of the eigenspace
    of r, :math:`E[Y_r^2] = 1`, so :math:`E[K Y_r Y_r] = \langle Y_r, T_K Y_r\rangle = \lambda(r)`.

    ``estimator="zonal"`` (default) uses one such :math:`Y_r`:

    * product sphere: :math:`Y_{r_i}(x_i) = \sqrt{N(n_0, r_i)}\, P_{r_i}(n_0; \langle x_i, e\rangle/\sqrt{n_0})`
      with e the first coordinate axis of the patch (:func:`zonal_harmonic`);
    * product hypercube: the Walsh monomial of the first :math:`r_i`
      coordinates of patch i, :math:`Y_{r_i}(x_i) = \prod_{c < r_i} x_{ic}`.

    ``estimator="addition"`` averages over an orthonormal basis of the
    eigenspace instead, which by the addition theorem needs only the patch
    correlations :math:`t_i = \langle x_i, y_i\rangle/n_0`:

    .. math:: \lambda(r) = E_{x,y}\Big[K(x, y) \prod_i P_{r_i}(n_0; t_i)\Big]

    (:math:`P_k = K_k(j)/\binom{n_0}{k}`, :math:`j = n_0(1-t)/2`, on the
    hypercube, M12); its variance is smaller by about :math:`\mathrm{mult}(r)`.
    Both are Rayleigh quotients of the kernel operator, equal to
    :math:`\lambda(r)` when the :math:`Y_r` are eigenfunctions (pooling-free
    networks, M14).

    ``centre=True`` replaces K by :math:`K - c` for :math:`r \ne 0`, with c the
    mean of K over an independent pilot sample: still unbiased, because
    :math:`E[Y_r] = 0` (resp. :math:`E[P_k(t)] = 0`) for :math:`r \ne 0` and x, y are
    independent, and it removes the large constant part of K from the variance.

    >>> from eigencalc.architectures import serial, Dense, Monomial
    >>> from eigencalc.domains import ProductSphere
    >>> est = monte_carlo_eigenvalue(serial(Dense(), Monomial(1), Dense()), ProductSphere(1, 3), (1,), 20000, 0, "nngp")
    >>> abs(est.value - 1 / 3) < 4 * est.stderr   # K(t) = t on S^2: lambda_1 = 1/3 (M11)
    True
    """
    net = _check_network(net)
    domain = _check_domain(domain)
    kind = _check_kind(kind)
    r = _check_multi_index(domain, r)
    n_samples = _check_int(n_samples, "n_samples", 2)
    block = _check_int(block, "block")
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    mean, err, c = _mc_estimates(net, domain, [r], n_samples, seed, kind, block, engine, estimator, bool(centre))
    return MonteCarloEstimate(r, kind, float(mean[0]), float(err[0]), n_samples, seed, estimator, c)

