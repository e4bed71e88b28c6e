"""Gaussian-measure building blocks shared by the activation code.

Private module: normalized probabilists' Hermite polynomials, Gaussian moments
and the quadrature rules used where no closed form exists (``../shared/MATH.md``
section 2).  Exact routines take and return sympy numbers; numeric routines run
at the *current* ``mpmath.mp`` precision and never change it globally.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np
import sympy


def hermite_e_at_zero(m: int) -> int:
    r"""He_m(0) = 0 for odd m and (-1)^{m/2} (m-1)!! for even m.

    >>> [hermite_e_at_zero(m) for m in range(7)]
    [1, 0, -1, 0, 3, 0, -15]
    """
    if m % 2:
        return 0
    return (-1) ** (m // 2) * int(sympy.factorial2(m - 1))


def monomial_in_hermite(j: int, k: int) -> sympy.Rational:
    r"""Coefficient c_{jk} in :math:`z^j = \sum_k c_{jk} He_k(z)`.

    .. math:: c_{jk} = \frac{j!}{k!\,((j-k)/2)!\,2^{(j-k)/2}}, \quad j-k \ge 0 \text{ even}.

    Equivalently :math:`E[z^j He_k(z)] = k!\, c_{jk}` under :math:`N(0,1)`.

    >>> monomial_in_hermite(3, 1), monomial_in_hermite(3, 3), monomial_in_hermite(3, 2)
    (3, 1, 0)
    """
    if k > j or (j - k) % 2:
        return sympy.Integer(0)
    h = (j - k) // 2
    return sympy.factorial(j) / (sympy.factorial(k) * sympy.factorial(h) * 2**h)


def gaussian_moment(j: int) -> sympy.Integer:
    r"""E[z^j] for z ~ N(0, 1): (j-1)!! for even j, 0 for odd j."""
    return sympy.Integer(0) if j % 2 else sympy.factorial2(j - 1)


@lru_cache(maxsize=16)
def _hermite_rule_mp(n_nodes: int, dps: int):
    r"""Gauss–Hermite rule for N(0,1) at ``dps`` digits (Newton-polished roots).

    Start from numpy's float64 roots of He_N, polish each with Newton steps on
    the normalized recurrence at ``dps + 10`` digits, and take the Christoffel
    weights :math:`w_i = 1/\sum_{k<N} h_k(z_i)^2`.  Then
    :math:`E[f(z)] \approx \sum_i w_i f(z_i)`, exact for polynomials of degree < 2N.
    """
    with np.errstate(all="ignore"):  # numpy's own weights underflow for large N; unused
        z_float, _ = np.polynomial.hermite_e.hermegauss(n_nodes)
    half = z_float[z_float >= 0]
    nodes, weights = [], []
    with mpmath.workdps(dps + 10):
        tol = mpmath.mpf(10) ** (-(dps + 5))
        for z0 in half:
            z = mpmath.mpf(float(z0))
            for _ in range(20):
                h = normalized_hermite_values_mp(n_nodes, z)
                step = h[n_nodes] / (mpmath.sqrt(n_nodes) * h[n_nodes - 1])
                z -= step
                if abs(step) < tol * (1 + abs(z)):
                    break
            h = normalized_hermite_values_mp(n_nodes - 1, z)
            w = 1 / mpmath.fsum(hk * hk for hk in h)
            nodes.append(z)
            weights.append(w)
            if z != 0:
                nodes.append(-z)
                weights.append(w)
    return tuple(nodes), tuple(weights)


def hermite_rule_mp(n_nodes: int):
    """Gauss–Hermite nodes and weights for N(0,1) at the current mp precision."""
    return _hermite_rule_mp(int(n_nodes), int(mpmath.mp.dps))


@lru_cache(maxsize=8)
def hermite_rule_float(n_nodes: int):
    """Gauss–Hermite (probabilists') nodes and weights for N(0,1), float64."""
    with np.errstate(all="ignore"):  # intermediate overflow in numpy's weights for large N; results are finite
        z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    if not np.isfinite(w).all():
        raise ValueError(f"Gauss-Hermite rule with {n_nodes} nodes overflows in float64; use at most 320")
    return z, w / np.sqrt(2.0 * np.pi)


def normalized_hermite_values_mp(kmax: int, z):
    r"""[h_0(z), ..., h_kmax(z)] with :math:`h_k = He_k/\sqrt{k!}` (M5), mpmath.

    Stable normalized recurrence
    :math:`h_{k+1} = (z h_k - \sqrt{k} h_{k-1}) / \sqrt{k+1}`.
    """
    values = [mpmath.mpf(1), z]
    for k in range(1, kmax):
        values.append((z * values[k] - mpmath.sqrt(k) * values[k - 1]) / mpmath.sqrt(k + 1))
    return values[: kmax + 1]


def normalized_hermite_values_float(kmax: int, z: np.ndarray) -> np.ndarray:
    """Array of shape (kmax+1, *z.shape) of h_k(z) = He_k(z)/sqrt(k!), float64."""
    z = np.asarray(z, dtype=float)
    out = np.empty((kmax + 1,) + z.shape)
    out[0] = 1.0
    if kmax >= 1:
        out[1] = z
    for k in range(1, kmax):
        out[k + 1] = (z * out[k] - np.sqrt(k) * out[k - 1]) / np.sqrt(k + 1)
    return out


def bivariate_gaussian_expectation(f, g, q1, q2, c, n_nodes: int | None = None, chunk: int = 256):
    r"""E[f(u) g(v)] for centred Gaussian (u, v) by a tensor Gauss–Hermite rule.

    .. math:: u = \sqrt{q_1} z_1,\quad v = \sqrt{q_2}(\rho z_1 + \sqrt{1-\rho^2} z_2),
              \quad \rho = c/\sqrt{q_1 q_2}.

    float64, broadcasting over ``q1, q2, c``.  Accurate to near machine precision
    for activations analytic in a strip around the real axis (tanh, GELU, ...)
    at moderate variances; it converges slowly for kinked ones, which have
    closed forms instead.  When ``f is g`` the smaller variance is put on
    :math:`z_1` alone (more accurate, and symmetric in (q1, q2)).  By default
    the node count grows with the largest variance (a strip of half-width
    :math:`\propto 1/\sqrt q` needs :math:`N \propto q` nodes): 96 up to q = 1,
    at most 320 (numpy's rule overflows beyond ~350; tanh at q = 10, rho = 0.95: ~1e-6).
    """
    q1, q2, c = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (q1, q2, c)))
    shape = q1.shape
    q1, q2, c = q1.ravel(), q2.ravel(), c.ravel()
    if f is g:
        q1, q2 = np.minimum(q1, q2), np.maximum(q1, q2)
    if n_nodes is None:
        n_nodes = int(min(320, max(96, 96 * float(np.max(np.maximum(q1, q2), initial=1.0)))))
    rho = np.clip(c / np.sqrt(q1 * q2), -1.0, 1.0)
    z, w = hermite_rule_float(n_nodes)
    z1, z2 = z.reshape(1, -1, 1), z.reshape(1, 1, -1)
    weights = w.reshape(1, -1, 1) * w.reshape(1, 1, -1)
    out = np.empty(q1.shape)
    for start in range(0, q1.size, chunk):
        part = slice(start, start + chunk)
        s1 = np.sqrt(q1[part]).reshape(-1, 1, 1)
        s2 = np.sqrt(q2[part]).reshape(-1, 1, 1)
        r = rho[part].reshape(-1, 1, 1)
        u = s1 * z1
        v = s2 * (r * z1 + np.sqrt(1.0 - r * r) * z2)
        out[part] = (f(u) * g(v) * weights).sum(axis=(1, 2))
    return out.reshape(shape)
