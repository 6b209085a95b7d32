"""Plotting helpers for the workbook.

Every function draws on the Axes it is given (``ax=...``) or, without one, on a new figure, and returns the
Axes; none calls ``plt.show()``. Data go in as plain arrays, so the computations stay in the tested modules and
these functions only draw. Sections follow the notebooks that use them first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import Bbox

__all__ = [
    "METHODS",
    "method_style",
    "run_style",
    "label_style",
    "plot_ngram_baselines",
    "check_figure",
    "place_legend",
    "size_axis",
    "plot_method_vs_size",
    "plot_time_vs_count",
    "plot_states",
    "plot_truncation_bias",
    "plot_gradient_by_lag",
    "plot_scaling",
]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 3.6)) -> Axes:
    """The given Axes, or the Axes of a new figure."""
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


# --- the palette: one colour and label per method, everywhere ---------------------------------------------------
#
# Each family of methods has a hue; a rank r or a truncation τ picks a shade of it (darker = larger), so a figure
# that shows OK at r = 1, 2, 4, 8 reads as one family and each rank stays readable. The shades depend only on the
# method and its parameter, never on what else a figure shows, so OK r = 2 has one colour in every notebook.

METHODS = ("exact", "ok", "kf-avg", "kf", "uoro", "tbptt", "truncated-ok", "snap1", "rflo", "noisy-exact", "ngram")
"""Every method name the palette styles (``ngram``: the n-gram baselines, drawn as horizontal lines)."""

RANKED = ("ok", "kf-avg", "truncated-ok")
WINDOWS = ("block", "sliding")

# family -> (label, colormap or fixed colour, line style, marker)
_FAMILIES: dict[str, tuple[str, str, object, str]] = {
    "exact": ("exact RTRL", "#000000", "-", "o"),
    "ok": ("OK", "Blues", "-", "o"),
    "kf-avg": ("KF-avg", "Greens", "-", "s"),
    "kf": ("KF", "#ff7f0e", "-", "D"),
    "uoro": ("UORO", "#d62728", "-", "v"),
    "tbptt": ("TBPTT", "Purples", "-", "^"),
    "truncated-ok": ("truncated OK", "RdPu", "--", "P"),
    "snap1": ("SnAp-1", "#17becf", "--", "X"),
    "rflo": ("RFLO", "#bcbd22", "--", "*"),
    "noisy-exact": ("exact + noise", "Greys", "-.", "."),
    "ngram": ("n-gram", "#8c564b", "--", ""),
}
_NGRAM_NAMES = {1: "unigram", 2: "bigram", 3: "trigram"}
_NGRAM_DASHES: dict[int, object] = {1: "--", 2: ":", 3: "-.", 4: (0, (5, 1, 1, 1, 1, 1)), 5: (0, (8, 2))}


def _shade(cmap: str, position: float) -> str:
    """The colour at ``position`` in [0, 1] of a matplotlib colormap, as a hex string."""
    return to_hex(colormaps[cmap](float(np.clip(position, 0.0, 1.0))))


def _log_position(value: float, low: float, high: float, lo_shade: float, hi_shade: float) -> float:
    """Where ``value`` sits between ``low`` and ``high`` on a log scale, mapped to the shades lo_shade..hi_shade."""
    x = (np.log(value) - np.log(low)) / (np.log(high) - np.log(low))
    return lo_shade + (hi_shade - lo_shade) * float(np.clip(x, 0.0, 1.0))


def _positive_number(name: str, value: object, kind: type = int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected a positive {kind.__name__}, got {type(value).__name__} {value!r}")
    if not value > 0 or (kind is int and float(value) != int(value)):
        raise ValueError(f"{name}: expected a positive {kind.__name__}, got {value!r}")
    return float(value)


def method_style(
    method: str,
    rank: int | None = None,
    truncation: int | None = None,
    window: str = "block",
    noise: float | None = None,
    order: int | None = None,
    markers: bool = False,
) -> dict:
    """Colour, label and line style of one method, for ``ax.plot(x, y, **method_style(...))``.

    ``method``: one of :data:`METHODS`. ``rank`` (ok, kf-avg, truncated-ok) and ``truncation`` τ (tbptt) pick a
    shade of the family's hue, darker for larger; ``window`` ("block": non-overlapping windows, solid; "sliding":
    a window that slides every step, dotted) is for tbptt; ``noise`` is the relative variance of noisy-exact
    (lighter grey = noisier); ``order`` is the n-gram order (1–5). ``markers=True`` adds the family's marker, for
    plots with few points. Returns a dict with ``color``, ``label``, ``linestyle`` (and ``marker``).
    """
    if not isinstance(method, str) or method not in _FAMILIES:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    name, colour, linestyle, marker = _FAMILIES[method]
    label = name
    if method in RANKED:
        if rank is None:
            position = 0.75
        else:
            r = _positive_number("rank", rank)
            position = _log_position(r, 1, 16, 0.45, 0.85 if method == "truncated-ok" else 0.98)
            label += f" r={int(r)}"
        colour = _shade(colour, position)
    elif method == "tbptt":
        if window not in WINDOWS:
            raise ValueError(f"window: expected 'block' or 'sliding', got {window!r}")
        if truncation is None:
            position = 0.75
        else:
            tau = _positive_number("truncation", truncation)
            position = _log_position(tau, 4, 100, 0.5, 0.98)
            label += f" τ={int(tau)}"
        colour = _shade(colour, position)
        if window == "sliding":
            label += " sliding"
            linestyle = ":"
    elif method == "noisy-exact":
        if noise is None:
            position = 0.6
        else:
            v = _positive_number("noise", noise, float)
            position = 1.25 - _log_position(v, 1e-3, 1e2, 0.35, 0.9)
            label += f" V={v:g}"
        colour = _shade(colour, position)
    elif method == "ngram":
        if order is None:
            raise ValueError("order: expected the n-gram order (1 to 5) for method 'ngram', got None")
        k = int(_positive_number("order", order))
        if k not in _NGRAM_DASHES:
            raise ValueError(f"order: expected an n-gram order from 1 to 5, got {order!r}")
        label = _NGRAM_NAMES.get(k, f"{k}-gram")
        linestyle = _NGRAM_DASHES[k]
    style = {"color": colour, "label": label, "linestyle": linestyle}
    if markers and marker:
        style["marker"] = marker
    return style


_LABEL = re.compile(
    r"^(?P<name>exact RTRL|UORO|KF-RTRL|KF-avg|KF|OK|truncated OK|SnAp-1|RFLO|TBPTT)"
    r"(?:\s*\(?r\s*=\s*(?P<rank>\d+)\)?)?(?:\s*\(?τ\s*=\s*(?P<tau>\d+)\)?)?(?P<sliding> sliding)?$"
)
_BY_NAME = {name: method for method, (name, *_) in _FAMILIES.items()} | {"KF-RTRL": "kf"}


def label_style(label: str, markers: bool = False) -> dict | None:
    """:func:`method_style` of a method named as the workbook labels it ("OK r=2", "KF-avg (r = 4)", "KF-RTRL",
    "TBPTT τ=16 sliding"), keeping ``label`` as the label; None if ``label`` names no method (e.g. "balanced")."""
    match = _LABEL.match(label.strip()) if isinstance(label, str) else None
    if match is None:
        return None
    method = _BY_NAME[match["name"]]
    rank = int(match["rank"]) if match["rank"] and method in RANKED else None
    truncation = int(match["tau"]) if match["tau"] and method == "tbptt" else None
    window = "sliding" if match["sliding"] and method == "tbptt" else "block"
    style = method_style(method, rank=rank, truncation=truncation, window=window, markers=markers)
    style["label"] = label
    return style


def run_style(config: dict, markers: bool = False) -> dict:
    """:func:`method_style` of a run's config dict (a RUN.json ``config``: ``method``, and ``rank``,
    ``truncation``, ``window``, ``rel_var`` where the method has them)."""
    if not isinstance(config, dict) or "method" not in config:
        raise ValueError(f"config: expected a run config dict with a 'method' entry, got {config!r}")
    noise = config.get("rel_var", config.get("noise"))
    return method_style(
        config["method"],
        rank=config.get("rank"),
        truncation=config.get("truncation"),
        window=config.get("window") or "block",
        noise=noise,
        markers=markers,
    )


def plot_ngram_baselines(ax: Axes, bits: dict[int, float], unit: str = "") -> Axes:
    """Horizontal reference lines at the n-gram baselines ``bits`` ({order: value}), labelled with their value."""
    for order_, value in sorted(bits.items()):
        style = method_style("ngram", order=order_)
        style["label"] = f"{style['label']} {value:.2f}{unit}"
        ax.axhline(value, lw=1, **style)
    return ax


# --- notebook 01: RNNs and BPTT --------------------------------------------------------------------------------


def plot_states(hs: np.ndarray, ax: Axes | None = None, title: str | None = None, colorbar: bool = True) -> Axes:
    """Hidden states h_t of one sequence, (T, n), as an image: time across, units down, colour = value in [−1, 1]."""
    hs = np.asarray(hs)
    if hs.ndim != 2:
        raise ValueError(f"hs: expected shape (T, n), got shape {hs.shape}")
    ax = _axes(ax)
    T, n = hs.shape
    # pixel centres at t = 1..T and at units 0..n-1 (top to bottom)
    extent = (0.5, T + 0.5, n - 0.5, -0.5)
    image = ax.imshow(hs.T, aspect="auto", cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest", extent=extent)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step t")
    ax.set_ylabel("hidden unit")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="$h_t$")
    return ax


def plot_truncation_bias(
    truncations: Sequence[int] | np.ndarray,
    errors: Sequence[float] | np.ndarray,
    delay: int | None = None,
    ax: Axes | None = None,
    floor: float = 1e-12,
) -> Axes:
    """Relative gradient error of truncated BPTT against the truncation length, on a log scale.

    ``delay`` (optional) shades the truncations τ <= delay, which cannot reach the task's dependency. Errors
    below ``floor`` (rounding-level, e.g. τ >= T) are drawn as triangles at the bottom of the plot.
    """
    ax = _axes(ax)
    taus = np.asarray(truncations)
    errors = np.asarray(errors, dtype=float)
    shown = errors >= floor
    ax.semilogy(taus[shown], errors[shown], "o-", ms=3, label=r"$\|g_\tau - g\| / \|g\|$")
    if not shown.all():
        bottom = errors[shown].min() / 4 if shown.any() else floor
        ax.semilogy(taus[~shown], np.full((~shown).sum(), bottom), "v", color="tab:green", label=f"below {floor:g}")
    if delay is not None:
        ax.axvspan(0.5, delay + 0.5, color="tab:red", alpha=0.12, label=rf"$\tau \leq$ delay = {delay}")
    ax.set_xlabel(r"truncation $\tau$ (steps each $L_t$ is backpropagated)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("relative error of the gradient")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax


def plot_gradient_by_lag(
    norms: Sequence[float] | np.ndarray,
    delay: int | None = None,
    ax: Axes | None = None,
    label: str | None = None,
) -> Axes:
    """Norm of each lag's share g_ℓ of the gradient against the lag ℓ; ``delay`` marks the task's dependency."""
    ax = _axes(ax)
    norms = np.asarray(norms, dtype=float)
    ax.plot(np.arange(norms.size), norms, "o-", ms=3, label=label)
    if delay is not None:
        ax.axvline(delay, color="tab:red", ls="--", lw=1, label=f"lag = delay = {delay}")
    ax.set_xlabel(r"lag $\ell$ (transitions the gradient flows back through)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(r"$\|g_\ell\|$")
    ax.grid(True, alpha=0.3)
    if label is not None or delay is not None:
        ax.legend()
    return ax


# --- notebook 02: the influence matrix -------------------------------------------------------------------------


def plot_scaling(
    ns: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    slopes: Sequence[float] = (),
    ax: Axes | None = None,
    label: str | None = None,
    ylabel: str = "",
    style: str = "o-",
) -> Axes:
    """``values`` against ``ns`` on log-log axes, with grey reference lines ∝ n^p for each p in ``slopes``.

    The reference lines pass through the last point, so a curve that runs parallel to one grows at that rate.
    The x ticks are the sizes in ``ns``.
    """
    ax = _axes(ax)
    ns = np.asarray(ns, dtype=float)
    values = np.asarray(values, dtype=float)
    ax.loglog(ns, values, style, ms=4, label=label)
    for p, dashes in zip(slopes, ("--", ":", "-.", (0, (5, 1, 1, 1))), strict=False):
        reference = values[-1] * (ns / ns[-1]) ** p
        ax.loglog(ns, reference, ls=dashes, lw=1.2, color="gray", label=rf"$\propto n^{{{p:g}}}$")
    ax.set_xticks(ns)
    ax.set_xticklabels([f"{n:g}" for n in ns])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("hidden units n")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if label is not None or len(slopes):
        ax.legend()
    return ax


# --- notebook 12: costs against the hidden size ---------------------------------------------------------------


def size_axis(ax: Axes, ns: Sequence[int] | np.ndarray, label: str = "hidden units n") -> Axes:
    """A log-scaled x axis with one labelled tick per size in ``ns`` and no minor ticks.

    A log axis that spans less than a decade or two labels its minor ticks too (2×10¹, 3×10¹, …); next to custom
    ticks at the sizes those labels collide ("3×10¹32"). Removing the minor ticks is what keeps them apart.
    """
    ns = np.asarray(ns, dtype=float)
    ax.set_xscale("log")
    ax.set_xticks(ns, [f"{n:g}" for n in ns])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(label)
    return ax


def plot_method_vs_size(
    ns: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    method: str,
    rank: int | None = None,
    *,
    spread: tuple[Sequence[float], Sequence[float]] | None = None,
    ax: Axes | None = None,
    label: str | None = None,
    logy: bool = True,
    **style: object,
) -> Axes:
    """One method's values against the hidden size, in its palette colour, with markers.

    ``spread``: (low, high) arrays drawn as error bars (e.g. the quartiles of repeated timings). ``label``
    replaces the palette's label; other keyword arguments override the style (e.g. ``linestyle="--"``).
    """
    ax = _axes(ax)
    ns = np.asarray(ns, dtype=float)
    values = np.asarray(values, dtype=float)
    kw = method_style(method, rank=rank, markers=True)
    kw.update(ms=4)
    if label is not None:
        kw["label"] = label
    kw.update(style)
    ax.plot(ns, values, **kw)
    if spread is not None:
        low, high = (np.asarray(a, dtype=float) for a in spread)
        ax.errorbar(ns, values, yerr=[values - low, high - values], fmt="none", capsize=2, color=kw["color"], lw=1)
    if logy:
        ax.set_yscale("log")
    size_axis(ax, ns)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_time_vs_count(
    ns: Sequence[int] | np.ndarray,
    seconds: Sequence[float] | np.ndarray,
    flops: Sequence[float] | np.ndarray,
    method: str,
    rank: int | None = None,
    *,
    spread: tuple[Sequence[float], Sequence[float]] | None = None,
    slope: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Measured time per update (drawn in µs) against n, with the flop count scaled to meet it at the largest n.

    ``seconds`` and ``spread`` (low, high) are in seconds; they are converted to µs here, and the flop count is
    scaled after that conversion, so both curves are in the axis's unit and meet at the right edge. ``slope`` adds
    a grey reference line ∝ n^slope through the same point.
    """
    ax = _axes(ax)
    ns = np.asarray(ns, dtype=float)
    us = 1e6 * np.asarray(seconds, dtype=float)
    flops = np.asarray(flops, dtype=float)
    scaled = flops * us[-1] / flops[-1]
    ax.plot(ns, scaled, "s:", ms=4, color="gray", label=f"flop count, scaled to meet at n = {ns[-1]:g}")
    if slope is not None:
        ax.plot(ns, us[-1] * (ns / ns[-1]) ** slope, "--", lw=1, color="0.6", label=rf"$\propto n^{{{slope:g}}}$")
    us_spread = None if spread is None else tuple(1e6 * np.asarray(a, dtype=float) for a in spread)
    plot_method_vs_size(ns, us, method, rank, spread=us_spread, ax=ax, label="measured (median, quartiles)")
    ax.set_ylabel("µs per update")
    ax.set_title(method_style(method, rank=rank)["label"])
    return ax


# --- checking a drawn figure --------------------------------------------------------------------------------------
#
# What a reader trips over and a test can see: tick labels printed over each other ("3×10¹32"), a legend box
# drawn on top of the curves it explains, and data outside the axes' limits (a curve that leaves the plot).


def _plain(text: str) -> str:
    """A tick label's mathtext as a reader sees it: "$\\mathdefault{3\\times10^{1}}$" -> "3×10^1"."""
    for old, new in (("\\mathdefault", ""), ("\\times", "×"), ("\\minus", "−"), ("$", ""), ("{", ""), ("}", "")):
        text = text.replace(old, new)
    return text


def _name(ax: Axes, i: int) -> str:
    title = ax.get_title() or ax.get_ylabel() or ax.get_label()
    return f"axes {i}" + (f" ({title!r})" if title and not title.startswith("<") else "")


def _in_view(ax: Axes, axis: object, loc: float) -> bool:
    """Whether a tick at ``loc`` (data units of ``axis``) lies inside the Axes, in display pixels."""
    with np.errstate(all="ignore"):
        if axis is ax.xaxis:
            pos, (lo, hi) = ax.get_xaxis_transform().transform((loc, 0.0))[0], sorted(ax.bbox.intervalx)
        else:
            pos, (lo, hi) = ax.get_yaxis_transform().transform((0.0, loc))[1], sorted(ax.bbox.intervaly)
    return bool(np.isfinite(pos) and lo - 0.5 <= pos <= hi + 0.5)


def _tick_labels(ax: Axes, renderer: object) -> list[tuple[str, np.ndarray]]:
    """(text, corners of its box) of every tick label the Axes draws, major and minor, on both axes."""
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        if not axis.get_visible():
            continue
        major = axis.get_major_ticks()
        major_locs = np.array([t.get_loc() for t in major], dtype=float)
        for minor, ticks in ((False, major), (True, axis.get_minor_ticks())):
            for tick in ticks:
                loc = tick.get_loc()
                if loc is None or not tick.get_visible() or not _in_view(ax, axis, loc):
                    continue
                if minor and axis.remove_overlapping_locs and np.any(np.isclose(major_locs, loc, rtol=1e-10)):
                    continue  # matplotlib does not draw a minor tick where a major one is
                for label in (tick.label1, tick.label2):
                    if label.get_visible() and label.get_text().strip():
                        out.append((label.get_text(), _text_shape(label, renderer)))
    return out


def _text_shape(text: object, renderer: object) -> np.ndarray:
    """The four corners (4, 2) in display pixels of the box a text's glyphs occupy, rotated with the text (a
    rotated tick label's axis-aligned extent is much larger than what it covers)."""
    box = text.get_window_extent(renderer)
    angle = np.deg2rad(text.get_rotation() % 360.0)
    if np.isclose(np.sin(2 * angle), 0.0):  # 0, 90, 180, 270 degrees: the extent is the box
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    rotation = text.get_rotation()
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(rotation)
    u, v = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    corners = np.array([0 * u, flat.width * u, flat.width * u + flat.height * v, flat.height * v])
    return corners - corners.min(axis=0) + [box.x0, box.y0]  # the rotated box, inscribed in the extent


def _shapes_overlap(a: np.ndarray, b: np.ndarray, pad: float = 0.5) -> bool:
    """Whether two convex polygons (corners in order) overlap by more than ``pad`` pixels (separating axes)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for nx, ny in np.stack([-edges[:, 1], edges[:, 0]], axis=1):
            norm = np.hypot(nx, ny)
            if norm == 0:
                continue
            axis = np.array([nx, ny]) / norm
            pa, pb = a @ axis, b @ axis
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= pad:
                return False
    return True


def _overlap(a: object, b: object, pad: float = 0.5) -> bool:
    """Whether two display boxes overlap by more than ``pad`` pixels each way."""
    return a.x0 + pad < b.x1 and b.x0 + pad < a.x1 and a.y0 + pad < b.y1 and b.y0 + pad < a.y1


def _data_points(ax: Axes) -> list[tuple[str, np.ndarray, bool]]:
    """(name, display points (P, 2), joined) of what the Axes plots in data coordinates: lines (joined when drawn
    with a line style; long segments are sampled every 2 pixels so that a line passing under a box is seen),
    scatter points and bar corners. Lines that span the Axes (axhline, axvline) are left out."""
    out = []
    for line in ax.get_lines():
        if not line.get_visible() or line.get_transform() != ax.transData:
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        with np.errstate(all="ignore"):
            pts = line.get_transform().transform(xy) if len(xy) else np.empty((0, 2))
        joined = line.get_linestyle() not in ("None", "none", "", " ")
        out.append((line.get_label(), pts, joined))
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        if coll.get_visible() and len(offsets) and coll.get_offset_transform() == ax.transData:
            out.append((coll.get_label(), coll.get_offset_transform().transform(offsets), False))
    for label, _box, end in _bars(ax):
        out.append((label, np.array([end]), False))
    return out


def _bars(ax: Axes) -> list[tuple[str, object, tuple[float, float]]]:
    """(label, display box clipped to the Axes, display point of the value end) of each bar (a Rectangle in data
    coordinates, as ``ax.bar`` and ``ax.barh`` draw them); the end is the side away from a zero baseline."""
    out = []
    for patch in ax.patches:
        if not (patch.get_visible() and isinstance(patch, Rectangle) and patch.get_data_transform() == ax.transData):
            continue
        (x0, y0), (x1, y1) = patch.get_bbox().get_points()
        if x0 == 0 or x1 == 0:  # horizontal bar: the value is at the x end away from 0
            end = (x1 if x0 == 0 else x0, (y0 + y1) / 2)
        else:
            end = ((x0 + x1) / 2, y1 if y0 == 0 else y0)
        with np.errstate(all="ignore"):
            corners = ax.transData.transform([(x0, y0), (x1, y1)])
            end_px = ax.transData.transform([end])[0]
        corners = np.where(np.isfinite(corners), corners, np.array([ax.bbox.x0, ax.bbox.y0]))
        box = Bbox(np.sort(corners, axis=0))
        box = Bbox.intersection(box, ax.bbox) or Bbox.null()
        out.append((patch.get_label(), box, tuple(end_px)))
    return out


def _segments_hit(pts: np.ndarray, box: object, joined: bool) -> bool:
    """Whether any point, or (``joined``) any point of a segment between finite neighbours, lies in ``box``."""
    good = np.isfinite(pts).all(axis=1)

    def inside(p: np.ndarray) -> bool:
        return bool(np.any((p[:, 0] > box.x0) & (p[:, 0] < box.x1) & (p[:, 1] > box.y0) & (p[:, 1] < box.y1)))

    if inside(pts[good]):
        return True
    if not joined or len(pts) < 2:
        return False
    a, b = pts[:-1], pts[1:]
    ok = good[:-1] & good[1:]
    a, b = a[ok], b[ok]
    if not len(a):
        return False
    steps = int(min(200, max(2, np.ceil(np.max(np.hypot(*(b - a).T)) / 2.0))))
    s = np.linspace(0.0, 1.0, steps)[:, None, None]
    return inside((a[None] + s * (b - a)[None]).reshape(-1, 2))


def check_figure(fig: object, ticks: bool = True, legends: bool = True, clipping: bool = True) -> list[str]:
    """Problems a reader would see in a drawn figure, as sentences; an empty list when there are none.

    - ``ticks``: tick labels, axis labels and titles that overlap each other anywhere in the figure (e.g. a minor
      tick label printed over a custom tick: "3×10¹32");
    - ``legends``: a legend box that covers plotted data (line points and the segments between them, scatter
      points, bars) of its own Axes (a figure legend: of any Axes). Lines spanning the Axes (axhline, axvline)
      do not count;
    - ``clipping``: data points outside the Axes' limits, so that part of a curve is not drawn.

    The figure is drawn first (``fig.canvas.draw()``), so call it after the last change to the figure.
    """
    if not hasattr(fig.canvas, "get_renderer"):  # e.g. a figure closed for pyplot: draw it with Agg
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    if ticks:
        texts: list[tuple[str, str, np.ndarray]] = []
        for i, ax in enumerate(axes):
            for text, box in _tick_labels(ax, renderer):
                texts.append((_name(ax, i), f"tick label {_plain(text)!r}", box))
            for what, artist in (("x label", ax.xaxis.label), ("y label", ax.yaxis.label), ("title", ax.title)):
                if artist.get_visible() and artist.get_text().strip():
                    texts.append((_name(ax, i), f"{what} {artist.get_text()!r}", _text_shape(artist, renderer)))
        suptitle = getattr(fig, "_suptitle", None)
        if suptitle is not None and suptitle.get_visible() and suptitle.get_text().strip():
            texts.append(("figure", f"title {suptitle.get_text()!r}", _text_shape(suptitle, renderer)))
        for j, (where1, what1, box1) in enumerate(texts):
            for where2, what2, box2 in texts[j + 1 :]:
                if _shapes_overlap(box1, box2, pad=2.0):  # text boxes include the descent: 1-2 px is not ink
                    place = where1 if where1 == where2 else f"{where1} and {where2}"
                    problems.append(f"{place}: {what1} overlaps {what2}")
    if legends:
        for i, ax in enumerate(axes):
            if ax.get_legend() is not None:
                problems += _legend_problems(ax.get_legend(), _name(ax, i), [ax], renderer)
        for legend in fig.legends:
            problems += _legend_problems(legend, "figure legend", axes, renderer)
    if clipping:
        for i, ax in enumerate(axes):
            box = ax.bbox
            for label, pts, _ in _data_points(ax):
                good = pts[np.isfinite(pts).all(axis=1)]
                out = (
                    (good[:, 0] < box.x0 - 1)
                    | (good[:, 0] > box.x1 + 1)
                    | (good[:, 1] < box.y0 - 1)
                    | (good[:, 1] > box.y1 + 1)
                )
                if np.any(out):
                    problems.append(
                        f"{_name(ax, i)}: {int(out.sum())} point(s) of {label!r} lie outside the axes' limits"
                    )
    return problems


_LEGEND_PLACES = (
    "upper left",
    "upper right",
    "lower right",
    "lower left",
    "center left",
    "center right",
    "lower center",
    "upper center",
)


def place_legend(ax: Axes, **kwargs: object) -> object:
    """A legend inside the Axes where it covers no data (the first free corner or side), else outside on the
    right; returns it. Keyword arguments go to ``ax.legend`` (e.g. ``fontsize=8``, ``ncol=2``).

    Call it after the data and the layout are final: it draws the figure to measure where the data lie.
    """
    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # once, to settle the limits and the layout; each candidate is then measured, not drawn
    renderer = fig.canvas.get_renderer()
    references = _reference_boxes(ax, renderer)
    # first a place that also leaves the reference lines and bands free, then one that only leaves the data free
    for free_of_references in (True, False):
        for loc in _LEGEND_PLACES:
            legend = ax.legend(loc=loc, **kwargs)
            if _legend_problems(legend, "", [ax], renderer):
                continue
            frame = legend.get_window_extent(renderer)
            if free_of_references and any(_overlap(ref, frame, pad=0.0) for ref in references):
                continue
            return legend
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def _reference_boxes(ax: Axes, renderer: object) -> list[Bbox]:
    """Display boxes of what spans the Axes as a reference (axhline, axvline, axhspan, axvspan): lines and patches
    not drawn in data coordinates. A legend may cover them, but a free place is better."""
    boxes = []
    for artist in [*ax.get_lines(), *ax.patches]:
        if artist.get_visible() and artist.get_transform() != ax.transData:
            box = Bbox.intersection(artist.get_window_extent(renderer), ax.bbox)
            if box is not None:
                boxes.append(box)
    return boxes


def _legend_problems(legend: object, where: str, owners: list[Axes], renderer: object) -> list[str]:
    """The data of ``owners`` that ``legend`` covers (its box less one pixel of frame each side)."""
    if not legend.get_visible():
        return []
    frame = legend.get_window_extent(renderer)
    box = Bbox.from_extents(frame.x0 + 1, frame.y0 + 1, frame.x1 - 1, frame.y1 - 1)
    found = []
    for ax in owners:
        for label, pts, joined in _data_points(ax):
            if _segments_hit(pts, box, joined):
                found.append(f"{where}: the legend covers data of {label!r}")
        for label, bar, _ in _bars(ax):
            if bar.width > 0 and bar.height > 0 and _overlap(bar, box, pad=0.0):
                found.append(f"{where}: the legend covers the bar {label!r}")
    return found
