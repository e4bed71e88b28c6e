r"""Layer specifications (stax semantics, NTK parameterization) and per-layer kernel maps.

Private module behind :mod:`eigencalc.architectures`.  It holds

* the immutable layer specs and their CamelCase factories (``Dense``, ``Conv``,
  ``Relu`` ..., ``serial``, ``parallel``, ``FanOut``, ``FanInSum``), each of
  which is also a network (``kernel_fn``, ``dag``, ``kernel_of_correlations``,
  ``kernel_series``);
* the per-layer kernel maps of ``../shared/MATH.md`` section 1 (M1–M4) as small
  pure functions on arrays ``(Sigma_xy, Sigma_xx, Sigma_yy, Theta)``, and the
  reference evaluator of a compiled network on raw inputs (float64, numpy).

Array conventions of the kernel maps (``N``, ``M`` inputs, ``P`` positions):

=============  =========================  ==============================
mode           ``Sigma_xy``, ``Theta``    ``Sigma_xx`` / ``Sigma_yy``
=============  =========================  ==============================
diagonal       ``(N, M, P)``              ``(N, P)`` / ``(M, P)``
full           ``(N, M, P, P)``           ``(N, P, P)`` / ``(M, P, P)``
=============  =========================  ==============================

The diagonal mode keeps only same-position covariances, which is all a
pooling-free network needs (M4); the full mode keeps every position pair and
is used as soon as a ``GlobalAvgPool`` is present.  After ``Flatten`` or
``GlobalAvgPool`` the spatial axes have length 1.  Nothing here loops over
pairs of inputs, so a numba twin only has to reproduce these functions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np
import sympy

from .activations import Activation
from .activations import activation as _make_activation

__all__ = [
    "Layer",
    "Dense",
    "Conv",
    "Phi",
    "Flatten",
    "GlobalAvgPool",
    "AvgPool",
    "Identity",
    "FanOut",
    "FanInSum",
    "Serial",
    "Parallel",
    "serial",
    "parallel",
    "Relu",
    "LeakyRelu",
    "Abs",
    "Erf",
    "Tanh",
    "Sigmoid",
    "Gelu",
    "Swish",
    "Softplus",
    "Sin",
    "Cos",
    "Exp",
    "Monomial",
    "Polynomial",
    "Step",
    "conv_indices",
    "affine_map",
    "activation_map",
    "flatten_map",
    "pool_map",
    "sum_map",
    "KINDS",
]

#: The kernel kinds understood everywhere.
KINDS = ("nngp", "ntk")
PADDINGS = ("VALID", "CIRCULAR")


# --------------------------------------------------------------------------
# Parameter conversion
# --------------------------------------------------------------------------


def exact_real(value: Any, what: str) -> sympy.Expr:
    r"""A real layer parameter :math:`w \in \mathbb R` as an exact sympy number (never parses user strings).

    .. math:: W_{std}^2,\ b_{std}^2 \in \mathbb Q \text{ (or sympy reals) in M1, M2}

    Integers, fractions and sympy numbers stay exact; a float is read as the
    shortest decimal that rounds to it (``0.1`` -> ``1/10``), the convention of
    :mod:`eigencalc.activations`.  Pass ``sympy.sqrt(2)`` for an exact sqrt(2).

    >>> exact_real(0.5, "W_std"), exact_real(2, "W_std"), exact_real(0.1, "b_std")
    (1/2, 2, 1/10)
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{what} must be a real number, got {value!r}")
    if isinstance(value, sympy.Basic):
        if not (value.is_number and value.is_real):
            raise TypeError(f"{what} must be a real number, got {value!r}")
        if not value.is_finite:
            raise ValueError(f"{what} must be finite, got {value}")
        return value
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be finite, got {value!r}")
        # repr of a float is a canonical decimal literal, not user text.
        return sympy.Rational(repr(float(value)))
    raise TypeError(f"{what} must be a real number, got {type(value).__name__}")


def _positive_int(value: Any, what: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {what} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {what} must be >= 1, got {value}")
    return int(value)


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, (int, float, str)) else str(value)


# --------------------------------------------------------------------------
# Layer specs
# --------------------------------------------------------------------------


class Layer:
    """An immutable layer spec; every layer (and every combination) is a network.

    Subclasses define ``_key`` (equality / hashing) and ``__repr__``.  The
    network methods compile the layer for ``d`` input patches
    (:func:`eigencalc._dag.compile_network`), which validates the architecture.
    """

    #: Layer category used by the compiler.
    op: str = ""

    def _key(self) -> tuple:
        return ()

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    # ----- the network API ----------------------------------------------------
    def dag(self, d: int):
        r"""The explicit DAG of this network on ``d`` input patches (M1, M4, M18).

        See :class:`eigencalc._dag.Dag`: nodes by layer and position, children
        with averaging weights, receptive fields, the output node.  Raises
        ``ValueError`` naming the offending layer for invalid architectures.

        .. math:: \Sigma_u = \sum_{c \in \mathrm{ch}(u)} w_{uc} \Sigma_c + b_u \ \text{(linear)}, \qquad
                  \Sigma_u = E[\phi(u)\phi(v)] \ \text{(activation)}

        >>> serial(Dense(), Relu(), Flatten(), Dense()).dag(3).nodes[3].children
        (0,)
        """
        from ._dag import build_dag

        return build_dag(self, d)

    def kernel_fn(self, X, Y=None, kind: str = "nngp", engine: str = "auto") -> np.ndarray:
        r"""Gram matrix :math:`K(x_n, y_m)` of raw inputs, shape ``(N, M)`` (M1–M4).

        ``X``: ``(N, d, n0)``, ``Y``: ``(M, d, n0)`` or None (then ``Y = X``);
        ``kind`` is ``"nngp"`` or ``"ntk"``.  Inputs of any norm: the per-position
        variances are tracked (M3).  Pure numpy, float64; see :func:`evaluate_program`.

        .. math:: \Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0

        >>> float(Dense(W_std=2.0).kernel_fn([[[1.0, 1.0]]], kind="ntk")[0, 0])
        4.0
        """
        from ._dag import kernel_fn

        return kernel_fn(self, X, Y, kind, engine)

    def kernel_of_correlations(self, t, kind: str = "nngp") -> np.ndarray:
        r""":math:`K(t_1, \dots, t_d)` for equal-norm patches, :math:`|x_i|^2 = n_0` (M1–M4).

        ``t`` has shape ``(..., d)``; the result has shape ``t.shape[:-1]``.
        Evaluated node by node on the DAG; pooling-free networks only.

        .. math:: t_i = \langle x_i, y_i\rangle / n_0 \in [-1, 1]

        >>> float(serial(Dense(), Relu(), Dense()).kernel_of_correlations([1.0]))
        0.5
        """
        from ._dag import kernel_of_correlations

        return kernel_of_correlations(self, t, kind)

    def kernel_series(self, d: int, kind: str = "nngp", max_degree: int = 4, *, exact=None, dps: int = 30, dual_terms: int = 96):
        r"""Multivariate power series of :math:`K(t_1..t_d)` to total degree D, with tail bound (M15, M16).

        See :func:`eigencalc._series.kernel_series` for ``exact``, ``dps``, ``dual_terms``.

        .. math:: K(t) = \sum_{|\alpha| \le D} c_\alpha t^\alpha + R(t), \quad
                  |R| \le K(1, \dots, 1) - \sum_{|\alpha| \le D} c_\alpha

        >>> serial(Dense(), Relu(), Dense()).kernel_series(1, "nngp", 1).coefficients
        {(0,): 1/(2*pi), (1,): 1/4}
        """
        from ._series import kernel_series

        return kernel_series(self, d, kind, max_degree, exact=exact, dps=dps, dual_terms=dual_terms)


class Dense(Layer):
    r"""Dense layer :math:`z = \frac{W_{std}}{\sqrt{n}} W x + b_{std}\, b`, NTK parameterization (M1, M2).

    Applied at every position (a filter-size-1 convolution):

    .. math::

        \Sigma' = W_{std}^2 \Sigma + b_{std}^2, \qquad
        \Theta' = W_{std}^2 \Theta + \Sigma'.

    Defaults as ``stax.Dense``: ``W_std = 1``, no bias (``b_std = 0``; ``None``
    is accepted as 0).

    >>> Dense(W_std=2.0).kernel_fn([[[1.0, 0.0]]], [[[1.0, 1.0]]]).item()
    2.0
    """

    op = "affine"

    def __init__(self, W_std: Any = 1.0, b_std: Any = 0.0):
        b_std = 0.0 if b_std is None else b_std
        self.W_std, self.b_std = W_std, b_std
        self.w_var_exact = exact_real(W_std, "Dense: W_std") ** 2
        self.b_var_exact = exact_real(b_std, "Dense: b_std") ** 2
        self.w_var, self.b_var = float(self.w_var_exact), float(self.b_var_exact)
        self.filter_size, self.stride, self.padding = 1, 1, "VALID"

    def _key(self):
        return (self.w_var_exact, self.b_var_exact)

    def __repr__(self):
        return f"Dense(W_std={_fmt(self.W_std)}, b_std={_fmt(self.b_std)})"


class Conv(Layer):
    r"""1-D convolution, filter size q, stride s, NTK parameterization (M1, M2).

    On position covariances (VALID; CIRCULAR wraps the indices around):

    .. math::

        \Sigma'_{ij} = \frac{W_{std}^2}{q} \sum_{a<q} \Sigma_{is+a,\, js+a} + b_{std}^2,
        \qquad
        \Theta'_{ij} = \frac{W_{std}^2}{q} \sum_{a<q} \Theta_{is+a,\, js+a} + \Sigma'_{ij}.

    ``padding="CIRCULAR"`` is stax's: SAME geometry wrapped around, ``ceil(P/s)``
    outputs, total padding ``max((ceil(P/s)-1) s + q - P, 0)``, its floor half
    on the left.  Defaults as ``stax.Conv``: stride 1, VALID, ``W_std = 1``, no bias.

    >>> serial(Conv(2, stride=2), Flatten(), Dense()).dag(4).layers[0].nodes
    (4, 5)
    """

    op = "affine"

    def __init__(self, filter_size: int, stride: int = 1, padding: str = "VALID", W_std: Any = 1.0, b_std: Any = 0.0):
        owner = f"Conv(filter_size={filter_size!r}, stride={stride!r})"
        self.filter_size = _positive_int(filter_size, "filter_size", owner)
        self.stride = _positive_int(stride, "stride", owner)
        if not isinstance(padding, str) or padding.upper() not in PADDINGS:
            raise ValueError(f"{owner}: padding must be one of {PADDINGS}, got {padding!r}")
        self.padding = padding.upper()
        b_std = 0.0 if b_std is None else b_std
        self.W_std, self.b_std = W_std, b_std
        self.w_var_exact = exact_real(W_std, "Conv: W_std") ** 2
        self.b_var_exact = exact_real(b_std, "Conv: b_std") ** 2
        self.w_var, self.b_var = float(self.w_var_exact), float(self.b_var_exact)

    def _key(self):
        return (self.filter_size, self.stride, self.padding, self.w_var_exact, self.b_var_exact)

    def __repr__(self):
        return (
            f"Conv({self.filter_size}, stride={self.stride}, padding={self.padding!r}, "
            f"W_std={_fmt(self.W_std)}, b_std={_fmt(self.b_std)})"
        )


class Phi(Layer):
    r"""Elementwise activation :math:`\phi` (M3): :math:`\Sigma \leftarrow E[\phi(u)\phi(v)]`, :math:`\Theta \leftarrow \Theta\, E[\phi'(u)\phi'(v)]`.

    .. math::

        (u, v) \sim N\Big(0, \begin{pmatrix}\Sigma_{ii}(x,x) & \Sigma_{ij}(x,y)\\
        \Sigma_{ij}(x,y) & \Sigma_{jj}(y,y)\end{pmatrix}\Big).

    ``activation`` is an :class:`~eigencalc.activations.Activation`, a name
    understood by :func:`~eigencalc.activations.activation`, or a sympy
    expression in one symbol.

    >>> Phi("relu"), Phi("leaky_relu", slope=0.2)
    (Relu(), Phi(activation('leaky_relu', slope=0.2)))
    """

    op = "activation"

    def __init__(self, activation: Any, *, label: str | None = None, **params):
        self.activation = _make_activation(activation, **params)
        self.label = label

    def _key(self):
        return (self.activation,)

    def __repr__(self):
        if self.label:
            return self.label
        if not self.activation.params and self.activation.name in _FACTORY_NAMES:
            return f"{_FACTORY_NAMES[self.activation.name]}()"
        return f"Phi({self.activation!r})"


_FACTORY_NAMES = {
    "relu": "Relu",
    "abs": "Abs",
    "erf": "Erf",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "gelu": "Gelu",
    "swish": "Swish",
    "softplus": "Softplus",
    "sin": "Sin",
    "cos": "Cos",
    "exp": "Exp",
    "step": "Step",
}


def Relu() -> Phi:
    r""":math:`\phi(x) = \max(x, 0)`; arc-cosine dual :math:`\frac{q}{2\pi}(\sqrt{1-\rho^2} + (\pi - \arccos\rho)\rho)` (M6).

    .. math:: E[\phi(u)\phi(v)] = \frac{\sqrt{q_1 q_2}}{2\pi}(\sin\theta + (\pi-\theta)\cos\theta)

    >>> Relu()
    Relu()
    """
    return Phi("relu", label="Relu()")


def LeakyRelu(slope: Any) -> Phi:
    r""":math:`\phi(x) = \max(x, 0) + \text{slope}\,\min(x, 0)` (stax ``LeakyRelu(alpha)``; M6).

    .. math:: \phi = \text{slope}\cdot x + (1-\text{slope})\,\mathrm{relu}(x)

    >>> LeakyRelu(0.1)
    LeakyRelu(0.1)
    """
    return Phi("leaky_relu", slope=slope, label=f"LeakyRelu({_fmt(slope)})")


def Abs() -> Phi:
    r""":math:`\phi(x) = |x|` (M6).

    .. math:: E[|u||v|] = \frac{2\sqrt{q_1 q_2}}{\pi}(\sin\theta + (\tfrac{\pi}{2}-\theta)\cos\theta)
    """
    return Phi("abs", label="Abs()")


def Erf() -> Phi:
    r""":math:`\phi = \mathrm{erf}` (stax ``Erf()`` with a=1, b=1, c=0; M6).

    .. math:: E[\phi(u)\phi(v)] = \frac{2}{\pi}\arcsin\frac{2c}{\sqrt{(1+2q_1)(1+2q_2)}}
    """
    return Phi("erf", label="Erf()")


def Tanh() -> Phi:
    r""":math:`\phi = \tanh` (Hermite coefficients by quadrature; M5, M6).

    .. math:: E[\phi(u)\phi(v)] = \sum_k a_k^2 \rho^k
    """
    return Phi("tanh", label="Tanh()")


def Sigmoid() -> Phi:
    r""":math:`\phi(x) = 1/(1+e^{-x})` (the logistic function, by quadrature; M5, M6).

    .. math:: E[\phi(u)\phi(v)] = \sum_k a_k^2 \rho^k
    """
    return Phi("sigmoid", label="Sigmoid()")


def Gelu() -> Phi:
    r""":math:`\phi(x) = x\,\Phi_{N}(x)` (exact GELU, stax ``Gelu(approximate=False)``; M5, M6).

    .. math:: \phi(x) = \tfrac{x}{2}(1 + \mathrm{erf}(x/\sqrt2))
    """
    return Phi("gelu", label="Gelu()")


def Swish() -> Phi:
    r""":math:`\phi(x) = x/(1+e^{-x})` (SiLU, by quadrature; M5, M6).

    .. math:: \phi(x) = x\,\sigma(x)
    """
    return Phi("swish", label="Swish()")


def Softplus() -> Phi:
    r""":math:`\phi(x) = \log(1 + e^x)` (by quadrature; M5, M6).

    .. math:: E[\phi(u)\phi(v)] = \sum_k a_k^2 \rho^k
    """
    return Phi("softplus", label="Softplus()")


def Sin() -> Phi:
    r""":math:`\phi = \sin` (stax ``Sin()`` with a=1, b=1, c=0; M6).

    .. math:: E[\sin u \sin v] = e^{-(q_1+q_2)/2}\sinh c
    """
    return Phi("sin", label="Sin()")


def Cos() -> Phi:
    r""":math:`\phi = \cos` (M6).

    .. math:: E[\cos u \cos v] = e^{-(q_1+q_2)/2}\cosh c
    """
    return Phi("cos", label="Cos()")


def Exp() -> Phi:
    r""":math:`\phi = \exp` (stax ``Exp()`` with a=1, b=1; M6).

    .. math:: E[e^u e^v] = e^{(q_1+q_2)/2 + c}
    """
    return Phi("exp", label="Exp()")


def Monomial(degree: int) -> Phi:
    r""":math:`\phi(x) = x^{\text{degree}}` (exact, finite dual series; M5, M6).

    .. math:: \hat\phi(\rho) = \sum_{k \le \text{degree}} a_k^2 \rho^k

    >>> Monomial(2).activation.dual_expr()  # z^2 = He_2 + 1: a_0 = 1, a_2 = sqrt(2)
    2*rho**2 + 1
    """
    return Phi("monomial", degree=degree, label=f"Monomial({degree!r})")


def Polynomial(coeffs: Sequence) -> Phi:
    r""":math:`\phi(x) = \sum_j p_j x^j`, coefficients in ascending powers (stax ``Polynomial(coef)``; M5).

    .. math:: \hat\phi(\rho) = \sum_{k \le \deg} a_k^2 \rho^k
    """
    if isinstance(coeffs, (str, bytes)) or not isinstance(coeffs, Sequence):
        raise TypeError("Polynomial: coeffs must be a sequence of numbers (ascending powers)")
    return Phi("polynomial", coeffs=tuple(coeffs), label=f"Polynomial({list(coeffs)!r})")


def Step() -> Phi:
    r""":math:`\phi(x) = \mathbb 1[x > 0]`; dual :math:`(\pi - \arccos\rho)/(2\pi)` (M6).

    Its derivative is a Dirac delta, so its NTK factor is infinite on the
    diagonal (:math:`\rho = 1`).

    .. math:: E[\phi(u)\phi(v)] = \frac{\pi - \theta}{2\pi}
    """
    return Phi("step", label="Step()")


class Flatten(Layer):
    r"""Flatten: with the next ``Dense``, averages the *diagonal* position covariances (M4).

    .. math:: \Sigma' = \frac1P \sum_i \Sigma_{ii}, \qquad \Theta' = \frac1P \sum_i \Theta_{ii}

    As in stax the output is not marked Gaussian: an activation must not follow
    directly (a ``Dense`` must come first).
    """

    op = "flatten"

    def __repr__(self):
        return "Flatten()"


class GlobalAvgPool(Layer):
    r"""Global average pooling over positions; averages *all* position pairs (M4, section 6).

    .. math:: \Sigma' = \frac{1}{P^2} \sum_{i,j} \Sigma_{ij}, \qquad \Theta' = \frac{1}{P^2} \sum_{i,j} \Theta_{ij}
    """

    op = "pool"

    def __repr__(self):
        return "GlobalAvgPool()"


class AvgPool(Layer):
    r"""Local average pooling over ``window`` positions (stax ``AvgPool``; section 6).

    With windows :math:`w_k` (:func:`conv_indices`, VALID or CIRCULAR):

    .. math:: \Sigma'_{kl} = \frac{1}{\omega^2}\sum_{a \in w_k,\, b \in w_l} \Sigma_{ab},
              \qquad \Theta'_{kl} = \frac{1}{\omega^2}\sum_{a \in w_k,\, b \in w_l} \Theta_{ab}

    Cross-position covariances enter (the full position-pair mode) whenever
    ``window > 1``.  Defaults: stride 1, VALID.
    """

    op = "avgpool"

    def __init__(self, window: int, stride: int = 1, padding: str = "VALID"):
        owner = f"AvgPool({window!r})"
        self.window = _positive_int(window, "window", owner)
        self.stride = _positive_int(stride, "stride", owner)
        if not isinstance(padding, str) or padding.upper() not in PADDINGS:
            raise ValueError(f"{owner}: padding must be one of {PADDINGS}, got {padding!r}")
        self.padding = padding.upper()

    def _key(self):
        return (self.window, self.stride, self.padding)

    def __repr__(self):
        return f"AvgPool({self.window}, stride={self.stride}, padding={self.padding!r})"


class Identity(Layer):
    r"""Identity :math:`z = x`: kernels unchanged (section 1).

    .. math:: \Sigma' = \Sigma, \qquad \Theta' = \Theta
    """

    op = "identity"

    def __repr__(self):
        return "Identity()"


class FanOut(Layer):
    r"""Fan-out into ``n`` identical streams (stax ``FanOut(num)``; section 1).

    .. math:: (\Sigma, \Theta) \mapsto [(\Sigma, \Theta)] \times n
    """

    op = "fanout"

    def __init__(self, n: int):
        self.n = _positive_int(n, "n", f"FanOut({n!r})")

    def _key(self):
        return (self.n,)

    def __repr__(self):
        return f"FanOut({self.n})"


class FanInSum(Layer):
    r"""Sum of streams (stax ``FanInSum()``; section 1); kernels add, branches assumed independent.

    .. math:: \Sigma' = \sum_b \Sigma^{(b)}, \qquad \Theta' = \sum_b \Theta^{(b)}

    Independence holds when every branch but at most one applies a ``Dense`` or
    ``Conv`` after the fork; the compiler checks this.
    """

    op = "faninsum"

    def __repr__(self):
        return "FanInSum()"


def _check_layers(layers: Sequence, owner: str) -> tuple:
    if not layers:
        raise ValueError(f"empty network: {owner}() needs at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner}: argument {i} is {type(layer).__name__}, not a layer")
    return tuple(layers)


class Serial(Layer):
    r"""Composition :math:`f_L \circ \dots \circ f_1` of layers (stax ``serial``; section 1).

    .. math:: (\Sigma, \Theta) \mapsto \mathcal K_{f_L} \circ \dots \circ \mathcal K_{f_1}(\Sigma, \Theta)
    """

    op = "serial"

    def __init__(self, *layers: Layer):
        self.layers = _check_layers(layers, "serial")

    def _key(self):
        return self.layers

    def __repr__(self):
        return "serial(" + ", ".join(map(repr, self.layers)) + ")"


class Parallel(Layer):
    r"""Branches applied to streams one to one (stax ``parallel``; section 1): :math:`[x_b] \mapsto [f_b(x_b)]`.

    .. math:: [(\Sigma_b, \Theta_b)]_b \mapsto [\mathcal K_{f_b}(\Sigma_b, \Theta_b)]_b
    """

    op = "parallel"

    def __init__(self, *layers: Layer):
        self.layers = _check_layers(layers, "parallel")

    def _key(self):
        return self.layers

    def __repr__(self):
        return "parallel(" + ", ".join(map(repr, self.layers)) + ")"


def serial(*layers: Layer) -> Serial:
    r"""Compose layers left to right (stax ``serial``; section 1), e.g. a residual block.

    .. math:: \mathrm{serial}(f_1, \dots, f_L) = f_L \circ \dots \circ f_1

    >>> serial(Dense(), Relu(), Dense())
    serial(Dense(W_std=1.0, b_std=0.0), Relu(), Dense(W_std=1.0, b_std=0.0))
    """
    return Serial(*layers)


def parallel(*layers: Layer) -> Parallel:
    r"""Apply ``layers[b]`` to stream ``b`` (stax ``parallel``; section 1); use after ``FanOut``.

    .. math:: \mathrm{parallel}(f_1, \dots, f_B)[x_1, \dots, x_B] = [f_1(x_1), \dots, f_B(x_B)]
    """
    return Parallel(*layers)


# --------------------------------------------------------------------------
# Per-layer kernel maps (pure functions on arrays)
# --------------------------------------------------------------------------


def conv_indices(width: int, filter_size: int, stride: int, padding: str) -> np.ndarray:
    r"""Input positions read by each output position: array ``(P_out, q)`` (M1).

    VALID: :math:`P_{out} = \lfloor (P - q)/s \rfloor + 1`, index :math:`o s + a`.
    CIRCULAR (stax): :math:`P_{out} = \lceil P/s \rceil`, total padding
    :math:`T = \max((P_{out}-1)s + q - P, 0)`, index :math:`(o s + a - \lfloor T/2\rfloor) \bmod P`.

    >>> conv_indices(4, 3, 1, "CIRCULAR").tolist()
    [[3, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 0]]
    """
    if padding == "VALID":
        n_out = (width - filter_size) // stride + 1
        left = 0
    else:
        n_out = -(-width // stride)
        left = max((n_out - 1) * stride + filter_size - width, 0) // 2
    idx = np.arange(n_out)[:, None] * stride + np.arange(filter_size)[None, :] - left
    return idx % width


def _gather(a: np.ndarray, index: np.ndarray, full: bool) -> np.ndarray:
    """Sum over the filter of ``a`` at the windows ``index`` (same offset on both position axes)."""
    if full:
        return a[..., index[:, None, :], index[None, :, :]].sum(axis=-1)
    return a[..., index].sum(axis=-1)


def affine_map(sxy, sxx, syy, theta, index, w_var: float, b_var: float, full: bool):
    r"""Dense / Conv on kernels (M1, M2), NTK parameterization.

    .. math::

        \Sigma'_{ij} = \frac{W^2}{q}\sum_{a<q}\Sigma_{is+a, js+a} + b^2,\qquad
        \Theta'_{ij} = \frac{W^2}{q}\sum_{a<q}\Theta_{is+a, js+a} + \Sigma'_{ij}

    ``index`` is :func:`conv_indices`; ``theta`` may be None (NNGP only).
    """
    scale = w_var / index.shape[1]
    out_xy = scale * _gather(sxy, index, full) + b_var
    out_xx = scale * _gather(sxx, index, full) + b_var
    out_yy = scale * _gather(syy, index, full) + b_var
    out_theta = None if theta is None else scale * _gather(theta, index, full) + out_xy
    return out_xy, out_xx, out_yy, out_theta


def _diagonal(a: np.ndarray) -> np.ndarray:
    return np.diagonal(a, axis1=-2, axis2=-1)


def activation_map(sxy, sxx, syy, theta, act: Activation, full: bool):
    r"""Elementwise activation on kernels (M3, M8).

    .. math::

        \Sigma'_{ij}(x,y) = E[\phi(u)\phi(v)],\quad
        \Theta'_{ij} = \Theta_{ij}\, E[\phi'(u)\phi'(v)],\quad
        (u, v) \sim N(0, [[\Sigma_{ii}(x,x), \Sigma_{ij}], [\Sigma_{ij}, \Sigma_{jj}(y,y)]])

    Diagonal mode only needs :math:`i = j`.  Variances must be positive.
    """
    if full:
        dx, dy = _diagonal(sxx), _diagonal(syy)
        qx, qy = dx[:, None, :, None], dy[None, :, None, :]
        out_xx = act.kernel(dx[:, :, None], dx[:, None, :], sxx)
        out_yy = act.kernel(dy[:, :, None], dy[:, None, :], syy)
    else:
        qx, qy = sxx[:, None, :], syy[None, :, :]
        out_xx = act.kernel(sxx, sxx, sxx)
        out_yy = act.kernel(syy, syy, syy)
    out_xy = act.kernel(qx, qy, sxy)
    out_theta = None if theta is None else theta * act.derivative_kernel(qx, qy, sxy)
    return out_xy, out_xx, out_yy, out_theta


def flatten_map(sxy, sxx, syy, theta, full: bool):
    r"""Flatten (before a Dense): mean of the diagonal position covariances (M4).

    .. math:: \Sigma' = \frac1P\sum_i \Sigma_{ii},\qquad \Theta' = \frac1P\sum_i\Theta_{ii}
    """

    def mean_diag(a):
        if a is None:
            return None
        if full:
            return _diagonal(a).mean(axis=-1)[..., None, None]
        return a.mean(axis=-1, keepdims=True)

    return mean_diag(sxy), mean_diag(sxx), mean_diag(syy), mean_diag(theta)


def pool_map(sxy, sxx, syy, theta, full: bool):
    r"""GlobalAvgPool: mean over all position pairs (M4); needs the full mode when P > 1.

    .. math:: \Sigma' = \frac{1}{P^2}\sum_{i,j}\Sigma_{ij},\qquad \Theta' = \frac{1}{P^2}\sum_{i,j}\Theta_{ij}
    """

    def mean_all(a):
        if a is None:
            return None
        if full:
            return a.mean(axis=(-2, -1))[..., None, None]
        if a.shape[-1] != 1:
            raise ValueError("GlobalAvgPool over P > 1 positions needs the full (position-pair) mode")
        return a

    return mean_all(sxy), mean_all(sxx), mean_all(syy), mean_all(theta)


def avgpool_map(sxy, sxx, syy, theta, index, full: bool):
    r"""AvgPool on kernels: mean over window pairs (section 6); needs the full mode if window > 1.

    .. math:: \Sigma'_{kl} = \frac{1}{\omega^2}\sum_{a<\omega}\sum_{b<\omega} \Sigma_{w_k(a), w_l(b)}
    """
    omega = index.shape[1]

    def pool(a):
        if a is None:
            return None
        if full:
            return a[..., index[:, None, :, None], index[None, :, None, :]].sum(axis=(-2, -1)) / omega**2
        if omega != 1:
            raise ValueError("AvgPool over more than one position needs the full (position-pair) mode")
        return a[..., index[:, 0]]

    return pool(sxy), pool(sxx), pool(syy), pool(theta)


def sum_map(states: Sequence[tuple]):
    r"""FanInSum: kernels of independent branches add.

    .. math:: \Sigma' = \sum_b \Sigma^{(b)},\qquad \Theta' = \sum_b \Theta^{(b)}
    """
    out = []
    for parts in zip(*states):
        out.append(None if parts[0] is None else sum(parts[1:], parts[0].copy()))
    return tuple(out)


# --------------------------------------------------------------------------
# The reference evaluator on raw inputs
# --------------------------------------------------------------------------


def input_covariances(X: np.ndarray, Y: np.ndarray, full: bool):
    r""":math:`\Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0` for ``X (N, d, n0)``, ``Y (M, d, n0)`` (section 1).

    .. math:: \Sigma^0_{xy} = X Y^\top / n_0 \text{ per position pair (full) or per position (diagonal)}
    """
    n0 = X.shape[-1]
    if full:
        sxy = np.einsum("nic,mjc->nmij", X, Y) / n0
        sxx = np.einsum("nic,njc->nij", X, X) / n0
        syy = np.einsum("mic,mjc->mij", Y, Y) / n0
    else:
        sxy = np.einsum("nic,mic->nmi", X, Y) / n0
        sxx = np.einsum("nic,nic->ni", X, X) / n0
        syy = np.einsum("mic,mic->mi", Y, Y) / n0
    return sxy, sxx, syy


def evaluate_program(program, X: np.ndarray, Y: np.ndarray | None, kind: str) -> np.ndarray:
    r"""Run a compiled network (:class:`eigencalc._dag.Program`) on raw inputs; returns ``(N, M)``.

    Registers hold ``(Sigma_xy, Sigma_xx, Sigma_yy, Theta)``; each step applies
    one kernel map.  With ``Y is None`` the self-covariances are re-read from
    the diagonal of ``Sigma_xy`` after every step, so that :math:`\rho = 1`
    exactly on the diagonal.
    """
    full = program.full
    same = Y is None
    sxy, sxx, syy = input_covariances(X, X if same else Y, full)
    n = X.shape[0]
    diag = np.arange(n)

    def resync(state):
        if not same:
            return state
        xy, _, _, th = state
        d = xy[diag, diag].copy()
        return xy, d, d, th

    theta = np.zeros_like(sxy) if kind == "ntk" else None
    regs = {0: resync((sxy, sxx, syy, theta))}
    for step in program.steps:
        src = [regs[r] for r in step.src]
        if step.op == "affine":
            out = affine_map(*src[0], step.index, step.layer.w_var, step.layer.b_var, full)
        elif step.op == "activation":
            _check_positive_variances(src[0], step, full)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = activation_map(*src[0], step.layer.activation, full)
        elif step.op == "flatten":
            out = flatten_map(*src[0], full)
        elif step.op == "pool":
            out = pool_map(*src[0], full)
        elif step.op == "avgpool":
            out = avgpool_map(*src[0], step.index, full)
        elif step.op == "sum":
            out = sum_map(src)
        else:  # pragma: no cover - the compiler emits only the ops above
            raise AssertionError(step.op)
        regs[step.dst] = resync(out)
    sxy, _, _, theta = regs[program.output]
    result = theta if kind == "ntk" else sxy
    return result.reshape(result.shape[:2])


def _check_positive_variances(state, step, full: bool) -> None:
    _, sxx, syy, _ = state
    for name, s in (("X", sxx), ("Y", syy)):
        v = _diagonal(s) if full else s
        if not (v > 0).all():
            bad = np.argwhere(~(v > 0))[0]
            raise ValueError(
                f"{step.layer!r} at {step.path}: input {name}[{bad[0]}] has variance {v[tuple(bad)]:g} "
                f"at position {bad[1]} (an all-zero input patch and no bias?); activations need variances > 0"
            )
