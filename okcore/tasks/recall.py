"""Delayed recall: a task whose only dependency has a known length, generated from a ``numpy.random.Generator``.

Conventions shared by every task here (the same as :mod:`okcore.bptt`):
- inputs ``xs`` are one-hot float64 arrays, (T, n_in) for one sequence or (T, B, n_in) for a batch;
- targets ``ys`` are integer class indices, (T,) or (T, B).

Tasks
- :func:`delayed_recall`: repeat the symbol seen ``delay`` steps ago. Its only useful dependency is exactly
  ``delay`` steps long, so a gradient truncated to fewer steps cannot see it.
"""

from __future__ import annotations

import numpy as np

from okcore._checks import check_nonneg_int, check_positive_int, check_rng

__all__ = ["one_hot", "delayed_recall", "delayed_recall_classes"]


def one_hot(indices: object, n_classes: int) -> np.ndarray:
    """One-hot float64 encoding: an integer array of shape S gives shape S + (n_classes,)."""
    n_classes = check_positive_int("n_classes", n_classes)
    idx = np.asarray(indices)
    if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"indices: expected an integer array, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_classes):
        raise ValueError(f"indices: expected values in [0, {n_classes}), got values from {idx.min()} to {idx.max()}")
    return np.eye(n_classes)[idx]


def delayed_recall_classes(n_symbols: int) -> int:
    """Number of target classes of :func:`delayed_recall`: the symbols plus one blank class."""
    return check_positive_int("n_symbols", n_symbols) + 1


def delayed_recall(
    T: int,
    delay: int,
    n_symbols: int,
    rng: np.random.Generator,
    batch: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A stream of random symbols; the target at step t is the symbol shown at step t − delay.

    Symbols 0 … n_symbols − 1 are drawn uniformly and independently at every step and shown one-hot. For
    t < delay there is nothing to recall yet and the target is the *blank* class, whose index is ``n_symbols``
    (so a readout for this task has ``n_symbols + 1`` outputs, see :func:`delayed_recall_classes`).

    Args:
        T: sequence length, >= 1.
        delay: how many steps back the target looks, 0 <= delay < T.
        n_symbols: alphabet size, >= 2.
        rng: the Generator that draws the symbols.
        batch: None for one sequence, or the number B of independent sequences.

    Returns:
        xs: one-hot inputs, (T, n_symbols) or (T, B, n_symbols), float64.
        ys: targets, (T,) or (T, B), int64: ys[t] = symbol[t − delay] for t >= delay, else n_symbols.
    """
    T = check_positive_int("T", T)
    delay = check_nonneg_int("delay", delay)
    n_symbols = check_positive_int("n_symbols", n_symbols)
    rng = check_rng("rng", rng)
    if delay >= T:
        raise ValueError(f"delay: expected 0 <= delay < T = {T}, got {delay} (every target would be blank)")
    if n_symbols < 2:
        raise ValueError(f"n_symbols: expected at least 2 symbols (one symbol carries nothing), got {n_symbols}")
    shape = (T,) if batch is None else (T, check_positive_int("batch", batch))
    symbols = rng.integers(0, n_symbols, size=shape)
    ys = np.full(shape, n_symbols, dtype=np.int64)
    ys[delay:] = symbols[: T - delay]
    return one_hot(symbols, n_symbols), ys
