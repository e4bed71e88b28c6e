r"""Compiling a network for ``d`` input patches: validation and the step program (section 1).

:func:`compile_network` walks the layer tree once with abstract *streams*
(stax's lists of inputs after ``FanOut``).  Each layer applies its own
compile rule (``layer.compile(compiler, streams, path)``, defined next to the
layer in :mod:`.layers`); the rules check the architecture and emit steps
through the small vocabulary of :class:`Compiler`.  The result is one flat
:class:`Program` of register assignments, with ops from :class:`~.ops.Op`,
which every back end reads:

* :func:`eigencalc.kernel.reference.run_program`, the numpy reference interpreter;
* the numba interpreter, through the op table of :mod:`.table`;
* :func:`eigencalc.kernel.dag.build_dag`, on node ids (one node per position).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from ..core.validate import check_int
from .ops import Op
from .spec import LayerSpec

__all__ = ["Program", "Step", "Register", "Stream", "Compiler", "compile_network", "conv_indices"]


# --------------------------------------------------------------------------
# The program
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    r"""One register assignment ``dst <- layer(src...)``.

    ``op`` is an :class:`~.ops.Op`: ``affine`` (Dense/Conv), ``activation``,
    ``flatten``, ``pool`` (GlobalAvgPool), ``avgpool`` or ``sum`` (FanInSum);
    ``index`` is the ``(width_out, q)`` window array of an affine or avgpool
    step (:func:`conv_indices`).

    .. math:: r_{dst} \leftarrow \mathcal K_{layer}(r_{src_1}, \dots)
    """

    layer: Any
    path: str
    op: Op
    src: tuple
    dst: int
    width_in: int
    width_out: int
    index: Any = None


@dataclass(frozen=True, eq=False)
class Program:
    r"""A compiled network: steps in order, register 0 is the input, ``output`` the result.

    ``full`` is True when some step averages over several positions (a
    ``GlobalAvgPool`` or an ``AvgPool`` window > 1): then position-pair
    covariances are needed (M4).  Register ``k + 1`` is written by step ``k``.

    .. math:: r_{out} = \mathcal K_S \circ \dots \circ \mathcal K_1 (r_0), \qquad r_0 = (\Sigma^0, \Theta^0 = 0)
    """

    d: int
    steps: tuple
    output: int
    full: bool

    @property
    def widths(self) -> tuple:
        """Positions held by each register (register 0 is the input)."""
        return (self.d,) + tuple(step.width_out for step in self.steps)

    @cached_property
    def variance_slots(self) -> tuple:
        r"""``(step index, slot, width)`` of every activation: where its input variances :math:`\Sigma_{ii}(x,x)` sit.

        Per input, the variances of all activation inputs form one row of
        ``sum(width)`` numbers; an activation reads ``row[slot : slot + width]``.
        """
        out, slot = [], 0
        for s, step in enumerate(self.steps):
            if step.op == Op.ACTIVATION:
                out.append((s, slot, step.width_in))
                slot += step.width_in
        return tuple(out)

    @property
    def n_variances(self) -> int:
        """Length of a per-input variance row (at least 1, so that arrays are never empty)."""
        return max(1, sum(width for _, _, width in self.variance_slots))

    def activations(self) -> tuple:
        """The distinct :class:`~eigencalc.duals.activations.Activation` objects of the program, in order."""
        return tuple(dict.fromkeys(self.steps[s].layer.activation for s, _, _ in self.variance_slots))


def conv_indices(width: int, filter_size: int, stride: int, padding: str) -> np.ndarray:
    r"""Input positions read by each output position: array ``(P_out, q)`` (M1).

    VALID: :math:`P_{out} = \lfloor (P - q)/s \rfloor + 1`, index :math:`o s + a`.
    CIRCULAR (stax): :math:`P_{out} = \lceil P/s \rceil`, total padding
    :math:`T = \max((P_{out}-1)s + q - P, 0)`, index :math:`(o s + a - \lfloor T/2\rfloor) \bmod P`.

    >>> conv_indices(4, 3, 1, "CIRCULAR").tolist()
    [[3, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 0]]
    """
    if padding == "VALID":
        n_out = (width - filter_size) // stride + 1
        left = 0
    else:
        n_out = -(-width // stride)
        left = max((n_out - 1) * stride + filter_size - width, 0) // 2
    idx = np.arange(n_out)[:, None] * stride + np.arange(filter_size)[None, :] - left
    return idx % width


# --------------------------------------------------------------------------
# The compiler: abstract registers and streams
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    """What the compiler knows of a register: its positions and whether it is a Gaussian layer output."""

    width: int
    flat: bool  # after Flatten / GlobalAvgPool
    gaussian: bool  # mean-zero Gaussian (after an affine layer), as stax's is_gaussian
    last: Op | str  # op that produced it ("input" for register 0)
    origin: str  # description for messages


@dataclass(frozen=True)
class Stream:
    """One of stax's streams: a register, and whether a Dense/Conv ran on it since the last FanOut."""

    reg: int
    fresh: bool  # a Dense/Conv was applied since the last FanOut (independence)


class Compiler:
    """The state of one compilation; layers' compile rules call :meth:`walk`, :meth:`single` and :meth:`emit`."""

    def __init__(self, d: int):
        self.d = d
        self.regs = [Register(d, False, False, Op.INPUT, "the input")]
        self.steps: list = []
        self.full = False

    def register(self, stream: Stream) -> Register:
        """The register a stream points to."""
        return self.regs[stream.reg]

    def walk(self, layer, streams: list, path: str) -> list:
        """Apply ``layer``'s compile rule to ``streams``; returns the streams after it."""
        if not isinstance(layer, LayerSpec):  # pragma: no cover - combinators check their arguments
            raise TypeError(f"{layer!r} at {path}: not a layer")
        return layer.compile(self, streams, path)

    def single(self, layer, streams: list, path: str) -> Stream:
        """The one stream a single-input layer reads, or a clear error after an unmerged FanOut."""
        if len(streams) != 1:
            raise ValueError(
                f"{layer!r} at {path} receives {len(streams)} streams (after a FanOut); "
                "merge them with FanInSum() or route them with parallel(...)"
            )
        return streams[0]

    def emit(self, layer, path: str, op: Op, src: tuple, out: Register, index=None, fresh: bool = True) -> Stream:
        """Append the step ``new register <- layer(src)`` and return a stream on the new register."""
        width_in = self.regs[src[0]].width
        self.regs.append(out)
        dst = len(self.regs) - 1
        self.steps.append(Step(layer, path, op, tuple(src), dst, width_in, out.width, index))
        return Stream(dst, fresh)

    def needs_position_pairs(self) -> None:
        """Record that some step averages over several positions (cross-position covariances, M4)."""
        self.full = True


def _check_d(d: Any) -> int:
    return check_int(d, "d (number of input patches)", 1)


@lru_cache(maxsize=128)
def _compile_cached(net, d: int) -> Program:
    comp = Compiler(d)
    streams = comp.walk(net, [Stream(0, True)], "net")
    if len(streams) != 1:
        raise ValueError(f"the network ends with {len(streams)} unmerged streams; add FanInSum()")
    reg = comp.regs[streams[0].reg]
    if reg.width != 1:
        raise ValueError(
            f"missing readout: the network output still has {reg.width} positions "
            f"(after {reg.origin}); end with Flatten() or GlobalAvgPool() followed by Dense()"
        )
    if not reg.gaussian or reg.last not in (Op.AFFINE, Op.SUM):
        raise ValueError(
            f"missing readout: the network ends with {reg.origin}; end with a Dense() readout "
            "(after Flatten() or GlobalAvgPool() when d > 1)"
        )
    return Program(d, tuple(comp.steps), streams[0].reg, comp.full)


def compile_network(net, d: int) -> Program:
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
    if not isinstance(net, LayerSpec):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return _compile_cached(net, _check_d(d))
