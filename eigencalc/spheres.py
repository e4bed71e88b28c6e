"""Funk-Hecke spectra of dot-product kernels on one sphere S^{n-1} (M9-M11).

A facade: the code lives in :mod:`eigencalc.harmonic.sphere`;
this module re-exports its public names so that user code keeps working.
"""

from .harmonic.sphere import (  # noqa: F401
    SphereSpectrum, QuadratureWarning, gegenbauer_normalized, gegenbauer_normalized_all,
    sphere_eigenvalues, sphere_multiplicity, sphere_area_ratio,
)

__all__ = ['SphereSpectrum', 'QuadratureWarning', 'gegenbauer_normalized', 'gegenbauer_normalized_all', 'sphere_eigenvalues', 'sphere_multiplicity', 'sphere_area_ratio']
