"""Character-level language-model runs: config, training, the weights file beside the run file, and sampling.

A text run trains on the characters of a UTF-8 file (or on ``"kjv"``, the corpus kept in ``data/corpus``) with
:class:`okcore.tasks.TextStreams`, and every ``eval_every`` steps measures bits per character on a validation
text read in contiguous streams (:func:`okcore.tasks.contiguous_bpc`). Its run file (see
:mod:`okcore.train.runs`) gains ``valid_bpc`` in the log and ``best_valid_bpc``, ``best_step`` and (for the kjv
corpus) ``test_bpc``, the test score of the best checkpoint, in ``final``. The weights go to a ``.npz`` file with
the same name, in float32: those at the end, those of the best checkpoint, and snapshots at the steps listed in
``snapshots`` (for samples while the model learns); :func:`load_model` reads any of them back.

The number of validation streams (``eval_streams``) is chosen from the length of the text unless it is given:
each stream starts cold (from h = 0), and a stream of a few dozen characters spends much of its length warming
up, so :func:`auto_streams` keeps at least :data:`CHARS_PER_STREAM` characters per stream.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from okcore._checks import check_positive_int
from okcore.cells import GatedCell, TanhCell
from okcore.readout import Readout
from okcore.tasks.text import (
    CORPUS,
    TextStreams,
    Vocabulary,
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
    "CHARS_PER_STREAM",
    "auto_streams",
    "eval_streams",
    "TextMonitor",
    "run_text",
    "text_record",
    "save_model",
    "load_model",
    "snapshot_steps",
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
    "eval_streams": None,
    "eval_chars": 200_000,
    "reset_every": 100,
    "max_vocab": 128,
    "valid_fraction": 0.1,
    "snapshots": [],
    "save_weights": True,
}
"""Settings of a text run. ``corpus``: a file path or ``"kjv"``. ``valid``: a file path, or None for the corpus's
own validation text (for ``"kjv"`` its validation split, for a file its last ``valid_fraction``).
``eval_streams``: None chooses it from the length of the evaluated text (:func:`auto_streams`). ``snapshots``:
steps at which the weights are kept (in the ``.npz`` beside the run file). ``save_weights``: False for runs whose
weights nobody needs (a learning-rate sweep): the grid then writes the run file alone."""

CHARS_PER_STREAM = 1_000
"""Fewest characters per validation stream that :func:`auto_streams` allows (at most 128 streams)."""
MAX_STREAMS = 128


def text_config(**overrides: object) -> dict:
    """The full config of a text run: ``TEXT_DEFAULTS`` with ``overrides``, checked."""
    unknown = sorted(set(overrides) - set(TEXT_DEFAULTS))
    if unknown:
        raise ValueError(f"config: unknown option(s) {', '.join(unknown)}; expected some of {', '.join(TEXT_DEFAULTS)}")
    config = {**TEXT_DEFAULTS, **overrides}
    check_method(config["method"], config["rank"], config["truncation"])
    if config["eval_streams"] is not None:
        check_positive_int("eval_streams", config["eval_streams"])
    snaps = config["snapshots"]
    if not isinstance(snaps, list | tuple) or not all(isinstance(s, int) and s > 0 for s in snaps):
        raise ValueError(f"snapshots: expected a list of positive step numbers, got {snaps!r}")
    config["snapshots"] = sorted(set(snaps))
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


def auto_streams(n_chars: int) -> int:
    """Validation streams for a text of ``n_chars`` characters: as many as fit with at least
    :data:`CHARS_PER_STREAM` characters each, from 1 to :data:`MAX_STREAMS`."""
    return max(1, min(MAX_STREAMS, n_chars // CHARS_PER_STREAM))


def eval_streams(ids: np.ndarray, config: dict) -> int:
    """Streams for evaluating on ``ids`` (its first ``eval_chars`` + 1 characters): ``eval_streams`` if given (at
    most one per 2 characters), else :func:`auto_streams` of the length."""
    n = min(ids.size, (config.get("eval_chars") or ids.size) + 1) - 1
    asked = config.get("eval_streams")
    return max(1, min(asked, n // 2)) if asked is not None else auto_streams(n)


class TextMonitor:
    """What a text run does between steps (the ``evaluate`` callback of :func:`okcore.train.train`, called every
    ``period`` steps): validation bpc every ``eval_every`` steps and at the end, a float32 copy of the weights
    with the best validation score so far, and float32 snapshots at the steps of ``config["snapshots"]``.

    The step is read from the task (``task.t``, the steps taken). Attributes: ``best`` (step, bpc, W, W_out) or
    None; ``snapshots``: {step: (W, W_out)}; ``period``.
    """

    def __init__(self, task: TextStreams, data: TextData, config: dict) -> None:
        self.task, self.config = task, config
        self.valid = data.valid
        self.streams = eval_streams(data.valid, config)
        self.eval_every = config["eval_every"]
        self.steps = config["steps"]
        self.snapshot_steps = set(config.get("snapshots") or [])
        # called at every multiple of the period: each evaluation and snapshot step, and log_every, so that the
        # log keeps one record per log_every steps
        self.period = math.gcd(self.eval_every, config["log_every"], *self.snapshot_steps)
        self.best: tuple[int, float, np.ndarray, np.ndarray] | None = None
        self.snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, cell, readout) -> dict:
        step = self.task.t
        if step in self.snapshot_steps:
            self.snapshots[step] = (cell.W.astype(np.float32), readout.W_out.astype(np.float32))
        periodic = self.period and step % self.period == 0
        due = (self.eval_every and step % self.eval_every == 0) or step == self.steps or not periodic
        if not due:
            return {}
        bpc = contiguous_bpc(cell, readout, self.valid, streams=self.streams, max_chars=self.config["eval_chars"])
        if self.best is None or bpc < self.best[1]:
            self.best = (step, bpc, cell.W.astype(np.float32), readout.W_out.astype(np.float32))
        return {"valid_bpc": round(bpc, 6)}


def run_text(config: dict, progress: bool = False, data: TextData | None = None) -> tuple[TrainResult, TextData]:
    """Train on text as ``config`` (from :func:`text_config`) says; returns the result and the encoded texts.

    The result's ``monitor`` attribute is the run's :class:`TextMonitor` (best weights, snapshots).
    """
    data = load_text_data(config) if data is None else data
    task = TextStreams(
        data.train, data.vocab, config["batch"], config["reset_every"], seed_streams(config["seed"])["task"]
    )
    monitor = TextMonitor(task, data, config)
    result = train(
        task,
        config["method"],
        **train_options(config),
        evaluate=monitor,
        eval_every=monitor.period,
        progress=progress,
    )
    result.monitor = monitor
    return result, data


def text_record(result: TrainResult, data: TextData, config: dict, weights: str | None = None) -> dict:
    """The run record of a text run: the common one, plus best_valid_bpc, best_step, the vocabulary and, for the
    kjv corpus, the test bpc of the best checkpoint (of the final weights if there was no evaluation);
    ``weights`` names the .npz file beside it."""
    from okcore.train.runs import run_record

    record = run_record(result, config)
    final = record["final"]
    monitor = getattr(result, "monitor", None)
    best = None if monitor is None else monitor.best
    valid = [r["valid_bpc"] for r in record["log"] if "valid_bpc" in r]
    if valid:
        final["best_valid_bpc"] = min(valid)
    if best is not None:
        final["best_step"] = best[0]
    if data.test is not None and result.steps_done:
        cell, readout = result.cell, result.readout
        if best is not None:
            cell, readout = _model(cell, readout, best[2], best[3])
        test_streams = eval_streams(data.test, {**config, "eval_chars": None})
        final["test_bpc"] = round(contiguous_bpc(cell, readout, data.test, streams=test_streams), 6)
    final["vocab"] = data.vocab.chars
    if weights is not None:
        final["weights"] = weights
    return record


def _model(cell, readout, W: np.ndarray, W_out: np.ndarray):
    """A copy of ``cell`` and ``readout`` with the weights W and W_out."""
    rng = np.random.default_rng(0)  # the weights are overwritten just below
    other = type(cell)(cell.n_in, cell.n_hidden, rng, dtype=W.dtype)
    other.W = W
    out = Readout(readout.n_hidden, readout.n_out, rng, unit="bits", dtype=W_out.dtype)
    out.W_out = W_out
    return other, out


def weights_path(run_path: str | os.PathLike) -> Path:
    """Where the weights of a run file go: the same name with ``.npz``."""
    return Path(run_path).with_suffix(".npz")


def save_model(path: str | os.PathLike, result: TrainResult, vocab: Vocabulary, config: dict) -> None:
    """Write the weights, float32, to a compressed ``.npz``: the final ``W``, ``W_out`` and, when the run kept
    them (see :class:`TextMonitor`), ``W_best``/``W_out_best`` (with ``best_step``) and ``W_stepS``/``W_out_stepS``
    for every snapshot step S; with the vocabulary, the cell's name and the config."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    arrays = {"W": result.cell.W.astype(np.float32), "W_out": result.readout.W_out.astype(np.float32)}
    monitor = getattr(result, "monitor", None)
    if monitor is not None:
        if monitor.best is not None and monitor.best[0] != result.steps_done:
            arrays |= {"W_best": monitor.best[2], "W_out_best": monitor.best[3], "best_step": monitor.best[0]}
        for step, (W, W_out) in sorted(monitor.snapshots.items()):
            if step != result.steps_done:
                arrays |= {f"W_step{step}": W, f"W_out_step{step}": W_out}
    np.savez_compressed(
        tmp, **arrays, vocab=np.array(vocab.chars), cell=np.array(config["cell"]), config=np.array(json.dumps(config))
    )
    os.replace(tmp, out)


def snapshot_steps(path: str | os.PathLike) -> list[int]:
    """The steps whose weights a weights file (``.npz``) or the weights of a run file keep, final one included."""
    p = _weights_file(path)
    with np.load(p) as f:
        steps = [int(key[len("W_step") :]) for key in f.files if key.startswith("W_step")]
        final = json.loads(str(f["config"]))["steps"] if "config" in f.files else None
    return sorted(steps) + ([final] if final is not None else [])


def _weights_file(path: str | os.PathLike) -> Path:
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
    return p


def load_model(path: str | os.PathLike, which: str | int = "final") -> tuple[object, Readout, Vocabulary]:
    """(cell, readout, vocabulary) from a weights file (``.npz``) or a run file whose ``final`` names one.

    ``which``: ``"final"`` (the weights at the end), ``"best"`` (the best checkpoint; the final weights when they
    were the best) or a snapshot step (an int; the final step gives the final weights).
    """
    p = _weights_file(path)
    try:
        with np.load(p) as f:
            chars, cell_name = str(f["vocab"]), str(f["cell"])
            final_step = json.loads(str(f["config"]))["steps"] if "config" in f.files else None
            if which == "final" or which == final_step or (which == "best" and "W_best" not in f.files):
                W, W_out = f["W"], f["W_out"]
            elif which == "best":
                W, W_out = f["W_best"], f["W_out_best"]
            elif isinstance(which, int) and f"W_step{which}" in f.files:
                W, W_out = f[f"W_step{which}"], f[f"W_out_step{which}"]
            else:
                steps = [k[len("W_step") :] for k in f.files if k.startswith("W_step")]
                raise ValueError(
                    f"which: expected 'final', 'best' or a snapshot step ({', '.join(steps) or 'none kept'}), "
                    f"got {which!r}"
                )
    except (OSError, KeyError) as err:
        raise ValueError(f"run: expected a weights file saved by okcore, got {str(p)!r} ({err})") from None
    vocab = Vocabulary(chars)
    n = W_out.shape[0] - 1
    cls = {"gated": GatedCell, "tanh": TanhCell}[cell_name]
    rng = np.random.default_rng(0)  # the weights are overwritten just below
    cell = cls(vocab.size, n, rng, dtype=W.dtype)
    cell.W = W
    readout = Readout(n, vocab.size, rng, unit="bits", dtype=W.dtype)
    readout.W_out = W_out
    return cell, readout, vocab


def sample_run(
    path: str | os.PathLike,
    n_chars: int = 300,
    seed: int = 0,
    prompt: str = "",
    temperature: float = 1.0,
    which: str | int = "final",
) -> str:
    """Text generated by the model of a run file or weights file (see :func:`okcore.tasks.sample`); ``which``
    weights as in :func:`load_model`."""
    cell, readout, vocab = load_model(path, which)
    return sample(cell, readout, vocab, n_chars, np.random.default_rng(seed), prompt=prompt, temperature=temperature)
