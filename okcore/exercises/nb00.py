"""Exercises of notebook 00 (start here): warm-ups on the notation, and where SGD with a biased gradient settles."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from okcore.exercises import exercise

# The network both warm-ups are about.
N_IN, N_HIDDEN, BATCH = 10, 32, 8


def _as_int_tuple(answer: Any, length: int) -> tuple[int, ...] | None:
    """``answer`` as a tuple of ``length`` ints, or None if it is not one."""
    try:
        values = tuple(answer)
    except TypeError:
        return None
    if len(values) != length:
        return None
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        return None
    return tuple(int(v) for v in values)


def _reference_sizes() -> tuple[int, int]:
    # x̂ = [x; h; 1] has n_in + n + 1 entries; the gated cell has two pre-activation blocks, z_c and z_f.
    K = N_IN + N_HIDDEN + 1
    k = 2 * N_HIDDEN
    return K, k


@exercise("00.1", "K and k of a gated cell", _reference_sizes)
def _check_sizes(answer: Any) -> tuple[bool, str]:
    got = _as_int_tuple(answer, 2)
    if got is None:
        return False, "Give a pair of integers (K, k)."
    K, k = _reference_sizes()
    if got == (K, k):
        return True, ""
    hints = []
    if got[0] == N_IN + N_HIDDEN:
        hints.append("K: x̂ also carries a constant 1, which makes the bias a row of W.")
    elif got[0] != K:
        hints.append("K is the length of x̂_t = [x_t; h_{t-1}; 1].")
    if got[1] == N_HIDDEN:
        hints.append("k: the gated cell computes two pre-activations per unit, z_c and z_f.")
    elif got[1] != k:
        hints.append("k is the number of columns of W: one per pre-activation.")
    return False, " ".join(hints)


def _reference_shape() -> tuple[int, int, int, int]:
    # G[b, a, p, q] = ∂h_t[b, a] / ∂W[p, q]: a batch axis, then n, then the shape (K, k) of W.
    K, k = _reference_sizes()
    return BATCH, N_HIDDEN, K, k


@exercise("00.2", "shape of the influence matrix", _reference_shape)
def _check_shape(answer: Any) -> tuple[bool, str]:
    got = _as_int_tuple(answer, 4)
    if got is None:
        return False, "Give a tuple of four integers (B, n, K, k)."
    want = _reference_shape()
    if got == want:
        return True, ""
    if sorted(got) == sorted(want):
        return False, "The right sizes in the wrong order: batch first, then the state, then W's two axes."
    return False, "G[b, a, p, q] = ∂h_t[b, a]/∂W[p, q]: one axis for the batch, one for h, two for W."


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
        result = answer(b.copy())
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
