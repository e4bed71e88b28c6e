"""Peer check: ``Layer.kernel_fn`` against neural-tangents ``stax`` (float64).

Run with ``make crosscheck`` (it builds ``.venv-nt`` with jax 0.4.30 and
neural-tangents 0.6.5); skipped wherever neural_tangents is not importable.

Tolerances.  Off-diagonal pairs of distinct inputs agree to 1e-12 relative.
On the diagonal (x = x') stax's ReLU NTK loses about 1e-8 relative (its
arccos-based formulas are ill-conditioned at correlation 1, and it stabilises
them), so the diagonal is compared at 1e-7.

Besides the named cases, seeded random architectures (issue 13) run on 2-D
inputs ``(N, H, W, n0)`` and on 1-D ones: VALID / SAME / CIRCULAR, strides,
overlapping filters, AvgPool, biases, residual branches, Flatten or
GlobalAvgPool readouts, NTK and standard parameterization (every affine layer
then has ``out_chan``, and stax gets the same channel counts).
``test_random_architectures_cover_the_features`` fails if the seeds stop
covering one of these.  Each network is run through stax once, on the stacked
inputs ``[X; Y]`` with both kernels, and ours with both engines.
"""

from __future__ import annotations

import functools
import sys
import types
import zlib

import numpy as np
import pytest

# neural_tangents/__init__.py imports neural_tangents.experimental, which needs
# tensorflow; an empty module under that name lets `stax` import without it.
sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
nt = pytest.importorskip("neural_tangents")
stax = nt.stax

from eigencalc import architectures as A  # noqa: E402

pytestmark = pytest.mark.crosscheck

OFFDIAG_RTOL = 1e-12
DIAG_RTOL = 1e-7
ERRORS: dict = {}


def _bias(layer):
    """stax's b_std: None when the layer has no bias (it matters for the standard NTK, which trains biases)."""
    return float(layer.b_std) if layer.has_bias else None


def to_stax(layer):
    """The stax network with the same architecture, parameters and channel counts."""
    if isinstance(layer, A.Serial):
        return stax.serial(*map(to_stax, layer.layers))
    if isinstance(layer, A.Parallel):
        return stax.parallel(*map(to_stax, layer.layers))
    if isinstance(layer, A.Dense):
        return stax.Dense(layer.out_chan or 1, W_std=float(layer.W_std), b_std=_bias(layer),
                          parameterization=layer.parameterization)
    if isinstance(layer, A.Conv):
        return stax.Conv(layer.out_chan or 1, layer.filter_shape, layer.strides, layer.padding, W_std=float(layer.W_std),
                         b_std=_bias(layer), parameterization=layer.parameterization)
    if isinstance(layer, A.Phi):
        return {"relu": stax.Relu, "erf": stax.Erf}[layer.activation.name]()
    if isinstance(layer, A.Flatten):
        return stax.Flatten()
    if isinstance(layer, A.GlobalAvgPool):
        return stax.GlobalAvgPool()
    if isinstance(layer, A.AvgPool):
        return stax.AvgPool(layer.window_shape, layer.strides, layer.padding)
    if isinstance(layer, A.Identity):
        return stax.Identity()
    if isinstance(layer, A.FanOut):
        return stax.FanOut(layer.n)
    if isinstance(layer, A.FanInSum):
        return stax.FanInSum()
    raise TypeError(layer)


def _cnn(act, padding, q, s, readout, W=1.3, b=0.2):
    conv = lambda: A.Conv(q, stride=s, padding=padding, W_std=W, b_std=b)  # noqa: E731
    pool = A.Flatten() if readout == "flatten" else A.GlobalAvgPool()
    return A.serial(conv(), act(), conv(), act(), pool, A.Dense(W_std=0.9, b_std=0.3))


def _residual(act):
    conv = lambda: A.Conv(3, padding="CIRCULAR", W_std=1.2, b_std=0.1)  # noqa: E731
    block = A.serial(A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), conv())), A.FanInSum())
    return A.serial(conv(), block, block, act(), A.Flatten(), A.Dense(b_std=0.2))


CASES = {
    "mlp3-relu": (A.mlp(3, "relu", W_std=1.4, b_std=0.3), 1, 5),
    "mlp3-erf": (A.mlp(3, "erf", W_std=1.1, b_std=0.2), 1, 5),
    "mlp3-relu-nobias": (A.mlp(3, "relu", W_std=1.0), 1, 4),
    "cnn-valid-overlap-relu-flatten": (_cnn(A.Relu, "VALID", 3, 1, "flatten"), 8, 3),
    "cnn-valid-overlap-erf-gap": (_cnn(A.Erf, "VALID", 3, 1, "gap"), 8, 3),
    "cnn-circular-overlap-relu-flatten": (_cnn(A.Relu, "CIRCULAR", 3, 1, "flatten"), 7, 3),
    "cnn-circular-overlap-relu-gap": (_cnn(A.Relu, "CIRCULAR", 3, 1, "gap"), 7, 3),
    "cnn-circular-stride2-erf-flatten": (_cnn(A.Erf, "CIRCULAR", 3, 2, "flatten"), 9, 2),
    "cnn-tree-relu-flatten": (_cnn(A.Relu, "VALID", 2, 2, "flatten"), 8, 3),
    "cnn-tree-erf-gap": (_cnn(A.Erf, "VALID", 2, 2, "gap"), 8, 3),
    "cnn-tree-circular-relu-gap": (_cnn(A.Relu, "CIRCULAR", 3, 3, "gap"), 9, 2),
    "residual-relu": (_residual(A.Relu), 6, 3),
    "residual-erf": (_residual(A.Erf), 6, 3),
    "avgpool-circular-relu": (
        A.serial(A.Conv(3, padding="CIRCULAR", W_std=1.2, b_std=0.1), A.Relu(), A.AvgPool(3, padding="CIRCULAR"), A.Flatten(), A.Dense()),
        7,
        3,
    ),
    "avgpool-valid-stride2-then-relu": (
        A.serial(A.Conv(2, b_std=0.2), A.AvgPool(2, stride=2), A.Relu(), A.Conv(2), A.Erf(), A.Flatten(), A.Dense()),
        9,
        2,
    ),
    "flatten-dense-relu-dense": (
        A.serial(A.Conv(2, W_std=1.1, b_std=0.1), A.Relu(), A.Flatten(), A.Dense(b_std=0.5), A.Relu(), A.Dense()),
        5,
        3,
    ),
}


# ------------------------------------------------------------------ random architectures


class _Builder:
    """Draws one random network on a grid, tracking the grid of positions so every layer fits.

    ``standard`` networks use ``parameterization="standard"`` on every affine
    layer with one channel count C throughout (so residual sums match), and
    ``out_chan=1`` on the readout.
    """

    PADDINGS = ("VALID", "SAME", "CIRCULAR")

    def __init__(self, rng, grid, standard):
        self.rng, self.shape, self.standard = rng, list(grid), standard
        self.channels = int(rng.integers(2, 7)) if standard else None
        self.features = set()

    def _affine_kwargs(self, out_chan=None):
        rng = self.rng
        kw = {"W_std": round(float(rng.uniform(0.7, 1.6)), 3)}
        if rng.random() < 0.6:
            kw["b_std"] = round(float(rng.uniform(0.0, 0.6)), 3)
            self.features.add("bias")
        if self.standard:
            kw["parameterization"] = "standard"
            kw["out_chan"] = out_chan or self.channels
        return kw

    def _geometry(self, keep_shape):
        """Filter, strides, padding and the output grid of one window on the current grid."""
        rng = self.rng
        padding = str(rng.choice(self.PADDINGS[1:] if keep_shape else self.PADDINGS))
        q, s, out = [], [], []
        for P in self.shape:
            qk = int(rng.integers(1, min(3, P + (padding == "SAME")) + 1))
            sk = 1 if keep_shape else int(rng.integers(1, 3))
            q.append(qk)
            s.append(sk)
            out.append((P - qk) // sk + 1 if padding == "VALID" else -(-P // sk))
        self.features.add(padding)
        if any(sk > 1 for sk in s):
            self.features.add("stride")
        if any(qk > sk for qk, sk in zip(q, s)):
            self.features.add("overlap")
        return tuple(q), tuple(s), padding, out

    def conv(self, keep_shape=False):
        q, s, padding, out = self._geometry(keep_shape)
        self.shape = out
        shape_arg = q if len(q) > 1 else q[0]
        stride_arg = s if len(s) > 1 else s[0]
        return A.Conv(shape_arg, stride=stride_arg, padding=padding, **self._affine_kwargs())

    def avgpool(self):
        q, s, padding, out = self._geometry(False)
        self.shape = out
        self.features.add("avgpool")
        return A.AvgPool(q if len(q) > 1 else q[0], stride=s if len(s) > 1 else s[0], padding=padding)

    def act(self):
        return A.Relu() if self.rng.random() < 0.6 else A.Erf()

    def residual(self):
        """FanOut(2) [Identity | act Conv (shape kept)] FanInSum, on a Gaussian (affine) register."""
        self.features.add("residual")
        branch = A.serial(self.act(), self.conv(keep_shape=True))
        return [A.FanOut(2), A.parallel(A.Identity(), branch), A.FanInSum()]

    def network(self):
        rng = self.rng
        if self.standard and rng.random() < 0.3:  # a Dense first layer reads n0 as its fan-in
            layers = [A.Dense(**self._affine_kwargs())]
            self.features.add("dense-first")
        else:
            layers = [self.conv()]
        for _ in range(int(rng.integers(1, 3))):
            if rng.random() < 0.35:
                layers += self.residual()
            layers.append(self.act())
            if rng.random() < 0.3:
                layers.append(self.avgpool())
            layers.append(self.conv())
        layers.append(self.act())
        if rng.random() < 0.5:
            layers.append(A.Flatten())
            self.features.add("flatten")
        else:
            layers.append(A.GlobalAvgPool())
            self.features.add("gap")
        if rng.random() < 0.3:
            layers += [A.Dense(**self._affine_kwargs()), self.act()]
        layers.append(A.Dense(**self._affine_kwargs(out_chan=1)))
        self.features.add("standard" if self.standard else "ntk")
        return A.serial(*layers)


def _random_case(ndim, seed):
    """(net, grid, n0, features) for one seed; 2-D grids 2..5 per axis, 1-D rows 3..9."""
    rng = np.random.default_rng([13, ndim, seed])
    grid = tuple(int(g) for g in rng.integers(2, 6, size=2)) if ndim == 2 else (int(rng.integers(3, 10)),)
    builder = _Builder(rng, grid, standard=bool(seed % 2))
    net = builder.network()
    features = builder.features | {f"{ndim}-D"}
    return net, grid, int(rng.integers(1, 4)), features


RANDOM_2D, RANDOM_1D = 10, 4  # stax (eager) dominates the runtime: about 2-3 s per network
for _seed in range(RANDOM_2D):
    _net, _grid, _n0, _ = _random_case(2, _seed)
    CASES[f"random-2d-{_seed}"] = (_net, _grid, _n0)
for _seed in range(RANDOM_1D):
    _net, _grid, _n0, _ = _random_case(1, _seed)
    CASES[f"random-1d-{_seed}"] = (_net, _grid, _n0)

CASES.update({
    "2d-same-stride-relu-flatten": (
        A.serial(A.Conv((3, 3), padding="SAME", W_std=1.3, b_std=0.2), A.Relu(), A.Conv((2, 2), stride=(2, 2), padding="SAME"),
                 A.Relu(), A.Flatten(), A.Dense(b_std=0.1)),
        (5, 4), 3,
    ),
    "2d-standard-same-residual-gap": (
        A.serial(A.Conv((2, 3), padding="SAME", parameterization="standard", out_chan=5, b_std=0.3), A.FanOut(2),
                 A.parallel(A.Identity(), A.serial(A.Relu(), A.Conv((3, 3), padding="CIRCULAR", parameterization="standard",
                                                                     out_chan=5))),
                 A.FanInSum(), A.AvgPool((2, 2), stride=(1, 2), padding="SAME"), A.Relu(), A.GlobalAvgPool(),
                 A.Dense(W_std=0.9, b_std=0.1, parameterization="standard", out_chan=1)),
        (4, 4), 2,
    ),
})


def test_random_architectures_cover_the_features():
    """The seeded random networks exercise every feature the crosscheck promises (issue 13)."""
    seen = set()
    for ndim, count in ((2, RANDOM_2D), (1, RANDOM_1D)):
        for seed in range(count):
            seen |= _random_case(ndim, seed)[3]
    wanted = {"2-D", "1-D", "VALID", "SAME", "CIRCULAR", "stride", "overlap", "avgpool", "bias", "residual",
              "flatten", "gap", "ntk", "standard", "dense-first"}
    assert wanted <= seen, f"missing {sorted(wanted - seen)}"
    one_d_same = any("SAME" in _random_case(1, seed)[3] for seed in range(RANDOM_1D))
    assert one_d_same, "no 1-D SAME network among the random ones"


def _rel(ours, ref):
    return float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300)))


def _inputs(name, d, n0):
    grid = d if isinstance(d, tuple) else (d,)
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # deterministic across runs
    X = rng.standard_normal((5, *grid, n0))
    Y = 1.7 * rng.standard_normal((4, *grid, n0))
    return X, Y


@functools.lru_cache(maxsize=None)
def _stax_gram(name):
    """stax's NNGP and NTK Gram of the stacked inputs [X; Y] (one stax call per network)."""
    net, d, n0 = CASES[name]
    X, Y = _inputs(name, d, n0)
    _, _, stax_kernel_fn = to_stax(net)
    Z = np.concatenate([X, Y])
    kernels = stax_kernel_fn(Z, None, ("nngp", "ntk"))
    # d = 1 inputs keep a length-1 spatial axis in stax: outputs (N, N, 1, 1).
    return {kind: np.asarray(getattr(kernels, kind)).reshape(len(Z), len(Z)) for kind in ("nngp", "ntk")}


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_fn_matches_stax(name, kind, engine):
    net, d, n0 = CASES[name]
    X, Y = _inputs(name, d, n0)
    ref = _stax_gram(name)[kind]
    ref_xy, ref_xx = ref[: len(X), len(X):], ref[: len(X), : len(X)]

    ours_xy = net.kernel_fn(X, Y, kind, engine=engine)
    np.testing.assert_allclose(ours_xy, ref_xy, rtol=OFFDIAG_RTOL, atol=0)

    ours_xx = net.kernel_fn(X, None, kind, engine=engine)
    off = ~np.eye(len(X), dtype=bool)
    np.testing.assert_allclose(ours_xx[off], ref_xx[off], rtol=OFFDIAG_RTOL, atol=0)
    np.testing.assert_allclose(np.diag(ours_xx), np.diag(ref_xx), rtol=DIAG_RTOL, atol=0)

    ERRORS[(name, kind, engine)] = (
        max(np.max(np.abs(ours_xy - ref_xy)), np.max(np.abs(ours_xx - ref_xx)[off])),
        max(_rel(ours_xy, ref_xy), _rel(ours_xx[off], ref_xx[off])),
        _rel(np.diag(ours_xx), np.diag(ref_xx)),
    )


def test_report_max_errors():
    """Print the largest deviations seen (run with -s to see them)."""
    if not ERRORS:
        pytest.skip("no comparisons ran")
    lines = []
    for label, keep in (("all", lambda k: True), ("2-D", lambda k: isinstance(CASES[k[0]][1], tuple) and len(CASES[k[0]][1]) == 2)):
        errs = {k: v for k, v in ERRORS.items() if keep(k)}
        if not errs:
            continue
        abs_off = max(e[0] for e in errs.values())
        rel_off = max(e[1] for e in errs.values())
        rel_diag = max(e[2] for e in errs.values())
        worst = max(errs, key=lambda k: errs[k][1])
        lines.append(
            f"{label}: {len(errs)} comparisons, off-diagonal max abs {abs_off:.3g}, max rel {rel_off:.3g} "
            f"({'/'.join(worst)}); diagonal max rel {rel_diag:.3g}"
        )
    print("\ncrosscheck " + "\ncrosscheck ".join(lines))
    assert max(e[1] for e in ERRORS.values()) <= OFFDIAG_RTOL and max(e[2] for e in ERRORS.values()) <= DIAG_RTOL
