"""Command-line interface: ``eigencalc <subcommand> ...`` (argparse).

argparse (standard library) keeps the dependency list short; every
subcommand maps onto one public function of the library.  Bad input prints
one line ``eigencalc: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import mpmath
import sympy

from . import __version__
from .activations import ACTIVATION_NAMES, activation
from .criticality import criticality


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parse_params(items: Sequence[str]) -> dict:
    """``slope=0.1`` / ``degree=3`` / ``coeffs=0,1,2`` -> parameters (numbers only, never eval'd)."""
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"parameter {item!r} is not of the form name=value")
        values = [sympy.Rational(v) for v in raw.split(",")] if raw else []
        if not values:
            raise ValueError(f"parameter {key!r} has no value")
        params[key] = values if (key == "coeffs" or len(values) > 1) else values[0]
        if key == "degree":
            params[key] = int(values[0])
    return params


def _format_number(value, digits: int = 10) -> str:
    if isinstance(value, sympy.Basic) and not value.is_Float:
        return str(value)
    return mpmath.nstr(mpmath.mpf(str(sympy.N(value, digits + 5))) if isinstance(value, sympy.Basic) else value, digits)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _dual_rows(act, kmax: int, q):
    series = act.dual_series(kmax, q)
    rows = [[k, str(act.hermite(k, q)), _format_number(c)] for k, c in enumerate(series.coefficients)]
    return series, rows


def cmd_dual(args) -> int:
    act = activation(args.activation, **_parse_params(args.param))
    q = sympy.Rational(args.q)
    series, rows = _dual_rows(act, args.kmax, q)
    if args.format == "json":
        payload = {
            "activation": act.name,
            "q": str(q),
            "exact": series.exact,
            "hermite": [str(act.hermite(k, q)) for k in range(args.kmax + 1)],
            "dual_series": [str(c) for c in series.coefficients],
            "tail": str(series.tail),
            "dual_closed_form": None if act.dual_expr(q) is None else str(act.dual_expr(q)),
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"activation {act.name}, variance q = {q}, {'exact' if series.exact else 'mpmath, ' + str(mpmath.mp.dps) + ' digits'}")
    print(_table(["k", "a_k", "a_k^2"], rows))
    print(f"tail E[phi^2] - sum a_k^2 = {_format_number(series.tail)}")
    closed = act.dual_expr(q)
    if closed is not None:
        print(f"dual(rho) = {closed}")
    return 0


def cmd_critical(args) -> int:
    crit = criticality(activation(args.activation, **_parse_params(args.param)))
    fields = ["universality", "C_b", "C_W", "K_star", "chi_parallel", "chi_perp", "exact", "note"]
    if args.format == "json":
        print(json.dumps({f: str(getattr(crit, f)) for f in fields}, indent=2))
        return 0
    for f in fields:
        value = getattr(crit, f)
        print(f"{f:>13}: {value if isinstance(value, (str, bool)) or value is None else _format_number(value)}")
    return 0


def cmd_demo(args) -> int:
    """A real result: Hermite / dual-series table of a few activations at q = 1."""
    import numpy as np

    print(f"eigencalc {__version__} — dual activations (MATH.md M5-M7), q = 1\n")
    names = ["relu", "erf", "tanh", "gelu"]
    acts = [activation(n) for n in names]
    rows = []
    for k in range(7):
        rows.append([k] + [_format_number(a.dual_series(6).coefficients[k], 8) for a in acts])
    print("power-series coefficients a_k^2 of the dual kernel phi_hat(rho) = sum_k a_k^2 rho^k")
    print(_table(["k", *names], rows))
    print()
    grid = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    print("dual kernel phi_hat(rho) = E[phi(u) phi(v)]")
    print(_table(["rho", *names], [[f"{r:+.1f}"] + [f"{a.dual(r):.10f}" for a in acts] for r in grid]))
    print()
    print("critical initialization (Roberts-Yaida-Hanin ch. 5)")
    crit_rows = []
    for n in ["relu", "tanh", "erf", "gelu"]:
        c = criticality(n)
        crit_rows.append([n, c.universality] + [("-" if v is None else _format_number(v, 6)) for v in (c.C_b, c.C_W, c.K_star)])
    print(_table(["activation", "class", "C_b", "C_W", "K*"], crit_rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="eigencalc", description="Eigenstructure of infinite-width NNGP/NTK kernels.")
    parser.add_argument("--version", action="version", version=f"eigencalc {__version__}")
    parser.add_argument("--dps", type=int, default=20, help="mpmath working precision in digits (default 20)")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)

    p = sub.add_parser("dual", help="Hermite coefficients and dual kernel of an activation")
    p.add_argument("activation", help=f"one of: {', '.join(ACTIVATION_NAMES)}")
    p.add_argument("param", nargs="*", help="activation parameters, e.g. slope=0.1 or coeffs=0,1,1")
    p.add_argument("--kmax", type=int, default=8)
    p.add_argument("--q", default="1", help="input variance (rational, e.g. 1 or 1/2)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(run=cmd_dual)

    p = sub.add_parser("critical", help="critical initialization and universality class")
    p.add_argument("activation")
    p.add_argument("param", nargs="*")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(run=cmd_critical)

    p = sub.add_parser("demo", help="print a real example result")
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with mpmath.workdps(args.dps):
            return args.run(args)
    except (ValueError, TypeError) as err:
        print(f"eigencalc: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
