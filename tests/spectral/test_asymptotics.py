"""Leading asymptotics in n0 on tree DAGs (eigencalc.spectral.asymptotics, M19) against exact rational lambda(r)(n0).

Moved from test_spectra.py.
"""

from __future__ import annotations

import pytest
import sympy

from eigencalc.architectures import Conv, Dense, Flatten, Polynomial, serial
from eigencalc.domains import ProductSphere
from eigencalc.spectra import spectrum


# --------------------------------------------------------------- asymptotics


@pytest.mark.slow
def test_m19_asymptotics_depth2_tree_polynomial_dual():
    """Exact rational lambda(r)(n0) has leading exponent -|r|; asymptotic() matches to O(1/n0).

    Filter dependence (derived): one power of 1/k per space-tree edge, except the
    edge leaving a patch of degree r_i, which carries k^{-r_i}.
    """
    net = serial(Conv(2, stride=2), Polynomial([0, 1, 1]), Conv(2, stride=2), Polynomial([0, 1, 1]), Flatten(), Dense())
    spec = spectrum(net, ProductSphere(4, 6), "ntk", 3)
    n0 = sympy.Symbol("n0", positive=True)
    k1, k2 = sympy.symbols("k1 k2", positive=True)
    for r, filters in [((1, 0, 0, 0), k1 * k2), ((1, 1, 0, 0), k1**2 * k2), ((1, 0, 1, 0), k1**2 * k2**2)]:
        exact = spec.eigenvalue_in_n0(r)
        assert sympy.limit(sympy.log(exact) / sympy.log(n0), n0, sympy.oo) == -sum(r)
        asym = spec.asymptotic(r)
        assert sympy.simplify(asym * filters * n0 ** sum(r)).free_symbols == set()
        concrete = asym.subs({k1: 2, k2: 2}) if r != (1, 1, 0, 0) else spec.asymptotic(r, leading_in_filters=False).subs({k1: 2, k2: 2})
        ratio = sympy.limit((exact - concrete) * n0 ** (sum(r) + 1), n0, sympy.oo)
        assert ratio.is_finite  # exact - asymptotic = O(n0^{-|r|-1})
        assert float(exact.subs(n0, 6)) == pytest.approx(float(spec.eigenvalue(r)), rel=1e-14)
