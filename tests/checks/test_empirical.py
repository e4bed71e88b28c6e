"""Empirical (Nystrom) spectra (eigencalc.checks.empirical) against the predicted eigenvalues (slow).

Moved from test_numerics.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from eigencalc import numerics as nm
from tests.cases import POLY_DOMAIN, POLY_NET


# ----------------------------------------------------------------- empirical spectrum (slow)


@pytest.mark.slow
def test_empirical_spectrum_converges_to_predicted():
    errors = {}
    for N in (250, 500):
        es = nm.empirical_spectrum(POLY_NET, POLY_DOMAIN, N, "ntk", seed=0, max_frequency=4)
        # K has total degree 4 in t: frequencies <= 4 hold all the mass, so every predicted
        # eigenvalue is certified to be among the top ones.
        assert es.reliable == min(N, es.predicted.size)
        # trace(G/N) = K(x, x) = K(1, ..., 1) on the sphere, exactly up to rounding.
        assert es.eigenvalues.sum() == pytest.approx(es.predicted.sum(), rel=1e-10)
        top = es.clusters()[:5]
        for c in top:
            # Koltchinskii–Giné: the mean of a cluster of multiplicity m deviates by
            # O(lambda sqrt(m / N)) (fluctuation and leakage); constant 1.5 from the scale of
            # the observed deviations (<= 0.8 sqrt(m/N) across seeds).
            assert c.relative_error <= 1.5 * math.sqrt(c.multiplicity / N), (N, c)
        errors[N] = np.mean([c.relative_error for c in top])
    assert errors[500] < errors[250]
