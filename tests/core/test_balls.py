"""core.balls: exact conversions between mpmath binary numbers and python-flint balls."""

from __future__ import annotations

import flint
import mpmath
import pytest

from eigencalc.core.balls import arb_to_mpf, mpf_to_arb


@pytest.mark.parametrize("text", ["0.375", "-7e5", "1.5e-4342944819", "3e+100000"])
def test_round_trip_is_exact_at_any_exponent(text):
    """Regression: 2**exp built in arb was an inexact ball for huge |exp| (erf' at tanh-sinh tail nodes),
    and the sum of such balls had no finite midpoint (finite_width_ntk for erf failed)."""
    x = mpmath.mpf(text)
    b = mpf_to_arb(x)
    assert b.is_exact() and arb_to_mpf(b) == x


def test_zero_and_non_finite():
    assert mpf_to_arb(0) == flint.arb(0)
    with pytest.raises(ValueError, match="non-finite"):
        mpf_to_arb(mpmath.inf)


def test_erf_ntk_recursion_runs():
    """At layer 2 the leading order is exact: mpmath tanh-sinh (F9, F11) = float64 chain (F24)."""
    from eigencalc.finite import finite_width_ntk, finite_width_ntk_moments
    r = finite_width_ntk([8, 8, 8], "erf", 1)
    assert float(r.ntk_variance[1]) == pytest.approx(finite_width_ntk_moments([8, 8], "erf", 1).variance[1], rel=1e-10)
