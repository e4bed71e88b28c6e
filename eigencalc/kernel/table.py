r"""The op table: a compiled :class:`~eigencalc.kernel.compiler.Program` as integer and float arrays.

This is what the numba interpreter (:mod:`.numba_kernels`) reads; its columns
are documented there.  :func:`op_table` encodes the steps one row each, with
op codes from :class:`~.ops.Op`; :func:`decode_steps` reads the table back,
so a test can show that the table is the program (no step is lost or changed
in the encoding).  Activations with a closed-form dual (M6-M8) get an integer
code and their float parameters; the others are listed in ``unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy

from ..duals import activations as A
from . import numba_kernels as _nk
from .compiler import Program, compile_network
from .ops import Op

__all__ = ["OpTable", "op_table", "op_table_of", "activation_code", "decode_steps"]


@dataclass(frozen=True, eq=False)
class OpTable:
    """A compiled network as arrays for :func:`eigencalc.kernel.numba_kernels._run_ops` (see its table)."""

    program: Program
    d: int
    full: bool
    ops: np.ndarray  # (S, 8) int64
    idx: np.ndarray  # window indices of all affine steps, int64
    srcs: np.ndarray  # source registers of all sum steps, int64
    fparams: np.ndarray  # w_var, b_var, ntk_weight, ntk_bias of affine steps, activation parameters, float64
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
    q = sympy.Symbol("q")
    D = poly.degree
    table = np.zeros((D + 1, D + 1))
    for k in range(D + 1):
        coeffs = [float(v) for v in reversed(sympy.Poly(poly._A(k, q), q).all_coeffs())]
        table[k, : len(coeffs)] = coeffs
    return [float(D)] + table.ravel().tolist()


def activation_code(act) -> tuple | None:
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


def op_table_of(net, d, n0: int | None = None) -> OpTable:
    """The op table of ``net`` compiled for ``d`` patches (an int, or a grid such as ``(H, W)``; cached).

    ``n0`` as in :func:`~eigencalc.kernel.compiler.compile_network` (read only by a
    standard-parameterization layer on the input).
    """
    return _op_table_cached(compile_network(net, d, n0))


@lru_cache(maxsize=128)
def _op_table_cached(program: Program) -> OpTable:
    return op_table(program)


def op_table(program: Program) -> OpTable:
    """Encode a compiled program as the arrays of :class:`OpTable` (one row per step)."""
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
    slots = {s: slot for s, slot, _ in program.variance_slots}
    for s, step in enumerate(program.steps):
        row = ops[s]
        row[1] = step.src[0]
        row[2] = step.dst
        row[3] = step.width_in
        row[4] = step.width_out
        if step.op == Op.AFFINE:
            row[0] = Op.AFFINE.code
            row[5] = len(idx)
            row[6] = step.index.shape[1]
            row[7] = len(fp)
            idx.extend(int(v) for v in np.asarray(step.index).ravel())
            fp.extend([step.layer.w_var, step.layer.b_var, float(step.ntk_weight), float(step.ntk_bias)])
        elif step.op == Op.ACTIVATION:
            act = step.layer.activation
            coded = activation_code(act)
            row[0] = Op.ACTIVATION.code
            row[5] = coded[0] if coded else -1
            row[6] = len(fp)
            row[7] = slots[s]
            if coded:
                fp.extend(coded[1])
            else:
                unsupported.append(act.name)
            acts.append((s, act, slots[s], step.width_in))
        elif step.op == Op.FLATTEN:
            row[0] = Op.FLATTEN.code
        elif step.op == Op.POOL:
            row[0] = Op.POOL.code
        elif step.op == Op.AVGPOOL:
            row[0] = Op.AVGPOOL.code
            row[5] = len(idx)
            row[6] = step.index.shape[1]
            idx.extend(int(v) for v in np.asarray(step.index).ravel())
        elif step.op == Op.SUM:
            row[0] = Op.SUM.code
            row[5] = len(srcs)
            row[6] = len(step.src)
            srcs.extend(step.src)
        else:  # pragma: no cover - the compiler emits only the ops above
            raise AssertionError(step.op)
    return OpTable(
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
        program.n_variances,
        tuple(acts),
        tuple(dict.fromkeys(unsupported)),
    )


_OPS_BY_CODE = {op.code: op for op in Op if op.code >= 0}


def decode_steps(table: OpTable) -> list:
    """Read the table back as ``(op, src, dst, width_in, width_out, index, w_var, b_var)`` per step.

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> net = serial(Conv(2, stride=2), Relu(), Flatten(), Dense())
    >>> [row[0].value for row in decode_steps(op_table_of(net, 4))]
    ['affine', 'activation', 'flatten', 'affine']
    """
    out = []
    for row in table.ops:
        op = _OPS_BY_CODE[int(row[0])]
        src, index, w_var, b_var = (int(row[1]),), None, None, None
        if op in (Op.AFFINE, Op.AVGPOOL):
            q = int(row[6])
            index = table.idx[row[5] : row[5] + int(row[4]) * q].reshape(int(row[4]), q)
        if op == Op.AFFINE:
            w_var, b_var = (float(v) for v in table.fparams[row[7] : row[7] + 2])
        if op == Op.SUM:
            src = tuple(int(v) for v in table.srcs[row[5] : row[5] + row[6]])
        out.append((op, src, int(row[2]), int(row[3]), int(row[4]), index, w_var, b_var))
    return out
