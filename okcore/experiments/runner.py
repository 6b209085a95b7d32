"""Running a set of cached runs: each run one JSON file named after its config, finished files skipped.

A run is a (path, config) pair; ``config["task"]`` says which kind of run it is (see :data:`RUNNERS`). Runs go to
a local pool of processes (:func:`run_local`, one run per process at a time). Set ``OPENBLAS_NUM_THREADS=1`` so
that parallel runs do not fight over cores (the Makefile does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from okcore.train.runs import run_copy, run_record, write_json
from okcore.train.text_runs import run_text, save_model, text_record, weights_path

__all__ = ["RUNNERS", "run_name", "run_one", "pending", "run_local"]


def run_name(config: dict) -> str:
    """File name of a run: method, rank or truncation (and ``s`` for a sliding window), learning rate when it is
    not the set's default (``lr_tag``), seed; e.g. ``ok-r2-seed0.json``, ``tbptt-t16s-seed1.json``."""
    parts = [config["method"]]
    if config.get("rank") is not None:
        parts.append(f"r{config['rank']}")
    if config.get("truncation") is not None:
        parts.append(f"t{config['truncation']}" + ("s" if config.get("window") == "sliding" else ""))
    if config.get("lr_tag"):
        parts.append(config["lr_tag"])
    parts.append(f"seed{config['seed']}")
    return "-".join(parts) + ".json"


def _copy(path: str, config: dict) -> tuple[float, dict]:
    result = run_copy(_train_config(config))
    record = run_record(result, config)
    write_json(path, record)
    return result.cpu_seconds, record["final"]


def _text(path: str, config: dict) -> tuple[float, dict]:
    result, data = run_text(_train_config(config))
    weights = weights_path(path) if config.get("save_weights", True) else None
    if weights is not None:
        save_model(weights, result, data.vocab, config)
    record = text_record(result, data, config, weights=None if weights is None else weights.name)
    write_json(path, record)
    final = {k: record["final"].get(k) for k in ("valid_bpc", "best_valid_bpc", "test_bpc")}
    return result.cpu_seconds, final


def _train_config(config: dict) -> dict:
    """The config without the keys that only name or group a run (``lr_tag``)."""
    return {k: v for k, v in config.items() if k != "lr_tag"}


# What runs a config, by its "task": runner(path, config) -> (processor seconds, final values); it writes the file.
RUNNERS: dict[str, Callable[[str, dict], tuple[float, dict]]] = {"copy": _copy, "text": _text}


def run_one(path: str, config: dict) -> tuple[str, float, dict]:
    """Run one config and write its file; returns (path, processor seconds, final values)."""
    task = config.get("task")
    if task not in RUNNERS:
        raise ValueError(f"config: expected a task among {', '.join(RUNNERS)}, got {task!r}")
    seconds, final = RUNNERS[task](path, config)
    return path, seconds, final


def pending(runs: Iterable[tuple[Path, dict]], force: bool = False) -> list[tuple[Path, dict]]:
    """The runs whose file does not exist yet (all of them with ``force``); their folders are made."""
    todo = [(p, c) for p, c in runs if force or not p.exists()]
    for p, _ in todo:
        p.parent.mkdir(parents=True, exist_ok=True)
    return todo


def run_local(todo: list[tuple[Path, dict]], jobs: int, report: Callable[[str], None] = print) -> float:
    """Run ``todo`` on a pool of ``jobs`` processes; report each finished run; returns the wall seconds."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, str(p), c) for p, c in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            path, seconds, final = fut.result()
            report(f"[{i}/{len(todo)}] {path}: {seconds:.0f} s of processor time, final {final}")
    return time.perf_counter() - start
