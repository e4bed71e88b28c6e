"""2-D convolutional networks (issue 13): window geometry, kernels on (N, H, W, n0) inputs, standard parameterization, errors.

Tolerances.  numba and the numpy reference run the same op sequence in float64,
but the numba interpreter sums windows and pairs in its own order, so they agree
to rounding: 1e-13 relative to the largest entry (a few hundred ulps of depth-3
networks).  Where two programs are *identical* (a 2-D net on a (1, W) grid and
its 1-D twin, the NNGP in two parameterizations) the results are compared
bitwise.  Grid transposition reorders the positions, so sums change order:
1e-13 again.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eigencalc as ec
from eigencalc import architectures as A
from eigencalc.kernel.compiler import InputWidthRequired, compile_network, window_indices

PADDINGS = ("VALID", "SAME", "CIRCULAR")
REL = 1e-13


def _close(a, b, rel=REL):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(np.max(np.abs(b)), 1e-300)
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) <= rel * scale, np.max(np.abs(a - b)) / scale


# ==========================================================================
# window_indices: worked examples and a brute-force definition
# ==========================================================================


def _brute_windows(shape, filt, strides, padding):
    """The definition, one output and one tap at a time (stax / lax.conv_general_dilated padding rules).

    VALID: outputs floor((P - q)/s) + 1, coordinate o s + a.  SAME / CIRCULAR:
    outputs ceil(P/s), total padding T = max((out - 1) s + q - P, 0), T // 2 of
    it before; SAME reads a zero (-1) outside [0, P), CIRCULAR wraps mod P.
    """
    outs, lefts = [], []
    for P, q, s in zip(shape, filt, strides):
        if padding == "VALID":
            outs.append((P - q) // s + 1)
            lefts.append(0)
        else:
            n = math.ceil(P / s)
            outs.append(n)
            lefts.append(max((n - 1) * s + q - P, 0) // 2)
    rows = []
    for o in itertools.product(*map(range, outs)):
        row = []
        for a in itertools.product(*map(range, filt)):
            coords = [ok * s + ak - left for ok, ak, s, left in zip(o, a, strides, lefts)]
            if padding == "CIRCULAR":
                coords = [c % P for c, P in zip(coords, shape)]
            if all(0 <= c < P for c, P in zip(coords, shape)):
                row.append(int(np.ravel_multi_index(coords, shape)))
            else:
                row.append(-1)
        rows.append(row)
    return rows, tuple(outs)


@pytest.mark.parametrize(
    "shape,filt,strides,padding,out,rows",
    [
        # 3x4 grid, a 2x3 filter: taps row-major (0,0),(0,1),(0,2),(1,0),(1,1),(1,2)
        ((3, 4), (2, 3), (1, 1), "VALID", (2, 2), [[0, 1, 2, 4, 5, 6], [1, 2, 3, 5, 6, 7], [4, 5, 6, 8, 9, 10], [5, 6, 7, 9, 10, 11]]),
        # the tree: 4x4, 2x2 stride 2 -> four disjoint 2x2 blocks
        ((4, 4), (2, 2), (2, 2), "VALID", (2, 2), [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]),
        # SAME on 3x3, 2x2: total padding 1 per axis, all of it after
        ((3, 3), (2, 2), (1, 1), "SAME", (3, 3),
         [[0, 1, 3, 4], [1, 2, 4, 5], [2, -1, 5, -1], [3, 4, 6, 7], [4, 5, 7, 8], [5, -1, 8, -1], [6, 7, -1, -1],
          [7, 8, -1, -1], [8, -1, -1, -1]]),
        # SAME on a row of 5, q = 4, s = 2: 3 outputs, total padding 3 -> 1 before, 2 after
        ((5,), (4,), (2,), "SAME", (3,), [[-1, 0, 1, 2], [1, 2, 3, 4], [3, 4, -1, -1]]),
        # CIRCULAR on 2x3, filter (3, 1), stride (1, 2): axis 0 wraps twice-read rows, axis 1 picks columns 0 and 2
        ((2, 3), (3, 1), (1, 2), "CIRCULAR", (2, 2), [[3, 0, 3], [5, 2, 5], [0, 3, 0], [2, 5, 2]]),
        # an asymmetric 1x3 SAME filter with stride (2, 1) on 3x3
        ((3, 3), (1, 3), (2, 1), "SAME", (2, 3), [[-1, 0, 1], [0, 1, 2], [1, 2, -1], [-1, 6, 7], [6, 7, 8], [7, 8, -1]]),
    ],
)
def test_window_indices_worked_examples(shape, filt, strides, padding, out, rows):
    index, out_shape = window_indices(shape, filt, strides, padding)
    assert out_shape == out
    assert index.tolist() == rows
    assert (index.tolist(), out_shape) == _brute_windows(shape, filt, strides, padding)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3)), min_size=1, max_size=3),
    st.sampled_from(PADDINGS),
)
def test_window_indices_equal_the_brute_force_definition(axes, padding):
    shape = tuple(P for P, _, _ in axes)
    filt = tuple(q if padding == "SAME" else min(q, P) for P, q, _ in axes)
    strides = tuple(s for _, _, s in axes)
    index, out_shape = window_indices(shape, filt, strides, padding)
    rows, outs = _brute_windows(shape, filt, strides, padding)
    assert out_shape == outs and index.tolist() == rows
    assert index.dtype == np.int64 and index.shape == (math.prod(outs), math.prod(filt))
    if padding != "SAME":
        assert index.min() >= 0


# ==========================================================================
# 2-D kernels: numba == numpy reference
# ==========================================================================


def _random_net(rng, grid, standard=False):
    """A random 2-D network that fits ``grid``: convs (any padding, strides), AvgPool, residual blocks, Flatten/GAP."""
    shape = list(grid)
    C = int(rng.integers(2, 6))

    def kwargs():
        kw = {"W_std": float(rng.uniform(0.7, 1.5))}
        if rng.random() < 0.6:
            kw["b_std"] = float(rng.uniform(0, 0.5))
        if standard:
            kw.update(parameterization="standard", out_chan=C)
        return kw

    def geometry(keep):
        nonlocal shape
        padding = str(rng.choice(PADDINGS[1:] if keep else PADDINGS))
        q = [int(rng.integers(1, min(3, P + (padding == "SAME")) + 1)) for P in shape]
        s = [1 if keep else int(rng.integers(1, 3)) for _ in shape]
        shape = [(P - qk) // sk + 1 if padding == "VALID" else -(-P // sk) for P, qk, sk in zip(shape, q, s)]
        return tuple(q), tuple(s), padding

    def conv(keep=False):
        q, s, padding = geometry(keep)
        return A.Conv(q, stride=s, padding=padding, **kwargs())

    act = lambda: A.Relu() if rng.random() < 0.6 else A.Erf()  # noqa: E731
    layers = [conv()]
    for _ in range(int(rng.integers(1, 3))):
        if rng.random() < 0.3:
            layers += [A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), conv(keep=True))), A.FanInSum()]
        layers.append(act())
        if rng.random() < 0.4:
            q, s, padding = geometry(False)
            layers.append(A.AvgPool(q, stride=s, padding=padding))
        layers.append(conv())
    layers += [act(), A.Flatten() if rng.random() < 0.5 else A.GlobalAvgPool(), A.Dense(**kwargs())]
    return A.serial(*layers)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_numba_equals_numpy_on_random_2d_nets(seed, kind):
    rng = np.random.default_rng([2, seed])
    grid = tuple(int(g) for g in rng.integers(2, 6, size=2))
    n0 = int(rng.integers(1, 4))
    net = _random_net(rng, grid, standard=bool(seed % 3 == 2))
    X = rng.standard_normal((6, *grid, n0))
    Y = rng.standard_normal((5, *grid, n0))
    for other in (Y, None):
        ref = net.kernel_fn(X, other, kind, engine="numpy")
        fast = net.kernel_fn(X, other, kind, engine="numba")
        _close(fast, ref)
        assert np.all(np.isfinite(ref)) and np.max(np.abs(ref)) > 0


@pytest.mark.parametrize("padding", PADDINGS)
def test_numba_equals_numpy_same_avgpool_gap(padding):
    net = A.serial(A.Conv((3, 2), padding=padding, b_std=0.2), A.Relu(), A.AvgPool((2, 2), stride=(1, 2), padding=padding),
                   A.Conv((2, 2), padding=padding), A.Erf(), A.GlobalAvgPool(), A.Dense(b_std=0.1))
    X = ec.ProductSphere((5, 6), 3).sample(7, seed=1)
    for kind in ("nngp", "ntk"):
        _close(net.kernel_fn(X, None, kind, engine="numba"), net.kernel_fn(X, None, kind, engine="numpy"))


# ==========================================================================
# A 2-D net on a (1, W) or (H, 1) grid is the 1-D net
# ==========================================================================


def _twin(layers_1d, axis):
    """The 2-D twin of a 1-D layer list: every window q becomes (1, q) (axis 1) or (q, 1) (axis 0)."""
    def lift(v):
        return (1, v) if axis == 1 else (v, 1)

    out = []
    for layer in layers_1d:
        if isinstance(layer, A.Conv):
            out.append(A.Conv(lift(layer.filter_size), stride=lift(layer.stride), padding=layer.padding, W_std=layer.W_std,
                              b_std=layer.b_std if layer.has_bias else None, parameterization=layer.parameterization,
                              out_chan=layer.out_chan))
        elif isinstance(layer, A.AvgPool):
            out.append(A.AvgPool(lift(layer.window), stride=lift(layer.stride), padding=layer.padding))
        else:
            out.append(layer)
    return out


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("readout", ["flatten", "gap"])
@pytest.mark.parametrize("axis", [0, 1])
def test_a_row_grid_is_the_1d_net(padding, readout, axis):
    layers = [A.Conv(3, stride=1, padding=padding, W_std=1.3, b_std=0.2), A.Relu(), A.AvgPool(2, stride=1, padding=padding),
              A.Conv(2, stride=2, padding=padding), A.Erf(), A.Flatten() if readout == "flatten" else A.GlobalAvgPool(),
              A.Dense(b_std=0.1)]
    net1, net2 = A.serial(*layers), A.serial(*_twin(layers, axis))
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((5, 7, 3)), rng.standard_normal((4, 7, 3))
    lift = (lambda Z: Z[:, None]) if axis == 1 else (lambda Z: Z[:, :, None])
    for kind in ("nngp", "ntk"):
        for engine in ("numpy", "numba"):
            one = net1.kernel_fn(X, Y, kind, engine=engine)
            two = net2.kernel_fn(lift(X), lift(Y), kind, engine=engine)
            np.testing.assert_array_equal(two, one)  # the same program: flat positions, windows and steps coincide
    p1, p2 = compile_network(net1, 7), compile_network(net2, (1, 7) if axis == 1 else (7, 1))
    assert [s.index.tolist() for s in p1.steps if s.index is not None] == [s.index.tolist() for s in p2.steps if s.index is not None]


# ==========================================================================
# Trees: filter (q, q), stride q on a (q^k, q^k) grid
# ==========================================================================


@pytest.mark.parametrize("q,k", [(2, 1), (2, 2), (2, 3), (3, 2)])
def test_stride_q_filters_make_a_tree(q, k):
    side = q**k
    net = A.serial(*[layer for _ in range(k) for layer in (A.Conv((q, q), stride=q), A.Relu())], A.Flatten(), A.Dense())
    dag = net.dag((side, side))
    affine = [layer for layer in dag.layers if layer.op == "affine"][:k]
    assert len(affine) == k
    for level, layer in enumerate(affine, start=1):
        fields = [dag.receptive_field(u) for u in layer.nodes]
        assert len(fields) == (side // q**level) ** 2
        assert all(len(f) == q ** (2 * level) for f in fields)  # a (q^level)^2 block of patches
        assert sum(map(len, fields)) == side * side and frozenset().union(*fields) == frozenset(dag.leaves)  # disjoint cover
        # each block is a square of the grid, row-major
        for f in fields:
            rows, cols = np.unravel_index(sorted(f), (side, side))
            assert rows.max() - rows.min() + 1 == q**level and cols.max() - cols.min() + 1 == q**level
    assert all(len(dag.parents(u)) <= 1 for u in range(len(dag.nodes)))
    from eigencalc.spectral.tree import is_tree

    assert is_tree(dag)
    # an overlapping filter (stride 1) is not a tree
    assert not is_tree(A.serial(A.Conv((q, q)), A.Relu(), A.Flatten(), A.Dense()).dag((side, side))) or side == q


# ==========================================================================
# Laws: PSD, symmetry, grid transposition with symmetric filters
# ==========================================================================


@st.composite
def _square_net(draw):
    H, W = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    padding = draw(st.sampled_from(PADDINGS))
    small = min(H, W)
    q1 = draw(st.integers(1, small if padding != "SAME" else 3))
    s1 = draw(st.integers(1, 2))
    out = [(P - q1) // s1 + 1 if padding == "VALID" else -(-P // s1) for P in (H, W)]
    q2 = draw(st.integers(1, min(out) if padding != "SAME" else 2))
    readout = draw(st.sampled_from([A.Flatten(), A.GlobalAvgPool()]))
    pool = draw(st.booleans())
    layers = [A.Conv((q1, q1), stride=(s1, s1), padding=padding, W_std=1.2, b_std=0.3), A.Relu()]
    if pool:
        layers += [A.AvgPool((1, 1)), A.Conv((q2, q2), padding=padding), A.Erf()]
    layers += [readout, A.Dense(b_std=0.1)]
    return A.serial(*layers), (H, W), draw(st.integers(1, 3)), draw(st.integers(0, 2**31 - 1))


@settings(max_examples=25, deadline=None)
@given(_square_net(), st.sampled_from(["nngp", "ntk"]))
def test_psd_symmetry_and_transposition(case, kind):
    net, (H, W), n0, seed = case
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((6, H, W, n0)), rng.standard_normal((4, H, W, n0))
    K = net.kernel_fn(X, None, kind, engine="numpy")
    np.testing.assert_array_equal(K, K.T)
    assert np.linalg.eigvalsh(K).min() >= -1e-12 * np.trace(K)
    KXY = net.kernel_fn(X, Y, kind, engine="numpy")
    _close(net.kernel_fn(Y, X, kind, engine="numpy").T, KXY)
    # transposing every input grid (and the grid) leaves the kernel unchanged: square filters, same rule per axis
    T = lambda Z: np.ascontiguousarray(np.swapaxes(Z, 1, 2))  # noqa: E731
    _close(net.kernel_fn(T(X), T(Y), kind, engine="numpy"), KXY)


def test_transposition_fails_for_an_asymmetric_filter():
    """The law above can fail: a (1, 3) filter does not commute with transposing the grid."""
    net = A.serial(A.Conv((1, 3), padding="SAME", b_std=0.1), A.Relu(), A.Flatten(), A.Dense())
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal((3, 3, 3, 2))
    T = lambda Z: np.swapaxes(Z, 1, 2)  # noqa: E731
    K, KT = net.kernel_fn(X, Y, "nngp"), net.kernel_fn(T(X), T(Y), "nngp")
    assert np.max(np.abs(K - KT)) > 1e-3 * np.max(np.abs(K))


# ==========================================================================
# Standard parameterization
# ==========================================================================


def _pair(standard, C=(6, 4)):
    """The same 2-D architecture in both parameterizations."""
    extra = lambda c: {"parameterization": "standard", "out_chan": c} if standard else {}  # noqa: E731
    return A.serial(A.Conv((2, 2), padding="SAME", W_std=1.3, b_std=0.4, **extra(C[0])), A.Relu(),
                    A.Conv((3, 3), stride=2, padding="CIRCULAR", W_std=0.9, **extra(C[1])), A.Erf(), A.AvgPool((2, 1)),
                    A.Flatten(), A.Dense(W_std=1.1, b_std=0.2, **extra(1)))


def test_standard_nngp_equals_ntk_parameterization_nngp_exactly():
    X = ec.ProductSphere((4, 3), 2).sample(6, seed=0)
    for engine in ("numpy", "numba"):
        a = _pair(True).kernel_fn(X, None, "nngp", engine=engine)
        b = _pair(False).kernel_fn(X, None, "nngp", engine=engine)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(_pair(True).kernel_fn(X, None, "ntk", engine=engine), _pair(False).kernel_fn(X, None, "ntk", engine=engine))


def test_standard_ntk_of_one_dense_layer_is_the_gram_plus_bias():
    r"""First layer, standard: :math:`\Theta = n_0 \cdot \langle x, y\rangle/n_0 + [\text{bias}] = \langle x, y\rangle + 1`."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 1, 4)), rng.standard_normal((3, 1, 4))
    gram = X[:, 0] @ Y[:, 0].T
    with_bias = A.Dense(W_std=1.7, b_std=0.3, parameterization="standard")
    no_bias = A.Dense(W_std=1.7, parameterization="standard")
    _close(with_bias.kernel_fn(X, Y, "ntk"), gram + 1)
    _close(no_bias.kernel_fn(X, Y, "ntk"), gram)
    _close(with_bias.kernel_fn(X, Y, "nngp"), 1.7**2 * gram / 4 + 0.3**2)  # the NNGP is the NTK-param one


@pytest.mark.parametrize("C", [1, 3, 10])
def test_standard_ntk_two_layers_on_a_grid(C):
    r"""Conv (2, 2) covering a 2x2 grid, out_chan C, then Flatten and a standard readout (stax's formulas):

    .. math:: \Sigma_1 = \frac{W_1^2}{4}\sum_a \frac{\langle x_a, y_a\rangle}{n_0} + b_1^2,\quad
              \Theta_1 = \sum_a \langle x_a, y_a\rangle + 1,\quad
              \Theta_2 = W_2^2\,\Theta_1 + C\,\Sigma_1 + 1

    (fan-in ``n0 * 4`` in the conv, ``C * 1`` positions after Flatten in the readout); linear in C.
    """
    n0, W1, b1, W2 = 3, 1.3, 0.5, 0.8
    net = A.serial(A.Conv((2, 2), W_std=W1, b_std=b1, parameterization="standard", out_chan=C), A.Flatten(),
                   A.Dense(W_std=W2, b_std=0.0, parameterization="standard", out_chan=1))
    rng = np.random.default_rng(C)
    X, Y = rng.standard_normal((4, 2, 2, n0)), rng.standard_normal((3, 2, 2, n0))
    dots = np.einsum("nhwc,mhwc->nm", X, Y)
    sigma1 = W1**2 * dots / (4 * n0) + b1**2
    theta1 = dots + 1
    for engine in ("numpy", "numba"):
        _close(net.kernel_fn(X, Y, "ntk", engine=engine), W2**2 * theta1 + C * sigma1 + 1)
        _close(net.kernel_fn(X, Y, "nngp", engine=engine), W2**2 * sigma1)


def test_standard_kernel_of_correlations_with_n0():
    """kernel_of_correlations needs n0 for a standard first layer; with it, it matches kernel_fn on sphere inputs."""
    net = A.serial(A.Conv((2, 2), padding="SAME", W_std=1.3, b_std=0.4, parameterization="standard", out_chan=6), A.Relu(),
                   A.Conv((3, 3), stride=2, padding="CIRCULAR", parameterization="standard", out_chan=4), A.Erf(), A.Flatten(),
                   A.Dense(W_std=1.1, b_std=0.2, parameterization="standard"))
    dom = ec.ProductSphere((4, 3), 2)
    X, Y = dom.sample(3, seed=1), dom.sample(3, seed=2)
    t = np.einsum("nhwc,nhwc->nhw", X, Y) / 2
    pairs = np.array([net.kernel_fn(X[i:i + 1], Y[i:i + 1], "ntk")[0, 0] for i in range(3)])
    _close(net.kernel_of_correlations(t, "ntk", grid=(4, 3), n0=2), pairs, rel=1e-12)
    _close(net.kernel_of_correlations(t.reshape(3, 12), "ntk", grid=(4, 3), n0=2), pairs, rel=1e-12)


# ==========================================================================
# Errors: one clear message naming the layer and the sizes
# ==========================================================================


def _message(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "net,grid,words",
    [
        (A.serial(A.Conv((5, 5)), A.Relu(), A.Flatten(), A.Dense()), (4, 4), ["Conv((5, 5)", "net[0]", "filter (5, 5)", "grid 4x4", "VALID"]),
        (A.serial(A.Conv((2, 5), padding="CIRCULAR"), A.Relu(), A.Flatten(), A.Dense()), (4, 4),
         ["Conv((2, 5)", "filter (2, 5)", "larger than the grid 4x4", "CIRCULAR"]),
        (A.serial(A.Conv((2, 2), stride=2), A.Relu(), A.Conv((3, 3)), A.Relu(), A.Flatten(), A.Dense()), (4, 4),
         ["Conv((3, 3)", "net[2]", "grid 2x2", "after Relu() at net[1]"]),
        (A.serial(A.Conv((2, 2)), A.Relu(), A.AvgPool((4, 1)), A.Flatten(), A.Dense()), (4, 4),
         ["AvgPool((4, 1)", "net[2]", "window (4, 1)", "grid 3x3"]),
        (A.serial(A.Conv(2), A.Relu(), A.Flatten(), A.Dense()), (4, 4), ["Conv(2", "net[0]", "1-D filter 2", "2-D grid 4x4"]),
        (A.serial(A.Conv((2, 2)), A.Relu(), A.Flatten(), A.Dense()), 16, ["Conv((2, 2)", "2-D filter (2, 2)", "1-D grid 16"]),
        (A.serial(A.Conv((2, 2)), A.Relu(), A.AvgPool(2), A.Flatten(), A.Dense()), (4, 4), ["AvgPool(2", "1-D window 2", "2-D grid 3x3"]),
        (A.serial(A.Conv((2, 2)), A.Relu(), A.Flatten(), A.Conv((1, 1)), A.Dense()), (4, 4), ["Conv((1, 1)", "no positions left"]),
    ],
)
def test_compile_errors_name_the_layer_and_sizes(net, grid, words):
    with pytest.raises(ValueError) as info:
        compile_network(net, grid)
    message = _message(info)
    for word in words:
        assert word in message, (word, message)


def test_mismatched_input_rank_is_the_compile_error():
    """Inputs (N, d, n0) for a 2-D filter net, or (N, H, W, n0) for a 1-D one: the compiler's message, through kernel_fn."""
    net2 = A.serial(A.Conv((2, 2)), A.Relu(), A.Flatten(), A.Dense())
    with pytest.raises(ValueError) as info:
        net2.kernel_fn(np.ones((3, 16, 2)), None, "nngp")
    assert all(w in _message(info) for w in ("Conv((2, 2)", "2-D filter (2, 2)", "1-D grid 16"))
    net1 = A.serial(A.Conv(2), A.Relu(), A.Flatten(), A.Dense())
    with pytest.raises(ValueError) as info:
        net1.kernel_fn(np.ones((3, 4, 4, 2)), None, "ntk")
    assert all(w in _message(info) for w in ("Conv(2", "1-D filter 2", "2-D grid 4x4"))


def test_a_1d_filter_on_a_2d_domain():
    net = A.serial(A.Conv(2, stride=2), A.Relu(), A.Flatten(), A.Dense())
    with pytest.raises(ValueError) as info:
        ec.spectrum(net, ec.ProductSphere((4, 4), 2), "ntk", 1)
    assert all(w in _message(info) for w in ("Conv(2", "1-D filter 2", "2-D grid 4x4"))


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda: A.Conv((2, 2), stride=0), ["Conv(filter_size=(2, 2)", "stride", ">= 1", "0"]),
        (lambda: A.Conv((2, 2), stride=(1, 0)), ["stride[1]", ">= 1"]),
        (lambda: A.Conv((2, 0)), ["filter_size[1]", ">= 1"]),
        (lambda: A.Conv(0), ["filter_size", ">= 1"]),
        (lambda: A.Conv((2, 2), stride=(1, 2, 1)), ["stride (1, 2, 1)", "3 axes", "filter has 2"]),
        (lambda: A.Conv((2, 2, 2), stride=(1, 2)), ["stride (1, 2)", "2 axes", "filter has 3"]),
        (lambda: A.AvgPool((2, 2), stride=(1,)), ["AvgPool((2, 2))", "stride (1,)", "1 axes", "has 2"]),
        (lambda: A.AvgPool((2, 2), stride=0), ["AvgPool", "stride", ">= 1"]),
        (lambda: A.Conv(()), ["filter_size", "at least one axis"]),
        (lambda: A.Conv((2, 2), parameterization="mup"), ["parameterization", "'mup'"]),
        (lambda: A.Dense(out_chan=0), ["Dense", "out_chan", ">= 1"]),
        (lambda: A.Conv((2, 2), padding="REFLECT"), ["padding", "REFLECT"]),
    ],
)
def test_constructor_errors(make, words):
    with pytest.raises(ValueError) as info:
        make()
    message = _message(info)
    for word in words:
        assert word in message, (word, message)


def test_standard_needs_out_chan_of_the_layer_before():
    net = A.serial(A.Conv((2, 2), parameterization="standard"), A.Relu(), A.Conv((2, 2), parameterization="standard", out_chan=3),
                   A.Relu(), A.Flatten(), A.Dense(parameterization="standard"))
    with pytest.raises(ValueError) as info:
        compile_network(net, (4, 4), 2)
    message = _message(info)
    for word in ("net[2]", "parameterization='standard'", "channel count", "Relu() at net[1]", "out_chan"):
        assert word in message, (word, message)
    # and the readout after Flatten needs it too
    net = A.serial(A.Conv((2, 2), parameterization="standard", out_chan=3), A.Relu(),
                   A.Conv((2, 2), parameterization="standard"), A.Relu(), A.Flatten(), A.Dense(parameterization="standard"))
    with pytest.raises(ValueError, match=r"net\[5\].*channel count.*out_chan"):
        compile_network(net, (4, 4), 2)


def test_standard_first_layer_without_n0():
    net = A.serial(A.Conv((2, 2), parameterization="standard", out_chan=3), A.Relu(), A.Flatten(),
                   A.Dense(parameterization="standard"))
    t = np.full((2, 3, 3), 0.5)
    with pytest.raises(InputWidthRequired) as info:
        net.kernel_of_correlations(t, "ntk", grid=(3, 3))
    message = _message(info)
    for word in ("Conv((2, 2)", "net[0]", "parameterization='standard'", "n0"):
        assert word in message, (word, message)
    assert np.all(np.isfinite(net.kernel_of_correlations(t, "ntk", grid=(3, 3), n0=4)))
    # a first layer in the NTK parameterization reads no n0
    ntk = A.serial(A.Conv((2, 2)), A.Relu(), A.Flatten(), A.Dense())
    assert ntk.kernel_of_correlations(t, "ntk", grid=(3, 3)).shape == (2,)
