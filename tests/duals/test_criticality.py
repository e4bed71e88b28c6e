"""Criticality (MATH.md section 3, Roberts–Yaida–Hanin ch. 5)."""

from __future__ import annotations

import mpmath
import pytest
import sympy

from eigencalc import activation, criticality, kernel_flow


def _chi(act_name, C_W, K):
    """Susceptibilities from their defining Gaussian integrals (independent oracle)."""
    act = activation(act_name)
    phi = sympy.lambdify(act.expr.free_symbols.pop(), act.expr, "mpmath")
    dphi = sympy.lambdify(list(act.expr.free_symbols)[0], sympy.diff(act.expr), "mpmath")
    s = mpmath.sqrt(K)
    mean = lambda g: mpmath.quad(lambda z: g(z) * mpmath.npdf(z), [-mpmath.inf, 0, mpmath.inf])  # noqa: E731
    chi_par = C_W / (2 * K**2) * mean(lambda z: phi(s * z) ** 2 * (K * z * z - K))
    chi_perp = C_W * mean(lambda z: dphi(s * z) ** 2)
    return chi_par, chi_perp


def test_scale_invariant_exact():
    for name, params, cw in [("relu", {}, 2), ("abs", {}, 1), ("leaky_relu", {"slope": sympy.Rational(1, 2)}, sympy.Rational(8, 5))]:
        c = criticality(activation(name, **params))
        assert c.universality == "scale-invariant" and c.exact
        assert c.C_b == 0 and c.C_W == cw and c.chi_parallel == 1 and c.chi_perp == 1


def test_relu_fixed_line_has_unit_susceptibilities():
    for K in (mpmath.mpf("0.3"), mpmath.mpf(2)):
        chi_par, chi_perp = _chi("relu", 2, K)
        assert abs(chi_par - 1) < 1e-12 and abs(chi_perp - 1) < 1e-12


@pytest.mark.parametrize("name,cw,a1", [("tanh", 1, -2), ("sin", 1, -1), ("erf", sympy.pi / 4, -2)])
def test_k_star_zero_class(name, cw, a1):
    c = criticality(name)
    assert c.universality == "K*=0" and c.exact
    assert c.C_b == 0 and sympy.simplify(c.C_W - cw) == 0 and c.K_star == 0
    assert c.details["a1"] == a1
    # chi -> 1 as K -> 0 along the flow: check at small K against the integrals.
    chi_par, chi_perp = _chi(name, float(cw), mpmath.mpf("1e-4"))
    assert abs(chi_par - 1) < 1e-3 and abs(chi_perp - 1) < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gelu", "swish"])
def test_gelu_swish_have_no_k0_criticality_but_a_nonzero_one(name):
    """MATH.md: GELU/swish are not K*=0 critical; the solver finds chi_par = chi_perp = 1 at K* > 0."""
    c = criticality(name)
    assert c.universality == "K*>0"
    assert "a1" in c.note
    chi_par, chi_perp = _chi(name, c.C_W, c.K_star)
    assert abs(chi_par - 1) < 1e-10 and abs(chi_perp - 1) < 1e-10
    # K* is a fixed point of the recursion.
    flow = kernel_flow(name, c.C_W, c.C_b, c.K_star, 2)
    assert abs(flow[2] - c.K_star) < 1e-10 * c.K_star


def test_gelu_critical_point_value():
    """GELU: K* = (3 + sqrt 17)/2 solves <phi phi''>_K = 0 (checked by the integral)."""
    c = criticality("gelu")
    assert abs(c.K_star - (3 + mpmath.sqrt(17)) / 2) < 1e-10


@pytest.mark.parametrize("name", ["step", "exp", "cos", "softplus"])
def test_no_critical_point(name):
    c = criticality(name)
    assert c.universality == "none" and c.C_W is None and not c.is_critical


def test_kernel_flow_tanh_decays_like_one_over_two_l():
    """K*=0 class: K_l ~ 1/(-a1 l) = 1/(2 l) for tanh at criticality."""
    flow = kernel_flow("tanh", 1, 0, 1, 200)
    assert abs(flow[200] * 2 * 200 - 1) < 0.05


def test_kernel_flow_bad_depth():
    with pytest.raises(ValueError, match="depth must be an integer >= 0"):
        kernel_flow("relu", 2, 0, 1, -1)
