"""Exercises of notebook 13 (bias and noise).

13.1 SnAp-1's update, written by the reader (checked against :class:`okcore.SnAp1` on fresh random gated and tanh
cells, with diagnoses of the usual slips); 13.2 a prediction: the relative variance at which learning on the copy
task falls to half of exact RTRL's level (checked against the cached dose–response runs in ``data/noise``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.approx.snap import SnAp1
from okcore.cells import GatedCell, Step, TanhCell, _Cell
from okcore.exercises import exercise

# --- 13.1: SnAp-1's update ----------------------------------------------------------------------------------


def _reference_snap1() -> Callable[..., np.ndarray]:
    def snap1_update(J, xhat, H, D):
        n, k = D.shape
        cols = np.arange(k)
        unit = cols % n  # column q of W feeds unit q mod n
        decay = np.diagonal(H)[unit]  # H[a(q), a(q)] for each column q
        return decay * J + np.outer(xhat, D[unit, cols])

    return snap1_update


def _instances(rng: np.random.Generator) -> list[tuple[_Cell, np.ndarray, Step]]:
    """Fresh (cell, J, step): a gated cell (k = 2n, so the column-to-unit map matters) and a tanh cell, with
    states and weights large enough that diag(H) is far from 1 and H is far from diagonal."""
    out = []
    for cls, n_in, n in ((GatedCell, 2, int(rng.integers(3, 6))), (TanhCell, 3, int(rng.integers(3, 6)))):
        cell = cls(n_in, n, rng, scale=0.8)
        step = cell.step(rng.normal(size=n_in), 0.7 * rng.uniform(-1, 1, size=n))
        out.append((cell, rng.normal(size=(cell.K, cell.k)), step))
    return out


def _okcore_snap1(cell: _Cell, J: np.ndarray, step: Step) -> np.ndarray:
    est = SnAp1(cell, batch=1)
    est.J[0] = J
    est.update(step)
    return est.J[0].copy()


def _diagnose_snap1(answer: Callable, cell: _Cell, J: np.ndarray, step: Step) -> tuple[bool, str]:
    n, K, k = cell.n_hidden, cell.K, cell.k
    D = step.D
    out = answer(J.copy(), step.xhat.copy(), step.H.copy(), D.copy())
    if out is None:
        return False, "Your function returns None: write its body."
    got = np.asarray(out)
    if got.shape != (K, k):
        return False, (
            f"Shape: J_new should be (K, k) = {(K, k)} like J, got {got.shape} (a {type(cell).__name__} with n = {n}, "
            f"K = {K}, k = {k}). J[p, q] is the one kept entry G̃[q mod n, p, q] of each weight W[p, q]."
        )
    if not np.issubdtype(got.dtype, np.floating) or not np.all(np.isfinite(got)):
        return False, "J_new should be a finite float array."
    want = _okcore_snap1(cell, J, step)
    scale = np.abs(want).max()
    err = np.abs(got - want).max() / scale
    if err <= 1e-10:
        return True, ""
    if err <= 1e-5 and got.dtype == np.float32:
        return False, (
            f"Right up to float32 rounding (largest relative error {err:.1g}), but the result is float32: compute "
            "in float64 (the inputs are float64; something turns them into float32)."
        )
    if err <= 1e-5:
        return False, (
            f"Close, but only to {err:.1g} (relative): that is float32 rounding somewhere. Keep every step in float64."
        )
    cols = np.arange(k)
    unit = cols % n
    diag = np.diagonal(step.H)
    F = np.outer(step.xhat, D[unit, cols])
    tol = 1e-9 * scale

    def same(x: np.ndarray) -> bool:
        return bool(np.abs(got - x).max() <= tol)

    if same(J + F):
        return False, "The old trace is carried over unchanged: multiply J[p, q] by H_t[a, a] with a = q mod n."
    if same(diag[unit] * J):
        return False, "Only the decay is there: add the immediate influence x̂[p] D[a, q] (a = q mod n) of this step."
    if k > n and same(diag[cols // (k // n)] * J + F):
        return False, (
            "Column q of W feeds unit q mod n (the gated cell's columns are [z_c | z_f], n each): the decays of the "
            "units are tiled along the columns (np.tile or q % n), not repeated (np.repeat or q // 2)."
        )
    if same(step.H.sum(axis=1)[unit] * J + F):
        return False, (
            "The decay of unit a is the diagonal entry H[a, a] alone: the row sum adds H[a, c] for c ≠ a, the paths "
            "through other units, which are exactly what SnAp-1 drops."
        )
    if same(diag[unit] * J + np.outer(step.xhat, D.sum(axis=1)[unit])):
        return False, "The immediate term: column q needs D[a, q] with a = q mod n, the one non-zero entry of column q."
    if same(diag[unit] * J - F) or same(-diag[unit] * J + F):
        return False, "A sign error: both terms enter with a plus sign, J' = H[a, a] J + x̂ ⊗ D on the kept entries."
    return False, (
        f"Not SnAp-1's update (largest relative error {err:.2g}). Per column q, with a = q mod n: "
        "J'[p, q] = H[a, a] J[p, q] + x̂[p] D[a, q]."
    )


@exercise("13.1", "SnAp-1's update", _reference_snap1)
def _check_snap1(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function snap1_update(J, xhat, H, D) returning J_new of shape (K, k)."
    rng = np.random.default_rng()
    for cell, J, step in _instances(rng):
        ok, message = _diagnose_snap1(answer, cell, J, step)
        if not ok:
            return False, message
    return True, (
        "Equal to okcore's SnAp1 on a fresh gated and a fresh tanh cell (random J, random states, H far from diagonal)."
    )


# --- 13.2: the noise level at which learning halves ----------------------------------------------------------


def half_level(levels: object, T_means: object, T_exact: float) -> float:
    """The relative variance at which the mean final T_ falls to half of exact RTRL's, by linear interpolation in
    log10(level) between the first two levels that bracket it (``levels`` increasing, ``T_means`` their means).

    Returns inf if no level falls that low, and the smallest level if the first one already does.
    """
    v = np.asarray(levels, dtype=float)
    T = np.asarray(T_means, dtype=float)
    target = T_exact / 2.0
    below = np.flatnonzero(T <= target)
    if below.size == 0:
        return float("inf")
    i = int(below[0])
    if i == 0:
        return float(v[0])
    x0, x1, y0, y1 = np.log10(v[i - 1]), np.log10(v[i]), T[i - 1], T[i]
    return float(10 ** (x0 + (target - y0) * (x1 - x0) / (y1 - y0)))


def measured_half_level(folder: object = None) -> tuple[float, tuple[float, float]]:
    """(v½, (low, high)) from the cached fresh-noise runs: the interpolated level (:func:`half_level`), and the two
    levels of the grid that bracket it."""
    from okcore.experiments.noise import finals, load_noise_runs

    runs = load_noise_runs(folder)
    levels = sorted(runs.fresh)
    means = [finals(runs.fresh[v]).mean() for v in levels]
    T_exact = finals(runs.methods["exact"]).mean()
    v_half = half_level(levels, means, T_exact)
    i = int(np.searchsorted(levels, v_half))
    low = levels[max(i - 1, 0)]
    high = levels[min(i, len(levels) - 1)]
    return v_half, (float(low), float(high))


def _reference_prediction() -> float:
    return measured_half_level()[0]


@exercise("13.2", "the noise level at which learning halves", _reference_prediction)
def _check_prediction(answer: Any) -> tuple[bool, str]:
    try:
        v = float(answer)
    except (TypeError, ValueError):
        return False, "Give one number: the relative variance v at which the final T_ falls to half of exact RTRL's."
    if not np.isfinite(v) or v <= 0:
        return False, f"A relative variance is a positive number, got {answer!r}."
    v_half, (low, high) = measured_half_level()
    # accepted: within the grid cell that holds the measured level, widened by half a decade on each side
    lo, hi = low / np.sqrt(10.0), high * np.sqrt(10.0)
    where = f"the cached runs put it at v ≈ {v_half:.3g} (between the grid levels {low:g} and {high:g})"
    if lo <= v <= hi:
        return True, f"Within half a decade of the grid cell where it happens: {where}."
    if v < lo:
        return False, f"Too pessimistic: learning tolerates more noise than that; {where}."
    return False, f"Too optimistic: learning halves at less noise than that; {where}."
