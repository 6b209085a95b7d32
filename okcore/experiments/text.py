"""The cached character-level runs of notebook 11 (``data/text``), in the order they are made.

1. ``lr/``: a learning-rate sweep, one seed and :data:`SWEEP_STEPS` steps per method and rate (:data:`SWEEP_LRS`,
   and :data:`SWEEP_MORE` for the methods whose best rate was the largest of those). Each method's rate for the
   rest of the set is the one with the lowest validation bpc at the end of its sweep (:data:`TEXT_LR`;
   tests/test_text_cached.py checks that the table agrees with the cached sweep). OK r = 8 takes OK r = 4's rate.
2. the main runs (this folder): every method with the same settings (:data:`TEXT_SETTINGS`: cell, n, batch,
   steps, float32, evaluation) at its own rate, seeds :data:`TEXT_SEEDS`; the first seed keeps snapshots of its
   weights at :data:`SNAPSHOTS` for samples while the model learns.
3. ``compute/``: the truncated-BPTT baselines of :data:`COMPUTE_METHODS` run :data:`COMPUTE_FACTOR` times longer,
   so that they use about as much processor time as OK r = 4's main runs: the comparison at equal compute.
4. ``exact/``: exact RTRL at the smaller n = :data:`EXACT_HIDDEN` (its step costs O(n⁴)), with OK r = 4 and
   TBPTT τ = 100 at the same size and :data:`EXACT_STEPS` steps, as a reference for what an exact online
   gradient gives. Exact RTRL takes OK r = 4's rate.
5. ``lr-check/``: every method for the whole run, seed 0, at half its rate, the next lower rate of the sweep
   (:data:`RATE_CHECK`), to see whether the sweep's short horizon chose rates too large for 80,000 steps.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from okcore.experiments.runner import run_name
from okcore.plotting import METHODS, run_style
from okcore.train.results import Group, curve, load_groups
from okcore.train.runs import load_run
from okcore.train.text_runs import text_config

__all__ = [
    "TEXT_METHODS",
    "TEXT_SEEDS",
    "TEXT_SETTINGS",
    "TEXT_LR",
    "SWEEP_LRS",
    "SWEEP_STEPS",
    "SNAPSHOTS",
    "COMPUTE_METHODS",
    "COMPUTE_FACTOR",
    "EXACT_HIDDEN",
    "RATE_CHECK",
    "text_runs",
    "method_key",
    "load_text_groups",
    "sweep_results",
    "best_rates",
    "seed_stats",
    "curve_by",
    "plot_bpc",
]

Method = tuple[str, int | None, int | None, str]  # method, rank, truncation, window

# Every curve of notebook 11: OK at r = 4 and at the paper's r = 8, KF, UORO, and truncated BPTT with a full
# backward pass through each 100-step segment between resets (block τ = 100), an update at every step through the
# last 16 steps (sliding τ = 16), and non-overlapping windows of 4 and 16 steps.
TEXT_METHODS: list[Method] = [
    ("ok", 4, None, "block"),
    ("kf", None, None, "block"),
    ("uoro", None, None, "block"),
    ("tbptt", None, 100, "block"),
    ("tbptt", None, 16, "sliding"),
    ("tbptt", None, 4, "block"),
    ("tbptt", None, 16, "block"),
    ("ok", 8, None, "block"),  # last of each seed: the costliest
]
TEXT_SEEDS = (0, 1, 2)
TEXT_SETTINGS = {
    "hidden": 64,
    "batch": 32,
    "steps": 80_000,
    "dtype": "float32",
    "log_every": 500,
    "eval_every": 2_500,
}
SNAPSHOTS = [1_000, 10_000]

SWEEP_LRS = (5e-4, 1e-3, 2e-3, 4e-3, 8e-3)
SWEEP_STEPS = 20_000
SWEEP_METHODS = [m for m in TEXT_METHODS if m[:2] != ("ok", 8)]
# methods whose best rate was the largest of SWEEP_LRS: the grid goes on in factors of 2 until it is not
SWEEP_MORE = {
    ("tbptt", None, 100, "block"): (1.6e-2, 3.2e-2, 6.4e-2, 1.28e-1),
    ("tbptt", None, 16, "block"): (1.6e-2, 3.2e-2),
}

# The rate of each method: the best of its sweep (tests/test_text_cached.py checks this table against it).
TEXT_LR: dict[tuple, float] = {
    ("ok", 4, None, "block"): 4e-3,
    ("kf", None, None, "block"): 2e-3,
    ("uoro", None, None, "block"): 1e-3,
    ("tbptt", None, 100, "block"): 3.2e-2,
    ("tbptt", None, 16, "sliding"): 4e-3,
    ("tbptt", None, 4, "block"): 4e-3,
    ("tbptt", None, 16, "block"): 1.6e-2,
}

COMPUTE_METHODS: list[Method] = [("tbptt", None, 100, "block"), ("tbptt", None, 16, "sliding")]
COMPUTE_FACTOR = {("tbptt", None, 100, "block"): 8, ("tbptt", None, 16, "sliding"): 3}

# A check of the sweep's short horizon: every method for the whole run at the next lower rate of the sweep's grid
# (half its rate), seed 0; OK r = 8, which takes OK r = 4's rate, at OK r = 4's lower rate.
RATE_CHECK: list[tuple[Method, float]] = (
    [(("ok", 4, None, "block"), 2e-3)]
    + [(method, TEXT_LR[method] / 2) for method in TEXT_LR if method != ("ok", 4, None, "block")]
    + [(("ok", 8, None, "block"), 2e-3)]
)

EXACT_HIDDEN = 32
EXACT_STEPS = 20_000
EXACT_METHODS: list[Method] = [("exact", None, None, "block"), ("ok", 4, None, "block"), ("tbptt", None, 100, "block")]


def method_key(config: dict) -> Method:
    """(method, rank, truncation, window) of a run config."""
    return (config["method"], config.get("rank"), config.get("truncation"), config.get("window") or "block")


def _lr_for(method: Method) -> float | None:
    """The rate of a method; OK r = 8 and exact RTRL (too costly to sweep) take OK r = 4's."""
    ok4 = ("ok", 4, None, "block")
    return TEXT_LR.get(ok4 if method[:2] == ("ok", 8) or method[0] == "exact" else method)


def _config(method: Method, **settings: object) -> dict:
    name, rank, truncation, window = method
    return text_config(method=name, rank=rank, truncation=truncation, window=window, **settings)


def _lr_tag(lr: float) -> str:
    """``lr5e-4``, ``lr1.6e-2``: the rate in a file name."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"lr{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def text_runs() -> list[tuple[str, dict]]:
    """(relative path, config) of every cached text run, in the order they are made (see the module docstring).

    The runs after the sweep need each method's rate from :data:`TEXT_LR`; methods without one are left out.
    """
    runs = []
    sweep = [(lr, method) for lr in SWEEP_LRS for method in SWEEP_METHODS]
    sweep += [(lr, method) for method, more in SWEEP_MORE.items() for lr in more]
    for lr, method in sweep:
        config = _config(method, **TEXT_SETTINGS | {"steps": SWEEP_STEPS}, lr=lr, seed=0, save_weights=False)
        runs.append(("lr/" + run_name(config | {"lr_tag": _lr_tag(lr)}), config))
    for seed in TEXT_SEEDS:
        for method in TEXT_METHODS:
            if _lr_for(method) is None:
                continue
            snaps = SNAPSHOTS if seed == TEXT_SEEDS[0] else []
            config = _config(method, **TEXT_SETTINGS, lr=_lr_for(method), seed=seed, snapshots=snaps)
            runs.append((run_name(config), config))
    for seed in TEXT_SEEDS:
        for method in COMPUTE_METHODS:
            if _lr_for(method) is None:
                continue
            steps = TEXT_SETTINGS["steps"] * COMPUTE_FACTOR[method]
            settings = TEXT_SETTINGS | {"steps": steps, "log_every": 2_500, "eval_every": 10_000}
            config = _config(method, **settings, lr=_lr_for(method), seed=seed)
            runs.append(("compute/" + run_name(config), config))
    for seed in TEXT_SEEDS:
        for method in EXACT_METHODS:
            lr = _lr_for(method)
            if lr is None:
                continue
            settings = TEXT_SETTINGS | {"hidden": EXACT_HIDDEN, "steps": EXACT_STEPS}
            config = _config(method, **settings, lr=lr, seed=seed)
            runs.append(("exact/" + run_name(config), config))
    for method, lr in RATE_CHECK:
        config = _config(method, **TEXT_SETTINGS, lr=lr, seed=TEXT_SEEDS[0])
        runs.append(("lr-check/" + run_name(config | {"lr_tag": _lr_tag(lr)}), config))
    return runs


_SAME = ("task", "corpus", "hidden", "batch", "steps", "cell", "clip", "dtype", "reset_every", "eval_every")


def load_text_groups(folder: str | os.PathLike, pattern: str = "*.json") -> dict[str, Group]:
    """The run files of one folder of the text set grouped by method (label), in the palette's order of methods.

    ``pattern``: which run files of the folder (a glob pattern, e.g. ``"tbptt-t100-*.json"`` for one method of
    ``compute/``, whose methods run for different numbers of steps). Runs may differ in their learning rate (each
    method has its own, see the module docstring) but in no other setting of ``_SAME``; a ValueError says which
    differ.
    """
    return load_groups(folder, pattern, same=_SAME, order=_text_order)


def _text_order(run: dict) -> tuple:
    """Method, rank, the longer window first, sliding before block, seed."""
    c = run["config"]
    trunc = -(c.get("truncation") or 0)
    return METHODS.index(c["method"]), c.get("rank") or 0, trunc, c.get("window") != "sliding", c["seed"]


# --- reading the set -----------------------------------------------------------------------------------


def sweep_results(folder: str | os.PathLike) -> dict[Method, dict[float, float]]:
    """The learning-rate sweep of ``folder``: {method: {rate: validation bpc at the end of the run}}."""
    out: dict[Method, dict[float, float]] = {}
    for f in sorted(Path(folder).glob("*.json")):
        r = load_run(f)
        out.setdefault(method_key(r["config"]), {})[r["config"]["lr"]] = r["final"]["valid_bpc"]
    if not out:
        raise ValueError(f"folder: expected run files (*.json) in {str(folder)!r}, found none")
    return {m: dict(sorted(v.items())) for m, v in out.items()}


def best_rates(sweep: dict[Method, dict[float, float]]) -> dict[Method, float]:
    """The rate with the lowest final validation bpc of each method of a sweep."""
    return {m: min(v, key=v.get) for m, v in sweep.items()}


def seed_stats(group: Group, field: str) -> dict[str, float]:
    """Mean, min and max over the seeds of a group of the final value of ``field``."""
    v = group.finals(field)
    return {"mean": float(v.mean()), "lo": float(v.min()), "hi": float(v.max()), "seeds": len(v)}


def curve_by(group: Group, field: str, x: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """``field`` over the log records every run of the group has: x (S,) and values (n_seeds, S).

    ``x="step"``: the steps; ``x="cpu_s"``: the processor time spent training when each record was written, the
    mean over the seeds (their times differ by a few per cent).
    """
    steps, values = curve(group, field)
    if x == "step":
        return steps.astype(float), values
    if x != "cpu_s":
        raise ValueError(f"x: expected 'step' or 'cpu_s', got {x!r}")
    wanted = set(steps.tolist())
    cpu = np.array([[rec["cpu_s"] for rec in r["log"] if rec["step"] in wanted and field in rec] for r in group.runs])
    return cpu.mean(axis=0), values


def plot_bpc(
    ax: object, groups: dict[str, Group], x: str = "step", field: str = "valid_bpc", since: float = 0.0, **style: object
) -> None:
    """Each group's ``field`` against ``x`` ("step" or "cpu_s") from ``since`` on: the mean over seeds as a line in
    the method's palette colour (:func:`okcore.plotting.run_style`), min to max as a band; ``style`` overrides the
    line's."""
    for label, g in groups.items():
        xs, values = curve_by(g, field, x)
        keep = xs >= since
        xs, values = xs[keep], values[:, keep]
        seeds = f"{len(g.runs)} seed" + ("s" if len(g.runs) > 1 else "")
        line = run_style(g.runs[0]["config"]) | {"label": f"{label} ({seeds})"} | style
        ax.plot(xs, values.mean(axis=0), **line)
        if len(g.runs) > 1:
            ax.fill_between(xs, values.min(axis=0), values.max(axis=0), color=line["color"], alpha=0.15, lw=0)
