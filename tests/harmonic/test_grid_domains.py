"""Product domains on a 2-D grid of patches (issue 13): geometry, indices, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc.domains import ProductHypercube, ProductSphere, sample


def test_grid_domain_geometry_and_equality():
    dom = ProductSphere((3, 4), 5)
    assert (dom.d, dom.grid, dom.ndim, dom.n0) == (12, (3, 4), 2, 5)
    assert repr(dom) == "ProductSphere(d=(3, 4), n0=5)"
    assert ProductSphere(12, 5).grid == (12,) and repr(ProductSphere(12, 5)) == "ProductSphere(d=12, n0=5)"
    assert dom != ProductSphere(12, 5)  # same patch count, different geometry
    assert ProductSphere((12,), 5) == ProductSphere(12, 5)
    assert hash(ProductHypercube((2, 2), 1)) == hash(ProductHypercube([2, 2], 1))


def test_grid_multi_index_flattens_row_major():
    dom = ProductHypercube((2, 3), 2)
    r = [[1, 0, 2], [0, 0, 1]]
    assert dom.check_index(r) == (1, 0, 2, 0, 0, 1)
    assert dom.check_index((1, 0, 2, 0, 0, 1)) == (1, 0, 2, 0, 0, 1)
    assert dom.grid_index((1, 0, 2, 0, 0, 1)) == ((1, 0, 2), (0, 0, 1))
    assert dom.multiplicity(r) == 2 * 1 * 2  # binom(2,1) binom(2,2) binom(2,1)


@pytest.mark.parametrize(
    "bad,error,words",
    [
        ([[1, 0], [0, 1]], ValueError, ["shape (2, 3)", "(2, 2)"]),
        ([1, 0, 0], ValueError, ["length d = 6"]),
        ([[1, 0, -1], [0, 0, 0]], ValueError, [">= 0"]),
        ([[1, 0, 0.5], [0, 0, 0]], TypeError, ["integers"]),
    ],
)
def test_grid_multi_index_errors(bad, error, words):
    with pytest.raises(error) as info:
        ProductHypercube((2, 3), 2).check_index(bad)
    assert all(w in str(info.value) for w in words)


@pytest.mark.parametrize("bad", [(0, 3), (2, -1), (), (2.5, 2)])
def test_grid_shape_errors(bad):
    with pytest.raises((ValueError, TypeError)):
        ProductSphere(bad, 3)


def test_grid_samples_have_the_grid_shape_and_the_patch_norms():
    X = sample(ProductSphere((2, 3), 4), 7, seed=1)
    assert X.shape == (7, 2, 3, 4)
    np.testing.assert_allclose((X**2).sum(-1), 4.0, rtol=1e-13)
    Z = sample(ProductHypercube((3, 2), 2), 5, seed=2)
    assert Z.shape == (5, 3, 2, 2) and set(np.unique(Z)) == {-1.0, 1.0}
    # the same stream of numbers as the flat domain, reshaped row-major
    np.testing.assert_array_equal(Z.reshape(5, 6, 2), sample(ProductHypercube(6, 2), 5, seed=2))
