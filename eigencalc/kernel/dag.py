r"""The architecture DAG: one node per layer output position (section 1, M18).

:func:`build_dag` reads a compiled :class:`~eigencalc.kernel.compiler.Program`
on node ids: children with averaging weights and receptive fields, the
output node, and the unary-chain skeleton used for the space of M18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy

from .compiler import compile_network
from .ops import Op
from .spec import LayerSpec as Layer

__all__ = ["Node", "DagLayer", "Dag", "build_dag"]


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

    An affine node's NTK adds ``ntk_scale`` :math:`\kappa` times its own
    :math:`\Sigma_u` and ``ntk_shift`` :math:`c` (exact; :math:`\kappa = 1, c = 0` in the NTK
    parameterization; :math:`\kappa = \tau/\sigma_W^2`, :math:`c = \beta - \kappa \sigma_b^2` in the
    standard one, from the step's :math:`\tau, \beta`).  Zero-padded filter taps (SAME)
    are simply absent from ``children``; the weights keep the full filter's :math:`1/q`.

    .. math:: \Sigma_u = \sum_c w_c \Sigma_c + b, \qquad
              \Theta_u = \sum_c w_c \Theta_c + [\text{trainable}]\,(\kappa\,\Sigma_u + c) \quad \text{(M1, M2)}
    """

    id: int
    layer: int  # index into Dag.layers; -1 for the input patches
    position: int
    op: Op
    children: tuple
    weights: tuple
    exact_weights: tuple
    bias: float
    exact_bias: Any
    receptive_field: frozenset
    activation: Any = None
    ntk_scale: Any = sympy.Integer(1)
    ntk_shift: Any = sympy.Integer(0)

    @property
    def trainable(self) -> bool:
        """True for Dense/Conv nodes (their :math:`\\Sigma` enters :math:`\\Theta`, M2)."""
        return self.op == Op.AFFINE


@dataclass(frozen=True)
class DagLayer:
    r"""The nodes (by output position) that one layer application produced (section 1).

    .. math:: \text{nodes}[o] = \text{id of output position } o
    """

    index: int
    path: str
    layer: Layer
    op: Op
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

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> serial(Conv(2), Relu(), Flatten(), Dense()).dag(3)
    Dag(d=3, nodes=9, layers=4, output=8, pooled=False)
    """

    d: int
    nodes: tuple
    layers: tuple
    output: int
    pooled: bool
    _parents: tuple = field(default=(), repr=False, compare=False)
    grid: tuple = ()

    @property
    def standard(self) -> bool:
        """True when some affine node is in the standard parameterization (its NTK is not ``+ Sigma_u``)."""
        return any(n.ntk_scale != 1 or n.ntk_shift != 0 for n in self.nodes if n.op == Op.AFFINE)

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

        >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
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
            if u in out or self.nodes[u].op == Op.INPUT:
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
                if n.op == Op.ACTIVATION:
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


def _ntk_scale_and_shift(step) -> tuple:
    r""":math:`(\kappa, c)` of :class:`Node` from the step's :math:`(\tau, \beta)`: :math:`\tau M(\Sigma) + \beta = \kappa \Sigma_u + c`."""
    layer = step.layer
    if step.ntk_weight == layer.w_var_exact and step.ntk_bias == layer.b_var_exact:
        return sympy.Integer(1), sympy.Integer(0)
    if layer.w_var_exact == 0:
        raise ValueError(
            f"{layer!r} at {step.path}: W_std = 0 in the standard parameterization makes the NTK read "
            "M(Sigma), which the node kernel Sigma_u = b^2 no longer holds; use W_std > 0"
        )
    scale = step.ntk_weight / layer.w_var_exact  # exact sympy numbers (Step)
    return scale, step.ntk_bias - scale * layer.b_var_exact


@lru_cache(maxsize=64)
def _build_dag_cached(program) -> Dag:
    d = program.d
    nodes = []
    for i in range(d):
        nodes.append(Node(i, -1, i, Op.INPUT, (), (), (), 0.0, sympy.Integer(0), frozenset([i])))
    regs = {0: list(range(d))}
    layers = []
    one = sympy.Integer(1)
    for li, step in enumerate(program.steps):
        ids = []
        src = [regs[r] for r in step.src]

        def add(position, op, children, exact_weights, exact_bias=sympy.Integer(0), act=None, ntk=None):
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
                *(ntk or ()),
            )
            nodes.append(node)
            ids.append(node.id)

        if step.op == Op.AFFINE:
            layer = step.layer
            w = layer.w_var_exact / step.index.shape[1]
            ntk = _ntk_scale_and_shift(step)
            for o, window in enumerate(step.index):
                kids = [src[0][a] for a in window if a >= 0]  # padded taps (SAME) read zeros
                add(o, Op.AFFINE, kids, [w] * len(kids), layer.b_var_exact, ntk=ntk)
        elif step.op == Op.ACTIVATION:
            for o, c in enumerate(src[0]):
                add(o, Op.ACTIVATION, [c], [one], act=step.layer.activation)
        elif step.op in (Op.FLATTEN, Op.POOL):
            P = step.width_in
            if step.op == Op.POOL and P > 1:
                add(0, Op.POOL, list(src[0]), [sympy.Rational(1, P)] * P)
            else:
                add(0, Op.AVERAGE, list(src[0]), [sympy.Rational(1, P)] * P)
        elif step.op == Op.AVGPOOL:
            omega = step.index.shape[1]
            for o, window in enumerate(step.index):
                kids = [src[0][a] for a in window if a >= 0]
                add(o, Op.POOL if omega > 1 else Op.AVERAGE, kids, [sympy.Rational(1, omega)] * len(kids))
        elif step.op == Op.SUM:
            for o in range(step.width_out):
                add(o, Op.SUM, [s[o] for s in src], [one] * len(src))
        regs[step.dst] = ids
        layers.append(DagLayer(li, step.path, step.layer, step.op, tuple(ids)))
    parents = [[] for _ in nodes]
    for n in nodes:
        for c in n.children:
            parents[c].append(n.id)
    (output,) = regs[program.output]
    pooled = any(n.op == Op.POOL for n in nodes)
    return Dag(d, tuple(nodes), tuple(layers), output, pooled, tuple(tuple(p) for p in parents), program.grid)


def build_dag(net: Layer, d: Any, n0: int | None = None) -> Dag:
    r"""The :class:`Dag` of ``net`` on ``d`` patches (validated as :func:`compile_network`).

    ``d`` is an int (a row of patches) or a grid such as ``(H, W)``; node
    positions and patch ids are row-major.  ``n0`` as in :func:`compile_network`.

    .. math:: \Sigma_u = \sum_{c} w_{uc}\, \Sigma_c + b_u \quad (\text{linear nodes}),
              \qquad \Sigma_u = \hat\phi(\Sigma_c) \quad (\text{activation nodes})

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> dag = serial(Conv(2, stride=2), Relu(), Flatten(), Dense()).dag(4)
    >>> sorted(dag.receptive_field(dag.output)), dag.nodes[4].children, dag.nodes[4].exact_weights
    ([0, 1, 2, 3], (0, 1), (1/2, 1/2))
    """
    if not isinstance(net, Layer):
        raise TypeError(f"expected a layer or network, got {type(net).__name__}")
    return _build_dag_cached(compile_network(net, d, n0))


def _require_pooling_free(dag: Dag, what: str) -> None:
    """Raise, naming the layer, when the kernel of ``dag`` depends on cross-patch inner products."""
    if dag.pooled:
        where = next(L for L in dag.layers if any(dag.nodes[u].op == Op.POOL for u in L.nodes))
        raise ValueError(
            f"{what}: {where.layer!r} at {where.path} pools over several positions, so the kernel "
            "depends on cross-patch inner products <x_i, y_j>, not only on t; use kernel_fn on raw inputs"
        )
