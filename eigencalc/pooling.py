"""Pooled (GlobalAvgPool, AvgPool) spectra on cyclic domains (section 6).

A facade: the code lives in :mod:`eigencalc.spectral.pooled`;
this module re-exports its public names so that user code keeps working.
"""

from .spectral.pooled import (  # noqa: F401
    PooledSpectrum, PooledEntry, pooled_spectrum, canonical_rotation, pooling_symbol,
    orbit_multiplicity, grid_symbol, fourier_indices,
)

__all__ = ['PooledSpectrum', 'PooledEntry', 'pooled_spectrum', 'canonical_rotation', 'pooling_symbol', 'orbit_multiplicity', 'grid_symbol', 'fourier_indices']
