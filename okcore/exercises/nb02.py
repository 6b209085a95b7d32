"""Exercises of notebook 02 (the influence matrix): one step of the RTRL recursion, and the size of G."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import GatedCell, TanhCell
from okcore.exercises import AnswerError, call_answer, describe, exercise, precision_message
from okcore.exercises._factors import two_term_fit
from okcore.rtrl import ExactRTRL

# --- 02.1: one step of the RTRL recursion --------------------------------------------------------------------


def _reference_rtrl_step() -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def rtrl_step(G_prev: np.ndarray, H: np.ndarray, xhat: np.ndarray, D: np.ndarray) -> np.ndarray:
        """G_t = H_t G_{t-1} + F_t with F_t[a, p, q] = x̂_t[p] D_t[a, q].

        G_prev (n, K, k), H (n, n), xhat (K,), D (n, k); returns G_t (n, K, k). A leading batch axis on every
        argument works too.
        """
        # (H G)[a, p, q] = Σ_b H[a, b] G[b, p, q]: H acts on the first axis of G only.
        HG = np.einsum("...ab,...bpq->...apq", H, G_prev)
        # F[a, p, q] = x̂[p] D[a, q]: x̂ runs along the second axis, D fills the first and the last.
        F = xhat[..., None, :, None] * D[..., :, None, :]
        return HG + F

    return rtrl_step


def _rtrl_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(G_{t-1}, H_t, x̂_t, D_t, G_t) along short random runs, G from okcore.ExactRTRL.

    Sizes are drawn so that K ≠ k and n ≠ K, hence a transposed layout has the wrong shape or wrong entries.
    Runs start from G_0 = 0, so the first step of each run checks F_t alone and the later ones the H_t term.
    """
    cases = []
    for cls in (TanhCell, GatedCell):
        n = int(rng.integers(3, 6))
        n_in = int(rng.integers(1, 4))
        cell = cls(n_in, n, rng, scale=0.8)
        exact = ExactRTRL(cell)
        h = rng.uniform(-0.5, 0.5, size=n)
        for _ in range(4):
            G_prev = exact.influence()[0]
            step = cell.step(rng.standard_normal(n_in), h)
            exact.update(step)
            cases.append((G_prev, step.H, step.xhat, step.D, exact.influence()[0]))
            h = step.h
    return cases


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(b).max())))


def _wrong_xhat_entries(F_got: np.ndarray, xhat: np.ndarray, D: np.ndarray) -> str | None:
    """A message if ``F_got`` = y ⊗ D for a vector y that differs from x̂ in some entries, else None."""
    n, K, k = F_got.shape
    y = np.einsum("apq,aq->p", F_got, D) / np.sum(D * D)  # the best y with F_got ≈ y ⊗ D
    if not _close(F_got, np.einsum("p,aq->apq", y, D)):
        return None
    wrong = np.flatnonzero(~np.isclose(y, xhat, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(xhat).max())))
    n_in = K - n - 1
    parts = {"x_t": range(n_in), "h_{t-1}": range(n_in, K - 1), "the constant 1 (the bias entry)": range(K - 1, K)}
    named = [name for name, where in parts.items() if set(wrong.tolist()) & set(where)]
    dropped = " (set to 0)" if np.all(y[wrong] == 0) else ""
    entries = f"entr{'y' if len(wrong) == 1 else 'ies'} {wrong.tolist()}{dropped}"
    return (
        f"F_t is y ⊗ D_t with a y that differs from x̂_t in {entries}, which belong{'s' if len(wrong) == 1 else ''} "
        f"to {' and '.join(named)}: x̂_t = [x_t; h_{{t-1}}; 1] has K = {K} entries, {n_in} inputs, {n} states and "
        "the constant 1 last. Use xhat as it is given."
    )


def _diagnose_step(got: np.ndarray, G_prev: np.ndarray, H: np.ndarray, xhat: np.ndarray, D: np.ndarray) -> str:
    """Name the mistake that produced ``got``, if it is one of the usual ones."""
    n, K, k = G_prev.shape
    HG = np.einsum("ab,bpq->apq", H, G_prev)
    F = np.einsum("p,aq->apq", xhat, D)
    F_swapped = np.kron(D, xhat[None, :]).reshape(n, K, k)  # entry [a, q·K + p], read as if it were [a, p·k + q]
    if _close(got, F):
        return "G_t equals F_t alone: the term H_t G_{t-1}, which carries the past, is missing."
    if _close(got, HG):
        return "The immediate influence F_t = x̂_t ⊗ D_t is missing."
    if _close(got, G_prev + F):
        return "G_{t-1} is added unchanged: it must be multiplied by H_t first."
    if _close(got, np.einsum("ba,bpq->apq", H, G_prev) + F):
        return "H_t is transposed: (H G)[a, p, q] = Σ_b H[a, b] G[b, p, q]."
    if _close(got, HG + F_swapped) or _close(got, F_swapped):
        return (
            "The factors of F are swapped: np.kron(D, x̂) lists x̂ fastest, but F[a, p, q] = x̂[p] D[a, q] "
            "needs D's column q fastest (np.kron(x̂[None, :], D) in the (n, K·k) layout, or broadcasting)."
        )
    F_column = np.kron(xhat[:, None], D).reshape(n, K, k)  # (K·n, k): x̂ as a column, then reshaped
    if _close(got, HG + F_column) or _close(got, F_column):
        return (
            "F was built with x̂ as a K×1 column (as np.kron(x̂[:, None], D) or np.outer(x̂, D.reshape(-1)) do: the "
            "same numbers, laid out as (K·n, k) or (K, n·k)), and reshaping that to (n, K, k) does not give "
            "F[a, p, q] = x̂[p] D[a, q]. Take x̂ as a 1×K row, or use broadcasting."
        )
    if _close(got, HG - F) or _close(got, F - HG):
        return "A sign is wrong: both terms are added."
    fit = two_term_fit(got, HG, F) if np.any(HG) else None
    if fit is not None:
        a, b = fit
        if np.isclose(a, 1.0, rtol=1e-8):
            return (
                f"F_t enters with a factor {b:.3g}: G_t = H_t G_{{t-1}} + F_t, with F[a, p, q] = x̂[p] D[a, q] itself."
            )
        if np.isclose(b, 1.0, rtol=1e-8):
            return f"H_t G_{{t-1}} enters with a factor {a:.3g}: G_t = H_t G_{{t-1}} + F_t, both terms as they are."
        return f"G_t = {a:.3g} H_t G_{{t-1}} + {b:.3g} F_t: both terms enter with the factor 1."
    if not np.any(HG) and np.allclose(got, got.ravel() @ F.ravel() / np.sum(F * F) * F, rtol=1e-10):
        return (
            f"F_t enters with a factor {got.ravel() @ F.ravel() / np.sum(F * F):.3g}: F[a, p, q] = x̂[p] D[a, q] itself."
        )
    wrong_x = _wrong_xhat_entries(got - HG, xhat, D)
    if wrong_x is not None:
        return wrong_x
    return "Not G_t = H_t G_{t-1} + F_t with F[a, p, q] = x̂[p] D[a, q]."


def _matmul_hint(message: str, n: int, K: int) -> str:
    """A hint when the reader multiplied H with the 3-axis G_prev by @, which batches over G's first axis: the sizes
    that did not fit are n against K, in a line with @ and no reshape."""
    line = message.split("`")[1] if message.count("`") >= 2 else ""
    sizes = re.search(r"last axis has (\d+) entries but the right factor's first axis has (\d+)", message)
    on_G = (
        sizes is not None
        and (int(sizes.group(1)), int(sizes.group(2))) == (n, K)
        and (not line or ("@" in line and "reshape" not in line))
    )
    if "matrix product @" in message and on_G:
        return (
            " On an array with three axes, @ treats the first as a batch axis and multiplies the last two, so "
            "H @ G_prev does not sum over G's first axis: flatten G_prev to (n, K·k) first, multiply, and reshape "
            "back, or write the sum over b with np.einsum."
        )
    return ""


def _shape_message(shape: tuple[int, ...], n: int, K: int, k: int, n_in: int) -> str:
    if shape == (n, K * k):
        return f"That is G_t in the (n, K·k) layout; reshape it to (n, K, k) = {(n, K, k)}."
    if shape in ((K * n, k), (n * K, k)):
        return (
            "Shape (K·n, k): that is the Kronecker product of x̂ as a column with D. The workbook's x̂ ⊗ D has "
            f"F[a, p, q] = x̂[p] D[a, q], shape (n, K, k) = {(n, K, k)}."
        )
    if shape == (n, n_in, k):
        return "Use x̂_t = [x_t; h_{t-1}; 1] (the argument xhat), not x_t."
    if sorted(shape) == sorted((n, K, k)):
        return f"Right sizes, wrong order: G_t is indexed G[a, p, q], shape (n, K, k) = {(n, K, k)}."
    return f"Expected G_t of shape (n, K, k) = {(n, K, k)}, got shape {shape}."


@exercise("02.1", "one step of the RTRL recursion", _reference_rtrl_step)
def _check_rtrl_step(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function rtrl_step(G_prev, H, xhat, D) returning G_t of shape (n, K, k)."
    rng = np.random.default_rng()  # fresh instances at every check
    for G_prev, H, xhat, D, expected in _rtrl_cases(rng):
        n, K, k = G_prev.shape
        arguments = {"G_prev": G_prev, "H": H, "xhat": xhat, "D": D}
        try:
            result = call_answer(answer, "rtrl_step", arguments)
        except AnswerError as err:
            raise AnswerError(str(err) + _matmul_hint(str(err), n, K)) from None
        if result is None:
            return False, "The function returned None: does it end with return?"
        if not isinstance(result, np.ndarray):
            return False, f"rtrl_step should return an array G_t of shape (n, K, k), got {describe(result)}."
        got = np.asarray(result, dtype=float)
        if got.shape != expected.shape:
            return False, _shape_message(got.shape, n, K, k, K - n - 1)
        if not _close(got, expected):
            return False, precision_message(result, expected) or _diagnose_step(got, G_prev, H, xhat, D)
    # One sequence works. A batch is optional; say whether it works too.
    B = 3
    cell = GatedCell(2, 3, rng, scale=0.8)
    exact = ExactRTRL(cell, batch=B)
    step = cell.step(rng.standard_normal((B, 2)), rng.uniform(-0.5, 0.5, size=(B, 3)))
    exact.update(step)
    G_prev = exact.influence()
    step = cell.step(rng.standard_normal((B, 2)), step.h)
    exact.update(step)
    try:
        got = np.asarray(answer(G_prev.copy(), step.H.copy(), step.xhat.copy(), step.D.copy()), dtype=float)
        batched = _close(got, exact.influence())
    except Exception:  # a function written for one sequence may fail on a batch; that is allowed
        batched = False
    if batched:
        return True, "It works on a batch (a leading axis B on every argument) too."
    return True, "(For one sequence; with a leading batch axis it does not give G_t, which is fine here.)"


# --- 02.2: bytes of G ----------------------------------------------------------------------------------------

_SIZE = {"n_in": 50, "n_hidden": 256}


def _reference_bytes() -> int:
    # G has n·K·k float64 entries (8 bytes each), with K = n_in + n + 1 and k = 2n for the gated cell.
    n_in, n = _SIZE["n_in"], _SIZE["n_hidden"]
    K, k = n_in + n + 1, 2 * n
    return n * K * k * 8


@exercise("02.2", "bytes of G for n = 256", _reference_bytes)
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
