"""Exercises of notebook 10 (online training on the copy task): how fast the curriculum can move (10.1), which
dependencies a window of truncated BPTT contains (10.2, a function tested against counting), and the order of the
estimators' gradient cosines on one shared trajectory (10.3, a prediction checked against the cached runs).

The reference answers are private; :func:`measured_steps_per_level` is the measurement the notebook shows after
10.1."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from okcore.exercises import call_answer, describe, exercise
from okcore.tasks.copy import CopyTask

# --- 10.1: how fast can the curriculum move? ---------------------------------------------------------------------


def _steps_per_level(decay: float = 0.999, threshold: float = 0.15, restart: float = 0.3) -> int:
    """Fewest steps between two increases of T_ if the loss were 0 from then on (ignoring sequence ends):
    the smallest t with restart · decay^t < threshold."""
    return math.floor(math.log(threshold / restart) / math.log(decay)) + 1


def measured_steps_per_level(levels: int = 3, batch: int = 2, seed: int = 0) -> list[int]:
    """Run the curriculum of :class:`CopyTask` with a loss of 0 at every step; the steps between increases."""
    task = CopyTask(batch, rng=seed)
    task.avg = task.restart  # start as if a level had just been passed
    gaps, last, t = [], 0, 0
    while len(gaps) < levels:
        level = task.T_
        task.next()
        task.observe(np.zeros(batch))
        t += 1
        if task.T_ > level:
            gaps.append(t - last)
            last = t
    return gaps


@exercise("10.1", "the fewest steps per curriculum level", _steps_per_level)
def _check_steps(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return False, f"Give a whole number of steps, got {type(answer).__name__}."
    want = _steps_per_level()
    if answer == want:
        return True, f"0.3 · 0.999^{want} < 0.15 first holds at t = {want}."
    if answer == want - 1:
        return False, "Off by one: at that step the average is still at or above 0.15."
    if answer in (_steps_per_level(restart=1.0), _steps_per_level(restart=1.0) - 1):
        return False, "That is the very first level, which starts from avg = 1; later levels restart at 0.3."
    return False, "Solve 0.3 · 0.999^t < 0.15 for the smallest integer t."


# --- 10.2: which dependencies does a window contain? --------------------------------------------------------------


def _fraction_inside(d: int, tau: int) -> float:
    """The share of steps t whose step t − d lies in the same τ-window (windows [0, τ), [τ, 2τ), …)."""
    return max(0, tau - d) / tau


def _enumerated(d: int, tau: int) -> float:
    t = np.arange(100 * tau) + d  # whole windows' worth of target steps, all with t - d >= 0
    return float(np.mean(t // tau == (t - d) // tau))


@exercise("10.2", "the share of dependencies a window of τ steps contains", lambda: _fraction_inside)
def _check_fraction(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, f"Give a function fraction_inside(d, tau) that returns a number, got {describe(answer)}."
    rng = np.random.default_rng()
    # first a case with a share strictly between 0 and 1, where each typical mistake shows
    cases = [(3, 16), (0, 4), (4, 4), (5, 4), (1, 1)] + [
        (int(d), int(t)) for d, t in zip(rng.integers(0, 40, 20), rng.integers(1, 30, 20), strict=True)
    ]
    for d, tau in cases:
        got, want = call_answer(answer, "fraction_inside", {"d": d, "tau": tau}), _enumerated(d, tau)
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real) or not math.isfinite(got):
            hint = " Does it end with return?" if got is None else ""
            return False, f"fraction_inside({d}, {tau}) returned {describe(got)}; expected a number.{hint}"
        if abs(got - want) > 1e-12:
            hint = ""
            if got < 0:
                hint = " A share cannot be negative: what happens when d >= τ?"
            elif isinstance(got, numbers.Integral) and want != int(want):
                hint = " The result is a whole number: // rounds down, a share needs /."
            elif abs(got - (tau - d + 1) / tau) < 1e-12 or abs(got - (tau - d - 1) / tau) < 1e-12:
                hint = " Off by one: count the t with t and t − d in one window."
            elif 0 < want < 1 and abs(got - (1 - want)) < 1e-12:
                hint = " That is the share of the steps whose t − d lies in an earlier window: its complement."
            return False, f"fraction_inside({d}, {tau}) = {got}, but counting steps gives {want}.{hint}"
    return True, f"Checked on {len(cases)} cases against counting over whole windows."


# --- 10.3: predict the order of the gradient cosines --------------------------------------------------------------


def _cosine_order() -> list[str]:
    """The online estimators of the cached shared-trajectory runs (not the truncated gradients), from the highest
    mean cosine with exact RTRL (over every seed and record) to the lowest, by their palette labels."""
    from okcore.train.results import data_path, load_shared

    shared = load_shared(data_path("copy", "shared"))
    means = {
        shared.label(name): float(np.nanmean(v["cosine"]))
        for name, v in shared.values.items()
        if shared.specs[name][0] != "tbptt"
    }
    return sorted(means, key=means.get, reverse=True)


@exercise("10.3", "the online methods ordered by how well their gradient points", _cosine_order)
def _check_order(answer: Any) -> tuple[bool, str]:
    want = _cosine_order()
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return False, f"Give a list of the labels {sorted(want)}, highest cosine first."
    got = list(answer)
    if sorted(map(str, got)) != sorted(want):
        return False, f"Give each of {sorted(want)} exactly once."
    if got == want:
        return True, ""
    wrong = [f"{a!r} before {b!r}" for a, b in zip(got, got[1:], strict=False) if want.index(a) > want.index(b)]
    return False, f"{len(wrong)} neighbouring pair(s) in the wrong order, e.g. {wrong[0]}."
