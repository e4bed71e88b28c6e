"""Architecture grammar (eigencalc.io.grammar): 2-D layers, tuples, bare enums, None; repr round-trips; errors."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eigencalc import architectures as A
from eigencalc.io.grammar import ArchitectureSyntaxError, parse_architecture


def _text(net) -> str:
    """A network written in the grammar (serial: items in sequence; parallel: ``[ a | b ]``; layers: their repr)."""
    if isinstance(net, A.Serial):
        return " ".join(_text(layer) for layer in net.layers)
    if isinstance(net, A.Parallel):
        return "[" + " | ".join(_text(branch) for branch in net.layers) + "]"
    return repr(net)


# ----------------------------------------------------------------- the issue's examples


@pytest.mark.parametrize(
    "text,layer",
    [
        ("Conv((2,2), stride=(2,2), padding=SAME)", A.Conv((2, 2), stride=(2, 2), padding="SAME")),
        ("Conv((2,2), stride=2, padding=SAME)", A.Conv((2, 2), stride=(2, 2), padding="SAME")),
        (
            "Conv((3,3), padding=SAME, parameterization=standard, out_chan=64)",
            A.Conv((3, 3), padding="SAME", parameterization="standard", out_chan=64),
        ),
        ("AvgPool((2,2), stride=2)", A.AvgPool((2, 2), stride=(2, 2))),
        ("AvgPool((3,2), stride=(1,2), padding=CIRCULAR)", A.AvgPool((3, 2), stride=(1, 2), padding="CIRCULAR")),
        ("Dense(parameterization=standard, out_chan=10)", A.Dense(parameterization="standard", out_chan=10)),
        ("Dense(b_std=None, parameterization='standard')", A.Dense(parameterization="standard")),
        ("Dense(b_std=0, parameterization=standard)", A.Dense(b_std=0, parameterization="standard")),
        ("Conv((3,), padding=SAME)", A.Conv(3, padding="SAME")),  # Python's 1-tuple, trailing comma
        ("Conv(3, padding=same, W_std=1.3, b_std=1/5)", A.Conv(3, padding="SAME", W_std=Fraction(13, 10), b_std=Fraction(1, 5))),
    ],
)
def test_issue_examples_parse_to_the_layer(text, layer):
    assert parse_architecture(text) == A.serial(layer)


def test_none_is_no_bias_and_differs_from_zero_bias_in_standard_ntk():
    """``b_std=None`` (no trainable bias) and ``b_std=0`` (a bias of zero variance that trains) differ (stax)."""
    none = parse_architecture("Dense(b_std=None, parameterization=standard)").layers[0]
    zero = parse_architecture("Dense(b_std=0, parameterization=standard)").layers[0]
    assert none.has_bias is False and zero.has_bias is True and none != zero
    # in the NTK parameterization the two are the same kernel, so the same layer
    assert parse_architecture("Dense(b_std=None)") == parse_architecture("Dense(b_std=0)")


def test_a_2d_network_with_a_residual_block():
    text = ("Conv((3,3), padding=SAME, parameterization=standard, out_chan=8) FanOut(2) "
            "[Relu Conv((3,3), padding=CIRCULAR, parameterization=standard, out_chan=8) | Identity] FanInSum "
            "Relu AvgPool((2,2), stride=2) Flatten Dense(parameterization=standard, out_chan=10)")
    net = parse_architecture(text)
    conv = lambda pad: A.Conv((3, 3), padding=pad, parameterization="standard", out_chan=8)  # noqa: E731
    want = A.serial(
        conv("SAME"), A.FanOut(2), A.parallel(A.serial(A.Relu(), conv("CIRCULAR")), A.serial(A.Identity())), A.FanInSum(),
        A.Relu(), A.AvgPool((2, 2), stride=2), A.Flatten(), A.Dense(parameterization="standard", out_chan=10),
    )
    assert net == want
    assert parse_architecture(_text(net)) == net
    # and it compiles on a grid: 4x4 -> SAME 4x4 -> pool 2x2 -> flatten (10 outputs of 8*4 features)
    program = net.dag((4, 4), 3)
    assert program.layers[0].nodes and len(program.layers[0].nodes) == 16


# ----------------------------------------------------------------- repr round-trips

_std = st.fractions(min_value=Fraction(1, 10), max_value=3, max_denominator=20)
_shape = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@st.composite
def _affine(draw):
    parameterization = draw(st.sampled_from(["ntk", "standard"]))
    kwargs = {
        "W_std": draw(_std),
        "b_std": draw(st.none() | _std | st.just(0)),
        "parameterization": parameterization,
        "out_chan": draw(st.none() | st.integers(1, 99)),
    }
    if draw(st.booleans()):
        return A.Dense(**kwargs)
    shape = draw(_shape)
    stride = draw(st.integers(1, 3) | st.tuples(*[st.integers(1, 3)] * len(shape)))
    shape_arg = shape[0] if len(shape) == 1 and draw(st.booleans()) else shape
    return A.Conv(shape_arg, stride=stride, padding=draw(st.sampled_from(["VALID", "SAME", "CIRCULAR"])), **kwargs)


@st.composite
def _pool(draw):
    shape = draw(_shape)
    stride = draw(st.integers(1, 3) | st.tuples(*[st.integers(1, 3)] * len(shape)))
    return A.AvgPool(shape, stride=stride, padding=draw(st.sampled_from(["VALID", "SAME", "CIRCULAR"])))


_layer = _affine() | _pool() | st.sampled_from([A.Relu(), A.Erf(), A.Flatten(), A.GlobalAvgPool(), A.Identity()])


@settings(max_examples=150, deadline=None)
@given(_layer)
def test_repr_of_a_layer_parses_back_to_an_equal_layer(layer):
    parsed = parse_architecture(repr(layer))
    assert parsed == A.serial(layer)
    assert parse_architecture(repr(parsed.layers[0])) == parsed  # and again (b_std=0.0 may come back as 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(_layer, min_size=1, max_size=4), st.lists(_layer, min_size=1, max_size=3))
def test_text_of_a_network_parses_back(head, branch):
    net = A.serial(*head, A.FanOut(2), A.parallel(A.serial(*branch), A.serial(A.Identity())), A.FanInSum())
    assert parse_architecture(_text(net)) == net


# ----------------------------------------------------------------- errors: one line naming the layer and sizes


@pytest.mark.parametrize(
    "text,words",
    [
        ("Conv((2,2), stride=0)", ["Conv", "stride", ">= 1", "column 1"]),
        ("Conv((2,2), stride=(1,2,3))", ["stride (1, 2, 3)", "3 axes", "filter has 2"]),
        ("AvgPool((2,2), stride=(1,2,3))", ["AvgPool", "3 axes"]),
        ("Conv((2,2), parameterization=mup)", ["parameterization", "'ntk', 'standard'", "'mup'"]),
        ("Conv((2,2), padding=REFLECT)", ["padding", "REFLECT"]),
        ("Dense(out_chan=0)", ["Dense", "out_chan", ">= 1"]),
        ("Conv((2, 2.5))", ["filter_size[1]", "integer"]),
        ("Conv(())", ["expected a value", "column 7"]),
        ("Conv((2,,2))", ["expected a value", "column 9"]),
        ("Conv((2,2)", ["expected", "end of text"]),
        ("Conv((2,2), stride=(2,2), stride=1)", ["repeated argument 'stride'"]),
        ("Dense(W_std=None)", ["W_std", "real number"]),
    ],
)
def test_bad_2d_text_is_one_clear_line(text, words):
    with pytest.raises(ArchitectureSyntaxError) as info:
        parse_architecture(text)
    message = str(info.value)
    assert "\n" not in message and ">>>" in message
    for word in words:
        assert word in message, (word, message)
    assert not message.startswith("Conv: Conv") and not message.startswith("Dense: Dense")


def test_no_evaluation_of_names():
    """A bare name is data (a string), never looked up: ``__import__`` is just an unknown padding."""
    with pytest.raises(ArchitectureSyntaxError, match="padding must be one of"):
        parse_architecture("Conv(2, padding=__import__)")
