"""Finite-width corrections of deep MLPs (Roberts–Yaida–Hanin ch. 4) and their Monte-Carlo oracle.

* :mod:`.recursions`: kernel K (F1), chi_par (F2), four-point vertex V (F3) and
  1/n mean shift K_1 (F4) at one input, exact or mpmath;
* :mod:`.sampler`: seeded vectorised sampler of finite networks with standard errors.
"""

from .recursions import FiniteWidthMLP, check_widths, finite_width_mlp, gaussian_means
from .sampler import MonteCarloMoments, monte_carlo_moments, sample_preactivations

__all__ = [
    "FiniteWidthMLP", "finite_width_mlp", "gaussian_means", "check_widths",
    "MonteCarloMoments", "monte_carlo_moments", "sample_preactivations",
]
