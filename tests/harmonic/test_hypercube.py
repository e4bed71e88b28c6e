"""Tests for eigencalc.hypercube (MATH.md M12).

Oracles: the explicit 2^n x 2^n Gram matrix (numpy eigvalsh) for n <= 10,
brute-force Krawtchouk sums and generating functions, and the peer module
eigencalc.domains for monomials.
"""

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from eigencalc.hypercube import HypercubeSpectrum, hypercube_eigenvalues, hypercube_multiplicity, krawtchouk

t = sympy.Symbol("t")

from tests.oracles import relu_kernels


def relu_ntk(depth):
    return relu_kernels(depth)[1]


def gram_spectrum(f_np, n):
    """Eigenvalues of the integral operator: eigvalsh(K) / 2^n, K_xy = f(<x,y>/n) over all of {-1,1}^n."""
    X = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
    K = f_np(X @ X.T / n)
    return np.sort(np.linalg.eigvalsh(K) / 2**n)


def expanded(spectrum):
    vals = []
    for mu, m in zip(spectrum.eigenvalues, spectrum.multiplicities):
        vals += [float(sympy.N(mu, 20)) if isinstance(mu, sympy.Basic) else float(mu)] * m
    return np.sort(np.array(vals))


# --------------------------------------------------------------------------
# Krawtchouk polynomials and multiplicities (exact)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_krawtchouk_definition_and_generating_function(n):
    z = sympy.Symbol("z")
    for j in range(n + 1):
        gen = sympy.Poly(sympy.expand((1 - z) ** j * (1 + z) ** (n - j)), z)
        for k in range(n + 2):
            brute = sum((-1) ** i * math.comb(j, i) * math.comb(n - j, k - i) for i in range(k + 1))
            assert krawtchouk(k, j, n) == brute == gen.coeff_monomial(z**k)


def test_krawtchouk_is_a_walsh_sum():
    # K_k(j) = sum over |S| = k of chi_S(x) for x with j minus signs
    n = 6
    for j in range(n + 1):
        x = [-1] * j + [1] * (n - j)
        for k in range(n + 1):
            assert krawtchouk(k, j, n) == sum(math.prod(x[i] for i in S) for S in itertools.combinations(range(n), k))


def test_multiplicity():
    assert [hypercube_multiplicity(5, k) for k in range(6)] == [1, 5, 10, 10, 5, 1]
    assert hypercube_multiplicity(5, 7) == 0


def test_bad_arguments():
    with pytest.raises(ValueError):
        hypercube_multiplicity(0, 0)
    with pytest.raises(TypeError):
        hypercube_multiplicity(2.0, 1)
    with pytest.raises(ValueError):
        krawtchouk(1, 5, 4)
    with pytest.raises(ValueError):
        krawtchouk(-1, 0, 4)
    with pytest.raises(ValueError):
        hypercube_eigenvalues(t, -3)
    with pytest.raises(TypeError):
        hypercube_eigenvalues(t, 2.5)
    with pytest.raises(ValueError, match="not finite"):
        hypercube_eigenvalues(1 / t, 4)  # t = 0 is one of the correlations for even n
    with pytest.raises(ValueError, match="not real"):
        hypercube_eigenvalues(sympy.sqrt(t), 3)
    with pytest.raises(ValueError, match="one symbol"):
        hypercube_eigenvalues(t * sympy.Symbol("u"), 3)
    with pytest.raises(TypeError):
        hypercube_eigenvalues([1, 2], 3)
    H = hypercube_eigenvalues(t**2, 4)
    with pytest.raises(ValueError):
        H.reconstruct(sympy.Rational(1, 3))


# --------------------------------------------------------------------------
# Eigenvalues: exact identities and the Gram-matrix oracle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_gram_matrix_polynomial_exact(n):
    f = t**3 / 2 + t**2 + sympy.Rational(1, 3)
    H = hypercube_eigenvalues(f, n)
    assert H.exact and all(isinstance(m, sympy.Rational) for m in H.eigenvalues)
    G = gram_spectrum(lambda x: x**3 / 2 + x**2 + 1 / 3, n)
    # float64 eigvalsh of a 2^n matrix with O(1) entries: error ~ 2^n * 1e-16 relative to the norm
    assert np.max(np.abs(expanded(H) - G)) < 1e-12


@pytest.mark.parametrize("n", [2, 5, 8, 10])
def test_gram_matrix_transcendental_kernels(n):
    H = hypercube_eigenvalues(sympy.exp(t), n)
    assert H.exact  # exp(1 - 2j/n) are exact sympy numbers
    assert np.max(np.abs(expanded(H) - gram_spectrum(np.exp, n))) < 1e-12
    ntk = relu_ntk(2)
    H2 = hypercube_eigenvalues(ntk, n)
    g = sympy.lambdify(t, ntk, "numpy")
    G2 = gram_spectrum(lambda x: g(np.clip(x, -1, 1)), n)
    assert np.max(np.abs(expanded(H2) - G2)) < 1e-11
    assert min(float(sympy.N(m)) for m in H2.eigenvalues) > -1e-15  # PSD


def test_trace_and_reconstruction_exact():
    n = 9
    f = sympy.Rational(1, 7) * t**5 - t**3 + 2
    H = hypercube_eigenvalues(f, n)
    assert H.trace() == f.subs(t, 1)
    for j in range(n + 1):
        x = sympy.Rational(n - 2 * j, n)
        assert H.reconstruct(x) == f.subs(t, x)


def test_monomials_agree_with_domains_module():
    from eigencalc.domains import hypercube_monomial_eigenvalue

    for n in (3, 6):
        for a in range(7):
            H = hypercube_eigenvalues(t**a, n)
            assert [Fraction(int(m.p), int(m.q)) for m in H.eigenvalues] == [hypercube_monomial_eigenvalue(k, a, n) for k in range(n + 1)]


def test_callables_exact_mpmath_float():
    n = 6
    exact = hypercube_eigenvalues(lambda x: Fraction(1, 3) + x**2, n)
    # mu_0 = 1/3 + E[t^2] = 1/3 + 1/n
    assert exact.exact and exact.method == "exact-M12" and exact.eigenvalues[0] == sympy.Rational(1, 2)
    assert exact.trace() == sympy.Rational(4, 3)
    with mpmath.workdps(30):
        mpv = hypercube_eigenvalues(lambda x: mpmath.exp(x), n)
        assert mpv.method == "mpmath-M12" and not mpv.exact
        flt = hypercube_eigenvalues(lambda x: math.exp(x), n)
        assert flt.method == "float64-M12"
        ref = hypercube_eigenvalues(sympy.exp(t), n)
        for k in range(n + 1):
            r = mpmath.mpf(sympy.N(ref.eigenvalues[k], 40))
            assert abs(mpv.eigenvalues[k] - r) < mpmath.mpf(10) ** -28
            # float64 inputs: the error estimate eps * sum |terms| must cover the true error
            assert abs(flt.eigenvalues[k] - r) <= flt.error_estimate[k]
        assert abs(mpv.trace() - mpmath.e) < mpmath.mpf(10) ** -28


def test_large_n_cancellation_handled():
    # mu_k of e^t on {-1,1}^n falls like n^-k and the Krawtchouk sums cancel heavily: mpmath
    # values are recomputed with enough digits for dps significant digits (or 10^-2dps absolute)
    n = 30
    E = hypercube_eigenvalues(sympy.exp(t), n)
    with mpmath.workdps(30):
        H = hypercube_eigenvalues(lambda x: mpmath.exp(x), n)
        top = mpmath.mpf(sympy.N(E.eigenvalues[n], 40))
        assert 0 < top < 1e-35
        assert abs(H.eigenvalues[n] / top - 1) < mpmath.mpf(10) ** -25
        for k in range(n + 1):
            r = mpmath.mpf(sympy.N(E.eigenvalues[k], 40))
            # goal: 30 significant digits, or 1e-60 * (sum of |terms| <= 1) absolutely
            assert abs(H.eigenvalues[k] - r) <= H.error_estimate[k] <= mpmath.mpf(10) ** -29 * r + mpmath.mpf(10) ** -59
        # float64 values cannot resolve mu_30: the estimate says so instead
        F = hypercube_eigenvalues(lambda x: math.exp(x), n)
        assert abs(F.eigenvalues[n] - top) <= F.error_estimate[n] and F.error_estimate[n] > 1e3 * top
    assert isinstance(H, HypercubeSpectrum)


@settings(max_examples=40, deadline=None)
@given(
    coeffs=st.lists(st.fractions(min_value=0, max_value=5, max_denominator=20), min_size=1, max_size=8),
    n=st.integers(min_value=1, max_value=14),
)
def test_psd_power_series(coeffs, n):
    # <x,y>^a / n^a is a Schur power of a PSD Gram matrix: nonnegative coefficients => mu_k >= 0 exactly
    f = sum(sympy.Rational(c.numerator, c.denominator) * t**a for a, c in enumerate(coeffs))
    H = hypercube_eigenvalues(f, n)
    assert all(m >= 0 for m in H.eigenvalues)
    assert H.trace() == sympy.sympify(f).subs(t, 1)
