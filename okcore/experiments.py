"""Regenerate the cached runs in ``data/``: ``python -m okcore.experiments copy --jobs 2`` (or ``text``).

Each run is one JSON file (see :mod:`okcore.train.runs`) named after its method and seed. Files that exist are
skipped unless ``--force`` is given, so an interrupted regeneration picks up where it stopped. Set
``OPENBLAS_NUM_THREADS=1`` (the Makefile does) so that parallel jobs do not fight over cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from okcore.train.results import data_path
from okcore.train.runs import copy_config, run_copy, run_record, write_json
from okcore.train.text_runs import run_text, save_model, text_config, text_record, weights_path

__all__ = [
    "COPY_METHODS",
    "COPY_SEEDS",
    "COSINE_STEPS",
    "TEXT_METHODS",
    "TEXT_SEEDS",
    "copy_runs",
    "text_runs",
    "run_name",
    "main",
]

# (method, rank, truncation) of every curve in notebook 10; every one runs with the same settings and seeds.
COPY_METHODS: list[tuple[str, int | None, int | None]] = [
    ("exact", None, None),
    ("ok", 1, None),
    ("ok", 2, None),
    ("ok", 4, None),
    ("kf", None, None),
    ("kf-avg", 4, None),
    ("uoro", None, None),
    ("tbptt", None, 4),
    ("tbptt", None, 16),
]
COPY_SEEDS = (0, 1, 2)
COSINE_STEPS = 20_000
COSINE_EVERY = 50


def run_name(config: dict) -> str:
    """File name of a run: method, rank or truncation, seed; e.g. ``ok-r2-seed0.json``, ``tbptt-t16-seed1.json``."""
    parts = [config["method"]]
    if config.get("rank") is not None:
        parts.append(f"r{config['rank']}")
    if config.get("truncation") is not None:
        parts.append(f"t{config['truncation']}")
    parts.append(f"seed{config['seed']}")
    return "-".join(parts) + ".json"


def copy_runs() -> list[tuple[str, dict]]:
    """(relative path, config) of every cached copy-task run: the learning curves, then the cosine runs."""
    runs = []
    for seed in COPY_SEEDS:
        for method, rank, truncation in COPY_METHODS:
            config = copy_config(method=method, rank=rank, truncation=truncation, seed=seed)
            runs.append((run_name(config), config))
    for method, rank, truncation in COPY_METHODS:
        if method == "exact":
            continue  # its cosine with itself is 1
        config = copy_config(
            method=method,
            rank=rank,
            truncation=truncation,
            seed=0,
            steps=COSINE_STEPS,
            log_every=COSINE_EVERY * 10,
            cosine_every=COSINE_EVERY,
        )
        runs.append(("cosine/" + run_name(config), config))
    return runs


# (method, rank, truncation) of every curve in notebook 11, all with TEXT_DEFAULTS and the same seeds.
TEXT_METHODS: list[tuple[str, int | None, int | None]] = [
    ("ok", 2, None),
    ("ok", 8, None),
    ("kf", None, None),
    ("uoro", None, None),
    ("tbptt", None, 4),
    ("tbptt", None, 16),
]
TEXT_SEEDS = (0, 1, 2)


def text_runs() -> list[tuple[str, dict]]:
    """(relative path, config) of every cached text run, seed by seed."""
    runs = []
    for seed in TEXT_SEEDS:
        for method, rank, truncation in TEXT_METHODS:
            config = text_config(method=method, rank=rank, truncation=truncation, seed=seed)
            runs.append((run_name(config), config))
    return runs


def _run_one(path: str, config: dict) -> tuple[str, float, dict]:
    if config["task"] == "text":
        result, data = run_text(config)
        weights = weights_path(path)
        save_model(weights, result, data.vocab, config)
        record = text_record(result, data, config, weights=weights.name)
        write_json(path, record)
        final = {k: record["final"].get(k) for k in ("valid_bpc", "best_valid_bpc", "test_bpc")}
        return path, result.seconds, final
    result = run_copy(config)
    record = run_record(result, config)
    write_json(path, record)
    return path, result.seconds, record["final"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m okcore.experiments", description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=["copy", "text"], help="which set of cached runs to make")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (one core each)")
    parser.add_argument("--out", default=None, help="folder to write to (default: data/SET)")
    parser.add_argument("--force", action="store_true", help="rerun runs whose file exists")
    parser.add_argument("--only", default=None, help="only the runs whose file name contains this text")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.exit(2, f"error: --jobs: expected a positive integer, got {args.jobs}\n")
    out = Path(args.out) if args.out else data_path(args.set)
    every = copy_runs() if args.set == "copy" else text_runs()
    runs = [(out / name, config) for name, config in every if args.only is None or args.only in name]
    todo = [(p, c) for p, c in runs if args.force or not p.exists()]
    print(f"{len(runs)} runs in {out}, {len(runs) - len(todo)} already there, {len(todo)} to do", flush=True)
    for p, _ in todo:
        p.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(_run_one, str(p), c) for p, c in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            path, seconds, final = fut.result()
            print(f"[{i}/{len(todo)}] {path}: {seconds:.0f} s, final {final}", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
