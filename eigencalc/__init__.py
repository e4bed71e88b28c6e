"""eigencalc: eigenstructure of infinite-width NNGP and NTK kernels.

The public API is this curated list of names; the code lives in one module
per concept.  Conventions and equation tags (M1, M2, ...) follow
``shared/MATH.md``.

============================  ==================================================
module                        concept
============================  ==================================================
``activations``               dual activations, Hermite coefficients (M5–M8)
``criticality``               critical initialization (RYH ch. 5)
``spheres``, ``hypercube``    dot-product spectra on one sphere / hypercube (M9–M12)
``decay``                     large-degree decay laws (M13)
``architectures``             stax-style layers and DAG kernels (M1–M4)
``domains``                   products of spheres / hypercubes (M14)
``spectra``                   eigenvalues per multi-index, (frequency, space) (M15–M19)
``pooling``                   pooled kernels on cyclic domains (section 6)
``numerics``                  numba Gram matrices, FWHT, Monte-Carlo checks
``targets``, ``learning``     targets, eigenlearning curves, kernel regression (section 7)
``reports``, ``plots``        tables (pandas, LaTeX) and figures
``grammar``, ``cli``          architecture text and the command line
``finite``                    finite-width 1/n corrections, RYH chs. 4, 5, 8 (F1–F23)
============================  ==================================================
"""

from .core.version import __version__  # noqa: F401 (the package version)

from .activations import ACTIVATION_NAMES, Activation, DualSeries, TruncationWarning, activation
from .architectures import (
    MLP,
    Abs,
    Conv,
    Cos,
    Dag,
    Dense,
    Erf,
    Exp,
    FanInSum,
    FanOut,
    Flatten,
    Gelu,
    GlobalAvgPool,
    AvgPool,
    Identity,
    KernelSeries,
    Layer,
    LeakyRelu,
    Monomial,
    Phi,
    Polynomial,
    Relu,
    Sigmoid,
    Sin,
    Softplus,
    Step,
    Swish,
    Tanh,
    mlp,
    parallel,
    serial,
)
from .criticality import Criticality, criticality, kernel_flow
from .decay import DecayLaw, decay
from .hypercube import HypercubeSpectrum, hypercube_eigenvalues, hypercube_multiplicity, krawtchouk
from .spheres import SphereSpectrum, gegenbauer_normalized, sphere_eigenvalues, sphere_multiplicity
from .domains import Hypercube, ProductHypercube, ProductSphere, Sphere
from .grammar import parse_architecture
from .learning import learnable, krr_experiment, learning_curve
from .numerics import (
    empirical_spectrum,
    gram,
    group_by_frequency_space,
    hypercube_spectrum,
    monte_carlo_eigenvalue,
    verify,
)
from .pooling import PooledSpectrum
from .spectra import Spectrum, spectrum
from .finite import (
    exact_relu_ntk,
    finite_width_mlp,
    finite_width_moments,
    finite_width_ntk,
    finite_width_ntk_moments,
    finite_width_pair,
    finite_width_pair_ntk,
    monte_carlo_moments,
    monte_carlo_ntk,
    monte_carlo_pair,
)
from .finite.sphere import finite_width_sphere
from .finite.universality import large_depth_constants
from . import finite, plots, targets

__all__ = [
    "ACTIVATION_NAMES", "Activation", "DualSeries", "TruncationWarning", "activation",
    "Criticality", "criticality", "kernel_flow",
    "SphereSpectrum", "sphere_eigenvalues", "sphere_multiplicity", "gegenbauer_normalized",
    "HypercubeSpectrum", "hypercube_eigenvalues", "hypercube_multiplicity", "krawtchouk",
    "DecayLaw", "decay",
    "Layer", "Dense", "Conv", "Phi", "Relu", "LeakyRelu", "Abs", "Erf", "Tanh", "Sigmoid", "Gelu", "Swish",
    "Softplus", "Sin", "Cos", "Exp", "Monomial", "Polynomial", "Step", "Flatten", "GlobalAvgPool", "Identity",
    "FanOut", "FanInSum", "AvgPool", "serial", "parallel", "mlp", "MLP", "Dag", "KernelSeries", "parse_architecture",
    "ProductSphere", "ProductHypercube", "Sphere", "Hypercube",
    "Spectrum", "PooledSpectrum", "spectrum",
    "gram", "hypercube_spectrum", "group_by_frequency_space", "monte_carlo_eigenvalue", "empirical_spectrum", "verify",
    "plots", "targets", "learning_curve", "learnable", "krr_experiment",
    "finite", "exact_relu_ntk", "finite_width_mlp", "finite_width_moments", "finite_width_pair", "finite_width_ntk", "finite_width_ntk_moments", "finite_width_pair_ntk",
    "finite_width_sphere",
    "large_depth_constants", "monte_carlo_moments", "monte_carlo_pair", "monte_carlo_ntk",
]
