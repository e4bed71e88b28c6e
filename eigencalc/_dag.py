r"""Compiling a network for ``d`` input patches: validation, the step program, the DAG.

Private module behind :mod:`eigencalc.architectures` (``../shared/MATH.md``
section 1 and M18).  :func:`compile_network` walks the layer tree once with
abstract *streams* (stax's lists of inputs after ``FanOut``), checks every
rule, and emits a flat :class:`Program` of register assignments.  Two
interpreters read a program:

* :func:`eigencalc._layers.evaluate_program` on raw inputs (arrays), and
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

from . import _layers
from ._layers import KINDS, Layer, conv_indices, evaluate_program

__all__ = ["Program", "Step", "Node", "DagLayer", "Dag", "compile_network", "build_dag", "kernel_fn", "kernel_of_correlations"]


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
        if isinstance(layer, _layers.Conv):
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
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"d (number of input patches) must be an integer, got {d!r}")
    if d < 1:
        raise ValueError(f"d (number of input patches) must be >= 1, got {d}")
    return int(d)


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

    >>> compile_network(_layers.serial(_layers.Dense(), _layers.Relu()), 1)
    Traceback (most recent call last):
    ...
    ValueError: missing readout: the network ends with Relu() at net[1]; end with a Dense() readout (after Flatten() or GlobalAvgPool() when d > 1)
    """
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return _compile_cached(net, _check_d(d))


# --------------------------------------------------------------------------
# The DAG
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    r"""A node of the architecture DAG: one position of one layer output.

    ``op``: ``input`` (patch ``position``), ``affine`` (Dense/Conv, trainable:
    adds :math:`\Sigma` to :math:`\Theta`, M2), ``activation`` (one child, M3),
    ``average`` (Flatten, or pooling of a single position), ``pool``
    (GlobalAvgPool over several positions: needs cross-position covariances)
    and ``sum`` (FanInSum).  A linear node holds
    :math:`\Sigma_u = \sum_c w_c \Sigma_c + \text{bias}` with the ``weights``
    (floats) / ``exact_weights`` (sympy) below; ``bias`` is :math:`b_{std}^2`.
    ``receptive_field`` is the set of input patches the node depends on.

    .. math:: \Sigma_u = \sum_c w_c \Sigma_c + b, \qquad
              \Theta_u = \sum_c w_c \Theta_c + [\text{trainable}]\,\Sigma_u \quad \text{(M1, M2)}
    """

    id: int
    layer: int  # index into Dag.layers; -1 for the input patches
    position: int
    op: str
    children: tuple
    weights: tuple
    exact_weights: tuple
    bias: float
    exact_bias: Any
    receptive_field: frozenset
    activation: Any = None

    @property
    def trainable(self) -> bool:
        """True for Dense/Conv nodes (their :math:`\\Sigma` enters :math:`\\Theta`, M2)."""
        return self.op == "affine"


@dataclass(frozen=True)
class DagLayer:
    r"""The nodes (by output position) that one layer application produced (section 1).

    .. math:: \text{nodes}[o] = \text{id of output position } o
    """

    index: int
    path: str
    layer: Layer
    op: str
    nodes: tuple


@dataclass(frozen=True, eq=False)
class Dag:
    r"""The explicit DAG of a network on ``d`` input patches (section 1, M18).

    ``nodes[i]`` has ``id == i``; ids are in topological order and the first
    ``d`` nodes are the input patches (leaves).  ``layers`` lists the layer
    applications in program order with their node ids by position;
    ``output`` is the output node.  ``pooled`` is True when some node is a
    ``GlobalAvgPool`` over several positions (then the kernel is not a function
    of the per-patch correlations alone).

    .. math:: K(x, y) = \Sigma_{\text{output}}(x, y), \qquad
              \mathrm{rf}(u) = \textstyle\bigcup_{c \in \mathrm{ch}(u)} \mathrm{rf}(c)

    >>> from eigencalc._layers import serial, Conv, Relu, Flatten, Dense
    >>> serial(Conv(2), Relu(), Flatten(), Dense()).dag(3)
    Dag(d=3, nodes=9, layers=4, output=8, pooled=False)
    """

    d: int
    nodes: tuple
    layers: tuple
    output: int
    pooled: bool
    _parents: tuple = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"Dag(d={self.d}, nodes={len(self.nodes)}, layers={len(self.layers)}, "
            f"output={self.output}, pooled={self.pooled})"
        )

    def __str__(self) -> str:
        return self.draw()

    @property
    def leaves(self) -> tuple:
        """Ids of the input patches (``0 .. d-1``)."""
        return tuple(range(self.d))

    def children(self, u: int) -> tuple:
        """Child ids of node ``u`` (inputs it reads)."""
        return self.nodes[u].children

    def parents(self, u: int) -> tuple:
        """Ids of the nodes that read node ``u``."""
        return self._parents[u]

    def receptive_field(self, u: int) -> frozenset:
        """Input patches node ``u`` depends on."""
        return self.nodes[u].receptive_field

    def ancestors_of_output(self) -> frozenset:
        """Nodes from which the output is reachable (the part of the DAG that matters)."""
        seen, stack = {self.output}, [self.output]
        while stack:
            for c in self.nodes[stack.pop()].children:
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return frozenset(seen)

    def skeleton(self) -> tuple:
        r"""The DAG with unary chains contracted: ``(root, {node: children})`` (for M18).

        Every chain of one-child nodes (activations, single-input Dense,
        Flatten of one position, ...) is collapsed onto the first node below it
        that is a leaf or reads two or more distinct nodes; ``root`` is where
        the output's chain ends.  For a tree CNN each remaining edge is one
        filter tap of one Conv layer, so the space of M18 is an edge count here.

        >>> from eigencalc._layers import serial, Conv, Relu, Flatten, Dense
        >>> serial(Conv(2, stride=2), Relu(), Conv(2, stride=2), Relu(), Flatten(), Dense()).dag(4).skeleton()
        (8, {8: (4, 5), 4: (0, 1), 5: (2, 3)})
        """

        def down(u: int) -> int:
            while len(set(self.nodes[u].children)) == 1:
                u = self.nodes[u].children[0]
            return u

        root = down(self.output)
        out, stack = {}, [root]
        while stack:
            u = stack.pop()
            if u in out or self.nodes[u].op == "input":
                continue
            kids = tuple(sorted({down(c) for c in self.nodes[u].children}))
            out[u] = kids
            stack.extend(reversed(kids))
        return root, out

    def draw(self) -> str:
        r"""A text drawing: one block per layer, one line per node (section 1).

        A line reads ``#id [pos] op: #child*weight + ... + bias  rf={patches}``.

        .. math:: \#u\ [o]:\ \textstyle\sum_c \#c \cdot w_c + b_u
        """
        lines = [repr(self), f"  input: patches #0..#{self.d - 1}"]
        for L in self.layers:
            lines.append(f"  L{L.index} {L.path}: {L.layer!r}")
            for u in L.nodes:
                n = self.nodes[u]
                terms = " + ".join(f"#{c}*{_short(w)}" for c, w in zip(n.children, n.exact_weights))
                if n.op == "activation":
                    terms = f"{n.activation.name}(#{n.children[0]})"
                if n.exact_bias != 0:
                    terms += f" + {_short(n.exact_bias)}"
                mark = "  <- output" if u == self.output else ""
                rf = ",".join(map(str, sorted(n.receptive_field)))
                lines.append(f"    #{u} [{n.position}] {n.op}: {terms}  rf={{{rf}}}{mark}")
        return "\n".join(lines)


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 12 else f"{float(value):.6g}"


@lru_cache(maxsize=64)
def _build_dag_cached(net: Layer, d: int) -> Dag:
    program = compile_network(net, d)
    nodes = []
    for i in range(d):
        nodes.append(Node(i, -1, i, "input", (), (), (), 0.0, sympy.Integer(0), frozenset([i])))
    regs = {0: list(range(d))}
    layers = []
    one = sympy.Integer(1)
    for li, step in enumerate(program.steps):
        ids = []
        src = [regs[r] for r in step.src]

        def add(position, op, children, exact_weights, exact_bias=sympy.Integer(0), act=None):
            rf = frozenset().union(*(nodes[c].receptive_field for c in children))
            node = Node(
                len(nodes),
                li,
                position,
                op,
                tuple(children),
                tuple(float(w) for w in exact_weights),
                tuple(exact_weights),
                float(exact_bias),
                exact_bias,
                rf,
                act,
            )
            nodes.append(node)
            ids.append(node.id)

        if step.op == "affine":
            layer = step.layer
            w = layer.w_var_exact / step.index.shape[1]
            for o, window in enumerate(step.index):
                add(o, "affine", [src[0][a] for a in window], [w] * len(window), layer.b_var_exact)
        elif step.op == "activation":
            for o, c in enumerate(src[0]):
                add(o, "activation", [c], [one], act=step.layer.activation)
        elif step.op in ("flatten", "pool"):
            P = step.width_in
            if step.op == "pool" and P > 1:
                add(0, "pool", list(src[0]), [sympy.Rational(1, P)] * P)
            else:
                add(0, "average", list(src[0]), [sympy.Rational(1, P)] * P)
        elif step.op == "avgpool":
            omega = step.index.shape[1]
            for o, window in enumerate(step.index):
                kids = [src[0][a] for a in window]
                add(o, "pool" if omega > 1 else "average", kids, [sympy.Rational(1, omega)] * omega)
        elif step.op == "sum":
            for o in range(step.width_out):
                add(o, "sum", [s[o] for s in src], [one] * len(src))
        regs[step.dst] = ids
        layers.append(DagLayer(li, step.path, step.layer, step.op, tuple(ids)))
    parents = [[] for _ in nodes]
    for n in nodes:
        for c in n.children:
            parents[c].append(n.id)
    (output,) = regs[program.output]
    pooled = any(n.op == "pool" for n in nodes)
    return Dag(d, tuple(nodes), tuple(layers), output, pooled, tuple(tuple(p) for p in parents))


def build_dag(net: Layer, d: int) -> Dag:
    r"""The :class:`Dag` of ``net`` on ``d`` patches (validated as :func:`compile_network`).

    .. math:: \Sigma_u = \sum_{c} w_{uc}\, \Sigma_c + b_u \quad (\text{linear nodes}),
              \qquad \Sigma_u = \hat\phi(\Sigma_c) \quad (\text{activation nodes})

    >>> from eigencalc._layers import serial, Conv, Relu, Flatten, Dense
    >>> dag = serial(Conv(2, stride=2), Relu(), Flatten(), Dense()).dag(4)
    >>> sorted(dag.receptive_field(dag.output)), dag.nodes[4].children, dag.nodes[4].exact_weights
    ([0, 1, 2, 3], (0, 1), (1/2, 1/2))
    """
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return _build_dag_cached(net, _check_d(d))


# --------------------------------------------------------------------------
# Kernel evaluation: raw inputs and correlations
# --------------------------------------------------------------------------


def _check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def _check_inputs(X: Any, name: str) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real array of shape (N, d, n0): {err}") from None
    if X.ndim != 3:
        raise ValueError(f"{name} must have shape (N, d, n0) (inputs, patches, channels), got shape {X.shape}")
    if 0 in X.shape:
        raise ValueError(f"{name} has an empty axis: shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


#: Pairs from which ``kernel_fn(engine="auto")`` hands over to the numba Gram (64 with pooling).
NUMBA_PAIRS = 4096


def kernel_fn(net: Layer, X: Any, Y: Any = None, kind: str = "nngp", engine: str = "auto") -> np.ndarray:
    r"""Gram matrix of raw inputs (M1–M4): :math:`K_{nm} = K(x_n, y_m)`, shape ``(N, M)``.

    .. math:: \Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0

    ``engine``: ``"numpy"`` is the reference evaluator (vectorised per-layer
    maps); ``"auto"`` hands large problems (>= ``NUMBA_PAIRS`` pairs, or 64
    with pooling) to the jitted :func:`eigencalc.numerics.gram` when every
    activation has a jitted closed form (same numbers to ~1e-15).

    >>> from eigencalc._layers import serial, Dense, Relu
    >>> float(kernel_fn(serial(Dense(), Relu(), Dense()), [[[1.0, 1.0]]])[0, 0])
    0.5
    """
    kind = _check_kind(kind)
    X = _check_inputs(X, "X")
    if Y is not None:
        Y = _check_inputs(Y, "Y")
        if Y.shape[1:] != X.shape[1:]:
            raise ValueError(
                f"X and Y disagree: X has (d, n0) = {X.shape[1:]}, Y has (d, n0) = {Y.shape[1:]}"
            )
    if engine not in ("auto", "numpy"):
        raise ValueError(f"engine must be 'auto' or 'numpy', got {engine!r}")
    program = compile_network(net, X.shape[1])
    pairs = X.shape[0] * (X.shape[0] if Y is None else Y.shape[0])
    if engine == "auto" and (pairs >= NUMBA_PAIRS or (program.full and pairs >= 64)):
        from . import numerics

        if not numerics.unjitted_activations(net, X.shape[1]):
            return numerics.gram(net, X, Y, kind)
    return evaluate_program(program, X, Y, kind)


def _check_correlations(t: Any, d: int) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    if t.ndim == 0 or t.shape[-1] != d:
        raise ValueError(f"t must have shape (..., d) with d = {d} patch correlations, got shape {t.shape}")
    if np.isnan(t).any():
        raise ValueError("t contains NaN")
    if (np.abs(t) > 1 + 1e-12).any():
        raise ValueError(f"correlations t must lie in [-1, 1], got {t[np.abs(t) > 1 + 1e-12].flat[0]!r}")
    return np.clip(t, -1.0, 1.0)


def node_variances(dag: Dag):
    r"""Per-node :math:`(q_u, \Theta_u(x,x))` in float64 for equal-norm patches (:math:`q = 1` at the leaves).

    .. math:: q_u = \Sigma_u(1, \dots, 1), \qquad \theta_u = \Theta_u(1, \dots, 1)
    """
    return _node_variances_cached(dag)


@lru_cache(maxsize=64)
def _node_variances_cached(dag: Dag):
    q = np.zeros(len(dag.nodes))
    th = np.zeros(len(dag.nodes))
    for n in dag.nodes:
        if n.op == "input":
            q[n.id], th[n.id] = 1.0, 0.0
        elif n.op == "activation":
            (c,) = n.children
            act = n.activation
            if not q[c] > 0:
                raise ValueError(f"node #{n.id} ({act.name}): its input has variance {q[c]:g}; activations need > 0")
            q[n.id] = float(act.kernel(q[c], q[c], q[c]))
            with np.errstate(divide="ignore"):
                th[n.id] = th[c] * float(act.derivative_kernel(q[c], q[c], q[c])) if th[c] != 0 else 0.0
        else:
            # the same operations, in the same order, as evaluate_dag: at t = 1 the
            # node kernels equal these variances bit for bit (rho = 1 exactly)
            q[n.id] = n.bias + sum(w * q[c] for c, w in zip(n.children, n.weights))
            acc_t = sum(w * th[c] for c, w in zip(n.children, n.weights))
            th[n.id] = acc_t + q[n.id] if n.trainable else acc_t
    return q, th


def evaluate_dag(dag: Dag, t: np.ndarray, kind: str) -> np.ndarray:
    r"""Evaluate a pooling-free DAG node by node at correlations ``t`` (shape ``(..., d)``).

    .. math::

        \Sigma_{\text{leaf } i} = t_i,\quad
        \Sigma_u = \textstyle\sum_c w_c \Sigma_c + b_u,\quad
        \Sigma_u = E_{q_c}[\phi(u)\phi(v)](\Sigma_c),\quad
        \Theta_u = \Theta_c\, E_{q_c}[\phi'\phi'](\Sigma_c)
    """
    q, _ = node_variances(dag)
    need = dag.ancestors_of_output()
    shape = t.shape[:-1]
    sig: dict = {}
    th: dict = {}
    ntk = kind == "ntk"
    zero = np.zeros(shape)
    for n in dag.nodes:
        if n.id not in need:
            continue
        if n.op == "input":
            sig[n.id] = t[..., n.position]
            th[n.id] = zero
        elif n.op == "activation":
            (c,) = n.children
            qc = q[c]
            sig[n.id] = n.activation.kernel(qc, qc, sig[c])
            if ntk:
                with np.errstate(divide="ignore", invalid="ignore"):
                    th[n.id] = th[c] * n.activation.derivative_kernel(qc, qc, sig[c])
        else:
            acc = n.bias + sum(w * sig[c] for c, w in zip(n.children, n.weights))
            sig[n.id] = np.broadcast_to(acc, shape) if np.ndim(acc) == 0 else acc
            if ntk:
                acc_t = sum(w * th[c] for c, w in zip(n.children, n.weights))
                th[n.id] = acc_t + sig[n.id] if n.trainable else acc_t
    out = th[dag.output] if ntk else sig[dag.output]
    return np.array(np.broadcast_to(out, shape), dtype=float)


def _require_pooling_free(dag: Dag, what: str) -> None:
    if dag.pooled:
        where = next(L for L in dag.layers if L.op == "pool" and dag.nodes[L.nodes[0]].op == "pool")
        raise ValueError(
            f"{what}: {where.layer!r} at {where.path} pools over several positions, so the kernel "
            "depends on cross-patch inner products <x_i, y_j>, not only on t; use kernel_fn on raw inputs"
        )


def kernel_of_correlations(net: Layer, t: Any, kind: str = "nngp") -> np.ndarray:
    r"""Kernel of equal-norm inputs as a function of the patch correlations (M1–M4).

    For :math:`|x_i|^2 = |y_i|^2 = n_0` and :math:`t_i = \langle x_i, y_i\rangle/n_0`:

    .. math:: K(x, y) = K(t_1, \dots, t_d)

    ``t`` has shape ``(..., d)``; the result has shape ``t.shape[:-1]``.

    >>> from eigencalc._layers import serial, Dense, Relu
    >>> round(float(kernel_of_correlations(serial(Dense(), Relu(), Dense()), [0.0])), 12) == round(1 / (2 * np.pi), 12)
    True
    """
    kind = _check_kind(kind)
    t = np.asarray(t, dtype=float)
    if t.ndim == 0:
        raise ValueError(f"t must have shape (..., d), got a scalar {float(t)!r}; use t[..., None] for d = 1")
    dag = build_dag(net, t.shape[-1])
    _require_pooling_free(dag, "kernel_of_correlations")
    t = _check_correlations(t, dag.d)
    return evaluate_dag(dag, t, kind)
