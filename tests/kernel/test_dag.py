"""The architecture DAG (eigencalc.kernel.dag): nodes, averaging weights, receptive fields, pooled DAGs.

Moved from test_architectures.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from eigencalc import architectures as A
from tests.cases import residual_cnn, tree_cnn


# ==========================================================================
# DAG structure
# ==========================================================================


def test_tree_dag_nodes_weights_receptive_fields():
    dag = tree_cnn(b=0.5).dag(4)
    assert dag.d == 4 and dag.leaves == (0, 1, 2, 3) and not dag.pooled
    assert [L.op for L in dag.layers] == ["affine", "activation", "affine", "activation", "flatten", "affine"]
    first = [dag.nodes[u] for u in dag.layers[0].nodes]
    assert [n.children for n in first] == [(0, 1), (2, 3)]
    assert first[0].exact_weights == (sympy.Rational(36, 50), sympy.Rational(36, 50))  # W^2/q = 1.44/2
    assert first[0].exact_bias == sympy.Rational(1, 4) and first[0].trainable
    assert [n.receptive_field for n in first] == [frozenset({0, 1}), frozenset({2, 3})]
    out = dag.nodes[dag.output]
    assert out.op == "affine" and out.receptive_field == frozenset(range(4))
    assert dag.parents(0) == (first[0].id,)
    assert dag.ancestors_of_output() == frozenset(range(len(dag.nodes)))
    root, sk = dag.skeleton()
    assert len(sk) == 3 and sk[root] == (first[0].id, first[1].id)
    text = dag.draw()
    assert "Conv(2, stride=2" in text and "<- output" in text and "rf={0,1}" in text
    assert repr(dag) == f"Dag(d=4, nodes={len(dag.nodes)}, layers=6, output={dag.output}, pooled=False)"
    assert str(dag) == text


def test_circular_and_residual_dag():
    dag = A.serial(A.Conv(3, padding="CIRCULAR"), A.Relu(), A.Flatten(), A.Dense()).dag(4)
    conv = [dag.nodes[u] for u in dag.layers[0].nodes]
    assert [n.children for n in conv] == [(3, 0, 1), (0, 1, 2), (1, 2, 3), (2, 3, 0)]
    flat = dag.nodes[dag.layers[2].nodes[0]]
    assert flat.op == "average" and flat.exact_weights == (sympy.Rational(1, 4),) * 4
    res = residual_cnn().dag(5)
    sums = [res.nodes[u] for L in res.layers if L.op == "sum" for u in L.nodes]
    assert len(sums) == 5 and all(len(n.children) == 2 and n.exact_weights == (1, 1) for n in sums)


def test_gap_dag_is_pooled_and_refuses_correlation_paths():
    net = A.serial(A.Conv(2), A.Relu(), A.GlobalAvgPool(), A.Dense())
    dag = net.dag(3)
    assert dag.pooled and dag.nodes[dag.layers[2].nodes[0]].op == "pool"
    with pytest.raises(ValueError, match=r"kernel_of_correlations: GlobalAvgPool\(\) at net\[2\].*cross-patch"):
        net.kernel_of_correlations(np.zeros(3))
    with pytest.raises(ValueError, match=r"kernel_series: GlobalAvgPool\(\) at net\[2\]"):
        net.kernel_series(3)
    # pooling a single position is plain averaging: allowed
    one = A.serial(A.Conv(3), A.Relu(), A.GlobalAvgPool(), A.Dense())
    assert not one.dag(3).pooled
    t = np.array([0.3, -0.2, 0.9])
    assert one.kernel_of_correlations(t) == pytest.approx(A.serial(A.Conv(3), A.Relu(), A.Dense()).kernel_of_correlations(t), rel=1e-14)
