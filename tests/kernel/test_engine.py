"""Kernels of a network (eigencalc.kernel.engine, through eigencalc.architectures and eigencalc.numerics).

Two parts.  From test_architectures.py: ``kernel_fn`` and
``kernel_of_correlations`` -- input errors, agreement of the raw-input path and
the correlation path, hypothesis laws (symmetry, PSD, NTK - NNGP PSD,
patch-permutation invariance, deterministic diagonal).  From test_numerics.py:
the jitted Gram against its numpy twin and against ``kernel_fn``, serial and
parallel paths, the jitted kernel of correlations against the DAG evaluator,
the Walsh-Hadamard transform against its matrix, error paths, compile
bookkeeping.  The series path is in test_series.py, the stax peer check in
tests/test_crosscheck_neural_tangents.py.  No timings here: those are in
``benchmarks/bench_numerics.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eigencalc import architectures as A
from eigencalc import numerics as nm
from eigencalc.kernel import engine as engine_impl
from eigencalc.architectures import (
    Conv,
    Dense,
    Erf,
    Flatten,
    Monomial,
    Polynomial,
    Relu,
    Tanh,
    serial,
)
from tests.cases import _arch, architectures, equal_norm, overlap_cnn, patch_correlations, residual_cnn, tree_cnn


# ##########################################################################
# kernel_fn and kernel_of_correlations (from test_architectures.py)
# ##########################################################################


HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ==========================================================================
# Bad inputs
# ==========================================================================


def test_bad_inputs_name_the_mismatch():
    net = tree_cnn()
    X = np.ones((2, 4, 3))
    with pytest.raises(ValueError, match=r"X must have shape \(N, d, n0\).*\(4, 3\)"):
        net.kernel_fn(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"X and Y disagree.*\(4, 3\).*\(4, 2\)"):
        net.kernel_fn(X, np.ones((2, 4, 2)))
    with pytest.raises(ValueError, match=r"X and Y disagree.*\(4, 3\).*\(5, 3\)"):
        net.kernel_fn(X, np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.kernel_fn(np.full((1, 4, 3), np.nan))
    with pytest.raises(ValueError, match="empty axis"):
        net.kernel_fn(np.ones((0, 4, 3)))
    with pytest.raises(ValueError, match="kind must be one of"):
        net.kernel_fn(X, kind="cov")
    with pytest.raises(ValueError, match=r"filter_size 2 is larger than the current width 1"):
        net.kernel_fn(np.ones((2, 2, 3)))  # d = 2: the second Conv no longer fits
    # t fixes d: three correlations make a 3-patch network, too narrow for this tree
    with pytest.raises(ValueError, match=r"Conv\(2, .*at net\[2\]: filter_size 2 is larger than the current width 1"):
        net.kernel_of_correlations(np.zeros(3))
    with pytest.raises(ValueError, match=r"missing readout: the network output still has 3 positions"):
        A.mlp(1, "relu").kernel_of_correlations(np.zeros(3))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        net.kernel_of_correlations([0.0, 1.5, 0.0, 0.0])
    with pytest.raises(ValueError, match="scalar"):
        net.kernel_of_correlations(0.5)


def test_zero_patch_without_bias_is_reported_at_the_activation():
    net = tree_cnn()
    X = np.ones((2, 4, 3))
    X[1, :2] = 0.0  # both patches of the first window vanish
    with pytest.raises(ValueError, match=r"Relu\(\) at net\[1\]: input X\[1\] has variance 0 at position 0"):
        net.kernel_fn(X)
    # with a bias the variance stays positive
    assert np.isfinite(tree_cnn(b=0.1).kernel_fn(X)).all()


# ==========================================================================
# Agreement: raw inputs vs correlations
# ==========================================================================


POOLING_FREE = {
    "mlp3-relu-bias": (A.mlp(3, "relu", W_std=1.4, b_std=0.3), 1),
    "mlp2-erf": (A.mlp(2, "erf", W_std=1.2), 1),
    "tree-relu": (tree_cnn(), 4),
    "tree-erf-bias": (tree_cnn(A.Erf, b=0.3), 8),
    "valid-erf": (overlap_cnn(), 6),
    "circular-relu": (overlap_cnn(A.Relu, "CIRCULAR"), 5),
    "residual-relu": (residual_cnn(), 5),
    "tanh-tree": (A.serial(A.Conv(2, stride=2, b_std=0.2), A.Tanh(), A.Flatten(), A.Dense()), 4),
    "flatten-dense-abs": (A.serial(A.Conv(2), A.Abs(), A.Flatten(), A.Dense(b_std=0.4), A.LeakyRelu(0.2), A.Dense()), 3),
}


QUADRATURE = {"tanh-tree"}  # activations without closed forms


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize("name", sorted(POOLING_FREE))
def test_raw_inputs_equal_correlation_path(name, kind, rng):
    net, d = POOLING_FREE[name]
    # Product of spheres, generic t.  Float rounding leaves the patch variances
    # unequal by ~1e-16, which sends tanh's kernel to the float Gauss-Hermite rule
    # (unequal variances) instead of its Hermite series (equal variances): those
    # two agree to ~1e-10 only, hence the looser tolerance there.
    rtol = 1e-9 if name in QUADRATURE else 1e-12
    X, Y = equal_norm(rng, (4, d, 5)), equal_norm(rng, (3, d, 5))
    raw = net.kernel_fn(X, Y, kind)
    via_t = net.kernel_of_correlations(patch_correlations(X, Y), kind)
    assert via_t.shape == (4, 3)
    np.testing.assert_allclose(raw, via_t, rtol=rtol, atol=1e-14 * np.abs(raw).max())
    # Product of hypercubes, n0 = 8: exact norms and exact t in {k/8}, diagonal
    # included (t = 1: the deterministic per-node variances).
    C = rng.choice([-1.0, 1.0], (5, d, 8))
    raw_cc = net.kernel_fn(C, None, kind)
    np.testing.assert_allclose(raw_cc, net.kernel_of_correlations(patch_correlations(C, C), kind), rtol=1e-12)
    np.testing.assert_allclose(np.diag(raw_cc), net.kernel_of_correlations(np.ones(d), kind), rtol=1e-12)


def test_kernel_of_correlations_is_vectorised(rng):
    net, d = POOLING_FREE["tree-relu"]
    t = rng.uniform(-1, 1, (3, 2, d))
    out = net.kernel_of_correlations(t, "ntk")
    assert out.shape == (3, 2)
    assert out[1, 0] == pytest.approx(float(net.kernel_of_correlations(t[1, 0], "ntk")), rel=1e-15)


def test_gap_kernel_includes_cross_terms(rng):
    # GlobalAvgPool after a Dense: Sigma = W^2 mean_ij <x_i, y_j>/n0 -- an exact closed form.
    net = A.serial(A.Dense(W_std=1.5), A.GlobalAvgPool(), A.Dense(W_std=0.5, b_std=0.2))
    X, Y = rng.standard_normal((3, 4, 2)), rng.standard_normal((2, 4, 2))
    expect = 0.25 * 2.25 * np.einsum("nic,mjc->nm", X, Y) / (2 * 16) + 0.04
    np.testing.assert_allclose(net.kernel_fn(X, Y), expect, rtol=1e-13)
    flat = A.serial(A.Dense(W_std=1.5), A.Flatten(), A.Dense(W_std=0.5, b_std=0.2))
    expect_flat = 0.25 * 2.25 * np.einsum("nic,mic->nm", X, Y) / (2 * 4) + 0.04
    np.testing.assert_allclose(flat.kernel_fn(X, Y), expect_flat, rtol=1e-13)
    # NTK of two stacked linear layers: Theta = W2^2 Sigma_1 + Sigma_2
    ntk = flat.kernel_fn(X, Y, "ntk")
    np.testing.assert_allclose(ntk, 0.25 * 2.25 * np.einsum("nic,mic->nm", X, Y) / 8 + expect_flat, rtol=1e-13)


# ==========================================================================
# hypothesis laws
# ==========================================================================


def _psd_ok(K):
    K = 0.5 * (K + K.T)
    return np.linalg.eigvalsh(K).min() >= -1e-10 * np.trace(K)


@HYP
@given(arch=architectures(), seed=st.integers(0, 2**31 - 1))
def test_gram_symmetric_psd_and_ntk_dominates_nngp(arch, seed):
    net, d = arch
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, d, 3)) * rng.uniform(0.5, 2.0, (6, d, 1))
    nngp = net.kernel_fn(X, kind="nngp")
    ntk = net.kernel_fn(X, kind="ntk")
    for K in (nngp, ntk):
        np.testing.assert_allclose(K, K.T, rtol=1e-13, atol=1e-15 * np.abs(K).max())
        assert _psd_ok(K)
    assert _psd_ok(ntk - nngp)
    # kernel_fn(X, Y) is the (X, Y) block of the joint Gram matrix
    np.testing.assert_allclose(net.kernel_fn(X[:4], X[4:]), nngp[:4, 4:], rtol=1e-12, atol=1e-15 * np.abs(nngp).max())


@HYP
@given(arch=architectures(dense_first=True), seed=st.integers(0, 2**31 - 1))
def test_dense_first_networks_are_patch_permutation_invariant(arch, seed):
    net, d = arch
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((3, d, 2)), rng.standard_normal((2, d, 2))
    perm = rng.permutation(d)
    for kind in ("nngp", "ntk"):
        K = net.kernel_fn(X, Y, kind)
        np.testing.assert_allclose(net.kernel_fn(X[:, perm], Y[:, perm], kind), K, rtol=1e-12, atol=1e-15 * np.abs(K).max())


@HYP
@given(arch=architectures(pooling=False), seed=st.integers(0, 2**31 - 1))
def test_diagonal_is_the_deterministic_variance_on_product_domains(arch, seed):
    net, d = arch
    rng = np.random.default_rng(seed)
    n0 = 4
    # product of spheres and product of hypercubes: every patch has |x_i|^2 = n0,
    # so every node variance is deterministic: K(x, x) = K(1, ..., 1)
    sphere = equal_norm(rng, (4, d, n0))
    cube = rng.choice([-1.0, 1.0], (4, d, n0))
    for kind in ("nngp", "ntk"):
        expect = float(net.kernel_of_correlations(np.ones(d), kind))
        for X in (sphere, cube):
            np.testing.assert_allclose(np.diag(net.kernel_fn(X, kind=kind)), expect, rtol=1e-12)


# ##########################################################################
# The Gram engine (from test_numerics.py)
# ##########################################################################


# Relative agreement of two float64 evaluations of the same kernel.  Both sum the
# same O(10-100) terms per entry in possibly different orders and apply the same
# closed forms, so they differ by a few ulps per layer (observed <= 1e-15); 1e-12
# leaves three orders of margin.  Entries are compared relative to the largest
# entry (atol) because erf / residual NNGP entries can be close to 0.
RTOL = 1e-12


def assert_close_kernel(a, b, rtol=RTOL):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


# ----------------------------------------------------------------- architectures


ARCHS = ["mlp", "tree_cnn", "cnn_valid", "cnn_circular", "residual", "gap"]
ACTS = {"relu": Relu, "erf": Erf}


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    # Gaussian patches with unequal norms: exercises the per-input variances (M3, M8).
    X = rng.standard_normal((11, 8, 3)) * rng.uniform(0.5, 2.0, (11, 8, 1))
    Y = rng.standard_normal((6, 8, 3))
    return X, Y


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("arch", ARCHS)
def test_gram_numba_equals_twin_and_kernel_fn(arch, act, kind, inputs):
    X, Y = inputs
    net = _arch(arch, ACTS[act])
    for other in (None, Y):
        ref = net.kernel_fn(X, other, kind, engine="numpy")
        fast = nm.gram(net, X, other, kind, block=7)  # a block size that splits rows
        twin = nm.gram_numpy(net, X, other, kind, block=5)
        assert fast.shape == ref.shape == twin.shape
        assert_close_kernel(fast, ref)
        assert_close_kernel(twin, ref)
        assert_close_kernel(fast, twin)


def test_gram_block_size_does_not_change_values(inputs):
    X, _ = inputs
    net = _arch("gap", Relu)
    # Blocks only regroup pairs; each entry is computed by the same operations.
    a = nm.gram(net, X, kind="ntk", block=1)
    b = nm.gram(net, X, kind="ntk", block=13)
    c = nm.gram(net, X, kind="ntk")
    assert np.array_equal(a, b) and np.array_equal(b, c)
    assert np.array_equal(a, a.T)


@pytest.mark.parametrize("arch", ["gap", "residual"])
def test_serial_and_parallel_paths_agree_exactly(arch, inputs, monkeypatch):
    X, Y = inputs
    net = _arch(arch, Erf)
    t = np.random.default_rng(8).uniform(-1, 1, (40, 8))
    runs = []
    for work in (0, 1 << 60):  # everything parallel / everything serial
        monkeypatch.setattr(engine_impl, "_SERIAL_WORK", work)
        runs.append(
            (nm.gram(net, X, kind="ntk"), nm.gram(net, X, Y, kind="nngp"), nm.kernel_pairs(net, X[:6], Y, "ntk"))
            + ((nm.kernel_of_correlations(net, t, "ntk", engine="numba"), nm.hypercube_spectrum(net, 8, "ntk")) if arch != "gap" else ())
        )
    # Chunks regroup the same per-pair operations: bit-identical results.
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_gram_symmetric_diagonal_is_the_self_kernel(inputs):
    X, _ = inputs
    net = _arch("cnn_valid", Relu)
    G = nm.gram(net, X, kind="ntk")
    # rho = 1 exactly on the diagonal: K(x, x) from a one-input Gram is bit-identical.
    for n in (0, 5, 10):
        assert G[n, n] == nm.gram(net, X[n : n + 1], kind="ntk")[0, 0]


def test_kernel_pairs_is_the_diagonal_of_the_rectangular_gram(inputs):
    X, Y = inputs
    net = _arch("residual", Erf)
    Xs = X[: Y.shape[0]]
    pairs = nm.kernel_pairs(net, Xs, Y, "ntk")
    assert np.array_equal(pairs, np.diag(nm.gram(net, Xs, Y, "ntk")))
    assert_close_kernel(pairs, nm.kernel_pairs(net, Xs, Y, "ntk", engine="numpy"))


def test_gram_polynomial_and_trig_activations_exact_forms(inputs):
    X, Y = inputs
    net = serial(
        Conv(2), Polynomial([0.5, -1, 0, 0.3]), Flatten(), Dense(0.8), Monomial(3), Dense(0.7, 0.2), Erf(), Dense()
    )
    for kind in ("nngp", "ntk"):
        assert_close_kernel(nm.gram(net, X, Y, kind), net.kernel_fn(X, Y, kind, engine="numpy"))


def test_gram_falls_back_to_numpy_and_says_so(inputs):
    X, _ = inputs
    net = serial(Flatten(), Dense(), Tanh(), Dense())
    assert nm.unjitted_activations(net, X.shape[1]) == ("tanh",)
    with pytest.warns(nm.NumbaFallbackWarning, match="tanh"):
        G = nm.gram(net, X[:4], kind="ntk")
    with pytest.warns(nm.NumbaFallbackWarning, match="tanh"):
        R = nm.gram(net, X[:4], X[4:7], kind="ntk")
    # Same numpy evaluator (Activation.kernel) on the same pairs as kernel_fn.  Its tensor
    # Gauss–Hermite rule for unequal variances is not symmetric in (q1, q2) (errors ~1e-7
    # here), so kernel_fn's Gram is not exactly symmetric: compare its upper triangle,
    # which is what the symmetric Gram computes (pairs n <= m).
    ref = net.kernel_fn(X[:4], kind="ntk")
    upper = np.triu_indices(4)
    assert_close_kernel(G[upper], ref[upper])
    assert np.array_equal(G, G.T)
    assert_close_kernel(R, net.kernel_fn(X[:4], X[4:7], kind="ntk"))
    with pytest.raises(ValueError, match="no jitted closed-form"):
        nm.gram(net, X[:4], engine="numba")


def test_jitted_kernel_of_correlations_matches_dag_evaluator():
    rng = np.random.default_rng(4)
    t = rng.uniform(-1, 1, (50, 8))
    t[0] = 1.0
    for arch in ("tree_cnn", "cnn_valid", "residual"):
        net = _arch(arch, Relu)
        for kind in ("nngp", "ntk"):
            assert_close_kernel(nm.kernel_of_correlations(net, t, kind, engine="numba"), net.kernel_of_correlations(t, kind, engine="numpy"))


# ----------------------------------------------------------------- input errors


def test_gram_input_errors(inputs):
    X, Y = inputs
    net = _arch("tree_cnn", Relu)
    with pytest.raises(ValueError, match=r"shape \(N, d, n0\)"):
        nm.gram(net, X[0])
    with pytest.raises(ValueError, match="NaN"):
        bad = X.copy()
        bad[2, 3, 1] = np.nan
        nm.gram(net, bad)
    with pytest.raises(ValueError, match="empty axis"):
        nm.gram(net, X[:0])
    with pytest.raises(ValueError, match="disagree"):
        nm.gram(net, X, Y[:, :4])
    with pytest.raises(ValueError, match="kind"):
        nm.gram(net, X, kind="ntgp")
    with pytest.raises(ValueError, match="block"):
        nm.gram(net, X, block=0)
    with pytest.raises(ValueError, match="engine"):
        nm.gram(net, X, engine="cuda")
    with pytest.raises(TypeError, match="layer"):
        nm.gram("relu", X)
    zero = X.copy()
    zero[1, 2:4] = 0.0  # an all-zero patch: variance 0 at the first activation, no bias
    with pytest.raises(ValueError, match=r"X\[1\] has variance 0"):
        nm.gram(net, zero)
    with pytest.raises(ValueError, match="kernel_pairs pairs"):
        nm.kernel_pairs(net, X, Y)


# ----------------------------------------------------------------- Walsh-Hadamard transform


def test_walsh_hadamard_against_the_matrix():
    rng = np.random.default_rng(5)
    a = rng.integers(-5, 6, 64).astype(float)
    H = np.array([[(-1) ** bin(s & u).count("1") for u in range(64)] for s in range(64)], dtype=float)
    # Integer data: every partial sum is exact in float64.
    assert np.array_equal(nm.walsh_hadamard(a), H @ a)
    assert np.array_equal(nm.walsh_hadamard(a, engine="numpy"), H @ a)
    big = rng.standard_normal(1 << 17)  # several cache blocks + the strided stages (parallel path)
    np.testing.assert_allclose(nm.walsh_hadamard(big), nm.walsh_hadamard(big, engine="numpy"), rtol=0, atol=1e-11)
    with pytest.raises(ValueError, match="power of two"):
        nm.walsh_hadamard(np.ones(6))


# ----------------------------------------------------------------- compilation


def test_compile_seconds_are_recorded():
    times = nm.warmup()
    assert set(times) == {"self_variances", "gram", "correlations", "walsh_values", "fwht", "dual_values"}
    assert all(isinstance(v, float) and v >= 0 for v in times.values())
