"""Tests for eigencalc.architectures: layers, validation, DAGs and the numeric kernel paths.

Tiers: exact structure and error paths; agreement of the raw-input path
(kernel_fn), the DAG path (kernel_of_correlations) and an independent MLP
recursion written here; hypothesis laws (symmetry, PSD, NTK - NNGP PSD,
patch-permutation invariance, deterministic diagonal).  The series path is in
test_architectures_series.py; the stax peer check in
test_crosscheck_neural_tangents.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eigencalc import architectures as A
from eigencalc.architectures import conv_indices
from eigencalc.activations import Activation

HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def equal_norm(rng, shape):
    """Random inputs with every patch of squared norm n0 (shape (N, d, n0))."""
    X = rng.standard_normal(shape)
    return X * np.sqrt(shape[-1]) / np.linalg.norm(X, axis=-1, keepdims=True)


def patch_correlations(X, Y):
    """t_i = <x_i, y_i>/n0 for each pair: shape (N, M, d)."""
    return np.einsum("nic,mic->nmi", X, Y) / X.shape[-1]


def tree_cnn(act=A.Relu, b=0.0):
    return A.serial(A.Conv(2, stride=2, W_std=1.2, b_std=b), act(), A.Conv(2, stride=2, b_std=b), act(), A.Flatten(), A.Dense(W_std=0.8, b_std=b))


def overlap_cnn(act=A.Erf, padding="VALID", b=0.2):
    conv = lambda: A.Conv(3, padding=padding, W_std=1.3, b_std=b)  # noqa: E731
    return A.serial(conv(), act(), conv(), act(), A.Flatten(), A.Dense(b_std=b))


def residual_cnn(act=A.Relu):
    conv = lambda: A.Conv(3, padding="CIRCULAR", W_std=1.1, b_std=0.1)  # noqa: E731
    block = A.serial(A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), conv())), A.FanInSum())
    return A.serial(conv(), block, act(), A.Flatten(), A.Dense())


# ==========================================================================
# Construction and repr
# ==========================================================================


def test_reprs_and_defaults_follow_stax():
    assert repr(A.Dense()) == "Dense(W_std=1.0, b_std=0.0)"
    assert repr(A.Conv(3)) == "Conv(3, stride=1, padding='VALID', W_std=1.0, b_std=0.0)"
    assert A.Conv(3, padding="circular").padding == "CIRCULAR"
    assert A.Dense(b_std=None) == A.Dense()
    assert repr(A.mlp(2, "erf", 1.5)) == "mlp(2, Erf(), W_std=1.5, b_std=0.0)"
    assert repr(A.LeakyRelu(0.2)) == "LeakyRelu(0.2)"
    assert repr(A.Monomial(3)) == "Monomial(3)"
    for f in (A.Relu, A.Abs, A.Erf, A.Tanh, A.Sigmoid, A.Gelu, A.Swish, A.Softplus, A.Sin, A.Cos, A.Exp, A.Step):
        layer = f()
        assert repr(layer) == f.__name__ + "()"
        assert isinstance(layer.activation, Activation)
    assert A.Phi(A.Relu().activation) == A.Relu()
    assert hash(A.serial(A.Dense(), A.Relu())) == hash(A.serial(A.Dense(), A.Relu()))


def test_exact_parameters():
    layer = A.Dense(W_std=sympy.sqrt(2), b_std=0.1)
    assert layer.w_var_exact == 2 and layer.b_var_exact == sympy.Rational(1, 100)
    assert layer.w_var == 2.0


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: A.Conv(3, stride=0), ValueError, ["stride", ">= 1", "got 0"]),
        (lambda: A.Conv(0), ValueError, ["filter_size", "got 0"]),
        (lambda: A.Conv(2.5), TypeError, ["filter_size", "integer"]),
        (lambda: A.Conv(2, padding="SAME"), ValueError, ["padding", "VALID", "CIRCULAR"]),
        (lambda: A.FanOut(0), ValueError, ["FanOut", "n"]),
        (lambda: A.serial(), ValueError, ["empty network", "serial"]),
        (lambda: A.parallel(), ValueError, ["empty network", "parallel"]),
        (lambda: A.serial(A.Dense(), "relu"), TypeError, ["argument 1", "str"]),
        (lambda: A.Dense(W_std="2"), TypeError, ["W_std"]),
        (lambda: A.Dense(W_std=float("nan")), ValueError, ["W_std", "finite"]),
        (lambda: A.mlp(-1, "relu"), ValueError, ["depth", ">= 0"]),
        (lambda: A.mlp(2, A.Dense()), TypeError, ["activation"]),
        (lambda: A.Phi("nonsense"), ValueError, ["unknown activation"]),
        (lambda: A.Polynomial("1+x"), TypeError, ["coeffs"]),
    ],
)
def test_construction_errors(make, error, words):
    with pytest.raises(error) as info:
        make()
    for w in words:
        assert w in str(info.value)


# ==========================================================================
# Validation at compile time (errors name the layer and the mismatch)
# ==========================================================================


@pytest.mark.parametrize(
    "net, d, words",
    [
        (A.serial(A.Conv(5), A.Relu(), A.Flatten(), A.Dense()), 4, ["Conv(5", "net[0]", "filter_size 5", "width 4"]),
        (
            A.serial(A.Conv(2, stride=2), A.Relu(), A.Conv(3), A.Flatten(), A.Dense()),
            4,
            ["Conv(3", "net[2]", "width 2", "after Relu() at net[1]"],
        ),
        (
            A.serial(A.Conv(3, padding="CIRCULAR"), A.Relu(), A.Conv(4, padding="CIRCULAR"), A.Flatten(), A.Dense()),
            3,
            ["Conv(4", "net[2]", "filter_size 4", "width 3"],
        ),
        (A.serial(A.Dense(), A.Flatten(), A.Conv(1), A.Dense()), 3, ["Conv(1", "net[2]", "no positions left"]),
        (A.serial(A.Relu(), A.Dense()), 1, ["Relu()", "net[0]", "not a Gaussian", "the input"]),
        (A.serial(A.Dense(), A.Flatten(), A.Relu(), A.Dense()), 2, ["Relu()", "net[2]", "Flatten() at net[1]"]),
        (A.serial(A.Dense(), A.Relu(), A.Dense()), 3, ["missing readout", "3 positions", "Flatten()"]),
        (A.serial(A.Dense(), A.Relu()), 1, ["missing readout", "Relu() at net[1]"]),
        (A.serial(A.Dense(), A.Relu(), A.Flatten()), 3, ["missing readout", "Flatten() at net[2]"]),
        (A.serial(A.Dense(), A.Relu(), A.Dense(), A.GlobalAvgPool()), 3, ["missing readout", "GlobalAvgPool() at net[3]"]),
        (A.serial(A.Dense(), A.FanOut(2), A.Dense()), 1, ["Dense", "net[2]", "2 streams"]),
        (A.serial(A.Dense(), A.FanOut(3), A.parallel(A.Identity(), A.Dense())), 1, ["parallel with 2 branches", "net[2]", "3 stream"]),
        (A.serial(A.Dense(), A.FanOut(2)), 1, ["2 unmerged streams", "FanInSum"]),
        (
            A.serial(A.Dense(), A.FanOut(2), A.parallel(A.Identity(), A.Identity()), A.FanInSum()),
            1,
            ["FanInSum() at net[3]", "branches [0, 1]", "not", "independent"],
        ),
        (
            A.serial(A.Conv(2), A.FanOut(2), A.parallel(A.Identity(), A.Conv(2)), A.FanInSum(), A.Flatten(), A.Dense()),
            4,
            ["FanInSum() at net[3]", "branch 0: 3 position", "branch 1: 2 position"],
        ),
        (
            A.serial(A.Dense(), A.FanOut(2), A.parallel(A.Relu(), A.Dense()), A.FanInSum()),
            1,
            ["FanInSum() at net[3]", "branch(es) [0]", "Gaussian"],
        ),
        (
            A.serial(A.Dense(), A.FanOut(2), A.parallel(A.serial(A.FanOut(2)), A.Dense()), A.FanInSum()),
            1,
            ["branch 0 of parallel at net[2]", "2 streams"],
        ),
    ],
)
def test_invalid_architectures_name_the_layer(net, d, words):
    with pytest.raises(ValueError) as info:
        net.dag(d)
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    with pytest.raises(ValueError):
        net.kernel_fn(np.ones((2, d, 3)))


@pytest.mark.parametrize("d, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_patch_count(d, error):
    with pytest.raises(error, match="d \\(number of input patches\\)"):
        A.mlp(1, "relu").dag(d)


def test_dense_on_one_position_cnn_is_a_valid_readout():
    # A Conv covering every position leaves one position: a Dense readout suffices.
    net = A.serial(A.Conv(3), A.Relu(), A.Dense())
    assert net.dag(3).nodes[net.dag(3).output].receptive_field == frozenset({0, 1, 2})


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
# DAG structure
# ==========================================================================


def test_conv_indices_valid_and_circular():
    assert conv_indices(5, 3, 1, "VALID").tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert conv_indices(6, 2, 2, "VALID").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert conv_indices(7, 2, 3, "VALID").tolist() == [[0, 1], [3, 4]]
    # CIRCULAR (stax): out = ceil(P/s), total pad max((out-1)s + q - P, 0), floor half on the left
    assert conv_indices(5, 3, 2, "CIRCULAR").tolist() == [[4, 0, 1], [1, 2, 3], [3, 4, 0]]
    assert conv_indices(4, 2, 1, "CIRCULAR").tolist() == [[0, 1], [1, 2], [2, 3], [3, 0]]
    assert conv_indices(6, 3, 3, "CIRCULAR").tolist() == [[0, 1, 2], [3, 4, 5]]


def test_tree_dag_nodes_weights_receptive_fields():
    dag = tree_cnn(b=0.5).dag(4)
    assert dag.d == 4 and dag.leaves == (0, 1, 2, 3) and not dag.pooled
    assert [L.op for L in dag.layers] == ["affine", "activation", "affine", "activation", "flatten", "affine"]
    first = [dag.nodes[u] for u in dag.layers[0].nodes]
    assert [n.children for n in first] == [(0, 1), (2, 3)]
    assert first[0].exact_weights == (sympy.Rational(36, 50), sympy.Rational(36, 50))  # W^2/q = 1.44/2
    assert first[0].exact_bias == sympy.Rational(1, 4) and first[0].trainable
    assert [n.receptive_field for n in first] == [frozenset({0, 1}), frozenset({2, 3})]
    out = dag.nodes[dag.output]
    assert out.op == "affine" and out.receptive_field == frozenset(range(4))
    assert dag.parents(0) == (first[0].id,)
    assert dag.ancestors_of_output() == frozenset(range(len(dag.nodes)))
    root, sk = dag.skeleton()
    assert len(sk) == 3 and sk[root] == (first[0].id, first[1].id)
    text = dag.draw()
    assert "Conv(2, stride=2" in text and "<- output" in text and "rf={0,1}" in text
    assert repr(dag) == f"Dag(d=4, nodes={len(dag.nodes)}, layers=6, output={dag.output}, pooled=False)"
    assert str(dag) == text


def test_circular_and_residual_dag():
    dag = A.serial(A.Conv(3, padding="CIRCULAR"), A.Relu(), A.Flatten(), A.Dense()).dag(4)
    conv = [dag.nodes[u] for u in dag.layers[0].nodes]
    assert [n.children for n in conv] == [(3, 0, 1), (0, 1, 2), (1, 2, 3), (2, 3, 0)]
    flat = dag.nodes[dag.layers[2].nodes[0]]
    assert flat.op == "average" and flat.exact_weights == (sympy.Rational(1, 4),) * 4
    res = residual_cnn().dag(5)
    sums = [res.nodes[u] for L in res.layers if L.op == "sum" for u in L.nodes]
    assert len(sums) == 5 and all(len(n.children) == 2 and n.exact_weights == (1, 1) for n in sums)


def test_gap_dag_is_pooled_and_refuses_correlation_paths():
    net = A.serial(A.Conv(2), A.Relu(), A.GlobalAvgPool(), A.Dense())
    dag = net.dag(3)
    assert dag.pooled and dag.nodes[dag.layers[2].nodes[0]].op == "pool"
    with pytest.raises(ValueError, match=r"kernel_of_correlations: GlobalAvgPool\(\) at net\[2\].*cross-patch"):
        net.kernel_of_correlations(np.zeros(3))
    with pytest.raises(ValueError, match=r"kernel_series: GlobalAvgPool\(\) at net\[2\]"):
        net.kernel_series(3)
    # pooling a single position is plain averaging: allowed
    one = A.serial(A.Conv(3), A.Relu(), A.GlobalAvgPool(), A.Dense())
    assert not one.dag(3).pooled
    t = np.array([0.3, -0.2, 0.9])
    assert one.kernel_of_correlations(t) == pytest.approx(A.serial(A.Conv(3), A.Relu(), A.Dense()).kernel_of_correlations(t), rel=1e-14)


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
# MLP: independent recursion, closed forms
# ==========================================================================


def _relu_dual(q, c):
    rho = np.clip(c / q, -1, 1)
    return q * (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi), (np.pi - np.arccos(rho)) / (2 * np.pi)


def _erf_dual(q, c):
    return 2 / np.pi * np.arcsin(2 * c / (1 + 2 * q)), 4 / np.pi / np.sqrt((1 + 2 * q) ** 2 - 4 * c**2)


def direct_mlp(t, depth, dual, W, b):
    """The MLP NNGP/NTK recursion of MATH.md M1-M3 written out, unit-variance inputs."""
    W2, b2 = W * W, b * b
    sigma, q = W2 * t + b2, W2 + b2
    theta = sigma
    for _ in range(depth):
        s_act, deriv = dual(q, sigma)
        q_act, _ = dual(q, q)
        theta = theta * deriv
        sigma, q = W2 * s_act + b2, W2 * q_act + b2
        theta = W2 * theta + sigma
    return sigma, theta


@pytest.mark.parametrize("b", [0.0, 0.35])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("name, dual, W", [("relu", _relu_dual, 1.3), ("erf", _erf_dual, 1.6)])
def test_mlp_equals_direct_recursion(name, dual, W, depth, b, rng):
    net = A.mlp(depth, name, W_std=W, b_std=b)
    t = np.concatenate([rng.uniform(-1, 1, 40), [-1.0, 0.0, 1.0]])
    sigma, theta = direct_mlp(t, depth, dual, W, b)
    np.testing.assert_allclose(net.nngp(t), sigma, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(net.ntk(t), theta, rtol=1e-12, atol=1e-15)
    # and through raw inputs with exactly unit variance (hypercube, n0 = 8: t in {k/8})
    X = rng.choice([-1.0, 1.0], (5, 1, 8))
    tt = patch_correlations(X, X)[..., 0]
    np.testing.assert_allclose(net.kernel_fn(X, kind="ntk"), direct_mlp(tt, depth, dual, W, b)[1], rtol=1e-12)


def test_mlp_depth_zero_is_linear(rng):
    net = A.mlp(0, "relu", W_std=2.0, b_std=1.0)
    t = rng.uniform(-1, 1, 5)
    np.testing.assert_allclose(net.nngp(t), 4 * t + 1, rtol=1e-15)
    np.testing.assert_allclose(net.ntk(t), 4 * t + 1, rtol=1e-15)
    assert net.nngp_expr() == 4 * A.t + 1


def test_mlp_accepts_activation_objects_and_layers():
    assert A.mlp(2, A.Relu()) == A.mlp(2, "relu")
    assert A.mlp(2, A.Relu().activation) == A.mlp(2, "relu")
    assert A.mlp(1, "relu").activation.name == "relu"
    assert A.mlp(2, "relu").layers == A.serial(A.Dense(), A.Relu(), A.Dense(), A.Relu(), A.Dense()).layers


@pytest.mark.parametrize("name", ["relu", "erf", "sin"])
@pytest.mark.parametrize("depth, b", [(1, 0.0), (3, 0.3)])
def test_mlp_closed_forms_match_numeric(name, depth, b, rng):
    net = A.mlp(depth, name, W_std=1.25, b_std=b)
    nngp, ntk = net.nngp_expr(), net.ntk_expr()
    assert nngp.free_symbols == {A.t} and ntk.free_symbols == {A.t}
    for tv in list(rng.uniform(-0.99, 0.99, 4)) + [0.0]:
        assert float(nngp.subs(A.t, tv).evalf(30)) == pytest.approx(float(net.nngp(tv)), rel=1e-12)
        assert float(ntk.subs(A.t, tv).evalf(30)) == pytest.approx(float(net.ntk(tv)), rel=1e-12)


def test_mlp_expr_exact_values():
    # one hidden ReLU layer, W = 1, b = 0: NNGP(1) = 1/2, NNGP(0) = 1/(2 pi); NTK(1) = 1
    net = A.mlp(1, "relu")
    assert sympy.simplify(net.nngp_expr().subs(A.t, 1)) == sympy.Rational(1, 2)
    assert sympy.simplify(net.nngp_expr().subs(A.t, 0) - 1 / (2 * sympy.pi)) == 0
    assert sympy.simplify(net.ntk_expr().subs(A.t, 1)) == 1
    assert A.mlp(2, "tanh").nngp_expr() is None and A.mlp(2, "tanh").ntk_expr() is None


# ==========================================================================
# hypothesis laws
# ==========================================================================

ACTS = {"relu": A.Relu, "erf": A.Erf, "abs": A.Abs, "leaky": lambda: A.LeakyRelu(0.3)}


@st.composite
def architectures(draw, dense_first=False, pooling=True):
    """(net, d): random MLPs, CNNs (VALID/CIRCULAR, overlap or not), residual blocks, Flatten/GAP readouts."""
    act = ACTS[draw(st.sampled_from(sorted(ACTS)))]
    W = draw(st.floats(0.6, 1.8))
    b = draw(st.sampled_from([0.0, 0.25]))
    readout = A.GlobalAvgPool() if pooling and draw(st.booleans()) else A.Flatten()
    shape = "dense" if dense_first else draw(st.sampled_from(["mlp", "cnn", "residual"]))
    if shape == "mlp":
        return A.mlp(draw(st.integers(1, 3)), act(), W, b), 1
    d = draw(st.integers(2, 6))
    if shape == "dense":
        layers = [A.Dense(W, b), act(), A.Dense(W, b), act(), readout, A.Dense(W, b)]
        return A.serial(*layers), d
    padding = draw(st.sampled_from(["VALID", "CIRCULAR"]))
    q = draw(st.integers(1, d))
    s = draw(st.integers(1, q))
    conv = A.Conv(q, stride=s, padding=padding, W_std=W, b_std=b)
    if shape == "cnn":
        return A.serial(conv, act(), readout, A.Dense(W, b), act(), A.Dense(W, b)), d
    block = A.serial(A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), A.Dense(W, b))), A.FanInSum())
    return A.serial(conv, block, act(), readout, A.Dense(W, b)), d


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
