"""Figures of result objects (eigencalc.io.plots, Agg backend).

Moved from test_reports.py.  The ``spec`` fixture is in tests/conftest.py.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from eigencalc.domains import ProductHypercube  # noqa: E402
from eigencalc.plots import plot_class_heatmap, plot_decay, plot_learning_curve, plot_spectrum  # noqa: E402
from eigencalc.spectra import spectrum  # noqa: E402
from tests.cases import TREE as NET  # noqa: E402


def test_plots_have_expected_artists(spec):
    fig = plot_spectrum(spec)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.collections) == len({e.space for e in spec.entries()})
    heat = plot_class_heatmap(spectrum(NET, ProductHypercube(4, 2), "nngp", 4))
    assert len(heat.axes) == 2 and heat.axes[0].images  # image + colour bar
    decay = plot_decay([1, 2, 4, 8], [1, 0.2, 0.04, 0.008], exponent=2.3, constant=1.0)
    assert len(decay.axes[0].lines) == 2
    curve = plot_learning_curve([10, 100], [0.5, 0.1], [0.52, 0.11], [0.02, 0.01])
    assert len(curve.axes[0].lines) >= 1 and curve.axes[0].containers
