"""Exercises of notebook 08 (the optimality proof): the lower bound from any test matrix Y, and where OK starts mixing
more. The checkers compare with :func:`okcore.demos.proof.lower_bound` and :func:`okcore.lowrank.split`."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.demos.proof import lower_bound
from okcore.exercises import call_number, exercise
from okcore.lowrank import split

# --- 08.1: the bound for a given Y ---------------------------------------------------------------------------


def _reference_bound() -> Callable[[np.ndarray, np.ndarray, int], float]:
    def bound(Y: np.ndarray, P: np.ndarray, r: int) -> float:
        """⟨Y, P⟩² / ‖Y‖²_(r) − ‖P‖², with ‖Y‖²_(r) the sum of the r largest squared singular values of Y."""
        s = np.linalg.svd(Y, compute_uv=False)
        return float(np.sum(Y * P)) ** 2 / float(np.sum(s[:r] ** 2)) - float(np.sum(P * P))

    return bound


def _bound_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The worked example, one case with ⟨Y, P⟩ < 0, then fresh random ones."""
    cases = [
        (np.diag([2.0, 1.0, 1.0]), np.diag([3.0, 2.0, 1.0]), 2),
        (-np.diag([2.0, 1.0, 1.0]), np.diag([3.0, 2.0, 1.0]), 2),
    ]
    for r, (a, b) in ((2, (3, 5)), (3, (4, 4)), (1, (2, 3)), (2, (5, 3))):
        P = rng.standard_normal((a, r + 1)) @ rng.standard_normal((r + 1, b))
        cases.append((rng.standard_normal((a, b)), P, r))
    return cases


@exercise("08.1", "the lower bound from a given Y", _reference_bound)
def _check_bound(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function bound(Y, P, r) returning a number."
    for Y, P, r in _bound_cases(np.random.default_rng()):
        got = call_number(answer, "bound", {"Y": Y, "P": P, "r": r})
        want = lower_bound(Y, P, r)
        if np.isclose(got, want, rtol=1e-9, atol=1e-9):
            continue
        inner, P2 = float(np.sum(Y * P)), float(np.sum(P * P))
        full = inner**2 / float(np.sum(Y * Y)) - P2
        if np.isclose(got, full, rtol=1e-9, atol=1e-9):
            return False, "You divided by the full ‖Y‖²_F; use only the r largest singular values of Y: ‖Y‖²_(r)."
        if np.isclose(got, want + P2, rtol=1e-9, atol=1e-9):
            return False, "That bounds E‖X‖²; subtract ‖P‖²_F to bound the variance E‖X − P‖²."
        if inner < 0 and np.isclose(got, -P2, rtol=1e-9, atol=1e-9):
            return False, (
                "For ⟨Y, P⟩ < 0 you returned −‖P‖² (as if the bound were empty); −Y gives the same squared bound, "
                "so square ⟨Y, P⟩ as it is."
            )
        return False, f"For a case with r = {r} expected {want:.4g}, got {got:.4g}."
    return True, "Every Y gives a valid bound (the sign of Y does not matter); the Y of step 4 gives the largest."


# --- 08.2: the threshold for mixing three values -------------------------------------------------------------

SIGMA_HEAD = (2.0, 1.5, 1.0)


def _reference_threshold() -> float:
    # r = 3, σ = (2, 1.5, 1, x). q = 1 (mix three) needs (r − 1) σ_2 <= σ_2 + σ_3 + x: 3 <= 2.5 + x, x >= 0.5.
    # q = 0 (mix all four) would need 3 · 2 <= 4.5 + x, impossible for x <= 1.
    s1, s2, s3 = SIGMA_HEAD
    return 2 * s2 - s2 - s3


def _n_mixed(x: float) -> int:
    return int(split(np.array([*SIGMA_HEAD, x]))[1].sum())


@exercise("08.2", "when OK mixes three of σ = (2, 1.5, 1, x)", _reference_threshold)
def _check_threshold(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return False, "Give one number x."
    x = float(answer)
    if not 0.0 < x <= 1.0:
        return False, f"x must lie in (0, 1] (it is the smallest of the four values), got {x:g}."
    # the threshold is where okcore.lowrank.split goes from two mixed values to three
    if _n_mixed(x * (1 - 1e-6)) == 2 and _n_mixed(x * (1 + 1e-6)) == 3:
        return True, f"Just below it OK mixes {_n_mixed(0.99 * x)} values, from it on {_n_mixed(x)}."
    return False, "Write the rule for q = 1: (r − q) σ_{q+1} <= σ_{q+1} + ... + σ_{r+1}, with r = 3, and solve for x."
