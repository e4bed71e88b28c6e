"""The NTK mean and variance beyond leading order for any activation (F24) against the exact ReLU rationals
(F23), the leading order (F8-F13) at large width, and Monte-Carlo of finite networks."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc.duals.activations import activation
from eigencalc.duals.criticality import criticality
from eigencalc.finite import exact_relu_ntk, finite_width_ntk, finite_width_ntk_moments, monte_carlo_ntk

R = sympy.Rational
_GELU = criticality("gelu")
GELU = ("gelu", float(_GELU.C_W), float(_GELU.C_b), float((_GELU.K_star - _GELU.C_b) / _GELU.C_W))  # K^(1) = K*


@pytest.mark.parametrize("widths,C_W,q0,slope", [([8] * 5, 2, 1, 1), ([5, 7, 3, 6], R(3, 2), R(2, 3), 1),
                                                  ([6, 4, 9], 8, 1, R(1, 2))])
def test_relu_equals_the_exact_rationals(widths, C_W, q0, slope):
    """For bias-free ReLU the closure is exact (F_l is omega(R) times a low-degree polynomial): F24 = F23
    to the float64 quadrature error, 1e-10 relative (trapezoid rules, exponentially convergent)."""
    act = activation("relu") if slope == 1 else activation("abrelu", a=0, b=slope)
    ex = exact_relu_ntk(widths, act, C_W, 0, q0)
    ch = finite_width_ntk_moments(widths, act, C_W, 0, q0)
    for i in range(len(widths)):
        assert ch.mean[i] == pytest.approx(float(ex.mean[i]), rel=1e-10)
        assert ch.variance[i] == pytest.approx(float(ex.variance[i]), rel=1e-10, abs=1e-12)
        assert ch.closure_error[i] <= 1e-10 * max(1.0, ch.variance[i])


@pytest.mark.parametrize("name,C_W,C_b,q0", [("tanh", 1, 0, 1), GELU, ("tanh", 1.5, 0.2, 1)])
def test_leading_order_is_the_first_term(name, C_W, C_b, q0):
    """Layer 2 is the leading order exactly (layer 1 is Gaussian); beyond, chain minus (A + 2B)/n is O(1/n^2):
    n^2 times the gap agrees to 3% between n = 25 and n = 50 (1/n scaling would halve it)."""
    gaps = []
    for n in (25, 50):
        widths = [n] * 4
        ch, lead = finite_width_ntk_moments(widths, name, C_W, C_b, q0), finite_width_ntk(widths, name, C_W, C_b, q0)
        assert ch.variance[1] == pytest.approx(float(lead.ntk_variance[1]), rel=1e-9)
        assert ch.mean[1] == pytest.approx(float(lead.ntk_mean[1]), rel=1e-10)
        gaps.append((ch.variance[-1] - float(lead.ntk_variance[-1])) * n * n)
    assert gaps[0] > 0 and abs(gaps[1] / gaps[0] - 1) < 0.03, gaps


def test_mean_shift_is_the_leading_order_one():
    """E H = H + H1/n + O(1/n^2) (F13): n^2 times the gap is O(1) (tanh: about -0.05 at n = 25 and 50)."""
    for n in (25, 50):
        ch, lead = finite_width_ntk_moments([n] * 4, "tanh", 1), finite_width_ntk([n] * 4, "tanh", 1)
        assert abs(ch.mean[-1] - float(lead.ntk_mean[-1])) * n * n < 0.1


def test_closure_converges():
    """Critical GELU at n = 8 (L/n = 1/2, the hardest case): 10, 12, 14 nodes give 1168.71, 1168.26, 1168.42,
    so the reported closure error (the change from nodes - 2) bounds the change to nodes + 2."""
    name, C_W, C_b, q0 = GELU
    r12 = finite_width_ntk_moments([8] * 5, name, C_W, C_b, q0, nodes=12)
    r14 = finite_width_ntk_moments([8] * 5, name, C_W, C_b, q0, nodes=14)
    for a, b, err in zip(r12.variance, r14.variance, r12.closure_error):
        assert abs(a - b) <= err + 1e-12 * abs(a)
    assert r12.closure_error[-1] < 1e-3 * r12.variance[-1]


def test_activations_that_overflow_in_the_far_tails():
    """swish' overflows (inf/inf) far out where the Gaussian weight underflows: those nodes carry no weight,
    and the values stay finite; layer 2 is the leading order exactly."""
    ch, lead = finite_width_ntk_moments([8] * 4, "swish", 2, 0.1), finite_width_ntk([8] * 4, "swish", 2, 0.1)
    assert np.isfinite(ch.variance).all() and np.isfinite(ch.mean).all()
    assert ch.variance[1] == pytest.approx(float(lead.ntk_variance[1]), rel=1e-9)


def test_errors_and_table():
    with pytest.raises(ValueError, match="phi' must be a function"):
        finite_width_ntk_moments([4, 4], "step", 1)
    with pytest.raises(ValueError, match=r"widths\[1\] must be >= 1"):
        finite_width_ntk_moments([4, 0], "tanh", 1)
    with pytest.raises(ValueError, match="C_W must be > 0"):
        finite_width_ntk_moments([4, 4], "tanh", 0)
    with pytest.raises(ValueError, match="nodes must be >= 5"):
        finite_width_ntk_moments([4, 4], "tanh", 1, nodes=3)
    r = finite_width_ntk_moments([4, 4], "tanh", 1)
    frame = r.to_frame()
    assert list(frame["ntk_mean"])[0] == 1.0 and not frame["exact"].any() and "toprule" in r.to_latex()


@pytest.mark.slow
@pytest.mark.parametrize("name,C_W,C_b,q0,widths,N,seed", [
    ("tanh", 1, 0, 1, [80] * 4 + [8], 20000, 81),  # L/n = 0.05
    ("tanh", 1, 0, 1, [40] * 4 + [8], 20000, 82),  # L/n = 0.1
    ("tanh", 1, 0, 1, [16] * 4 + [8], 20000, 83),  # L/n = 0.25
    ("tanh", 1, 0, 1, [8] * 4 + [8], 20000, 84),  # L/n = 0.5
    ("tanh", 1.5, 0.2, 1, [10] * 5, 20000, 85),  # L/n = 0.5, off-critical with bias
    (*GELU, [80] * 4 + [8], 20000, 86),
    (*GELU, [40] * 4 + [8], 20000, 87),
    (*GELU, [16] * 4 + [8], 20000, 88),
    (*GELU, [8] * 4 + [8], 20000, 89),
    ("gelu", 1.7, 0.1, 1, [5, 7, 3, 6], 20000, 90),  # unequal, narrow, off-critical
    ("swish", 2, 0.1, 1, [8] * 5, 20000, 91),  # far from critical: the leading order is off by a factor 3.6
    ("sigmoid", 4, 0, 1, [8] * 5, 20000, 92),  # phi(0) != 0
])
def test_monte_carlo_within_four_standard_errors(name, C_W, C_b, q0, widths, N, seed):
    """Raw 4 standard errors for the NTK mean and variance at every layer; the leading order misses the
    variance by 5-19 standard errors at the same sample size (measured, see docs)."""
    ch = finite_width_ntk_moments(widths, name, C_W, C_b, q0)
    mc = monte_carlo_ntk(widths, name, C_W, C_b, np.full(10, np.sqrt(q0)), N, seed, units=8)
    for i in range(1, len(widths)):
        e = mc.estimates[i]
        assert abs(e["mean"] - ch.mean[i]) < 4 * e["mean_se"], (i, e["mean"], ch.mean[i])
        assert abs(e["variance"] - ch.variance[i]) < 4 * e["variance_se"], (i, e["variance"], ch.variance[i])


@pytest.mark.slow
def test_residual_beyond_the_chain_is_noise_where_the_leading_order_fails():
    """tanh, L = 4, n = 6 and 12 (30000 networks, as the leading-order residual test): the Monte-Carlo minus
    leading-order residual is > 10 SE, while Monte-Carlo minus the chain is within 4 SE."""
    for n in (6, 12):
        widths = [n] * 4
        ch, lead = finite_width_ntk_moments(widths, "tanh", 1), finite_width_ntk(widths, "tanh", 1)
        e = monte_carlo_ntk(widths, "tanh", 1, 0, np.ones(10), 30000, seed=50 + n, units=n).estimates[3]
        assert e["variance"] - float(lead.ntk_variance[3]) > 10 * e["variance_se"]
        assert abs(e["variance"] - ch.variance[3]) < 4 * e["variance_se"], (n, e["variance"], ch.variance[3])
