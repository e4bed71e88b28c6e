"""``verify`` (eigencalc.checks.verify): exact Walsh rows on hypercubes, Monte-Carlo rows on spheres, disagreement.

Moved from test_numerics.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from eigencalc import numerics as nm
from eigencalc.checks import verify as verify_impl
from eigencalc.architectures import Relu
from eigencalc.domains import ProductHypercube
from tests.cases import POLY_DOMAIN, POLY_NET, _arch


# ----------------------------------------------------------------- verify


def test_verify_hypercube_uses_exact_walsh():
    net = _arch("cnn_valid", Relu)
    rep = nm.verify(net, ProductHypercube(6, 1), "ntk", max_frequency=3)
    assert rep.method == "walsh" and rep.all_agree and bool(rep)
    assert rep.rows and all(dataclasses.is_dataclass(row) for row in rep.rows)
    assert {row.frequency for row in rep.rows} == {0, 1, 2, 3}
    for row in rep.rows:
        assert abs(row.estimate - row.value) <= row.error + row.value_error
    text = repr(rep)
    assert "walsh" in text and "agree" in text and str(rep.rows[0].r) in text


def test_verify_reports_disagreement(monkeypatch):
    net = _arch("tree_cnn", Relu)
    true = nm.hypercube_spectrum
    monkeypatch.setattr(verify_impl, "hypercube_spectrum", lambda *a, **k: true(*a, **k) * 1.001)
    rep = nm.verify(net, ProductHypercube(4, 1), "ntk", max_frequency=2)
    assert not rep.all_agree
    assert "NO" in repr(rep)


@pytest.mark.slow
def test_verify_sphere_monte_carlo():
    rep = nm.verify(POLY_NET, POLY_DOMAIN, "ntk", max_frequency=3, n_samples=200_000, seed=3)
    assert rep.method == "monte-carlo" and rep.estimator == "addition"
    assert len(rep.rows) == 9 and rep.all_agree, rep
    assert {row.frequency for row in rep.rows} == {0, 1, 2, 3}


def test_verify_input_errors():
    with pytest.raises(ValueError, match="method"):
        nm.verify(POLY_NET, POLY_DOMAIN, method="exact")
    with pytest.raises(ValueError, match="ProductHypercube"):
        nm.verify(POLY_NET, POLY_DOMAIN, method="walsh")
    with pytest.raises(TypeError, match="domain"):
        nm.verify(POLY_NET, 4)
