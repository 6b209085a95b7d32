"""Exercises of notebook 11 (character-level language modelling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import GatedCell
from okcore.exercises import exercise
from okcore.readout import Readout
from okcore.tasks.text import contiguous_bpc, unigram_bpc

# --- 11.1: the unigram reference line ------------------------------------------------------------------


def _reference_unigram() -> Callable[[np.ndarray, np.ndarray, int], float]:
    def unigram_bits(train_ids: np.ndarray, eval_ids: np.ndarray, V: int) -> float:
        counts = np.bincount(train_ids, minlength=V) + 1.0  # add-one: no character gets probability 0
        p = counts / counts.sum()
        return float(-np.mean(np.log2(p[eval_ids])))

    return unigram_bits


def _unigram_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, int]]:
    cases = []
    for V in (3, 7, 12):
        weights = rng.dirichlet(np.ones(V))
        train = rng.choice(V, size=int(rng.integers(40, 120)), p=weights)
        train[train == V - 1] = 0  # the last symbol never occurs in training: smoothing matters
        cases.append((train, rng.choice(V, size=int(rng.integers(20, 60))), V))
    return cases


@exercise("11.1", "unigram bits per character, add-one smoothed", _reference_unigram)
def _check_unigram(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function unigram_bits(train_ids, eval_ids, V)."
    for train, ev, V in _unigram_cases(np.random.default_rng()):
        want = unigram_bpc(train, ev, V)
        got = float(answer(train.copy(), ev.copy(), V))
        if np.isclose(got, want, rtol=1e-9):
            continue
        counts = np.bincount(train, minlength=V)
        if not np.isfinite(got):
            return (
                False,
                "Got an infinite value: a character unseen in training has probability 0. Add 1 to each count.",
            )
        if np.isclose(got, want * np.log(2.0), rtol=1e-9):
            return False, "That is in nats (natural log); bits use log base 2."
        with np.errstate(divide="ignore"):
            p_plain = counts / counts.sum()
            plain = -np.mean(np.log2(p_plain[ev]))
        if np.isfinite(plain) and np.isclose(got, plain, rtol=1e-9):
            return False, "Smooth the counts: add 1 to every count (all V characters) before normalising."
        q = np.bincount(ev, minlength=V) / ev.size
        own = -np.sum(q[q > 0] * np.log2(q[q > 0]))
        if np.isclose(got, own, rtol=1e-9):
            return False, "That is the entropy of the evaluation text itself; score it with the TRAINING frequencies."
        return (
            False,
            f"For V = {V} expected {want:.6f} bits, got {got:.6f}: mean of −log₂ p(c) over the evaluation text.",
        )
    return True, ""


# --- 11.2: bits per character in contiguous streams ----------------------------------------------------


def _reference_evaluate() -> Callable[[Any, Any, np.ndarray, int], float]:
    def evaluate_bpc(cell, readout, ids: np.ndarray, streams: int) -> float:
        V, n = cell.n_in, cell.n_hidden
        L = (len(ids) - 1) // streams
        starts = np.arange(streams) * L
        h = np.zeros((streams, n))  # one row per stream, carried over, never reset
        bits = 0.0
        for t in range(L):
            h = cell.step(np.eye(V)[ids[starts + t]], h).h
            bits += readout.loss(h, ids[starts + t + 1]).sum()  # the readout's unit is bits
        return float(bits / (streams * L))

    return evaluate_bpc


def _variant(cell, readout, ids: np.ndarray, S: int, kind: str) -> float:
    """Typical mistakes, computed for the diagnosis."""
    V, n = cell.n_in, cell.n_hidden
    L = (len(ids) - 1) // S
    starts = np.arange(S) * L
    h = np.zeros((S, n))
    bits = 0.0
    for t in range(L):
        if kind == "reset":
            h = np.zeros((S, n))
        h = cell.step(np.eye(V)[ids[starts + t]], h).h
        bits += readout.loss(h, ids[starts + t + (0 if kind == "same" else 1)]).sum()
    return float(bits / (S * L))


@exercise("11.2", "bits per character in contiguous streams", _reference_evaluate)
def _check_evaluate(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function evaluate_bpc(cell, readout, ids, streams)."
    rng = np.random.default_rng()
    for V, n, S, N in ((5, 4, 3, 61), (8, 6, 4, 90)):
        cell = GatedCell(V, n, rng)
        readout = Readout(n, V, rng, unit="bits")
        ids = rng.integers(0, V, size=N)
        want = contiguous_bpc(cell, readout, ids, streams=S)
        got = float(answer(cell, readout, ids.copy(), S))
        if np.isclose(got, want, rtol=1e-9):
            continue
        if np.isclose(got, want * np.log(2.0), rtol=1e-9):
            return False, "That is in nats; the mean loss in bits is what bits per character means."
        if np.isclose(got, _variant(cell, readout, ids, S, "reset"), rtol=1e-9):
            return False, "The state is reset at every step: carry h over from one character to the next."
        if np.isclose(got, _variant(cell, readout, ids, S, "same"), rtol=1e-9):
            return False, "The target is the character just read; it should be the NEXT one, ids[p + 1]."
        if np.isclose(got, contiguous_bpc(cell, readout, ids, streams=1), rtol=1e-9):
            return False, f"That reads the text as one stream; cut it into {S} pieces of (N − 1) // {S} characters."
        return False, f"Expected {want:.6f} bits per character for V = {V}, n = {n}, {S} streams; got {got:.6f}."
    return True, ""


# --- 11.3: sampling with a temperature -----------------------------------------------------------------


def _reference_probs() -> Callable[[np.ndarray, float], np.ndarray]:
    def sampling_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
        z = logits / temperature
        z[0] = -np.inf  # index 0 is the unknown symbol: never drawn
        p = np.exp(z - z.max())
        return p / p.sum()

    return sampling_probs


@exercise("11.3", "sampling probabilities with a temperature", _reference_probs)
def _check_probs(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function sampling_probs(logits, temperature)."
    rng = np.random.default_rng()
    ref = _reference_probs()
    for V, T in ((5, 1.0), (9, 0.5), (7, 2.0)):
        logits = rng.normal(0.0, 2.0, size=V)
        got = np.asarray(answer(logits.copy(), T), dtype=np.float64)
        want = ref(logits.copy(), T)
        if got.shape != (V,):
            return False, f"Expected a vector of shape ({V},), one probability per symbol; got shape {got.shape}."
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        if not np.isclose(got.sum(), 1.0, rtol=1e-9):
            return False, f"The probabilities sum to {got.sum():.6f}; normalise them to sum to 1."
        if got[0] > 0:
            return False, "Index 0 (the unknown symbol) should get probability 0 so it is never drawn."
        if np.allclose(got, ref(logits * T * T, T), rtol=1e-9, atol=1e-12):
            return False, "The logits were multiplied by the temperature; divide them by it."
        if np.allclose(got, ref(logits * T, T), rtol=1e-9, atol=1e-12):
            return False, f"The temperature {T} was not applied: use softmax(logits / temperature)."
        return False, f"For temperature {T} expected {np.round(want, 4)}, got {np.round(got, 4)}."
    return True, ""
