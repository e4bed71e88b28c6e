"""Command line on image grids: ``--d HxW`` builds a product domain over an H x W grid of patches (issue 13)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import eigencalc as ec
from eigencalc.cli import main
from eigencalc.io.cli import build_parser, grid_argument

TREE_2D = "Conv((2,2), stride=(2,2)) Relu Flatten Dense"
TREE_1D = "Conv(4, stride=4) Relu Flatten Dense"  # the same DAG on the row-major numbering of a 2x2 grid


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("text,value", [("16", 16), ("4x4", (4, 4)), ("2X3", (2, 3)), (" 3x1 ", (3, 1)), ("2x2x2", (2, 2, 2))])
def test_grid_argument(text, value):
    assert grid_argument(text) == value


@pytest.mark.parametrize("text", ["4x", "x4", "4,4", "0x4", "-3", "4.0", "4x4.5", ""])
def test_grid_argument_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        grid_argument(text)


def test_help_documents_the_grid():
    help_text = build_parser()._subparsers._group_actions[0].choices["spectrum"].format_help()
    assert "HxW" in help_text and "4x4" in help_text


@pytest.mark.parametrize("domain", ["hypercube", "sphere"])
def test_2d_spectrum_equals_the_1d_tree_on_the_same_dag(capsys, domain):
    """A 2x2 filter of stride 2 on a 2x2 grid is one window of all 4 patches: the 1-D Conv(4, stride=4) on 4 patches."""
    common = ["--domain", domain, "--n0", "2", "--kind", "ntk", "--max-frequency", "2", "--format", "json"]
    grid = _json(capsys, ["spectrum", "--arch", TREE_2D, "--d", "2x2", *common])
    row = _json(capsys, ["spectrum", "--arch", TREE_1D, "--d", "4", *common])
    assert grid["parameters"]["d"] == "2x2" and row["parameters"]["d"] == 4
    assert "(2, 2)" in grid["note"]
    by_r = {tuple(r["r"]): r for r in row["rows"]}
    assert len(grid["rows"]) == len(by_r) == 4  # one row per symmetry orbit: r = 0, one patch deg 1, deg 2, two patches
    for r in grid["rows"]:
        assert len(r["r"]) == 4
        other = by_r[tuple(r["r"])]
        # both come from the same float64/mpmath pipeline on the same program; 1e-13 relative allows reordering
        assert r["eigenvalue"] == pytest.approx(other["eigenvalue"], rel=1e-13, abs=0)
        assert (r["frequency"], r["space"], r["multiplicity"]) == (other["frequency"], other["space"], other["multiplicity"])
    # and it is the library's spectrum on ProductHypercube((2, 2), 2) / ProductSphere((2, 2), 2)
    cls = ec.ProductHypercube if domain == "hypercube" else ec.ProductSphere
    spec = ec.spectrum(ec.parse_architecture(TREE_2D), cls((2, 2), 2), "ntk", 2)
    for r in grid["rows"]:
        assert float(spec.eigenvalue(r["r"])) == pytest.approx(r["eigenvalue"], rel=1e-13, abs=0)


def test_2d_spectrum_classes_on_a_tiny_grid(capsys):
    """Frequency 1 on the 2x2 hypercube tree: 4 patches x n0 = 2 coordinates = 8 linear harmonics, all space 1."""
    doc = _json(capsys, ["spectrum", "--arch", TREE_2D, "--domain", "hypercube", "--d", "2x2", "--n0", "2", "--kind", "ntk",
                         "--max-frequency", "2", "--classes", "--format", "json"])
    classes = {(r["frequency"], r["space"]): r for r in doc["rows"]}
    assert classes[(0, 0)]["multiplicity"] == 1
    assert classes[(1, 1)]["multiplicity"] == 8
    # frequency 2: one patch of degree 2 (4 x C(2,2) = 4, space 1) or two patches of degree 1 (C(4,2) x 2 x 2 = 24, space 2)
    assert classes[(2, 1)]["multiplicity"] == 4 and classes[(2, 2)]["multiplicity"] == 24


def test_2d_verify_and_learn_run(capsys):
    argv = ["--arch", TREE_2D, "--domain", "hypercube", "--d", "2x2", "--n0", "2", "--kind", "ntk", "--format", "json"]
    verify = _json(capsys, ["verify", *argv])
    assert verify["parameters"]["d"] == "2x2"
    assert verify["rows"] and all(r["agree"] for r in verify["rows"])
    learn = _json(capsys, ["learn", *argv, "--target", "k_local:1", "--m", "10,100"])
    assert learn["parameters"]["d"] == "2x2"
    errors = [r["test_mse"] for r in learn["rows"]]
    assert errors[1] < errors[0]  # more data, smaller predicted error


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--arch", TREE_2D, "--d", "4x"], ["argument --d", "HxW", "'4x'"]),
        (["--arch", TREE_2D, "--d", "4,4"], ["argument --d", "'4,4'"]),
        (["--arch", TREE_2D, "--d", "0x4"], ["argument --d", ">= 1"]),
        (["--arch", "Conv(2, stride=2) Relu Flatten Dense", "--d", "4x4"], ["Conv(2", "1-D filter 2", "2-D grid 4x4"]),
        (["--arch", "Conv((5,5)) Relu Flatten Dense", "--d", "4x4"], ["Conv((5, 5)", "filter (5, 5)", "larger than the grid 4x4"]),
        (["--arch", "Conv((2,2), stride=0) Relu Flatten Dense", "--d", "4x4"], ["Conv", "stride", ">= 1"]),
        (["--arch", "Conv((2,2,2)) Relu Flatten Dense", "--d", "4x4"], ["3-D filter", "2-D grid 4x4"]),
        (["--arch", TREE_2D, "--d", "4"], ["2-D filter", "1-D grid 4"]),
    ],
)
def test_bad_grid_input_is_one_line_exit_2(capsys, argv, words):
    try:
        status = main(["spectrum", "--kind", "ntk", "--n0", "2", *argv])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    assert status == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and not ln.startswith("usage")]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_bad_grid_subprocess_one_line():
    proc = subprocess.run([sys.executable, "-m", "eigencalc", "spectrum", "--arch", TREE_2D, "--kind", "ntk", "--d", "4x4x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("usage")]
    assert len(lines) == 1 and "argument --d" in lines[0]
