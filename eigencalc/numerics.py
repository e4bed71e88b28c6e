r"""Numerical checks of the symbolic spectra: Gram matrices, Walsh–Hadamard spectra, Monte-Carlo.

Float64 and Monte-Carlo companions of :mod:`eigencalc.spectra` (``../shared/MATH.md``
sections 1 and 5).  Every result says what it is: exact up to float rounding
(Gram matrices, the Walsh–Hadamard spectrum of M17) or a Monte-Carlo estimate
with its standard error.

* :func:`gram` -- :math:`K(x_n, y_m)` of raw inputs ``(N, d, n0)`` for any
  architecture (pooling included, M1–M4), jitted (numba, parallel over pairs of
  inputs, streamed in blocks of pairs); :func:`gram_numpy` is its numpy twin and
  :func:`kernel_pairs` evaluates :math:`K(x_k, y_k)` for paired inputs.
* :func:`hypercube_spectrum` -- every eigenvalue of a pooling-free network on
  :math:`\{-1,1\}^{d n_0}` by one fast Walsh–Hadamard transform (M12, M17);
  :func:`group_by_frequency_space` groups it by (frequency, space) (M18).
* :func:`monte_carlo_eigenvalue` -- unbiased estimate of
  :math:`\lambda(r) = E_{x,y}[K(x,y) Y_r(x) Y_r(y)]` (M14) with standard error.
* :func:`empirical_spectrum` -- eigenvalues of :math:`G/N` next to the
  predicted :math:`\lambda(r)` (Nyström consistency).
* :func:`verify` -- symbolic spectrum against the numeric estimates, as a table.

The jitted engine compiles a network (:func:`eigencalc._dag.compile_network`)
into a flat op table interpreted per pair of inputs by
:mod:`eigencalc._numba_kernels`.  Activations without a closed-form dual kernel
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

from . import _numba_kernels as _nk
from ._dag import Program, _check_inputs, _check_kind, compile_network
from ._layers import Layer
from .domains import Domain, ProductHypercube, ProductSphere

__all__ = [
    "NumbaFallbackWarning",
    "gram",
    "gram_numpy",
    "kernel_pairs",
    "sample",
    "walsh_hadamard",
    "hypercube_spectrum",
    "kernel_of_correlations",
    "WalshGroup",
    "group_by_frequency_space",
    "zonal_harmonic",
    "MonteCarloEstimate",
    "monte_carlo_eigenvalue",
    "EmpiricalCluster",
    "EmpiricalSpectrum",
    "empirical_spectrum",
    "VerificationRow",
    "VerificationReport",
    "verify",
    "unjitted_activations",
    "compile_seconds",
    "warmup",
    "MAX_WALSH_BITS",
]

#: Largest number of sign bits ``d * n0`` accepted by :func:`hypercube_spectrum` (2^26 float64 = 512 MiB).
MAX_WALSH_BITS = 26
#: Default number of input pairs per jitted call of :func:`gram`.
DEFAULT_BLOCK = 1 << 16
_EPS = np.finfo(float).eps


class NumbaFallbackWarning(UserWarning):
    """A computation ran on the (slower) numpy path because no jitted closed form exists."""


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _check_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def _check_network(net: Any) -> Layer:
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return net


def _check_domain(domain: Any) -> Domain:
    if not isinstance(domain, (ProductSphere, ProductHypercube)):
        raise TypeError(f"domain must be a ProductSphere or ProductHypercube, got {type(domain).__name__}")
    return domain


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
    """A compiled network as arrays for :func:`eigencalc._numba_kernels._run_ops` (see its table)."""

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
    from . import activations as A

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
    program = compile_network(net, d)
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


def _tiny_flat() -> _FlatProgram:
    from ._layers import Dense, Relu, serial

    return _flat_program(serial(Dense(), Relu(), Dense()), 1)


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
    """Raise as :func:`eigencalc._layers.evaluate_program` does when an activation sees variance <= 0."""
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
# Sampling
# --------------------------------------------------------------------------


def sample(domain: Domain, N: int, seed: Any = None) -> np.ndarray:
    r"""N independent uniform inputs of shape ``(N, d, n0)`` on a product domain (M14).

    Delegates to ``domain.sample``: on a :class:`~eigencalc.domains.ProductSphere`
    each patch is uniform on the sphere of radius :math:`\sqrt{n_0}`, on a
    :class:`~eigencalc.domains.ProductHypercube` uniform on :math:`\{-1,1\}^{n_0}`.

    .. math:: x = (x_1, \dots, x_d), \quad x_i \sim \mathrm{Unif}(\sqrt{n_0}\, S^{n_0 - 1}) \ \text{or}\ \mathrm{Unif}\{-1,1\}^{n_0}

    >>> from eigencalc.domains import ProductSphere
    >>> X = sample(ProductSphere(3, 4), 2, seed=0)
    >>> X.shape, bool(np.allclose((X**2).sum(-1), 4.0))
    ((2, 3, 4), True)
    """
    domain = _check_domain(domain)
    N = _check_int(N, "N (number of samples)")
    return np.ascontiguousarray(domain.sample(N, seed), dtype=np.float64)


# --------------------------------------------------------------------------
# Walsh–Hadamard spectrum on hypercubes (M12, M17)
# --------------------------------------------------------------------------


def _fwht_numpy(a: np.ndarray) -> np.ndarray:
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
        return _fwht_numpy(a)
    _fwht_numba(a)
    return a


def _fwht_numba(a: np.ndarray) -> None:
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
    _require_no_pooling(flat, "kernel_of_correlations")
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


def _require_no_pooling(flat: _FlatProgram, what: str) -> None:
    if flat.full:
        step = next(s for s in flat.program.steps if s.op == "pool" and s.width_in > 1)
        raise ValueError(
            f"{what}: {step.layer!r} at {step.path} pools over several positions, so the kernel is not a "
            "function of the patch correlations t and Walsh functions are not its eigenfunctions"
        )


def _walsh_values(flat: _FlatProgram, net: Layer, n0: int, kind: str, engine: str) -> np.ndarray:
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


def hypercube_spectrum(net: Layer, d: int, kind: str = "ntk", *, n0: int = 1, engine: str = "auto") -> np.ndarray:
    r"""Every eigenvalue of a pooling-free network's kernel on the product hypercube, by one FWHT (M12, M17).

    With :math:`n = d\,n_0` sign bits and :math:`z = x \circ y`, the kernel is a
    function of z alone (:math:`t_i = \frac1{n_0}\sum_c z_{ic}`), so the Walsh
    functions :math:`\chi_S(x) = \prod_{b \in S} x_b` are eigenfunctions with

    .. math:: \lambda(S) = 2^{-n} \sum_{z \in \{-1,1\}^n} K(z) \prod_{b \in S} z_b .

    Returns the array of all :math:`2^n` eigenvalues indexed by the subset
    bitmask S (bit :math:`i n_0 + c` = coordinate c of patch i; for n0 = 1, bit
    i = patch i).  :math:`\lambda(S)` equals ``spectrum(...).eigenvalue(r)`` with
    :math:`r_i = |S \cap \text{patch } i|`.  K at the :math:`2^n` patterns is
    evaluated by the jitted interpreter (numpy ``kernel_of_correlations`` if an
    activation has no closed form, with a :class:`NumbaFallbackWarning`), then
    transformed in place: memory :math:`8 \cdot 2^n` bytes, time
    :math:`O(2^n(n + \text{network size}))`.  :math:`n \le 26`.

    >>> from eigencalc.architectures import serial, Dense, Monomial
    >>> lam = hypercube_spectrum(serial(Dense(), Monomial(2), Dense()), 1, "nngp")
    >>> lam.tolist()  # K(t) = E[u^2 v^2] = 1 + 2 t^2 = 3 at t = +-1: lambda = (3, 0)
    [3.0, 0.0]
    """
    net = _check_network(net)
    kind = _check_kind(kind)
    d = _check_int(d, "d (number of patches)")
    n0 = _check_int(n0, "n0 (coordinates per patch)")
    if d * n0 > MAX_WALSH_BITS:
        raise ValueError(
            f"hypercube_spectrum: d * n0 = {d * n0} sign bits means 2^{d * n0} eigenvalues; "
            f"the limit is {MAX_WALSH_BITS} (2^{MAX_WALSH_BITS} float64 = {8 << MAX_WALSH_BITS >> 20} MiB)"
        )
    flat = _flat_program(net, d)
    _require_no_pooling(flat, "hypercube_spectrum")
    engine = _select_engine(flat, engine, "hypercube_spectrum")
    values = _walsh_values(flat, net, n0, kind, engine)
    if engine == "numba":
        _fwht_numba(values)
    else:
        values = _fwht_numpy(values)
    values /= values.size
    return values


def _popcount(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.uint64)
    count = np.zeros(a.shape, dtype=np.int64)
    while a.any():
        count += (a & np.uint64(1)).astype(np.int64)
        a = a >> np.uint64(1)
    return count


@dataclass(frozen=True)
class WalshGroup:
    """All Walsh eigenvalues with one (frequency, space) (M18): subset masks and values."""

    frequency: int
    space: int
    masks: np.ndarray
    values: np.ndarray

    @property
    def count(self) -> int:
        """Number of Walsh functions (= total multiplicity)."""
        return int(self.masks.size)

    @property
    def min(self) -> float:
        return float(self.values.min())

    @property
    def max(self) -> float:
        return float(self.values.max())

    def __repr__(self) -> str:
        return (
            f"WalshGroup(frequency={self.frequency}, space={self.space}, count={self.count}, "
            f"min={self.min:.6g}, max={self.max:.6g})"
        )


def _support_masks(masks: np.ndarray, d: int, n0: int) -> np.ndarray:
    patch = np.uint64((1 << n0) - 1)
    supp = np.zeros(masks.shape, dtype=np.int64)
    for i in range(d):
        hit = ((masks >> np.uint64(i * n0)) & patch) != 0
        supp |= hit.astype(np.int64) << i
    return supp


def _spaces_of_supports(dag, supports: np.ndarray) -> np.ndarray:
    """M18 space of every support bitmask, as ``Spectrum.space`` computes it."""
    from ._tree import is_tree
    from .spectra import _aggregation_levels, _steiner

    levels = _aggregation_levels(dag)
    need = dag.ancestors_of_output()
    if is_tree(dag):
        # Unique downward paths: the Steiner sub-DAG is every output ancestor whose
        # receptive field meets the support; an edge c -> u costs 1 when u aggregates.
        space = np.zeros(supports.shape, dtype=np.int64)
        for u in sorted(levels):
            if u not in need:
                continue
            for c in dag.nodes[u].children:
                rf = sum(1 << p for p in dag.receptive_field(c))
                space += ((supports & rf) != 0).astype(np.int64)
        return space
    unique, inverse = np.unique(supports, return_inverse=True)
    if unique.size > 1 << 14:
        raise ValueError(
            f"group_by_frequency_space: {unique.size} distinct supports on a non-tree DAG (Steiner problem "
            "per support); pass max_frequency to restrict them"
        )
    values = np.array(
        [_steiner(dag, [i for i in range(dag.d) if (int(s) >> i) & 1], levels, None) for s in unique], dtype=np.int64
    )
    return values[inverse.ravel()]


def group_by_frequency_space(values: Any, spectrum_or_dag: Any, *, max_frequency: int | None = None) -> dict:
    r"""Group Walsh eigenvalues (from :func:`hypercube_spectrum`) by (frequency, space) (M18).

    Frequency :math:`|r| = |S|`; space: edges of the smallest connected sub-DAG
    holding the output and the patches met by S, as :meth:`Spectrum.space`.
    ``spectrum_or_dag`` is a :class:`~eigencalc.spectra.Spectrum` or a
    :class:`~eigencalc._dag.Dag`; ``n0`` is read off ``len(values) = 2^(d n0)``.
    Returns ``{(frequency, space): WalshGroup}`` in increasing order.

    .. math:: \{\lambda(S)\}_{S} \mapsto \{(|S|, \mathrm{space}(S)) : [\lambda(S)]\}

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> net = serial(Conv(2, stride=2), Relu(), Flatten(), Dense())
    >>> groups = group_by_frequency_space(hypercube_spectrum(net, 4, "ntk"), net.dag(4))
    >>> [(key, g.count) for key, g in groups.items()]
    [((0, 0), 1), ((1, 2), 4), ((2, 3), 2), ((2, 4), 4), ((3, 5), 4), ((4, 6), 1)]
    """
    from ._dag import Dag
    from .spectra import Spectrum

    if isinstance(spectrum_or_dag, Spectrum):
        dag = spectrum_or_dag.dag
    elif isinstance(spectrum_or_dag, Dag):
        dag = spectrum_or_dag
    else:
        raise TypeError(f"expected a Spectrum or a Dag, got {type(spectrum_or_dag).__name__}")
    values = np.asarray(values, dtype=np.float64).ravel()
    bits = values.size.bit_length() - 1
    if values.size == 0 or values.size != 1 << bits or bits % dag.d:
        raise ValueError(f"values must have length 2^(d n0) with d = {dag.d}, got {values.size}")
    n0 = bits // dag.d
    masks = np.arange(values.size, dtype=np.uint64)
    freq = _popcount(masks)
    if max_frequency is not None:
        keep = freq <= _check_int(max_frequency, "max_frequency", 0)
        masks, freq = masks[keep], freq[keep]
    space = _spaces_of_supports(dag, _support_masks(masks, dag.d, n0))
    order = np.lexsort((space, freq))
    masks, freq, space = masks[order], freq[order], space[order]
    groups = {}
    if masks.size:
        cuts = np.flatnonzero((np.diff(freq) != 0) | (np.diff(space) != 0)) + 1
        for part in np.split(np.arange(masks.size), cuts):
            key = (int(freq[part[0]]), int(space[part[0]]))
            m = masks[part].astype(np.int64)
            groups[key] = WalshGroup(key[0], key[1], m, values[m])
    return groups


# --------------------------------------------------------------------------
# Monte-Carlo eigenvalues (M14)
# --------------------------------------------------------------------------


def zonal_harmonic(k: int, n: int, s: Any) -> np.ndarray:
    r"""Normalised zonal harmonic :math:`\sqrt{N(n,k)}\, P_k(n; s)` on :math:`S^{n-1}` (M9).

    :math:`P_k(n; s)` is the Gegenbauer polynomial normalised by :math:`P_k(1) = 1`,
    from the three-term recurrence

    .. math:: (k + n - 2)\,P_{k+1}(s) = (2k + n - 2)\, s\, P_k(s) - k\, P_{k-1}(s),

    and :math:`E_{x}[P_k(n; \langle x, e\rangle)^2] = 1/N(n, k)` for x uniform on
    the unit sphere, so the result has unit second moment.

    >>> [round(float(v), 10) for v in zonal_harmonic(2, 3, [1.0, 0.0])]  # sqrt(5) (3 s^2 - 1)/2
    [2.2360679775, -1.1180339887]
    """
    k = _check_int(k, "degree k", 0)
    n = _check_int(n, "n (sphere dimension + 1)", 2)
    return math.sqrt(ProductSphere(1, n).patch_multiplicity(k)) * _gegenbauer(k, n, np.asarray(s, dtype=np.float64))


def _gegenbauer(k: int, n: int, s: np.ndarray) -> np.ndarray:
    """P_k(n; s) with P_k(1) = 1 (M9), three-term recurrence."""
    if k == 0:
        return np.ones_like(s)
    prev, cur = np.ones_like(s), s.copy()
    for j in range(1, k):
        prev, cur = cur, ((2 * j + n - 2) * s * cur - j * prev) / (j + n - 2)
    return cur


def _krawtchouk_ratio(k: int, n: int, j: np.ndarray) -> np.ndarray:
    r""":math:`K_k(j)/\binom{n}{k}` (M12): the hypercube analogue of :math:`P_k(n; t)`, t = 1 - 2j/n."""
    table = np.array(
        [sum((-1) ** i * math.comb(jj, i) * math.comb(n - jj, k - i) for i in range(k + 1)) / math.comb(n, k) for jj in range(n + 1)]
    )
    return table[j]


def _zonal_factor(domain: Domain, r: tuple, X: np.ndarray) -> np.ndarray:
    r""":math:`Y_r(x) = \prod_i Y_{r_i}(x_i)` with unit second moment (M14), for a batch ``X``."""
    Y = np.ones(X.shape[0])
    for i, k in enumerate(r):
        if k == 0:
            continue
        if isinstance(domain, ProductSphere):
            s = np.clip(X[:, i, 0] / math.sqrt(domain.n0), -1.0, 1.0)
            Y *= zonal_harmonic(k, domain.n0, s)
        else:
            Y *= np.prod(X[:, i, :k], axis=-1)
    return Y


def _addition_factor(domain: Domain, r: tuple, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    r""":math:`\mathrm{mult}(r)^{-1}\sum_{m} Y_{r,m}(x) Y_{r,m}(y) = \prod_i P_{r_i}(n_0; t_i)` (addition theorem)."""
    n0 = domain.n0
    t = np.einsum("nic,nic->ni", X, Y) / n0
    H = np.ones(X.shape[0])
    for i, k in enumerate(r):
        if k == 0:
            continue
        if isinstance(domain, ProductSphere):
            H *= _gegenbauer(k, n0, np.clip(t[:, i], -1.0, 1.0))
        else:
            j = np.rint(n0 * (1 - t[:, i]) / 2).astype(np.int64)
            H *= _krawtchouk_ratio(k, n0, j)
    return H


def _check_multi_index(domain: Domain, r: Any) -> tuple:
    r = domain.check_index(r)
    top = domain.max_patch_degree()
    if top is not None and max(r) > top:
        raise ValueError(f"{domain!r} has no harmonics of degree {max(r)} > n0 = {top} on a patch")
    return r


_ESTIMATORS = ("zonal", "addition")


@dataclass(frozen=True)
class MonteCarloEstimate:
    r"""A Monte-Carlo estimate of :math:`\lambda(r)` with its standard error (``value +- stderr``).

    ``estimator`` is ``"zonal"`` or ``"addition"``; ``centre`` the constant
    subtracted from K (0.0 when none), see :func:`monte_carlo_eigenvalue`.
    """

    r: tuple
    kind: str
    value: float
    stderr: float
    n_samples: int
    seed: Any
    estimator: str = "zonal"
    centre: float = 0.0

    def __repr__(self) -> str:
        return (
            f"MonteCarloEstimate(r={self.r}, {self.kind}: {self.value:.6g} +- {self.stderr:.2g}, "
            f"n={self.n_samples}, {self.estimator})"
        )


def _mc_estimates(net, domain, rs, n_samples, seed, kind, block, engine, estimator, centre):
    """Estimates for several r from the same pairs: (means, stderrs, centre).

    Chan's pairwise update of mean and sum of squares per block.  The centre is
    the mean of K over 1024 pilot pairs drawn from a separate generator (seeded
    by one draw of the main one), so it is a constant given the main sample.
    """
    rng = np.random.default_rng(seed)
    c = 0.0
    if centre:
        pilot = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
        c = float(kernel_pairs(net, sample(domain, 1024, pilot), sample(domain, 1024, pilot), kind, engine=engine).mean())
    k = len(rs)
    count, mean, m2 = 0, np.zeros(k), np.zeros(k)
    for a in range(0, n_samples, block):
        b = min(a + block, n_samples) - a
        X = sample(domain, b, rng)
        Y = sample(domain, b, rng)
        K = kernel_pairs(net, X, Y, kind, engine=engine)
        rows = []
        for r in rs:
            Kc = K - c if any(r) else K  # E[c Y_r(x) Y_r(y)] = c E[Y_r]^2 = 0 for r != 0
            if estimator == "zonal":
                rows.append(Kc * _zonal_factor(domain, r, X) * _zonal_factor(domain, r, Y))
            else:
                rows.append(Kc * _addition_factor(domain, r, X, Y))
        Z = np.stack(rows)
        bmean = Z.mean(axis=1)
        bm2 = ((Z - bmean[:, None]) ** 2).sum(axis=1)
        delta = bmean - mean
        total = count + b
        mean = mean + delta * b / total
        m2 = m2 + bm2 + delta**2 * count * b / total
        count = total
    var = m2 / (count - 1)
    return mean, np.sqrt(var / count), c


def monte_carlo_eigenvalue(
    net: Layer,
    domain: Domain,
    r: Any,
    n_samples: int = 100_000,
    seed: Any = 0,
    kind: str = "ntk",
    *,
    estimator: str = "zonal",
    centre: bool = False,
    block: int = 1 << 15,
    engine: str = "auto",
) -> MonteCarloEstimate:
    r"""Unbiased Monte-Carlo estimate of :math:`\lambda(r)` with its standard error (M14).

    .. math::

        \lambda(r) = E_{x, y}\big[K(x, y)\, Y_r(x)\, Y_r(y)\big]
        \approx \frac1n \sum_{k=1}^n K(x_k, y_k)\, Y_r(x_k)\, Y_r(y_k)

    over ``n_samples`` independent uniform pairs :math:`(x_k, y_k)` (streamed
    in blocks); standard error = sample standard deviation / :math:`\sqrt n`.
    :math:`Y_r = \prod_i Y_{r_i}(x_i)` is a normalised member of the eigenspace
    of r, :math:`E[Y_r^2] = 1`, so :math:`E[K Y_r Y_r] = \langle Y_r, T_K Y_r\rangle = \lambda(r)`.

    ``estimator="zonal"`` (default) uses one such :math:`Y_r`:

    * product sphere: :math:`Y_{r_i}(x_i) = \sqrt{N(n_0, r_i)}\, P_{r_i}(n_0; \langle x_i, e\rangle/\sqrt{n_0})`
      with e the first coordinate axis of the patch (:func:`zonal_harmonic`);
    * product hypercube: the Walsh monomial of the first :math:`r_i`
      coordinates of patch i, :math:`Y_{r_i}(x_i) = \prod_{c < r_i} x_{ic}`.

    ``estimator="addition"`` averages over an orthonormal basis of the
    eigenspace instead, which by the addition theorem needs only the patch
    correlations :math:`t_i = \langle x_i, y_i\rangle/n_0`:

    .. math:: \lambda(r) = E_{x,y}\Big[K(x, y) \prod_i P_{r_i}(n_0; t_i)\Big]

    (:math:`P_k = K_k(j)/\binom{n_0}{k}`, :math:`j = n_0(1-t)/2`, on the
    hypercube, M12); its variance is smaller by about :math:`\mathrm{mult}(r)`.
    Both are Rayleigh quotients of the kernel operator, equal to
    :math:`\lambda(r)` when the :math:`Y_r` are eigenfunctions (pooling-free
    networks, M14).

    ``centre=True`` replaces K by :math:`K - c` for :math:`r \ne 0`, with c the
    mean of K over an independent pilot sample: still unbiased, because
    :math:`E[Y_r] = 0` (resp. :math:`E[P_k(t)] = 0`) for :math:`r \ne 0` and x, y are
    independent, and it removes the large constant part of K from the variance.

    >>> from eigencalc.architectures import serial, Dense, Monomial
    >>> from eigencalc.domains import ProductSphere
    >>> est = monte_carlo_eigenvalue(serial(Dense(), Monomial(1), Dense()), ProductSphere(1, 3), (1,), 20000, 0, "nngp")
    >>> abs(est.value - 1 / 3) < 4 * est.stderr   # K(t) = t on S^2: lambda_1 = 1/3 (M11)
    True
    """
    net = _check_network(net)
    domain = _check_domain(domain)
    kind = _check_kind(kind)
    r = _check_multi_index(domain, r)
    n_samples = _check_int(n_samples, "n_samples", 2)
    block = _check_int(block, "block")
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    mean, err, c = _mc_estimates(net, domain, [r], n_samples, seed, kind, block, engine, estimator, bool(centre))
    return MonteCarloEstimate(r, kind, float(mean[0]), float(err[0]), n_samples, seed, estimator, c)


# --------------------------------------------------------------------------
# Empirical spectrum (Nystrom consistency)
# --------------------------------------------------------------------------


def _to_float(value) -> float:
    from .spectra import _to_float as conv

    return conv(value)


@dataclass(frozen=True)
class EmpiricalCluster:
    """One predicted eigenvalue (with multiplicity) and the mean of the matching empirical ones."""

    predicted: float
    multiplicity: int
    start: int  # rank of the first eigenvalue of the cluster (0 = largest)
    empirical: float  # mean of eigenvalues start .. start + multiplicity - 1 of G/N

    @property
    def relative_error(self) -> float:
        return abs(self.empirical - self.predicted) / abs(self.predicted) if self.predicted else math.inf


@dataclass(frozen=True, eq=False)
class EmpiricalSpectrum:
    r"""Eigenvalues of :math:`G/N` on N samples (descending) next to the predicted :math:`\lambda(r)`.

    ``predicted`` lists :math:`\lambda(r)` repeated :math:`\mathrm{mult}(r)` times,
    descending, for :math:`|r| \le` ``max_frequency``; its first ``reliable``
    entries are provably the largest eigenvalues of the operator (each exceeds
    the trace mass not captured up to ``max_frequency``, M16).
    """

    eigenvalues: np.ndarray
    predicted: np.ndarray
    reliable: int
    N: int
    kind: str
    seed: Any

    def clusters(self, rtol: float = 1e-9) -> list:
        """Groups of equal predicted eigenvalues among the ``reliable`` ones, with the empirical means."""
        out = []
        a = 0
        limit = min(self.reliable, self.eigenvalues.size)
        while a < limit:
            b = a + 1
            while b < limit and abs(self.predicted[b] - self.predicted[a]) <= rtol * abs(self.predicted[a]):
                b += 1
            out.append(EmpiricalCluster(float(self.predicted[a]), b - a, a, float(self.eigenvalues[a:b].mean())))
            a = b
        return out

    def __repr__(self) -> str:
        lines = [f"EmpiricalSpectrum({self.kind}, N={self.N}, reliable={self.reliable})"]
        lines.append(f"  {'rank':>5} {'mult':>5} {'predicted':>13} {'empirical':>13} {'rel.err':>8}")
        for c in self.clusters()[:12]:
            lines.append(f"  {c.start:>5} {c.multiplicity:>5} {c.predicted:>13.6g} {c.empirical:>13.6g} {c.relative_error:>8.2g}")
        return "\n".join(lines)


def empirical_spectrum(
    net: Layer,
    domain: Domain,
    N: int,
    kind: str = "ntk",
    seed: Any = 0,
    *,
    max_frequency: int = 3,
    spectrum_kwargs: dict | None = None,
) -> EmpiricalSpectrum:
    r"""Top eigenvalues of :math:`G/N` for N uniform samples, next to the predicted :math:`\lambda(r)` (M14).

    .. math::

        \frac1N\, \mathrm{eig}\big(K(x_n, x_m)\big)_{n,m \le N}
        \;\longrightarrow\; \{\lambda(r) \text{ with multiplicity } \mathrm{mult}(r)\}
        \quad (N \to \infty)

    (the Nyström / empirical-operator consistency of Koltchinskii and Giné,
    *Random matrix approximation of spectra of integral operators*, Bernoulli
    2000): each fixed eigenvalue converges at rate :math:`O(N^{-1/2})`.  The
    prediction is ``spectrum(net, domain, kind, max_frequency)``.
    """
    from .spectra import spectrum

    net = _check_network(net)
    domain = _check_domain(domain)
    kind = _check_kind(kind)
    N = _check_int(N, "N (number of samples)")
    X = sample(domain, N, seed)
    G = gram(net, X, kind=kind)
    eig = np.linalg.eigvalsh(G / N)[::-1].copy()
    spec = spectrum(net, domain, kind, max_frequency, **(spectrum_kwargs or {}))
    entries = spec.entries()
    pred = np.concatenate([np.full(e.multiplicity, _to_float(e.eigenvalue)) for e in entries]) if entries else np.zeros(0)
    errs = np.concatenate([np.full(e.multiplicity, _to_float(e.error_bound)) for e in entries]) if entries else np.zeros(0)
    order = np.argsort(-pred, kind="stable")
    pred, errs = pred[order], errs[order]
    total = _to_float(spec.total())
    if spec.method == "enumeration":  # float rounding of either sign
        residual = total - pred.sum() + errs.sum()
    else:
        # Truncated nonnegative series underestimate every eigenvalue (M15, M16), so the
        # uncaptured mass is at most total - sum(pred) and bounds every eigenvalue with
        # |r| > max_frequency; 1e-12 total allows for the rounding of the floats.
        residual = total - pred.sum() + 1e-12 * abs(total)
    above = pred > residual  # a prefix of the descending list
    reliable = int(np.argmin(above)) if not above.all() else int(pred.size)
    return EmpiricalSpectrum(eig, pred, min(reliable, N), N, kind, seed)


# --------------------------------------------------------------------------
# verify: the symbolic spectrum against numbers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationRow:
    r"""One eigenvalue class: symbolic ``value`` (+- ``value_error``) against a numeric ``estimate`` (+- ``error``).

    ``method`` is ``"walsh"`` (exact FWHT enumeration, ``error`` a float
    rounding bound) or ``"monte-carlo"`` (``error`` the standard error).
    :math:`z = (\text{estimate} - \text{value}) / \sqrt{\text{error}^2 + \text{value\_error}^2}`.
    """

    r: tuple
    frequency: int
    space: int
    multiplicity: int  # total over the class (count x mult(r)), as SpectrumEntry
    count: int
    value: float
    value_error: float
    estimate: float
    error: float
    method: str
    z: float
    agree: bool


@dataclass(frozen=True, eq=False)
class VerificationReport:
    """The rows of :func:`verify` and how they were made; ``repr`` is a text table."""

    rows: list
    kind: str
    domain: Domain
    method: str
    n_samples: int | None
    seed: Any
    z_max: float
    spectrum_method: str
    estimator: str | None = None

    @property
    def all_agree(self) -> bool:
        return all(row.agree for row in self.rows)

    def _dicts(self) -> list:
        from dataclasses import asdict

        return [asdict(row) for row in self.rows]

    def to_frame(self):
        """The rows as a ``pandas.DataFrame``."""
        from .reports import to_frame

        return to_frame(self._dicts())

    def to_latex(self, caption: str | None = None, label: str | None = None) -> str:
        """A booktabs table; symbolic values and estimates with their errors as ``\\pm``."""
        from .reports import to_latex

        return to_latex(self._dicts(), bounds={"value": "value_error", "estimate": "error"}, caption=caption, label=label)

    def to_records(self) -> list:
        from .reports import to_records

        return to_records(self._dicts())

    def _repr_html_(self) -> str:
        return "<pre>" + repr(self).splitlines()[0] + "</pre>" + self.to_frame().to_html(index=False)

    def __bool__(self) -> bool:
        return self.all_agree

    def __repr__(self) -> str:
        head = (
            f"verify: {self.kind} on {self.domain!r}, spectrum method={self.spectrum_method!r}, "
            f"estimates by {self.method}"
            + (f" ({self.estimator}, n={self.n_samples}, seed={self.seed!r})" if self.method == "monte-carlo" else "")
            + f", agree when |z| <= {self.z_max:g}"
        )
        header = f"{'r':<18} {'freq':>4} {'space':>5} {'value':>13} {'estimate':>13} {'error':>9} {'z':>7}  agree"
        lines = [head, header, "-" * len(header)]
        for row in self.rows:
            lines.append(
                f"{str(row.r):<18} {row.frequency:>4} {row.space:>5} {row.value:>13.6g} {row.estimate:>13.6g} "
                f"{row.error:>9.2g} {row.z:>7.2f}  {'yes' if row.agree else 'NO'}"
            )
        lines.append(f"{sum(r.agree for r in self.rows)}/{len(self.rows)} agree")
        return "\n".join(lines)

    __str__ = __repr__


def _walsh_mask(r: tuple, n0: int) -> int:
    return sum(((1 << k) - 1) << (i * n0) for i, k in enumerate(r))


def verify(
    net: Layer,
    domain: Domain,
    kind: str = "ntk",
    max_frequency: int = 2,
    n_samples: int = 200_000,
    seed: Any = 0,
    *,
    z_max: float = 4.0,
    method: str = "auto",
    estimator: str = "addition",
    centre: bool = True,
    spectrum_kwargs: dict | None = None,
    engine: str = "auto",
) -> VerificationReport:
    r"""Check ``spectrum(net, domain, kind, max_frequency)`` numerically, class by class (M14–M18).

    For every eigenvalue class (representative r) the symbolic value is set
    against an independent estimate:

    * ``method="walsh"`` (default on product hypercubes with :math:`d n_0 \le 16`):
      the exact FWHT of K over all sign patterns (:func:`hypercube_spectrum`,
      M12/M17), error = a float rounding bound
      :math:`(n + 100)\,\epsilon \max|K|`;
    * ``method="monte-carlo"`` (otherwise): :func:`monte_carlo_eigenvalue` with
      the same ``n_samples`` pairs for every r, error = standard error; by
      default the low-variance ``estimator="addition"`` with ``centre=True``
      (``estimator="zonal"``, ``centre=False`` is the plain one-harmonic estimator).

    .. math:: z = \frac{\hat\lambda(r) - \lambda(r)}{\sqrt{\mathrm{err}^2 + \mathrm{bound}(r)^2}},
              \qquad \text{agree} \iff |z| \le z_{max}

    With Monte-Carlo, about :math:`0.006\%` of correct rows exceed
    :math:`|z| = 4` by chance (Gaussian tails).

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> from eigencalc.domains import ProductHypercube
    >>> rep = verify(serial(Conv(2, stride=2), Relu(), Flatten(), Dense()), ProductHypercube(4, 1), "ntk", 2)
    >>> rep.method, rep.all_agree, len(rep.rows)
    ('walsh', True, 4)
    """
    from .spectra import spectrum

    net = _check_network(net)
    domain = _check_domain(domain)
    kind = _check_kind(kind)
    max_frequency = _check_int(max_frequency, "max_frequency", 0)
    n_samples = _check_int(n_samples, "n_samples", 2)
    if method not in ("auto", "walsh", "monte-carlo"):
        raise ValueError(f"method must be 'auto', 'walsh' or 'monte-carlo', got {method!r}")
    bits = domain.d * domain.n0
    if method == "auto":
        method = "walsh" if isinstance(domain, ProductHypercube) and bits <= 16 else "monte-carlo"
    if method == "walsh":
        if not isinstance(domain, ProductHypercube):
            raise ValueError("method='walsh' needs a ProductHypercube")
        if bits > MAX_WALSH_BITS:
            raise ValueError(f"method='walsh' needs d * n0 <= {MAX_WALSH_BITS}, got {bits}")
    spec = spectrum(net, domain, kind, max_frequency, **(spectrum_kwargs or {}))
    entries = spec.entries()
    rs = [e.r for e in entries]
    if method == "walsh":
        lam = hypercube_spectrum(net, domain.d, kind, n0=domain.n0, engine=engine)
        kmax = abs(float(net.kernel_of_correlations(np.ones(domain.d), kind)))
        estimates = np.array([lam[_walsh_mask(r, domain.n0)] for r in rs])
        # K is largest at t = 1 (nonnegative series coefficients); FWHT rounding <= n eps max|K|,
        # kernel rounding a few ulps per layer: (n + 100) eps max|K| covers both.
        errors = np.full(len(rs), (bits + 100) * _EPS * kmax)
        used_n = None
    else:
        if estimator not in _ESTIMATORS:
            raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
        estimates, errors, _ = _mc_estimates(net, domain, rs, n_samples, seed, kind, 1 << 15, engine, estimator, bool(centre))
        used_n = n_samples
    rows = []
    for e, est, err in zip(entries, estimates, errors):
        value = _to_float(e.eigenvalue)
        bound = _to_float(e.error_bound)
        scale = math.hypot(float(err), bound)
        diff = float(est) - value
        z = diff / scale if scale > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
        rows.append(
            VerificationRow(e.r, e.frequency, e.space, e.multiplicity, e.count, value, bound, float(est), float(err), method, z, abs(z) <= z_max)
        )
    return VerificationReport(
        rows, kind, domain, method, used_n, seed, float(z_max), spec.method, estimator if method == "monte-carlo" else None
    )
