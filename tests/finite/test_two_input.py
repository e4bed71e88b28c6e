"""Two-input finite-width recursions (F5)-(F7) and their Gaussian engine (eigencalc.finite.bivariate).

Tiers: exact reductions (x1 = x2 gives F1-F4; deep linear closed forms), engine cross-checks (closed form
vs Gauss-Hermite vs finite differences), error paths, and Monte-Carlo of sampled two-input networks.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from eigencalc.duals.activations import activation
from eigencalc.finite import finite_width_mlp, finite_width_pair, monte_carlo_pair
from eigencalc.finite.bivariate import pair_means

R = sympy.Rational


# ----------------------------------------------------------------------------
# exact tier
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("coeffs,C_W,C_b,q", [([R(1, 3), 1, R(1, 2)], R(1, 2), R(1, 5), R(3, 2)),
                                            ([0, 1, 0, R(-1, 4)], R(2, 3), 0, R(4, 5))])
def test_equal_inputs_reduce_to_single_input_exactly(coeffs, C_W, C_b, q):
    """x1 = x2: every component of K, V, K1 equals the single-input F1-F4 value (exact sympy)."""
    act = activation("polynomial", coeffs=coeffs)
    widths = [4, 6, 5, 7]
    p = finite_width_pair(widths, act, C_W, C_b, (q, q, q))
    s = finite_width_mlp(widths, act, C_W, C_b, q)
    assert p.exact
    for i in range(len(widths)):
        assert all(sympy.simplify(k - s.K[i]) == 0 for k in p.K[i])
        assert all(sympy.simplify(k - s.K1[i]) == 0 for k in p.K1[i])
        assert all(sympy.simplify(v - s.V[i]) == 0 for row in p.V[i] for v in row)


@pytest.mark.parametrize("name,C_W,C_b", [("tanh", R(3, 2), R(1, 10)), ("gelu", R(17, 10), R(1, 10)), ("erf", 1, 0)])
def test_equal_inputs_reduce_to_single_input_numerically(name, C_W, C_b):
    """Same reduction for smooth activations: float64 Gauss-Hermite (two-input) vs mpmath tanh-sinh (single)."""
    p = finite_width_pair([10] * 3, name, C_W, C_b, (1, 1, 1))
    s = finite_width_mlp([10] * 3, name, C_W, C_b, 1)
    assert p.numbers == "float64"
    for i in range(3):
        scale = 1 + abs(float(s.V[i]))
        assert max(abs(float(v) - float(s.V[i])) for row in p.V[i] for v in row) < 1e-9 * scale
        assert max(abs(float(k) - float(s.K1[i])) for k in p.K1[i]) < 1e-9 * scale


def test_deep_linear_two_inputs():
    """phi = z, C_b = 0, C_W = 1: K constant, chi = identity, V_rs^(l) = (l-1) [K_ac K_bd + K_ad K_bc]
    for r = (ab), s = (cd) (Wick), K1 = 0."""
    act = activation("monomial", degree=1)
    q = (R(2), R(1, 2), R(3))
    p = finite_width_pair([5] * 4, act, 1, 0, q)
    Km = [[q[0], q[1]], [q[1], q[2]]]
    pairs = ((0, 0), (0, 1), (1, 1))
    for i in range(4):
        assert p.K[i] == q and p.K1[i] == (0, 0, 0)
        for r, (a, b) in enumerate(pairs):
            for s, (c, d) in enumerate(pairs):
                assert p.V[i][r][s] == i * (Km[a][c] * Km[b][d] + Km[a][d] * Km[b][c])


def test_relu_two_input_is_symmetric_and_has_no_diagonal_shift():
    """ReLU at criticality: diagonal components behave as one input (K1_11 = K1_22 = 0, V_11,11 = 5(l-1)K_11^2,
    K_11 = 2);
    the 12 component gets a negative shift; V is symmetric."""
    p = finite_width_pair([10] * 6, "relu", 2, 0, (1, R(3, 10), R(6, 5)))
    assert p.numbers == "mpmath"
    for i in range(6):
        assert p.K1[i][0] == 0 and p.K1[i][2] == 0
        assert abs(p.V[i][0][0] - 20 * i) < 1e-12
        assert all(abs(p.V[i][r][s] - p.V[i][s][r]) < 1e-12 for r in range(3) for s in range(3))
    assert p.K1[5][1] < 0


def test_relu_float_path_matches_mpmath_path():
    a = finite_width_pair([10] * 30, "relu", 2, 0, (1, 0.3, 1.2), precision="mpmath")
    b = finite_width_pair([10] * 30, "relu", 2, 0, (1, 0.3, 1.2), precision="float64")
    assert b.numbers == "float64"
    for i in range(30):
        for r in range(3):
            assert abs(float(a.K1[i][r]) - b.K1[i][r]) < 1e-10 * (1 + abs(b.K1[i][r]))
            assert abs(float(a.V[i][r][1]) - b.V[i][r][1]) < 1e-10 * (1 + abs(b.V[i][r][1]))


# ----------------------------------------------------------------------------
# the Gaussian engine
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,precision,tol", [("relu", "mpmath", 1e-7), ("tanh", "float64", 1e-6), ("gelu", "float64", 1e-6)])
def test_gradient_and_hessian_by_finite_differences(name, precision, tol):
    """dg12 and d2g12 in the symmetric coordinates (G11, G12, G22) against central differences of g12 / dg12
    (step h: error h^2 times a third derivative, plus rounding 1e-14/h)."""
    act, G = activation(name), (1.2, 0.5, 0.9)
    h = 1e-4 if precision == "float64" else mpmath.mpf("1e-6")
    m = pair_means(act, G, precision=precision)
    for r in range(3):
        up, dn = list(G), list(G)
        up[r] += h
        dn[r] -= h
        mu, md = pair_means(act, tuple(up), precision=precision), pair_means(act, tuple(dn), precision=precision)
        assert abs((mu["g12"] - md["g12"]) / (2 * h) - m["dg12"][r]) < tol
        for s in range(3):
            assert abs((mu["dg12"][s] - md["dg12"][s]) / (2 * h) - m["d2g12"][s][r]) < tol


def test_gauss_hermite_engines_agree_and_converge():
    """tanh: the float64 and the 30-digit mpmath engines give the same 48-node rule value (implementation
    check), and the default 128-node float rule is converged against 200 nodes (1e-12 relative, ~1e-9 Hessian)."""
    act, G = activation("tanh"), (1.2, 0.5, 0.9)
    a = pair_means(act, G, nodes=48)
    with mpmath.workdps(30):
        b = pair_means(act, G, precision="mpmath", nodes=48)
    assert abs(a["g12"] - b["g12"]) < 1e-14
    assert max(abs(a["d2g12"][r][s] - b["d2g12"][r][s]) for r in range(3) for s in range(3)) < 1e-12
    c, d = pair_means(act, G), pair_means(act, G, nodes=200)
    assert abs(c["g12"] - d["g12"]) < 1e-13
    assert max(abs(c["d2g12"][r][s] - d["d2g12"][r][s]) for r in range(3) for s in range(3)) < 1e-9


def test_relu_fourth_moments_against_monomial_closed_forms():
    """phi = linear (a = b = 1) through the ReLU engine: E[z1^a z2^(4-a)] by Wick."""
    m = pair_means(activation("linear"), (2, R(1, 2), 3))
    G11, G12, G22 = 2, 0.5, 3
    wick = {(4, 0): 3 * G11**2, (3, 1): 3 * G11 * G12, (2, 2): G11 * G22 + 2 * G12**2, (1, 3): 3 * G22 * G12, (0, 4): 3 * G22**2}
    for k, v in wick.items():
        assert abs(m["four"][k] - v) < 1e-12


@settings(max_examples=15, deadline=None)
@given(st.floats(0.3, 2.0), st.floats(0.3, 2.0), st.floats(-0.95, 0.95))
def test_relu_engine_float_equals_mpmath(q1, q2, rho):
    """The float64 and mpmath closed-form ReLU engines agree (Fourier-exact arcs) for any covariance."""
    G = (q1, rho * (q1 * q2) ** 0.5, q2)
    a, b = pair_means(activation("relu"), G), pair_means(activation("relu"), G, precision="float64")
    assert abs(a["g12"] - b["g12"]) < 1e-12
    assert all(abs(a["four"][k] - b["four"][k]) < 1e-11 for k in a["four"])


# ----------------------------------------------------------------------------
# error paths
# ----------------------------------------------------------------------------

def test_two_input_errors():
    with pytest.raises(ValueError, match="widths\\[0\\] must be >= 1"):
        finite_width_pair([0], "relu", 2)
    with pytest.raises(TypeError, match="widths\\[1\\] must be an integer"):
        finite_width_pair([3, 2.5], "relu", 2)
    with pytest.raises(TypeError, match="q0 must be the input covariances"):
        finite_width_pair([3], "relu", 2, 0, 1)
    with pytest.raises(ValueError, match="Cauchy-Schwarz"):
        finite_width_pair([3], "relu", 2, 0, (1, 2, 1))
    with pytest.raises(ValueError, match="not covered by the two-input recursion"):
        finite_width_pair([3, 3], "step", 1)
    with pytest.raises(ValueError, match="non-parallel inputs"):
        finite_width_pair([3, 3], "relu", 2, 0, (1, 1, 1))
    with pytest.raises(ValueError, match="precision must be"):
        finite_width_pair([3, 3], "tanh", 1, 0, (1, 0, 1), precision="half")


# ----------------------------------------------------------------------------
# Monte-Carlo tier
# ----------------------------------------------------------------------------

_X = np.stack([np.ones(10), np.r_[np.ones(5), -np.ones(5)] * 0.8 + 0.3])  # q = (1, 0.3, 0.73)
_Q = tuple(float(v) for v in (_X[0] @ _X[0] / 10, _X[0] @ _X[1] / 10, _X[1] @ _X[1] / 10))


def _pair_remainder(th, l):
    r"""O(1/n^2) allowance: v * sqrt(F_rr F_ss) for the four-point entries (v = max_r V_rr / (n K_rr^2), the
    expansion parameter, as in test_recursions._remainder) and v * |K1/n| for the means."""
    fp = np.array(th.four_point(l), dtype=float)
    K = np.array(th.K[l - 1], dtype=float)
    v = max(fp[r, r] / K[r] ** 2 for r in (0, 2))
    d = np.sqrt(np.abs(np.diag(fp)))
    return v * np.outer(d, d), v * np.abs(np.array(th.mean(l), dtype=float) - K)


@pytest.mark.slow
@pytest.mark.parametrize("name,C_W,C_b,widths,N,seed", [
    ("relu", 2, 0, [40] * 3, 10000, 31),  # L/n = 0.075
    ("tanh", 1, 0, [20] * 5, 10000, 32),  # L/n = 0.25
    ("gelu", 1.7, 0.1, [16, 24, 20, 20], 10000, 33),  # L/n ~ 0.2, unequal widths
])
def test_two_input_monte_carlo(name, C_W, C_b, widths, N, seed):
    th = finite_width_pair(widths, name, C_W, C_b, _Q)
    mc = monte_carlo_pair(widths, name, C_W, C_b, _X, N, seed)
    for l in range(2, len(widths) + 1):
        r4, rm = _pair_remainder(th, l)
        fp, mean = np.array(th.four_point(l), dtype=float), np.array(th.mean(l), dtype=float)
        assert (np.abs(mc.four_point[l - 1] - fp) < 4 * mc.four_point_se[l - 1] + r4).all(), (l, mc.four_point[l - 1], fp)
        assert (np.abs(mc.mean[l - 1] - mean) < 4 * mc.mean_se[l - 1] + rm).all(), (l, mc.mean[l - 1], mean)
