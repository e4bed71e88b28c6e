"""python-flint ball arithmetic shared by the certified spectra and the quadratures: precision, conversions.

mpmath numbers are binary floating-point numbers, so each is *exactly* a mantissa times a power of two and
converts to an exact (zero-radius) arb; the way back takes a ball's midpoint.
"""

from __future__ import annotations

from contextlib import contextmanager

import flint
import mpmath

__all__ = ["flint_precision", "mpf_to_arb", "arb_to_mpf"]


@contextmanager
def flint_precision(bits: int):
    """Set python-flint's working precision (bits) inside a ``with`` block and restore it after.

    >>> with flint_precision(200):
    ...     flint.ctx.prec
    200
    """
    saved = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        yield
    finally:
        flint.ctx.prec = saved


def mpf_to_arb(x) -> flint.arb:
    """The binary number x (mpmath number or int) as an exact arb.

    >>> mpf_to_arb(mpmath.mpf(3) / 8)
    0.375000000000000
    """
    x = mpmath.mpf(x)
    if not mpmath.isfinite(x):
        raise ValueError(f"cannot enclose the non-finite number {x}")
    sign, man, exp, _ = x._mpf_
    return flint.arb(flint.arf((-int(man) if sign else int(man), int(exp)))) if man else flint.arb(0)


def arb_to_mpf(b: flint.arb) -> mpmath.mpf:
    """The midpoint of an arb ball as an mpmath number (exact: both are binary).

    >>> arb_to_mpf(flint.arb(5) / 4)
    mpf('1.25')
    """
    man, exp = b.mid().man_exp()
    return mpmath.ldexp(mpmath.mpf(int(man)), int(exp))
