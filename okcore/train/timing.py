"""Time training steps: seconds per step of :func:`okcore.train.train`, and the part spent in the estimator's update.

Used by ``benchmarks/bench_training.py`` and by notebook 10 to measure the cost of each method on the spot.
"""

from __future__ import annotations

import time

from okcore.tasks.copy import CopyTask
from okcore.train import loop

__all__ = ["time_training"]


def time_training(
    method: str,
    *,
    rank: int | None = None,
    truncation: int | None = None,
    hidden: int = 24,
    batch: int = 16,
    steps: int = 200,
) -> tuple[float, float]:
    """Train on the copy task for ``steps`` steps; returns (seconds per step, seconds per step inside the
    estimator's ``update``; NaN for ``tbptt``, which has no estimator).

    The update is timed by wrapping the estimator's ``update`` method with a clock, so the second number is
    what the influence recursion costs and the difference is the rest of a step: the cell's forward step, the
    readout, the optimiser and the bookkeeping.
    """
    inside = [0.0]
    make = loop.make_estimator

    def timed_make(*args: object, **kwargs: object):
        est = make(*args, **kwargs)
        update = est.update

        def timed_update(step: object) -> None:
            t0 = time.perf_counter()
            update(step)
            inside[0] += time.perf_counter() - t0

        est.update = timed_update
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
