"""Peer check: ``Layer.kernel_fn`` against neural-tangents ``stax`` (float64).

Run with ``make crosscheck`` (it builds ``.venv-nt`` with jax 0.4.30 and
neural-tangents 0.6.5); skipped wherever neural_tangents is not importable.

Tolerances.  Off-diagonal pairs of distinct inputs agree to 1e-12 relative.
On the diagonal (x = x') stax's ReLU NTK loses about 1e-8 relative (its
arccos-based formulas are ill-conditioned at correlation 1, and it stabilises
them), so the diagonal is compared at 1e-7.
"""

from __future__ import annotations

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


def to_stax(layer):
    """The stax network with the same architecture and parameters."""
    if isinstance(layer, A.Serial):
        return stax.serial(*map(to_stax, layer.layers))
    if isinstance(layer, A.Parallel):
        return stax.parallel(*map(to_stax, layer.layers))
    if isinstance(layer, A.Dense):
        b = float(layer.b_std) or None
        return stax.Dense(1, W_std=float(layer.W_std), b_std=b)
    if isinstance(layer, A.Conv):
        b = float(layer.b_std) or None
        return stax.Conv(1, (layer.filter_size,), (layer.stride,), layer.padding, W_std=float(layer.W_std), b_std=b)
    if isinstance(layer, A.Phi):
        return {"relu": stax.Relu, "erf": stax.Erf}[layer.activation.name]()
    if isinstance(layer, A.Flatten):
        return stax.Flatten()
    if isinstance(layer, A.GlobalAvgPool):
        return stax.GlobalAvgPool()
    if isinstance(layer, A.AvgPool):
        return stax.AvgPool((layer.window,), (layer.stride,), layer.padding)
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


def _rel(ours, ref):
    return float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300)))


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_fn_matches_stax(name, kind):
    net, d, n0 = CASES[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}/{kind}".encode()))  # deterministic across runs
    X = rng.standard_normal((5, d, n0))
    Y = 1.7 * rng.standard_normal((4, d, n0))
    _, _, stax_kernel_fn = to_stax(net)

    # d = 1 inputs keep a length-1 spatial axis in stax: outputs (N, M, 1, 1).
    ref_xy = np.asarray(stax_kernel_fn(X, Y, kind)).reshape(len(X), len(Y))
    ours_xy = net.kernel_fn(X, Y, kind)
    np.testing.assert_allclose(ours_xy, ref_xy, rtol=OFFDIAG_RTOL, atol=0)

    ref_xx = np.asarray(stax_kernel_fn(X, None, kind)).reshape(len(X), len(X))
    ours_xx = net.kernel_fn(X, None, kind)
    off = ~np.eye(len(X), dtype=bool)
    np.testing.assert_allclose(ours_xx[off], ref_xx[off], rtol=OFFDIAG_RTOL, atol=0)
    np.testing.assert_allclose(np.diag(ours_xx), np.diag(ref_xx), rtol=DIAG_RTOL, atol=0)

    ERRORS[(name, kind)] = (
        max(np.max(np.abs(ours_xy - ref_xy)), np.max(np.abs(ours_xx - ref_xx)[off])),
        max(_rel(ours_xy, ref_xy), _rel(ours_xx[off], ref_xx[off])),
        _rel(np.diag(ours_xx), np.diag(ref_xx)),
    )


def test_report_max_errors():
    """Print the largest deviations seen (run with -s to see them)."""
    if not ERRORS:
        pytest.skip("no comparisons ran")
    abs_off = max(e[0] for e in ERRORS.values())
    rel_off = max(e[1] for e in ERRORS.values())
    rel_diag = max(e[2] for e in ERRORS.values())
    worst = max(ERRORS, key=lambda k: ERRORS[k][2])
    print(
        f"\ncrosscheck over {len(ERRORS)} cases: off-diagonal max abs {abs_off:.3g}, max rel {rel_off:.3g}; "
        f"diagonal max rel {rel_diag:.3g} ({worst[0]}, {worst[1]})"
    )
    assert rel_off <= OFFDIAG_RTOL and rel_diag <= DIAG_RTOL
