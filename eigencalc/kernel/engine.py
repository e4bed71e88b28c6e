r"""The Gram engine: a compiled program as a flat op table, run by numba or by its numpy twin (M1-M4).

Float64 throughout.

* :func:`gram` -- :math:`K(x_n, y_m)` of raw inputs ``(N, d, n0)`` for any
  architecture (pooling included, M1–M4), jitted (numba, parallel over pairs of
  inputs, streamed in blocks of pairs); :func:`gram_numpy` is its numpy twin and
  :func:`kernel_pairs` evaluates :math:`K(x_k, y_k)` for paired inputs.
* :func:`kernel_of_correlations` -- the jitted :math:`K(t_1, \dots, t_d)`.

The engine flattens a compiled network (:func:`eigencalc.kernel.compiler.compile_network`)
into an op table interpreted per pair of inputs by
:mod:`eigencalc.kernel.numba_kernels`.  Activations without a closed-form dual kernel
(tanh, GELU, ...) are evaluated by the numpy twin instead, announced by a
:class:`NumbaFallbackWarning`.  Compile (or cache-load) times of the kernels
are kept apart from run times: :func:`compile_seconds`.
"""

from __future__ import annotations

import math
import time
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from ..core.progress import progress
from ..core.validate import REQUIRED, check_grid, required_kind
from ..core.validate import check_inputs as _check_inputs
from ..core.validate import check_int as _check_int
from . import fast_gram as _fg
from . import numba_kernels as _nk
from .compiler import Program, Step
from .ops import Op
from .reference import check_variances, input_covariance, run_program
from .spec import LayerSpec as Layer
from .table import OpTable, op_table, op_table_of

__all__ = [
    "NumbaFallbackWarning",
    "gram",
    "gram_numpy",
    "kernel_pairs",
    "walsh_hadamard",
    "kernel_of_correlations",
    "unjitted_activations",
    "compile_seconds",
    "warmup",
    "walsh_values",
]

#: Default number of input pairs per jitted call of :func:`gram`.
DEFAULT_BLOCK = 1 << 16


class NumbaFallbackWarning(UserWarning):
    """A computation ran on the (slower) numpy path because no jitted closed form exists."""


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _check_network(net: Any) -> Layer:
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return net


def _flat_patches(X: np.ndarray) -> np.ndarray:
    """Inputs ``(N, *grid, n0)`` as ``(N, prod(grid), n0)``: positions row-major, as the compiler numbers them."""
    return np.ascontiguousarray(X.reshape(X.shape[0], -1, X.shape[-1]), dtype=np.float64)


def _check_pair_inputs(X: Any, Y: Any):
    """Validated inputs flattened to ``(N, d, n0)``, and their grid of patches (``(d,)`` or ``(H, W)``)."""
    X = _check_inputs(X, "X")
    grid = X.shape[1:-1]
    if Y is None:
        return _flat_patches(X), None, grid
    Y = _check_inputs(Y, "Y")
    if Y.shape[1:] != X.shape[1:]:
        raise ValueError(f"X and Y disagree: X has (grid, n0) = {X.shape[1:]}, Y has (grid, n0) = {Y.shape[1:]}")
    return _flat_patches(X), _flat_patches(Y), grid


def _check_engine(engine: Any) -> str:
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    return engine


# --------------------------------------------------------------------------
# The flat program (what the jitted interpreter reads)
# --------------------------------------------------------------------------


def unjitted_activations(net: Layer, d: int) -> tuple:
    """Names of the activations of ``net`` (on ``d`` patches) without a jitted closed form.

    Empty when :func:`gram` and :func:`hypercube_spectrum` run fully in numba;
    otherwise they use the numpy path and warn (:class:`NumbaFallbackWarning`).

    >>> from eigencalc.architectures import serial, Dense, Relu, Tanh
    >>> unjitted_activations(serial(Dense(), Relu(), Dense()), 1), unjitted_activations(serial(Dense(), Tanh(), Dense()), 1)
    ((), ('tanh',))
    """
    return op_table_of(_check_network(net), d).unsupported


def _select_engine(flat: OpTable, engine: str, what: str) -> str:
    engine = _check_engine(engine)
    if engine == "numpy":
        return "numpy"
    if flat.unsupported:
        names = ", ".join(flat.unsupported)
        if engine == "numba":
            raise ValueError(f"{what}: no jitted closed-form dual kernel for {names}; use engine='numpy' or 'auto'")
        warnings.warn(
            f"{what}: activation(s) {names} have no closed-form dual kernel in numba; "
            "using the numpy path (Hermite series / Gauss–Hermite, slower)",
            NumbaFallbackWarning,
            stacklevel=3,
        )
        return "numpy"
    return "numba"


# --------------------------------------------------------------------------
# Compile-time bookkeeping
# --------------------------------------------------------------------------

_COMPILE_SECONDS: dict = {}


class _UnitDense:
    """The parameters of ``Dense()`` (W_std = 1, no bias), enough for a warm-up program."""

    w_var, b_var = 1.0, 0.0


@lru_cache(maxsize=1)
def _tiny_flat() -> OpTable:
    """A one-step program (a unit Dense on one patch): every kernel compiles the same machine code for it."""
    step = Step(_UnitDense(), "warm-up", "affine", (0,), 1, 1, 1, np.zeros((1, 1), dtype=np.int64), 1, 0)
    return op_table(Program(1, (step,), 1, False, (1,)))


def _warm(name: str) -> None:
    """Compile (or load from the on-disk cache) one kernel with a tiny call, timing it once per process."""
    if name in _COMPILE_SECONDS:
        return
    start = time.perf_counter()
    with progress(total=1, desc=f"numba: {name} kernel (compiled once, then cached)") as bar:
        _compile_kernel(name)
        bar.update()
    _COMPILE_SECONDS[name] = time.perf_counter() - start


def _compile_kernel(name: str) -> None:
    """One tiny call of kernel ``name`` (serial and parallel variants), which makes numba compile or load it."""
    f = _tiny_flat()
    X = np.ones((1, 1, 1))
    V = np.ones((1, f.n_var))
    if name == "gram":  # the serial chunk and the parallel driver are separate machine code
        args = (*f.kernel_args(), f.out_off, False, False, X, X, V, V, _nk.MODE_RECT)
        _nk._gram_chunk(*args, 0, 1, np.empty((1, 1)))
        _nk._gram_jit(*args, 0, 1, 1, np.empty((1, 1)))
    elif name == "self_variances":
        _nk._self_variances_chunk(*f.kernel_args(), False, X, 0, 1, np.empty((1, f.n_var)))
        _nk._self_variances_jit(*f.kernel_args(), False, X, 1, np.empty((1, f.n_var)))
    elif name == "correlations":
        _nk._correlations_chunk(*f.kernel_args(), f.out_off, False, np.ones((1, 1)), V, 0, 1, np.empty(1))
        _nk._correlations_jit(*f.kernel_args(), f.out_off, False, np.ones((1, 1)), V, 1, np.empty(1))
    elif name == "walsh_values":
        _nk._walsh_values_chunk(*f.kernel_args(), f.out_off, False, 1, 1, 0, 2, V, np.empty(2))
        _nk._walsh_values_jit(*f.kernel_args(), f.out_off, False, 1, 1, 0, 2, V, 1, np.empty(2))
    elif name == "fwht":
        _nk._fwht_serial(np.ones(2))
        _nk._fwht_jit(np.ones(2))
    elif name == "dual_values":
        one = np.ones(1)
        _nk._dual_values_jit(_nk.ACT_ERF, np.zeros(1), one, one, one, np.empty(1), np.empty(1))
    else:  # pragma: no cover - internal names only
        raise KeyError(name)


_KERNELS = ("self_variances", "gram", "correlations", "walsh_values", "fwht", "dual_values")


def warmup() -> dict:
    """Compile (or load from cache) every jitted kernel now; returns :func:`compile_seconds`.

    >>> sorted(warmup())
    ['correlations', 'dual_values', 'fwht', 'gram', 'self_variances', 'walsh_values']
    """
    for name in progress(_KERNELS, desc="numba warm-up"):
        _warm(name)
    return compile_seconds()


def compile_seconds() -> dict:
    r"""Seconds spent compiling (first run) or loading from numba's cache each kernel used in this process.

    Measured by a tiny warm-up call before the first real call of a kernel, so
    run times reported elsewhere exclude compilation.  With ``cache=True`` a
    second process only loads the machine code (typically well under a second).
    """
    return dict(_COMPILE_SECONDS)


# --------------------------------------------------------------------------
# Gram matrices: numba engine
# --------------------------------------------------------------------------


def _self_variances_numba(flat: OpTable, X: np.ndarray, name: str) -> np.ndarray:
    _warm("self_variances")
    V = np.zeros((X.shape[0], flat.n_var))
    N = X.shape[0]
    if _serial(N * flat.n_scratch // 16):
        _nk._self_variances_chunk(*flat.kernel_args(), flat.full, X, 0, N, V)
    else:
        _nk._self_variances_jit(*flat.kernel_args(), flat.full, X, _n_chunks(N), V)
    check_variances(flat.program, V, name)
    return V


#: Below this much work (pairs x scratch / 16, roughly microseconds) a call runs serially:
#: a parallel region wakes every thread, which dominates small inputs on a loaded machine.
_SERIAL_WORK = 1 << 14


def _serial(work: int) -> bool:
    import numba

    return work < _SERIAL_WORK or numba.get_num_threads() == 1


def _n_chunks(total: int) -> int:
    import numba

    return int(max(1, min(total, 8 * numba.get_num_threads())))


def _pair_output(mode, N: int, M: int):
    """(number of pairs, output array) for zipped pairs, the upper triangle of X x X, or X x Y."""
    if mode == _nk.MODE_ZIP:
        return N, np.empty((N, 1))
    if mode == _nk.MODE_TRIANGLE:
        return N * (N + 1) // 2, np.empty((N, N))
    return N * M, np.empty((N, M))


def _gram_numba(flat, X, Y, kind, block, mode, fast: bool = True):
    ntk = kind == "ntk"
    VX = _self_variances_numba(flat, X, "X")
    VY = VX if Y is None else _self_variances_numba(flat, Y, "Y")
    Yv = X if Y is None else Y
    N, M = X.shape[0], Yv.shape[0]
    total, out = _pair_output(mode, N, M)
    # Fast Gram engine (issue 15): pooling-free programs whose preconditions hold, tiled and vectorised.
    plan = _fg.fast_plan(flat.program) if fast and mode != _nk.MODE_ZIP else None
    if plan is not None:
        parallel = not _serial(total * plan.n_rows // 64)
        return _fg.gram_fast(plan, X, Yv, VX, VY, ntk, mode == _nk.MODE_TRIANGLE, parallel, block, out)
    _warm("gram")
    for p0 in _blocks(total, block, "gram (numba)"):
        p1 = min(p0 + block, total)
        args = (*flat.kernel_args(), flat.out_off, flat.full, ntk, X, Yv, VX, VY, mode)
        if _serial((p1 - p0) * flat.n_scratch // 16):
            _nk._gram_chunk(*args, p0, p1, out)
        else:
            _nk._gram_jit(*args, p0, p1, _n_chunks(p1 - p0), out)
    return out


def _blocks(total: int, block: int, desc: str):
    """Block starts ``0, block, 2 block, ...`` below ``total``, with a progress bar when there are many."""
    starts = range(0, total, block)
    return progress(starts, desc=desc, enabled=None if len(starts) > 8 else False)


def _prepare_gram(net, X, Y, kind, block, where: str = "gram"):
    """Validate a Gram request; returns (kind, block, X, Y, flat program)."""
    net = _check_network(net)
    kind = required_kind(kind, where, "nngp")
    block = _check_int(block, "block")
    X, Y, grid = _check_pair_inputs(X, Y)
    return kind, block, X, Y, op_table_of(net, grid, X.shape[-1])


def gram(net: Layer, X: Any, Y: Any = None, kind: str = REQUIRED, *, block: int = DEFAULT_BLOCK, engine: str = "auto") -> np.ndarray:
    r"""Gram matrix :math:`G_{nm} = K(x_n, y_m)` of raw inputs, jitted and streamed (M1–M4).

    .. math::

        \Sigma^0_{ij}(x, y) = \frac{\langle x_i, y_j\rangle}{n_0},\qquad
        G_{nm} = \Sigma_{\text{out}}(x_n, y_m)\ (\text{nngp})\ \text{or}\ \Theta_{\text{out}}(x_n, y_m)\ (\text{ntk})

    Same semantics and shapes as ``net.kernel_fn(X, Y, kind)``: ``X`` is
    ``(N, d, n0)``, ``Y`` is ``(M, d, n0)`` or None (then ``Y = X``, only
    :math:`n \le m` is computed and the diagonal has :math:`\rho = 1` exactly).
    Pairs are processed ``block`` at a time, in parallel (numba ``prange``);
    memory is :math:`O(NM)` for the output plus per-thread scratch of the
    registers' position (pair) covariances -- the ``(N, M, d, d)`` array of a
    pooled network is never formed.  Per-input variances
    :math:`\Sigma_{ii}(x, x)` are computed once per input.

    ``engine``: ``"auto"`` (numba unless an activation has no closed form, then
    numpy with a :class:`NumbaFallbackWarning`), ``"numba"``, ``"numpy"``
    (:func:`gram_numpy`).

    >>> from eigencalc.architectures import serial, Conv, Relu, GlobalAvgPool, Dense
    >>> net = serial(Conv(2), Relu(), GlobalAvgPool(), Dense())
    >>> X = np.random.default_rng(0).standard_normal((5, 4, 3))
    >>> bool(np.allclose(gram(net, X, kind="ntk"), net.kernel_fn(X, kind="ntk"), rtol=1e-12, atol=0))
    True
    """
    kind, block, X, Y, flat = _prepare_gram(net, X, Y, kind, block)
    if _select_engine(flat, engine, "gram") == "numpy":
        return _gram_numpy_flat(flat, X, Y, kind, block, _nk.MODE_TRIANGLE if Y is None else _nk.MODE_RECT)
    return _gram_numba(flat, X, Y, kind, block, _nk.MODE_TRIANGLE if Y is None else _nk.MODE_RECT)


def kernel_pairs(net: Layer, X: Any, Y: Any, kind: str = REQUIRED, *, block: int = DEFAULT_BLOCK, engine: str = "auto") -> np.ndarray:
    r"""Kernel of paired inputs :math:`K(x_k, y_k)`, shape ``(N,)`` (the diagonal of a Gram, M1–M4).

    .. math:: k_k = K(x_k, y_k), \qquad k = 1, \dots, N

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> X = np.random.default_rng(1).standard_normal((4, 1, 3))
    >>> net = serial(Dense(), Relu(), Dense())
    >>> bool(np.allclose(kernel_pairs(net, X, X[::-1], "nngp"), np.diag(net.kernel_fn(X, X[::-1], "nngp")), rtol=1e-13, atol=0))
    True
    """
    net = _check_network(net)
    kind = required_kind(kind, "kernel_pairs", "nngp")
    block = _check_int(block, "block")
    X, Y, grid = _check_pair_inputs(X, Y)
    if Y is None:
        raise TypeError("kernel_pairs needs both X and Y")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"kernel_pairs pairs X[k] with Y[k]: got {X.shape[0]} and {Y.shape[0]} inputs")
    flat = op_table_of(net, grid, X.shape[-1])
    if _select_engine(flat, engine, "kernel_pairs") == "numpy":
        return _gram_numpy_flat(flat, X, Y, kind, block, _nk.MODE_ZIP)[:, 0]
    return _gram_numba(flat, X, Y, kind, block, _nk.MODE_ZIP)[:, 0]


# --------------------------------------------------------------------------
# Gram matrices: the numpy twin
# --------------------------------------------------------------------------


def _block_size(flat: OpTable, block: int) -> int:
    """Pairs per vectorised numpy block, so that the registers of a block stay below ~2^22 floats."""
    return max(1, min(block, (1 << 22) // max(flat.n_scratch, 1)))


def _self_variances_numpy(flat: OpTable, X: np.ndarray, name: str, block: int) -> np.ndarray:
    V = np.zeros((X.shape[0], flat.n_var))
    B = _block_size(flat, block)
    for a in range(0, X.shape[0], B):
        Xb = X[a : a + B]
        run_program(flat.program, input_covariance(Xb, Xb, flat.full), "nngp", V[a : a + B], V[a : a + B], True, name, a)
    check_variances(flat.program, V, name)
    return V


def _pair_indices(mode: int, p0: int, p1: int, N: int, M: int):
    p = np.arange(p0, p1, dtype=np.int64)
    if mode == _nk.MODE_RECT:
        return p // M, p % M
    if mode == _nk.MODE_ZIP:
        return p, p
    starts = np.arange(N, dtype=np.int64) * N - np.arange(N, dtype=np.int64) * (np.arange(N, dtype=np.int64) - 1) // 2
    i = np.searchsorted(starts, p, side="right") - 1
    return i, i + (p - starts[i])


def _gram_numpy_flat(flat, X, Y, kind, block, mode):
    VX = _self_variances_numpy(flat, X, "X", block)
    VY = VX if Y is None else _self_variances_numpy(flat, Y, "Y", block)
    Yv = X if Y is None else Y
    N, M = X.shape[0], Yv.shape[0]
    total, out = _pair_output(mode, N, M)
    B = _block_size(flat, block)
    for p0 in _blocks(total, B, "gram (numpy)"):
        i, j = _pair_indices(mode, p0, min(p0 + B, total), N, M)
        S0 = input_covariance(X[i], Yv[j], flat.full)
        values = run_program(flat.program, S0, kind, VX[i], VY[j], False)
        if mode == _nk.MODE_ZIP:
            out[i, 0] = values
        else:
            out[i, j] = values
            if mode == _nk.MODE_TRIANGLE:
                out[j, i] = values
    return out


def gram_numpy(net: Layer, X: Any, Y: Any = None, kind: str = REQUIRED, *, block: int = 4096) -> np.ndarray:
    r"""The numpy twin of :func:`gram`: same flat program, vectorised over blocks of pairs (M1–M4).

    .. math:: G_{nm} = K(x_n, y_m), \qquad \Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0

    Activations go through :meth:`~eigencalc.activations.Activation.kernel`
    (any activation, closed form or not).  Memory per block is bounded (about
    :math:`2^{22}` floats of registers).

    >>> from eigencalc.architectures import serial, Conv, Erf, Flatten, Dense
    >>> net = serial(Conv(2, stride=2), Erf(), Flatten(), Dense())
    >>> X = np.random.default_rng(2).standard_normal((6, 4, 2))
    >>> bool(np.allclose(gram_numpy(net, X, kind="ntk"), net.kernel_fn(X, kind="ntk"), rtol=1e-12, atol=0))
    True
    """
    kind, block, X, Y, flat = _prepare_gram(net, X, Y, kind, block, "gram_numpy")
    return _gram_numpy_flat(flat, X, Y, kind, block, _nk.MODE_TRIANGLE if Y is None else _nk.MODE_RECT)


# --------------------------------------------------------------------------
# Walsh–Hadamard transform and kernel values at sign patterns (M12, M17)
# --------------------------------------------------------------------------


def fwht_numpy(a: np.ndarray) -> np.ndarray:
    """The numpy twin of the in-place FWHT: one 2x2 butterfly per axis of a (2, ..., 2) view."""
    n = a.size
    bits = n.bit_length() - 1
    t = a.reshape((2,) * bits) if bits else a.copy()
    for ax in range(bits):
        x0 = np.take(t, 0, axis=ax)
        x1 = np.take(t, 1, axis=ax)
        t = np.stack([x0 + x1, x0 - x1], axis=ax)
    return np.ascontiguousarray(t).reshape(n)


def walsh_hadamard(a: Any, *, engine: str = "numba") -> np.ndarray:
    r"""Unnormalised Walsh–Hadamard transform of a length-:math:`2^n` vector (M17), O(n 2^n).

    .. math:: \hat a_S = \sum_{u \in \{0,1\}^n} a_u\, (-1)^{|S \cap u|}

    (bit i of an index is element i of the subset).  Returns a new array;
    ``engine="numpy"`` uses the numpy twin.

    >>> walsh_hadamard([1.0, 2.0, 3.0, 4.0]).tolist()
    [10.0, -2.0, -4.0, 0.0]
    """
    a = np.array(a, dtype=np.float64, copy=True).ravel()
    n = a.size
    if n == 0 or n & (n - 1):
        raise ValueError(f"walsh_hadamard needs a length that is a power of two, got {n}")
    if not np.isfinite(a).all():
        raise ValueError("walsh_hadamard: input contains NaN or infinite values")
    if _check_engine(engine) == "numpy":
        return fwht_numpy(a)
    fwht_numba(a)
    return a


def fwht_numba(a: np.ndarray) -> None:
    _warm("fwht")
    if _serial(a.size * max(a.size.bit_length() - 1, 1) // 64):
        _nk._fwht_serial(a)
    else:
        _nk._fwht_jit(a)


def _correlation_variances(flat: OpTable) -> np.ndarray:
    """Activation variances of equal-norm inputs, shape (1, n_var): the self run at :math:`t = (1, \\dots, 1)`."""
    return _self_variances_numba(flat, np.ones((1, flat.d, 1)), "t=1")


#: Pairs (or correlation points) from which ``engine="auto"`` hands over to numba (64 pairs with pooling).
NUMBA_PAIRS = 4096


def kernel_fn(net: Layer, X: Any, Y: Any = None, kind: str = REQUIRED, engine: str = "auto") -> np.ndarray:
    r"""Gram matrix of raw inputs (M1–M4): :math:`K_{nm} = K(x_n, y_m)`, shape ``(N, M)``.

    .. math:: \Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0

    ``engine``: ``"numpy"`` is the reference interpreter (:func:`gram_numpy`);
    ``"numba"`` the jitted :func:`gram`; ``"auto"`` hands large problems
    (>= :data:`NUMBA_PAIRS` pairs, or 64 with pooling) to numba when every
    activation has a jitted closed form (the same numbers to ~1e-15).

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> float(kernel_fn(serial(Dense(), Relu(), Dense()), [[[1.0, 1.0]]], kind="nngp")[0, 0])
    0.5
    """
    kind, block, X, Y, flat = _prepare_gram(net, X, Y, kind, 4096, "kernel_fn")
    engine = _check_engine(engine)
    pairs = X.shape[0] * (X.shape[0] if Y is None else Y.shape[0])
    large = pairs >= NUMBA_PAIRS or (flat.full and pairs >= 64)
    mode = _nk.MODE_TRIANGLE if Y is None else _nk.MODE_RECT
    if engine == "numba" or (engine == "auto" and large and flat.jittable):
        _select_engine(flat, "numba", "kernel_fn")
        return _gram_numba(flat, X, Y, kind, DEFAULT_BLOCK, mode)
    return _gram_numpy_flat(flat, X, Y, kind, block, mode)


def _check_correlations(t: Any) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 0:
        raise ValueError(f"t must have shape (..., d), got a scalar {float(t)!r}; use t[..., None] for d = 1")
    if np.isnan(t).any():
        raise ValueError("t contains NaN")
    if (np.abs(t) > 1 + 1e-12).any():
        raise ValueError(f"correlations t must lie in [-1, 1], got {t[np.abs(t) > 1 + 1e-12].flat[0]!r}")
    return np.clip(t, -1.0, 1.0)


def kernel_of_correlations(net: Layer, t: Any, kind: str = REQUIRED, *, engine: str = "auto", grid: Any = None,
                           n0: Any = None) -> np.ndarray:
    r""":math:`K(t_1, \dots, t_d)` for equal-norm patches, :math:`|x_i|^2 = n_0` (pooling-free networks; M1–M4).

    ``t`` has shape ``(..., d)`` with entries in [-1, 1], :math:`t_i = \langle x_i, y_i\rangle/n_0`;
    the result has shape ``t.shape[:-1]``.  On a grid of patches give ``grid``
    (e.g. ``(H, W)``): then ``t`` has shape ``(..., H, W)`` or ``(..., H*W)``
    (row-major).  ``n0`` is needed only by a standard-parameterization first
    layer (its NTK reads the fan-in).  The program runs with
    :math:`\Sigma^0_{ii} = t_i` and the activation variances of the self run at
    :math:`t = (1, \dots, 1)`.  ``engine`` as in :func:`kernel_fn` (``"auto"``:
    numba from :data:`NUMBA_PAIRS` points on).

    .. math:: \Sigma^0_{ii} = t_i, \qquad K(t) = \Sigma_{\text{out}}(t)\ \text{or}\ \Theta_{\text{out}}(t)

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> net = serial(Dense(), Relu(), Dense())
    >>> float(kernel_of_correlations(net, [1.0], "nngp")), float(kernel_of_correlations(net, [1.0], "nngp", engine="numba"))
    (0.5, 0.5)
    """
    net = _check_network(net)
    kind = required_kind(kind, "kernel_of_correlations", "nngp")
    engine = _check_engine(engine)
    t = _check_correlations(t)
    if grid is not None:
        t = _correlations_on_grid(t, grid)
    flat = op_table_of(net, t.shape[-1] if grid is None else grid, n0)
    require_no_pooling(flat, "kernel_of_correlations")
    T = np.ascontiguousarray(t.reshape(-1, t.shape[-1]))
    wants_numba = engine == "numba" or (engine == "auto" and T.shape[0] >= NUMBA_PAIRS)
    if not wants_numba or _select_engine(flat, engine, "kernel_of_correlations") == "numpy":
        return _correlations_numpy(flat, T, kind, _unit_variances_numpy(flat)).reshape(t.shape[:-1])
    out = np.empty(T.shape[0])
    V = _correlation_variances(flat)
    _warm("correlations")
    if T.shape[0]:
        args = (*flat.kernel_args(), flat.out_off, kind == "ntk", T, V)
        if _serial(T.shape[0] * flat.n_scratch // 16):
            _nk._correlations_chunk(*args, 0, T.shape[0], out)
        else:
            _nk._correlations_jit(*args, _n_chunks(T.shape[0]), out)
    return out.reshape(t.shape[:-1])


def _correlations_on_grid(t: np.ndarray, grid: Any) -> np.ndarray:
    """``t`` of shape ``(..., *grid)`` or ``(..., prod(grid))`` as ``(..., prod(grid))``."""
    grid = check_grid(grid)
    d = math.prod(grid)
    if t.shape[-len(grid):] == grid:
        return t.reshape(t.shape[: t.ndim - len(grid)] + (d,))
    if t.shape[-1] == d:
        return t
    raise ValueError(f"t must have shape (..., {', '.join(map(str, grid))}) or (..., {d}) on the grid {grid}, "
                     f"got {t.shape}")


def _unit_variances_numpy(flat: OpTable) -> np.ndarray:
    """Activation variances of equal-norm inputs, shape (1, n_var): the reference self run at t = (1, ..., 1)."""
    V = np.zeros((1, flat.program.n_variances))
    run_program(flat.program, np.ones((1, flat.d)), "nngp", V, V, True)
    check_variances(flat.program, V, "t=1")
    return V


def _correlations_numpy(flat: OpTable, T: np.ndarray, kind: str, V: np.ndarray) -> np.ndarray:
    """The reference interpreter at correlations ``T`` (B, d) with the unit-input variances ``V``."""
    V = np.broadcast_to(V, (T.shape[0], V.shape[1]))
    return run_program(flat.program, T, kind, V, V, False)


def require_no_pooling(flat: OpTable, what: str) -> None:
    """Raise, naming the pooling layer, when the kernel is not a function of the patch correlations t."""
    if flat.full:
        step = next(
            s for s in flat.program.steps
            if (s.op == Op.POOL and s.width_in > 1) or (s.op == Op.AVGPOOL and s.index.shape[1] > 1)
        )
        raise ValueError(
            f"{what}: {step.layer!r} at {step.path} pools over several positions, so the kernel "
            "depends on cross-patch inner products <x_i, y_j>, not only on t (and Walsh functions are "
            "not its eigenfunctions); use kernel_fn on raw inputs"
        )


def walsh_values(flat: OpTable, n0: int, kind: str, engine: str) -> np.ndarray:
    """K at all :math:`2^{d n_0}` sign patterns :math:`z = x \\circ y` (bit i n0 + c set: z_ic = -1)."""
    d = flat.d
    bits = d * n0
    out = np.empty(1 << bits)
    chunk = 1 << 20
    if engine == "numba":
        V = _correlation_variances(flat)
        _warm("walsh_values")
        for u0 in range(0, out.size, chunk):
            u1 = min(u0 + chunk, out.size)
            args = (*flat.kernel_args(), flat.out_off, kind == "ntk", d, n0, u0, u1, V)
            if _serial((u1 - u0) * flat.n_scratch // 16):
                _nk._walsh_values_chunk(*args, out)
            else:
                _nk._walsh_values_jit(*args, _n_chunks(u1 - u0), out)
        return out
    chunk = 1 << 16
    V = _unit_variances_numpy(flat)
    shifts = (np.arange(d) * n0).astype(np.uint64)
    for u0 in range(0, out.size, chunk):
        u = np.arange(u0, min(u0 + chunk, out.size), dtype=np.uint64)
        counts = np.zeros((u.size, d))
        for c in range(n0):
            counts += ((u[:, None] >> (shifts + np.uint64(c))) & np.uint64(1)).astype(float)
        out[u0 : u0 + u.size] = _correlations_numpy(flat, (n0 - 2 * counts) / n0, kind, V)
    return out
