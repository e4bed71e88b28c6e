"""Benchmark: (frequency, space) spectra of 2-D CNNs at image scale (issue 13).

Cases, all on products of spheres ``ProductSphere((H, W), 3)`` (n0 = 3), NNGP and NTK:

* tree CNNs of 2x2 filters with stride 2 (``Conv((2, 2), stride=2)`` + Relu,
  L times, then Flatten, Dense) on 16x16 (L = 4), 32x32 (L = 5, *the image
  case*) and 64x64 (L = 6) grids, every (frequency, space) class up to
  frequency 4, by the tree moment recursion;
* overlapping (non-tree) CNNs, ``Conv((3, 3), stride=2, padding="SAME")`` or
  ``Conv((4, 4), stride=2, padding="SAME")``, depth 2 to 4 on 4x4, 8x8 and 16x16
  grids, at frequency 1 (and 2 on 4x4), by the multivariate series method
  truncated at total degree D = F + 1 (column D; the bound shows the price).

Per case: wall and CPU time of ``spectrum(...).entries()`` (construction
included), peak Python heap (``tracemalloc``, numpy buffers included) and the
peak resident set size (``resource.ru_maxrss``, interpreter and numba included);
each case runs in its own interpreter so the figures are per case, and the
tracemalloc figure comes from a second run (tracing slows Python down), the number of symmetry classes (entries), of (frequency, space)
classes, of multi-indices they count (``sum(entry.count)``), the total
multiplicity (``sum(entry.multiplicity)``, eigenfunctions) and the worst proven
error bound (M16).

Plain script, not a test.  ``--quick`` runs only the small cases (16x16 tree,
a depth-2 overlapping net on 4x4); ``--timeout`` (default 600 s) caps each run.
Timings are as noisy as the machine: compare CPU and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

from eigencalc.architectures import Conv, Dense, Flatten, Relu, serial
from eigencalc.domains import ProductSphere
from eigencalc.spectra import spectrum


def tree_cnn(depth: int):
    """depth x (Conv((2, 2), stride=2), Relu), Flatten, Dense: a tree on a 2^depth x 2^depth grid."""
    return serial(*[layer for _ in range(depth) for layer in (Conv((2, 2), stride=2), Relu())], Flatten(), Dense())


def overlapping_cnn(depth: int, filter_size: int):
    """depth x (Conv((q, q), stride=2, padding="SAME"), Relu), Flatten, Dense: overlapping filters (not a tree)."""
    conv = lambda: Conv((filter_size, filter_size), stride=2, padding="SAME")
    return serial(*[layer for _ in range(depth) for layer in (conv(), Relu())], Flatten(), Dense())


def _maxrss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def run_case(name: str, net, grid: tuple, kind: str, max_frequency: int, max_degree=None, trace: bool = False) -> dict:
    """One case in this process; ``trace``: under tracemalloc (heap peak; slows Python code down)."""
    domain = ProductSphere(grid, 3)
    rss_before = _maxrss_mb()
    if trace:
        tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    spec = spectrum(net, domain, kind, max_frequency, max_degree=max_degree)
    entries = spec.entries()
    classes = spec.classes()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else float("nan")
    if trace:
        tracemalloc.stop()
    return {
        "case": name,
        "grid": f"{grid[0]}x{grid[1]}",
        "kind": kind,
        "F": max_frequency,
        "D": max_degree if spec.method == "series" else None,
        "method": spec.method,
        "wall_s": wall,
        "cpu_s": cpu,
        "heap_MB": peak / 2**20,
        "maxrss_MB": _maxrss_mb(),
        "rss0_MB": rss_before,
        "entries": len(entries),
        "classes": len(classes),
        "count": sum(int(e.count) for e in entries),
        "multiplicity": sum(int(e.multiplicity) for e in entries),
        "max_bound": max(float(e.error_bound) for e in entries),
    }


def print_row(row: dict) -> None:
    print(
        f"{row['case']:<26} {row['grid']:>6} {row['kind']:>5} {row['F']:>2} {row['D'] or '-':>2} {row['method']:>7} "
        f"{row['wall_s']:>8.2f} {row['cpu_s']:>8.2f} {row['heap_MB']:>8.1f} {row['maxrss_MB']:>9.1f} {row['rss0_MB']:>7.1f} "
        f"{row['entries']:>8} {row['classes']:>7} {row['count']:>14.4e} {row['multiplicity']:>14.4e} {row['max_bound']:>10.2e}",
        flush=True,
    )


HEADER = (
    f"{'case':<26} {'grid':>6} {'kind':>5} {'F':>2} {'D':>2} {'method':>7} {'wall s':>8} {'cpu s':>8} {'heap MB':>8} "
    f"{'maxrss MB':>9} {'rss0 MB':>7} {'entries':>8} {'classes':>7} {'multi-indices':>14} {'multiplicity':>14} {'max bound':>10}"
)


def cases(quick: bool) -> list:
    """(name, net, grid, max_frequency, max_degree) of each case; max_degree None: the default (F + 4)."""
    out = [("tree L=4 (2x2,s2)", tree_cnn(4), (16, 16), 4, None)]
    if not quick:
        out += [
            ("tree L=5 (2x2,s2) IMAGE", tree_cnn(5), (32, 32), 4, None),
            ("tree L=6 (2x2,s2)", tree_cnn(6), (64, 64), 4, None),
        ]
    # Overlapping filters: the series method in d = H*W variables, truncated at total degree F + 1
    # (the bound says what that costs); it does not use the grid's symmetry (one entry per multi-index).
    out.append(("overlap L=2 (3x3,s2,SAME)", overlapping_cnn(2, 3), (4, 4), 1, 2))
    if not quick:
        out += [
            ("overlap L=2 (3x3,s2,SAME)", overlapping_cnn(2, 3), (4, 4), 2, 3),
            ("overlap L=2 (3x3,s2,SAME)", overlapping_cnn(2, 3), (8, 8), 1, 2),
            ("overlap L=3 (3x3,s2,SAME)", overlapping_cnn(3, 3), (8, 8), 1, 2),
            ("overlap L=3 (3x3,s2,SAME)", overlapping_cnn(3, 3), (16, 16), 1, 2),
            ("overlap L=4 (3x3,s2,SAME)", overlapping_cnn(4, 3), (16, 16), 1, 2),
            ("overlap L=3 (4x4,s2,SAME)", overlapping_cnn(3, 4), (16, 16), 1, 2),
        ]
    return out


def _package_root() -> str:
    import eigencalc

    return os.path.dirname(os.path.dirname(os.path.abspath(eigencalc.__file__)))


def _in_subprocess(index: int, kind: str, quick: bool, trace: bool, timeout: float):
    """Run one case in a fresh interpreter, so that ru_maxrss and the caches belong to that case alone (None: timed out)."""
    cmd = [sys.executable, __file__, "--case", str(index), "--kinds", kind] + ["--quick"] * quick + ["--trace"] * trace
    # the child imports the same eigencalc as this process (a worktree on PYTHONPATH, or the installed one)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_package_root(), os.environ.get("PYTHONPATH")])))
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout, env=env).stdout
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the small cases")
    parser.add_argument("--kinds", default="nngp,ntk", help="comma-separated kernels (default nngp,ntk)")
    parser.add_argument("--no-heap", action="store_true", help="skip the second, tracemalloc run of each case")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case and run (default 600)")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: run one case, print JSON
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", DeprecationWarning)
    table = cases(args.quick)
    if args.case is not None:
        name, net, grid, max_frequency, max_degree = table[args.case]
        print(json.dumps(run_case(name, net, grid, args.kinds, max_frequency, max_degree, trace=args.trace)))
        return
    print(HEADER)
    for index, (name, _, grid, max_frequency, _) in enumerate(table):
        for kind in args.kinds.split(","):
            row = _in_subprocess(index, kind, args.quick, False, args.timeout)
            if row is None:
                print(f"{name:<26} {grid[0]}x{grid[1]:<4} {kind:>5} {max_frequency:>2}  timed out after {args.timeout:.0f} s", flush=True)
                continue
            if not args.no_heap:
                traced = _in_subprocess(index, kind, args.quick, True, args.timeout)
                row["heap_MB"] = traced["heap_MB"] if traced else float("nan")
            print_row(row)
    print(
        "Each case runs in a fresh interpreter.  wall s / cpu s: spectrum(...).entries() + classes(), untraced run;\n"
        "maxrss MB: peak resident set of that run, interpreter, numpy, sympy and numba included; rss0 MB: the same\n"
        "before spectrum() (imports, net construction), so maxrss - rss0 is what the spectrum added;\n"
        "heap MB: tracemalloc peak of Python allocations in a second, traced run (numpy buffers included).\n"
        "multi-indices: sum(entry.count); multiplicity: sum(entry.multiplicity) (eigenfunctions, sphere harmonics)."
    )


if __name__ == "__main__":
    main()
