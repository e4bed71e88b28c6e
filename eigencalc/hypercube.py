"""Krawtchouk spectra of dot-product kernels on one hypercube {-1,1}^n (M12).

A facade: the code lives in :mod:`eigencalc.harmonic.hypercube`;
this module re-exports its public names so that user code keeps working.
"""

from .harmonic.hypercube import (  # noqa: F401
    HypercubeSpectrum, hypercube_eigenvalues, hypercube_multiplicity, krawtchouk,
)

__all__ = ['HypercubeSpectrum', 'hypercube_eigenvalues', 'hypercube_multiplicity', 'krawtchouk']
