"""The exact NTK mean and variance of bias-free ReLU MLPs (F23) against the leading order (F8, F9, F11) and
Monte-Carlo of finite networks (exact per-network NTK by backpropagation)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc.duals.activations import activation
from eigencalc.finite import exact_relu_ntk, finite_width_ntk, monte_carlo_ntk

R = sympy.Rational


@pytest.mark.parametrize("widths,C_W,q0,slope", [([10, 10, 8], 2, 1, 1), ([5, 7, 3, 6], R(3, 2), R(2, 3), 1),
                                                  ([6, 4, 9], 8, 1, R(1, 2))])
def test_mean_and_second_layer_equal_the_recursions_exactly(widths, C_W, q0, slope):
    """E H = K + chi_perp H at every width (F8 with H1 = 0 is exact for ReLU), and at layer 2 the leading
    order is the exact answer (layer 1 is Gaussian: Var H^(2) = (A + 2B)/n_1 with no remainder)."""
    act = activation("relu") if slope == 1 else activation("abrelu", a=0, b=slope)
    ex = exact_relu_ntk(widths, act, C_W, 0, q0)
    lead = finite_width_ntk(widths, act, C_W, 0, q0)
    assert list(ex.mean) == [sympy.simplify(h) for h in lead.ntk_mean]
    assert ex.variance[0] == 0 and sympy.simplify(ex.variance[1] - lead.ntk_variance[1]) == 0


def test_leading_order_is_the_first_term():
    """Exact minus (A + 2B)/n is O(1/n^2): n^2 times the gap agrees to 3% between n = 200 and n = 400."""
    gaps = []
    for n in (200, 400):
        widths = [n] * 5
        ex, lead = exact_relu_ntk(widths), finite_width_ntk(widths, "relu", 2)
        gaps.append(float(ex.variance[-1] - lead.ntk_variance[-1]) * n * n)
    assert gaps[0] > 0 and abs(gaps[1] / gaps[0] - 1) < 0.03, gaps


def test_errors_and_table():
    with pytest.raises(ValueError, match=r"cover phi = b max\(z, 0\) only"):
        exact_relu_ntk([4, 4], "tanh", 1)
    with pytest.raises(ValueError, match=r"cover phi = b max\(z, 0\) only"):
        exact_relu_ntk([4, 4], activation("leaky_relu", slope=R(1, 10)), 2)
    with pytest.raises(ValueError, match="need C_b = 0"):
        exact_relu_ntk([4, 4], "relu", 2, R(1, 10))
    with pytest.raises(ValueError, match=r"widths\[1\] must be >= 1"):
        exact_relu_ntk([4, 0])
    r = exact_relu_ntk([4, 4])
    assert list(r.to_frame()["ntk_mean"]) == [2.0, 4.0] and "toprule" in r.to_latex()


@pytest.mark.slow
@pytest.mark.parametrize("widths,C_W,q0,N,seed", [
    ([80] * 4 + [8], 2, 1, 20000, 71),  # L/n = 0.05
    ([40] * 4 + [8], 2, 1, 20000, 72),  # L/n = 0.1
    ([16] * 4 + [8], 2, 1, 20000, 73),  # L/n = 0.25
    ([8] * 4 + [8], 2, 1, 20000, 74),  # L/n = 0.5
    ([10] * 5, 3, R(1, 2), 20000, 75),  # L/n = 0.5, off-critical
    ([5, 7, 3, 6], 2, 1, 20000, 76),  # unequal, narrow
])
def test_monte_carlo_within_four_standard_errors(widths, C_W, q0, N, seed):
    """Raw 4 standard errors for the NTK mean and variance at every layer (the leading order misses by 4-9)."""
    ex = exact_relu_ntk(widths, "relu", C_W, 0, q0)
    mc = monte_carlo_ntk(widths, "relu", C_W, 0, np.full(10, np.sqrt(float(q0))), N, seed, units=8)
    for i in range(1, len(widths)):
        e = mc.estimates[i]
        assert abs(e["mean"] - float(ex.mean[i])) < 4 * e["mean_se"], (i, e["mean"], ex.mean[i])
        assert abs(e["variance"] - float(ex.variance[i])) < 4 * e["variance_se"], (i, e["variance"], float(ex.variance[i]))


@pytest.mark.slow
def test_monte_carlo_scaled_relu():
    """phi = max(z, 0)/2 at C_W = 8 (same deep layers as ReLU at C_W = 2, but a 4x larger first layer)."""
    act = activation("abrelu", a=0, b=R(1, 2))
    widths = [10] * 4 + [8]
    ex = exact_relu_ntk(widths, act, 8, 0, 1)
    mc = monte_carlo_ntk(widths, act, 8, 0, np.ones(10), 20000, 77, units=8)
    for i in range(1, len(widths)):
        e = mc.estimates[i]
        assert abs(e["mean"] - float(ex.mean[i])) < 4 * e["mean_se"]
        assert abs(e["variance"] - float(ex.variance[i])) < 4 * e["variance_se"]
