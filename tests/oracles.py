"""Independent oracles shared by the tests (built here, not imported from eigencalc)."""

from __future__ import annotations

import sympy

t = sympy.Symbol("t")


def relu_kernels(depth: int):
    r"""(NNGP, NTK) of ``depth`` hidden ReLU layers, :math:`W_{std}^2 = 2`, b = 0, unit inputs.

    :math:`\Sigma_0 = \Theta_0 = t`, :math:`\Sigma_{l+1} = k_1(\Sigma_l)`,
    :math:`\Theta_{l+1} = \Theta_l k_0(\Sigma_l) + \Sigma_{l+1}` with the arc-cosine maps
    :math:`k_1(r) = (\sqrt{1-r^2} + (\pi - \arccos r) r)/\pi`, :math:`k_0(r) = (\pi - \arccos r)/\pi`.
    """

    def k1(r):
        return (sympy.sqrt(1 - r**2) + (sympy.pi - sympy.acos(r)) * r) / sympy.pi

    def k0(r):
        return (sympy.pi - sympy.acos(r)) / sympy.pi

    sigma, theta = t, t
    for _ in range(depth):
        nxt = k1(sigma)
        theta = theta * k0(sigma) + nxt
        sigma = nxt
    return sigma, theta
