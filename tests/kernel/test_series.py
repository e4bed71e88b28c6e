"""Tests for the power-series path of eigencalc.architectures (M6, M15, M16).

Oracles: exact Hermite-series values (one hidden ReLU layer); Taylor
coefficients of independently composed sympy closed forms (``dual_expr``),
univariate and multivariate; exact polynomial compositions (tail exactly 0);
the numeric kernel paths, which the series must match within its tail bound.
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import sympy

from eigencalc import architectures as A
from eigencalc.activations import activation, rho

t = A.t


def mp(value, dps=40):
    """A sympy or mpmath number as an mpf with dps digits (sympy.N(mpf) would round to 53 bits)."""
    with mpmath.workdps(dps):
        if isinstance(value, mpmath.mpf):
            return +value
        return mpmath.mpf(sympy.Float(sympy.N(value, dps), dps)._mpf_)


def close(got, ref, rel):
    with mpmath.workdps(40):
        return abs(mp(got) - mp(ref)) <= rel * max(1, abs(mp(ref)))


def taylor_coefficient(expr, symbols, alpha, dps=40):
    """d^alpha expr / alpha! at 0, evaluated at dps digits."""
    d = expr
    for s, a in zip(symbols, alpha):
        if a:
            d = sympy.diff(d, s, a)
    value = d.subs({s: 0 for s in symbols})
    return sympy.N(value, dps) / math.prod(math.factorial(a) for a in alpha)


# ==========================================================================
# Exact values
# ==========================================================================


def test_one_hidden_relu_layer_exact_hermite_values():
    s = A.mlp(1, "relu").series("nngp", 4)
    pi = sympy.pi
    assert s.exact and s.notes == ()
    assert s.univariate() == [1 / (2 * pi), sympy.Rational(1, 4), 1 / (4 * pi), 0, 1 / (48 * pi)]
    assert s.total == sympy.Rational(1, 2)
    assert sympy.simplify(s.tail_bound - (sympy.Rational(1, 4) - sympy.Rational(37, 48) / pi)) == 0
    assert s.coefficients == {(0,): 1 / (2 * pi), (1,): sympy.Rational(1, 4), (2,): 1 / (4 * pi), (4,): 1 / (48 * pi)}


def test_one_hidden_layer_ntk_exact_equals_closed_form_taylor():
    net = A.mlp(1, "relu", W_std=sympy.sqrt(2), b_std=0)
    s = net.series("ntk", 5)
    assert s.exact
    expr = net.ntk_expr()
    for k in range(6):
        ref = sympy.diff(expr, t, k).subs(t, 0) / sympy.factorial(k)
        assert sympy.simplify(s.coefficient((k,)) - ref) == 0, k
    # NTK(1) = W^2 (1/2 + 1 * 1/2) ... = total, computed from second moments
    assert sympy.simplify(s.total - net.ntk_expr().subs(t, 1)) == 0


def _mp_duals(name, q, c):
    """Closed-form E[phi(u)phi(v)] and E[phi'(u)phi'(v)] at equal variances q, covariance c (mpmath)."""
    if name == "relu":
        r = c / q
        acos = mpmath.acos(r)
        return q * (mpmath.sqrt(1 - r * r) + (mpmath.pi - acos) * r) / (2 * mpmath.pi), (mpmath.pi - acos) / (2 * mpmath.pi)
    if name == "erf":
        return 2 / mpmath.pi * mpmath.asin(2 * c / (1 + 2 * q)), 4 / mpmath.pi / mpmath.sqrt((1 + 2 * q) ** 2 - 4 * c * c)
    assert name == "sin"
    return mpmath.exp(-q) * mpmath.sinh(c), mpmath.exp(-q) * mpmath.cosh(c)


def direct_mlp_mp(x, depth, name, W2, b2):
    """The MLP recursion of M1-M3 in mpmath, unit-variance inputs: (NNGP, NTK) at correlation x."""
    sigma, q = W2 * x + b2, W2 + b2
    theta = sigma
    for _ in range(depth):
        s_act, deriv = _mp_duals(name, q, sigma)
        q_act = _mp_duals(name, q, q)[0]
        theta = theta * deriv
        sigma, q = W2 * s_act + b2, W2 * q_act + b2
        theta = W2 * theta + sigma
    return sigma, theta


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize(
    "name, depth, b", [("relu", 2, 0), ("relu", 3, sympy.Rational(3, 10)), ("relu", 6, sympy.Rational(1, 10)), ("erf", 2, sympy.Rational(1, 5)), ("sin", 2, 0)]
)
def test_deep_mlp_coefficients_equal_taylor_of_direct_recursion(name, depth, b, kind):
    # Oracle: Taylor coefficients at t = 0 (mpmath.taylor at 50 digits) of the
    # closed-form recursion written above; the series runs at dps = 30.
    W = sympy.Rational(6, 5)
    net = A.mlp(depth, name, W_std=W, b_std=b)
    s = net.series(kind, 4, dps=30)
    with mpmath.workdps(50):
        W2, b2 = mp(W**2, 50), mp(sympy.S(b) ** 2, 50)
        ref = mpmath.taylor(lambda x: direct_mlp_mp(x, depth, name, W2, b2)[kind == "ntk"], 0, 4)
    for k in range(5):
        assert close(s.coefficient((k,)), ref[k], 1e-28), (k, s.coefficient((k,)), ref[k])


def test_multivariate_coefficients_equal_composed_closed_forms():
    # d = 3, overlapping VALID convolutions: Sigma of each node composed by hand in sympy.
    W, b = sympy.Rational(6, 5), sympy.Rational(1, 2)
    net = A.serial(A.Conv(2, W_std=W, b_std=b), A.Erf(), A.Conv(2, W_std=W), A.Relu(), A.Flatten(), A.Dense(W_std=W, b_std=b))
    ts = sympy.symbols("t1:4", real=True)
    W2, b2 = W**2, b**2
    erf, relu = activation("erf"), activation("relu")
    s1 = [W2 * (ts[i] + ts[i + 1]) / 2 + b2 for i in range(2)]
    q1 = W2 + b2
    e1 = [erf.dual_expr(q1).subs(rho, s / q1) for s in s1]
    qe = erf.second_moment(q1)
    s2 = W2 * (e1[0] + e1[1]) / 2
    q2 = W2 * qe
    K = W2 * relu.dual_expr(q2).subs(rho, s2 / q2) + b2
    series = net.kernel_series(3, "nngp", 3, dps=30)
    assert not series.exact and "Erf() at net[1]" in series.notes[0] and "nonzero constant term" in series.notes[0]
    for alpha in itertools.product(range(4), repeat=3):
        if sum(alpha) > 3:
            continue
        ref = taylor_coefficient(K, ts, alpha)
        got = series.coefficient(alpha)
        assert close(got, ref, 1e-26), (alpha, got, ref)


def test_polynomial_networks_are_exact_with_zero_tail():
    half = sympy.Rational(1, 2)
    net = A.serial(A.Conv(2, W_std=1, b_std=half), A.Monomial(2), A.Conv(2, W_std=1), A.Polynomial([1, 1, 1]), A.Flatten(), A.Dense())
    ts = sympy.symbols("t1:4", real=True)
    mono, poly = activation("monomial", degree=2), activation("polynomial", coeffs=[1, 1, 1])
    s1 = [(ts[i] + ts[i + 1]) / 2 + half**2 for i in range(2)]
    q1 = 1 + half**2
    m1 = [mono.dual_expr(q1).subs(rho, s / q1) for s in s1]
    s2 = (m1[0] + m1[1]) / 2
    q2 = mono.second_moment(q1)
    K = sympy.Poly(sympy.expand(poly.dual_expr(q2).subs(rho, s2 / q2)), *ts)
    full = net.kernel_series(3, "nngp", 4)
    assert full.exact and full.tail_bound == 0
    assert full.coefficients == {m: c for m, c in K.terms()}
    cut = net.kernel_series(3, "nngp", 3)
    assert cut.exact and cut.tail_bound == sum(c for m, c in K.terms() if sum(m) == 4)
    tt = np.random.default_rng(1).uniform(-1, 1, (20, 3))
    np.testing.assert_allclose(full.evaluate(tt), net.kernel_of_correlations(tt), rtol=1e-12)
    ntk = net.kernel_series(3, "ntk", 4)
    assert ntk.exact and ntk.tail_bound == 0
    np.testing.assert_allclose(ntk.evaluate(tt), net.kernel_of_correlations(tt, "ntk"), rtol=1e-12)


# ==========================================================================
# Agreement with the numeric paths within the tail bound (M16)
# ==========================================================================


def tree(act, b=0.0, levels=2, q=2):
    layers = []
    for _ in range(levels):
        layers += [A.Conv(q, stride=q, W_std=1.3, b_std=b), act()]
    return A.serial(*layers, A.Flatten(), A.Dense(b_std=b))


SERIES_NETS = {
    "mlp3-relu": (A.mlp(3, "relu", 1.4, 0.2), 1),
    "tree-relu": (tree(A.Relu), 4),
    "tree-erf-bias": (tree(A.Erf, 0.3), 4),
    "valid-erf": (A.serial(A.Conv(2), A.Erf(), A.Conv(2), A.Erf(), A.Flatten(), A.Dense()), 4),
    "circular-relu": (A.serial(A.Conv(3, padding="CIRCULAR", b_std=0.1), A.Relu(), A.Flatten(), A.Dense()), 5),
    "residual": (
        A.serial(A.Conv(2), A.FanOut(2), A.parallel(A.Identity(), A.serial(A.Relu(), A.Conv(1))), A.FanInSum(), A.Relu(), A.Flatten(), A.Dense()),
        3,
    ),
    "tanh-bias": (A.serial(A.Conv(2, stride=2, b_std=0.3), A.Tanh(), A.Flatten(), A.Dense(), A.Tanh(), A.Dense()), 4),
    "gelu": (A.serial(A.Conv(2, stride=2, b_std=0.2), A.Gelu(), A.Flatten(), A.Dense()), 4),
}


@pytest.mark.parametrize("kind", ["nngp", "ntk"])
@pytest.mark.parametrize("name", sorted(SERIES_NETS))
def test_series_within_tail_bound_of_numeric_kernel(name, kind, rng):
    net, d = SERIES_NETS[name]
    s = net.kernel_series(d, kind, 3)
    tail = s.tail_bound_float
    assert tail >= 0
    assert all(float(c) >= -1e-25 for c in s.coefficients.values())
    corners = np.array(list(itertools.product([-1.0, 1.0], repeat=d)))
    tt = np.concatenate([rng.uniform(-1, 1, (30, d)), corners, np.zeros((1, d))])
    err = np.abs(s.evaluate(tt) - net.kernel_of_correlations(tt, kind))
    assert err.max() <= tail * (1 + 1e-9) + 1e-13
    # at t = 1 the error is exactly the tail: K(1) - sum(c) (M16).  Without closed
    # forms (tanh, GELU) the float64 derivative kernel at rho = 1 is accurate to
    # ~1e-11 only (its Hermite series converges slowly there), hence rel=1e-10.
    rel = 1e-10 if name in ("tanh-bias", "gelu") else 1e-12
    assert float(s.total) == pytest.approx(float(net.kernel_of_correlations(np.ones(d), kind)), rel=rel)
    # and via raw inputs (product of hypercubes, exact correlations k/8)
    C = rng.choice([-1.0, 1.0], (4, d, 8))
    raw = net.kernel_fn(C, None, kind)
    via_series = s.evaluate(np.einsum("nic,mic->nmi", C, C) / 8)
    assert np.abs(raw - via_series).max() <= tail * (1 + 1e-9) + 1e-13


def test_tail_bound_decreases_with_degree():
    net, d = SERIES_NETS["tree-relu"]
    tails = [net.kernel_series(d, "ntk", D).tail_bound_float for D in range(5)]
    assert all(a >= b - 1e-20 for a, b in zip(tails, tails[1:]))
    assert tails[-1] < 0.5 * tails[0]


def test_translation_symmetry_of_shared_signatures():
    # CIRCULAR conv + Flatten: the kernel is invariant under cyclic shifts of the patches
    net, d = SERIES_NETS["circular-relu"]
    s = net.kernel_series(d, "nngp", 3)
    for alpha, c in s.coefficients.items():
        shifted = alpha[1:] + alpha[:1]
        assert abs(s.coefficient(shifted) - c) <= 1e-28 * abs(c)


# ==========================================================================
# Exactness control and notes
# ==========================================================================


def test_exactness_modes():
    one = A.mlp(1, "erf", W_std=1.5)
    assert one.series("nngp", 5).exact
    mp40 = one.series("nngp", 5, exact=False, dps=40)
    assert not mp40.exact and mp40.dps == 40
    for k in range(6):
        assert close(mp40.coefficient((k,)), one.series("nngp", 5).coefficient((k,)), 1e-38)
    # nested closed-form duals: auto falls back to mpmath (with a note); exact=True expands anyway
    two = A.mlp(2, "erf")
    auto = two.series("nngp", 3)
    assert not auto.exact and "irrational exact coefficients" in auto.notes[0]
    forced = two.series("nngp", 3, exact=True)
    assert forced.exact
    for k in range(4):
        assert close(auto.coefficient((k,)), forced.coefficient((k,)), 1e-27)
    # impossible exactly: the error names the layer
    gelu = A.serial(A.Dense(b_std=0.5), A.Gelu(), A.Dense())
    with pytest.raises(ValueError, match=r"no exact series: Gelu\(\) at net\[1\]"):
        gelu.kernel_series(1, exact=True)
    relu2 = A.mlp(2, "relu")
    with pytest.raises(ValueError, match=r"no exact series: Relu\(\) at net\[3\].*nonzero constant term"):
        relu2.series(exact=True)


def test_hermite_fallback_is_announced_and_a_lower_bound():
    # tanh has no closed-form dual; with a bias its input has r0 = b^2/(W^2 + b^2) = 1/2,
    # so the Taylor shift needs many Hermite terms: fewer terms give lower bounds (M16).
    net = A.serial(A.Dense(b_std=1.0), A.Tanh(), A.Dense())
    few = net.kernel_series(1, "nngp", 3, dual_terms=8)
    assert any("no closed-form dual for tanh" in n and "9 Hermite terms" in n for n in few.notes)
    more = net.kernel_series(1, "nngp", 3, dual_terms=40)
    # The quadrature Hermite coefficients of tanh carry ~1e-13 errors that depend
    # on the rule size, so "lower bound" holds up to that noise; the truncation gap
    # (~0.5^8 relative) is far above it.
    gaps = [more.coefficient((k,)) - few.coefficient((k,)) for k in range(4)]
    assert all(g >= -1e-11 * more.coefficient((k,)) for k, g in enumerate(gaps))
    assert max(gaps) > 1e-6
    assert few.tail_bound > more.tail_bound
    t = np.linspace(-1, 1, 9)[:, None]
    assert np.abs(few.evaluate(t) - more.evaluate(t)).max() <= few.tail_bound_float


def test_step_ntk_has_infinite_total():
    s = A.mlp(1, "step").series("ntk", 3)
    assert s.total == sympy.oo and s.tail_bound == sympy.oo
    assert A.mlp(1, "step").series("nngp", 3).univariate()[0] == sympy.Rational(1, 4)


# ==========================================================================
# API and errors
# ==========================================================================


def test_series_api():
    net, d = SERIES_NETS["tree-erf-bias"]
    s = net.kernel_series(d, "ntk", 2)
    assert repr(s).startswith("KernelSeries(d=4, kind='ntk', max_degree=2, terms=")
    assert s.evaluate(np.zeros((2, 3, d))).shape == (2, 3)
    assert float(s.evaluate(np.zeros(d))) == pytest.approx(float(s.coefficient((0, 0, 0, 0))), rel=1e-15)
    levels = s.by_degree()
    assert len(levels) == 3 and sum(map(len, levels)) == len(s.coefficients)
    poly = s.as_poly()
    assert poly.gens == s.symbols() and poly.total_degree() <= 2
    exact_poly = A.mlp(1, "relu").series("nngp", 2).as_poly()
    assert exact_poly.coeff_monomial(exact_poly.gens[0]) == sympy.Rational(1, 4)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., d\) with d = 4"):
        s.evaluate(np.zeros(3))
    with pytest.raises(ValueError, match="length d = 4"):
        s.coefficient((1, 0))
    with pytest.raises(ValueError, match="univariate\\(\\) needs d = 1"):
        s.univariate()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(kind="cov"), ValueError, "kind must be one of"),
        (dict(max_degree=-1), ValueError, "max_degree must be >= 0"),
        (dict(max_degree=2.0), TypeError, "max_degree must be an integer"),
        (dict(exact="yes"), TypeError, "exact must be None, True or False"),
        (dict(dps=5), ValueError, "dps must be an integer >= 15"),
    ],
)
def test_series_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        A.mlp(1, "relu").kernel_series(1, **kwargs)


# ==========================================================================
# Size: tree CNNs with many patches
# ==========================================================================


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["nngp", "ntk"])
def test_tree_cnn_with_16_patches_degree_4(kind, rng):
    net = tree(A.Relu, levels=4)
    s = net.kernel_series(16, kind, 4)
    assert len(s.coefficients) == math.comb(16 + 4, 4)  # every monomial of degree <= 4 appears
    tt = rng.uniform(-1, 1, (50, 16))
    err = np.abs(s.evaluate(tt) - net.kernel_of_correlations(tt, kind))
    assert err.max() <= s.tail_bound_float
    # patches in the same leaf pair are exchangeable; patches 0 and 15 are symmetric
    assert abs(s.coefficient((1,) + (0,) * 15) - s.coefficient((0,) * 15 + (1,))) < mpmath.mpf(10) ** -25


@pytest.mark.slow
def test_overlapping_cnn_with_16_patches_degree_3(rng):
    net = A.serial(A.Conv(3), A.Erf(), A.Conv(3, stride=2), A.Erf(), A.Conv(3), A.Relu(), A.Flatten(), A.Dense())
    s = net.kernel_series(16, "ntk", 3)
    tt = rng.uniform(-1, 1, (50, 16))
    assert np.abs(s.evaluate(tt) - net.kernel_of_correlations(tt, "ntk")).max() <= s.tail_bound_float
