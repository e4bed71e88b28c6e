"""Cases shared by several test files: networks, inputs and brute-force helpers.

A plain module, imported as ``from tests.cases import ...`` (``tests`` is a
package and pytest puts the rootdir on ``sys.path``).  Fixtures live in
``tests/conftest.py``, closed-form oracles in ``tests/oracles.py``.  Each
definition was moved verbatim from the test file named in its section header,
so the parameters of the tests that use it are unchanged.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy
from hypothesis import strategies as st

from eigencalc import architectures as A
from eigencalc.architectures import (
    Conv,
    Dense,
    FanInSum,
    FanOut,
    Flatten,
    GlobalAvgPool,
    Identity,
    Monomial,
    Polynomial,
    Relu,
    parallel,
    serial,
)
from eigencalc.domains import ProductSphere


# ------------------------------------------- raw inputs and CNNs (from test_architectures.py; tests/kernel)


def equal_norm(rng, shape):
    """Random inputs with every patch of squared norm n0 (shape (N, d, n0))."""
    X = rng.standard_normal(shape)
    return X * np.sqrt(shape[-1]) / np.linalg.norm(X, axis=-1, keepdims=True)


def patch_correlations(X, Y):
    """t_i = <x_i, y_i>/n0 for each pair: shape (N, M, d)."""
    return np.einsum("nic,mic->nmi", X, Y) / X.shape[-1]


def tree_cnn(act=A.Relu, b=0.0):
    return A.serial(A.Conv(2, stride=2, W_std=1.2, b_std=b), act(), A.Conv(2, stride=2, b_std=b), act(), A.Flatten(), A.Dense(W_std=0.8, b_std=b))


def overlap_cnn(act=A.Erf, padding="VALID", b=0.2):
    conv = lambda: A.Conv(3, padding=padding, W_std=1.3, b_std=b)  # noqa: E731
    return A.serial(conv(), act(), conv(), act(), A.Flatten(), A.Dense(b_std=b))


def residual_cnn(act=A.Relu):
    conv = lambda: A.Conv(3, padding="CIRCULAR", W_std=1.1, b_std=0.1)  # noqa: E731
    block = A.serial(A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), conv())), A.FanInSum())
    return A.serial(conv(), block, act(), A.Flatten(), A.Dense())


# Random architectures for the hypothesis laws of tests/kernel/test_engine.py; ACTS are the activations
# they draw from (test_engine.py has its own ACTS for the Gram tests, from test_numerics.py).
ACTS = {"relu": A.Relu, "erf": A.Erf, "abs": A.Abs, "leaky": lambda: A.LeakyRelu(0.3)}


@st.composite
def architectures(draw, dense_first=False, pooling=True):
    """(net, d): random MLPs, CNNs (VALID/CIRCULAR, overlap or not), residual blocks, Flatten/GAP readouts."""
    act = ACTS[draw(st.sampled_from(sorted(ACTS)))]
    W = draw(st.floats(0.6, 1.8))
    b = draw(st.sampled_from([0.0, 0.25]))
    readout = A.GlobalAvgPool() if pooling and draw(st.booleans()) else A.Flatten()
    shape = "dense" if dense_first else draw(st.sampled_from(["mlp", "cnn", "residual"]))
    if shape == "mlp":
        return A.mlp(draw(st.integers(1, 3)), act(), W, b), 1
    d = draw(st.integers(2, 6))
    if shape == "dense":
        layers = [A.Dense(W, b), act(), A.Dense(W, b), act(), readout, A.Dense(W, b)]
        return A.serial(*layers), d
    padding = draw(st.sampled_from(["VALID", "CIRCULAR"]))
    q = draw(st.integers(1, d))
    s = draw(st.integers(1, q))
    conv = A.Conv(q, stride=s, padding=padding, W_std=W, b_std=b)
    if shape == "cnn":
        return A.serial(conv, act(), readout, A.Dense(W, b), act(), A.Dense(W, b)), d
    block = A.serial(A.FanOut(2), A.parallel(A.Identity(), A.serial(act(), A.Dense(W, b))), A.FanInSum())
    return A.serial(conv, block, act(), readout, A.Dense(W, b)), d


# ------------------------------------------- networks by name (from test_numerics.py; kernel, spectral, checks)


def _arch(name: str, act):
    A = act
    if name == "mlp":
        return serial(Flatten(), Dense(1.5, 0.3), A(), Dense(1.2, 0.1), A(), Dense())
    if name == "tree_cnn":
        return serial(Conv(2, stride=2), A(), Conv(2, stride=2), A(), Flatten(), Dense())
    if name == "cnn_valid":
        return serial(Conv(3), A(), Conv(2, W_std=1.3, b_std=0.2), A(), Flatten(), Dense())
    if name == "cnn_circular":
        return serial(Conv(3, padding="CIRCULAR"), A(), Conv(3, stride=2, padding="CIRCULAR"), A(), Flatten(), Dense())
    if name == "residual":
        return serial(
            Conv(2, padding="CIRCULAR"),
            FanOut(2),
            parallel(serial(A(), Conv(3, padding="CIRCULAR", b_std=0.1)), Identity()),
            FanInSum(),
            A(),
            Flatten(),
            Dense(),
        )
    if name == "gap":
        return serial(Conv(3, padding="CIRCULAR"), A(), Conv(2), A(), GlobalAvgPool(), Dense(), A(), Dense())
    raise KeyError(name)


# A tree CNN with polynomial activations: K is a polynomial in t, the tree method is exact.
POLY_NET = serial(Conv(2, stride=2), Polynomial([0.2, 1, 0.5]), Flatten(), Dense(b_std=0.5), Monomial(2), Dense())
POLY_DOMAIN = ProductSphere(4, 3)
POLY_R = [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 1, 0, 1), (0, 0, 0, 2), (0, 0, 1, 2), (0, 1, 1, 1), (0, 0, 0, 3)]


# ------------------------------------------- spectra (from test_spectra.py, test_reports.py, test_pooling.py)


# The depth-2 tree CNN of the spectrum tests; test_reports.py called it NET.
TREE = serial(Conv(2, stride=2), Relu(), Conv(2, stride=2), Relu(), Flatten(), Dense())


def _mm_nets():
    conv = lambda: Conv(3, padding="CIRCULAR")  # noqa: E731
    return {
        "CK-GP": serial(conv(), Relu(), conv(), Relu(), GlobalAvgPool(), Dense()),
        "CK": serial(conv(), Relu(), conv(), Relu(), Flatten(), Dense()),
        "FC": serial(Flatten(), Dense(), Relu(), Dense(), Relu(), Dense()),
    }


# ------------------------------------------- brute force on product domains (from test_spectra.py; also
# test_pooling.py and test_targets.py, whose copies computed the same arrays)


def _all_points(domain):
    n = domain.d * domain.n0
    pts = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
    return pts.reshape(-1, *domain.grid, domain.n0)  # (N, d, n0), or (N, H, W, n0) on a grid


def _gram_eigenvalues(net, domain, kind):
    """Eigenvalues of the integral operator: eigvalsh(Gram) / (number of points)."""
    X = _all_points(domain)
    G = net.kernel_fn(X, X, kind)
    return np.sort(np.linalg.eigvalsh(G)) / len(X)


def _cyclic_diameter(S, d):
    """Size of the smallest cyclic interval of Z_d containing S."""
    if not S:
        return 0
    s = sorted(S)
    gaps = [(s[(i + 1) % len(s)] - s[i]) % d or d for i in range(len(s))]
    return d - max(gaps) + 1


def _legendre_quadrature_eigenvalue(kernel, r, nodes=160):
    """lambda(r) on (S^2)^d, d <= 2: int K(t) prod P_{r_i}(t_i) prod dt_i/2 (n0 = 3: Legendre)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    d = len(r)
    P = [np.polynomial.legendre.Legendre.basis(k)(x) for k in r]
    if d == 1:
        return float(np.sum(w / 2 * kernel(x[:, None]) * P[0]))
    T1, T2 = np.meshgrid(x, x, indexing="ij")
    K = kernel(np.stack([T1, T2], axis=-1))
    return float(np.einsum("i,j,ij,i,j->", w / 2, w / 2, K, P[0], P[1]))


# ----------------------------------------------------------------- activation cases

#: Activations with exact Hermite coefficients and closed-form duals (name, parameters).
CLOSED_FORM_ACTIVATIONS = [
    ("relu", {}),
    ("leaky_relu", {"slope": 0.2}),
    ("abs", {}),
    ("step", {}),
    ("erf", {}),
    ("sin", {}),
    ("cos", {}),
    ("exp", {}),
    ("monomial", {"degree": 3}),
    ("polynomial", {"coeffs": [1, -2, 0, sympy.Rational(1, 2)]}),
]
#: Activations whose Hermite coefficients come from quadrature.
QUADRATURE_ACTIVATIONS = [("tanh", {}), ("sigmoid", {}), ("gelu", {}), ("swish", {}), ("softplus", {})]
