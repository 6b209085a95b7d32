"""SnAp-1: the sparse n-step approximation of RTRL with n = 1 (Menick, Elsen, Evci, Osindero, Simonyan & Graves,
"Practical real time recurrent learning with a sparse approximation", ICLR 2021; arXiv 2006.07232, 2020).

SnAp-n keeps only the entries of the influence matrix G_t = ∂h_t/∂W that are non-zero after n steps of the
recursion started from G = 0, and drops the rest at every step. With n = 1 those are the entries of the immediate
influence F_t = x̂_t ⊗ D_t: a weight W[p, q] feeds the pre-activation z[q], which reaches only its own unit
a(q) = q mod n in one step (both blocks of the gated cell act on unit q mod n). So the estimate keeps one entry
per weight,

    J_t[p, q] = G̃_t[a(q), p, q],

and the recursion G̃_t = mask ⊙ (H_t G̃_{t-1} + F_t), restricted to the kept entries, reads

    J_t[p, q] = H_t[a(q), a(q)] J_{t-1}[p, q] + x̂_t[p] d_t[q]:

the old trace decays with the *diagonal* of the state Jacobian, and the immediate term is added. Everything a
weight does through other units (the off-diagonal entries of H_t) is dropped, so the estimate is deterministic
and biased; it is exact when H_t is diagonal. Cost per step and row: O(K k) time and memory, the size of W, as
for backpropagation.

:class:`RFLO` (in :mod:`okcore.approx.rflo`) has the same form with a different decay (the cell's leak).
"""

from __future__ import annotations

import numpy as np

from okcore.cells import _Cell
from okcore.estimator import Estimator

__all__ = ["SnAp1"]


class _DiagonalTrace(Estimator):
    """Estimates that keep G̃[a(q), p, q] only, J (B, K, k), with J ← λ[a(q)] J + x̂ ⊗ d for a decay λ (B, n).

    Subclasses give the decay in ``_decay(xhat, H, d) -> (B, n)``.
    """

    def __init__(self, cell: _Cell, batch: int = 1) -> None:
        super().__init__(cell, batch)
        self._blocks = self.k // self.n
        self.J = np.zeros((self.batch, self.K, self.k), dtype=self.dtype)
        self.last_decay = np.zeros((self.batch, self.n))

    def _reset_rows(self, rows: np.ndarray) -> None:
        self.J[rows] = 0.0

    def _decay(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        lam = self._decay(xhat, H, d)
        self.last_decay = lam
        lam_k = np.tile(lam, self._blocks).astype(self.dtype, copy=False)  # λ[q mod n] for each column q, (B, k)
        J = self.J
        J *= lam_k[:, None, :]
        J += xhat[:, :, None] * d[:, None, :]
        with np.errstate(over="ignore", invalid="ignore"):
            sq = J.reshape(-1).dot(J.reshape(-1))  # the squared norm (a dot product is the cheapest reduction)
        if not np.isfinite(sq):
            with np.errstate(all="ignore"):
                bad = ~np.isfinite((J * J).sum(axis=(1, 2)))
            raise self._overflow(H, "the kept entries of the influence are inf or NaN", bad)

    def _dense(self) -> np.ndarray:
        """G̃ densely, (B, n, K, k): J on the entries [a(q), p, q], zero elsewhere."""
        G = np.zeros((self.batch, self.n, self.K, self.k), dtype=self.dtype)
        cols = np.arange(self.k)
        G[:, cols % self.n, :, cols] = self.J.transpose(2, 0, 1)
        return G

    def influence(self) -> np.ndarray:
        return self._dense()

    def mean_influence(self) -> np.ndarray:
        G = np.zeros((self.n, self.K, self.k), dtype=self.dtype)
        cols = np.arange(self.k)
        G[cols % self.n, :, cols] = self.J.mean(axis=0).T
        return G

    def _kept(self, G: np.ndarray) -> np.ndarray:
        """The entries G[..., a(q), p, q] of a (..., n, K, k) array, as (..., K, k)."""
        cols = np.arange(self.k)
        return np.moveaxis(G[..., cols % self.n, :, cols], 0, -1)

    def squared_error(self, G: object) -> np.ndarray:
        """‖G̃ − G‖²_F per row without forming G̃: ‖G‖² − ‖G on the kept entries‖² + ‖J − G on them‖², (B,)."""
        G_arr = self._check_G(G)
        kept = self._kept(G_arr)  # (K, k) or (B, K, k)
        if G_arr.ndim == 3:
            g_norm2 = np.einsum("apq,apq->", G_arr, G_arr)
            kept_norm2 = np.einsum("pq,pq->", kept, kept)
        else:
            g_norm2 = np.einsum("bapq,bapq->b", G_arr, G_arr)
            kept_norm2 = np.einsum("bpq,bpq->b", kept, kept)
        diff = self.J - kept
        return np.maximum(g_norm2 - kept_norm2, 0.0) + np.einsum("bpq,bpq->b", diff, diff)

    def _gradient(self, delta: np.ndarray) -> np.ndarray:
        # Σ_b δ[b, a(q)] J[b, p, q]: one (K, B) @ (B, k)-shaped contraction per column.
        delta_k = np.tile(delta, self._blocks)  # (B, k): δ[b, q mod n]
        return np.einsum("bq,bpq->pq", delta_k, self.J)


class SnAp1(_DiagonalTrace):
    """SnAp-1 (see the module docstring): G̃ keeps the entries [q mod n, p, q]; they decay with diag(H_t).

    Args:
        cell: the cell whose influence is tracked.
        batch: number B of sequences, each with its own estimate.

    State: ``J`` (B, K, k), J[b, p, q] = G̃[b, q mod n, p, q]. Diagnostics: ``last_decay`` (B, n), the diagonal of
    H_t used in the latest update. Deterministic (no ``rng``); biased unless every H_t is diagonal.
    """

    def _decay(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> np.ndarray:
        return np.diagonal(H, axis1=1, axis2=2)
