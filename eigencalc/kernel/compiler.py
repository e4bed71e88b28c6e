r"""Compiling a network for ``d`` input patches: validation, the step program, the DAG.

Private module behind :mod:`eigencalc.architectures` (``../shared/MATH.md``
section 1 and M18).  :func:`compile_network` walks the layer tree once with
abstract *streams* (stax's lists of inputs after ``FanOut``), checks every
rule, and emits a flat :class:`Program` of register assignments.  Two
interpreters read a program:

* :func:`eigencalc.architectures.evaluate_program` on raw inputs (arrays), and
* :func:`build_dag` on node ids, giving the :class:`Dag`: one node per layer
  output position, children with averaging weights and receptive fields.

Without pooling the kernel of a node depends only on the per-patch
correlations :math:`t_i`, and :func:`kernel_of_correlations` evaluates the DAG
node by node (an independent path from the raw-input evaluator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from ..core.validate import check_int
from .reference import conv_indices
from .spec import LayerSpec as Layer

__all__ = ["Program", "Step", "compile_network"]


# --------------------------------------------------------------------------
# The program
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    r"""One register assignment ``dst <- layer(src...)``.

    ``op`` is one of ``affine`` (Dense/Conv), ``activation``, ``flatten``,
    ``pool`` (GlobalAvgPool) and ``sum`` (FanInSum); ``index`` is the
    ``(width_out, q)`` window array of an affine step (:func:`conv_indices`).

    .. math:: r_{dst} \leftarrow \mathcal K_{layer}(r_{src_1}, \dots)
    """

    layer: Layer
    path: str
    op: str
    src: tuple
    dst: int
    width_in: int
    width_out: int
    index: Any = None


@dataclass(frozen=True)
class Program:
    r"""A compiled network: steps in order, register 0 is the input, ``output`` the result.

    ``full`` is True when some ``GlobalAvgPool`` pools over more than one
    position (then position-pair covariances are needed, M4).

    .. math:: r_{out} = \mathcal K_S \circ \dots \circ \mathcal K_1 (r_0), \qquad r_0 = (\Sigma^0, \Theta^0 = 0)
    """

    d: int
    steps: tuple
    output: int
    full: bool


@dataclass(frozen=True)
class _Reg:
    width: int
    flat: bool  # after Flatten / GlobalAvgPool
    gaussian: bool  # mean-zero Gaussian (after an affine layer), as stax's is_gaussian
    last: str  # op that produced it
    origin: str  # description for messages


@dataclass(frozen=True)
class _Stream:
    reg: int
    fresh: bool  # a Dense/Conv was applied since the last FanOut (independence)


class _Compiler:
    def __init__(self, d: int):
        self.d = d
        self.regs = [_Reg(d, False, False, "input", "the input")]
        self.steps = []
        self.full = False

    def new(self, reg: _Reg) -> int:
        self.regs.append(reg)
        return len(self.regs) - 1

    def single(self, layer, streams, path) -> _Stream:
        if len(streams) != 1:
            raise ValueError(
                f"{layer!r} at {path} receives {len(streams)} streams (after a FanOut); "
                "merge them with FanInSum() or route them with parallel(...)"
            )
        return streams[0]

    def walk(self, layer: Layer, streams: list, path: str) -> list:
        op = layer.op
        if op == "serial":
            for i, sub in enumerate(layer.layers):
                streams = self.walk(sub, streams, f"{path}[{i}]")
            return streams
        if op == "parallel":
            if len(streams) != len(layer.layers):
                raise ValueError(
                    f"parallel with {len(layer.layers)} branches at {path} receives {len(streams)} "
                    f"stream(s); put FanOut({len(layer.layers)}) before it"
                )
            out = []
            for i, (sub, stream) in enumerate(zip(layer.layers, streams)):
                res = self.walk(sub, [stream], f"{path}[{i}]")
                if len(res) != 1:
                    raise ValueError(
                        f"branch {i} of parallel at {path} ends with {len(res)} streams; "
                        "each branch must map one stream to one stream"
                    )
                out.extend(res)
            return out
        if op == "identity":
            return streams
        if op == "fanout":
            s = self.single(layer, streams, path)
            return [_Stream(s.reg, False) for _ in range(layer.n)]
        if op == "faninsum":
            return [self.fan_in_sum(layer, streams, path)]
        s = self.single(layer, streams, path)
        reg = self.regs[s.reg]
        if op == "affine":
            return [self.affine(layer, s, reg, path)]
        if op == "activation":
            if not reg.gaussian:
                raise ValueError(
                    f"{layer!r} at {path}: its input ({reg.origin}) is not a Gaussian layer output; "
                    "put a Dense or Conv before every activation (as stax requires)"
                )
            dst = self.new(_Reg(reg.width, reg.flat, False, "activation", f"{layer!r} at {path}"))
            self.steps.append(Step(layer, path, "activation", (s.reg,), dst, reg.width, reg.width))
            return [_Stream(dst, s.fresh)]
        if op == "avgpool":
            if reg.flat:
                raise ValueError(f"{layer!r} at {path}: its input ({reg.origin}) has no positions left")
            if layer.window > reg.width:
                raise ValueError(
                    f"{layer!r} at {path}: window {layer.window} is larger than the current width {reg.width}"
                )
            index = conv_indices(reg.width, layer.window, layer.stride, layer.padding)
            if layer.window > 1:
                self.full = True
            dst = self.new(_Reg(index.shape[0], False, reg.gaussian, "avgpool", f"{layer!r} at {path}"))
            self.steps.append(Step(layer, path, "avgpool", (s.reg,), dst, reg.width, index.shape[0], index))
            return [_Stream(dst, s.fresh)]
        if op in ("flatten", "pool"):
            gaussian = reg.gaussian and op == "pool"
            if op == "pool" and reg.width > 1:
                self.full = True
            dst = self.new(_Reg(1, True, gaussian, op, f"{layer!r} at {path}"))
            self.steps.append(Step(layer, path, op, (s.reg,), dst, reg.width, 1))
            return [_Stream(dst, s.fresh)]
        raise TypeError(f"{layer!r} at {path}: unknown layer type {type(layer).__name__}")  # pragma: no cover

    def affine(self, layer, s: _Stream, reg: _Reg, path: str) -> _Stream:
        name = f"{layer!r} at {path}"
        if layer.spatial:
            if reg.flat:
                raise ValueError(f"{name}: its input ({reg.origin}) has no positions left; Conv needs spatial input")
            if layer.filter_size > reg.width:
                raise ValueError(
                    f"{name}: filter_size {layer.filter_size} is larger than the current width "
                    f"{reg.width} (positions after {reg.origin})"
                )
        index = conv_indices(reg.width, layer.filter_size, layer.stride, layer.padding)
        dst = self.new(_Reg(index.shape[0], reg.flat, True, "affine", name))
        self.steps.append(Step(layer, path, "affine", (s.reg,), dst, reg.width, index.shape[0], index))
        return _Stream(dst, True)

    def fan_in_sum(self, layer, streams, path) -> _Stream:
        name = f"{layer!r} at {path}"
        if not streams:  # pragma: no cover - streams are never empty
            raise ValueError(f"{name}: nothing to sum")
        regs = [self.regs[s.reg] for s in streams]
        if len(streams) == 1:
            return streams[0]
        shapes = {(r.width, r.flat) for r in regs}
        if len(shapes) > 1:
            desc = ", ".join(f"branch {i}: {r.width} position(s){' (flat)' if r.flat else ''}" for i, r in enumerate(regs))
            raise ValueError(f"{name}: branch shapes differ ({desc})")
        if not all(r.gaussian for r in regs):
            bad = [i for i, r in enumerate(regs) if not r.gaussian]
            raise ValueError(
                f"{name}: branch(es) {bad} do not end with a Gaussian layer output; stax's FanInSum "
                "only sums mean-zero Gaussian streams (end each branch with Dense/Conv or Identity of one)"
            )
        stale = [i for i, s in enumerate(streams) if not s.fresh]
        if len(stale) > 1:
            raise ValueError(
                f"{name}: branches {stale} apply no Dense/Conv after the FanOut, so they are not "
                "independent and the sum of their kernels would be wrong"
            )
        width = regs[0].width
        dst = self.new(_Reg(width, regs[0].flat, True, "sum", name))
        self.steps.append(Step(layer, path, "sum", tuple(s.reg for s in streams), dst, width, width))
        return _Stream(dst, all(s.fresh for s in streams))


def _check_d(d: Any) -> int:
    return check_int(d, "d (number of input patches)", 1)


@lru_cache(maxsize=128)
def _compile_cached(net: Layer, d: int) -> Program:
    comp = _Compiler(d)
    streams = comp.walk(net, [_Stream(0, True)], "net")
    if len(streams) != 1:
        raise ValueError(f"the network ends with {len(streams)} unmerged streams; add FanInSum()")
    reg = comp.regs[streams[0].reg]
    if reg.width != 1:
        raise ValueError(
            f"missing readout: the network output still has {reg.width} positions "
            f"(after {reg.origin}); end with Flatten() or GlobalAvgPool() followed by Dense()"
        )
    if not reg.gaussian or reg.last not in ("affine", "sum"):
        raise ValueError(
            f"missing readout: the network ends with {reg.origin}; end with a Dense() readout "
            "(after Flatten() or GlobalAvgPool() when d > 1)"
        )
    return Program(d, tuple(comp.steps), streams[0].reg, comp.full)


def compile_network(net: Layer, d: int) -> Program:
    r"""Validate ``net`` for ``d`` input patches and compile it to a :class:`Program`.

    Errors name the layer (its repr and its path, e.g. ``net[2][1][0]``) and
    the mismatch: filter larger than the current width, Conv after the
    positions are gone, activation on a non-Gaussian input, stream-count or
    shape mismatches at ``parallel``/``FanInSum``, dependent ``FanInSum``
    branches, missing readout, ``d < 1``.

    .. math:: \text{net} \mapsto (\text{step}_1, \dots, \text{step}_S),\quad \text{step} = (\text{dst} \leftarrow \text{layer}(\text{src}))

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> compile_network(serial(Dense(), Relu()), 1)
    Traceback (most recent call last):
    ...
    ValueError: missing readout: the network ends with Relu() at net[1]; end with a Dense() readout (after Flatten() or GlobalAvgPool() when d > 1)
    """
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return _compile_cached(net, _check_d(d))

