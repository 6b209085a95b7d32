"""Exercises of notebook 00 (start here): two predictions about the size of G, and where SGD with a biased gradient
settles."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from okcore.exercises import call_answer, describe, exercise

# 00.2: the gated network whose hidden size doubles.
N_IN, N_SMALL, N_LARGE = 10, 32, 64
GROWTH_RANGE = (6.5, 7.5)  # accepted predictions of the growth factor (the exact value is 6.98)


def numbers_of_G(n_in: int, n: int) -> int:
    """Numbers in the influence matrix of one sequence of a gated cell: n · K · k, K = n_in + n + 1, k = 2n."""
    return n * (n_in + n + 1) * (2 * n)


def _reference_ratio() -> Any:
    def ratio(n: int) -> int:
        # G = ∂h_t/∂W holds one W-shaped array per hidden unit: ∂h_t[a]/∂W for a = 1..n.
        return n

    return ratio


def _measured_ratio(n: int, rng: np.random.Generator) -> float:
    """Numbers in okcore's exact influence matrix of one sequence over numbers in W, for a fresh gated cell."""
    from okcore.cells import GatedCell
    from okcore.rtrl import ExactRTRL

    cell = GatedCell(int(rng.integers(1, 6)), n, rng)
    return ExactRTRL(cell).influence()[0].size / cell.W.size


@exercise("00.1", "how many times as many numbers G holds as W", _reference_ratio)
def _check_ratio(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function ratio(n) of the number of hidden units n."
    rng = np.random.default_rng()
    for n in (1, 3, 8, 20):
        got = call_answer(answer, "ratio", {"n": n})
        if got is None:
            return False, "ratio(n) returned None: does it end with return?"
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            return False, f"ratio(n) should return a number, got {describe(got)}."
        want = _measured_ratio(n, rng)
        if abs(got - want) <= 1e-9 * want:
            continue
        if n > 1 and abs(got - n * n) <= 1e-9 * n * n:
            return False, "G has one more axis than W, not two: G[a, p, q] adds only the unit a to W[p, q]."
        if abs(got - 1.0) <= 1e-9:
            return False, "G is not the size of W: it holds ∂h[a]/∂W[p, q] for every unit a of h."
        return False, "Compare the shapes: W is (K, k), and G[a, p, q] = ∂h[a]/∂W[p, q] for one sequence."
    return True, "G = ∂h_t/∂W holds a W-shaped array for each of the n units of h_t."


def _reference_growth() -> float:
    # K = n_in + n + 1 grows from 43 to 75, less than twice: the factor is 2 · (75/43) · 2, not 2³.
    return numbers_of_G(N_IN, N_LARGE) / numbers_of_G(N_IN, N_SMALL)


@exercise("00.2", "how much G grows when n doubles", _reference_growth)
def _check_growth(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not np.isfinite(answer):
        return False, "Give one number: the size of G at n = 64 divided by its size at n = 32."
    low, high = GROWTH_RANGE
    if low <= answer <= high:
        exact = _reference_growth()
        return True, f"Exactly {exact:.3f}: n and k = 2n double, but K = n_in + n + 1 only goes from 43 to 75."
    if abs(answer - 8.0) <= 0.05:
        return False, "2³ = 8 would hold if every axis of G doubled. n and k do; does K = n_in + n + 1?"
    if abs(answer - 16.0) <= 0.1:
        return False, "16 = 2⁴ is how the time of a step grows (notebook 02); the question is about memory."
    if answer < 1:
        return False, "G grows with n: divide its size at n = 64 by its size at n = 32."
    return False, "Write the size of G as n · K · k with K = n_in + n + 1 and k = 2n, at n = 32 and at n = 64."


def _reference_fixed_point() -> Any:
    def settle(b: np.ndarray) -> np.ndarray:
        # w ← w − η (w + b) stops moving where the step is zero, w + b = 0, whatever the learning rate η.
        return -np.asarray(b, dtype=float)

    return settle


@exercise("00.3", "where SGD with a constant bias settles", _reference_fixed_point)
def _check_fixed_point(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function settle(b) that returns the point w where SGD settles (same shape as b)."
    rng = np.random.default_rng()  # fresh biases at every check
    for size in (2, 3, 5):
        b = rng.standard_normal(size)
        result = call_answer(answer, "settle", {"b": b})
        if result is None:
            return False, "settle(b) returned None: does it end with return?"
        got = np.asarray(result, dtype=float)
        if got.shape != b.shape:
            return False, f"settle(b) should return a point of the same shape as b, {b.shape}; got shape {got.shape}."
        if np.allclose(got, -b, rtol=1e-9, atol=1e-12):
            continue
        if np.allclose(got, b, rtol=1e-9, atol=1e-12):
            return False, "Wrong sign: at the fixed point the step η(w + b) is zero."
        if np.allclose(got, 0.0, atol=1e-12):
            return False, (
                "The bias does not average out: it pushes w the same way at every step. "
                "Where is the step η(w + b) zero?"
            )
        scale = float(got @ -b) / float(b @ b)
        if np.allclose(got, -scale * b, rtol=1e-9, atol=1e-12):
            return False, "Right direction, wrong distance: the point where the step vanishes does not depend on η."
        return False, "Solve w = w − η(w + b) for w."
    return True, ""
