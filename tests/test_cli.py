"""Command-line interface: every subcommand end to end; bad input -> one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eigencalc.cli import main


def test_dual_table(capsys):
    assert main(["dual", "relu", "--kmax", "3"]) == 0
    out = capsys.readouterr().out
    assert "1/(4*pi)" in out and "exact" in out


def test_dual_json(capsys):
    assert main(["dual", "leaky_relu", "slope=1/10", "--kmax", "2", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["activation"] == "leaky_relu" and payload["exact"] is True
    assert payload["dual_series"][1] == "121/400"


def test_critical_json(capsys):
    assert main(["critical", "tanh", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["universality"] == "K*=0" and payload["C_W"] == "1"


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["dual", "nope"], "unknown activation 'nope'"),
        (["dual", "monomial", "degree=-2"], "degree must be >= 0"),
        (["dual", "relu", "slope"], "not of the form name=value"),
        (["dual", "relu", "--kmax", "x"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_one_line_exit_2(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "eigencalc", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("usage")]
    assert len(lines) == 1 and fragment in lines[0]


def test_module_help():
    proc = subprocess.run([sys.executable, "-m", "eigencalc", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "dual" in proc.stdout and "critical" in proc.stdout
