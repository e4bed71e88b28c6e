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

Positions live on a grid: ``d`` is an int (a row of patches, 1-D) or a shape
``(H, W)`` (2-D; any number of spatial axes works).  Registers keep their
spatial ``shape``; positions are numbered row-major (C order), so every back
end sees flat positions and window arrays, whatever the dimension.  A window
entry ``-1`` is zero padding (SAME): it adds nothing to a window sum but counts
in the filter size that normalises it, as in stax.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import math

import numpy as np

from ..core.validate import check_grid, check_int
from .ops import Op
from .spec import LayerSpec

__all__ = ["Program", "Step", "Register", "Stream", "Compiler", "compile_network", "conv_indices", "window_indices",
           "check_grid", "PADDING", "InputWidthRequired"]

#: Sentinel window entry: a zero-padded position (SAME padding).
PADDING = -1


class InputWidthRequired(ValueError):
    """A standard-parameterization layer reads the input, so the program depends on ``n0``."""


# --------------------------------------------------------------------------
# The program
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    r"""One register assignment ``dst <- layer(src...)``.

    ``op`` is an :class:`~.ops.Op`: ``affine`` (Dense/Conv), ``activation``,
    ``flatten``, ``pool`` (GlobalAvgPool), ``avgpool`` or ``sum`` (FanInSum);
    ``index`` is the ``(width_out, q)`` window array of an affine or avgpool
    step (:func:`window_indices`; ``-1`` marks zero padding).

    An affine step also carries its NTK coefficients (exact sympy numbers):
    with :math:`M(\Sigma)_o = \frac1q \sum_{a<q} \Sigma_{w_o(a)}` the window mean,

    .. math:: \Sigma' = \sigma_W^2 M(\Sigma) + \sigma_b^2, \qquad
              \Theta' = \sigma_W^2 M(\Theta) + \tau\, M(\Sigma) + \beta,

    where ``ntk_weight`` :math:`\tau = \sigma_W^2` and ``ntk_bias`` :math:`\beta = \sigma_b^2`
    in the NTK parameterization (so :math:`\Theta' = \sigma_W^2 M(\Theta) + \Sigma'`, M2), and
    :math:`\tau = n_{in} q` (the fan-in), :math:`\beta = [\text{bias}]` in the
    standard one (stax ``parameterization="standard"``, Sohl-Dickstein et al. 2020).

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
    ntk_weight: Any = None
    ntk_bias: Any = None


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
    grid: tuple = ()

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


def _axis_windows(size: int, q: int, stride: int, padding: str) -> np.ndarray:
    r"""Input coordinates read along one spatial axis: array ``(n_out, q)``, ``-1`` for zero padding (M1).

    VALID: :math:`n_{out} = \lfloor (P - q)/s \rfloor + 1`, coordinate :math:`o s + a`.
    SAME and CIRCULAR (stax / lax): :math:`n_{out} = \lceil P/s \rceil`, total padding
    :math:`T = \max((n_{out}-1)s + q - P, 0)`, its floor half on the left:
    coordinate :math:`c = o s + a - \lfloor T/2 \rfloor`; SAME reads zeros where
    :math:`c \notin [0, P)`, CIRCULAR wraps :math:`c \bmod P`.
    """
    if padding == "VALID":
        n_out = (size - q) // stride + 1
        left = 0
    else:
        n_out = -(-size // stride)
        left = max((n_out - 1) * stride + q - size, 0) // 2
    coord = np.arange(n_out)[:, None] * stride + np.arange(q)[None, :] - left
    if padding == "CIRCULAR":
        return coord % size
    return np.where((coord >= 0) & (coord < size), coord, PADDING)


def window_indices(shape: tuple, filter_shape: tuple, strides: tuple, padding: str) -> tuple:
    r"""Flat input positions read by each output position of a filter on a grid (M1): ``(index, out_shape)``.

    ``index`` has shape ``(prod(out_shape), prod(filter_shape))``; positions and
    filter taps are both numbered row-major, and ``-1`` marks a zero-padded tap
    (SAME).  Per axis the geometry is :func:`_axis_windows`; a tap reads a real
    position only when it does on every axis.

    .. math:: w_o(a) = \sum_k c_k(o_k, a_k) \prod_{k' > k} P_{k'}

    >>> index, out = window_indices((3, 3), (2, 2), (1, 1), "SAME")
    >>> out, index[0].tolist(), index[-1].tolist()
    ((3, 3), [0, 1, 3, 4], [8, -1, -1, -1])
    """
    per_axis = [_axis_windows(P, q, s, padding) for P, q, s in zip(shape, filter_shape, strides)]
    out_shape = tuple(w.shape[0] for w in per_axis)
    flat = np.zeros((1, 1), dtype=np.int64)
    valid = np.ones((1, 1), dtype=bool)
    for size, w in zip(shape, per_axis):
        n_out, q = w.shape
        flat = (flat[:, None, :, None] * size + w[None, :, None, :]).reshape(-1, flat.shape[1] * q)
        valid = (valid[:, None, :, None] & (w >= 0)[None, :, None, :]).reshape(flat.shape)
    return np.where(valid, flat, PADDING).astype(np.int64), out_shape


def conv_indices(width: int, filter_size: int, stride: int, padding: str) -> np.ndarray:
    r"""Input positions read by each output position of a 1-D filter: array ``(P_out, q)`` (M1).

    VALID: :math:`P_{out} = \lfloor (P - q)/s \rfloor + 1`, index :math:`o s + a`.
    CIRCULAR (stax): :math:`P_{out} = \lceil P/s \rceil`, total padding
    :math:`T = \max((P_{out}-1)s + q - P, 0)`, index :math:`(o s + a - \lfloor T/2\rfloor) \bmod P`;
    SAME: the same geometry with ``-1`` (zero padding) outside ``[0, P)``.

    >>> conv_indices(4, 3, 1, "CIRCULAR").tolist()
    [[3, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 0]]
    >>> conv_indices(4, 3, 1, "SAME").tolist()
    [[-1, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, -1]]
    """
    return window_indices((width,), (filter_size,), (stride,), padding)[0]


# --------------------------------------------------------------------------
# The compiler: abstract registers and streams
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    """What the compiler knows of a register: its grid of positions, channels, and whether it is Gaussian.

    ``shape`` is the spatial grid (``(1,)`` once flat); ``channels`` the finite
    channel count when known (the input's ``n0``, a layer's ``out_chan``; None
    otherwise), which only the standard parameterization reads.
    """

    shape: tuple
    flat: bool  # after Flatten / GlobalAvgPool
    gaussian: bool  # mean-zero Gaussian (after an affine layer), as stax's is_gaussian
    last: Op | str  # op that produced it ("input" for register 0)
    origin: str  # description for messages
    channels: int | None = None

    @property
    def width(self) -> int:
        """Number of positions."""
        return math.prod(self.shape)

    @property
    def grid(self) -> str:
        """The grid for messages: ``8`` (1-D) or ``4x4``."""
        return "x".join(map(str, self.shape))


@dataclass(frozen=True)
class Stream:
    """One of stax's streams: a register, and whether a Dense/Conv ran on it since the last FanOut."""

    reg: int
    fresh: bool  # a Dense/Conv was applied since the last FanOut (independence)


class Compiler:
    """The state of one compilation; layers' compile rules call :meth:`walk`, :meth:`single` and :meth:`emit`."""

    def __init__(self, grid: tuple, n0: int | None = None):
        self.grid = grid
        self.d = math.prod(grid)
        self.n0 = n0
        self.regs = [Register(grid, False, False, Op.INPUT, "the input", n0)]
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

    def emit(self, layer, path: str, op: Op, src: tuple, out: Register, index=None, fresh: bool = True,
             ntk: tuple = (None, None)) -> Stream:
        """Append the step ``new register <- layer(src)`` and return a stream on the new register.

        ``ntk`` is ``(ntk_weight, ntk_bias)`` of an affine step (see :class:`Step`).
        """
        width_in = self.regs[src[0]].width
        self.regs.append(out)
        dst = len(self.regs) - 1
        self.steps.append(Step(layer, path, op, tuple(src), dst, width_in, out.width, index, *ntk))
        return Stream(dst, fresh)

    def input_channels(self, layer, stream: Stream, path: str) -> int:
        """The finite channel count a standard-parameterization layer reads (its fan-in), or a clear error."""
        reg = self.register(stream)
        if reg.channels is not None:
            return reg.channels
        if reg.last == Op.INPUT:
            raise InputWidthRequired(
                f"{layer!r} at {path}: parameterization='standard' reads the input, whose channel count n0 "
                "enters its NTK; pass n0 (kernel_fn does this from the inputs' last axis)"
            )
        raise ValueError(
            f"{layer!r} at {path}: parameterization='standard' needs the channel count of its input "
            f"({reg.origin}); give that layer out_chan=..."
        )

    def needs_position_pairs(self) -> None:
        """Record that some step averages over several positions (cross-position covariances, M4)."""
        self.full = True


def _check_n0(n0: Any) -> int | None:
    return None if n0 is None else check_int(n0, "n0 (channels per input patch)", 1)


@lru_cache(maxsize=128)
def _compile_cached(net, grid: tuple, n0: int | None) -> Program:
    comp = Compiler(grid, n0)
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
    return Program(comp.d, tuple(comp.steps), streams[0].reg, comp.full, grid)


def compile_network(net, d: Any, n0: int | None = None) -> Program:
    r"""Validate ``net`` for ``d`` input patches and compile it to a :class:`Program`.

    Errors name the layer (its repr and its path, e.g. ``net[2][1][0]``) and
    the mismatch: filter larger than the current width, Conv after the
    positions are gone, activation on a non-Gaussian input, stream-count or
    shape mismatches at ``parallel``/``FanInSum``, dependent ``FanInSum``
    branches, missing readout, ``d < 1``.

    ``d`` is an int (1-D) or a grid shape such as ``(H, W)``; ``n0`` (channels
    per patch) is read only by standard-parameterization layers on the input.
    The program depends on ``n0`` only then, so it is compiled without it first.

    .. math:: \text{net} \mapsto (\text{step}_1, \dots, \text{step}_S),\quad \text{step} = (\text{dst} \leftarrow \text{layer}(\text{src}))

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> compile_network(serial(Dense(), Relu()), 1)
    Traceback (most recent call last):
    ...
    ValueError: missing readout: the network ends with Relu() at net[1]; end with a Dense() readout (after Flatten() or GlobalAvgPool() when d > 1)
    """
    if not isinstance(net, LayerSpec):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    grid, n0 = check_grid(d), _check_n0(n0)
    try:
        return _compile_cached(net, grid, None)
    except InputWidthRequired:
        if n0 is None:
            raise
        return _compile_cached(net, grid, n0)
