"""Exercises of notebook 00 (start here): warm-ups on the notation."""

from __future__ import annotations

import numbers
from typing import Any

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
