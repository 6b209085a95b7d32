"""The cached copy-task runs of notebook 10 (``data/copy``): every method with the same settings and seeds."""

from __future__ import annotations

from okcore.experiments.runner import run_name
from okcore.train.runs import copy_config

__all__ = ["COPY_METHODS", "COPY_SEEDS", "COSINE_STEPS", "COSINE_EVERY", "copy_runs"]

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
