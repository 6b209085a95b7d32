"""Regenerate the cached runs in ``data/``: ``python -m okcore.experiments copy --jobs 2`` (or another set).

Each set (:data:`SETS`) is a list of runs, each one JSON file (see :mod:`okcore.train.runs`) named after its
method and seed, in ``data/SET`` by default. Files that exist are skipped unless ``--force`` is given, so an
interrupted regeneration picks up where it stopped. Set ``OPENBLAS_NUM_THREADS=1`` (the Makefile does) so that
parallel jobs do not fight over cores. ``--jobs N`` runs N at a time on this machine; ``--scheduler ADDRESS``
sends every run to a Dask distributed cluster instead (``pip install okcore[dask]``; see
:mod:`okcore.experiments.runner` for starting one, on SLURM or PBS too).

- :mod:`okcore.experiments.runner`: running configs and writing their files, on a local process pool or a Dask
  cluster.
- :mod:`okcore.experiments.copy`, :mod:`okcore.experiments.text`: the sets of notebooks 10 and 11.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from okcore.experiments.copy import COPY_METHODS, COPY_SEEDS, copy_runs
from okcore.experiments.runner import pending, run_dask, run_local, run_name, run_one
from okcore.experiments.text import TEXT_METHODS, TEXT_SEEDS, text_runs
from okcore.train.results import data_path

__all__ = [
    "SETS",
    "COPY_METHODS",
    "COPY_SEEDS",
    "TEXT_METHODS",
    "TEXT_SEEDS",
    "copy_runs",
    "text_runs",
    "run_name",
    "run_one",
    "run_local",
    "run_dask",
    "main",
]

# The sets of cached runs by name: a function listing (relative path, config) of every run of the set.
SETS: dict[str, Callable[[], list[tuple[str, dict]]]] = {"copy": copy_runs, "text": text_runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m okcore.experiments", description="Regenerate a set of cached runs in data/."
    )
    parser.add_argument("set", choices=sorted(SETS), help="which set of cached runs to make")
    parser.add_argument("--jobs", type=int, default=None, help="runs in parallel on this machine (default 1)")
    parser.add_argument(
        "--scheduler",
        default=None,
        help="address of a Dask distributed scheduler to send the runs to (tcp://HOST:PORT)",
    )
    parser.add_argument("--out", default=None, help="folder to write to (default: data/SET)")
    parser.add_argument("--force", action="store_true", help="rerun runs whose file exists")
    parser.add_argument("--only", default=None, help="only the runs whose file name contains this text")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.exit(2, f"error: --jobs: expected a positive integer, got {args.jobs}\n")
    if args.jobs is not None and args.scheduler is not None:
        parser.exit(2, f"error: --jobs: runs go to the cluster at --scheduler {args.scheduler}; give one of the two\n")
    out = Path(args.out) if args.out else data_path(args.set)
    runs = [(out / name, config) for name, config in SETS[args.set]() if args.only is None or args.only in name]
    todo = pending(runs, args.force)
    print(f"{len(runs)} runs in {out}, {len(runs) - len(todo)} already there, {len(todo)} to do", flush=True)
    report = lambda line: print(line, flush=True)  # noqa: E731
    if args.scheduler is None:
        wall, cpu = run_local(todo, args.jobs or 1, report=report)
    else:
        try:
            wall, cpu = run_dask(todo, args.scheduler, report=report)
        except (RuntimeError, OSError) as err:
            parser.exit(2, f"error: {err}\n")
    print(f"done in {wall:.0f} s, {cpu:.0f} s of processor time", flush=True)
    return 0
