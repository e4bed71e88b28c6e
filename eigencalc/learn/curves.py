r"""Learning curves of kernel ridge regression: eigenlearning prediction and experiment (MATH.md section 7).

Prediction (:func:`learning_curve`).  For eigenvalues :math:`\lambda_i` of the
kernel integral operator (with multiplicity), target coefficients :math:`v_i`,
m samples, ridge :math:`\delta` and label-noise variance :math:`\sigma^2`,
the eigenlearning / omniscient-risk estimate of kernel ridge regression
:math:`\hat f = K_{xX}(K_{XX} + \delta I)^{-1} y` is

.. math::

    \sum_i \frac{\lambda_i}{\lambda_i + \kappa} + \frac{\delta}{\kappa} = m,\qquad
    \mathcal L_i = \frac{\lambda_i}{\lambda_i + \kappa},\qquad
    \mathcal E_0 = \frac{m}{m - \sum_i \mathcal L_i^2},

    \text{test MSE} = \mathcal E_0 \Big(\sum_i (1 - \mathcal L_i)^2 v_i^2 + \sigma^2\Big),\qquad
    \text{train MSE} = \Big(\frac{\delta}{m\kappa}\Big)^2 \text{test MSE}.

The test MSE includes the noise of a fresh test label (subtract
:math:`\sigma^2` for the error against the noiseless target).  Sums run per
symmetry class of a :class:`~eigencalc.spectra.Spectrum` (eigenvalue times
multiplicity), never per eigenfunction, so multiplicities of any size are fine.

**Tail.**  A spectrum truncated at ``max_frequency`` captures
:math:`C = \sum_{\text{entries}} \lambda\, \mathrm{mult}` of the trace
:math:`K(1,\dots,1)` (M16).  The rest, :math:`T = K(1,\dots,1) - C`, is spread
over very many small eigenvalues; we treat them as :math:`\lambda \ll \kappa`,
so they enter the first equation as :math:`\sum \lambda/(\lambda+\kappa)
\approx T/\kappa` (an *effective ridge* :math:`\delta + T`) and drop out of
:math:`\sum \mathcal L_i^2` (they contribute at most
:math:`\lambda_{\max,\text{tail}} T/\kappa^2`).  The approximation is good
while :math:`\kappa` exceeds the largest tail eigenvalue, i.e. while fewer
samples are used than modes of frequency <= ``max_frequency``; raise
``max_frequency`` to check.  Target mass beyond ``max_frequency`` is still
predicted with its own exact :math:`\lambda(r)`, with a :class:`TailWarning`.

Experiment (:func:`krr_experiment`): real kernel ridge regression with the
network's Gram matrices on sampled data, mean and spread of the test MSE.

References: J. B. Simon, M. Dickens, D. Karkada, M. R. DeWeese, "The
eigenlearning framework: a conservation law perspective on kernel regression
and wide neural networks", arXiv:2110.03922; B. Bordelon, A. Canatar,
C. Pehlevan, "Spectrum dependent learning curves in kernel regression and
wide neural networks", arXiv:2002.02561; A. Jacot, B. Şimşek, F. Spadaro,
C. Hongler, F. Gabriel, "Kernel alignment risk estimator: risk prediction
from training data", arXiv:2006.09796.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.numbers import to_float
from ..core.deprecation import warn_deprecated
from ..core.progress import progress as progress_bar
from ..core.tables import Tabular
from ..core.validate import REQUIRED, check_nonnegative, required_kind
from ..kernel.engine import gram, kernel_of_correlations
from ..harmonic.domains import Domain, ProductHypercube, check_domain
from .targets import Target

__all__ = [
    "TailWarning",
    "ClassLearnability",
    "TargetClass",
    "LearningCurve",
    "learning_curve",
    "Learnable",
    "learnable",
    "KRRResult",
    "krr_experiment",
]

#: Tail traces below this fraction of K(1..1) are float rounding, not uncaptured spectrum.
TAIL_TOLERANCE = 1e-10


class TailWarning(UserWarning):
    """Part of the prediction relies on the tail approximation (target mass beyond max_frequency)."""


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _check_m(m: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(m, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"m must be a positive number or a 1-D array of them, got {m!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 1):
        raise ValueError(f"m (number of samples) must be >= 1, got {m!r}")
    return arr


# --------------------------------------------------------------------------
# Spectrum as arrays
# --------------------------------------------------------------------------


@dataclass
class _Modes:
    entries: list
    lam: np.ndarray  # eigenvalue per entry, >= 0 (rounding-level values of the enumeration count as 0)
    mult: np.ndarray  # multiplicity per entry (float)
    total: float
    tail: float

    @property
    def nonzero(self) -> float:
        return float(self.mult[self.lam > 0].sum())


def _clean_eigenvalue(value: float, bound: float, rounding: bool) -> float:
    """Clip at 0; a float-rounding-level value (|value| <= its bound, enumeration) is an exact zero.

    Truncation bounds of the tree/series methods (M16) are not rounding: there
    the computed value stays the estimate even when the bound exceeds it.
    """
    if value <= 0 or (rounding and value <= bound):
        return 0.0
    return value


def _trace_of(spectrum):
    """The spectrum's trace: ``trace()``, or ``total()`` for spectrum-like objects of the old protocol."""
    if hasattr(spectrum, "trace"):
        return spectrum.trace()
    warn_deprecated(f"{type(spectrum).__name__}.total() as the trace of a spectrum", "a trace() method", stacklevel=4)
    return spectrum.total()


def _modes(spectrum) -> _Modes:
    entries = spectrum.entries()
    lam = np.empty(len(entries))
    mult = np.empty(len(entries))
    rounding = spectrum.method.endswith("enumeration")
    for n, e in enumerate(entries):
        lam[n] = _clean_eigenvalue(to_float(e.eigenvalue), to_float(e.error_bound), rounding)
        mult[n] = float(e.multiplicity)
    total = to_float(_trace_of(spectrum))
    tail = total - float(np.dot(lam, mult))
    if tail <= TAIL_TOLERANCE * abs(total):
        tail = 0.0
    return _Modes(entries, lam, mult, total, tail)


def _pooled(spectrum) -> bool:
    return hasattr(spectrum, "target_masses")


def _key_r(key):
    """The multi-index of a target key: r itself, or the orbit representative of (r, j) (pooled)."""
    return key[0] if isinstance(key[0], tuple) else key


def _key_eigen(spectrum, key):
    """(eigenvalue, bound) of a target key: lambda(r), or lambda(r, j) for pooled spectra."""
    if isinstance(key[0], tuple):
        return spectrum.eigenvalue(*key), spectrum.error_bound(*key)
    return spectrum.eigenvalue(key), spectrum.error_bound(key)


def _target_masses(spectrum, target) -> dict:
    if _pooled(spectrum):
        return spectrum.target_masses(target)
    if isinstance(target, Target):
        if target.domain != spectrum.domain:
            raise ValueError(f"target lives on {target.domain!r}, the spectrum on {spectrum.domain!r}")
        masses = target.mass_by_index()
    elif isinstance(target, Mapping):
        masses = {}
        for r, v in target.items():
            r = spectrum.domain.check_index(r)
            masses[r] = masses.get(r, 0.0) + check_nonnegative(v, f"target mass of {r}")
    else:
        raise TypeError(f"target must be a Target or a mapping r -> squared coefficient, got {type(target).__name__}")
    return masses


# --------------------------------------------------------------------------
# kappa
# --------------------------------------------------------------------------


def _dof(lam: np.ndarray, mult: np.ndarray, kappa: float) -> float:
    """sum_i lambda_i / (lambda_i + kappa), per entry with multiplicity."""
    return float(np.dot(mult, lam / (lam + kappa)))


def _solve_kappa(modes: _Modes, m: float, ridge_eff: float) -> float:
    r"""Unique :math:`\kappa > 0` of :math:`\sum_i \lambda_i/(\lambda_i+\kappa) + \delta_{\rm eff}/\kappa = m`.

    The left side decreases strictly from :math:`N_+ + \infty\cdot[\delta_{\rm eff} > 0]`
    to 0, so the root exists iff :math:`\delta_{\rm eff} > 0` or :math:`m < N_+`.
    Bracket in :math:`u = \log\kappa`: at :math:`\kappa_{hi} = (C + \delta_{\rm eff})/m`
    the left side is <= m (:math:`\lambda/(\lambda+\kappa) \le \lambda/\kappa`);
    at :math:`\kappa_{lo} = \delta_{\rm eff}/m` it is >= m, or (ridgeless) step
    down by decades.  Then bisection in u to machine precision (<= 200 steps).
    """
    lam, mult = modes.lam, modes.mult
    captured = float(np.dot(lam, mult))

    def excess(u: float) -> float:
        kappa = math.exp(u)
        return _dof(lam, mult, kappa) + ridge_eff / kappa - m

    u_hi = math.log((captured + ridge_eff) / m)
    if ridge_eff > 0:
        u_lo = math.log(ridge_eff / m)
    else:
        u_lo = u_hi
        floor = math.log(np.finfo(float).tiny) + 50
        while excess(u_lo) <= 0:
            u_lo -= math.log(10.0)
            if u_lo < floor:  # pragma: no cover - needs eigenvalues near underflow
                raise ValueError("learning_curve: could not bracket kappa (eigenvalues below float range)")
    f_lo, f_hi = excess(u_lo), excess(u_hi)
    if f_lo < 0 or f_hi > 0:  # pragma: no cover - guaranteed by the bracket argument
        raise RuntimeError(f"learning_curve: kappa not bracketed ({f_lo}, {f_hi})")
    for _ in range(200):
        mid = 0.5 * (u_lo + u_hi)
        if mid in (u_lo, u_hi):
            break
        if excess(mid) > 0:
            u_lo = mid
        else:
            u_hi = mid
        if u_hi - u_lo < 1e-15:
            break
    return math.exp(0.5 * (u_lo + u_hi))


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassLearnability:
    r"""Learnabilities :math:`\lambda/(\lambda+\kappa)` of one (frequency, space) class, per m (arrays)."""

    frequency: int
    space: int
    multiplicity: int
    min_eigenvalue: float
    max_eigenvalue: float
    min_learnability: np.ndarray
    max_learnability: np.ndarray


@dataclass(frozen=True)
class TargetClass:
    r"""The target's part in one (frequency, space) class: mass, mass-weighted learnability and residual per m."""

    frequency: int
    space: int
    mass: float
    learnability: np.ndarray
    residual: np.ndarray  # sum over the class of (1 - L_r)^2 v_r^2


@dataclass(frozen=True)
class LearningCurve(Tabular):
    r"""Eigenlearning prediction for each m (MATH.md section 7); arrays are indexed like ``m``.

    ``learnability[j, n]`` is :math:`\mathcal L` of ``entries[n]`` at ``m[j]``;
    ``target_learnability[r][j]`` that of a target index r.  ``tail`` is the
    uncaptured trace T entering as effective ridge ``ridge + tail``.
    ``ridgeless_limit[j]`` is True where :math:`\delta + T = 0` and
    :math:`m \ge N_+` (number of nonzero modes): there :math:`\kappa = 0`,
    every nonzero mode is learned and :math:`\mathcal E_0 = m/(m - N_+)`.
    """

    m: np.ndarray
    ridge: float
    noise: float
    tail: float
    total: float
    kappa: np.ndarray
    e0: np.ndarray
    test_mse: np.ndarray
    train_mse: np.ndarray
    bias: np.ndarray
    entries: list = field(repr=False)
    learnability: np.ndarray = field(repr=False)
    target_mass: dict = field(repr=False)
    target_learnability: dict = field(repr=False)
    target_classes: list = field(repr=False)
    classes: list = field(repr=False)
    ridgeless_limit: np.ndarray = field(repr=False)

    @property
    def effective_ridge(self) -> float:
        """ridge + tail: how the uncaptured trace enters the kappa equation."""
        return self.ridge + self.tail

    def class_learnability(self, frequency: int, space: int) -> ClassLearnability:
        """The :class:`ClassLearnability` row of one (frequency, space)."""
        for c in self.classes:
            if (c.frequency, c.space) == (frequency, space):
                return c
        raise KeyError(f"no eigenvalue class (frequency={frequency}, space={space}) in the spectrum")

    def samples_to_reach(self, mse: float) -> float:
        """Smallest listed m whose predicted test MSE is <= ``mse`` (inf if none)."""
        hit = np.nonzero(self.test_mse <= mse)[0]
        return float(self.m[hit[0]]) if hit.size else math.inf

    def rows(self) -> list:
        """One row per m: kappa, E0, predicted test and train MSE (floats)."""
        return [
            {"m": float(self.m[j]), "kappa": float(self.kappa[j]), "E0": float(self.e0[j]),
             "test_mse": float(self.test_mse[j]), "train_mse": float(self.train_mse[j])}
            for j in range(len(self.m))
        ]

    def table(self) -> str:
        """m, kappa, E0, predicted test and train MSE as aligned text."""
        rows = [f"{'m':>10} {'kappa':>12} {'E0':>10} {'test MSE':>12} {'train MSE':>12}"]
        for j in range(len(self.m)):
            rows.append(
                f"{self.m[j]:>10.6g} {self.kappa[j]:>12.4e} {self.e0[j]:>10.4f} {self.test_mse[j]:>12.6g} {self.train_mse[j]:>12.6g}"
            )
        return "\n".join(rows)


def learning_curve(spectrum, target, m: Any, ridge: Any = 0.0, noise: Any = 0.0) -> LearningCurve:
    r"""Eigenlearning prediction of the KRR test MSE at m samples (MATH.md section 7).

    .. math::

        \sum_{e} \mathrm{mult}_e \frac{\lambda_e}{\lambda_e + \kappa} + \frac{\delta + T}{\kappa} = m,\quad
        \mathcal E_0 = \frac{m}{m - \sum_e \mathrm{mult}_e \mathcal L_e^2},\quad
        \text{MSE} = \mathcal E_0\Big(\sum_r (1 - \mathcal L_r)^2 v_r^2 + \sigma^2\Big)

    with e over the spectrum's symmetry classes, T the uncaptured trace (module
    docstring), r over the target's multi-indices (``target.mass_by_index()``,
    or a mapping ``{r: v_r^2}``).  ``ridge`` is :math:`\delta` in
    :math:`(K_{XX} + \delta I)^{-1}` (Gram not divided by m), ``noise`` the
    label-noise variance :math:`\sigma^2`; ``m`` a number or 1-D array (>= 1).

    Ridgeless with no tail and :math:`m \ge N_+` nonzero modes: the
    :math:`\kappa \to 0` limit (every nonzero mode learned,
    :math:`\mathcal E_0 = m/(m-N_+)`, infinite at :math:`m = N_+` unless the
    residual and the noise vanish).

    References: Simon et al., "The eigenlearning framework", arXiv:2110.03922;
    Bordelon, Canatar, Pehlevan, arXiv:2002.02561; Jacot et al., "Kernel
    alignment risk estimator", arXiv:2006.09796.

    >>> from eigencalc.architectures import serial, Flatten, Dense, Relu
    >>> from eigencalc.domains import ProductHypercube
    >>> from eigencalc.spectra import spectrum
    >>> from eigencalc.targets import harmonic
    >>> dom = ProductHypercube(6, 1)
    >>> s = spectrum(serial(Flatten(), Dense(), Relu(), Dense()), dom, "ntk", max_frequency=6)
    >>> lc = learning_curve(s, harmonic(dom, (1, 0, 0, 0, 0, 0)), [4, 16], ridge=1e-3)
    >>> bool(lc.test_mse[1] < lc.test_mse[0] < 1.5)
    True
    >>> bool(abs(sum(e.multiplicity * L for e, L in zip(lc.entries, lc.learnability[0])) + 1e-3 / lc.kappa[0] - 4) < 1e-9)
    True
    """
    ms = _check_m(m)
    ridge = check_nonnegative(ridge, "ridge")
    noise = check_nonnegative(noise, "noise (label-noise variance)")
    masses = _target_masses(spectrum, target)
    modes = _modes(spectrum)
    ridge_eff = ridge + modes.tail
    n_plus = modes.nonzero

    target_r = sorted(masses)
    beyond = [r for r in target_r if sum(_key_r(r)) > spectrum.max_frequency and masses[r] > 0]
    if beyond:
        warnings.warn(
            f"learning_curve: target mass {sum(masses[r] for r in beyond):.3g} lies beyond max_frequency = "
            f"{spectrum.max_frequency}; its eigenvalues are exact but enter the kappa equation only through the tail "
            f"approximation (raise max_frequency)",
            TailWarning,
            stacklevel=2,
        )
    rounding = spectrum.method.endswith("enumeration")
    t_lam = np.array(
        [_clean_eigenvalue(*(to_float(v) for v in _key_eigen(spectrum, r)), rounding) for r in target_r]
    )
    t_mass = np.array([masses[r] for r in target_r])

    J, E = len(ms), len(modes.entries)
    kappa, e0, test, train, bias = (np.empty(J) for _ in range(5))
    L = np.empty((J, E))
    TL = np.empty((J, len(target_r)))
    limit = np.zeros(J, dtype=bool)
    for j, mj in enumerate(ms):
        if ridge_eff == 0 and mj >= n_plus:
            limit[j] = True
            kappa[j] = 0.0
            L[j] = (modes.lam > 0).astype(float)
            TL[j] = (t_lam > 0).astype(float)
            residual = float(np.dot((1 - TL[j]) ** 2, t_mass))
            bias[j] = residual
            if mj > n_plus:
                e0[j] = mj / (mj - n_plus)
                test[j] = e0[j] * (residual + noise)
            else:
                e0[j] = math.inf
                test[j] = math.inf if (residual + noise) > 0 else 0.0
            train[j] = 0.0
            continue
        k = _solve_kappa(modes, float(mj), ridge_eff)
        kappa[j] = k
        L[j] = modes.lam / (modes.lam + k)
        TL[j] = t_lam / (t_lam + k)
        e0[j] = mj / (mj - float(np.dot(modes.mult, L[j] ** 2)))
        bias[j] = float(np.dot((1 - TL[j]) ** 2, t_mass))
        test[j] = e0[j] * (bias[j] + noise)
        train[j] = (ridge / (mj * k)) ** 2 * test[j]

    classes = _class_rows(modes, L)
    t_classes = _target_class_rows(spectrum, target_r, t_mass, TL)
    return LearningCurve(
        m=ms,
        ridge=ridge,
        noise=noise,
        tail=modes.tail,
        total=modes.total,
        kappa=kappa,
        e0=e0,
        test_mse=test,
        train_mse=train,
        bias=bias,
        entries=modes.entries,
        learnability=L,
        target_mass={r: float(v) for r, v in zip(target_r, t_mass)},
        target_learnability={r: TL[:, n].copy() for n, r in enumerate(target_r)},
        target_classes=t_classes,
        classes=classes,
        ridgeless_limit=limit,
    )


def _class_rows(modes: _Modes, L: np.ndarray) -> list:
    groups: dict = {}
    for n, e in enumerate(modes.entries):
        groups.setdefault((e.frequency, e.space), []).append(n)
    rows = []
    for (f, s), idx in sorted(groups.items()):
        rows.append(
            ClassLearnability(
                f,
                s,
                int(sum(modes.entries[n].multiplicity for n in idx)),
                float(modes.lam[idx].min()),
                float(modes.lam[idx].max()),
                L[:, idx].min(axis=1),
                L[:, idx].max(axis=1),
            )
        )
    return rows


def _target_class_rows(spectrum, target_r: list, t_mass: np.ndarray, TL: np.ndarray) -> list:
    groups: dict = {}
    for n, key in enumerate(target_r):
        r = _key_r(key)
        groups.setdefault((sum(r), spectrum.space(r)), []).append(n)
    rows = []
    for (f, s), idx in sorted(groups.items()):
        w = t_mass[idx]
        mass = float(w.sum())
        learn = TL[:, idx] @ w / mass if mass > 0 else TL[:, idx].mean(axis=1)
        rows.append(TargetClass(f, s, mass, learn, (1 - TL[:, idx]) ** 2 @ w))
    return rows


# --------------------------------------------------------------------------
# Which classes are learned
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Learnable(Tabular):
    r"""Classes learned at m samples: by learnability > 1/2, and (given a scaling) by the M19 learning index.

    ``learnability[(f, s)] = (min, max)`` over the class's entries;
    ``learned`` lists classes with min > threshold, ``partial`` those with only
    some entries above.  With a scaling: ``p = log m / log D``,
    ``index[(f, s)] = (min, max)`` learning index, ``learned_by_index`` the
    classes with every index < p, ``not_learned_by_index`` those with every
    index > p (the rest straddle p).
    """

    m: float
    kappa: float
    threshold: float
    learnability: dict
    learned: list
    partial: list
    scaling: tuple | None = None
    D: float | None = None
    p: float | None = None
    index: dict | None = None
    learned_by_index: list | None = None
    not_learned_by_index: list | None = None


def _learnable_rows(self) -> list:
    """One row per (frequency, space): learnability range, learned flag, learning-index range if any."""
    out = []
    for (f, sp), (lo, hi) in sorted(self.learnability.items()):
        row = {"frequency": f, "space": sp, "min_learnability": float(lo), "max_learnability": float(hi),
               "learned": (f, sp) in self.learned}
        if self.index is not None and (f, sp) in self.index:
            row["min_index"], row["max_index"] = (float(v) for v in self.index[(f, sp)])
        out.append(row)
    return out


Learnable.rows = _learnable_rows


def learnable(spectrum, m: Any, scaling: Sequence | None = None, *, D: Any = None, ridge: Any = 0.0, threshold: float = 0.5) -> Learnable:
    r"""The (frequency, space) classes learned at m samples (MATH.md section 7, M19).

    .. math:: \mathcal L(r) = \frac{\lambda(r)}{\lambda(r) + \kappa(m)} > \tfrac12
              \quad\text{and, with } m = D^p:\quad L(r) < p,

    where :math:`L(r)` is :meth:`Spectrum.learning_index` for the exponents
    ``scaling`` = (a_0, a_1, ...) (:math:`n_0 = D^{a_0}`, filter sizes
    :math:`k_l = D^{a_l}`).  ``D`` defaults to :math:`n_0^{1/a_0}` (needs
    :math:`a_0 > 0`; pass ``D`` otherwise, e.g. on the plain hypercube).

    >>> from eigencalc.architectures import serial, Flatten, Dense, Relu
    >>> from eigencalc.domains import ProductHypercube
    >>> from eigencalc.spectra import spectrum
    >>> s = spectrum(serial(Flatten(), Dense(), Relu(), Dense()), ProductHypercube(12, 1), "ntk", 3)
    >>> res = learnable(s, 60, scaling=(0, 1), D=12)
    >>> res.learned, res.learned_by_index
    ([(0, 0), (1, 1)], [(0, 0), (1, 1)])
    """
    ms = _check_m(m)
    if ms.size != 1:
        raise ValueError("learnable: m must be a single number")
    mv = float(ms[0])
    threshold = float(threshold)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    lc = learning_curve(spectrum, {}, mv, ridge)
    learn, learned, partial = {}, [], []
    for c in lc.classes:
        key = (c.frequency, c.space)
        lo, hi = float(c.min_learnability[0]), float(c.max_learnability[0])
        learn[key] = (lo, hi)
        if lo > threshold:
            learned.append(key)
        elif hi > threshold:
            partial.append(key)
    out = dict(m=mv, kappa=float(lc.kappa[0]), threshold=threshold, learnability=learn, learned=learned, partial=partial)
    if scaling is not None:
        scaling = tuple(float(a) for a in scaling)
        if D is None:
            if scaling[0] <= 0:
                raise ValueError("learnable: pass D when a_0 = 0 (D cannot be inferred from n0)")
            D = spectrum.domain.n0 ** (1.0 / scaling[0])
        D = float(D)
        if not D > 1:
            raise ValueError(f"learnable: D must be > 1, got {D}")
        p = math.log(mv) / math.log(D)
        index: dict = {}
        for e in lc.entries:
            key = (e.frequency, e.space)
            v = float(spectrum.learning_index(e.r, scaling))
            lo, hi = index.get(key, (math.inf, -math.inf))
            index[key] = (min(lo, v), max(hi, v))
        out.update(
            scaling=scaling,
            D=D,
            p=p,
            index=index,
            learned_by_index=[k for k, (lo, hi) in sorted(index.items()) if hi < p],
            not_learned_by_index=[k for k, (lo, hi) in sorted(index.items()) if lo > p],
        )
    return Learnable(**out)


# --------------------------------------------------------------------------
# Experiment: kernel ridge regression
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class KRRResult(Tabular):
    r"""Measured KRR errors per m over ``repeats`` independent draws (train and test sets).

    ``test_mse[j]`` is the mean over repeats of
    :math:`\frac1{n_{test}}\sum (\hat f(x) - f(x))^2 + \sigma^2` (noiseless
    test targets plus the exact expected test-label noise, matching
    :class:`LearningCurve`); ``std`` the spread between repeats, ``stderr``
    ``std / sqrt(repeats)``; ``values`` the raw (repeats, len(m)) table.
    """

    m: np.ndarray
    ridge: float
    noise: float
    test_mse: np.ndarray
    std: np.ndarray
    stderr: np.ndarray
    train_mse: np.ndarray
    values: np.ndarray = field(repr=False)
    n_test: int = 0
    repeats: int = 0
    target: str = ""

    _latex_bounds = {"test_mse": "stderr"}

    def rows(self) -> list:
        """One row per m: mean test MSE, spread, standard error, train MSE (floats)."""
        return [
            {"m": int(self.m[j]), "test_mse": float(self.test_mse[j]), "std": float(self.std[j]),
             "stderr": float(self.stderr[j]), "train_mse": float(self.train_mse[j])}
            for j in range(len(self.m))
        ]

    def table(self) -> str:
        rows = [f"{'m':>8} {'test MSE':>12} {'std':>10} {'stderr':>10} {'train MSE':>12}"]
        for j in range(len(self.m)):
            rows.append(
                f"{int(self.m[j]):>8d} {self.test_mse[j]:>12.6g} {self.std[j]:>10.3g} {self.stderr[j]:>10.3g} {self.train_mse[j]:>12.6g}"
            )
        return "\n".join(rows)


# ---- Gram matrices: the single place that chooses how kernels are evaluated ----


def _popcount_table(bits: int) -> np.ndarray:
    """Number of set bits of 0 .. 2^bits - 1."""
    table = np.zeros(1 << bits, dtype=np.int64)
    for b in range(bits):
        table[1 << b : 2 << b] = table[: 1 << b] + 1
    return table


class _HypercubeTable:
    r"""Exact Gram matrices on a product hypercube from a table of :math:`K(t)`.

    Every pair of inputs has :math:`t_i = 1 - 2 j_i / n_0` with :math:`j_i` the
    Hamming distance of patch i, so one table of the :math:`(n_0+1)^d` values
    of ``kernel_of_correlations`` (pooling-free networks) gives every Gram
    entry by indexing (values identical to ``kernel_fn`` up to rounding).
    """

    LIMIT = 1 << 20

    def __init__(self, net, domain: ProductHypercube, kind: str):
        d, n0 = domain.d, domain.n0
        self.d, self.n0 = d, n0
        P = (n0 + 1) ** d
        digits = (np.arange(P)[:, None] // (n0 + 1) ** np.arange(d - 1, -1, -1)) % (n0 + 1)
        t = 1.0 - 2.0 * digits / n0
        self.values = np.asarray(kernel_of_correlations(net, t, kind, grid=domain.grid, n0=n0), dtype=np.float64)
        self.pop = _popcount_table(n0)

    def _codes(self, X: np.ndarray) -> np.ndarray:
        bits = (X < 0).astype(np.int64)
        if self.n0 == 1:
            return bits[:, :, 0] @ (1 << np.arange(self.d - 1, -1, -1, dtype=np.int64))
        return bits @ (1 << np.arange(self.n0, dtype=np.int64))  # (N, d) patch codes

    def __call__(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        X, Y = (np.reshape(Z, (len(Z), self.d, self.n0)) for Z in (X, Y))  # a grid of patches, row-major
        cx, cy = self._codes(X), self._codes(Y)
        if self.n0 == 1:
            return self.values[cx[:, None] ^ cy[None, :]]
        index = np.zeros((len(X), len(Y)), dtype=np.int64)
        for i in range(self.d):
            index *= self.n0 + 1
            index += self.pop[cx[:, i, None] ^ cy[None, :, i]]
        return self.values[index]


def _gram_function(net, domain: Domain, kind: str, engine: str):
    """Return gram(X, Y) for this network.  SWITCH POINT for how Gram matrices are computed.

    ``"table"``: exact lookup on product hypercubes (pooling-free nets, (n0+1)^d <= 2^20);
    ``"numba"`` / ``"numpy"``: :func:`eigencalc.numerics.gram` on that back end;
    ``"auto"``: the table when possible, else ``gram``'s own choice.  ``"kernel_fn"``
    is the deprecated spelling of ``"numpy"``.
    """
    if engine == "kernel_fn":
        warn_deprecated("krr_experiment(engine='kernel_fn')", "engine='numpy'", stacklevel=4)
        engine = "numpy"
    if engine not in ("auto", "table", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'table', 'numba' or 'numpy', got {engine!r}")
    if engine in ("auto", "table"):
        ok = isinstance(domain, ProductHypercube) and (domain.n0 + 1) ** domain.d <= _HypercubeTable.LIMIT
        ok = ok and not net.dag(domain.grid, domain.n0).pooled
        if ok:
            return _HypercubeTable(net, domain, kind)
        if engine == "table":
            raise ValueError("engine='table' needs a pooling-free network on a product hypercube with (n0+1)^d <= 2^20")
    return lambda X, Y: gram(net, X, Y, kind, engine=engine if engine != "table" else "auto")


_BLOCK = 256


def _solve_lower(C: np.ndarray, B: np.ndarray) -> np.ndarray:
    """C^{-1} B for lower-triangular C: blocked forward substitution (GEMM updates, small diagonal solves)."""
    n = C.shape[0]
    X = np.empty_like(B)
    for s in range(0, n, _BLOCK):
        e = min(s + _BLOCK, n)
        X[s:e] = np.linalg.solve(C[s:e, s:e], B[s:e] - C[s:e, :s] @ X[:s])
    return X


def _solve_upper_t(C: np.ndarray, B: np.ndarray) -> np.ndarray:
    """C^{-T} B for lower-triangular C: blocked back substitution."""
    n = C.shape[0]
    X = np.empty_like(B)
    for e in range(n, 0, -_BLOCK):
        s = max(e - _BLOCK, 0)
        X[s:e] = np.linalg.solve(C[s:e, s:e].T, B[s:e] - C[e:, s:e].T @ X[e:])
    return X


class _NestedSolver:
    r"""Solutions of :math:`(K_{[:m,:m]} + \delta I)\alpha = y_{[:m]}` for nested training sets.

    :math:`\delta > 0`: one Cholesky factor :math:`C` of the largest system; the
    factor of every leading block is the leading block of :math:`C`, and forward
    substitution is prefix-consistent, so :math:`z = C^{-1} y` is computed once
    and each m needs one back substitution, :math:`O(m^2)` per target.
    :math:`\delta = 0` (or a failed Cholesky, announced): minimum-norm least
    squares per m from the eigendecomposition, with numpy ``lstsq``'s cutoff
    (eigenvalues below :math:`m\,\varepsilon\,\lambda_{\max}` dropped), which
    also handles repeated inputs (possible on hypercubes).
    """

    def __init__(self, K: np.ndarray, Y: np.ndarray, ridge: float):
        self.K, self.Y, self.ridge = K, Y, ridge
        self.C = None
        if ridge > 0:
            try:
                self.C = np.linalg.cholesky(K + ridge * np.eye(K.shape[0]))
            except np.linalg.LinAlgError:
                warnings.warn(
                    "krr_experiment: K + ridge I is not positive definite in float64; using least squares",
                    UserWarning,
                    stacklevel=3,
                )
            else:
                self.Z = _solve_lower(self.C, Y)

    def alpha(self, m: int) -> np.ndarray:
        if self.C is not None:
            return _solve_upper_t(self.C[:m, :m], self.Z[:m])
        A = self.K[:m, :m] + self.ridge * np.eye(m)
        w, V = np.linalg.eigh(A)
        cut = m * np.finfo(float).eps * max(float(w[-1]), 0.0)
        inv = np.zeros_like(w)
        keep = w > cut
        inv[keep] = 1.0 / w[keep]
        return V @ (inv[:, None] * (V.T @ self.Y[:m]))


def krr_experiment(
    net,
    domain: Domain,
    target,
    m_values: Any,
    ridge: Any = 0.0,
    *,
    noise: Any = 0.0,
    n_test: int = 1000,
    repeats: int = 10,
    seed: Any = 0,
    kind: str = REQUIRED,
    engine: str = "auto",
    progress: bool | None = None,
):
    r"""Kernel ridge regression with the network's NNGP/NTK Gram matrices on sampled data.

    .. math:: \hat f(x) = K(x, X)\,(K(X, X) + \delta I)^{-1} y,\qquad y = f(X) + \varepsilon,\
              \varepsilon \sim N(0, \sigma^2 I)

    For each repeat, fresh training inputs (``max(m_values)`` of them, the first
    m used for each m) and ``n_test`` test inputs are drawn uniformly from
    ``domain``; the test MSE per m is averaged over ``repeats`` (seeded by
    ``(seed, repeat)``).  ``target`` is a :class:`~eigencalc.targets.Target` or
    a list of them (same draws for all: common random numbers); the result is a
    :class:`KRRResult` or a list of them.  ``ridge`` = 0 uses the
    minimum-norm solution.  ``progress``: a tqdm bar on stderr (``None``: only on a terminal).
    ``engine``: ``"auto"``, ``"table"`` (exact lookup on small product hypercubes),
    ``"numba"`` or ``"numpy"`` (the Gram engine's back ends).

    Compare with :func:`learning_curve` (the prediction is for the expected
    test error over draws; ``stderr`` is the Monte-Carlo error of the mean).

    >>> from eigencalc.architectures import serial, Flatten, Dense, Relu
    >>> from eigencalc.domains import ProductHypercube
    >>> from eigencalc.targets import harmonic
    >>> dom = ProductHypercube(6, 1)
    >>> res = krr_experiment(serial(Flatten(), Dense(), Relu(), Dense()), dom, harmonic(dom, (1, 0, 0, 0, 0, 0)),
    ...                      [8, 32], ridge=1e-3, n_test=200, repeats=3, kind="ntk")
    >>> res.test_mse.shape, bool(res.test_mse[1] < res.test_mse[0])
    ((2,), True)
    """
    check_domain(domain)
    single = isinstance(target, Target)
    targets = [target] if single else list(target)
    if not targets:
        raise ValueError("krr_experiment: no target given")
    for t in targets:
        if not isinstance(t, Target):
            raise TypeError(f"krr_experiment: targets must be Target objects, got {type(t).__name__}")
        if t.domain != domain:
            raise ValueError(f"krr_experiment: target lives on {t.domain!r}, the experiment on {domain!r}")
    ms = _check_m(m_values)
    if np.any(ms != np.round(ms)):
        raise ValueError(f"m_values must be integers, got {m_values!r}")
    ms = ms.astype(np.int64)
    ridge = check_nonnegative(ridge, "ridge")
    noise = check_nonnegative(noise, "noise (label-noise variance)")
    for value, what in ((n_test, "n_test"), (repeats, "repeats")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    kind = required_kind(kind, "krr_experiment", "ntk")

    gram_of = _gram_function(net, domain, kind, engine)
    m_max = int(ms.max())
    T = len(targets)
    test = np.empty((T, repeats, len(ms)))
    train = np.empty((T, repeats, len(ms)))
    bar = progress_bar(total=repeats * len(ms), desc="krr_experiment", enabled=progress, leave=progress is True)
    for rep in range(repeats):
        rng = np.random.default_rng([int(seed), rep] if isinstance(seed, (int, np.integer)) else seed)
        X = domain.sample(m_max + n_test, rng)
        Xtr, Xte = X[:m_max], X[m_max:]
        F_tr = np.stack([t(Xtr) for t in targets], axis=1)
        F_te = np.stack([t(Xte) for t in targets], axis=1)
        Y_tr = F_tr + math.sqrt(noise) * rng.standard_normal(F_tr.shape) if noise > 0 else F_tr
        K_tt = gram_of(Xtr, Xtr)
        K_st = gram_of(Xte, Xtr)
        solver = _NestedSolver(K_tt, Y_tr, ridge)
        for j, m in enumerate(ms):
            alpha = solver.alpha(int(m))
            pred = K_st[:, :m] @ alpha
            test[:, rep, j] = np.mean((pred - F_te) ** 2, axis=0) + noise
            train[:, rep, j] = np.mean((K_tt[:m, :m] @ alpha - Y_tr[:m]) ** 2, axis=0)
            bar.set_postfix_str(f"repeat {rep + 1}/{repeats}, m={m}", refresh=False)
            bar.update()
    bar.close()
    results = []
    for n, t in enumerate(targets):
        mean = test[n].mean(axis=0)
        std = test[n].std(axis=0, ddof=1) if repeats > 1 else np.full(len(ms), np.nan)
        results.append(
            KRRResult(
                m=ms.astype(float),
                ridge=ridge,
                noise=noise,
                test_mse=mean,
                std=std,
                stderr=std / math.sqrt(repeats),
                train_mse=train[n].mean(axis=0),
                values=test[n].copy(),
                n_test=int(n_test),
                repeats=int(repeats),
                target=t.name,
            )
        )
    return results[0] if single else results
