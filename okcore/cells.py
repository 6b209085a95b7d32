"""Recurrent cells whose immediate Jacobian factorises as F_t = x̂_t ⊗ D_t.

Both cells read the row x̂_t = [x_t; h_{t-1}; 1] of length K = n_in + n + 1 and compute pre-activations
z_t = x̂_t W with W of shape (K, k). Their ``step`` returns a :class:`Step` carrying everything RTRL needs:
the new state h_t, x̂_t, the state Jacobian H_t = ∂h_t/∂h_{t-1} and D_t = ∂h_t/∂z_t.

D_t is sparse: D[a, q] is non-zero only where q % n == a (one diagonal block per n columns of W). A
:class:`Step` stores just those entries, ``d`` of shape (B, k), so that D[a, q] = d[q] if q % n == a else 0;
``Step.D`` builds the dense (n, k) matrix on demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from okcore._checks import check_array, check_dtype, check_positive_float, check_positive_int, check_rng

__all__ = ["Step", "TanhCell", "GatedCell", "sigmoid"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, written through tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class Step:
    """One step of a cell. Arrays have a leading batch axis B unless the step was taken on 1-D inputs.

    Attributes:
        x: input x_t, (B, n_in).
        h_prev: previous state h_{t-1}, (B, n).
        xhat: x̂_t = [x_t; h_{t-1}; 1], (B, K).
        h: new state h_t, (B, n).
        H: ∂h_t/∂h_{t-1}, (B, n, n).
        d: the non-zero entries of D_t = ∂h_t/∂z_t, (B, k): D[a, q] = d[q] where q % n == a.
    """

    x: np.ndarray
    h_prev: np.ndarray
    xhat: np.ndarray
    h: np.ndarray
    H: np.ndarray
    d: np.ndarray

    @property
    def batched(self) -> bool:
        """True when the arrays carry a leading batch axis."""
        return self.h.ndim == 2

    @property
    def n_hidden(self) -> int:
        return self.h.shape[-1]

    @property
    def D(self) -> np.ndarray:
        """Dense D_t, (B, n, k) (or (n, k) unbatched). For teaching and tests, not for hot paths."""
        n, k = self.n_hidden, self.d.shape[-1]
        d = self.d.reshape(-1, k)
        dense = np.zeros((d.shape[0], n, k), dtype=d.dtype)
        cols = np.arange(k)
        dense[:, cols % n, cols] = d
        return dense if self.batched else dense[0]

    def as_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xhat (B, K), H (B, n, n), d (B, k)), adding a batch axis of 1 to an unbatched step."""
        if self.batched:
            return self.xhat, self.H, self.d
        return self.xhat[None], self.H[None], self.d[None]


class _Cell:
    """Shared machinery: weights, shape checks, x̂ assembly.

    Args:
        n_in: size of the input x_t.
        n_hidden: n, the number of hidden units.
        rng: a Generator or an integer seed for the initial weights W ~ N(0, scale²), shape (K, k).
        scale: standard deviation of the initial weights; default 1/sqrt(K).
        dtype: ``float64`` (default) or ``float32``: the type of W and of every array ``step`` returns; inputs
            are converted to it. float32 halves memory and is faster on large n, but exactness checks need float64.
    """

    n_blocks: int  # k = n_blocks * n

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        rng: np.random.Generator | int | None = None,
        scale: float | None = None,
        dtype: str | np.dtype | type = np.float64,
    ) -> None:
        self.n_in = check_positive_int("n_in", n_in)
        self.n_hidden = check_positive_int("n_hidden", n_hidden)
        rng = check_rng("rng", rng, type(self).__name__)
        self.K = self.n_in + self.n_hidden + 1
        self.k = self.n_blocks * self.n_hidden
        std = 1.0 / np.sqrt(self.K) if scale is None else check_positive_float("scale", scale)
        # drawn in float64 and rounded, so that a float32 cell starts from the float64 cell's weights
        self._W = rng.normal(0.0, std, size=(self.K, self.k)).astype(check_dtype("dtype", dtype))

    @property
    def W(self) -> np.ndarray:
        """Recurrent weights, (K, k)."""
        return self._W

    @W.setter
    def W(self, value: np.ndarray) -> None:
        self._W = check_array("W", value, (self.K, self.k), dtype=self.dtype).copy()

    @property
    def dtype(self) -> np.dtype:
        """The floating-point type of W and of every array a step returns: float64 (default) or float32."""
        return self._W.dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_in={self.n_in}, n_hidden={self.n_hidden}, K={self.K}, k={self.k})"

    def initial_state(self, batch: int | None = None) -> np.ndarray:
        """Zero state, (n,) or (batch, n)."""
        if batch is None:
            return np.zeros(self.n_hidden, dtype=self.dtype)
        return np.zeros((check_positive_int("batch", batch), self.n_hidden), dtype=self.dtype)

    def _inputs(self, x: object, h: object) -> tuple[np.ndarray, np.ndarray]:
        x_arr = np.asarray(x)
        if x_arr.ndim not in (1, 2):
            raise ValueError(f"x: expected shape ({self.n_in},) or (B, {self.n_in}), got shape {x_arr.shape}")
        if x_arr.ndim == 1:
            x2 = check_array("x", x, (self.n_in,), dtype=self.dtype)[None]
            h2 = check_array("h", h, (self.n_hidden,), dtype=self.dtype)[None]
        else:
            x2 = check_array("x", x, (None, self.n_in), dtype=self.dtype)
            if x2.shape[0] == 0:
                raise ValueError(f"x: expected at least one row, got shape {x2.shape}")
            h2 = check_array("h", h, (x2.shape[0], self.n_hidden), dtype=self.dtype)
        return x2, h2

    def xhat(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """x̂ = [x; h; 1], (B, K) from (B, n_in) and (B, n)."""
        return np.concatenate([x, h, np.ones((x.shape[0], 1), dtype=x.dtype)], axis=1)

    def step(self, x: object, h: object) -> Step:
        """Advance the state by one step. ``x``: (n_in,) or (B, n_in); ``h``: (n,) or (B, n)."""
        unbatched = np.ndim(x) == 1
        x2, h2 = self._inputs(x, h)
        step = self._step(x2, h2)
        if unbatched:
            return Step(*(a[0] for a in (step.x, step.h_prev, step.xhat, step.h, step.H, step.d)))
        return step

    def _step(self, x: np.ndarray, h: np.ndarray) -> Step:
        """``step`` on batched inputs (B, n_in), (B, n) of the cell's dtype that the caller has checked already."""
        xhat = self.xhat(x, h)
        h_new, d, H = self._forward(xhat @ self._W, h)
        return Step(x, h, xhat, h_new, H, d)

    def transition(self, z: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """h_t as a function of the pre-activations z (B, k) and h_{t-1} (B, n); used to check D."""
        z2 = check_array("z", z, (None, self.k), dtype=self.dtype)
        h2 = check_array("h_prev", h_prev, (z2.shape[0], self.n_hidden), dtype=self.dtype)
        return self._forward(z2, h2)[0]

    def _h_part(self) -> np.ndarray:
        """The rows of W that multiply h_{t-1}, transposed and split by block: (n_blocks, n, n).

        Entry [j, a, i] = W[n_in + i, j*n + a] = ∂z[j*n + a]/∂h_{t-1}[i].
        """
        n = self.n_hidden
        return self._W[self.n_in : self.n_in + n].T.reshape(self.n_blocks, n, n)

    def _forward(self, z: np.ndarray, h_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError


class TanhCell(_Cell):
    """h_t = tanh(x̂_t W), W of shape (K, n). D_t = diag(1 - h_t²), H_t = D_t W_hᵀ."""

    n_blocks = 1

    def _forward(self, z: np.ndarray, h_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h = np.tanh(z)
        d = 1.0 - h * h
        H = d[:, :, None] * self._h_part()[0]
        return h, d, H


class GatedCell(_Cell):
    """The paper's gated cell: [z_c, z_f] = x̂ W, c = 2σ(z_c) − 1, f = σ(z_f), h = f ⊙ h_prev + (1 − f) ⊙ c.

    W has shape (K, 2n): the first n columns give z_c, the last n give z_f. With c' = 2σ(z_c)(1 − σ(z_c)) and
    f' = f(1 − f): d = [(1 − f) ⊙ c', (h_prev − c) ⊙ f'] and H = diag(f) + Σ_blocks diag(d_block) W_h,blockᵀ.
    """

    n_blocks = 2

    def _forward(self, z: np.ndarray, h_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n_hidden
        s = sigmoid(z)  # one call for both blocks
        s_c, f = s[:, :n], s[:, n:]
        c = 2.0 * s_c - 1.0
        h = f * h_prev + (1.0 - f) * c
        d = np.concatenate([(1.0 - f) * 2.0 * s_c * (1.0 - s_c), (h_prev - c) * f * (1.0 - f)], axis=1)
        Wh = self._h_part()
        H = d[:, :n, None] * Wh[0] + d[:, n:, None] * Wh[1]
        idx = np.arange(n)
        H[:, idx, idx] += f
        return h, d, H
