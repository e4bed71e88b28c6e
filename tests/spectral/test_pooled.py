"""Pooled spectra on cyclic product domains (eigencalc.spectral.pooled, MATH.md section 6).

Oracles: brute-force Gram eigenvalues on every point of small product
hypercubes, and Misiakiewicz–Mei 2021 Prop. 2 (closed form per Fourier index).
The learning-curve tests of pooled kernels are in tests/learn/test_curves.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc import targets
from eigencalc.architectures import AvgPool, Conv, Dense, Erf, FanInSum, FanOut, Flatten, GlobalAvgPool, Identity, Relu, parallel, serial
from eigencalc.domains import ProductHypercube, ProductSphere, hypercube_signed_measure
from eigencalc.pooling import canonical_rotation, orbit_multiplicity, pooling_symbol
from eigencalc.spectra import spectrum
from tests.cases import _cyclic_diameter, _gram_eigenvalues, _mm_nets


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


# ------------------------------------------------------- local average pooling


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_avgpool_multiset_equals_brute_force(kind):
    net = serial(Conv(3, padding="CIRCULAR", b_std=0.2), Relu(), AvgPool(3, padding="CIRCULAR"), Flatten(), Dense())
    dom = ProductHypercube(6, 1)
    spec = spectrum(net, dom, kind, 6)
    ours = []
    for e in spec.entries():
        ours += [float(e.eigenvalue)] * e.multiplicity
    brute = _gram_eigenvalues(net, dom, kind)
    ours = np.sort(np.concatenate([ours, np.zeros(len(brute) - len(ours))]))
    assert np.max(np.abs(ours - brute)) < 1e-13 * spec.total()
    assert {e.j for e in spec.entries()} - {0}  # local pooling keeps j != 0 sectors


@pytest.mark.parametrize("omega", [1, 3, 12])
def test_misiakiewicz_mei_prop2_local_pooling(omega):
    """lambda(S, j) = (kappa_j / omega) (q + 1 - gamma(S)) xi_{q,|S|} / d  (d = 12, q = 4).

    kappa_j = 1 + 2 sum_{k<omega} (1 - k/omega) cos(2 pi j k / d) (MM 2021, Prop. 2); stax's
    AvgPool divides by omega^2 where MM divide by omega, hence kappa_j / omega.  omega = 12
    is global pooling: only j = 0 survives, with factor 1.
    """
    d, q = 12, 4
    net = serial(Conv(q, padding="CIRCULAR"), Relu(), AvgPool(omega, padding="CIRCULAR"), Flatten(), Dense())
    spec = spectrum(net, ProductHypercube(d, 1), "nngp", 4)
    dual = lambda s: (np.sqrt(1 - s * s) + (np.pi - np.arccos(s)) * s) / (2 * np.pi)  # noqa: E731
    xi = [sum(float(w) * dual(1 - 2 * j / q) for j, w in enumerate(hypercube_signed_measure(k, q))) for k in range(q + 1)]
    kappa = [1 + 2 * sum((1 - k / omega) * np.cos(2 * np.pi * j * k / d) for k in range(1, omega)) for j in range(d)]
    checked = 0
    for e in spec.entries():
        j = getattr(e, "j", 0)  # omega = 1 is pooling-free: one eigenvalue per multi-index (kappa = 1)
        S = [i for i, v in enumerate(e.r) if v]
        if not S:
            expected = xi[0] if j == 0 else 0.0
        else:
            gamma = _cyclic_diameter(S, d)
            expected = kappa[j] / omega * (q + 1 - gamma) * xi[len(S)] / d if gamma <= q else 0.0
        assert float(e.eigenvalue) == pytest.approx(expected, abs=1e-14), (e.r, j)
        checked += 1
    assert checked > 20
    if omega == d:
        assert all(e.j == 0 for e in spec.entries())
    if omega == 3:  # every Fourier sector whose Fejer weight is nonzero (kappa_4 = kappa_8 = 0)
        assert {e.j for e in spec.entries()} == {j for j in range(d) if abs(kappa[j]) > 1e-12}


# ------------------------------------------------------------------ targets


def test_pooled_target_masses_fourier_sectors():
    dom = ProductHypercube(8, 1)
    spec = spectrum(_mm_nets()["CK-GP"], dom, "ntk", 3)
    lf, hf = targets.f_LF(dom, 3), targets.f_HF(dom, 3)
    assert spec.target_masses(lf) == pytest.approx({((1, 1, 1, 0, 0, 0, 0, 0), 0): 1.0})
    assert spec.target_masses(hf) == pytest.approx({((1, 1, 1, 0, 0, 0, 0, 0), 4): 1.0})  # j = d/2
