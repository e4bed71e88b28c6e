r"""Empirical (Nyström) spectra: eigenvalues of :math:`G/N` next to the predicted :math:`\lambda(r)`.

Float64 eigenvalues of a sampled Gram matrix; which predicted eigenvalues are
provably the largest is decided by the M16 trace bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.numbers import to_float as _to_float
from ..core.validate import REQUIRED, required_kind
from ..core.validate import check_int as _check_int
from ..harmonic.domains import Domain, sample
from ..harmonic.domains import check_domain as _check_domain
from ..kernel.engine import _check_network, gram
from ..kernel.spec import LayerSpec as Layer
from ..spectral.front import spectrum

__all__ = ["EmpiricalCluster", "EmpiricalSpectrum", "empirical_spectrum"]


# --------------------------------------------------------------------------
# Empirical spectrum (Nystrom consistency)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class EmpiricalCluster:
    """One predicted eigenvalue (with multiplicity) and the mean of the matching empirical ones."""

    predicted: float
    multiplicity: int
    start: int  # rank of the first eigenvalue of the cluster (0 = largest)
    empirical: float  # mean of eigenvalues start .. start + multiplicity - 1 of G/N

    @property
    def relative_error(self) -> float:
        return abs(self.empirical - self.predicted) / abs(self.predicted) if self.predicted else math.inf


@dataclass(frozen=True, eq=False)
class EmpiricalSpectrum:
    r"""Eigenvalues of :math:`G/N` on N samples (descending) next to the predicted :math:`\lambda(r)`.

    ``predicted`` lists :math:`\lambda(r)` repeated :math:`\mathrm{mult}(r)` times,
    descending, for :math:`|r| \le` ``max_frequency``; its first ``reliable``
    entries are provably the largest eigenvalues of the operator (each exceeds
    the trace mass not captured up to ``max_frequency``, M16).
    """

    eigenvalues: np.ndarray
    predicted: np.ndarray
    reliable: int
    N: int
    kind: str
    seed: Any

    def clusters(self, rtol: float = 1e-9) -> list:
        """Groups of equal predicted eigenvalues among the ``reliable`` ones, with the empirical means."""
        out = []
        a = 0
        limit = min(self.reliable, self.eigenvalues.size)
        while a < limit:
            b = a + 1
            while b < limit and abs(self.predicted[b] - self.predicted[a]) <= rtol * abs(self.predicted[a]):
                b += 1
            out.append(EmpiricalCluster(float(self.predicted[a]), b - a, a, float(self.eigenvalues[a:b].mean())))
            a = b
        return out

    def __repr__(self) -> str:
        lines = [f"EmpiricalSpectrum({self.kind}, N={self.N}, reliable={self.reliable})"]
        lines.append(f"  {'rank':>5} {'mult':>5} {'predicted':>13} {'empirical':>13} {'rel.err':>8}")
        for c in self.clusters()[:12]:
            lines.append(f"  {c.start:>5} {c.multiplicity:>5} {c.predicted:>13.6g} {c.empirical:>13.6g} {c.relative_error:>8.2g}")
        return "\n".join(lines)


def empirical_spectrum(
    net: Layer,
    domain: Domain,
    N: int,
    kind: str = REQUIRED,
    seed: Any = 0,
    *,
    max_frequency: int = 3,
    spectrum_kwargs: dict | None = None,
) -> EmpiricalSpectrum:
    r"""Top eigenvalues of :math:`G/N` for N uniform samples, next to the predicted :math:`\lambda(r)` (M14).

    .. math::

        \frac1N\, \mathrm{eig}\big(K(x_n, x_m)\big)_{n,m \le N}
        \;\longrightarrow\; \{\lambda(r) \text{ with multiplicity } \mathrm{mult}(r)\}
        \quad (N \to \infty)

    (the Nyström / empirical-operator consistency of Koltchinskii and Giné,
    *Random matrix approximation of spectra of integral operators*, Bernoulli
    2000): each fixed eigenvalue converges at rate :math:`O(N^{-1/2})`.  The
    prediction is ``spectrum(net, domain, kind, max_frequency)``.
    """
    net = _check_network(net)
    domain = _check_domain(domain)
    kind = required_kind(kind, "empirical_spectrum", "ntk")
    N = _check_int(N, "N (number of samples)")
    X = sample(domain, N, seed)
    G = gram(net, X, kind=kind)
    eig = np.linalg.eigvalsh(G / N)[::-1].copy()
    spec = spectrum(net, domain, kind, max_frequency, **(spectrum_kwargs or {}))
    entries = spec.entries()
    pred = np.concatenate([np.full(e.multiplicity, _to_float(e.eigenvalue)) for e in entries]) if entries else np.zeros(0)
    errs = np.concatenate([np.full(e.multiplicity, _to_float(e.error_bound)) for e in entries]) if entries else np.zeros(0)
    order = np.argsort(-pred, kind="stable")
    pred, errs = pred[order], errs[order]
    total = _to_float(spec.trace())
    if spec.method == "enumeration":  # float rounding of either sign
        residual = total - pred.sum() + errs.sum()
    else:
        # Truncated nonnegative series underestimate every eigenvalue (M15, M16), so the
        # uncaptured mass is at most total - sum(pred) and bounds every eigenvalue with
        # |r| > max_frequency; 1e-12 total allows for the rounding of the floats.
        residual = total - pred.sum() + 1e-12 * abs(total)
    above = pred > residual  # a prefix of the descending list
    reliable = int(np.argmin(above)) if not above.all() else int(pred.size)
    return EmpiricalSpectrum(eig, pred, min(reliable, N), N, kind, seed)

