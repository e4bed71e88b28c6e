r"""Finite-width shift of every Funk–Hecke eigenvalue of the NNGP on the sphere (F16).

Inputs on the sphere of radius :math:`\sqrt{n_0}` in :math:`R^{n_0}` (MATH.md section 5 convention), so
:math:`q_{11} = q_{22} = 1` and :math:`q_{12} = t = \langle x_1, x_2\rangle / n_0 = \cos\angle(x_1, x_2)`.
By (F5), (F7) the mean NNGP of layer l of a finite network is a dot-product kernel

.. math:: E[z^{(l)}_{i}(x_1) z^{(l)}_{i}(x_2)] = K^{(l)}_{12}(t) + \frac{1}{n_{l-1}} K^{(l)}_{1,12}(t) + O(n^{-2}),

so by Funk–Hecke (M10) both terms are diagonal in the spherical harmonics of :math:`S^{n_0-1}` and

.. math:: \mu_k^{\mathrm{finite}} = \mu_k[K_{12}] + \frac{1}{n_{l-1}}\,\mu_k[K_{1,12}] + O(n^{-2}), \qquad
          \mu_k[f] = c_{n_0}\int_{-1}^{1} f(t)\, P_k(n_0; t)\,(1-t^2)^{(n_0-3)/2}\,dt.   \tag{F16}

(The mean kernel stays rotation invariant at finite width: the weight distribution is.)  The
coefficients :math:`\mu_k[K_{1,12}]` — the 1/n shift of each frequency's eigenvalue, multiplicity
:math:`N(n_0, k)` — are computed by Gauss–Legendre quadrature in :math:`\theta = \arccos t`
(:math:`\mu_k = c_{n_0}\int_0^\pi f(\cos\theta)P_k(\cos\theta)\sin^{n_0-2}\theta\,d\theta`), with f from
:func:`finite_width_pair` at each node (float64 for smooth activations, the closed-form ReLU engine).
Trace identity: :math:`\sum_k N(n_0,k)\mu_k[K_{1,12}] = K_{1,12}(1) = K_1` (single input, F4).

The same holds for the mean NTK with (F17) (:mod:`eigencalc.finite.ntk_pair`, smooth activations):
``kind="ntk"`` gives :math:`\mu_k[H_{12}]` and the shifts :math:`\mu_k[H_{1,12}]`.

Not covered: the NTK shift for the ReLU family (see (F17)), and tree CNNs with channels as width.
For a CNN the recursion does not close on the per-position objects: the filter weights are shared across positions, so :math:`\hat G_{ij}` at different positions i, j are built from
the *same* random weights and their fluctuations are correlated; the four-point vertex becomes a
tensor :math:`V_{(ij)(i'j')}` over all position pairs (RYH's general-input form, with positions as
extra input indices), whose size grows like :math:`d^4` and which couples every receptive field.
A tree CNN's Flatten readout keeps only diagonal positions, but the vertex still needs the
off-diagonal position pairs within each filter window at the layer below.  We state this
instead of implementing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.tables import Tabular
from ..core.validate import REQUIRED, check_int, required_kind
from ..duals.activations import activation
from ..harmonic.sphere import sphere_area_ratio
from ..special.orthopoly import check_sphere_dimension, gegenbauer_normalized_all, sphere_multiplicity
from .recursions import check_widths
from .ntk_pair import finite_width_pair_ntk
from .two_input import finite_width_pair

__all__ = ["FiniteWidthSphere", "finite_width_sphere", "correction_function"]


def correction_function(widths: Any, act: Any, C_W: Any, C_b: Any = 0, layer: int | None = None, kind: str = "nngp"):
    r"""The two functions :math:`t \mapsto (K^{(l)}_{12}(t), K^{(l)}_{1,12}(t))` of (F16), float64
    (``kind="ntk"``: :math:`(H^{(l)}_{12}(t), H^{(l)}_{1,12}(t))` of (F17), smooth activations).

    >>> f = correction_function([10, 10, 10], "relu", 2); [round(v, 6) for v in f(0.5)]
    [1.367811, -0.193089]
    """
    widths = check_widths(widths)
    layer = len(widths) if layer is None else check_int(layer, "layer", 1)
    if layer > len(widths):
        raise ValueError(f"layer must be <= depth {len(widths)}, got {layer}")

    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk', got {kind!r}")

    def f(t):
        if kind == "ntk":
            r = finite_width_pair_ntk(widths[:layer], act, C_W, C_b, (1, float(t), 1))
            return float(r.H[-1][1]), float(r.H1[-1][1])
        r = finite_width_pair(widths[:layer], act, C_W, C_b, (1, float(t), 1), precision="float64")
        return float(r.K[-1][1]), float(r.K1[-1][1])

    return f


@dataclass(frozen=True)
class FiniteWidthSphere(Tabular):
    r"""Funk–Hecke eigenvalues of the layer-l mean NNGP (or NTK) on :math:`S^{n_0-1}` and their 1/n shift (F16), float64.

    ``mu[k]`` is :math:`\mu_k[K_{12}]`, ``shift[k]`` is :math:`\mu_k[K_{1,12}]` (multiply by
    :math:`1/n_{l-1}`), ``finite[k] = mu[k] + shift[k]/n_{l-1}``; ``nodes`` the Gauss–Legendre nodes in θ.
    """

    activation: str
    kind: str
    widths: tuple
    layer: int
    n0: int
    mu: tuple
    shift: tuple
    multiplicities: tuple
    nodes: int

    @property
    def finite(self) -> tuple:
        n = self.widths[self.layer - 2] if self.layer > 1 else None
        return tuple(m if n is None else m + s / n for m, s in zip(self.mu, self.shift))

    def rows(self) -> list:
        """One row per frequency k: N(n0, k), mu_k, the 1/n shift coefficient, mu_k finite, relative shift."""
        fin = self.finite
        floor = 1e-13 * max(abs(m) for m in self.mu)  # below: zero up to quadrature rounding (e.g. odd phi, even k)
        return [{"k": k, "multiplicity": N, "eigenvalue": m, "shift_coefficient": s, "finite_eigenvalue": f,
                 "relative_shift": (f - m) / m if abs(m) > floor else float("nan")}
                for k, (N, m, s, f) in enumerate(zip(self.multiplicities, self.mu, self.shift, fin))]


def _theta_rule(n0: int, nodes: int):
    """Nodes t_j = cos(theta_j) and weights c_n w_j sin^{n0-2}(theta_j) of Gauss–Legendre on [0, pi]."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    theta = np.pi * (x + 1) / 2
    c = float(sphere_area_ratio(n0))
    return np.cos(theta), c * w * np.pi / 2 * np.sin(theta) ** (n0 - 2)


def finite_width_sphere(widths: Any, act: Any, C_W: Any, C_b: Any = 0, n0: int = 3, kmax: int = 8, *,
                        layer: int | None = None, nodes: int = 64, kind: str = REQUIRED) -> FiniteWidthSphere:
    r"""(F16): :math:`\mu_k` and the 1/n shift :math:`\mu_k[K_{1,12}]` for k = 0..kmax on :math:`S^{n_0-1}`.

    >>> s = finite_width_sphere([10, 10, 10], "relu", 2, 0, n0=3, kmax=2, kind="nngp")
    >>> [round(v, 5) for v in s.shift]      # the k = 0 eigenvalue moves down, k = 1, 2 up
    [-0.52876, 0.19402, 0.01434]
    """
    kind = required_kind(kind, "finite_width_sphere", "nngp")
    widths = check_widths(widths)
    n0 = check_sphere_dimension(n0)
    kmax = check_int(kmax, "kmax", 0)
    nodes = check_int(nodes, "nodes", 2)
    layer = len(widths) if layer is None else check_int(layer, "layer", 1)
    f = correction_function(widths, act, C_W, C_b, layer, kind)
    t, w = _theta_rule(n0, nodes)
    values = np.array([f(tj) for tj in t])  # (nodes, 2)
    P = np.array(gegenbauer_normalized_all(kmax, n0, t))  # (kmax + 1, nodes)
    mu, shift = P @ (w * values[:, 0]), P @ (w * values[:, 1])
    return FiniteWidthSphere(activation(act).name, kind, widths, layer, n0, tuple(float(v) for v in mu),
                             tuple(float(v) for v in shift), tuple(sphere_multiplicity(n0, k) for k in range(kmax + 1)),
                             nodes)
