r"""Eigenvalues per multi-index on products of spheres and hypercubes (MATH.md section 5).

For a pooling-free network, its kernel :math:`K(t_1, \dots, t_d)` on a
:class:`~eigencalc.domains.ProductSphere` or
:class:`~eigencalc.domains.ProductHypercube` is diagonalised by the product
harmonics :math:`Y_r(x) = \prod_i Y_{r_i}(x_i)` (M14) with eigenvalue (M15)

.. math:: \lambda(r) = \sum_\alpha c_\alpha \prod_i \mu_{r_i}(t^{\alpha_i}; n_0),
          \qquad K(t) = \sum_\alpha c_\alpha t^\alpha .

Three methods compute it, chosen by :func:`spectrum` (``method="auto"``):

``tree``
    moment recursion over a tree DAG (tree CNNs, Flatten-first MLPs), never
    expanding the d-variate series; exact for polynomial activations, else
    mpmath with the rigorous M16 bound (:mod:`eigencalc.spectral.tree`).
``enumeration``
    product hypercubes with :math:`(n_0+1)^d` small: K on the grid of
    correlations :math:`t_i \in \{1 - 2j/n_0\}` and the signed Krawtchouk
    measures of M12 applied along every axis (M17 for n0 = 1); float64.
``series``
    any pooling-free DAG: the truncated multivariate series (M15) with the
    tail bound of M16, divided by the multiplicity.

Each eigenvalue comes with ``frequency`` :math:`|r|` and ``space`` (M18: edges
of the smallest connected sub-DAG holding the output and the patches of
:math:`\mathrm{supp}(r)`; an edge is a connection into a node that aggregates
two or more children), the learning index of M19, and, for trees, a derived
closed-form leading asymptotic (:meth:`Spectrum.asymptotic`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any, Sequence

import mpmath
import numpy as np
import sympy

from ..core.defaults import MAX_POWER
from ..core.deprecation import warn_deprecated
from ..core.numbers import to_float
from ..core.progress import progress
from ..core.tables import Tabular
from ..core.validate import REQUIRED, check_int, required_kind
from ..harmonic.domains import (
    Domain,
    ProductHypercube,
    ProductSphere,
    hypercube_signed_measure,
)
from ..kernel.ops import Op
from . import tree as _tree

__all__ = ["Spectrum", "SpectrumEntry", "SpectrumClass", "SpectrumTable", "product_spectrum"]

_ENUMERATION_LIMIT = 2**20


@dataclass(frozen=True)
class SpectrumEntry:
    """One symmetry class of multi-indices with a common eigenvalue.

    ``r`` is a representative, ``count`` the number of multi-indices in the
    class (equal eigenvalues by the symmetry of the DAG), ``multiplicity`` the
    total dimension ``count * prod_i N(n0, r_i)``, ``error_bound`` a bound on
    ``|eigenvalue - true eigenvalue|`` (0 when exact).
    """

    r: tuple
    frequency: int
    space: int
    eigenvalue: Any
    multiplicity: int
    count: int
    error_bound: Any
    exact: bool
    certified: bool | None = None
    order: int | None = None
    note: str = ""


@dataclass(frozen=True)
class SpectrumClass:
    """All eigenvalues with one (frequency, space): their range and total multiplicity.

    ``certified``: True when every entry of the class is certified, False when
    one is not, None for a spectrum built without ``rtol``.
    """

    frequency: int
    space: int
    min_eigenvalue: float
    max_eigenvalue: float
    multiplicity: int
    count: int
    max_error_bound: float
    certified: bool | None = None


class SpectrumTable(list, Tabular):
    """A list of :class:`SpectrumEntry` or :class:`SpectrumClass` rows with table output."""

    # a class's max_error_bound bounds every entry, so both ends of its range
    _latex_bounds = {"eigenvalue": "error_bound", "min_eigenvalue": "max_error_bound", "max_eigenvalue": "max_error_bound"}

    def rows(self) -> list:
        from dataclasses import asdict

        return [asdict(row) for row in self]


def group_classes(entries) -> SpectrumTable:
    """Group entries (with frequency, space, eigenvalue, multiplicity, error_bound) by (frequency, space).

    ``count`` of a class sums the entries' ``count`` (multi-indices) when they have one,
    else counts the entries.
    """
    groups: dict = {}
    for e in entries:
        groups.setdefault((e.frequency, e.space), []).append(e)
    out = SpectrumTable()
    for (f, s), es in sorted(groups.items()):
        vals = [to_float(e.eigenvalue) for e in es]
        out.append(
            SpectrumClass(
                f, s, min(vals), max(vals), sum(e.multiplicity for e in es), sum(getattr(e, "count", 1) for e in es),
                max(to_float(e.error_bound) for e in es),
                _all_certified([getattr(e, "certified", None) for e in es]),
            )
        )
    return out


def _all_certified(flags: list):
    """None when no entry carries a certification flag, else whether all of them are certified."""
    flags = [f for f in flags if f is not None]
    return all(flags) if flags else None


class _EntriesTabular(Tabular):
    """Table output for spectra: one row per entry, classes grouped by (frequency, space)."""

    _latex_bounds = {"eigenvalue": "error_bound"}

    def rows(self) -> list:
        """One dict per entry (see ``entries()``)."""
        return self.entries().rows()

    def classes(self) -> list:
        """Entries grouped by (frequency, space): eigenvalue range and total multiplicity."""
        return group_classes(self.entries())


class Spectrum(_EntriesTabular):
    r"""Eigenvalues :math:`\lambda(r)` of a network kernel on a product domain (M14–M19).

    Build with :func:`spectrum`.  Values are exact ``sympy.Rational`` when the
    method is exact, else mpmath numbers (``tree``/``series``) or floats
    (``enumeration``) with ``error_bound(r)``.
    """

    def __init__(
        self, net, domain: Domain, kind: str, max_frequency: int, method: str, max_power: int, max_degree: int,
        rtol: float | None = None,
    ):
        self.net, self.domain, self.kind = net, domain, kind
        self.rtol = _check_rtol(rtol)
        self.max_frequency = max_frequency
        self.dag = net.dag(domain.grid, domain.n0)
        if self.dag.pooled:
            raise ValueError(
                "spectrum: networks with GlobalAvgPool over several positions are not supported yet "
                "(their eigenfunctions are shift-orbit combinations, MATH.md section 6)"
            )
        self.is_tree = _tree.is_tree(self.dag)
        self.method = self._choose_method(method)
        self.max_power, self.max_degree = max_power, max_degree
        self._levels = _aggregation_levels(self.dag)

    # ------------------------------------------------------------ method set-up
    def _choose_method(self, method: str) -> str:
        grid = (self.domain.n0 + 1) ** self.domain.d
        if method == "auto":
            if isinstance(self.domain, ProductHypercube) and grid <= _ENUMERATION_LIMIT:
                return "enumeration"
            return "tree" if self.is_tree else "series"
        if method == "tree" and not self.is_tree:
            raise ValueError("method='tree' needs disjoint receptive fields at every node (a tree CNN or MLP)")
        if method == "enumeration":
            if not isinstance(self.domain, ProductHypercube):
                raise ValueError("method='enumeration' is for product hypercubes only")
            if grid > _ENUMERATION_LIMIT:
                raise ValueError(f"method='enumeration' needs (n0+1)^d <= {_ENUMERATION_LIMIT}, got {grid}")
        if method not in ("tree", "series", "enumeration"):
            raise ValueError(f"method must be 'auto', 'tree', 'series' or 'enumeration', got {method!r}")
        return method

    @cached_property
    def _recursion(self) -> _tree.TreeRecursion:
        return _tree.TreeRecursion(self.dag, self.domain, self.kind, self.max_power)

    @cached_property
    def _certifier(self):
        """The ball-arithmetic recursion of :mod:`eigencalc.spectral.certify`, or None when it does not apply."""
        if self.rtol is None or self.method != "tree" or (self._polynomial_tree and self.exact):
            return None
        from .certify import CertifiedTree

        return CertifiedTree(self.dag, self.domain, self.kind)

    def certified(self, r: Any):
        r"""The proven enclosure of :math:`\lambda(r)` (:class:`~eigencalc.spectral.certify.CertifiedValue`), or None.

        Only for ``method="tree"`` spectra built with ``rtol`` whose values are not
        exact; the truncation order is raised per class until the bound is
        below ``rtol`` times the eigenvalue (see :mod:`eigencalc.spectral.certify`).
        """
        cert = self._certifier
        if cert is None:
            return None
        r = self._index(r)
        if r not in self._certificates:
            orders = tuple(sorted({self.max_power, *(o for o in _certify_orders() if o > self.max_power)}))
            value = cert.certify(r, self.rtol, orders)
            if value.eigenvalue is None:
                warnings.warn(
                    f"spectrum: no finite certified ball for r={r} ({value.note}); using the fixed truncation "
                    f"max_power={self.max_power} and its M16 bound", UserWarning, stacklevel=3,
                )
            self._certificates[r] = value
        return self._certificates[r]

    @cached_property
    def _certificates(self) -> dict:
        return {}

    @cached_property
    def _polynomial_tree(self) -> bool:
        """Every activation is a Polynomial (the plain recursion may then be exact)."""
        from ..duals.activations import Polynomial

        nodes = self.dag.nodes
        return all(isinstance(nodes[u].activation, Polynomial) for u in self.dag.ancestors_of_output()
                   if nodes[u].op == Op.ACTIVATION)

    @cached_property
    def _series(self):
        return self.net.kernel_series(self.domain.grid, self.kind, self.max_degree)

    @cached_property
    def _enumerated(self) -> np.ndarray:
        """All eigenvalues on the product hypercube: tensor indexed by (r_1, ..., r_d), float64."""
        d, n0 = self.domain.d, self.domain.n0
        axis = np.array([1 - 2 * j / n0 for j in range(n0 + 1)])
        values = np.empty((n0 + 1) ** d)
        chunk = 1 << 16
        for start in range(0, values.size, chunk):
            idx = np.arange(start, min(start + chunk, values.size))
            digits = (idx[:, None] // (n0 + 1) ** np.arange(d - 1, -1, -1)) % (n0 + 1)
            values[idx] = self.net.kernel_of_correlations(axis[digits], self.kind, grid=self.domain.grid, n0=n0)
        tensor = values.reshape((n0 + 1,) * d)
        V = np.array([[float(w) for w in hypercube_signed_measure(k, n0)] for k in range(n0 + 1)])
        for ax in range(d):
            tensor = np.moveaxis(np.tensordot(V, tensor, axes=([1], [ax])), 0, ax)
        return tensor

    # ------------------------------------------------------------- per index
    def _index(self, r: Any) -> tuple:
        return self.domain.check_harmonic_index(r)

    def multiplicity(self, r: Any) -> int:
        """Dimension of the eigenspace of multi-index r (M14)."""
        return self.domain.multiplicity(self._index(r))

    def frequency(self, r: Any) -> int:
        """|r| = sum_i r_i (M18)."""
        return sum(self._index(r))

    def space(self, r: Any) -> int:
        """Edges of the smallest connected sub-DAG holding the output and supp(r) (M18)."""
        r = self._index(r)
        return _steiner(self.dag, [i for i, v in enumerate(r) if v], self._levels, None)

    @property
    def levels(self) -> int:
        """Number of aggregation levels (filter sizes k_1 .. k_L of M19)."""
        return max(self._levels.values(), default=0)

    def learning_index(self, r: Any, scaling: Sequence) -> float:
        r"""M19: :math:`\lambda(r) = \Theta(D^{-L(r)})` for :math:`n_0 = D^{a_0}`, :math:`k_l = D^{a_l}`.

        .. math:: L(r) = a_0 |r| + \min_{\text{space trees}} \sum_e m_e\, a_{l(e)},

        where :math:`m_e = 1` for an edge between hidden nodes and
        :math:`m_e = r_i` for the edge leaving patch i.  The multiplicity of a
        patch edge is *derived* (see :meth:`asymptotic`): the patch enters its
        parent linearly, :math:`\delta = (W^2/k) t_i + \dots`, so
        :math:`t_i^{r_i}` costs :math:`k^{-r_i}`; MATH.md's statement of M19
        (each edge once) is the case :math:`r_i \le 1`.
        """
        r = self._index(r)
        scaling = [float(a) for a in scaling]
        if len(scaling) != self.levels + 1:
            raise ValueError(
                f"scaling needs {self.levels + 1} exponents (a_0 for n0, then one per aggregation level), got {len(scaling)}"
            )
        support = [i for i, v in enumerate(r) if v]
        return scaling[0] * sum(r) + _steiner(self.dag, support, self._levels, scaling, r)

    def eigenvalue(self, r: Any):
        """lambda(r): exact sympy number, mpmath number, or float (see ``exact``/``error_bound``)."""
        r = self._index(r)
        if self.method == "enumeration":
            return float(self._enumerated[r])
        if self.method == "tree":
            cert = self.certified(r)
            if cert is not None and cert.eigenvalue is not None:
                return cert.eigenvalue
            rec = self._recursion
            return rec.field.out(rec.root_value({i: v for i, v in enumerate(r) if v}))
        return self._series_eigenvalue(r)

    @cached_property
    def _sparse_series(self) -> list:
        """The series' monomials as ``(coefficient, {patch: power})`` over their nonzero powers only."""
        return [(c, {i: a for i, a in enumerate(alpha) if a}) for alpha, c in self._series.coefficients.items()]

    def _series_eigenvalue(self, r: tuple):
        r""":math:`\lambda(r) = \sum_\alpha c_\alpha \prod_i \mu_{r_i}(t^{\alpha_i})` (M15), over sparse monomials.

        Patches with :math:`r_i = \alpha_i = 0` contribute :math:`\mu_0(1) = 1`; a monomial
        missing a patch of the support of r contributes :math:`\mu_{r_i}(1) = 0`.
        """
        s = self._series
        total = sympy.Integer(0) if s.exact else mpmath.mpf(0)
        support = {i: k for i, k in enumerate(r) if k}
        mu = self.domain.monomial_eigenvalue
        for c, powers in self._sparse_series:
            if any(i not in powers for i in support):
                continue
            weight = math.prod((mu(support.get(i, 0), a) for i, a in powers.items()), start=Fraction(1))
            if weight:
                total += c * (sympy.Rational(weight.numerator, weight.denominator) if s.exact else mpmath.mpf(weight.numerator) / weight.denominator)
        return total

    @property
    def exact(self) -> bool:
        """True when every eigenvalue is exact (no truncation, no rounding)."""
        if self.method == "enumeration":
            return False
        if self.method == "tree":
            if self.rtol is not None and not self._polynomial_tree:
                return False  # certified balls
            return self._recursion.field.exact and self._recursion.tail() == 0
        return self._series.exact and self._series.tail_bound == 0

    def error_bound(self, r: Any):
        r"""Proven bound on :math:`|\lambda(r) - \text{eigenvalue}(r)|`.

        ``tree``: every dropped monomial of the centred recursion has total
        degree > P, except those lost by truncating the dual series (mass
        ``low_degree_slack``); with :math:`M(r, D) \ge \prod_i \mu_{r_i}(t^{\alpha_i})`
        over :math:`|\alpha| \ge D` (:meth:`Domain.degree_envelope`),

        .. math:: |\lambda - \lambda_P| \le T\, M(r, P+1) + S\, M(r, 0),

        and never more than :math:`(T + S)/\mathrm{mult}(r)` (M16).  With ``rtol``
        (a certified spectrum) the ``tree`` bound is instead the radius of the
        ball of :mod:`eigencalc.spectral.certify`: the per-class bound of its
        Lemma 2, whose order is raised until it is below ``rtol`` times the
        eigenvalue.  ``series``: tail / mult(r).  ``enumeration``: float
        rounding (the Krawtchouk weights have total variation <= 1).
        """
        r = self._index(r)
        mult = self.domain.multiplicity(r)
        if self.method == "enumeration":
            return 1e-13 * abs(to_float(self.trace()))
        if self.method == "series":
            return self._series.tail_bound / mult
        cert = self.certified(r)
        if cert is not None and cert.eigenvalue is not None:
            return cert.error_bound
        rec = self._recursion
        tail, slack = rec.tail(), rec.low_degree_slack()
        if rec.field.exact and tail == 0 and slack == 0:
            return rec.field.out(rec.field.zero)
        tail, slack = to_float(tail), to_float(slack)
        crude = (tail + slack) / mult
        refined = tail * self.domain.degree_envelope(r, self.max_power + 1) + slack * self.domain.degree_envelope(r, 0)
        return min(crude, refined)

    def trace(self):
        r"""The trace :math:`K(1, \dots, 1) = \sum_r \lambda(r)\, \mathrm{mult}(r)` (trace identity, M10/M16)."""
        return self._total

    def total(self):
        """Deprecated spelling of :meth:`trace`."""
        warn_deprecated("Spectrum.total()", "Spectrum.trace()")
        return self.trace()

    @cached_property
    def _total(self):
        if self.method == "tree":
            rec = self._recursion
            return rec.field.out(rec.trace())
        if self.method == "series":
            return self._series.trace()
        return float(self.net.kernel_of_correlations(np.ones(self.domain.d), self.kind, grid=self.domain.grid, n0=self.domain.n0))

    def captured_fraction(self) -> float:
        """sum over entries up to max_frequency of lambda * multiplicity, over K(1)."""
        got = sum(to_float(e.eigenvalue) * e.multiplicity for e in self.entries())
        return got / to_float(self.trace())

    # ------------------------------------------------------------------ tables
    def representatives(self) -> list:
        """[(r, count)]: one multi-index per symmetry class, |r| <= max_frequency."""
        if self.is_tree:
            return _tree_classes(_tree.Signatures(self.dag), self.dag, self.domain, self.max_frequency)
        top = self.domain.max_patch_degree()
        out = []
        for r in _all_indices(self.domain.d, self.max_frequency, top):
            out.append((r, 1))
        return out

    def entries(self) -> list:
        """Every eigenvalue class up to ``max_frequency``, sorted by (frequency, space, -eigenvalue)."""
        if getattr(self, "_entries", None) is None:
            out = []
            classes = self.representatives()
            bar = progress(classes, desc=f"spectrum ({self.method}, {len(classes)} classes)",
                           enabled=None if len(classes) > 64 else False)
            for r, count in bar:
                value = self.eigenvalue(r)
                mult = self.domain.multiplicity(r)
                cert = self.certified(r)
                status = (cert.certified, cert.order, cert.note) if cert is not None else self._certification_status()
                out.append(
                    SpectrumEntry(
                        r, sum(r), self.space(r), value, count * mult, count, self.error_bound(r), self.exact, *status
                    )
                )
            out.sort(key=lambda e: (e.frequency, e.space, -to_float(e.eigenvalue)))
            self._entries = SpectrumTable(out)
        return self._entries

    def _certification_status(self) -> tuple:
        """(certified, order, note) of an entry that has no certificate."""
        if self.rtol is None:
            return None, None, ""
        if self.exact:
            return True, None, "exact"
        return False, None, f"no certified bound for method {self.method!r} (only the tree recursion certifies)"

    def __repr__(self) -> str:
        return (
            f"Spectrum({self.kind}, {self.domain!r}, method={self.method!r}, "
            f"max_frequency={self.max_frequency}, exact={self.exact})"
        )

    # -------------------------------------------------------------- asymptotics
    def asymptotic(self, r: Any, *, leading_in_filters: bool = True) -> sympy.Expr:
        r"""Leading-order :math:`\lambda(r)` as :math:`n_0 \to \infty` (and filter sizes -> infinity).

        .. math:: \lambda(r) = \partial^r K(0)\; n_0^{-|r|}\,\big(1 + O(1/n_0)\big)

        on both domains, since :math:`\mu_k(t^a) = O(n_0^{-(a+k)/2})` and
        :math:`\mu_k(t^k) = k!\, n_0^{-k}(1 + O(1/n_0))` (M11, M12).  The mixed
        derivative :math:`\partial^r K(0)` is derived exactly on the tree with
        one symbol :math:`k_l` per aggregation level (the number of children,
        which sets the averaging weight :math:`W^2/k_l`); with
        ``leading_in_filters`` only its leading monomial as every
        :math:`k_l \to \infty` is kept (M19).  Symbols: ``n0``, ``k1``, ``k2``, ...
        """
        r = self._index(r)
        if not self.is_tree:
            raise ValueError("asymptotic() needs a tree DAG (tree CNN or Flatten-first MLP)")
        from .asymptotics import leading_taylor_coefficient

        n0 = sympy.Symbol("n0", positive=True)
        coefficient = leading_taylor_coefficient(self.dag, r, self.kind, self._levels, leading_in_filters)
        return sympy.simplify(coefficient * math.prod(math.factorial(v) for v in r)) * n0 ** (-sum(r))

    def eigenvalue_in_n0(self, r: Any) -> sympy.Expr:
        """Exact lambda(r) on the product sphere as a rational function of a symbol n0 (polynomial activations)."""
        r = self._index(r)
        if not isinstance(self.domain, ProductSphere):
            raise ValueError("eigenvalue_in_n0 is for product spheres")
        from .asymptotics import eigenvalue_in_n0

        return eigenvalue_in_n0(self.dag, r, self.kind)


def product_spectrum(
    net,
    domain: Domain,
    kind: str = REQUIRED,
    max_frequency: int = 3,
    *,
    method: str = "auto",
    max_power: int = MAX_POWER,
    max_degree: int | None = None,
    rtol: float | None = None,
) -> Spectrum:
    r"""The eigenstructure of a pooling-free ``net``'s kernel on a product domain (M14–M19); see :func:`spectrum`.

    ``max_power`` is the truncation P of the tree recursion, ``max_degree``
    the total degree D of the series method (default ``max_frequency + 4``);
    ``rtol`` asks for certified eigenvalues (see :func:`spectrum`).

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> from eigencalc.domains import ProductHypercube
    >>> s = product_spectrum(serial(Conv(2, stride=2), Relu(), Flatten(), Dense()), ProductHypercube(4, 1), "nngp", 2)
    >>> s.method, len(s.entries())
    ('enumeration', 4)
    """
    kind, max_frequency, max_degree = check_spectrum_arguments(domain, kind, max_frequency, max_power, max_degree)
    return Spectrum(net, domain, kind, max_frequency, method, max_power, max_degree, rtol)


def _check_rtol(rtol):
    """None, or a float in (0, 1)."""
    if rtol is None:
        return None
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise ValueError(f"rtol must be a number in (0, 1) or None, got {rtol!r}")
    return float(rtol)


def _certify_orders() -> tuple:
    from .certify import ORDERS

    return ORDERS


def check_spectrum_arguments(domain, kind, max_frequency, max_power, max_degree, where: str = "spectrum") -> tuple:
    """Validate the arguments every spectrum takes; returns ``(kind, max_frequency, max_degree)``."""
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be a ProductSphere or ProductHypercube, got {type(domain).__name__}")
    kind = required_kind(kind, where, "ntk")
    max_frequency = check_int(max_frequency, "max_frequency", 0)
    if isinstance(max_power, bool) or not isinstance(max_power, int) or max_power < 1:
        raise ValueError(f"max_power must be an integer >= 1, got {max_power!r}")
    D = int(max_frequency) + 4 if max_degree is None else max_degree
    return kind, int(max_frequency), D


# --------------------------------------------------------------------------
# Multi-index enumeration and symmetry classes
# --------------------------------------------------------------------------


def _all_indices(d: int, F: int, top: int | None):
    """All r in N^d with |r| <= F (and r_i <= top), lowest frequency first."""
    cap = F if top is None else min(F, top)
    for f in range(F + 1):
        for support_size in range(min(d, f) + 1 if f else 1):
            for support in itertools.combinations(range(d), support_size):
                for degrees in _compositions(f, support_size, cap):
                    r = [0] * d
                    for i, k in zip(support, degrees):
                        r[i] = k
                    yield tuple(r)


def _compositions(total: int, parts: int, cap: int):
    if parts == 0:
        if total == 0:
            yield ()
        return
    for first in range(1, min(cap, total - (parts - 1)) + 1):
        for rest in _compositions(total - first, parts - 1, cap):
            yield (first,) + rest


def _tree_classes(sigs: _tree.Signatures, dag, domain: Domain, F: int) -> list:
    """Symmetry classes of a tree DAG: canonical signature -> (representative r, count)."""
    top = domain.max_patch_degree()
    cap = F if top is None else min(F, top)
    memo: dict = {}

    def forms(u: int) -> dict:
        if u in memo:
            return memo[u]
        node = dag.nodes[u]
        if node.op == Op.INPUT:
            out = {}
            for k in range(cap + 1):
                sig = sigs.leaf(k)
                out[sig] = (1, k, {node.position: k} if k else {})
        else:
            states = {(): (1, 0, {})}
            for c, w in zip(node.children, sigs.weight_keys(u)):
                child = forms(c)
                new: dict = {}
                for key, (cnt, f, rep) in states.items():
                    for sig, (ccnt, cf, crep) in child.items():
                        if f + cf > F:
                            continue
                        nk = tuple(sorted(key + ((w, sig),)))
                        old = new.get(nk)
                        merged = rep if not crep else {**rep, **crep}
                        new[nk] = (cnt * ccnt + (old[0] if old else 0), f + cf, old[2] if old else merged)
                states = new
            out = {sigs.node(u, key): value for key, value in states.items()}
        memo[u] = out
        return out

    result = []
    for sig, (cnt, f, rep) in forms(dag.output).items():
        r = tuple(rep.get(i, 0) for i in range(dag.d))
        result.append((r, cnt))
    return result


# --------------------------------------------------------------------------
# Space (M18) and learning index (M19): minimum Steiner arborescence
# --------------------------------------------------------------------------


def _aggregation_levels(dag) -> dict:
    """Node id -> aggregation level (1, 2, ...) for nodes that merge >= 2 children."""
    levels: dict = {}
    level = 0
    for L in dag.layers:
        merging = [u for u in L.nodes if dag.nodes[u].op in (Op.AFFINE, Op.AVERAGE, Op.POOL) and len(dag.nodes[u].children) >= 2]
        if merging:
            level += 1
            for u in merging:
                levels[u] = level
    return levels


def _steiner(dag, support: list, levels: dict, scaling, degrees=None) -> float:
    r"""Minimum weight of a sub-DAG rooted at the output reaching every patch in ``support``.

    Dreyfus–Wagner dynamic programme over subsets of the support, node by node
    in topological order: an edge into an aggregating node u costs 1
    (``scaling`` None, M18) or :math:`a_{l(u)}` (M19), times the patch degree
    :math:`r_i` for an edge leaving patch i when ``degrees`` is given; other
    edges cost 0.
    """
    k = len(support)
    if k == 0:
        return 0
    full = (1 << k) - 1
    index = {leaf: b for b, leaf in enumerate(support)}
    inf = float("inf")
    cost: dict = {}
    need = dag.ancestors_of_output()
    support_set = set(support)
    blank = [0.0] + [inf] * full  # a node that sees no patch of the support reaches nothing
    for node in dag.nodes:
        if node.id not in need:
            continue
        if support_set.isdisjoint(node.receptive_field):
            cost[node.id] = blank
            continue
        best = [inf] * (full + 1)
        best[0] = 0.0
        if node.op == Op.INPUT:
            if node.position in index:
                best[1 << index[node.position]] = 0.0
        else:
            level = levels.get(node.id)
            w = 0.0 if level is None else (1.0 if scaling is None else scaling[level])
            for c in node.children:
                cc = cost[c]
                child = dag.nodes[c]
                wc = w * degrees[child.position] if degrees is not None and child.op == Op.INPUT else w
                for S in range(1, full + 1):
                    if cc[S] + wc < best[S]:
                        best[S] = cc[S] + wc
            for S in range(1, full + 1):
                sub = (S - 1) & S
                while sub:
                    v = best[sub] + best[S ^ sub]
                    if v < best[S]:
                        best[S] = v
                    sub = (sub - 1) & S
        cost[node.id] = best
    value = cost[dag.output][full]
    return int(value) if scaling is None and value != inf else value
