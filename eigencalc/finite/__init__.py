"""Finite-width corrections of deep MLPs (Roberts–Yaida–Hanin chs. 4, 5, 8) and their Monte-Carlo oracle.

* :mod:`.recursions`: one input: kernel K (F1), chi_par (F2), four-point vertex V (F3), 1/n mean shift K_1 (F4);
* :mod:`.metric_chain`: one input beyond leading order: the exact Markov chain of the metric (F18), closed by
  a Taylor expansion in 1/n (F19) or by a Gauss rule for its law (F20), exact for the ReLU family;
* :mod:`.two_input`: two inputs: K_r, V_rs, K1_r for r in (11, 12, 22) (F5–F7), with the Gaussian
  engine :mod:`.bivariate`;
* :mod:`.ntk`: the NTK at one input: mean H, shift H_1, fluctuations A, B, cross terms D, F (F8–F13);
* :mod:`.relu_ntk`: the exact NTK mean and variance of bias-free ReLU MLPs at one input, any width (F23);
* :mod:`.ntk_chain`: the NTK mean and variance at one input beyond leading order, any activation and biases:
  exact backward split and transfer over the metric, closed by interpolation on nodes (F24);
* :mod:`.ntk_pair`: the NTK at two inputs: mean and 1/n shift (F17), fluctuations B, A (F21, F22); smooth activations;
* :mod:`.universality`: large-depth constants of the scale-invariant and K* = 0 classes (F14, F15);
* :mod:`.sphere`: Funk–Hecke spectrum of the 1/n correction of the NNGP and NTK on the sphere (F16);
* :mod:`.sampler`: seeded vectorised Monte-Carlo of finite networks (one input, two inputs, the NTK).
"""

from .recursions import FiniteWidthMLP, check_widths, finite_width_mlp, gaussian_means
from .metric_chain import FiniteWidthMoments, finite_width_moments
from .two_input import COMPONENTS, FiniteWidthPair, finite_width_pair
from .ntk import FiniteWidthNTK, finite_width_ntk, ntk_means
from .relu_ntk import ExactReluNTK, exact_relu_ntk
from .ntk_chain import FiniteWidthNTKMoments, finite_width_ntk_moments
from .ntk_pair import FiniteWidthPairNTK, finite_width_pair_ntk
from .sphere import FiniteWidthSphere, correction_function, finite_width_sphere
from .universality import LargeDepthConstants, float_flow, large_depth_constants
from .sampler import (
    MonteCarloMoments,
    NTKMonteCarlo,
    PairMonteCarlo,
    monte_carlo_moments,
    monte_carlo_ntk,
    monte_carlo_pair,
    monte_carlo_pair_ntk,
    monte_carlo_pair_ntk_moments,
    sample_ntk,
    sample_pair_preactivations,
    sample_preactivations,
)

__all__ = [
    "FiniteWidthMLP", "finite_width_mlp", "gaussian_means", "check_widths",
    "FiniteWidthMoments", "finite_width_moments",
    "FiniteWidthPair", "finite_width_pair", "COMPONENTS",
    "FiniteWidthNTK", "finite_width_ntk", "ntk_means", "ExactReluNTK", "exact_relu_ntk",
    "FiniteWidthNTKMoments", "finite_width_ntk_moments",
    "FiniteWidthPairNTK", "finite_width_pair_ntk",
    "FiniteWidthSphere", "finite_width_sphere", "correction_function",
    "LargeDepthConstants", "large_depth_constants", "float_flow",
    "MonteCarloMoments", "monte_carlo_moments", "sample_preactivations",
    "PairMonteCarlo", "monte_carlo_pair", "sample_pair_preactivations",
    "NTKMonteCarlo", "monte_carlo_ntk", "sample_ntk", "monte_carlo_pair_ntk", "monte_carlo_pair_ntk_moments",
]
