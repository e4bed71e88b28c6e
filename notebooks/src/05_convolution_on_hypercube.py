# %% [markdown]
# # Convolution and pooling on the hypercube (Misiakiewicz–Mei 2021)
#
# T. Misiakiewicz, S. Mei, *Learning with convolution and pooling operations in kernel
# methods* (arXiv:2111.08308).  `shared/MATH.md` tags: M1, M4 (CIRCULAR `Conv`,
# `Flatten`/`GlobalAvgPool` readouts), M12 and M17 (exact eigenvalues on
# $\{-1,1\}^d$), M18 (space), section 6 (pooling: shift-orbit eigenfunctions),
# section 7 (eigenlearning).
#
# Setting: $x \in \{-1,1\}^d$ with cyclic patches $x_{(i)} = (x_i, \dots, x_{i+q-1})$.
#
# * **Prop. 1** (one circular convolution, no pooling):
#   $K(x,y) = \frac1d \sum_i h(\langle x_{(i)}, y_{(i)}\rangle / q)$ has the Walsh
#   functions $\chi_S$ as eigenfunctions with
#   $\lambda(S) = \frac{q + 1 - \gamma(S)}{d}\, \xi_{q,|S|}$ when the cyclic diameter
#   $\gamma(S) \le q$ (else 0), where $\xi_{q,k}$ are the eigenvalues of $h$ on $\{-1,1\}^q$.
# * **Prop. 2** (local average pooling of width $\omega$): on the shift orbit of $S$ the
#   eigenvalue at Fourier index $j$ is multiplied by $\kappa_j / \omega$,
#   $\kappa_j = 1 + 2 \sum_{k<\omega} (1 - k/\omega) \cos(2\pi jk/d)$ (in stax's
#   normalisation, which divides by $\omega^2$ where MM divide by $\omega$);
#   global pooling keeps only $j = 0$ with factor 1.
# * **Sample complexity** for the cyclic local target $f_{LF,3}$: fully connected
#   (FC) kernel $\gg$ convolutional kernel (CK) $\gg$ CK with global pooling (CK-GP,
#   about $d$ times fewer samples than CK).

# %%
import math
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import eigencalc as ec
from eigencalc import (
    AvgPool, Conv, Dense, Flatten, GlobalAvgPool, ProductHypercube, Relu, krr_experiment, learning_curve, serial, spectrum, targets,
)
from eigencalc.plots import plot_learning_curve, plot_spectrum

FAST = os.environ.get("EIGENCALC_NOTEBOOK_SCALE") == "ci"
RIDGE = 1e-3


def cyclic_diameter(S, d):
    """gamma(S): size of the smallest cyclic interval of Z_d containing S."""
    s = sorted(S)
    gaps = [(s[(i + 1) % len(s)] - s[i]) % d or d for i in range(len(s))]
    return d - max(gaps) + 1


# %% [markdown]
# ## Prop. 1: one circular convolution
# NNGP of `serial(Conv(q, padding="CIRCULAR"), Relu(), Flatten(), Dense())`: here
# $h$ is the ReLU dual (the arc-cosine kernel), i.e. the NNGP of a one-hidden-layer
# MLP; $\xi_{q,k}$ from `hypercube_eigenvalues` (M12).  Checked on **every** subset
# $S \subseteq [d]$.

# %%
d, q = 12, 4
h = ec.mlp(1, "relu").nngp_expr()
xi = [float(v) for v in ec.hypercube_eigenvalues(h, q).eigenvalues]
ck1 = serial(Conv(q, padding="CIRCULAR"), Relu(), Flatten(), Dense())
spec1 = spectrum(ck1, ProductHypercube(d, 1), "nngp", d)


def prop1(S):
    if not S:
        return xi[0]
    g = cyclic_diameter(S, d)
    return (q + 1 - g) * xi[len(S)] / d if g <= q else 0.0


err1, rows = 0.0, []
for bits in range(1 << d):
    S = [i for i in range(d) if bits >> i & 1]
    r = tuple(1 if i in S else 0 for i in range(d))
    value, expected = float(spec1.eigenvalue(r)), prop1(S)
    err1 = max(err1, abs(value - expected))
    if len(S) <= 2 and S[:1] == [0] or not S:
        rows.append(dict(S=tuple(S), gamma=cyclic_diameter(S, d) if S else 0, eigencalc=value, prop1=expected))
print(f"Prop. 1: max |lambda - formula| over all 2^{d} subsets = {err1:.2e}")
pd.DataFrame(rows)

# %%
plot_spectrum(spectrum(ck1, ProductHypercube(d, 1), "nngp", 5), title=f"CK NNGP on {{-1,1}}^{d}, q = {q}: zero when gamma(S) > q")

# %% [markdown]
# ## Prop. 2: local and global average pooling
# Pooled spectra are per (shift orbit of $r$, Fourier index $j$).  $\omega = d$ via
# `AvgPool` and `GlobalAvgPool` are the same kernel.

# %%
F2 = 4 if FAST else 6


def prop2(S, j, omega):
    kappa = 1 + 2 * sum((1 - k / omega) * math.cos(2 * math.pi * j * k / d) for k in range(1, omega))
    if not S:
        return kappa / omega * xi[0]
    return kappa / omega * prop1(S)


pooled = {
    "AvgPool(3)": (serial(Conv(q, padding="CIRCULAR"), Relu(), AvgPool(3, padding="CIRCULAR"), Flatten(), Dense()), 3),
    "AvgPool(6)": (serial(Conv(q, padding="CIRCULAR"), Relu(), AvgPool(6, padding="CIRCULAR"), Flatten(), Dense()), 6),
    f"AvgPool({d})": (serial(Conv(q, padding="CIRCULAR"), Relu(), AvgPool(d, padding="CIRCULAR"), Flatten(), Dense()), d),
    "GlobalAvgPool": (serial(Conv(q, padding="CIRCULAR"), Relu(), GlobalAvgPool(), Dense()), d),
}
err2, pooled_specs, rows = {}, {}, []
for name, (net, omega) in pooled.items():
    s = spectrum(net, ProductHypercube(d, 1), "nngp", F2)
    pooled_specs[name] = s
    worst = 0.0
    for e in s.entries():
        S = [i for i, v in enumerate(e.r) if v]
        expected = prop2(S, e.j, omega)
        worst = max(worst, abs(float(e.eigenvalue) - expected))
        if e.r[:3] == (1, 1, 0) and sum(e.r) == 2:
            rows.append(dict(readout=name, r=e.r[:5], j=e.j, eigencalc=float(e.eigenvalue), prop2=expected, multiplicity=e.multiplicity))
    err2[name] = worst
print("Prop. 2: max |lambda - formula|:", {k: f"{v:.1e}" for k, v in err2.items()})
pd.DataFrame(rows)

# %% [markdown]
# Fourier profile $\kappa_j/\omega$ of the adjacent pair $S = \{0, 1\}$: pooling
# damps the high shift frequencies (a Fejér kernel); global pooling keeps $j = 0$ only.

# %%
fig = Figure(figsize=(6, 4), layout="constrained")
ax = fig.add_subplot()
base = prop1([0, 1])
for name, s in pooled_specs.items():
    pts = sorted((e.j, float(e.eigenvalue) / base) for e in s.entries() if e.r[:3] == (1, 1, 0) and sum(e.r) == 2)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=4, label=name)
ax.set_xlabel("Fourier index j")
ax.set_ylabel(r"$\lambda(S, j) / \lambda_{CK}(S)$")
ax.legend(fontsize="small")
fig

# %% [markdown]
# ## Sample thresholds on $f_{LF,3}$
# $d = 16$, NTKs.  CK: `Conv(3, CIRCULAR)` + ReLU + `Conv(1)` + ReLU + `Flatten` +
# `Dense` (a depth-2 head: the one-hidden-layer bias-free ReLU NTK has no odd
# components of degree $\ge 3$ on the hypercube, so it could not learn a cubic at
# all).  FC: the same depth-2 ReLU network on all 16 coordinates.  CK-GP: the CK with
# `GlobalAvgPool`.  Predictions by eigenlearning (`learning_curve`), thresholds
# $m^*$ = fewest samples with predicted test MSE $\le 0.5$.

# %%
D16 = ProductHypercube(16, 1)
lf, hf = targets.f_LF(D16, 3), targets.f_HF(D16, 3)
head = [Conv(3, padding="CIRCULAR"), Relu(), Conv(1), Relu()]
CK = serial(*head, Flatten(), Dense())
CK_GP = serial(*head, GlobalAvgPool(), Dense())
FC = serial(Flatten(), Dense(), Relu(), Dense(), Relu(), Dense())
GRID = np.geomspace(5, 3e4, 160)
spec_ck = spectrum(CK, D16, "ntk", 3)
spec_fc = spectrum(FC, D16, "ntk", 5)
spec_gp = spectrum(CK_GP, D16, "ntk", 3)
pred_ck = learning_curve(spec_ck, lf, GRID, ridge=RIDGE)
pred_fc = learning_curve(spec_fc, lf, GRID, ridge=RIDGE)
pred_ck_hf = learning_curve(spec_ck, hf, GRID, ridge=RIDGE)
t_ck, t_fc = pred_ck.samples_to_reach(0.5), pred_fc.samples_to_reach(0.5)
pred_gp = learning_curve(spec_gp, lf, GRID, ridge=RIDGE)  # per (orbit, Fourier index) eigenspace
t_gp = pred_gp.samples_to_reach(0.5)
pred_gp_hf = learning_curve(spec_gp, hf, GRID, ridge=RIDGE)  # f_HF,3 sits at j = d/2, removed by pooling
pd.DataFrame({"predicted m*(0.5)": {"FC": t_fc, "CK": t_ck, "CK-GP": t_gp}})

# %% [markdown]
# **Pooled kernel.**  `learning_curve` works per (orbit, Fourier index) eigenspace for
# a `PooledSpectrum`: the target's mass is split over the Fourier sectors of each shift
# orbit, $f_{LF,3}$ entirely at $j = 0$ and $f_{HF,3}$ at $j = d/2$ (which global pooling
# removes, so CK-GP never learns it).  Why CK-GP wins: $f_{LF,3}$ sits in the $j = 0$ mode of
# its shift orbit with the *same* eigenvalue as for CK, while the number of
# eigenfunctions with larger or equal eigenvalue — the modes kernel regression must
# fit first, roughly the sample count needed — drops by the factor $d$ (each orbit
# keeps only $j = 0$).  A small kernel-regression run (real KRR with the pooled
# NTK, which needs no spectrum) confirms the ordering.

# %%
r_lf = (1, 1, 1) + (0,) * 13
lam = {"CK": float(spec_ck.eigenvalue(r_lf)), "CK-GP": float(spec_gp.eigenvalue(r_lf, 0)), "FC": float(spec_fc.eigenvalue(r_lf))}


def modes_ahead(s, value):
    return sum(e.multiplicity for e in s.entries() if float(e.eigenvalue) >= value * (1 - 1e-9))


ahead = {"FC": modes_ahead(spec_fc, lam["FC"]), "CK": modes_ahead(spec_ck, lam["CK"]), "CK-GP": modes_ahead(spec_gp, lam["CK-GP"])}
pd.DataFrame({"eigenvalue of f_LF,3": lam, "modes with eigenvalue >= it": ahead})

# %%
M_KRR = [5, 10, 20, 40, 80] if FAST else [5, 10, 20, 40, 80, 160, 320]
REPEATS, N_TEST = (3, 500) if FAST else (8, 2000)
krr_gp = krr_experiment(CK_GP, D16, lf, M_KRR, ridge=RIDGE, n_test=N_TEST, repeats=REPEATS, seed=3, kind="ntk")
krr_ck = krr_experiment(CK, D16, lf, M_KRR, ridge=RIDGE, n_test=N_TEST, repeats=REPEATS, seed=3, kind="ntk")
pd.DataFrame({"m": M_KRR, "CK-GP measured": krr_gp.test_mse, "CK measured": krr_ck.test_mse,
              "CK predicted": learning_curve(spec_ck, lf, M_KRR, ridge=RIDGE).test_mse})

# %%
fig = Figure(figsize=(6, 4), layout="constrained")
ax = fig.add_subplot()
ax.loglog(GRID, pred_fc.test_mse, label="FC (predicted)")
ax.loglog(GRID, pred_ck.test_mse, label="CK (predicted)")
ax.loglog(GRID, pred_ck_hf.test_mse, ":", label="CK on f_HF,3 (predicted)")
if pred_gp is not None:
    ax.loglog(GRID, pred_gp.test_mse, label="CK-GP (predicted)")
ax.errorbar(M_KRR, krr_gp.test_mse, yerr=krr_gp.std, fmt="o", ms=4, label="CK-GP (KRR)")
ax.errorbar(M_KRR, krr_ck.test_mse, yerr=krr_ck.std, fmt="s", ms=4, label="CK (KRR)")
ax.axhline(0.5, color="grey", lw=0.5)
ax.set_xlabel("samples m")
ax.set_ylabel("test MSE on f_LF,3")
ax.legend(fontsize="small")
fig

# %%
plot_learning_curve(M_KRR, learning_curve(spec_ck, lf, M_KRR, ridge=RIDGE).test_mse, krr_ck.test_mse, krr_ck.std,
                    title="CK on f_LF,3: eigenlearning vs KRR")

# %% [markdown]
# ## Checks (Misiakiewicz–Mei)
# * Prop. 1 on all $2^{12}$ subsets and Prop. 2 for $\omega = 3, 6, 12$ and global
#   pooling: agreement to $10^{-13}$ (float64 enumeration); global pooling: $j = 0$ only;
# * FC vs CK on $f_{LF,3}$ at $d = 16$: $40 < m^*_{CK} < 150$, $700 < m^*_{FC} < 2000$ and
#   $m^*_{FC} > 5\, m^*_{CK}$; CK cannot tell $f_{LF,3}$ from $f_{HF,3}$;
# * CK-GP: same eigenvalue for $f_{LF,3}$, and exactly $d$ times fewer non-constant
#   modes ahead of it; measured KRR error at $m = 20$ below 0.1 for CK-GP while CK is
#   still above 0.5 (if `learning_curve` accepts pooled spectra: predicted
#   $m^*_{CK\text{-}GP} < m^*_{CK}/4$).

# %%
assert err1 < 1e-13, err1
for name, worst in err2.items():
    assert worst < 1e-13, (name, worst)
assert all(e.j == 0 for e in pooled_specs["GlobalAvgPool"].entries())
assert {e.j for e in pooled_specs["AvgPool(3)"].entries()} - {0}

assert 40 < t_ck < 150 and 700 < t_fc < 2000 and t_fc > 5 * t_ck, (t_ck, t_fc)
assert np.allclose(pred_ck.test_mse, pred_ck_hf.test_mse, rtol=1e-12)

assert abs(lam["CK-GP"] - lam["CK"]) <= 1e-12 * lam["CK"]
assert ahead["CK"] - 1 == D16.d * (ahead["CK-GP"] - 1), ahead
j20 = M_KRR.index(20)
assert krr_gp.test_mse[j20] < 0.1 and krr_ck.test_mse[j20] > 0.5, (krr_gp.test_mse, krr_ck.test_mse)
assert t_gp < t_ck / 4, (t_gp, t_ck)
assert pred_gp_hf.samples_to_reach(0.5) == np.inf
print(f"m*(0.5): FC {t_fc:.0f}, CK {t_ck:.0f}, CK-GP {t_gp}; modes ahead {ahead}")
