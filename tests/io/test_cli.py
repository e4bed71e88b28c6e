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
    assert payload["parameters"]["activation"] == "leaky_relu"
    assert payload["rows"][1]["coefficient"] == "121/400"


def test_critical_json(capsys):
    assert main(["critical", "tanh", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"][0]["universality"] == "K*=0" and payload["rows"][0]["C_W"] == "1"


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


# ------------------------------------------------------------- spectrum & formats

ARCH = "Conv(2, stride=2) Relu Conv(2, stride=2) Relu Flatten Dense"


def _json_schema_ok(doc: dict) -> None:
    """The documented JSON layout (README, 'JSON output'), checked by hand."""
    assert set(doc) == {"schema", "eigencalc", "command", "parameters", "note", "rows"}
    assert doc["schema"] == 1 and isinstance(doc["eigencalc"], str) and isinstance(doc["note"], str)
    assert isinstance(doc["parameters"], dict) and isinstance(doc["rows"], list)
    for row in doc["rows"]:
        for key, value in row.items():
            assert isinstance(key, str)
            assert value is None or isinstance(value, (int, float, str, bool, list))


def test_spectrum_json_schema_and_values(capsys):
    argv = ["spectrum", "--arch", ARCH, "--domain", "hypercube", "--d", "4", "--n0", "2", "--max-frequency", "2", "--format", "json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    _json_schema_ok(doc)
    assert doc["command"] == "spectrum" and doc["parameters"]["method"] == "enumeration"
    first = doc["rows"][0]
    assert first["r"] == [0, 0, 0, 0] and first["frequency"] == 0 and first["eigenvalue"] > 0


def test_spectrum_classes_csv_and_latex(tmp_path, capsys):
    out = tmp_path / "classes.tex"
    argv = ["spectrum", "--arch", ARCH, "--domain", "sphere", "--d", "4", "--n0", "5", "--classes", "--format", "latex", "--output", str(out)]
    assert main(argv) == 0
    tex = out.read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert tex.count("{") == tex.count("}")
    capsys.readouterr()
    argv = ["spectrum", "--arch", ARCH, "--d", "4", "--n0", "5", "--classes", "--max-frequency", "2", "--format", "csv"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("frequency,space,min_eigenvalue")
    # classes (frequency, space) up to frequency 2: (0,0), (1,2), (2,2), (2,3), (2,4)
    assert [tuple(map(int, ln.split(",")[:2])) for ln in lines[1:]] == [(0, 0), (1, 2), (2, 2), (2, 3), (2, 4)]

@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["spectrum", "--arch", "Conv(4 stride=4)", "--d", "4"], "column 8"),
        (["spectrum", "--arch", "Relu Frob", "--d", "4"], "unknown layer 'Frob'"),
        (["spectrum", "--arch", "Conv(8) Relu Flatten Dense", "--d", "4"], "filter"),
        (["spectrum", "--arch", ARCH, "--d", "4", "--domain", "sphere", "--n0", "1"], "n0"),
    ],
)
def test_spectrum_bad_input_one_line(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "eigencalc", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_demo_prints_class_tables(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "depth-3 tree CNN" in out and "MLP" in out and "proven bound" in out


# -------------------------------------------------- sphere, decay, learn, verify


def test_sphere_subcommand_json(capsys):
    assert main(["sphere", "--activation", "relu", "--depth", "1", "--n", "3", "--kmax", "3", "--kind", "nngp", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    _json_schema_ok(doc)
    mu = [row["eigenvalue"] if isinstance(row["eigenvalue"], float) else row["eigenvalue_float"] for row in doc["rows"]]
    # one hidden ReLU layer, unit weights: K(t) = W^2 * relu dual + 0; mu_1 > mu_2 > mu_3 > 0 on S^2
    assert mu[0] > mu[1] > mu[2] > 0 and len(mu) == 4


def test_decay_subcommand_reports_bietti_bach_exponent(capsys):
    assert main(["decay", "--activation", "relu", "--depth", "2", "--n", "5", "--kind", "ntk", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    _json_schema_ok(doc)
    assert {row["exponent"] for row in doc["rows"]} == {"5"}  # NTK: k^{-n}


def test_learn_subcommand(capsys):
    argv = ["learn", "--arch", "Flatten Dense Relu Dense", "--domain", "hypercube", "--d", "6", "--n0", "1",
            "--target", "k_local:2", "--m", "5,40", "--ridge", "0.001", "--format", "csv"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "m,kappa,E0,test_mse,train_mse"
    first, second = (float(v) for v in (lines[1].split(",")[3], lines[2].split(",")[3]))
    assert second < first  # more samples, lower predicted error


def test_verify_subcommand_agrees(capsys):
    argv = ["verify", "--arch", "Conv(2, stride=2) Relu Flatten Dense", "--domain", "hypercube", "--d", "4", "--n0", "1", "--format", "json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    _json_schema_ok(doc)
    assert doc["rows"] and all(row["agree"] for row in doc["rows"])


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["learn", "--arch", "Flatten Dense", "--d", "4", "--target", "bogus:1"], "--target must be one of"),
        (["learn", "--arch", "Flatten Dense", "--d", "4", "--target", "k_local:2", "--m", "a,b"], "--m must be"),
        (["sphere", "--activation", "relu", "--n", "1"], "n"),
        (["decay", "--activation", "tanh"], "closed-form"),
    ],
)
def test_new_subcommands_bad_input(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "eigencalc", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_spectrum_rtol_certifies_every_row(capsys):
    """--rtol asks for certified eigenvalues: every row says 'certified' and its bound is <= rtol x eigenvalue."""
    argv = ["spectrum", "--arch", "Conv(2, stride=2) Relu Conv(4, stride=4) Relu Flatten Dense", "--d", "8", "--n0", "8",
            "--kind", "ntk", "--max-frequency", "2", "--rtol", "1e-6", "--format", "json"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["parameters"]["rtol"] == 1e-6
    rows = payload["rows"]
    assert rows and all(row["certified"] for row in rows)
    assert all(float(row["error_bound"]) <= 1e-6 * abs(float(row["eigenvalue"])) for row in rows)


def test_spectrum_rtol_rejects_nonpositive():
    proc = subprocess.run([sys.executable, "-m", "eigencalc", "spectrum", "--arch", "Dense Relu Dense", "--d", "1", "--n0", "4",
                           "--kind", "ntk", "--rtol", "0"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--rtol" in proc.stderr
