"""Architectures as DAGs: stax-style layers composed into NNGP / NTK kernels (M1-M4).

A facade: the code lives in :mod:`eigencalc.kernel.layers`, :mod:`eigencalc.kernel.mlp`, :mod:`eigencalc.kernel.dag`, :mod:`eigencalc.kernel.compiler`, :mod:`eigencalc.kernel.series`, :mod:`eigencalc.kernel.ops`;
this module re-exports its public names so that user code keeps working.
"""

from .kernel.layers import (  # noqa: F401
    LAYERS, register, Layer, Dense, Conv, Phi, Flatten, GlobalAvgPool, AvgPool, Identity,
    FanOut, FanInSum, Serial, Parallel, serial, parallel, Relu, LeakyRelu, Abs, Erf, Tanh,
    Sigmoid, Gelu, Swish, Softplus, Sin, Cos, Exp, Monomial, Polynomial, Step, PADDINGS,
)
from .kernel.mlp import (  # noqa: F401
    MLP, mlp, t, rho,
)
from .kernel.dag import (  # noqa: F401
    Node, DagLayer, Dag, build_dag,
)
from .kernel.compiler import (  # noqa: F401
    Program, compile_network, conv_indices,
)
from .kernel.series import (  # noqa: F401
    KernelSeries, kernel_series,
)
from .kernel.ops import (  # noqa: F401
    Op,
)

__all__ = ['LAYERS', 'register', 'Layer', 'Dense', 'Conv', 'Phi', 'Flatten', 'GlobalAvgPool', 'AvgPool', 'Identity', 'FanOut', 'FanInSum', 'Serial', 'Parallel', 'serial', 'parallel', 'Relu', 'LeakyRelu', 'Abs', 'Erf', 'Tanh', 'Sigmoid', 'Gelu', 'Swish', 'Softplus', 'Sin', 'Cos', 'Exp', 'Monomial', 'Polynomial', 'Step', 'PADDINGS', 'MLP', 'mlp', 't', 'rho', 'Node', 'DagLayer', 'Dag', 'build_dag', 'Program', 'compile_network', 'conv_indices', 'KernelSeries', 'kernel_series', 'Op']
