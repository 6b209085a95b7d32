"""Running a set of cached runs: each run one JSON file named after its config, finished files skipped.

A run is a (path, config) pair; ``config["task"]`` says which kind of run it is (see :data:`RUNNERS`). Runs go
either to a local pool of processes (:func:`run_local`, one run per process at a time) or to the workers of a
Dask distributed cluster (:func:`run_dask`); either way each run writes its own file, so the two give the same
files. Set ``OPENBLAS_NUM_THREADS=1`` so that parallel runs do not fight over cores (the Makefile does; on a
cluster, in the workers' environment).

On a cluster (``pip install okcore[dask]``), start a scheduler and workers with one thread each, on machines that
share the output folder (an NFS home, say), then pass the scheduler's address::

    dask scheduler                                    # prints tcp://HOST:8786
    OPENBLAS_NUM_THREADS=1 dask worker tcp://HOST:8786 --nworkers 16 --nthreads 1
    python -m okcore.experiments copy --scheduler tcp://HOST:8786

On a SLURM or PBS cluster, ``dask-jobqueue`` starts the workers as batch jobs (``SLURMCluster(cores=1,
processes=1, memory="2GB", job_script_prologue=["export OPENBLAS_NUM_THREADS=1"])``, then
``cluster.scale(jobs=16)`` and pass ``cluster.scheduler_address``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from okcore.train.runs import copy_record, run_copy, write_json
from okcore.train.text_runs import run_text, save_model, text_record, weights_path

__all__ = ["RUNNERS", "run_name", "run_one", "pending", "run_local", "run_dask"]


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
    record = copy_record(result, config)
    write_json(path, record)
    return result.cpu_seconds, {k: v for k, v in record["final"].items() if k in ("T", "loss_bits")}


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
    """Run one config and write its file; returns (path, processor seconds, final values).

    The processor seconds are all the run cost in this process (``time.process_time``): training, and also the
    evaluations and measurements that the run file's own ``cpu_s`` leaves out."""
    task = config.get("task")
    if task not in RUNNERS:
        raise ValueError(f"config: expected a task among {', '.join(RUNNERS)}, got {task!r}")
    start = time.process_time()
    _, final = RUNNERS[task](path, config)
    return path, time.process_time() - start, final


def pending(runs: Iterable[tuple[Path, dict]], force: bool = False) -> list[tuple[Path, dict]]:
    """The runs whose file does not exist yet (all of them with ``force``); their folders are made."""
    todo = [(p, c) for p, c in runs if force or not p.exists()]
    for p, _ in todo:
        p.parent.mkdir(parents=True, exist_ok=True)
    return todo


def run_local(todo: list[tuple[Path, dict]], jobs: int, report: Callable[[str], None] = print) -> tuple[float, float]:
    """Run ``todo`` on a pool of ``jobs`` processes; report each finished run; returns (wall seconds, processor
    seconds summed over the runs)."""
    start = time.perf_counter()
    total = 0.0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, str(p), c) for p, c in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            path, seconds, final = fut.result()
            total += seconds
            report(f"[{i}/{len(todo)}] {path}: {seconds:.0f} s of processor time, final {final}")
    return time.perf_counter() - start, total


def run_dask(
    todo: list[tuple[Path, dict]], scheduler: str, report: Callable[[str], None] = print, timeout: float = 30.0
) -> tuple[float, float]:
    """Run ``todo`` on the workers of the Dask distributed cluster whose scheduler is at ``scheduler`` (e.g.
    ``tcp://10.0.0.1:8786``), one task per run; report each finished run. Paths are made absolute: the workers
    must see the same folder. ``timeout``: seconds to wait for the scheduler to answer (then ``OSError``).
    Returns (wall seconds, processor seconds summed over the runs)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError(
            "--scheduler: needs Dask's distributed scheduler; install it with pip install 'okcore[dask]'"
        ) from None
    start = time.perf_counter()
    total = 0.0
    with Client(scheduler, timeout=timeout) as client:
        futures = [client.submit(run_one, str(Path(p).resolve()), c, pure=False) for p, c in todo]
        for i, fut in enumerate(as_completed(futures), 1):
            path, seconds, final = fut.result()
            total += seconds
            report(f"[{i}/{len(todo)}] {path}: {seconds:.0f} s of processor time, final {final}")
    return time.perf_counter() - start, total
