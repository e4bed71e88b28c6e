"""Eigenvalues per multi-index on product domains, grouped by (frequency, space) (M14-M19).

A facade: the code lives in :mod:`eigencalc.spectral.product`, :mod:`eigencalc.spectral.front`;
this module re-exports its public names so that user code keeps working.
"""

from .spectral.product import (  # noqa: F401
    Spectrum, SpectrumEntry, SpectrumClass, SpectrumTable, product_spectrum, group_classes,
    check_spectrum_arguments,
)
from .spectral.front import (  # noqa: F401
    spectrum,
)

__all__ = ['Spectrum', 'SpectrumEntry', 'SpectrumClass', 'SpectrumTable', 'product_spectrum', 'group_classes', 'check_spectrum_arguments', 'spectrum']
