"""The docs read the layer registry: the README's layer table is generated from it (ISSUE 12)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from eigencalc.io.grammar import LAYER_NAMES
from eigencalc.kernel.layers import LAYERS, layer_table

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("layer_table_tool", ROOT / "tools" / "layer_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_layer_table_is_the_registry():
    tool = _tool()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert tool.markdown() in readme, "README's layer table is stale: run python tools/layer_table.py --write README.md"


def test_grammar_and_cli_read_the_same_registry():
    assert LAYER_NAMES is LAYERS
    assert [row["layer"] for row in layer_table()] == list(LAYERS)
    assert {"Dense", "Conv", "Relu", "Flatten", "GlobalAvgPool", "AvgPool", "FanOut", "FanInSum"} <= set(LAYERS)
