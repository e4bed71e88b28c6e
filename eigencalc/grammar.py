"""The architecture grammar (parsed, never evaluated).

A facade: the code lives in :mod:`eigencalc.io.grammar`;
this module re-exports its public names so that user code keeps working.
"""

from .io.grammar import (  # noqa: F401
    parse_architecture, ArchitectureSyntaxError, LAYER_NAMES, LAYERS,
)

__all__ = ['parse_architecture', 'ArchitectureSyntaxError', 'LAYER_NAMES', 'LAYERS']
