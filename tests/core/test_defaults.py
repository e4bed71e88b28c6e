"""The defaults policy (README, "Defaults policy"; ISSUE 12): one value per knob, old spellings deprecated.

* ``kind`` has no default anywhere; omitting it warns and keeps the old meaning for one release.
* Precision comes from the mpmath context; ``dps=`` warns.
* Functions that need a domain take a Domain; the integer form of ``hypercube_spectrum`` warns.
* The same Monte-Carlo sample count, dual-series length and tree truncation in API and CLI.
* The trace is ``trace()`` everywhere; ``total()`` / ``.total`` warn.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import mpmath
import numpy as np
import pytest

import eigencalc as ec
from eigencalc import architectures, numerics, pooling, spectra
from eigencalc.core import defaults
from eigencalc.core.validate import REQUIRED
from eigencalc.io.cli import build_parser
from eigencalc.kernel.layers import Layer
from eigencalc.spectral.tree import TreeRecursion

from tests.cases import TREE

NET = architectures.serial(architectures.Conv(2, stride=2), architectures.Relu(), architectures.Flatten(), architectures.Dense())
CUBE = ec.ProductHypercube(4, 1)


def _public_callables():
    modules = [ec, architectures, numerics, spectra, pooling, ec.learning]
    seen = {}
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if callable(meth) and not meth_name.startswith("_"):
                        seen[f"{name}.{meth_name}"] = meth
            elif callable(obj):
                seen[name] = obj
    for meth_name in ("kernel_fn", "kernel_of_correlations", "kernel_series"):
        seen[f"Layer.{meth_name}"] = getattr(Layer, meth_name)
    return seen


def test_kind_has_no_default_anywhere():
    with_kind = {}
    for name, fn in _public_callables().items():
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        if "kind" in params:
            with_kind[name] = params["kind"].default
    assert {"gram", "kernel_pairs", "gram_numpy", "spectrum", "hypercube_spectrum", "verify",
            "monte_carlo_eigenvalue", "empirical_spectrum", "krr_experiment", "Layer.kernel_fn"} <= set(with_kind)
    wrong = {name: default for name, default in with_kind.items() if default not in (REQUIRED, inspect.Parameter.empty)}
    assert not wrong, f"kind must be required (default REQUIRED) everywhere: {wrong}"


def test_no_public_dps_default():
    """Precision is the mpmath context: no public function defaults a dps of its own."""
    wrong = {}
    for name, fn in _public_callables().items():
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        if "dps" in params and params["dps"].default is not None:
            wrong[name] = params["dps"].default
    assert not wrong


def test_omitted_kind_warns_and_keeps_the_old_meaning():
    X = np.random.default_rng(0).standard_normal((3, 4, 2))
    with pytest.warns(DeprecationWarning, match=r"kernel_fn: pass kind='nngp' or kind='ntk'.*meant kind='nngp'"):
        old = NET.kernel_fn(X)
    np.testing.assert_array_equal(old, NET.kernel_fn(X, kind="nngp"))
    with pytest.warns(DeprecationWarning, match=r"spectrum: pass kind.*meant kind='ntk'"):
        spec = ec.spectrum(NET, CUBE, max_frequency=2)
    assert spec.kind == "ntk"
    with pytest.warns(DeprecationWarning, match="gram: pass kind"):
        numerics.gram(NET, X)


def test_cli_kind_warning_comes_after_a_successful_run():
    proc = subprocess.run([sys.executable, "-m", "eigencalc", "spectrum", "--arch", "Conv(2, stride=2) Relu Flatten Dense",
                           "--domain", "hypercube", "--d", "4", "--n0", "1", "--max-frequency", "1"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert "--kind will be required" in proc.stderr
    explicit = subprocess.run([sys.executable, "-m", "eigencalc", "spectrum", "--arch", "Conv(2, stride=2) Relu Flatten Dense",
                               "--domain", "hypercube", "--d", "4", "--n0", "1", "--max-frequency", "1", "--kind", "ntk"],
                              capture_output=True, text=True)
    assert explicit.returncode == 0 and "warning" not in explicit.stderr and explicit.stdout == proc.stdout


def test_hypercube_spectrum_takes_a_domain():
    new = numerics.hypercube_spectrum(NET, CUBE, "ntk")
    with pytest.warns(DeprecationWarning, match="pass a domain"):
        old = numerics.hypercube_spectrum(NET, 4, "ntk")
    np.testing.assert_array_equal(new, old)
    two = ec.ProductHypercube(2, 2)
    net2 = architectures.serial(architectures.Conv(2), architectures.Relu(), architectures.Flatten(), architectures.Dense())
    with pytest.warns(DeprecationWarning):
        old2 = numerics.hypercube_spectrum(net2, 2, "nngp", n0=2)
    np.testing.assert_array_equal(numerics.hypercube_spectrum(net2, two, "nngp"), old2)
    with pytest.raises(TypeError, match="ProductHypercube"):
        numerics.hypercube_spectrum(NET, ec.ProductSphere(4, 3), "ntk")
    with pytest.raises(TypeError, match="inside the domain"):
        numerics.hypercube_spectrum(NET, CUBE, "ntk", n0=2)


def test_trace_is_the_one_name():
    spec = ec.spectrum(TREE, ec.ProductSphere(4, 3), "ntk", 2)
    with pytest.warns(DeprecationWarning, match=r"Spectrum.total\(\) is deprecated.*Spectrum.trace\(\)"):
        assert spec.total() == spec.trace()
    series = NET.kernel_series(4, "ntk", 2)
    with pytest.warns(DeprecationWarning, match="KernelSeries.total"):
        assert series.total == series.trace()
    assert float(series.trace()) == pytest.approx(float(NET.kernel_of_correlations(np.ones(4), "ntk")), rel=1e-14)
    pooled_net = architectures.serial(architectures.Conv(2, padding="CIRCULAR"), architectures.Relu(),
                                      architectures.GlobalAvgPool(), architectures.Dense())
    pooled = ec.spectrum(pooled_net, CUBE, "ntk", 1)
    with pytest.warns(DeprecationWarning, match="PooledSpectrum.total"):
        assert pooled.total() == pooled.trace()
    assert not hasattr(TreeRecursion, "total") and hasattr(TreeRecursion, "trace")


def test_series_precision_comes_from_the_context():
    erf2 = architectures.mlp(2, "erf")
    default = erf2.series("nngp", 3)
    assert default.dps == mpmath.mp.dps + 15 == 30
    with mpmath.workdps(25):
        wide = erf2.series("nngp", 3)
    assert wide.dps == 40
    with pytest.warns(DeprecationWarning, match=r"kernel_series\(dps=...\)"):
        legacy = erf2.series("nngp", 3, dps=40)
    assert legacy.dps == 40
    for alpha, c in wide.coefficients.items():
        assert abs(c - legacy.coefficients[alpha]) <= mpmath.mpf(10) ** -38 * abs(c)


def test_one_value_per_knob_in_api_and_cli():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices
    samples = next(a for a in sub["verify"]._actions if a.dest == "samples").default
    max_power = next(a for a in sub["spectrum"]._actions if a.dest == "max_power").default
    assert samples == defaults.MONTE_CARLO_SAMPLES
    assert max_power == defaults.MAX_POWER
    assert inspect.signature(numerics.verify).parameters["n_samples"].default == defaults.MONTE_CARLO_SAMPLES
    assert inspect.signature(numerics.monte_carlo_eigenvalue).parameters["n_samples"].default == defaults.MONTE_CARLO_SAMPLES
    assert inspect.signature(ec.spectrum).parameters["max_power"].default == defaults.MAX_POWER
    assert inspect.signature(TreeRecursion).parameters["dual_terms"].default == defaults.DUAL_TERMS
    from eigencalc.kernel.series import kernel_series

    assert inspect.signature(kernel_series).parameters["dual_terms"].default == defaults.DUAL_TERMS
