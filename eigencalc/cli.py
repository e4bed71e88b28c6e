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
from .reports import format_number, to_frame, to_latex, to_records


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
    return format_number(value, digits=digits)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# --------------------------------------------------------------------------
# Output: one function for every subcommand and format
# --------------------------------------------------------------------------

#: Version of the JSON document layout (see README, "JSON output").
JSON_SCHEMA_VERSION = 1


def _text_table(rows: list, bounds: dict) -> str:
    if not rows:
        return "(no rows)"
    hidden = set(bounds.values())
    header = [k for k in rows[0] if k not in hidden]
    body = []
    for row in rows:
        cells = []
        for k in header:
            v = row[k]
            if isinstance(v, (tuple, list)):
                cells.append("(" + ",".join(str(x) for x in v) + ")")
            elif isinstance(v, bool):
                cells.append("yes" if v else "no")
            else:
                cells.append(format_number(v, row.get(bounds[k]) if k in bounds else None, 6))
        body.append(cells)
    return _table(header, body)


def emit(args, command: str, rows: list, *, parameters: dict, bounds: dict | None = None, note: str = "") -> None:
    """Write rows in ``args.format`` to ``args.output`` (or stdout).

    JSON layout (version 1): ``{"schema": 1, "eigencalc": version, "command": str,
    "parameters": {...}, "note": str, "rows": [record, ...]}`` where a record maps
    column names to numbers, strings, booleans, lists or null; an exact value
    ``v`` appears as a string under ``v`` and as a float under ``v_float``.
    """
    bounds = bounds or {}
    fmt = getattr(args, "format", "table")
    if fmt == "json":
        text = json.dumps(
            {
                "schema": JSON_SCHEMA_VERSION,
                "eigencalc": __version__,
                "command": command,
                "parameters": {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in parameters.items()},
                "note": note,
                "rows": to_records(rows),
            },
            indent=2,
        )
    elif fmt == "csv":
        text = to_frame(rows).to_csv(index=False).rstrip("\n")
    elif fmt == "latex":
        text = to_latex(rows, bounds=bounds, caption=note or None).rstrip("\n")
    else:
        text = (note + "\n" if note else "") + _text_table(rows, bounds)
    if getattr(args, "output", None):
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)


def _rational(text: str, what: str):
    try:
        return sympy.Rational(text)
    except (TypeError, ValueError, SyntaxError):
        raise ValueError(f"{what} must be a rational number like 1 or 1/2, got {text!r}") from None


# --------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------


def cmd_dual(args) -> int:
    act = activation(args.activation, **_parse_params(args.param))
    q = _rational(args.q, "--q")
    series = act.dual_series(args.kmax, q)
    rows = [
        {"k": k, "hermite": a, "coefficient": c}
        for k, (a, c) in enumerate(zip(act.hermite_coefficients(args.kmax, q), series.coefficients))
    ]
    closed = act.dual_expr(q)
    note = (
        f"{act.name}, q = {q}, {'exact' if series.exact else f'mpmath {mpmath.mp.dps} digits'}; "
        f"tail E[phi^2] - sum a_k^2 = {format_number(series.tail)}"
        + (f"; dual(rho) = {closed}" if closed is not None else "")
    )
    emit(args, "dual", rows, parameters={"activation": act.name, "q": str(q), "kmax": args.kmax}, note=note)
    return 0


def cmd_critical(args) -> int:
    crit = criticality(activation(args.activation, **_parse_params(args.param)))
    emit(args, "critical", crit.rows(), parameters={"activation": crit.activation}, note=crit.note)
    return 0


def _domain(args):
    from .domains import ProductHypercube, ProductSphere

    cls = ProductSphere if args.domain == "sphere" else ProductHypercube
    return cls(args.d, args.n0)


def cmd_spectrum(args) -> int:
    from .grammar import parse_architecture
    from .spectra import spectrum

    net = parse_architecture(args.arch)
    spec = spectrum(net, _domain(args), args.kind, args.max_frequency, max_power=args.max_power)
    table = spec.classes() if args.classes else spec.entries()
    rows = table.rows()
    for row in rows:
        row.pop("exact", None)
    note = f"{spec!r}; trace K(1) = {format_number(spec.total())}"
    emit(
        args, "spectrum", rows,
        parameters={"arch": args.arch, "domain": args.domain, "d": args.d, "n0": args.n0, "kind": args.kind,
                    "max_frequency": args.max_frequency, "method": spec.method, "exact": spec.exact},
        bounds=table._latex_bounds, note=note,
    )
    return 0


def cmd_demo(args) -> int:
    """A real result: the (frequency, space) classes of a depth-3 tree CNN and of an MLP."""
    from .grammar import parse_architecture
    from .domains import ProductSphere
    from .spectra import spectrum

    domain = ProductSphere(16, 8)
    nets = {
        "depth-3 tree CNN": "Conv(2, stride=2) Relu Conv(2, stride=2) Relu Conv(4, stride=4) Relu Flatten Dense",
        "MLP (2 hidden layers)": "Flatten Dense Relu Dense Relu Dense",
    }
    print(f"eigencalc {__version__}: NTK eigenvalues on {domain!r} (16 patches on S^7), frequency <= 3")
    print("each row: one (frequency, space) class; eigenvalue range; total multiplicity\n")
    for name, text in nets.items():
        spec = spectrum(parse_architecture(text), domain, "ntk", 3)
        rows = []
        for c in spec.classes():
            rows.append(
                [c.frequency, c.space, format_number(c.max_eigenvalue, digits=4), format_number(c.min_eigenvalue, digits=4),
                 c.multiplicity, format_number(c.max_error_bound, digits=2)]
            )
        print(f"{name}: {text}   [{spec.method}, trace {format_number(spec.total(), digits=6)}]")
        print(_table(["freq", "space", "max eigenvalue", "min eigenvalue", "multiplicity", "proven bound"], rows))
        print()
    print("The MLP's space is the number of patches a harmonic touches (one edge each, to the first Dense);")
    print("the tree CNN splits each frequency further by how far apart the interacting patches are")
    print("(edges of the tree joining them to the output), as in Xiao 2021, arXiv:2109.05579.")
    return 0


def _add_output(p) -> None:
    p.add_argument("--format", choices=["table", "json", "csv", "latex"], default="table")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")


def _add_arch(p) -> None:
    p.add_argument("--arch", required=True, help='architecture, e.g. "Conv(4, stride=4) Relu Flatten Dense"')
    p.add_argument("--kind", choices=["nngp", "ntk"], default="ntk")


def _add_domain(p) -> None:
    p.add_argument("--domain", choices=["sphere", "hypercube"], default="sphere")
    p.add_argument("--d", type=int, default=1, help="number of patches")
    p.add_argument("--n0", type=int, default=8, help="coordinates per patch")


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
    _add_output(p)
    p.set_defaults(run=cmd_dual)

    p = sub.add_parser("critical", help="critical initialization and universality class")
    p.add_argument("activation")
    p.add_argument("param", nargs="*")
    _add_output(p)
    p.set_defaults(run=cmd_critical)

    p = sub.add_parser("spectrum", help="eigenvalues per multi-index on a product of spheres or hypercubes")
    _add_arch(p)
    _add_domain(p)
    p.add_argument("--max-frequency", type=int, default=3)
    p.add_argument("--max-power", type=int, default=24, help="truncation P of the tree recursion")
    p.add_argument("--classes", action="store_true", help="group by (frequency, space)")
    _add_output(p)
    p.set_defaults(run=cmd_spectrum)

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
