r"""Pooling and translation structure: spectra of pooled kernels on cyclic domains (MATH.md section 6).

Consider a network ``serial(stack, pool, Dense)`` whose ``stack`` is
translation equivariant on the cyclic group :math:`\mathbb Z_d` of patch
positions (CIRCULAR convolutions of stride 1, activations, Dense, residual
branches) and whose readout pools with a circulant averaging matrix
:math:`A_{ij} = a(j - i)`: ``GlobalAvgPool`` (:math:`a \equiv d^{-2}`) or
``AvgPool(window, stride=1, padding="CIRCULAR")`` followed by ``Flatten``
(:math:`a(w) = (\omega - |w|_d)_+ / (d\,\omega^2)`).  By equivariance
:math:`\Sigma_{ij}(x, y) = k_0(s^i x, s^j y)` for one position kernel
:math:`k_0`, so

.. math:: K(x, y) = W^2 \sum_{i,j} a(j - i)\, k_0(s^i x, s^j y) + b^2 .

Let :math:`\bar\lambda(r)` be the eigenvalues of the pooling-free *twin*
``serial(stack, Flatten(), Dense)`` (section 5; its kernel is the diagonal
:math:`i = j` average).  On the span of a shift orbit of product harmonics
of size :math:`o` the pooled kernel is a circulant, and its eigenvalues are

.. math:: \lambda(r, j) = d\, \hat a(j)\, \bar\lambda(r), \qquad
          \hat a(j) = \sum_{w \in \mathbb Z_d} a(w)\, e^{-2\pi i j w / d},

for the Fourier indices :math:`j \in (d/o)\mathbb Z_d`, with eigenfunctions
:math:`\psi_{j} = \sum_u e^{2\pi i j u/d} Y_{s^u r}` (Misiakiewicz–Mei 2021,
"Learning with convolution and pooling operations in kernel methods",
arXiv:2111.08308, Prop. 2; their local-pooling factor :math:`\kappa_j` is
:math:`\omega\, d\, \hat a(j)` in stax's normalisation).  Global pooling keeps
only :math:`j = 0` with :math:`d\hat a(0) = 1`.  The multiplicity of
:math:`(r, j)` counts harmonic patterns by the character of the shift action:

.. math:: m(r, j) = \frac1d \sum_{g \in \mathbb Z_d} \chi(g)\, e^{2\pi i j g/d}, \qquad
          \chi(g) = [s^g r \sim r]\; o_r \prod_{i < \gcd(g, d)} N(n_0, r_i),

where :math:`\chi(g)` is the number of patterns (one harmonic per patch, with
degrees in the orbit of r) fixed by the shift :math:`s^g`.

On a grid of patches (2-D, ``ProductSphere((H, W), n0)``) the group is the
torus :math:`G = \mathbb Z_H \times \mathbb Z_W` of 2-D cyclic shifts and everything
above holds with characters :math:`e^{2\pi i (j_1 g_1/H + j_2 g_2/W)}`, Fourier
indices :math:`j = (j_1, j_2)`, and the stabiliser of r in place of
:math:`(d/o)\mathbb Z_d`: :math:`\lambda(r, j) \ne 0` only for characters trivial on
it.  :math:`\chi(g) = [g r = r]\, o_r \prod_{c} N(n_0, r_c)` over the cycles c of g on the
positions, and a separable window :math:`\omega_1 \times \omega_2` has the product symbol
:math:`d\hat a(j) = (H \hat a_H(j_1))(W \hat a_W(j_2))`.  The 1-D formulas are the case
``grid = (d,)``, and the code is one code for both.
"""

from __future__ import annotations

import cmath
import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sympy

from ..core.defaults import TRACE_SAMPLES
from ..core.deprecation import warn_deprecated
from ..core.validate import REQUIRED
from ..harmonic.domains import Domain
from ..kernel.engine import kernel_pairs
from ..kernel.layers import (
    AvgPool,
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    Parallel,
    Serial,
    serial,
)
from .product import SpectrumTable, _all_indices, _EntriesTabular, product_spectrum

__all__ = ["PooledSpectrum", "PooledEntry", "pooled_spectrum", "canonical_rotation", "pooling_symbol", "grid_symbol",
           "fourier_indices"]


@dataclass(frozen=True)
class PooledEntry:
    """Eigenvalue of the shift orbit of ``r`` (representative) at Fourier index ``j``."""

    r: tuple
    j: int
    frequency: int
    space: int
    eigenvalue: Any
    multiplicity: int
    orbit_size: int
    error_bound: Any
    exact: bool


def _grid_of(r: tuple, grid) -> tuple:
    return (len(r),) if grid is None else tuple(grid)


def _shifts(grid: tuple) -> list:
    r"""Every element g of the shift group :math:`\mathbb Z_{H} \times \dots` of the grid, row-major."""
    return list(itertools.product(*(range(n) for n in grid)))


def _shifted(r: tuple, g: tuple, grid: tuple) -> tuple:
    r"""The flat multi-index r moved by the cyclic shift g (position p -> p + g on every axis)."""
    return tuple(np.roll(np.asarray(r, dtype=np.int64).reshape(grid), g, axis=tuple(range(len(grid)))).ravel().tolist())


def canonical_rotation(r: tuple, grid=None) -> tuple:
    """Lexicographically largest cyclic shift (rotation in 1-D, 2-D torus shift on a grid): one representative per orbit.

    >>> canonical_rotation((0, 1, 0, 0), grid=(2, 2))
    (1, 0, 0, 0)
    """
    grid = _grid_of(r, grid)
    if len(grid) == 1:
        return max(tuple(r[i:] + r[:i]) for i in range(len(r)))
    return max(_shifted(r, g, grid) for g in _shifts(grid))


def _stabiliser(r: tuple, grid) -> list:
    """The shifts g with g r = r."""
    grid = _grid_of(r, grid)
    return [g for g in _shifts(grid) if _shifted(r, g, grid) == tuple(r)]


def _orbit_size(r: tuple, grid=None) -> int:
    grid = _grid_of(r, grid)
    if len(grid) == 1:
        d = len(r)
        for o in range(1, d + 1):
            if d % o == 0 and tuple(r[o:] + r[:o]) == tuple(r):
                return o
        return d  # pragma: no cover - o = d always qualifies
    return math.prod(grid) // len(_stabiliser(r, grid))


def _character(j, g: tuple, grid: tuple) -> complex:
    r""":math:`e^{2\pi i \sum_k j_k g_k / n_k}`, the Fourier character j at the shift g."""
    j = (j,) if isinstance(j, (int, np.integer)) else tuple(j)
    return cmath.exp(2j * math.pi * sum(jk * gk / n for jk, gk, n in zip(j, g, grid)))


def _cycle_representatives(g: tuple, grid: tuple) -> list:
    """One flat position per cycle of the shift g acting on the grid's positions."""
    d = math.prod(grid)
    moved = np.roll(np.arange(d).reshape(grid), g, axis=tuple(range(len(grid)))).ravel()
    seen, reps = np.zeros(d, dtype=bool), []
    for p in range(d):
        if not seen[p]:
            reps.append(p)
            while not seen[p]:
                seen[p] = True
                p = int(moved[p])
    return reps


def fourier_indices(grid: tuple) -> list:
    """The Fourier indices of the grid's shift group: ints ``0..d-1`` in 1-D, tuples ``(j_1, j_2)`` on a grid."""
    return list(range(grid[0])) if len(grid) == 1 else _shifts(grid)


def _flatten_layers(layer) -> list:
    if isinstance(layer, Serial):
        out = []
        for sub in layer.layers:
            out.extend(_flatten_layers(sub))
        return out
    return [layer]


def _check_equivariant(layer, where: str) -> None:
    """Raise unless ``layer`` commutes with cyclic shifts of the patches."""
    if isinstance(layer, (Serial, Parallel)):
        for i, sub in enumerate(layer.layers):
            _check_equivariant(sub, f"{where}[{i}]")
        return
    if isinstance(layer, Conv):
        if set(layer.strides) != {1} or (layer.padding != "CIRCULAR" and set(layer.filter_shape) != {1}):
            raise ValueError(
                f"{layer!r} at {where}: pooled spectra need shift-equivariant layers "
                "(CIRCULAR padding and stride 1) before the pooling readout"
            )
    elif isinstance(layer, (Flatten, GlobalAvgPool, AvgPool)):
        raise ValueError(f"{layer!r} at {where}: only one pooling readout, at the end, is supported")


def _split(net):
    """(stack layers, readout kind, window, Dense) for serial(stack, pool, [Flatten], Dense)."""
    layers = _flatten_layers(net)
    if len(layers) < 2 or not isinstance(layers[-1], Dense):
        raise ValueError("pooled spectra need a network ending with a pooling readout and Dense()")
    dense = layers[-1]
    pool = layers[-2]
    stack = layers[:-2]
    if isinstance(pool, Flatten) and len(layers) >= 3 and isinstance(layers[-3], AvgPool):
        pool, stack = layers[-3], layers[:-3]
    if isinstance(pool, GlobalAvgPool):
        kind, window = "global", None
    elif isinstance(pool, AvgPool):
        if set(pool.strides) != {1} or pool.padding != "CIRCULAR":
            raise ValueError(f"{pool!r}: pooled spectra support AvgPool with stride 1 and CIRCULAR padding")
        kind, window = "local", pool.window
    else:
        raise ValueError("pooled spectra need GlobalAvgPool() or AvgPool(window) + Flatten() before the readout Dense")
    for i, layer in enumerate(stack):
        _check_equivariant(layer, f"net[{i}]")
    return stack, kind, window, dense


def pooling_symbol(kind: str, window: int | None, d: int) -> list:
    r"""Exact :math:`d\,\hat a(j)`, j = 0..d-1, of the readout's circulant averaging matrix.

    GlobalAvgPool: :math:`[1, 0, \dots, 0]`.  AvgPool(omega), stride 1,
    circular: :math:`d \hat a(j) = \frac{1}{\omega^2}\big|\sum_{u<\omega} e^{2\pi i j u/d}\big|^2`
    (the Fejér kernel; MM's :math:`\kappa_j / \omega`).

    >>> pooling_symbol("local", 1, 4)
    [1, 1, 1, 1]
    """
    if kind == "global":
        return [sympy.Integer(1)] + [sympy.Integer(0)] * (d - 1)
    counts = [0] * d  # a(w) * d * omega^2 = #{(u, v) in window^2 : v - u = w mod d}
    for u in range(window):
        for v in range(window):
            counts[(v - u) % d] += 1
    out = []
    for j in range(d):
        value = sum(c * sympy.cos(2 * sympy.pi * j * w / d) for w, c in enumerate(counts)) / window**2
        out.append(sympy.nsimplify(sympy.simplify(value)))
    return out


def grid_symbol(kind: str, window, grid: tuple) -> dict:
    r"""Exact :math:`d\,\hat a(j)` for every Fourier index j of the grid (1-D: :func:`pooling_symbol`).

    A separable window has the product of the per-axis Fejér symbols; global
    pooling keeps only :math:`j = 0`.

    >>> grid_symbol("global", None, (2, 2))[(0, 0)], grid_symbol("global", None, (2, 2))[(1, 0)]
    (1, 0)
    """
    if len(grid) == 1:
        return dict(enumerate(pooling_symbol(kind, window, grid[0])))
    windows = (None,) * len(grid) if kind == "global" else (window if isinstance(window, tuple) else (window,) * len(grid))
    axes = [pooling_symbol(kind, w, n) for w, n in zip(windows, grid)]
    return {j: sympy.nsimplify(math.prod((axes[k][jk] for k, jk in enumerate(j)), start=sympy.Integer(1)))
            for j in _shifts(grid)}


def orbit_multiplicity(r: tuple, j, patch_multiplicity, grid=None) -> int:
    """m(r, j): dimension of the Fourier-j component on the orbit of r (see module docstring)."""
    grid = _grid_of(r, grid)
    d = len(r)
    if len(grid) == 1:
        o = _orbit_size(r)
        total = 0j
        for g in range(d):
            c = math.gcd(g, d)
            if c % o:
                continue  # s^g does not fix r's orbit elements
            fixed = o * math.prod(patch_multiplicity(k) for k in r[:c])
            total += fixed * cmath.exp(2j * math.pi * j * g / d)
    else:
        o = _orbit_size(r, grid)
        total = 0j
        for g in _stabiliser(r, grid):  # only shifts fixing r fix a pattern of its orbit
            fixed = o * math.prod(patch_multiplicity(r[p]) for p in _cycle_representatives(g, grid))
            total += fixed * _character(j, g, grid)
    value = total.real / d
    rounded = int(round(value))
    if abs(value - rounded) > 1e-6 or abs(total.imag) > 1e-6 * max(1.0, abs(total.real)):
        raise ArithmeticError(f"non-integer multiplicity {value} for r={r}, j={j}")  # pragma: no cover
    return rounded


class PooledSpectrum(_EntriesTabular):
    r"""Eigenvalues :math:`\lambda(r, j) = d\hat a(j)\bar\lambda(r)` of a pooled network (section 6)."""

    def __init__(self, net, domain: Domain, kind: str, max_frequency: int, twin_spectrum, readout: str, window):
        self.net, self.domain, self.kind, self.max_frequency = net, domain, kind, max_frequency
        self.twin = twin_spectrum
        self.readout, self.window = readout, window
        self.grid = domain.grid
        self.symbol = grid_symbol(readout, window, self.grid)  # Fourier index j -> d a_hat(j)

    def _fourier_index(self, j):
        """A valid Fourier index of the domain's grid (int in 1-D, tuple on a grid), or a clear error."""
        if len(self.grid) == 1:
            if not isinstance(j, (int, np.integer)) or not 0 <= j < self.domain.d:
                raise ValueError(f"Fourier index j must be in 0..{self.domain.d - 1}, got {j}")
            return int(j)
        if isinstance(j, (int, np.integer)) and j == 0:
            return (0,) * len(self.grid)
        j = tuple(j) if isinstance(j, (tuple, list)) else (j,)
        if len(j) != len(self.grid) or not all(isinstance(v, (int, np.integer)) and 0 <= v < n for v, n in zip(j, self.grid)):
            raise ValueError(f"Fourier index j must be a tuple (j_1, j_2) with 0 <= j_k < {self.grid}, got {j}")
        return tuple(int(v) for v in j)

    def _sees(self, r: tuple, j) -> bool:
        """True when the character j is trivial on the stabiliser of r (the orbit has a Fourier-j component)."""
        if len(self.grid) == 1:
            return j % (self.domain.d // _orbit_size(r)) == 0
        return all(abs(_character(j, g, self.grid) - 1) < 1e-9 for g in _stabiliser(r, self.grid))

    @property
    def method(self) -> str:
        return f"pooling+{self.twin.method}"

    @property
    def exact(self) -> bool:
        return self.twin.exact

    def _index(self, r):
        return self.twin._index(r)

    def eigenvalue(self, r: Any, j: Any = 0):
        """lambda(r, j); zero when the orbit of r has no Fourier-j component (j a tuple on a grid)."""
        r = self._index(r)
        j = self._fourier_index(j)
        if not self._sees(r, j):
            return 0
        factor = self.symbol[j]
        value = self.twin.eigenvalue(r)
        return value * (float(factor) if isinstance(value, float) else factor if self.twin.exact else sympy.N(factor, 30))

    def space(self, r: Any) -> int:
        """Space (M18) of r, as in the pooling-free twin (the pooled readout adds no edges per patch)."""
        return self.twin.space(r)

    def frequency(self, r: Any) -> int:
        return sum(self._index(r))

    def learning_index(self, r: Any, scaling):
        """The twin's M19 learning index of r."""
        return self.twin.learning_index(r, scaling)

    def multiplicity(self, r: Any, j: Any = 0) -> int:
        j = self._fourier_index(j)
        return orbit_multiplicity(self._index(r), j, self.domain.patch_multiplicity, self.grid)

    def error_bound(self, r: Any, j: Any = 0):
        j = self._fourier_index(j)
        factor = abs(float(self.symbol[j]))
        return self.twin.error_bound(r) * factor if factor else 0

    def total(self, n_samples: int = TRACE_SAMPLES, seed: int = 0) -> float:
        """Deprecated spelling of :meth:`trace`."""
        warn_deprecated("PooledSpectrum.total()", "PooledSpectrum.trace()")
        return self.trace(n_samples, seed)

    def trace(self, n_samples: int = TRACE_SAMPLES, seed: int = 0) -> float:
        r"""The trace :math:`E_x K(x, x) = \sum_{r,j} \lambda(r, j)\, m(r, j)` (float64).

        Exact enumeration on product hypercubes with at most :math:`2^{12}` points;
        otherwise a Monte-Carlo mean over ``n_samples`` inputs (an estimate; its
        standard error is in :attr:`total_stderr`).  Unlike pooling-free kernels
        the pooled trace is not :math:`K(1, \dots, 1)`: cross-position terms
        :math:`\langle x_i, x_j\rangle` average out.
        """
        if getattr(self, "_trace", None) is not None:
            return self._trace
        d, n0 = self.domain.d, self.domain.n0
        exact = getattr(self.domain, "kind", "") == "hypercube" and d * n0 <= 16
        if exact:
            bits = (np.arange(2 ** (d * n0))[:, None] >> np.arange(d * n0)) & 1
            X = (1.0 - 2.0 * bits).reshape(-1, *self.grid, n0)
        else:
            X = self.domain.sample(n_samples, seed)
        diag = kernel_pairs(self.net, X, X, self.kind)
        self.total_stderr = 0.0 if exact else float(diag.std() / np.sqrt(len(diag)))
        self._trace = float(diag.mean())
        return self._trace

    def target_masses(self, target) -> dict:
        r"""Target mass per eigenspace ``(orbit representative, j)`` (section 6).

        For a target :math:`\sum_r c_r \phi_r` whose harmonics are shifts of
        one another (hypercube Walsh monomials, zonal harmonics along one axis),
        the orbit of :math:`r_0` of size o carries
        :math:`|\sum_{u<o} c_{s^u r_0} e^{-2\pi i j u/o}|^2 / o` in the Fourier
        sector :math:`j (d/o)`.
        """
        coefficients = target.coefficients if hasattr(target, "coefficients") else None
        if coefficients is None:
            raise TypeError("pooled spectra need a Target with signed coefficients (eigencalc.targets)")
        if target.domain != self.domain:
            raise ValueError(f"target lives on {target.domain!r}, the spectrum on {self.domain!r}")
        d = self.domain.d
        if len(self.grid) > 1:
            return self._grid_target_masses(coefficients)
        orbits: dict = {}
        for r, c in coefficients.items():
            rep = canonical_rotation(r)
            o = _orbit_size(rep)
            shift = next(u for u in range(o) if tuple(rep[u:] + rep[:u]) == tuple(r))
            orbits.setdefault(rep, np.zeros(o))[shift] += c
        masses = {}
        for rep, c in orbits.items():
            o = len(c)
            spectrum = np.fft.fft(c)  # sum_u c_u exp(-2 pi i j u / o)
            for j in range(o):
                mass = abs(spectrum[j]) ** 2 / o
                if mass > 1e-15 * float(np.dot(c, c)):
                    masses[(rep, j * (d // o))] = float(mass)
        return masses

    def _grid_target_masses(self, coefficients: dict) -> dict:
        r"""Target masses on a grid: :math:`|\frac{1}{|S_r|}\sum_{g \in G} c_{g r}\, \overline{\chi_j(g)}|^2 / o_r`.

        The group sum over all shifts divided by the stabiliser size is the
        sum over the orbit (1-D: the FFT over the orbit in :meth:`target_masses`).
        """
        grid, masses = self.grid, {}
        reps: dict = {}
        for r in coefficients:
            reps.setdefault(canonical_rotation(r, grid), None)
        for rep in reps:
            stab = len(_stabiliser(rep, grid))
            o = math.prod(grid) // stab
            values = [coefficients.get(_shifted(rep, g, grid), 0.0) for g in _shifts(grid)]
            norm = sum(v * v for v in values) / stab
            for j in _shifts(grid):
                if not self._sees(rep, j):
                    continue
                amp = sum(v * _character(j, g, grid).conjugate() for v, g in zip(values, _shifts(grid))) / stab
                mass = abs(amp) ** 2 / o
                if mass > 1e-15 * norm:
                    masses[(rep, j)] = float(mass)
        return masses

    @cached_property
    def _entries(self) -> list:
        out = []
        seen = set()
        for r in _all_indices(self.domain.d, self.max_frequency, self.domain.max_patch_degree()):
            rep = canonical_rotation(r, self.grid)
            if rep in seen:
                continue
            seen.add(rep)
            space = self.twin.space(rep)
            for j in fourier_indices(self.grid):
                m = self.multiplicity(rep, j)
                value = self.eigenvalue(rep, j)
                if m == 0 or value == 0:
                    continue
                out.append(
                    PooledEntry(rep, j, sum(rep), space, value, m, _orbit_size(rep, self.grid), self.error_bound(rep, j),
                                self.exact)
                )
        out.sort(key=lambda x: (x.frequency, x.space, x.j, -float(x.eigenvalue)))
        return out

    def entries(self) -> list:
        """Nonzero eigenvalues by (orbit representative r, Fourier index j), |r| <= max_frequency."""
        return SpectrumTable(self._entries)

    def __repr__(self) -> str:
        return f"PooledSpectrum({self.kind}, {self.domain!r}, readout={self.readout!r}, window={self.window})"


def pooled_spectrum(net, domain: Domain, kind: str = REQUIRED, max_frequency: int = 3, **kwargs) -> PooledSpectrum:
    """Spectrum of ``serial(equivariant stack, GlobalAvgPool() | AvgPool(w) + Flatten(), Dense)`` (section 6)."""
    stack, readout, window, dense = _split(net)
    twin = serial(*stack, Flatten(), Dense(dense.W_std, dense.b_std))
    twin_spectrum = product_spectrum(twin, domain, kind, max_frequency, **kwargs)
    return PooledSpectrum(net, domain, kind, max_frequency, twin_spectrum, readout, window)
