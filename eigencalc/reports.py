"""Tables of results: pandas frames, booktabs LaTeX, records.

A facade: the code lives in :mod:`eigencalc.core.tables`;
this module re-exports its public names so that user code keeps working.
"""

from .core.tables import (  # noqa: F401
    Tabular, to_frame, to_latex, to_records, format_number, latex_number, as_float,
)

__all__ = ['Tabular', 'to_frame', 'to_latex', 'to_records', 'format_number', 'latex_number', 'as_float']
