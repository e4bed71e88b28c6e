"""The fast Gram engine (eigencalc.kernel.fast_gram) against its references.

The reference is the numpy twin ``gram_numpy`` (the interpreter
``eigencalc.kernel.reference.run_program``): the fast engine must equal it to
1e-13 relative on random tree / overlapping / circular / residual CNNs and MLPs,
NNGP and NTK, with activations whose closed forms are vectorised (ReLU family,
step) and the other jitted closed forms (erf, sin, cos, exp, polynomials).
Programs outside its preconditions (position pairs, activations without a
jitted closed form, padding entries, other parameterizations) must fall back
to the op-table interpreter, with the same numbers.  No timings here:
``benchmarks/bench_gram.py``.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eigencalc import architectures as A
from eigencalc.kernel import engine as engine_impl
from eigencalc.kernel import fast_gram as fg
from eigencalc.kernel.compiler import Program, compile_network

HYP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Activations the fast engine runs: vectorised closed forms first, then the element-wise ones.
FAST_ACTS = {
    "relu": A.Relu,
    "leaky": lambda: A.LeakyRelu(0.3),
    "abs": A.Abs,
    "step": A.Step,
    "erf": A.Erf,
    "sin": A.Sin,
    "cos": A.Cos,
    "exp": A.Exp,
    "monomial": lambda: A.Monomial(2),
    "poly": lambda: A.Polynomial([0.1, 1.0, 0.3]),
}


def assert_equal_to_twin(G, R, rtol=1e-13):
    """|G - R| <= rtol |R| entrywise, or <= rtol * max|R| for entries that are themselves near zero (cancellation)."""
    scale = np.maximum(np.abs(R), 1e-3 * np.abs(R).max())
    err = np.abs(G - R) / scale
    assert np.all(np.isfinite(G) == np.isfinite(R))
    fin = np.isfinite(R)
    assert err[fin].max(initial=0.0) <= rtol, err[fin].max()


@st.composite
def fast_networks(draw):
    """(net, d, activation name): random pooling-free nets of the shapes the fast engine accepts."""
    name = draw(st.sampled_from(sorted(FAST_ACTS)))
    act = FAST_ACTS[name]
    W = draw(st.floats(0.6, 1.6))
    b = draw(st.sampled_from([0.0, 0.3]))
    if name in ("exp", "monomial", "poly"):  # kernels that grow fast when composed: keep the variances small
        W, b = 0.5, 0.0
    shape = draw(st.sampled_from(["mlp", "tree", "overlap", "circular", "residual", "subsample"]))
    if shape == "mlp":
        depth = draw(st.integers(1, 3))
        layers = [A.Flatten()]
        for _ in range(depth):
            layers += [A.Dense(W, b), act()]
        return A.serial(*layers, A.Dense(W, b)), draw(st.integers(1, 4)), name
    if shape == "tree":
        q1, q2 = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        net = A.serial(A.Conv(q1, stride=q1, W_std=W, b_std=b), act(), A.Conv(q2, stride=q2, b_std=b), act(), A.Flatten(), A.Dense(W, b))
        return net, q1 * q2 * draw(st.integers(1, 2)), name
    d = draw(st.integers(4, 7))
    padding = "CIRCULAR" if shape == "circular" else "VALID"
    if shape in ("overlap", "circular"):
        q = draw(st.integers(2, 3))
        s = draw(st.integers(1, 2))
        conv = A.Conv(q, stride=s, padding=padding, W_std=W, b_std=b)
        return A.serial(conv, act(), A.Conv(1, W_std=W, b_std=b), act(), A.Flatten(), A.Dense(W, b)), d, name
    if shape == "subsample":  # AvgPool of one-position windows: a copy of every other position
        return A.serial(A.Conv(2, W_std=W, b_std=b), act(), A.AvgPool(1, stride=2), A.Flatten(), A.Dense(W, b)), d, name
    block = A.serial(A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), A.Conv(3, padding="CIRCULAR", W_std=W, b_std=b))), A.FanInSum())
    return A.serial(A.Conv(2, W_std=W, b_std=b), block, act(), A.Flatten(), A.Dense(W, b)), d, name


def _inputs(seed, N, d, n0, M=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d, n0))
    return X, (None if M is None else rng.standard_normal((M, d, n0)))


# ==========================================================================
# The branch-free arc-cosine
# ==========================================================================


def test_acos_is_within_one_ulp_of_libm_and_exact_at_the_ends():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 200_000), np.linspace(-1, 1, 20_001), 1 - np.logspace(-16, -1, 500),
                        -1 + np.logspace(-16, -1, 500), [0.5, -0.5, np.nextafter(0.5, 0), np.nextafter(-0.5, 0), 0.0, -0.0]])
    out = np.empty_like(x)
    fg._acos_values(x, out)
    ref = np.arccos(x)
    assert np.all(np.abs(out - ref) <= np.spacing(ref))  # one ulp of the result
    ends = np.empty(2)
    fg._acos_values(np.array([1.0, -1.0]), ends)
    assert ends[0] == 0.0 and ends[1] == np.pi


# ==========================================================================
# Preconditions and fall-back
# ==========================================================================


def test_plan_accepts_pooling_free_programs():
    for net, d in [(A.serial(A.Conv(4, stride=4), A.Relu(), A.Conv(2, stride=2), A.Relu(), A.Flatten(), A.Dense()), 8),
                   (A.mlp(2, "erf"), 1),
                   (A.serial(A.Conv(3, padding="CIRCULAR"), A.Relu(), A.Flatten(), A.Dense()), 5)]:
        program = compile_network(net, d)
        assert fg.unsupported_reason(program) is None
        assert fg.fast_plan(program) is not None


@pytest.mark.parametrize(
    "net, d, reason",
    [
        (A.serial(A.Conv(2), A.Relu(), A.GlobalAvgPool(), A.Dense()), 4, "position pairs"),
        (A.serial(A.Conv(1), A.Relu(), A.AvgPool(2), A.Flatten(), A.Dense()), 4, "position pairs"),
        (A.serial(A.Conv(2), A.Tanh(), A.Flatten(), A.Dense()), 4, "no jitted closed form for tanh"),
    ],
)
def test_plan_rejects_and_names_the_reason(net, d, reason):
    program = compile_network(net, d)
    assert reason in fg.unsupported_reason(program)
    assert fg.fast_plan(program) is None


class _StandardDense:
    """An affine layer of a future kind (standard parameterization), as another engineer may add."""

    w_var, b_var, parameterization = 1.0, 0.0, "standard"


def _with_step(program: Program, k: int, **changes) -> Program:
    steps = list(program.steps)
    steps[k] = dataclasses.replace(steps[k], **changes)
    return Program(program.d, tuple(steps), program.output, program.full)


def test_plan_rejects_padding_entries_and_other_parameterizations():
    program = compile_network(A.serial(A.Conv(3), A.Relu(), A.Flatten(), A.Dense()), 5)
    padded = np.array(program.steps[0].index)
    padded[0, 0] = -1  # SAME padding: a zero contributes to the window sum but counts in 1/q
    assert "padding" in fg.unsupported_reason(_with_step(program, 0, index=padded))
    assert "parameterization 'standard'" in fg.unsupported_reason(_with_step(program, 0, layer=_StandardDense()))
    assert fg.fast_plan(_with_step(program, 0, index=padded)) is None
    unknown = _with_step(program, 2, op="conv2d-readout")  # an op this engine does not know
    assert "not in the fast engine" in fg.unsupported_reason(unknown)


@pytest.fixture
def fast_calls(monkeypatch):
    """Count the calls of the fast engine (it still runs)."""
    calls = []
    real = fg.gram_fast

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(fg, "gram_fast", spy)
    return calls


def test_dispatch_uses_the_fast_engine_when_supported(fast_calls):
    net = A.serial(A.Conv(2, stride=2), A.Relu(), A.Conv(2, stride=2), A.Relu(), A.Flatten(), A.Dense())
    X, Y = _inputs(1, 40, 4, 3, M=30)
    G = engine_impl.gram(net, X, Y, kind="ntk")
    K = engine_impl.kernel_fn(net, X, kind="ntk", engine="numba")
    assert len(fast_calls) == 2
    assert_equal_to_twin(G, engine_impl.gram_numpy(net, X, Y, kind="ntk"))
    assert_equal_to_twin(K, engine_impl.gram_numpy(net, X, kind="ntk"))
    engine_impl.kernel_pairs(net, X, X[::-1], "ntk", engine="numba")  # paired inputs keep the interpreter
    assert len(fast_calls) == 2


@pytest.mark.parametrize(
    "net",
    [
        A.serial(A.Conv(2, padding="CIRCULAR"), A.Relu(), A.GlobalAvgPool(), A.Dense()),
        A.serial(A.Conv(1), A.Erf(), A.AvgPool(2), A.Flatten(), A.Dense()),
    ],
)
def test_unsupported_programs_fall_back_to_the_interpreter(net, fast_calls):
    X, Y = _inputs(2, 12, 4, 3, M=9)
    for kind in ("nngp", "ntk"):
        G = engine_impl.gram(net, X, Y, kind=kind, engine="numba")
        assert_equal_to_twin(G, engine_impl.gram_numpy(net, X, Y, kind=kind))
    assert fast_calls == []


# ==========================================================================
# Equal to the numpy twin
# ==========================================================================


@HYP
@given(case=fast_networks(), seed=st.integers(0, 2**16), n0=st.integers(2, 5), kind=st.sampled_from(["nngp", "ntk"]),
       symmetric=st.booleans())
def test_fast_gram_equals_the_numpy_twin(case, seed, n0, kind, symmetric):
    net, d, name = case
    if name == "step" and kind == "ntk" and symmetric:
        kind = "nngp"  # the step NTK is infinite at x = y (E[delta(u) delta(v)] at rho = 1)
    X, Y = _inputs(seed, 9, d, n0, M=None if symmetric else 7)
    program = compile_network(net, d)
    assert fg.fast_plan(program) is not None
    G = engine_impl.gram(net, X, Y, kind=kind, engine="numba")
    assert_equal_to_twin(G, engine_impl.gram_numpy(net, X, Y, kind=kind))
    if symmetric:
        assert np.array_equal(G, G.T)


def test_larger_gram_equals_the_twin_entrywise_with_several_tiles(rng):
    """N = 300 inputs (several tiles per row, a partial last block), tree CNN and MLP, both kinds."""
    from eigencalc import numerics as nm
    from eigencalc.domains import ProductSphere

    X = nm.sample(ProductSphere(16, 4), 300, seed=3)
    Y = nm.sample(ProductSphere(16, 4), 133, seed=4)
    tree = A.serial(A.Conv(4, stride=4), A.Relu(), A.Conv(2, stride=2), A.Relu(), A.Conv(2, stride=2), A.Relu(), A.Flatten(), A.Dense())
    mlp = A.serial(A.Flatten(), A.Dense(1.2, 0.1), A.Relu(), A.Dense(1.2, 0.1), A.Relu(), A.Dense())
    for net in (tree, mlp):
        for kind in ("nngp", "ntk"):
            G = engine_impl.gram(net, X, kind=kind)
            R = engine_impl.gram_numpy(net, X, kind=kind)
            assert np.max(np.abs(G - R) / np.abs(R)) <= 1e-13
            assert np.array_equal(G, G.T)
            GY = engine_impl.gram(net, X, Y, kind=kind)
            assert np.max(np.abs(GY - engine_impl.gram_numpy(net, X, Y, kind=kind)) / np.abs(GY)) <= 1e-13


def test_result_does_not_depend_on_threads_tiles_or_symmetry(monkeypatch):
    net = A.serial(A.Conv(3), A.LeakyRelu(0.2), A.Conv(2, stride=2), A.Erf(), A.Flatten(), A.Dense(1.1, 0.2))
    X, _ = _inputs(5, 150, 7, 3)
    flat = engine_impl.op_table_of(net, 7)
    plan = fg.fast_plan(flat.program)
    V = engine_impl._self_variances_numba(flat, X, "X")
    base = fg.gram_fast(plan, X, X, V, V, True, True, parallel=True)
    assert np.array_equal(base, fg.gram_fast(plan, X, X, V, V, True, True, parallel=False))
    assert np.array_equal(base, fg.gram_fast(plan, X, X, V, V, True, False, parallel=True))  # all pairs, not mirrored
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert np.array_equal(base, fg.gram_fast(plan, X, X, V, V, True, True, parallel=True))
    finally:
        numba.set_num_threads(threads)
    monkeypatch.setattr(fg, "TILE", 8)
    assert np.array_equal(base, fg.gram_fast(plan, X, X, V, V, True, True, parallel=True, block=64))


def test_input_errors_are_those_of_the_interpreter():
    net = A.serial(A.Conv(2, stride=2), A.Relu(), A.Flatten(), A.Dense())
    X = np.ones((3, 4, 2))
    X[1, :2] = 0.0  # the first window of input 1 is all zero
    with pytest.raises(ValueError, match=r"input X\[1\] has variance 0"):
        engine_impl.gram(net, X, kind="ntk")


def test_unsupported_activation_still_warns_and_uses_numpy():
    net = A.serial(A.Conv(2, stride=2), A.Tanh(), A.Flatten(), A.Dense())
    X, _ = _inputs(7, 6, 4, 2)
    with pytest.warns(engine_impl.NumbaFallbackWarning):
        G = engine_impl.gram(net, X, kind="ntk")
    assert_equal_to_twin(G, engine_impl.gram_numpy(net, X, kind="ntk"))

