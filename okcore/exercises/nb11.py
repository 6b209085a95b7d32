"""Exercises of notebook 11 (character-level language modelling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import GatedCell
from okcore.exercises import call_answer, exercise
from okcore.readout import Readout
from okcore.tasks.ngram import NGramModel
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


# --- 11.4: the Kneser–Ney bigram model -----------------------------------------------------------------


def _reference_kn_bigram() -> Callable[[np.ndarray, int], np.ndarray]:
    def kn_bigram(train_ids: np.ndarray, V: int) -> np.ndarray:
        c = np.zeros((V, V))
        np.add.at(c, (train_ids[:-1], train_ids[1:]), 1.0)  # c[v, w]: how often w followed v

        def discount(counts):  # D = t1 / (t1 + 2 t2)
            t1, t2 = np.sum(counts == 1), np.sum(counts == 2)
            return t1 / (t1 + 2 * t2)

        cont = (c > 0).sum(axis=0).astype(float)  # continuation counts: how many distinct v precede w
        D1 = discount(cont)
        p1 = (np.maximum(cont - D1, 0.0) + D1 * np.sum(cont > 0) / V) / cont.sum()
        total = c.sum(axis=1, keepdims=True)  # c(v·)
        types = (c > 0).sum(axis=1, keepdims=True)  # N(v·)
        D2 = discount(c)
        p2 = (np.maximum(c - D2, 0.0) + D2 * types * p1) / np.maximum(total, 1.0)
        return np.where(total > 0, p2, p1)  # a context never seen backs off to p1

    return kn_bigram


def _kn_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """Short texts from random Markov chains; symbol 0 never occurs (an unseen context and an unseen character),
    and some bigrams occur once and some twice (so that both discounts are defined)."""
    cases = []
    for V in (4, 6, 9):
        while True:
            P = rng.dirichlet(np.full(V - 1, 0.4), size=V - 1)
            ids = [int(rng.integers(V - 1))]
            for _ in range(int(rng.integers(60, 150))):
                ids.append(int(rng.choice(V - 1, p=P[ids[-1]])))
            train = np.array(ids) + 1
            c = np.zeros((V, V))
            np.add.at(c, (train[:-1], train[1:]), 1.0)
            cont = (c > 0).sum(axis=0)
            if all(np.any(x == 1) and np.any(x == 2) for x in (c, cont)):
                break
        cases.append((train, V))
    return cases


def _kn_variant(train: np.ndarray, V: int, kind: str) -> np.ndarray:
    """Typical mistakes, computed for the diagnosis."""
    c = np.zeros((V, V))
    np.add.at(c, (train[:-1], train[1:]), 1.0)
    cont = (c > 0).sum(axis=0).astype(float)
    if kind == "occurrences":
        cont = c.sum(axis=0)
    t1, t2 = np.sum(cont == 1), np.sum(cont == 2)
    D1 = t1 / (t1 + 2 * t2) if t1 + t2 else 0.0
    p1 = (np.maximum(cont - D1, 0.0) + D1 * np.sum(cont > 0) / V) / cont.sum()
    if kind == "no-floor":
        p1 = cont / cont.sum()
    total = c.sum(axis=1, keepdims=True)
    types = (c > 0).sum(axis=1, keepdims=True)
    t1, t2 = np.sum(c == 1), np.sum(c == 2)
    D2 = t1 / (t1 + 2 * t2)
    p2 = (np.maximum(c - D2, 0.0) + D2 * types * p1) / np.maximum(total, 1.0)
    return np.where(total > 0, p2, p1)


@exercise("11.4", "the interpolated Kneser–Ney bigram model", _reference_kn_bigram)
def _check_kn_bigram(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function kn_bigram(train_ids, V) returning the (V, V) matrix of p(w | v)."
    for train, V in _kn_cases(np.random.default_rng()):
        want = NGramModel(train, V, 2).distribution(np.arange(V)[:, None])
        got = np.asarray(call_answer(answer, "kn_bigram", {"train_ids": train, "V": V}), dtype=np.float64)
        if got.shape != (V, V):
            return False, f"Expected a ({V}, {V}) matrix, one row p(· | v) per context v; got shape {got.shape}."
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        if np.any(~np.isfinite(got[0])) or np.allclose(got[1:], want[1:], rtol=1e-9, atol=1e-12):
            return False, (
                "Row 0 is a context never seen in training (its counts are all 0): there the model backs off to "
                "the unigram level p1(w) alone."
            )
        if not np.allclose(got.sum(axis=1), 1.0, rtol=1e-9):
            return False, "Each row p(· | v) should sum to 1; check the discounted counts and the back-off weight."
        for kind, message in (
            ("occurrences", "The unigram level counts continuations, not occurrences: for each w, the number of "
             "distinct characters v seen before it, (c > 0).sum(axis=0)."),
            ("no-floor", "The unigram level is interpolated too: discount it by D1 and give the freed mass to the "
             "uniform distribution 1/V, so that a character never seen keeps a probability above 0."),
        ):  # fmt: skip
            if np.allclose(got, _kn_variant(train, V, kind), rtol=1e-9, atol=1e-12):
                return False, message
        worst = np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
        return False, (
            f"For V = {V}, p(w={worst[1]} | v={worst[0]}) should be {want[worst]:.6f}, got {got[worst]:.6f}."
        )
    return True, ""
