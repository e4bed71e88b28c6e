"""The defaults policy of eigencalc: one value per knob, used by the API and the CLI alike.

===========================  =============================================================
knob                         policy
===========================  =============================================================
``kind``                     no default anywhere: pass ``"nngp"`` or ``"ntk"`` (omitting
                             it is deprecated, see :func:`eigencalc.core.validate.required_kind`)
precision                    the mpmath context, ``mpmath.mp.dps`` (set it with
                             ``mpmath.workdps``); results are rounded to it, work runs
                             with guard digits
domains                      every function that needs one takes a
                             :class:`~eigencalc.harmonic.domains.Domain`
Monte-Carlo pairs            :data:`MONTE_CARLO_SAMPLES` (``verify``,
                             ``monte_carlo_eigenvalue``, ``eigencalc verify --samples``)
dual-series terms            :data:`DUAL_TERMS` Hermite terms for activations without a
                             closed-form dual (series and tree methods)
tree truncation              :data:`MAX_POWER` (``spectrum``, ``eigencalc spectrum``)
===========================  =============================================================
"""

from __future__ import annotations

__all__ = ["MONTE_CARLO_SAMPLES", "DUAL_TERMS", "MAX_POWER", "TRACE_SAMPLES"]

#: Independent pairs of inputs per Monte-Carlo eigenvalue estimate.
MONTE_CARLO_SAMPLES = 200_000
#: Hermite terms of a dual activation that has no closed form (a rigorous lower bound, M16).
DUAL_TERMS = 256
#: Truncation P of the tree moment recursion.
MAX_POWER = 24
#: Inputs of the Monte-Carlo trace of a pooled kernel.
TRACE_SAMPLES = 4096
