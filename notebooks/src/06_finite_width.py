# %% [markdown]
# # Finite width: the 1/n corrections of Roberts–Yaida–Hanin, checked against sampled networks
#
# *The Principles of Deep Learning Theory* (Roberts, Yaida, Hanin; arXiv:2106.10165), chapters 4, 5, 8,
# and `docs/finite_width.md` (equation tags F1–F24).  At width n the preactivation statistics of an MLP
# deviate from the Gaussian process by the four-point vertex $V/n$, the mean shift $K_1/n$ and, for the
# NTK, the fluctuations $(A + 2B)/n$.  All are leading-order recursions in the depth; we check them
# against Monte-Carlo of real finite networks and show that what is left over is of order $1/n^2$.

# %%
import os

import matplotlib

matplotlib.use("Agg")
import numpy as np

import eigencalc as ec
from eigencalc.finite import monte_carlo_moments, monte_carlo_ntk
from eigencalc.io.plots import plot_finite_width
from eigencalc.reports import to_frame

FAST = os.environ.get("EIGENCALC_NOTEBOOK_SCALE") == "ci"
N = 4000 if FAST else 20000  # sampled networks per check

# %% [markdown]
# ## Leading-order predictions against Monte-Carlo
# ReLU, tanh and GELU, each at its critical point (GELU: the $K^*>0$ point of `ec.criticality`).
# Each row: the prediction, the Monte-Carlo estimate, its standard error and the z-score, for
# the connected four-point function $V/n$, the mean $K + K_1/n$ and the NTK variance $(A+2B)/n$, and the
# size of the neglected $O(1/n^2)$ term, estimated as 1.5 x (expansion parameter) x (leading term), where the
# expansion parameter is $V/(nK^2)$ or $(A+2B)/(nH^2)$ (the $z$-scores of deep, narrow rows include it).

# %%
gelu = ec.criticality("gelu")
q_gelu = (gelu.K_star - gelu.C_b) / gelu.C_W  # start on the fixed point
cases = [("relu", 2, 0, 1, [30, 30, 30, 8]), ("tanh", 1, 0, 1, [10, 10, 10, 10, 8]),
         ("gelu", float(gelu.C_W), float(gelu.C_b), float(q_gelu), [30, 30, 30, 8])]
rows = []
results = []
for seed, (name, C_W, C_b, q0, widths) in enumerate(cases):
    ker = ec.finite_width_mlp(widths, name, C_W, C_b, q0)
    ntk = ec.finite_width_ntk(widths, name, C_W, C_b, q0)
    x = np.full(10, np.sqrt(q0))
    mk = monte_carlo_moments(widths, name, C_W, C_b, x, N, seed=seed)
    mn = monte_carlo_ntk(widths, name, C_W, C_b, x, N, seed=100 + seed)
    results.append(ntk)
    i, n = len(widths) - 1, widths[-2]
    vK, vH = float(ker.normalized_vertex[i]) / n, float(ntk.normalized_ntk_variance[i]) / n
    for what, pred, est, se, scale in [
        ("V/n", ker.four_point[i], mk.four_point[i], mk.four_point_se[i], vK * float(ker.four_point[i])),
        ("K + K1/n", ker.mean[i], mk.mean[i], mk.mean_se[i], vK * abs(float(ker.mean[i] - ker.K[i]))),
        ("(A+2B)/n", ntk.ntk_variance[i], mn.estimates[i]["variance"], mn.estimates[i]["variance_se"], max(vK, vH) * float(ntk.ntk_variance[i])),
    ]:
        rows.append({"activation": name, "L/n": round(len(widths[:-1]) / n, 2), "quantity": what, "predicted": float(pred),
                     "monte_carlo": float(est), "se": float(se), "z": (float(est) - float(pred)) / float(se),
                     "next_order": 1.5 * scale})
table = to_frame(rows)
table

# %% [markdown]
# ## Against depth
# Normalised corrections $V/(nK^2)$, $K_1/(nK)$ and $(A+2B)/(nH^2)$ grow linearly in $l/n$ at criticality.

# %%
fig = plot_finite_width(results)
fig

# %% [markdown]
# ## The residual is of order $1/n^2$
# tanh, four layers: the Monte-Carlo NTK variance minus the leading prediction at $n$ and $2n$.
# Leading-order theory is right up to $O(1/n^2)$, so doubling the width divides the residual by about 4.

# %%
res = {}
for n in (6, 12):
    widths = [n] * 4
    th = ec.finite_width_ntk(widths, "tanh", 1, 0, 1)
    e = monte_carlo_ntk(widths, "tanh", 1, 0, np.ones(10), 3 * N, seed=n, units=n).estimates[3]
    res[n] = (e["variance"] - float(th.ntk_variance[3]), e["variance_se"])
ratio = res[6][0] / res[12][0]
ratio_se = ratio * np.hypot(res[6][1] / res[6][0], res[12][1] / res[12][0])
print({n: f"{r:.4f} +- {s:.4f}" for n, (r, s) in res.items()}, f"ratio {ratio:.2f} +- {ratio_se:.2f}")

# %% [markdown]
# ## Beyond leading order: the metric chain (F18–F20)
# At one input the finite network is exactly a scalar Markov chain for the stochastic metric $\hat G$
# ($E z^2 = E\hat G$, four-point function $= \mathrm{Var}\,\hat G$).  `finite_width_moments` propagates it
# exactly for the ReLU family and by an N-point Gauss rule for its law otherwise, with no expansion in
# $1/n$.  At $L/n = 1/2$ the leading order misses by many standard errors (ReLU, GELU: the expansion
# parameter is about 2); the chain agrees raw, with no allowance.

# %%
chain_rows = []
for seed, (name, C_W, C_b, q0, widths) in enumerate([
        ("relu", 2, 0, 1, [10] * 5), ("tanh", 1, 0, 1, [20] * 10),
        ("gelu", float(gelu.C_W), float(gelu.C_b), float(q_gelu), [10] * 5)]):
    lead = ec.finite_width_mlp(widths, name, C_W, C_b, q0)
    chain = ec.finite_width_moments(widths, name, C_W, C_b, q0)
    mk = monte_carlo_moments(widths, name, C_W, C_b, np.full(10, np.sqrt(q0)), 10 * N, seed=200 + seed)
    i = len(widths) - 1
    for what, est, se, lo, ch in [("four_point", mk.four_point[i], mk.four_point_se[i], lead.four_point[i], chain.four_point[i]),
                                  ("mean", mk.mean[i], mk.mean_se[i], lead.mean[i], chain.mean[i])]:
        chain_rows.append({"activation": name, "L/n": len(widths) / widths[0], "quantity": what,
                           "monte_carlo": float(est), "se": float(se), "leading": float(lo),
                           "z_leading": (float(est) - float(lo)) / float(se), "chain": float(ch),
                           "z_chain": (float(est) - float(ch)) / float(se), "closure": chain.truncation})
chain_table = to_frame(chain_rows)
chain_table

# %% [markdown]
# The leading-order residual of the GELU four-point function is $O(1/n^2)$, and the chain predicts it:

# %%
gelu_args = ("gelu", float(gelu.C_W), float(gelu.C_b), float(q_gelu))
gres = {}
for n in (8, 16):
    widths = [n] * 4
    lead = ec.finite_width_mlp(widths, *gelu_args)
    chain = ec.finite_width_moments(widths, *gelu_args, atoms=4)
    mk = monte_carlo_moments(widths, *gelu_args[:3], np.full(10, np.sqrt(float(q_gelu))), 20 * N, seed=300 + n)
    gres[n] = (mk.four_point[3] - float(lead.four_point[3]), mk.four_point_se[3], float(chain.four_point[3] - lead.four_point[3]))
gratio = gres[8][0] / gres[16][0]
gratio_se = gratio * np.hypot(gres[8][1] / gres[8][0], gres[16][1] / gres[16][0])
print({n: f"MC {r:.3f} +- {s:.3f}, chain {c:.3f}" for n, (r, s, c) in gres.items()}, f"ratio {gratio:.2f} +- {gratio_se:.2f}")

# %% [markdown]
# ## The exact NTK variance of ReLU networks (F23)
# For bias-free ReLU the NTK at one input reduces exactly to independent per-layer chi-square variables
# (`docs/finite_width.md`), so its mean and variance are rationals at every width.  Leading order, exact and
# Monte-Carlo at $L/n$ from 0.05 to 0.5:

# %%
relu_rows = []
for seed, n in enumerate((80, 40, 16, 8)):
    widths = [n] * 4 + [8]
    ex = ec.exact_relu_ntk(widths)
    lead = ec.finite_width_ntk(widths, "relu", 2)
    e = monte_carlo_ntk(widths, "relu", 2, 0, np.ones(10), 5 * N, seed=400 + seed).estimates[4]
    relu_rows.append({"L/n": 4 / n, "leading": float(lead.ntk_variance[4]), "exact": str(ex.variance[4]),
                      "exact_float": float(ex.variance[4]), "monte_carlo": e["variance"], "se": e["variance_se"],
                      "z_leading": (e["variance"] - float(lead.ntk_variance[4])) / e["variance_se"],
                      "z_exact": (e["variance"] - float(ex.variance[4])) / e["variance_se"]})
to_frame(relu_rows)

# %% [markdown]
# ## The NTK variance beyond leading order for any activation (F24)
# For tanh and GELU the backward split behind F23 still holds, with the state $(\zeta\cdot\delta, |\delta|^2)$;
# given the metric its per-layer transfer is exact (sums over i.i.d. units, Laplace transforms for the
# $1/R$ factors), and the one approximation is interpolating the transferred functions on nodes of the
# metric (`closure_error`: the change from 10 to 12 nodes).  Same grid of $L/n$ as above; at $L = 4$ the
# residual beyond the leading order, measured and predicted, shrinks like $1/n^2$ (ratio 4 when n doubles).

# %%
ntk_rows = []
for seed, (name, C_W, C_b, q0) in enumerate([("tanh", 1, 0, 1), gelu_args]):
    for k, n in enumerate((80, 40, 16, 8)):
        widths = [n] * 4 + [8]
        chain = ec.finite_width_ntk_moments(widths, name, C_W, C_b, q0)
        lead = ec.finite_width_ntk(widths, name, C_W, C_b, q0)
        e = monte_carlo_ntk(widths, name, C_W, C_b, np.full(10, np.sqrt(float(q0))), 5 * N, seed=500 + 10 * seed + k).estimates[4]
        ntk_rows.append({"activation": name, "L/n": 4 / n, "leading": float(lead.ntk_variance[4]),
                         "chain": chain.variance[4], "closure_error": chain.closure_error[4],
                         "monte_carlo": e["variance"], "se": e["variance_se"],
                         "z_leading": (e["variance"] - float(lead.ntk_variance[4])) / e["variance_se"],
                         "z_chain": (e["variance"] - chain.variance[4]) / e["variance_se"]})
to_frame(ntk_rows)

# %%
beyond = {}
for n in (6, 12):
    widths = [n] * 4
    lead, chain = ec.finite_width_ntk(widths, "tanh", 1, 0, 1), ec.finite_width_ntk_moments(widths, "tanh", 1)
    e = monte_carlo_ntk(widths, "tanh", 1, 0, np.ones(10), 3 * N, seed=n, units=n).estimates[3]
    beyond[n] = (e["variance"] - float(lead.ntk_variance[3]), e["variance_se"], chain.variance[3] - float(lead.ntk_variance[3]))
print({n: f"MC {r:.4f} +- {s:.4f}, chain {c:.4f}" for n, (r, s, c) in beyond.items()},
      f"chain ratio {beyond[6][2] / beyond[12][2]:.2f}")
fig = plot_finite_width([ec.finite_width_ntk_moments([8] * 5, "tanh", 1), ec.finite_width_ntk([8] * 5, "tanh", 1)])
fig

# %% [markdown]
# ## Universality at large depth
# Scale-invariant class (exact for every l) and the $K^*=0$ class (leading asymptotics), F14/F15.

# %%
for name in ["relu", "tanh"]:
    c = ec.large_depth_constants(name)
    print(name, c.universality, {k: str(v) for k, v in c.exprs.items()})

# %% [markdown]
# ## The finite-width shift of every eigenvalue on the sphere (F16)
# Funk–Hecke eigenvalues $\mu_k$ of the mean NNGP of a depth-3 ReLU MLP on $S^2$ and their $1/n$ shifts.

# %%
sph = ec.finite_width_sphere([10, 10, 10], "relu", 2, 0, n0=3, kmax=6, kind="nngp")
sph.to_frame()

# %% [markdown]
# The same for the mean NTK of a tanh MLP (F17; odd activation, so only odd frequencies), with the
# trace identity $\sum_k N(n_0,k)\,\mu_k[H_{1,12}] = H_1$ (single input) as a check.

# %%
sph_ntk = ec.finite_width_sphere([8, 8, 8], "tanh", 1, 0, n0=3, kmax=15, nodes=32, kind="ntk")
trace = sum(N * v for N, v in zip(sph_ntk.multiplicities, sph_ntk.shift))
print("trace", trace, "single-input H1", float(ec.finite_width_ntk([8, 8, 8], "tanh", 1, 0, 1).H1[-1]))
sph_ntk.to_frame().head(6)

# %% [markdown]
# ## Checks

# %%
assert all(abs(r["monte_carlo"] - r["predicted"]) < 4 * r["se"] + r["next_order"] for r in rows)
assert abs(ratio - 4) < max(1.5, 4 * ratio_se)
assert all(abs(r["z_chain"]) < 4 for r in chain_rows)
assert all(abs(r["z_exact"]) < 4 for r in relu_rows)
assert abs(gratio - 4) < max(1.0, 4 * gratio_se)
assert all(abs(r - c) < 4 * s for r, s, c in gres.values())
assert abs(trace - float(ec.finite_width_ntk([8, 8, 8], "tanh", 1, 0, 1).H1[-1])) < 1e-4
