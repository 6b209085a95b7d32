"""Optimisers for online training: Adam, and clipping by global norm."""

from __future__ import annotations

import numpy as np

from okcore._checks import check_positive_float

__all__ = ["Adam", "clip_by_global_norm"]


def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Scale all gradients by one factor so that their joint L2 norm is at most ``max_norm``.

    Returns the (possibly scaled) gradients and the norm before clipping.
    """
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if norm > max_norm:
        scale = max_norm / norm  # a Python float: float32 gradients stay float32
        grads = [g * scale for g in grads]
    return grads, norm


class Adam:
    """Adam (Kingma & Ba) updating a list of arrays in place.

    Args:
        params: the arrays to update (updated in place, so pass the arrays the model uses).
        lr: learning rate; beta1, beta2, eps: the usual constants (TensorFlow's defaults).
    """

    def __init__(
        self, params: list[np.ndarray], lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.params = params
        self.lr = check_positive_float("lr", lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        """One update p ← p − lr_t · m / (sqrt(v) + eps) with lr_t = lr · sqrt(1 − β2^t) / (1 − β1^t).

        This is TensorFlow's form: the bias corrections go into the step size, eps is added to sqrt(v) itself.
        """
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # a Python float, so that float32 parameters stay float32 (a numpy float64 scalar would promote them)
        step_size = float(self.lr * np.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t))
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= step_size * m / (np.sqrt(v) + self.eps)
