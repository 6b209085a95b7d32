"""The cached character-level runs of notebook 11 (``data/text``): every method with the same settings and seeds."""

from __future__ import annotations

from okcore.experiments.runner import run_name
from okcore.train.text_runs import text_config

__all__ = ["TEXT_METHODS", "TEXT_SEEDS", "text_runs"]

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
