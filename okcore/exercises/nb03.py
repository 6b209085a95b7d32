"""Exercises of notebook 03 (Kronecker structure)."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import Step, TanhCell
from okcore.demos.kronecker import kron, kronecker_spectrum, random_network, rearrange, top_share
from okcore.exercises import call_answer, exercise, precision_message

# Exercise 03.1: the step whose immediate influence the reader builds.
STEP_SEED = 3
N_IN, N_HIDDEN = 3, 5

# Exercise 03.3: the network of the worked example with one hidden unit.
TINY_N_IN = 3

# Exercise 03.4: the network whose Kronecker spectrum the reader predicts (the cell's default weights). With weights
# of standard deviation 0.5 the notebook's network needs 7 terms for 99.9% at every t; smaller weights concentrate
# the spectrum, so a sound prediction for the default weights is fewer than 7 terms, but more than one (at t = 2,
# G_t is a sum of two terms of similar size). The notebook measures the value and asserts that it lies in this range.
SPECTRUM_SEED, SPECTRUM_N, SPECTRUM_T = 0, 16, 60
SHARE_TARGET = 0.999
RANK_RANGE = (2, 6)


def exercise_step() -> Step:
    """One step of a small tanh cell from a random state: the input of exercise 03.1."""
    rng = np.random.default_rng(STEP_SEED)
    cell = TanhCell(N_IN, N_HIDDEN, rng)
    return cell.step(rng.normal(size=N_IN), rng.uniform(-0.5, 0.5, size=N_HIDDEN))


def _reference_F() -> np.ndarray:
    step = exercise_step()
    # F[a, p, q] = x̂[p] D[a, q]
    return np.einsum("p,aq->apq", step.xhat, step.D)


@exercise("03.1", "the immediate influence F_t = x̂_t ⊗ D_t", _reference_F)
def _check_F(answer: Any) -> tuple[bool, str]:
    F = np.asarray(answer, dtype=np.float64)
    want = _reference_F()
    n, K, k = want.shape
    if F.shape != want.shape:
        if F.shape == (n, N_IN, k):
            return False, "The row that multiplies W is x̂_t = [x_t; h_{t-1}; 1] (step.xhat), not x_t."
        if F.shape in ((K, n, k), (K, k, n), (n, k, K)):
            return False, f"F is indexed F[a, p, q] (unit of h first): expected shape {want.shape}, got {F.shape}."
        return False, f"Expected shape (n, K, k) = {want.shape}, got {F.shape}."
    if np.allclose(F, want, rtol=1e-10, atol=1e-12):
        return True, ""
    precision = precision_message(answer, want)
    if precision:
        return False, precision
    step = exercise_step()
    if np.allclose(F, np.einsum("p,aq->apq", step.xhat, step.H), rtol=1e-10, atol=1e-12):
        return False, "That uses H_t; the immediate influence uses D_t = ∂h_t/∂z_t (step.D)."
    return False, "Entry F[a, p, q] should be x̂[p] · D[a, q]: use step.xhat and step.D."


def _reference_rearrange() -> Callable[[np.ndarray], np.ndarray]:
    def R(G: np.ndarray) -> np.ndarray:
        n, K, k = G.shape
        # row p of R(G) lists G[:, p, :] row by row
        return G.transpose(1, 0, 2).reshape(K, n * k)

    return R


@exercise("03.2", "the Van Loan rearrangement", _reference_rearrange)
def _check_rearrange(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function R(G) that maps an (n, K, k) array to a (K, n·k) matrix."
    rng = np.random.default_rng(32)
    n, K, k = 3, 5, 6
    u = rng.normal(size=K)
    A = rng.normal(size=(n, k))
    out = np.asarray(call_answer(answer, "R", {"G": kron(u, A)}), dtype=np.float64)
    if out.shape != (K, n * k):
        return False, f"R(G) of an (n, K, k) = {(n, K, k)} array should have shape (K, n·k) = {(K, n * k)}."
    if not np.allclose(out, np.outer(u, A.reshape(-1)), rtol=1e-12, atol=1e-12):
        if np.allclose(out, np.outer(u, A.T.reshape(-1)), rtol=1e-12, atol=1e-12):
            return False, "Close: vec(A) should list A row by row (A.reshape(-1)), not column by column."
        return False, "R(u ⊗ A) should equal np.outer(u, A.reshape(-1)); check the axis order."
    G = rng.normal(size=(n, K, k))
    out = np.asarray(call_answer(answer, "R", {"G": G}), dtype=np.float64)
    if out.shape != (K, n * k):
        return False, f"R(G) of an (n, K, k) = {(n, K, k)} array should have shape (K, n·k) = {(K, n * k)}."
    if not np.allclose(out, rearrange(G), rtol=1e-12, atol=1e-12):
        return False, "Right on a single Kronecker product, but R must be linear: check it on a general G."
    return True, ""


def _reference_tiny_ranks() -> tuple[int, int]:
    # n = 1, gated: K = n_in + 2, k = 2. R(G_t) is K × (n·k) = K × 2 and the state unfolding is 1 × K·k, so their
    # ranks are at most min(K, 2) = 2 and 1; with inputs in general position both bounds are reached (t >= 2).
    n, K, k = 1, TINY_N_IN + 2, 2
    return min(K, n * k), min(n, K * k)


@exercise("03.3", "the largest ranks of the two unfoldings for n = 1", _reference_tiny_ranks)
def _check_tiny_ranks(answer: Any) -> tuple[bool, str]:
    try:
        values = tuple(answer)
    except TypeError:
        return False, "Give a pair of integers: (largest rank of R(G_t), largest rank of the state unfolding)."
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        return False, "Give a pair of integers: (largest rank of R(G_t), largest rank of the state unfolding)."
    want = _reference_tiny_ranks()
    got = (int(values[0]), int(values[1]))
    if got == want:
        return True, ""
    if got == want[::-1]:
        return False, "The right numbers in the wrong order: first R(G_t), then the state unfolding."
    hints = []
    if got[0] == 1:
        hints.append(
            "R(G_t): F_t has Kronecker rank 1, but G_t adds one such term per step, and they need not be parallel."
        )
    elif got[0] != want[0]:
        hints.append(f"R(G_t) has K = {TINY_N_IN + 2} rows and n·k = 2 columns: what bounds its rank?")
    if got[1] != want[1]:
        hints.append("The state unfolding has one row per hidden unit, and here n = 1.")
    return False, " ".join(hints)


def _reference_rank() -> int:
    cell, xs = random_network(SPECTRUM_N, SPECTRUM_T, SPECTRUM_SEED)
    share = top_share(kronecker_spectrum(cell, xs), range(1, cell.K + 1))  # (T, K)
    # the smallest r whose share reaches the target at every t
    reaches = np.all(share >= SHARE_TARGET, axis=0)
    return int(np.argmax(reaches)) + 1


@exercise("03.4", "predict: how many Kronecker terms the default network needs", _reference_rank)
def _check_rank(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return False, "Give an integer r."
    low, high = RANK_RANGE
    if low <= answer <= high:
        return True, "A sound prediction: fewer terms than the larger weights needed. The next cell measures it."
    if answer > high:
        return False, (
            "Smaller weights make the Jacobians H_t smaller, so the old terms of G_t fade faster and the spectrum is "
            "more concentrated than with standard deviation 0.5: fewer terms than there, not as many or more."
        )
    return False, (
        "One term cannot carry 99.9% at every t: at t = 2, G_2 = x̂_1 ⊗ H_2D_1 + x̂_2 ⊗ D_2 is a sum of two terms of "
        "similar size."
    )
