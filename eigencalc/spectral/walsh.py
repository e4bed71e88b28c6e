r"""Exact hypercube spectra by one fast Walsh–Hadamard transform, grouped by (frequency, space) (M12, M17, M18).

Float64, exact up to rounding: :func:`hypercube_spectrum` evaluates K at all
sign patterns with the Gram engine and transforms them in place.
"""

from __future__ import annotations

import math

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validate import REQUIRED, required_kind
from ..core.validate import check_int as _check_int
from ..harmonic.domains import Domain, ProductHypercube
from ..kernel.dag import Dag
from ..kernel.engine import (
    _check_network,
    _select_engine,
    fwht_numba,
    fwht_numpy,
    require_no_pooling,
    walsh_values,
)
from ..kernel.spec import LayerSpec as Layer
from ..kernel.table import op_table_of
from .product import Spectrum, _aggregation_levels, _steiner
from .tree import is_tree

__all__ = ["MAX_WALSH_BITS", "hypercube_spectrum", "WalshGroup", "group_by_frequency_space"]

#: Largest number of sign bits ``d * n0`` accepted by :func:`hypercube_spectrum` (2^26 float64 = 512 MiB).
MAX_WALSH_BITS = 26


def hypercube_spectrum(net: Layer, domain, kind: str = REQUIRED, *, n0: Any = None, engine: str = "auto") -> np.ndarray:
    r"""Every eigenvalue of a pooling-free network's kernel on the product hypercube, by one FWHT (M12, M17).

    With :math:`n = d\,n_0` sign bits and :math:`z = x \circ y`, the kernel is a
    function of z alone (:math:`t_i = \frac1{n_0}\sum_c z_{ic}`), so the Walsh
    functions :math:`\chi_S(x) = \prod_{b \in S} x_b` are eigenfunctions with

    .. math:: \lambda(S) = 2^{-n} \sum_{z \in \{-1,1\}^n} K(z) \prod_{b \in S} z_b .

    Returns the array of all :math:`2^n` eigenvalues indexed by the subset
    bitmask S (bit :math:`i n_0 + c` = coordinate c of patch i; for n0 = 1, bit
    i = patch i).  :math:`\lambda(S)` equals ``spectrum(...).eigenvalue(r)`` with
    :math:`r_i = |S \cap \text{patch } i|`.  K at the :math:`2^n` patterns is
    evaluated by the jitted interpreter (numpy ``kernel_of_correlations`` if an
    activation has no closed form, with a :class:`NumbaFallbackWarning`), then
    transformed in place: memory :math:`8 \cdot 2^n` bytes, time
    :math:`O(2^n(n + \text{network size}))`.  :math:`n \le 26`.

    ``domain`` is a :class:`~eigencalc.harmonic.domains.ProductHypercube`.  The
    old spelling ``hypercube_spectrum(net, d, kind, n0=...)`` with integers still
    works for one release and warns (``DeprecationWarning``).

    >>> from eigencalc.architectures import serial, Dense, Monomial
    >>> from eigencalc.domains import ProductHypercube
    >>> lam = hypercube_spectrum(serial(Dense(), Monomial(2), Dense()), ProductHypercube(1, 1), "nngp")
    >>> lam.tolist()  # K(t) = E[u^2 v^2] = 1 + 2 t^2 = 3 at t = +-1: lambda = (3, 0)
    [3.0, 0.0]
    """
    net = _check_network(net)
    kind = required_kind(kind, "hypercube_spectrum", "ntk")
    grid, n0 = _hypercube_shape(domain, n0)
    d = math.prod(grid)
    if d * n0 > MAX_WALSH_BITS:
        raise ValueError(
            f"hypercube_spectrum: d * n0 = {d * n0} sign bits means 2^{d * n0} eigenvalues; "
            f"the limit is {MAX_WALSH_BITS} (2^{MAX_WALSH_BITS} float64 = {8 << MAX_WALSH_BITS >> 20} MiB)"
        )
    flat = op_table_of(net, grid, n0)
    require_no_pooling(flat, "hypercube_spectrum")
    engine = _select_engine(flat, engine, "hypercube_spectrum")
    values = walsh_values(flat, n0, kind, engine)
    if engine == "numba":
        fwht_numba(values)
    else:
        values = fwht_numpy(values)
    values /= values.size
    return values


def _hypercube_shape(domain, n0) -> tuple:
    """``(grid, n0)`` of a ProductHypercube; integers ``(d, n0=...)`` are the deprecated spelling."""
    if isinstance(domain, ProductHypercube):
        if n0 is not None:
            raise TypeError("hypercube_spectrum: pass n0 inside the domain, ProductHypercube(d, n0), not as n0=")
        return domain.grid, domain.n0
    if isinstance(domain, Domain):
        raise TypeError(f"hypercube_spectrum needs a ProductHypercube, got {domain!r}")
    warnings.warn(
        "hypercube_spectrum(net, d, kind, n0=...) with integers is deprecated; pass a domain: "
        "hypercube_spectrum(net, ProductHypercube(d, n0), kind)",
        DeprecationWarning,
        stacklevel=3,
    )
    d = _check_int(domain, "d (number of patches)")
    return (d,), _check_int(1 if n0 is None else n0, "n0 (coordinates per patch)")


def _popcount(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.uint64)
    count = np.zeros(a.shape, dtype=np.int64)
    while a.any():
        count += (a & np.uint64(1)).astype(np.int64)
        a = a >> np.uint64(1)
    return count


@dataclass(frozen=True)
class WalshGroup:
    """All Walsh eigenvalues with one (frequency, space) (M18): subset masks and values."""

    frequency: int
    space: int
    masks: np.ndarray
    values: np.ndarray

    @property
    def count(self) -> int:
        """Number of Walsh functions (= total multiplicity)."""
        return int(self.masks.size)

    @property
    def min(self) -> float:
        return float(self.values.min())

    @property
    def max(self) -> float:
        return float(self.values.max())

    def __repr__(self) -> str:
        return (
            f"WalshGroup(frequency={self.frequency}, space={self.space}, count={self.count}, "
            f"min={self.min:.6g}, max={self.max:.6g})"
        )


def _support_masks(masks: np.ndarray, d: int, n0: int) -> np.ndarray:
    patch = np.uint64((1 << n0) - 1)
    supp = np.zeros(masks.shape, dtype=np.int64)
    for i in range(d):
        hit = ((masks >> np.uint64(i * n0)) & patch) != 0
        supp |= hit.astype(np.int64) << i
    return supp


def _spaces_of_supports(dag, supports: np.ndarray) -> np.ndarray:
    """M18 space of every support bitmask, as ``Spectrum.space`` computes it."""
    levels = _aggregation_levels(dag)
    need = dag.ancestors_of_output()
    if is_tree(dag):
        # Unique downward paths: the Steiner sub-DAG is every output ancestor whose
        # receptive field meets the support; an edge c -> u costs 1 when u aggregates.
        space = np.zeros(supports.shape, dtype=np.int64)
        for u in sorted(levels):
            if u not in need:
                continue
            for c in dag.nodes[u].children:
                rf = sum(1 << p for p in dag.receptive_field(c))
                space += ((supports & rf) != 0).astype(np.int64)
        return space
    unique, inverse = np.unique(supports, return_inverse=True)
    if unique.size > 1 << 14:
        raise ValueError(
            f"group_by_frequency_space: {unique.size} distinct supports on a non-tree DAG (Steiner problem "
            "per support); pass max_frequency to restrict them"
        )
    values = np.array(
        [_steiner(dag, [i for i in range(dag.d) if (int(s) >> i) & 1], levels, None) for s in unique], dtype=np.int64
    )
    return values[inverse.ravel()]


def group_by_frequency_space(values: Any, spectrum_or_dag: Any, *, max_frequency: int | None = None) -> dict:
    r"""Group Walsh eigenvalues (from :func:`hypercube_spectrum`) by (frequency, space) (M18).

    Frequency :math:`|r| = |S|`; space: edges of the smallest connected sub-DAG
    holding the output and the patches met by S, as :meth:`Spectrum.space`.
    ``spectrum_or_dag`` is a :class:`~eigencalc.spectra.Spectrum` or a
    :class:`~eigencalc.architectures.Dag`; ``n0`` is read off ``len(values) = 2^(d n0)``.
    Returns ``{(frequency, space): WalshGroup}`` in increasing order.

    .. math:: \{\lambda(S)\}_{S} \mapsto \{(|S|, \mathrm{space}(S)) : [\lambda(S)]\}

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> net = serial(Conv(2, stride=2), Relu(), Flatten(), Dense())
    >>> groups = group_by_frequency_space(hypercube_spectrum(net, ProductHypercube(4, 1), "ntk"), net.dag(4))
    >>> [(key, g.count) for key, g in groups.items()]
    [((0, 0), 1), ((1, 2), 4), ((2, 3), 2), ((2, 4), 4), ((3, 5), 4), ((4, 6), 1)]
    """
    if isinstance(spectrum_or_dag, Spectrum):
        dag = spectrum_or_dag.dag
    elif isinstance(spectrum_or_dag, Dag):
        dag = spectrum_or_dag
    else:
        raise TypeError(f"expected a Spectrum or a Dag, got {type(spectrum_or_dag).__name__}")
    values = np.asarray(values, dtype=np.float64).ravel()
    bits = values.size.bit_length() - 1
    if values.size == 0 or values.size != 1 << bits or bits % dag.d:
        raise ValueError(f"values must have length 2^(d n0) with d = {dag.d}, got {values.size}")
    n0 = bits // dag.d
    masks = np.arange(values.size, dtype=np.uint64)
    freq = _popcount(masks)
    if max_frequency is not None:
        keep = freq <= _check_int(max_frequency, "max_frequency", 0)
        masks, freq = masks[keep], freq[keep]
    space = _spaces_of_supports(dag, _support_masks(masks, dag.d, n0))
    order = np.lexsort((space, freq))
    masks, freq, space = masks[order], freq[order], space[order]
    groups = {}
    if masks.size:
        cuts = np.flatnonzero((np.diff(freq) != 0) | (np.diff(space) != 0)) + 1
        for part in np.split(np.arange(masks.size), cuts):
            key = (int(freq[part[0]]), int(space[part[0]]))
            m = masks[part].astype(np.int64)
            groups[key] = WalshGroup(key[0], key[1], m, values[m])
    return groups

