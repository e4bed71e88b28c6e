r"""Jitted kernels behind :mod:`eigencalc.kernel.engine` (numba, float64, no fastmath).

Private module: only loops live here.  The public wrappers in
:mod:`eigencalc.kernel.engine` validate and coerce the input, allocate the output and
call the ``_*_jit(..., out)`` functions below; the numpy twin of the
interpreter is :func:`eigencalc.kernel.reference.run_program`, used in the tests.

The network is an *op table* (:class:`eigencalc.kernel.table.OpTable`): an ``int64``
table ``ops`` with one row per step of :class:`eigencalc.kernel.compiler.Program`,
op codes from :class:`eigencalc.kernel.ops.Op`,
columns ``(op, src, dst, width_in, width_out, c5, c6, c7)``:

* affine (Dense/Conv, M1/M2): ``c5`` offset of its ``(width_out, q)`` window
  array in ``idx`` (entries -1: zero padding, skipped), ``c6`` the filter size q,
  ``c7`` offset of ``(W_std^2, b_std^2, tau, beta)`` in the float parameters
  ``fp`` (the NTK coefficients of :class:`eigencalc.kernel.compiler.Step`);
* activation (M3): ``c5`` activation code, ``c6`` offset of its parameters in
  ``fp``, ``c7`` its slot in the per-input variance rows;
* flatten / pool (M4): no extra columns (``width_out = 1``);
* sum (FanInSum): ``c5`` offset of the source registers in ``srcs``, ``c6`` their number;

and one interpreter, :func:`_run_ops`, that applies the kernel maps of M1–M4 to
the state of *one* pair of inputs: per register the covariances
:math:`\Sigma_{ij}(x, y)` and :math:`\Theta_{ij}(x, y)` of every position pair
(``full``, needed with ``GlobalAvgPool``) or of the diagonal positions only.
The activation variances :math:`\Sigma_{ii}(x, x)` come from a *self run* per
input (computed once, :func:`_self_variances_jit`), so the diagonal of a
symmetric Gram has :math:`\rho = 1` exactly, as in
:func:`eigencalc.kernel.reference.run_program`.

Dual activations with a closed form (M6–M8, ``activations.py``) have an integer
code; :func:`_dual_pair` reproduces the numpy closed forms operation by
operation.  Activations without one are not jitted (the wrappers fall back to
numpy and say so).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .ops import OP_ACTIVATION, OP_AFFINE, OP_AVGPOOL, OP_FLATTEN, OP_POOL, OP_SUM  # noqa: F401 (jit constants)

# activation codes (closed-form dual kernels, M6-M8)
ACT_ABRELU = 1  # params a, b: phi = a min(x,0) + b max(x,0)
ACT_STEP = 2
ACT_ERF = 3
ACT_SIN = 4
ACT_COS = 5
ACT_EXP = 6
ACT_POLY = 7  # params: D, (D+1)^2 table of A_k(q) coefficients, then the same for phi'

# pair modes of _gram_jit
MODE_RECT = 0  # all (i, j), i < N, j < M
MODE_TRIANGLE = 1  # i <= j < N (Y is X), mirrored into out[j, i]
MODE_ZIP = 2  # (i, i): out[i, 0] = K(x_i, y_i)

_TWO_PI = 2.0 * np.pi


@njit(cache=True, error_model="numpy")
def _polyval(x, table, off, n):
    """Ascending coefficients table[off : off + n] at x, in numpy's polyval order (Horner)."""
    acc = table[off + n - 1] + x * 0.0
    for i in range(2, n + 1):
        acc = table[off + n - i] + acc * x
    return acc


@njit(cache=True, error_model="numpy")
def _poly_dual(fp, off, q1, q2, c):
    r""":math:`\sum_k k!\, A_k(q_1) A_k(q_2)\, c^k` with the A table at ``fp[off]`` (M5, M8)."""
    D = int(fp[off])
    n = D + 1
    total = 0.0
    fact = 1.0
    for k in range(n):
        if k > 0:
            fact *= k
        a1 = _polyval(q1, fp, off + 1 + k * n, n)
        a2 = _polyval(q2, fp, off + 1 + k * n, n)
        total = total + fact * a1 * a2 * c**k
    return total


@njit(cache=True, error_model="numpy")
def _dual_pair(code, fp, off, q1, q2, c, want_derivative):
    r"""Closed-form :math:`(E[\phi(u)\phi(v)],\ E[\phi'(u)\phi'(v)])` for Var u = q1, Var v = q2, Cov = c (M6–M8).

    .. math::

        \text{relu family: } ab\,c + (b-a)^2 \frac{\sqrt{q_1 q_2 - c^2} + (\pi - \theta) c}{2\pi},\quad
        ab + (b-a)^2\frac{\pi - \theta}{2\pi},\quad \theta = \arccos\frac{c}{\sqrt{q_1 q_2}};

        \text{erf: } \tfrac{2}{\pi}\arcsin\frac{2c}{\sqrt{(1+2q_1)(1+2q_2)}},\quad
        \tfrac{4}{\pi}\big((1+2q_1)(1+2q_2) - 4c^2\big)^{-1/2};

        \sin/\cos: e^{-(q_1+q_2)/2}\sinh c \,/\, \cosh c;\quad \exp: e^{(q_1+q_2)/2 + c};\quad
        \text{polynomials: } \textstyle\sum_k k!\,A_k(q_1)A_k(q_2)c^k.

    ``c`` is first clipped to :math:`[-\sqrt{q_1q_2}, \sqrt{q_1q_2}]` (as the numpy path does).
    """
    bound = np.sqrt(q1 * q2)
    if c > bound:
        c = bound
    elif c < -bound:
        c = -bound
    k = 0.0
    dk = 0.0
    if code == ACT_ABRELU or code == ACT_STEP:
        r = c / bound  # bound = np.sqrt(q1 * q2), as the numpy closed form computes it
        if r > 1.0:
            r = 1.0
        elif r < -1.0:
            r = -1.0
        theta = np.arccos(r)
        if code == ACT_ABRELU:
            a = fp[off]
            b = fp[off + 1]
            j1 = (np.sqrt(max(q1 * q2 - c * c, 0.0)) + (np.pi - theta) * c) / _TWO_PI
            k = a * b * c + (b - a) ** 2 * j1
            if want_derivative:
                dk = a * b + (b - a) ** 2 * (np.pi - theta) / _TWO_PI
        else:
            k = (np.pi - theta) / _TWO_PI
            if want_derivative:
                dk = 1.0 / (_TWO_PI * np.sqrt(max(q1 * q2 - c * c, 0.0)))
    elif code == ACT_ERF:
        s = 2 * c / np.sqrt((1 + 2 * q1) * (1 + 2 * q2))
        if s > 1.0:
            s = 1.0
        elif s < -1.0:
            s = -1.0
        k = 2 / np.pi * np.arcsin(s)
        if want_derivative:
            dk = 4 / np.pi / np.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c * c)
    elif code == ACT_SIN or code == ACT_COS:
        e = np.exp(-(q1 + q2) / 2)
        if code == ACT_SIN:
            k = e * np.sinh(c)
            if want_derivative:
                dk = e * np.cosh(c)
        else:
            k = e * np.cosh(c)
            if want_derivative:
                dk = e * np.sinh(c)
    elif code == ACT_EXP:
        k = np.exp((q1 + q2) / 2 + c)
        dk = k
    elif code == ACT_POLY:
        k = _poly_dual(fp, off, q1, q2, c)
        if want_derivative:
            D = int(fp[off])
            dk = _poly_dual(fp, off + 1 + (D + 1) * (D + 1), q1, q2, c)
    else:
        k = np.nan
        dk = np.nan
    return k, dk


@njit(cache=True, error_model="numpy")
def _dual_values_jit(code, fp, q1, q2, c, kout, dkout):
    """Elementwise :func:`_dual_pair` on flat arrays (for tests of the closed forms)."""
    for i in range(q1.size):
        k, dk = _dual_pair(code, fp, 0, q1[i], q2[i], c[i], True)
        kout[i] = k
        dkout[i] = dk


@njit(cache=True, error_model="numpy")
def _activation_layer(code, fp, po, full, ntk, wi, sig, th, so, do, VX, ix, VY, iy, vo):
    r"""One activation step on a pair state (M3): every position pair (``full``) or the diagonal.

    .. math:: \Sigma'_{ij} = E[\phi(u)\phi(v)],\quad \Theta'_{ij} = \Theta_{ij} E[\phi'(u)\phi'(v)],\quad
              (u, v) \sim N(0, [[q^x_i, \Sigma_{ij}], [\Sigma_{ij}, q^y_j]])

    One loop per activation code, each calling :func:`_dual_pair` with a
    compile-time constant code: LLVM then inlines it and drops the other
    branches (about 3x faster than dispatching per element).
    """
    # positions j of row i: all of them (full) or j = i (diagonal mode)
    span = wi if full else 1
    i0 = 0 if full else 1
    if code == ACT_ABRELU:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_ABRELU, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    elif code == ACT_STEP:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_STEP, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    elif code == ACT_ERF:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_ERF, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    elif code == ACT_SIN:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_SIN, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    elif code == ACT_COS:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_COS, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    elif code == ACT_EXP:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_EXP, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    elif code == ACT_POLY:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                k, dk = _dual_pair(ACT_POLY, fp, po, VX[ix, vo + i], VY[iy, vo + j], sig[so + e], ntk)
                sig[do + e] = k
                if ntk:
                    th[do + e] = th[so + e] * dk
    else:
        for i in range(wi):
            for j in range(i0 * i, i0 * i + span):
                e = i * wi + j if full else i
                sig[do + e] = np.nan
                if ntk:
                    th[do + e] = np.nan


@njit(cache=True, error_model="numpy")
def _run_ops(ops, idx, srcs, fp, reg_off, full, ntk, sig, th, VX, ix, VY, iy, self_mode):
    r"""Apply the flat program to one pair state in place (M1–M4); register 0 must be filled.

    ``sig``/``th`` hold :math:`\Sigma`/:math:`\Theta` of every register at
    ``reg_off`` (``width^2`` entries when ``full``, else ``width``).  Activations
    read the variances :math:`\Sigma_{ii}(x,x)`, :math:`\Sigma_{jj}(y,y)` from
    rows ``VX[ix]``/``VY[iy]`` at their slot; with ``self_mode`` (x = y) they are
    first written to ``VX[ix]`` from the diagonal of the current state.  Rows are
    indexed, never sliced: a view per pair would touch the shared reference
    count from every thread.
    """
    for s in range(ops.shape[0]):
        op = ops[s, 0]
        src = ops[s, 1]
        dst = ops[s, 2]
        wi = ops[s, 3]
        wo = ops[s, 4]
        so = reg_off[src]
        do = reg_off[dst]
        if op == OP_AFFINE:
            io = ops[s, 5]
            q = ops[s, 6]
            po = ops[s, 7]
            scale = fp[po] / q
            b = fp[po + 1]
            tau = fp[po + 2] / q
            beta = fp[po + 3]
            if full:
                for o1 in range(wo):
                    for o2 in range(wo):
                        acc = 0.0
                        acct = 0.0
                        for a in range(q):
                            i1 = idx[io + o1 * q + a]
                            i2 = idx[io + o2 * q + a]
                            if i1 < 0 or i2 < 0:  # zero padding (SAME)
                                continue
                            pos = so + i1 * wi + i2
                            acc += sig[pos]
                            if ntk:
                                acct += th[pos]
                        sig[do + o1 * wo + o2] = scale * acc + b
                        if ntk:
                            th[do + o1 * wo + o2] = scale * acct + (tau * acc + beta)
            else:
                for o in range(wo):
                    acc = 0.0
                    acct = 0.0
                    for a in range(q):
                        i1 = idx[io + o * q + a]
                        if i1 < 0:  # zero padding (SAME)
                            continue
                        pos = so + i1
                        acc += sig[pos]
                        if ntk:
                            acct += th[pos]
                    sig[do + o] = scale * acc + b
                    if ntk:
                        th[do + o] = scale * acct + (tau * acc + beta)
        elif op == OP_ACTIVATION:
            code = ops[s, 5]
            po = ops[s, 6]
            vo = ops[s, 7]
            if self_mode:
                for i in range(wi):
                    VX[ix, vo + i] = sig[so + i * wi + i] if full else sig[so + i]
            _activation_layer(code, fp, po, full, ntk, wi, sig, th, so, do, VX, ix, VY, iy, vo)
        elif op == OP_FLATTEN:
            acc = 0.0
            acct = 0.0
            for i in range(wi):
                pos = so + (i * wi + i if full else i)
                acc += sig[pos]
                if ntk:
                    acct += th[pos]
            sig[do] = acc / wi
            if ntk:
                th[do] = acct / wi
        elif op == OP_AVGPOOL:
            io = ops[s, 5]
            q = ops[s, 6]
            norm = 1.0 / (q * q)
            if full:
                for o1 in range(wo):
                    for o2 in range(wo):
                        acc = 0.0
                        acct = 0.0
                        for a in range(q):
                            i1 = idx[io + o1 * q + a]
                            if i1 < 0:  # zero padding (SAME)
                                continue
                            for b in range(q):
                                i2 = idx[io + o2 * q + b]
                                if i2 < 0:
                                    continue
                                pos = so + i1 * wi + i2
                                acc += sig[pos]
                                if ntk:
                                    acct += th[pos]
                        sig[do + o1 * wo + o2] = acc * norm
                        if ntk:
                            th[do + o1 * wo + o2] = acct * norm
            else:
                for o in range(wo):
                    pos = so + idx[io + o * q]
                    sig[do + o] = sig[pos]
                    if ntk:
                        th[do + o] = th[pos]
        elif op == OP_POOL:
            n = wi * wi if full else wi
            acc = 0.0
            acct = 0.0
            for i in range(n):
                acc += sig[so + i]
                if ntk:
                    acct += th[so + i]
            sig[do] = acc / n
            if ntk:
                th[do] = acct / n
        else:  # OP_SUM
            first = ops[s, 5]
            nsrc = ops[s, 6]
            n = wo * wo if full else wo
            o0 = reg_off[srcs[first]]
            for e in range(n):
                sig[do + e] = sig[o0 + e]
                if ntk:
                    th[do + e] = th[o0 + e]
            for t in range(1, nsrc):
                ot = reg_off[srcs[first + t]]
                for e in range(n):
                    sig[do + e] += sig[ot + e]
                    if ntk:
                        th[do + e] += th[ot + e]


@njit(cache=True, error_model="numpy")
def _input_covariance(X, n, Y, m, full, sig):
    r""":math:`\Sigma^0_{ij}(x_n, y_m) = \langle x_{n,i}, y_{m,j}\rangle / n_0` into register 0 (all i, j or i = j)."""
    d = X.shape[1]
    n0 = X.shape[2]
    if full:
        for i in range(d):
            for j in range(d):
                acc = 0.0
                for c in range(n0):
                    acc += X[n, i, c] * Y[m, j, c]
                sig[i * d + j] = acc / n0
    else:
        for i in range(d):
            acc = 0.0
            for c in range(n0):
                acc += X[n, i, c] * Y[m, i, c]
            sig[i] = acc / n0


# --------------------------------------------------------------------------
# Drivers.  Each ``*_chunk`` function is serial and handles a contiguous range;
# the ``*_jit`` wrapper runs chunks in parallel (prange).  The Python wrappers
# call a chunk function directly for small problems: a parallel region costs a
# thread wake-up per call, which dominates small inputs on a loaded machine.
# --------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _self_variances_chunk(ops, idx, srcs, fp, reg_off, n_scratch, full, X, a, b, out):
    r"""Inputs ``a <= n < b``: the variances :math:`\Sigma_{ii}(x_n, x_n)` entering every activation (M3), into ``out[n]``."""
    sig = np.empty(n_scratch)
    th = np.empty(1)
    for n in range(a, b):
        _input_covariance(X, n, X, n, full, sig)
        _run_ops(ops, idx, srcs, fp, reg_off, full, False, sig, th, out, n, out, n, True)


@njit(parallel=True, cache=True, error_model="numpy")
def _self_variances_jit(ops, idx, srcs, fp, reg_off, n_scratch, full, X, n_chunks, out):
    """:func:`_self_variances_chunk` over all inputs, ``n_chunks`` chunks in parallel."""
    N = X.shape[0]
    size = (N + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        a = ch * size
        b = min(a + size, N)
        if a < b:
            _self_variances_chunk(ops, idx, srcs, fp, reg_off, n_scratch, full, X, a, b, out)


@njit(cache=True)
def _triangle_row(p, N):
    """Row i of flat index p in the upper triangle (i <= j < N), rows of length N - i."""
    lo = 0
    hi = N - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        start = mid * N - (mid * (mid - 1)) // 2
        if start <= p:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True, error_model="numpy")
def _gram_chunk(ops, idx, srcs, fp, reg_off, n_scratch, out_off, full, ntk, X, Y, VX, VY, mode, a, b, out):
    r"""Kernel values of the pairs ``a <= p < b`` (in ``mode`` order) into ``out`` (M1–M4).

    .. math:: \text{out}[i, j] = \Sigma_{\text{out}}(x_i, y_j)\ (\text{nngp})\ \text{or}\ \Theta_{\text{out}}(x_i, y_j)\ (\text{ntk})

    The chunk owns its scratch (O(registers x positions)).
    """
    M = Y.shape[0]
    N = X.shape[0]
    sig = np.empty(n_scratch)
    th = np.empty(n_scratch if ntk else 1)
    w0 = reg_off[1] if reg_off.size > 1 else n_scratch
    if mode == MODE_RECT:
        i = a // M
        j = a % M
    elif mode == MODE_TRIANGLE:
        i = _triangle_row(a, N)
        j = i + (a - (i * N - (i * (i - 1)) // 2))
    else:
        i = a
        j = a
    for p in range(a, b):
        _input_covariance(X, i, Y, j, full, sig)
        if ntk:
            for e in range(w0):
                th[e] = 0.0
        _run_ops(ops, idx, srcs, fp, reg_off, full, ntk, sig, th, VX, i, VY, j, False)
        v = th[out_off] if ntk else sig[out_off]
        if mode == MODE_RECT:
            out[i, j] = v
            j += 1
            if j == M:
                j = 0
                i += 1
        elif mode == MODE_TRIANGLE:
            out[i, j] = v
            out[j, i] = v
            j += 1
            if j == N:
                i += 1
                j = i
        else:
            out[i, 0] = v
            i += 1
            j += 1


@njit(parallel=True, cache=True, error_model="numpy")
def _gram_jit(ops, idx, srcs, fp, reg_off, n_scratch, out_off, full, ntk, X, Y, VX, VY, mode, p0, p1, n_chunks, out):
    """:func:`_gram_chunk` over the pairs ``p0 <= p < p1`` in ``n_chunks`` contiguous chunks, in parallel.

    Memory is O(N M) for ``out`` plus one scratch per chunk.
    """
    size = (p1 - p0 + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        a = p0 + ch * size
        b = min(a + size, p1)
        if a < b:
            _gram_chunk(ops, idx, srcs, fp, reg_off, n_scratch, out_off, full, ntk, X, Y, VX, VY, mode, a, b, out)


@njit(cache=True, error_model="numpy")
def _correlations_chunk(ops, idx, srcs, fp, reg_off, n_scratch, out_off, ntk, T, V, a, b, out):
    r""":math:`K(t_1, \dots, t_d)` for equal-norm patches at rows ``a <= r < b`` of ``T`` (pooling-free; M1–M4).

    Register 0 is :math:`\Sigma^0_{ii} = t_i`; ``V[0]`` are the variances of the self run at t = 1.
    """
    d = T.shape[1]
    sig = np.empty(n_scratch)
    th = np.empty(n_scratch if ntk else 1)
    for r in range(a, b):
        for i in range(d):
            sig[i] = T[r, i]
            if ntk:
                th[i] = 0.0
        _run_ops(ops, idx, srcs, fp, reg_off, False, ntk, sig, th, V, 0, V, 0, False)
        out[r] = th[out_off] if ntk else sig[out_off]


@njit(parallel=True, cache=True, error_model="numpy")
def _correlations_jit(ops, idx, srcs, fp, reg_off, n_scratch, out_off, ntk, T, V, n_chunks, out):
    """:func:`_correlations_chunk` over all rows of ``T``, in parallel."""
    R = T.shape[0]
    size = (R + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        a = ch * size
        b = min(a + size, R)
        if a < b:
            _correlations_chunk(ops, idx, srcs, fp, reg_off, n_scratch, out_off, ntk, T, V, a, b, out)


@njit(cache=True, error_model="numpy")
def _walsh_values_chunk(ops, idx, srcs, fp, reg_off, n_scratch, out_off, ntk, d, n0, a, b, V, out):
    r"""K at the sign patterns :math:`z = x \circ y \in \{-1,1\}^{d n_0}`, ``a <= u < b`` (M12, M17).

    Bit :math:`i n_0 + c` of u set means :math:`z_{ic} = -1`; then
    :math:`t_i = (n_0 - 2\,\#\{c: \text{bit } i n_0 + c\})/n_0` and ``out[u] = K(t)``.
    """
    mask = (1 << n0) - 1
    sig = np.empty(n_scratch)
    th = np.empty(n_scratch if ntk else 1)
    for u in range(a, b):
        for i in range(d):
            bits = (u >> (i * n0)) & mask
            cnt = 0
            while bits:
                bits &= bits - 1
                cnt += 1
            sig[i] = (n0 - 2 * cnt) / n0
            if ntk:
                th[i] = 0.0
        _run_ops(ops, idx, srcs, fp, reg_off, False, ntk, sig, th, V, 0, V, 0, False)
        out[u] = th[out_off] if ntk else sig[out_off]


@njit(parallel=True, cache=True, error_model="numpy")
def _walsh_values_jit(ops, idx, srcs, fp, reg_off, n_scratch, out_off, ntk, d, n0, u0, u1, V, n_chunks, out):
    """:func:`_walsh_values_chunk` over ``u0 <= u < u1``, in parallel."""
    size = (u1 - u0 + n_chunks - 1) // n_chunks
    for ch in prange(n_chunks):
        a = u0 + ch * size
        b = min(a + size, u1)
        if a < b:
            _walsh_values_chunk(ops, idx, srcs, fp, reg_off, n_scratch, out_off, ntk, d, n0, a, b, V, out)


_FWHT_BLOCK = 4096


@njit(cache=True)
def _fwht_block(a, base, block):
    r"""All butterfly stages with stride < ``block`` inside ``a[base : base + block]`` (cache-resident)."""
    h = 1
    while h < block:
        for start in range(base, base + block, 2 * h):
            for j in range(start, start + h):
                x = a[j]
                y = a[j + h]
                a[j] = x + y
                a[j + h] = x - y
        h *= 2


@njit(cache=True)
def _fwht_serial(a):
    r"""In-place unnormalised fast Walsh–Hadamard transform (M17), serial: :math:`a_S \leftarrow \sum_u a_u (-1)^{|S \cap u|}`."""
    _fwht_block(a, 0, a.size)


@njit(parallel=True, cache=True)
def _fwht_jit(a):
    r"""In-place unnormalised fast Walsh–Hadamard transform (M17), O(n log n), parallel.

    .. math:: a_S \leftarrow \sum_u a_u (-1)^{|S \cap u|}

    Strides below the block size run block by block (cache-resident, parallel
    over blocks); the larger strides run in parallel over butterflies.
    """
    n = a.size
    block = _FWHT_BLOCK if n > _FWHT_BLOCK else n
    for blk in prange(n // block):
        _fwht_block(a, blk * block, block)
    h = block
    half = n // 2
    while h < n:
        for k in prange(half):
            grp = k // h
            j = grp * 2 * h + (k - grp * h)
            x = a[j]
            y = a[j + h]
            a[j] = x + y
            a[j + h] = x - y
        h *= 2
