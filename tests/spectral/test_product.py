"""Eigenvalues per multi-index on product domains (eigencalc.spectral.product / front, MATH.md section 5, M14-M18).

Oracles: brute-force Gram matrices on every point of a small product
hypercube; Misiakiewicz-Mei's closed form for one circular convolution;
Gauss-Legendre quadrature on products of S^2.  Moved from test_spectra.py,
whose tree-recursion and M19 tests are in test_tree.py and test_asymptotics.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eigencalc.architectures import (
    Conv,
    Dense,
    Erf,
    FanInSum,
    FanOut,
    Flatten,
    GlobalAvgPool,
    Identity,
    Relu,
    parallel,
    serial,
)
from eigencalc.domains import ProductHypercube, ProductSphere, hypercube_signed_measure
from eigencalc.spectra import spectrum
from tests.cases import TREE, _cyclic_diameter, _gram_eigenvalues, _legendre_quadrature_eigenvalue


OVERLAP = serial(Conv(3, stride=1), Erf(), Flatten(), Dense(b_std=0.2))
CIRCULAR = serial(Conv(3, padding="CIRCULAR"), Relu(), Conv(2, padding="CIRCULAR", W_std=1.3), Relu(), Flatten(), Dense())
RESIDUAL = serial(
    Conv(1), FanOut(2), parallel(serial(Relu(), Conv(2, padding="CIRCULAR")), Identity()), FanInSum(), Relu(), Flatten(), Dense()
)
MLP = serial(Flatten(), Dense(), Relu(), Dense(b_std=0.5), Relu(), Dense())


CASES = [
    ("tree", TREE, ProductHypercube(4, 2)),
    ("overlap", OVERLAP, ProductHypercube(5, 2)),
    ("circular", CIRCULAR, ProductHypercube(6, 1)),
    ("residual", RESIDUAL, ProductHypercube(4, 2)),
    ("mlp", MLP, ProductHypercube(8, 1)),
    ("tree-n0=4", serial(Conv(2, stride=2), Erf(), Flatten(), Dense()), ProductHypercube(2, 4)),
]


def _expanded(spec):
    values = []
    for e in spec.entries():
        values.extend([float(e.eigenvalue)] * e.multiplicity)
    return np.sort(values)


# ------------------------------------------------ brute force on hypercubes


@pytest.mark.slow
@pytest.mark.parametrize("name,net,domain", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_hypercube_multiset_equals_brute_force_gram(name, net, domain, kind):
    """All 2^(d n0) eigenvalues with multiplicities == eigvalsh of the full Gram / 2^(d n0).

    Both sides are float64 sums of O(2^(d n0)) terms of size <= K(1): agreement
    to 1e-12 * K(1) leaves a margin of ~100x over accumulated rounding.
    """
    spec = spectrum(net, domain, kind, max_frequency=domain.d * domain.n0)
    assert spec.method == "enumeration"
    ours = _expanded(spec)
    brute = _gram_eigenvalues(net, domain, kind)
    assert len(ours) == len(brute) == 2 ** (domain.d * domain.n0)
    scale = float(spec.total())
    assert np.max(np.abs(ours - brute)) < 1e-12 * scale


def test_series_method_within_bound_of_enumeration():
    """Non-tree DAG: truncated multivariate series (M15) within its M16 bound."""
    exact = spectrum(OVERLAP, ProductHypercube(5, 2), "ntk", 3)
    series = spectrum(OVERLAP, ProductHypercube(5, 2), "ntk", 3, method="series", max_degree=7)
    assert series.method == "series"
    for e in exact.entries():
        diff = abs(float(series.eigenvalue(e.r)) - e.eigenvalue)
        assert diff <= float(series.error_bound(e.r)) + 1e-13, e.r


# ---------------------------------------------------- Misiakiewicz–Mei Prop. 1


def test_misiakiewicz_mei_prop1_circular_convolution():
    """lambda(S) = (q + 1 - gamma(S)) xi_{q,|S|} / d if gamma(S) <= q else 0 (d = 12, q = 4).

    xi_{q,k}: eigenvalues of the one-patch dual f(<u,v>/q) on {-1,1}^q (M12),
    computed here from the closed-form ReLU dual, independent of the network code.
    """
    d, q = 12, 4
    net = serial(Conv(q, padding="CIRCULAR"), Relu(), Flatten(), Dense())
    spec = spectrum(net, ProductHypercube(d, 1), "nngp", d)
    dual = lambda s: (np.sqrt(1 - s * s) + (np.pi - np.arccos(s)) * s) / (2 * np.pi)  # noqa: E731
    xi = [sum(float(w) * dual(1 - 2 * j / q) for j, w in enumerate(hypercube_signed_measure(k, q))) for k in range(q + 1)]
    for bits in range(1 << d):
        S = [i for i in range(d) if bits >> i & 1]
        r = tuple(1 if i in S else 0 for i in range(d))
        gamma = _cyclic_diameter(S, d)
        if not S:  # the constant lies in all d windows
            expected = xi[0]
        else:
            expected = (q + 1 - gamma) * xi[len(S)] / d if gamma <= q else 0.0
        assert spec.eigenvalue(r) == pytest.approx(expected, abs=1e-14), S


# ------------------------------------------------------------ product spheres


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_product_sphere_matches_quadrature(kind):
    """d = 2, n0 = 3: the tree recursion equals 2-D Gauss–Legendre quadrature.

    The kernel is analytic inside the square and only loses smoothness at the
    corners t = (+-1, +-1); 160^2 nodes give ~1e-9 absolute accuracy there.
    """
    net = serial(Conv(2, stride=2, b_std=0.1), Erf(), Flatten(), Dense(W_std=1.5))
    spec = spectrum(net, ProductSphere(2, 3), kind, 3, max_power=24)
    kernel = lambda t: net.kernel_of_correlations(t, kind)  # noqa: E731
    for r in [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0)]:
        quad = _legendre_quadrature_eigenvalue(kernel, r)
        assert float(spec.eigenvalue(r)) == pytest.approx(quad, abs=2e-9 + float(spec.error_bound(r)))


# --------------------------------------------------------------- structure


def test_frequency_space_and_grouping_tree():
    spec = spectrum(TREE, ProductSphere(4, 5), "nngp", 2)
    by_r = {e.r: e for e in spec.entries()}
    assert spec.space((0, 0, 0, 1)) == 2  # patch -> layer 1 -> layer 2
    assert spec.space((0, 0, 1, 1)) == 3  # two patches in one window
    assert spec.space((0, 1, 0, 1)) == 4  # different windows
    # every multi-index with |r| <= 2 is in exactly one class: C(4 + 2, 2) = 15 of them
    assert sum(e.count for e in spec.entries()) == 15
    assert [e.count for e in by_r.values() if e.frequency == 1] == [4]


def test_learning_index_and_levels():
    spec = spectrum(TREE, ProductSphere(4, 5), "ntk", 2)
    assert spec.levels == 2
    # L(r) = a0 |r| + sum over space-tree edges (patch edges weighted by r_i)
    assert spec.learning_index((0, 0, 0, 1), [1.0, 0.5, 0.25]) == pytest.approx(1 + 0.5 + 0.25)
    assert spec.learning_index((0, 1, 0, 1), [1.0, 0.5, 0.25]) == pytest.approx(2 + 1.0 + 0.5)
    assert spec.learning_index((0, 0, 0, 2), [1.0, 0.5, 0.25]) == pytest.approx(2 + 1.0 + 0.25)
    with pytest.raises(ValueError, match="scaling needs 3 exponents"):
        spec.learning_index((0, 0, 0, 1), [1.0])


def test_classes_sum_multiplicities():
    spec = spectrum(TREE, ProductHypercube(4, 2), "ntk", 8)
    total_mult = sum(c.multiplicity for c in spec.classes())
    assert total_mult == 2**8
    assert sum(float(e.eigenvalue) * e.multiplicity for e in spec.entries()) == pytest.approx(float(spec.total()), rel=1e-12)


# --------------------------------------------------------------- properties


PROPERTY_CASES = [(TREE, ProductHypercube(4, 2)), (CIRCULAR, ProductHypercube(6, 1)), (MLP, ProductHypercube(8, 1))]


@settings(max_examples=20, deadline=None)
@given(case=st.integers(0, len(PROPERTY_CASES) - 1), kind=st.sampled_from(["nngp", "ntk"]))
def test_eigenvalues_nonnegative_and_trace(case, kind):
    net, dom = PROPERTY_CASES[case]
    spec = spectrum(net, dom, kind, dom.d * dom.n0)
    for e in spec.entries():
        assert float(e.eigenvalue) >= -float(e.error_bound)
    trace = sum(float(e.eigenvalue) * e.multiplicity for e in spec.entries())
    assert trace == pytest.approx(float(spec.total()), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(perm=st.permutations(range(8)), r=st.lists(st.integers(0, 1), min_size=8, max_size=8))
def test_mlp_eigenvalues_permutation_invariant_and_frequency_only(perm, r):
    spec = spectrum(MLP, ProductHypercube(8, 1), "ntk", 8)
    permuted = tuple(r[p] for p in perm)
    assert spec.eigenvalue(tuple(r)) == pytest.approx(spec.eigenvalue(permuted), rel=1e-12, abs=1e-15)
    same_freq = tuple(sorted(r, reverse=True))
    assert spec.eigenvalue(tuple(r)) == pytest.approx(spec.eigenvalue(same_freq), rel=1e-12, abs=1e-15)


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda s: s.eigenvalue((1, 0)), ValueError, "length d = 4"),
        (lambda s: s.eigenvalue((1, 0, -1, 0)), ValueError, ">= 0"),
        (lambda s: s.eigenvalue((3, 0, 0, 0)), ValueError, "no harmonics of degree 3"),
        (lambda s: s.eigenvalue((1.5, 0, 0, 0)), TypeError, "integers"),
    ],
)
def test_bad_multi_index(call, exc, match):
    spec = spectrum(TREE, ProductHypercube(4, 2), "ntk", 2)
    with pytest.raises(exc, match=match):
        call(spec)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_frequency must be >= 0"):
        spectrum(TREE, ProductHypercube(4, 2), "ntk", -1)
    with pytest.raises(ValueError, match="kind must be one of"):
        spectrum(TREE, ProductHypercube(4, 2), "gp", 1)
    with pytest.raises(ValueError, match="CIRCULAR padding and stride 1"):
        spectrum(serial(Conv(2), Relu(), GlobalAvgPool(), Dense()), ProductHypercube(4, 1), "ntk", 1)
    with pytest.raises(ValueError, match="needs disjoint receptive fields"):
        spectrum(OVERLAP, ProductSphere(5, 3), "ntk", 1, method="tree")
    with pytest.raises(TypeError, match="ProductSphere or ProductHypercube"):
        spectrum(TREE, 4, "ntk", 1)
    with pytest.raises(ValueError, match="n0 \\(coordinates per patch\\) must be >= 2"):
        ProductSphere(4, 1)


# ------------------------------------------------------- more acceptance checks


@pytest.mark.slow
def test_hypercube_multiset_brute_force_at_d_n0_12():
    """The largest brute-force case of the acceptance list: 2^12 points, tree CNN with n0 = 3."""
    net = serial(Conv(2, stride=2), Relu(), Conv(2, stride=2), Relu(), Flatten(), Dense(b_std=0.1))
    dom = ProductHypercube(4, 3)
    spec = spectrum(net, dom, "ntk", 12)
    ours = _expanded(spec)
    brute = _gram_eigenvalues(net, dom, "ntk")
    assert np.max(np.abs(ours - brute)) < 1e-12 * float(spec.total())


def test_mlp_on_hypercube_equals_one_dimensional_krawtchouk():
    """MLP on {-1,1}^d: lambda(r) depends on |r| only and equals M12 of its kernel f(<x,y>/d)."""
    from eigencalc import hypercube_eigenvalues

    d = 8
    net = serial(Flatten(), Dense(), Relu(), Dense(b_std=0.5), Relu(), Dense())
    spec = spectrum(net, ProductHypercube(d, 1), "ntk", d)
    # the same layers on the flattened input: one patch, correlation s = <x, y>/d
    reference = serial(Dense(), Relu(), Dense(b_std=0.5), Relu(), Dense())
    f = lambda s: float(reference.kernel_of_correlations([s], "ntk"))  # noqa: E731
    mu = hypercube_eigenvalues(f, d)
    for e in spec.entries():
        assert float(e.eigenvalue) == pytest.approx(float(mu.eigenvalues[e.frequency]), rel=1e-12, abs=1e-15), e.r
