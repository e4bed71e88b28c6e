"""Shared pytest fixtures.  Shared non-fixture cases (networks, helpers) are in tests/cases.py.

eigencalc is imported inside the fixtures only, so that this file loads in any
environment that runs a single test file (e.g. ``make crosscheck``).
"""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy Generator, fresh for each test."""
    return np.random.default_rng(20240611)


@pytest.fixture(scope="module")
def spec():
    """NTK spectrum of the depth-2 tree CNN (tests.cases.TREE) on (S^4)^4 up to frequency 3.

    Used by tests/core/test_tables.py and tests/io/test_plots.py (formerly test_reports.py).
    """
    from eigencalc.domains import ProductSphere
    from eigencalc.spectra import spectrum

    from tests.cases import TREE as NET

    return spectrum(NET, ProductSphere(4, 5), "ntk", 3)
