r"""Tables people use: pandas frames, booktabs LaTeX, Jupyter HTML, JSON/CSV.

Every result object exposes ``rows()`` (a list of dicts of *raw* values:
sympy numbers, mpmath numbers, floats, ints, strings).  This module turns
rows into

* :func:`to_frame`: a ``pandas.DataFrame`` (numbers as floats; an ``exact``
  column says which values are exact);
* :func:`to_latex`: a booktabs table through ``pandas.io.formats.style.Styler``
  with exact values as ``sympy.latex`` and inexact ones rounded by
  :func:`format_number` (``value \pm bound`` when a bound is known), or, for
  rows marked ``certified``, only their certified digits
  (:func:`certified_digits`);
* :func:`to_records`: JSON-ready records (exact values as strings, plus floats).

:class:`Tabular` is the mixin giving a class ``to_frame``, ``to_latex``,
``to_records`` and ``_repr_html_`` from its ``rows``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import mpmath
import sympy

from .numbers import to_float

__all__ = [
    "Tabular", "to_frame", "to_latex", "to_records", "format_number", "latex_number", "as_float", "certified_digits",
]


def as_float(value: Any) -> float | Any:
    """A float for any non-integer numeric value (sympy, mpmath, Fraction); ints and text unchanged."""
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, sympy.Integer):
        return int(value)
    if isinstance(value, sympy.Basic):
        return to_float(value) if value.is_number else str(value)
    if isinstance(value, (mpmath.mpf, Fraction, float)):
        return to_float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _is_exact(value: Any) -> bool:
    return isinstance(value, (int, Fraction)) or (isinstance(value, sympy.Basic) and not value.has(sympy.Float))


def format_number(value: Any, bound: Any = None, digits: int = 6) -> str:
    r"""Plain-text number: ``digits`` significant figures, or as many as the bound supports.

    With a bound e > 0 the value is rounded to the decimal place of e's leading
    digit (one guard digit) and printed as ``value ± e``.

    >>> format_number(0.21010959838, 0.0304)
    '0.210 ± 0.030'
    >>> format_number(1 / 3)
    '0.333333'
    """
    if isinstance(value, str) or value is None:
        return "" if value is None else value
    if _is_exact(value) and not bound:
        return str(value)
    x = as_float(value)
    if not isinstance(x, float):
        return str(x)
    e = as_float(bound) if bound is not None else 0.0
    if e and e > 0 and math.isfinite(e):
        place = max(-int(math.floor(math.log10(e))) + 1, 0)
        if place <= 8 and (abs(x) >= 10.0 ** (-place) or x == 0):
            return f"{x:.{place}f} ± {e:.{place}f}"
        # tiny bounds: the digits the bound supports (at most 15), bound in scientific notation
        sig = 2 if x == 0 else max(2, min(15, int(math.ceil(math.log10(abs(x) / e))) + 1))
        return f"{x:.{sig}g} ± {e:.1e}"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def certified_digits(value: Any, bound: Any) -> str:
    r"""The value rounded to the digits its bound certifies: the true value is within one unit of the last digit.

    With :math:`|x - x_{true}| \le e`, print the rounding :math:`\tilde x` of x to
    the most significant figures s (at most 14) such that
    :math:`|\tilde x - x| + e \le 0.95 \cdot 10^{E - s + 1}`, E the decimal exponent of
    :math:`\tilde x`; then :math:`|\tilde x - x_{true}|` is at most one unit
    in the last printed place.  When :math:`e \ge |x|` no digit is certified
    and the answer is ``< b`` with :math:`b \ge |x| + e \ge |x_{true}|`; when
    not even one figure qualifies, ``value ± bound``.

    >>> certified_digits(0.136266296385567, 9.07e-09)
    '0.1362663'
    >>> certified_digits(5.88139375325951e-09, 1.2e-16)
    '5.881394e-09'
    >>> certified_digits(1e-20, 1e-18)
    '< 1.1e-18'
    """
    x = as_float(value)
    e = as_float(bound) if bound is not None else 0.0
    if not isinstance(x, float) or not math.isfinite(e):
        return format_number(value, bound)
    if e <= 0:
        return format_number(value)
    if abs(x) <= e:
        return f"< {_up(abs(x) + e)}"
    best = None
    for s in range(1, 15):
        text = f"{x:.{s - 1}e}"
        rounded = float(text)
        exponent = int(text.split("e")[1])
        # at most 14 figures, with 5% of the unit left for float64 rounding (< 2.3% there)
        if abs(rounded - x) + e <= 0.95 * 10.0 ** (exponent - s + 1):
            best = (s, rounded, exponent)
        else:
            break
    if best is None:
        return format_number(value, bound)
    s, rounded, exponent = best
    if -3 <= exponent <= s - 1:  # fixed notation shows exactly the s certified figures
        return f"{rounded:.{s - 1 - exponent}f}"
    return f"{rounded:.{s - 1}e}"


def _up(e: float) -> str:
    """e with two significant digits, rounded up."""
    exponent = math.floor(math.log10(e))
    mant = math.ceil(e / 10.0 ** (exponent - 1) - 1e-9) / 10
    if mant >= 10:
        mant, exponent = mant / 10, exponent + 1
    return f"{mant:.1f}e{exponent:+03d}"


def latex_number(value: Any, bound: Any = None, digits: int = 6) -> str:
    r"""LaTeX cell: ``sympy.latex`` for exact values, else :func:`format_number` with ``\pm``."""
    if isinstance(value, str):
        return value.replace("_", r"\_")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_exact(value) and not bound:
        v = sympy.sympify(value) if not isinstance(value, Fraction) else sympy.Rational(value.numerator, value.denominator)
        return f"${sympy.latex(v)}$"
    text = format_number(value, bound, digits)
    if "e" in text and "±" not in text:
        mant, exp = text.split("e")
        text = f"{mant} \\times 10^{{{int(exp)}}}"
    return "$" + text.replace("±", r"\pm") + "$"


def to_records(rows: Sequence[dict]) -> list:
    """JSON-ready records: exact values as strings (key) and floats (key + ``_float``)."""
    out = []
    for row in rows:
        rec = {}
        for k, v in row.items():
            if isinstance(v, (tuple, list)):
                rec[k] = [as_float(x) if not isinstance(x, int) else x for x in v]
            elif isinstance(v, (bool, str)) or v is None or isinstance(v, int):
                rec[k] = v
            else:
                rec[k] = str(v) if _is_exact(v) else as_float(v)
                if _is_exact(v):
                    rec[k + "_float"] = as_float(v)
        out.append(rec)
    return out


def to_frame(rows: Sequence[dict]):
    """A ``pandas.DataFrame`` of the rows, numeric values as floats."""
    import pandas as pd

    return pd.DataFrame([{k: (v if isinstance(v, (tuple, list)) else as_float(v)) for k, v in row.items()} for row in rows])


def to_latex(
    rows: Sequence[dict], *, bounds: dict | None = None, caption: str | None = None, label: str | None = None,
    uncertainty: bool | None = None,
) -> str:
    r"""A booktabs LaTeX table (``\toprule``/``\midrule``/``\bottomrule``), one row per row.

    ``bounds`` maps a column to the column holding its error bound (then
    dropped).  A bounded value is printed with only its certified digits
    (:func:`certified_digits`) when ``uncertainty`` is False, or when it is
    None and the row's ``certified`` field is True; otherwise as
    ``value \pm bound``.
    """
    import pandas as pd

    bounds = bounds or {}
    hidden = set(bounds.values())
    cells = []
    for row in rows:
        cell = {}
        for k, v in row.items():
            if k in hidden:
                continue
            if isinstance(v, (tuple, list)):
                cell[k] = "$(" + ", ".join(str(x) for x in v) + ")$"
            else:
                b = row.get(bounds[k]) if k in bounds else None
                digits_only = uncertainty is False or (uncertainty is None and row.get("certified") is True)
                text = certified_digits(v, b) if b and digits_only and not isinstance(v, str) else None
                if text is not None and "±" not in text:
                    cell[k] = _latex_text(text)
                else:
                    cell[k] = latex_number(v, b if b else None)
        cells.append(cell)
    frame = pd.DataFrame(cells)
    frame.columns = [str(c).replace("_", r"\_") for c in frame.columns]
    styler = frame.style.hide(axis="index")
    return styler.to_latex(hrules=True, caption=caption, label=label, column_format="l" * len(frame.columns))


def _latex_text(text: str) -> str:
    """Plain number text (with e-notation or a leading ``<``) as LaTeX math."""
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant} \\times 10^{{{int(exp)}}}"
    return "$" + text + "$"


class Tabular:
    """Mixin: ``to_frame``, ``to_latex``, ``to_records``, ``_repr_html_`` from ``rows()``.

    Subclasses define ``rows()`` and may set ``_latex_bounds`` ({column: bound column}).
    """

    _latex_bounds: dict = {}

    def rows(self) -> list:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_frame(self):
        """The rows as a ``pandas.DataFrame`` (floats; exactness in the ``exact`` column)."""
        return to_frame(self.rows())

    def to_latex(self, caption: str | None = None, label: str | None = None, uncertainty: bool | None = None) -> str:
        """A booktabs LaTeX table; exact values via ``sympy.latex``; bounded values as certified digits or ``\\pm``.

        ``uncertainty=True`` prints every bounded value as ``value \\pm bound``,
        ``False`` only its certified digits, ``None`` (default) certified digits
        for rows marked ``certified`` and ``\\pm`` for the others.
        """
        return to_latex(self.rows(), bounds=self._latex_bounds, caption=caption, label=label, uncertainty=uncertainty)

    def to_records(self) -> list:
        """JSON-ready records (see :func:`to_records`)."""
        return to_records(self.rows())

    def _repr_html_(self) -> str:
        return f"<p><code>{type(self).__name__}</code></p>" + self.to_frame().to_html(index=False)
