"""Plotting helpers for the workbook.

Every function draws on the Axes it is given (``ax=...``) or, without one, on a new figure, and returns the
Axes; none calls ``plt.show()``. Data go in as plain arrays, so the computations stay in the tested modules and
these functions only draw. Sections follow the notebooks that use them first.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, NullLocator

__all__ = [
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
