"""The op table is the program: numba and the numpy reference run the same steps (ISSUE 12).

The numpy reference interpreter reads :class:`Program` steps; the numba one
reads the op table encoded from them.  Decoding the table must give back every
step (op, registers, widths, windows, weights), so both back ends provably run
one program; the tests in test_engine.py then show they compute the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from eigencalc.architectures import (
    AvgPool, Conv, Dense, Erf, FanInSum, FanOut, Flatten, GlobalAvgPool, Identity, Relu, Tanh, parallel, serial,
)
from eigencalc.kernel.compiler import compile_network
from eigencalc.kernel.ops import Op
from eigencalc.kernel.table import decode_steps, op_table

NETS = {
    "tree": (serial(Conv(2, stride=2), Relu(), Conv(2, stride=2), Erf(), Flatten(), Dense(b_std=0.3)), 4),
    "circular_gap": (serial(Conv(3, padding="CIRCULAR", W_std=1.5), Relu(), GlobalAvgPool(), Dense()), 5),
    "avgpool": (serial(Conv(1), Relu(), AvgPool(2, padding="CIRCULAR"), Flatten(), Dense()), 4),
    "residual": (serial(Conv(1), FanOut(2), parallel(serial(Relu(), Conv(3, padding="CIRCULAR")), Identity()),
                        FanInSum(), Tanh(), Flatten(), Dense()), 6),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_decoded_table_equals_the_steps(name):
    net, d = NETS[name]
    program = compile_network(net, d)
    table = op_table(program)
    decoded = decode_steps(table)
    assert len(decoded) == len(program.steps)
    for step, (op, src, dst, w_in, w_out, index, w_var, b_var) in zip(program.steps, decoded):
        assert (op, src, dst, w_in, w_out) == (step.op, step.src, step.dst, step.width_in, step.width_out)
        if step.op in (Op.AFFINE, Op.AVGPOOL):
            assert np.array_equal(index, step.index)
        if step.op == Op.AFFINE:
            assert (w_var, b_var) == (step.layer.w_var, step.layer.b_var)
    # the activation variance slots agree too
    assert [(s, slot, w) for s, _, slot, w in table.activations] == list(program.variance_slots)
    assert table.n_var == program.n_variances


def test_every_step_op_has_a_code_and_node_ops_do_not():
    step_ops = {Op.AFFINE, Op.ACTIVATION, Op.FLATTEN, Op.POOL, Op.AVGPOOL, Op.SUM}
    assert sorted(op.code for op in step_ops) == list(range(6))
    assert Op.INPUT.code == Op.AVERAGE.code == -1
    assert Op.AFFINE == "affine" and str(Op.POOL) == "pool"
