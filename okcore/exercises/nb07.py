"""Exercises of notebook 07 (the OK algorithm): the unit vector w of the mixing, and the symmetric recombination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import GatedCell
from okcore.demos.ksums import all_sign_patterns, kron_sum, make_instance
from okcore.demos.ok_step import ok_parts, recombine
from okcore.exercises import exercise

# --- 07.1: the unit vector w ---------------------------------------------------------------------------------

SIGMA_W = (2.0, 1.0, 0.9, 0.6)


def _reference_w() -> np.ndarray:
    # r = 3. Keep/mix: q = 0 fails (3·2.0 > 4.5), q = 1 holds (2·1.0 <= 2.5): keep 2.0, mix the other three.
    sigma = np.array(SIGMA_W)
    mix = np.array([False, True, True, True])
    m = int(mix.sum())
    c = (m - 1) / sigma[mix].sum()
    return np.where(mix, np.sqrt(np.clip(1.0 - c * sigma, 0.0, None)), 0.0)


@exercise("07.1", "the unit vector w for σ = (2, 1, 0.9, 0.6)", _reference_w)
def _check_w(answer: Any) -> tuple[bool, str]:
    try:
        w = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return False, "Give w as an array of 4 numbers."
    if w.shape != (4,):
        return False, f"w has one entry per singular value: shape (4,), got {w.shape}."
    want = _reference_w()
    if np.allclose(w, want, atol=1e-9):
        return True, "Σ w_i² = 1, and 1 − w_i² = c σ_i is the diagonal of the mixing's Gram matrix."
    if np.allclose(w, -want, atol=1e-9):
        return False, "Up to sign; take the non-negative root w_i = √(1 − c σ_i)."
    if abs(w[0]) > 1e-9:
        return False, "σ_1 = 2 is kept exactly (the rule fails at q = 0 and holds at q = 1), so w_1 = 0."
    norm = float(np.linalg.norm(w))
    if not np.isclose(norm, 1.0, atol=1e-9):
        return False, f"w should be a unit vector (yours has norm {norm:.3g}); check c = (m − 1)/S with m = 3."
    return False, "w_i = √(1 − c σ_i) on the mixed indices, with c = (m − 1)/S and S the sum of the mixed values."


# --- 07.2: the symmetric recombination -----------------------------------------------------------------------


def _reference_recombine() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def recombine_optimal(
        R: np.ndarray, signs: np.ndarray, u_tilde: np.ndarray, A_tilde: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """u'_j = Σ_i s_i R_ji ũ_i and A'_j = Σ_i s_i R_ji Ã_i: the same coefficients on both sides."""
        coef = R * signs[None, :]
        return coef @ u_tilde, np.einsum("ji,iaq->jaq", coef, A_tilde)

    return recombine_optimal


def _parts():
    rng = np.random.default_rng(702)
    cell = GatedCell(2, 3, rng)
    inst = make_instance(cell, 2, rng)
    return ok_parts(inst.v, inst.M)


@exercise("07.2", "the symmetric recombination", _reference_recombine)
def _check_recombine(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function recombine_optimal(R, signs, u_tilde, A_tilde) returning (u_new, A_new)."
    parts = _parts()
    P = parts.target
    scale = float(np.linalg.norm(P))
    outs = []
    for s in all_sign_patterns(parts.sigma.size):
        res = answer(parts.R.copy(), s.copy(), parts.u_tilde.copy(), parts.A_tilde.copy())
        try:
            u_new, A_new = (np.asarray(x, dtype=float) for x in res)
        except (TypeError, ValueError):
            return False, "Return a pair (u_new, A_new)."
        u_ref, A_ref = recombine(parts, s)
        if u_new.shape != u_ref.shape or A_new.shape != A_ref.shape:
            return False, f"Expected shapes {u_ref.shape} and {A_ref.shape}, got {u_new.shape} and {A_new.shape}."
        outs.append((s, u_new, A_new, u_ref, A_ref))
    dense = np.stack([kron_sum(o[1], o[2]) for o in outs])
    bias = float(np.linalg.norm(dense.mean(axis=0) - P)) / scale
    if bias > 1e-9:
        return False, (
            f"Averaged over all sign vectors the new sum is off by {bias:.2g} (relative): the signs s_i must multiply "
            "the coefficients on both sides, so that they appear squared on the diagonal."
        )
    for s, u_new, A_new, u_ref, A_ref in outs:
        if not np.allclose(kron_sum(u_new, A_new), kron_sum(u_ref, A_ref), rtol=1e-9, atol=1e-12 * scale):
            return False, f"Unbiased, but the result for signs {s} differs from OK's: is the variance minimal?"
        nu = np.linalg.norm(u_new, axis=1)
        nA = np.linalg.norm(A_new.reshape(len(A_new), -1), axis=1)
        if not np.allclose(nu, nA, rtol=1e-9):
            return False, (
                "The sum is right but the split is not symmetric: use the same coefficients R_ji s_i on both sides."
            )
    return True, "Each new pair has ‖u'_j‖ = ‖A'_j‖ = ‖R_j‖, and the error is the same for every sign vector."
