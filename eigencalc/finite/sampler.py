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
from .recursions import check_widths, require_derivative

__all__ = ["MonteCarloMoments", "sample_preactivations", "monte_carlo_moments"]


def _check_input(x: Any) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"x must be a real vector, got {x!r}") from None
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise ValueError(f"x must be a finite non-empty 1-d vector, got shape {x.shape}")
    return x


def _forward(widths, phi, C_W, C_b, h, rng):
    r"""The layers of m random networks at k inputs ``h`` of shape (m, n0, k): yields ``(W, h_in, z)`` per layer.

    :math:`z^{(l)} = W^{(l)} h^{(l-1)} + b^{(l)}`, :math:`W_{ij} \sim N(0, C_W/n_{l-1})`,
    :math:`b_i \sim N(0, C_b)` (drawn after W, one per neuron and network, shared by the k
    inputs), :math:`h^{(l)} = \phi(z^{(l)})`; z has shape (m, n_l, k).  Every sampler draws
    its networks through this one loop, so equal seeds give equal networks.
    """
    m, n_in = h.shape[0], h.shape[1]
    for n in widths:
        W = rng.standard_normal((m, n, n_in)) * np.sqrt(C_W / n_in)
        z = np.matmul(W, h)
        if C_b:
            z += rng.standard_normal((m, n, 1)) * np.sqrt(C_b)
        yield W, h, z
        h, n_in = phi(z), n


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
        layers = _forward(widths, phi, C_W, C_b, np.broadcast_to(x, (m, x.size))[:, :, None], rng)
        for l, (_, _, z) in enumerate(layers):
            out[l][start:start + m] = z[:, :, 0]
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


# ----------------------------------------------------------------------------
# two inputs (F5-F7 oracle)
# ----------------------------------------------------------------------------

def _check_pair(X: Any) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"X must be a real (2, n0) array, got {X!r}") from None
    if X.ndim != 2 or X.shape[0] != 2 or X.shape[1] == 0 or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite (2, n0) array of two inputs, got shape {X.shape}")
    return X


def sample_pair_preactivations(widths, act, C_W, C_b, X, n_networks: int, seed: int = 0, chunk: int = 512):
    r"""Preactivations of ``n_networks`` random MLPs at two inputs: layer l -> array (n_networks, n_l, 2).

    Same conventions and seeding as :func:`sample_preactivations`; both inputs see the same weights.

    >>> zs = sample_pair_preactivations([3, 4], "relu", 2, 0, [[1.0, 0.0], [0.0, 1.0]], 5, seed=1)
    >>> [z.shape for z in zs]
    [(5, 3, 2), (5, 4, 2)]
    """
    widths = check_widths(widths)
    phi = activation(act)
    C_W = check_nonnegative(C_W, "C_W")
    C_b = check_nonnegative(C_b, "C_b")
    X = _check_pair(X)
    n_networks = check_int(n_networks, "n_networks", 1)
    chunk = check_int(chunk, "chunk", 1)
    rng = np.random.default_rng(seed)
    out = [np.empty((n_networks, n, 2)) for n in widths]
    for start in range(0, n_networks, chunk):
        m = min(chunk, n_networks - start)
        for l, (_, _, z) in enumerate(_forward(widths, phi, C_W, C_b, np.broadcast_to(X.T, (m, X.shape[1], 2)), rng)):
            out[l][start:start + m] = z
    return out


def _u_product(a: np.ndarray, b: np.ndarray) -> float:
    r"""Unbiased :math:`E[a]E[b]` from N independent pairs: :math:`\frac{1}{N(N-1)}\sum_{k \ne m} a_k b_m`."""
    N = a.size
    return float((a.sum() * b.sum() - (a * b).sum()) / (N * (N - 1)))


def _pair_layer_estimates(z: np.ndarray):
    """Means of z_a z_b (3), and the connected four-point 3x3 matrix with standard errors, for one layer."""
    N, n, _ = z.shape
    pairs = ((0, 0), (0, 1), (1, 1))
    prod = np.stack([z[:, :, a] * z[:, :, b] for a, b in pairs], axis=-1)  # (N, n, 3)
    a = prod.mean(axis=1)  # (N, 3)
    mean, mean_se = a.mean(axis=0), a.std(axis=0, ddof=1) / np.sqrt(N)
    four, four_se = np.full((3, 3), np.nan), np.full((3, 3), np.nan)
    if n >= 2 and N >= 2:
        S = prod.sum(axis=1)  # (N, 3)
        for r in range(3):
            for s in range(3):
                b = (S[:, r] * S[:, s] - (prod[:, :, r] * prod[:, :, s]).sum(axis=1)) / (n * (n - 1))
                four[r, s] = b.mean() - _u_product(a[:, r], a[:, s])
                infl = b - mean[s] * a[:, r] - mean[r] * a[:, s]
                four_se[r, s] = infl.std(ddof=1) / np.sqrt(N)
    return mean, mean_se, four, four_se


@dataclass(frozen=True)
class PairMonteCarlo(Tabular):
    """Monte-Carlo E[z_a z_b] (per component 11, 12, 22) and connected four-point matrices, with standard errors."""

    activation: str
    widths: tuple
    n_networks: int
    seed: int
    mean: np.ndarray  # (L, 3)
    mean_se: np.ndarray
    four_point: np.ndarray  # (L, 3, 3)
    four_point_se: np.ndarray

    def rows(self) -> list:
        """One row per layer and component r: E[z_a z_b] +- se and the diagonal four-point V_rr/n +- se."""
        names = ("11", "12", "22")
        return [
            {"layer": l + 1, "component": names[r], "mean": float(self.mean[l, r]), "mean_se": float(self.mean_se[l, r]),
             "four_point": float(self.four_point[l, r, r]), "four_point_se": float(self.four_point_se[l, r, r])}
            for l in range(len(self.widths)) for r in range(3)
        ]


def monte_carlo_pair(widths, act, C_W, C_b, X, n_networks: int, seed: int = 0, chunk: int = 512) -> PairMonteCarlo:
    """Sample networks at two inputs and estimate every component of the means and four-point matrices."""
    zs = sample_pair_preactivations(widths, act, C_W, C_b, X, n_networks, seed, chunk)
    est = [_pair_layer_estimates(z) for z in zs]
    return PairMonteCarlo(activation(act).name, check_widths(widths), int(n_networks), seed,
                          *(np.array([e[k] for e in est]) for k in range(4)))


# ----------------------------------------------------------------------------
# the finite NTK (F8-F13 oracle)
# ----------------------------------------------------------------------------

def _ntk_chunk(widths, phi, C_W, C_b, x, m, units, rng):
    r"""Forward pass of m networks, then for every layer l the NTK block of its first ``units`` neurons.

    Backpropagation :math:`\Delta^{(l)} = (\Delta^{(l+1)} W^{(l+1)}) \odot \phi'(z^{(l)})` from
    :math:`\Delta^{(\ell)} = [I\ 0]`, and :math:`\hat H^{(\ell)} = \sum_{l \le \ell} \hat G^{(l)} \Delta^{(l)}\Delta^{(l)\top}`
    with :math:`\hat G^{(l)} = C_b + \frac{C_W}{n_{l-1}}\sum_k \phi(z^{(l-1)}_k)^2` (NTK parameterisation, M2).
    """
    Ws, zs, dphis, Gs = [], [], [], []
    for W, h, z in _forward(widths, phi, C_W, C_b, np.broadcast_to(x, (m, x.size))[:, :, None], rng):
        h, z = h[:, :, 0], z[:, :, 0]
        Gs.append(C_b + C_W * (h * h).sum(axis=1) / h.shape[1])
        Ws.append(W)
        zs.append(z)
        dphis.append(phi.derivative(z))
    out = []
    for top, n in enumerate(widths):
        u = min(units, n)
        delta = np.broadcast_to(np.eye(n)[:u], (m, u, n))
        H = Gs[top][:, None, None] * np.matmul(delta, delta.transpose(0, 2, 1))
        for l in range(top - 1, -1, -1):
            delta = np.matmul(delta, Ws[l + 1]) * dphis[l][:, None, :]
            H = H + Gs[l][:, None, None] * np.matmul(delta, delta.transpose(0, 2, 1))
        out.append((H, zs[top][:, :u], Gs[top]))
    return out


def _ntk_arguments(widths, act, C_W, C_b, units, chunk) -> tuple:
    """The checked arguments shared by the NTK samplers; phi' must be a function (backpropagation)."""
    phi = require_derivative(activation(act), "NTK sampler")
    return (check_widths(widths), phi, check_nonnegative(C_W, "C_W"), check_nonnegative(C_b, "C_b"),
            check_int(units, "units", 1), check_int(chunk, "chunk", 1))


def sample_ntk(widths, act, C_W, C_b, x, n_networks: int, seed: int = 0, units: int = 8, chunk: int = 512):
    r"""Exact finite-network NTK blocks: layer l -> (H (N, u, u), z (N, u), G (N,)), u = min(units, n_l).

    ``H`` is the NTK of the first u preactivations of layer l at input x, ``z`` those preactivations
    and ``G`` the stochastic metric :math:`\hat G^{(l)}`.  float64, seeded as :func:`sample_preactivations`.

    >>> out = sample_ntk([3, 4], "relu", 2, 0, [1.0, -1.0], 5, seed=1, units=2)
    >>> [blk[0].shape for blk in out]
    [(5, 2, 2), (5, 2, 2)]
    """
    widths, phi, C_W, C_b, units, chunk = _ntk_arguments(widths, act, C_W, C_b, units, chunk)
    x = _check_input(x)
    n_networks = check_int(n_networks, "n_networks", 1)
    rng = np.random.default_rng(seed)
    parts = [_ntk_chunk(widths, phi, C_W, C_b, x, min(chunk, n_networks - s), units, rng)
             for s in range(0, n_networks, chunk)]
    return [tuple(np.concatenate([p[l][k] for p in parts]) for k in range(3)) for l in range(len(widths))]


def _ntk_layer_estimates(H: np.ndarray, z: np.ndarray, G: np.ndarray) -> dict:
    N, u, _ = H.shape
    d = np.diagonal(H, axis1=1, axis2=2)
    a = d.mean(axis=1)
    abar = a.mean()
    se = lambda v: float(v.std(ddof=1) / np.sqrt(N))  # noqa: E731
    s = (d * d).mean(axis=1)
    est = {"mean": abar, "mean_se": se(a), "variance": s.mean() - _u_product(a, a), "variance_se": se(s - 2 * abar * a)}
    est["cov_G"] = float((G * a).mean() - _u_product(G, a))
    est["cov_G_se"] = se(G * a - G.mean() * a - abar * G)
    if u >= 2:
        c = (d.sum(axis=1) ** 2 - (d * d).sum(axis=1)) / (u * (u - 1))
        off = H - d[:, :, None] * np.eye(u)
        o = (off * off).sum(axis=(1, 2)) / (u * (u - 1))
        f = np.einsum("nij,ni,nj->n", off, z, z) / (u * (u - 1))
        est.update({"cov_diag": c.mean() - _u_product(a, a), "cov_diag_se": se(c - 2 * abar * a),
                    "offdiag_sq": o.mean(), "offdiag_sq_se": se(o), "HZZ": f.mean(), "HZZ_se": se(f)})
    else:
        est.update({k: np.nan for k in ("cov_diag", "cov_diag_se", "offdiag_sq", "offdiag_sq_se", "HZZ", "HZZ_se")})
    return {k: float(v) for k, v in est.items()}


@dataclass(frozen=True)
class NTKMonteCarlo(Tabular):
    r"""Monte-Carlo NTK statistics per layer, each with its standard error (float64).

    ``mean`` :math:`E\hat H_{ii}`, ``variance`` :math:`\mathrm{Var}\,\hat H_{ii}`, ``cov_diag``
    :math:`\mathrm{Cov}(\hat H_{ii}, \hat H_{jj})`, ``offdiag_sq`` :math:`E\hat H_{ij}^2`, ``cov_G``
    :math:`\mathrm{Cov}(\hat G, \hat H_{ii})`, ``HZZ`` :math:`E[\hat H_{ij}z_iz_j]` (:math:`i \ne j`);
    ``estimates[l][name]`` and ``estimates[l][name + "_se"]``.
    """

    activation: str
    widths: tuple
    n_networks: int
    seed: int
    estimates: tuple

    def rows(self) -> list:
        """One row per layer with every estimate and its standard error."""
        return [{"layer": l + 1, "width": n, **self.estimates[l]} for l, n in enumerate(self.widths)]


def monte_carlo_ntk(widths, act, C_W, C_b, x, n_networks: int, seed: int = 0, units: int = 8,
                    chunk: int = 512) -> NTKMonteCarlo:
    """Sample finite networks (:func:`sample_ntk`) and estimate the NTK statistics of (F8)–(F13)."""
    blocks = sample_ntk(widths, act, C_W, C_b, x, n_networks, seed, units, chunk)
    return NTKMonteCarlo(activation(act).name, check_widths(widths), int(n_networks), seed,
                         tuple(_ntk_layer_estimates(*b) for b in blocks))


def _pair_ntk_chunk(widths, phi, C_W, C_b, X, m, units, rng):
    r"""NTK blocks :math:`\hat H_{ij;ab}` (first ``units`` neurons i, j; a, b in {0, 1}) of m networks at two inputs.

    Per layer an array (m, u, u, 2, 2): :math:`\hat H_{ij;ab} = \sum_l \hat G^{(l)}_{ab}\langle\Delta^{(l)}_{i;a},
    \Delta^{(l)}_{j;b}\rangle`, one backward pass per input (as :func:`_ntk_chunk`).
    """
    Ws, dphis, Gs = [], [], []
    for W, h, z in _forward(widths, phi, C_W, C_b, np.broadcast_to(X.T, (m, X.shape[1], 2)), rng):
        Gs.append(C_b + C_W * np.einsum("mka,mkb->mab", h, h) / h.shape[1])  # (m, 2, 2)
        Ws.append(W)
        dphis.append(phi.derivative(z))
    out = []
    for top, n in enumerate(widths):
        u = min(units, n)
        delta = [np.broadcast_to(np.eye(n)[:u], (m, u, n))] * 2
        H = np.zeros((m, u, u, 2, 2))
        for l in range(top, -1, -1):
            if l < top:
                delta = [np.matmul(delta[a], Ws[l + 1]) * dphis[l][:, None, :, a] for a in (0, 1)]
            for a in (0, 1):
                for b in (0, 1):
                    H[..., a, b] += Gs[l][:, a, b][:, None, None] * np.matmul(delta[a], delta[b].transpose(0, 2, 1))
        out.append(H)
    return out


def _pair_ntk_network_stats(H: np.ndarray) -> dict:
    r"""Per-network averages over neurons of one layer's blocks H (N, u, u, 2, 2), r = (ab) in (00, 01, 11).

    ``d`` (N, 3): :math:`\bar d_r = \frac1u\sum_i H_{ii;r}`; ``same`` (N, 3, 3): :math:`\frac1u\sum_i H_{ii;r}H_{ii;s}`;
    ``cross`` (N, 3, 3): :math:`\frac{1}{u(u-1)}\sum_{i \ne j} H_{ii;r}H_{jj;s}`; ``off`` (N, 2, 2, 2, 2):
    :math:`\frac{1}{u(u-1)}\sum_{i \ne j} H_{ij;ab}H_{ij;cd}` (nan for u = 1).
    """
    N, u = H.shape[:2]
    diag = np.diagonal(H, axis1=1, axis2=2)  # (N, 2, 2, u)
    d = np.stack([diag[:, a, b] for a, b in ((0, 0), (0, 1), (1, 1))], axis=-1)  # (N, u, 3)
    same = np.einsum("nir,nis->nrs", d, d) / u
    if u < 2:
        return {"d": d.mean(axis=1), "same": same, "cross": np.full_like(same, np.nan),
                "off": np.full((N, 2, 2, 2, 2), np.nan)}
    S = d.sum(axis=1)
    cross = (np.einsum("nr,ns->nrs", S, S) - u * same) / (u * (u - 1))
    offH = H * (1 - np.eye(u))[None, :, :, None, None]
    off = np.einsum("nijab,nijcd->nabcd", offH, offH) / (u * (u - 1))
    return {"d": d.mean(axis=1), "same": same, "cross": cross, "off": off}


def monte_carlo_pair_ntk_moments(widths, act, C_W, C_b, X, n_networks: int, seed: int = 0, units: int = 8,
                                 chunk: int = 512) -> dict:
    r"""Monte-Carlo two-input NTK mean and fluctuations per layer, each with its standard error: a dict of arrays.

    ``mean`` (L, 3) :math:`E\hat H_{ii;r}`; ``cov_same`` (L, 3, 3) :math:`\mathrm{Cov}(\hat H_{ii;r}, \hat H_{ii;s})`;
    ``cov_cross`` (L, 3, 3) :math:`\mathrm{Cov}(\hat H_{ii;r}, \hat H_{jj;s})_{i \ne j}`; ``offdiag`` (L, 2, 2, 2, 2)
    :math:`E[\hat H_{ij;ab}\hat H_{ij;cd}]_{i \ne j}`; each with ``<name>_se``.  Per network the neuron averages of
    :func:`_pair_ntk_network_stats` (kept, per layer, under ``networks``, for standard errors of derived
    quantities); across the (independent) networks covariances are
    :math:`\overline{c_{rs}} - \widehat{E d_r E d_s}` (unbiased :func:`_u_product`), standard errors by the delta method.

    >>> mc = monte_carlo_pair_ntk_moments([4, 4], "tanh", 1, 0, [[1.0, 0.0], [0.6, 0.8]], 50, seed=1)
    >>> mc["cov_same"].shape, bool(abs(mc["cov_same"][0]).max() < 1e-12)   # layer 1 is deterministic
    ((2, 3, 3), True)
    """
    widths, phi, C_W, C_b, units, chunk = _ntk_arguments(widths, act, C_W, C_b, units, chunk)
    X = _check_pair(X)
    n_networks = check_int(n_networks, "n_networks", 2)
    rng = np.random.default_rng(seed)
    parts = [[_pair_ntk_network_stats(H) for H in _pair_ntk_chunk(widths, phi, C_W, C_b, X, min(chunk, n_networks - s),
                                                                   units, rng)]
             for s in range(0, n_networks, chunk)]
    N = n_networks
    se = lambda v: v.std(axis=0, ddof=1) / np.sqrt(N)  # noqa: E731
    out: dict = {k: [] for k in ("mean", "mean_se", "cov_same", "cov_same_se", "cov_cross", "cov_cross_se",
                                 "offdiag", "offdiag_se")}
    networks = []
    for l in range(len(widths)):
        st = {k: np.concatenate([p[l][k] for p in parts]) for k in parts[0][l]}
        networks.append(st)
        d = st["d"]
        dbar = d.mean(axis=0)
        prod = np.array([[_u_product(d[:, r], d[:, s]) for s in range(3)] for r in range(3)])
        infl = dbar[None, :, None] * d[:, None, :] + dbar[None, None, :] * d[:, :, None]  # d_r Ed_s + d_s Ed_r
        out["mean"].append(dbar)
        out["mean_se"].append(se(d))
        for key in ("same", "cross"):
            out[f"cov_{key}"].append(st[key].mean(axis=0) - prod)
            out[f"cov_{key}_se"].append(se(st[key] - infl))
        out["offdiag"].append(st["off"].mean(axis=0))
        out["offdiag_se"].append(se(st["off"]))
    return {**{k: np.array(v) for k, v in out.items()}, "networks": tuple(networks)}


def monte_carlo_pair_ntk(widths, act, C_W, C_b, X, n_networks: int, seed: int = 0, units: int = 8, chunk: int = 512):
    r"""Monte-Carlo :math:`E\hat H_{ii;ab}` per layer and component (11, 12, 22) at two inputs: (mean, se), arrays (L, 3).

    Exact per-network NTK by backpropagation (one backward pass per input), float64, seeded; the fluctuations
    are in :func:`monte_carlo_pair_ntk_moments` (same draws).

    >>> mean, se = monte_carlo_pair_ntk([4, 4], "tanh", 1, 0, [[1.0, 0.0], [0.6, 0.8]], 50, seed=1)
    >>> mean.shape, bool(abs(mean[0, 1] - 0.3) < 1e-12)   # layer 1: H_12 = C_W x1.x2 / n0 exactly
    ((2, 3), True)
    """
    mc = monte_carlo_pair_ntk_moments(widths, act, C_W, C_b, X, n_networks, seed, units, chunk)
    return mc["mean"], mc["mean_se"]
