r"""The one front door to spectra: :func:`spectrum` picks the product or the pooled method (M14-M19, section 6).
"""

from __future__ import annotations

from ..core.defaults import MAX_POWER
from ..core.validate import REQUIRED
from .pooled import PooledSpectrum, pooled_spectrum
from .product import Spectrum, check_spectrum_arguments

__all__ = ["spectrum"]


def spectrum(
    net,
    domain,
    kind: str = REQUIRED,
    max_frequency: int = 3,
    *,
    method: str = "auto",
    max_power: int = MAX_POWER,
    max_degree: int | None = None,
    rtol: float | None = None,
) -> Spectrum | PooledSpectrum:
    r"""The eigenstructure of ``net``'s NNGP or NTK kernel on a product domain (M14–M19).

    Pooling-free networks get a :class:`~eigencalc.spectral.product.Spectrum`
    (eigenvalues per multi-index); networks with a ``GlobalAvgPool`` or
    ``AvgPool`` readout a :class:`~eigencalc.spectral.pooled.PooledSpectrum`
    (per shift orbit and Fourier index, section 6).  ``max_power`` is the
    truncation P of the tree recursion, ``max_degree`` the total degree D of
    the series method (default ``max_frequency + 4``).

    ``rtol`` (e.g. :data:`~eigencalc.spectral.certify.RTOL` = 1e-6) asks for
    certified eigenvalues: on a tree DAG each class's truncation order is
    raised from ``max_power`` until a proven bound (ball arithmetic,
    :mod:`eigencalc.spectral.certify`) is at most ``rtol`` times its
    eigenvalue; rows that cannot reach it say why (``certified``, ``note``),
    and tables print only certified digits.  ``None`` keeps the fixed
    truncation ``max_power`` with the global M16 bound.

    .. math:: K(x, y) = \sum_r \lambda(r) \sum_m Y_{r,m}(x) Y_{r,m}(y)

    >>> from eigencalc.architectures import serial, Conv, Relu, Flatten, Dense
    >>> from eigencalc.domains import ProductHypercube
    >>> s = spectrum(serial(Conv(2, stride=2), Relu(), Flatten(), Dense()), ProductHypercube(4, 1), "nngp", 4)
    >>> abs(sum(float(e.eigenvalue) * e.multiplicity for e in s.entries()) - float(s.trace())) < 1e-12
    True
    """
    kind, max_frequency, max_degree = check_spectrum_arguments(domain, kind, max_frequency, max_power, max_degree, "spectrum")
    if net.dag(domain.grid, domain.n0).pooled:
        if rtol is not None:
            raise ValueError("spectrum: rtol (certified eigenvalues) is not supported for pooled networks yet")
        return pooled_spectrum(net, domain, kind, max_frequency, method=method, max_power=max_power, max_degree=max_degree)
    return Spectrum(net, domain, kind, max_frequency, method, max_power, max_degree, rtol)
