r"""Multilayer perceptrons: ``serial(Dense, phi, ..., Dense)`` with closed-form and series kernels in t (M1-M3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..core.numbers import exact_real
from ..core.validate import REQUIRED
from ..duals.activations import Activation, rho
from .layers import Dense, Layer, Phi, Serial
from .series import KernelSeries

__all__ = ["MLP", "mlp", "t"]

#: The correlation symbol of :meth:`MLP.nngp_expr` / :meth:`MLP.ntk_expr`.
t = sympy.Symbol("t", real=True)


def _as_activation_layer(spec: Any) -> Phi:
    if isinstance(spec, Phi):
        return spec
    if isinstance(spec, Layer):
        raise TypeError(f"mlp: activation must be an activation layer, an Activation or a name, got {spec!r}")
    return Phi(spec)


class MLP(Serial):
    r"""A fully-connected network ``serial(Dense, phi, ..., Dense)`` with ``depth`` hidden layers (M1–M3).

    For unit-variance inputs (:math:`|x|^2 = |y|^2 = n_0`) and :math:`t = \langle x, y\rangle / n_0`:

    .. math::

        \Sigma_1 = W^2 t + b^2,\quad q_1 = W^2 + b^2,\quad \Theta_1 = \Sigma_1,\\
        \Sigma_{l+1} = W^2 \hat\phi_{q_l}(\Sigma_l / q_l) + b^2,\quad
        \Theta_{l+1} = W^2\, \Theta_l\, \hat\phi_{q_l}'(\Sigma_l / q_l)/q_l + \Sigma_{l+1},

    with :math:`q_{l+1} = W^2 E[\phi(\sqrt{q_l} z)^2] + b^2`.  Equals
    ``stax.serial(Dense(1, W, b), Relu(), ..., Dense(1, W, b))``.
    """

    def __init__(self, depth: int, activation: Any, W_std: Any = 1.0, b_std: Any = 0.0):
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)):
            raise TypeError(f"mlp: depth must be an integer, got {depth!r}")
        if depth < 0:
            raise ValueError(f"mlp: depth must be >= 0, got {depth}")
        self.depth = int(depth)
        self.act_layer = _as_activation_layer(activation)
        self.W_std, self.b_std = W_std, 0.0 if b_std is None else b_std
        dense = Dense(W_std, self.b_std)
        layers = []
        for _ in range(self.depth):
            layers += [dense, self.act_layer]
        layers.append(dense)
        super().__init__(*layers)

    def __repr__(self) -> str:
        return f"mlp({self.depth}, {self.act_layer!r}, W_std={self.W_std!r}, b_std={self.b_std!r})"

    @property
    def activation(self) -> Activation:
        r"""The hidden activation :math:`\phi` (M5).

        .. math:: \phi = \sum_k a_k h_k
        """
        return self.act_layer.activation

    # ----- numeric kernels in t --------------------------------------------------
    def nngp(self, t_) -> np.ndarray:
        r"""NNGP :math:`\Sigma_{L+1}(t)` for unit-variance inputs, vectorised over ``t`` (float64; M1, M3).

        .. math:: \Sigma_{l+1} = W^2 \hat\phi_{q_l}(\Sigma_l / q_l) + b^2

        >>> float(mlp(1, "relu").nngp(0.0)) == 1 / (2 * np.pi)
        True
        """
        return self.kernel_of_correlations(np.asarray(t_, dtype=float)[..., None], "nngp")

    def ntk(self, t_) -> np.ndarray:
        r"""NTK :math:`\Theta_{L+1}(t)` for unit-variance inputs, vectorised over ``t`` (float64; M2, M3).

        .. math:: \Theta_{l+1} = W^2 \Theta_l\, \hat\phi_{q_l}'(\Sigma_l / q_l)/q_l + \Sigma_{l+1}

        >>> float(mlp(1, "relu").ntk(1.0))
        1.0
        """
        return self.kernel_of_correlations(np.asarray(t_, dtype=float)[..., None], "ntk")

    # ----- closed forms --------------------------------------------------------------
    def _exprs(self):
        W2 = exact_real(self.W_std, "mlp: W_std") ** 2
        b2 = exact_real(self.b_std, "mlp: b_std") ** 2
        act = self.activation
        sigma = W2 * t + b2
        q = W2 + b2
        theta = sigma
        for _ in range(self.depth):
            dual = act.dual_expr(q)
            if dual is None:
                return None
            ddual = sympy.diff(dual, rho) / q
            x = sigma / q
            theta = theta * ddual.subs(rho, x)
            sigma = W2 * dual.subs(rho, x) + b2
            q = W2 * act.second_moment(q) + b2
            theta = W2 * theta + sigma
        return sigma, theta

    def nngp_expr(self) -> sympy.Expr | None:
        r"""NNGP as a sympy expression in :data:`t` (composed ``dual_expr``), or None without closed forms.

        >>> mlp(1, "relu").nngp_expr().subs(t, 1)
        1/2
        """
        out = self._exprs()
        return None if out is None else out[0]

    def ntk_expr(self) -> sympy.Expr | None:
        r"""NTK as a sympy expression in :data:`t`, or None without closed forms.

        >>> sympy.simplify(mlp(1, "relu").ntk_expr().subs(t, 0))
        1/(2*pi)
        """
        out = self._exprs()
        return None if out is None else out[1]

    # ----- power series ---------------------------------------------------------------
    def series(self, kind: str = REQUIRED, max_degree: int = 8, **options) -> KernelSeries:
        r"""Power series :math:`\sum_{k \le D} c_k t^k` with the M16 tail bound (``d = 1``; M6, M16).

        See :func:`eigencalc.kernel.series.kernel_series` for ``exact``, ``dps``, ``dual_terms``.

        .. math:: |K(t) - \textstyle\sum_{k \le D} c_k t^k| \le K(1) - \sum_{k \le D} c_k

        >>> mlp(1, "erf").series("nngp", 3).univariate()
        [0, 4/(3*pi), 0, 8/(81*pi)]
        """
        return self.kernel_series(1, kind, max_degree, **options)


def mlp(depth: int, activation: Any, W_std: Any = 1.0, b_std: Any = 0.0) -> MLP:
    r"""``serial(Dense, phi, ..., Dense)``: ``depth`` Dense+activation pairs, then a Dense readout.

    .. math:: f(x) = W_{L+1}\,\phi(W_L \cdots \phi(W_1 x + b_1) \cdots) + b_{L+1}

    ``activation``: a name (``"relu"``), an
    :class:`~eigencalc.activations.Activation`, or an activation layer (``Relu()``).

    >>> net = mlp(2, "relu")
    >>> float(net.nngp(1.0)), float(net.ntk(1.0))
    (0.25, 0.75)
    """
    return MLP(depth, activation, W_std, b_std)
