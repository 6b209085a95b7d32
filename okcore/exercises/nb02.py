"""Exercises of notebook 02 (the influence matrix): the size of G, and one step of its recursion."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import GatedCell
from okcore.exercises import exercise
from okcore.rtrl import ExactRTRL

# --- 02.1: bytes of G ----------------------------------------------------------------------------------------

_SIZE = {"n_in": 50, "n_hidden": 256}


def _reference_bytes() -> int:
    # G has n·K·k float64 entries (8 bytes each), with K = n_in + n + 1 and k = 2n for the gated cell.
    n_in, n = _SIZE["n_in"], _SIZE["n_hidden"]
    K, k = n_in + n + 1, 2 * n
    return n * K * k * 8


@exercise("02.1", "bytes of G for n = 256", _reference_bytes)
def _check_bytes(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return False, "Give one number of bytes."
    want = _reference_bytes()
    if answer == want:
        return True, f"That is {want / 1e6:.0f} MB for a single sequence."
    n_in, n = _SIZE["n_in"], _SIZE["n_hidden"]
    K, k = n_in + n + 1, 2 * n
    if answer == want // 2:
        return False, "The gated cell has k = 2n columns in W (z_c and z_f)."
    if answer == want // 8:
        return False, "That is the number of entries; each float64 takes 8 bytes."
    if answer == n * (n_in + n) * k * 8:
        return False, "x̂ also holds the constant 1 (the bias row): K = n_in + n + 1."
    if 0 < answer < 1e5 and abs(answer * 1e6 - want) <= 0.01 * want:
        return False, "Give the exact number of bytes, not megabytes."
    return False, f"G has shape (n, K, k) with K = {K} and k = {k}; count its bytes."


# --- 02.2: one step of the recursion with np.kron ------------------------------------------------------------


def _reference_rtrl_step() -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def rtrl_step(G_prev: np.ndarray, H: np.ndarray, xhat: np.ndarray, D: np.ndarray) -> np.ndarray:
        """G_t = H_t G_{t-1} + x̂_t ⊗ D_t for one sequence; G of shape (n, K, k)."""
        n, K, k = G_prev.shape
        # In matrix form G is (n, K·k) with column p·k + q, and F[a, p·k + q] = x̂[p] D[a, q] = kron(x̂ᵀ, D).
        F = np.kron(xhat[None, :], D)
        return (H @ G_prev.reshape(n, K * k) + F).reshape(n, K, k)

    return rtrl_step


@exercise("02.2", "one step of the RTRL recursion", _reference_rtrl_step)
def _check_rtrl_step(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function rtrl_step(G_prev, H, xhat, D) returning G_t of shape (n, K, k)."
    rng = np.random.default_rng(202)
    cell = GatedCell(2, 3, rng, scale=0.7)
    exact = ExactRTRL(cell)
    G = np.zeros((cell.n_hidden, cell.K, cell.k))
    h = np.zeros(cell.n_hidden)
    for t in range(6):
        step = cell.step(rng.standard_normal(cell.n_in), h)
        h = step.h
        exact.update(step)
        expected = exact.influence()[0]
        got = np.asarray(answer(G.copy(), step.H.copy(), step.xhat.copy(), step.D.copy()), dtype=float)
        if got.shape != expected.shape:
            return False, f"Expected G_t of shape {expected.shape} (n, K, k), got shape {got.shape}."
        if not np.allclose(got, expected, rtol=1e-10, atol=1e-12):
            if t == 0:
                return False, (
                    "Wrong already at the first step, where G_0 = 0 and G_1 = F_1: check the layout of "
                    "x̂ ⊗ D (F[a, p, q] = x̂[p] D[a, q])."
                )
            return False, f"Right at the first step, wrong at step {t + 1}: check the H_t G_(t-1) term."
        G = expected  # carry on from the exact value, so that each step is checked on its own
    return True, ""
