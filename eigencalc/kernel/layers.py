r"""Layer specifications (stax semantics, NTK parameterization), each of which is a network.

The immutable layer specs and their CamelCase factories (``Dense``, ``Conv``,
``Relu`` ..., ``serial``, ``parallel``, ``FanOut``, ``FanInSum``).  Every layer,
and every combination, is also a network with ``kernel_fn``, ``dag``,
``kernel_of_correlations`` and ``kernel_series`` (``../shared/MATH.md``
section 1, M1-M4).  The kernel maps themselves live in :mod:`.reference`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sympy

from ..core.numbers import exact_real
from ..core.validate import REQUIRED, check_int
from ..duals.activations import activation as _make_activation
from .compiler import Compiler, Register, Stream, window_indices
from .dag import build_dag
from .engine import kernel_fn, kernel_of_correlations
from .ops import Op
from .series import kernel_series
from .spec import LayerSpec

__all__ = [
    "LAYERS",
    "register",
    "layer_table",
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
    ]

PADDINGS = ("VALID", "SAME", "CIRCULAR")
PARAMETERIZATIONS = ("ntk", "standard")


# --------------------------------------------------------------------------
# Parameter conversion
# --------------------------------------------------------------------------


def _positive_int(value: Any, what: str, owner: str) -> int:
    return check_int(value, f"{owner}: {what}", 1)


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, (int, float, str)) else str(value)


def _spatial(value: Any, what: str, owner: str, ndim: int | None = None) -> tuple:
    """A filter shape / stride: a positive int (1-D, or every axis when ``ndim`` is given) or a tuple of them."""
    if isinstance(value, (tuple, list)):
        if not value:
            raise ValueError(f"{owner}: {what} must have at least one axis, got {value!r}")
        out = tuple(_positive_int(v, f"{what}[{k}]", owner) for k, v in enumerate(value))
        if ndim is not None and len(out) != ndim:
            raise ValueError(f"{owner}: {what} {out} has {len(out)} axes but the filter has {ndim}")
        return out
    return (_positive_int(value, what, owner),) * (ndim or 1)


def _padding(value: Any, owner: str) -> str:
    if not isinstance(value, str) or value.upper() not in PADDINGS:
        raise ValueError(f"{owner}: padding must be one of {PADDINGS}, got {value!r}")
    return value.upper()


def _scalar_or_tuple(shape: tuple):
    """How a shape prints: ``3`` for one axis, ``(2, 2)`` for more."""
    return shape[0] if len(shape) == 1 else shape


class _Affine:
    """Weights, bias and parameterization shared by Dense and Conv (M1, M2; stax ``parameterization``)."""

    def _set_parameters(self, owner: str, W_std: Any, b_std: Any, parameterization: Any, out_chan: Any) -> None:
        if not isinstance(parameterization, str) or parameterization.lower() not in PARAMETERIZATIONS:
            raise ValueError(f"{owner}: parameterization must be one of {PARAMETERIZATIONS}, got {parameterization!r}")
        self.parameterization = parameterization.lower()
        self.out_chan = None if out_chan is None else _positive_int(out_chan, "out_chan", owner)
        self.has_bias = b_std is not None
        b_std = 0.0 if b_std is None else b_std
        self.W_std, self.b_std = W_std, b_std
        kind = owner.split("(")[0]
        self.w_var_exact = exact_real(W_std, f"{kind}: W_std") ** 2
        self.b_var_exact = exact_real(b_std, f"{kind}: b_std") ** 2
        self.w_var, self.b_var = float(self.w_var_exact), float(self.b_var_exact)

    def _parameter_key(self) -> tuple:
        key = (self.w_var_exact, self.b_var_exact)
        if self.parameterization == "standard":  # the NTK reads the fan-in and whether a bias trains
            key += ("standard", self.has_bias, self.out_chan)
        elif self.out_chan is not None:
            key += (self.out_chan,)
        return key

    def _parameter_repr(self) -> str:
        if self.parameterization == "ntk":
            text = f"W_std={_fmt(self.W_std)}, b_std={_fmt(self.b_std)}"
        else:
            text = f"W_std={_fmt(self.W_std)}, b_std={_fmt(self.b_std) if self.has_bias else None}"
            text += ", parameterization='standard'"
        return text + ("" if self.out_chan is None else f", out_chan={self.out_chan}")

    def ntk_coefficients(self, compiler: Compiler, stream: Stream, path: str, q: int) -> tuple:
        r"""``(ntk_weight, ntk_bias)`` :math:`(\tau, \beta)` of :class:`~.compiler.Step` (M2; stax).

        NTK parameterization: :math:`(\sigma_W^2, \sigma_b^2)`.  Standard:
        :math:`(n_{in} q, [\text{bias}])`, the fan-in and 1 if the bias trains
        (stax: ``ntk = fan_in * conv(nngp) + W_std**2 * conv(ntk) (+ 1)``).
        """
        if self.parameterization == "ntk":
            return self.w_var_exact, self.b_var_exact
        fan_in = compiler.input_channels(self, stream, path) * q
        return sympy.Integer(fan_in), sympy.Integer(1 if self.has_bias else 0)


# --------------------------------------------------------------------------
# The layer registry
# --------------------------------------------------------------------------

#: Every layer by the name the grammar, the CLI and the docs use: name -> factory (class or function).
LAYERS: dict = {}
#: Activation name -> name of its parameterless activation-layer factory (``"relu" -> "Relu"``).
_ACTIVATION_FACTORIES: dict = {}


def register(factory=None, *, activation: str | None = None):
    """Add a layer factory to :data:`LAYERS` under its own name (a decorator).

    ``activation`` marks a parameterless activation layer, so that
    ``Phi(name)`` prints as the factory call.  Adding a layer is one class or
    factory here with ``@register``, plus its tests.
    """

    def add(f):
        LAYERS[f.__name__] = f
        if activation is not None:
            _ACTIVATION_FACTORIES[activation] = f.__name__
        return f

    return add if factory is None else add(factory)


def layer_table() -> list:
    """One row per registered layer: its name, call signature and the summary line of its docstring.

    The CLI (``eigencalc layers``), the grammar and the README's layer table read this registry.

    >>> [row["layer"] for row in layer_table()][:3]
    ['Dense', 'Conv', 'Relu']
    """
    import inspect

    rows = []
    for name, factory in LAYERS.items():
        summary = (inspect.getdoc(factory) or "").split("\n")[0]
        params = inspect.signature(factory).parameters.values()
        args = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params)
        rows.append({"layer": name, "call": f"{name}({args})", "summary": summary})
    return rows


# --------------------------------------------------------------------------
# Layer specs
# --------------------------------------------------------------------------


def _compile_affine(layer, compiler: Compiler, streams: list, path: str) -> list:
    """Dense / Conv (M1, M2): one affine step over the filter windows; Conv needs positions left."""
    stream = compiler.single(layer, streams, path)
    reg = compiler.register(stream)
    name = f"{layer!r} at {path}"
    if layer.spatial:
        if reg.flat:
            raise ValueError(f"{name}: its input ({reg.origin}) has no positions left; Conv needs spatial input")
        index, out_shape = _windows(name, reg, layer.filter_shape, layer.strides, layer.padding, "filter")
    else:  # Dense: the same affine map at every position
        index, out_shape = np.arange(reg.width, dtype=np.int64)[:, None], reg.shape
    ntk = layer.ntk_coefficients(compiler, stream, path, index.shape[1])
    out = Register(out_shape, reg.flat, True, Op.AFFINE, name, layer.out_chan)
    return [compiler.emit(layer, path, Op.AFFINE, (stream.reg,), out, index, fresh=True, ntk=ntk)]


def _windows(name: str, reg: Register, window: tuple, strides: tuple, padding: str, what: str) -> tuple:
    """Window array and output grid of a filter / pooling window on ``reg``, or a clear error naming the sizes."""
    if len(window) != len(reg.shape):
        raise ValueError(
            f"{name}: a {len(window)}-D {what} {_scalar_or_tuple(window)} on a {len(reg.shape)}-D grid "
            f"{reg.grid} (positions after {reg.origin}); give a {what} with {len(reg.shape)} axes"
        )
    if padding != "SAME" and any(q > P for q, P in zip(window, reg.shape)):
        size = "filter_size" if what == "filter" else "window"
        shown = _scalar_or_tuple(window)
        if len(window) == 1:
            message = f"{size} {shown} is larger than the current width {reg.width}"
        else:
            message = f"{what} {shown} is larger than the grid {reg.grid}"
        raise ValueError(f"{name}: {message} (positions after {reg.origin}, padding {padding})")
    return window_indices(reg.shape, window, strides, padding)


def _compile_single_position_readout(layer, compiler: Compiler, streams: list, path: str, op: Op) -> list:
    """Flatten / GlobalAvgPool (M4): one step to a single (flat) position."""
    stream = compiler.single(layer, streams, path)
    reg = compiler.register(stream)
    if op == Op.POOL and reg.width > 1:
        compiler.needs_position_pairs()
    channels = reg.channels
    if op == Op.FLATTEN and channels is not None:  # stax's Flatten makes channels x positions features
        channels *= reg.width
    out = Register((1,), True, reg.gaussian and op == Op.POOL, op, f"{layer!r} at {path}", channels)
    return [compiler.emit(layer, path, op, (stream.reg,), out, fresh=stream.fresh)]


class Layer(LayerSpec):
    """An immutable layer spec; every layer (and every combination) is a network.

    Subclasses define ``_key`` (equality / hashing) and ``__repr__``.  The
    network methods compile the layer for ``d`` input patches
    (:func:`eigencalc.architectures.compile_network`), which validates the architecture.
    """

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        """This layer's compile rule: check ``streams`` and emit steps (see :mod:`eigencalc.kernel.compiler`)."""
        raise TypeError(f"{self!r} at {path}: unknown layer type {type(self).__name__}")  # pragma: no cover

    # ----- the network API ----------------------------------------------------
    def dag(self, d, n0: int | None = None):
        r"""The explicit DAG of this network on ``d`` input patches (M1, M4, M18).

        See :class:`eigencalc.architectures.Dag`: nodes by layer and position, children
        with averaging weights, receptive fields, the output node.  Raises
        ``ValueError`` naming the offending layer for invalid architectures.

        .. math:: \Sigma_u = \sum_{c \in \mathrm{ch}(u)} w_{uc} \Sigma_c + b_u \ \text{(linear)}, \qquad
                  \Sigma_u = E[\phi(u)\phi(v)] \ \text{(activation)}

        >>> serial(Dense(), Relu(), Flatten(), Dense()).dag(3).nodes[3].children
        (0,)
        """
        return build_dag(self, d, n0)

    def kernel_fn(self, X, Y=None, kind: str = REQUIRED, engine: str = "auto") -> np.ndarray:
        r"""Gram matrix :math:`K(x_n, y_m)` of raw inputs, shape ``(N, M)`` (M1–M4).

        ``X``: ``(N, d, n0)``, ``Y``: ``(M, d, n0)`` or None (then ``Y = X``);
        ``kind`` is ``"nngp"`` or ``"ntk"``.  Inputs of any norm: the per-position
        variances are tracked (M3).  Float64; ``engine`` as in
        :func:`eigencalc.kernel.engine.kernel_fn` (``"numpy"`` is the reference interpreter).

        .. math:: \Sigma^0_{ij}(x, y) = \langle x_i, y_j\rangle / n_0

        >>> float(Dense(W_std=2.0).kernel_fn([[[1.0, 1.0]]], kind="ntk")[0, 0])
        4.0
        """
        return kernel_fn(self, X, Y, kind, engine)

    def kernel_of_correlations(self, t, kind: str = REQUIRED, engine: str = "auto", **grid) -> np.ndarray:
        r""":math:`K(t_1, \dots, t_d)` for equal-norm patches, :math:`|x_i|^2 = n_0` (M1–M4).

        ``t`` has shape ``(..., d)``; the result has shape ``t.shape[:-1]``.
        Pooling-free networks only; ``grid`` (``grid=(H, W)``) and ``n0`` keywords as in
        :func:`eigencalc.kernel.engine.kernel_of_correlations`.

        .. math:: t_i = \langle x_i, y_i\rangle / n_0 \in [-1, 1]

        >>> float(serial(Dense(), Relu(), Dense()).kernel_of_correlations([1.0], "nngp"))
        0.5
        """
        return kernel_of_correlations(self, t, kind, engine=engine, **grid)

    def kernel_series(self, d: int, kind: str = REQUIRED, max_degree: int = 4, **options):
        r"""Multivariate power series of :math:`K(t_1..t_d)` to total degree D, with tail bound (M15, M16).

        ``options``: ``exact``, ``dual_terms`` of :func:`eigencalc.kernel.series.kernel_series`.

        .. math:: K(t) = \sum_{|\alpha| \le D} c_\alpha t^\alpha + R(t), \quad
                  |R| \le K(1, \dots, 1) - \sum_{|\alpha| \le D} c_\alpha

        >>> serial(Dense(), Relu(), Dense()).kernel_series(1, "nngp", 1).coefficients
        {(0,): 1/(2*pi), (1,): 1/4}
        """
        return kernel_series(self, d, kind, max_degree, **options)


@register
class Dense(_Affine, Layer):
    r"""Dense layer :math:`z = \frac{W_{std}}{\sqrt{n}} W x + b_{std}\, b`, NTK parameterization (M1, M2).

    Applied at every position (a filter-size-1 convolution):

    .. math::

        \Sigma' = W_{std}^2 \Sigma + b_{std}^2, \qquad
        \Theta' = W_{std}^2 \Theta + \Sigma'.

    Defaults as ``stax.Dense``: ``W_std = 1``, no bias (``b_std = None``, the
    same kernel as 0).  ``parameterization="standard"`` is stax's
    (:math:`W \sim N(0, W_{std}^2/n)`, trained directly): the NNGP is unchanged and
    :math:`\Theta' = W_{std}^2\Theta + n_{in}\Sigma + [\text{bias}]`, which needs the input
    channel count :math:`n_{in}`: ``n0`` for the first layer, else the ``out_chan``
    of the layer before.

    >>> Dense(W_std=2.0).kernel_fn([[[1.0, 0.0]]], [[[1.0, 1.0]]], kind="nngp").item()
    2.0
    """

    compile = _compile_affine

    def __init__(self, W_std: Any = 1.0, b_std: Any = None, parameterization: str = "ntk", out_chan: Any = None):
        self._set_parameters("Dense()", W_std, b_std, parameterization, out_chan)
        self.filter_size, self.stride, self.padding = 1, 1, "VALID"

    def _key(self):
        return self._parameter_key()

    def __repr__(self):
        return f"Dense({self._parameter_repr()})"


@register
class Conv(_Affine, Layer):
    r"""Convolution on a row (1-D) or a grid (2-D) of patches, filter q, stride s, NTK parameterization (M1, M2).

    On position covariances, with :math:`w_o` the filter window of output o
    (:func:`~eigencalc.kernel.compiler.window_indices`) and :math:`|w| = q` its size:

    .. math::

        \Sigma'_{ij} = \frac{W_{std}^2}{q} \sum_{a<q} \Sigma_{w_i(a),\, w_j(a)} + b_{std}^2,
        \qquad
        \Theta'_{ij} = \frac{W_{std}^2}{q} \sum_{a<q} \Theta_{w_i(a),\, w_j(a)} + \Sigma'_{ij}.

    ``filter_size`` is an int (1-D) or a shape such as ``(2, 2)`` (2-D, stax's
    ``filter_shape``); ``stride`` an int (every axis) or a tuple.  Padding as
    stax: ``VALID``; ``SAME`` (``ceil(P/s)`` outputs per axis, total padding
    ``max((ceil(P/s)-1) s + q - P, 0)``, its floor half first, zeros: padded
    taps add nothing but still count in q); ``CIRCULAR`` (the SAME geometry
    wrapped around).  ``parameterization="standard"`` as for :class:`Dense`, with
    fan-in :math:`n_{in} q`.  Defaults as ``stax.Conv``: stride 1, VALID,
    ``W_std = 1``, no bias.

    >>> serial(Conv(2, stride=2), Flatten(), Dense()).dag(4).layers[0].nodes
    (4, 5)
    >>> serial(Conv((2, 2), stride=2), Flatten(), Dense()).dag((4, 4)).layers[0].nodes[:2]
    (16, 17)
    """

    spatial = True
    compile = _compile_affine

    def __init__(self, filter_size: Any, stride: Any = 1, padding: str = "VALID", W_std: Any = 1.0, b_std: Any = None,
                 parameterization: str = "ntk", out_chan: Any = None):
        owner = f"Conv(filter_size={filter_size!r}, stride={stride!r})"
        self.filter_shape = _spatial(filter_size, "filter_size", owner)
        self.strides = _spatial(stride, "stride", owner, len(self.filter_shape))
        self.filter_size, self.stride = _scalar_or_tuple(self.filter_shape), _scalar_or_tuple(self.strides)
        self.padding = _padding(padding, owner)
        self._set_parameters(owner, W_std, b_std, parameterization, out_chan)

    def _key(self):
        geometry = (self.filter_size, self.stride) if len(self.filter_shape) == 1 else (self.filter_shape, self.strides)
        return geometry + (self.padding,) + self._parameter_key()

    def __repr__(self):
        return (
            f"Conv({self.filter_size}, stride={self.stride}, padding={self.padding!r}, "
            f"{self._parameter_repr()})"
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

    def __init__(self, activation: Any, *, label: str | None = None, **params):
        self.activation = _make_activation(activation, **params)
        self.label = label

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        stream = compiler.single(self, streams, path)
        reg = compiler.register(stream)
        if not reg.gaussian:
            raise ValueError(
                f"{self!r} at {path}: its input ({reg.origin}) is not a Gaussian layer output; "
                "put a Dense or Conv before every activation (as stax requires)"
            )
        out = Register(reg.shape, reg.flat, False, Op.ACTIVATION, f"{self!r} at {path}", reg.channels)
        return [compiler.emit(self, path, Op.ACTIVATION, (stream.reg,), out, fresh=stream.fresh)]

    def _key(self):
        return (self.activation,)

    def __repr__(self):
        if self.label:
            return self.label
        if not self.activation.params and self.activation.name in _ACTIVATION_FACTORIES:
            return f"{_ACTIVATION_FACTORIES[self.activation.name]}()"
        return f"Phi({self.activation!r})"




@register(activation="relu")
def Relu() -> Phi:
    r""":math:`\phi(x) = \max(x, 0)`; arc-cosine dual :math:`\frac{q}{2\pi}(\sqrt{1-\rho^2} + (\pi - \arccos\rho)\rho)` (M6).

    .. math:: E[\phi(u)\phi(v)] = \frac{\sqrt{q_1 q_2}}{2\pi}(\sin\theta + (\pi-\theta)\cos\theta)

    >>> Relu()
    Relu()
    """
    return Phi("relu", label="Relu()")


@register
def LeakyRelu(slope: Any) -> Phi:
    r""":math:`\phi(x) = \max(x, 0) + \text{slope}\,\min(x, 0)` (stax ``LeakyRelu(alpha)``; M6).

    .. math:: \phi = \text{slope}\cdot x + (1-\text{slope})\,\mathrm{relu}(x)

    >>> LeakyRelu(0.1)
    LeakyRelu(0.1)
    """
    return Phi("leaky_relu", slope=slope, label=f"LeakyRelu({_fmt(slope)})")


@register(activation="abs")
def Abs() -> Phi:
    r""":math:`\phi(x) = |x|` (M6).

    .. math:: E[|u||v|] = \frac{2\sqrt{q_1 q_2}}{\pi}(\sin\theta + (\tfrac{\pi}{2}-\theta)\cos\theta)
    """
    return Phi("abs", label="Abs()")


@register(activation="erf")
def Erf() -> Phi:
    r""":math:`\phi = \mathrm{erf}` (stax ``Erf()`` with a=1, b=1, c=0; M6).

    .. math:: E[\phi(u)\phi(v)] = \frac{2}{\pi}\arcsin\frac{2c}{\sqrt{(1+2q_1)(1+2q_2)}}
    """
    return Phi("erf", label="Erf()")


@register(activation="tanh")
def Tanh() -> Phi:
    r""":math:`\phi = \tanh` (Hermite coefficients by quadrature; M5, M6).

    .. math:: E[\phi(u)\phi(v)] = \sum_k a_k^2 \rho^k
    """
    return Phi("tanh", label="Tanh()")


@register(activation="sigmoid")
def Sigmoid() -> Phi:
    r""":math:`\phi(x) = 1/(1+e^{-x})` (the logistic function, by quadrature; M5, M6).

    .. math:: E[\phi(u)\phi(v)] = \sum_k a_k^2 \rho^k
    """
    return Phi("sigmoid", label="Sigmoid()")


@register(activation="gelu")
def Gelu() -> Phi:
    r""":math:`\phi(x) = x\,\Phi_{N}(x)` (exact GELU, stax ``Gelu(approximate=False)``; M5, M6).

    .. math:: \phi(x) = \tfrac{x}{2}(1 + \mathrm{erf}(x/\sqrt2))
    """
    return Phi("gelu", label="Gelu()")


@register(activation="swish")
def Swish() -> Phi:
    r""":math:`\phi(x) = x/(1+e^{-x})` (SiLU, by quadrature; M5, M6).

    .. math:: \phi(x) = x\,\sigma(x)
    """
    return Phi("swish", label="Swish()")


@register(activation="softplus")
def Softplus() -> Phi:
    r""":math:`\phi(x) = \log(1 + e^x)` (by quadrature; M5, M6).

    .. math:: E[\phi(u)\phi(v)] = \sum_k a_k^2 \rho^k
    """
    return Phi("softplus", label="Softplus()")


@register(activation="sin")
def Sin() -> Phi:
    r""":math:`\phi = \sin` (stax ``Sin()`` with a=1, b=1, c=0; M6).

    .. math:: E[\sin u \sin v] = e^{-(q_1+q_2)/2}\sinh c
    """
    return Phi("sin", label="Sin()")


@register(activation="cos")
def Cos() -> Phi:
    r""":math:`\phi = \cos` (M6).

    .. math:: E[\cos u \cos v] = e^{-(q_1+q_2)/2}\cosh c
    """
    return Phi("cos", label="Cos()")


@register(activation="exp")
def Exp() -> Phi:
    r""":math:`\phi = \exp` (stax ``Exp()`` with a=1, b=1; M6).

    .. math:: E[e^u e^v] = e^{(q_1+q_2)/2 + c}
    """
    return Phi("exp", label="Exp()")


@register
def Monomial(degree: int) -> Phi:
    r""":math:`\phi(x) = x^{\text{degree}}` (exact, finite dual series; M5, M6).

    .. math:: \hat\phi(\rho) = \sum_{k \le \text{degree}} a_k^2 \rho^k

    >>> Monomial(2).activation.dual_expr()  # z^2 = He_2 + 1: a_0 = 1, a_2 = sqrt(2)
    2*rho**2 + 1
    """
    return Phi("monomial", degree=degree, label=f"Monomial({degree!r})")


@register
def Polynomial(coeffs: Sequence) -> Phi:
    r""":math:`\phi(x) = \sum_j p_j x^j`, coefficients in ascending powers (stax ``Polynomial(coef)``; M5).

    .. math:: \hat\phi(\rho) = \sum_{k \le \deg} a_k^2 \rho^k
    """
    if isinstance(coeffs, (str, bytes)) or not isinstance(coeffs, Sequence):
        raise TypeError("Polynomial: coeffs must be a sequence of numbers (ascending powers)")
    return Phi("polynomial", coeffs=tuple(coeffs), label=f"Polynomial({list(coeffs)!r})")


@register(activation="step")
def Step() -> Phi:
    r""":math:`\phi(x) = \mathbb 1[x > 0]`; dual :math:`(\pi - \arccos\rho)/(2\pi)` (M6).

    Its derivative is a Dirac delta, so its NTK factor is infinite on the
    diagonal (:math:`\rho = 1`).

    .. math:: E[\phi(u)\phi(v)] = \frac{\pi - \theta}{2\pi}
    """
    return Phi("step", label="Step()")


@register
class Flatten(Layer):
    r"""Flatten: with the next ``Dense``, averages the *diagonal* position covariances (M4).

    .. math:: \Sigma' = \frac1P \sum_i \Sigma_{ii}, \qquad \Theta' = \frac1P \sum_i \Theta_{ii}

    As in stax the output is not marked Gaussian: an activation must not follow
    directly (a ``Dense`` must come first).
    """

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        return _compile_single_position_readout(self, compiler, streams, path, Op.FLATTEN)

    def __repr__(self):
        return "Flatten()"


@register
class GlobalAvgPool(Layer):
    r"""Global average pooling over positions; averages *all* position pairs (M4, section 6).

    .. math:: \Sigma' = \frac{1}{P^2} \sum_{i,j} \Sigma_{ij}, \qquad \Theta' = \frac{1}{P^2} \sum_{i,j} \Theta_{ij}
    """

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        return _compile_single_position_readout(self, compiler, streams, path, Op.POOL)

    def __repr__(self):
        return "GlobalAvgPool()"


@register
class AvgPool(Layer):
    r"""Local average pooling over ``window`` positions (stax ``AvgPool``; section 6), 1-D or 2-D.

    With windows :math:`w_k` (:func:`~eigencalc.kernel.compiler.window_indices`,
    VALID, SAME or CIRCULAR) of size :math:`\omega`:

    .. math:: \Sigma'_{kl} = \frac{1}{\omega^2}\sum_{a \in w_k,\, b \in w_l} \Sigma_{ab},
              \qquad \Theta'_{kl} = \frac{1}{\omega^2}\sum_{a \in w_k,\, b \in w_l} \Theta_{ab}

    SAME pads with zeros and still divides by the window size (stax's default
    ``normalize_edges=False``).  Cross-position covariances enter (the full
    position-pair mode) whenever the window holds more than one position.
    ``window`` and ``stride`` are ints (1-D; an int stride serves every axis) or
    tuples.  Defaults: stride 1, VALID.
    """

    def __init__(self, window: Any, stride: Any = 1, padding: str = "VALID"):
        owner = f"AvgPool({window!r})"
        self.window_shape = _spatial(window, "window", owner)
        self.strides = _spatial(stride, "stride", owner, len(self.window_shape))
        self.window, self.stride = _scalar_or_tuple(self.window_shape), _scalar_or_tuple(self.strides)
        self.padding = _padding(padding, owner)

    def _key(self):
        return (self.window, self.stride, self.padding)

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        stream = compiler.single(self, streams, path)
        reg = compiler.register(stream)
        name = f"{self!r} at {path}"
        if reg.flat:
            raise ValueError(f"{name}: its input ({reg.origin}) has no positions left")
        index, out_shape = _windows(name, reg, self.window_shape, self.strides, self.padding, "window")
        if index.shape[1] > 1:
            compiler.needs_position_pairs()
        out = Register(out_shape, False, reg.gaussian, Op.AVGPOOL, name, reg.channels)
        return [compiler.emit(self, path, Op.AVGPOOL, (stream.reg,), out, index, fresh=stream.fresh)]

    def __repr__(self):
        return f"AvgPool({self.window}, stride={self.stride}, padding={self.padding!r})"


@register
class Identity(Layer):
    r"""Identity :math:`z = x`: kernels unchanged (section 1).

    .. math:: \Sigma' = \Sigma, \qquad \Theta' = \Theta
    """

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        return streams

    def __repr__(self):
        return "Identity()"


@register
class FanOut(Layer):
    r"""Fan-out into ``n`` identical streams (stax ``FanOut(num)``; section 1).

    .. math:: (\Sigma, \Theta) \mapsto [(\Sigma, \Theta)] \times n
    """

    def __init__(self, n: int):
        self.n = _positive_int(n, "n", f"FanOut({n!r})")

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        stream = compiler.single(self, streams, path)
        return [Stream(stream.reg, False) for _ in range(self.n)]

    def _key(self):
        return (self.n,)

    def __repr__(self):
        return f"FanOut({self.n})"


@register
class FanInSum(Layer):
    r"""Sum of streams (stax ``FanInSum()``; section 1); kernels add, branches assumed independent.

    .. math:: \Sigma' = \sum_b \Sigma^{(b)}, \qquad \Theta' = \sum_b \Theta^{(b)}

    Independence holds when every branch but at most one applies a ``Dense`` or
    ``Conv`` after the fork; the compiler checks this.
    """

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        name = f"{self!r} at {path}"
        if len(streams) == 1:
            return streams
        regs = [compiler.register(s) for s in streams]
        shapes = {(r.shape, r.flat) for r in regs}
        if len(shapes) > 1:
            desc = ", ".join(f"branch {i}: {r.grid} position(s){' (flat)' if r.flat else ''}" for i, r in enumerate(regs))
            raise ValueError(f"{name}: branch shapes differ ({desc})")
        if not all(r.gaussian for r in regs):
            bad = [i for i, r in enumerate(regs) if not r.gaussian]
            raise ValueError(
                f"{name}: branch(es) {bad} do not end with a Gaussian layer output; stax's FanInSum "
                "only sums mean-zero Gaussian streams (end each branch with Dense/Conv or Identity of one)"
            )
        stale = [i for i, s in enumerate(streams) if not s.fresh]
        if len(stale) > 1:
            raise ValueError(
                f"{name}: branches {stale} apply no Dense/Conv after the FanOut, so they are not "
                "independent and the sum of their kernels would be wrong"
            )
        channels = {r.channels for r in regs}
        out = Register(regs[0].shape, regs[0].flat, True, Op.SUM, name, channels.pop() if len(channels) == 1 else None)
        src = tuple(s.reg for s in streams)
        return [compiler.emit(self, path, Op.SUM, src, out, fresh=all(s.fresh for s in streams))]

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

    def __init__(self, *layers: Layer):
        self.layers = _check_layers(layers, "serial")

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        for i, sub in enumerate(self.layers):
            streams = compiler.walk(sub, streams, f"{path}[{i}]")
        return streams

    def _key(self):
        return self.layers

    def __repr__(self):
        return "serial(" + ", ".join(map(repr, self.layers)) + ")"


class Parallel(Layer):
    r"""Branches applied to streams one to one (stax ``parallel``; section 1): :math:`[x_b] \mapsto [f_b(x_b)]`.

    .. math:: [(\Sigma_b, \Theta_b)]_b \mapsto [\mathcal K_{f_b}(\Sigma_b, \Theta_b)]_b
    """

    def __init__(self, *layers: Layer):
        self.layers = _check_layers(layers, "parallel")

    def compile(self, compiler: Compiler, streams: list, path: str) -> list:
        if len(streams) != len(self.layers):
            raise ValueError(
                f"parallel with {len(self.layers)} branches at {path} receives {len(streams)} "
                f"stream(s); put FanOut({len(self.layers)}) before it"
            )
        out = []
        for i, (sub, stream) in enumerate(zip(self.layers, streams)):
            res = compiler.walk(sub, [stream], f"{path}[{i}]")
            if len(res) != 1:
                raise ValueError(
                    f"branch {i} of parallel at {path} ends with {len(res)} streams; "
                    "each branch must map one stream to one stream"
                )
            out.extend(res)
        return out

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

