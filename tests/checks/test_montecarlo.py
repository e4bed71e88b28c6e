"""Monte-Carlo eigenvalue estimates (eigencalc.checks.montecarlo) and the harmonics they use (M9, M10, M12, M14).

Special functions against exact sympy / mpmath references; slow-marked
statistical checks with fixed seeds and tolerances explained next to them.
Moved from test_numerics.py.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

from eigencalc import numerics as nm
from eigencalc.checks import montecarlo as mc_impl
from eigencalc.checks import verify as verify_impl
from eigencalc.architectures import Dense, Erf, Flatten, Relu, serial
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.spectra import spectrum
from tests.cases import POLY_DOMAIN, POLY_NET, POLY_R, _arch


# ----------------------------------------------------------------- harmonics


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_zonal_harmonic_is_the_normalised_gegenbauer(n):
    t = sympy.Symbol("t")
    s = np.linspace(-1, 1, 9)
    for k in range(6):
        # exact reference: C_k^alpha(t) / C_k^alpha(1), alpha = (n-2)/2 (Chebyshev T_k for n = 2), M9
        if n == 2:
            P = sympy.chebyshevt(k, t)
        else:
            C = sympy.gegenbauer(k, sympy.Rational(n - 2, 2), t)
            P = sympy.expand(C / C.subs(t, 1))
        mult = ProductSphere(1, n).patch_multiplicity(k)
        ref = [float(sympy.sqrt(mult) * P.subs(t, sympy.Rational(v).limit_denominator(8))) for v in s]
        np.testing.assert_allclose(nm.zonal_harmonic(k, n, s), ref, rtol=1e-13, atol=1e-13)
        # E[Y^2] = 1 for x uniform on S^{n-1}: <x, e> = cos(theta) has density prop. to
        # sin(theta)^(n-2) on [0, pi] (M10): a smooth integrand, mpmath quadrature at 30 digits.
        f = sympy.lambdify(t, P, "mpmath")
        with mpmath.workdps(30):
            w = lambda th: mpmath.sin(th) ** (n - 2)  # noqa: E731
            norm = mpmath.quad(lambda th: mult * f(mpmath.cos(th)) ** 2 * w(th), [0, mpmath.pi]) / mpmath.quad(w, [0, mpmath.pi])
            assert abs(norm - 1) < 1e-20
        assert float(nm.zonal_harmonic(k, n, 1.0)) == pytest.approx(math.sqrt(mult), rel=1e-14)


def test_addition_theorem_on_the_hypercube():
    # sum over |S| = k of chi_S(x) chi_S(y) = K_k(j) (Krawtchouk), j = #{c: x_c != y_c} (M12)
    n0 = 5
    rng = np.random.default_rng(6)
    x, y = rng.choice([-1.0, 1.0], (2, 40, n0))
    import itertools

    for k in range(n0 + 1):
        direct = sum(np.prod(x[:, list(S)] * y[:, list(S)], axis=1) for S in itertools.combinations(range(n0), k))
        j = (x != y).sum(axis=1)
        np.testing.assert_allclose(mc_impl._krawtchouk_ratio(k, n0, j) * math.comb(n0, k), direct, rtol=0, atol=1e-12)


# ----------------------------------------------------------------- Monte-Carlo (slow)


@pytest.mark.slow
@pytest.mark.parametrize("estimator,centre", [("zonal", False), ("addition", True)])
def test_monte_carlo_eigenvalues_on_product_sphere_exact_network(estimator, centre):
    spec = spectrum(POLY_NET, POLY_DOMAIN, "ntk", 3)
    assert spec.exact
    for i, r in enumerate(POLY_R):
        est = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, r, 100_000, seed=10 + i, kind="ntk", estimator=estimator, centre=centre)
        value = float(spec.eigenvalue(r))
        assert spec.error_bound(r) == 0
        # Unbiased estimator, CLT with n = 1e5: |z| > 4 has probability 6e-5 per check
        # (fixed seeds make the outcome deterministic).
        assert abs(est.value - value) <= 4 * est.stderr, (r, est, value)
        # Not vacuous: the standard error resolves the eigenvalue scale (K(1) ~ 37 here).
        assert est.stderr < (0.03 if estimator == "zonal" else 0.01) * float(spec.total())


@pytest.mark.slow
def test_monte_carlo_eigenvalues_erf_network_with_tight_bounds():
    net = serial(Flatten(), Dense(), Erf(), Dense(1.3, 0.2), Erf(), Dense())
    dom = ProductSphere(2, 3)
    spec = spectrum(net, dom, "ntk", 3)
    for i, r in enumerate([(0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3)]):
        est = nm.monte_carlo_eigenvalue(net, dom, r, 100_000, seed=100 + i, kind="ntk", estimator="addition", centre=True)
        bound = float(spec.error_bound(r))
        # The truncation bound (M16) must be negligible next to the statistical error, else the
        # comparison would test the truncation and not the estimator.
        assert bound < 0.01 * est.stderr
        assert abs(est.value - float(spec.eigenvalue(r))) <= 4 * est.stderr + bound


@pytest.mark.slow
def test_monte_carlo_on_hypercube_against_fwht():
    net = _arch("tree_cnn", Erf)
    dom = ProductHypercube(4, 3)
    lam = nm.hypercube_spectrum(net, 4, "nngp", n0=3)
    for i, r in enumerate([(0, 0, 0, 0), (1, 0, 0, 0), (0, 2, 0, 0), (1, 1, 0, 0), (0, 0, 1, 2)]):
        exact = lam[verify_impl._walsh_mask(r, 3)]
        for estimator in ("zonal", "addition"):
            est = nm.monte_carlo_eigenvalue(net, dom, r, 50_000, seed=i, kind="nngp", estimator=estimator)
            assert abs(est.value - exact) <= 4 * est.stderr, (r, estimator, est, exact)


def test_monte_carlo_input_errors():
    net = POLY_NET
    with pytest.raises(ValueError, match="length d = 4"):
        nm.monte_carlo_eigenvalue(net, POLY_DOMAIN, (1, 0), 100)
    with pytest.raises(ValueError, match="degree 2 > n0 = 1"):
        nm.monte_carlo_eigenvalue(_arch("tree_cnn", Relu), ProductHypercube(4, 1), (2, 0, 0, 0), 100)
    with pytest.raises(ValueError, match="n_samples"):
        nm.monte_carlo_eigenvalue(net, POLY_DOMAIN, (0, 0, 0, 0), 1)
    with pytest.raises(ValueError, match="estimator"):
        nm.monte_carlo_eigenvalue(net, POLY_DOMAIN, (0, 0, 0, 0), 100, estimator="funk")


def test_monte_carlo_is_reproducible():
    a = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, (0, 0, 1, 1), 3000, seed=7, centre=True)
    b = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, (0, 0, 1, 1), 3000, seed=7, centre=True)
    c = nm.monte_carlo_eigenvalue(POLY_NET, POLY_DOMAIN, (0, 0, 1, 1), 3000, seed=8, centre=True)
    assert (a.value, a.stderr, a.centre) == (b.value, b.stderr, b.centre)
    assert a.value != c.value and a.centre != 0.0
