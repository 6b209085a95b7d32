"""Exercises of notebook 04 (UORO)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.exercises import exercise

SIGN_N = 5  # exercise 04.1: size of the sign vectors to enumerate


def _reference_moment() -> np.ndarray:
    # every ν ∈ {±1}^5 once, each with probability 1/32
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=SIGN_N)))
    return signs.T @ signs / len(signs)


@exercise("04.1", "E[ννᵀ] by enumeration", _reference_moment)
def _check_moment(answer: Any) -> tuple[bool, str]:
    M = np.asarray(answer, dtype=np.float64)
    if M.shape != (SIGN_N, SIGN_N):
        return False, f"Expected a ({SIGN_N}, {SIGN_N}) matrix, got shape {M.shape}."
    eye = np.eye(SIGN_N)
    if np.allclose(M, eye, rtol=0.0, atol=1e-12):
        return True, "Every off-diagonal pair of signs agrees in exactly half of the patterns."
    if np.allclose(M, 2**SIGN_N * eye, rtol=0.0, atol=1e-9):
        return False, f"That is the sum over the patterns; divide by their number, 2^{SIGN_N}."
    if np.allclose(M, eye, rtol=0.0, atol=0.5):
        return False, "Close to I but not exact: average over all 2^5 sign vectors instead of random draws."
    return False, "Average the outer products ν νᵀ over all 2^5 vectors ν with entries ±1."


def _reference_first_step() -> Callable[[int], float]:
    def relative_variance_at_t1(n: int) -> float:
        # E‖ννᵀF − F‖² = E‖ννᵀF‖² − ‖F‖² = n E‖νᵀF‖² − ‖F‖² = (n − 1)‖F‖²
        return n - 1.0

    return relative_variance_at_t1


@exercise("04.2", "the relative variance after the first step", _reference_first_step)
def _check_first_step(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function of n."
    ns = (1, 2, 3, 8, 16, 100)
    got = np.array([float(answer(n)) for n in ns])
    want = np.array([n - 1.0 for n in ns])
    if np.allclose(got, want, rtol=1e-12, atol=1e-12):
        return True, ""
    if np.allclose(got, np.array(ns, dtype=float), rtol=1e-12):
        return False, "That is E‖ννᵀF‖²/‖F‖²; the variance subtracts the squared mean, ‖F‖²."
    if np.allclose(got, want**2, rtol=1e-12) or np.allclose(got, np.sqrt(want), rtol=1e-12):
        return False, "Expand ‖ννᵀF − F‖² and use ‖ν‖² = n and E[ννᵀ] = I."
    return False, "Expand ‖ννᵀF − F‖²: ‖ννᵀF‖² = ‖ν‖² ‖νᵀF‖², and E‖νᵀF‖² = ‖F‖²."


def _reference_rho() -> Callable[[float, float, float, int], float]:
    def best_rho(norm_Hs: float, norm_theta: float, norm_F: float, n: int) -> float:
        # minimise ρ² ‖Hs‖² ‖F‖² + ρ⁻² n ‖θ‖²: ρ⁴ = n ‖θ‖² / (‖Hs‖² ‖F‖²)
        return (n * norm_theta**2 / (norm_Hs**2 * norm_F**2)) ** 0.25

    return best_rho


@exercise("04.3", "the variance-minimising ratio ρ = ρ0/ρ1", _reference_rho)
def _check_rho(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function best_rho(norm_Hs, norm_theta, norm_F, n)."
    rng = np.random.default_rng(43)
    ref = _reference_rho()
    cases = [(*rng.uniform(0.1, 5.0, size=3), int(rng.integers(1, 50))) for _ in range(6)]
    got = np.array([float(answer(*c)) for c in cases])
    want = np.array([ref(*c) for c in cases])
    if np.allclose(got, want, rtol=1e-9):
        return True, ""
    if np.allclose(got, 1.0 / want, rtol=1e-9):
        return False, "Upside down: a large ‖θ̃‖ calls for a large ρ, which moves weight onto s̃."
    no_n = np.array([ref(a, b, c, 1) for a, b, c, _ in cases])
    if np.allclose(got, no_n, rtol=1e-9):
        return False, "The term with ρ⁻² carries a factor n = ‖ν‖²."
    if np.allclose(got, want**2, rtol=1e-9):
        return False, "That is ρ²; take its square root."
    return False, "Minimise ρ² ‖Hs̃‖² ‖F‖² + ρ⁻² n ‖θ̃‖² over ρ > 0."
