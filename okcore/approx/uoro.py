"""UORO: unbiased online recurrent optimisation, a rank-one estimate G̃ = s̃ θ̃ᵀ of the influence matrix.

Per batch row the estimate is the outer product of a state-space vector s̃ (n,) and a parameter-space matrix
θ̃ (K, k): G̃[a, p, q] = s̃[a] θ̃[p, q]. Each step draws ν ∈ {±1}^n and sets

    s̃ ← ρ0 H s̃ + ρ1 ν,        θ̃ ← θ̃ / ρ0 + (νᵀ F) / ρ1,

where νᵀF = x̂ ⊗ (ν D) (so F is never formed). Multiplying out, s̃'θ̃'ᵀ = H s̃θ̃ᵀ + ννᵀF + terms linear in ν; as
E[ννᵀ] = I and ρ1 depends on ν only through ‖νD‖ (the same for ν and −ν), the update is unbiased.

The scales balance the norms of the two cross terms, which are the whole variance that depends on them:

    ρ0 = √((‖θ̃‖ + ε) / (‖H s̃‖ + ε)),        ρ1 = √((‖x̂‖ ‖νD‖ + ε) / (‖ν‖ + ε)),   ‖ν‖ = √n,

with all norms Frobenius norms. ε (default 1e-7) keeps them finite at the zero start (there ρ0 = 1) and when
D = 0; it is far below the norms met in practice, so it does not change ρ otherwise. ``balance=False`` uses
ρ0 = ρ1 = 1 instead, to show what the balancing buys.
"""

from __future__ import annotations

import math

import numpy as np

from okcore._checks import check_positive_float
from okcore.approx.kf import _check_bool
from okcore.cells import _Cell
from okcore.estimator import Estimator
from okcore.signs import SignSource, as_sign_source

__all__ = ["UORO"]


class UORO(Estimator):
    """UORO with a batch axis: per row a rank-one estimate G̃ = s̃ θ̃ᵀ.

    Args:
        cell: the cell whose influence is tracked.
        batch: number of sequences B; each row has its own estimate and its own signs.
        rng: a ``numpy.random.Generator``, an integer seed, or a sign source (e.g.
            :class:`okcore.signs.ReplaySigns`). Each update asks for one array of signs ν of shape (B, n).
        eps: the ε of the scales ρ0, ρ1 (a positive number).
        balance: use the norm-balancing scales ρ0, ρ1; False uses ρ0 = ρ1 = 1.

    State: ``s`` (B, n) and ``theta`` (B, K, k); both may be read, written in place or assigned. Diagnostics:
    ``last_rho0``, ``last_rho1`` (B,), the scales of the latest update. Cost per step and row: O(n² + K k) time
    and memory, i.e. O(n²).

    Internally θ̃ = γ Θ with a scalar γ per row, so that the step's division by ρ0 touches γ only and the large
    array Θ is swept just twice per step (its norm, and the rank-one update). Reading ``theta`` folds γ into Θ.
    """

    # γ is folded into Θ when it leaves [1/_GAMMA_LIMIT, _GAMMA_LIMIT] (checked every 8 steps).
    _GAMMA_LIMIT = 1e100

    def __init__(
        self,
        cell: _Cell,
        batch: int = 1,
        rng: np.random.Generator | int | SignSource | None = None,
        *,
        eps: float = 1e-7,
        balance: bool = True,
    ) -> None:
        super().__init__(cell, batch)
        self.signs = as_sign_source(rng, type(self).__name__)
        self.eps = check_positive_float("eps", eps)
        self.balance = _check_bool("balance", balance)
        B, n, K, k = self.batch, self.n, self.K, self.k
        self._blocks = k // n
        self._norm_nu = np.sqrt(n)  # ‖ν‖ for ν ∈ {±1}^n
        self.s = np.zeros((B, n), dtype=self.dtype)
        self._Theta = np.zeros((B, K, k), dtype=self.dtype)
        self._Theta_rows = self._Theta.reshape(B, 1, K * k)
        self._gamma = np.ones(B)  # float64 whatever the dtype: a scale, not part of the large arrays
        # γ's range before it is folded into Θ: Θ = θ̃/γ must stay far from under- and overflow in its own type
        self._gamma_limit = self._GAMMA_LIMIT if self.dtype == np.float64 else 1e6
        self._scaled = False  # True when some γ may differ from 1
        self._s_bound = self.s
        self._ones = np.ones(B)
        self.last_rho0 = self._ones
        self.last_rho1 = self._ones

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", eps={self.eps:g}, balance={self.balance})"

    @property
    def theta(self) -> np.ndarray:
        """θ̃, (B, K, k): the parameter-space factor of the estimate (a live array; in-place edits count)."""
        self._fold_gamma()
        return self._Theta

    @theta.setter
    def theta(self, value: object) -> None:
        arr = np.asarray(value)
        if arr.shape != self._Theta.shape:
            raise ValueError(f"theta: expected shape {self._Theta.shape}, got shape {arr.shape}")
        self._Theta[...] = arr
        self._gamma[:] = 1.0
        self._scaled = False

    def _fold_gamma(self) -> None:
        if self._scaled:
            self._Theta *= self._gamma[:, None, None]
            self._gamma[:] = 1.0
            self._scaled = False

    def _reset_rows(self, rows: np.ndarray) -> None:
        self.s[rows] = 0.0
        self._Theta[rows] = 0.0
        self._gamma[rows] = 1.0

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        B, n, k = self.batch, self.n, self.k
        if self.s is not self._s_bound:  # a user assigned s
            s = np.asarray(self.s, dtype=self.dtype)
            if s.shape != (B, n):
                raise ValueError(f"s: expected shape {(B, n)}, got shape {s.shape}")
            self.s = s
        s = self.s
        nu = self.signs.signs((B, n)).astype(self.dtype, copy=False)
        Hs = np.matmul(H, s[:, :, None])  # (B, n, 1)
        nuD = (d.reshape(B, self._blocks, n) * nu[:, None, :]).reshape(B, k)  # (ν D)[q] = ν[q % n] d[q]
        if self.balance:
            eps = self.eps
            rows = self._Theta_rows
            sq_Theta = np.matmul(rows, rows.swapaxes(1, 2))[:, 0, 0]
            sq_Hs = np.matmul(Hs.swapaxes(1, 2), Hs)[:, 0, 0]
            # ‖νᵀF‖ = ‖x̂‖ ‖ν D‖, and ‖ν D‖ = ‖d‖ because ν² = 1: ρ1 does not depend on the signs.
            norm_F = np.sqrt(np.einsum("bp,bp->b", xhat, xhat) * np.einsum("bq,bq->b", d, d))
            rho0 = np.sqrt((self._gamma * np.sqrt(sq_Theta) + eps) / (np.sqrt(sq_Hs) + eps))
            # ‖H s̃‖² inf makes ρ0 = 0, γ ‖Θ‖ inf makes ρ0 inf, NaN stays NaN: in every case ρ0 · ‖H s̃‖² is not finite
            if not math.isfinite(rho0.dot(sq_Hs)):
                with np.errstate(all="ignore"):
                    bad = ~np.isfinite(rho0 * sq_Hs)
                raise self._overflow(H, "the norms ‖H s̃‖, ‖θ̃‖ used for balancing are inf or NaN", bad)
            rho1 = np.sqrt((norm_F + eps) / (self._norm_nu + eps))
            self.s = (rho0[:, None] * Hs[:, :, 0] + rho1[:, None] * nu).astype(self.dtype, copy=False)
            gamma = self._gamma
            gamma /= rho0
            self._scaled = True
            # θ̃' = γ' Θ' with γ' = γ/ρ0 and Θ' = Θ + x̂ ⊗ (ν D) / (ρ1 γ').
            coef = (xhat / (rho1 * gamma)[:, None]).astype(self.dtype, copy=False)
            self._Theta += coef[:, :, None] * nuD[:, None, :]
            if not self.t & 7 and not np.all(np.abs(np.log10(gamma)) < np.log10(self._gamma_limit)):
                self._fold_gamma()
        else:
            rho0 = rho1 = self._ones
            self.s = Hs[:, :, 0] + nu
            if not math.isfinite(self.s.sum()):
                raise self._overflow(H, "the state-space factor s̃ is inf or NaN", ~np.isfinite(self.s.sum(axis=1)))
            self._Theta += xhat[:, :, None] * nuD[:, None, :]  # γ stays 1 without balancing
        self._s_bound = self.s
        self.last_rho0, self.last_rho1 = rho0, rho1

    def influence(self) -> np.ndarray:
        s = (self.s * self._gamma[:, None]).astype(self.dtype, copy=False)
        return s[:, :, None, None] * self._Theta[:, None, :, :]

    def squared_error(self, G: object) -> np.ndarray:
        """‖s̃ θ̃ᵀ − G‖²_F per row from the factors: ‖s̃‖²‖θ̃‖² − 2 Σ_a s̃[a]⟨θ̃, G[a]⟩ + ‖G‖², (B,)."""
        G_arr = self._check_G(G)
        B = self.batch
        s = self.s * self._gamma[:, None]
        theta = self._Theta.reshape(B, -1)
        sq = np.einsum("ba,ba->b", s, s) * np.einsum("bx,bx->b", theta, theta)
        if G_arr.ndim == 3:
            G_flat = G_arr.reshape(self.n, -1)
            inner = theta @ G_flat.T  # (B, n): ⟨θ̃_b, G[a]⟩
            sq_G = np.einsum("ax,ax->", G_flat, G_flat)
        else:
            G_flat = G_arr.reshape(B, self.n, -1)
            inner = np.einsum("bx,bax->ba", theta, G_flat)
            sq_G = np.einsum("bax,bax->b", G_flat, G_flat)
        return np.maximum(sq - 2.0 * np.einsum("ba,ba->b", s, inner) + sq_G, 0.0)

    def mean_influence(self) -> np.ndarray:
        """s̃ θ̃ᵀ averaged over the rows, (n, K, k), without forming each row densely."""
        s = self.s * self._gamma[:, None]
        return (s.T @ self._Theta.reshape(self.batch, -1)).reshape(self.n, self.K, self.k) / self.batch

    def _gradient(self, delta: np.ndarray) -> np.ndarray:
        # Σ_b (δ_b · s̃_b) θ̃_b: O(B n + B K k).
        ds = (np.einsum("ba,ba->b", delta, self.s) * self._gamma).astype(self.dtype, copy=False)
        return (ds @ self._Theta.reshape(self.batch, -1)).reshape(self.K, self.k)
