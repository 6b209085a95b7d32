"""Small statistics for comparing training runs over seeds: bootstrap intervals and steps to reach a level.

- :func:`bootstrap_ci`: a percentile bootstrap interval of a statistic of one sample (e.g. the mean final T_
  over 8 seeds); :func:`bootstrap_diff_ci`: of the difference between two independent samples.
- :func:`steps_to_level`: the first step at which a logged curve reaches a level (``inf`` if it never does).
- :func:`quantiles`: quantiles of a sample in which some values are ``inf`` (not reached): a quantile that falls
  on or past an unreached seed is ``inf`` too, never an interpolation towards it.
- :func:`value_at`: a logged quantity at given positions (steps or processor seconds), read as a step function.

Every random draw comes from a ``numpy.random.Generator`` (or an integer seed), so every interval reproduces.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from okcore._checks import check_positive_int, check_rng

__all__ = ["bootstrap_ci", "bootstrap_diff_ci", "intervals_overlap", "steps_to_level", "quantiles", "value_at"]


def _sample(name: str, values: object) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 1:
        raise ValueError(f"{name}: expected a non-empty 1-D sample, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: expected finite values, got {v.tolist()}")
    return v


def _level(level: float) -> float:
    if not isinstance(level, int | float) or not 0 < level < 1:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    return float(level)


def bootstrap_ci(
    values: object,
    statistic: Callable[..., np.ndarray] = np.mean,
    level: float = 0.95,
    resamples: int = 10_000,
    rng: np.random.Generator | int = 0,
) -> tuple[float, float, float]:
    """The statistic of ``values`` and its percentile bootstrap interval.

    Args:
        values: (N,) finite numbers, e.g. the final T_ of each seed.
        statistic: a function of an (R, N) array and ``axis=1`` returning (R,) (``np.mean``, ``np.median``).
        level: the interval's coverage (0.95: the 2.5 % and 97.5 % quantiles of the resampled statistic).
        resamples: R, how many samples of N values are drawn with replacement.
        rng: Generator or integer seed of the draws.

    Returns:
        (estimate, low, high). With N = 1, or all values equal, the interval is the single point.
    """
    v = _sample("values", values)
    level = _level(level)
    resamples = check_positive_int("resamples", resamples)
    gen = check_rng("rng", rng)
    idx = gen.integers(0, v.size, size=(resamples, v.size))
    stats = statistic(v[idx], axis=1)
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(statistic(v[None], axis=1)[0]), float(low), float(high)


def bootstrap_diff_ci(
    a: object,
    b: object,
    statistic: Callable[..., np.ndarray] = np.mean,
    level: float = 0.95,
    resamples: int = 10_000,
    rng: np.random.Generator | int = 0,
) -> tuple[float, float, float]:
    """statistic(a) − statistic(b) and its percentile bootstrap interval, ``a`` and ``b`` resampled independently
    (two independent groups of seeds). Returns (estimate, low, high); see :func:`bootstrap_ci`."""
    va, vb = _sample("a", a), _sample("b", b)
    level = _level(level)
    resamples = check_positive_int("resamples", resamples)
    gen = check_rng("rng", rng)
    sa = statistic(va[gen.integers(0, va.size, size=(resamples, va.size))], axis=1)
    sb = statistic(vb[gen.integers(0, vb.size, size=(resamples, vb.size))], axis=1)
    low, high = np.quantile(sa - sb, [(1 - level) / 2, (1 + level) / 2])
    estimate = statistic(va[None], axis=1)[0] - statistic(vb[None], axis=1)[0]
    return float(estimate), float(low), float(high)


def intervals_overlap(first: tuple[float, ...], second: tuple[float, ...]) -> bool:
    """Whether two intervals, given as (estimate, low, high) or (low, high), share a point."""
    lo1, hi1 = first[-2:]
    lo2, hi2 = second[-2:]
    return bool(lo1 <= hi2 and lo2 <= hi1)


def steps_to_level(steps: object, values: object, level: float) -> float:
    """The first of ``steps`` at which ``values`` (a logged curve, same length) is at least ``level``; ``inf`` if
    it never is. The answer is only as fine as the log: a level reached between two records counts at the later."""
    s = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if s.ndim != 1 or s.shape != v.shape:
        raise ValueError(f"steps, values: expected two 1-D arrays of one length, got shapes {s.shape} and {v.shape}")
    hit = np.flatnonzero(v >= level)
    return float(s[hit[0]]) if hit.size else float("inf")


def quantiles(values: object, q: object = (0.25, 0.5, 0.75)) -> np.ndarray:
    """Quantiles (linear interpolation) of a sample whose unreached entries are ``inf``.

    Unreached values sort last; a quantile that needs one of them, even partly, is ``inf`` (it is only known to
    lie past the largest reached value). ``q``: numbers in [0, 1]. Returns an array shaped like ``q``.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 1 or np.isnan(v).any() or (v == -np.inf).any():
        raise ValueError(f"values: expected a non-empty 1-D sample of numbers or +inf, got {v.tolist()}")
    qs = np.asarray(q, dtype=float)
    if ((qs < 0) | (qs > 1)).any():
        raise ValueError(f"q: expected numbers in [0, 1], got {qs.tolist()}")
    v = np.sort(v)
    pos = qs * (v.size - 1)
    lo, hi = np.floor(pos).astype(int), np.ceil(pos).astype(int)
    frac = pos - lo
    reached = np.isfinite(v[hi])
    between = v[lo] + frac * (np.where(reached, v[hi], 0.0) - np.where(reached, v[lo], 0.0))
    return np.where(reached, between, np.inf)


def value_at(where: object, positions: object, values: object) -> np.ndarray:
    """``values`` logged at increasing ``positions`` (steps, or processor seconds), read at ``where`` as a step
    function: the last logged value at or before each point; NaN before the first record and after the last
    (a run that stopped earlier says nothing about later points)."""
    p = np.asarray(positions, dtype=float)
    v = np.asarray(values, dtype=float)
    if p.ndim != 1 or p.shape != v.shape or p.size < 1:
        raise ValueError(f"positions, values: expected two 1-D arrays of one length, got {p.shape} and {v.shape}")
    if (np.diff(p) < 0).any():
        raise ValueError("positions: expected non-decreasing positions")
    w = np.asarray(where, dtype=float)
    i = np.searchsorted(p, w, side="right") - 1
    out = v[np.clip(i, 0, p.size - 1)]
    return np.where((i >= 0) & (w <= p[-1]), out, np.nan)
