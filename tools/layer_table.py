"""Print (or write into README.md) the markdown table of the layer registry.

Usage: python tools/layer_table.py [--write README.md]
The README's table sits between the markers below; tests/io/test_docs.py checks it is current.
"""

from __future__ import annotations

import re
import sys

from eigencalc.kernel.layers import layer_table

BEGIN, END = "<!-- layers:begin (tools/layer_table.py) -->", "<!-- layers:end -->"


def _plain(summary: str) -> str:
    """A docstring summary for markdown: drop the reST roles, keep the text."""
    return re.sub(r":math:`([^`]*)`", r"`\1`", summary).replace("``", "`").replace("|", "\\|")


def markdown() -> str:
    lines = [BEGIN, "| layer | call | map |", "|---|---|---|"]
    for row in layer_table():
        lines.append(f"| `{row['layer']}` | `{row['call']}` | {_plain(row['summary'])} |")
    lines.append(END)
    return "\n".join(lines)


def write(path: str) -> None:
    text = open(path, encoding="utf-8").read()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text[:start] + markdown() + text[stop:])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write(sys.argv[2])
    else:
        print(markdown())
