"""Tests for eigencalc.spheres (MATH.md M9-M11).

Tiers: exact identities and error paths; high-precision references (M11 vs
quadrature, closed forms, an independent tanh-sinh integration); slow checks
of the Mercer expansion of ReLU kernels.  hypothesis checks PSD and trace laws.
"""

import math
import warnings

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from eigencalc.spheres import (
    QuadratureWarning,
    SphereSpectrum,
    gegenbauer_normalized,
    gegenbauer_normalized_all,
    sphere_area_ratio,
    sphere_eigenvalues,
    sphere_multiplicity,
)

t = sympy.Symbol("t")

from tests.oracles import relu_kernels


def mp(x):
    return mpmath.mpf(sympy.N(x, mpmath.mp.dps + 10))


def sphere_moment(m, n):
    """c_n int t^m (1-t^2)^((n-3)/2) dt by the Beta integral (even m; odd m give 0)."""
    if m % 2:
        return sympy.Integer(0)
    b = sympy.Rational(n - 3, 2)
    return sphere_area_ratio(n) * sympy.gamma(sympy.Rational(m + 1, 2)) * sympy.gamma(b + 1) / sympy.gamma(sympy.Rational(m + 1, 2) + b + 1)


def funk_hecke_by_moments(f, n, k):
    """M10 for a polynomial f: expand f P_k into monomials, integrate each by a Beta integral."""
    poly = sympy.Poly(sympy.expand(f * gegenbauer_normalized(k, n, t)), t)
    return sympy.simplify(sum(c * sphere_moment(m, n) for (m,), c in poly.terms()))


# --------------------------------------------------------------------------
# M9: multiplicities and normalised Gegenbauer polynomials (exact)
# --------------------------------------------------------------------------


def test_multiplicity_small_cases():
    assert [sphere_multiplicity(2, k) for k in range(5)] == [1, 2, 2, 2, 2]
    assert [sphere_multiplicity(3, k) for k in range(6)] == [2 * k + 1 for k in range(6)]
    assert [sphere_multiplicity(4, k) for k in range(6)] == [(k + 1) ** 2 for k in range(6)]
    assert isinstance(sphere_multiplicity(10, 1000), int)


@pytest.mark.parametrize("n", [2, 3, 4, 7, 12])
def test_multiplicity_counts_harmonic_polynomials(n):
    # homogeneous harmonic polynomials of degree k: C(n+k-1, n-1) - C(n+k-3, n-1)
    for k in range(0, 40):
        expected = math.comb(n + k - 1, n - 1) - (math.comb(n + k - 3, n - 1) if k >= 2 else 0)
        assert sphere_multiplicity(n, k) == expected


def test_area_ratio_normalises_weight():
    for n in range(2, 9):
        w = (1 - t**2) ** sympy.Rational(n - 3, 2)
        assert sympy.simplify(sphere_area_ratio(n) * sympy.integrate(w, (t, -1, 1)) - 1) == 0


@pytest.mark.parametrize("n", [3, 4, 5, 6, 9])
def test_gegenbauer_matches_sympy(n):
    x = sympy.Symbol("x")
    lam = sympy.Rational(n - 2, 2)
    P = gegenbauer_normalized_all(8, n, x)
    for k in range(9):
        ref = sympy.gegenbauer(k, lam, x) / sympy.gegenbauer(k, lam, 1)
        assert sympy.expand(P[k] - ref) == 0


def test_gegenbauer_n2_is_chebyshev_and_symmetries():
    x = sympy.Symbol("x")
    P = gegenbauer_normalized_all(7, 2, x)
    assert all(sympy.expand(P[k] - sympy.chebyshevt(k, x)) == 0 for k in range(8))
    for n in (2, 3, 7):
        for k in range(12):
            assert gegenbauer_normalized(k, n, 1) == 1
            q = sympy.Rational(3, 7)
            assert gegenbauer_normalized(k, n, -q) == (-1) ** k * gegenbauer_normalized(k, n, q)


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_gegenbauer_orthogonality_exact(n):
    # c_n int P_j P_k w = delta_jk / N(n, k)  (M10 applied to P_k itself), via Beta moments
    P = gegenbauer_normalized_all(6, n, t)
    for j in range(7):
        for k in range(j, 7):
            poly = sympy.Poly(sympy.expand(P[j] * P[k]), t)
            val = sympy.simplify(sum(c * sphere_moment(m, n) for (m,), c in poly.terms()))
            assert val == (sympy.Rational(1, sphere_multiplicity(n, k)) if j == k else 0)


def test_gegenbauer_stable_at_degree_1000():
    # float64 recurrence vs 40-digit mpmath recurrence: forward recurrence is stable
    # on [-1, 1]; the error stays ~ k * eps ~ 1e-13
    xs = np.linspace(-1, 1, 41)
    F = gegenbauer_normalized(1000, 10, xs)
    with mpmath.workdps(40):
        ref = [gegenbauer_normalized(1000, 10, mpmath.mpf(float(v))) for v in xs]
    assert np.max(np.abs(F - np.array([float(r) for r in ref]))) < 1e-12
    assert abs(F[-1] - 1.0) < 1e-12 and np.all(np.abs(F) <= 1 + 1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n"):
        sphere_multiplicity(1, 2)
    with pytest.raises(TypeError):
        sphere_multiplicity(2.5, 2)
    with pytest.raises(TypeError):
        sphere_multiplicity(True, 2)
    with pytest.raises(TypeError):
        sphere_multiplicity("3", 2)
    with pytest.raises(ValueError, match="k"):
        sphere_multiplicity(3, -1)
    with pytest.raises(ValueError, match="kmax"):
        sphere_eigenvalues(t**2, 3, -1)
    with pytest.raises(ValueError, match="n"):
        sphere_eigenvalues(t**2, 1, 3)
    with pytest.raises(TypeError):
        sphere_eigenvalues(t**2, 3.0, 3)
    with pytest.raises(ValueError, match="not finite"):
        sphere_eigenvalues(1 / (1 - t), 3, 3)
    with pytest.raises(ValueError, match="not finite"):
        sphere_eigenvalues(sympy.log(1 + t), 3, 3)
    with pytest.raises(ValueError, match="not real"):
        sphere_eigenvalues(sympy.sqrt(t), 3, 3)
    with pytest.raises(ValueError, match="not finite"):
        sphere_eigenvalues(lambda x: 1 / x, 3, 3)
    with pytest.raises(ValueError, match="one symbol"):
        sphere_eigenvalues(t * sympy.Symbol("u"), 3, 3)
    with pytest.raises(TypeError):
        sphere_eigenvalues("t**2", 3, 3)
    with pytest.raises(ValueError, match="method"):
        sphere_eigenvalues(t**2, 3, 3, method="gauss")
    with pytest.raises(ValueError, match="polynomial"):
        sphere_eigenvalues(sympy.exp(t), 3, 3, method="exact")


# --------------------------------------------------------------------------
# M10/M11: exact engine
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10])
def test_exact_mercer_is_a_polynomial_identity(n):
    f = 3 * t**7 - t**4 / 5 + sympy.Rational(2, 3) * t + 1
    S = sphere_eigenvalues(f, n, 9)
    assert S.exact and S.method == "exact-M11"
    assert all(S.eigenvalues[k] == 0 for k in (8, 9))
    assert S.trace() == f.subs(t, 1)
    assert sympy.expand(S.reconstruct(t) - f) == 0


@pytest.mark.parametrize("n", [3, 5])
def test_exact_matches_symbolic_funk_hecke(n):
    # M10 integrated by sympy (polynomial weight for odd n), independent of the M11 formula
    f = t**6 + 2 * t**3 - t**2
    S = sphere_eigenvalues(f, n, 6)
    w = (1 - t**2) ** sympy.Rational(n - 3, 2)
    for k in range(7):
        ref = sphere_area_ratio(n) * sympy.integrate(f * gegenbauer_normalized(k, n, t) * w, (t, -1, 1))
        assert sympy.simplify(ref - S.eigenvalues[k]) == 0


@pytest.mark.parametrize("n", [2, 4, 6, 11])
def test_exact_matches_moment_funk_hecke(n):
    # M10 via f * P_k expanded in monomials and Beta-function moments (any n)
    f = t**9 - t**6 / 3 + 2 * t**3 - t**2 + 1
    S = sphere_eigenvalues(f, n, 10)
    for k in range(11):
        assert sympy.simplify(funk_hecke_by_moments(f, n, k) - S.eigenvalues[k]) == 0


def test_exact_with_symbolic_coefficients_and_constants():
    S = sphere_eigenvalues(t**2 / sympy.pi + sympy.sqrt(2), 3, 3)
    assert S.exact
    assert sympy.simplify(S.eigenvalues[0] - (1 / (3 * sympy.pi) + sympy.sqrt(2))) == 0
    C = sphere_eigenvalues(sympy.Integer(5), 4, 2)
    assert C.eigenvalues == [5, 0, 0]
    F = sphere_eigenvalues(0.5 * t**2, 3, 2)
    assert not F.exact and F.method == "exact-M11"


def test_large_degree_monomial_asymptotics():
    # M11: mu_k(t^k) ~ k! n^-k for large n (ratio -> 1 as n grows)
    k = 4
    r = [sphere_eigenvalues(t**k, n, k).eigenvalues[k] / (sympy.factorial(k) * sympy.Integer(n) ** -k) for n in (10, 100, 10000)]
    assert abs(float(r[-1]) - 1) < 2e-3 and float(r[0]) < float(r[1]) < float(r[2]) < 1


# --------------------------------------------------------------------------
# Quadrature engine: high-precision references
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_quadrature_equals_exact_to_25_digits(n):
    f = t**12 - 3 * t**9 + t**4 / 7 + t - 2
    E = sphere_eigenvalues(f, n, 14)
    with mpmath.workdps(40):
        Q = sphere_eigenvalues(f, n, 14, method="quadrature")
        assert Q.method == "quadrature" and not Q.exact and Q.dps == 40
        for k in range(15):
            ref = mp(E.eigenvalues[k])
            err = abs(Q.eigenvalues[k] - ref)
            # acceptance asks 25 digits; the engine aims at 40 and its estimate must bound the error
            assert err <= mpmath.mpf(10) ** -25 * max(abs(ref), 1)
            assert err <= Q.error_estimate[k] + mpmath.mpf(10) ** -39 * max(abs(ref), mpmath.mpf(10) ** -40)
    assert mpmath.mp.dps == 15  # precision restored


@pytest.mark.parametrize("n", [2, 3, 6, 9])
def test_quadrature_exponential_kernel_bessel(n):
    # e^t on S^{n-1}: mu_k = Gamma(n/2) 2^{n/2-1} I_{k+n/2-1}(1)  (Funk-Hecke of the plane wave)
    with mpmath.workdps(30):
        Q = sphere_eigenvalues(sympy.exp(t), n, 25)
        for k in range(26):
            ref = mpmath.gamma(mpmath.mpf(n) / 2) * mpmath.mpf(2) ** (mpmath.mpf(n) / 2 - 1) * mpmath.besseli(k + mpmath.mpf(n) / 2 - 1, 1)
            assert abs(Q.eigenvalues[k] / ref - 1) < mpmath.mpf(10) ** -28
        assert abs(Q.trace() - mpmath.e) < mpmath.mpf(10) ** -28


@pytest.mark.slow
@pytest.mark.parametrize("n", [3, 4])
def test_quadrature_relu_vs_tanh_sinh_in_t(n):
    # independent engine: mpmath.quad (tanh-sinh in t, handles the (1-t)^(1/2) endpoints)
    nngp, ntk = relu_kernels(2)
    with mpmath.workdps(25):
        Q = sphere_eigenvalues(ntk, n, 12)
        g = sympy.lambdify(t, ntk, "mpmath")
        cn = mp(sphere_area_ratio(n))
        for k in (0, 1, 2, 5, 12):
            ref = cn * mpmath.quad(lambda x: g(x) * gegenbauer_normalized(k, n, x) * (1 - x * x) ** (mpmath.mpf(n - 3) / 2), [-1, 0, 1])
            assert abs(Q.eigenvalues[k] - ref) < mpmath.mpf(10) ** -20 * abs(ref)


def test_callables_mpmath_and_float():
    with mpmath.workdps(30):
        A = sphere_eigenvalues(lambda x: mpmath.exp(x), 3, 8)
        assert not A.notes
        with pytest.warns(QuadratureWarning, match="float64"):
            B = sphere_eigenvalues(lambda x: np.exp(x), 3, 8)
        assert B.notes
        for a, b, e in zip(A.eigenvalues, B.eigenvalues, B.error_estimate):
            # float64 values of f: absolute error ~ 1e-16 * int|f|, and the estimate covers it
            assert abs(a - b) < 1e-14 and abs(a - b) <= e
        assert max(B.error_estimate) > 1e-17


def test_fixed_nodes_and_underresolved_warning():
    nngp, ntk = relu_kernels(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S = sphere_eigenvalues(ntk, 3, 60, nodes=200)
    assert S.nodes == 200
    # 30 nodes cannot resolve degree 60: the difference of the rules is large and is reported
    with pytest.warns(QuadratureWarning, match="not met with nodes=30"):
        T = sphere_eigenvalues(ntk, 3, 60, nodes=30)
    assert max(T.error_estimate) > 1e-6 and T.notes


# --------------------------------------------------------------------------
# Mercer expansion and trace of ReLU kernels (slow)
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("n,depth", [(3, 2), (5, 3), (10, 2)])
def test_relu_trace_and_mercer_partial_sums(n, depth):
    nngp, ntk = relu_kernels(depth)
    K = 300
    for f, p in ((ntk, n), (nngp, n + 2)):
        S = sphere_eigenvalues(f, n, K)
        assert all(m > -e for m, e in zip(S.eigenvalues, S.error_estimate))  # PSD
        f1 = mp(f.subs(t, 1))
        tail = f1 - S.trace()
        # the tail sum_{k>K} mu_k N(n,k) ~ sum C k^-p * 2 k^(n-2)/(n-2)! ~ K^-(p-n+1): positive and small
        assert 0 < tail < 50 * mpmath.mpf(K) ** -(p - n + 1) * f1
        # |f(t) - S_K(t)| <= sum_{k>K} mu_k N |P_k(t)| <= tail, since mu_k >= 0 and |P_k| <= 1
        g = sympy.lambdify(t, f, "mpmath")
        for x in ("-1", "-0.6", "0", "0.37", "0.95", "1"):
            x = mpmath.mpf(x)
            assert abs(g(x) - S.reconstruct(x)) <= tail * (1 + mpmath.mpf(10) ** -10)


@pytest.mark.slow
def test_degree_1000_runs():
    nngp, ntk = relu_kernels(2)
    with mpmath.workdps(12):
        S = sphere_eigenvalues(ntk, 3, 1000)
    assert len(S.eigenvalues) == 1001 and S.nodes >= 1000
    # k^3 mu_k is flat at the top end (decay exponent n = 3)
    r = S.eigenvalues[1000] * 1000**3 / (S.eigenvalues[998] * 998**3)
    assert abs(r - 1) < 1e-2


def test_reconstruct_numpy_and_spectrum_fields():
    S = sphere_eigenvalues(sympy.exp(t), 4, 30)
    assert isinstance(S, SphereSpectrum) and S.kmax == 30 and S.multiplicities[2] == 9
    xs = np.linspace(-1, 1, 9)
    assert np.max(np.abs(S.reconstruct(xs) - np.exp(xs))) < 1e-13
    assert all(isinstance(v, mpmath.mpf) for v in S.numeric())


# --------------------------------------------------------------------------
# hypothesis: PSD and trace laws
# --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    coeffs=st.lists(st.fractions(min_value=0, max_value=10, max_denominator=50), min_size=1, max_size=9),
    n=st.integers(min_value=2, max_value=12),
)
def test_psd_power_series_exact(coeffs, n):
    # Schoenberg: nonnegative power-series coefficients => PSD on every sphere
    f = sum(sympy.Rational(c.numerator, c.denominator) * t**a for a, c in enumerate(coeffs))
    S = sphere_eigenvalues(f, n, len(coeffs) + 1)
    assert all(m >= 0 for m in S.eigenvalues)
    assert S.trace() == sympy.sympify(f).subs(t, 1)


@settings(max_examples=12, deadline=None)
@given(
    a=st.floats(min_value=0, max_value=3),
    b=st.floats(min_value=0, max_value=3),
    c=st.integers(min_value=0, max_value=4),
    n=st.integers(min_value=2, max_value=8),
)
def test_psd_smooth_kernels_quadrature(a, b, c, n):
    # cosh, sinh(2t) + t^c... : nonnegative Taylor coefficients, fast-decaying spectrum
    f = sympy.nsimplify(a) * sympy.cosh(t) + sympy.nsimplify(b) * sympy.exp(2 * t) + t**c
    with mpmath.workdps(20):
        S = sphere_eigenvalues(f, n, 40)
        assert all(m >= -e for m, e in zip(S.eigenvalues, S.error_estimate))
        # mu_40 N(n,40) is below 1e-40 here, so the truncated trace is f(1) to the precision
        assert abs(S.trace() - mp(f.subs(t, 1))) < mpmath.mpf(10) ** -18 * mp(f.subs(t, 1))
