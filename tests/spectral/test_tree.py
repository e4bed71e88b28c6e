"""The tree moment recursion (eigencalc.spectral.tree, M15/M16): within its proven bound, exact for polynomials.

Oracles: exact enumeration on product hypercubes and Gauss-Legendre quadrature
on S^2.  Moved from test_spectra.py.
"""

from __future__ import annotations

import pytest
import sympy

from eigencalc.architectures import Conv, Dense, Flatten, Polynomial, Relu, serial
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.spectra import spectrum
from tests.cases import TREE, _legendre_quadrature_eigenvalue


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_tree_recursion_within_bound_of_enumeration(kind):
    """Tree moment recursion (mpmath) vs exact enumeration: |difference| <= proven bound."""
    exact = spectrum(TREE, ProductHypercube(4, 2), kind, 8)
    tree = spectrum(TREE, ProductHypercube(4, 2), kind, 8, method="tree", max_power=24)
    for e in exact.entries():
        diff = abs(float(tree.eigenvalue(e.r)) - e.eigenvalue)
        assert diff <= float(tree.error_bound(e.r)) + 1e-13, e.r


def test_polynomial_tree_is_exact_and_matches_enumeration():
    net = serial(Conv(2, stride=2), Polynomial([0, 1, 1]), Conv(2, stride=2), Polynomial([1, 0, 1]), Flatten(), Dense())
    dom = ProductHypercube(4, 2)
    exact = spectrum(net, dom, "ntk", 8, method="tree", max_power=12)
    assert exact.exact
    r = (1, 0, 2, 0)
    assert isinstance(exact.eigenvalue(r), sympy.Rational) and exact.error_bound(r) == 0
    enum = spectrum(net, dom, "ntk", 8)
    for e in enum.entries():
        assert float(exact.eigenvalue(e.r)) == pytest.approx(e.eigenvalue, rel=1e-11, abs=1e-14)


def test_product_sphere_d1_relu_tree_within_bound_of_quadrature():
    """Small n0 is the hard case for the recursion (slow decay of mu_0(t^2m) = 1/(2m+1)):
    its value must still lie within its proven bound of the quadrature value."""
    net = serial(Dense(), Relu(), Dense(), Relu(), Dense())
    spec = spectrum(net, ProductSphere(1, 3), "ntk", 4, method="tree", max_power=32)
    kernel = lambda t: net.kernel_of_correlations(t, "ntk")  # noqa: E731
    for k in range(5):
        quad = _legendre_quadrature_eigenvalue(kernel, (k,), nodes=400)
        # relu NTK has a (1-t)^(1/2) endpoint singularity: Gauss–Legendre error ~ N^-3 ~ 1e-8
        assert abs(float(spec.eigenvalue((k,))) - quad) <= float(spec.error_bound((k,))) + 1e-7
