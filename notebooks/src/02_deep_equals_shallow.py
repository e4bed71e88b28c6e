# %% [markdown]
# # Deep equals shallow: eigenvalue decay of ReLU NTK / NNGP kernels on the sphere
#
# A. Bietti, F. Bach, *Deep equals shallow for ReLU networks in kernel regimes*
# (arXiv:2009.14397).  `shared/MATH.md` tags: M9–M11 (Funk–Hecke eigenvalues
# $\mu_k$ on $S^{n-1}$), M13 (large-degree decay), M1–M3 (the MLP kernels).
#
# Claim reproduced: for a bias-free ReLU MLP at criticality ($W_{std}^2 = 2$) of any
# depth $L \ge 1$, the kernels behave near $t = \pm 1$ like
# $f(1 - s) = \text{poly}(s) + c\, s^{\nu} + \dots$ with $\nu = 1/2$ (NTK) and
# $\nu = 3/2$ (NNGP), so on $S^{n-1}$
#
# $$\mu_k^{\rm NTK} \sim C_L\, k^{-n}, \qquad \mu_k^{\rm NNGP} \sim C'_L\, k^{-(n+2)}$$
#
# — the same power law at every depth: depth only changes the constants (and
# the parity pattern of depth 1, whose NTK has $\mu_k = 0$ for odd $k \ge 3$).
# The exact $\mu_k$ come from high-precision quadrature of the closed-form
# kernels (`ntk_expr()` / `nngp_expr()`), the laws from the symbolic endpoint
# expansion in `decay` (independent code paths).

# %%
import os

import matplotlib

matplotlib.use("Agg")
import mpmath
import numpy as np
import pandas as pd
import sympy
from matplotlib.figure import Figure

import eigencalc as ec
from eigencalc.plots import plot_decay

FAST = os.environ.get("EIGENCALC_NOTEBOOK_SCALE") == "ci"
DEPTHS = [1, 2, 3, 4, 5]
DIMS = [3] if FAST else [3, 5, 8]  # n: the sphere S^{n-1}
KMAX = 60 if FAST else 200
# sqrt(2) exactly: a float 2**0.5 squares to 2 + 4e-16, which pushes the deep
# arc-cosine compositions slightly outside [-1, 1] at t = 1.
W = sympy.sqrt(2)

# %% [markdown]
# ## Kernels and their decay laws
# `decay(f, n)` expands $f$ at both endpoints and returns the exponent and the
# exact constants per parity of $k$ (M13).

# %%
kernels = {}
for depth in DEPTHS:
    net = ec.mlp(depth, "relu", W_std=W)
    kernels[depth, "ntk"] = net.ntk_expr()
    kernels[depth, "nngp"] = net.nngp_expr()

laws, rows = {}, []
for n in DIMS:
    for (depth, kind), f in kernels.items():
        law = ec.decay(f, n)
        laws[n, depth, kind] = law
        rows.append(
            dict(
                n=n, depth=depth, kind=kind, nu=law.nu, exponent=law.exponent,
                exponent_even=law.exponent_even, exponent_odd=law.exponent_odd,
                C_even=float(law.numeric["C_even"]), C_odd=float(law.numeric["C_odd"]),
            )
        )
law_table = pd.DataFrame(rows)
law_table

# %% [markdown]
# ## Exact eigenvalues against the law
# $\mu_k$ by quadrature (M10) for $k \le k_{max}$; the ratio to the law
# $C\,\kappa^{-p}$ with $\kappa = k + (n-2)/2$ (`predict(k, shifted=True)`) should tend
# to 1, and the local log-log slope in $\kappa$ between $k_{max}/2$ and $k_{max}$ to $-p$.

# %%
mus, check_rows = {}, []
with mpmath.workdps(20):
    for n in DIMS:
        for (depth, kind), f in kernels.items():
            S = ec.sphere_eigenvalues(f, n, KMAX)
            mu = [float(m) for m in S.eigenvalues]
            mus[n, depth, kind] = mu
            law = laws[n, depth, kind]
            k_hi = KMAX if KMAX % 2 == 0 else KMAX - 1  # even k: nonzero at every depth
            k_lo = k_hi // 2
            shift = (n - 2) / 2  # the law is sharp in kappa = k + (n - 2)/2 (DecayLaw.predict)
            slope = float(np.log(mu[k_hi] / mu[k_lo]) / np.log((k_hi + shift) / (k_lo + shift)))
            check_rows.append(
                dict(
                    n=n, depth=depth, kind=kind, law_exponent=float(law.exponent),
                    fitted_slope=slope, ratio_even=mu[k_hi] / float(law.predict(k_hi, shifted=True)),
                    ratio_odd=(mu[k_hi - 1] / float(law.predict(k_hi - 1, shifted=True)))
                    if law.exponent_odd is not None else float("nan"),
                    mu_odd=mu[k_hi - 1],
                )
            )
checks = pd.DataFrame(check_rows)
checks

# %% [markdown]
# ## Figures
# NTK and NNGP eigenvalues on $S^{2}$ for every depth, with the $k^{-n}$ resp.
# $k^{-(n+2)}$ slopes; then one `plot_decay` panel per kind at the largest depth.

# %%
n = DIMS[0]
fig = Figure(figsize=(10, 4), layout="constrained")
for i, kind in enumerate(["ntk", "nngp"]):
    ax = fig.add_subplot(1, 2, i + 1)
    for depth in DEPTHS:
        mu = np.array(mus[n, depth, kind])
        k = np.arange(len(mu))
        keep = (k > 0) & (k % 2 == 0) & (mu > 0)
        ax.loglog(k[keep], mu[keep], "o-", ms=2, lw=0.8, label=f"depth {depth}")
    p = laws[n, DEPTHS[-1], kind].exponent
    kk = np.arange(2, KMAX + 1, 2, dtype=float)
    ax.loglog(kk, mus[n, DEPTHS[-1], kind][2] * (kk / 2) ** (-float(p)), "k--", lw=1, label=f"slope -{p}")
    ax.set_title(f"ReLU {kind.upper()} on S^{n - 1} (even k)")
    ax.set_xlabel("degree k")
    ax.set_ylabel(r"$\mu_k$")
    ax.legend(fontsize="small")
fig

# %%
depth = DEPTHS[-1]
law = laws[n, depth, "ntk"]
fig_ntk = plot_decay(
    range(0, KMAX + 1, 2), mus[n, depth, "ntk"][::2],
    exponent=float(law.exponent), constant=float(law.numeric["C_even"]),
    title=f"NTK, depth {depth}, S^{n - 1}: even k vs Bietti–Bach law",
)
fig_ntk

# %%
law = laws[n, depth, "nngp"]
fig_nngp = plot_decay(
    range(0, KMAX + 1, 2), mus[n, depth, "nngp"][::2],
    exponent=float(law.exponent), constant=float(law.numeric["C_even"]),
    title=f"NNGP, depth {depth}, S^{n - 1}: even k vs Bietti–Bach law",
)
fig_nngp

# %% [markdown]
# ## Checks (Bietti–Bach)
# * exponent $n$ for the NTK and $n + 2$ for the NNGP, at **every** depth
#   ($\nu = 1/2$ resp. $3/2$);
# * the exact $\mu_k$ follow the law: ratio within 2% (FAST, $k = 60$) of 1 and
#   fitted slope within 0.1 of $-p$;
# * depth 1 NTK: odd $\mu_k$ vanish for $k \ge 3$ (the odd endpoint terms cancel);
#   depth $\ge 2$: both parities decay with the same exponent.

# %%
tol_ratio = 0.02 if FAST else 0.005
for row in check_rows:
    n, depth, kind = row["n"], row["depth"], row["kind"]
    law = laws[n, depth, kind]
    expected = n if kind == "ntk" else n + 2
    assert law.exponent == expected, (n, depth, kind, law.exponent)
    assert law.nu == (sympy.Rational(1, 2) if kind == "ntk" else sympy.Rational(3, 2))
    assert abs(row["ratio_even"] - 1) < tol_ratio, row
    assert abs(row["fitted_slope"] + expected) < 0.1, row
    if kind == "ntk" and depth == 1:
        assert law.exponent_odd is None and abs(row["mu_odd"]) < 1e-15 * mus[n, 1, "ntk"][0], row
    elif kind == "ntk":
        assert law.exponent_odd == expected and abs(row["ratio_odd"] - 1) < tol_ratio, row
print("exponents (NTK, NNGP) by depth:", {d: (laws[DIMS[0], d, "ntk"].exponent, laws[DIMS[0], d, "nngp"].exponent) for d in DEPTHS})
