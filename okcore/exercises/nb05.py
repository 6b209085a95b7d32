"""Exercises of notebook 05 (KF-RTRL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.exercises import exercise

_SIGNS = ((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0))


def _reference_ratio() -> Callable[[float, float, float, float], float]:
    def best_ratio(norm_u: float, norm_HA: float, norm_xhat: float, norm_D: float) -> float:
        # minimise ρ² ‖u‖² ‖D‖² + ρ⁻² ‖x̂‖² ‖HA‖²: ρ⁴ = ‖x̂‖² ‖HA‖² / (‖u‖² ‖D‖²)
        return float(np.sqrt(norm_xhat * norm_HA / (norm_u * norm_D)))

    return best_ratio


@exercise("05.1", "the variance-minimising ratio p1/p2", _reference_ratio)
def _check_ratio(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function best_ratio(norm_u, norm_HA, norm_xhat, norm_D)."
    rng = np.random.default_rng(51)
    ref = _reference_ratio()
    cases = [tuple(rng.uniform(0.1, 5.0, size=4)) for _ in range(6)]
    got = np.array([float(answer(*c)) for c in cases])
    want = np.array([ref(*c) for c in cases])
    if np.allclose(got, want, rtol=1e-9):
        return True, ""
    if np.allclose(got, 1.0 / want, rtol=1e-9):
        return False, "Upside down: p1 multiplies u, so a small ‖u‖ (or a large ‖HA‖) calls for a large p1."
    if np.allclose(got, want**2, rtol=1e-9):
        return False, "That is (p1/p2)²; take the square root."
    return False, "Minimise ρ² ‖u‖² ‖D‖² + ρ⁻² ‖x̂‖² ‖HA‖² over ρ = p1/p2 > 0."


def _reference_update() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def kf_update(u, HA, xhat, D, c1, c2):
        p1 = np.sqrt(np.linalg.norm(HA) / np.linalg.norm(u))
        p2 = np.sqrt(np.linalg.norm(D) / np.linalg.norm(xhat))
        return c1 * p1 * u + c2 * p2 * xhat, (c1 / p1) * HA + (c2 / p2) * D

    return kf_update


def _fold_errors(update: Callable, u, HA, xhat, D) -> tuple[np.ndarray, np.ndarray]:
    """(mean over the four sign pairs of u'⊗A', the four squared errors)."""
    target = np.einsum("p,aq->apq", u, HA) + np.einsum("p,aq->apq", xhat, D)
    outs = []
    for c1, c2 in _SIGNS:
        u_new, A_new = update(u.copy(), HA.copy(), xhat.copy(), D.copy(), c1, c2)
        outs.append(np.einsum("p,aq->apq", np.asarray(u_new, dtype=float), np.asarray(A_new, dtype=float)))
    outs = np.array(outs)
    return outs.mean(axis=0), np.sum((outs - target) ** 2, axis=(1, 2, 3))


@exercise("05.2", "a balanced KF update", _reference_update)
def _check_update(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function kf_update(u, HA, xhat, D, c1, c2) returning (u_new, A_new)."
    rng = np.random.default_rng(52)
    for trial in range(3):
        K, n, k = 6, 3, 6
        u, xhat = rng.normal(size=K) * (1 + 3 * trial), rng.normal(size=K)
        HA, D = rng.normal(size=(n, k)), rng.normal(size=(n, k)) / (1 + 3 * trial)
        target = np.einsum("p,aq->apq", u, HA) + np.einsum("p,aq->apq", xhat, D)
        mean, errs = _fold_errors(answer, u, HA, xhat, D)
        if mean.shape != target.shape:
            return False, "Return u_new of shape (K,) and A_new of shape (n, k)."
        if not np.allclose(mean, target, rtol=1e-9, atol=1e-9 * np.abs(target).max()):
            return False, "Not unbiased: the mean over the four sign pairs should be u ⊗ HA + x̂ ⊗ D."
        a, B, b, C = u, HA, xhat, D
        best = 2 * np.linalg.norm(a) * np.linalg.norm(B) * np.linalg.norm(b) * np.linalg.norm(C) + 2 * (a @ b) * np.sum(
            B * C
        )
        if np.max(errs) > best * (1 + 1e-8):
            return False, "Unbiased, but not balanced: choose p1 and p2 so that the added variance is smallest."
    return True, "Unbiased, and every sign pair adds the minimal variance."
