"""Tests for eigencalc.decay (MATH.md M13; Bietti & Bach, arXiv:2009.14397).

Oracles: M11 (integer powers), sympy integration and the quadrature engine of
eigencalc.spheres for the exact Funk-Hecke coefficient of (1-t)^nu;
sympy.series for the endpoint expansions; quadrature eigenvalues at k in the
hundreds for the decay law of ReLU NNGP/NTK kernels of depths 2..5.
"""

import mpmath
import pytest
import sympy

from eigencalc.decay import DecayLaw, decay, funk_hecke_power, puiseux_endpoint
from eigencalc.spheres import gegenbauer_normalized, sphere_eigenvalues

t = sympy.Symbol("t")

from tests.oracles import relu_kernels
s = sympy.Symbol("s", positive=True)


# --------------------------------------------------------------------------
# Exact Funk-Hecke coefficient of (1 - t)^nu
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_funk_hecke_power_integer_nu_is_m11(n):
    for nu in range(0, 6):
        S = sphere_eigenvalues((1 - t) ** nu, n, nu + 2)
        assert [funk_hecke_power(k, n, nu) for k in range(nu + 3)] == S.eigenvalues


def test_funk_hecke_power_half_integer_symbolic():
    # n = 3: mu_k = (1/2) int (1-t)^nu P_k(t) dt, integrated by sympy
    for nu in (sympy.Rational(1, 2), sympy.Rational(3, 2)):
        for k in range(4):
            ref = sympy.integrate((1 - t) ** nu * gegenbauer_normalized(k, 3, t), (t, -1, 1)) / 2
            assert sympy.simplify(ref - funk_hecke_power(k, 3, nu)) == 0


@pytest.mark.parametrize("n", [3, 4, 6])
def test_funk_hecke_power_vs_quadrature(n):
    nu = sympy.Rational(1, 2)
    with mpmath.workdps(30):
        Q = sphere_eigenvalues(sympy.sqrt(1 - t), n, 60)
        for k in (0, 1, 7, 30, 60):
            ref = mpmath.mpf(sympy.N(funk_hecke_power(k, n, nu), 40))
            assert abs(Q.eigenvalues[k] / ref - 1) < mpmath.mpf(10) ** -25


@pytest.mark.parametrize("n", [3, 4])
def test_funk_hecke_power_vs_quadrature_general_nu(n):
    # theta^(2 nu) endpoints with 2 nu not an integer: the quadrature switches to its
    # endpoint-clustering map and must still reach the requested 20 digits
    a, b = sympy.Rational(1, 3), sympy.Rational(7, 5)
    with mpmath.workdps(20):
        Q = sphere_eigenvalues((1 - t) ** a + (1 + t) ** b, n, 40)
        assert any("clustering" in note for note in Q.notes)
        for k in (0, 3, 40):
            ref = mpmath.mpf(sympy.N(funk_hecke_power(k, n, a) + (-1) ** k * funk_hecke_power(k, n, b), 40))
            assert abs(Q.eigenvalues[k] / ref - 1) < mpmath.mpf(10) ** -19
            assert abs(Q.eigenvalues[k] - ref) <= Q.error_estimate[k] + mpmath.mpf(10) ** -20 * abs(ref)


def test_funk_hecke_power_errors():
    with pytest.raises(ValueError):
        funk_hecke_power(2, 3, -1)
    with pytest.raises(ValueError):
        funk_hecke_power(-1, 3, sympy.Rational(1, 2))
    with pytest.raises(ValueError):
        funk_hecke_power(1, 1, sympy.Rational(1, 2))


# --------------------------------------------------------------------------
# Puiseux expansions at the endpoints
# --------------------------------------------------------------------------


ENDPOINT_CASES = [
    sympy.acos(t),
    sympy.asin(t) * sympy.exp(t),
    t * sympy.sqrt(1 - t**2),
    (1 - t) ** sympy.Rational(5, 3) + sympy.cos(t),
]


@pytest.mark.parametrize("f", ENDPOINT_CASES)
@pytest.mark.parametrize("endpoint", [1, -1])
def test_puiseux_matches_sympy_series(f, endpoint):
    order = 3
    mine = sum(c * s**e for e, c in puiseux_endpoint(f, endpoint, order))
    g = f.subs(t, endpoint * (1 - s))
    ref = sympy.series(g, s, 0, order).removeO()
    assert sympy.simplify(sympy.expand(mine - ref)) == 0


def test_puiseux_arc_cosine_kernel():
    nngp, _ = relu_kernels(1)
    ref = sympy.series(nngp.subs(t, 1 - s), s, 0, 3).removeO()
    mine = sum(c * s**e for e, c in puiseux_endpoint(nngp, 1, 3))
    assert sympy.simplify(sympy.expand(mine - ref)) == 0
    # k1(1 - s) = 1 - s + (2 sqrt(2)/(3 pi)) s^(3/2) + ...
    assert dict(puiseux_endpoint(nngp, 1, 2))[sympy.Rational(3, 2)] == 2 * sympy.sqrt(2) / (3 * sympy.pi)


def test_puiseux_errors():
    with pytest.raises(ValueError):
        puiseux_endpoint(t, 0)
    with pytest.raises(NotImplementedError):
        puiseux_endpoint(sympy.Abs(t) * sympy.sqrt(1 - t), 1)
    with pytest.raises(NotImplementedError, match="logarithmic"):
        puiseux_endpoint((1 - t) ** 2 * sympy.log(1 - t), 1)


# --------------------------------------------------------------------------
# Decay laws
# --------------------------------------------------------------------------


def test_decay_pure_power_constant():
    # f = (1-t)^(1/2): C = Gamma(n/2) 2^(nu+n-2) Gamma(nu+(n-1)/2) / (sqrt(pi) Gamma(-nu)), checked
    # against the exact coefficient mu_k = C Gamma(k-nu)/Gamma(k+nu+n-1) * Gamma(-nu)/... :
    # with kappa = k + (n-2)/2, Gamma(k-nu)/Gamma(k+nu+n-1) = kappa^-p (1 + p(p^2-1)/(24 kappa^2) + O(kappa^-4))
    # (Tricomi-Erdelyi expansion; the 1/kappa term vanishes for this shift), and the plain law has
    # k^p mu_k / C = 1 - p(n-2)/(2k) + O(k^-2)
    k = 4000
    for n in (3, 4, 8):
        law = decay(sympy.sqrt(1 - t), n)
        p = n
        assert law.exponent == p and law.nu == sympy.Rational(1, 2)
        assert law.C_even == law.C_odd
        mu = funk_hecke_power(k, n, sympy.Rational(1, 2))
        kappa = sympy.Integer(2 * k + n - 2) / 2
        shifted = float(mu * kappa**p / law.C_even)
        assert abs(shifted - 1 - p * (p**2 - 1) / (24 * float(kappa) ** 2)) < p**5 / float(kappa) ** 4
        plain = float(mu * sympy.Integer(k) ** p / law.C_even)
        assert abs(plain - 1 + p * (n - 2) / (2 * k)) < p**3 / k**2


def test_decay_parity_cancellations():
    nngp1, ntk1 = relu_kernels(1)
    # step kernel k0: even k >= 2 vanish; arc-cosine k1: odd k >= 3 vanish;
    # two-layer ReLU NTK without bias: odd k >= 3 vanish (Bietti-Mairal 2019)
    step = decay(1 - sympy.acos(t) / sympy.pi, 3)
    assert step.exponent_even is None and step.exponent_odd == 3 and step.C_odd == 1 / sympy.pi
    k1 = decay(nngp1, 3)
    assert k1.exponent_odd is None and k1.exponent_even == 5
    ntk = decay(ntk1, 3)
    assert ntk.exponent_odd is None and ntk.exponent_even == 3
    with mpmath.workdps(15):
        Q = sphere_eigenvalues(nngp1, 3, 41)
        assert all(abs(Q.eigenvalues[k]) <= Q.error_estimate[k] + 1e-28 for k in range(3, 42, 2))
        for k in (40, 41):
            mu = Q.eigenvalues[k]
            if k % 2 == 0:
                assert abs(mu / k1.singular_part(k) - 1) < 1e-6
            else:
                assert k1.predict(k) == 0


def test_decay_smooth_and_polynomial():
    law = decay(t**5 + t, 4)
    assert law.exponent is None and law.notes and law.expression == 0
    law = decay(sympy.exp(t), 3)
    assert law.exponent is None


def test_decay_errors():
    with pytest.raises(TypeError):
        decay(lambda x: x, 3)
    with pytest.raises(ValueError):
        decay(sympy.sqrt(1 - t), 1)
    with pytest.raises(ValueError, match="not finite"):
        decay(1 / (1 - t), 3)
    with pytest.raises(ValueError, match="order"):
        decay(sympy.sqrt(1 - t), 3, order=0)


def test_decay_expression_in_k():
    law = decay(sympy.sqrt(1 - t) + 2 * sympy.sqrt(1 + t), 3)
    k = sympy.Symbol("k", positive=True, integer=True)
    # C_+ + (-1)^k C_- with C_- = 2 C_+
    Cp = law.C_even / 3
    assert sympy.simplify(law.expression - Cp * (1 + 2 * (-1) ** k) * k**-3) == 0
    assert sympy.simplify(law.C_odd + Cp) == 0


RELU_CASES = [(depth, kind) for depth in (2, 3, 4, 5) for kind in ("nngp", "ntk")]


@pytest.mark.slow
@pytest.mark.parametrize("n", [3, 5])
@pytest.mark.parametrize("depth,kind", RELU_CASES)
def test_bietti_bach_relu(depth, kind, n):
    nngp, ntk = relu_kernels(depth)
    f = ntk if kind == "ntk" else nngp
    law = decay(f, n)
    assert isinstance(law, DecayLaw)
    # Bietti-Bach: NTK decays as k^-n (nu = 1/2), NNGP as k^-(n+2) (nu = 3/2), both parities
    p = n if kind == "ntk" else n + 2
    assert law.exponent == law.exponent_even == law.exponent_odd == p
    # the exact constants of deep kernels are large trees (slow to evalf): use the 50-digit values
    assert law.numeric["C_even"] > 0 and law.numeric["C_odd"] > 0
    ks = (150, 151, 300, 301)
    with mpmath.workdps(15):
        S = sphere_eigenvalues(f, n, 301)
        for k in ks:
            mu = S.eigenvalues[k]
            assert S.error_estimate[k] < 1e-12 * mu
            # (1) the law with kappa = k + (n-2)/2: the Gamma ratio is kappa^-p (1 + O(kappa^-2)) and
            #     the next singular term is O(k^-2) relative, so ~1e-4 at k = 150 -- well inside 1%
            assert abs(mu / law.predict(k, shifted=True) - 1) < 0.01
            # (2) exact Funk-Hecke of the singular terms up to s^(5/2): the remainder is the s^(7/2)
            #     term, O(k^-6) relative -- 1e-6 is generous
            assert abs(mu / law.singular_part(k) - 1) < 1e-6
        for k1, k2 in ((150, 300), (151, 301)):
            # (3) the plain constant: X(k) = k^p mu_k = C (1 + a/k + O(k^-2)), |a| <= p(n-2)/2 + ... <= 11
            #     here, so X itself is off by up to 7% at k = 150; one Richardson step (same parity)
            #     (k2 X(k2) - k1 X(k1)) / (k2 - k1) removes a/k and leaves O(1/(k1 k2)) ~ 1e-3
            X1 = mpmath.mpf(k1) ** p * S.eigenvalues[k1]
            X2 = mpmath.mpf(k2) ** p * S.eigenvalues[k2]
            C = mpmath.mpf(sympy.N(law.numeric["C_even" if k1 % 2 == 0 else "C_odd"], 20))
            assert abs((k2 * X2 - k1 * X1) / (k2 - k1) / C - 1) < 0.01
