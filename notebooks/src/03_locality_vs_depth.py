# %% [markdown]
# # Locality vs depth in the kernel regime (Mori–Ueda style)
#
# T. Mori, M. Ueda, *Is deeper better? It depends on locality of relevant features*
# (arXiv:2005.12488), read in the NTK regime through the eigenspace picture of
# L. Xiao (arXiv:2109.05579).  `shared/MATH.md` tags: M17–M18 (exact eigenvalues on
# $\{-1,1\}^{16}$, frequency and space), section 7 (eigenlearning prediction,
# checked against kernel ridge regression).
#
# Targets on $\{-1,1\}^{16}$ (patches $n_0 = 1$):
# *k-local* $= x_0 x_1 \cdots x_{k-1}$ (k neighbours) and *k-global* $=$ product of k
# normalised block sums (the same frequency k, spread over the whole input).
#
# Claims reproduced:
# * an MLP cannot tell them apart: its eigenvalues depend on the frequency only, so
#   the two learning curves coincide;
# * a deeper tree CNN ($[2,2,2,2]$) learns k-local targets with fewer samples than a
#   shallower one ($[4,4]$), and k-global targets with more.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from eigencalc import Conv, Dense, Flatten, ProductHypercube, Relu, krr_experiment, learning_curve, serial, spectrum, targets
from eigencalc.plots import plot_learning_curve

FAST = os.environ.get("EIGENCALC_NOTEBOOK_SCALE") == "ci"
RIDGE = 1e-3
dom = ProductHypercube(16, 1)
M_KRR = [50, 100, 200, 400] if FAST else [50, 100, 200, 400, 800, 1600]
REPEATS, N_TEST = (3, 500) if FAST else (8, 2000)
GRID = np.geomspace(10, 3e4, 120)


def tree(filters):
    layers = []
    for q in filters:
        layers += [Conv(q, stride=q), Relu()]
    return serial(*layers, Flatten(), Dense())


NETS = {
    "MLP": serial(Flatten(), Dense(), Relu(), Dense(), Relu(), Dense()),
    "deep CNN [2,2,2,2]": tree([2, 2, 2, 2]),
    "shallow CNN [4,4]": tree([4, 4]),
}
TARGETS = {
    "2-local": targets.k_local(dom, 2),
    "2-global": targets.k_global(dom, 2),
    "3-local": targets.k_local(dom, 3),
    "3-global": targets.k_global(dom, 3, blocks=[range(0, 5), range(5, 10), range(10, 16)]),
}
specs = {name: spectrum(net, dom, "ntk", max_frequency=5) for name, net in NETS.items()}

# %% [markdown]
# ## Where the targets live
# Target mass per (frequency, space) class of each network (M18).

# %%
pd.DataFrame({t: {name: f.mass_by_class(s) for name, s in specs.items()} for t, f in TARGETS.items()})

# %% [markdown]
# ## Predicted thresholds
# $m^*$: fewest samples with predicted test MSE $\le 0.5$ (eigenlearning on a fine grid).

# %%
pred = {(n, t): learning_curve(s, f, GRID, ridge=RIDGE) for n, s in specs.items() for t, f in TARGETS.items()}
thresholds = pd.DataFrame({t: {n: pred[n, t].samples_to_reach(0.5) for n in NETS} for t in TARGETS})
thresholds

# %% [markdown]
# ## Kernel ridge regression
# Real KRR with the NTK Gram matrices, the same draws for every target (paired),
# against the prediction at the same m.

# %%
measured = {}
for name, net in NETS.items():
    runs = krr_experiment(net, dom, list(TARGETS.values()), M_KRR, ridge=RIDGE, n_test=N_TEST, repeats=REPEATS, seed=1, kind="ntk")
    for t, run in zip(TARGETS, runs):
        measured[name, t] = run
rows = []
for (name, t), run in measured.items():
    p = learning_curve(specs[name], TARGETS[t], M_KRR, ridge=RIDGE)
    for j, m in enumerate(M_KRR):
        rows.append(dict(network=name, target=t, m=m, predicted=p.test_mse[j], measured=run.test_mse[j], std=run.std[j]))
comparison = pd.DataFrame(rows)
comparison

# %%
figures = {}
for t in ["2-local", "2-global"]:
    for name in NETS:
        p = learning_curve(specs[name], TARGETS[t], M_KRR, ridge=RIDGE)
        run = measured[name, t]
        figures[name, t] = plot_learning_curve(M_KRR, p.test_mse, run.test_mse, run.std, title=f"{name}: {t}")
figures["deep CNN [2,2,2,2]", "2-local"]

# %%
figures["deep CNN [2,2,2,2]", "2-global"]

# %% [markdown]
# Predicted curves side by side: depth helps local targets and hurts global ones.

# %%
fig = Figure(figsize=(10, 4), layout="constrained")
for i, k in enumerate([2, 3]):
    ax = fig.add_subplot(1, 2, i + 1)
    for name in NETS:
        for kind, style in (("local", "-"), ("global", "--")):
            ax.loglog(GRID, pred[name, f"{k}-{kind}"].test_mse, style, label=f"{name}, {k}-{kind}")
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("samples m")
    ax.set_ylabel("predicted test MSE")
    ax.set_title(f"k = {k}")
    ax.legend(fontsize="x-small")
fig

# %% [markdown]
# ## Checks
# * MLP: k-local and k-global predictions equal (relative 1e-9);
# * thresholds $m^*(0.5)$: deep < shallow for k-local, deep > shallow for k-global
#   (k = 2, 3; for k = 2 about 34 vs 47 samples (local) and 530 vs 240 (global));
# * prediction vs KRR: within 3 spreads + 15% wherever the measured MSE exceeds 0.05.

# %%
for k in (2, 3):
    assert np.allclose(pred["MLP", f"{k}-local"].test_mse, pred["MLP", f"{k}-global"].test_mse, rtol=1e-9)
    deep, shallow = "deep CNN [2,2,2,2]", "shallow CNN [4,4]"
    assert thresholds.loc[deep, f"{k}-local"] < thresholds.loc[shallow, f"{k}-local"], thresholds
    assert thresholds.loc[deep, f"{k}-global"] > thresholds.loc[shallow, f"{k}-global"], thresholds
for row in rows:
    if row["measured"] > 0.05:
        assert abs(row["predicted"] - row["measured"]) <= 3 * row["std"] + 0.15 * row["predicted"], row
print(thresholds.round(0))
