r"""The reference interpreter: a compiled program run on a batch of input pairs in numpy (M1-M4).

One kernel map per op of :class:`~.ops.Op`, each a small pure function of
register arrays, and :func:`run_program`, which applies them step by step.
Float64.  This is the numpy back end of :mod:`.engine` (``gram_numpy``,
``kernel_fn(engine="numpy")``, the numpy ``kernel_of_correlations``); the
numba back end runs the same program through its op table
(:mod:`.table`), with jitted closed forms of the activations instead of
:meth:`~eigencalc.duals.activations.Activation.kernel`.

Registers hold, for a batch of ``B`` pairs :math:`(x, y)`, the covariances
:math:`\Sigma_{ij}(x, y)` and :math:`\Theta_{ij}(x, y)`:

=============  =======================  ===============================================
mode           register shape           used when
=============  =======================  ===============================================
diagonal       ``(B, P)``               no step averages over several positions (M4)
full           ``(B, P, P)``            a GlobalAvgPool / AvgPool window > 1 (section 6)
=============  =======================  ===============================================

The activation variances :math:`\Sigma_{ii}(x, x)` come from a *self run*
(``self_mode=True``, :math:`x = y`), which writes them into per-input rows
at the program's :attr:`~.compiler.Program.variance_slots`; so the diagonal
of a symmetric Gram matrix has :math:`\rho = 1` exactly.
"""

from __future__ import annotations

import numpy as np

from .compiler import Program, Step
from .ops import Op

__all__ = ["input_covariance", "affine_map", "activation_map", "flatten_map", "pool_map", "avgpool_map",
           "sum_map", "run_program", "check_variances"]


def input_covariance(X: np.ndarray, Y: np.ndarray, full: bool) -> np.ndarray:
    r""":math:`\Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0` for paired batches ``X, Y`` of shape ``(B, d, n0)``.

    .. math:: \Sigma^0 \in \mathbb R^{B \times d \times d}\ (\text{full}) \ \text{or}\ \mathbb R^{B \times d}\ (\text{diagonal})
    """
    n0 = X.shape[-1]
    if full:
        return np.einsum("bic,bjc->bij", X, Y) / n0
    return np.einsum("bic,bic->bi", X, Y) / n0


def _zero_padded(a: np.ndarray, index: np.ndarray, full: bool) -> np.ndarray:
    """``a`` with one zero position appended on each position axis when some window reads padding (-1).

    Index -1 then reads that zero: a zero-padded tap adds nothing (SAME).
    """
    if index.min() >= 0:
        return a
    return np.pad(a, [(0, 0), (0, 1), (0, 1)] if full else [(0, 0), (0, 1)])


def _window_sum(a: np.ndarray, index: np.ndarray, full: bool) -> np.ndarray:
    """Sum over the filter of ``a`` at the windows ``index`` (the same offset on both position axes)."""
    a = _zero_padded(a, index, full)
    if full:
        return a[:, index[:, None, :], index[None, :, :]].sum(axis=-1)
    return a[:, index].sum(axis=-1)


def affine_map(S, T, step: Step, full: bool):
    r"""Dense / Conv (M1, M2) in either parameterization; ``T`` (the NTK) may be None.

    With the window mean :math:`M(\Sigma)_{ij} = \frac1q\sum_{a<q}\Sigma_{w_i(a), w_j(a)}`
    (padded taps read 0) and the step's NTK coefficients :math:`\tau, \beta`
    (:class:`~.compiler.Step`):

    .. math::

        \Sigma' = W^2 M(\Sigma) + b^2,\qquad
        \Theta' = W^2 M(\Theta) + \tau M(\Sigma) + \beta
        \quad (= W^2 M(\Theta) + \Sigma' \text{ in the NTK parameterization})
    """
    index = np.asarray(step.index)
    q = index.shape[1]
    scale = step.layer.w_var / q
    total = _window_sum(S, index, full)
    out = scale * total + step.layer.b_var
    if T is None:
        return out, None
    gain = (float(step.ntk_weight) / q) * total + float(step.ntk_bias)  # equals ``out`` bit for bit (NTK param.)
    return out, scale * _window_sum(T, index, full) + gain


def activation_map(S, T, act, qx, qy, full: bool):
    r"""Elementwise activation (M3, M8) with input variances ``qx``, ``qy`` of shape ``(B, P)``.

    .. math::

        \Sigma'_{ij} = E[\phi(u)\phi(v)],\quad \Theta'_{ij} = \Theta_{ij}\, E[\phi'(u)\phi'(v)],\quad
        (u, v) \sim N(0, [[\Sigma_{ii}(x,x), \Sigma_{ij}], [\Sigma_{ij}, \Sigma_{jj}(y,y)]])
    """
    if full:
        qx, qy = qx[:, :, None], qy[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = act.kernel(qx, qy, S)
        return out, None if T is None else T * act.derivative_kernel(qx, qy, S)


def _keep_positions(a: np.ndarray, full: bool) -> np.ndarray:
    """A one-position register in the layout of the mode: ``(B, 1, 1)`` or ``(B, 1)``."""
    return a[:, None, None] if full else a[:, None]


def flatten_map(S, T, full: bool):
    r"""Flatten (before a Dense): mean of the diagonal position covariances (M4).

    .. math:: \Sigma' = \frac1P\sum_i \Sigma_{ii},\qquad \Theta' = \frac1P\sum_i\Theta_{ii}
    """

    def mean_diagonal(a):
        return _keep_positions(np.diagonal(a, axis1=1, axis2=2).mean(axis=-1) if full else a.mean(axis=-1), full)

    return mean_diagonal(S), None if T is None else mean_diagonal(T)


def pool_map(S, T, full: bool):
    r"""GlobalAvgPool: mean over all position pairs (M4).

    .. math:: \Sigma' = \frac{1}{P^2}\sum_{i,j}\Sigma_{ij},\qquad \Theta' = \frac{1}{P^2}\sum_{i,j}\Theta_{ij}
    """
    axes = (1, 2) if full else (1,)
    return S.mean(axis=axes, keepdims=True), None if T is None else T.mean(axis=axes, keepdims=True)


def avgpool_map(S, T, step: Step, full: bool):
    r"""AvgPool: mean over window pairs (section 6; padded taps read 0); one-position windows only copy.

    .. math:: \Sigma'_{kl} = \frac{1}{\omega^2}\sum_{a<\omega}\sum_{b<\omega} \Sigma_{w_k(a), w_l(b)}
    """
    index = np.asarray(step.index)
    omega = index.shape[1]

    def pool(a):
        if full:
            a = _zero_padded(a, index, full)
            return a[:, index[:, None, :, None], index[None, :, None, :]].sum(axis=(-2, -1)) / omega**2
        return a[:, index[:, 0]]

    return pool(S), None if T is None else pool(T)


def sum_map(parts: list):
    r"""FanInSum: kernels of independent branches add.

    .. math:: \Sigma' = \sum_b \Sigma^{(b)},\qquad \Theta' = \sum_b \Theta^{(b)}
    """
    return sum(parts[1:], parts[0].copy())


def run_program(
    program: Program, S0: np.ndarray, kind: str, vx: np.ndarray, vy: np.ndarray, self_mode: bool, name: str = "X", first: int = 0
):
    r"""Run ``program`` on a batch of ``B`` pairs; returns the output kernel, shape ``(B,)`` (M1–M4).

    ``S0`` is :func:`input_covariance` of the batch; ``vx``, ``vy`` are the
    per-input variance rows ``(B, program.n_variances)`` of x and y.  In
    ``self_mode`` (x = y, NNGP only) the run *writes* the activation input
    variances into ``vx`` (which may be ``vy``) instead of reading them, and
    checks them as it goes (an error names input ``name[first + b]``).

    .. math:: r_{dst} \leftarrow \mathcal K_{op}(r_{src}), \qquad r_0 = (\Sigma^0, \Theta^0 = 0)
    """
    full = program.full
    ntk = kind == "ntk" and not self_mode
    sig = {0: S0}
    th = {0: np.zeros_like(S0)} if ntk else {0: None}
    slots = {s: (slot, width) for s, slot, width in program.variance_slots}
    for s, step in enumerate(program.steps):
        S, T = sig[step.src[0]], th[step.src[0]]
        if step.op == Op.AFFINE:
            out = affine_map(S, T, step, full)
        elif step.op == Op.ACTIVATION:
            slot, width = slots[s]
            if self_mode:
                vx[:, slot : slot + width] = np.diagonal(S, axis1=1, axis2=2) if full else S
                _check_positive(step, vx[:, slot : slot + width], name, first)
            qx, qy = vx[:, slot : slot + width], vy[:, slot : slot + width]
            out = activation_map(S, T, step.layer.activation, qx, qy, full)
        elif step.op == Op.FLATTEN:
            out = flatten_map(S, T, full)
        elif step.op == Op.AVGPOOL:
            out = avgpool_map(S, T, step, full)
        elif step.op == Op.POOL:
            out = pool_map(S, T, full)
        elif step.op == Op.SUM:
            out = sum_map([sig[r] for r in step.src]), (sum_map([th[r] for r in step.src]) if ntk else None)
        else:  # pragma: no cover - the compiler emits only the ops above
            raise AssertionError(step.op)
        sig[step.dst], th[step.dst] = out
    result = th[program.output] if ntk else sig[program.output]
    return result.reshape(result.shape[0])


def check_variances(program: Program, V: np.ndarray, name: str) -> None:
    """Raise, naming the layer, when an activation would see an input variance <= 0 (M3 needs > 0)."""
    for s, slot, width in program.variance_slots:
        _check_positive(program.steps[s], V[:, slot : slot + width], name, 0)


def _check_positive(step: Step, v: np.ndarray, name: str, first: int) -> None:
    bad = ~(v > 0)
    if bad.any():
        n, pos = np.argwhere(bad)[0]
        raise ValueError(
            f"{step.layer!r} at {step.path}: input {name}[{first + n}] has variance {v[n, pos]:g} "
            f"at position {pos} (an all-zero input patch and no bias?); activations need variances > 0"
        )
