"""Real data on products of spheres and power per (frequency, space) class (eigencalc.learn.datasets).

Oracles: exact sums over every point of a small product hypercube (the
U-statistic of a harmonic has a closed form there); Monte-Carlo on a product of
spheres with a tolerance of several standard errors; the digits themselves
(shape, norms, determinism).
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc.architectures import Conv, Dense, Flatten, Relu, serial
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.learn.curves import learning_curve
from eigencalc.learn.datasets import (
    class_power,
    class_target,
    digits_on_spheres,
    empirical_class_power,
    empirical_learning_curve,
    patches_on_spheres,
)
from eigencalc.spectra import spectrum
from eigencalc.targets import harmonic
from tests.cases import _all_points

CNN = serial(Conv((2, 2), stride=2), Relu(), Flatten(), Dense())


# ------------------------------------------------------------ digits


def test_digits_shape_norms_domain():
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    X, y, dom = digits_on_spheres()
    assert X.shape == (1797, 4, 4, 4) and y.shape == (1797,)
    assert dom == ProductSphere((4, 4), 4)
    assert np.allclose(np.linalg.norm(X, axis=-1), 2.0, atol=1e-12)
    assert set(np.unique(y)) == {-1.0, 1.0} and int((y == 1).sum()) == 178  # 178 zeros in the data set


def test_digits_deterministic_and_options():
    pytest.importorskip("sklearn")
    X1, y1, _ = digits_on_spheres(target="label")
    X2, y2, _ = digits_on_spheres(target="label")
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert abs(y1.mean()) < 1e-12 and abs(y1.std() - 1) < 1e-12
    X4, _, dom4 = digits_on_spheres(patch=4)
    assert X4.shape == (1797, 2, 2, 16) and dom4 == ProductSphere((2, 2), 16)
    with pytest.raises(ValueError, match="patch must divide 8"):
        digits_on_spheres(patch=3)
    with pytest.raises(ValueError, match="target"):
        digits_on_spheres(target="parity")
    with pytest.raises(ValueError, match="digit"):
        digits_on_spheres(digit=10)


def test_patches_blank_block_maps_to_constant_direction():
    images = np.zeros((3, 4, 4))
    images[1, :2, :2] = 1.0
    X = patches_on_spheres(images, 2, bias=0.25, centre=None)
    assert np.allclose(X[0], 1.0)  # blank blocks: (1, 1, 1, 1), norm 2
    assert np.allclose(np.linalg.norm(X, axis=-1), 2.0)
    with pytest.raises(ValueError, match="zero norm"):
        patches_on_spheres(images, 2, bias=0.0, centre=None)
    with pytest.raises(ValueError, match="multiples"):
        patches_on_spheres(np.zeros((2, 5, 4)), 2)
    with pytest.raises(ValueError, match="centre"):
        patches_on_spheres(images, 2, centre="patch")


# ------------------------------------------------------------ class_power


def test_class_power_exact_on_full_hypercube():
    """Over all N points of {-1,1}^(4 x 2): the U-statistic of a harmonic Y_r is (N - M)/(N - 1) on its class.

    With Z_class(x, x) = M (the class's total multiplicity) and E[Y_r^2] = 1 exactly,
    sum_{a != b} y_a y_b Z(a, b) = N^2 <y, Z y>/N^2 - N M, i.e. N^2 - N M on the class
    of r and -N M on every other class.
    """
    dom = ProductHypercube((2, 2), 2)
    X = _all_points(dom).reshape(-1, 2, 2, 2)
    N = X.shape[0]
    spec = spectrum(CNN, dom, "ntk", 3)
    r = ((1, 1), (0, 0))
    y = harmonic(dom, r)(X)
    cp = class_power(X, y, spec)
    key = (2, spec.space(r))
    for c in spec.classes():
        expected = ((N if (c.frequency, c.space) == key else 0) - c.multiplicity) / (N - 1)
        assert cp.power.get((c.frequency, c.space), 0.0) == pytest.approx(expected, abs=1e-12)
    assert cp.total == pytest.approx(1.0)


def test_class_power_monte_carlo_on_spheres():
    """Uniform data: powers of a two-term harmonic target within about 4 standard errors (~ sqrt(2 P M)/N)."""
    dom = ProductSphere((2, 2), 3)
    spec = spectrum(CNN, dom, "nngp", 2)
    X = dom.sample(1500, seed=1)
    f = harmonic(dom, ((1, 0), (0, 0))) + 0.5 * harmonic(dom, ((1, 1), (0, 0)))
    cp = class_power(X, f(X), spec)
    assert cp.power[(1, spec.space(((1, 0), (0, 0))))] == pytest.approx(1.0, abs=0.15)
    assert cp.power[(2, spec.space(((1, 1), (0, 0))))] == pytest.approx(0.25, abs=0.15)
    assert abs(cp.residual) < 0.3


def test_class_target_spreads_power_and_feeds_learning_curve():
    dom = ProductSphere((2, 2), 3)
    spec = spectrum(CNN, dom, "ntk", 2)
    power = {(c.frequency, c.space): 0.1 for c in spec.classes()}
    power[(9, 9)] = 1.0  # not a class of the spectrum: dropped
    target = class_target(spec, power)
    assert sum(target.values()) == pytest.approx(0.1 * len(spec.classes()))
    lc = learning_curve(spec, target, [4, 64], ridge=1e-3)
    assert lc.test_mse[1] < lc.test_mse[0]


def test_empirical_class_power_sums_to_total_and_finds_the_class():
    """Rank matching on uniform data: a space-3 degree-2 harmonic lands in its class; powers + residual = E[y^2]."""
    dom = ProductSphere((2, 2), 3)
    spec = spectrum(CNN, dom, "ntk", 2)
    X = dom.sample(600, seed=2)
    r = ((1, 1), (0, 0))
    y = harmonic(dom, r)(X)
    K = CNN.kernel_fn(X, kind="ntk")
    cp = empirical_class_power(K, y, spec)
    assert sum(cp.power.values()) + cp.residual == pytest.approx(cp.total) and cp.total == pytest.approx(np.mean(y**2))
    assert cp.power[(2, spec.space(r))] > 0.6 * cp.total
    with pytest.raises(ValueError, match="Gram"):
        empirical_class_power(K[:5], y, spec)


def test_empirical_learning_curve_tracks_krr_on_the_sample():
    """Eigenlearning with the empirical eigensystem vs KRR on subsets of the same 600 points (within 35 %)."""
    dom = ProductSphere((2, 2), 3)
    X = dom.sample(600, seed=3)
    y = harmonic(dom, ((1, 0), (0, 0)))(X) + 0.5 * harmonic(dom, ((1, 1), (0, 0)))(X)
    K = CNN.kernel_fn(X, kind="ntk")
    ms = [10, 40]
    predicted = empirical_learning_curve(K, y, ms, ridge=1e-3)
    assert predicted[1] < predicted[0]
    rng = np.random.default_rng(0)
    for m, p in zip(ms, predicted):
        errors = []
        for _ in range(20):
            perm = rng.permutation(len(y))
            tr, te = perm[:m], perm[m:]
            alpha = np.linalg.solve(K[np.ix_(tr, tr)] + 1e-3 * np.eye(m), y[tr])
            errors.append(np.mean((K[np.ix_(te, tr)] @ alpha - y[te]) ** 2))
        assert np.mean(errors) == pytest.approx(p, rel=0.35)


def test_class_power_errors():
    dom = ProductSphere((2, 2), 3)
    spec = spectrum(CNN, dom, "ntk", 1)
    with pytest.raises(ValueError, match="shape"):
        class_power(np.zeros((5, 3, 3)), np.zeros(5), spec)
    with pytest.raises(ValueError, match="at least 2"):
        class_power(dom.sample(1, seed=0), np.zeros(1), spec)
