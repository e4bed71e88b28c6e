"""MLPs (eigencalc.kernel.mlp): an independent recursion written here, closed forms, depth 0.

Moved from test_architectures.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc import architectures as A
from tests.cases import patch_correlations


# ==========================================================================
# MLP: independent recursion, closed forms
# ==========================================================================


def _relu_dual(q, c):
    rho = np.clip(c / q, -1, 1)
    return q * (np.sqrt(1 - rho**2) + (np.pi - np.arccos(rho)) * rho) / (2 * np.pi), (np.pi - np.arccos(rho)) / (2 * np.pi)


def _erf_dual(q, c):
    return 2 / np.pi * np.arcsin(2 * c / (1 + 2 * q)), 4 / np.pi / np.sqrt((1 + 2 * q) ** 2 - 4 * c**2)


def direct_mlp(t, depth, dual, W, b):
    """The MLP NNGP/NTK recursion of MATH.md M1-M3 written out, unit-variance inputs."""
    W2, b2 = W * W, b * b
    sigma, q = W2 * t + b2, W2 + b2
    theta = sigma
    for _ in range(depth):
        s_act, deriv = dual(q, sigma)
        q_act, _ = dual(q, q)
        theta = theta * deriv
        sigma, q = W2 * s_act + b2, W2 * q_act + b2
        theta = W2 * theta + sigma
    return sigma, theta


@pytest.mark.parametrize("b", [0.0, 0.35])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("name, dual, W", [("relu", _relu_dual, 1.3), ("erf", _erf_dual, 1.6)])
def test_mlp_equals_direct_recursion(name, dual, W, depth, b, rng):
    net = A.mlp(depth, name, W_std=W, b_std=b)
    t = np.concatenate([rng.uniform(-1, 1, 40), [-1.0, 0.0, 1.0]])
    sigma, theta = direct_mlp(t, depth, dual, W, b)
    np.testing.assert_allclose(net.nngp(t), sigma, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(net.ntk(t), theta, rtol=1e-12, atol=1e-15)
    # and through raw inputs with exactly unit variance (hypercube, n0 = 8: t in {k/8})
    X = rng.choice([-1.0, 1.0], (5, 1, 8))
    tt = patch_correlations(X, X)[..., 0]
    np.testing.assert_allclose(net.kernel_fn(X, kind="ntk"), direct_mlp(tt, depth, dual, W, b)[1], rtol=1e-12)


def test_mlp_depth_zero_is_linear(rng):
    net = A.mlp(0, "relu", W_std=2.0, b_std=1.0)
    t = rng.uniform(-1, 1, 5)
    np.testing.assert_allclose(net.nngp(t), 4 * t + 1, rtol=1e-15)
    np.testing.assert_allclose(net.ntk(t), 4 * t + 1, rtol=1e-15)
    assert net.nngp_expr() == 4 * A.t + 1


def test_mlp_accepts_activation_objects_and_layers():
    assert A.mlp(2, A.Relu()) == A.mlp(2, "relu")
    assert A.mlp(2, A.Relu().activation) == A.mlp(2, "relu")
    assert A.mlp(1, "relu").activation.name == "relu"
    assert A.mlp(2, "relu").layers == A.serial(A.Dense(), A.Relu(), A.Dense(), A.Relu(), A.Dense()).layers


@pytest.mark.parametrize("name", ["relu", "erf", "sin"])
@pytest.mark.parametrize("depth, b", [(1, 0.0), (3, 0.3)])
def test_mlp_closed_forms_match_numeric(name, depth, b, rng):
    net = A.mlp(depth, name, W_std=1.25, b_std=b)
    nngp, ntk = net.nngp_expr(), net.ntk_expr()
    assert nngp.free_symbols == {A.t} and ntk.free_symbols == {A.t}
    for tv in list(rng.uniform(-0.99, 0.99, 4)) + [0.0]:
        assert float(nngp.subs(A.t, tv).evalf(30)) == pytest.approx(float(net.nngp(tv)), rel=1e-12)
        assert float(ntk.subs(A.t, tv).evalf(30)) == pytest.approx(float(net.ntk(tv)), rel=1e-12)


def test_mlp_expr_exact_values():
    # one hidden ReLU layer, W = 1, b = 0: NNGP(1) = 1/2, NNGP(0) = 1/(2 pi); NTK(1) = 1
    net = A.mlp(1, "relu")
    assert sympy.simplify(net.nngp_expr().subs(A.t, 1)) == sympy.Rational(1, 2)
    assert sympy.simplify(net.nngp_expr().subs(A.t, 0) - 1 / (2 * sympy.pi)) == 0
    assert sympy.simplify(net.ntk_expr().subs(A.t, 1)) == 1
    assert A.mlp(2, "tanh").nngp_expr() is None and A.mlp(2, "tanh").ntk_expr() is None
