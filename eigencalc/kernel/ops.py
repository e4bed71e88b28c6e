r"""The one op vocabulary of eigencalc's kernels: program steps, DAG nodes and the numba op codes.

Every compiled step (:class:`~eigencalc.kernel.compiler.Step`), every DAG
node (:class:`~eigencalc.kernel.dag.Node`) and every row of the numba op
table uses these names; the integer :attr:`Op.code` is what the jitted
interpreter reads.  ``Op`` is a ``str`` enum, so ``Op.AFFINE == "affine"``.

======================  ==============  ===========================================================
op                      used by         kernel map (``../shared/MATH.md`` section 1)
======================  ==============  ===========================================================
``input``               nodes           :math:`\Sigma = \langle x_i, y_i\rangle / n_0` (a leaf)
``affine``              steps, nodes    Dense / Conv: M1, M2
``activation``          steps, nodes    elementwise :math:`\phi`: M3
``flatten``             steps           mean of the diagonal positions (M4)
``pool``                steps, nodes    mean over all position pairs (GlobalAvgPool, M4; an
                                        AvgPool window of several positions, section 6)
``avgpool``             steps           local average pooling (section 6)
``average``             nodes           mean of same-position kernels (Flatten, pooling of one position)
``sum``                 steps, nodes    FanInSum: kernels add
======================  ==============  ===========================================================
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Op", "OP_AFFINE", "OP_ACTIVATION", "OP_FLATTEN", "OP_POOL", "OP_SUM", "OP_AVGPOOL"]


class Op(str, Enum):
    """A step or node op (see the module table); ``code`` is its integer for the numba interpreter.

    >>> Op.AFFINE == "affine", Op("pool").code, Op.INPUT.code
    (True, 3, -1)
    """

    INPUT = "input"
    AFFINE = "affine"
    ACTIVATION = "activation"
    FLATTEN = "flatten"
    POOL = "pool"
    AVGPOOL = "avgpool"
    AVERAGE = "average"
    SUM = "sum"

    @property
    def code(self) -> int:
        """The integer of this op in the numba op table (-1 for node-only ops)."""
        return _CODES.get(self, -1)

    def __str__(self) -> str:
        return self.value


_CODES = {Op.AFFINE: 0, Op.ACTIVATION: 1, Op.FLATTEN: 2, Op.POOL: 3, Op.SUM: 4, Op.AVGPOOL: 5}

# Plain integers for the jitted interpreter (numba freezes module-level ints as constants).
OP_AFFINE = Op.AFFINE.code
OP_ACTIVATION = Op.ACTIVATION.code
OP_FLATTEN = Op.FLATTEN.code
OP_POOL = Op.POOL.code
OP_SUM = Op.SUM.code
OP_AVGPOOL = Op.AVGPOOL.code
