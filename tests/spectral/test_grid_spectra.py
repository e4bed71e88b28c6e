"""Spectra on 2-D grids of patches (issue 13): every method against brute force and against each other.

Oracle: on a small product hypercube every point is enumerated, so the
eigenvalues of the integral operator are exactly eigvalsh(Gram)/2^(d n0).  The
full multiset of a spectrum (each class's eigenvalue repeated by its
multiplicity, up to the total frequency d n0, which is every eigenvalue) must
match it to 1e-12 x trace -- float64 round-off of a 512 x 512 eigensolve is
~1e-15 of the trace, so 1e-12 leaves a margin of 1000 and still catches any
wrong multiplicity or eigenvalue (those move the multiset by >= the smallest
eigenvalue, ~1e-4 of the trace here).
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc.architectures import AvgPool, Conv, Dense, Erf, FanInSum, FanOut, Flatten, GlobalAvgPool, Identity, Relu, parallel, serial
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.pooling import canonical_rotation, grid_symbol, orbit_multiplicity
from eigencalc.spectra import spectrum
from tests.cases import _gram_eigenvalues

MULTISET_RTOL = 1e-12

GRID_CASES = [
    ("tree", serial(Conv((2, 2), stride=2), Relu(), Flatten(), Dense()), ProductHypercube((2, 2), 2)),
    ("tree-3x3", serial(Conv((3, 1), stride=(3, 1), b_std=0.4), Erf(), Conv((1, 3)), Relu(), Flatten(), Dense()), ProductHypercube((3, 3), 1)),
    ("overlap", serial(Conv((2, 2)), Relu(), Conv((1, 2), W_std=1.3), Relu(), Flatten(), Dense(b_std=0.1)), ProductHypercube((3, 3), 1)),
    ("same", serial(Conv((2, 2), padding="SAME"), Relu(), Conv((3, 3), stride=2, padding="SAME"), Relu(), Flatten(), Dense()), ProductHypercube((3, 3), 1)),
    ("circular-gap", serial(Conv((2, 2), padding="CIRCULAR", b_std=0.2), Relu(), GlobalAvgPool(), Dense()), ProductHypercube((2, 2), 2)),
    (
        "circular-gap-3x3",
        serial(Conv((2, 2), padding="CIRCULAR"), Relu(), Conv((3, 1), padding="CIRCULAR"), Erf(), GlobalAvgPool(), Dense()),
        ProductHypercube((3, 3), 1),
    ),
    (
        "residual-gap",
        serial(Conv((1, 1)), FanOut(2), parallel(serial(Relu(), Conv((2, 2), padding="CIRCULAR")), Identity()), FanInSum(), Relu(),
               GlobalAvgPool(), Dense()),
        ProductHypercube((2, 2), 2),
    ),
    ("circular-avgpool", serial(Conv((2, 2), padding="CIRCULAR"), Relu(), AvgPool((2, 2), padding="CIRCULAR"), Flatten(), Dense()),
     ProductHypercube((2, 3), 1)),
]


def _multiset(spec, size: int) -> np.ndarray:
    values = [float(e.eigenvalue) for e in spec.entries() for _ in range(e.multiplicity)]
    assert len(values) <= size
    return np.sort(np.concatenate([values, np.zeros(size - len(values))]))


@pytest.mark.parametrize("name,net,domain", GRID_CASES, ids=[c[0] for c in GRID_CASES])
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_grid_multiset_equals_brute_force(name, net, domain, kind):
    """Every eigenvalue with multiplicity == eigvalsh(Gram)/2^(d n0) on a small 2-D product hypercube."""
    brute = _gram_eigenvalues(net, domain, kind)
    spec = spectrum(net, domain, kind, domain.d * domain.n0)
    ours = _multiset(spec, brute.size)
    assert np.abs(ours - brute).max() <= MULTISET_RTOL * brute.sum()
    assert sum(e.multiplicity for e in spec.entries()) <= brute.size


@pytest.mark.parametrize("method", ["tree", "series"])
def test_tree_and_series_match_enumeration_on_a_grid(method):
    """The symbolic methods reproduce the exact enumeration class by class (hypercube 2x2, n0 = 2)."""
    net = serial(Conv((2, 2), stride=2), Relu(), Flatten(), Dense(b_std=0.3))
    domain = ProductHypercube((2, 2), 2)
    exact = spectrum(net, domain, "ntk", 4, method="enumeration")
    other = spectrum(net, domain, "ntk", 4, method=method, max_power=40, max_degree=10)
    for e in exact.entries():
        value, bound = float(other.eigenvalue(e.r)), float(other.error_bound(e.r))
        assert abs(value - float(e.eigenvalue)) <= bound + 1e-12 * float(exact.trace())


def test_tree_equals_series_on_a_sphere_grid():
    """Tree recursion and multivariate series agree within their bounds on S^2 patches of a 2x2 grid."""
    net = serial(Conv((2, 1), stride=(2, 1)), Relu(), Conv((1, 2)), Relu(), Flatten(), Dense())
    domain = ProductSphere((2, 2), 3)
    tree = spectrum(net, domain, "nngp", 3, method="tree", max_power=30)
    series = spectrum(net, domain, "nngp", 3, method="series", max_degree=8)
    for e in tree.entries():
        gap = abs(float(e.eigenvalue) - float(series.eigenvalue(e.r)))
        assert gap <= float(e.error_bound) + float(series.error_bound(e.r)) + 1e-14


def test_multi_index_in_grid_shape_equals_flat():
    net = serial(Conv((2, 2), stride=2), Relu(), Flatten(), Dense())
    spec = spectrum(net, ProductSphere((2, 2), 3), "ntk", 2)
    assert spec.eigenvalue([[1, 0], [0, 1]]) == spec.eigenvalue((1, 0, 0, 1))
    assert spec.multiplicity([[1, 0], [0, 1]]) == 9  # N(3, 1)^2 = 3 * 3
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        spec.eigenvalue([[1, 0, 0], [0, 1, 0]])


def test_2d_tree_classes_are_counted_not_enumerated():
    """A 2x2-stride-2 tree on 8x8: the classes count every multi-index up to frequency 2 exactly once."""
    net = serial(*[layer for _ in range(3) for layer in (Conv((2, 2), stride=2), Relu())], Flatten(), Dense())
    domain = ProductSphere((8, 8), 3)
    entries = spectrum(net, domain, "nngp", 2).entries()
    d = 64
    assert sum(e.count for e in entries) == 1 + d + d + d * (d - 1) // 2  # |r| = 0, 1, 2 (one patch or two)
    # symmetry: a degree-1 harmonic on any patch has the same eigenvalue (one class)
    assert len([e for e in entries if e.frequency == 1]) == 1


def test_grid_pooling_symbol_is_the_product_of_fejer_kernels():
    sym = grid_symbol("local", (2, 2), (2, 4))
    one = grid_symbol("local", 2, (4,))
    two = grid_symbol("local", 2, (2,))
    for (j1, j2), value in sym.items():
        assert float(value) == pytest.approx(float(two[j1]) * float(one[j2]), rel=1e-14, abs=1e-15)
    glob = grid_symbol("global", None, (3, 3))
    assert glob[(0, 0)] == 1 and all(v == 0 for j, v in glob.items() if j != (0, 0))


def test_grid_orbits_and_multiplicities_partition_the_harmonics():
    """Sum over Fourier indices of m(r, j) = orbit size x mult(r), for 2-D torus shifts."""
    domain = ProductSphere((2, 3), 3)
    for r in [(1, 0, 0, 0, 0, 0), (1, 1, 0, 0, 0, 0), (1, 0, 0, 1, 0, 0), (2, 0, 1, 0, 0, 1), (1, 1, 1, 1, 1, 1)]:
        rep = canonical_rotation(r, domain.grid)
        assert canonical_rotation(rep, domain.grid) == rep
        orbit = {tuple(np.roll(np.reshape(r, (2, 3)), (a, b), axis=(0, 1)).ravel()) for a in range(2) for b in range(3)}
        total = sum(orbit_multiplicity(rep, (j1, j2), domain.patch_multiplicity, domain.grid) for j1 in range(2) for j2 in range(3))
        assert total == len(orbit) * domain.multiplicity(r)
    # a row-shift-invariant pattern (1,0,0 / 1,0,0) has orbit size 3
    assert canonical_rotation((1, 0, 0, 1, 0, 0), (2, 3)) == (1, 0, 0, 1, 0, 0)


@pytest.mark.slow
def test_image_scale_tree_counts_every_multi_index():
    """Depth-5 2x2/stride-2 tree on a 32x32 grid up to frequency 4: the classes count all C(d+f-1, f) indices.

    There are ~4.7e10 multi-indices with |r| <= 4 on d = 1024 patches; the classes are counted from
    the symmetry of the tree, never enumerated.  The trace identity checks the eigenvalues: the
    classes' eigenvalue x multiplicity never exceeds the trace K(1, ..., 1) (nonnegative spectrum).
    """
    from math import comb

    net = serial(*[layer for _ in range(5) for layer in (Conv((2, 2), stride=2), Relu())], Flatten(), Dense())
    domain = ProductSphere((32, 32), 3)
    spec = spectrum(net, domain, "ntk", 4)
    entries = spec.entries()
    d = 1024
    assert sum(e.count for e in entries) == sum(comb(d + f - 1, f) for f in range(5))
    assert len(entries) == 120
    captured = sum(float(e.eigenvalue) * e.multiplicity for e in entries)
    assert 0 < captured <= float(spec.trace()) * (1 + 1e-12)
    assert all(float(e.eigenvalue) > 0 for e in entries)
