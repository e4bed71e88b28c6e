"""Numerical checks (eigencalc.numerics): jitted Gram, Walsh–Hadamard spectra, Monte-Carlo.

Three tiers, as elsewhere:

1. exact / float-rounding equalities: the jitted Gram against its numpy twin and
   against ``kernel_fn`` (an independent evaluator), the jitted closed-form duals
   against ``Activation.kernel``, the FWHT spectrum against
   ``spectrum(method="enumeration")`` and against brute-force Gram eigenvalues;
   error paths;
2. special functions against mpmath (Gegenbauer normalisation);
3. slow-marked statistical checks (Monte-Carlo eigenvalues, empirical spectra)
   with fixed seeds and tolerances explained next to them.

No timings here: those are in ``benchmarks/bench_numerics.py``.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest
import sympy

from eigencalc import numerics as nm
from eigencalc.checks import montecarlo as mc_impl
from eigencalc.checks import verify as verify_impl
from eigencalc.kernel import engine as engine_impl
from eigencalc.kernel import numba_kernels as nk
from eigencalc.activations import activation
from eigencalc.architectures import (
    Conv,
    Dense,
    Erf,
    FanInSum,
    FanOut,
    Flatten,
    GlobalAvgPool,
    Identity,
    Monomial,
    Polynomial,
    Relu,
    Tanh,
    parallel,
    serial,
)
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.spectra import spectrum

# Relative agreement of two float64 evaluations of the same kernel.  Both sum the
# same O(10-100) terms per entry in possibly different orders and apply the same
# closed forms, so they differ by a few ulps per layer (observed <= 1e-15); 1e-12
# leaves three orders of margin.  Entries are compared relative to the largest
# entry (atol) because erf / residual NNGP entries can be close to 0.
RTOL = 1e-12


def assert_close_kernel(a, b, rtol=RTOL):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


# ----------------------------------------------------------------- architectures


def _arch(name: str, act):
    A = act
    if name == "mlp":
        return serial(Flatten(), Dense(1.5, 0.3), A(), Dense(1.2, 0.1), A(), Dense())
    if name == "tree_cnn":
        return serial(Conv(2, stride=2), A(), Conv(2, stride=2), A(), Flatten(), Dense())
    if name == "cnn_valid":
        return serial(Conv(3), A(), Conv(2, W_std=1.3, b_std=0.2), A(), Flatten(), Dense())
    if name == "cnn_circular":
        return serial(Conv(3, padding="CIRCULAR"), A(), Conv(3, stride=2, padding="CIRCULAR"), A(), Flatten(), Dense())
    if name == "residual":
        return serial(
            Conv(2, padding="CIRCULAR"),
            FanOut(2),
            parallel(serial(A(), Conv(3, padding="CIRCULAR", b_std=0.1)), Identity()),
            FanInSum(),
            A(),
            Flatten(),
            Dense(),
        )
    if name == "gap":
        return serial(Conv(3, padding="CIRCULAR"), A(), Conv(2), A(), GlobalAvgPool(), Dense(), A(), Dense())
    raise KeyError(name)


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
            + ((nm.kernel_of_correlations(net, t, "ntk"), nm.hypercube_spectrum(net, 8, "ntk")) if arch != "gap" else ())
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


# ----------------------------------------------------------------- closed forms in numba

CLOSED = [
    ("relu", {}),
    ("leaky_relu", {"slope": 0.2}),
    ("abs", {}),
    ("linear", {}),
    ("abrelu", {"a": -0.3, "b": 1.7}),
    ("step", {}),
    ("erf", {}),
    ("sin", {}),
    ("cos", {}),
    ("exp", {}),
    ("monomial", {"degree": 3}),
    ("polynomial", {"coeffs": [1, -2, 0, sympy.Rational(1, 2)]}),
]


@pytest.mark.parametrize("name,params", CLOSED, ids=[n for n, _ in CLOSED])
def test_jitted_dual_equals_numpy_closed_form(name, params):
    act = activation(name, **params)
    code, fp = engine_impl._activation_code(act)
    rng = np.random.default_rng(3)
    q1, q2 = rng.uniform(0.3, 2.5, (2, 500))
    c = rng.uniform(-0.99, 0.99, 500) * np.sqrt(q1 * q2)
    c[:3] = np.sqrt(q1[:3] * q2[:3])  # the boundary rho = 1 (clipping path)
    k, dk = np.empty(500), np.empty(500)
    engine_impl._warm("dual_values")
    nk._dual_values_jit(code, np.asarray(fp, dtype=float), q1, q2, c, k, dk)
    # Same formulas operation by operation: a few ulps.
    np.testing.assert_allclose(k, act.kernel(q1, q2, c), rtol=1e-13, atol=1e-15)
    with np.errstate(divide="ignore"):
        ref = act.derivative_kernel(q1, q2, c)
    finite = np.isfinite(ref)  # step: E[delta delta] is infinite at |rho| = 1
    np.testing.assert_allclose(dk[finite], ref[finite], rtol=1e-13, atol=1e-15)
    assert np.array_equal(np.isinf(dk), np.isinf(ref))


def test_jitted_kernel_of_correlations_matches_dag_evaluator():
    rng = np.random.default_rng(4)
    t = rng.uniform(-1, 1, (50, 8))
    t[0] = 1.0
    for arch in ("tree_cnn", "cnn_valid", "residual"):
        net = _arch(arch, Relu)
        for kind in ("nngp", "ntk"):
            assert_close_kernel(nm.kernel_of_correlations(net, t, kind), net.kernel_of_correlations(t, kind))


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


def test_sample():
    Xs = nm.sample(ProductSphere(3, 5), 7, seed=1)
    assert Xs.shape == (7, 3, 5) and Xs.flags.c_contiguous
    np.testing.assert_allclose((Xs**2).sum(-1), 5.0, rtol=1e-14)
    Xh = nm.sample(ProductHypercube(2, 4), 9, seed=1)
    assert set(np.unique(Xh)) <= {-1.0, 1.0}
    assert np.array_equal(Xh, nm.sample(ProductHypercube(2, 4), 9, seed=1))
    with pytest.raises(ValueError, match="N"):
        nm.sample(ProductSphere(3, 5), 0)
    with pytest.raises(TypeError, match="domain"):
        nm.sample("sphere", 3)


# ----------------------------------------------------------------- FWHT spectrum (M12, M17)


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


# ----------------------------------------------------------------- harmonics


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_zonal_harmonic_is_the_normalised_gegenbauer(n):
    t = sympy.Symbol("t")
    s = np.linspace(-1, 1, 9)
    for k in range(6):
        # exact reference: C_k^alpha(t) / C_k^alpha(1), alpha = (n-2)/2 (Chebyshev T_k for n = 2), M9
        if n == 2:
            P = sympy.chebyshevt(k, t)
        else:
            C = sympy.gegenbauer(k, sympy.Rational(n - 2, 2), t)
            P = sympy.expand(C / C.subs(t, 1))
        mult = ProductSphere(1, n).patch_multiplicity(k)
        ref = [float(sympy.sqrt(mult) * P.subs(t, sympy.Rational(v).limit_denominator(8))) for v in s]
        np.testing.assert_allclose(nm.zonal_harmonic(k, n, s), ref, rtol=1e-13, atol=1e-13)
        # E[Y^2] = 1 for x uniform on S^{n-1}: <x, e> = cos(theta) has density prop. to
        # sin(theta)^(n-2) on [0, pi] (M10): a smooth integrand, mpmath quadrature at 30 digits.
        f = sympy.lambdify(t, P, "mpmath")
        with mpmath.workdps(30):
            w = lambda th: mpmath.sin(th) ** (n - 2)  # noqa: E731
            norm = mpmath.quad(lambda th: mult * f(mpmath.cos(th)) ** 2 * w(th), [0, mpmath.pi]) / mpmath.quad(w, [0, mpmath.pi])
            assert abs(norm - 1) < 1e-20
        assert float(nm.zonal_harmonic(k, n, 1.0)) == pytest.approx(math.sqrt(mult), rel=1e-14)


def test_addition_theorem_on_the_hypercube():
    # sum over |S| = k of chi_S(x) chi_S(y) = K_k(j) (Krawtchouk), j = #{c: x_c != y_c} (M12)
    n0 = 5
    rng = np.random.default_rng(6)
    x, y = rng.choice([-1.0, 1.0], (2, 40, n0))
    import itertools

    for k in range(n0 + 1):
        direct = sum(np.prod(x[:, list(S)] * y[:, list(S)], axis=1) for S in itertools.combinations(range(n0), k))
        j = (x != y).sum(axis=1)
        np.testing.assert_allclose(mc_impl._krawtchouk_ratio(k, n0, j) * math.comb(n0, k), direct, rtol=0, atol=1e-12)


# ----------------------------------------------------------------- Monte-Carlo (slow)

# A tree CNN with polynomial activations: K is a polynomial in t, the tree method is exact.
POLY_NET = serial(Conv(2, stride=2), Polynomial([0.2, 1, 0.5]), Flatten(), Dense(b_std=0.5), Monomial(2), Dense())
POLY_DOMAIN = ProductSphere(4, 3)
POLY_R = [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 1, 0, 1), (0, 0, 0, 2), (0, 0, 1, 2), (0, 1, 1, 1), (0, 0, 0, 3)]


@pytest.mark.slow
@pytest.mark.parametrize("estimator,centre", [("zonal", False), ("addition", True)])
def test_monte_carlo_eigenvalues_on_product_sphere_exact_network(estimator, centre):
    spec = spectrum(POLY_NET, POLY_DOMAIN, "ntk", 3)
    assert spec.exact
    for i, r in enumerate(POLY_R):
        est = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, r, 100_000, seed=10 + i, kind="ntk", estimator=estimator, centre=centre)
        value = float(spec.eigenvalue(r))
        assert spec.error_bound(r) == 0
        # Unbiased estimator, CLT with n = 1e5: |z| > 4 has probability 6e-5 per check
        # (fixed seeds make the outcome deterministic).
        assert abs(est.value - value) <= 4 * est.stderr, (r, est, value)
        # Not vacuous: the standard error resolves the eigenvalue scale (K(1) ~ 37 here).
        assert est.stderr < (0.03 if estimator == "zonal" else 0.01) * float(spec.total())


@pytest.mark.slow
def test_monte_carlo_eigenvalues_erf_network_with_tight_bounds():
    net = serial(Flatten(), Dense(), Erf(), Dense(1.3, 0.2), Erf(), Dense())
    dom = ProductSphere(2, 3)
    spec = spectrum(net, dom, "ntk", 3)
    for i, r in enumerate([(0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3)]):
        est = nm.monte_carlo_eigenvalue(net, dom, r, 100_000, seed=100 + i, kind="ntk", estimator="addition", centre=True)
        bound = float(spec.error_bound(r))
        # The truncation bound (M16) must be negligible next to the statistical error, else the
        # comparison would test the truncation and not the estimator.
        assert bound < 0.01 * est.stderr
        assert abs(est.value - float(spec.eigenvalue(r))) <= 4 * est.stderr + bound


@pytest.mark.slow
def test_monte_carlo_on_hypercube_against_fwht():
    net = _arch("tree_cnn", Erf)
    dom = ProductHypercube(4, 3)
    lam = nm.hypercube_spectrum(net, 4, "nngp", n0=3)
    for i, r in enumerate([(0, 0, 0, 0), (1, 0, 0, 0), (0, 2, 0, 0), (1, 1, 0, 0), (0, 0, 1, 2)]):
        exact = lam[verify_impl._walsh_mask(r, 3)]
        for estimator in ("zonal", "addition"):
            est = nm.monte_carlo_eigenvalue(net, dom, r, 50_000, seed=i, kind="nngp", estimator=estimator)
            assert abs(est.value - exact) <= 4 * est.stderr, (r, estimator, est, exact)


def test_monte_carlo_input_errors():
    net = POLY_NET
    with pytest.raises(ValueError, match="length d = 4"):
        nm.monte_carlo_eigenvalue(net, POLY_DOMAIN, (1, 0), 100)
    with pytest.raises(ValueError, match="degree 2 > n0 = 1"):
        nm.monte_carlo_eigenvalue(_arch("tree_cnn", Relu), ProductHypercube(4, 1), (2, 0, 0, 0), 100)
    with pytest.raises(ValueError, match="n_samples"):
        nm.monte_carlo_eigenvalue(net, POLY_DOMAIN, (0, 0, 0, 0), 1)
    with pytest.raises(ValueError, match="estimator"):
        nm.monte_carlo_eigenvalue(net, POLY_DOMAIN, (0, 0, 0, 0), 100, estimator="funk")


def test_monte_carlo_is_reproducible():
    a = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, (0, 0, 1, 1), 3000, seed=7, centre=True)
    b = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, (0, 0, 1, 1), 3000, seed=7, centre=True)
    c = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, (0, 0, 1, 1), 3000, seed=8, centre=True)
    assert (a.value, a.stderr, a.centre) == (b.value, b.stderr, b.centre)
    assert a.value != c.value and a.centre != 0.0


# ----------------------------------------------------------------- empirical spectrum (slow)


@pytest.mark.slow
def test_empirical_spectrum_converges_to_predicted():
    errors = {}
    for N in (250, 500):
        es = nm.empirical_spectrum(POLY_NET, POLY_DOMAIN, N, "ntk", seed=0, max_frequency=4)
        # K has total degree 4 in t: frequencies <= 4 hold all the mass, so every predicted
        # eigenvalue is certified to be among the top ones.
        assert es.reliable == min(N, es.predicted.size)
        # trace(G/N) = K(x, x) = K(1, ..., 1) on the sphere, exactly up to rounding.
        assert es.eigenvalues.sum() == pytest.approx(es.predicted.sum(), rel=1e-10)
        top = es.clusters()[:5]
        for c in top:
            # Koltchinskii–Giné: the mean of a cluster of multiplicity m deviates by
            # O(lambda sqrt(m / N)) (fluctuation and leakage); constant 1.5 from the scale of
            # the observed deviations (<= 0.8 sqrt(m/N) across seeds).
            assert c.relative_error <= 1.5 * math.sqrt(c.multiplicity / N), (N, c)
        errors[N] = np.mean([c.relative_error for c in top])
    assert errors[500] < errors[250]


# ----------------------------------------------------------------- verify


def test_verify_hypercube_uses_exact_walsh():
    net = _arch("cnn_valid", Relu)
    rep = nm.verify(net, ProductHypercube(6, 1), "ntk", max_frequency=3)
    assert rep.method == "walsh" and rep.all_agree and bool(rep)
    assert rep.rows and all(dataclasses.is_dataclass(row) for row in rep.rows)
    assert {row.frequency for row in rep.rows} == {0, 1, 2, 3}
    for row in rep.rows:
        assert abs(row.estimate - row.value) <= row.error + row.value_error
    text = repr(rep)
    assert "walsh" in text and "agree" in text and str(rep.rows[0].r) in text


def test_verify_reports_disagreement(monkeypatch):
    net = _arch("tree_cnn", Relu)
    true = nm.hypercube_spectrum
    monkeypatch.setattr(verify_impl, "hypercube_spectrum", lambda *a, **k: true(*a, **k) * 1.001)
    rep = nm.verify(net, ProductHypercube(4, 1), "ntk", max_frequency=2)
    assert not rep.all_agree
    assert "NO" in repr(rep)


@pytest.mark.slow
def test_verify_sphere_monte_carlo():
    rep = nm.verify(POLY_NET, POLY_DOMAIN, "ntk", max_frequency=3, n_samples=200_000, seed=3)
    assert rep.method == "monte-carlo" and rep.estimator == "addition"
    assert len(rep.rows) == 9 and rep.all_agree, rep
    assert {row.frequency for row in rep.rows} == {0, 1, 2, 3}


def test_verify_input_errors():
    with pytest.raises(ValueError, match="method"):
        nm.verify(POLY_NET, POLY_DOMAIN, method="exact")
    with pytest.raises(ValueError, match="ProductHypercube"):
        nm.verify(POLY_NET, POLY_DOMAIN, method="walsh")
    with pytest.raises(TypeError, match="domain"):
        nm.verify(POLY_NET, 4)


# ----------------------------------------------------------------- compilation


def test_compile_seconds_are_recorded():
    times = nm.warmup()
    assert set(times) == {"self_variances", "gram", "correlations", "walsh_values", "fwht", "dual_values"}
    assert all(isinstance(v, float) and v >= 0 for v in times.values())


@pytest.mark.slow
def test_second_process_loads_kernels_from_the_cache():
    nm.warmup()  # this process has compiled (or loaded) and written the cache
    code = (
        "from eigencalc import numerics as nm\nfrom eigencalc.kernel import numba_kernels as nk\n"
        "nm.warmup()\n"
        "print(sum(f.stats.cache_hits.total() if hasattr(f.stats.cache_hits, 'total') else sum(f.stats.cache_hits.values())"
        " for f in (nk._gram_jit, nk._self_variances_jit, nk._fwht_jit)),"
        " sum(sum(f.stats.cache_misses.values()) for f in (nk._gram_jit, nk._self_variances_jit, nk._fwht_jit)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    hits, misses = int(out[0]), int(out[1])
    assert hits >= 3 and misses == 0
