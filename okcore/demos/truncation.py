"""The bias of truncated backpropagation through time, measured on the delayed-recall task.

The full gradient splits by *lag*: g = Σ_ℓ g_ℓ, where g_ℓ collects, over all t, the part of ∂L_t/∂W that flows
back through exactly ℓ state transitions, i.e. through the weights' use at step t − ℓ:

    g_ℓ = Σ_t x̂_{t−ℓ}ᵀ (δ_{t,ℓ} D_{t−ℓ}),   δ_{t,ℓ} = ∂L_t/∂h_t · H_t H_{t−1} ⋯ H_{t−ℓ+1}.

Truncated BPTT with truncation τ keeps exactly the lags ℓ < τ, so its error is the tail Σ_{ℓ≥τ} g_ℓ. In the
delayed-recall task the target of step t is the symbol shown at t − delay: the term that links them has lag
``delay``, and any τ <= delay drops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from okcore._checks import check_positive_int
from okcore.bptt import bptt, truncated_bptt, unroll
from okcore.cells import GatedCell, _Cell
from okcore.readout import Readout
from okcore.tasks import delayed_recall, delayed_recall_classes

__all__ = ["DelayedRecallProblem", "delayed_recall_problem", "gradient_by_lag", "truncation_bias"]


@dataclass(frozen=True)
class DelayedRecallProblem:
    """An untrained gated network and one delayed-recall sequence: everything a gradient needs."""

    cell: GatedCell
    readout: Readout
    xs: np.ndarray
    ys: np.ndarray
    delay: int

    @property
    def T(self) -> int:
        return self.xs.shape[0]


def delayed_recall_problem(
    T: int = 40,
    delay: int = 8,
    n_symbols: int = 4,
    n_hidden: int = 16,
    forget_bias: float = 2.0,
    seed: int = 0,
) -> DelayedRecallProblem:
    """A reproducible problem for the truncation demonstrations.

    A :class:`GatedCell` with default initial weights, except that ``forget_bias`` is added to the bias of the
    forget pre-activations z_f: the forget gates start near σ(forget_bias) (0.88 for 2.0), so the state keeps a
    memory of about 1/(1 − 0.88) ≈ 8 steps and gradients reach back that far. Everything is drawn from
    ``np.random.default_rng(seed)``: the cell, then the readout, then the sequence.
    """
    rng = np.random.default_rng(seed)
    cell = GatedCell(n_symbols, n_hidden, rng)
    W = cell.W.copy()
    W[-1, n_hidden:] += float(forget_bias)
    cell.W = W
    readout = Readout(n_hidden, delayed_recall_classes(n_symbols), rng)
    xs, ys = delayed_recall(T, delay, n_symbols, rng)
    return DelayedRecallProblem(cell, readout, xs, ys, delay)


def gradient_by_lag(
    cell: _Cell,
    readout: Readout,
    xs: object,
    ys: object,
    h0: object | None = None,
    resets: object | None = None,
) -> np.ndarray:
    """The lag decomposition of the full BPTT gradient: an array g of shape (T, K, k) with Σ_ℓ g[ℓ] = dW.

    ``g[ℓ]`` is the part of dL/dW that flows back through exactly ℓ transitions (see the module docstring), so
    ``g[:τ].sum(0)`` is the gradient of truncated BPTT with truncation τ. Arguments as in :func:`okcore.bptt`.
    Cost: O(T²) backward steps.
    """
    run = unroll(cell, readout, xs, ys, h0, resets)
    T = len(run.steps)
    n_blocks = cell.k // cell.n_hidden
    out = np.zeros((T, cell.K, cell.k))
    for t in range(T):
        delta = run.dL_dh[t]  # (B, n): ∂L_t/∂h_t carried back to h_s
        for s in range(t, -1, -1):
            step = run.steps[s]
            out[t - s] += step.xhat.T @ (np.tile(delta, (1, n_blocks)) * step.d)
            if s == 0:
                break
            delta = np.einsum("ba,bai->bi", delta, step.H)
            delta[run.resets[s]] = 0.0  # a reset before step s cuts the path to h_{s-1}
    return out


def truncation_bias(
    cell: _Cell,
    readout: Readout,
    xs: object,
    ys: object,
    truncations: Sequence[int] | np.ndarray,
    h0: object | None = None,
    resets: object | None = None,
) -> np.ndarray:
    """Relative error ‖g_τ − g‖ / ‖g‖ of truncated BPTT for each truncation τ, against full BPTT.

    g is dL/dW of :func:`okcore.bptt`; g_τ that of :func:`okcore.truncated_bptt` with ``truncation=τ``.
    Only the recurrent weights W are compared (W_out's gradient needs no backpropagation through time and is
    exact for every τ). Returns a float array of the same length as ``truncations``.
    """
    taus = [check_positive_int("truncations[i]", tau) for tau in np.asarray(truncations).tolist()]
    if not taus:
        raise ValueError("truncations: expected at least one truncation length, got none")
    _, g_full, _ = bptt(cell, readout, xs, ys, h0, resets)
    norm = np.linalg.norm(g_full)
    if norm == 0.0:
        raise ValueError("the full gradient is zero, so a relative error is undefined")
    errors = np.empty(len(taus))
    for i, tau in enumerate(taus):
        _, g_tau, _ = truncated_bptt(cell, readout, xs, ys, tau, h0, resets)
        errors[i] = np.linalg.norm(g_tau - g_full) / norm
    return errors
