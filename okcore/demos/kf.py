"""KF-RTRL, taken apart (notebook 05): the two-sign update, its exact mean and variance, the balancing of p1/p2.

KF-RTRL keeps G̃ = u ⊗ A (u of length K, A of shape (n, k)). One step of the recursion gives two Kronecker
products, u ⊗ (HA) + x̂ ⊗ D, and two independent fair signs c1, c2 fold them into one:

    u' = c1 p1 u + c2 p2 x̂,        A' = (c1/p1) HA + (c2/p2) D.

The estimator itself is :class:`okcore.approx.KFRTRL`; the functions here take one step apart on a single
sequence (no batch axis): enumerate the four sign patterns, evaluate the step's error for any p1, p2, and follow
how the per-step variances add up along a trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from okcore._checks import check_array, check_positive_float, check_positive_int, check_rng
from okcore.approx.kf import KFRTRL, kf_step_variance
from okcore.cells import Step, _Cell
from okcore.demos.kronecker import kron
from okcore.noise import broadcast_step
from okcore.rtrl import ExactRTRL
from okcore.signs import ReplaySigns

__all__ = [
    "SIGN_PATTERNS",
    "kf_state_before",
    "enumerate_kf_update",
    "kf_target",
    "kf_fold",
    "kf_step_errors",
    "kf_optimal_ratio",
    "VarianceIncrements",
    "variance_increments",
    "plot_step_variance",
]

# The four equally likely sign pairs (c1, c2).
SIGN_PATTERNS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def kf_state_before(
    cell: _Cell, xs: object, t: int, rng: np.random.Generator, balance: bool = True
) -> tuple[np.ndarray, np.ndarray, Step]:
    """Run KF-RTRL (one sequence) over xs[:t]; return (u (K,), A (n, k), the unbatched step of xs[t])."""
    xs = check_array("xs", xs, (None, cell.n_in))
    t = check_positive_int("t", t)
    if t >= xs.shape[0]:
        raise ValueError(f"t: expected t < len(xs) = {xs.shape[0]}, got {t}")
    rng = check_rng("rng", rng)
    est = KFRTRL(cell, batch=1, rng=rng, balance=balance)
    h = np.zeros(cell.n_hidden)
    for x in xs[:t]:
        step = cell.step(x, h)
        est.update(step)
        h = step.h
    return est.u[0, 0].copy(), est.A[0, 0].copy(), cell.step(xs[t], h)


def enumerate_kf_update(
    cell: _Cell, u: object, A: object, step: Step, balance: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Apply :class:`~okcore.approx.KFRTRL`'s update to (u, A) once for each of the four sign pairs.

    A batch of four identical rows gets the signs of :data:`SIGN_PATTERNS` through
    :class:`~okcore.signs.ReplaySigns`. Returns (the four estimates u' ⊗ A', (4, n, K, k); their closed-form
    added variances ``last_variance``, (4,)). The plain mean over the four is the exact expectation.
    """
    u = check_array("u", u, (cell.K,))
    A = check_array("A", A, (cell.n_hidden, cell.k))
    est = KFRTRL(cell, batch=4, rng=ReplaySigns([SIGN_PATTERNS[:, None, :]]), balance=balance)
    est.u = np.tile(u, (4, 1, 1))
    est.A = np.tile(A, (4, 1, 1, 1))
    est.update(broadcast_step(step, 4))
    return est.influence(), est.last_variance.copy()


def kf_target(u: object, A: object, step: Step) -> np.ndarray:
    """What one step should give on average: u ⊗ (H A) + x̂ ⊗ D, (n, K, k)."""
    return kron(u, step.H @ np.asarray(A, dtype=np.float64)) + kron(step.xhat, step.D)


def kf_fold(
    u: object, HA: object, xhat: object, D: object, p1: float, p2: float, c1: float, c2: float
) -> tuple[np.ndarray, np.ndarray]:
    """One KF fold written out: (u', A') = (c1 p1 u + c2 p2 x̂, (c1/p1) HA + (c2/p2) D). D is dense (n, k)."""
    u, HA = np.asarray(u, dtype=np.float64), np.asarray(HA, dtype=np.float64)
    xhat, D = np.asarray(xhat, dtype=np.float64), np.asarray(D, dtype=np.float64)
    p1, p2 = check_positive_float("p1", p1), check_positive_float("p2", p2)
    return c1 * p1 * u + c2 * p2 * xhat, (c1 / p1) * HA + (c2 / p2) * D


def kf_step_errors(u: object, A: object, step: Step, p1: float, p2: float, signs: object) -> np.ndarray:
    """‖u'⊗A' − (u⊗HA + x̂⊗D)‖²_F for each sign pair in ``signs`` (N, 2), with the given p1, p2: (N,)."""
    signs = check_array("signs", signs, (None, 2))
    if not np.all(np.abs(signs) == 1.0):
        raise ValueError("signs: expected entries ±1 only")
    HA = step.H @ np.asarray(A, dtype=np.float64)
    target = kron(u, HA) + kron(step.xhat, step.D)
    out = np.empty(signs.shape[0])
    for j, (c1, c2) in enumerate(signs):
        u_new, A_new = kf_fold(u, HA, step.xhat, step.D, p1, p2, c1, c2)
        out[j] = np.sum((kron(u_new, A_new) - target) ** 2)
    return out


def kf_optimal_ratio(u: object, A: object, step: Step) -> float:
    """The variance-minimising p1/p2 = √(‖x̂‖ ‖HA‖ / (‖u‖ ‖D‖)), the ratio of the balancing rule's scales."""
    HA = step.H @ np.asarray(A, dtype=np.float64)
    return float(np.sqrt(np.linalg.norm(step.xhat) * np.linalg.norm(HA) / (np.linalg.norm(u) * np.linalg.norm(step.d))))


@dataclass(frozen=True)
class VarianceIncrements:
    """Per-sample quantities along one trajectory, each (N, T), with e_t = G̃_t − G_t the error of sample j.

    Attributes:
        total: ‖e_t‖².
        carried: ‖H_t e_{t−1}‖², the previous error carried forward by the recursion (0 at t = 1).
        step: the closed-form variance of step t given the sample's own state (``KFRTRL.last_variance``).
        exact_norm2: (T,) ‖G_t‖², to turn the others into relative quantities.
    """

    total: np.ndarray
    carried: np.ndarray
    step: np.ndarray
    exact_norm2: np.ndarray

    @property
    def n_samples(self) -> int:
        return self.total.shape[0]

    def gap(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean over samples of total − carried − step, and its standard error: two (T,) arrays.

        If E‖e_t‖² = E‖H_t e_{t−1}‖² + E[step variance], the mean gap is zero up to sampling noise. Per sample the
        gap is 2⟨H_t e_{t−1}, ε_t⟩ (KF's ‖ε_t‖² equals the closed form for every draw), so it is exactly zero while
        e_{t−1} = 0, and then the standard error is zero too.
        """
        d = self.total - self.carried - self.step
        return d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])


def variance_increments(cell: _Cell, xs: object, n_samples: int, rng: np.random.Generator) -> VarianceIncrements:
    """Run ``n_samples`` KF-RTRL chains and exact RTRL on one sequence, recording how the squared error grows.

    The error obeys e_t = H_t e_{t−1} + ε_t, with ε_t the error of step t. Since E[ε_t | past] = 0, the expected
    squared errors add: E‖e_t‖² = E‖H_t e_{t−1}‖² + E‖ε_t‖², and E‖ε_t‖² is the closed form averaged over the
    states the chains are in. Dense errors are formed, so keep n and ``n_samples`` small.
    """
    xs = check_array("xs", xs, (None, cell.n_in))
    N = check_positive_int("n_samples", n_samples)
    rng = check_rng("rng", rng)
    est = KFRTRL(cell, batch=N, rng=rng)
    exact = ExactRTRL(cell)
    T = xs.shape[0]
    total, carried, step_var, norm2 = np.empty((N, T)), np.empty((N, T)), np.empty((N, T)), np.empty(T)
    h = np.zeros(cell.n_hidden)
    err_prev = np.zeros((N, cell.n_hidden, cell.K, cell.k))
    for t, x in enumerate(xs):
        step = cell.step(x, h)
        h = step.h
        exact.update(step)
        est.update(broadcast_step(step, N))
        G = exact.influence()
        norm2[t] = np.sum(G * G)
        err = est.influence() - G
        propagated = np.einsum("ab,jbpq->japq", step.H, err_prev)
        total[:, t] = np.einsum("japq,japq->j", err, err)
        carried[:, t] = np.einsum("japq,japq->j", propagated, propagated)
        step_var[:, t] = est.last_variance
        err_prev = err
    return VarianceIncrements(total, carried, step_var, norm2)


def plot_step_variance(u: object, A: object, step: Step, ratios: object | None = None, ax: Axes | None = None) -> Axes:
    """The closed-form variance of one KF step against p1/p2 (log axes), with the balancing rule's ratio marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    best = kf_optimal_ratio(u, A, step)
    ratios = best * np.exp(np.linspace(-4.0, 4.0, 200)) if ratios is None else np.asarray(ratios, dtype=np.float64)
    HA = step.H @ np.asarray(A, dtype=np.float64)
    values = kf_step_variance(u, HA, step.xhat, step.d, ratios, 1.0)
    ax.loglog(ratios, values, label="closed form")
    ax.axvline(best, color="tab:red", ls="--", label="balancing rule")
    ax.set_xlabel("$p_1/p_2$")
    ax.set_ylabel("variance added by one step")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
