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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..core.validate import check_inputs as _check_inputs
from ..core.validate import check_int as _check_int
from ..core.validate import check_kind as _check_kind
from ..duals import activations as A
from . import numba_kernels as _nk
from .compiler import Program, Step, compile_network
from .spec import LayerSpec as Layer

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
_EPS = np.finfo(float).eps


class NumbaFallbackWarning(UserWarning):
    """A computation ran on the (slower) numpy path because no jitted closed form exists."""


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _check_network(net: Any) -> Layer:
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return net


def _check_pair_inputs(X: Any, Y: Any):
    X = np.ascontiguousarray(_check_inputs(X, "X"), dtype=np.float64)
    if Y is None:
        return X, None
    Y = np.ascontiguousarray(_check_inputs(Y, "Y"), dtype=np.float64)
    if Y.shape[1:] != X.shape[1:]:
        raise ValueError(f"X and Y disagree: X has (d, n0) = {X.shape[1:]}, Y has (d, n0) = {Y.shape[1:]}")
    return X, Y


def _check_engine(engine: Any) -> str:
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    return engine


# --------------------------------------------------------------------------
# The flat program (what the jitted interpreter reads)
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _FlatProgram:
    """A compiled network as arrays for :func:`eigencalc.kernel.numba_kernels._run_ops` (see its table)."""

    program: Program
    d: int
    full: bool
    ops: np.ndarray  # (S, 8) int64
    idx: np.ndarray  # window indices of all affine steps, int64
    srcs: np.ndarray  # source registers of all sum steps, int64
    fparams: np.ndarray  # w_var, b_var, activation parameters, float64
    reg_off: np.ndarray  # register offsets in the per-pair scratch, int64
    reg_width: tuple
    n_scratch: int
    out_off: int
    n_var: int  # variance slots per input (sum of activation input widths), >= 1
    activations: tuple  # (step index, Activation, variance slot, width)
    unsupported: tuple  # names of activations without a jitted closed form

    @property
    def jittable(self) -> bool:
        return not self.unsupported

    def kernel_args(self):
        return (self.ops, self.idx, self.srcs, self.fparams, self.reg_off, self.n_scratch)


def _poly_table(poly) -> list:
    r"""``[D, A_0(q) coefficients, ..., A_D(q) coefficients]`` padded to (D+1)^2 (M5, M8)."""
    import sympy

    q = sympy.Symbol("q")
    D = poly.degree
    table = np.zeros((D + 1, D + 1))
    for k in range(D + 1):
        coeffs = [float(v) for v in reversed(sympy.Poly(poly._A(k, q), q).all_coeffs())]
        table[k, : len(coeffs)] = coeffs
    return [float(D)] + table.ravel().tolist()


def _activation_code(act) -> tuple | None:
    """(code, float parameters) of the jitted closed form of ``act``, or None."""
    kind = type(act)
    if kind is A.ABRelu:
        return _nk.ACT_ABRELU, [float(act.a), float(act.b)]
    if kind is A.Step:
        return _nk.ACT_STEP, []
    if kind is A.Erf:
        return _nk.ACT_ERF, []
    if kind is A.Trig:
        return (_nk.ACT_SIN if act.which == "sin" else _nk.ACT_COS), []
    if kind is A.Exp:
        return _nk.ACT_EXP, []
    if kind is A.Polynomial:
        return _nk.ACT_POLY, _poly_table(act) + _poly_table(act._derivative_polynomial())
    return None


@lru_cache(maxsize=128)
def _flat_program(net: Layer, d: int) -> _FlatProgram:
    return _flatten(compile_network(net, d))


def _flatten(program: Program) -> _FlatProgram:
    """The arrays of :class:`_FlatProgram` for a compiled program."""
    d = program.d
    full = program.full
    widths = [d] + [step.width_out for step in program.steps]
    for k, step in enumerate(program.steps):  # the compiler allocates one register per step, in order
        assert step.dst == k + 1
    reg_off = np.zeros(len(widths), dtype=np.int64)
    size = 0
    for r, w in enumerate(widths):
        reg_off[r] = size
        size += w * w if full else w
    ops = np.zeros((len(program.steps), 8), dtype=np.int64)
    idx: list = []
    srcs: list = []
    fp: list = []
    acts = []
    unsupported = []
    n_var = 0
    for s, step in enumerate(program.steps):
        row = ops[s]
        row[1] = step.src[0]
        row[2] = step.dst
        row[3] = step.width_in
        row[4] = step.width_out
        if step.op == "affine":
            row[0] = _nk.OP_AFFINE
            row[5] = len(idx)
            row[6] = step.index.shape[1]
            row[7] = len(fp)
            idx.extend(int(v) for v in np.asarray(step.index).ravel())
            fp.extend([step.layer.w_var, step.layer.b_var])
        elif step.op == "activation":
            act = step.layer.activation
            coded = _activation_code(act)
            row[0] = _nk.OP_ACTIVATION
            row[5] = coded[0] if coded else -1
            row[6] = len(fp)
            row[7] = n_var
            if coded:
                fp.extend(coded[1])
            else:
                unsupported.append(act.name)
            acts.append((s, act, n_var, step.width_in))
            n_var += step.width_in
        elif step.op == "flatten":
            row[0] = _nk.OP_FLATTEN
        elif step.op == "pool":
            row[0] = _nk.OP_POOL
        elif step.op == "avgpool":
            row[0] = _nk.OP_AVGPOOL
            row[5] = len(idx)
            row[6] = step.index.shape[1]
            idx.extend(int(v) for v in np.asarray(step.index).ravel())
        elif step.op == "sum":
            row[0] = _nk.OP_SUM
            row[5] = len(srcs)
            row[6] = len(step.src)
            srcs.extend(step.src)
        else:  # pragma: no cover - the compiler emits only the ops above
            raise AssertionError(step.op)
    return _FlatProgram(
        program,
        d,
        full,
        ops,
        np.array(idx or [0], dtype=np.int64),
        np.array(srcs or [0], dtype=np.int64),
        np.array(fp or [0.0], dtype=np.float64),
        reg_off,
        tuple(widths),
        int(size),
        int(reg_off[program.output]),
        max(n_var, 1),
        tuple(acts),
        tuple(dict.fromkeys(unsupported)),
    )


def unjitted_activations(net: Layer, d: int) -> tuple:
    """Names of the activations of ``net`` (on ``d`` patches) without a jitted closed form.

    Empty when :func:`gram` and :func:`hypercube_spectrum` run fully in numba;
    otherwise they use the numpy path and warn (:class:`NumbaFallbackWarning`).

    >>> from eigencalc.architectures import serial, Dense, Relu, Tanh
    >>> unjitted_activations(serial(Dense(), Relu(), Dense()), 1), unjitted_activations(serial(Dense(), Tanh(), Dense()), 1)
    ((), ('tanh',))
    """
    return _flat_program(_check_network(net), _check_int(d, "d (number of input patches)")).unsupported


def _select_engine(flat: _FlatProgram, engine: str, what: str) -> str:
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
def _tiny_flat() -> _FlatProgram:
    """A one-step program (a unit Dense on one patch): every kernel compiles the same machine code for it."""
    step = Step(_UnitDense(), "warm-up", "affine", (0,), 1, 1, 1, np.zeros((1, 1), dtype=np.int64))
    return _flatten(Program(1, (step,), 1, False))


def _warm(name: str) -> None:
    """Compile (or load from the on-disk cache) one kernel with a tiny call, timing it once per process."""
    if name in _COMPILE_SECONDS:
        return
    f = _tiny_flat()
    X = np.ones((1, 1, 1))
    V = np.ones((1, f.n_var))
    start = time.perf_counter()
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
    _COMPILE_SECONDS[name] = time.perf_counter() - start


_KERNELS = ("self_variances", "gram", "correlations", "walsh_values", "fwht", "dual_values")


def warmup() -> dict:
    """Compile (or load from cache) every jitted kernel now; returns :func:`compile_seconds`.

    >>> sorted(warmup())
    ['correlations', 'dual_values', 'fwht', 'gram', 'self_variances', 'walsh_values']
    """
    for name in _KERNELS:
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


def _check_variances(flat: _FlatProgram, V: np.ndarray, name: str) -> None:
    """Raise as :func:`eigencalc.architectures.evaluate_program` does when an activation sees variance <= 0."""
    for s, act, slot, width in flat.activations:
        v = V[:, slot : slot + width]
        bad = ~(v > 0)
        if bad.any():
            n, pos = np.argwhere(bad)[0]
            step = flat.program.steps[s]
            raise ValueError(
                f"{step.layer!r} at {step.path}: input {name}[{n}] has variance {v[n, pos]:g} "
                f"at position {pos} (an all-zero input patch and no bias?); activations need variances > 0"
            )


def _self_variances_numba(flat: _FlatProgram, X: np.ndarray, name: str) -> np.ndarray:
    _warm("self_variances")
    V = np.zeros((X.shape[0], flat.n_var))
    N = X.shape[0]
    if _serial(N * flat.n_scratch // 16):
        _nk._self_variances_chunk(*flat.kernel_args(), flat.full, X, 0, N, V)
    else:
        _nk._self_variances_jit(*flat.kernel_args(), flat.full, X, _n_chunks(N), V)
    _check_variances(flat, V, name)
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


def _gram_numba(flat, X, Y, kind, block, mode):
    ntk = kind == "ntk"
    VX = _self_variances_numba(flat, X, "X")
    VY = VX if Y is None else _self_variances_numba(flat, Y, "Y")
    Yv = X if Y is None else Y
    N, M = X.shape[0], Yv.shape[0]
    total, out = _pair_output(mode, N, M)
    _warm("gram")
    for p0 in range(0, total, block):
        p1 = min(p0 + block, total)
        args = (*flat.kernel_args(), flat.out_off, flat.full, ntk, X, Yv, VX, VY, mode)
        if _serial((p1 - p0) * flat.n_scratch // 16):
            _nk._gram_chunk(*args, p0, p1, out)
        else:
            _nk._gram_jit(*args, p0, p1, _n_chunks(p1 - p0), out)
    return out


def _prepare_gram(net, X, Y, kind, block):
    """Validate a Gram request; returns (kind, block, X, Y, flat program)."""
    net = _check_network(net)
    kind = _check_kind(kind)
    block = _check_int(block, "block")
    X, Y = _check_pair_inputs(X, Y)
    return kind, block, X, Y, _flat_program(net, X.shape[1])


def gram(net: Layer, X: Any, Y: Any = None, kind: str = "nngp", *, block: int = DEFAULT_BLOCK, engine: str = "auto") -> np.ndarray:
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


def kernel_pairs(net: Layer, X: Any, Y: Any, kind: str = "nngp", *, block: int = DEFAULT_BLOCK, engine: str = "auto") -> np.ndarray:
    r"""Kernel of paired inputs :math:`K(x_k, y_k)`, shape ``(N,)`` (the diagonal of a Gram, M1–M4).

    .. math:: k_k = K(x_k, y_k), \qquad k = 1, \dots, N

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> X = np.random.default_rng(1).standard_normal((4, 1, 3))
    >>> net = serial(Dense(), Relu(), Dense())
    >>> bool(np.allclose(kernel_pairs(net, X, X[::-1]), np.diag(net.kernel_fn(X, X[::-1])), rtol=1e-13, atol=0))
    True
    """
    net = _check_network(net)
    kind = _check_kind(kind)
    block = _check_int(block, "block")
    X, Y = _check_pair_inputs(X, Y)
    if Y is None:
        raise TypeError("kernel_pairs needs both X and Y")
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"kernel_pairs pairs X[k] with Y[k]: got {X.shape[0]} and {Y.shape[0]} inputs")
    flat = _flat_program(net, X.shape[1])
    if _select_engine(flat, engine, "kernel_pairs") == "numpy":
        return _gram_numpy_flat(flat, X, Y, kind, block, _nk.MODE_ZIP)[:, 0]
    return _gram_numba(flat, X, Y, kind, block, _nk.MODE_ZIP)[:, 0]


# --------------------------------------------------------------------------
# Gram matrices: the numpy twin
# --------------------------------------------------------------------------


def _run_ops_numpy(flat: _FlatProgram, S0: np.ndarray, kind: str, vx: np.ndarray, vy: np.ndarray, self_mode: bool):
    r"""The flat program on a block of B pairs at once: registers ``(B, w)`` or ``(B, w, w)`` (M1–M4).

    Activations use :meth:`eigencalc.activations.Activation.kernel` (numpy), an
    implementation independent of the jitted closed forms.
    """
    full = flat.full
    ntk = kind == "ntk" and not self_mode
    sig = {0: S0}
    th = {0: np.zeros_like(S0)} if ntk else None
    acts = {s: act for s, act, _, _ in flat.activations}
    for s, step in enumerate(flat.program.steps):
        op, src, dst, wi, wo = (int(v) for v in flat.ops[s, :5])
        S = sig[src]
        if op == _nk.OP_AFFINE:
            index = np.asarray(step.index)
            scale = step.layer.w_var / index.shape[1]
            if full:
                g = lambda a: a[:, index[:, None, :], index[None, :, :]].sum(axis=-1)  # noqa: E731
            else:
                g = lambda a: a[:, index].sum(axis=-1)  # noqa: E731
            sig[dst] = scale * g(S) + step.layer.b_var
            if ntk:
                th[dst] = scale * g(th[src]) + sig[dst]
        elif op == _nk.OP_ACTIVATION:
            slot = int(flat.ops[s, 7])
            if self_mode:
                vx[:, slot : slot + wi] = np.diagonal(S, axis1=1, axis2=2) if full else S
            qx, qy = vx[:, slot : slot + wi], vy[:, slot : slot + wi]
            if full:
                qx, qy = qx[:, :, None], qy[:, None, :]
            act = acts[s]
            with np.errstate(divide="ignore", invalid="ignore"):
                sig[dst] = act.kernel(qx, qy, S)
                if ntk:
                    th[dst] = th[src] * act.derivative_kernel(qx, qy, S)
        elif op == _nk.OP_FLATTEN:
            mean = (lambda a: np.diagonal(a, axis1=1, axis2=2).mean(axis=-1)) if full else (lambda a: a.mean(axis=-1))
            sig[dst] = mean(S)[:, None, None] if full else mean(S)[:, None]
            if ntk:
                th[dst] = mean(th[src])[:, None, None] if full else mean(th[src])[:, None]
        elif op == _nk.OP_AVGPOOL:
            index = np.asarray(step.index)
            omega = index.shape[1]
            if full:
                g = lambda a: a[:, index[:, None, :, None], index[None, :, None, :]].sum(axis=(-2, -1)) / omega**2  # noqa: E731
            else:
                g = lambda a: a[:, index[:, 0]]  # noqa: E731
            sig[dst] = g(S)
            if ntk:
                th[dst] = g(th[src])
        elif op == _nk.OP_POOL:
            axes = (1, 2) if full else (1,)
            sig[dst] = S.mean(axis=axes, keepdims=True)
            if ntk:
                th[dst] = th[src].mean(axis=axes, keepdims=True)
        else:  # OP_SUM
            sig[dst] = sum((sig[r] for r in step.src[1:]), sig[step.src[0]].copy())
            if ntk:
                th[dst] = sum((th[r] for r in step.src[1:]), th[step.src[0]].copy())
    out = th[flat.program.output] if ntk else sig[flat.program.output]
    return out.reshape(out.shape[0])


def _input_covariance_numpy(Xb: np.ndarray, Yb: np.ndarray, full: bool) -> np.ndarray:
    n0 = Xb.shape[-1]
    if full:
        return np.einsum("bic,bjc->bij", Xb, Yb) / n0
    return np.einsum("bic,bic->bi", Xb, Yb) / n0


def _block_size(flat: _FlatProgram, block: int) -> int:
    """Pairs per vectorised numpy block, so that the registers of a block stay below ~2^22 floats."""
    return max(1, min(block, (1 << 22) // max(flat.n_scratch, 1)))


def _self_variances_numpy(flat: _FlatProgram, X: np.ndarray, name: str, block: int) -> np.ndarray:
    V = np.zeros((X.shape[0], flat.n_var))
    B = _block_size(flat, block)
    for a in range(0, X.shape[0], B):
        Xb = X[a : a + B]
        _run_ops_numpy(flat, _input_covariance_numpy(Xb, Xb, flat.full), "nngp", V[a : a + B], V[a : a + B], True)
    _check_variances(flat, V, name)
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
    for p0 in range(0, total, B):
        i, j = _pair_indices(mode, p0, min(p0 + B, total), N, M)
        S0 = _input_covariance_numpy(X[i], Yv[j], flat.full)
        values = _run_ops_numpy(flat, S0, kind, VX[i], VY[j], False)
        if mode == _nk.MODE_ZIP:
            out[i, 0] = values
        else:
            out[i, j] = values
            if mode == _nk.MODE_TRIANGLE:
                out[j, i] = values
    return out


def gram_numpy(net: Layer, X: Any, Y: Any = None, kind: str = "nngp", *, block: int = 4096) -> np.ndarray:
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
    kind, block, X, Y, flat = _prepare_gram(net, X, Y, kind, block)
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


def _correlation_variances(flat: _FlatProgram) -> np.ndarray:
    """Activation variances of equal-norm inputs, shape (1, n_var): the self run at :math:`t = (1, \\dots, 1)`."""
    return _self_variances_numba(flat, np.ones((1, flat.d, 1)), "t=1")


def kernel_of_correlations(net: Layer, t: Any, kind: str = "nngp") -> np.ndarray:
    r"""Jitted :math:`K(t_1, \dots, t_d)` for equal-norm patches (pooling-free networks; M1–M4).

    The numba twin of ``net.kernel_of_correlations(t, kind)``: ``t`` has shape
    ``(..., d)`` with entries in [-1, 1]; result shape ``t.shape[:-1]``.

    .. math:: \Sigma^0_{ii} = t_i, \qquad K(t) = \Sigma_{\text{out}}(t)\ \text{or}\ \Theta_{\text{out}}(t)

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> float(kernel_of_correlations(serial(Dense(), Relu(), Dense()), [1.0]))
    0.5
    """
    net = _check_network(net)
    kind = _check_kind(kind)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim == 0:
        raise ValueError("t must have shape (..., d)")
    if np.isnan(t).any():
        raise ValueError("t contains NaN")
    if (np.abs(t) > 1 + 1e-12).any():
        raise ValueError("correlations t must lie in [-1, 1]")
    flat = _flat_program(net, t.shape[-1])
    require_no_pooling(flat, "kernel_of_correlations")
    if _select_engine(flat, "auto", "kernel_of_correlations") == "numpy":
        return net.kernel_of_correlations(t, kind)
    T = np.ascontiguousarray(np.clip(t, -1.0, 1.0).reshape(-1, t.shape[-1]))
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


def require_no_pooling(flat: _FlatProgram, what: str) -> None:
    if flat.full:
        step = next(s for s in flat.program.steps if s.op == "pool" and s.width_in > 1)
        raise ValueError(
            f"{what}: {step.layer!r} at {step.path} pools over several positions, so the kernel is not a "
            "function of the patch correlations t and Walsh functions are not its eigenfunctions"
        )


def walsh_values(flat: _FlatProgram, net: Layer, n0: int, kind: str, engine: str) -> np.ndarray:
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
    shifts = (np.arange(d) * n0).astype(np.uint64)
    for u0 in range(0, out.size, chunk):
        u = np.arange(u0, min(u0 + chunk, out.size), dtype=np.uint64)
        counts = np.zeros((u.size, d))
        for c in range(n0):
            counts += ((u[:, None] >> (shifts + np.uint64(c))) & np.uint64(1)).astype(float)
        out[u0 : u0 + u.size] = net.kernel_of_correlations((n0 - 2 * counts) / n0, kind)
    return out
