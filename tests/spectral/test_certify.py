"""Certified eigenvalues (eigencalc.spectral.certify, issue 15): every ball contains the true eigenvalue.

Oracles: exact rational eigenvalues of polynomial-activation trees (the plain
recursion in Fractions, itself checked against enumeration in test_tree.py),
float64 enumeration and brute-force Gram eigenvalues on small product
hypercubes, Gauss-Legendre quadrature on S^2.  Each check runs at low
truncation orders, where the tail bound is large and actually used, so a
wrong bound fails the test.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest
from flint import arb
from hypothesis import example, given, settings
from hypothesis import strategies as st

from eigencalc.architectures import Conv, Dense, Flatten, Polynomial, Relu, serial
from eigencalc.core.tables import certified_digits
from eigencalc.domains import ProductHypercube, ProductSphere
from eigencalc.io.grammar import parse_architecture
from eigencalc.spectra import spectrum
from eigencalc.spectral.certify import CertifiedTree, to_arb
from tests.cases import TREE, _gram_eigenvalues, _legendre_quadrature_eigenvalue

POLY_TREE = serial(Conv(2, stride=2), Polynomial([0, 1, 1]), Conv(2, stride=2), Polynomial([1, 0, 1]), Flatten(), Dense())
DEMO_TREE = "Conv(2, stride=2) Relu Conv(2, stride=2) Relu Conv(4, stride=4) Relu Flatten Dense"


def _dyadic(x: arb) -> Fraction:
    """An exact (midpoint-only) arb as a Fraction."""
    man, exp = x.mid().man_exp()
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def _inside(ball: arb, value: Fraction) -> bool:
    """lower(ball) <= value <= upper(ball), compared exactly."""
    return _dyadic(ball.lower()) <= value <= _dyadic(ball.upper())


def _certifier(net, domain, kind):
    return CertifiedTree(net.dag(domain.d), domain, kind)


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize("domain", [ProductHypercube(4, 2), ProductSphere(4, 3)], ids=repr)
def test_polynomial_tree_balls_contain_exact_rationals(kind, domain):
    """Degree-8 polynomial kernel: orders N < 8 drop terms; every ball still contains the exact value."""
    exact = spectrum(POLY_TREE, domain, kind, 4, method="tree", max_power=16)
    assert exact.exact
    cert = _certifier(POLY_TREE, domain, kind)
    dropped = 0
    for e in exact.entries():
        truth = Fraction(int(e.eigenvalue.p), int(e.eigenvalue.q))
        for N in (2, 3, 5, 16):
            ball = cert.ball(e.r, N)
            assert _inside(ball, truth), (e.r, N, ball, truth)
            dropped += abs(float(ball.mid()) - float(truth)) > 1e-9
        assert float(cert.ball(e.r, 16).rad()) < 1e-25  # nothing dropped: only rounding
    assert dropped > 0  # the low orders did truncate: the tail bound was exercised


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_relu_balls_contain_enumeration_and_tighten(kind):
    """ReLU tree on (hypercube {-1,1}^2)^4: float64 enumeration lies in every ball; radii shrink with N."""
    dom = ProductHypercube(4, 2)
    enum = spectrum(TREE, dom, kind, 8)
    cert = _certifier(TREE, dom, kind)
    for e in enum.entries():
        radii = []
        for N in (3, 6, 12, 24, 48):
            ball = cert.ball(e.r, N)
            assert abs(float(ball.mid()) - e.eigenvalue) <= float(ball.rad()) + 1e-13, (e.r, N)
            radii.append(float(ball.rad()))
        # on a hypercube U_k(a) tends to a constant (t = 1 has positive probability), so the bound
        # decays only like the global tail, ~N^(-1/2) for the relu NTK: enumeration is the tool there
        assert all(b <= a * (1 + 1e-9) for a, b in zip(radii, radii[1:])) and radii[-1] < radii[0] / 3, (e.r, radii)
        assert radii[0] > 1e-8  # a low order is visibly truncated


@pytest.mark.parametrize("act", ["Erf", "LeakyRelu(0.2)", "Abs", "Sin", "Exp"])
def test_closed_form_activations_balls_contain_enumeration(act):
    """Other exact duals (erf, leaky relu, abs, sin, exp; biases on) at low orders vs float64 enumeration."""
    net = parse_architecture(f"Conv(2, stride=2, b_std=0.3) {act} Conv(2, stride=2) {act} Flatten Dense(W_std=0.8)")
    dom = ProductHypercube(4, 2)
    enum = spectrum(net, dom, "ntk", 8)
    cert = CertifiedTree(net.dag(dom.d), dom, "ntk", dual_terms=64)
    for e in enum.entries()[:30]:
        for N in (4, 12):
            ball = cert.ball(e.r, N)
            assert abs(float(ball.mid()) - e.eigenvalue) <= float(ball.rad()) + 1e-12, (act, e.r, N, ball, e.eigenvalue)


def test_certified_spectrum_matches_brute_force_gram_eigenvalues():
    """All 81 multi-indices on (hypercube {-1,1}^2)^4, expanded by multiplicity, vs eigvalsh of the 256 x 256 Gram.

    Rows that miss rtol keep the ball of the last order: the value must still lie within its bound.
    """
    dom = ProductHypercube(4, 2)
    spec = spectrum(TREE, dom, "ntk", 8, method="tree", rtol=1e-6)
    values, bounds = [], []
    for e in spec.entries():
        assert e.order == 192 or e.certified, e  # hypercubes rarely reach 1e-6 (see above); the ball must hold
        values += [float(e.eigenvalue)] * e.multiplicity
        bounds += [e.error_bound] * e.multiplicity
    assert len(values) == 256
    order = np.argsort(values)
    brute = _gram_eigenvalues(TREE, dom, "ntk")
    np.testing.assert_array_less(np.abs(brute - np.array(values)[order]), np.array(bounds)[order] + 1e-12)


def test_sphere_balls_contain_quadrature():
    """Single patch S^2 (slowest decay of mu_0(t^2m) = 1/(2m+1)): quadrature within ball + its 1e-7 error."""
    net = serial(Dense(), Relu(), Dense(), Relu(), Dense())
    dom = ProductSphere(1, 3)
    cert = _certifier(net, dom, "ntk")
    kernel = lambda t: net.kernel_of_correlations(t, "ntk")  # noqa: E731
    for k in range(5):
        quad = _legendre_quadrature_eigenvalue(kernel, (k,), nodes=400)
        for N in (8, 24, 64):
            ball = cert.ball((k,), N)
            # relu NTK has a (1-t)^(1/2) endpoint singularity: Gauss-Legendre error ~ N^-3 ~ 1e-8
            assert abs(float(ball.mid()) - quad) <= float(ball.rad()) + 1e-7, (k, N)


@pytest.mark.parametrize("domain", [ProductSphere(2, 3), ProductSphere(2, 8), ProductHypercube(2, 1), ProductHypercube(2, 5)],
                         ids=repr)
def test_envelope_leaves_dominate_and_decrease(domain):
    """Lemma 1's envelope U_k(a) >= mu_k(t^a) and nonincreasing in a (both needed by the proof)."""
    cert = CertifiedTree(serial(Flatten(), Dense(), Relu(), Dense()).dag(domain.d), domain, "nngp")
    for k in range(4):
        if domain.multiplicity((k, 0)) == 0:
            continue
        env, env_extra, _ = cert._leaf(k, 30, True)
        env = env + [env_extra]
        mu = [domain.monomial_eigenvalue(k, a) for a in range(32)]
        for a in range(31):
            assert env[a].upper() >= to_arb(mu[a]).upper()
            assert env[a + 1].upper() <= env[a].upper()


def test_spectrum_rtol_certifies_demo_tree_low_frequencies():
    """The issue's example: frequency <= 2 of the demo tree on (S^7)^16, bound <= 1e-6 x eigenvalue."""
    t0 = time.perf_counter()
    spec = spectrum(parse_architecture(DEMO_TREE), ProductSphere(16, 8), "ntk", 2, rtol=1e-6)
    entries = spec.entries()
    assert time.perf_counter() - t0 < 20
    for e in entries:
        assert e.certified and e.error_bound <= 1e-6 * float(e.eigenvalue), e
        assert e.order in (24, 48, 96, 192) and not e.exact
    assert all(c.certified for c in spec.classes())
    frame = spec.to_frame()
    assert {"certified", "order", "note", "error_bound"} <= set(frame.columns)


def test_uncertifiable_rows_say_why():
    """An order ladder that stops too early leaves the row uncertified with a reason, and the ball still holds."""
    dom = ProductHypercube(4, 2)
    cert = _certifier(TREE, dom, "ntk")
    value = cert.certify((0, 0, 0, 2), rtol=1e-12, orders=(3, 4))
    assert not value.certified and "not reached by order 4" in value.note
    exact = spectrum(TREE, dom, "ntk", 8).eigenvalue((0, 0, 0, 2))
    assert abs(float(value.eigenvalue) - exact) <= value.error_bound + 1e-13


def test_rtol_error_paths():
    dom = ProductSphere(4, 3)
    for bad in (0, 1.5, -1e-3, "1e-6", True):
        with pytest.raises(ValueError, match="rtol"):
            spectrum(TREE, dom, "ntk", 2, rtol=bad)
    with pytest.raises(ValueError):
        CertifiedTree(parse_architecture("Conv(3, padding=CIRCULAR) Relu GlobalAvgPool Dense").dag(4), dom, "ntk")


def test_polynomial_certified_spectrum_is_exact():
    """With rtol, exact spectra stay exact (sympy rationals, bound 0) and count as certified."""
    spec = spectrum(POLY_TREE, ProductHypercube(4, 2), "ntk", 3, method="tree", max_power=16, rtol=1e-6)
    for e in spec.entries():
        assert e.exact and e.error_bound == 0 and e.certified


def test_to_arb_encloses_sympy_numbers():
    import sympy

    x = sympy.sqrt(2) / sympy.pi + sympy.acos(sympy.Rational(1, 3))
    ball = to_arb(x)
    assert ball.contains(arb(2).sqrt() / arb.pi() + (arb(1) / 3).acos())
    assert float(ball.rad()) < 1e-14
    assert to_arb(Fraction(1, 3)).contains(arb(1) / 3)
    assert math.isclose(float(to_arb(sympy.Float("0.1", 30)).mid()), 0.1)
    import mpmath

    assert to_arb(mpmath.mpf(-0.375)) == arb(-0.375) and to_arb(-2.5) == arb(-2.5)


@settings(max_examples=400, deadline=None)
@given(st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: abs(x) > 1e-12), st.floats(1e-15, 1.0))
@example(524288.0497832815, 1e-15)  # float64 rounding at the 15th figure (found by hypothesis)
@example(95.0, 0.5)  # a one-figure answer must not print as "100"
def test_certified_digits_are_within_one_unit_of_the_last_digit(x, rel):
    """The promise of certified_digits: any true value within e of x is within one unit of the last printed digit."""
    e = abs(x) * rel
    text = certified_digits(x, e)
    if text.startswith("<"):
        assert float(text[1:]) >= abs(x) + e
        return
    if "±" in text:
        return
    printed = float(text)
    mant = text.split("e")[0].lstrip("-")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    exponent = int(text.split("e")[1]) if "e" in text else 0
    unit = 10.0 ** (exponent - decimals)
    for truth in (x - e, x + e):
        assert abs(printed - truth) <= unit * (1 + 1e-9) + 1e-300, (x, e, text)


def test_latex_prints_certified_digits_or_uncertainty():
    """Certified rows: digits only by default; value \\pm bound on request; uncertified rows keep \\pm."""
    spec = spectrum(parse_architecture(DEMO_TREE), ProductSphere(16, 8), "ntk", 1, rtol=1e-6)
    digits = spec.classes().to_latex()
    body = digits.split("\\midrule")[1]
    assert "\\pm" not in body and "0.1362663" in body
    assert body.count("\\pm") == 0 and "$9.181595 \\times 10^{-4}$" in body
    with_pm = spec.classes().to_latex(uncertainty=True)
    assert with_pm.split("\\midrule")[1].count("\\pm") == 2 * len(spec.classes())
    plain = spectrum(parse_architecture(DEMO_TREE), ProductSphere(16, 8), "ntk", 1).classes().to_latex()
    assert "\\pm" in plain.split("\\midrule")[1]  # no rtol: nothing certified, bounds shown


@pytest.mark.slow
@pytest.mark.parametrize(
    "text, domain, budget",
    [
        (DEMO_TREE, ProductSphere(16, 8), 10.0),
        ("Flatten Dense Relu Dense Relu Dense", ProductSphere(16, 8), 10.0),
        ("Conv(4, stride=4) Relu Conv(4, stride=4) Relu Conv(4, stride=4) Relu Flatten Dense", ProductSphere(64, 8), 30.0),
    ],
    ids=["demo-tree", "demo-mlp", "tree-444-d64"],
)
def test_issue_15_acceptance(text, domain, budget):
    """Frequency <= 4: every class's bound <= 1e-6 x eigenvalue, within the issue's time budget."""
    t0 = time.perf_counter()
    spec = spectrum(parse_architecture(text), domain, "ntk", 4, rtol=1e-6)
    entries = spec.entries()
    elapsed = time.perf_counter() - t0
    assert all(e.certified and e.error_bound <= 1e-6 * float(e.eigenvalue) for e in entries)
    assert elapsed < budget, elapsed
