"""Two-input mean NTK and its 1/n shift (F17) against single-input (F8)-(F13) and Monte-Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc.finite import finite_width_ntk
from eigencalc.finite.ntk_pair import finite_width_pair_ntk
from eigencalc.finite.sampler import monte_carlo_pair_ntk
from eigencalc.finite.sphere import finite_width_sphere


@pytest.mark.parametrize("name,C_W,C_b", [("tanh", 1.5, 0.2), ("gelu", 1.7, 0.1)])
def test_equal_inputs_reduce_to_single_input(name, C_W, C_b):
    """x1 = x2: H_r, H1_r, D_{s,r}, F_{ab;cd} equal the single-input H, H1, D, F for every component
    (float64 Gauss-Hermite with derivatives up to order 5 vs mpmath tanh-sinh: 1e-6 relative)."""
    widths = [10, 12, 9, 10]
    p = finite_width_pair_ntk(widths, name, C_W, C_b, (1, 1, 1))
    s = finite_width_ntk(widths, name, C_W, C_b, 1)
    for i in range(len(widths)):
        tol = 1e-6 * (1 + abs(float(s.H[i])))
        assert max(abs(h - float(s.H[i])) for h in p.H[i]) < tol
        assert max(abs(h - float(s.H1[i])) for h in p.H1[i]) < tol
        assert np.max(np.abs(p.D[i] - float(s.D[i]))) < 1e-6 * (1 + abs(float(s.D[i])))
        assert max(abs(v - float(s.F[i])) for v in p.F[i].values()) < 1e-6 * (1 + abs(float(s.F[i])))


def test_errors_and_table():
    with pytest.raises(ValueError, match="not covered by the two-input NTK recursion"):
        finite_width_pair_ntk([3, 3], "relu", 2)
    with pytest.raises(ValueError, match="widths\\[0\\] must be >= 1"):
        finite_width_pair_ntk([0], "tanh", 1)
    r = finite_width_pair_ntk([4, 4], "tanh", 1, 0, (1, 0.5, 1))
    assert list(r.to_frame().columns) == ["layer", "width", "H_11", "H_12", "H_22", "H1_11", "H1_12", "H1_22"]


_X = np.stack([np.ones(10), np.r_[np.ones(5), -np.ones(5)] * 0.8 + 0.3])  # q = (1, 0.3, 0.73)


@pytest.mark.slow
@pytest.mark.parametrize("name,C_W,C_b,widths,N,seed", [
    ("tanh", 1, 0, [10, 10, 10, 10, 8], 30000, 71),  # L/n = 0.4: the 1/n shift is resolved at > 5 SE
    ("tanh", 1.5, 0.2, [8, 8, 8, 8], 30000, 72),
])
def test_two_input_ntk_mean_monte_carlo(name, C_W, C_b, widths, N, seed):
    """E H_{ii;ab} = H_r + H1_r/n within 4 standard errors plus v |H1/n| (v = V/(nK^2), as elsewhere), while
    the infinite-width H alone is rejected on the 12 component at the last layer."""
    q = (1.0, 0.3, 0.73)
    th = finite_width_pair_ntk(widths, name, C_W, C_b, q)
    mean, se = monte_carlo_pair_ntk(widths, name, C_W, C_b, _X, N, seed)
    for l in range(2, len(widths) + 1):
        pred = np.array(th.ntk_mean(l))
        v = max(float(th.kernel.V[l - 1][r][r]) / float(th.kernel.K[l - 1][r]) ** 2 for r in (0, 2)) / widths[l - 2]
        assert (np.abs(mean[l - 1] - pred) < 4 * se[l - 1] + v * np.abs(pred - np.array(th.H[l - 1]))).all(), l
    if name == "tanh" and C_W == 1:
        assert abs(mean[-1][1] - th.H[-1][1]) > 5 * se[-1][1]


def test_ntk_sphere_trace_identity():
    """F16 for the NTK: sum_k N(n0, k) mu_k[H1_12] = H1 (single input) and sum_k N mu_k[H_12] = H, up to the
    tail beyond kmax = 15 and the 32-node rule (measured 9e-6; 1e-8 at kmax = 25 with 64 nodes)."""
    s = finite_width_sphere([6, 6, 6], "tanh", 1, 0, n0=3, kmax=15, nodes=32, kind="ntk")
    ref = finite_width_ntk([6, 6, 6], "tanh", 1, 0, 1)
    assert abs(sum(N * v for N, v in zip(s.multiplicities, s.shift)) - float(ref.H1[-1])) < 3e-5
    assert abs(sum(N * v for N, v in zip(s.multiplicities, s.mu)) - float(ref.H[-1])) < 3e-5
    assert s.kind == "ntk"
