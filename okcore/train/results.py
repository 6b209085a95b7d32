"""Reading cached runs: where ``data/`` is, groups of runs that differ only by seed, tables and plots of them."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from okcore._checks import check_rng
from okcore.plotting import METHODS, run_style
from okcore.stats import bootstrap_ci, quantiles, steps_to_level, value_at
from okcore.train.runs import load_run

__all__ = ["data_path", "Group", "load_groups", "method_label", "final_table", "curve", "plot_groups"]
__all__ += [
    "finals_at",
    "interval_table",
    "level_steps",
    "level_table",
    "on_grid",
    "plot_intervals",
    "Shared",
    "load_shared",
]

_REPO = Path(__file__).resolve().parents[2]


def data_path(*parts: str) -> Path:
    """A path inside the repository's ``data/`` folder (``OKCORE_DATA`` overrides where that is)."""
    root = Path(os.environ.get("OKCORE_DATA", _REPO / "data"))
    return root.joinpath(*parts)


def method_label(config: dict) -> str:
    """``"OK r=2"``, ``"TBPTT τ=16"``, ``"exact RTRL"`` …: how tables and legends name a run's method (the label of
    the palette, :func:`okcore.plotting.run_style`)."""
    return run_style(config)["label"]


@dataclass
class Group:
    """Runs of one method that differ only by seed. ``runs``: the run records, in seed order."""

    label: str
    runs: list[dict]

    @property
    def seeds(self) -> list[int]:
        return [r["config"]["seed"] for r in self.runs]

    def finals(self, field: str) -> np.ndarray:
        """The final value of ``field`` of each run, (n_seeds,)."""
        return np.array([r["final"][field] for r in self.runs], dtype=float)


_SETTINGS = ("task", "hidden", "batch", "steps", "cell", "lr", "clip", "log_every", "cosine_every")


def _method_order(run: dict) -> tuple:
    """Sort key of a run: method (in okcore.train's order), rank, truncation, seed."""
    c = run["config"]
    return METHODS.index(c["method"]), c.get("rank") or 0, c.get("truncation") or 0, c["seed"]


def load_groups(
    folder: str | os.PathLike,
    pattern: str = "*.json",
    same: Sequence[str] = _SETTINGS,
    order: Callable[[dict], Any] = _method_order,
) -> dict[str, Group]:
    """The run files of ``folder`` that match ``pattern`` grouped by method (label), the runs sorted by ``order``
    (default: method, rank, truncation, seed) and the groups in the order of their first run.

    Raises ``ValueError`` if the folder has no such runs, or if two runs differ in a setting of ``same`` (by
    default every setting but method, rank, truncation and seed, so that every comparison is on equal terms).
    """
    folder = Path(folder)
    files = sorted(folder.glob(pattern))
    if not files:
        raise ValueError(f"folder: expected run files ({pattern}) in {str(folder)!r}, found none")
    runs = [load_run(f) for f in files]
    ref = runs[0]["config"]
    for r in runs[1:]:
        diff = [k for k in same if r["config"].get(k) != ref.get(k)]
        if diff:
            raise ValueError(f"folder: runs in {str(folder)!r} differ in {', '.join(diff)}; expected equal settings")
    groups: dict[str, Group] = {}
    for r in sorted(runs, key=order):
        label = method_label(r["config"])
        groups.setdefault(label, Group(label, [])).runs.append(r)
    return groups


def curve(group: Group, field: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps (S,) and values (n_seeds, S) of ``field`` over the log records every run of the group has."""
    steps = sorted(set.intersection(*({rec["step"] for rec in r["log"] if field in rec} for r in group.runs)))
    values = np.array(
        [[rec[field] for rec in r["log"] if rec["step"] in set(steps) and field in rec] for r in group.runs]
    )
    return np.array(steps), values


def final_table(groups: dict[str, Group], field: str, digits: int = 2) -> str:
    """A text table: per method, the final ``field`` of each seed, their mean, min and max."""
    lines = [f"{'method':<14} {'per seed':<22} {'mean':>7} {'min':>7} {'max':>7}"]
    for label, g in groups.items():
        v = g.finals(field)
        per = ", ".join(f"{x:g}" if float(x).is_integer() else f"{x:.{digits}f}" for x in v)
        lines.append(f"{label:<14} {per:<22} {v.mean():>7.{digits}f} {v.min():>7.{digits}f} {v.max():>7.{digits}f}")
    return "\n".join(lines)


def plot_groups(ax: object, groups: dict[str, Group], field: str, labels: list[str] | None = None) -> None:
    """Plot ``field`` against steps for each group: the mean over seeds as a line, min to max as a band.

    Each method has its palette colour and line style (:func:`okcore.plotting.run_style`), so a method looks the
    same in every panel whatever else the panel shows."""
    for label, g in groups.items():
        if labels is not None and label not in labels:
            continue
        steps, values = curve(g, field)
        style = run_style(g.runs[0]["config"])
        style["label"] = f"{label} ({len(g.runs)} seeds)"
        ax.plot(steps, values.mean(axis=0), **style)
        if len(g.runs) > 1:
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.2, lw=0)
    ax.set_xlabel("time step")


# --- statistics over seeds: intervals, steps to a level, curves against processor time ---------------------------


def finals_at(group: Group, field: str, step: int) -> np.ndarray:
    """``field`` of each run of the group at log step ``step`` (the last record at or before it), (n_seeds,)."""
    return np.array([value_at(step, *_xy(r, field, "step")) for r in group.runs], dtype=float)


def _xy(run: dict, field: str, x: str) -> tuple[np.ndarray, np.ndarray]:
    recs = [rec for rec in run["log"] if field in rec and x in rec]
    return np.array([rec[x] for rec in recs], dtype=float), np.array([rec[field] for rec in recs], dtype=float)


def interval_table(
    groups: dict[str, Group], field: str = "T", level: float = 0.95, rng: np.random.Generator | int = 0, digits: int = 1
) -> tuple[str, dict[str, tuple[float, float, float]]]:
    """A text table: per method, the number of seeds, the final ``field`` of each seed, and its mean with a
    percentile bootstrap interval (:func:`okcore.stats.bootstrap_ci`, seeds resampled). Returns (table,
    {label: (mean, low, high)})."""
    gen = check_rng("rng", rng)
    head = f"{'method':<19} {'seeds':>5}  {'final value per seed':<26} {'mean':>5}  {round(level * 100)} % interval"
    cis, lines = {}, [head]
    for label, g in groups.items():
        v = g.finals(field)
        cis[label] = bootstrap_ci(v, level=level, rng=gen)
        per = " ".join(f"{x:g}" for x in v)
        mean, lo, hi = cis[label]
        lines.append(f"{label:<19} {v.size:>5}  {per:<26} {mean:>5.{digits}f}  [{lo:.{digits}f}, {hi:.{digits}f}]")
    return "\n".join(lines), cis


def level_steps(group: Group, levels: object, field: str = "T", x: str = "step") -> np.ndarray:
    """(n_seeds, n_levels): for each run, the first ``x`` (log step, or ``"cpu_s"``) at which ``field`` reached
    each level (:func:`okcore.stats.steps_to_level`; ``inf`` where it never did)."""
    levels = np.atleast_1d(np.asarray(levels, dtype=float))
    return np.array([[steps_to_level(*_xy(r, field, x), lv) for lv in levels] for r in group.runs])


def level_table(groups: dict[str, Group], levels: object, field: str = "T", x: str = "step", scale: float = 1e3) -> str:
    """A text table: per method and level, the median (interquartile range) of the ``x`` at which runs first reached
    the level, in units of ``scale`` (thousands of steps by default), and how many seeds reached it; a quantile that
    falls on a seed that never reached the level shows as "—" (:func:`okcore.stats.quantiles`)."""
    levels = [int(lv) for lv in np.atleast_1d(levels)]

    def fmt(v: float) -> str:
        return f"{v / scale:.1f}" if np.isfinite(v) else "—"

    lines = [f"{'method':<19}" + "".join(f"{'T_ = ' + str(lv):>22}" for lv in levels)]
    for label, g in groups.items():
        steps = level_steps(g, levels, field, x)
        cells = []
        for j in range(len(levels)):
            q1, med, q3 = quantiles(steps[:, j])
            reached = int(np.isfinite(steps[:, j]).sum())
            cells.append(f"{fmt(med)} ({fmt(q1)}–{fmt(q3)}) {reached}/{len(g.runs)}")
        lines.append(f"{label:<19}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def on_grid(group: Group, field: str, grid: object, x: str = "step") -> np.ndarray:
    """(n_seeds, len(grid)): each run's ``field`` read at the points ``grid`` of ``x`` (``"step"`` or ``"cpu_s"``)
    as a step function (:func:`okcore.stats.value_at`); NaN past a run's last record."""
    return np.array([value_at(grid, *_xy(r, field, x)) for r in group.runs])


def plot_intervals(
    ax: object,
    groups: dict[str, Group],
    field: str = "T",
    x: str = "step",
    labels: list[str] | None = None,
    points: int = 60,
    rng: np.random.Generator | int = 0,
) -> None:
    """Plot ``field`` against ``x`` (``"step"``, or ``"cpu_s"``: processor seconds) for each group: the mean over
    seeds as a line in the method's palette style, its 95 % bootstrap interval as a band. Against processor time
    the curves stop where the first seed of a group ends, so that every point is a mean over all seeds, and the
    points are spaced evenly on a log scale (plot it with ``ax.set_xscale("log")``)."""
    gen = check_rng("rng", rng)
    for label, g in groups.items():
        if labels is not None and label not in labels:
            continue
        xs = [_xy(r, field, x)[0] for r in g.runs]
        end = min(v[-1] for v in xs)
        if x == "step":
            grid = np.linspace(0, end, points)
        else:  # processor seconds span decades between methods: points evenly spaced on a log scale
            grid = np.geomspace(max(v[0] for v in xs), end, points)
        values = on_grid(g, field, grid, x)
        keep = ~np.isnan(values).any(axis=0)
        grid, values = grid[keep], values[:, keep]
        style = run_style(g.runs[0]["config"])
        style["label"] = f"{label} ({len(g.runs)} seeds)"
        ax.plot(grid, values.mean(axis=0), **style)
        if len(g.runs) > 1:
            band = np.array([bootstrap_ci(v, resamples=2000, rng=gen)[1:] for v in values.T])
            ax.fill_between(grid, band[:, 0], band[:, 1], color=style["color"], alpha=0.15, lw=0)
    ax.set_xlabel({"step": "time step", "cpu_s": "processor seconds (one core)"}.get(x, x))


@dataclass
class Shared:
    """Runs on one shared trajectory (:mod:`okcore.train.shadow`): exact RTRL trained, the shadows rode along.

    ``steps``: (S,) the log steps every run has; ``values[shadow][field]``: (n_seeds, S), the mean over each log
    interval of a field of :data:`okcore.train.loop.AGREEMENT`; ``specs[shadow]``: (method, rank, truncation);
    ``runs``: the run records, in seed order."""

    steps: np.ndarray
    values: dict[str, dict[str, np.ndarray]]
    specs: dict[str, tuple]
    runs: list[dict]

    def label(self, shadow: str) -> str:
        """The palette's label of a shadow (``"OK r=2"``; a tbptt shadow is a sliding window)."""
        method, rank, truncation = self.specs[shadow]
        return run_style({"method": method, "rank": rank, "truncation": truncation, "window": "sliding"})["label"]

    def style(self, shadow: str) -> dict:
        """The palette's style of a shadow, for ``ax.plot``."""
        method, rank, truncation = self.specs[shadow]
        return run_style({"method": method, "rank": rank, "truncation": truncation, "window": "sliding"})


def load_shared(folder: str | os.PathLike) -> Shared:
    """The shared-trajectory runs in ``folder`` (one per seed, equal settings and shadows)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"folder: expected shared-trajectory run files (*.json) in {str(folder)!r}, found none")
    runs = sorted((load_run(f) for f in files), key=lambda r: r["config"]["seed"])
    specs = runs[0]["config"].get("shadows")
    if not specs or any(r["config"].get("shadows") != specs for r in runs):
        raise ValueError(f"folder: expected runs with the same shadows in {str(folder)!r}")
    steps = sorted(set.intersection(*({rec["step"] for rec in r["log"] if rec.get("shadows")} for r in runs)))
    values: dict[str, dict[str, np.ndarray]] = {}
    for shadow in specs:
        values[shadow] = {}
        for field in ("cosine", "grad_rel_err", "norm_ratio", "rel_var"):
            rows = [
                [rec["shadows"][shadow].get(field, np.nan) for rec in r["log"] if rec["step"] in steps] for r in runs
            ]
            values[shadow][field] = np.array(rows, dtype=float)
    return Shared(np.array(steps), values, {k: tuple(v) for k, v in specs.items()}, runs)
