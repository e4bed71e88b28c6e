"""Tables (pandas / booktabs LaTeX / records) and figures (Agg) of result objects."""

from __future__ import annotations

import re

import matplotlib
import pytest
import sympy

matplotlib.use("Agg")

from eigencalc import activation, criticality  # noqa: E402
from eigencalc.architectures import Conv, Dense, Flatten, Relu, serial  # noqa: E402
from eigencalc.domains import ProductHypercube, ProductSphere  # noqa: E402
from eigencalc.plots import plot_class_heatmap, plot_decay, plot_learning_curve, plot_spectrum  # noqa: E402
from eigencalc.reports import format_number, latex_number, to_records  # noqa: E402
from eigencalc.spectra import spectrum  # noqa: E402

NET = serial(Conv(2, stride=2), Relu(), Conv(2, stride=2), Relu(), Flatten(), Dense())


@pytest.fixture(scope="module")
def spec():
    return spectrum(NET, ProductSphere(4, 5), "ntk", 3)


def _body_rows(tex: str) -> list:
    body = tex.split("\\midrule")[1].split("\\bottomrule")[0]
    return [ln for ln in body.strip().splitlines() if ln.strip()]


def test_latex_classes_booktabs_one_row_per_class(spec):
    tex = spec.classes().to_latex(caption="classes", label="tab:classes")
    assert tex.count("{") == tex.count("}")
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert tex.count(rule) == 1
    rows = _body_rows(tex)
    assert len(rows) == len(spec.classes())
    assert all(r.rstrip().endswith("\\\\") for r in rows)
    assert "\\caption{classes}" in tex and "\\label{tab:classes}" in tex


def test_latex_round_trips_numbers(spec):
    """Each max eigenvalue printed as v \\pm e round-trips to within e (and its printed precision)."""
    tex = spec.classes().to_latex()
    for row, cls in zip(_body_rows(tex), spec.classes()):
        cell = row.split("&")[3]
        m = re.search(r"\$([-0-9.e]+) \\pm ([0-9.e]+)", cell)
        assert m, cell
        value, bound = float(m.group(1)), float(m.group(2))
        assert abs(value - cls.max_eigenvalue) <= bound + 10 ** -len(m.group(1).split(".")[-1])
        assert bound >= cls.max_error_bound * 0.95


def test_exact_values_use_sympy_latex():
    tex = activation("relu").dual_series(2).to_latex()
    assert "\\frac{1}{2 \\pi}" in tex and "\\frac{1}{4}" in tex
    assert latex_number(sympy.Rational(1, 3)) == "$\\frac{1}{3}$"
    assert latex_number(1.5e-12) == "$1.5 \\times 10^{-12}$"


def test_format_number_significant_figures():
    assert format_number(0.21010959838, 0.0304) == "0.210 ± 0.030"
    assert format_number(123.456, 0.7) == "123.46 ± 0.70"
    assert format_number(2 / 3) == "0.666667"


def test_frames_and_records(spec):
    frame = spec.to_frame()
    assert list(frame.columns)[:3] == ["r", "frequency", "space"]
    assert frame["frequency"].dtype.kind == "i" and len(frame) == len(spec.entries())
    recs = to_records(criticality("tanh").rows())
    assert recs[0]["C_W"] == "1" and recs[0]["C_W_float"] == 1.0
    assert "<table" in spec._repr_html_()


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
