"""Learning curves: eigenlearning prediction vs kernel ridge regression (MATH.md section 7, M19).

Oracles: closed forms for flat spectra; the per-eigenfunction computation on
all 2^d eigenvalues from an independent numpy Walsh–Hadamard transform (M17);
untruncated spectra for the tail approximation; direct dense solves for the
KRR linear algebra; and, in the slow tier, real kernel ridge regression on
sampled data (means over repeats, spreads and standard errors reported).

The learning-curve tests of pooled kernels (moved from test_pooling.py) are at the end.

Slow-test sizes are chosen so the whole file runs in about two minutes on two
cores: hypercube Gram matrices by table lookup, one Cholesky per repeat.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from eigencalc import targets
from eigencalc.architectures import Conv, Dense, Flatten, Relu, serial
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.learn.curves import (
    TailWarning,
    _gram_function,
    _NestedSolver,
    krr_experiment,
    learnable,
    learning_curve,
)
from eigencalc.spectra import SpectrumEntry, spectrum
from eigencalc.targets import f_HF, f_LF, harmonic, k_global, k_local
from tests.cases import _mm_nets

RIDGE = 1e-3
MLP2 = serial(Flatten(), Dense(), Relu(), Dense(), Relu(), Dense())


def _tree(filters):
    layers = []
    for q in filters:
        layers += [Conv(q, stride=q), Relu()]
    return serial(*layers, Flatten(), Dense())


class _FlatSpectrum:
    """A duck-typed spectrum: N modes of eigenvalue lam at frequency 1 (plus nothing else)."""

    method = "tree"
    max_frequency = 1

    def __init__(self, N, lam, tail=0.0):
        self.domain = ProductHypercube(N, 1)
        self.N, self.lam, self.tail = N, lam, tail

    def entries(self):
        r = (1,) + (0,) * (self.N - 1)
        return [SpectrumEntry(r, 1, 1, self.lam, self.N, self.N, 0, True)]

    def total(self):
        return self.N * self.lam + self.tail

    def eigenvalue(self, r):
        return self.lam if sum(r) == 1 else 0.0

    def error_bound(self, r):
        return 0.0

    def space(self, r):
        return sum(r)


# ------------------------------------------------------------ closed forms


def test_flat_spectrum_ridgeless_closed_form():
    """N equal modes, delta = 0, m < N: kappa = lam (N - m)/m, L = m/N, E0 = N/(N - m), MSE = 1 - m/N."""
    N, lam = 50, 0.02
    spec = _FlatSpectrum(N, lam)
    f = {(1,) + (0,) * (N - 1): 1.0}
    m = np.array([1, 5, 20, 49])
    lc = learning_curve(spec, f, m)
    assert np.allclose(lc.kappa, lam * (N - m) / m, rtol=1e-12)
    assert np.allclose(lc.e0, N / (N - m), rtol=1e-12)
    assert np.allclose(lc.test_mse, 1 - m / N, rtol=1e-11)
    assert np.allclose(lc.learnability[:, 0], m / N, rtol=1e-12)
    assert np.all(lc.train_mse == 0)


def test_flat_spectrum_with_ridge_and_noise_closed_form():
    """kappa solves m k^2 + (m lam - N lam - delta) k - delta lam = 0; noise enters as E0 sigma^2; train = (delta/(m k))^2 test."""
    N, lam, delta, sigma2 = 40, 0.05, 0.3, 0.1
    spec = _FlatSpectrum(N, lam)
    f = {(1,) + (0,) * (N - 1): 0.7}
    m = np.array([3.0, 40.0, 400.0])
    lc = learning_curve(spec, f, m, ridge=delta, noise=sigma2)
    b = m * lam - N * lam - delta
    kappa = (-b + np.sqrt(b * b + 4 * m * delta * lam)) / (2 * m)
    L = lam / (lam + kappa)
    e0 = m / (m - N * L**2)
    test = e0 * ((1 - L) ** 2 * 0.7 + sigma2)
    assert np.allclose(lc.kappa, kappa, rtol=1e-12)
    assert np.allclose(lc.test_mse, test, rtol=1e-11)
    assert np.allclose(lc.train_mse, (delta / (m * kappa)) ** 2 * test, rtol=1e-11)


def test_tail_enters_as_effective_ridge():
    """Uncaptured trace T acts as ridge T: a flat spectrum with tail T == the same spectrum with ridge T."""
    N, lam, T = 30, 0.01, 0.2
    f = {(1,) + (0,) * (N - 1): 1.0}
    with_tail = learning_curve(_FlatSpectrum(N, lam, tail=T), f, [5, 50, 500])
    with_ridge = learning_curve(_FlatSpectrum(N, lam), f, [5, 50, 500], ridge=T)
    assert with_tail.tail == pytest.approx(T) and with_tail.effective_ridge == pytest.approx(T)
    assert np.allclose(with_tail.kappa, with_ridge.kappa, rtol=1e-12)
    assert np.allclose(with_tail.test_mse, with_ridge.test_mse, rtol=1e-12)
    assert np.all(with_tail.train_mse == 0)  # the real ridge is 0: train error stays 0


# -------------------------------------------- against all 2^d eigenvalues


def _walsh_eigenvalues(net, d):
    """All 2^d eigenvalues on {-1,1}^d (M17): lambda(S) = 2^-d sum_z K(z) prod_{i in S} z_i by a numpy FWHT.

    Index S is the bitmask with bit i = coordinate i; z runs over the same bit order (bit set: z_i = -1).
    """
    codes = np.arange(1 << d)
    z = 1.0 - 2.0 * ((codes[:, None] >> np.arange(d)) & 1)
    a = np.asarray(net.kernel_of_correlations(z, "ntk"), dtype=float).copy()
    h = 1
    while h < a.size:
        a = a.reshape(-1, 2, h)
        a = np.stack([a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]], axis=1).reshape(-1)
        h *= 2
    return a / a.size


def test_per_class_equals_per_eigenfunction_walsh_oracle():
    """Per-class sums == the per-eigenfunction formulas on all 2^10 eigenvalues from a numpy FWHT (M17)."""
    d = 10
    dom = ProductHypercube(d, 1)
    net = _tree([2, 5])
    spec = spectrum(net, dom, "ntk", max_frequency=d)
    assert spec.method == "enumeration" and spec.captured_fraction() == pytest.approx(1, abs=1e-12)
    lam = np.clip(_walsh_eigenvalues(net, d), 0, None)
    f = 0.6 * k_local(dom, 2) + 0.8 * k_global(dom, 2)
    v2 = np.zeros(1 << d)
    for r, c in f.coefficients.items():
        v2[sum(1 << i for i, b in enumerate(r) if b)] += c * c
    for m in (7.0, 60.0, 300.0):
        lc = learning_curve(spec, f, m, ridge=RIDGE)
        kappa = lc.kappa[0]
        assert np.sum(lam / (lam + kappa)) + RIDGE / kappa == pytest.approx(m, rel=1e-11)
        L = lam / (lam + kappa)
        e0 = m / (m - np.sum(L * L))
        assert lc.e0[0] == pytest.approx(e0, rel=1e-10)
        assert lc.test_mse[0] == pytest.approx(e0 * np.sum((1 - L) ** 2 * v2), rel=1e-10)


def test_conservation_law_and_class_rows():
    """sum_e mult_e L_e + (delta + T)/kappa = m; class rows bracket their entries."""
    dom = ProductSphere(4, 3)
    spec = spectrum(_tree([2, 2]), dom, "ntk", max_frequency=4)
    m = np.array([3.0, 30.0, 300.0, 3000.0])
    lc = learning_curve(spec, {}, m, ridge=0.01)
    mult = np.array([e.multiplicity for e in lc.entries], float)
    assert np.allclose(lc.learnability @ mult + lc.effective_ridge / lc.kappa, m, rtol=1e-12)
    assert lc.tail == pytest.approx(float(spec.total()) * (1 - spec.captured_fraction()), rel=1e-9)
    assert np.all(np.diff(lc.kappa) < 0)
    row = lc.class_learnability(1, 2)
    assert row.multiplicity == 4 * 3 and np.all(row.min_learnability <= row.max_learnability)
    with pytest.raises(KeyError):
        lc.class_learnability(1, 7)


def test_tail_approximation_against_full_spectrum():
    """Truncating at frequency 3 (T = 9.5% of the trace as effective ridge) moves the predicted MSE < 1%
    while m <= 100 < 176 = number of modes of frequency <= 3 (d = 10); the approximation degrades past that."""
    dom = ProductHypercube(10, 1)
    full = spectrum(MLP2, dom, "ntk", 10)
    trunc = spectrum(MLP2, dom, "ntk", 3)
    f = harmonic(dom, (1, 1) + (0,) * 8)
    m = [5, 20, 50, 100]
    a = learning_curve(full, f, m, ridge=RIDGE)
    b = learning_curve(trunc, f, m, ridge=RIDGE)
    assert a.tail == 0 and b.tail == pytest.approx(0.0948, abs=1e-3)
    assert np.allclose(b.test_mse, a.test_mse, rtol=0.01)


def test_ridgeless_limit_beyond_number_of_modes():
    """delta = 0, no tail, m >= N_+ = 2^d: kappa = 0, all modes learned, E0 = m/(m - N_+); continuous in delta."""
    d = 8
    dom = ProductHypercube(d, 1)
    spec = spectrum(MLP2, dom, "ntk", d)
    f = harmonic(dom, (1, 0, 1) + (0,) * 5)
    lc = learning_curve(spec, f, [100, 256, 300], noise=0.01)
    assert list(lc.ridgeless_limit) == [False, True, True]
    assert lc.kappa[0] > 0 and lc.kappa[2] == 0
    assert lc.e0[1] == math.inf and lc.test_mse[1] == math.inf
    assert lc.e0[2] == pytest.approx(300 / 44) and lc.test_mse[2] == pytest.approx(300 / 44 * 0.01)
    near = learning_curve(spec, f, [300], ridge=1e-13, noise=0.01)
    assert near.test_mse[0] == pytest.approx(lc.test_mse[2], rel=1e-4)
    noiseless = learning_curve(spec, f, [256, 300])
    assert list(noiseless.test_mse) == [0.0, 0.0]


def test_target_beyond_max_frequency_warns():
    dom = ProductHypercube(8, 1)
    spec = spectrum(MLP2, dom, "ntk", 2)
    with pytest.warns(TailWarning, match="beyond max_frequency"):
        lc = learning_curve(spec, k_local(dom, 3), [10, 100], ridge=RIDGE)
    assert np.all(np.isfinite(lc.test_mse))


# -------------------------------------------------------------- learnable


def test_learnable_agrees_with_learning_index_rule():
    """Tree (2, 5) on {-1,1}^10 with k_1 = 10^0.3 ~ 2, k_2 = 10^0.7 ~ 5, m = 10^p: L(r) < p <=> learned."""
    dom = ProductHypercube(10, 1)
    spec = spectrum(_tree([2, 5]), dom, "ntk", 3)
    res = learnable(spec, 30, scaling=(0, 0.3, 0.7), D=10)
    assert res.p == pytest.approx(math.log10(30))
    assert res.learned == res.learned_by_index == [(0, 0), (1, 2), (2, 3)]
    assert res.not_learned_by_index == [(2, 4), (3, 5), (3, 6)]
    res = learnable(spec, 300, scaling=(0, 0.3, 0.7), D=10)
    assert res.learned == res.learned_by_index == [(0, 0), (1, 2), (2, 3), (2, 4), (3, 5)]
    assert res.index[(3, 6)] == (pytest.approx(3.0), pytest.approx(3.0))
    mlp = learnable(spectrum(MLP2, dom, "ntk", 3), 10**1.5, scaling=(0, 1), D=10)
    assert mlp.learned_by_index == [(0, 0), (1, 1)] and mlp.not_learned_by_index == [(2, 2), (3, 3)]
    assert mlp.learned == [(0, 0), (1, 1)]


# ------------------------------------------------------------ KRR pieces


@pytest.mark.parametrize(
    "net,dom",
    [
        (_tree([2, 2]), ProductHypercube(4, 3)),
        (serial(Conv(3, padding="CIRCULAR"), Relu(), Flatten(), Dense()), ProductHypercube(9, 1)),
        (MLP2, ProductHypercube(12, 1)),
    ],
    ids=["tree-n0=3", "circular", "mlp"],
)
def test_table_gram_equals_kernel_fn(net, dom):
    X, Y = dom.sample(40, seed=1), dom.sample(30, seed=2)
    table = _gram_function(net, dom, "ntk", "table")
    assert np.allclose(table(X, Y), net.kernel_fn(X, Y, "ntk"), rtol=1e-13, atol=1e-15)
    assert np.allclose(_gram_function(net, dom, "nngp", "numba")(X, Y), net.kernel_fn(X, Y, "nngp"), rtol=1e-12, atol=1e-15)


def test_nested_solver_matches_direct_solves(rng):
    A = rng.standard_normal((600, 600))
    K = A @ A.T / 600
    Y = rng.standard_normal((600, 2))
    solver = _NestedSolver(K, Y, 0.05)
    for m in (1, 255, 256, 257, 600):
        direct = np.linalg.solve(K[:m, :m] + 0.05 * np.eye(m), Y[:m])
        assert np.allclose(solver.alpha(m), direct, rtol=1e-9, atol=1e-11), m
    B = rng.standard_normal((80, 30))
    K = B @ B.T  # rank 30: ridgeless needs the minimum-norm least-squares solution
    ridgeless = _NestedSolver(K, Y[:80], 0.0)
    assert np.allclose(ridgeless.alpha(80), np.linalg.lstsq(K, Y[:80], rcond=None)[0], rtol=1e-7, atol=1e-9)


def test_krr_experiment_small(capsys):
    dom = ProductHypercube(6, 1)
    fs = [harmonic(dom, (1, 0, 0, 0, 0, 0)), k_local(dom, 2)]
    res = krr_experiment(MLP2, dom, fs, [4, 16, 32], ridge=RIDGE, n_test=100, repeats=3, seed=5, progress=True)
    err = capsys.readouterr().err
    assert "krr_experiment" in err and "9/9" in err
    assert len(res) == 2 and res[0].values.shape == (3, 3) and res[0].target == fs[0].name
    again = krr_experiment(MLP2, dom, fs[0], [4, 16, 32], ridge=RIDGE, n_test=100, repeats=3, seed=5)
    # same seed, same draws: equal up to BLAS rounding (one vs two right-hand sides)
    assert np.allclose(again.values, res[0].values, rtol=1e-12, atol=1e-15)
    slow = krr_experiment(MLP2, dom, fs[0], [4, 16, 32], ridge=RIDGE, n_test=100, repeats=3, seed=5, engine="kernel_fn")
    assert np.allclose(slow.values, res[0].values, rtol=1e-8, atol=1e-12)
    # ridgeless interpolates noisy labels (distinct points on a sphere): train error ~ 0, test > noise
    sph = ProductSphere(2, 3)
    noisy = krr_experiment(MLP2, sph, harmonic(sph, (1, 0)), [32], ridge=0.0, noise=0.04, n_test=100, repeats=2, seed=5)
    assert noisy.test_mse[0] > 0.04 and noisy.train_mse[0] < 1e-20


# ------------------------------------------------------------------ errors


def test_bad_inputs_raise():
    dom = ProductHypercube(6, 1)
    spec = spectrum(MLP2, dom, "ntk", 2)
    f = harmonic(dom, (1, 0, 0, 0, 0, 0))
    for m in (0, 0.5, -3, [10, 0], float("nan")):
        with pytest.raises(ValueError, match="m"):
            learning_curve(spec, f, m)
    with pytest.raises(ValueError, match="ridge"):
        learning_curve(spec, f, 10, ridge=-1e-3)
    with pytest.raises(ValueError, match="noise"):
        learning_curve(spec, f, 10, noise=-1)
    with pytest.raises(ValueError, match="target lives on"):
        learning_curve(spec, harmonic(ProductHypercube(6, 2), (1, 0, 0, 0, 0, 0)), 10)
    with pytest.raises(ValueError, match="not expressible"):
        learning_curve(spec, harmonic(dom, (2, 0, 0, 0, 0, 0)), 10)
    with pytest.raises(TypeError):
        learning_curve(spec, [1.0], 10)
    with pytest.raises(ValueError, match="single number"):
        learnable(spec, [10, 20])
    with pytest.raises(ValueError, match="pass D"):
        learnable(spec, 10, scaling=(0, 1))
    with pytest.raises(ValueError, match="m"):
        krr_experiment(MLP2, dom, f, [0, 10])
    with pytest.raises(ValueError, match="integers"):
        krr_experiment(MLP2, dom, f, [10.5])
    with pytest.raises(ValueError, match="ridge"):
        krr_experiment(MLP2, dom, f, [10], ridge=-1)
    with pytest.raises(ValueError, match="repeats"):
        krr_experiment(MLP2, dom, f, [10], repeats=0)
    with pytest.raises(ValueError, match="target lives on"):
        krr_experiment(MLP2, ProductHypercube(7, 1), f, [10])
    with pytest.raises(ValueError, match="engine"):
        krr_experiment(MLP2, dom, f, [10], engine="gpu")


# ================================================================ slow tier
#
# Acceptance: predicted vs measured test MSE.  The prediction is for the
# expected test error; the measurement averages `repeats` independent draws of
# training and test sets.  Criterion per (target, m), with meas the mean,
# std the spread between repeats:
#   where meas > 0.05:  |pred - meas| <= std + 0.05 * pred  and  |pred / meas - 1| <= 0.15;
#   where meas <= 0.05: |pred - meas| <= std + 0.15 * pred.
# The relative floors cover the deterministic finite-size bias of the
# eigenlearning estimate (exact only as m and the number of modes grow
# together): observed meas/pred ~ 0.9-0.97 at the smallest m (25-50) and
# ~1.05-1.1 deep in the learned regime (MSE < 1e-3), where the repeat spread
# itself becomes tiny.  Observed agreement for MSE > 0.05 is mostly within 5%.

CUBE = ProductHypercube(16, 1)
CUBE_NETS = {"mlp": MLP2, "deep": _tree([2, 2, 2, 2]), "shallow": _tree([4, 4])}
CUBE_M = [50, 100, 200, 400, 800, 1600]


def _cube_targets():
    return {
        "x0 (freq 1)": harmonic(CUBE, (1,) + (0,) * 15),
        "2-local": k_local(CUBE, 2),
        "2-global": k_global(CUBE, 2),
        "3-local": k_local(CUBE, 3),
        "3-global": k_global(CUBE, 3, blocks=[range(0, 5), range(5, 10), range(10, 16)]),
    }


def _report(title, pred, meas):
    lines = [title, f"{'m':>6} {'predicted':>10} {'measured':>10} {'std':>8} {'ratio':>6}"]
    for j, m in enumerate(meas.m):
        lines.append(f"{int(m):>6} {pred.test_mse[j]:>10.4f} {meas.test_mse[j]:>10.4f} {meas.std[j]:>8.4f} {meas.test_mse[j] / pred.test_mse[j]:>6.3f}")
    return "\n".join(lines)


def _check_agreement(pred, meas, title):
    table = _report(title, pred, meas)
    print(table)
    for j in range(len(meas.m)):
        p, q, s = pred.test_mse[j], meas.test_mse[j], meas.std[j]
        if q > 0.05:
            assert abs(p - q) <= s + 0.05 * p and abs(p / q - 1) <= 0.15, table
        else:
            assert abs(p - q) <= s + 0.15 * p, table


@pytest.fixture(scope="module")
def cube_runs():
    """KRR on {-1,1}^16 for three NTKs and five targets (same draws for all: paired comparisons)."""
    targets = _cube_targets()
    out = {}
    for name, net in CUBE_NETS.items():
        spec = spectrum(net, CUBE, "ntk", max_frequency=5)
        meas = krr_experiment(net, CUBE, list(targets.values()), CUBE_M, ridge=RIDGE, n_test=2000, repeats=8, seed=1)
        out[name] = (spec, {t: (learning_curve(spec, f, CUBE_M, ridge=RIDGE), r) for (t, f), r in zip(targets.items(), meas)})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("net_name", ["mlp", "deep", "shallow"])
def test_prediction_matches_krr_on_hypercube(cube_runs, net_name):
    """MLP and tree CNNs on {-1,1}^16, targets of frequency 1..3, m = 50..1600 (8 repeats, 2000 test points)."""
    _, runs = cube_runs[net_name]
    for t, (pred, meas) in runs.items():
        _check_agreement(pred, meas, f"{net_name} / {t}")


@pytest.mark.slow
def test_prediction_matches_krr_on_product_sphere():
    """MLP and a tree CNN on (S^3)^4 (n0 = 4), targets of frequency 1..3, m = 50..800 (12 repeats).

    The spectrum is truncated at frequency 8 (93% of the trace); the rest is the
    effective-ridge tail, whose eigenvalues (< 1e-6) are far below kappa(800) ~ 2e-4.
    """
    dom = ProductSphere(4, 4)
    targets = [harmonic(dom, (1, 0, 0, 0)), harmonic(dom, (1, 1, 0, 0)), harmonic(dom, (2, 0, 0, 0)), k_local(dom, 3), harmonic(dom, (0, 0, 3, 0))]
    ms = [50, 100, 200, 400, 800]
    for name, net in [("mlp", MLP2), ("tree", _tree([2, 2]))]:
        spec = spectrum(net, dom, "ntk", max_frequency=8)
        meas = krr_experiment(net, dom, targets, ms, ridge=RIDGE, n_test=1000, repeats=12, seed=2)
        for f, r in zip(targets, meas):
            _check_agreement(learning_curve(spec, f, ms, ridge=RIDGE), r, f"sphere {name} / {f.name}")


def _threshold(m, mse, level):
    """Smallest m with mse <= level, log-log interpolated between grid points (inf if never reached)."""
    m, mse = np.asarray(m, float), np.asarray(mse, float)
    below = np.nonzero(mse <= level)[0]
    if below.size == 0:
        return math.inf
    j = below[0]
    if j == 0:
        return m[0]
    x0, x1, y0, y1 = np.log(m[j - 1]), np.log(m[j]), np.log(mse[j - 1]), np.log(mse[j])
    return float(np.exp(x0 + (np.log(level) - y0) * (x1 - x0) / (y1 - y0)))


GRID = np.geomspace(10, 3e4, 160)


@pytest.mark.slow
def test_mori_ueda_locality_in_kernel_regime(cube_runs):
    """Mori–Ueda (arXiv:2005.12488) in the NTK regime on {-1,1}^16.

    * MLP: k-local and k-global targets of equal frequency have equal predicted
      curves (eigenvalues depend on |r| only), and equal measured ones within
      the paired spread.
    * Deeper tree (2,2,2,2) vs shallower tree (4,4): fewer samples for the
      k-local target, more for the k-global one (k = 2, 3): predicted
      thresholds m*(MSE = 0.5) on a fine grid; measured as the paired mean
      difference at the m of largest predicted gap, > 3 paired standard errors.
    """
    targets = _cube_targets()
    mlp_spec = cube_runs["mlp"][0]
    for k in (2, 3):
        loc = learning_curve(mlp_spec, targets[f"{k}-local"], GRID, ridge=RIDGE)
        glob = learning_curve(mlp_spec, targets[f"{k}-global"], GRID, ridge=RIDGE)
        assert np.allclose(loc.test_mse, glob.test_mse, rtol=1e-9)
        ml, mg = cube_runs["mlp"][1][f"{k}-local"][1], cube_runs["mlp"][1][f"{k}-global"][1]
        assert np.all(np.abs(ml.test_mse - mg.test_mse) <= np.hypot(ml.std, mg.std)), (ml.table(), mg.table())

    deep_spec, deep = cube_runs["deep"]
    shallow_spec, shallow = cube_runs["shallow"]
    for k in (2, 3):
        for kind, deeper_is_better in (("local", True), ("global", False)):
            f = targets[f"{k}-{kind}"]
            pd = learning_curve(deep_spec, f, GRID, ridge=RIDGE)
            ps = learning_curve(shallow_spec, f, GRID, ridge=RIDGE)
            td, ts = _threshold(GRID, pd.test_mse, 0.5), _threshold(GRID, ps.test_mse, 0.5)
            print(f"{k}-{kind}: predicted m*(0.5) deep {td:.0f}, shallow {ts:.0f}")
            assert (td < ts) if deeper_is_better else (td > ts), (k, kind, td, ts)
            # experiment: paired difference (same draws for both networks)
            md, ms_ = deep[f"{k}-{kind}"][1], shallow[f"{k}-{kind}"][1]
            gap = deep[f"{k}-{kind}"][0].test_mse - shallow[f"{k}-{kind}"][0].test_mse
            j = int(np.argmax(np.abs(gap)))
            diff = md.values[:, j] - ms_.values[:, j]
            se = diff.std(ddof=1) / math.sqrt(len(diff))
            print(f"   measured at m = {int(md.m[j])}: deep {md.test_mse[j]:.4f} shallow {ms_.test_mse[j]:.4f} (paired se {se:.4f})")
            sign = -1 if deeper_is_better else 1
            assert sign * diff.mean() > 3 * se, (k, kind, diff.mean(), se)


@pytest.mark.slow
def test_misiakiewicz_mei_local_kernel_before_fully_connected():
    """Misiakiewicz–Mei (arXiv:2111.08308): one-layer local convolution kernel CK (circular, q = 3, no
    pooling) learns f_LF,3 with far fewer samples than the FC kernel; pooling-free kernels see f_LF and
    f_HF alike.  Prediction at d = 16 (exact CK spectrum: frequencies > q vanish) with experiment, 8 repeats.

    Depth-2 ReLU heads: the one-hidden-layer bias-free ReLU NTK has no odd components of degree >= 3
    on the hypercube, so it cannot learn f_LF,3 at all.
    """
    d = 16
    dom = ProductHypercube(d, 1)
    CK = serial(Conv(3, padding="CIRCULAR"), Relu(), Conv(1), Relu(), Flatten(), Dense())
    lf, hf = f_LF(dom, 3), f_HF(dom, 3)
    spec_ck = spectrum(CK, dom, "ntk", max_frequency=3)
    spec_fc = spectrum(MLP2, dom, "ntk", max_frequency=5)
    assert spec_ck.captured_fraction() == pytest.approx(1, abs=1e-12)
    ck = learning_curve(spec_ck, lf, GRID, ridge=RIDGE)
    fc = learning_curve(spec_fc, lf, GRID, ridge=RIDGE)
    assert np.allclose(ck.test_mse, learning_curve(spec_ck, hf, GRID, ridge=RIDGE).test_mse, rtol=1e-12)
    t_ck, t_fc = _threshold(GRID, ck.test_mse, 0.5), _threshold(GRID, fc.test_mse, 0.5)
    print(f"predicted m*(0.5): CK {t_ck:.0f}, FC {t_fc:.0f}")
    assert 40 < t_ck < 150 and 700 < t_fc < 2000 and t_fc > 5 * t_ck

    ms = [25, 50, 100, 200, 400, 800, 1600]
    m_ck = krr_experiment(CK, dom, [lf, hf], ms, ridge=RIDGE, n_test=2000, repeats=8, seed=3)
    m_fc = krr_experiment(MLP2, dom, lf, ms, ridge=RIDGE, n_test=2000, repeats=8, seed=3)
    _check_agreement(learning_curve(spec_ck, lf, ms, ridge=RIDGE), m_ck[0], "CK / f_LF,3")
    _check_agreement(learning_curve(spec_ck, hf, ms, ridge=RIDGE), m_ck[1], "CK / f_HF,3")
    _check_agreement(learning_curve(spec_fc, lf, ms, ridge=RIDGE), m_fc, "FC / f_LF,3")
    e_ck, e_fc = _threshold(ms, m_ck[0].test_mse, 0.5), _threshold(ms, m_fc.test_mse, 0.5)
    print(f"measured m*(0.5): CK {e_ck:.0f}, FC {e_fc:.0f}")
    assert e_fc > 5 * e_ck


# ================================================================ pooled kernels
# (moved from test_pooling.py)


def test_misiakiewicz_mei_thresholds_with_pooling():
    """Samples to reach test MSE 1/2 on f_LF,3 (d = 12): CK-GP < CK < FC; GP never learns f_HF,3.

    Global pooling keeps only the shift-invariant (j = 0) sector, where f_LF,3 lives, and
    divides the number of competing modes by d; f_HF,3 lives at j = d/2, which it removes.
    """
    dom = ProductHypercube(12, 1)
    m = np.unique(np.round(np.logspace(0.5, 4, 40)).astype(int))
    need = {}
    for name, net in _mm_nets().items():
        spec = spectrum(net, dom, "ntk", 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # f_* have no mass beyond max_frequency; tail warnings are about kappa only
            for t in ("f_LF", "f_HF"):
                need[name, t] = learning_curve(spec, getattr(targets, t)(dom, 3), m, ridge=1e-3).samples_to_reach(0.5)
    assert need["CK-GP", "f_LF"] < need["CK", "f_LF"] < need["FC", "f_LF"]
    assert need["CK", "f_LF"] == need["CK", "f_HF"]  # pooling-free kernels cannot tell them apart
    assert need["CK-GP", "f_HF"] == np.inf


@pytest.mark.slow
def test_pooled_prediction_matches_kernel_regression():
    """CK-GP on f_LF,3 (d = 12): eigenlearning vs real KRR within 3 spreads + 15%."""
    dom = ProductHypercube(12, 1)
    net = _mm_nets()["CK-GP"]
    spec = spectrum(net, dom, "ntk", 12)
    target = targets.f_LF(dom, 3)
    m = [4, 8, 16, 32]
    pred = learning_curve(spec, target, m, ridge=1e-3)
    meas = krr_experiment(net, dom, target, m, ridge=1e-3, n_test=500, repeats=6, seed=3, kind="ntk")
    for p, mu, sd in zip(pred.test_mse, meas.test_mse, meas.std):
        assert abs(p - mu) <= 3 * sd + 0.15 * max(p, mu), (p, mu, sd)
