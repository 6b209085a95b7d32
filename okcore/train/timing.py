"""Time training steps: seconds per step of :func:`okcore.train.train`, and the part spent in the estimator's update.

Used by ``benchmarks/bench_training.py`` and by notebook 10 to measure the cost of each method on the spot.
"""

from __future__ import annotations

import time

from okcore.tasks.copy import CopyTask
from okcore.train import loop

__all__ = ["time_training"]


def _timed(method, total: list[float]):
    """``method`` with its time added to ``total[0]`` at every call."""

    def timed(*args: object):
        t0 = time.perf_counter()
        out = method(*args)
        total[0] += time.perf_counter() - t0
        return out

    return timed


def time_training(
    method: str,
    *,
    rank: int | None = None,
    truncation: int | None = None,
    hidden: int = 24,
    batch: int = 16,
    steps: int = 200,
) -> tuple[float, float]:
    """Train on the copy task for ``steps`` steps; returns (seconds per step, seconds per step spent in the
    influence estimator: its ``update`` and the contraction of the estimate into the W-gradient; NaN for
    ``tbptt``, which has no estimator).

    Both are timed by wrapping the estimator's methods with a clock, so the difference is the rest of a step: the
    cell's forward step, the readout, the optimiser, the task and the bookkeeping.
    """
    inside = [0.0]
    make = loop.make_estimator

    def timed_make(*args: object, **kwargs: object):
        est = make(*args, **kwargs)
        for name in ("update", "_gradient"):
            setattr(est, name, _timed(getattr(est, name), inside))
        return est

    loop.make_estimator = timed_make
    try:
        task = CopyTask(batch, rng=0)
        t0 = time.perf_counter()
        loop.train(task, method, steps=steps, rank=rank, truncation=truncation, hidden=hidden, log_every=steps)
        total = time.perf_counter() - t0
    finally:
        loop.make_estimator = make
    return total / steps, (inside[0] / steps if method != "tbptt" else float("nan"))
