"""Elementwise special functions NumPy lacks, as numba ufuncs (float64 only).

``erf`` is needed by the GELU and erf activations on float arrays.  numba's
``math.erf`` is the C library's, correctly rounded to within 1 ulp; the pure
Python twin ``erf_reference`` (``math.erf`` through ``np.frompyfunc``) is used
by the tests to check it.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.vectorize(["float64(float64)"], cache=True)
def erf(x):  # pragma: no cover - compiled
    """Error function erf(x) = 2/sqrt(pi) int_0^x exp(-s^2) ds, elementwise."""
    return math.erf(x)


_erf_object = np.frompyfunc(math.erf, 1, 1)


def erf_reference(x):
    """Pure-Python twin of :func:`erf` (slow; for tests)."""
    return np.asarray(_erf_object(np.asarray(x, dtype=float)), dtype=float)
