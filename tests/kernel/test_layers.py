"""Layer specs (eigencalc.kernel.layers, through the eigencalc.architectures facade): construction, reprs, errors.

Moved from test_architectures.py; the compiler, DAG, evaluator and MLP tests of
that file are in test_compiler.py, test_dag.py, test_evaluate.py and test_mlp.py.
"""

from __future__ import annotations

import pytest
import sympy

from eigencalc import architectures as A
from eigencalc.activations import Activation


# ==========================================================================
# Construction and repr
# ==========================================================================


def test_reprs_and_defaults_follow_stax():
    assert repr(A.Dense()) == "Dense(W_std=1.0, b_std=0.0)"
    assert repr(A.Conv(3)) == "Conv(3, stride=1, padding='VALID', W_std=1.0, b_std=0.0)"
    assert A.Conv(3, padding="circular").padding == "CIRCULAR"
    assert A.Dense(b_std=None) == A.Dense()
    assert repr(A.mlp(2, "erf", 1.5)) == "mlp(2, Erf(), W_std=1.5, b_std=0.0)"
    assert repr(A.LeakyRelu(0.2)) == "LeakyRelu(0.2)"
    assert repr(A.Monomial(3)) == "Monomial(3)"
    for f in (A.Relu, A.Abs, A.Erf, A.Tanh, A.Sigmoid, A.Gelu, A.Swish, A.Softplus, A.Sin, A.Cos, A.Exp, A.Step):
        layer = f()
        assert repr(layer) == f.__name__ + "()"
        assert isinstance(layer.activation, Activation)
    assert A.Phi(A.Relu().activation) == A.Relu()
    assert hash(A.serial(A.Dense(), A.Relu())) == hash(A.serial(A.Dense(), A.Relu()))


def test_exact_parameters():
    layer = A.Dense(W_std=sympy.sqrt(2), b_std=0.1)
    assert layer.w_var_exact == 2 and layer.b_var_exact == sympy.Rational(1, 100)
    assert layer.w_var == 2.0


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: A.Conv(3, stride=0), ValueError, ["stride", ">= 1", "got 0"]),
        (lambda: A.Conv(0), ValueError, ["filter_size", "got 0"]),
        (lambda: A.Conv(2.5), TypeError, ["filter_size", "integer"]),
        (lambda: A.Conv(2, padding="REFLECT"), ValueError, ["padding", "VALID", "SAME", "CIRCULAR"]),
        (lambda: A.FanOut(0), ValueError, ["FanOut", "n"]),
        (lambda: A.serial(), ValueError, ["empty network", "serial"]),
        (lambda: A.parallel(), ValueError, ["empty network", "parallel"]),
        (lambda: A.serial(A.Dense(), "relu"), TypeError, ["argument 1", "str"]),
        (lambda: A.Dense(W_std="2"), TypeError, ["W_std"]),
        (lambda: A.Dense(W_std=float("nan")), ValueError, ["W_std", "finite"]),
        (lambda: A.mlp(-1, "relu"), ValueError, ["depth", ">= 0"]),
        (lambda: A.mlp(2, A.Dense()), TypeError, ["activation"]),
        (lambda: A.Phi("nonsense"), ValueError, ["unknown activation"]),
        (lambda: A.Polynomial("1+x"), TypeError, ["coeffs"]),
    ],
)
def test_construction_errors(make, error, words):
    with pytest.raises(error) as info:
        make()
    for w in words:
        assert w in str(info.value)
