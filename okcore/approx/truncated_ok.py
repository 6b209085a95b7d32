"""Truncated OK: the best deterministic Kronecker-rank-r approximation of each step, OK's biased twin.

Each batch row keeps G̃ = Σ_{j=1..r} u_j ⊗ A_j, as OK does, and one step of the recursion turns it into the
r + 1 exact terms Σ_j v_j ⊗ M_j with v = (u_1, ..., u_r, x̂) and M = (H A_1, ..., H A_r, D). Under the
rearrangement u ⊗ A ↦ u vec(A)ᵀ this is a K × nk matrix P with singular values σ_1 ≥ ... ≥ σ_{r+1}, i.e.
P = Σ_i σ_i ũ_i ⊗ Ã_i with orthonormal ũ_i and Ã_i. Where OK mixes the smallest values into r random terms
(unbiased, minimal variance), truncation keeps the r largest terms and drops the last one:

    u'_j = √σ_j ũ_j,    A'_j = √σ_j Ã_j,    j = 1..r,

the best rank-r approximation of P in Frobenius norm (Eckart–Young), with squared error σ_{r+1}² at this step.
The update is deterministic; the error is systematic (a bias), and it accumulates through the recursion like
OK's noise does. The linear algebra is OK's (:mod:`okcore.approx.ok`: bases of the two spans, the (r+1) × (r+1)
core and its SVD, the new A' as one small coefficient matrix times M); only the split differs. The factors of
each pair have equal norms √σ_j.

Comparing it with OK isolates what the random mixing buys: the same memory, the same kind of work per step, and
the same r + 1 terms to choose from, but a systematic error in place of a zero-mean one.
"""

from __future__ import annotations

import math

import numpy as np

from okcore.approx.ok import _SIGMA_FLOOR, _SIGMA_TOL, OK, _qr, _svd_u_s
from okcore.cells import _Cell

__all__ = ["TruncatedOK"]


class _NoSigns:
    """Refuses to be asked for signs: truncation draws none."""

    def signs(self, shape: tuple[int, ...]) -> np.ndarray:  # pragma: no cover - never called
        raise RuntimeError("TruncatedOK draws no random signs")


class TruncatedOK(OK):
    """The rank-r truncation of the (r+1)-term sum at each step (see the module docstring). Deterministic, biased.

    Args:
        cell: the cell whose influence is tracked.
        rank: number r of Kronecker terms kept, 1 <= r < K.
        batch: number B of sequences, each with its own estimate.

    State: ``u`` (B, r, K), ``A`` (B, r, n, k) with G̃ = Σ_j u_j ⊗ A_j. Diagnostics of the latest update:
    ``last_dropped`` (B,) σ_{r+1}², the squared error it added (there is no variance: ``last_variance`` is 0);
    ``last_singular_values`` (B, r+1).
    """

    def __init__(self, cell: _Cell, rank: int, batch: int = 1) -> None:
        super().__init__(cell, rank, batch, rng=_NoSigns())
        self.last_dropped = np.zeros(self.batch)

    def __repr__(self) -> str:
        return f"TruncatedOK(n={self.n}, K={self.K}, k={self.k}, rank={self.rank}, batch={self.batch})"

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        B, r = self.batch, self.rank
        A = self._writable_A()
        if np.shape(self.u) != (B, r, self.K):
            raise ValueError(f"u: expected shape {(B, r, self.K)}, got {np.shape(self.u)}")
        np.matmul(H[:, None], A, out=self._HA)  # H A_j: (B, r, n, k)
        V = self._V
        V[:, :r] = self.u
        V[:, r] = xhat
        try:
            S, used_qr = self._m_basis(d)  # SᵀS = M Mᵀ
            Qv, Rv = _qr(V.transpose(0, 2, 1), self._upper)  # Vᵀ = Q_v R_v
        except np.linalg.LinAlgError:
            if not np.isfinite(self._HA.sum() + V.sum()):
                bad = ~np.isfinite(self._HA.sum(axis=(1, 2, 3)) + V.sum(axis=(1, 2)))
                raise self._overflow(H, "the terms H A_j or u_j are inf or NaN", bad) from None
            raise
        core = Rv @ S.transpose(0, 2, 1)
        flat = core.reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            sq_core = flat.dot(flat)
        if not math.isfinite(sq_core):
            with np.errstate(all="ignore"):
                bad = ~np.isfinite((core * core).sum(axis=(1, 2)))
            raise self._overflow(H, "the core R_v Sᵀ, before its SVD, has no finite squared norm", bad)
        U, sigma = _svd_u_s(core)
        sigma *= sigma > np.maximum(_SIGMA_TOL * sigma[:, :1], _SIGMA_FLOOR)
        inv_sqrt = np.divide(1.0, np.sqrt(sigma), out=np.zeros_like(sigma), where=sigma > 0.0)

        # u'_j = √σ_j ũ_j with ũ = Q_v U; A'_j = √σ_j Ã_j = (1/√σ_j) Mᵀ R_vᵀ U_j (as σ_j Ã_j = Pᵀ ũ_j).
        # The sign of each singular pair cancels in u'_j ⊗ A'_j, so no convention is needed.
        u_tilde = Qv @ U[:, :, :r]  # (B, K, r)
        self.u = (u_tilde * np.sqrt(sigma[:, None, :r])).transpose(0, 2, 1).astype(self.dtype, copy=False)
        T = ((U[:, :, :r] * inv_sqrt[:, None, :r]).transpose(0, 2, 1) @ Rv).astype(self.dtype, copy=False)
        self._recombine(T, A, d)

        self.last_singular_values = sigma
        self.last_dropped = sigma[:, r] ** 2
        self.last_variance = np.zeros(B)
        self.last_n_mixed = np.zeros(B, dtype=int)
        self._keep = np.ones_like(sigma, dtype=bool)
        self.last_used_qr = used_qr
