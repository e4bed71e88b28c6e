r"""The base of every layer spec: identity, hashing and the protocol the compiler reads.

Lowest module of :mod:`eigencalc.kernel`; it imports nothing from the
package, so the compiler (:mod:`.compiler`) can recognise layers without
importing the concrete classes of :mod:`.layers` (which sit above it, because
every layer is also a network whose methods call the compiler).

A layer spec is immutable; two specs are equal when their type and ``_key()``
agree, so compiled programs can be cached per ``(net, d)`` (section 1 of
``../shared/MATH.md``).
"""

from __future__ import annotations

__all__ = ["LayerSpec"]


class LayerSpec:
    """Immutable layer spec: equality and hashing by ``(type, _key())``; ``compile(...)`` is its compile rule.

    >>> LayerSpec() == LayerSpec(), hash(LayerSpec()) == hash(LayerSpec())
    (True, True)
    """

    #: True for layers that need spatial positions (a ``Conv`` after ``Flatten`` is an error).
    spatial: bool = False

    def _key(self) -> tuple:
        return ()

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))
