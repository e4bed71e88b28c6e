"""Dual activations (MATH.md M5–M8): three oracles that must agree.

1. closed forms (``kernel``/``dual_expr``) against the Hermite series (M6, M8),
2. both against an independent 2-D expectation: a float64 tensor Gauss–Hermite
   rule for smooth activations, Monte-Carlo (fixed seed) for kinked ones,
3. exact identities: Parseval ``sum a_k^2 = E[phi^2]``, M7 derivative duals.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from eigencalc import activation
from eigencalc.special.gaussian import bivariate_gaussian_expectation
from eigencalc.activations import rho as RHO
from eigencalc.activations import x as X

from tests.cases import CLOSED_FORM_ACTIVATIONS, QUADRATURE_ACTIVATIONS

EXACT = CLOSED_FORM_ACTIVATIONS
QUADRATURE = QUADRATURE_ACTIVATIONS
ALL = EXACT + QUADRATURE
KINKED = {"relu", "leaky_relu", "abs", "step"}
ids = [n for n, _ in ALL]

# Unequal variances and a covariance inside Cauchy–Schwarz (M8).
Q1, Q2, C = 0.7, 1.3, 0.5


def _mc(act, q1, q2, c, derivative=False, n=1_000_000, seed=1):
    """Monte-Carlo E[f(u) f(v)] with its standard error (independent oracle)."""
    rng = np.random.default_rng(seed)
    z1, z2 = rng.standard_normal((2, n))
    r = c / math.sqrt(q1 * q2)
    u = math.sqrt(q1) * z1
    v = math.sqrt(q2) * (r * z1 + math.sqrt(1 - r * r) * z2)
    f = act.derivative if derivative else act
    samples = f(u) * f(v)
    return samples.mean(), samples.std() / math.sqrt(n)


# ---------------------------------------------------------------- exact values


def test_relu_hermite_coefficients_exact():
    relu = activation("relu")
    pi = sympy.pi
    expected = [1 / sympy.sqrt(2 * pi), sympy.Rational(1, 2), 1 / (2 * sympy.sqrt(pi)), 0, -1 / (4 * sympy.sqrt(3 * pi))]
    for k, e in enumerate(expected):
        assert sympy.simplify(relu.hermite(k) - e) == 0, k


def test_relu_dual_series_matches_arccos_taylor():
    """M6 coefficients of ReLU equal the Taylor coefficients of the arc-cosine kernel."""
    relu = activation("relu")
    series = relu.dual_series(8)
    taylor = sympy.series(relu.dual_expr(), RHO, 0, 9).removeO()
    for k, c in enumerate(series.coefficients):
        assert sympy.simplify(taylor.coeff(RHO, k) - c) == 0, k


@pytest.mark.parametrize("name,params", EXACT, ids=[n for n, _ in EXACT])
def test_exact_hermite_matches_quadrature(name, params):
    """Exact a_k(q) == mpmath quadrature of E[phi(sqrt q z) h_k(z)] to 25 digits."""
    act = activation(name, **params)
    q = sympy.Rational(3, 2)
    with mpmath.workdps(30):
        s = mpmath.sqrt(mpmath.mpf(3) / 2)
        phi = sympy.lambdify(X, act.expr, "mpmath")
        for k in range(6):
            hk = lambda z, k=k: mpmath.hermite(k, z / mpmath.sqrt(2)) / (mpmath.sqrt(2) ** k * mpmath.sqrt(mpmath.factorial(k)))
            numeric = mpmath.quad(lambda z: phi(s * z) * hk(z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])
            exact = mpmath.mpf(str(sympy.N(act.hermite(k, q), 40)))
            assert abs(numeric - exact) < mpmath.mpf(10) ** -25, (k, numeric, exact)


@pytest.mark.parametrize("name,params", [e for e in EXACT if e[0] != "step"], ids=[n for n, _ in EXACT if n != "step"])
def test_closed_form_equals_series_unequal_variances(name, params):
    """M8: E[phi(u)phi(v)] == sum_k a_k(q1) a_k(q2) rho^k (series converges at |rho| < 1)."""
    act = activation(name, **params)
    q1, q2 = sympy.Rational(7, 10), sympy.Rational(13, 10)
    r = C / math.sqrt(Q1 * Q2)
    kmax = 80
    a1 = act.hermite_coefficients(kmax, q1)
    a2 = act.hermite_coefficients(kmax, q2)
    series = sum(float(sympy.N(u * v, 30)) * r**k for k, (u, v) in enumerate(zip(a1, a2)))
    # Tail: by Cauchy–Schwarz <= sqrt(tail1 * tail2) * |r|^(kmax+1) / ...; with |r| = 0.52
    # and bounded coefficients the omitted terms are < 1e-20; float rounding dominates.
    assert act.kernel(Q1, Q2, C) == pytest.approx(series, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("name,params", EXACT, ids=[n for n, _ in EXACT])
def test_dual_expr_equals_numeric_dual(name, params):
    act = activation(name, **params)
    expr = act.dual_expr(sympy.Rational(3, 2))
    fn = sympy.lambdify(RHO, expr, "mpmath")
    for r in (-0.9, -0.3, 0.0, 0.4, 0.95):
        assert float(fn(r)) == pytest.approx(float(act.dual(r, 1.5)), rel=1e-13, abs=1e-15)


# ----------------------------------------------------- independent 2-D oracles


@pytest.mark.slow
@pytest.mark.parametrize("name,params", ALL, ids=ids)
def test_kernel_matches_monte_carlo(name, params):
    """Kernel and derivative kernel within 5 standard errors of Monte-Carlo (10^6 pairs).

    5 SE leaves a two-sided false-alarm probability below 1e-6 per check.
    """
    act = activation(name, **params)
    mean, se = _mc(act, Q1, Q2, C)
    assert abs(float(act.kernel(Q1, Q2, C)) - mean) < 5 * se
    if name != "step":
        mean, se = _mc(act, Q1, Q2, C, derivative=True)
        assert abs(float(act.derivative_kernel(Q1, Q2, C)) - mean) < 5 * se


@pytest.mark.parametrize("name,params", [a for a in ALL if a[0] not in KINKED], ids=[n for n, _ in ALL if n not in KINKED])
def test_kernel_matches_gauss_hermite_2d(name, params):
    """Smooth activations: closed form / series == tensor Gauss–Hermite (96^2 nodes).

    The integrands are analytic in a strip (tanh: |Im z| < pi/2 / sqrt(q)), so the
    rule converges geometrically; at q <= 1.3 and 96 nodes the error is < 1e-9.
    exp/cos/sin are entire.  Equal variances use the Hermite series path.
    """
    act = activation(name, **params)
    for q1, q2, c in [(Q1, Q2, C), (1.0, 1.0, 0.3), (1.0, 1.0, -0.8)]:
        ref = bivariate_gaussian_expectation(act, act, q1, q2, c, n_nodes=160)
        assert act.kernel(q1, q2, c) == pytest.approx(ref, rel=1e-9, abs=1e-11)
        dref = bivariate_gaussian_expectation(act.derivative, act.derivative, q1, q2, c, n_nodes=160)
        assert act.derivative_kernel(q1, q2, c) == pytest.approx(dref, rel=1e-9, abs=1e-11)


@pytest.mark.parametrize("name,params", ALL, ids=ids)
def test_parseval_sum_of_squares_is_second_moment(name, params):
    """sum_k a_k^2 -> E[phi^2]: tail >= 0 (up to quadrature noise) and small at kmax = 60.

    E[phi^2] is computed independently (closed form or tanh-sinh quadrature).
    Kinked activations decay like a_k^2 ~ k^{-5/2} (ReLU family) or k^{-3/2} (step),
    so their tails at k = 60 are ~ 60^{-3/2} ~ 2e-3 and ~ 60^{-1/2}/... ~ 0.05.
    """
    act = activation(name, **params)
    with mpmath.workdps(20):
        series = act.dual_series(60)
        tail = float(sympy.N(series.tail)) if series.exact else float(series.tail)
        second = act.second_moment(1)
        second = float(sympy.N(second)) if isinstance(second, sympy.Basic) else float(second)
    assert tail > -1e-15 * max(1.0, abs(second))
    bound = {"step": 0.06, "relu": 3e-3, "leaky_relu": 3e-3, "abs": 1e-2}.get(name, 1e-9)
    assert tail < bound * max(1.0, abs(second))


def test_parseval_exact_for_polynomials():
    act = activation("polynomial", coeffs=[1, 2, 3, 4])
    series = act.dual_series(5, sympy.Rational(2, 3))
    assert series.tail == 0 and series.derivative_tail == 0


@pytest.mark.parametrize("name,params", [a for a in ALL if a[0] != "step"], ids=[n for n, _ in ALL if n != "step"])
def test_dual_derivative_is_derivative_of_dual(name, params):
    """M7: E[phi'(u)phi'(v)] = d/drho phi_hat(rho) / q, by central differences.

    Error of the 5-point stencil with h = 1e-3: O(h^4 f^(5)) ~ 1e-12 plus
    rounding ~ 1e-16 / h ~ 1e-13: tolerance 1e-8 is safe for |rho| <= 0.9.
    """
    act = activation(name, **params)
    q, h = 1.2, 1e-3
    for r in (-0.6, 0.1, 0.7):
        f = lambda s: float(act.dual(s, q))  # noqa: E731
        fd = (-f(r + 2 * h) + 8 * f(r + h) - 8 * f(r - h) + f(r - 2 * h)) / (12 * h)
        assert float(act.dual_derivative(r, q)) == pytest.approx(fd / q, rel=1e-8, abs=1e-10)


def test_step_derivative_dual_is_the_delta_correlation():
    """E[delta(u)delta(v)] = 1/(2 pi sqrt(q1 q2 - c^2)) = d/dc (pi - theta)/(2 pi)."""
    step = activation("step")
    assert step.derivative_kernel(2.0, 0.5, 0.6) == pytest.approx(1 / (2 * math.pi * math.sqrt(1 - 0.36)), rel=1e-14)
    assert np.isinf(step.dual_derivative(1.0))


def test_known_closed_forms_numerically():
    """MATH.md section 2 closed forms, evaluated independently here."""
    q1, q2, c = Q1, Q2, C
    th = math.acos(c / math.sqrt(q1 * q2))
    relu = math.sqrt(q1 * q2) / (2 * math.pi) * (math.sin(th) + (math.pi - th) * math.cos(th))
    assert activation("relu").kernel(q1, q2, c) == pytest.approx(relu, rel=1e-14)
    assert activation("step").kernel(q1, q2, c) == pytest.approx((math.pi - th) / (2 * math.pi), rel=1e-14)
    erf = 2 / math.pi * math.asin(2 * c / math.sqrt((1 + 2 * q1) * (1 + 2 * q2)))
    assert activation("erf").kernel(q1, q2, c) == pytest.approx(erf, rel=1e-14)
    assert activation("sin").kernel(q1, q2, c) == pytest.approx(math.exp(-(q1 + q2) / 2) * math.sinh(c), rel=1e-14)
    assert activation("cos").kernel(q1, q2, c) == pytest.approx(math.exp(-(q1 + q2) / 2) * math.cosh(c), rel=1e-14)
    assert activation("exp").kernel(q1, q2, c) == pytest.approx(math.exp((q1 + q2) / 2 + c), rel=1e-14)


def test_quadrature_activation_results_say_inexact():
    tanh = activation("tanh")
    assert not tanh.exact
    series = tanh.dual_series(4)
    assert not series.exact and series.dps == mpmath.mp.dps
    assert activation("relu").dual_series(4).exact


def test_user_expression_kinked_and_smooth():
    t = sympy.Symbol("t")
    kinked = activation(sympy.Max(t, 0))  # relu written by hand: quadrature split at 0
    relu = activation("relu")
    with mpmath.workdps(20):
        for k in range(5):
            assert float(kinked.hermite(k)) == pytest.approx(float(sympy.N(relu.hermite(k))), abs=1e-15)
    poly = activation(t**2 - 1)
    assert poly.exact and poly.dual_expr() == 2 * RHO**2
    cubic_tanh = activation(sympy.tanh(t) ** 3)
    assert float(cubic_tanh.dual(0.5)) == pytest.approx(
        bivariate_gaussian_expectation(cubic_tanh, cubic_tanh, 1.0, 1.0, 0.5, n_nodes=160), rel=1e-9
    )


# --------------------------------------------------------- hypothesis properties

SERIES_DEFINED = [activation(n, **p) for n, p in ALL if n not in ("tanh",)]  # tanh: slower to build


@settings(max_examples=60, deadline=None)
@given(
    idx=st.integers(0, len(SERIES_DEFINED) - 1),
    r1=st.floats(0, 1),
    r2=st.floats(0, 1),
    lam=st.floats(0, 1),
)
def test_dual_monotone_convex_bounded(idx, r1, r2, lam):
    """phi_hat = sum a_k^2 rho^k with a_k^2 >= 0: nondecreasing, convex on [0,1], |phi_hat| <= phi_hat(1)."""
    act = SERIES_DEFINED[idx]
    lo, hi = min(r1, r2), max(r1, r2)
    f = lambda r: float(act.dual(r))  # noqa: E731
    scale = abs(f(1.0)) + 1.0
    assert f(lo) <= f(hi) + 1e-12 * scale
    mid = lam * lo + (1 - lam) * hi
    assert f(mid) <= lam * f(lo) + (1 - lam) * f(hi) + 1e-12 * scale
    assert abs(f(-hi)) <= f(1.0) + 1e-12 * scale


@settings(max_examples=30, deadline=None)
@given(idx=st.integers(0, len(EXACT) - 1), q=st.fractions(min_value=0.1, max_value=5).filter(lambda v: v > 0))
def test_series_coefficients_nonnegative(idx, q):
    name, params = EXACT[idx]
    series = activation(name, **params).dual_series(10, q)
    assert all(sympy.N(c) >= -1e-30 for c in series.coefficients)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: activation("nope"), ValueError, "unknown activation 'nope'"),
        (lambda: activation("monomial", degree=-1), ValueError, "monomial degree must be >= 0"),
        (lambda: activation("monomial"), TypeError, "needs parameter"),
        (lambda: activation("relu", slope=2), TypeError, "takes no parameters"),
        (lambda: activation(sympy.exp(sympy.Symbol("t") ** 2)), ValueError, "not square-integrable"),
        (lambda: activation(1 / sympy.Symbol("t")), ValueError, "not defined and continuous"),
        (lambda: activation(sympy.Symbol("a") * sympy.Symbol("b")), ValueError, "one free symbol"),
        (lambda: activation("relu").dual(1.5), ValueError, r"rho must lie in \[-1, 1\]"),
        (lambda: activation("relu").dual(0.5, q=0), ValueError, "q must be > 0"),
        (lambda: activation("relu").dual(0.5, q=-1), ValueError, "q must be > 0"),
        (lambda: activation("relu").hermite(-1), ValueError, "k must be >= 0"),
        (lambda: activation("relu").hermite(1.5), TypeError, "must be an integer"),
        (lambda: activation("relu").kernel(1.0, 1.0, 2.0), ValueError, "Cauchy"),
        (lambda: activation("tanh").hermite(2, q=10), None, None),
        (lambda: activation(42), TypeError, "name or a sympy expression"),
    ],
)
def test_bad_input_errors(call, exc, match):
    if exc is None:
        call()  # control: a valid call must not raise
        return
    with pytest.raises(exc, match=match):
        call()


def test_l2_depends_on_variance():
    """exp(x^2/8) is in L2(N(0,q)) iff q < 2."""
    act = activation(sympy.exp(X**2 / 8))
    act.second_moment(1)
    with pytest.raises(ValueError, match="not square-integrable"):
        act.second_moment(3)


def test_quadrature_kernel_symmetric_and_accurate_at_large_unequal_variances():
    """tanh at (q1, q2) = (10, 9), c = 8.5: symmetric in (q1, q2) and within 1e-7 of a 340-node rule.

    The integrand's strip of analyticity narrows like 1/sqrt(q); the default node count
    grows with the variance (capped at 320), and the smaller variance sits on z1 alone.
    """
    tanh = activation("tanh")
    a = float(tanh.kernel(10.0, 9.0, 8.5))
    b = float(tanh.kernel(9.0, 10.0, 8.5))
    assert a == b
    ref = float(bivariate_gaussian_expectation(tanh, tanh, 9.0, 10.0, 8.5, n_nodes=340))
    assert a == pytest.approx(ref, rel=1e-7)
