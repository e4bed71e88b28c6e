"""Product domains (eigencalc.harmonic.domains): sampling.

Moved from test_numerics.py (``sample`` is re-exported by eigencalc.numerics).
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc import numerics as nm
from eigencalc.domains import ProductHypercube, ProductSphere


def test_sample():
    Xs = nm.sample(ProductSphere(3, 5), 7, seed=1)
    assert Xs.shape == (7, 3, 5) and Xs.flags.c_contiguous
    np.testing.assert_allclose((Xs**2).sum(-1), 5.0, rtol=1e-14)
    Xh = nm.sample(ProductHypercube(2, 4), 9, seed=1)
    assert set(np.unique(Xh)) <= {-1.0, 1.0}
    assert np.array_equal(Xh, nm.sample(ProductHypercube(2, 4), 9, seed=1))
    with pytest.raises(ValueError, match="N"):
        nm.sample(ProductSphere(3, 5), 0)
    with pytest.raises(TypeError, match="domain"):
        nm.sample("sphere", 3)
