r"""Monte-Carlo eigenvalue estimates with standard errors (M14).

:func:`monte_carlo_eigenvalue` estimates :math:`\lambda(r) = E_{x,y}[K(x,y) Y_r(x) Y_r(y)]`
from independent uniform pairs; every result carries its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.defaults import MONTE_CARLO_SAMPLES
from ..core.progress import progress
from ..core.validate import REQUIRED, required_kind
from ..core.validate import check_int as _check_int
from ..harmonic.domains import Domain, ProductSphere, sample
from ..harmonic.domains import check_domain as _check_domain
from ..kernel.engine import _check_network, kernel_pairs
from ..kernel.spec import LayerSpec as Layer
from ..special.orthopoly import gegenbauer_normalized, krawtchouk_ratio, zonal_harmonic

__all__ = ["zonal_harmonic", "MonteCarloEstimate", "monte_carlo_eigenvalue"]


# --------------------------------------------------------------------------
# Monte-Carlo eigenvalues (M14)
# --------------------------------------------------------------------------


def _krawtchouk_ratio(k: int, n: int, j: np.ndarray) -> np.ndarray:
    r""":math:`K_k(j)/\binom{n}{k}` (M12): the hypercube analogue of :math:`P_k(n; t)`, t = 1 - 2j/n."""
    return krawtchouk_ratio(k, j, n)


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
            H *= gegenbauer_normalized(k, n0, np.clip(t[:, i], -1.0, 1.0))
        else:
            j = np.rint(n0 * (1 - t[:, i]) / 2).astype(np.int64)
            H *= _krawtchouk_ratio(k, n0, j)
    return H


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
    for a in progress(range(0, n_samples, block), desc=f"Monte-Carlo ({len(rs)} eigenvalue(s))"):
        b = min(a + block, n_samples) - a
        X = sample(domain, b, rng)
        Y = sample(domain, b, rng)
        K = kernel_pairs(net, X, Y, kind, engine=engine)
        X, Y = (Z.reshape(b, domain.d, domain.n0) for Z in (X, Y))  # harmonics per patch, row-major on a grid
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
    n_samples: int = MONTE_CARLO_SAMPLES,
    seed: Any = 0,
    kind: str = REQUIRED,
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
    kind = required_kind(kind, "monte_carlo_eigenvalue", "ntk")
    r = domain.check_harmonic_index(r)
    n_samples = _check_int(n_samples, "n_samples", 2)
    block = _check_int(block, "block")
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    mean, err, c = _mc_estimates(net, domain, [r], n_samples, seed, kind, block, engine, estimator, bool(centre))
    return MonteCarloEstimate(r, kind, float(mean[0]), float(err[0]), n_samples, seed, estimator, c)

