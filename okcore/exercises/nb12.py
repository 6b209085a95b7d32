"""Exercises of notebook 12 (costs): the bytes of each estimate, where OK stops being cheaper, what batching buys.

12.1 asks for a function and tests it on fresh random sizes against :func:`okcore.costs.estimate_bytes`; 12.2 and
12.3 ask for a prediction, made before the notebook measures it, and explain the reason in the verdict.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore import costs
from okcore.exercises import call_answer, describe, exercise

# --- 12.1: bytes of each estimate ------------------------------------------------------------------------------

ASKED = ("exact", "uoro", "kf", "kf-avg", "ok")  # the methods 12.1 asks about (costs.METHODS may hold more)


def _reference_bytes() -> Callable[[str, int, int, int, int], int]:
    def estimate_bytes(method: str, n: int, rank: int, n_in: int, batch: int) -> int:
        """Bytes (float64) of the arrays holding the estimate of a gated cell (K = n_in + n + 1, k = 2 n)."""
        K, k = n_in + n + 1, 2 * n
        if method == "exact":
            numbers_per_row = n * K * k  # G, (n, K, k)
        elif method == "uoro":
            numbers_per_row = n + K * k  # s̃ (n,) and θ̃ (K, k)
        else:  # kf (rank 1), kf-avg, ok: u (r, K) and A (r, n, k)
            numbers_per_row = rank * (K + n * k)
        return 8 * batch * numbers_per_row

    return estimate_bytes


def _diagnose_bytes(got: int, method: str, n: int, r: int, n_in: int, B: int) -> str:
    want = costs.estimate_bytes(method, n, r, n_in=n_in, batch=B)
    if got * 8 == want:
        return "This counts numbers, not bytes: float64 takes 8 bytes each"
    if got * B == want:
        return "Every batch row keeps its own estimate: multiply by the batch size"
    if method in costs.RANKED and got * r == want:
        return f"{method} keeps r = {r} terms u_i ⊗ A_i: multiply by the rank"
    K = n_in + n + 1
    if n_in > 1 and got == costs.estimate_bytes(method, n, r, n_in=n_in - 1, batch=B):
        return "K = n_in + n + 1: the bias is a column of W too"
    if method == "exact" and got == 8 * B * n * K * n:
        return "The gated cell has k = 2n columns of W, not n"
    if method in ("uoro", "kf", "kf-avg", "ok") and got == 8 * B * n * K * 2 * n:
        return f"{method} does not store G densely: it keeps factors (see the text of section 2)"
    return f"Expected {want} bytes, got {got} (off by a factor {got / want:.3g})"


@exercise("12.1", "the bytes of each estimate", _reference_bytes)
def _check_bytes(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, f"Expected a function estimate_bytes(method, n, rank, n_in, batch), got {describe(answer)}."
    # one fixed size first (so that an unfinished function always gets the same message), then random ones; 8 (bytes
    # per number), the rank and the batch are distinct factors, so that a diagnosis names the one missed
    rng = np.random.default_rng()
    sizes = [(24, 3, 4, 16)] + [
        tuple(int(x) for x in (rng.integers(3, 200), rng.integers(2, 8), rng.integers(1, 60), rng.integers(9, 33)))
        for _ in range(5)
    ]
    for n, r, n_in, B in sizes:
        for method in ASKED:
            rank = r if method in costs.RANKED else 1
            args = {"method": method, "n": n, "rank": rank, "n_in": n_in, "batch": B}
            got = call_answer(answer, "estimate_bytes", args)
            if isinstance(got, bool) or not isinstance(got, numbers.Integral | float):
                call = f"estimate_bytes({method!r}, {n}, {rank}, {n_in}, {B})"
                hint = " Does it end with return?" if got is None else ""
                return False, f"{call} returned {describe(got)}; expected a number of bytes.{hint}"
            want = costs.estimate_bytes(method, n, rank, n_in=n_in, batch=B)
            if got != want:
                diagnosis = _diagnose_bytes(got, method, n, rank, n_in, B)
                return False, f"{diagnosis} (for {method}, n = {n}, rank = {rank}, n_in = {n_in}, batch = {B})."
    return True, f"The counts agree with okcore.costs.estimate_bytes for all five methods on {len(sizes)} sizes."


# --- 12.2: where OK stops being cheaper in flops ---------------------------------------------------------------

N_CROSS = 32
N_IN = 4


def _reference_cross_rank() -> int:
    exact = costs.update_flops("exact", N_CROSS, n_in=N_IN)
    r = 1
    while costs.update_flops("ok", N_CROSS, r + 1, n_in=N_IN) < exact:
        r += 1
    return r


@exercise(
    "12.2", f"the largest rank at which OK counts fewer flops than exact RTRL (n = {N_CROSS})", _reference_cross_rank
)
def _check_cross_rank(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return False, f"Expected a whole number (a rank), got {describe(answer)}."
    want = _reference_cross_rank()
    K = N_IN + N_CROSS + 1
    if answer == want:
        return True, (
            f"OK's products cost 2 r n² k against exact RTRL's 2 n² K k, so r < K = {K} would do; the Gram matrix "
            f"and the recombination (about 3 r² n k) bring the crossing down to r = {want}."
        )
    if answer in (K, K - 1):
        return False, "That counts the products H A_j only; the Gram matrix and the recombination grow like r² n k."
    return False, f"Compare update_flops('ok', {N_CROSS}, r) with update_flops('exact', {N_CROSS}) as r grows."


# --- 12.3: what batching buys at large n -----------------------------------------------------------------------

_BATCH_CHOICES = {
    "a": "about 1/16: sixteen sequences share one call",
    "b": "about 0.3: the numpy calls are shared, the arithmetic is not",
    "c": "close to 1: the products dominate and cost the same per sequence",
}


def _reference_batching() -> str:
    return "c"


@exercise("12.3", "batch 16 against batch 1 for KF at n = 128, per sequence", _reference_batching)
def _check_batching(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, str) or answer.strip().lower() not in _BATCH_CHOICES:
        return False, f"Expected one of {sorted(_BATCH_CHOICES)}, got {answer!r}."
    choice = answer.strip().lower()
    if choice == "c":
        return True, (
            "At n = 128 the product H·A takes 2 n² k = 8.4 Mflop per sequence, far more than the few dozen numpy "
            "calls around it; batching shares the calls, but every sequence still needs its own product (and once "
            "the batch's arrays outgrow the processor's cache, each product even gets a little slower: section 5)."
        )
    if choice == "a":
        return False, "Batching shares the per-call overhead, not the arithmetic: each row has its own H·A."
    return False, "0.3 is what batching gives where the calls dominate (small n); at n = 128 the product does."
