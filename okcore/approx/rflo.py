"""RFLO: random-feedback local online learning (Murray, "Local online learning in recurrent networks with random
feedback", eLife 8:e43299, 2019), its eligibility trace as an influence estimator.

Murray's network is a leaky RNN, h_t = (1 − α) h_{t-1} + α φ(z_t), z_t = x̂_t W. RFLO keeps, for each weight, a
local eligibility trace that sees only the weight's own unit and the leak:

    P_t[p, q] = (1 − α) P_{t-1}[p, q] + α φ'(z_t[q]) x̂_t[p],

i.e. the influence entries G̃[q, p, q] of SnAp-1 (see :mod:`okcore.approx.snap`), propagated not with the diagonal
of H_t but with the part of ∂h_t/∂h_{t-1} that does not pass through the weights: 1 − α. Everything that flows
through W_h (the recurrent weights, including a unit's own self-connection) is dropped.

Here, for any cell, the *leak* λ_t is that part: λ_t = diag(H_t − D_t W_hᵀ), H_t minus its route through the
recurrent weights (W_h: the rows of W that multiply h_{t-1}). So

    J_t[p, q] = λ_t[a(q)] J_{t-1}[p, q] + x̂_t[p] d_t[q],        a(q) = q mod n,

with J[p, q] = G̃[a(q), p, q]. For the gated cell, h_t = f ⊙ h_{t-1} + (1 − f) ⊙ c, the leak is the forget gate,
λ_t = f_t (data-dependent, where Murray's is a constant 1 − α, and (1 − f) plays the part of α inside d). The tanh
cell h_t = tanh(x̂ W) has no leak: λ = 0 and the trace is the immediate term x̂_t ⊗ D_t alone. ``leak=`` a number
in [0, 1) uses that constant instead (Murray's 1 − α), for either cell.

Murray also replaces the readout's transpose by a fixed random matrix when the error is sent back to the hidden
units ("random feedback"). That concerns the error signal δ_t = ∂L_t/∂h_t, which okcore's training loop computes
from the readout and hands to ``gradient``; this class uses the δ it is given (the true one), so that what is
measured is the effect of the trace alone.

Deterministic and biased; cost per step and row O(K k) time and memory, as SnAp-1.
"""

from __future__ import annotations

import numbers

import numpy as np

from okcore.approx.snap import _DiagonalTrace
from okcore.cells import _Cell

__all__ = ["RFLO"]


class RFLO(_DiagonalTrace):
    """RFLO's eligibility trace (see the module docstring): G̃ keeps the entries [q mod n, p, q]; they decay with
    the cell's leak λ_t = diag(H_t − D_t W_hᵀ) (the forget gate of the gated cell, 0 for the tanh cell), or with a
    constant ``leak``.

    Args:
        cell: the cell whose influence is tracked; its current W is read at each update (for the leak).
        batch: number B of sequences, each with its own estimate.
        leak: ``None`` (the cell's own leak) or a constant in [0, 1).

    State: ``J`` (B, K, k), J[b, p, q] = G̃[b, q mod n, p, q]. Diagnostics: ``last_decay`` (B, n), the leak used in
    the latest update.
    """

    def __init__(self, cell: _Cell, batch: int = 1, leak: float | None = None) -> None:
        super().__init__(cell, batch)
        if leak is not None:
            if isinstance(leak, bool) or not isinstance(leak, numbers.Real) or not 0.0 <= leak < 1.0:
                raise ValueError(f"leak: expected None (the cell's own leak) or a number in [0, 1), got {leak!r}")
            leak = float(leak)
        self.leak = leak
        self._cell = cell

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", leak={self.leak!r})"

    def _decay(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> np.ndarray:
        B, n = H.shape[0], self.n
        if self.leak is not None:
            return np.full((B, n), self.leak)
        # diag(D W_hᵀ)[a] = Σ_blocks d_block[a] W_h,block[a, a]; the rest of diag(H) is the leak
        Wh_diag = np.diagonal(self._cell._h_part(), axis1=1, axis2=2)  # (blocks, n)
        through_W = np.einsum("bja,ja->ba", d.reshape(B, self._blocks, n), Wh_diag, dtype=np.float64)
        leak = np.diagonal(H, axis1=1, axis2=2) - through_W
        # the tanh cell's H is D W_hᵀ exactly, the gated cell's leak is f in (0, 1): clip the rounding
        return np.clip(leak, 0.0, 1.0)
