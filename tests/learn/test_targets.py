"""Targets as eigen-expansions on product domains (MATH.md M14, section 7).

Oracles: exact sums over every point of small product hypercubes (Parseval,
orthonormality, eigenfunction equation with the full Gram matrix);
Monte-Carlo with explicit standard errors on products of spheres; the
Gegenbauer recurrence of :mod:`eigencalc.numerics`.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from eigencalc import numerics
from eigencalc.architectures import Conv, Dense, Erf, Flatten, Relu, serial
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.spectra import spectrum
from eigencalc.targets import Target, cyclic_local, f_HF, f_LF, harmonic, k_global, k_local
from tests.cases import _all_points


# ------------------------------------------------------------ exact on hypercubes


def test_harmonics_are_orthonormal_on_product_hypercube():
    """E[phi_r phi_s] = delta_rs, exactly, over all 2^(d n0) points (d = 3, n0 = 2)."""
    dom = ProductHypercube(3, 2)
    X = _all_points(dom)
    rs = list(itertools.product(range(3), repeat=3))
    Phi = np.stack([harmonic(dom, r)(X) for r in rs])
    gram = Phi @ Phi.T / len(X)
    assert np.array_equal(gram, np.eye(len(rs)))


@pytest.mark.parametrize(
    "make",
    [
        lambda dom: k_local(dom, 3, start=2),
        lambda dom: k_global(dom, 2),
        lambda dom: k_global(dom, 3, blocks=[[0, 1], [2, 5], [6, 7]]),
        lambda dom: f_LF(dom, 3),
        lambda dom: f_HF(dom, 3),
        lambda dom: cyclic_local(dom, 2, 3),
        lambda dom: 0.6 * k_local(dom, 2) - 0.8 * f_LF(dom, 2),
    ],
    ids=["k_local", "k_global", "k_global-blocks", "f_LF", "f_HF", "cyclic-j3", "combination"],
)
def test_parseval_and_coefficients_exact(make):
    """E[f^2] = sum_r c_r^2 and E[f phi_r] = c_r over all 2^8 points: masses are exact."""
    dom = ProductHypercube(8, 1)
    f = make(dom)
    X = _all_points(dom)
    y = f(X)
    assert np.mean(y * y) == pytest.approx(f.norm2(), abs=1e-13)
    for r, c in f.coefficients.items():
        assert np.mean(y * harmonic(dom, r)(X)) == pytest.approx(c, abs=1e-13)
    assert sum(f.mass_by_index().values()) == pytest.approx(f.norm2(), abs=1e-15)


def test_unit_norm_of_named_targets():
    for dom in (ProductHypercube(12, 1), ProductSphere(6, 3)):
        for f in (k_local(dom, 3), k_global(dom, 3), f_LF(dom, 3), f_HF(dom, 2), harmonic(dom, (1,) + (0,) * 5 + (0,) * (dom.d - 6))):
            assert f.norm2() == pytest.approx(1.0, abs=1e-14), f


def test_k_global_structure_and_fast_evaluator():
    """k_global = prod of block sums: (d/k)^k terms of mass (k/d)^k; the product form equals the term sum."""
    dom = ProductHypercube(12, 1)
    f = k_global(dom, 3)
    assert len(f.coefficients) == 4**3
    assert np.allclose(list(f.mass_by_index().values()), 4.0**-3, rtol=1e-14, atol=0)
    assert f.frequencies() == {3: pytest.approx(1.0)}
    X = dom.sample(50, seed=3)
    slow = Target(dom, f.coefficients)(X)
    assert np.allclose(f(X), slow, rtol=0, atol=1e-12)
    assert np.allclose((2.0 * f)(X), 2.0 * slow, rtol=0, atol=1e-12)
    sph = ProductSphere(4, 3)
    g = k_global(sph, 2, degree=2)
    Y = sph.sample(40, seed=4)
    assert np.allclose(g(Y), Target(sph, g.coefficients)(Y), rtol=0, atol=1e-12)


def test_f_lf_and_f_hf_definitions():
    """f_LF,3 = d^-1/2 sum_i x_i x_i+1 x_i+2 (cyclic); f_HF,3 with (-1)^i; orthogonal to each other."""
    d = 10
    dom = ProductHypercube(d, 1)
    X = dom.sample(30, seed=0)[:, :, 0]
    lf = sum(X[:, i] * X[:, (i + 1) % d] * X[:, (i + 2) % d] for i in range(d)) / math.sqrt(d)
    hf = sum((-1) ** i * X[:, i] * X[:, (i + 1) % d] * X[:, (i + 2) % d] for i in range(d)) / math.sqrt(d)
    assert np.allclose(f_LF(dom, 3)(X[:, :, None]), lf, atol=1e-13)
    assert np.allclose(f_HF(dom, 3)(X[:, :, None]), hf, atol=1e-13)
    a, b = f_LF(dom, 3), f_HF(dom, 3)
    assert sum(a.coefficients[r] * b.coefficients.get(r, 0.0) for r in a.coefficients) == pytest.approx(0, abs=1e-15)
    # same masses per index: pooling-free kernels cannot tell them apart
    assert a.mass_by_index() == pytest.approx(b.mass_by_index())


def test_arithmetic_combines_equal_indices():
    dom = ProductHypercube(4, 1)
    f = harmonic(dom, (1, 1, 0, 0))
    g = 0.5 * f + 0.5 * f - f
    assert g.coefficients == {} and g.norm2() == 0
    h = sum([harmonic(dom, (1, 0, 0, 0)), 2 * harmonic(dom, (0, 1, 0, 0))])
    assert h.mass_by_index() == {(1, 0, 0, 0): 1.0, (0, 1, 0, 0): 4.0}
    assert h.normalized().norm2() == pytest.approx(1.0)


def test_harmonics_are_kernel_eigenfunctions_on_hypercube():
    """(G / 2^n) phi_r = lambda(r) phi_r with the full Gram (d = 3, n0 = 2): targets and spectra agree."""
    dom = ProductHypercube(3, 2)
    net = serial(Conv(3, stride=3), Erf(), Flatten(), Dense(b_std=0.3))
    spec = spectrum(net, dom, "ntk", max_frequency=6)
    X = _all_points(dom)
    G = net.kernel_fn(X, X, "ntk") / len(X)
    for r in [(0, 0, 0), (1, 0, 0), (2, 1, 0), (1, 1, 1), (2, 2, 2)]:
        phi = harmonic(dom, r)(X)
        assert np.allclose(G @ phi, spec.eigenvalue(r) * phi, rtol=0, atol=1e-12), r


# ---------------------------------------------------------------- spheres


def test_zonal_harmonic_matches_numerics():
    """The sphere harmonic equals numerics.zonal_harmonic of <x_i, e_1>/sqrt(n0), patch by patch."""
    dom = ProductSphere(3, 5)
    X = dom.sample(20, seed=1)
    r = (2, 0, 3)
    expected = numerics.zonal_harmonic(2, 5, X[:, 0, 0] / math.sqrt(5)) * numerics.zonal_harmonic(3, 5, X[:, 2, 0] / math.sqrt(5))
    assert np.allclose(harmonic(dom, r)(X), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.slow
def test_sphere_harmonics_orthonormal_monte_carlo():
    """E[phi_r phi_s] = delta_rs on (S^2)^2 by Monte-Carlo, N = 400k.

    Each estimate is a mean of products with variance <= E[phi_r^2 phi_s^2] (< 10
    for these degrees), so its standard error is < 0.005; tolerance 0.03 is > 6 sigma.
    """
    dom = ProductSphere(2, 3)
    X = dom.sample(400_000, seed=7)
    rs = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (3, 0), (2, 1)]
    Phi = np.stack([harmonic(dom, r)(X) for r in rs])
    gram = Phi @ Phi.T / len(X)
    assert np.max(np.abs(gram - np.eye(len(rs)))) < 0.03


@pytest.mark.slow
def test_sphere_harmonic_is_eigenfunction_monte_carlo():
    """E_y[K(x, y) phi_r(y)] = lambda(r) phi_r(x) on (S^3)^2, Monte-Carlo over y (N = 40k) at 5 points x.

    The estimate's standard error is computed from the samples; tolerance 5 sigma
    plus the spectrum's own error bound.
    """
    dom = ProductSphere(2, 4)
    net = serial(Conv(2, stride=2), Relu(), Flatten(), Dense())
    spec = spectrum(net, dom, "ntk", max_frequency=4)
    x = dom.sample(5, seed=11)
    Y = dom.sample(40_000, seed=12)
    K = numerics.gram(net, x, Y, "ntk")
    for r in [(1, 0), (1, 1), (2, 1)]:
        phi_y = harmonic(dom, r)(Y)
        Z = K * phi_y[None, :]
        est, se = Z.mean(axis=1), Z.std(axis=1, ddof=1) / math.sqrt(len(Y))
        lam = float(spec.eigenvalue(r))
        target = lam * harmonic(dom, r)(x)
        assert np.all(np.abs(est - target) <= 5 * se + float(spec.error_bound(r))), r


# ----------------------------------------------------------------- errors


def test_not_expressible_targets_raise():
    cube = ProductHypercube(6, 1)
    with pytest.raises(ValueError, match="not expressible"):
        harmonic(cube, (2, 0, 0, 0, 0, 0))
    with pytest.raises(ValueError, match="not expressible"):
        k_local(cube, 2, degree=2)
    with pytest.raises(ValueError, match="out of range"):
        k_local(cube, 3, start=4)
    with pytest.raises(ValueError, match="must divide"):
        k_global(cube, 4)
    with pytest.raises(ValueError, match="out of range"):
        k_global(cube, 2, blocks=[[0, 1], [5, 6]])
    with pytest.raises(ValueError, match="disjoint"):
        k_global(cube, 2, blocks=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="need k = 2 blocks"):
        k_global(cube, 2, blocks=[[0, 1, 2, 3, 4, 5]])
    with pytest.raises(ValueError, match="even number"):
        f_HF(ProductHypercube(7, 1), 3)
    with pytest.raises(ValueError, match="do not fit"):
        f_LF(cube, 7)
    with pytest.raises(ValueError, match="length d"):
        harmonic(cube, (1, 0))
    with pytest.raises(ValueError, match=">= 1"):
        k_local(cube, 0)
    with pytest.raises(TypeError):
        harmonic("cube", (1,))


def test_evaluation_and_combination_errors():
    cube = ProductHypercube(4, 1)
    f = harmonic(cube, (1, 0, 0, 0))
    with pytest.raises(ValueError, match="shape"):
        f(np.ones((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        f(np.ones((3, 5, 1)))
    with pytest.raises(ValueError, match="different domains"):
        f + harmonic(ProductHypercube(4, 2), (1, 0, 0, 0))
    with pytest.raises(ValueError, match="different domains"):
        f + harmonic(ProductSphere(4, 2), (1, 0, 0, 0))
    with pytest.raises(ValueError, match="zero target"):
        (f - f).normalized()
    with pytest.raises(ValueError, match="not finite"):
        Target(cube, {(1, 0, 0, 0): float("nan")})
