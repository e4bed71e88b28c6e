"""Large-degree decay laws of sphere spectra (Bietti-Bach, M13).

A facade: the code lives in :mod:`eigencalc.harmonic.decay`;
this module re-exports its public names so that user code keeps working.
"""

from .harmonic.decay import (  # noqa: F401
    DecayLaw, decay, funk_hecke_power, puiseux_endpoint,
)

__all__ = ['DecayLaw', 'decay', 'funk_hecke_power', 'puiseux_endpoint']
