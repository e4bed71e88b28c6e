r"""The diagonal forward pass: node variances :math:`q_u = \Sigma_u(1..1)` and :math:`\Theta_u(1..1)` (M1-M3).

On the product domains every patch has the same norm, so at equal inputs
(all correlations :math:`t_i = 1`) each node of the architecture DAG holds two
deterministic numbers, computed leaves first:

.. math::

    \text{input:}\quad q = 1,\ \Theta = 0; \qquad
    \text{linear:}\quad q_u = b + \sum_c w_c q_c,\ \
        \Theta_u = \sum_c w_c \Theta_c + [\text{trainable}]\, q_u \quad (M1, M2, M4);

    \text{activation:}\quad q_u = E[\phi(\sqrt{q_c} z)^2],\ \
        \Theta_u = \Theta_c\, E[\phi'(\sqrt{q_c} z)^2] \quad (M3 \text{ at } \rho = 1).

The root values are :math:`K(1, \dots, 1)`, the trace :math:`\sum_r \lambda(r)
\mathrm{mult}(r)` that bounds every truncation (M16).  The arithmetic is a
coefficient field of :mod:`eigencalc.core.fields` (exact Fractions or sympy,
or mpmath at the context precision); :func:`diagonal_walk` walks a whole DAG,
the two node maps serve callers that walk it themselves.
"""

from __future__ import annotations

from typing import Any, Sequence

from .ops import Op

__all__ = ["linear_diagonal", "activation_diagonal", "diagonal_walk"]


def linear_diagonal(field, weights: Sequence, bias: Any, q: Sequence, theta: Sequence, trainable: bool,
                    ntk: tuple = (1, 0)) -> tuple:
    r""":math:`(q_u, \Theta_u) = (b + \sum_c w_c q_c,\ \sum_c w_c \Theta_c + [\text{trainable}]\,(\kappa q_u + c))` (M1, M2).

    ``weights``, ``bias``, ``q`` and ``theta`` (per child) are field elements;
    the sums run left to right in the field's arithmetic.  ``ntk`` is the
    node's :math:`(\kappa, c)` (:class:`~eigencalc.kernel.dag.Node`; ``(1, 0)`` in the
    NTK parameterization).

    >>> from eigencalc.core.fields import FRACTIONS as F
    >>> half = F.one / 2
    >>> linear_diagonal(F, [half, half], F.num(1), [F.num(2), F.num(4)], [F.one, F.zero], True)
    (Fraction(4, 1), Fraction(9, 2))
    """
    q_u = bias + sum((field.mul(w, qc) for w, qc in zip(weights, q)), field.zero)
    theta_u = sum((field.mul(w, tc) for w, tc in zip(weights, theta)), field.zero)
    if not trainable:
        return q_u, theta_u
    scale, shift = ntk
    if scale == 1 and shift == 0:
        return q_u, theta_u + q_u
    return q_u, theta_u + field.mul(field.num(scale), q_u) + field.num(shift)


def activation_diagonal(field, act, q: Any, theta: Any, derivative: bool = True) -> tuple:
    r""":math:`(q_u, \Theta_u) = (E[\phi(\sqrt q z)^2],\ \Theta_c\, E[\phi'(\sqrt q z)^2])`, z ~ N(0, 1) (M3, M6-M8).

    ``act`` is an :class:`~eigencalc.duals.activations.Activation`; ``q`` and
    ``theta`` are the child's values in ``field``.  With ``derivative=False``
    (NNGP only), or when :math:`\Theta_c = 0`, the derivative moment is not
    evaluated and :math:`\Theta_u = 0`.

    >>> from eigencalc.core.fields import SYMPY
    >>> from eigencalc.duals.activations import activation
    >>> activation_diagonal(SYMPY, activation("relu"), SYMPY.num(2), SYMPY.num(3))   # E[relu^2] = q/2, E[relu'^2] = 1/2
    (1, 3/2)
    """
    qs = field.to_sympy(q)
    q_u = field.num(act.second_moment(qs))
    if not derivative or field.is_zero(theta):
        return q_u, field.zero
    return q_u, field.mul(theta, field.num(act.derivative_second_moment(qs)))


def diagonal_walk(dag, field, nodes=None) -> tuple:
    r"""Dicts ``q[u]`` :math:`= \Sigma_u(1..1)` and ``theta[u]`` :math:`= \Theta_u(1..1)` over a DAG (M1-M4).

    ``nodes``: the node ids to compute (default: the ancestors of the output),
    closed under children; they are visited in increasing id order, which is
    children first.  Weights and biases are the nodes' exact values read into
    ``field``.  At the output, ``q`` is the NNGP and ``theta`` the NTK at
    :math:`t = (1, \dots, 1)`.

    >>> from eigencalc.architectures import serial, Dense, Relu
    >>> from eigencalc.kernel.dag import build_dag
    >>> from eigencalc.core.fields import SYMPY
    >>> dag = build_dag(serial(Dense(), Relu(), Dense()), 1)
    >>> q, theta = diagonal_walk(dag, SYMPY)
    >>> q[dag.output], theta[dag.output]       # ReLU at q = 1: E[relu^2] = E[relu'^2] = 1/2
    (1/2, 1)
    """
    nodes = dag.ancestors_of_output() if nodes is None else nodes
    q: dict = {}
    theta: dict = {}
    for u in sorted(nodes):
        node = dag.nodes[u]
        if node.op == Op.INPUT:
            q[u], theta[u] = field.one, field.zero
        elif node.op == Op.ACTIVATION:
            (c,) = node.children
            q[u], theta[u] = activation_diagonal(field, node.activation, q[c], theta[c])
        else:
            weights = [field.num(w) for w in node.exact_weights]
            q[u], theta[u] = linear_diagonal(
                field, weights, field.num(node.exact_bias), [q[c] for c in node.children],
                [theta[c] for c in node.children], node.trainable, (node.ntk_scale, node.ntk_shift),
            )
    return q, theta
