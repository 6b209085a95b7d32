"""The interface shared by exact RTRL and its approximations.

An estimator tracks, for each of B batch rows, an estimate G̃_t of the influence matrix G_t = ∂h_t/∂W, shape
(n, K, k). ``update(step)`` applies one step of the recursion G_t = H_t G_{t-1} + F_t (exactly or in expectation),
``gradient(δ)`` contracts the estimate with the error signals, and ``reset(mask)`` starts new sequences.

An estimate that overflows (an exploding network, whose state Jacobians H_t stretch it step after step) raises a
``FloatingPointError`` from ``update`` that names the estimator, the update and the remedies, instead of going on
with inf or NaN. Each estimator checks a few numbers its update computes anyway (norms, or a small matrix), so the
check costs next to nothing.
"""

from __future__ import annotations

import numbers

import numpy as np

from okcore._checks import check_array, check_mask, check_positive_int
from okcore.cells import Step, _Cell
from okcore.signs import SignSource, as_sign_source

__all__ = ["Estimator", "KroneckerSumEstimator"]


class Estimator:
    """Base class. Subclasses implement ``_reset_rows``, ``_update``, ``influence`` and ``_gradient``.

    Args:
        cell: the cell whose influence is tracked; fixes n, K and k.
        batch: number B of sequences tracked side by side, each with its own estimate.
    """

    def __init__(self, cell: _Cell, batch: int = 1) -> None:
        if not isinstance(cell, _Cell):
            raise TypeError(f"cell: expected a TanhCell or GatedCell, got {type(cell).__name__}")
        self.batch = check_positive_int("batch", batch)
        self.n = cell.n_hidden
        self.K = cell.K
        self.k = cell.k
        self.dtype = cell.dtype  # of the large arrays; small bookkeeping (norms, scales) stays float64
        self.t = 0  # steps since construction, for diagnostics

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, K={self.K}, k={self.k}, batch={self.batch})"

    # -- public interface -------------------------------------------------------------------------------------
    def reset(self, mask: object | None = None) -> None:
        """Zero the estimate of every row, or of the rows where ``mask`` (shape (B,), bool) is True."""
        rows = np.ones(self.batch, dtype=bool) if mask is None else check_mask("mask", mask, self.batch)
        if rows.any():
            self._reset_rows(rows)

    def update(self, step: Step) -> None:
        """Advance the estimate by one step of the recursion, using the cell's ``step`` output."""
        xhat, H, d = self._check_step(step)
        self._update(xhat, H, d)
        self.t += 1

    def influence(self) -> np.ndarray:
        """The dense estimate G̃_t, (B, n, K, k) (a new array)."""
        raise NotImplementedError

    def mean_influence(self) -> np.ndarray:
        """The estimate averaged over the batch rows, (n, K, k)."""
        return self.influence().mean(axis=0)

    def squared_error(self, G: object) -> np.ndarray:
        """‖G̃_b − G‖²_F for each row b, (B,). ``G`` is (n, K, k) (the same for all rows) or (B, n, K, k).

        Subclasses with a factored estimate override this to avoid forming G̃ densely.
        """
        G_arr = self._check_G(G)
        diff = self.influence() - G_arr
        return np.einsum("bapq,bapq->b", diff, diff)

    def _check_G(self, G: object) -> np.ndarray:
        shape = (self.n, self.K, self.k)
        if np.ndim(G) == 3:
            return check_array("G", G, shape)
        return check_array("G", G, (self.batch, *shape))

    def gradient(self, dL_dh: object) -> np.ndarray:
        """Σ_b Σ_a δ[b, a] G̃[b, a, :, :], the step's contribution to dL/dW, shape (K, k).

        ``dL_dh`` is (B, n), or (n,) when B = 1.
        """
        if np.ndim(dL_dh) == 1 and self.batch == 1:
            delta = check_array("dL_dh", dL_dh, (self.n,), dtype=self.dtype)[None]
        else:
            delta = check_array("dL_dh", dL_dh, (self.batch, self.n), dtype=self.dtype)
        return self._gradient(delta)

    # -- for subclasses -----------------------------------------------------------------------------------------
    def _overflow(self, H: np.ndarray, what: str, bad_rows: np.ndarray | None = None) -> FloatingPointError:
        """The error for an estimate that has left the range of float64 during the current update.

        ``what`` says which of the update's quantities was found not finite; ``bad_rows`` (B,) marks the batch rows
        concerned, if known. Called only when the check fails, so its own cost does not matter.
        """
        rows = ""
        if bad_rows is not None and self.batch > 1 and bad_rows.any():
            idx = np.flatnonzero(bad_rows)
            rows = f" in batch row{'s' if idx.size > 1 else ''} {', '.join(map(str, idx[:8]))}"
            rows += ", ..." if idx.size > 8 else ""
        with np.errstate(all="ignore"):
            norm_H = float(np.nanmax(np.linalg.norm(H, ord=2, axis=(1, 2)))) if np.isfinite(H).all() else np.inf
        return FloatingPointError(
            f"{type(self).__name__}: the influence estimate overflowed at update {self.t + 1} (counted from "
            f"construction){rows}: {what}, so its values, or the squares the update needs, have left the range of "
            f"float64 (about 1e308). This is an exploding network: the state Jacobians H_t (largest ‖H_t‖₂ at this "
            f"update: {norm_H:.3g}) have stretched the influence step after step, usually because the weights W are "
            "too large. Remedies: rescale W (e.g. cell.W = 0.5 * cell.W, or build the cell with a smaller scale), "
            "lower the learning rate or clip the gradients so that training does not grow W, and call reset(): "
            "this estimate is no longer usable."
        )

    def _check_step(self, step: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not isinstance(step, Step):
            raise TypeError(f"step: expected a Step returned by cell.step, got {type(step).__name__}")
        xhat, H, d = step.as_batch()
        expected = (self.batch, self.n, self.K, self.k)
        got = (xhat.shape[0], H.shape[1], xhat.shape[1], d.shape[1])
        if got != expected:
            raise ValueError(
                "step: expected a step of a cell with (batch, n, K, k) = "
                f"{expected} as this estimator was built for, got {got}"
            )
        return xhat, H, d

    def _reset_rows(self, rows: np.ndarray) -> None:
        raise NotImplementedError

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        raise NotImplementedError

    def _gradient(self, delta: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _check_rank(rank: object) -> int:
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
        raise TypeError(f"rank: expected an integer >= 1, got {type(rank).__name__} {rank!r}")
    if rank < 1:
        raise ValueError(f"rank: expected an integer >= 1, got {rank}")
    return int(rank)


class KroneckerSumEstimator(Estimator):
    """Estimates of the form G̃ = Σ_{i<r} u_i ⊗ A_i per row: u (B, r, K), A (B, r, n, k).

    G̃[b, a, p, q] = Σ_i u[b, i, p] A[b, i, a, q]. Subclasses implement ``_update``. ``rng`` is a
    ``numpy.random.Generator``, an integer seed or a sign source (see :mod:`okcore.signs`); it is required.
    """

    def __init__(
        self, cell: _Cell, rank: int, batch: int = 1, rng: np.random.Generator | int | SignSource | None = None
    ) -> None:
        super().__init__(cell, batch)
        self.rank = _check_rank(rank)
        self.signs = as_sign_source(rng, type(self).__name__)
        self._allocate_factors()

    def _allocate_factors(self) -> None:
        """Set the zero start: u (B, r, K) and A (B, r, n, k). A subclass with its own work buffers overrides it."""
        self.u = np.zeros((self.batch, self.rank, self.K), dtype=self.dtype)
        self.A = np.zeros((self.batch, self.rank, self.n, self.k), dtype=self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, K={self.K}, k={self.k}, rank={self.rank}, batch={self.batch})"

    def _reset_rows(self, rows: np.ndarray) -> None:
        self.u[rows] = 0.0
        self.A[rows] = 0.0

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """(u, A) with G̃ = Σ_i u_i ⊗ A_i, for the methods below; a subclass may keep a scale aside."""
        return self.u, self.A

    def influence(self) -> np.ndarray:
        return np.einsum("brp,braq->bapq", *self._factors())

    def mean_influence(self) -> np.ndarray:
        """Σ_i u_i ⊗ A_i averaged over the batch rows, (n, K, k), without forming each row densely."""
        u, A = self._factors()
        u = u.reshape(-1, self.K)
        A = A.reshape(u.shape[0], self.n * self.k)
        # One BLAS product (K, B r) @ (B r, n k), then the axes put in the order (n, K, k).
        return np.ascontiguousarray((u.T @ A).reshape(self.K, self.n, self.k).transpose(1, 0, 2)) / self.batch

    def squared_error(self, G: object) -> np.ndarray:
        """‖Σ_i u_i ⊗ A_i − G‖²_F per row, from the factors: ‖G̃‖² − 2⟨G̃, G⟩ + ‖G‖², (B,)."""
        G_arr = self._check_G(G)
        u, A = self._factors()
        A_flat = A.reshape(self.batch, self.rank, self.n * self.k)
        gram = np.matmul(u, u.swapaxes(1, 2)) * np.matmul(A_flat, A_flat.swapaxes(1, 2))
        if G_arr.ndim == 3:
            # (B r, K) @ (K, n k) as one BLAS product: the bulk of the work when G is shared by all rows.
            G_flat = G_arr.transpose(1, 0, 2).reshape(self.K, self.n * self.k)
            uG = (u.reshape(-1, self.K) @ G_flat).reshape(A.shape)
            g_norm2 = np.einsum("apq,apq->", G_arr, G_arr)
        else:
            uG = np.einsum("bip,bapq->biaq", u, G_arr)
            g_norm2 = np.einsum("bapq,bapq->b", G_arr, G_arr)
        cross = np.einsum("biaq,biaq->b", uG, A)
        return np.maximum(gram.sum(axis=(1, 2)) - 2.0 * cross + g_norm2, 0.0)

    def _gradient(self, delta: np.ndarray) -> np.ndarray:
        # (δ·A_i) first: O(B r n k), then the outer products with u_i: O(B r K k).
        u, A = self._factors()
        dA = np.einsum("ba,braq->brq", delta, A).reshape(-1, self.k)
        return u.reshape(-1, self.K).T @ dA
