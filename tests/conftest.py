"""Shared pytest fixtures (kept minimal on purpose)."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy Generator, fresh for each test."""
    return np.random.default_rng(20240611)
