"""The finite-width NTK at one input (F8)-(F13) against exact cases and Monte-Carlo of finite networks.

The Monte-Carlo oracle computes each sampled network's NTK exactly by backpropagation (NTK
parameterisation: lambda_b = C_b, lambda_W = C_W per fan-in, i.e. neural-tangents stax).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc.duals.activations import activation
from eigencalc.duals.criticality import criticality
from eigencalc.finite import finite_width_mlp, finite_width_ntk, monte_carlo_moments, monte_carlo_ntk, ntk_means, sample_ntk

_GELU = criticality("gelu")  # the K* > 0 critical point: chi_par = chi_perp = 1
GELU_CW, GELU_CB = float(_GELU.C_W), float(_GELU.C_b)
GELU_Q0 = float((_GELU.K_star - _GELU.C_b) / _GELU.C_W)  # K^(1) = K*

R = sympy.Rational


def test_deep_linear_closed_forms():
    """phi = z, C_b = 0, C_W = 1, K = q0: H^(l) = l K, H1 = 0, B^(l) = K^2 sum_{m<l} m^2 (F9),
    F^(l) = K^2 sum_{m<l} m (F12), D^(l+1) = 2K^2 + V + D with V = 2(l-1)K^2 (F10)."""
    q0 = R(3, 2)
    r = finite_width_ntk([7] * 6, activation("monomial", degree=1), 1, 0, q0)
    D = 0
    for i in range(6):
        l = i + 1
        assert r.H[i] == l * q0 and r.H1[i] == 0
        assert r.B[i] == q0**2 * sum(m**2 for m in range(1, l))
        assert r.F[i] == q0**2 * sum(range(1, l))
        assert r.D[i] == D
        D = 2 * q0**2 + 2 * (l - 1) * q0**2 + D


def test_relu_critical_ntk():
    """ReLU, C_W = 2, C_b = 0: p = 1/2, p' = p'' = 0, chi_par = chi_perp = 1, so H = l K, H1 = 0
    (K1 = 0 too) and B^(l) = 2 K^2 sum_{m<l} m^2 (C_W^2 <phi'^4> = 2)."""
    r = finite_width_ntk([9] * 5, "relu", 2, 0, R(1, 2))
    assert r.exact
    for i in range(5):
        l = i + 1
        assert r.H[i] == l and r.H1[i] == 0
        assert r.B[i] == 2 * sum(m**2 for m in range(1, l))


def test_ntk_means_quadrature_matches_exact():
    ex = ntk_means("relu", R(3, 2))
    num = ntk_means("relu", 1.5, exact=False)
    for k in ex:
        assert abs(float(num[k]) - float(ex[k])) < 1e-12


def test_ntk_errors():
    with pytest.raises(ValueError, match="not covered by the NTK recursion"):
        finite_width_ntk([3, 3], "step", 1)
    with pytest.raises(ValueError, match="widths\\[0\\] must be >= 1"):
        finite_width_ntk([0, 3], "relu", 2)
    with pytest.raises(TypeError, match="widths\\[0\\] must be an integer"):
        finite_width_ntk([1.5], "relu", 2)
    with pytest.raises(ValueError, match="not covered by the NTK sampler"):
        sample_ntk([3], "step", 1, 0, [1.0], 2)


def test_sampler_ntk_first_layer_and_tables():
    """Layer 1: the NTK is exactly C_b + C_W q0 times the identity; the result tables render."""
    x = np.linspace(-1, 1, 6)
    H, z, G = sample_ntk([5, 3], "tanh", 1.5, 0.2, x, 4, seed=2)[0]
    assert np.allclose(H, (0.2 + 1.5 * np.mean(x * x)) * np.eye(5)) and np.allclose(G, 0.2 + 1.5 * np.mean(x * x))
    r = finite_width_ntk([4, 4], "relu", 2)
    assert "toprule" in r.to_latex() and list(r.to_frame()["H"]) == [2.0, 4.0]


# Tolerance: 4 Monte-Carlo standard errors plus the O(1/n^2) remainder, estimated as v times the
# leading term, v = 1.5 max(V/(n K^2), (A + 2B)/(n H^2)): 1.5 times the larger expansion parameter (kernel or
# NTK); the test below shows the remainder does scale as 1/n^2.
def _check(th, mc, i, n):
    v = 1.5 * max(float(th.V[i] / th.K[i] ** 2), float((th.A[i] + 2 * th.B[i]) / th.H[i] ** 2)) / n
    e = mc.estimates[i]
    pred = {"mean": th.ntk_mean[i], "variance": th.ntk_variance[i], "cov_diag": th.A[i] / n,
            "offdiag_sq": th.B[i] / n, "cov_G": th.D[i] / n, "HZZ": th.F[i] / n}
    for key, val in pred.items():
        val = float(val)
        slack = v * abs(val - float(th.H[i])) if key == "mean" else v * max(abs(val), float(th.ntk_variance[i]))
        assert abs(e[key] - val) < 4 * e[key + "_se"] + slack, (key, i, e[key], val, e[key + "_se"])


@pytest.mark.slow
@pytest.mark.parametrize("name,C_W,C_b,q0,widths,N,seed", [
    ("relu", 2, 0, 1, [40, 40, 8], 8000, 41),  # L/n = 0.075
    ("relu", 2, 0, 1, [10, 10, 10, 10, 8], 8000, 42),  # L/n = 0.5
    ("tanh", 1, 0, 1, [20, 20, 20, 8], 8000, 43),  # L/n = 0.2
    ("tanh", 1.5, 0.2, 1, [10, 10, 10, 10, 8], 8000, 44),  # L/n = 0.5, off-critical with bias
    ("gelu", GELU_CW, GELU_CB, GELU_Q0, [40, 40, 8], 8000, 45),  # L/n = 0.075, critical
    ("gelu", GELU_CW, GELU_CB, GELU_Q0, [16, 16, 16, 8], 8000, 46),  # L/n = 0.25
    ("gelu", 1.7, 0.1, 1, [12, 12, 12, 8], 8000, 47),  # L/n = 0.33, off-critical
])
def test_ntk_monte_carlo(name, C_W, C_b, q0, widths, N, seed):
    th = finite_width_ntk(widths, name, C_W, C_b, q0)
    mc = monte_carlo_ntk(widths, name, C_W, C_b, np.full(10, np.sqrt(q0)), N, seed, units=8)
    for i in range(1, len(widths)):
        _check(th, mc, i, widths[i - 1])


@pytest.mark.slow
def test_tanh_ntk_residual_shrinks_like_inverse_width_squared():
    """tanh MLP, L = 4: the Monte-Carlo NTK variance minus the leading (A + 2B)/n is O(1/n^2).
    The residual is resolved at > 10 standard errors at n = 6 and n = 12 (N = 30000: residual/SE ~ sqrt(N)/n),
    and doubling n divides it by 4 (ratio within 4 of its standard errors; 1/n scaling would give 2)."""
    L, N, res, se = 4, 30000, [], []
    for n in (6, 12):
        widths = [n] * L
        th = finite_width_ntk(widths, "tanh", 1, 0, 1)
        e = monte_carlo_ntk(widths, "tanh", 1, 0, np.ones(10), N, seed=50 + n, units=n).estimates[L - 1]
        res.append(e["variance"] - float(th.ntk_variance[L - 1]))
        se.append(e["variance_se"])
        assert res[-1] > 10 * se[-1]
    ratio = res[0] / res[1]
    ratio_se = ratio * np.hypot(se[0] / res[0], se[1] / res[1])
    assert abs(ratio - 4) < 4 * ratio_se and abs(ratio - 2) > 4 * ratio_se, (ratio, ratio_se)


@pytest.mark.slow
@pytest.mark.parametrize("widths,N,seed", [([60] * 3, 10000, 61), ([20] * 5, 10000, 62), ([10] * 5, 10000, 63)])
def test_gelu_kernel_monte_carlo(widths, N, seed):
    """GELU at its critical point, L/n = 0.05, 0.25, 0.5: V/n and K + K1/n (F3, F4) within 4 standard errors
    plus the next-order allowance (1.5 v |leading|, v = V/(n K^2))."""
    th = finite_width_mlp(widths, "gelu", GELU_CW, GELU_CB, GELU_Q0)
    mc = monte_carlo_moments(widths, "gelu", GELU_CW, GELU_CB, np.full(10, np.sqrt(GELU_Q0)), N, seed)
    for i in range(1, len(widths)):
        v = 1.5 * float(th.normalized_vertex[i]) / widths[i - 1]
        fp, mean = float(th.four_point[i]), float(th.mean[i])
        assert abs(mc.four_point[i] - fp) < 4 * mc.four_point_se[i] + v * fp, (i, mc.four_point[i], fp)
        assert abs(mc.mean[i] - mean) < 4 * mc.mean_se[i] + v * abs(mean - float(th.K[i])), (i, mc.mean[i], mean)
