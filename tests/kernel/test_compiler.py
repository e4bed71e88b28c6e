"""Compiling a network for d patches (eigencalc.kernel.compiler): validation errors, convolution windows.

Moved from test_architectures.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc import architectures as A
from eigencalc.architectures import conv_indices


# ==========================================================================
# Validation at compile time (errors name the layer and the mismatch)
# ==========================================================================


@pytest.mark.parametrize(
    "net, d, words",
    [
        (A.serial(A.Conv(5), A.Relu(), A.Flatten(), A.Dense()), 4, ["Conv(5", "net[0]", "filter_size 5", "width 4"]),
        (
            A.serial(A.Conv(2, stride=2), A.Relu(), A.Conv(3), A.Flatten(), A.Dense()),
            4,
            ["Conv(3", "net[2]", "width 2", "after Relu() at net[1]"],
        ),
        (
            A.serial(A.Conv(3, padding="CIRCULAR"), A.Relu(), A.Conv(4, padding="CIRCULAR"), A.Flatten(), A.Dense()),
            3,
            ["Conv(4", "net[2]", "filter_size 4", "width 3"],
        ),
        (A.serial(A.Dense(), A.Flatten(), A.Conv(1), A.Dense()), 3, ["Conv(1", "net[2]", "no positions left"]),
        (A.serial(A.Relu(), A.Dense()), 1, ["Relu()", "net[0]", "not a Gaussian", "the input"]),
        (A.serial(A.Dense(), A.Flatten(), A.Relu(), A.Dense()), 2, ["Relu()", "net[2]", "Flatten() at net[1]"]),
        (A.serial(A.Dense(), A.Relu(), A.Dense()), 3, ["missing readout", "3 positions", "Flatten()"]),
        (A.serial(A.Dense(), A.Relu()), 1, ["missing readout", "Relu() at net[1]"]),
        (A.serial(A.Dense(), A.Relu(), A.Flatten()), 3, ["missing readout", "Flatten() at net[2]"]),
        (A.serial(A.Dense(), A.Relu(), A.Dense(), A.GlobalAvgPool()), 3, ["missing readout", "GlobalAvgPool() at net[3]"]),
        (A.serial(A.Dense(), A.FanOut(2), A.Dense()), 1, ["Dense", "net[2]", "2 streams"]),
        (A.serial(A.Dense(), A.FanOut(3), A.parallel(A.Identity(), A.Dense())), 1, ["parallel with 2 branches", "net[2]", "3 stream"]),
        (A.serial(A.Dense(), A.FanOut(2)), 1, ["2 unmerged streams", "FanInSum"]),
        (
            A.serial(A.Dense(), A.FanOut(2), A.parallel(A.Identity(), A.Identity()), A.FanInSum()),
            1,
            ["FanInSum() at net[3]", "branches [0, 1]", "not", "independent"],
        ),
        (
            A.serial(A.Conv(2), A.FanOut(2), A.parallel(A.Identity(), A.Conv(2)), A.FanInSum(), A.Flatten(), A.Dense()),
            4,
            ["FanInSum() at net[3]", "branch 0: 3 position", "branch 1: 2 position"],
        ),
        (
            A.serial(A.Dense(), A.FanOut(2), A.parallel(A.Relu(), A.Dense()), A.FanInSum()),
            1,
            ["FanInSum() at net[3]", "branch(es) [0]", "Gaussian"],
        ),
        (
            A.serial(A.Dense(), A.FanOut(2), A.parallel(A.serial(A.FanOut(2)), A.Dense()), A.FanInSum()),
            1,
            ["branch 0 of parallel at net[2]", "2 streams"],
        ),
    ],
)
def test_invalid_architectures_name_the_layer(net, d, words):
    with pytest.raises(ValueError) as info:
        net.dag(d)
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    with pytest.raises(ValueError):
        net.kernel_fn(np.ones((2, d, 3)))


@pytest.mark.parametrize("d, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_patch_count(d, error):
    with pytest.raises(error, match="d \\(number of input patches\\)"):
        A.mlp(1, "relu").dag(d)


def test_dense_on_one_position_cnn_is_a_valid_readout():
    # A Conv covering every position leaves one position: a Dense readout suffices.
    net = A.serial(A.Conv(3), A.Relu(), A.Dense())
    assert net.dag(3).nodes[net.dag(3).output].receptive_field == frozenset({0, 1, 2})


# ==========================================================================
# Convolution windows (stax conventions)
# ==========================================================================


def test_conv_indices_valid_and_circular():
    assert conv_indices(5, 3, 1, "VALID").tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert conv_indices(6, 2, 2, "VALID").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert conv_indices(7, 2, 3, "VALID").tolist() == [[0, 1], [3, 4]]
    # CIRCULAR (stax): out = ceil(P/s), total pad max((out-1)s + q - P, 0), floor half on the left
    assert conv_indices(5, 3, 2, "CIRCULAR").tolist() == [[4, 0, 1], [1, 2, 3], [3, 4, 0]]
    assert conv_indices(4, 2, 1, "CIRCULAR").tolist() == [[0, 1], [1, 2], [2, 3], [3, 0]]
    assert conv_indices(6, 3, 3, "CIRCULAR").tolist() == [[0, 1, 2], [3, 4, 5]]
