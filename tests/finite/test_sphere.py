"""Funk-Hecke spectrum of the 1/n correction of the mean NNGP on the sphere (F16)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc.duals.activations import activation
from eigencalc.finite import finite_width_mlp, finite_width_pair
from eigencalc.finite.sphere import finite_width_sphere
from eigencalc.harmonic.sphere import sphere_eigenvalues

R = sympy.Rational


def test_polynomial_activation_exact_m11_against_quadrature():
    """phi = z + z^2/2: K1_12(t) is an exact polynomial in t (F7, exact sympy at rational t, Lagrange
    interpolation, degree checked on extra points); its exact M11 eigenvalues equal the F16 quadrature."""
    act = activation("polynomial", coeffs=[0, 1, R(1, 2)])
    widths, C_W = [6, 6, 6], R(1, 2)
    t = sympy.Symbol("t")
    pts = [R(k, 13) for k in range(-12, 13, 2)]
    vals = [finite_width_pair(widths, act, C_W, 0, (1, p, 1)).K1[-1][1] for p in pts]
    poly = sympy.expand(sympy.interpolate(list(zip(pts, vals)), t))
    assert sympy.degree(poly, t) < len(pts) - 2  # the interpolant is the polynomial itself
    for extra in (R(1, 7), R(-5, 11)):
        assert poly.subs(t, extra) == finite_width_pair(widths, act, C_W, 0, (1, extra, 1)).K1[-1][1]
    exact = sphere_eigenvalues(poly, 4, 6)
    quad = finite_width_sphere(widths, act, C_W, 0, n0=4, kmax=6, kind="nngp")
    for a, b in zip(exact.eigenvalues, quad.shift):
        assert abs(float(a) - b) < 1e-10


@pytest.mark.parametrize("name,C_W,tol", [("relu", 2, 1e-3), ("tanh", 1, 1e-9)])
def test_trace_identity(name, C_W, tol):
    """sum_k N(n0, k) mu_k[K1_12] = K1_12(1) = K1 (single input, F4); the tail beyond kmax = 30 bounds the
    error (ReLU: K1_12 has a (1-t)^{3/2}-type endpoint term, so the tail decays algebraically)."""
    s = finite_width_sphere([8, 8, 8], name, C_W, 0, n0=3, kmax=30, nodes=96, kind="nngp")
    trace = sum(N * v for N, v in zip(s.multiplicities, s.shift))
    single = float(finite_width_mlp([8, 8, 8], name, C_W, 0, 1).K1[-1])
    assert abs(trace - single) < tol
    assert abs(sum(N * v for N, v in zip(s.multiplicities, s.mu)) - float(finite_width_mlp([8] * 3, name, C_W, 0, 1).K[-1])) < tol


def test_odd_activation_has_only_odd_frequencies_and_table():
    s = finite_width_sphere([10, 10, 10], "tanh", 1, 0, n0=3, kmax=5, kind="nngp")
    assert max(abs(s.shift[k]) for k in (0, 2, 4)) < 1e-15 and abs(s.shift[1]) > 1e-3
    frame = s.to_frame()
    assert list(frame["k"]) == list(range(6)) and np.isfinite(frame["relative_shift"][1])


def test_sphere_errors():
    with pytest.raises(ValueError, match="layer must be <= depth"):
        finite_width_sphere([4, 4], "relu", 2, 0, layer=3, kind="nngp")
    with pytest.raises(ValueError, match="n"):
        finite_width_sphere([4, 4], "relu", 2, 0, n0=1, kind="nngp")
