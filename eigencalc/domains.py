"""Products of spheres and hypercubes, and sampling on them (M14).

A facade: the code lives in :mod:`eigencalc.harmonic.domains`;
this module re-exports its public names so that user code keeps working.
"""

from .harmonic.domains import (  # noqa: F401
    Domain, ProductSphere, ProductHypercube, Sphere, Hypercube, sphere_monomial_eigenvalue,
    hypercube_monomial_eigenvalue, check_domain, sample, sphere_monomial_eigenvalue_symbolic,
    hypercube_signed_measure,
)

__all__ = ['Domain', 'ProductSphere', 'ProductHypercube', 'Sphere', 'Hypercube', 'sphere_monomial_eigenvalue', 'hypercube_monomial_eigenvalue', 'check_domain', 'sample', 'sphere_monomial_eigenvalue_symbolic', 'hypercube_signed_measure']
