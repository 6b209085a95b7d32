"""Exercises of notebook 01 (RNNs and BPTT): the loss in bits, the backward step, the truncation needed."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import TanhCell
from okcore.demos.truncation import delayed_recall_problem, truncation_bias
from okcore.exercises import call_answer, describe, exercise, precision_message

# --- 01.1: the loss of a predictor without memory -------------------------------------------------------------

_PROBLEM = {"T": 40, "delay": 8, "n_symbols": 4}


def _reference_memoryless_bits() -> float:
    # No loss while the target is surely blank (t < delay); afterwards a uniform guess among the n_symbols
    # symbols costs log2(n_symbols) bits per step.
    T, delay, n_symbols = _PROBLEM["T"], _PROBLEM["delay"], _PROBLEM["n_symbols"]
    return (T - delay) * np.log2(n_symbols)


@exercise("01.1", "the best loss without memory, in bits", _reference_memoryless_bits)
def _check_memoryless_bits(answer: Any) -> tuple[bool, str]:
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return False, "Give one number: the expected total loss in bits."
    T, delay, n_symbols = _PROBLEM["T"], _PROBLEM["delay"], _PROBLEM["n_symbols"]
    want = _reference_memoryless_bits()
    if abs(answer - want) <= 1e-9 * want:
        return True, ""
    if abs(answer - want * np.log(2.0)) <= 1e-9 * want:
        return False, "That is the loss in nats; divide by ln 2 for bits."
    if abs(answer - (T - delay) * np.log2(n_symbols + 1)) <= 1e-9 * want:
        return False, "After the first steps the blank class never occurs again: the guess is over the symbols."
    if abs(answer - T * np.log2(n_symbols)) <= 1e-9 * want or abs(answer - T * np.log2(n_symbols + 1)) <= 1e-9 * want:
        return False, f"For the first {delay} steps the target is surely blank, which costs nothing."
    return False, "Count the steps whose target is unknown and the bits each costs."


# --- 01.2: one step of the δ recursion for the tanh cell -----------------------------------------------------


def _reference_back_step() -> Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]:
    def back_step(delta: np.ndarray, h: np.ndarray, W: np.ndarray, n_in: int) -> np.ndarray:
        """δ H_t for h_t = tanh(x̂_t W): H_t[a, i] = (1 − h_t[a]²) W[n_in + i, a]."""
        n = h.shape[0]
        W_h = W[n_in : n_in + n]  # the rows of W that multiply h_{t-1}, shape (n, n)
        return (delta * (1.0 - h**2)) @ W_h.T

    return back_step


def _back_step_cases(count: int = 4) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]]:
    """(delta, h_t, W, n_in, expected δ H_t) for random tanh cells, H_t taken from okcore's own step."""
    rng = np.random.default_rng(101)
    cases = []
    for n_in, n in [(3, 5), (2, 4), (1, 6), (4, 3)][:count]:
        cell = TanhCell(n_in, n, rng, scale=0.8)
        step = cell.step(rng.standard_normal(n_in), np.tanh(rng.standard_normal(n)))
        delta = rng.standard_normal(n)
        cases.append((delta, step.h, cell.W.copy(), n_in, delta @ step.H))
    return cases


@exercise("01.2", "one backward step of the tanh cell", _reference_back_step)
def _check_back_step(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function back_step(delta, h, W, n_in) returning δ H_t."
    for delta, h, W, n_in, expected in _back_step_cases():
        result = call_answer(answer, "back_step", {"delta": delta, "h": h, "W": W, "n_in": n_in})
        if result is None:
            return False, "back_step returned None: does it end with return?"
        if not isinstance(result, np.ndarray | list | tuple | float | int):
            return False, f"back_step should return an array of shape {expected.shape}, got {describe(result)}."
        got = np.asarray(result, dtype=float)
        if got.shape != expected.shape:
            return False, f"Expected a vector of shape (n,) = {expected.shape}, got shape {got.shape}."
        if np.allclose(got, expected, rtol=1e-10, atol=1e-12):
            continue
        precision = precision_message(result, expected)
        if precision:
            return False, precision
        n = h.shape[0]
        W_h = W[n_in : n_in + n]
        if np.allclose(got, delta @ W_h.T, rtol=1e-10, atol=1e-12):
            return False, "The derivative of tanh is missing: H_t = diag(1 − h_t²) W_hᵀ."
        if np.allclose(got, (delta * (1.0 - h**2)) @ W_h, rtol=1e-10, atol=1e-12):
            return False, "W_h needs a transpose: H_t[a, i] = (1 − h_t[a]²) W[n_in + i, a]."
        if np.allclose(got, (delta * (1.0 - np.tanh(h) ** 2)) @ W_h.T, rtol=1e-10, atol=1e-12):
            return False, "h is already tanh(z): the derivative is 1 − h², not 1 − tanh(h)²."
        return False, "Not δ H_t. Which rows of W multiply h_{t-1}, and what is ∂h_t/∂z_t?"
    return True, ""


# --- 01.3: how long must the truncation be? (a prediction) -------------------------------------------------

THRESHOLD = 1e-2
FORGET_GATE = 1.0 / (1.0 + np.exp(-2.0))  # σ(2): the share of the state a gate with bias +2 keeps per step
# Accepted predictions of the shortest truncation within 1% of the full gradient. A lag-ℓ path through the gated
# state keeps about f^ℓ of itself, f = σ(2) ≈ 0.88, and f^ℓ = 0.01 at ℓ ≈ 36: anything from 25 up to T = 40 is a
# sound prediction from that argument. The notebook measures the true value and asserts that it lies in this range.
TAU_RANGE = (25, 40)
KINDS = ("sharp", "smooth")


def _reference_truncation() -> tuple[str, int]:
    # Measure the relative error of every truncation on the notebook's problem and take the first below 1%.
    problem = delayed_recall_problem()
    taus = np.arange(1, problem.T + 1)
    errors = truncation_bias(problem.cell, problem.readout, problem.xs, problem.ys, taus)
    return "smooth", int(taus[np.argmax(errors < THRESHOLD)])


@exercise("01.3", "predict: the error past the delay, and the truncation within 1%", _reference_truncation)
def _check_truncation(answer: Any) -> tuple[bool, str]:
    try:
        kind, tau = answer
    except (TypeError, ValueError):
        return False, 'Give a pair: ("sharp" or "smooth", your predicted τ).'
    if not isinstance(kind, str) or kind.strip().lower() not in KINDS:
        return False, 'The first entry is "sharp" or "smooth".'
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not np.isfinite(tau):
        return False, "The second entry is a truncation length τ, a number of steps."
    problem = delayed_recall_problem()
    messages = []
    if kind.strip().lower() == "sharp":
        messages.append(
            "Past the delay the error does not drop at once: the lag-d term is one of many, and every lag contributes "
            "a little through the state's memory."
        )
    low, high = TAU_RANGE
    if tau < low:
        messages.append(
            f"τ = {tau:g} is too short. The gates keep about f = σ(2) ≈ {FORGET_GATE:.2f} of the state per step, so a "
            "term of lag ℓ shrinks roughly like f^ℓ: for how large an ℓ is f^ℓ about 0.01?"
        )
    elif tau > high:
        messages.append(f"τ = {tau:g} is more than enough: τ = T = {problem.T} already keeps every lag.")
    if messages:
        return False, " ".join(messages)
    return True, (
        f"A sound prediction: f^τ ≈ 0.01 for f = {FORGET_GATE:.2f} gives τ ≈ 36. The cells below measure the "
        "error for every τ."
    )
