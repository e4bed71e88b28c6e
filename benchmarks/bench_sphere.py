"""Benchmark: Funk-Hecke eigenvalues mu_0..mu_1000 of the depth-3 ReLU NTK on S^9 at 30 digits.

Plain script (no timed tests): ``python benchmarks/bench_sphere.py``.  Prints the
wall time of ``sphere_eigenvalues`` (Gauss-Legendre in theta, fixed-point
Gegenbauer recurrence), the node count, the worst relative error estimate, and
a check of the top eigenvalues against the Bietti-Bach law (M13).
"""

import time

import mpmath
import sympy

from eigencalc.architectures import mlp
from eigencalc.decay import decay
from eigencalc.spheres import sphere_eigenvalues

N_DIM, KMAX, DPS, DEPTH = 10, 1000, 30, 3


def main():
    f = mlp(DEPTH, "relu", W_std=sympy.sqrt(2)).ntk_expr()
    with mpmath.workdps(DPS):
        t0 = time.perf_counter()
        S = sphere_eigenvalues(f, N_DIM, KMAX)
        elapsed = time.perf_counter() - t0
        worst = max(e / abs(m) for m, e in zip(S.eigenvalues, S.error_estimate) if m != 0)
        print(f"sphere_eigenvalues: ReLU NTK depth {DEPTH}, S^{N_DIM - 1}, k <= {KMAX}, {DPS} digits")
        print(f"  time {elapsed:.2f} s, {S.nodes} Gauss-Legendre nodes, worst relative error estimate {mpmath.nstr(worst, 3)}")
        print(f"  mu_{KMAX} = {mpmath.nstr(S.eigenvalues[KMAX], DPS)}")
        t0 = time.perf_counter()
        law = decay(f, N_DIM)
        t_decay = time.perf_counter() - t0
        for k in (KMAX - 1, KMAX):
            r = S.eigenvalues[k] / law.singular_part(k)
            print(f"  decay law (exponent {law.exponent}): mu_{k} / singular part - 1 = {mpmath.nstr(r - 1, 3)}")
        print(f"  decay(): {t_decay:.2f} s")


if __name__ == "__main__":
    main()
