"""Exercises of notebook 08 (the optimality proof): the lower bound from any M, and where OK starts mixing more."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.exercises import exercise
from okcore.lowrank import split

# --- 08.1: the bound for a given M ---------------------------------------------------------------------------


def _reference_bound() -> Callable[[np.ndarray, np.ndarray, int], float]:
    def bound(M: np.ndarray, P: np.ndarray, r: int) -> float:
        """⟨M, P⟩² / ‖M‖²_(r) − ‖P‖², with ‖M‖²_(r) the sum of the r largest squared singular values of M."""
        s = np.linalg.svd(M, compute_uv=False)
        return float(np.sum(M * P)) ** 2 / float(np.sum(s[:r] ** 2)) - float(np.sum(P * P))

    return bound


def _bound_cases() -> list[tuple[np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(801)
    cases = [(np.diag([2.0, 1.0, 1.0]), np.diag([3.0, 2.0, 1.0]), 2)]
    for r, (a, b) in ((2, (3, 5)), (3, (4, 4)), (1, (2, 3))):
        P = rng.standard_normal((a, r + 1)) @ rng.standard_normal((r + 1, b))
        cases.append((rng.standard_normal((a, b)), P, r))
    return cases


@exercise("08.1", "the lower bound from a given M", _reference_bound)
def _check_bound(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function bound(M, P, r) returning a number."
    ref = _reference_bound()
    for M, P, r in _bound_cases():
        try:
            got = float(answer(M.copy(), P.copy(), r))
        except (TypeError, ValueError):
            return False, "bound(M, P, r) should return one number."
        want = ref(M, P, r)
        if np.isclose(got, want, rtol=1e-9, atol=1e-9):
            continue
        full = float(np.sum(M * P)) ** 2 / float(np.sum(M * M)) - float(np.sum(P * P))
        if np.isclose(got, full, rtol=1e-9, atol=1e-9):
            return False, "You divided by the full ‖M‖²_F; use only the r largest singular values of M: ‖M‖²_(r)."
        if np.isclose(got, want + float(np.sum(P * P)), rtol=1e-9, atol=1e-9):
            return False, "That bounds E‖X‖²; subtract ‖P‖²_F to bound the variance E‖X − P‖²."
        return False, f"For the case r = {r} expected {want:.4g}, got {got:.4g}."
    return True, "Every M gives a valid bound; the M of step 4 gives the largest, which OK attains."


# --- 08.2: the threshold for mixing three values -------------------------------------------------------------

SIGMA_HEAD = (2.0, 1.5, 1.0)


def _reference_threshold() -> float:
    # r = 3, σ = (2, 1.5, 1, x). q = 1 (mix three) needs (r − 1) σ_2 <= σ_2 + σ_3 + x: 3 <= 2.5 + x, x >= 0.5.
    # q = 0 (mix all four) would need 3 · 2 <= 4.5 + x, impossible for x <= 1.
    s1, s2, s3 = SIGMA_HEAD
    return 2 * s2 - s2 - s3


@exercise("08.2", "when OK mixes three of σ = (2, 1.5, 1, x)", _reference_threshold)
def _check_threshold(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return False, "Give one number x."
    x = float(answer)
    want = _reference_threshold()
    if abs(x - want) <= 1e-6:
        m_below = int(split(np.array([*SIGMA_HEAD, want - 0.01]))[1].sum())
        m_above = int(split(np.array([*SIGMA_HEAD, want + 0.01]))[1].sum())
        return True, f"Just below it OK mixes {m_below} values, just above it {m_above}."
    if abs(x - 1.5) <= 1e-6:
        return False, "That is where all four would be mixed (q = 0), which needs x = 1.5 > σ_3. Look at q = 1."
    return False, "Write the rule for q = 1: (r − q) σ_{q+1} <= σ_{q+1} + ... + σ_{r+1}, with r = 3, and solve for x."
