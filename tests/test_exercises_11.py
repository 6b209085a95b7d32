"""The exercises of notebook 11: the reference solutions pass, typical mistakes get the message that names them,
and malformed answers fail quietly."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.exercises import check, show_solution, solution

KEYS = ["11.1", "11.2", "11.3", "11.4"]


def verdict(key, answer, capsys):
    ok = check(key, answer)
    return ok, capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_reference_solution_passes(key, capsys):
    ok, out = verdict(key, solution(key), capsys)
    assert ok is True and "correct" in out and "not yet" not in out


@pytest.mark.parametrize("key", KEYS)
def test_unanswered_and_malformed_answers_fail_quietly(key, capsys):
    ok, out = verdict(key, None, capsys)
    assert ok is False and "not answered" in out
    for junk in ("abc", 3.25, [1, 2], lambda *args: None):
        ok, out = verdict(key, junk, capsys)
        assert ok is False and "not yet" in out
    show_solution(key)
    assert "def " in capsys.readouterr().out


def _unigram(smooth=1.0, log=np.log2, own=False):
    def f(train, ev, V):
        if own:
            q = np.bincount(ev, minlength=V) / ev.size
            return -np.sum(q[q > 0] * np.log2(q[q > 0]))
        counts = np.bincount(train, minlength=V) + smooth
        with np.errstate(divide="ignore"):
            return -np.mean(log(counts[ev] / counts.sum()))

    return f


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_unigram(smooth=0.0), "infinite"),
        (_unigram(log=np.log), "nats"),
        (_unigram(own=True), "entropy of the evaluation text"),
        (_unigram(smooth=0.5), "expected"),
    ],
)
def test_unigram_mistakes(answer, message, capsys):
    ok, out = verdict("11.1", answer, capsys)
    assert ok is False and message in out


def _evaluate(kind):
    def f(cell, readout, ids, streams):
        V, n = cell.n_in, cell.n_hidden
        S = 1 if kind == "one" else streams
        L = (len(ids) - 1) // S
        starts = np.arange(S) * L
        h = np.zeros((S, n))
        total = 0.0
        for t in range(L):
            if kind == "reset":
                h = np.zeros((S, n))
            h = cell.step(np.eye(V)[ids[starts + t]], h).h
            total += readout.loss(h, ids[starts + t + (0 if kind == "same" else 1)]).sum()
        scale = np.log(2.0) if kind == "nats" else 1.0
        return total / (S * L) * scale

    return f


@pytest.mark.parametrize(
    ("kind", "message"),
    [("nats", "nats"), ("reset", "reset at every step"), ("same", "NEXT one"), ("one", "one stream")],
)
def test_evaluate_mistakes(kind, message, capsys):
    ok, out = verdict("11.2", _evaluate(kind), capsys)
    assert ok is False and message in out


def _probs(kind):
    def f(logits, T):
        z = logits * T if kind == "times" else logits if kind == "no-T" else logits / T
        if kind != "keep-unknown":
            z[0] = -np.inf
        p = np.exp(z - z.max())
        return p if kind == "unnormalised" else p / p.sum()

    return f


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("times", "divide them"),
        ("no-T", "was not applied"),
        ("keep-unknown", "unknown symbol"),
        ("unnormalised", "normalise"),
    ],
)
def test_sampling_mistakes(kind, message, capsys):
    ok, out = verdict("11.3", _probs(kind), capsys)
    assert ok is False and message in out


def _kn(kind):
    from okcore.exercises.nb11 import _kn_variant, _reference_kn_bigram

    def f(train, V):
        if kind in ("occurrences", "no-floor"):
            return _kn_variant(train, V, kind)
        P = _reference_kn_bigram()(train, V)
        if kind == "unseen-context-nan":
            P[0] = np.nan
        elif kind == "no-discount":  # the discount forgotten at the bigram level: rows no longer sum to 1
            c = np.zeros((V, V))
            np.add.at(c, (train[:-1], train[1:]), 1.0)
            seen = c.sum(axis=1) > 0
            P[seen] += 0.01
        elif kind == "transposed":
            P = P.T
        return P

    return f


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("occurrences", "continuations, not occurrences"),
        ("no-floor", "uniform distribution 1/V"),
        ("unseen-context-nan", "never seen in training"),
        ("no-discount", "sum to 1"),
        ("transposed", "sum to 1"),
    ],
)
def test_kneser_ney_mistakes(kind, message, capsys):
    ok, out = verdict("11.4", _kn(kind), capsys)
    assert ok is False and message in out
