"""Write a notebook (outputs empty) from a Python file whose cells are separated by '# %%'.

Usage: python tools/make_notebook.py notebooks/src/NAME.py notebooks/NAME.ipynb
Lines of a cell starting with '# %% [markdown]' become a markdown cell (leading '# ' stripped).
"""

import sys

import nbformat


def convert(src: str, dst: str) -> None:
    text = open(src, encoding="utf-8").read()
    cells = []
    for chunk in text.split("# %%")[1:]:
        header, _, body = chunk.partition("\n")
        body = body.strip("\n")
        if header.strip().startswith("[markdown]"):
            lines = [ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body.splitlines()]
            cells.append(nbformat.v4.new_markdown_cell("\n".join(lines)))
        else:
            cells.append(nbformat.v4.new_code_cell(body))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, dst)


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
