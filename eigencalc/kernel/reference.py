r"""The reference interpreter: per-layer kernel maps M1-M4 on arrays, and a program run on raw inputs.

Pure numpy, float64.  The kernel maps of ``../shared/MATH.md`` section 1 are
small pure functions on arrays ``(Sigma_xy, Sigma_xx, Sigma_yy, Theta)``;
:func:`evaluate_program` runs a compiled :class:`~eigencalc.kernel.compiler.Program`
step by step.

Array conventions of the kernel maps (``N``, ``M`` inputs, ``P`` positions):

=============  =========================  ==============================
mode           ``Sigma_xy``, ``Theta``    ``Sigma_xx`` / ``Sigma_yy``
=============  =========================  ==============================
diagonal       ``(N, M, P)``              ``(N, P)`` / ``(M, P)``
full           ``(N, M, P, P)``           ``(N, P, P)`` / ``(M, P, P)``
=============  =========================  ==============================

The diagonal mode keeps only same-position covariances, which is all a
pooling-free network needs (M4); the full mode keeps every position pair and
is used as soon as a ``GlobalAvgPool`` is present.  After ``Flatten`` or
``GlobalAvgPool`` the spatial axes have length 1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..duals.activations import Activation

__all__ = ["conv_indices", "affine_map", "activation_map", "flatten_map", "pool_map", "avgpool_map", "sum_map",
           "input_covariances", "evaluate_program"]


# --------------------------------------------------------------------------
# Per-layer kernel maps (pure functions on arrays)
# --------------------------------------------------------------------------


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


def _gather(a: np.ndarray, index: np.ndarray, full: bool) -> np.ndarray:
    """Sum over the filter of ``a`` at the windows ``index`` (same offset on both position axes)."""
    if full:
        return a[..., index[:, None, :], index[None, :, :]].sum(axis=-1)
    return a[..., index].sum(axis=-1)


def affine_map(sxy, sxx, syy, theta, index, w_var: float, b_var: float, full: bool):
    r"""Dense / Conv on kernels (M1, M2), NTK parameterization.

    .. math::

        \Sigma'_{ij} = \frac{W^2}{q}\sum_{a<q}\Sigma_{is+a, js+a} + b^2,\qquad
        \Theta'_{ij} = \frac{W^2}{q}\sum_{a<q}\Theta_{is+a, js+a} + \Sigma'_{ij}

    ``index`` is :func:`conv_indices`; ``theta`` may be None (NNGP only).
    """
    scale = w_var / index.shape[1]
    out_xy = scale * _gather(sxy, index, full) + b_var
    out_xx = scale * _gather(sxx, index, full) + b_var
    out_yy = scale * _gather(syy, index, full) + b_var
    out_theta = None if theta is None else scale * _gather(theta, index, full) + out_xy
    return out_xy, out_xx, out_yy, out_theta


def _diagonal(a: np.ndarray) -> np.ndarray:
    return np.diagonal(a, axis1=-2, axis2=-1)


def activation_map(sxy, sxx, syy, theta, act: Activation, full: bool):
    r"""Elementwise activation on kernels (M3, M8).

    .. math::

        \Sigma'_{ij}(x,y) = E[\phi(u)\phi(v)],\quad
        \Theta'_{ij} = \Theta_{ij}\, E[\phi'(u)\phi'(v)],\quad
        (u, v) \sim N(0, [[\Sigma_{ii}(x,x), \Sigma_{ij}], [\Sigma_{ij}, \Sigma_{jj}(y,y)]])

    Diagonal mode only needs :math:`i = j`.  Variances must be positive.
    """
    if full:
        dx, dy = _diagonal(sxx), _diagonal(syy)
        qx, qy = dx[:, None, :, None], dy[None, :, None, :]
        out_xx = act.kernel(dx[:, :, None], dx[:, None, :], sxx)
        out_yy = act.kernel(dy[:, :, None], dy[:, None, :], syy)
    else:
        qx, qy = sxx[:, None, :], syy[None, :, :]
        out_xx = act.kernel(sxx, sxx, sxx)
        out_yy = act.kernel(syy, syy, syy)
    out_xy = act.kernel(qx, qy, sxy)
    out_theta = None if theta is None else theta * act.derivative_kernel(qx, qy, sxy)
    return out_xy, out_xx, out_yy, out_theta


def flatten_map(sxy, sxx, syy, theta, full: bool):
    r"""Flatten (before a Dense): mean of the diagonal position covariances (M4).

    .. math:: \Sigma' = \frac1P\sum_i \Sigma_{ii},\qquad \Theta' = \frac1P\sum_i\Theta_{ii}
    """

    def mean_diag(a):
        if a is None:
            return None
        if full:
            return _diagonal(a).mean(axis=-1)[..., None, None]
        return a.mean(axis=-1, keepdims=True)

    return mean_diag(sxy), mean_diag(sxx), mean_diag(syy), mean_diag(theta)


def pool_map(sxy, sxx, syy, theta, full: bool):
    r"""GlobalAvgPool: mean over all position pairs (M4); needs the full mode when P > 1.

    .. math:: \Sigma' = \frac{1}{P^2}\sum_{i,j}\Sigma_{ij},\qquad \Theta' = \frac{1}{P^2}\sum_{i,j}\Theta_{ij}
    """

    def mean_all(a):
        if a is None:
            return None
        if full:
            return a.mean(axis=(-2, -1))[..., None, None]
        if a.shape[-1] != 1:
            raise ValueError("GlobalAvgPool over P > 1 positions needs the full (position-pair) mode")
        return a

    return mean_all(sxy), mean_all(sxx), mean_all(syy), mean_all(theta)


def avgpool_map(sxy, sxx, syy, theta, index, full: bool):
    r"""AvgPool on kernels: mean over window pairs (section 6); needs the full mode if window > 1.

    .. math:: \Sigma'_{kl} = \frac{1}{\omega^2}\sum_{a<\omega}\sum_{b<\omega} \Sigma_{w_k(a), w_l(b)}
    """
    omega = index.shape[1]

    def pool(a):
        if a is None:
            return None
        if full:
            return a[..., index[:, None, :, None], index[None, :, None, :]].sum(axis=(-2, -1)) / omega**2
        if omega != 1:
            raise ValueError("AvgPool over more than one position needs the full (position-pair) mode")
        return a[..., index[:, 0]]

    return pool(sxy), pool(sxx), pool(syy), pool(theta)


def sum_map(states: Sequence[tuple]):
    r"""FanInSum: kernels of independent branches add.

    .. math:: \Sigma' = \sum_b \Sigma^{(b)},\qquad \Theta' = \sum_b \Theta^{(b)}
    """
    out = []
    for parts in zip(*states):
        out.append(None if parts[0] is None else sum(parts[1:], parts[0].copy()))
    return tuple(out)


# --------------------------------------------------------------------------
# The reference evaluator on raw inputs
# --------------------------------------------------------------------------


def input_covariances(X: np.ndarray, Y: np.ndarray, full: bool):
    r""":math:`\Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0` for ``X (N, d, n0)``, ``Y (M, d, n0)`` (section 1).

    .. math:: \Sigma^0_{xy} = X Y^\top / n_0 \text{ per position pair (full) or per position (diagonal)}
    """
    n0 = X.shape[-1]
    if full:
        sxy = np.einsum("nic,mjc->nmij", X, Y) / n0
        sxx = np.einsum("nic,njc->nij", X, X) / n0
        syy = np.einsum("mic,mjc->mij", Y, Y) / n0
    else:
        sxy = np.einsum("nic,mic->nmi", X, Y) / n0
        sxx = np.einsum("nic,nic->ni", X, X) / n0
        syy = np.einsum("mic,mic->mi", Y, Y) / n0
    return sxy, sxx, syy


def evaluate_program(program, X: np.ndarray, Y: np.ndarray | None, kind: str) -> np.ndarray:
    r"""Run a compiled network (:class:`eigencalc.architectures.Program`) on raw inputs; returns ``(N, M)``.

    Registers hold ``(Sigma_xy, Sigma_xx, Sigma_yy, Theta)``; each step applies
    one kernel map.  With ``Y is None`` the self-covariances are re-read from
    the diagonal of ``Sigma_xy`` after every step, so that :math:`\rho = 1`
    exactly on the diagonal.
    """
    full = program.full
    same = Y is None
    sxy, sxx, syy = input_covariances(X, X if same else Y, full)
    n = X.shape[0]
    diag = np.arange(n)

    def resync(state):
        if not same:
            return state
        xy, _, _, th = state
        d = xy[diag, diag].copy()
        return xy, d, d, th

    theta = np.zeros_like(sxy) if kind == "ntk" else None
    regs = {0: resync((sxy, sxx, syy, theta))}
    for step in program.steps:
        src = [regs[r] for r in step.src]
        if step.op == "affine":
            out = affine_map(*src[0], step.index, step.layer.w_var, step.layer.b_var, full)
        elif step.op == "activation":
            _check_positive_variances(src[0], step, full)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = activation_map(*src[0], step.layer.activation, full)
        elif step.op == "flatten":
            out = flatten_map(*src[0], full)
        elif step.op == "pool":
            out = pool_map(*src[0], full)
        elif step.op == "avgpool":
            out = avgpool_map(*src[0], step.index, full)
        elif step.op == "sum":
            out = sum_map(src)
        else:  # pragma: no cover - the compiler emits only the ops above
            raise AssertionError(step.op)
        regs[step.dst] = resync(out)
    sxy, _, _, theta = regs[program.output]
    result = theta if kind == "ntk" else sxy
    return result.reshape(result.shape[:2])


def _check_positive_variances(state, step, full: bool) -> None:
    _, sxx, syy, _ = state
    for name, s in (("X", sxx), ("Y", syy)):
        v = _diagonal(s) if full else s
        if not (v > 0).all():
            bad = np.argwhere(~(v > 0))[0]
            raise ValueError(
                f"{step.layer!r} at {step.path}: input {name}[{bad[0]}] has variance {v[tuple(bad)]:g} "
                f"at position {bad[1]} (an all-zero input patch and no bias?); activations need variances > 0"
            )
