"""The n-gram baselines: the vectorised counts give the formulas of the module docstring (checked against a direct
implementation with dictionaries on tiny texts), every conditional distribution sums to 1, and bad input is named."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from okcore.tasks.ngram import NGramModel, ngram_bpc
from okcore.tasks.text import bigram_bpc, unigram_bpc


def brute_force(train: list[int], V: int, order: int, smoothing: str, k: float = 1.0):
    """p(w | context) by the textbook formulas, with dictionaries and loops."""
    grams = {m: Counter(tuple(train[i : i + m]) for i in range(len(train) - m + 1)) for m in range(1, order + 1)}

    def table(m: int) -> dict[tuple, int]:
        if smoothing == "add-k" or m == order:
            return dict(grams[m])
        # continuation counts: distinct characters preceding g among the (m+1)-grams of the text
        preceding: dict[tuple, set] = {}
        for g in grams[m + 1]:
            preceding.setdefault(g[1:], set()).add(g[0])
        return {g: len(a) for g, a in preceding.items()}

    tables = {m: table(m) for m in range(1, order + 1)}
    discounts = {}
    for m, t in tables.items():
        t1 = sum(1 for c in t.values() if c == 1)
        t2 = sum(1 for c in t.values() if c == 2)
        discounts[m] = t1 / (t1 + 2 * t2) if t1 else 0.5

    def p(context: tuple, w: int) -> float:
        if smoothing == "add-k":
            m = len(context) + 1
            t = tables[m]
            total = sum(c for g, c in t.items() if g[:-1] == context)
            return (t.get((*context, w), 0) + k) / (total + k * V)
        prob = 1.0 / V
        for m in range(1, len(context) + 2):
            h = context[len(context) - m + 1 :] if m > 1 else ()
            t, D = tables[m], discounts[m]
            following = {g[-1]: c for g, c in t.items() if g[:-1] == h}
            total = sum(following.values())
            if total > 0:
                prob = (max(following.get(w, 0) - D, 0) + D * len(following) * prob) / total
        return prob

    return p


def random_text(rng: np.random.Generator, V: int, N: int) -> np.ndarray:
    """A text with some structure (a random Markov chain) and one symbol that never occurs."""
    P = rng.dirichlet(np.full(V - 1, 0.3), size=V - 1)
    ids = [int(rng.integers(V - 1))]
    for _ in range(N - 1):
        ids.append(int(rng.choice(V - 1, p=P[ids[-1]])))
    return np.array(ids) + 1  # symbol 0 is never seen


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_the_formulas_and_normalises(smoothing, order):
    rng = np.random.default_rng(order)
    V = 4
    train = random_text(rng, V, 60)
    k = 0.3
    model = NGramModel(train, V, order, smoothing, k=k)
    ref = brute_force(train.tolist(), V, order, smoothing, k)
    # every context of every length (the shorter ones are the start of a text), seen or not
    for length in range(order):
        contexts = np.array(list(itertools.product(range(V), repeat=length)), dtype=np.int64).reshape(V**length, -1)
        padded = np.zeros((len(contexts), order - 1), dtype=np.int64)
        if length:
            padded[:, order - 1 - length :] = contexts
        dist = model.distribution(padded, np.full(len(contexts), length))
        np.testing.assert_allclose(dist.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        assert np.all(dist > 0)
        want = np.array([[ref(tuple(c), w) for w in range(V)] for c in contexts.tolist()])
        np.testing.assert_allclose(dist, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-k"])
def test_bits_score_every_character_after_the_first_with_the_context_it_has(smoothing):
    rng = np.random.default_rng(7)
    V, order = 5, 3
    text = random_text(rng, V, 110)
    train, ev = text[:80], text[80:]
    ref = brute_force(train.tolist(), V, order, smoothing, k=0.5)
    e = ev.tolist()
    want = -np.mean([math.log2(ref(tuple(e[max(0, i - order + 1) : i]), e[i])) for i in range(1, len(e))])
    assert ngram_bpc(train, ev, V, order, smoothing, k=0.5) == pytest.approx(want, rel=1e-12)


def test_the_low_orders_agree_with_the_text_module():
    rng = np.random.default_rng(3)
    V = 6
    text = random_text(rng, V, 400)
    train, ev = text[:300], text[300:]
    # the unigram of okcore.tasks.text also scores character 0, which ngram_bpc leaves out
    assert ngram_bpc(train, ev, V, 1, "add-k", k=1.0) == pytest.approx(unigram_bpc(train, ev[1:], V), rel=1e-12)
    assert ngram_bpc(train, ev, V, 2, "add-k", k=1.0) == pytest.approx(bigram_bpc(train, ev, V), rel=1e-12)


def test_kneser_ney_improves_with_order_on_a_markov_text():
    rng = np.random.default_rng(5)
    V = 5
    text = random_text(rng, V, 7000)
    train, ev = text[:5000], text[5000:]
    bits = [ngram_bpc(train, ev, V, n) for n in (1, 2, 3)]
    assert bits[1] < bits[0] - 0.1  # a Markov chain of order 1: the bigram sees its structure
    assert abs(bits[2] - bits[1]) < 0.05  # and the trigram has nothing more to see


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": 0}, "order"),
        ({"smoothing": "witten-bell"}, "smoothing"),
        ({"k": 0.0}, "k"),
        ({"V": 3}, "train_ids"),
        ({"train_ids": np.array([1.5, 2.0])}, "train_ids"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"train_ids": np.array([0, 1, 2, 3, 1]), "V": 4, "order": 2} | kwargs
    with pytest.raises((ValueError, TypeError), match=message):
        NGramModel(**args)


def test_bad_contexts_are_named():
    model = NGramModel(np.array([0, 1, 2, 3, 1]), 4, 3)
    with pytest.raises(ValueError, match="contexts"):
        model.prob(np.zeros((2, 1), dtype=int), np.array([0, 1]))
    with pytest.raises(ValueError, match="lengths"):
        model.prob(np.zeros((2, 2), dtype=int), np.array([0, 1]), lengths=np.array([3, 0]))
    with pytest.raises(ValueError, match="eval_ids"):
        model.bits(np.array([1]))
