"""Linear softmax readout y_t = [h_t; 1] W_out with cross-entropy loss."""

from __future__ import annotations

import numpy as np

from okcore._checks import (
    check_array,
    check_dtype,
    check_int_array,
    check_positive_float,
    check_positive_int,
    check_rng,
)

__all__ = ["Readout"]

_UNITS = {"nats": 1.0, "bits": 1.0 / np.log(2.0)}


class Readout:
    """Softmax readout with cross-entropy loss in nats (default) or bits.

    Args:
        n_hidden: size n of the state it reads.
        n_out: number of classes.
        rng: a Generator or an integer seed (see :mod:`okcore.signs`) for the initial weights
            W_out ~ N(0, scale²), shape (n + 1, n_out).
        unit: ``"nats"`` or ``"bits"``: the unit of every loss and gradient this readout returns.
        scale: standard deviation of the initial weights; default 1/sqrt(n + 1).
        dtype: ``float64`` (default) or ``float32``: the type of W_out, of the states it reads and of what it returns.
    """

    def __init__(
        self,
        n_hidden: int,
        n_out: int,
        rng: np.random.Generator | int | None = None,
        unit: str = "nats",
        scale: float | None = None,
        dtype: str | np.dtype | type = np.float64,
    ) -> None:
        self.n_hidden = check_positive_int("n_hidden", n_hidden)
        self.n_out = check_positive_int("n_out", n_out)
        rng = check_rng("rng", rng, "Readout")
        if not isinstance(unit, str) or unit not in _UNITS:
            raise ValueError(f"unit: expected 'nats' or 'bits', got {unit!r}")
        self.unit = unit
        std = 1.0 / np.sqrt(n_hidden + 1) if scale is None else check_positive_float("scale", scale)
        self._W_out = rng.normal(0.0, std, size=(self.n_hidden + 1, self.n_out)).astype(check_dtype("dtype", dtype))

    @property
    def W_out(self) -> np.ndarray:
        """Readout weights, (n + 1, n_out); the last row is the bias."""
        return self._W_out

    @W_out.setter
    def W_out(self, value: np.ndarray) -> None:
        self._W_out = check_array("W_out", value, (self.n_hidden + 1, self.n_out), dtype=self.dtype).copy()

    @property
    def dtype(self) -> np.dtype:
        """float64 or float32: the type of W_out."""
        return self._W_out.dtype

    def __repr__(self) -> str:
        return f"Readout(n_hidden={self.n_hidden}, n_out={self.n_out}, unit={self.unit!r})"

    def _batch(self, h: object, y: object | None = None) -> tuple[np.ndarray, np.ndarray | None, bool]:
        unbatched = np.ndim(h) == 1
        if unbatched:
            h2 = check_array("h", h, (self.n_hidden,), dtype=self.dtype)[None]
        else:
            h2 = check_array("h", h, (None, self.n_hidden), dtype=self.dtype)
            if h2.shape[0] == 0:
                raise ValueError(f"h: expected at least one row, got shape {h2.shape}")
        y2 = None
        if y is not None:
            shape = () if unbatched else (h2.shape[0],)
            y2 = check_int_array("y", y, shape, self.n_out).reshape(h2.shape[0])
        return h2, y2, unbatched

    def _log_probs(self, h2: np.ndarray) -> np.ndarray:
        logits = h2 @ self._W_out[:-1] + self._W_out[-1]
        logits = logits - logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def logits(self, h: object) -> np.ndarray:
        """y_t = [h; 1] W_out: (n_out,) or (B, n_out)."""
        h2, _, unbatched = self._batch(h)
        out = h2 @ self._W_out[:-1] + self._W_out[-1]
        return out[0] if unbatched else out

    def probabilities(self, h: object) -> np.ndarray:
        """Softmax of the logits: (n_out,) or (B, n_out)."""
        h2, _, unbatched = self._batch(h)
        p = np.exp(self._log_probs(h2))
        return p[0] if unbatched else p

    def loss(self, h: object, y: object) -> np.ndarray:
        """Cross-entropy of the targets ``y`` (int, or (B,) ints) per row, in this readout's unit."""
        h2, y2, unbatched = self._batch(h, y)
        rows = np.arange(h2.shape[0])
        losses = -self._log_probs(h2)[rows, y2] * _UNITS[self.unit]
        return losses[0] if unbatched else losses

    def loss_and_grads(self, h: object, y: object) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss summed over rows, with its gradients.

        Returns:
            loss: float, Σ_b CE(h_b, y_b) in this readout's unit.
            dL_dh: ∂loss/∂h, same shape as ``h``.
            dW_out: ∂loss/∂W_out, (n + 1, n_out).
        """
        h2, y2, unbatched = self._batch(h, y)
        rows = np.arange(h2.shape[0])
        logp = self._log_probs(h2)
        scale = _UNITS[self.unit]
        loss = float(-logp[rows, y2].sum() * scale)
        dlogits = np.exp(logp)
        dlogits[rows, y2] -= 1.0
        dlogits *= scale
        dL_dh = dlogits @ self._W_out[:-1].T
        dW_out = np.empty_like(self._W_out)
        dW_out[:-1] = h2.T @ dlogits
        dW_out[-1] = dlogits.sum(axis=0)
        return loss, (dL_dh[0] if unbatched else dL_dh), dW_out
