"""Reading cached runs: where ``data/`` is, groups of runs that differ only by seed, tables and plots of them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from okcore.plotting import METHODS, run_style
from okcore.train.runs import load_run

__all__ = ["data_path", "Group", "load_groups", "method_label", "final_table", "curve", "plot_groups"]

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


def load_groups(folder: str | os.PathLike) -> dict[str, Group]:
    """All run files in ``folder`` grouped by method (label), in the order of the methods' first appearance.

    Raises ``ValueError`` if the folder has no runs, or if two runs differ in a setting other than method,
    rank, truncation and seed (so that every comparison is on equal terms).
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ValueError(f"folder: expected run files (*.json) in {str(folder)!r}, found none")
    runs = [load_run(f) for f in files]
    ref = runs[0]["config"]
    for r in runs[1:]:
        diff = [k for k in _SETTINGS if r["config"].get(k) != ref.get(k)]
        if diff:
            raise ValueError(f"folder: runs in {str(folder)!r} differ in {', '.join(diff)}; expected equal settings")
    runs.sort(
        key=lambda r: (
            METHODS.index(r["config"]["method"]),
            r["config"].get("rank") or 0,
            r["config"].get("truncation") or 0,
            r["config"]["seed"],
        )
    )
    groups: dict[str, Group] = {}
    for r in runs:
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
