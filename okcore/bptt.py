"""Reference gradients: full and truncated backpropagation through time.

Conventions shared by every function here (and by the RTRL estimators):
- ``xs``: inputs, (T, n_in) for one sequence or (T, B, n_in) for a batch.
- ``ys``: integer targets, (T,) or (T, B).
- ``resets``: optional booleans, (T,) or (T, B). Where ``resets[t, b]`` is True, h_{t-1} of row b is replaced by
  zeros before step t (a new sequence starts there), so no gradient flows across that boundary.
- The loss is summed over time steps and batch rows, in the readout's unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from okcore._checks import check_array, check_int_array, check_positive_int
from okcore.cells import Step, _Cell
from okcore.readout import Readout

__all__ = ["Unrolled", "unroll", "bptt", "truncated_bptt"]


@dataclass
class Unrolled:
    """The forward pass over a sequence, batched: every array has the batch axis.

    Attributes:
        steps: the T cell steps (batched).
        losses: (T,) loss of each step, summed over rows.
        dL_dh: (T, B, n) ∂L_t/∂h_t, the error signals δ_t.
        dW_out: (n + 1, n_out) gradient of the total loss w.r.t. W_out.
        resets: (T, B) the reset mask used.
    """

    steps: list[Step]
    losses: np.ndarray
    dL_dh: np.ndarray
    dW_out: np.ndarray
    resets: np.ndarray

    @property
    def loss(self) -> float:
        return float(self.losses.sum())


def _check_cell_readout(cell: object, readout: object) -> None:
    if not isinstance(cell, _Cell):
        raise TypeError(f"cell: expected a TanhCell or GatedCell, got {type(cell).__name__}")
    if not isinstance(readout, Readout):
        raise TypeError(f"readout: expected a Readout, got {type(readout).__name__}")
    if readout.n_hidden != cell.n_hidden:
        raise ValueError(
            f"readout: expected a readout of n_hidden={cell.n_hidden} to match the cell, got {readout.n_hidden}"
        )


def _sequence(
    cell: _Cell, readout: Readout, xs: object, ys: object, h0: object, resets: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batched copies of the inputs: xs (T, B, n_in), ys (T, B), h0 (B, n), resets (T, B)."""
    xs_arr = np.asarray(xs)
    if xs_arr.ndim not in (2, 3) or xs_arr.shape[0] < 1:
        raise ValueError(
            f"xs: expected shape (T, {cell.n_in}) or (T, B, {cell.n_in}) with T >= 1, got shape {xs_arr.shape}"
        )
    if xs_arr.ndim == 2:
        xs3 = check_array("xs", xs, (None, cell.n_in))[:, None, :]
    else:
        xs3 = check_array("xs", xs, (None, None, cell.n_in))
    T, B = xs3.shape[:2]
    check_positive_int("batch size (xs.shape[1])", B)
    y_shape = (T,) if xs_arr.ndim == 2 else (T, B)
    ys2 = check_int_array("ys", ys, y_shape, readout.n_out).reshape(T, B)
    if h0 is None:
        h02 = np.zeros((B, cell.n_hidden))
    else:
        h_shape = (cell.n_hidden,) if xs_arr.ndim == 2 else (B, cell.n_hidden)
        h02 = check_array("h0", h0, h_shape).reshape(B, cell.n_hidden)
    if resets is None:
        r2 = np.zeros((T, B), dtype=bool)
    else:
        r = np.asarray(resets)
        r_shape = (T,) if xs_arr.ndim == 2 else (T, B)
        if r.dtype != bool:
            raise TypeError(f"resets: expected a boolean array of shape {r_shape}, got dtype {r.dtype}")
        if r.shape != r_shape:
            raise ValueError(f"resets: expected shape {r_shape}, got shape {r.shape}")
        r2 = r.reshape(T, B)
    return xs3, ys2, h02, r2


def unroll(
    cell: _Cell,
    readout: Readout,
    xs: object,
    ys: object,
    h0: object | None = None,
    resets: object | None = None,
) -> Unrolled:
    """Run the forward pass and collect what the backward pass and RTRL need (see module docstring)."""
    _check_cell_readout(cell, readout)
    xs3, ys2, h, r2 = _sequence(cell, readout, xs, ys, h0, resets)
    T, B = ys2.shape
    steps: list[Step] = []
    losses = np.empty(T)
    dL_dh = np.empty((T, B, cell.n_hidden))
    dW_out = np.zeros_like(readout.W_out)
    for t in range(T):
        h = np.where(r2[t][:, None], 0.0, h)
        step = cell.step(xs3[t], h)
        loss, dL_dh[t], dWo = readout.loss_and_grads(step.h, ys2[t])
        losses[t] = loss
        dW_out += dWo
        steps.append(step)
        h = step.h
    return Unrolled(steps, losses, dL_dh, dW_out, r2)


def _immediate_grad(step: Step, delta: np.ndarray) -> np.ndarray:
    """Σ_b x̂_bᵀ (δ_b D_b): the gradient w.r.t. W of δ·h_t through step t alone, (K, k)."""
    n_blocks = step.d.shape[1] // step.h.shape[1]
    return step.xhat.T @ (np.tile(delta, (1, n_blocks)) * step.d)


def _back_one(step: Step, delta: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """δ_{t-1} contribution δ_t H_t, zero for rows whose h_{t-1} was reset."""
    back = np.einsum("ba,bai->bi", delta, step.H)
    back[reset] = 0.0
    return back


def bptt(
    cell: _Cell,
    readout: Readout,
    xs: object,
    ys: object,
    h0: object | None = None,
    resets: object | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Full backpropagation through time.

    Returns:
        loss: total loss (summed over steps and rows).
        dW: ∂loss/∂W, (K, k).
        dW_out: ∂loss/∂W_out, (n + 1, n_out).
    """
    run = unroll(cell, readout, xs, ys, h0, resets)
    dW = np.zeros_like(cell.W)
    delta = np.zeros_like(run.dL_dh[0])
    for t in range(len(run.steps) - 1, -1, -1):
        delta = delta + run.dL_dh[t]
        dW += _immediate_grad(run.steps[t], delta)
        delta = _back_one(run.steps[t], delta, run.resets[t])
    return run.loss, dW, run.dW_out


def truncated_bptt(
    cell: _Cell,
    readout: Readout,
    xs: object,
    ys: object,
    truncation: int,
    h0: object | None = None,
    resets: object | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Truncated BPTT: each loss term L_t is backpropagated through at most ``truncation`` steps.

    With ``truncation`` >= T this equals :func:`bptt`; with ``truncation=1`` only the immediate Jacobian of each
    step is used. W_out's gradient needs no backpropagation through time and is exact. Returns
    (loss, dW (K, k), dW_out (n + 1, n_out)).
    """
    truncation = check_positive_int("truncation", truncation)
    run = unroll(cell, readout, xs, ys, h0, resets)
    dW = np.zeros_like(cell.W)
    for t in range(len(run.steps)):
        delta = run.dL_dh[t]
        lowest = max(0, t - truncation + 1)
        for s in range(t, lowest - 1, -1):
            dW += _immediate_grad(run.steps[s], delta)
            if s > lowest:
                delta = _back_one(run.steps[s], delta, run.resets[s])
    return run.loss, dW, run.dW_out
