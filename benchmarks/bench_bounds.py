"""Certified spectra (issue 15): time per network and the worst relative bound, frequency <= 4.

Plain script: ``python benchmarks/bench_bounds.py [--max-frequency 4] [--rtol 1e-6]``.
For each network, ``spectrum(net, domain, "ntk", F, rtol=rtol)`` builds every
class and certifies it with the ball-arithmetic recursion of
``eigencalc.spectral.certify`` (per-class truncation order raised until the
proven bound is <= rtol x eigenvalue).  Printed per network: wall time (the first
network also pays for the Hermite coefficients, cached after), number of classes, the worst relative bound,
how many classes each truncation order certified, and the uncertified rows.
As a baseline in the same run, the fixed-truncation spectrum (``max_power=24``,
global M16 bound) of the same network: its time and worst relative bound.
Targets (issue 15): <= 1e-6 relative everywhere; < 10 s for the ``make demo``
networks, < 30 s for the (4,4,4) tree on d = 64.
"""

from __future__ import annotations

import argparse
import time

import eigencalc as ec
from eigencalc.core.numbers import to_float

NETWORKS = [
    ("demo tree CNN (2,2,4)", "Conv(2, stride=2) Relu Conv(2, stride=2) Relu Conv(4, stride=4) Relu Flatten Dense",
     ec.ProductSphere(16, 8), 10.0),
    ("demo MLP", "Flatten Dense Relu Dense Relu Dense", ec.ProductSphere(16, 8), 10.0),
    ("tree CNN (4,4,4), d=64", "Conv(4, stride=4) Relu Conv(4, stride=4) Relu Conv(4, stride=4) Relu Flatten Dense",
     ec.ProductSphere(64, 8), 30.0),
]


def _worst(entries) -> float:
    return max(to_float(e.error_bound) / abs(to_float(e.eigenvalue)) for e in entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-frequency", type=int, default=4)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--no-baseline", action="store_true", help="skip the fixed-truncation baseline")
    args = parser.parse_args()
    F = args.max_frequency
    print(f"certified NTK spectra, frequency <= {F}, rtol {args.rtol:g}")
    print(f"{'network':26s} {'classes':>7s} {'time':>8s} {'budget':>7s} {'worst rel bound':>16s} "
          f"{'baseline P=24: time':>20s} {'worst rel':>10s}  orders")
    status = 0
    for name, text, domain, budget in NETWORKS:
        net = ec.parse_architecture(text)
        t0 = time.perf_counter()
        spec = ec.spectrum(net, domain, "ntk", F, rtol=args.rtol)
        entries = spec.entries()
        elapsed = time.perf_counter() - t0
        worst = _worst(entries)
        orders: dict = {}
        for e in entries:
            orders[e.order] = orders.get(e.order, 0) + 1
        base_time, base_worst = float("nan"), float("nan")
        if not args.no_baseline:
            t0 = time.perf_counter()
            base = ec.spectrum(net, domain, "ntk", F).entries()
            base_time, base_worst = time.perf_counter() - t0, _worst(base)
        ok = worst <= args.rtol and elapsed <= budget
        status |= not ok
        print(f"{name:26s} {len(entries):7d} {elapsed:7.1f}s {budget:6.0f}s {worst:16.2e} "
              f"{base_time:19.1f}s {base_worst:10.1e}  {dict(sorted(orders.items()))}{'' if ok else '  MISSED'}")
        for e in entries:
            if not e.certified:
                print(f"    not certified: r={e.r} {e.note}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
