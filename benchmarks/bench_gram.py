"""Gram-matrix throughput: the fast numba engine, the op-table interpreter, the numpy twin and neural-tangents (issue 15).

Plain script: ``python benchmarks/bench_gram.py [--quick] [--N 2048] [--repeats 5]``.
Every number is measured in the same run on the same machine, with 2 threads
(numba; XLA sees the same 2 cores).  Each engine is warmed up first (jit
compilation and numba's cache load excluded), then timed ``--repeats`` times;
the median is reported.

Cases (NTK and NNGP, N inputs on the product of spheres (S^3)^32, i.e. d = 32
patches of n0 = 4 coordinates):

* the depth-3 tree CNN ``Conv(4, stride=4) Relu Conv(4, stride=4) Relu
  Conv(2, stride=2) Relu Flatten Dense``: filters 4, 4, 2 with stride = filter
  tile the 32 patches exactly (32 -> 8 -> 2 -> 1);
* the depth-3 ReLU MLP ``Flatten Dense Relu Dense Relu Dense Relu Dense`` on
  the same inputs (input dimension 128).

The task is the symmetric N x N Gram ``K(X, X)``; "pairs/s" is N^2 / seconds
for every engine (eigencalc computes the N (N + 1) / 2 distinct pairs and
mirrors them, stax computes all N^2 entries), so the ratios are ratios of wall
time for the same matrix.  The numpy twin is timed on the first ``--twin-N``
inputs and extrapolated (its time is linear in the number of pairs).
neural-tangents ``kernel_fn`` (``jax.jit``, ``jax_enable_x64``, CPU) runs in a
subprocess of ``.venv-nt/bin/python`` (``make crosscheck`` builds it); without
that venv the column is skipped with a message.  Target (issue 15): fast >= 10x
neural-tangents and >= 10x the numpy twin on the tree CNN, equal to the twin to
1e-13 relative.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numba  # noqa: E402

from eigencalc import numerics as nm  # noqa: E402
from eigencalc.architectures import Conv, Dense, Flatten, Relu, serial  # noqa: E402
from eigencalc.domains import ProductSphere  # noqa: E402
from eigencalc.kernel import engine as E  # noqa: E402
from eigencalc.kernel import numba_kernels as nk  # noqa: E402

NT_PYTHON = os.path.join(ROOT, ".venv-nt", "bin", "python")

CASES = {
    "tree CNN (4,4,2)": (
        lambda: serial(Conv(4, stride=4), Relu(), Conv(4, stride=4), Relu(), Conv(2, stride=2), Relu(), Flatten(), Dense()),
        "stax.serial(stax.Conv(1, (4,), (4,), 'VALID'), stax.Relu(), stax.Conv(1, (4,), (4,), 'VALID'), stax.Relu(), "
        "stax.Conv(1, (2,), (2,), 'VALID'), stax.Relu(), stax.Flatten(), stax.Dense(1))",
    ),
    "MLP depth 3": (
        lambda: serial(Flatten(), Dense(), Relu(), Dense(), Relu(), Dense(), Relu(), Dense()),
        "stax.serial(stax.Flatten(), stax.Dense(1), stax.Relu(), stax.Dense(1), stax.Relu(), stax.Dense(1), stax.Relu(), "
        "stax.Dense(1))",
    ),
}

# Runs inside .venv-nt: times stax's jitted kernel_fn on X (a .npy file) and saves the Gram of the first rows.
NT_SCRIPT = textwrap.dedent(
    """
    import json, statistics, sys, time, types
    sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platform_name", "cpu")
    import numpy as np
    from neural_tangents import stax
    args = json.loads(sys.argv[1])
    X = jax.numpy.asarray(np.load(args["X"]))
    out = {}
    for name, (code, kinds) in args["cases"].items():
        kernel_fn = jax.jit(eval(code)[2], static_argnames=("get",))
        for kind in kinds:
            kernel_fn(X, None, get=kind).block_until_ready()  # compile
            times, cpus = [], []
            for _ in range(args["repeats"]):
                start, cpu = time.perf_counter(), time.process_time()
                K = kernel_fn(X, None, get=kind).block_until_ready()
                times.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
            np.save(args["out"] + f"{len(out)}.npy", np.asarray(K)[: args["check"], : args["check"]])
            out[f"{name}|{kind}"] = (statistics.median(times), statistics.median(cpus), args["out"] + f"{len(out)}.npy")
    print(json.dumps(out))
    """
)


def median_time(fn, repeats: int):
    """(median wall seconds, median CPU seconds of this process, last result) of ``repeats`` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), out


def neural_tangents(X: np.ndarray, kinds, repeats: int, check: int, tmp: str):
    """{(case, kind): (median wall s, median CPU s, Gram of the first ``check`` inputs)} from .venv-nt, or None with a message."""
    if not os.path.exists(NT_PYTHON):
        print(f"  neural-tangents: skipped ({NT_PYTHON} not found; `make crosscheck` builds it)")
        return None
    path = os.path.join(tmp, "X.npy")
    np.save(path, X)
    args = {"X": path, "repeats": repeats, "check": check, "out": os.path.join(tmp, "nt_"),
            "cases": {name: (code, list(kinds)) for name, (_, code) in CASES.items()}}
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.run([NT_PYTHON, "-c", NT_SCRIPT, json.dumps(args)], capture_output=True, text=True, env=env)
    if run.returncode:
        print("  neural-tangents: skipped (the subprocess failed):\n" + textwrap.indent(run.stderr[-2000:], "    "))
        return None
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return {tuple(key.split("|")): (t, c, np.load(f)) for key, (t, c, f) in out.items()}


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest entrywise relative difference |a - b| / |b|."""
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 512, 3 repeats (a smoke run)")
    parser.add_argument("--N", type=int, default=2048, help="inputs (default 2048)")
    parser.add_argument("--twin-N", type=int, default=512, help="inputs for the numpy twin (extrapolated)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kinds", default="ntk,nngp")
    args = parser.parse_args()
    N = 512 if args.quick else args.N
    repeats = 3 if args.quick else args.repeats
    twin_N = min(args.twin_N, N)
    kinds = args.kinds.split(",")
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(f"Gram benchmark (issue 15): N = {N}, d = 32, n0 = 4, {numba.get_num_threads()} numba threads, "
          f"median of {repeats}; numba {numba.__version__}, numpy {np.__version__}")
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    X = nm.sample(ProductSphere(32, 4), N, seed=0)
    pairs = N * N
    results = {}
    for name, (make, _) in CASES.items():
        net = make()
        flat = E.op_table_of(net, 32)
        for kind in kinds:
            E.gram(net, X[:200], kind=kind)  # warm: compile or load the fast kernels
            E._gram_numba(flat, X[:64], None, kind, E.DEFAULT_BLOCK, nk.MODE_TRIANGLE, fast=False)  # warm the interpreter
            t_fast, c_fast, G = median_time(lambda: E.gram(net, X, kind=kind), repeats)
            t_old, c_old, G_old = median_time(
                lambda: E._gram_numba(flat, X, None, kind, E.DEFAULT_BLOCK, nk.MODE_TRIANGLE, fast=False), max(1, repeats // 2))
            t_twin, c_twin, G_twin = median_time(lambda: E.gram_numpy(net, X[:twin_N], kind=kind), max(1, repeats // 2))
            scale = (N * (N + 1) / 2) / (twin_N * (twin_N + 1) / 2)
            results[(name, kind)] = dict(fast=t_fast, fast_cpu=c_fast, old=t_old, old_cpu=c_old,
                                         twin=t_twin * scale, twin_cpu=c_twin * scale,
                                         err_twin=rel(G[:twin_N, :twin_N], G_twin), err_old=rel(G, G_old), G=G[:twin_N, :twin_N])
    with tempfile.TemporaryDirectory() as tmp:
        nt = neural_tangents(X, kinds, repeats, twin_N, tmp)
    print("pairs/s = N^2 / seconds for the symmetric N x N Gram; CPU-s: all threads of the process (on a machine\n"
          "shared with other processes the wall time of every engine grows with the load; CPU-s is the work done)")
    for (name, kind), r in results.items():
        print(f"\n  {name}, {kind.upper()}, N = {N}:")
        rows = [("fast numba", r["fast"], r["fast_cpu"]), ("old interpreter", r["old"], r["old_cpu"]),
                (f"numpy twin (N = {twin_N}, extrapolated)", r["twin"], r["twin_cpu"])]
        if nt is not None:
            rows.append(("neural-tangents jit x64", nt[(name, kind)][0], nt[(name, kind)][1]))
        for label, t, c in rows:
            print(f"    {label:<36} {t:8.3f} s  {pairs / t:12,.0f} pairs/s | CPU {c:7.3f} s  {pairs / c:12,.0f} pairs/CPU-s")
        for what, f, k in (("wall", "fast", ""), ("CPU ", "fast_cpu", "_cpu")):
            line = f"    ratios ({what}): fast / twin {r['twin' + k] / r[f]:6.1f}x, fast / old {r['old' + k] / r[f]:5.1f}x"
            if nt is not None:
                line += f", fast / neural-tangents {nt[(name, kind)][0 if not k else 1] / r[f]:6.1f}x"
            print(line)
        agree = f"    max relative difference: vs twin {r['err_twin']:.1e}, vs old interpreter {r['err_old']:.1e}"
        if nt is not None:
            agree += f", vs neural-tangents {rel(r['G'], nt[(name, kind)][2]):.1e}"
        print(agree)
    print(f"\nnumba threading layer: {numba.threading_layer()}")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
