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

from ..checks.verify import verify
from ..core.defaults import MAX_POWER, MONTE_CARLO_SAMPLES
from ..core.tables import certified_digits, format_number, to_frame, to_latex, to_records
from ..core.validate import KINDS
from ..core.version import __version__
from ..duals.activations import ACTIVATION_NAMES, activation
from ..duals.criticality import criticality
from ..finite import (
    exact_relu_ntk, finite_width_mlp, finite_width_moments, finite_width_ntk, finite_width_ntk_moments, finite_width_pair,
    finite_width_pair_ntk,
)
from ..finite.sphere import finite_width_sphere
from ..finite.universality import large_depth_constants
from ..harmonic.decay import decay
from ..harmonic.domains import ProductHypercube, ProductSphere
from ..harmonic.sphere import sphere_eigenvalues
from ..kernel.layers import LAYERS, layer_table
from ..kernel.mlp import mlp
from ..learn import targets
from ..learn.curves import learning_curve
from ..spectral.front import spectrum
from .grammar import parse_architecture


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


def cmd_layers(args) -> int:
    rows = layer_table()
    emit(args, "layers", rows, parameters={}, note=f"{len(rows)} layers in the registry (the names the --arch grammar accepts)")
    return 0


def cmd_critical(args) -> int:
    crit = criticality(activation(args.activation, **_parse_params(args.param)))
    emit(args, "critical", crit.rows(), parameters={"activation": crit.activation}, note=crit.note)
    return 0


def grid_argument(text: str):
    """``--d``: a number of patches in a row (``16``) or an image grid ``HxW`` (``4x4``), parsed, never eval'd.

    Returns an int (1-D) or a tuple ``(H, W)``; argparse turns the error into one line, exit 2.

    >>> grid_argument("16"), grid_argument("4x3")
    (16, (4, 3))
    """
    parts = text.strip().lower().split("x")
    if not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected a number of patches like 16 or a grid HxW like 4x4, got {text!r}"
        )
    sizes = tuple(int(p) for p in parts)
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"every grid size must be >= 1, got {text!r}")
    return sizes[0] if len(sizes) == 1 else sizes


def _grid_text(d) -> int | str:
    """``--d`` as it is reported (JSON parameters): the int, or ``"4x4"`` for a grid."""
    return "x".join(map(str, d)) if isinstance(d, tuple) else d


def _domain(args):
    """The product domain of ``--domain``, ``--d`` (a row or an ``HxW`` grid of patches) and ``--n0``."""
    cls = ProductSphere if args.domain == "sphere" else ProductHypercube
    return cls(args.d, args.n0)


def _positive_float(text: str) -> float:
    """A float > 0 from the command line (argparse reports a bad value as one error line)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def cmd_spectrum(args) -> int:

    net = parse_architecture(args.arch)
    spec = spectrum(net, _domain(args), args.kind, args.max_frequency, max_power=args.max_power, rtol=args.rtol)
    table = spec.classes() if args.classes else spec.entries()
    rows = table.rows()
    for row in rows:
        row.pop("exact", None)
    note = f"{spec!r}; trace K(1) = {format_number(spec.trace())}"
    emit(
        args, "spectrum", rows,
        parameters={"arch": args.arch, "domain": args.domain, "d": _grid_text(args.d), "n0": args.n0, "kind": args.kind,
                    "max_frequency": args.max_frequency, "method": spec.method, "exact": spec.exact, "rtol": args.rtol},
        bounds=table._latex_bounds, note=note,
    )
    return 0


def _mlp_kernel(args):
    """The MLP kernel f(t) of --activation/--depth/--W-std/--b-std: sympy expression if closed, else callable."""

    net = mlp(args.depth, activation(args.activation, **_parse_params(args.param)), W_std=_rational(args.W_std, "--W-std"),
              b_std=_rational(args.b_std, "--b-std"))
    expr = net.ntk_expr() if args.kind == "ntk" else net.nngp_expr()
    if expr is not None:
        return expr, True
    return (net.ntk if args.kind == "ntk" else net.nngp), False


def cmd_sphere(args) -> int:

    f, _ = _mlp_kernel(args)
    spec = sphere_eigenvalues(f, args.n, args.kmax)
    note = f"{args.kind} of a depth-{args.depth} {args.activation} MLP on S^{args.n - 1}; method {spec.method}"
    emit(args, "sphere", spec.rows(), parameters=vars_of(args, "activation", "depth", "W_std", "b_std", "kind", "n", "kmax"),
         bounds=spec._latex_bounds, note=note)
    return 0


def cmd_decay(args) -> int:

    f, closed = _mlp_kernel(args)
    if not closed:
        raise ValueError(f"decay needs a closed-form kernel; {args.activation} MLPs have none")
    law = decay(f, args.n)
    note = f"mu_k ~ C k^-p on S^{args.n - 1} (Bietti-Bach, M13); nu = {law.nu}"
    emit(args, "decay", law.rows(), parameters=vars_of(args, "activation", "depth", "W_std", "b_std", "kind", "n"), note=note)
    return 0


_TARGETS = ("harmonic", "k_local", "k_global", "f_LF", "f_HF")


def _target(spec: str, domain):
    """``harmonic:1,0,0,1`` | ``k_local:3`` | ``k_global:3`` | ``f_LF:3`` | ``f_HF:3`` (parsed, never eval'd)."""

    name, sep, raw = spec.partition(":")
    if not sep or name not in _TARGETS:
        raise ValueError(f"--target must be one of {', '.join(t + ':...' for t in _TARGETS)}, got {spec!r}")
    try:
        numbers = [int(v) for v in raw.split(",")]
    except ValueError:
        raise ValueError(f"--target {spec!r}: expected integers after ':'") from None
    if name == "harmonic":
        return targets.harmonic(domain, numbers)
    if len(numbers) != 1:
        raise ValueError(f"--target {spec!r}: {name} takes one integer k")
    return getattr(targets, name)(domain, numbers[0])


def _int_list(text: str, what: str) -> list:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integers, got {text!r}") from None
    return values


def cmd_learn(args) -> int:

    domain = _domain(args)
    spec = spectrum(parse_architecture(args.arch), domain, args.kind, args.max_frequency)
    target = _target(args.target, domain)
    curve = learning_curve(spec, target, _int_list(args.m, "--m"), ridge=args.ridge, noise=args.noise)
    note = f"eigenlearning prediction (MATH.md section 7) for {args.target} with {spec.method} spectrum"
    emit(args, "learn", curve.rows(), parameters=vars_of(args, "arch", "domain", "d", "n0", "kind", "target", "m", "ridge", "noise"), note=note)
    return 0


def cmd_verify(args) -> int:

    report = verify(parse_architecture(args.arch), _domain(args), args.kind, args.max_frequency, args.samples, args.seed)
    from dataclasses import asdict

    rows = [asdict(r) for r in report.rows]
    note = repr(report).splitlines()[0] + ("; all agree" if report.all_agree else "; DISAGREEMENT")
    emit(args, "verify", rows, parameters=vars_of(args, "arch", "domain", "d", "n0", "kind", "max_frequency", "samples", "seed"),
         bounds={"value": "value_error", "estimate": "error"}, note=note)
    return 0 if report.all_agree else 1


_FINITE_OBJECTS = ("kernel", "chain", "ntk", "relu-ntk", "ntk-chain", "pair", "pair-ntk", "sphere", "universality")


def cmd_finite(args) -> int:
    """Finite-width corrections (F1-F24): kernel, metric chain, NTK, two inputs, sphere spectrum or large-depth constants."""
    act = activation(args.activation, **_parse_params(args.param))
    params = vars_of(args, "object", "activation", "widths", "C_W", "C_b", "q0", "q12", "n0", "kmax", "kind", "method", "nodes")
    if args.object == "universality":
        res = large_depth_constants(act)
        emit(args, "finite", res.rows(), parameters=params, note=f"{res.universality} class at C_W = {res.C_W}; {res.reference}")
        return 0
    widths = _int_list(args.widths, "--widths")
    C_W, C_b, q0 = _rational(args.C_W, "--C-W"), _rational(args.C_b, "--C-b"), _rational(args.q0, "--q0")
    if args.object == "kernel":
        res = finite_width_mlp(widths, act, C_W, C_b, q0)
        note = f"F1-F4: K, V, K1 of a {act.name} MLP; mean = K + K1/n, four_point = V/n ({'exact' if res.exact else 'mpmath'})"
    elif args.object == "chain":
        res = finite_width_moments(widths, act, C_W, C_b, q0, method=args.method)
        note = (f"F18-F20: E[z^2] and Var G of a {act.name} MLP beyond leading order ({res.method} closure, "
                f"neglected: {res.truncation}; {'exact' if res.exact and res.closed else 'mpmath'})")
    elif args.object == "ntk":
        res = finite_width_ntk(widths, act, C_W, C_b, q0)
        note = f"F8-F13: NTK mean H + H1/n and variance (A + 2B)/n of a {act.name} MLP (NTK parameterisation)"
    elif args.object == "relu-ntk":
        res = exact_relu_ntk(widths, act, C_W, C_b, q0)
        note = f"F23: exact NTK mean and variance of a bias-free {act.name} MLP at every width (rationals)"
    elif args.object == "ntk-chain":
        res = finite_width_ntk_moments(widths, act, C_W, C_b, q0, nodes=args.nodes)
        note = (f"F24: NTK mean and variance of a {act.name} MLP beyond leading order (float64 quadrature, "
                f"closure on {res.nodes} nodes; closure_error = change from {res.nodes - 2} nodes)")
    elif args.object == "pair":
        res = finite_width_pair(widths, act, C_W, C_b, (q0, _rational(args.q12, "--q12"), q0))
        note = f"F5-F7: two inputs, components 11, 12, 22 ({res.numbers})"
    elif args.object == "pair-ntk":
        res = finite_width_pair_ntk(widths, act, C_W, C_b, (q0, _rational(args.q12, "--q12"), q0))
        note = "F17, F21, F22: two-input NTK mean H + H1/n, variance var_r and cross-neuron covariance cross_r (float64)"
    else:
        res = finite_width_sphere(widths, act, C_W, C_b, n0=args.n0, kmax=args.kmax, kind=args.kind)
        note = f"F16: Funk-Hecke eigenvalues of the mean {args.kind} on S^{args.n0 - 1} and their 1/n shift (float64 quadrature)"
    emit(args, "finite", res.rows(), parameters=params, note=note)
    return 0


def vars_of(args, *names) -> dict:
    return {n: _grid_text(getattr(args, n)) if n == "d" else getattr(args, n) for n in names}


def cmd_demo(args) -> int:
    """A real result: the (frequency, space) classes of a depth-3 tree CNN and of an MLP."""

    domain = ProductSphere(16, 8)
    nets = {
        "depth-3 tree CNN": "Conv(2, stride=2) Relu Conv(2, stride=2) Relu Conv(4, stride=4) Relu Flatten Dense",
        "MLP (2 hidden layers)": "Flatten Dense Relu Dense Relu Dense",
    }
    print(f"eigencalc {__version__}: NTK eigenvalues on {domain!r} (16 patches on S^7), frequency <= 3")
    print("each row: one (frequency, space) class; eigenvalue range (certified digits only); total multiplicity\n")
    for name, text in nets.items():
        spec = spectrum(parse_architecture(text), domain, "ntk", 3, rtol=1e-6)
        rows = []
        for c in spec.classes():
            rows.append(
                [c.frequency, c.space, certified_digits(c.max_eigenvalue, c.max_error_bound),
                 certified_digits(c.min_eigenvalue, c.max_error_bound), c.multiplicity,
                 format_number(c.max_error_bound, digits=2), "yes" if c.certified else "no"]
            )
        print(f"{name}: {text}   [{spec.method}, trace {format_number(spec.trace(), digits=6)}]")
        print(_table(["freq", "space", "max eigenvalue", "min eigenvalue", "multiplicity", "proven bound",
                      "certified (1e-6)"], rows))
        print()
    print("The MLP's space is the number of patches a harmonic touches (one edge each, to the first Dense);")
    print("the tree CNN splits each frequency further by how far apart the interacting patches are")
    print("(edges of the tree joining them to the output), as in Xiao 2021, arXiv:2109.05579.")
    return 0


def _add_output(p) -> None:
    p.add_argument("--format", choices=["table", "json", "csv", "latex"], default="table")
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")


def _add_arch(p) -> None:
    p.add_argument(
        "--arch", required=True,
        help='architecture, e.g. "Conv(4, stride=4) Relu Flatten Dense"; layers: ' + ", ".join(LAYERS),
    )
    _add_kind(p)


def _add_kind(p) -> None:
    p.add_argument("--kind", choices=KINDS, default=None, help="nngp or ntk (required; omitting it is deprecated and means ntk)")


def _resolve_kind(args) -> bool:
    """The CLI side of the defaults policy: ``--kind`` must be given; for one release it falls back to ntk.

    Returns True when it fell back; the warning is printed after a successful run,
    so that bad input still answers with exactly one error line.
    """
    if getattr(args, "kind", "") is None:
        args.kind = "ntk"
        return True
    return False


_KIND_WARNING = ("eigencalc: warning: pass --kind nngp or --kind ntk; omitting it is deprecated "
                 "(it means --kind ntk here) and --kind will be required in the next release")


def _add_domain(p) -> None:
    p.add_argument("--domain", choices=["sphere", "hypercube"], default="sphere")
    p.add_argument("--d", type=grid_argument, default=1, metavar="D|HxW",
                   help="patches: a row of D patches (e.g. 16) or an image grid HxW (e.g. 4x4); default 1")
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

    p = sub.add_parser("layers", help="the layers the --arch grammar accepts (the layer registry)")
    _add_output(p)
    p.set_defaults(run=cmd_layers)

    p = sub.add_parser("critical", help="critical initialization and universality class")
    p.add_argument("activation")
    p.add_argument("param", nargs="*")
    _add_output(p)
    p.set_defaults(run=cmd_critical)

    p = sub.add_parser("spectrum", help="eigenvalues per multi-index on a product of spheres or hypercubes")
    _add_arch(p)
    _add_domain(p)
    p.add_argument("--max-frequency", type=int, default=3)
    p.add_argument("--max-power", type=int, default=MAX_POWER, help=f"truncation P of the tree recursion (default {MAX_POWER})")
    p.add_argument("--classes", action="store_true", help="group by (frequency, space)")
    p.add_argument("--rtol", type=_positive_float, default=None,
                   help="certify every eigenvalue to this proven relative bound (e.g. 1e-6; tree networks; "
                        "LaTeX then prints only certified digits)")
    _add_output(p)
    p.set_defaults(run=cmd_spectrum)

    for name, helptext, run in (
        ("sphere", "Funk-Hecke eigenvalues of an MLP kernel on one sphere", cmd_sphere),
        ("decay", "large-degree decay law of an MLP kernel (Bietti-Bach)", cmd_decay),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--activation", default="relu")
        p.add_argument("param", nargs="*", help="activation parameters, e.g. slope=1/10")
        p.add_argument("--depth", type=int, default=2, help="hidden layers")
        p.add_argument("--W-std", dest="W_std", default="1", help="weight std (rational; relu at criticality: see `critical`)")
        p.add_argument("--b-std", dest="b_std", default="0")
        _add_kind(p)
        p.add_argument("--n", type=int, default=3, help="ambient dimension: the sphere S^(n-1)")
        if name == "sphere":
            p.add_argument("--kmax", type=int, default=10)
        _add_output(p)
        p.set_defaults(run=run)

    p = sub.add_parser("learn", help="eigenlearning curve of a target for an architecture")
    _add_arch(p)
    _add_domain(p)
    p.add_argument("--target", required=True, help="harmonic:1,0,1,... | k_local:K | k_global:K | f_LF:K | f_HF:K")
    p.add_argument("--m", default="10,100,1000", help="sample sizes, comma-separated")
    p.add_argument("--ridge", type=float, default=0.0)
    p.add_argument("--noise", type=float, default=0.0, help="label-noise variance")
    p.add_argument("--max-frequency", type=int, default=3)
    _add_output(p)
    p.set_defaults(run=cmd_learn)

    p = sub.add_parser("verify", help="check the symbolic spectrum against numerics (FWHT or Monte-Carlo)")
    _add_arch(p)
    _add_domain(p)
    p.add_argument("--max-frequency", type=int, default=2)
    p.add_argument("--samples", type=int, default=MONTE_CARLO_SAMPLES, help=f"Monte-Carlo pairs (default {MONTE_CARLO_SAMPLES})")
    p.add_argument("--seed", type=int, default=0)
    _add_output(p)
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser("finite", help="finite-width 1/n corrections (Roberts-Yaida-Hanin): V, K1, NTK variance, sphere shift")
    p.add_argument("--object", choices=_FINITE_OBJECTS, default="kernel",
                   help="kernel (one input, leading order), chain (one input, beyond leading order), ntk, "
                        "relu-ntk (exact NTK moments, bias-free ReLU), ntk-chain (NTK moments beyond leading order), "
                        "pair (two inputs), pair-ntk (two-input NTK), sphere (Funk-Hecke shift), universality")
    p.add_argument("--method", choices=("auto", "taylor", "gauss"), default="auto",
                   help="chain: closure of the metric chain (auto: exact Taylor for the ReLU family, else Gauss rule)")
    p.add_argument("--nodes", type=int, default=12, help="ntk-chain: interpolation nodes per layer (>= 5)")
    p.add_argument("--activation", default="relu")
    p.add_argument("param", nargs="*", help="activation parameters, e.g. slope=1/10")
    p.add_argument("--widths", default="20,20,20", help="hidden widths n_1,...,n_L (comma-separated integers >= 1)")
    p.add_argument("--C-W", dest="C_W", default="2", help="weight variance C_W (rational)")
    p.add_argument("--C-b", dest="C_b", default="0", help="bias variance C_b (rational)")
    p.add_argument("--q0", default="1", help="input variance |x|^2/n0 (rational)")
    p.add_argument("--q12", default="0", help="pair: input covariance x1.x2/n0 (rational)")
    p.add_argument("--n0", type=int, default=3, help="sphere: ambient dimension of S^(n0-1)")
    p.add_argument("--kmax", type=int, default=8, help="sphere: largest frequency")
    p.add_argument("--kind", choices=KINDS, default="nngp", help="sphere: nngp or ntk (ntk: smooth activations)")
    _add_output(p)
    p.set_defaults(run=cmd_finite)

    p = sub.add_parser("demo", help="print a real example result")
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    fell_back = _resolve_kind(args)
    try:
        with mpmath.workdps(args.dps):
            status = args.run(args)
    except (ValueError, TypeError) as err:
        print(f"eigencalc: error: {err}", file=sys.stderr)
        return 2
    if fell_back:
        print(_KIND_WARNING, file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
