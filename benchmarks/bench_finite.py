"""Benchmark: finite-width recursions (F5-F7, two inputs, depth 100) and Monte-Carlo throughput.

Plain script (no timed tests): ``python benchmarks/bench_finite.py``.  Prints the wall time of
the metric chain (F18-F20), of the NTK chain (F24) against the Monte-Carlo it replaces, of ``finite_width_pair`` to depth 100 (ReLU: closed forms in float64 and in mpmath; tanh: float64
tensor Gauss-Hermite), of the single-input recursions, and the number of sampled networks per
second of the preactivation and NTK samplers.
"""

import time

import numpy as np

from eigencalc.finite import (
    finite_width_mlp,
    finite_width_ntk,
    finite_width_ntk_moments,
    finite_width_pair,
    finite_width_moments,
    float_flow,
    monte_carlo_moments,
    monte_carlo_ntk,
)

DEPTH, WIDTH = 100, 50


def _timed(fn, *args, warm=True, **kw):
    if warm:
        fn(*args, **kw)  # warm caches (sympy derivatives, lambdified closed forms, quadrature nodes)
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main():
    q = (1, 0.3, 1.2)
    for name, C_W, precision in (("relu", 2, "float64"), ("relu", 2, "mpmath"), ("tanh", 1, "float64")):
        r, t = _timed(finite_width_pair, [WIDTH] * DEPTH, name, C_W, 0, q, precision=precision)
        print(f"finite_width_pair {name:5s} {precision:8s} depth {DEPTH}: {t:.3f} s   (K1_12 at l = {DEPTH}: {float(r.K1[-1][1]):.6g})")
    for name, C_W, depth in (("relu", 2, 100), ("tanh", 1, 10)):  # exact sympy / mpmath tanh-sinh quadrature
        _, t = _timed(finite_width_mlp, [WIDTH] * depth, name, C_W, warm=False)  # cold: Gaussian means are cached
        _, t2 = _timed(finite_width_ntk, [WIDTH] * depth, name, 1.01 * C_W, warm=False)
        print(f"finite_width_mlp / finite_width_ntk {name} depth {depth}: {t:.3f} s / {t2:.3f} s")
    for name, C_W, widths, kw in (("relu", 2, [WIDTH] * 100, {}), ("tanh", 1, [20] * 10, {}),
                                  ("tanh", 1, [20] * 10, {"method": "taylor", "order": 4})):
        _, t = _timed(finite_width_moments, widths, name, C_W, warm=False, **kw)  # F18-F20, cold caches
        print(f"finite_width_moments {name} depth {len(widths)} {kw or 'auto'}: {t:.3f} s")
    for name, C_W, C_b, widths in (("tanh", 1, 0, [8] * 5), ("gelu", 1.7, 0.1, [8] * 5), ("tanh", 1, 0, [50] * 20)):
        r, t = _timed(finite_width_ntk_moments, widths, name, C_W, C_b, warm=False)  # F24, every layer
        t0 = time.perf_counter()
        mc = monte_carlo_ntk(widths, name, C_W, C_b, np.ones(10), 4000, seed=0, units=8).estimates[-1]
        t_mc = (time.perf_counter() - t0) * (mc["variance_se"] / (r.closure_error[-1] + 1e-300)) ** 2
        print(f"finite_width_ntk_moments {name} {len(widths)}x{widths[0]}: {t:.2f} s; Monte-Carlo to the same "
              f"accuracy ({r.closure_error[-1] / r.variance[-1]:.1e} relative): {t_mc:.3g} s, {t_mc / t:.0f}x")
    _, t = _timed(float_flow, "tanh", 1, 0, 1, 10000)
    print(f"float_flow tanh depth 10000 (F1-F4, F8-F13 in float64): {t:.3f} s")
    x = np.ones(10)
    for widths in ([32] * 4, [64] * 4):
        N = 20000
        t0 = time.perf_counter()
        monte_carlo_moments(widths, "tanh", 1, 0, x, N, seed=0)
        t = time.perf_counter() - t0
        t0 = time.perf_counter()
        monte_carlo_ntk(widths, "tanh", 1, 0, x, N // 4, seed=0, units=8)
        t2 = time.perf_counter() - t0
        print(f"Monte-Carlo widths {widths}: preactivations {N / t:,.0f} networks/s, NTK (8 units, all layers) {N / 4 / t2:,.0f} networks/s")


if __name__ == "__main__":
    main()
