"""Benchmarks of eigencalc.numerics: FWHT spectra, jitted Gram matrices, numba compile time.

Plain script (``python benchmarks/bench_numerics.py [--quick]``); every ratio is
measured in the same run on the same machine.  Targets from issue 6:

* FWHT spectrum at d = 12 versus dense ``numpy.linalg.eigvalsh`` of the
  4096 x 4096 Gram: >= 1000x;  FWHT spectrum at d = 20: < 2 s on 2 cores;
* numba Gram versus its numpy twin, N = 2048, d = 32, depth-3 CNN NTK
  (pairs per second for both; the twin is timed on a subset and extrapolated);
* numba compile time, apart: a fresh on-disk cache (compile) and a second process
  reading that cache (load), both in subprocesses with their own NUMBA_CACHE_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numba  # noqa: E402

from eigencalc import numerics as nm  # noqa: E402
from eigencalc.architectures import Conv, Dense, Erf, Flatten, GlobalAvgPool, Relu, serial  # noqa: E402
from eigencalc.domains import ProductHypercube, ProductSphere  # noqa: E402


def best_of(fn, repeat: int = 3):
    """Smallest wall time of ``repeat`` calls (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def timed(fn):
    """(wall seconds, CPU seconds of all threads of this process, result) of one call.

    On a machine shared with other processes the wall time of a parallel run
    grows with the load; pairs per CPU-second is the per-core throughput.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def compile_times() -> None:
    code = "import json; from eigencalc import numerics as nm; print(json.dumps(nm.warmup()))"
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("fresh cache (compile)", "second process (cache load)"):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - start
            times = json.loads(out.stdout.strip())
            parts = ", ".join(f"{k} {v:.2f}" for k, v in times.items())
            print(f"  {label:<28} kernels {sum(times.values()):6.2f} s  (process {wall:5.2f} s; {parts})")


def tree_cnn(d: int):
    """A depth-2 tree CNN on d = 4 k patches: Conv(4, stride 4) then Conv(k) over the k outputs."""
    return serial(Conv(4, stride=4), Relu(), Conv(d // 4), Relu(), Flatten(), Dense())


def bench_fwht(quick: bool) -> None:
    d = 12
    net = tree_cnn(d)
    nm.hypercube_spectrum(net, ProductHypercube(d, 1), "ntk")  # warm (compile / cache load excluded)
    t_fwht, lam = best_of(lambda: nm.hypercube_spectrum(net, ProductHypercube(d, 1), "ntk"), 5)
    points = np.array([[(-1.0) ** ((m >> i) & 1) for i in range(d)] for m in range(1 << d)])[:, :, None]
    t_gram, G = best_of(lambda: nm.gram(net, points, kind="ntk"), 1)
    t_eig, ev = best_of(lambda: np.linalg.eigvalsh(G), 1)
    err = np.abs(np.sort(ev / (1 << d)) - np.sort(lam)).max() / lam.max()
    print(f"  d = 12: FWHT spectrum {t_fwht * 1e3:8.2f} ms | dense: Gram {t_gram:6.2f} s + eigvalsh(4096 x 4096) {t_eig:6.2f} s")
    print(f"          ratio eigvalsh / FWHT = {t_eig / t_fwht:10.0f}x  (Gram + eigvalsh: {(t_gram + t_eig) / t_fwht:.0f}x; target >= 1000x)")
    print(f"          max |eig/2^d - FWHT| / max lambda = {err:.1e}")
    for d in (16, 20) if quick else (16, 20, 24):
        net = tree_cnn(d)
        t, lam = best_of(lambda: nm.hypercube_spectrum(net, ProductHypercube(d, 1), "ntk"), 1 if d > 20 else 3)
        note = "  (target < 2 s)" if d == 20 else ""
        print(f"  d = {d}: FWHT spectrum {t:7.3f} s, 2^{d} eigenvalues, {lam.nbytes >> 20} MiB{note}")


def bench_gram(quick: bool) -> None:
    d, n0 = 32, 4
    N = 512 if quick else 2048
    subset = 128 if quick else 256
    C = lambda: Conv(3, padding="CIRCULAR")  # noqa: E731
    nets = {
        "depth-3 CNN (relu), NTK": serial(C(), Relu(), C(), Relu(), C(), Relu(), Flatten(), Dense()),
        "depth-3 CNN (erf), NTK": serial(C(), Erf(), C(), Erf(), C(), Erf(), Flatten(), Dense()),
    }
    X = nm.sample(ProductSphere(d, n0), N, seed=0)
    pairs = N * (N + 1) // 2
    sub_pairs = subset * (subset + 1) // 2
    for name, net in nets.items():
        nm.gram(net, X[:8], kind="ntk")  # warm
        t_fast, c_fast, G = timed(lambda: nm.gram(net, X, kind="ntk"))
        t_twin, c_twin, G_twin = timed(lambda: nm.gram_numpy(net, X[:subset], kind="ntk"))
        t_ref, c_ref, G_ref = timed(lambda: net.kernel_fn(X[:subset], kind="ntk"))
        assert np.allclose(G[:subset, :subset], G_ref, rtol=1e-12, atol=1e-12 * np.abs(G_ref).max())
        fast, twin = pairs / t_fast, sub_pairs / t_twin
        print(f"  {name}, N = {N}, d = {d}, n0 = {n0}: {pairs} pairs (symmetric)")
        print(f"     numba gram   wall {t_fast:7.2f} s  {fast:10,.0f} pairs/s | {pairs / c_fast:10,.0f} pairs/CPU-s")
        print(
            f"     numpy twin   wall {t_twin:7.2f} s  {twin:10,.0f} pairs/s | {sub_pairs / c_twin:10,.0f} pairs/CPU-s"
            f"  (N = {subset}, {sub_pairs} pairs; extrapolated to N = {N}: {pairs / twin:6.1f} s, linear in pairs)"
        )
        print(
            f"     kernel_fn    wall {t_ref:7.2f} s  {subset * subset / t_ref:10,.0f} entries/s | "
            f"{subset * subset / c_ref:10,.0f} entries/CPU-s  (N = {subset}, full matrix)"
        )
        print(f"     speed-up numba / twin: wall {fast / twin:5.1f}x, per CPU-second {(pairs / c_fast) / (sub_pairs / c_twin):5.1f}x")
    # Pooled network: position-pair covariances (d^2 per register) per input pair.
    net = serial(C(), Relu(), C(), Relu(), GlobalAvgPool(), Dense())
    Np = 128 if quick else 256
    nm.gram(net, X[:4], kind="ntk")
    t_fast, c_fast, _ = timed(lambda: nm.gram(net, X[:Np], kind="ntk"))
    t_twin, c_twin, _ = timed(lambda: nm.gram_numpy(net, X[:32], kind="ntk"))
    pp, sp = Np * (Np + 1) // 2, 32 * 33 // 2
    print(
        f"  GAP CNN (relu), NTK, d = {d} (position pairs, d^2 per register): numba {pp / t_fast:,.0f} pairs/s "
        f"({pp / c_fast:,.0f}/CPU-s, N = {Np}), numpy twin {sp / t_twin:,.0f} pairs/s ({sp / c_twin:,.0f}/CPU-s, N = 32)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    print(f"eigencalc.numerics benchmarks: numba {numba.__version__}, {numba.get_num_threads()} threads, numpy {np.__version__}")
    # Wall times; other processes on the machine slow the parallel numba runs most.
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    print("numba compile time (all kernels, apart from the runs below):")
    compile_times()
    warm = nm.warmup()
    print(f"  this process: {sum(warm.values()):.2f} s to load/compile before the timings below")
    print("Walsh–Hadamard spectrum on {-1,1}^d (M17), tree CNN NTK:")
    bench_fwht(args.quick)
    print("Gram matrices, numba versus the numpy twin:")
    bench_gram(args.quick)
    print(f"numba threading layer: {numba.threading_layer()}")
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
