"""Fixtures shared by the okcore tests."""

import numpy as np
import pytest

from okcore import GatedCell, TanhCell

CELL_CLASSES = (TanhCell, GatedCell)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded Generator for each test, so that tests do not depend on their order."""
    return np.random.default_rng(1234)


@pytest.fixture(params=CELL_CLASSES, ids=lambda cls: cls.__name__)
def cell_cls(request: pytest.FixtureRequest) -> type:
    """Each cell class in turn."""
    return request.param


def _central_diff(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of an array function: J[..., i] = (f(x + eps e_i) - f(x - eps e_i)) / 2 eps.

    ``x`` is an array of any shape; the result has shape f(x).shape + x.shape. In float64 with O(1) values the
    error is about eps² |f'''| / 6 ~ 1e-13 (truncation) plus 1e-16 |f| / eps ~ 1e-10 (rounding).
    """
    x = np.array(x, dtype=np.float64)
    out_shape = np.shape(f(x.copy()))
    J = np.empty(out_shape + (x.size,))
    for i in range(x.size):
        xp, xm = x.copy().ravel(), x.copy().ravel()
        xp[i] += eps
        xm[i] -= eps
        J[..., i] = (np.asarray(f(xp.reshape(x.shape))) - np.asarray(f(xm.reshape(x.shape)))) / (2 * eps)
    return J.reshape(out_shape + x.shape)


@pytest.fixture
def central_diff():
    """The finite-difference helper above, as a fixture: ``central_diff(f, x, eps=1e-6)``."""
    return _central_diff
