"""Finite-width recursions (eigencalc.finite, F1-F4; Roberts-Yaida-Hanin ch. 4) and the sampler.

Three tiers: exact closed forms (deep linear, ReLU, polynomial activations),
mpmath references against independent oracles (closed-form second moments
differentiated symbolically), and slow Monte-Carlo checks against sampled
finite networks.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

from eigencalc.duals.activations import activation
from eigencalc.finite import finite_width_mlp, gaussian_means, monte_carlo_moments, sample_preactivations

R = sympy.Rational


# ----------------------------------------------------------------------------
# exact tier
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("C_W,q0", [(1, 1), (R(3, 2), 2), (R(1, 3), R(5, 7))])
def test_deep_linear_vertex_grows_linearly(C_W, q0):
    """phi(z) = z, C_b = 0: K^(l) = C_W^l q0, chi_par = C_W, V^(l) = 2 (l - 1) K^(l)^2, K1 = 0 (equal widths)."""
    r = finite_width_mlp([7] * 6, "linear", C_W, 0, q0)
    assert r.exact
    for i in range(6):
        l = i + 1
        K = C_W**l * q0
        assert r.K[i] == K and r.chi_parallel[i] == C_W
        assert sympy.simplify(r.V[i] - 2 * (l - 1) * K**2) == 0
        assert r.K1[i] == 0 and r.mean[i] == K


def test_deep_linear_unequal_widths_match_exact_expansion():
    r"""Deep linear, C_b = 0: exactly E[G^2] = K^2 prod_{m<l} (1 + 2/n_m) (conditional chi-square moments),
    so the connected 4-point function V^(l)/n_{l-1} is the first-order term K^2 sum_{m<l} 2/n_m.
    This checks the width ratio n_l/n_{l-1} of (F3)."""
    widths = [3, 11, 5, 8, 2]
    r = finite_width_mlp(widths, "linear", 2, 0, 1)
    for i in range(len(widths)):
        K = r.K[i]
        assert r.four_point[i] == K**2 * sum(R(2, n) for n in widths[:i])


def test_deep_linear_with_bias():
    """phi(z) = z, C_b > 0: V^(l+1) = 2 C_W^2 K^(l)^2 + C_W^2 V^(l) (F3 with <z^4> = 3K^2, chi_par = C_W), K1 = 0."""
    C_W, C_b = R(1, 2), R(1, 4)
    r = finite_width_mlp([4] * 5, "linear", C_W, C_b, 3)
    K, V = sympy.Integer(3) * C_W + C_b, sympy.Integer(0)
    for i in range(5):
        assert r.K[i] == K and r.V[i] == V and r.K1[i] == 0
        K, V = C_b + C_W * K, 2 * C_W**2 * K**2 + C_W**2 * V


@pytest.mark.parametrize("name,params,C_W,coef", [
    ("relu", {}, 2, 5),  # <relu^4> = 3K^2/2, <relu^2> = K/2: C_W^2 (3/2 - 1/4) K^2 = 5 K^2
    ("abs", {}, 1, 2),  # |z| behaves as z for even moments
    ("leaky_relu", {"slope": R(1, 2)}, R(8, 5), R(77, 25)),  # (64/25) (51/32 - 25/64)
])
def test_scale_invariant_vertex(name, params, C_W, coef):
    """Scale-invariant class at criticality (C_b = 0, C_W = 2/(a^2+b^2)): K constant, chi_par = 1,
    V^(l) = c (l - 1) K^2 with c = C_W^2 [3 (a^4 + b^4)/2 - (a^2 + b^2)^2/4] (RYH eq. 5.45 ff.: c = 5 for ReLU),
    and no 1/n shift (g'' = 0)."""
    act = activation(name, **params)
    a, b = act.a, act.b
    assert coef == C_W**2 * (R(3, 2) * (a**4 + b**4) - (a**2 + b**2) ** 2 / 4)
    r = finite_width_mlp([9] * 5, act, C_W, 0, R(3, 2) / C_W)  # K^(1) = C_W q0 = 3/2
    for i in range(5):
        assert r.K[i] == R(3, 2) and r.chi_parallel[i] == 1
        assert sympy.simplify(r.V[i] - coef * i * R(9, 4)) == 0 and r.K1[i] == 0


def test_quadratic_activation_exact_means_and_shift():
    """phi = z^2: g = 3K^2, <phi^4> = 105 K^4, g' = 6K, g'' = 6, so K1^(3) = (C_W/2) 6 V^(2) at equal widths."""
    m = gaussian_means(activation("monomial", degree=2), R(1, 3))
    assert m == {"g": R(1, 3), "phi4": R(105, 81), "dg": 2, "d2g": 6}
    C_W = R(1, 2)
    r = finite_width_mlp([5, 5, 5], activation("monomial", degree=2), C_W, 0, R(1, 2))
    K1 = r.K[0]
    assert r.V[1] == C_W**2 * (105 - 9) * K1**4
    assert r.K1[1] == 0 and r.K1[2] == 3 * C_W * r.V[1]


def test_result_tables():
    r = finite_width_mlp([4, 4], "relu", 2)
    rows = r.rows()
    assert [row["layer"] for row in rows] == [1, 2] and rows[1]["V"] == 20
    frame = r.to_frame()
    assert list(frame["four_point"]) == [0.0, 5.0]
    assert "toprule" in r.to_latex()


# ----------------------------------------------------------------------------
# error paths
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("widths,err,text", [
    ([3, 0], ValueError, r"widths\[1\] must be >= 1"),
    ([3, 2.5], TypeError, r"widths\[1\] must be an integer"),
    ([True], TypeError, r"widths\[0\]"),
    ([], ValueError, "widths must contain"),
    ("33", TypeError, "widths must be a sequence"),
    (4, TypeError, "widths must be a sequence"),
])
def test_bad_widths(widths, err, text):
    with pytest.raises(err, match=text):
        finite_width_mlp(widths, "relu", 2)
    with pytest.raises(err, match=text):
        sample_preactivations(widths, "relu", 2, 0, [1.0], 3)


def test_bad_activation_and_parameters():
    with pytest.raises(ValueError, match="unknown activation 'foo'"):
        finite_width_mlp([3], "foo", 2)
    with pytest.raises(ValueError, match="C_W must be > 0"):
        finite_width_mlp([3], "relu", -1)
    with pytest.raises(ValueError, match="C_b must be >= 0"):
        finite_width_mlp([3], "relu", 1, -0.5)
    with pytest.raises(ValueError, match="q0 must be > 0"):
        finite_width_mlp([3], "relu", 1, 0, 0)
    with pytest.raises(ValueError, match="n_networks must be >= 1"):
        sample_preactivations([3], "relu", 2, 0, [1.0], 0)
    with pytest.raises(ValueError, match="x must be"):
        sample_preactivations([3], "relu", 2, 0, [[1.0]], 2)


# ----------------------------------------------------------------------------
# mpmath tier: quadrature path against symbolic oracles
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("dps", [15, 30])
def test_numeric_gaussian_means_against_erf_closed_form(dps):
    """erf: g(K) = (2/pi) arcsin(2K/(1+2K)) (MATH.md section 2); g', g'' by sympy differentiation, independent
    of the z^2 - K and z^4 - 6Kz^2 + 3K^2 weights used by gaussian_means (forced onto quadrature)."""
    Ks = sympy.Symbol("K", positive=True)
    g = 2 / sympy.pi * sympy.asin(2 * Ks / (1 + 2 * Ks))
    K0 = R(7, 10)
    with mpmath.workdps(dps):
        m = gaussian_means("erf", mpmath.mpf(7) / 10, exact=False)
        tol = mpmath.mpf(10) ** (3 - dps)
        for key, expr in [("g", g), ("dg", sympy.diff(g, Ks)), ("d2g", sympy.diff(g, Ks, 2))]:
            ref = mpmath.mpf(str(sympy.N(expr.subs(Ks, K0), dps + 10)))
            assert abs(m[key] - ref) < tol * (1 + abs(ref)), key


def test_numeric_path_agrees_with_exact_path_for_relu():
    exact = gaussian_means("relu", R(3, 2))
    with mpmath.workdps(25):
        num = gaussian_means("relu", mpmath.mpf(3) / 2, exact=False)
        for key in exact:
            assert abs(num[key] - mpmath.mpf(str(sympy.N(exact[key], 35)))) < mpmath.mpf(10) ** -20


def test_tanh_precision_is_context():
    with mpmath.workdps(15):
        lo = finite_width_mlp([10] * 4, "tanh", 1, R(1, 10), 1)
    with mpmath.workdps(30):
        hi = finite_width_mlp([10] * 4, "tanh", 1, R(1, 10), 1)
    assert lo.dps == 15 and hi.dps == 30 and not hi.exact
    for a, b in zip(lo.V + lo.K1, hi.V + hi.K1):
        assert abs(a - b) < 1e-12


# ----------------------------------------------------------------------------
# Monte-Carlo tier
# ----------------------------------------------------------------------------

def test_sampler_is_seeded_and_first_layer_gaussian():
    x = np.linspace(-1, 1, 7)
    a = sample_preactivations([5, 3], "tanh", 1.5, 0.2, x, 10, seed=3, chunk=4)
    b = sample_preactivations([5, 3], "tanh", 1.5, 0.2, x, 10, seed=3, chunk=4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    mc = monte_carlo_moments([50], "tanh", 1.5, 0.2, x, 4000, seed=5)
    K1 = 0.2 + 1.5 * np.mean(x * x)
    assert abs(mc.mean[0] - K1) < 4 * mc.mean_se[0]
    assert abs(mc.four_point[0]) < 4 * mc.four_point_se[0]  # layer 1 is exactly Gaussian: V^(1) = 0


def _relu_exact_four_point(widths, K, l):
    """ReLU, C_W = 2, C_b = 0: exactly E[G^(m+1)^2 | G^(m)] = G^2 (1 + 5/n_m), so Var G^(l) = K^2 (prod - 1)."""
    return K**2 * (np.prod([1 + 5 / n for n in widths[: l - 1]]) - 1)


# Tolerance for leading-order predictions: 4 Monte-Carlo standard errors plus the O(1/n^2) remainder.
# The expansion parameter is the normalised vertex v = V/(n K^2) (~ l/n); for ReLU the exact answer
# K^2 [(1 + 5/n)^(l-1) - 1] shows the remainder of V/n is (1/2) v^2 K^2 + O(v^3), and the remainder of
# the mean shift is of relative size v.  We allow v^2 K^2 (resp. v |K1/n|): twice the ReLU coefficient.
def _remainder(th, i):
    v = float(th.four_point[i] / th.K[i] ** 2)
    return v * float(th.four_point[i]), v * abs(float(th.mean[i] - th.K[i]))


@pytest.mark.slow
@pytest.mark.parametrize("name,C_W,C_b,widths,N,seed", [
    ("relu", 2, 0, [60] * 3, 20000, 11),  # L/n = 0.05
    ("relu", 2, 0, [40] * 4, 20000, 12),  # L/n = 0.1
    ("relu", 2, 0, [30, 15, 40, 20], 20000, 13),  # unequal widths
    ("tanh", 1, 0, [60] * 3, 20000, 14),  # L/n = 0.05, critical K* = 0 class
    ("tanh", 1, 0, [20] * 5, 40000, 15),  # L/n = 0.25
    ("tanh", 1, 0, [20] * 10, 40000, 16),  # L/n = 0.5
    ("tanh", 1, 0, [16, 40, 12, 30, 20], 40000, 17),  # unequal widths
])
def test_monte_carlo_agreement(name, C_W, C_b, widths, N, seed):
    x = np.ones(10)  # q0 = 1
    th = finite_width_mlp(widths, name, C_W, C_b, 1)
    mc = monte_carlo_moments(widths, name, C_W, C_b, x, N, seed)
    for i in range(1, len(widths)):
        r4, rm = _remainder(th, i)
        fp, mean = float(th.four_point[i]), float(th.mean[i])
        assert abs(mc.four_point[i] - fp) < 4 * mc.four_point_se[i] + r4, (i, mc.four_point[i], fp)
        assert abs(mc.mean[i] - mean) < 4 * mc.mean_se[i] + rm, (i, mc.mean[i], mean)
        if name == "relu":  # the exact finite-width answer: no remainder, 4 standard errors only
            exact = _relu_exact_four_point(widths, float(th.K[i]), i + 1)
            assert abs(mc.four_point[i] - exact) < 4 * mc.four_point_se[i]
            assert abs(mc.mean[i] - float(th.K[i])) < 4 * mc.mean_se[i]  # E[z^2] = K exactly for ReLU


@pytest.mark.slow
def test_tanh_mean_shift_is_resolved():
    """The 1/n shift is not lost in the noise: at L/n = 0.5 the Monte-Carlo mean is > 10 SE below K
    and within 4 SE (+ remainder) of K + K1/n."""
    widths, N = [20] * 10, 40000
    th = finite_width_mlp(widths, "tanh", 1, 0, 1)
    mc = monte_carlo_moments(widths, "tanh", 1, 0, np.ones(10), N, 21)
    i = len(widths) - 1
    assert (float(th.K[i]) - mc.mean[i]) > 10 * mc.mean_se[i]
    assert abs(mc.mean[i] - float(th.mean[i])) < 4 * mc.mean_se[i] + _remainder(th, i)[1]


@pytest.mark.parametrize("name,C_W,c", [("relu", 2, 5), ("linear", 1, 2)])
def test_remainder_is_second_order_exactly(name, C_W, c):
    """Scale-invariant, C_b = 0: exact Var G^(l) = K^2 [(1 + c/n)^(l-1) - 1]; minus the leading V^(l)/n it is
    K^2 binom(l-1, 2) c^2/n^2 + O(n^-3), so doubling n divides the residual by 4 + O(1/n)."""
    L = 6
    residual = []
    for n in (100, 200, 400):
        r = finite_width_mlp([n] * L, name, C_W, 0, R(1, C_W))  # K = 1
        exact = (1 + R(c, n)) ** (L - 1) - 1
        residual.append(exact - r.four_point[-1])
        assert abs(residual[-1] * n**2 - sympy.binomial(L - 1, 2) * c**2) < 30 * c**3 / n
    for a, b in zip(residual, residual[1:]):
        assert abs(a / b - 4) < 0.2
