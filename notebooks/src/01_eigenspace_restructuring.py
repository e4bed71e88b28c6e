# %% [markdown]
# # Eigenspace restructuring: MLP vs tree CNNs
#
# L. Xiao, *Eigenspace restructuring: a principle of space and frequency in neural
# networks* (arXiv:2109.05579).  `shared/MATH.md` tags: M14–M15 (eigenvalues per
# multi-index $r$ on products of spheres / hypercubes), M18 (frequency $|r|$ and
# space), M19 (learning index $L(r)$), section 7 (learnability).
#
# Claims reproduced:
#
# * an MLP's eigenvalues depend on the **frequency** $|r|$ only;
# * a tree CNN (non-overlapping filters, `Conv(q, stride=q)`) splits each frequency
#   by **space** — the size of the smallest subtree joining the interacting patches —
#   and, at equal frequency, local interactions get larger eigenvalues;
# * with $n_0 = D^{a_0}$ and filter sizes $k_l = D^{a_l}$,
#   $\lambda(r) = \Theta(D^{-L(r)})$ with $L(r) = a_0|r| + \sum_{e} a_{l(e)}$ over
#   the space tree; with $m = D^p$ samples, kernel regression learns the classes with
#   $L(r) < p$ and not those with $L(r) > p$.

# %%
import math
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

import eigencalc as ec
from eigencalc import Conv, Dense, Flatten, ProductHypercube, ProductSphere, Relu, learnable, serial, spectrum
from eigencalc.plots import plot_class_heatmap, plot_spectrum

FAST = os.environ.get("EIGENCALC_NOTEBOOK_SCALE") == "ci"
D = 16  # number of patches; the scaling base of M19
F = 3 if FAST else 5  # max frequency
KIND = "ntk"


def tree(filters):
    """Tree CNN: Conv(q, stride=q) + ReLU per level, then Flatten + Dense (one output position)."""
    layers = []
    for q in filters:
        layers += [Conv(q, stride=q), Relu()]
    return serial(*layers, Flatten(), Dense())


MLP = serial(Flatten(), Dense(), Relu(), Dense(), Relu(), Dense())
# depth L tree on D = 16 patches; scaling exponents a_l = log_D(filter size), a_0 = 0 (n0 = 1).
# Depth 1 has a single window of 16 patches: it is a one-hidden-layer MLP (no space structure).
NETS = {
    "MLP": (MLP, (0, 1)),
    "CNN depth 1 [16]": (tree([16]), (0, 1)),
    "CNN depth 2 [4,4]": (tree([4, 4]), (0, 0.5, 0.5)),
    "CNN depth 3 [4,2,2]": (tree([4, 2, 2]), (0, 0.5, 0.25, 0.25)),
    "CNN depth 4 [2,2,2,2]": (tree([2, 2, 2, 2]), (0, 0.25, 0.25, 0.25, 0.25)),
}
dom = ProductHypercube(D, 1)  # {-1, 1}^16: exact eigenvalues by enumeration (M17)
specs = {name: spectrum(net, dom, KIND, F) for name, (net, _) in NETS.items()}

# %% [markdown]
# ## Eigenvalues by (frequency, space)
# One row per (frequency, space) class: eigenvalue range and total multiplicity.

# %%
frames = []
for name, s in specs.items():
    frame = s.classes().to_frame()[["frequency", "space", "min_eigenvalue", "max_eigenvalue", "multiplicity"]]
    frame.insert(0, "network", name)
    frames.append(frame)
class_table = pd.concat(frames, ignore_index=True)
class_table

# %% [markdown]
# Largest eigenvalue at each frequency, per network: the deep CNN gives the
# *local* part of high frequencies far more weight than the MLP does.

# %%
pd.DataFrame(
    {name: {f: max(c.max_eigenvalue for c in s.classes() if c.frequency == f) for f in range(F + 1)} for name, s in specs.items()}
)

# %%
plot_spectrum(specs["MLP"], title="MLP NTK on {-1,1}^16: one class per frequency")

# %%
plot_spectrum(specs["CNN depth 4 [2,2,2,2]"], title="depth-4 tree CNN NTK: frequency split by space")

# %%
plot_class_heatmap(specs["CNN depth 4 [2,2,2,2]"], title="depth-4 tree CNN: log10 max eigenvalue per class")

# %%
plot_class_heatmap(specs["CNN depth 2 [4,4]"], title="depth-2 tree CNN [4,4]: log10 max eigenvalue per class")

# %% [markdown]
# ## Learnable sets against m
# `learnable(spectrum, m, scaling, D=16)` marks the classes with learnability
# $\lambda/(\lambda+\kappa(m)) > 1/2$ (eigenlearning) and, with $m = D^p$, the
# classes the learning-index rule puts below ($L < p$) or above ($L > p$) the
# threshold.  At $D = 16$ the constants in $\Theta(D^{-L})$ still matter, so the two
# can disagree for classes with $L$ close to $p$.

# %%
P_GRID = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5] if FAST else list(np.arange(0.75, 2.876, 0.125))
rows, worst = [], 0.0
for name, (net, scaling) in NETS.items():
    s = specs[name]
    for p in P_GRID:
        res = learnable(s, D**p, scaling, D=D)
        learned = set(res.learned)
        disagree = [
            key for key, (lo, hi) in res.index.items()
            if (key in learned and lo > p) or (key not in learned and key not in res.partial and hi < p)
        ]
        for key in disagree:
            lo, hi = res.index[key]
            worst = max(worst, abs(lo - p), abs(hi - p))
        rows.append(
            dict(network=name, p=p, m=round(D**p), learned=res.learned, by_index=res.learned_by_index, disagree=disagree)
        )
learn_table = pd.DataFrame(rows)
print("largest |L(r) - p| among disagreements:", worst)
learn_table

# %% [markdown]
# Number of learned eigenfunctions against m, per network: the deep CNN learns its
# many local low-space modes first.

# %%
from matplotlib.figure import Figure

fig = Figure(figsize=(6, 4), layout="constrained")
ax = fig.add_subplot()
m_grid = np.geomspace(4, 4000 if FAST else 40000, 30)
for name, (net, scaling) in NETS.items():
    s = specs[name]
    mult = {(c.frequency, c.space): c.multiplicity for c in s.classes()}
    counts = [sum(mult[k] for k in learnable(s, m).learned) for m in m_grid]
    ax.loglog(m_grid, counts, label=name)
ax.loglog(m_grid, m_grid / 2, "k:", label="m / 2")
ax.set_xlabel("samples m")
ax.set_ylabel("dimension of learned classes")
ax.legend(fontsize="small")
fig

# %% [markdown]
# ## The exponent of $n_0$ (M19 with $a_0 > 0$)
# On a product of spheres $(S^{n_0-1})^4$ with the tree $[2, 2]$, the exact
# eigenvalues fall like $n_0^{-|r|}$ as $n_0$ grows (local log-log slopes).

# %%
N0S = [8, 16, 32, 64] if FAST else [8, 16, 32, 64, 128, 256]
RS = [(1, 0, 0, 0), (1, 1, 0, 0), (1, 0, 1, 0), (2, 0, 0, 0), (1, 1, 1, 0)]
small = tree([2, 2])
values = {r: [] for r in RS}
for n0 in N0S:
    s = spectrum(small, ProductSphere(4, n0), KIND, 3)
    for r in RS:
        values[r].append(float(s.eigenvalue(r)))
slopes = {r: np.diff(np.log(values[r])) / np.diff(np.log(N0S)) for r in RS}
pd.DataFrame({str(r): dict(zip([f"{a}->{b}" for a, b in zip(N0S, N0S[1:])], sl)) for r, sl in slopes.items()}).T

# %% [markdown]
# ## Checks (Xiao 2021)
# * MLP: exactly one class per frequency with one eigenvalue (relative spread < 1e-9);
# * tree CNNs of depth >= 2 split some frequency into several spaces (depth 1, one
#   window, is a one-hidden-layer MLP and does not);
# * at every frequency $\ge 1$, the eigenvalue ranges of successive spaces
#   are ordered — every eigenvalue of space $s$ exceeds every eigenvalue of space
#   $s' > s$ for the depth-4 tree at frequency 2 (local beats global);
# * learning-index rule: learnability and $L(r)$ vs $p$ agree except for classes within
#   0.75 of the threshold ($D^{0.75} = 8$: the constant factors at $D = 16$; the largest
#   gap seen is 0.25 in the FAST grid, 0.625 in the full one);
# * $\lambda(r) \propto n_0^{-|r|}$: last local slope within 0.05 of $-|r|$.

# %%
mlp_classes = specs["MLP"].classes()
assert [c.frequency for c in mlp_classes] == list(range(F + 1))
for c in mlp_classes:
    assert c.max_eigenvalue - c.min_eigenvalue <= 1e-9 * c.max_eigenvalue, c

deep = [c for c in specs["CNN depth 4 [2,2,2,2]"].classes() if c.frequency == 2]
assert [c.space for c in deep] == [5, 6, 7, 8]  # adjacent pair .. pair across the root
for a, b in zip(deep, deep[1:]):
    assert a.min_eigenvalue > b.max_eigenvalue, (a, b)

for name, s in specs.items():
    if name.startswith("CNN") and "depth 1" not in name:
        assert any(len({c.space for c in s.classes() if c.frequency == f}) > 1 for f in range(2, F + 1)), name

assert worst <= 0.75, worst

for r in RS:
    assert abs(slopes[r][-1] + sum(r)) < 0.05, (r, slopes[r])
print("frequency-2 classes of the depth-4 CNN:", [(c.space, f"{c.max_eigenvalue:.3e}") for c in deep])
print("local slopes at the largest n0:", {r: round(float(sl[-1]), 4) for r, sl in slopes.items()})
