"""Large-depth constants of the universality classes (F14, F15) against the recursions at large depth."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc.finite import finite_width_ntk
from eigencalc.finite.universality import float_flow, l, large_depth_constants


def test_relu_closed_forms():
    """Scale-invariant class, ReLU: V/K^2 = 5(l-1) (RYH eq. 5.47, from memory), K1 = H1 = 0, and the
    exact NTK fluctuation forms of (F9)-(F13) summed, checked against the exact recursion at l = 1..6."""
    c = large_depth_constants("relu")
    assert sympy.expand(c.exprs["V/K^2"] - 5 * (l - 1)) == 0 and c.exprs["K1"] == 0 and c.slopes["V/K^2"] == 5
    assert c.slopes["(A+2B)/H^2"] == sympy.Rational(11, 3)
    r = finite_width_ntk([7] * 6, "relu", 2, 0, sympy.Rational(1, 2))  # K = 1
    for i in range(6):
        L = i + 1
        assert c.exprs["V/K^2"].subs(l, L) == r.V[i]
        assert c.exprs["B/H^2"].subs(l, L) * L**2 == r.B[i] and c.exprs["A/H^2"].subs(l, L) * L**2 == r.A[i]


@pytest.mark.parametrize("name,slope", [("abs", 2), ("leaky_relu", None)])
def test_scale_invariant_family(name, slope):
    c = large_depth_constants(name)
    if slope is not None:
        assert c.slopes["V/K^2"] == slope
    assert c.exprs["K1"] == 0 and c.exact_for_all_l


def test_k_star_zero_constants():
    """tanh, erf: a1 = -2, K ~ 1/(2l), V/K^2 ~ (2/3) l (RYH eqs. 5.92-5.96, from memory), K1 -> -1/6;
    sin: a1 = -1 so K ~ 1/l and K1 -> -1/3; the slopes are universal."""
    for name, K, K1 in [("tanh", 1 / (2 * l), sympy.Rational(-1, 6)), ("erf", 1 / (2 * l), sympy.Rational(-1, 6)),
                        ("sin", 1 / l, sympy.Rational(-1, 3))]:
        c = large_depth_constants(name)
        assert sympy.simplify(c.exprs["K"] - K) == 0 and c.exprs["K1"] == K1
        assert c.slopes == {"V/K^2": sympy.Rational(2, 3), "K1/K": sympy.Rational(-1, 3), "B/H^2": sympy.Rational(1, 3),
                            "(A+2B)/H^2": sympy.Rational(2, 3)}


def test_k_star_zero_errors():
    with pytest.raises(ValueError, match="a_1 = .* >= 0"):
        large_depth_constants("gelu")
    with pytest.raises(ValueError, match="phi\\(0\\) = 0"):
        large_depth_constants("sigmoid")


def test_float_flow_matches_exact_recursions():
    """The float64 deep-flow engine reproduces (F1)-(F4), (F8)-(F13) (mpmath) at small depth."""
    th = finite_width_ntk([10] * 6, "tanh", 1.5, 0.2, 1)
    f = float_flow("tanh", 1.5, 0.2, 1, 6, nodes=160)
    for key in ("K", "V", "K1", "H", "H1", "A", "B", "D", "F"):
        for a, b in zip(getattr(th, key), f[key]):
            assert abs(float(a) - b) < 1e-6 * (1 + abs(b)), key  # Gauss-Hermite (160 nodes) vs tanh-sinh


def test_tanh_large_depth_against_recursion():
    """The K* = 0 asymptotics at depth 3000: the recursion's 2lK, V/(K^2 l), K1, H and (A+2B)/(H^2 l) approach
    1, 2/3, -1/6, 1/2, 2/3 with O(log l / l) corrections (measured: 5e-3 relative at l = 1000, 4e-4 at 10^4)."""
    L = 3000
    f = float_flow("tanh", 1, 0, 1, L)
    i = L - 1
    assert abs(2 * L * f["K"][i] - 1) < 5e-3
    assert abs(f["V"][i] / f["K"][i] ** 2 / L - 2 / 3) < 5e-3
    assert abs(f["K1"][i] + 1 / 6) < 5e-3
    assert abs(f["H"][i] - 1 / 2) < 5e-3
    assert abs((f["A"][i] + 2 * f["B"][i]) / f["H"][i] ** 2 / L - 2 / 3) < 5e-3


def test_relu_large_depth_slope():
    f = float_flow("relu", 2, 0, 1, 500, nodes=64)
    assert abs(f["V"][-1] / f["K"][-1] ** 2 - 5 * 499) < 1e-6 * 2500
    assert abs((f["A"][-1] + 2 * f["B"][-1]) / f["H"][-1] ** 2 - 499 * (11 * 500 - 4) / 1500) < 1e-6 * 2000
    assert np.all(np.abs(f["K1"]) < 1e-8)  # exactly 0; Gauss-Hermite converges slowly on ReLU's kink
