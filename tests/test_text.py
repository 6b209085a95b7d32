"""Character-level text: reading files, the vocabulary, training streams, bits per character, sampling."""

import gzip

import numpy as np
import pytest

from okcore import GatedCell, Readout, TanhCell
from okcore.tasks import (
    UNKNOWN,
    TextStreams,
    Vocabulary,
    bigram_bpc,
    contiguous_bpc,
    load_corpus,
    read_text,
    sample,
    unigram_bpc,
)

TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n"


# -- reading files ---------------------------------------------------------------------------------------------


def test_read_text_plain_and_gzip(tmp_path):
    (tmp_path / "a.txt").write_text("héllo\n", encoding="utf-8")
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress("héllo\n".encode()))
    assert read_text(tmp_path / "a.txt") == "héllo\n"
    assert read_text(tmp_path / "a.txt.gz") == "héllo\n"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "does not exist"),
        (b"", "empty"),
        (b"ab\x00\x01cd", "NUL"),
        (b"caf\xe9 au lait", "invalid byte at offset 3"),
    ],
)
def test_read_text_refuses(tmp_path, content, match):
    path = tmp_path / "f.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^corpus: .*{match}"):
        read_text(path)


def test_read_text_refuses_a_folder_and_bad_gzip(tmp_path):
    with pytest.raises(ValueError, match="^valid: .*not a file"):
        read_text(tmp_path, name="valid")
    (tmp_path / "x.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="^corpus: expected a gzip"):
        read_text(tmp_path / "x.gz")


# -- the vocabulary --------------------------------------------------------------------------------------------


def test_vocabulary_round_trip_and_unknown():
    vocab = Vocabulary.from_text(TEXT)
    assert vocab.size == len(set(TEXT)) + 1
    ids = vocab.encode(TEXT)
    assert ids.min() >= 1 and vocab.decode(ids) == TEXT
    assert list(vocab.encode("zq t")) == [0, 0, vocab.encode(" ")[0], vocab.encode("t")[0]]
    assert vocab.decode(vocab.encode("zt")) == UNKNOWN + "t"
    assert vocab.coverage("tz") == 0.5


def test_vocabulary_max_size_keeps_the_most_frequent():
    vocab = Vocabulary.from_text("aaaabbbcc d", max_size=3)
    assert vocab.chars == "ab"
    with pytest.raises(ValueError, match="^max_size: "):
        Vocabulary.from_text("abc", max_size=1)
    with pytest.raises(ValueError, match="^chars: "):
        Vocabulary("aa")


# -- training streams ------------------------------------------------------------------------------------------


def test_streams_read_the_next_character_from_evenly_spaced_offsets():
    vocab = Vocabulary.from_text(TEXT)
    ids = vocab.encode(TEXT)
    N = ids.size - 1
    task = TextStreams(ids, vocab, batch=4, reset_every=5)
    assert (task.n_in, task.n_out, task.batch) == (vocab.size, vocab.size, 4)
    np.testing.assert_array_equal(task.offsets, [0, N // 4, N // 2, 3 * N // 4])
    for t in range(3 * N):  # long enough to wrap around the text twice
        x, y, reset = task.next()
        p = (task.offsets + t) % N
        assert x.shape == (4, vocab.size) and np.all(x.sum(axis=1) == 1)
        np.testing.assert_array_equal(x.argmax(axis=1), ids[p])
        np.testing.assert_array_equal(y, ids[p + 1])
        assert reset.dtype == bool and np.all(reset == (t % 5 == 0))
    assert task.log_fields() == {"chars_per_stream": 3 * N}


def test_streams_shift_comes_from_the_rng():
    ids = Vocabulary.from_text(TEXT).encode(TEXT)
    a = TextStreams(ids, 30, batch=3, rng=np.random.default_rng(5))
    b = TextStreams(ids, 30, batch=3, rng=np.random.default_rng(5))
    c = TextStreams(ids, 30, batch=3, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.offsets, c.offsets)
    with pytest.raises(ValueError, match="^ids: "):
        TextStreams(ids[:3], 30, batch=3)


# -- bits per character ----------------------------------------------------------------------------------------


def _model(V, n, seed):
    rng = np.random.default_rng(seed)
    return GatedCell(V, n, rng), Readout(n, V, rng, unit="bits")


@pytest.mark.parametrize("cell_name", ["gated", "tanh"])
def test_contiguous_bpc_matches_a_plain_loop(cell_name):
    rng = np.random.default_rng(0)
    V, n, S = 7, 5, 3
    cell, readout = _model(V, n, 1)
    if cell_name == "tanh":
        cell = TanhCell(V, n, rng)
    ids = rng.integers(0, V, size=40)
    got = contiguous_bpc(cell, readout, ids, streams=S)
    L = (ids.size - 1) // S
    losses = []
    for s in range(S):  # each piece from a zero state, carried over, never reset
        h = np.zeros(n)
        for t in range(L):
            h = cell.step(np.eye(V)[ids[s * L + t]], h).h
            losses.append(readout.loss(h, ids[s * L + t + 1]))
    assert got == pytest.approx(np.mean(losses), rel=1e-12)


def test_contiguous_bpc_of_a_model_that_knows_nothing_is_log2_v():
    cell, readout = _model(9, 4, 2)
    readout.W_out = np.zeros_like(readout.W_out)
    ids = np.random.default_rng(3).integers(0, 9, size=100)
    assert contiguous_bpc(cell, readout, ids, streams=4) == pytest.approx(np.log2(9), rel=1e-12)


def test_unigram_and_bigram_bpc_by_hand():
    train = np.array([1, 1, 2, 1])  # counts with alpha = 1 over V = 3: [1, 4, 2] / 7
    assert unigram_bpc(train, np.array([1, 2]), 3) == pytest.approx(-(np.log2(4 / 7) + np.log2(2 / 7)) / 2)
    # bigram counts + 1: row 1 -> [1, 2, 2], row 2 -> [1, 2, 1]
    assert bigram_bpc(train, np.array([1, 2, 1]), 3) == pytest.approx(-(np.log2(2 / 5) + np.log2(2 / 4)) / 2)
    periodic = np.tile([1, 2, 3], 200)
    assert bigram_bpc(periodic, periodic, 4) < 0.05 < np.log2(3) - 0.1 < unigram_bpc(periodic, periodic, 4)


# -- sampling --------------------------------------------------------------------------------------------------


def test_sample_is_reproducible_and_follows_the_model():
    vocab = Vocabulary.from_text(TEXT)
    cell, readout = _model(vocab.size, 6, 4)
    a = sample(cell, readout, vocab, 50, 7, prompt="the ")
    assert len(a) == 50 and UNKNOWN not in a and set(a) <= set(vocab.chars)
    assert a == sample(cell, readout, vocab, 50, np.random.default_rng(7), prompt="the ")
    W_out = np.zeros_like(readout.W_out)
    W_out[-1, vocab.encode("t")[0]] = 50.0
    readout.W_out = W_out
    assert sample(cell, readout, vocab, 20, 0) == "t" * 20
    with pytest.raises(ValueError, match="^vocab: "):
        sample(cell, readout, Vocabulary("ab"), 5, 0)


# -- the corpus in data/ ---------------------------------------------------------------------------------------


def test_corpus_is_big_enough_and_its_splits_share_the_vocabulary():
    corpus = load_corpus()
    sizes = {k: len(v) for k, v in corpus.items()}
    assert sum(sizes.values()) >= 1_000_000 and sizes["train"] > 10 * sizes["valid"]
    vocab = Vocabulary.from_text(corpus["train"])
    assert vocab.coverage(corpus["valid"]) > 0.999 and vocab.coverage(corpus["test"]) > 0.999
    assert corpus["valid"][:2000] not in corpus["train"]
