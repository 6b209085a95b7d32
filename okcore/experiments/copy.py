"""The cached copy-task runs of notebook 10 (``data/copy``).

Four groups of runs, each in its own folder so that :func:`okcore.train.results.load_groups` compares only runs
with equal settings:

- ``data/copy/``: the main comparison. Every method of :data:`COPY_METHODS` (exact RTRL, OK r = 1, 2, 4, KF-avg
  r = 4, KF, UORO, truncated BPTT with non-overlapping windows τ = 4 and 16) and truncated BPTT with a window
  sliding every step (τ in :data:`TBPTT_SLIDING`), the seeds :data:`COPY_SEEDS`, :data:`COPY_STEPS` steps, Adam
  at the paper's 10^-3.5.
- ``data/copy/tbptt-lr/``: TBPTT τ = 16 (block) with its learning rate raised by :data:`TBPTT_LR_FACTOR`, to test
  whether τ = 16 falls behind τ = 4 because it updates W four times less often; same seeds and steps.
- ``data/copy/lr/RATE/``: the learning-rate sweep, every method of :data:`COPY_METHODS` and the sliding windows of
  :data:`SWEEP_SLIDING` at each of :data:`SWEEP_RATES`, seeds
  :data:`SWEEP_SEEDS`, :data:`SWEEP_STEPS` steps.
- ``data/copy/shared/``: gradient agreement on one shared trajectory: exact RTRL trains, and every estimator of
  :data:`SHADOWS` runs alongside on the same states and weights (:mod:`okcore.train.shadow`), seeds
  :data:`SHARED_SEEDS`, :data:`SHARED_STEPS` steps, a comparison every :data:`SHARED_EVERY` steps.
"""

from __future__ import annotations

from okcore.experiments.runner import run_name
from okcore.train.runs import copy_config

__all__ = [
    "COPY_METHODS",
    "TBPTT_SLIDING",
    "COPY_SEEDS",
    "COPY_STEPS",
    "TBPTT_LR_FACTOR",
    "SWEEP_RATES",
    "SWEEP_SEEDS",
    "SWEEP_SLIDING",
    "SWEEP_STEPS",
    "SHADOWS",
    "SHARED_SEEDS",
    "SHARED_STEPS",
    "SHARED_EVERY",
    "copy_runs",
]

# (method, rank, truncation) of every curve of the main comparison; all run with the same settings (tbptt with
# non-overlapping windows), followed by tbptt with a window sliding every step, τ in TBPTT_SLIDING.
COPY_METHODS: list[tuple[str, int | None, int | None]] = [
    ("exact", None, None),
    ("ok", 1, None),
    ("ok", 2, None),
    ("ok", 4, None),
    ("kf-avg", 4, None),
    ("kf", None, None),
    ("uoro", None, None),
    ("tbptt", None, 4),
    ("tbptt", None, 16),
]
TBPTT_SLIDING = (4, 16)
COPY_SEEDS = tuple(range(8))
COPY_STEPS = 40_000
COPY_LR = 10**-3.5  # the paper's rate

# TBPTT τ = 16 updates once per 16 steps, τ = 4 once per 4: four times the rate gives τ = 16 the same sum of
# Adam step sizes per time step as τ = 4.
TBPTT_LR_FACTOR = 4

SWEEP_RATES = {"1e-3": 10**-3.0, "1e-3.5": 10**-3.5, "1e-4": 10**-4.0}
SWEEP_SEEDS = (0, 1, 2)
SWEEP_SLIDING = (4,)  # the sweep's sliding windows
SWEEP_STEPS = 12_000

# The estimators that run alongside exact RTRL on its trajectory, by name: (method, rank, truncation); a tbptt
# entry is the gradient of the current loss backpropagated through the last τ steps (the sliding window's).
SHADOWS: dict[str, tuple[str, int | None, int | None]] = {
    "ok-r1": ("ok", 1, None),
    "ok-r2": ("ok", 2, None),
    "ok-r4": ("ok", 4, None),
    "kf-avg-r4": ("kf-avg", 4, None),
    "kf": ("kf", None, None),
    "uoro": ("uoro", None, None),
    "tbptt-t4": ("tbptt", None, 4),
    "tbptt-t16": ("tbptt", None, 16),
}
SHARED_SEEDS = (0, 1, 2)
SHARED_STEPS = 10_000
SHARED_EVERY = 25


def _config(method: str, rank: int | None, truncation: int | None, window: str, **kw: object) -> dict:
    return copy_config(method=method, rank=rank, truncation=truncation, window=window, **kw)


def _specs(sliding: tuple[int, ...] = TBPTT_SLIDING) -> list[tuple[str, int | None, int | None, str]]:
    """(method, rank, truncation, window) of the main comparison (of the sweep, with its ``sliding``)."""
    return [(*m, "block") for m in COPY_METHODS] + [("tbptt", None, tau, "sliding") for tau in sliding]


def copy_runs() -> list[tuple[str, dict]]:
    """(relative path, config) of every cached copy-task run, seed by seed within each group."""
    runs = []
    for seed in COPY_SEEDS:
        for spec in _specs():
            config = _config(*spec, seed=seed, steps=COPY_STEPS, lr=COPY_LR)
            runs.append((run_name(config), config))
    for seed in COPY_SEEDS:
        config = _config("tbptt", None, 16, "block", seed=seed, steps=COPY_STEPS, lr=COPY_LR * TBPTT_LR_FACTOR)
        config["lr_tag"] = f"lr{TBPTT_LR_FACTOR}x"
        runs.append(("tbptt-lr/" + run_name(config), config))
    for seed in SHARED_SEEDS:
        config = _config(
            "exact", None, None, "block", seed=seed, steps=SHARED_STEPS, shadows=SHADOWS, shadow_every=SHARED_EVERY
        )
        runs.append(("shared/" + run_name(config), config))
    for seed in SWEEP_SEEDS:
        for tag, lr in SWEEP_RATES.items():
            for spec in _specs(SWEEP_SLIDING):
                config = _config(*spec, seed=seed, steps=SWEEP_STEPS, lr=lr)
                runs.append((f"lr/{tag}/" + run_name(config), config))
    return runs
