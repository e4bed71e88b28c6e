# %% [markdown]
# # Criticality: kernel recursion flows, fixed points and susceptibilities
#
# Roberts–Yaida–Hanin, *The Principles of Deep Learning Theory* (arXiv:2106.10165), chapter 5;
# `shared/MATH.md` section 3.  The single-input kernel follows
# $K_{l+1} = C_b + C_W \langle \phi(z)^2 \rangle_{K_l}$; criticality is
# $\chi_\parallel = \chi_\perp = 1$ at a fixed point $K^*$.

# %%
import os

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

import eigencalc as ec

FAST = os.environ.get("EIGENCALC_NOTEBOOK_SCALE") == "ci"
DEPTH = 20 if FAST else 100

# %% [markdown]
# ## Universality classes
# One row per activation: the critical $(C_b, C_W)$, the fixed point and the susceptibilities.

# %%
names = ["relu", "leaky_relu", "tanh", "erf", "sin"] + ([] if FAST else ["gelu", "swish"]) + ["softplus", "step"]
rows = []
for name in names:
    rows.extend(ec.criticality(name).rows())
from eigencalc.reports import to_frame

table = to_frame(rows)
table

# %% [markdown]
# ## Kernel flows at criticality
# The scale-invariant class keeps $K$ fixed; the $K^*=0$ class decays like $1/(-a_1 l)$ (tanh: $a_1=-2$).

# %%
fig = Figure(figsize=(6, 4), layout="constrained")
ax = fig.add_subplot()
for name in ["relu", "tanh", "erf", "sin"]:
    crit = ec.criticality(name)
    flow = ec.kernel_flow(name, crit.C_W, crit.C_b, 1, DEPTH)
    ax.loglog(range(1, DEPTH + 1), [float(k) for k in flow[1:]], label=f"{name} ({crit.universality})")
ax.loglog(range(1, DEPTH + 1), [1 / (2 * l) for l in range(1, DEPTH + 1)], "k--", label="1/(2 l)")
ax.set_xlabel("layer l")
ax.set_ylabel("K_l")
ax.legend()
fig

# %% [markdown]
# ## Checks
# tanh at criticality follows $K_l \approx 1/(2l)$ for large $l$; ReLU's kernel does not move.

# %%
tanh_flow = ec.kernel_flow("tanh", 1, 0, 1, DEPTH)
assert abs(float(tanh_flow[-1]) * 2 * DEPTH - 1) < (0.15 if FAST else 0.05)
assert ec.kernel_flow("relu", 2, 0, 1, 5) == [1] * 6
print("K_L * 2L for tanh:", float(tanh_flow[-1]) * 2 * DEPTH)
