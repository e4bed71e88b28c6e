"""The jitted loops (eigencalc.kernel.numba_kernels): closed-form duals against numpy, the on-disk cache.

Moved from test_numerics.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from eigencalc import numerics as nm
from eigencalc.kernel import engine as engine_impl
from eigencalc.kernel import numba_kernels as nk
from eigencalc.kernel.table import activation_code
from eigencalc.activations import activation

from tests.cases import CLOSED_FORM_ACTIVATIONS


# ----------------------------------------------------------------- closed forms in numba


# the closed forms of tests.cases, plus two more parameterisations of the ReLU family
CLOSED = CLOSED_FORM_ACTIVATIONS + [("linear", {}), ("abrelu", {"a": -0.3, "b": 1.7})]


@pytest.mark.parametrize("name,params", CLOSED, ids=[n for n, _ in CLOSED])
def test_jitted_dual_equals_numpy_closed_form(name, params):
    act = activation(name, **params)
    code, fp = activation_code(act)
    rng = np.random.default_rng(3)
    q1, q2 = rng.uniform(0.3, 2.5, (2, 500))
    c = rng.uniform(-0.99, 0.99, 500) * np.sqrt(q1 * q2)
    c[:3] = np.sqrt(q1[:3] * q2[:3])  # the boundary rho = 1 (clipping path)
    k, dk = np.empty(500), np.empty(500)
    engine_impl._warm("dual_values")
    nk._dual_values_jit(code, np.asarray(fp, dtype=float), q1, q2, c, k, dk)
    # Same formulas operation by operation: a few ulps.
    np.testing.assert_allclose(k, act.kernel(q1, q2, c), rtol=1e-13, atol=1e-15)
    with np.errstate(divide="ignore"):
        ref = act.derivative_kernel(q1, q2, c)
    finite = np.isfinite(ref)  # step: E[delta delta] is infinite at |rho| = 1
    np.testing.assert_allclose(dk[finite], ref[finite], rtol=1e-13, atol=1e-15)
    assert np.array_equal(np.isinf(dk), np.isinf(ref))


# ----------------------------------------------------------------- compilation cache


@pytest.mark.slow
def test_second_process_loads_kernels_from_the_cache():
    nm.warmup()  # this process has compiled (or loaded) and written the cache
    code = (
        "from eigencalc import numerics as nm\nfrom eigencalc.kernel import numba_kernels as nk\n"
        "nm.warmup()\n"
        "print(sum(f.stats.cache_hits.total() if hasattr(f.stats.cache_hits, 'total') else sum(f.stats.cache_hits.values())"
        " for f in (nk._gram_jit, nk._self_variances_jit, nk._fwht_jit)),"
        " sum(sum(f.stats.cache_misses.values()) for f in (nk._gram_jit, nk._self_variances_jit, nk._fwht_jit)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    hits, misses = int(out[0]), int(out[1])
    assert hits >= 3 and misses == 0
