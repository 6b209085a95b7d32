"""Exact real-time recurrent learning: G_t = H_t G_{t-1} + x̂_t ⊗ D_t, stored densely."""

from __future__ import annotations

import math

import numpy as np

from okcore.cells import _Cell
from okcore.estimator import Estimator

__all__ = ["ExactRTRL", "add_immediate"]


def add_immediate(G: np.ndarray, xhat: np.ndarray, d: np.ndarray) -> np.ndarray:
    """In place: G[b, a, p, q] += x̂[b, p] D[b, a, q], touching only the non-zero entries of D.

    G: (B, n, K, k); xhat: (B, K); d: (B, k) with D[b, a, q] = d[b, q] where q % n == a. Cost O(B K k).
    Returns the new values of those entries, (n, B, K, k // n): entry [a, b, p, j] is G[b, a, p, j n + a].
    """
    B, n, K, k = G.shape
    blocks = k // n
    diag = np.arange(n)
    G5 = G.reshape(B, n, K, blocks, n)
    # G5[:, a, :, j, a] for all a: advanced indices first, so the copy is (n, B, K, blocks).
    entries = G5[:, diag, :, :, diag]
    entries += xhat[None, :, :, None] * d.reshape(B, blocks, n).transpose(2, 0, 1)[:, :, None, :]
    G5[:, diag, :, :, diag] = entries
    return entries


class ExactRTRL(Estimator):
    """Exact RTRL with a batch axis. Memory O(B n K k) = O(B n³); time O(B n² K k) = O(B n⁴) per step.

    The influence G (B, n, K, k) is kept in one of two buffers; each update writes H·G into the other buffer
    with one batched matrix product and then adds F = x̂ ⊗ D in place, without forming F densely.

    Overflow check: each column G[:, p, q] has one entry where F can be non-zero (a = q mod n), and H mixes every
    column's entries, so a column that overflows shows there within one step. The squared norm of those B K k
    entries, which the update has just written, is checked (so values beyond about 1e154, whose squares overflow,
    count as overflowed, as in the other estimators' squared norms); a ``FloatingPointError`` explains it.
    """

    def __init__(self, cell: _Cell, batch: int = 1) -> None:
        super().__init__(cell, batch)
        shape = (self.batch, self.n, self.K, self.k)
        self._G = np.zeros(shape, dtype=self.dtype)
        self._spare = np.empty(shape, dtype=self.dtype)

    def _reset_rows(self, rows: np.ndarray) -> None:
        self._G[rows] = 0.0

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        B, n, K, k = self._G.shape
        np.matmul(H, self._G.reshape(B, n, K * k), out=self._spare.reshape(B, n, K * k))
        self._G, self._spare = self._spare, self._G
        entries = add_immediate(self._G, xhat, d)
        flat = entries.reshape(-1)
        if not math.isfinite(flat.dot(flat)):  # their squared norm (a dot product is the cheapest reduction)
            with np.errstate(all="ignore"):
                bad = ~np.isfinite((entries * entries).sum(axis=(0, 2, 3)))
            raise self._overflow(H, "the entries of G where x̂ ⊗ D is added no longer have a finite squared norm", bad)

    def influence(self) -> np.ndarray:
        return self._G.copy()

    def _gradient(self, delta: np.ndarray) -> np.ndarray:
        B, n, K, k = self._G.shape
        return (delta.reshape(1, B * n) @ self._G.reshape(B * n, K * k)).reshape(K, k)
