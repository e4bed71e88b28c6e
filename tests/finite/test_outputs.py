"""Outputs of eigencalc.finite: the `eigencalc finite` subcommand, the depth plot, result tables."""

from __future__ import annotations

import json

import pytest

from eigencalc.finite import (exact_relu_ntk, finite_width_mlp, finite_width_moments, finite_width_ntk,
                              finite_width_ntk_moments, finite_width_pair)
from eigencalc.io.cli import main
from eigencalc.io.plots import plot_finite_width


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_kernel_json(capsys):
    status, out, _ = _run(capsys, "finite", "--widths", "8,8,8", "--format", "json")
    doc = json.loads(out)
    assert status == 0 and doc["command"] == "finite"
    assert [r["V"] for r in doc["rows"]] == ["0", "20", "40"]  # exact: 5 (l - 1) K^2, K = 2


def test_cli_chain_json(capsys):
    """Exact beyond-leading ReLU answer: Var G = K^2 [(1 + 5/8)^(l-1) - 1] with K = 2."""
    status, out, _ = _run(capsys, "finite", "--object", "chain", "--widths", "8,8,8", "--format", "json")
    doc = json.loads(out)
    assert status == 0 and [r["four_point"] for r in doc["rows"]] == ["0", "5/2", "105/16"]
    assert doc["parameters"]["method"] == "auto" and "F18-F20" in doc["note"]


@pytest.mark.parametrize("obj,extra", [("chain", ["--activation", "tanh", "--C-W", "1", "--method", "taylor"]),
                                       ("pair-ntk", ["--activation", "tanh", "--C-W", "1", "--q12", "1/2"]),
                                       ("relu-ntk", []), ("ntk-chain", ["--activation", "gelu", "--nodes", "8"]),
                                       ("ntk", ["--activation", "tanh", "--C-W", "1"]), ("pair", ["--q12", "1/2"]),
                                       ("universality", ["--activation", "tanh"]), ("sphere", ["--kmax", "2"])])
def test_cli_objects(capsys, obj, extra):
    status, out, _ = _run(capsys, "finite", "--object", obj, "--widths", "6,6,6", *extra, "--format", "csv")
    assert status == 0 and len(out.strip().splitlines()) >= 2


@pytest.mark.parametrize("argv,message", [
    (["--widths", "8,0"], "widths[1] must be >= 1"),
    (["--widths", "8,2.5"], "--widths must be comma-separated integers"),
    (["--object", "ntk", "--activation", "step", "--C-W", "1"], "not covered by the NTK recursion"),
    (["--object", "pair", "--activation", "step", "--C-W", "1"], "not covered by the two-input recursion"),
    (["--C-W", "-1"], "C_W must be > 0"),
    (["--object", "relu-ntk", "--activation", "tanh"], "cover phi = b max(z, 0) only"),
    (["--object", "relu-ntk", "--C-b", "1/10"], "need C_b = 0"),
    (["--object", "ntk-chain", "--activation", "step", "--C-W", "1"], "phi' must be a function"),
    (["--object", "ntk-chain", "--nodes", "2"], "nodes must be >= 5"),
    (["--activation", "nope"], "unknown activation"),
])
def test_cli_bad_input_one_line_exit_2(capsys, argv, message):
    status, out, err = _run(capsys, "finite", *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err


def test_plot_against_depth():
    results = [finite_width_mlp([10] * 5, "relu", 2), finite_width_ntk([10] * 5, "tanh", 1),
               finite_width_moments([10] * 5, "relu", 2), exact_relu_ntk([8] * 3)]
    fig = plot_finite_width(results, monte_carlo=[{3: (1.0, 0.1)}, None, None, None])
    ax = fig.axes[0]
    assert len(ax.lines) >= 7 and ax.get_xlabel() == "layer l"
    ntk = [line for line in ax.lines if "Var H" in line.get_label()][0]
    assert list(ntk.get_ydata()) == [0.375, 577 / 576]
    chain = [line for line in ax.lines if "Var G" in line.get_label()][0]
    assert list(chain.get_ydata()) == [0.5, 1.25, 2.375, 4.0625]  # (3/2)^(l-1) - 1


def test_plot_ntk_chain_against_depth():
    """The F24 curve is Var H/(E H)^2 per layer; for ReLU it is the exact one, 3/8 and 577/576 at [8] * 3."""
    fig = plot_finite_width([finite_width_ntk_moments([8] * 3, "relu", 2)])
    line = [line for line in fig.axes[0].lines if "chain, 12 nodes" in line.get_label()][0]
    assert list(line.get_ydata()) == pytest.approx([0.375, 577 / 576], rel=1e-10)


def test_plot_pair_against_depth():
    """Deep linear: V_12,12 = (l - 1)(K11 K22 + K12^2) (F6), so the plotted ratio is (l - 1)/n."""
    from eigencalc.duals.activations import activation
    r = finite_width_pair([5] * 4, activation("monomial", degree=1), 1, 0, (2, 1, 2))
    fig = plot_finite_width([r])
    line = [ln for ln in fig.axes[0].lines if "V_12,12" in ln.get_label()][0]
    assert list(line.get_ydata()) == pytest.approx([0.2, 0.4, 0.6], rel=1e-12)


def test_pair_table():
    r = finite_width_pair([5, 5], "relu", 2, 0, (1, 0.5, 1))
    frame = r.to_frame()
    assert list(frame.columns)[:5] == ["layer", "width", "K_11", "K_12", "K_22"] and "V_12_12" in frame
    assert "toprule" in r.to_latex()
