"""Run files: one JSON per training run, ``{"config", "log", "final"}``, and the copy-task runs built from a config.

``config`` holds every parameter of the run and the okcore and numpy versions; ``log`` the history records;
``final`` what the run ended with. Files are written atomically (a temporary file in the same folder, then a
rename), so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

import okcore
from okcore.tasks.copy import CopyTask, recall_accuracy
from okcore.train.loop import DEFAULT_LR, TrainResult, check_method, seed_streams, train

__all__ = [
    "COPY_DEFAULTS",
    "copy_config",
    "run_copy",
    "train_options",
    "common_options",
    "run_record",
    "copy_record",
    "environment",
    "RECALL_LENGTHS",
    "write_json",
    "load_run",
    "check_out_path",
]

COPY_DEFAULTS: dict = {
    "task": "copy",
    "method": "ok",
    "rank": None,
    "truncation": None,
    "window": "block",
    "hidden": 24,
    "batch": 16,
    "steps": 60_000,
    "seed": 0,
    "cell": "gated",
    "lr": DEFAULT_LR,
    "clip": 1.0,
    "dtype": "float64",
    "log_every": 500,
    "cosine_every": 0,
    "shadows": None,
    "shadow_every": 0,
}


_ADDED = {"window": "block", "dtype": "float64"}  # options added later, with the value older runs had


def copy_config(**overrides: object) -> dict:
    """The full config of a copy-task run: ``COPY_DEFAULTS`` with ``overrides``, checked."""
    unknown = sorted(set(overrides) - set(COPY_DEFAULTS))
    if unknown:
        raise ValueError(f"config: unknown option(s) {', '.join(unknown)}; expected some of {', '.join(COPY_DEFAULTS)}")
    config = {**COPY_DEFAULTS, **overrides}
    check_method(config["method"], config["rank"], config["truncation"])
    if config["shadows"] is not None:
        if config["method"] != "exact":
            raise ValueError(f"shadows: only exact RTRL drives a shared trajectory, got method {config['method']!r}")
        if not isinstance(config["shadow_every"], int) or config["shadow_every"] < 1:
            raise ValueError(f"shadow_every: expected a positive integer with shadows, got {config['shadow_every']!r}")
    return config


def run_copy(config: dict, progress: bool = False) -> TrainResult:
    """Train on the copy task as ``config`` (from :func:`copy_config`) says."""
    task = CopyTask(config["batch"], seed_streams(config["seed"])["task"])
    method = config["method"]
    options = train_options(config)
    if config.get("shadows"):
        from okcore.train.shadow import shared_trajectory

        method = shared_trajectory(config["shadows"], config["shadow_every"])
        options.update(rank=None, truncation=None)
    return train(task, method, **options, cosine_every=config["cosine_every"], progress=progress)


def common_options(args: object) -> dict:
    """The options every training command of ``python -m okcore.train`` has, taken from its parsed arguments."""
    keys = ("method", "rank", "truncation", "window", "hidden", "batch", "steps", "seed", "cell", "lr", "clip")
    keys += ("dtype", "log_every")
    return {key: getattr(args, key) for key in keys}


def train_options(config: dict) -> dict:
    """The options of :func:`okcore.train.train` that every run config holds, taken from ``config``."""
    keys = ("steps", "rank", "truncation", "hidden", "cell", "lr", "clip", "seed", "log_every")
    # run files written before the window and dtype options existed used what are now their defaults
    return {key: config[key] for key in keys} | {key: config.get(key, value) for key, value in _ADDED.items()}


def run_record(result: TrainResult, config: dict) -> dict:
    """The JSON-ready record of a run: config (with versions), log and final."""
    last = result.history.records[-1] if result.history.records else {}
    final = {k: v for k, v in last.items() if k != "step"}
    final.update(
        steps_done=result.steps_done,
        seconds=round(result.seconds, 2),
        cpu_seconds=round(result.cpu_seconds, 2),
        stopped=result.stopped,
    )
    if result.history.cosines:
        final["mean_cosine"] = round(float(np.mean([c for _, c in result.history.cosines])), 6)
    return {
        "config": {**config, "okcore": okcore.__version__, "numpy": np.__version__},
        "log": result.history.records,
        "final": final,
    }


# The lengths at which a cached copy run's final weights are tested bit by bit (:func:`copy_record`).
RECALL_LENGTHS = tuple(range(1, 17))


def environment() -> dict:
    """Where a run was made: machine, CPU, BLAS, its thread settings and versions (``okcore.costs.environment``)."""
    from okcore.costs import environment as measured  # okcore.costs imports okcore.train: import it late

    return measured()


def copy_record(result: TrainResult, config: dict, sequences: int = 256) -> dict:
    """:func:`run_record` of a copy-task run, with two additions to ``final``: ``recall``, the final weights'
    accuracy on each bit of fresh sequences of every length in :data:`RECALL_LENGTHS`
    (:func:`okcore.tasks.copy.recall_accuracy`, ``sequences`` per length, bits from the run's seed), and
    ``environment``, the machine and BLAS the run's processor times were measured on. A run with shadows
    (:mod:`okcore.train.shadow`) gets, in each log record and in ``final``, ``shadows``: per shadow the mean
    agreement with exact RTRL over the records' interval (over the whole run in ``final``)."""
    record = run_record(result, config)
    if config.get("shadows"):
        from okcore.train.shadow import bin_agreement

        agreement = result.estimator.agreement
        bins = bin_agreement(agreement, [r["step"] for r in record["log"]])
        for r, found in zip(record["log"], bins, strict=True):
            r["shadows"] = found
        record["final"]["shadows"] = bin_agreement(agreement, [result.steps_done])[0]
    rng = np.random.default_rng(np.random.SeedSequence(config["seed"]).spawn(4)[3])  # not one of the run's streams
    record["final"]["recall"] = recall_accuracy(result.cell, result.readout, RECALL_LENGTHS, sequences, rng)
    record["final"]["environment"] = environment()
    return record


def check_out_path(path: str | os.PathLike) -> Path:
    """Refuse an output path whose folder is missing or not writable, before any work is done."""
    out = Path(path)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ValueError(f"--out: expected a file path, got the folder {str(out)!r}")
    if not folder.is_dir():
        raise ValueError(f"--out: expected a path in an existing folder, got {str(out)!r} ({str(folder)!r} is missing)")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--out: expected a writable folder, got {str(out)!r} ({str(folder)!r} is not writable)")
    return out


def write_json(path: str | os.PathLike, record: dict) -> None:
    """Write ``record`` as JSON atomically (temporary file in the same folder, then rename)."""
    out = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent if str(out.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_run(path: str | os.PathLike) -> dict:
    """Read a run file, checking that it has config, log and final."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path: expected a run file (JSON), got {str(p)!r}, which does not exist")
    try:
        record = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"path: expected a run file (JSON), got {str(p)!r}, which is not valid JSON ({err})") from None
    if not isinstance(record, dict) or not {"config", "log", "final"} <= set(record):
        raise ValueError(f"path: expected a run file with config, log and final, got {str(p)!r} without them")
    return record
