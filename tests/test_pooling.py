"""Pooled spectra on cyclic product domains (MATH.md section 6).

Oracles: brute-force Gram eigenvalues on every point of small product
hypercubes, and Misiakiewicz–Mei 2021 Prop. 2 (closed form per Fourier index).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from eigencalc.architectures import Conv, Dense, Erf, FanInSum, FanOut, Flatten, GlobalAvgPool, Identity, Relu, parallel, serial
from eigencalc.domains import ProductHypercube, ProductSphere, hypercube_signed_measure
from eigencalc.pooling import canonical_rotation, orbit_multiplicity, pooling_symbol
from eigencalc.spectra import spectrum

GAP_CASES = [
    ("conv-relu-gap", serial(Conv(3, padding="CIRCULAR"), Relu(), GlobalAvgPool(), Dense()), ProductHypercube(6, 1)),
    (
        "two-layer-bias",
        serial(Conv(2, padding="CIRCULAR"), Erf(), Conv(3, padding="CIRCULAR", b_std=0.3), Relu(), GlobalAvgPool(), Dense(b_std=0.2)),
        ProductHypercube(4, 2),
    ),
    (
        "residual",
        serial(Conv(1), FanOut(2), parallel(serial(Relu(), Conv(3, padding="CIRCULAR")), Identity()), FanInSum(), Relu(), GlobalAvgPool(), Dense()),
        ProductHypercube(4, 2),
    ),
]


def _gram_eigenvalues(net, domain, kind):
    n = domain.d * domain.n0
    X = np.array(list(itertools.product([-1.0, 1.0], repeat=n))).reshape(-1, domain.d, domain.n0)
    return np.sort(np.linalg.eigvalsh(net.kernel_fn(X, X, kind))) / len(X)


@pytest.mark.parametrize("name,net,domain", GAP_CASES, ids=[c[0] for c in GAP_CASES])
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_gap_multiset_equals_brute_force(name, net, domain, kind):
    """Every eigenvalue (r-orbit, j) with multiplicity == eigvalsh(Gram)/2^(d n0); the rest are 0.

    Tolerance 1e-13 * trace: float64 rounding of 2^(d n0)-term sums of O(1) kernels.
    """
    spec = spectrum(net, domain, kind, domain.d * domain.n0)
    ours = []
    for e in spec.entries():
        ours += [float(e.eigenvalue)] * e.multiplicity
    brute = _gram_eigenvalues(net, domain, kind)
    assert len(ours) <= len(brute)
    ours = np.sort(np.concatenate([ours, np.zeros(len(brute) - len(ours))]))
    trace = spec.total()
    assert np.max(np.abs(ours - brute)) < 1e-13 * trace
    assert sum(ours) == pytest.approx(trace, rel=1e-12)
    assert all(e.j == 0 for e in spec.entries())  # global pooling keeps only j = 0


def test_gap_on_sphere_keeps_twin_eigenvalues_at_j0():
    """lambda(r, 0) = lambda_twin(r) (d a_hat(0) = 1) and multiplicities count pattern orbits."""
    net = serial(Conv(2, padding="CIRCULAR"), Erf(), GlobalAvgPool(), Dense())
    twin = serial(Conv(2, padding="CIRCULAR"), Erf(), Flatten(), Dense())
    dom = ProductSphere(3, 3)
    spec = spectrum(net, dom, "ntk", 2)
    flat = spectrum(twin, dom, "ntk", 2)
    for e in spec.entries():
        assert float(e.eigenvalue) == pytest.approx(float(flat.eigenvalue(e.r)), rel=1e-12)
    # r = (1, 0, 0): orbit of size 3 with 3 harmonics each -> 9 patterns, 3 shift orbits at j = 0
    assert spec.multiplicity((1, 0, 0), 0) == 3
    # r = (1, 1, 1): 27 patterns; Burnside: (27 + 3 + 3) / 3 = 11 orbits
    assert orbit_multiplicity((1, 1, 1), 0, dom.patch_multiplicity) == 11


def test_orbit_multiplicities_sum_to_orbit_dimension():
    dom = ProductSphere(6, 4)
    for r in [(1, 0, 0, 0, 0, 0), (1, 0, 1, 0, 1, 0), (2, 1, 0, 2, 1, 0), (1, 1, 1, 1, 1, 1)]:
        orbit = {tuple(r[i:] + r[:i]) for i in range(6)}
        total = sum(orbit_multiplicity(r, j, dom.patch_multiplicity) for j in range(6))
        assert total == len(orbit) * dom.multiplicity(r)


def test_pooling_symbol_global_and_fejer():
    assert pooling_symbol("global", None, 5) == [1, 0, 0, 0, 0]
    assert pooling_symbol("local", 1, 6) == [1] * 6
    # omega = d: the window covers everything -> global pooling
    assert [float(v) for v in pooling_symbol("local", 6, 6)] == pytest.approx([1, 0, 0, 0, 0, 0], abs=1e-15)
    # Fejer kernel: |sum_{u<3} e^{2 pi i j u/12}|^2 / 9 at j = 1
    expected = abs(sum(np.exp(2j * np.pi * u / 12) for u in range(3))) ** 2 / 9
    assert float(pooling_symbol("local", 3, 12)[1]) == pytest.approx(expected, rel=1e-14)


def test_canonical_rotation():
    assert canonical_rotation((0, 1, 0, 2)) == canonical_rotation((2, 0, 1, 0)) == (2, 0, 1, 0)
