r"""Monte-Carlo of finite MLPs at initialization: seeded, vectorised over many networks.

The oracle for :mod:`eigencalc.finite.recursions`.  Each of ``n_networks``
independent MLPs (same conventions as there: :math:`W^{(l+1)}_{ij} \sim
N(0, C_W/n_l)`, :math:`b_i \sim N(0, C_b)`) is evaluated at one input x; per
network and layer we form

.. math:: a = \frac1{n_l}\sum_i z_i^2, \qquad
          b = \frac{1}{n_l(n_l - 1)} \sum_{i \ne j} z_i^2 z_j^2
            = \frac{(\sum_i z_i^2)^2 - \sum_i z_i^4}{n_l (n_l - 1)},

unbiased per-network estimates of :math:`E[z_i^2]` and :math:`E[z_i^2 z_j^2]`
(all pairs of neurons, to reduce variance).  Across networks (independent) the
mean is :math:`\bar a` with standard error :math:`s(a)/\sqrt N`, and the
connected four-point function :math:`E[z_i^2 z_j^2] - E[z_i^2]^2` is estimated by
:math:`\bar b - \frac{1}{N(N-1)}\sum_{k \ne m} a_k a_m` (unbiased), with the
delta-method standard error :math:`s(b - 2\bar a\, a)/\sqrt N`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.tables import Tabular
from ..core.validate import check_int, check_nonnegative
from ..duals.activations import activation
from .recursions import check_widths

__all__ = ["MonteCarloMoments", "sample_preactivations", "monte_carlo_moments"]


def _check_input(x: Any) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"x must be a real vector, got {x!r}") from None
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"x must be a finite non-empty 1-d vector, got shape {x.shape}")
    return x


def sample_preactivations(widths, act, C_W, C_b, x, n_networks: int, seed: int = 0, chunk: int = 1024):
    r"""Preactivations of ``n_networks`` random MLPs at input x: a list, layer l -> array (n_networks, n_l).

    Float64 Monte-Carlo; networks are drawn ``chunk`` at a time from
    ``numpy.random.default_rng(seed)`` (the same seed and chunk give the same draws).

    >>> zs = sample_preactivations([3, 4], "relu", 2, 0, [1.0, -1.0], 5, seed=1)
    >>> [z.shape for z in zs]
    [(5, 3), (5, 4)]
    """
    widths = check_widths(widths)
    phi = activation(act)
    C_W = check_nonnegative(C_W, "C_W")
    C_b = check_nonnegative(C_b, "C_b")
    x = _check_input(x)
    n_networks = check_int(n_networks, "n_networks", 1)
    chunk = check_int(chunk, "chunk", 1)
    rng = np.random.default_rng(seed)
    out = [np.empty((n_networks, n)) for n in widths]
    for start in range(0, n_networks, chunk):
        m = min(chunk, n_networks - start)
        h, n_in = np.broadcast_to(x, (m, x.size)), x.size
        for l, n in enumerate(widths):
            W = rng.standard_normal((m, n, n_in)) * np.sqrt(C_W / n_in)
            z = np.matmul(W, h[:, :, None])[:, :, 0]
            if C_b:
                z += rng.standard_normal((m, n)) * np.sqrt(C_b)
            out[l][start:start + m] = z
            h, n_in = phi(z), n
    return out


@dataclass(frozen=True)
class MonteCarloMoments(Tabular):
    """Monte-Carlo E[z^2] and connected four-point function per layer, with standard errors (float64)."""

    activation: str
    widths: tuple
    n_networks: int
    seed: int
    mean: np.ndarray
    mean_se: np.ndarray
    four_point: np.ndarray
    four_point_se: np.ndarray

    _latex_bounds = {"mean": "mean_se", "four_point": "four_point_se"}

    def rows(self) -> list:
        """One row per layer: width, E[z^2] +- se, connected four-point +- se (Monte-Carlo)."""
        return [
            {"layer": l + 1, "width": n, "mean": float(self.mean[l]), "mean_se": float(self.mean_se[l]),
             "four_point": float(self.four_point[l]), "four_point_se": float(self.four_point_se[l]),
             "n_networks": self.n_networks}
            for l, n in enumerate(self.widths)
        ]


def _layer_estimates(z: np.ndarray):
    N, n = z.shape
    z2 = z * z
    a = z2.mean(axis=1)
    if n < 2 or N < 2:
        return a.mean(), (a.std(ddof=1) / np.sqrt(N) if N > 1 else np.nan), np.nan, np.nan
    b = (z2.sum(axis=1) ** 2 - (z2 * z2).sum(axis=1)) / (n * (n - 1))
    abar = a.mean()
    mu2 = (a.sum() ** 2 - (a * a).sum()) / (N * (N - 1))
    four = b.mean() - mu2
    four_se = (b - 2 * abar * a).std(ddof=1) / np.sqrt(N)
    return abar, a.std(ddof=1) / np.sqrt(N), four, four_se


def monte_carlo_moments(widths, act, C_W, C_b, x, n_networks: int, seed: int = 0, chunk: int = 1024) -> MonteCarloMoments:
    """Sample networks (:func:`sample_preactivations`) and estimate E[z^2], the connected 4-point function, SEs."""
    zs = sample_preactivations(widths, act, C_W, C_b, x, n_networks, seed, chunk)
    est = np.array([_layer_estimates(z) for z in zs])
    return MonteCarloMoments(activation(act).name, check_widths(widths), int(n_networks), seed,
                             est[:, 0], est[:, 1], est[:, 2], est[:, 3])
