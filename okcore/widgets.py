"""The noise explorer dashboard of notebook 09: widgets glued to :mod:`okcore.explorer`.

All numbers come from :func:`okcore.explorer.noise_curves` and :func:`okcore.explorer.noise_vs_rank`; this module
only reads the controls, runs the measurements that are not cached yet (reporting progress), draws and writes the
readout. ``draw_noise`` and ``format_readout`` work on a plain result dict, so they can be used (and tested)
without widgets.

>>> from okcore.widgets import noise_explorer
>>> ex = noise_explorer(rank=4)     # compute and draw the default view, with r = 4
>>> ex.widget                       # display it (last line of a notebook cell)
>>> ex.controls["rank"].value = 2   # drive it from code: recomputes synchronously
>>> ex.result["curves"]["OK"]       # the numbers behind the plots
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from okcore import explorer
from okcore.explorer import ESTIMATORS, RANKED
from okcore.plotting import method_style

__all__ = [
    "NoiseExplorer",
    "noise_explorer",
    "compute_result",
    "draw_curves",
    "draw_sweep",
    "draw_size",
    "draw_noise",
    "format_readout",
    "format_value",
    "sweep_ranks",
]

#: The dashboard's starting point. Chosen so that a first view (all estimators, rank sweep) takes about 1 s on
#: two cores; every control can move away from it.
DEFAULTS: dict[str, Any] = {
    "estimators": ESTIMATORS,
    "rank": 2,
    "n_hidden": 16,
    "cell_type": "gated",
    "T": 50,
    "n_samples": 64,
    "seed": 0,
    "sweep": True,
}

#: Ranges of the controls: (min, max, step).
RANGES: dict[str, tuple[int, int, int]] = {
    "rank": (1, 8, 1),
    "n_hidden": (8, 64, 8),
    "T": (10, 100, 10),
    "n_samples": (16, 128, 16),
    "seed": (0, 999, 1),
}

# the explorer's estimator names as the palette's method names (okcore.plotting.method_style)
METHOD_NAMES = {"UORO": "uoro", "KF": "kf", "KF-avg": "kf-avg", "OK": "ok"}


def color(name: str, rank: int | None = None) -> str:
    """The workbook's colour of an estimator (a hex string, for the plots and the HTML readout alike); ``rank``
    picks the shade of KF-avg and OK, None their family colour."""
    return method_style(METHOD_NAMES[name], rank=rank if name in RANKED else None)["color"]


_PAD = "; padding: 1px 14px 1px 0"  # cell spacing of the readout table

# Values below this are rounding noise (e.g. OK with as many terms as the exact sum has): shown as "< 1e-12".
_FLOOR = 1e-12


# --- plain functions: compute, draw, format ---------------------------------------------------------------------


def sweep_ranks(rank: int) -> tuple[int, ...]:
    """Ranks of the sweep plot: the default ranks plus the current one."""
    return tuple(sorted(set(explorer.DEFAULT_RANKS) | {int(rank)}))


def _check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; expected some of {sorted(DEFAULTS)}")
    full = {**DEFAULTS, **params}
    full["estimators"] = explorer._check_estimators(full["estimators"])
    if not isinstance(full["sweep"], bool | np.bool_):
        raise TypeError(f"sweep: expected True or False, got {full['sweep']!r}")
    return full


def _curve_args(p: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("cell_type", "n_hidden", "T", "rank", "estimators", "n_samples", "seed")
    return {key: p[key] for key in keys}


def _sweep_args(p: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("cell_type", "n_hidden", "T", "estimators", "n_samples", "seed")
    return {**{key: p[key] for key in keys}, "ranks": sweep_ranks(p["rank"])}


def compute_result(params: Mapping[str, Any] | None = None, progress=None) -> dict[str, Any]:
    """Everything the dashboard shows for ``params`` (the keys of ``DEFAULTS``; missing ones take the defaults).

    Returns a dict with ``params`` (complete), ``curves`` (:func:`okcore.explorer.noise_curves`), ``sweep``
    (:func:`okcore.explorer.noise_vs_rank` over :func:`sweep_ranks`: the mean over t, the statistic of the readout's
    first column; None when ``params["sweep"]`` is False), ``mean`` (name -> relative variance averaged over t) and
    ``final`` (name -> relative variance at t = T).

    ``progress(done, total, label)``, if given, is called before each measurement that is not cached yet and once
    more at the end with done == total.
    """
    p = _check_params(dict(params or {}))
    todo = explorer.runs_needed(**_curve_args(p), ranks=sweep_ranks(p["rank"]) if p["sweep"] else None)
    for i, (name, rank) in enumerate(todo):
        if progress is not None:
            progress(i, len(todo), f"{name}" + (f", r = {rank}" if name in RANKED else ""))
        explorer.noise_curve(name, rank, p["cell_type"], p["n_hidden"], p["T"], p["n_samples"], p["seed"])
    if progress is not None:
        progress(len(todo), len(todo), "done")
    curves = explorer.noise_curves(**_curve_args(p))
    sweep = explorer.noise_vs_rank(**_sweep_args(p), statistic="mean") if p["sweep"] else None
    mean = {name: float(np.mean(curve)) for name, curve in curves.items()}
    final = {name: float(curve[-1]) for name, curve in curves.items()}
    return {"params": p, "curves": curves, "sweep": sweep, "mean": mean, "final": final}


def format_value(x: float) -> str:
    """A relative variance for display: 3 significant digits, or "< 1e-12" for rounding noise."""
    if not np.isfinite(x):
        return str(x)
    return "< 1e-12" if x < _FLOOR else f"{x:.3g}"


def _label(name: str, rank: int) -> str:
    return f"{name} (r = {rank})" if name in RANKED else name


def format_readout(result: Mapping[str, Any]) -> str:
    """The numeric readout as HTML: per estimator the relative variance averaged over t (the statistic of the rank
    plot) and at t = T."""
    p = result["params"]
    rows = []
    for name, curve in result["curves"].items():
        label = html.escape(_label(name, p["rank"]))
        rows.append(
            f"<tr><td style='color:{color(name, p['rank'])}{_PAD}'><b>{label}</b></td>"
            f"<td style='text-align:right{_PAD}'>{format_value(float(np.mean(curve)))}</td>"
            f"<td style='text-align:right{_PAD}'>{format_value(float(curve[-1]))}</td></tr>"
        )
    head = (
        f"<b>relative variance</b> · {p['cell_type']} cell, n = {p['n_hidden']}, T = {p['T']}, "
        f"{p['n_samples']} samples, seed {p['seed']}"
    )
    table = (
        f"<table><tr><th style='text-align:left{_PAD}'>estimator</th>"
        f"<th style='text-align:right{_PAD}'>mean over t (right plot)</th>"
        f"<th style='text-align:right{_PAD}'>at t = T</th></tr>" + "".join(rows) + "</table>"
    )
    return f"<div class='okcore-readout'>{head}{table}</div>"


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: rounding noise below the floor is not drawn."""
    v = np.asarray(values, dtype=float)
    return np.where(v >= _FLOOR, v, np.nan)


def draw_curves(ax: Axes, result: Mapping[str, Any]) -> Axes:
    """Relative variance against t for each estimator, log scale."""
    p = result["params"]
    for name, curve in result["curves"].items():
        t = np.arange(1, len(curve) + 1)
        ax.plot(t, _positive(curve), color=color(name, p["rank"]), label=_label(name, p["rank"]))
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(r"$\mathbb{E}\,\|\tilde G_t - G_t\|^2 / \|G_t\|^2$")
    ax.set_title(f"relative variance $V_t$ over time ({p['cell_type']}, n = {p['n_hidden']})")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # hides no curve
    return ax


def draw_sweep(ax: Axes, result: Mapping[str, Any]) -> Axes:
    """Relative variance averaged over t against the rank (the readout's first column): KF-avg and OK per r, UORO
    and KF as horizontal lines."""
    p, sweep = result["params"], result["sweep"]
    if sweep is None:
        ax.text(0.5, 0.5, "rank sweep switched off", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    ranks = sweep["ranks"]
    for name in result["curves"]:
        values = sweep[name]
        if name in RANKED:
            ax.plot(ranks, _positive(values), "o-", color=color(name, p["rank"]), label=name)
        elif float(values) >= _FLOOR:
            ax.axhline(float(values), color=color(name), linestyle="--", label=f"{name} (rank one)")
    ax.axvline(p["rank"], color="0.5", linestyle=":", label=f"r = {p['rank']}")
    ax.set_yscale("log")
    ax.set_xticks(ranks)
    ax.set_xlabel("rank r (Kronecker terms)")
    ax.set_ylabel("relative variance, mean over t")
    ax.set_title("mean noise over t = 1..T against the rank")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax


def draw_size(ax: Axes, by_size: Mapping[str, np.ndarray]) -> Axes:
    """Relative variance against the hidden size n (the dict of :func:`okcore.explorer.noise_vs_size`), log-log."""
    sizes = by_size["sizes"]
    for name, values in by_size.items():
        if name != "sizes":
            ax.plot(sizes, _positive(values), "o-", color=color(name), label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())  # a narrow range would otherwise label every minor tick
    shown = np.concatenate([_positive(v) for k, v in by_size.items() if k != "sizes"])
    if np.any(np.isfinite(shown)):  # whole decades, so that at least two are labelled
        ax.set_ylim(10.0 ** np.floor(np.log10(np.nanmin(shown))), 10.0 ** np.ceil(np.log10(np.nanmax(shown))))
    ax.set_xlabel("hidden size n")
    ax.set_ylabel("relative variance (mean over t)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def draw_noise(result: Mapping[str, Any]) -> Figure:
    """Both plots side by side on a new figure (closed for pyplot: display it, or save it)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")
    draw_curves(left, result)
    draw_sweep(right, result)
    plt.close(fig)
    return fig


# --- the dashboard ----------------------------------------------------------------------------------------------


def _display_data(fig: Figure) -> dict[str, Any]:
    """``fig`` as the display_data output (a PNG, drawn as the inline backend draws it) an Output widget stores.

    The dashboard sets its Output widget's ``outputs`` to this rather than displaying the figure inside ``with
    output:``. Displaying inside the widget sends the figure through the cell's output messages, and the front end
    (or a headless executor such as nbclient, which mimics one) must catch them and send the widget's new state
    back to the kernel on the shell channel while the cell is still running; nbclient's send there can leave its
    wait for the cell's reply unwoken until that wait times out, so that a cell that moves a control stalled for
    the whole cell timeout (or forever without one). Set as state, the figure reaches every front end, the saved
    widget state and the static book the same way, and nothing is sent back.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": repr(fig)}, "metadata": {}}


class NoiseExplorer:
    """The dashboard. Attributes:

    widget: the ipywidgets container to display.
    controls: name -> control widget; names as in ``DEFAULTS`` (estimators, rank, n_hidden, cell_type, T,
        n_samples, seed, sweep). Setting ``controls[name].value`` recomputes at once (synchronously).
    result: the dict of :func:`compute_result` behind the current view.
    readout: HTML widget with the numbers; its value is ``format_readout(result)``.
    output: Output widget holding the plots.
    status, progress: a Label and an IntProgress showing what is being computed.
    last_seconds: wall time of the latest update.
    """

    def __init__(self, **defaults: Any) -> None:
        self.defaults = _check_params(defaults)
        d = self.defaults
        slider = {"continuous_update": False, "style": {"description_width": "80px"}}
        self.controls: dict[str, W.ValueWidget] = {
            "estimators": W.SelectMultiple(
                options=list(ESTIMATORS), value=d["estimators"], rows=len(ESTIMATORS), description="estimators"
            ),
            "rank": W.IntSlider(d["rank"], *RANGES["rank"], description="rank r", **slider),
            "n_hidden": W.IntSlider(d["n_hidden"], *RANGES["n_hidden"], description="hidden n", **slider),
            "cell_type": W.Dropdown(options=list(explorer.CELL_TYPES), value=d["cell_type"], description="cell"),
            "T": W.IntSlider(d["T"], *RANGES["T"], description="steps T", **slider),
            "n_samples": W.IntSlider(d["n_samples"], *RANGES["n_samples"], description="samples", **slider),
            "seed": W.BoundedIntText(
                d["seed"], min=RANGES["seed"][0], max=RANGES["seed"][1], description="seed", layout={"width": "180px"}
            ),
            "sweep": W.Checkbox(d["sweep"], description="rank sweep", indent=False),
        }
        for name in ("rank", "n_hidden", "T", "n_samples"):
            value, (low, high, _) = d[name], RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"{name}: expected a value in [{low}, {high}] for the dashboard, got {value}")
        self.status = W.Label("")
        self.status.add_class("okcore-status")
        self.progress = W.IntProgress(value=0, min=0, max=1, layout={"width": "160px"})
        self.readout = W.HTML("")
        self.output = W.Output()
        self.result: dict[str, Any] | None = None
        self.last_seconds = 0.0
        self._quiet = False
        c = self.controls
        left = W.VBox([c["rank"], c["n_hidden"], c["T"], c["n_samples"]])
        right = W.VBox([c["estimators"], c["cell_type"], W.HBox([c["seed"], c["sweep"]])])
        self.widget = W.VBox(
            [W.HBox([left, right]), W.HBox([self.progress, self.status]), self.readout, self.output],
            layout={"width": "100%"},
        )
        self.widget.add_class("okcore-noise-explorer")
        for control in c.values():
            control.observe(self._on_change, names="value")
        self.update()

    @property
    def params(self) -> dict[str, Any]:
        """The current values of the controls."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self.update()

    def _report(self, done: int, total: int, label: str) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done if total else 1
        self.status.value = f"computing {label} ({done + 1} of {total})…" if done < total else "drawing…"

    def update(self) -> None:
        """Recompute (what is not cached) and redraw for the current controls."""
        start = time.perf_counter()
        if not self.controls["estimators"].value:
            self.status.value = "choose at least one estimator"
            return
        try:
            self.result = compute_result(self.params, progress=self._report)
        except Exception as err:
            self.status.value = f"error: {err}"
            raise
        self.readout.value = format_readout(self.result)
        self.output.outputs = (_display_data(draw_noise(self.result)),)
        self.last_seconds = time.perf_counter() - start
        self.status.value = f"updated in {self.last_seconds:.2f} s"

    def set(self, **values: Any) -> None:
        """Set several controls at once with a single recomputation."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise TypeError(f"unknown control(s) {names}; expected some of {sorted(self.controls)}")
        self._quiet = True
        try:
            for name, value in values.items():
                self.controls[name].value = tuple(value) if name == "estimators" else value
        finally:
            self._quiet = False
        self.update()

    def reset(self) -> None:
        """Back to the values the dashboard was created with."""
        self.set(**self.defaults)


def noise_explorer(**defaults: Any) -> NoiseExplorer:
    """Build the noise explorer; keyword arguments override ``DEFAULTS`` (e.g. ``rank=4, n_hidden=32``)."""
    return NoiseExplorer(**defaults)
