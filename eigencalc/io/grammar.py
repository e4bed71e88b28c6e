r"""A small parsed grammar for architectures on the command line (no eval).

The text mirrors the Python combinators::

    net     := item+                      (items in sequence: serial)
    item    := NAME [ "(" args ")" ]      (a layer; parentheses optional)
             | "[" net ( "|" net )* "]"   (parallel branches)
    args    := arg ( "," arg )*
    arg     := [ NAME "=" ] value
    value   := NUMBER | NAME | STRING | "(" value ("," value)* [","] ")"

A bare NAME is a string (``padding=SAME``, ``parameterization=standard``),
except ``None``, ``True`` and ``False``, which are those constants
(``b_std=None``: no bias).  A parenthesised value is a tuple of values: 2-D
filter shapes and strides, ``Conv((3, 3), stride=(2, 2), padding=SAME)``.

Example: ``"Conv(4, stride=4) Relu Conv(4, stride=4) Relu Flatten Dense"``; on an image grid
``"Conv((2,2), stride=(2,2), padding=SAME, parameterization=standard, out_chan=64) Relu
AvgPool((2,2), stride=2) Flatten Dense(parameterization=standard, out_chan=10)"``;
a residual block: ``"Conv(1) FanOut(2) [Relu Conv(3, padding=CIRCULAR) | Identity]
FanInSum Relu Flatten Dense"``.  Numbers are read exactly (``0.1`` is 1/10).
The ``repr`` of a network parses back to an equal network.
Errors are :class:`ArchitectureSyntaxError` (a ``ValueError``) whose
one-line message gives the column and repeats the text with ``>>>`` in front
of the offending token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from ..kernel import layers as arch
from ..kernel.layers import LAYERS

__all__ = ["parse_architecture", "ArchitectureSyntaxError", "LAYER_NAMES"]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:/\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<string>'[^']*'|\"[^\"]*\")|(?P<punct>[()\[\],=|]))"
)

#: Bare names that stand for Python constants rather than strings.
_CONSTANTS = {"None": None, "True": True, "False": False}

#: Layer names of the grammar and the factories they call: the layer registry itself.
LAYER_NAMES = LAYERS


class ArchitectureSyntaxError(ValueError):
    """Bad architecture text; the message points at the offending token."""


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            _fail(text, pos + len(text[pos:]) - len(text[pos:].lstrip()), "unexpected character")
        kind = m.lastgroup
        tokens.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


def _fail(text: str, pos: int, message: str):
    """Raise with one line: the message, the column, and the text with ``>>>`` before the bad token."""
    err = ArchitectureSyntaxError(f"{message} at column {pos + 1}: {text[:pos]}>>>{text[pos:]}")
    err.column = pos + 1
    raise err


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def take(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            want = repr(text) if text else kind
            got = repr(tok.text) if tok.text else "end of text"
            _fail(self.text, tok.pos, f"expected {want}, got {got}")
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == text

    def net(self, stop: tuple) -> list:
        items = []
        while not (self.tok.kind == "end" or (self.tok.kind == "punct" and self.tok.text in stop)):
            items.append(self.item())
        if not items:
            _fail(self.text, self.tok.pos, "expected a layer")
        return items

    def item(self):
        if self.at("["):
            self.take("punct", "[")
            branches = [arch.serial(*self.net(("|", "]")))]
            while self.at("|"):
                self.take("punct", "|")
                branches.append(arch.serial(*self.net(("|", "]"))))
            self.take("punct", "]")
            return arch.parallel(*branches)
        tok = self.take("name")
        factory = LAYER_NAMES.get(tok.text)
        if factory is None:
            _fail(self.text, tok.pos, f"unknown layer {tok.text!r} (known: {', '.join(sorted(LAYER_NAMES))})")
        args, kwargs = [], {}
        if self.at("("):
            self.take("punct", "(")
            while not self.at(")"):
                if self.tok.kind == "name" and self.tokens[self.i + 1].text == "=":
                    key = self.take("name")
                    self.take("punct", "=")
                    if key.text in kwargs:
                        _fail(self.text, key.pos, f"repeated argument {key.text!r}")
                    kwargs[key.text] = self.value()
                else:
                    if kwargs:
                        _fail(self.text, self.tok.pos, "positional argument after keyword argument")
                    args.append(self.value())
                if not self.at(")"):
                    self.take("punct", ",")
            self.take("punct", ")")
        try:
            return factory(*args, **kwargs)
        except (TypeError, ValueError) as err:
            message = str(err)  # the layers' own messages usually start with the layer's name already
            _fail(self.text, tok.pos, message if message.startswith(tok.text) else f"{tok.text}: {message}")

    def value(self):
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            value = Fraction(tok.text) if "/" in tok.text or "." in tok.text or "e" in tok.text.lower() else int(tok.text)
            return value if isinstance(value, int) or value.denominator != 1 else int(value)
        if tok.kind == "string":
            self.i += 1
            return tok.text[1:-1]
        if tok.kind == "name":
            self.i += 1
            return _CONSTANTS.get(tok.text, tok.text)
        if self.at("("):
            self.take("punct", "(")
            values = [self.value()]
            while self.at(","):
                self.take("punct", ",")
                if self.at(")"):  # a trailing comma, as in Python's (3,)
                    break
                values.append(self.value())
            self.take("punct", ")")
            return tuple(values)
        _fail(self.text, tok.pos, "expected a value")


def parse_architecture(text: str):
    """Parse architecture text into a network (``serial`` of the layers); never evaluates code.

    >>> parse_architecture("Conv(2, stride=2) Relu Flatten Dense(b_std=0.1)")
    serial(Conv(2, stride=2, padding='VALID', W_std=1.0, b_std=0.0), Relu(), Flatten(), Dense(W_std=1.0, b_std=1/10))
    """
    if not isinstance(text, str):
        raise TypeError(f"architecture text must be a string, got {type(text).__name__}")
    parser = _Parser(text)
    layers = parser.net(())
    parser.take("end")
    return arch.serial(*layers)
