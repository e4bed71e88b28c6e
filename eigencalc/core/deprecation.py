"""Deprecated spellings: one warning helper, so that every old name says the same thing.

Old names keep working for one release and emit a ``DeprecationWarning`` that
names the replacement (the defaults policy in the README).

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warn_deprecated("Spectrum.total()", "Spectrum.trace()")
...     str(caught[0].message)
'Spectrum.total() is deprecated and will be removed in the next release; use Spectrum.trace()'
"""

from __future__ import annotations

import warnings

__all__ = ["warn_deprecated"]


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (attributed to the caller's caller)."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}", DeprecationWarning,
                  stacklevel=stacklevel)
