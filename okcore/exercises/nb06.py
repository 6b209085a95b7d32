"""Exercises of notebook 06 (Kronecker sums): a prediction of the best pair for KF's sign trick, an unbiased
sign-mixing compression of one's own that beats KF-avg, and an unbiased scheme whose coefficients are not all 1 on a
step with dependent terms."""

from __future__ import annotations

from typing import Any

import numpy as np

from okcore.cells import GatedCell
from okcore.demos.ksums import (
    Instance,
    exact_moments,
    kf_avg_scheme,
    kf_pair_scheme,
    make_instance,
    sign_mixing_scheme,
)
from okcore.exercises import exercise

# --- 06.1: which pair should KF merge? ----------------------------------------------------------------------


def exercise_instance() -> Instance:
    """The step of exercise 06.1: a rank-3 sum of a small gated cell and its next step (r + 1 = 4 terms)."""
    rng = np.random.default_rng(601)
    cell = GatedCell(3, 4, rng)
    return make_instance(cell, 3, rng)


def _pair_variances() -> dict[tuple[int, int], float]:
    inst = exercise_instance()
    N = inst.rank + 1
    return {
        (i + 1, j + 1): exact_moments(kf_pair_scheme(inst.v, inst.M, i, j), inst.target).variance
        for i in range(N)
        for j in range(i + 1, N)
    }


def _reference_pair() -> tuple[int, int]:
    # Try every pair with KF's sign trick and keep the one that adds the least variance.
    variances = _pair_variances()
    return min(variances, key=variances.get)


@exercise("06.1", "predict: the best pair for KF merging", _reference_pair)
def _check_pair(answer: Any) -> tuple[bool, str]:
    try:
        i, j = (int(x) for x in answer)
    except (TypeError, ValueError):
        return False, "Give a pair (i, j) of term numbers, counting from 1."
    N = exercise_instance().rank + 1
    pair = (min(i, j), max(i, j))
    best = _reference_pair()
    if pair == best:
        return True, (
            "The two terms with the smallest products ‖v_j‖‖M_j‖: merging them costs about twice the product of the "
            "four norms. The next cell computes every pair."
        )
    zero_based = " (Counting from 0? The terms are numbered from 1.)" if (pair[0] + 1, pair[1] + 1) == best else ""
    if i == j or not (1 <= pair[0] and pair[1] <= N):
        return False, f"Pick two different term numbers from 1 to {N}.{zero_based}"
    return False, (
        "Another pair adds less. Merging terms a ⊗ B and b ⊗ C with balancing adds V* = 2‖a‖‖B‖‖b‖‖C‖ + "
        "2⟨a, b⟩⟨B, C⟩ (notebook 05): compare the products ‖v_j‖‖M_j‖ of the four terms." + zero_based
    )


# --- 06.2: an unbiased sign-mixing scheme -------------------------------------------------------------------


def mixing_instance() -> Instance:
    """The step of exercise 06.2: a rank-2 sum of a small gated cell and its next step (three independent terms)."""
    rng = np.random.default_rng(602)
    cell = GatedCell(2, 3, rng)
    return make_instance(cell, 2, rng)


def _reference_mixing() -> tuple[np.ndarray, np.ndarray]:
    # Keep the term with the largest ‖v_j‖‖M_j‖ exactly, in a row of its own (its sign squares to 1), and merge the
    # other two in the second row with KF's balancing: α = √(‖M‖/‖v‖), β = 1/α gives both parts of a pair the same
    # norm. Every coefficient c_i = Σ_j α_ji β_ji is 1, so the scheme is unbiased.
    inst = mixing_instance()
    size = np.linalg.norm(inst.v, axis=1) * np.linalg.norm(inst.M.reshape(3, -1), axis=1)
    kept = int(np.argmax(size))
    balance = np.sqrt(np.linalg.norm(inst.M.reshape(3, -1), axis=1) / np.linalg.norm(inst.v, axis=1))
    alpha, beta = np.zeros((2, 3)), np.zeros((2, 3))
    alpha[0, kept] = beta[0, kept] = 1.0
    for i in range(3):
        if i != kept:
            alpha[1, i], beta[1, i] = balance[i], 1.0 / balance[i]
    return alpha, beta


@exercise("06.2", "a sign-mixing scheme that beats KF-avg", _reference_mixing)
def _check_mixing(answer: Any) -> tuple[bool, str]:
    try:
        alpha, beta = (np.asarray(a, dtype=float) for a in answer)
    except (TypeError, ValueError):
        return False, "Give a pair (alpha, beta) of arrays of shape (2, 3)."
    if alpha.shape != (2, 3) or beta.shape != (2, 3):
        return False, f"alpha and beta should both have shape (r, r+1) = (2, 3), got {alpha.shape} and {beta.shape}."
    if not (np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta))):
        return False, "alpha and beta should be finite."
    inst = mixing_instance()
    moments = exact_moments(sign_mixing_scheme(inst.v, inst.M, alpha, beta), inst.target)
    diag = np.einsum("ji,ji->i", alpha, beta)
    if moments.bias > 1e-9:
        # the three terms of this step are linearly independent (P has Kronecker rank 3), so unbiasedness needs
        # every coefficient c_i = Σ_j α_ji β_ji to be 1
        bad = ", ".join(f"{i + 1}: {d:.3g}" for i, d in enumerate(diag) if not np.isclose(d, 1.0))
        return False, (
            f"Not unbiased (relative bias {moments.bias:.2g}). The terms of this step are linearly independent, so "
            f"the coefficient Σ_j α_ji β_ji of every term i must be 1; yours are off for term(s) {bad}."
        )
    kf_avg = exact_moments(kf_avg_scheme(inst.v, inst.M), inst.target).variance
    if moments.variance >= kf_avg:
        return False, (
            f"Unbiased, but it adds {moments.variance:.3g}, not less than KF-avg's {kf_avg:.3g}. Which terms are "
            "large (‖v_j‖‖M_j‖)? A term alone in a row is carried exactly; what a merge costs depends on the sizes "
            "of the terms it merges, and on balancing their two factors."
        )
    return True, (
        f"Unbiased, and it adds {moments.variance:.3g} against KF-avg's {kf_avg:.3g} "
        f"({kf_avg / moments.variance:.3g} times less)."
    )


# --- 06.3: dependent terms ----------------------------------------------------------------------------------


def repeated_instance() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v (3, K), M (3, n, k), P) of exercise 06.3: terms 1 and 2 of a real step, and term 3 a copy of term 1.

    P = Σ_j v_j ⊗ M_j = 2 v_1 ⊗ M_1 + v_2 ⊗ M_2, of Kronecker rank 2: the three terms are linearly dependent.
    """
    inst = mixing_instance()
    v = np.stack([inst.v[0], inst.v[1], inst.v[0]])
    M = np.stack([inst.M[0], inst.M[1], inst.M[0]])
    return v, M, np.einsum("jp,jaq->apq", v, M)


def _reference_dependent() -> tuple[np.ndarray, np.ndarray]:
    # E[X] = Σ_i c_i v_i ⊗ M_i with c_i = Σ_j α_ji β_ji. Term 3 = term 1, so
    # E[X] = (c_1 + c_3) v_1 ⊗ M_1 + c_2 v_2 ⊗ M_2: any c with c_1 + c_3 = 2 and c_2 = 1 is unbiased.
    # Put all of the repeated term on term 1: c = (2, 1, 0).
    alpha = np.array([[np.sqrt(2.0), 0.0, 0.0], [0.0, 1.0, 0.0]])
    return alpha, alpha.copy()


@exercise("06.3", "unbiased without Σ_j α_ji β_ji = 1", _reference_dependent)
def _check_dependent(answer: Any) -> tuple[bool, str]:
    try:
        alpha, beta = (np.asarray(a, dtype=float) for a in answer)
    except (TypeError, ValueError):
        return False, "Give a pair (alpha, beta) of arrays of shape (2, 3)."
    if alpha.shape != (2, 3) or beta.shape != (2, 3):
        return False, f"alpha and beta should both have shape (2, 3), got {alpha.shape} and {beta.shape}."
    if not (np.all(np.isfinite(alpha)) and np.all(np.isfinite(beta))):
        return False, "alpha and beta should be finite."
    v, M, P = repeated_instance()
    moments = exact_moments(sign_mixing_scheme(v, M, alpha, beta), P)
    c = np.einsum("ji,ji->i", alpha, beta)
    coeffs = ", ".join(f"{x:.3g}" for x in c)
    if moments.bias > 1e-9:
        return False, (
            f"Not unbiased (relative bias {moments.bias:.2g}, exact over all 8 sign patterns); your coefficients "
            f"c = ({coeffs}). Here term 3 equals term 1, so E[X] = (c_1 + c_3) v_1 ⊗ M_1 + c_2 v_2 ⊗ M_2."
        )
    if np.allclose(c, 1.0, rtol=0.0, atol=1e-6):
        return False, (
            "Unbiased, but every c_i = Σ_j α_ji β_ji is 1: that is the condition for independent terms. Find "
            "one whose coefficients are not all 1."
        )
    return True, (
        f"Unbiased (exact over all 8 sign patterns) with c = ({coeffs}): the rule 'every c_i = 1' is sufficient, "
        "but necessary only when the terms are linearly independent."
    )
