"""Numerical checks: Gram matrices, Walsh-Hadamard spectra, Monte-Carlo, Nystrom, verify (M12-M18).

A facade: the code lives in :mod:`eigencalc.kernel.engine`, :mod:`eigencalc.spectral.walsh`, :mod:`eigencalc.checks.montecarlo`, :mod:`eigencalc.checks.empirical`, :mod:`eigencalc.checks.verify`, :mod:`eigencalc.harmonic.domains`;
this module re-exports its public names so that user code keeps working.
"""

from .kernel.engine import (  # noqa: F401
    NumbaFallbackWarning, gram, gram_numpy, kernel_pairs, walsh_hadamard,
    kernel_of_correlations, unjitted_activations, compile_seconds, warmup, DEFAULT_BLOCK,
    NUMBA_PAIRS,
)
from .spectral.walsh import (  # noqa: F401
    MAX_WALSH_BITS, hypercube_spectrum, WalshGroup, group_by_frequency_space,
)
from .checks.montecarlo import (  # noqa: F401
    zonal_harmonic, MonteCarloEstimate, monte_carlo_eigenvalue,
)
from .checks.empirical import (  # noqa: F401
    EmpiricalCluster, EmpiricalSpectrum, empirical_spectrum,
)
from .checks.verify import (  # noqa: F401
    VerificationRow, VerificationReport, verify,
)
from .harmonic.domains import (  # noqa: F401
    sample,
)

__all__ = ['NumbaFallbackWarning', 'gram', 'gram_numpy', 'kernel_pairs', 'walsh_hadamard', 'kernel_of_correlations', 'unjitted_activations', 'compile_seconds', 'warmup', 'DEFAULT_BLOCK', 'NUMBA_PAIRS', 'MAX_WALSH_BITS', 'hypercube_spectrum', 'WalshGroup', 'group_by_frequency_space', 'zonal_harmonic', 'MonteCarloEstimate', 'monte_carlo_eigenvalue', 'EmpiricalCluster', 'EmpiricalSpectrum', 'empirical_spectrum', 'VerificationRow', 'VerificationReport', 'verify', 'sample']
