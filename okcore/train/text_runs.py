"""Character-level language-model runs: config, training, the weights file beside the run file, and sampling.

A text run trains on the characters of a UTF-8 file (or on ``"kjv"``, the corpus kept in ``data/corpus``) with
:class:`okcore.tasks.TextStreams`, and every ``eval_every`` steps measures bits per character on a validation
text read in contiguous streams (:func:`okcore.tasks.contiguous_bpc`). Its run file (see
:mod:`okcore.train.runs`) gains ``valid_bpc`` in the log and ``best_valid_bpc`` in ``final``; the trained
weights and the vocabulary go to a ``.npz`` file with the same name, which :func:`load_model` reads back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from okcore.cells import GatedCell, TanhCell
from okcore.readout import Readout
from okcore.tasks.text import (
    CORPUS,
    TextStreams,
    Vocabulary,
    bpc_evaluator,
    contiguous_bpc,
    corpus_path,
    read_text,
    sample,
)
from okcore.train.loop import TrainResult, check_method, seed_streams, train
from okcore.train.runs import train_options

__all__ = [
    "TEXT_DEFAULTS",
    "text_config",
    "TextData",
    "load_text_data",
    "run_text",
    "text_record",
    "save_model",
    "load_model",
    "sample_run",
]

TEXT_DEFAULTS: dict = {
    "task": "text",
    "corpus": CORPUS,
    "valid": None,
    "method": "kf",
    "rank": None,
    "truncation": None,
    "window": "block",
    "hidden": 32,
    "batch": 8,
    "steps": 15_000,
    "seed": 0,
    "cell": "gated",
    "lr": 1e-3,
    "clip": 1.0,
    "dtype": "float64",
    "log_every": 500,
    "eval_every": 2_500,
    "eval_streams": 128,
    "eval_chars": 200_000,
    "reset_every": 100,
    "max_vocab": 128,
    "valid_fraction": 0.1,
}
"""Settings of a text run. ``corpus``: a file path or ``"kjv"``. ``valid``: a file path, or None for the corpus's
own validation text (for ``"kjv"`` its validation split, for a file its last ``valid_fraction``)."""


def text_config(**overrides: object) -> dict:
    """The full config of a text run: ``TEXT_DEFAULTS`` with ``overrides``, checked."""
    unknown = sorted(set(overrides) - set(TEXT_DEFAULTS))
    if unknown:
        raise ValueError(f"config: unknown option(s) {', '.join(unknown)}; expected some of {', '.join(TEXT_DEFAULTS)}")
    config = {**TEXT_DEFAULTS, **overrides}
    check_method(config["method"], config["rank"], config["truncation"])
    frac = config["valid_fraction"]
    if not isinstance(frac, float) or not 0.0 < frac < 1.0:
        raise ValueError(f"valid_fraction: expected a number strictly between 0 and 1, got {frac!r}")
    return config


class TextData:
    """The texts of a run as vocabulary indices: ``train``, ``valid`` and (for the kjv corpus) ``test``."""

    def __init__(self, vocab: Vocabulary, train: np.ndarray, valid: np.ndarray, test: np.ndarray | None) -> None:
        self.vocab, self.train, self.valid, self.test = vocab, train, valid, test


def load_text_data(config: dict) -> TextData:
    """Read the corpus and validation text of ``config``, build the vocabulary from the training text, encode.

    Raises ValueError (naming ``corpus`` or ``valid``) for unreadable files, a training text too short for the
    batch, or a validation text with no character in the vocabulary.
    """
    test = None
    if config["corpus"] == CORPUS:
        train_text = read_text(corpus_path("train"), name="corpus")
        valid_text = None if config["valid"] is not None else read_text(corpus_path("valid"), name="valid")
        test = read_text(corpus_path("test"), name="test")
    else:
        text = read_text(config["corpus"], name="corpus")
        if config["valid"] is None:
            cut = int(len(text) * (1.0 - config["valid_fraction"]))
            train_text, valid_text = text[:cut], text[cut:]
        else:
            train_text, valid_text = text, None
    if config["valid"] is not None:
        valid_text = read_text(config["valid"], name="valid")
    need = max(config["batch"] + 1, 2)
    if len(train_text) < need:
        raise ValueError(
            f"corpus: expected at least {need} characters of training text (batch {config['batch']} + 1), "
            f"got {len(train_text)}"
        )
    if config["valid"] is None and config["corpus"] != CORPUS and len(valid_text) < 2:
        frac = config["valid_fraction"]
        raise ValueError(
            f"corpus: expected a text long enough for its last {frac:.0%} to make a validation text of at least 2 "
            f"characters, got {len(text)} characters (or give a separate validation text)"
        )
    vocab = Vocabulary.from_text(train_text, max_size=config["max_vocab"])
    valid = vocab.encode(valid_text)
    if valid.size < 2:
        raise ValueError(f"valid: expected a validation text of at least 2 characters, got {valid.size}")
    if not np.any(valid > 0):
        where = "the end of the corpus" if config["valid"] is None else repr(str(config["valid"]))
        raise ValueError(
            f"valid: expected a text with characters from the corpus's vocabulary, got {where}, "
            f"none of whose {valid.size} characters is in it"
        )
    return TextData(vocab, vocab.encode(train_text), valid, None if test is None else vocab.encode(test))


def _streams_needed(data: TextData, config: dict) -> int:
    """Evaluation streams: as many as asked, but at most one per 2 characters of the evaluated text."""
    n = min(data.valid.size, (config["eval_chars"] or data.valid.size) + 1)
    return max(1, min(config["eval_streams"], (n - 1) // 2))


def run_text(config: dict, progress: bool = False, data: TextData | None = None) -> tuple[TrainResult, TextData]:
    """Train on text as ``config`` (from :func:`text_config`) says; returns the result and the encoded texts."""
    data = load_text_data(config) if data is None else data
    task = TextStreams(
        data.train, data.vocab, config["batch"], config["reset_every"], seed_streams(config["seed"])["task"]
    )
    evaluate = bpc_evaluator(data.valid, streams=_streams_needed(data, config), max_chars=config["eval_chars"])
    result = train(
        task,
        config["method"],
        **train_options(config),
        evaluate=evaluate,
        eval_every=config["eval_every"],
        progress=progress,
    )
    return result, data


def text_record(result: TrainResult, data: TextData, config: dict, weights: str | None = None) -> dict:
    """The run record of a text run: the common one, plus best_valid_bpc, the vocabulary and, for the kjv
    corpus, the test bpc of the final weights; ``weights`` names the .npz file beside it."""
    from okcore.train.runs import run_record

    record = run_record(result, config)
    valid = [r["valid_bpc"] for r in record["log"] if "valid_bpc" in r]
    final = record["final"]
    if valid:
        final["best_valid_bpc"] = min(valid)
    if data.test is not None and result.steps_done:
        streams = max(1, min(config["eval_streams"], (data.test.size - 1) // 2))
        final["test_bpc"] = round(contiguous_bpc(result.cell, result.readout, data.test, streams=streams), 6)
    final["vocab"] = data.vocab.chars
    if weights is not None:
        final["weights"] = weights
    return record


def weights_path(run_path: str | os.PathLike) -> Path:
    """Where the weights of a run file go: the same name with ``.npz``."""
    return Path(run_path).with_suffix(".npz")


def save_model(path: str | os.PathLike, result: TrainResult, vocab: Vocabulary, config: dict) -> None:
    """Write the cell's W, the readout's W_out, the vocabulary and the config to a compressed ``.npz``."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez_compressed(
        tmp,
        W=result.cell.W,
        W_out=result.readout.W_out,
        vocab=np.array(vocab.chars),
        cell=np.array(config["cell"]),
        config=np.array(json.dumps(config)),
    )
    os.replace(tmp, out)


def load_model(path: str | os.PathLike) -> tuple[object, Readout, Vocabulary]:
    """(cell, readout, vocabulary) from a weights file (``.npz``) or a run file whose ``final`` names one."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(
            f"run: expected a run file (.json) or weights file (.npz), got {str(p)!r}, which does not exist"
        )
    if p.suffix == ".json":
        from okcore.train.runs import load_run

        record = load_run(p)
        name = record["final"].get("weights")
        if not name:
            raise ValueError(f"run: expected a text run with saved weights, got {str(p)!r}, which names none")
        p = p.parent / name
        if not p.is_file():
            raise ValueError(f"run: expected its weights file {str(p)!r} beside it, but it does not exist")
    try:
        with np.load(p) as f:
            W, W_out, chars, cell_name = f["W"], f["W_out"], str(f["vocab"]), str(f["cell"])
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"run: expected a weights file saved by okcore, got {str(p)!r} ({err})") from None
    vocab = Vocabulary(chars)
    n = W_out.shape[0] - 1
    cls = {"gated": GatedCell, "tanh": TanhCell}[cell_name]
    rng = np.random.default_rng(0)  # the weights are overwritten just below
    cell = cls(vocab.size, n, rng)
    cell.W = W
    readout = Readout(n, vocab.size, rng, unit="bits")
    readout.W_out = W_out
    return cell, readout, vocab


def sample_run(
    path: str | os.PathLike, n_chars: int = 300, seed: int = 0, prompt: str = "", temperature: float = 1.0
) -> str:
    """Text generated by the model of a run file or weights file (see :func:`okcore.tasks.sample`)."""
    cell, readout, vocab = load_model(path)
    return sample(cell, readout, vocab, n_chars, np.random.default_rng(seed), prompt=prompt, temperature=temperature)
