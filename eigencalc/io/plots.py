r"""Figures (matplotlib, object-oriented API): each function returns a ``Figure``.

No ``pyplot`` state and no ``show()``: figures are built with
``matplotlib.figure.Figure`` so library code never opens windows; display
them in Jupyter or save them with ``fig.savefig``.

* :func:`plot_spectrum` — eigenvalue against frequency, coloured by space:
  the "eigenspace restructuring" picture (Xiao 2021, arXiv:2109.05579);
* :func:`plot_class_heatmap` — (frequency x space) heat map of the largest
  eigenvalue in each class;
* :func:`plot_decay` — log-log eigenvalue decay with a power law;
* :func:`plot_learning_curve` — predicted against measured test error;
* :func:`plot_finite_width` — normalised 1/n corrections against depth (F3, F4, F8–F13).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..core.tables import as_float

__all__ = ["plot_spectrum", "plot_class_heatmap", "plot_decay", "plot_learning_curve", "plot_finite_width"]


def _figure(size=(5.5, 4.0)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def plot_spectrum(spectrum, *, title: str | None = None):
    """Eigenvalue (log scale) against frequency |r|, one colour per space (M18)."""
    fig, ax = _figure()
    entries = [e for e in spectrum.entries() if as_float(e.eigenvalue) > 0]
    spaces = sorted({e.space for e in entries})
    cmap = _colormap(len(spaces))
    for i, s in enumerate(spaces):
        es = [e for e in entries if e.space == s]
        jitter = (i - (len(spaces) - 1) / 2) * 0.06
        ax.scatter(
            [e.frequency + jitter for e in es], [as_float(e.eigenvalue) for e in es],
            color=cmap[i], label=f"space {s}", s=18, zorder=3,
        )
    ax.set_yscale("log")
    ax.set_xlabel("frequency |r|")
    ax.set_ylabel(r"eigenvalue $\lambda(r)$")
    ax.set_title(title or f"{spectrum.kind.upper()} on {spectrum.domain!r}")
    ax.grid(True, which="major", alpha=0.3)
    if spaces:
        ax.legend(fontsize="small", ncols=2)
    return fig


def _colormap(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(1, n - 1)) for i in range(n)]


def plot_class_heatmap(spectrum, *, title: str | None = None):
    """log10 of the largest eigenvalue in each (frequency, space) class; blank where empty."""
    fig, ax = _figure()
    classes = [c for c in spectrum.classes() if c.max_eigenvalue > 0]
    F = max((c.frequency for c in classes), default=0)
    S = max((c.space for c in classes), default=0)
    grid = np.full((S + 1, F + 1), np.nan)
    for c in classes:
        grid[c.space, c.frequency] = math.log10(c.max_eigenvalue)
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="magma")
    fig.colorbar(image, ax=ax, label=r"$\log_{10} \max \lambda$")
    ax.set_xlabel("frequency |r|")
    ax.set_ylabel("space")
    ax.set_title(title or "eigenvalue classes")
    return fig


def plot_decay(k: Sequence, mu: Sequence, *, exponent: float | None = None, constant: float | None = None, title=None):
    r"""Log-log :math:`\mu_k` against k, with the law :math:`C k^{-\text{exponent}}` when given (M13)."""
    fig, ax = _figure()
    k = np.asarray(k, dtype=float)
    mu = np.asarray([as_float(m) for m in mu], dtype=float)
    keep = (k > 0) & (mu > 0)
    ax.loglog(k[keep], mu[keep], "o", ms=3, label=r"$\mu_k$")
    if exponent is not None and constant is not None:
        ax.loglog(k[keep], constant * k[keep] ** (-exponent), "-", label=rf"${constant:.3g}\,k^{{-{exponent:g}}}$")
    ax.set_xlabel("degree k")
    ax.set_ylabel(r"$\mu_k$")
    ax.set_title(title or "eigenvalue decay")
    ax.legend(fontsize="small")
    return fig


def plot_learning_curve(m: Sequence, predicted: Sequence, measured: Sequence | None = None, spread: Sequence | None = None, *, title=None):
    """Test MSE against the number of samples: prediction (line) and experiment (points with spread)."""
    fig, ax = _figure()
    ax.loglog(m, predicted, "-", label="predicted (eigenlearning)")
    if measured is not None:
        ax.errorbar(m, measured, yerr=spread, fmt="o", ms=4, capsize=2, label="kernel regression")
    ax.set_xlabel("samples m")
    ax.set_ylabel("test MSE")
    ax.set_title(title or "learning curve")
    ax.legend(fontsize="small")
    return fig


def _plot_leading_order(ax, res, layers, colour) -> None:
    """V/(nK^2), K1/(nK) and, for the NTK, (A+2B)/(nH^2) of a leading-order result (F3, F4, F9, F11)."""
    n_prev = np.array(res.widths[:-1], dtype=float)
    K = np.array([as_float(k) for k in res.K[1:]])
    V = np.array([as_float(v) for v in res.V[1:]]) / n_prev
    K1 = np.array([as_float(k) for k in res.K1[1:]]) / n_prev
    ax.plot(layers, V / K**2, "-", color=colour, label=f"{res.activation}: V/(n K^2)")
    ax.plot(layers, K1 / K, ":", color=colour, label=f"{res.activation}: K1/(n K)")
    if hasattr(res, "A"):
        H = np.array([as_float(h) for h in res.H[1:]])
        var = np.array([as_float(a) + 2 * as_float(b) for a, b in zip(res.A[1:], res.B[1:])]) / n_prev
        ax.plot(layers, var / H**2, "--", color=colour, label=f"{res.activation}: (A+2B)/(n H^2)")


def _plot_pair(ax, res, layers, colour) -> None:
    """V_{12,12}/(n (K_11 K_22 + K_12^2)) of a two-input result (F6): the cross-input vertex per layer."""
    n_prev = np.array(res.widths[:-1], dtype=float)
    K = [[as_float(k) for k in res.K[l]] for l in range(1, res.depth)]
    V = np.array([as_float(res.V[l][1][1]) for l in range(1, res.depth)]) / n_prev
    ax.plot(layers, V / np.array([k[0] * k[2] + k[1] ** 2 for k in K]), "--", color=colour,
            label=f"{res.activation}: V_12,12/(n (K11 K22 + K12^2))")


def plot_finite_width(results: Sequence, *, monte_carlo: Sequence | None = None, title: str | None = None):
    r"""Normalised finite-width corrections against the layer l, one colour per result.

    ``results``: :class:`~eigencalc.finite.FiniteWidthMLP` (plots :math:`V/(n K^2)` and :math:`K_1/(nK)`) or
    :class:`~eigencalc.finite.FiniteWidthNTK` (also :math:`(A+2B)/(nH^2)`), or
    :class:`~eigencalc.finite.FiniteWidthMoments` (:math:`\mathrm{Var}\,\hat G/(E\hat G)^2`, all orders), or
    :class:`~eigencalc.finite.FiniteWidthPair` (:math:`V_{12,12}/(n(K_{11}K_{22}+K_{12}^2))`), or
    :class:`~eigencalc.finite.ExactReluNTK` or :class:`~eigencalc.finite.FiniteWidthNTKMoments`
    (:math:`\mathrm{Var}\,\hat H/(E\hat H)^2`, all orders), normalised by :math:`n_{l-1}`
    so every curve is an expansion parameter of order l/n.  ``monte_carlo`` optionally gives, per result,
    a dict layer -> (value, standard error) of the measured :math:`V/(nK^2)`, drawn as error bars.
    """
    fig, ax = _figure((6.0, 4.2))
    cmap = _colormap(len(results))
    for i, res in enumerate(results):
        layers = np.arange(2, res.depth + 1)
        if hasattr(res, "normalized_four_point"):  # the metric chain (F18-F20): all orders in 1/n
            ax.plot(layers, [as_float(v) for v in res.normalized_four_point[1:]], "-.", color=cmap[i],
                    label=f"{res.activation}: Var G/(E G)^2 ({res.method})")
        elif hasattr(res, "normalized_variance"):  # NTK beyond leading order: exact ReLU (F23) or the chain (F24)
            how = f"chain, {res.nodes} nodes" if hasattr(res, "closure_error") else "exact"
            ax.plot(layers, [as_float(v) for v in res.normalized_variance[1:]], "-.", color=cmap[i],
                    label=f"{res.activation}: Var H/(E H)^2 ({how})")
        elif hasattr(res, "correlation"):  # two inputs (F5-F7)
            _plot_pair(ax, res, layers, cmap[i])
        else:
            _plot_leading_order(ax, res, layers, cmap[i])
        if monte_carlo is not None and monte_carlo[i]:
            ls = sorted(monte_carlo[i])
            ax.errorbar(ls, [monte_carlo[i][l][0] for l in ls], yerr=[monte_carlo[i][l][1] for l in ls], fmt="o",
                        color=cmap[i], ms=4, capsize=2)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("layer l")
    ax.set_ylabel("normalised 1/n correction")
    ax.set_title(title or "finite-width corrections against depth")
    ax.legend(fontsize="x-small")
    return fig
