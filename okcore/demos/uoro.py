"""UORO, taken apart (notebook 04): the random-sign trick, exact averages over all signs, the variance of one step.

UORO keeps a rank-one estimate G̃ = s̃ θ̃ᵀ, G̃[a, p, q] = s̃[a] θ̃[p, q] (s̃ of length n, θ̃ of shape (K, k)),
and updates it with a vector ν ∈ {±1}^n of independent fair signs:

    s̃' = ρ0 H s̃ + ρ1 ν,        θ̃' = θ̃ / ρ0 + (νᵀF) / ρ1,     (νᵀF)[p, q] = Σ_a ν[a] F[a, p, q].

Only the ratio ρ = ρ0/ρ1 changes the product, which is

    s̃'θ̃'ᵀ = (H s̃) θ̃ᵀ + ν (νᵀF) + ρ (H s̃)(νᵀF) + ρ⁻¹ ν θ̃ᵀ,

and E[ννᵀ] = I makes its mean H G̃ + F. With a tiny n every sign vector can be enumerated, which turns
"unbiased" and "variance" into exact finite averages. The functions below work on one sequence (no batch axis)
unless they say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullLocator

from okcore._checks import check_array, check_positive_float, check_positive_int, check_rng
from okcore.approx.uoro import UORO
from okcore.cells import Step, _Cell
from okcore.demos.kronecker import immediate_influence, random_network
from okcore.noise import broadcast_step, measure_noise
from okcore.plotting import label_style
from okcore.signs import ReplaySigns

__all__ = [
    "all_signs",
    "sign_second_moment",
    "uoro_state_before",
    "enumerate_uoro_update",
    "uoro_target",
    "uoro_rho",
    "uoro_step_variance",
    "enumerated_step_variance",
    "minimise_scalar",
    "noise_vs_size",
    "loglog_slope",
    "plot_noise_over_time",
    "plot_noise_vs_size",
]

_MAX_ENUMERATE = 16  # 2**16 sign vectors


def all_signs(n: int) -> np.ndarray:
    """Every vector of {±1}^n, one per row: (2^n, n), float64. Row j holds the binary digits of j as signs."""
    n = check_positive_int("n", n)
    if n > _MAX_ENUMERATE:
        raise ValueError(f"n: expected at most {_MAX_ENUMERATE} (2^n sign vectors are listed), got {n}")
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    return 2.0 * bits - 1.0


def sign_second_moment(n: int) -> np.ndarray:
    """E[ν νᵀ] over all 2^n equally likely sign vectors, computed exactly by enumeration: (n, n)."""
    nu = all_signs(n)
    return nu.T @ nu / nu.shape[0]


def _run_uoro(cell: _Cell, xs: np.ndarray, rng: np.random.Generator, balance: bool) -> tuple[UORO, np.ndarray]:
    est = UORO(cell, batch=1, rng=rng, balance=balance)
    h = np.zeros(cell.n_hidden)
    for x in xs:
        step = cell.step(x, h)
        est.update(step)
        h = step.h
    return est, h


def uoro_state_before(
    cell: _Cell, xs: object, t: int, rng: np.random.Generator, balance: bool = True
) -> tuple[np.ndarray, np.ndarray, Step]:
    """Run UORO (one sequence) over xs[:t] and return (s̃ (n,), θ̃ (K, k), the unbatched step of xs[t]).

    The state is a genuine UORO state, produced by random signs from ``rng``; the step is the next one of the
    same trajectory, so the pair is what UORO's (t+1)-th update sees.
    """
    xs = check_array("xs", xs, (None, cell.n_in))
    t = check_positive_int("t", t)
    if t >= xs.shape[0]:
        raise ValueError(f"t: expected t < len(xs) = {xs.shape[0]}, got {t}")
    rng = check_rng("rng", rng)
    est, h = _run_uoro(cell, xs[:t], rng, balance)
    return est.s[0].copy(), est.theta[0].copy(), cell.step(xs[t], h)


def enumerate_uoro_update(
    cell: _Cell, s: object, theta: object, step: Step, balance: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Apply UORO's update to the state (s̃, θ̃) once for every ν ∈ {±1}^n.

    Uses :class:`okcore.approx.UORO` itself, with a batch of 2^n identical rows and the signs handed out by
    :class:`okcore.signs.ReplaySigns`. Returns (the 2^n estimates s̃'θ̃'ᵀ, (2^n, n, K, k); the signs, (2^n, n)).
    Their plain mean is the exact expectation over the signs.
    """
    n = cell.n_hidden
    s = check_array("s", s, (n,))
    theta = check_array("theta", theta, (cell.K, cell.k))
    nu = all_signs(n)
    N = nu.shape[0]
    est = UORO(cell, batch=N, rng=ReplaySigns([nu]), balance=balance)
    est.s = np.tile(s, (N, 1))
    est.theta = np.tile(theta, (N, 1, 1))
    est.update(broadcast_step(step, N))
    return est.influence(), nu


def uoro_target(s: object, theta: object, step: Step) -> np.ndarray:
    """What one step should give on average: (H s̃) θ̃ᵀ + F, (n, K, k)."""
    Hs = step.H @ np.asarray(s, dtype=np.float64)
    return Hs[:, None, None] * np.asarray(theta, dtype=np.float64)[None] + immediate_influence(step)


def uoro_rho(s: object, theta: object, step: Step) -> float:
    """UORO's ratio ρ = ρ0/ρ1 for this state and step (without the ε guard).

    ρ0² = ‖θ̃‖/‖H s̃‖ and ρ1² = ‖νᵀF‖/√n. For the cells here ‖νᵀF‖ = ‖F‖ for every ν (each column of D has one
    non-zero entry), so ρ does not depend on the signs.
    """
    Hs = step.H @ np.asarray(s, dtype=np.float64)
    norm_F = np.linalg.norm(step.xhat) * np.linalg.norm(step.d)
    n = step.n_hidden
    return float(np.sqrt(np.linalg.norm(theta) / np.linalg.norm(Hs)) / np.sqrt(norm_F / np.sqrt(n)))


def uoro_step_variance(s: object, theta: object, step: Step, rho: object) -> np.ndarray:
    """E‖s̃'θ̃'ᵀ − ((H s̃) θ̃ᵀ + F)‖²_F over the signs, for the ratio ρ = ρ0/ρ1, in closed form:

        ρ² ‖H s̃‖² ‖F‖² + ρ⁻² n ‖θ̃‖² + 2 ⟨(H s̃) θ̃ᵀ, F⟩ + (n − 1) ‖F‖².

    ``rho`` may be an array; the result has its shape.
    """
    s = np.asarray(s, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    n = s.shape[0]
    Hs = step.H @ s
    F = immediate_influence(step)
    sq_F = np.sum(F * F)
    cross = np.einsum("a,pq,apq->", Hs, theta, F)
    return rho**2 * (Hs @ Hs) * sq_F + n * np.sum(theta * theta) / rho**2 + 2.0 * cross + (n - 1) * sq_F


def enumerated_step_variance(s: object, theta: object, step: Step, rho: float) -> float:
    """The same expectation as :func:`uoro_step_variance`, by averaging over all 2^n sign vectors directly."""
    s = np.asarray(s, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    rho = check_positive_float("rho", rho)
    nu = all_signs(s.shape[0])
    F = immediate_influence(step)
    Hs = step.H @ s
    target = Hs[:, None, None] * theta[None] + F
    s_new = rho * Hs[None] + nu  # (N, n)
    theta_new = theta[None] / rho + np.einsum("ja,apq->jpq", nu, F)  # (N, K, k)
    err = s_new[:, :, None, None] * theta_new[:, None] - target[None]
    return float(np.mean(np.sum(err**2, axis=(1, 2, 3))))


def minimise_scalar(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-10) -> tuple[float, float]:
    """Golden-section search for the minimum of a unimodal f on [lo, hi]: returns (argmin, min).

    Stops when the bracket is shorter than ``tol``; about 1.44 log2((hi − lo)/tol) evaluations.
    """
    if not hi > lo:
        raise ValueError(f"lo, hi: expected lo < hi, got {lo}, {hi}")
    g = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = float(lo), float(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    x = (a + b) / 2.0
    return x, float(f(x))


def noise_vs_size(
    sizes: Sequence[int],
    estimators: Mapping[str, Any],
    T: int,
    n_samples: int,
    seed: int,
    burn_in: int = 10,
    scale: float | None = None,
) -> dict[str, np.ndarray]:
    """Relative variance of each estimator against the hidden size, averaged over t > burn_in.

    For each n: the gated network and input sequence ``random_network(n, T, seed, scale=scale)``, the signs from
    ``np.random.default_rng([seed, n])``, then :func:`okcore.noise.measure_noise` with ``n_samples`` runs.
    ``estimators`` is as in ``measure_noise`` (name -> class or (class, kwargs)). Returns name -> (len(sizes),).
    """
    T = check_positive_int("T", T)
    if not 0 <= burn_in < T:
        raise ValueError(f"burn_in: expected 0 <= burn_in < T = {T}, got {burn_in}")
    out = {name: np.empty(len(sizes)) for name in estimators}
    for i, n in enumerate(sizes):
        cell, xs = random_network(n, T, seed, scale=scale)
        res = measure_noise(cell, xs, estimators, n_samples, np.random.default_rng([seed, n]))
        for name in estimators:
            out[name][i] = res.relative_variance[name][burn_in:].mean()
    return out


def loglog_slope(x: object, y: object) -> float:
    """Least-squares slope of log y against log x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"x, y: expected two 1-D arrays of the same length >= 2, got shapes {x.shape}, {y.shape}")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def plot_noise_over_time(curves: Mapping[str, object], ax: Axes | None = None, logy: bool = True) -> Axes:
    """Relative variance E‖G̃_t − G_t‖²/‖G_t‖² against t, one line per name."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, v in curves.items():
        v = np.asarray(v, dtype=np.float64)
        t = np.arange(1, v.size + 1)
        (ax.semilogy if logy else ax.plot)(t, v, **(label_style(name) or {"label": name}))
    ax.set_xlabel("time step t")
    ax.set_ylabel("relative variance")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_noise_vs_size(
    sizes: Sequence[int],
    values: Mapping[str, object],
    ax: Axes | None = None,
    reference: bool = True,
    ylabel: str = "relative variance",
    loglog: bool = True,
) -> Axes:
    """Relative variance against n, one line per name; ``reference`` adds a dashed line ∝ n.

    Log-log axes by default; ``loglog=False`` draws linear axes (for a statement about linear growth).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    ns = np.asarray(sizes, dtype=np.float64)
    draw = ax.loglog if loglog else ax.plot
    for name, v in values.items():
        style = {"linestyle": "-", **(label_style(name) or {"label": name})}
        draw(ns, np.asarray(v, dtype=np.float64), marker="o", ms=4, **style)
    if reference:
        first = np.asarray(next(iter(values.values())), dtype=np.float64)
        draw(ns, first[-1] * ns / ns[-1], "--", color="gray", lw=1, label="∝ n")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ns)
    ax.set_xticklabels([str(int(n)) for n in ns])
    ax.set_xlabel("hidden units n")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
