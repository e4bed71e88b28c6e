"""Tables of result objects (eigencalc.core.tables): pandas frames, booktabs LaTeX, records, number formats.

Moved from test_reports.py; its figure test is in tests/io/test_plots.py.  The
``spec`` fixture is in tests/conftest.py.
"""

from __future__ import annotations

import re

import sympy

from eigencalc import activation, criticality
from eigencalc.reports import format_number, latex_number, to_records


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
