"""Sources of random signs for the unbiased estimators.

Every stochastic estimator draws its randomness only as arrays of ±1 signs from a *sign source*. A
``numpy.random.Generator`` is wrapped in :class:`RandomSigns`; :class:`ReplaySigns` hands out prescribed arrays,
which lets a test enumerate every sign pattern of an update and average the results exactly.

What ``rng`` accepts, everywhere in okcore (the Scientific Python convention SPEC 7, without ``None``):

* a ``numpy.random.Generator``: used as it is, so the caller's stream advances;
* an integer seed >= 0, a ``numpy.random.SeedSequence`` or a ``BitGenerator``: ``np.random.default_rng(rng)``;
* for the estimators, also a sign source (anything with a ``signs(shape)`` method).

``None`` is refused with a ``TypeError`` rather than read as "fresh OS entropy", so that every result of the
workbook can be reproduced; ``np.random.default_rng()`` gives fresh entropy when that is really wanted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import numpy as np

from okcore._checks import check_rng

__all__ = ["SignSource", "RandomSigns", "ReplaySigns", "as_sign_source"]


@runtime_checkable
class SignSource(Protocol):
    """Anything with ``signs(shape) -> float64 array of ±1 of that shape``."""

    def signs(self, shape: tuple[int, ...]) -> np.ndarray: ...


class RandomSigns:
    """Independent fair ±1 signs from a Generator."""

    def __init__(self, rng: np.random.Generator | int) -> None:
        self.rng = check_rng("rng", rng, "RandomSigns")

    def signs(self, shape: tuple[int, ...]) -> np.ndarray:
        # random() returns j / 2**53 for j uniform in [0, 2**53): exactly half the values lie below 0.5,
        # so the signs are exactly fair; this is several times faster than integers(0, 2).
        return np.copysign(1.0, self.rng.random(shape) - 0.5)


class ReplaySigns:
    """Hands out the given sign arrays in order; each request must match the next array's shape."""

    def __init__(self, arrays: Iterable[np.ndarray]) -> None:
        self._queue = [np.asarray(a, dtype=np.float64) for a in arrays]
        for i, a in enumerate(self._queue):
            if not np.all(np.abs(a) == 1.0):
                raise ValueError(f"arrays: expected entries ±1 only, got other values in array {i}")

    def signs(self, shape: tuple[int, ...]) -> np.ndarray:
        if not self._queue:
            raise RuntimeError("ReplaySigns: no sign arrays left to hand out")
        nxt = self._queue.pop(0)
        if nxt.shape != tuple(shape):
            raise ValueError(f"ReplaySigns: the estimator asked for shape {tuple(shape)}, next array is {nxt.shape}")
        return nxt

    @property
    def remaining(self) -> int:
        return len(self._queue)


def as_sign_source(rng: object, owner: str | None = None) -> SignSource:
    """A sign source from ``rng``: a sign source as it is, else :class:`RandomSigns` of ``check_rng(rng)``.

    Anything else is a ``TypeError`` naming ``rng`` (and ``owner``, the class that needs the signs, for ``None``).
    """
    if isinstance(rng, np.random.Generator):
        return RandomSigns(rng)
    if isinstance(rng, SignSource):
        return rng
    return RandomSigns(check_rng("rng", rng, owner, also=", or a sign source with a signs(shape) method"))
