"""Progress bars for long computations (tqdm), quiet unless stderr is a terminal.

Every call that can take more than a few seconds (numba compilation, large
spectra, Monte-Carlo, ``verify``, kernel-regression experiments) reports
through :func:`progress`.  ``enabled=None`` (the default) lets tqdm decide:
a bar on a terminal, nothing in a pipe, a notebook's log or CI.

>>> sum(progress(range(3), desc="demo", enabled=False))
3
"""

from __future__ import annotations

from typing import Iterable

from tqdm.auto import tqdm

__all__ = ["progress"]


def progress(iterable: Iterable | None = None, *, desc: str, total: int | None = None, enabled: bool | None = None,
             leave: bool = False):
    """A tqdm bar over ``iterable`` (or a manual one with ``total``); ``enabled=None`` shows it only on a TTY.

    ``leave=True`` keeps the final line (``n/n`` and the time taken) once the work is done.
    """
    return tqdm(iterable, desc=desc, total=total, disable=None if enabled is None else not enabled, leave=leave,
                dynamic_ncols=True)
