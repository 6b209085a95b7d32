"""Computations behind the workbook's demonstrations, kept out of the notebooks so that they can be tested.

Each submodule holds what one notebook's demonstrations compute, for example :mod:`okcore.demos.truncation`
(how much of the gradient truncated BPTT loses, notebook 01) and :mod:`okcore.demos.scaling` (memory and time of
exact RTRL against the hidden size, notebook 02). Submodules build on the core modules, never the reverse.

This module itself holds :func:`numerical_gradient`, the finite-difference check of every analytic gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from okcore._checks import check_array, check_positive_float

__all__ = ["numerical_gradient"]


def numerical_gradient(f: Callable[[np.ndarray], float], X: object, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(X + eps E_i) − f(X − eps E_i)) / 2 eps for every entry i of X.

    ``f`` maps an array shaped like ``X`` to a float; ``X`` is not modified. Costs 2·X.size calls of ``f``.
    In float64 with O(1) values the error is about eps²·|f'''| (truncation) plus 1e-16·|f|/eps (rounding),
    i.e. around 1e-10 for the default eps.
    """
    X0 = check_array("X", X, [None] * np.ndim(X))
    eps = check_positive_float("eps", eps)
    grad = np.empty(X0.shape)
    flat = grad.reshape(-1)
    for i in range(X0.size):
        Xp = X0.copy()
        Xm = X0.copy()
        Xp.flat[i] += eps
        Xm.flat[i] -= eps
        flat[i] = (float(f(Xp)) - float(f(Xm))) / (2.0 * eps)
    return grad
