r"""Kernels of a network: on raw inputs (any engine) and on patch correlations (M1-M4).

:func:`kernel_fn` is the front door for Gram matrices of raw inputs (the
reference interpreter of :mod:`.reference`, or the jitted engine of
:mod:`.engine` for large problems); :func:`kernel_of_correlations` evaluates a
pooling-free network at equal-norm inputs as a function of the patch
correlations :math:`t_i` (node by node on the DAG).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..core.validate import check_inputs as _check_inputs
from ..core.validate import check_kind as _check_kind
from . import engine as numerics
from .compiler import compile_network
from .dag import Dag, build_dag
from .reference import evaluate_program
from .spec import LayerSpec as Layer

__all__ = ["kernel_fn", "kernel_of_correlations", "node_variances", "evaluate_dag", "NUMBA_PAIRS"]


# --------------------------------------------------------------------------
# Kernel evaluation: raw inputs and correlations
# --------------------------------------------------------------------------


#: Pairs from which ``kernel_fn(engine="auto")`` hands over to the numba Gram (64 with pooling).
NUMBA_PAIRS = 4096


def kernel_fn(net: Layer, X: Any, Y: Any = None, kind: str = "nngp", engine: str = "auto") -> np.ndarray:
    r"""Gram matrix of raw inputs (M1–M4): :math:`K_{nm} = K(x_n, y_m)`, shape ``(N, M)``.

    .. math:: \Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0

    ``engine``: ``"numpy"`` is the reference evaluator (vectorised per-layer
    maps); ``"auto"`` hands large problems (>= ``NUMBA_PAIRS`` pairs, or 64
    with pooling) to the jitted :func:`eigencalc.numerics.gram` when every
    activation has a jitted closed form (same numbers to ~1e-15).

    >>> from eigencalc.architectures import serial, Dense, Relu
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

    >>> from eigencalc.architectures import serial, Dense, Relu
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
