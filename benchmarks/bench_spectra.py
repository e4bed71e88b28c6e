"""Benchmark: every (frequency, space) class up to frequency 4 of a depth-3 tree CNN.

d = 64 patches, n0 = 8, filters (4, 4, 4), product of spheres; NNGP and NTK by
the tree moment recursion (max_power = 24).  Plain script: prints times; the
baseline in the same run is the cost of one eigenvalue (the single class r = 0).
"""

import time

from eigencalc.architectures import Conv, Dense, Flatten, Relu, serial
from eigencalc.domains import ProductSphere
from eigencalc.spectra import spectrum


def main() -> None:
    net = serial(*[layer for _ in range(3) for layer in (Conv(4, stride=4), Relu())], Flatten(), Dense())
    domain = ProductSphere(64, 8)
    for kind in ("nngp", "ntk"):
        start = time.perf_counter()
        spec = spectrum(net, domain, kind, 0)
        spec.entries()
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        spec = spectrum(net, domain, kind, 4)
        entries = spec.entries()
        classes = spec.classes()
        elapsed = time.perf_counter() - start
        print(
            f"{kind}: {len(entries)} symmetry classes, {len(classes)} (frequency, space) classes, "
            f"{sum(e.count for e in entries)} multi-indices in {elapsed:.2f} s "
            f"({elapsed / baseline:.1f}x the r = 0 baseline of {baseline:.2f} s)"
        )


if __name__ == "__main__":
    main()
