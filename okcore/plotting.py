"""Plotting helpers for the workbook.

Every function draws on the Axes it is given (``ax=...``) or, without one, on a new figure, and returns the
Axes; none calls ``plt.show()``. Data go in as plain arrays, so the computations stay in the tested modules and
these functions only draw. Sections follow the notebooks that use them first.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.ticker import MaxNLocator, NullLocator

__all__ = [
    "METHODS",
    "method_style",
    "run_style",
    "plot_ngram_baselines",
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
