"""Exact hypercube spectra by one FWHT (eigencalc.spectral.walsh), grouped by (frequency, space) (M12, M17, M18).

Oracles: ``spectrum(method="enumeration")`` and brute-force Gram eigenvalues.
Moved from test_numerics.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc import numerics as nm
from eigencalc.architectures import Dense, Erf, Flatten, Relu, Tanh, serial
from eigencalc.domains import ProductHypercube
from eigencalc.spectra import spectrum
from tests.cases import _arch


# ----------------------------------------------------------------- FWHT spectrum (M12, M17)


def _masks_to_r(d, n0=1):
    return [tuple(bin((m >> (i * n0)) & ((1 << n0) - 1)).count("1") for i in range(d)) for m in range(1 << (d * n0))]


FWHT_CASES = [
    ("tree_cnn", Relu, "ntk", 8),
    ("tree_cnn", Erf, "nngp", 12),
    ("cnn_valid", Relu, "ntk", 7),
    ("cnn_circular", Erf, "ntk", 6),
    ("residual", Relu, "nngp", 6),
    ("mlp", Relu, "ntk", 5),
]


@pytest.mark.parametrize("arch,act,kind,d", FWHT_CASES, ids=[f"{a}-{k}-d{d}" for a, _, k, d in FWHT_CASES])
def test_fwht_spectrum_equals_enumeration(arch, act, kind, d):
    net = _arch(arch, act)
    lam = nm.hypercube_spectrum(net, d, kind)
    spec = spectrum(net, ProductHypercube(d, 1), kind, 1, method="enumeration")
    ref = np.array([spec.eigenvalue(r) for r in _masks_to_r(d)])
    # Both are 2^-d signed sums of the same 2^d kernel values (Krawtchouk axis by axis vs
    # butterflies): rounding <= d eps max|K| = d eps K(1) ~ 3e-15 K(1); 1e-13 K(1) is safe.
    scale = float(net.kernel_of_correlations(np.ones(d), kind))
    np.testing.assert_allclose(lam, ref, rtol=0, atol=1e-13 * scale)
    # as multisets too (the acceptance statement), and the trace identity sum = K(1, ..., 1)
    np.testing.assert_allclose(np.sort(lam), np.sort(ref), rtol=0, atol=1e-13 * scale)
    assert lam.sum() == pytest.approx(scale, rel=1e-13)


@pytest.mark.slow
def test_fwht_spectrum_numpy_path_agrees():
    net = _arch("cnn_valid", Erf)
    with pytest.warns(nm.NumbaFallbackWarning):
        slow = nm.hypercube_spectrum(serial(Flatten(), Dense(), Tanh(), Dense()), 4, "ntk")
    fast = nm.hypercube_spectrum(net, 6, "ntk")
    twin = nm.hypercube_spectrum(net, 6, "ntk", engine="numpy")
    np.testing.assert_allclose(fast, twin, rtol=0, atol=1e-14 * np.abs(fast).sum())
    # tanh MLP after Flatten: K depends on mean(t) only, so lambda(S) depends on |S| only.
    for k in range(5):
        vals = slow[[m for m in range(16) if bin(m).count("1") == k]]
        assert np.ptp(vals) <= 1e-14


@pytest.mark.parametrize("d", [6, pytest.param(10, marks=pytest.mark.slow)])
def test_fwht_spectrum_equals_brute_force_gram_eigenvalues(d):
    net = _arch("tree_cnn", Relu) if d % 4 == 0 else _arch("cnn_valid", Relu)
    lam = nm.hypercube_spectrum(net, d, "ntk")
    points = np.array([[(-1.0) ** ((m >> i) & 1) for i in range(d)] for m in range(1 << d)])[:, :, None]
    G = nm.gram(net, points, kind="ntk")
    ev = np.linalg.eigvalsh(G) / (1 << d)
    # The Walsh functions diagonalise G with eigenvalues 2^d lambda(S) (M17).  eigvalsh is
    # backward stable: |error| <= p(n) eps ||G||_2, ||G||_2 / 2^d = max lambda; with
    # p(n) ~ n = 2^d <= 1024 that is <= 2.3e-13 max lambda: 1e-12 max lambda is safe.
    np.testing.assert_allclose(np.sort(ev), np.sort(lam), rtol=0, atol=1e-12 * lam.max())


def test_fwht_with_several_coordinates_per_patch_equals_enumeration():
    net = _arch("tree_cnn", Erf)
    d, n0 = 4, 3
    lam = nm.hypercube_spectrum(net, d, "ntk", n0=n0)
    spec = spectrum(net, ProductHypercube(d, n0), "ntk", 1, method="enumeration")
    ref = np.array([spec.eigenvalue(r) for r in _masks_to_r(d, n0)])
    scale = float(net.kernel_of_correlations(np.ones(d), "ntk"))
    # lambda of chi_S depends on S only through r_i = |S cap patch i| (M14); enumeration groups
    # the 2^(d n0) patterns by t, the FWHT does not: same sums, rounding ~ d n0 eps K(1).
    np.testing.assert_allclose(lam, ref, rtol=0, atol=1e-13 * scale)


def test_hypercube_spectrum_errors():
    net = _arch("tree_cnn", Relu)
    with pytest.raises(ValueError, match="limit is 26"):
        nm.hypercube_spectrum(net, 28, "ntk")
    with pytest.raises(ValueError, match="limit is 26"):
        nm.hypercube_spectrum(net, 9, "ntk", n0=3)
    with pytest.raises(ValueError, match="pools over several positions"):
        nm.hypercube_spectrum(_arch("gap", Relu), 4, "ntk")
    with pytest.raises(ValueError, match="d"):
        nm.hypercube_spectrum(net, 0, "ntk")
    with pytest.raises(ValueError, match="kind"):
        nm.hypercube_spectrum(net, 4, "cntk")


# ----------------------------------------------------------------- grouping by (frequency, space) (M18)


def test_group_by_frequency_space_tree_matches_spectrum_classes():
    net = _arch("tree_cnn", Relu)
    d = 8
    lam = nm.hypercube_spectrum(net, d, "ntk")
    spec = spectrum(net, ProductHypercube(d, 1), "ntk", d, method="enumeration")
    groups = nm.group_by_frequency_space(lam, spec)
    # the vectorised tree formula for the space against Spectrum.space, mask by mask
    for (f, s), g in groups.items():
        for m in g.masks[:: max(1, g.count // 7)]:
            r = tuple((int(m) >> i) & 1 for i in range(d))
            assert (spec.frequency(r), spec.space(r)) == (f, s)
    classes = {(c.frequency, c.space): c for c in spec.classes()}
    assert set(classes) == set(groups)
    scale = float(spec.total())
    for key, g in groups.items():
        c = classes[key]
        assert g.count == c.multiplicity
        assert g.min == pytest.approx(c.min_eigenvalue, abs=1e-13 * scale)
        assert g.max == pytest.approx(c.max_eigenvalue, abs=1e-13 * scale)
    assert sum(g.count for g in groups.values()) == 1 << d


def test_group_by_frequency_space_non_tree_and_max_frequency():
    net = _arch("cnn_valid", Relu)
    d = 6
    lam = nm.hypercube_spectrum(net, d, "ntk")
    spec = spectrum(net, ProductHypercube(d, 1), "ntk", 3, method="enumeration")
    groups = nm.group_by_frequency_space(lam, net.dag(d), max_frequency=3)
    classes = {(c.frequency, c.space): c for c in spec.classes()}
    assert set(classes) == set(groups)
    for key, g in groups.items():
        assert g.count == classes[key].multiplicity
        assert g.max == pytest.approx(classes[key].max_eigenvalue, abs=1e-13)
    with pytest.raises(ValueError, match="2\\^\\(d n0\\)"):
        nm.group_by_frequency_space(lam[:10], spec)
    with pytest.raises(TypeError, match="Spectrum or a Dag"):
        nm.group_by_frequency_space(lam, net)
