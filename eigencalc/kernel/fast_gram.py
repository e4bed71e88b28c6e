r"""The fast Gram engine: pooling-free programs run tile by tile, every layer vectorised over a tile (M1–M4).

Float64, numba, no fastmath.  :mod:`eigencalc.kernel.engine` dispatches
``gram`` / ``kernel_fn`` (``engine="auto"`` or ``"numba"``) here when
:func:`fast_plan` accepts the program; otherwise the op-table interpreter of
:mod:`.numba_kernels` runs it, and :func:`eigencalc.kernel.engine.gram_numpy`
(the reference interpreter :func:`eigencalc.kernel.reference.run_program`)
stays the reference both are tested against.

Why it is fast.  Without GlobalAvgPool / AvgPool only the *diagonal* position
covariances :math:`\Sigma_{ii}(x, y)` enter (M4), so a register of width
:math:`P` holds :math:`P` numbers per pair (not :math:`P^2`).  The
interpreter runs the whole program for one pair at a time; here a *tile* is
one input :math:`x_n` against a run of :math:`w \le W` inputs
:math:`y_{m_0}, \dots, y_{m_0+w-1}`, a register is a ``(P, W)`` array, and
every step is a loop over positions with an inner loop over the tile that
LLVM vectorises:

.. math::

    \Sigma^0_{i, k} = \frac{1}{n_0}\sum_{c<n_0} x_{n,ic}\, y_{m_0+k,ic},\qquad
    \Sigma'_{o,k} = \frac{W^2}{q}\sum_{a<q}\Sigma_{\iota(o,a),k} + b^2 \ \ (\text{M1}),\qquad
    \Theta'_{o,k} = \frac{W^2}{q}\sum_{a<q}\Theta_{\iota(o,a),k} + \Sigma'_{o,k} \ \ (\text{M2}),

and the activations (M3) evaluate their closed forms on whole rows; the
ReLU family and the step function use :func:`_acos`, a branch-free
arc-cosine (fdlibm's rational approximation, within one ulp of libm) that
vectorises, where a libm call would not.  Tiles are shared out among the
threads (``prange``) in a fixed interleaved order; each output entry is
computed by the same operations whichever thread or tile computes it, so the
result does not depend on the number of threads.

Nearly the interpreter's arithmetic.  Input covariances, window sums, means
and clipping follow :func:`eigencalc.kernel.numba_kernels._run_ops` and
``_dual_pair`` operation by operation (sequential sums, no FMA), except: the
arc-cosine is :func:`_acos` (within one ulp), the ReLU family multiplies by
:math:`1/2\pi` instead of dividing by :math:`2\pi`, and a program that starts
with Flatten takes :math:`\langle x, y\rangle / (n_0 d)` as one product over all
coordinates, re-summed in the interpreter's order for nearly coincident inputs
(:func:`_leaf_row`).  The per-input variances :math:`\Sigma_{ii}(x, x)` come
from the interpreter's self run, so the diagonal of a symmetric Gram has
:math:`\rho = 1` exactly.  The result equals the numpy twin to about 1e-15
relative (tested at 1e-13).

Preconditions (checked by :func:`fast_plan`, which returns the reason when one
fails; the caller then uses the interpreter): no step averages over several
positions (``program.full`` is False), every op is one of affine /
activation / flatten / pool / avgpool / sum, every window index lies in
``[0, width_in)`` (no ``-1`` padding entries), every affine layer has the NTK
parameterization, every activation has a jitted closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit, prange

from ..core.progress import progress
from . import numba_kernels as _nk
from .compiler import Program
from .ops import Op
from .table import activation_code

__all__ = ["FastPlan", "fast_plan", "unsupported_reason", "gram_fast", "TILE"]

#: Inputs y per tile (the vector length of every layer loop).
TILE = 128

# plan op codes (private to this module)
_AFF = 0
_ACT = 1
_MEAN = 2  # flatten, or a pool of diagonal positions: mean over positions
_COPY = 3  # avgpool with one-position windows
_SUM = 4

_TWO_PI = 2.0 * np.pi
_INV_TWO_PI = 1.0 / _TWO_PI
_PI = np.pi


@dataclass(frozen=True, eq=False)
class FastPlan:
    r"""A pooling-free program as arrays for :func:`_tile`: one row ``(op, src, dst, width_in, width_out, c5, c6, c7)`` per step.

    Columns as in :mod:`.numba_kernels` (affine: window offset, q, offset of
    :math:`(W^2, b^2)`; activation: code, parameter offset, variance slot;
    avgpool: window offset; sum: source offset, count).  Register ``r``
    occupies rows ``row_off[r] : row_off[r] + width_r`` of a tile's scratch.
    """

    program: Program
    steps: np.ndarray
    idx: np.ndarray
    srcs: np.ndarray
    fp: np.ndarray
    row_off: np.ndarray
    n_rows: int
    out_row: int
    flatten_first: bool  # step 0 is Flatten of the input and nothing else reads the input: one matrix product
    input_th_zero: bool  # only affine steps read the input, so its Theta = 0 need not be stored


def unsupported_reason(program: Program) -> str | None:
    """Why :func:`fast_plan` rejects ``program`` (None when it accepts it).

    >>> from eigencalc.kernel.compiler import compile_network
    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, GlobalAvgPool, Dense
    >>> unsupported_reason(compile_network(serial(Conv(2), Relu(), Flatten(), Dense()), 4)) is None
    True
    >>> unsupported_reason(compile_network(serial(Conv(2), Relu(), GlobalAvgPool(), Dense()), 4))
    'position pairs needed (GlobalAvgPool / AvgPool window > 1)'
    """
    if program.full:
        return "position pairs needed (GlobalAvgPool / AvgPool window > 1)"
    widths = program.widths
    for k, step in enumerate(program.steps):
        if step.dst != k + 1 or any(not 0 <= s <= k for s in step.src):
            return f"step {k} ({step.path}): registers out of order"
        if step.width_in != widths[step.src[0]]:
            return f"step {k} ({step.path}): width mismatch"
        if step.op in (Op.AFFINE, Op.AVGPOOL):
            index = np.asarray(step.index)
            if index.ndim != 2 or index.shape[0] != step.width_out or index.shape[1] < 1:
                return f"{step.path}: window array of shape {index.shape}"
            if index.min() < 0 or index.max() >= step.width_in:
                return f"{step.path}: window index outside [0, width) (padding)"
            if step.op == Op.AVGPOOL and index.shape[1] != 1:
                return f"{step.path}: pooling window > 1"
            if step.op == Op.AFFINE:
                if getattr(step.layer, "parameterization", "ntk") != "ntk":
                    return f"{step.path}: parameterization {step.layer.parameterization!r}"
                if not all(isinstance(getattr(step.layer, a, None), float) for a in ("w_var", "b_var")):
                    return f"{step.path}: no float w_var / b_var"
        elif step.op == Op.ACTIVATION:
            if activation_code(step.layer.activation) is None:
                return f"{step.path}: no jitted closed form for {step.layer.activation.name}"
        elif step.op in (Op.FLATTEN, Op.POOL):
            if step.width_out != 1:
                return f"{step.path}: readout of width {step.width_out}"
        elif step.op == Op.SUM:
            if any(widths[s] != step.width_out for s in step.src):
                return f"{step.path}: branches of different widths"
        else:
            return f"{step.path}: op {step.op!s} not in the fast engine"
    return None


@lru_cache(maxsize=128)
def fast_plan(program: Program) -> FastPlan | None:
    """The :class:`FastPlan` of ``program``, or None when :func:`unsupported_reason` names a precondition that fails."""
    if unsupported_reason(program) is not None:
        return None
    steps = np.zeros((len(program.steps), 8), dtype=np.int64)
    idx: list = []
    srcs: list = []
    fp: list = []
    slots = {s: slot for s, slot, _ in program.variance_slots}
    for s, step in enumerate(program.steps):
        row = steps[s]
        row[1:5] = step.src[0], step.dst, step.width_in, step.width_out
        if step.op == Op.AFFINE:
            index = np.asarray(step.index)
            row[0], row[5], row[6], row[7] = _AFF, len(idx), index.shape[1], len(fp)
            idx.extend(int(v) for v in index.ravel())
            fp.extend([step.layer.w_var, step.layer.b_var])
        elif step.op == Op.ACTIVATION:
            code, params = activation_code(step.layer.activation)
            row[0], row[5], row[6], row[7] = _ACT, code, len(fp), slots[s]
            fp.extend(params)
        elif step.op in (Op.FLATTEN, Op.POOL):
            row[0] = _MEAN
        elif step.op == Op.AVGPOOL:
            row[0], row[5] = _COPY, len(idx)
            idx.extend(int(v) for v in np.asarray(step.index)[:, 0])
        else:  # Op.SUM
            row[0], row[5], row[6] = _SUM, len(srcs), len(step.src)
            srcs.extend(step.src)
    widths = program.widths
    row_off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    return FastPlan(
        program,
        steps,
        np.array(idx or [0], dtype=np.int64),
        np.array(srcs or [0], dtype=np.int64),
        np.array(fp or [0.0], dtype=np.float64),
        row_off[:-1].copy(),
        int(row_off[-1]),
        int(row_off[program.output]),
        program.steps[0].op == Op.FLATTEN and all(0 not in step.src for step in program.steps[1:]),
        all(step.op == Op.AFFINE for step in program.steps if 0 in step.src),
    )


# --------------------------------------------------------------------------
# Jitted kernels
# --------------------------------------------------------------------------

# fdlibm / musl e_acos.c: R(z) = (asin(sqrt z) - sqrt z) / sqrt(z)^3, a rational approximation (error < 2^-58)
_PIO2_HI = 1.57079632679489655800e00
_PIO2_LO = 6.12323399573676603587e-17
_PS0 = 1.66666666666666657415e-01
_PS1 = -3.25565818622400915405e-01
_PS2 = 2.01212532134862925881e-01
_PS3 = -4.00555345006794114027e-02
_PS4 = 7.91534994289814532176e-04
_PS5 = 3.47933107596021167570e-05
_QS1 = -2.40339491173441421878e00
_QS2 = 2.02094576023350569471e00
_QS3 = -6.88283971605453293030e-01
_QS4 = 7.70381505559019352791e-02


@njit(cache=True, error_model="numpy")
def _acos(x):
    r""":math:`\arccos x` for :math:`x \in [-1, 1]`, branch-free (selects only), so loops over it vectorise.

    .. math:: \arccos x = \tfrac\pi2 - (x + x\, z R(z)),\ z = x^2\ (|x| < \tfrac12);\qquad
              2\arcsin\sqrt z,\ z = \tfrac{1-|x|}{2}\ (\text{reflected for } x < -\tfrac12)

    fdlibm's rational approximation ``R`` (``e_acos.c``), without its extra-precision
    split of :math:`\sqrt z`; within one ulp of libm's ``acos`` (tested), exact
    at :math:`x = \pm 1` (0 and the double nearest :math:`\pi`).
    """
    ax = abs(x)
    small = ax < 0.5
    z = x * x if small else (1.0 - ax) * 0.5
    p = z * (_PS0 + z * (_PS1 + z * (_PS2 + z * (_PS3 + z * (_PS4 + z * _PS5)))))
    q = 1.0 + z * (_QS1 + z * (_QS2 + z * (_QS3 + z * _QS4)))
    r = p / q
    s = np.sqrt(z)
    res_small = _PIO2_HI - (x - (_PIO2_LO - x * r))
    res_neg = 2.0 * (_PIO2_HI - (s + (r * s - _PIO2_LO)))
    res_pos = 2.0 * (s + r * s)
    out = res_neg if x < 0.0 else res_pos
    out = res_small if small else out
    return 0.0 if x == 1.0 else out


@njit(cache=True, error_model="numpy")
def _acos_values(x, out):
    """:func:`_acos` elementwise (for the tests)."""
    for i in range(x.size):
        out[i] = _acos(x[i])


@njit(cache=True, error_model="numpy")
def _relu_row(abrelu, ab, bma2, q1, q2s, cs, ts, ks, tks, W, ntk):
    r"""One position of an ABRelu (``abrelu``) or Step activation on a tile row (M3, the closed forms of ``_dual_pair``).

    ``q2s``, ``cs``, ``ts``: rows of :math:`q_2`, :math:`\Sigma`, :math:`\Theta` in; ``ks``, ``tks``: rows out.

    .. math:: \theta = \arccos\frac{c}{\sqrt{q_1 q_2}},\quad
              J_1 = \frac{\sqrt{q_1q_2 - c^2} + (\pi - \theta) c}{2\pi},\quad
              k = ab\,c + (b-a)^2 J_1,\quad k' = ab + (b-a)^2\frac{\pi - \theta}{2\pi}
    """
    for k in range(W):
        c = cs[k]
        qq = q1 * q2s[k]
        bound = np.sqrt(qq)
        c = bound if c > bound else c
        c = -bound if c < -bound else c
        r = c / bound
        r = 1.0 if r > 1.0 else r
        r = -1.0 if r < -1.0 else r
        theta = _acos(r)
        rest = qq - c * c
        rest = rest if rest > 0.0 else 0.0
        if abrelu:
            j1 = (np.sqrt(rest) + (_PI - theta) * c) * _INV_TWO_PI
            ks[k] = ab * c + bma2 * j1
            if ntk:
                tks[k] = ts[k] * (ab + bma2 * (_PI - theta) * _INV_TWO_PI)
        else:
            ks[k] = (_PI - theta) * _INV_TWO_PI
            if ntk:
                tks[k] = ts[k] * (1.0 / (_TWO_PI * np.sqrt(rest)))


@njit(cache=True, error_model="numpy")
def _dual_row(code, fp, po, q1, q2s, cs, ts, ks, tks, W, ntk):
    """One position of any other closed-form activation on a tile row, element by element (``_dual_pair``)."""
    for k in range(W):
        kv, dk = _nk._dual_pair(code, fp, po, q1, q2s[k], cs[k], ntk)
        ks[k] = kv
        if ntk:
            tks[k] = ts[k] * dk


@njit(cache=True, error_model="numpy")
def _window_sum(out, A, idx, base, q, so, W):
    """``out = sum_a A[so + idx[base + a]]`` for a < q, left to right as ``acc = 0; acc += ...`` (up to four rows per pass)."""
    r0 = A[so + idx[base]]
    if q >= 4:
        r1, r2, r3 = A[so + idx[base + 1]], A[so + idx[base + 2]], A[so + idx[base + 3]]
        for k in range(W):
            out[k] = ((r0[k] + r1[k]) + r2[k]) + r3[k]
        a = 4
    elif q == 3:
        r1, r2 = A[so + idx[base + 1]], A[so + idx[base + 2]]
        for k in range(W):
            out[k] = (r0[k] + r1[k]) + r2[k]
        a = 3
    elif q == 2:
        r1 = A[so + idx[base + 1]]
        for k in range(W):
            out[k] = r0[k] + r1[k]
        a = 2
    else:
        for k in range(W):
            out[k] = r0[k]
        a = 1
    while a + 4 <= q:
        r0, r1 = A[so + idx[base + a]], A[so + idx[base + a + 1]]
        r2, r3 = A[so + idx[base + a + 2]], A[so + idx[base + a + 3]]
        for k in range(W):
            out[k] = (((out[k] + r0[k]) + r1[k]) + r2[k]) + r3[k]
        a += 4
    while a < q:
        r0 = A[so + idx[base + a]]
        for k in range(W):
            out[k] += r0[k]
        a += 1


@njit(cache=True, error_model="numpy")
def _add_rows(dst, src, W):
    for k in range(W):
        dst[k] += src[k]


@njit(cache=True, error_model="numpy")
def _input_rows(X, n, Yb, W, sig, th, ntk, fill_th):
    r"""Register 0 of a tile: :math:`\Sigma^0_{i,k} = \langle x_{n,i}, y_{k,i}\rangle / n_0`, summed in the order of ``_input_covariance``.

    ``acc = 0; acc += x_c y_c`` for c in order, four terms per pass over the row; then ``acc / n0``.
    """
    d = X.shape[1]
    n0 = X.shape[2]
    fn0 = float(n0)  # a float divisor: an integer one keeps the division loop from vectorising
    if ntk and fill_th:
        for i in range(d):
            for k in range(W):
                th[i, k] = 0.0
    for i in range(d):
        row = sig[i]
        yi = Yb[i]
        if n0 == 4:  # one pass: (((0 + x0 y0) + x1 y1) + x2 y2) + x3 y3, then / n0 (0 + p is p)
            x0, x1, x2, x3 = X[n, i, 0], X[n, i, 1], X[n, i, 2], X[n, i, 3]
            y0, y1, y2, y3 = yi[0], yi[1], yi[2], yi[3]
            for k in range(W):
                row[k] = ((((x0 * y0[k]) + x1 * y1[k]) + x2 * y2[k]) + x3 * y3[k]) / fn0
            continue
        for k in range(W):
            row[k] = 0.0
        c = 0
        while c + 4 <= n0:
            x0, x1, x2, x3 = X[n, i, c], X[n, i, c + 1], X[n, i, c + 2], X[n, i, c + 3]
            y0, y1, y2, y3 = yi[c], yi[c + 1], yi[c + 2], yi[c + 3]
            for k in range(W):
                row[k] = (((row[k] + x0 * y0[k]) + x1 * y1[k]) + x2 * y2[k]) + x3 * y3[k]
            c += 4
        while c < n0:
            xv = X[n, i, c]
            yc = yi[c]
            for k in range(W):
                row[k] += xv * yc[k]
            c += 1
        for k in range(W):
            row[k] = row[k] / fn0


#: Pairs whose flattened input correlation has rho^2 above this take the exact summation order (see _leaf_row).
_NEAR = 1.0 - 1e-2


@njit(cache=True, error_model="numpy")
def _leaf_row(X, X2, n, Yb, Yf, W, lxn, LYb, out):
    r"""The Flatten of the input for a tile, :math:`\frac{1}{n_0 d}\langle x_n, y_k\rangle` over all :math:`n_0 d` coordinates at once.

    One product over the flattened coordinates (``X2``, ``Yf``: four per pass,
    vectorised over the tile) instead of d patch rows and their mean.  That sums
    in another order than the interpreter; near :math:`\rho = 1` (coincident
    inputs: :math:`\rho^2 \ge` ``_NEAR``) the order matters for the arc-cosine,
    so those pairs are summed again exactly as the interpreter does (per patch
    ``acc / n0``, then the mean), which keeps :math:`\rho = 1` exact for equal inputs.
    """
    d = X.shape[1]
    n0 = X.shape[2]
    D = X2.shape[1]
    fn0 = float(n0)
    fd = float(d)
    fD = float(D)
    for k in range(W):
        out[k] = 0.0
    j = 0
    while j + 8 <= D:  # eight coordinates per pass over the row
        x0, x1, x2, x3 = X2[n, j], X2[n, j + 1], X2[n, j + 2], X2[n, j + 3]
        x4, x5, x6, x7 = X2[n, j + 4], X2[n, j + 5], X2[n, j + 6], X2[n, j + 7]
        y0, y1, y2, y3 = Yf[j], Yf[j + 1], Yf[j + 2], Yf[j + 3]
        y4, y5, y6, y7 = Yf[j + 4], Yf[j + 5], Yf[j + 6], Yf[j + 7]
        for k in range(W):
            acc = (((out[k] + x0 * y0[k]) + x1 * y1[k]) + x2 * y2[k]) + x3 * y3[k]
            out[k] = (((acc + x4 * y4[k]) + x5 * y5[k]) + x6 * y6[k]) + x7 * y7[k]
        j += 8
    while j < D:
        xv = X2[n, j]
        yj = Yf[j]
        for k in range(W):
            out[k] += xv * yj[k]
        j += 1
    near = 0
    for k in range(W):
        v = out[k] / fD
        out[k] = v
        near += 1 if v * v >= _NEAR * (lxn * LYb[k]) else 0
    if near == 0:
        return
    for k in range(W):
        v = out[k]
        if v * v >= _NEAR * (lxn * LYb[k]):
            tot = 0.0
            for i in range(d):
                acc = 0.0
                for c in range(n0):
                    acc += X[n, i, c] * Yb[i, c, k]
                tot += acc / fn0
            out[k] = tot / fd


@njit(cache=True, error_model="numpy")
def _flat_self(X, out):
    r""":math:`\frac1d\sum_i \langle x_{n,i}, x_{n,i}\rangle / n_0` per input, in the interpreter's order."""
    d = X.shape[1]
    n0 = X.shape[2]
    for n in range(X.shape[0]):
        tot = 0.0
        for i in range(d):
            acc = 0.0
            for c in range(n0):
                acc += X[n, i, c] * X[n, i, c]
            tot += acc / n0
        out[n] = tot / d


@njit(cache=True, error_model="numpy")
def _tile(st, idx, srcs, fp, row_off, ntk, th_zero, leaf, X, X2, YB, YF, VX, VYB, LX, LYB, n, blk, W, sig, th):
    r"""Run the plan for the pairs :math:`(x_n, y_{bW+k})`, :math:`k < W`, in the scratch ``sig``/``th`` (``(rows, W)``).

    ``YB[b]`` is the ``(d, n0, W)`` block b of the inputs y, ``VYB[b]`` their ``(n_var, W)`` variances.
    With ``leaf`` the program starts with Flatten: its output (register 1) is
    one product over the flattened coordinates (``X2``, ``YF``), see :func:`_leaf_row`.

    .. math:: r_{dst} \leftarrow \mathcal K_{op}(r_{src})\ \text{on } (P_r, W) \text{ arrays},\qquad r_0 = (\Sigma^0, 0)
    """
    Yb = YB[blk]
    Vb = VYB[blk]
    first = 0
    if leaf:
        r1 = row_off[1]
        _leaf_row(X, X2, n, Yb, YF[blk], W, LX[n], LYB[blk], sig[r1])
        if ntk:
            for k in range(W):
                th[r1, k] = 0.0
        first = 1
    else:
        _input_rows(X, n, Yb, W, sig, th, ntk, not th_zero)
    for s in range(first, st.shape[0]):
        op = st[s, 0]
        wi = st[s, 3]
        wo = st[s, 4]
        so = row_off[st[s, 1]]
        do = row_off[st[s, 2]]
        if op == _AFF:
            io = st[s, 5]
            q = st[s, 6]
            po = st[s, 7]
            scale = fp[po] / q
            b = fp[po + 1]
            for o in range(wo):
                out = sig[do + o]
                _window_sum(out, sig, idx, io + o * q, q, so, W)
                if ntk and th_zero and st[s, 1] == 0:  # Theta of the input is 0: Theta' = scale * 0 + Sigma' = Sigma'
                    tout = th[do + o]
                    for k in range(W):
                        v = scale * out[k] + b
                        out[k] = v
                        tout[k] = v
                elif ntk:
                    tout = th[do + o]
                    _window_sum(tout, th, idx, io + o * q, q, so, W)
                    for k in range(W):
                        v = scale * out[k] + b
                        out[k] = v
                        tout[k] = scale * tout[k] + v
                else:
                    for k in range(W):
                        out[k] = scale * out[k] + b
        elif op == _ACT:
            code = st[s, 5]
            po = st[s, 6]
            vo = st[s, 7]
            if code == _nk.ACT_ABRELU:
                a = fp[po]
                b = fp[po + 1]
                ab = a * b
                bma2 = (b - a) ** 2
                for p in range(wi):
                    _relu_row(True, ab, bma2, VX[n, vo + p], Vb[vo + p], sig[so + p], th[so + p], sig[do + p], th[do + p], W, ntk)
            elif code == _nk.ACT_STEP:
                for p in range(wi):
                    _relu_row(False, 0.0, 0.0, VX[n, vo + p], Vb[vo + p], sig[so + p], th[so + p], sig[do + p], th[do + p], W, ntk)
            else:
                for p in range(wi):
                    _dual_row(code, fp, po, VX[n, vo + p], Vb[vo + p], sig[so + p], th[so + p], sig[do + p], th[do + p], W, ntk)
        elif op == _MEAN:
            fwi = float(wi)
            out = sig[do]
            for k in range(W):
                out[k] = 0.0
            for i in range(wi):
                _add_rows(out, sig[so + i], W)
            for k in range(W):
                out[k] = out[k] / fwi
            if ntk:
                tout = th[do]
                for k in range(W):
                    tout[k] = 0.0
                for i in range(wi):
                    _add_rows(tout, th[so + i], W)
                for k in range(W):
                    tout[k] = tout[k] / fwi
        elif op == _COPY:
            io = st[s, 5]
            for o in range(wo):
                sig[do + o, :W] = sig[so + idx[io + o], :W]
                if ntk:
                    th[do + o, :W] = th[so + idx[io + o], :W]
        else:  # _SUM
            first = st[s, 5]
            nsrc = st[s, 6]
            for e in range(wo):
                sig[do + e, :W] = sig[row_off[srcs[first]] + e, :W]
                if ntk:
                    th[do + e, :W] = th[row_off[srcs[first]] + e, :W]
                for t in range(1, nsrc):
                    _add_rows(sig[do + e], sig[row_off[srcs[first + t]] + e], W)
                    if ntk:
                        _add_rows(th[do + e], th[row_off[srcs[first + t]] + e], W)


@njit(cache=True, error_model="numpy")
def _tiles_chunk(st, idx, srcs, fp, row_off, n_rows, out_row, ntk, th_zero, leaf, X, X2, YB, YF, VX, VYB, LX, LYB, M, tiles, W, triangle,
                 t0, stride, out):
    """Tiles ``t0, t0 + stride, ...`` of ``tiles`` (rows ``(n, block, first k)``) into ``out`` (rows only; see :func:`_mirror`)."""
    sig = np.empty((n_rows, W))
    th = np.empty((n_rows if ntk else 1, W))
    for t in range(t0, tiles.shape[0], stride):
        n = tiles[t, 0]
        blk = tiles[t, 1]
        k0 = tiles[t, 2]
        _tile(st, idx, srcs, fp, row_off, ntk, th_zero, leaf, X, X2, YB, YF, VX, VYB, LX, LYB, n, blk, W, sig, th)
        res = th[out_row] if ntk else sig[out_row]
        m0 = blk * W
        k1 = min(W, M - m0)
        for k in range(k0, k1):
            out[n, m0 + k] = res[k]


@njit(parallel=True, cache=True, error_model="numpy")
def _tiles_jit(st, idx, srcs, fp, row_off, n_rows, out_row, ntk, th_zero, leaf, X, X2, YB, YF, VX, VYB, LX, LYB, M, tiles, W, triangle,
               n_chunks, out):
    """:func:`_tiles_chunk` for chunks ``0 .. n_chunks - 1`` in parallel (tile t belongs to chunk ``t mod n_chunks``)."""
    for ch in prange(n_chunks):
        _tiles_chunk(st, idx, srcs, fp, row_off, n_rows, out_row, ntk, th_zero, leaf, X, X2, YB, YF, VX, VYB, LX, LYB, M, tiles, W,
                     triangle, ch, n_chunks, out)


@njit(cache=True)
def _mirror(out):
    """``out[m, n] = out[n, m]`` for m > n, in 32 x 32 blocks (the tiles of a symmetric Gram write rows only)."""
    N = out.shape[0]
    for b0 in range(0, N, 32):
        for c0 in range(b0, N, 32):
            for m in range(c0, min(c0 + 32, N)):
                for n in range(b0, min(b0 + 32, m)):
                    out[m, n] = out[n, m]


# --------------------------------------------------------------------------
# Public wrapper (called by eigencalc.kernel.engine)
# --------------------------------------------------------------------------


def _tiles(N: int, M: int, triangle: bool, W: int) -> np.ndarray:
    """Rows ``(n, block, first k)``: each input x_n against the blocks of W inputs y (from m = n on when ``triangle``)."""
    n = np.arange(N, dtype=np.int64)
    first = n // W if triangle else np.zeros(N, dtype=np.int64)
    n_blocks = -(-M // W)
    counts = n_blocks - first
    rows = np.repeat(n, counts)
    blocks = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
    k0 = np.where(triangle & (blocks == np.repeat(first, counts)), rows - blocks * W, 0)
    return np.ascontiguousarray(np.stack([rows, blocks, k0], axis=1))


def _blocked(A: np.ndarray, W: int) -> np.ndarray:
    """``A`` (M, ...) as blocks ``(ceil(M / W), ..., W)`` of W consecutive rows, the last one padded by repeating row M - 1."""
    M = A.shape[0]
    n_blocks = -(-M // W)
    pad = n_blocks * W - M
    if pad:
        A = np.concatenate([A, np.repeat(A[-1:], pad, axis=0)])
    A = A.reshape((n_blocks, W) + A.shape[1:])
    return np.ascontiguousarray(np.moveaxis(A, 1, -1))


def gram_fast(plan: FastPlan, X, Y, VX, VY, ntk: bool, triangle: bool, parallel: bool = True, block: int = 1 << 16, out=None) -> np.ndarray:
    r"""Gram of ``X`` (N, d, n0) against ``Y`` (M, d, n0) by the tiled kernels; ``triangle``: Y is X, only m >= n computed.

    ``VX``, ``VY`` are the per-input variance rows of the interpreter's self run
    (:func:`eigencalc.kernel.engine._self_variances_numba`).  ``parallel`` runs the
    tiles on all numba threads (``prange``); the result is the same either way
    and for any number of threads.  Tiles are handed over about ``block`` pairs
    at a time (a progress bar when there are many).

    .. math:: G_{nm} = \Sigma_{\text{out}}(x_n, y_m)\ \text{or}\ \Theta_{\text{out}}(x_n, y_m)
    """
    import numba

    N, M = X.shape[0], Y.shape[0]
    if out is None:
        out = np.empty((N, M))
    W = TILE if M >= TILE else max(4, -(-M // 4) * 4)
    Y = np.asarray(Y, dtype=np.float64)
    YB = _blocked(Y, W)
    VYB = _blocked(np.asarray(VY, dtype=np.float64), W)
    VX = np.ascontiguousarray(VX, dtype=np.float64)
    tiles = _tiles(N, M, triangle, W)
    leaf = plan.flatten_first
    n_blocks = YB.shape[0]
    X2 = np.ascontiguousarray(X).reshape(N, -1)
    YF = YB.reshape(n_blocks, -1, W)
    if leaf:  # per-input Flatten of the input, in the interpreter's order (for the rho ~ 1 test of _leaf_row)
        LX = np.empty(N)
        _flat_self(X, LX)
        LYB = np.empty(n_blocks * W)
        _flat_self(np.ascontiguousarray(np.moveaxis(YB, -1, 1).reshape(n_blocks * W, *X.shape[1:])), LYB)
        LYB = LYB.reshape(n_blocks, W)
    else:
        LX, LYB = np.zeros(1), np.zeros((1, 1))
    threads = numba.get_num_threads() if parallel else 1
    group = max(64 * threads, block // W)
    starts = range(0, tiles.shape[0], group)
    args = (plan.steps, plan.idx, plan.srcs, plan.fp, plan.row_off, plan.n_rows, plan.out_row, bool(ntk),
            plan.input_th_zero, leaf, X, X2, YB, YF, VX, VYB, LX, LYB, M)
    for t0 in progress(starts, desc="gram (fast numba)", enabled=None if len(starts) > 8 else False):
        part = tiles[t0 : t0 + group]
        if threads <= 1 or part.shape[0] < 2:
            _tiles_chunk(*args, part, W, bool(triangle), 0, 1, out)
        else:  # many small chunks handed out one at a time: a thread slowed by other processes does fewer
            previous = numba.set_parallel_chunksize(1)
            try:
                _tiles_jit(*args, part, W, bool(triangle), int(min(part.shape[0], 16 * threads)), out)
            finally:
                numba.set_parallel_chunksize(previous)
    if triangle:
        _mirror(out)
    return out
