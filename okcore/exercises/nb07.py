"""Exercises of notebook 07 (the OK algorithm): the keep/mix rule, the unit vector w, one OK step at r = 1 and at
general r, and a prediction about the released code's split over time.

The checkers test the reader's functions on fresh random instances: the keep/mix rule against
:func:`okcore.lowrank.split` and :func:`okcore.lowrank.minimal_variance` (with ties and zeros), the OK steps against
:class:`okcore.approx.ok.OK` for every sign vector, with unbiasedness checked by exact enumeration over the signs.
The random steps of the OK checks are drawn so that each mistake the checker knows (see ``_MISTAKES``) changes the
result on every one of them: none can pass by the luck of the draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.cells import GatedCell, TanhCell
from okcore.demos.ksums import Instance, all_sign_patterns, kron_sum, make_instance, random_tokens
from okcore.demos.ok_step import code_split_variance, ok_estimator_outputs, split_noise
from okcore.exercises import FLOAT32, call_answer, describe, exercise
from okcore.lowrank import minimal_variance, mixing_coefficients, split

# --- 07.1: the keep/mix rule ----------------------------------------------------------------------------------


def _reference_keep_mix() -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    def keep_mix(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks (keep, mix), (N,) each, in the order of sigma (N,)."""
        sigma = np.asarray(sigma, dtype=float)
        N = sigma.size
        order = np.argsort(-sigma, kind="stable")  # descending; equal values stay together
        s = sigma[order]
        tail = np.cumsum(s[::-1])[::-1]  # tail[j] = s[j] + ... + s[N-1]
        # smallest q with (r − q) σ_{q+1} <= σ_{q+1} + ... + σ_{r+1}, r = N − 1 (0-based: j = q)
        q = next(j for j in range(N - 1) if (N - 1 - j) * s[j] <= tail[j])
        keep = np.zeros(N, dtype=bool)
        keep[order[:q]] = True
        return keep, ~keep

    return keep_mix


def _keep_mix_cases(rng: np.random.Generator) -> list[np.ndarray]:
    """Hand-picked spectra (the cases wrong rules trip over) followed by fresh random ones with ties and zeros."""
    cases = [
        [3.0, 1.0, 0.9, 0.8, 0.7],  # mixes four
        [2.0, 1.0, 0.9, 0.6],  # keeps one
        [0.6, 2.0, 0.9, 1.0],  # the same, unsorted
        [2.0, 1.0, 1.0],  # the test holds with equality at q = 0: mix all three
        [1.0, 1.0, 1.0, 1.0],  # all equal
        [4.0, 1.0, 1.0, 0.1],  # a tie that must not be separated
        [1.0, 0.0, 0.0],  # zeros
        [5.0, 0.0],  # N = 2 always mixes both
        [0.0, 0.0, 0.0],
    ]
    out = [np.array(c) for c in cases]
    for _ in range(40):
        N = int(rng.integers(2, 8))
        s = rng.exponential(size=N) ** rng.uniform(0.3, 3.0)
        if N > 2 and rng.random() < 0.5:  # a tie
            i, j = rng.choice(N, size=2, replace=False)
            s[i] = s[j]
        if rng.random() < 0.3:  # a zero
            s[rng.integers(N)] = 0.0
        out.append(rng.permutation(s))
    return out


def _mixed_variance(sigma: np.ndarray, mix: np.ndarray) -> float:
    """S²/(m−1) − Σ σ_i² over the mixed values: the error of the best mixing of exactly this set."""
    S, m = float(sigma[mix].sum()), int(mix.sum())
    return S**2 / (m - 1) - float(np.sum(sigma[mix] ** 2))


def _as_masks(result: Any, N: int) -> tuple[np.ndarray, np.ndarray] | str:
    try:
        keep, mix = result
    except (TypeError, ValueError):
        return "Return a pair (keep, mix) of boolean masks."
    keep, mix = np.asarray(keep), np.asarray(mix)
    if keep.shape != (N,) or mix.shape != (N,):
        return f"keep and mix need one entry per singular value: shape ({N},) each, got {keep.shape} and {mix.shape}."
    for name, mask in (("keep", keep), ("mix", mix)):
        if mask.dtype != bool and not np.all((mask == 0) | (mask == 1)):
            return f"{name} should be a boolean mask (True/False per singular value), got {mask}."
    return keep.astype(bool), mix.astype(bool)


def _diagnose_keep_mix(sigma: np.ndarray, keep: np.ndarray, mix: np.ndarray) -> str | None:
    """None if (keep, mix) is OK's split of sigma, else what is wrong."""
    want_keep, want_mix = split(sigma)
    if np.array_equal(keep, want_keep) and np.array_equal(mix, want_mix):
        return None
    at = f"For σ = {np.round(sigma, 4).tolist()}"
    if np.any(keep & mix) or not np.all(keep | mix):
        return f"{at}: every value is either kept or mixed, never both: keep and mix must be complementary."
    m = int(mix.sum())
    if m < 2:
        return (
            f"{at} you mix {m} value(s). r + 1 values must go into r terms, so at least two are mixed (mixing one "
            "value into 0 terms would drop it, which is biased)."
        )
    if sigma[keep].size and sigma[keep].min() < sigma[mix].max():
        if sigma[keep].min() == sigma[mix].max():
            return f"{at} you separate equal values ({sigma[keep].min():.4g}): equal values are kept or mixed together."
        return (
            f"{at} you keep {sigma[keep].min():.4g} but mix the larger {sigma[mix].max():.4g}: the mixed values are "
            "always the smallest ones (is your rule applied to the sorted values, and the masks returned in the order "
            "of the input?)."
        )
    S = float(sigma[mix].sum())
    mu = S / (m - 1)
    top = float(sigma[mix].max())
    if top > mu * (1 + 1e-12):
        return (
            f"{at} you mix {top:.4g}, above the common level μ = S/(m−1) = {mu:.4g} of the mixed values: then "
            f"w_i² = 1 − σ_i/μ < 0, no mixing exists (infeasible). Keep that value."
        )
    mine, best = _mixed_variance(sigma, mix), minimal_variance(sigma)
    if mine > best * (1 + 1e-9) + 1e-15:
        return (
            f"{at} your split is feasible, but mixing more values is possible and lowers the variance: yours gives "
            f"{mine:.4g}, the optimum minimal_variance(σ) is {best:.4g}."
        )
    return (
        f"{at} your split has the optimal variance, but at a tie of the test (r − q) σ_(q+1) = S OK mixes (the rule "
        "uses <=, and takes the smallest such q)."
    )


@exercise("07.1", "the keep/mix rule", _reference_keep_mix)
def _check_keep_mix(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function keep_mix(sigma) returning (keep, mix)."
    cases = _keep_mix_cases(np.random.default_rng())
    for sigma in cases:
        result = call_answer(answer, "keep_mix", {"sigma": sigma})
        if result is None:
            return False, "keep_mix returned None: return the pair (keep, mix)."
        masks = _as_masks(result, sigma.size)
        if isinstance(masks, str):
            return False, masks
        problem = _diagnose_keep_mix(sigma, *masks)
        if problem is not None:
            return False, problem
    return True, f"The same masks as okcore.lowrank.split on {len(cases)} spectra, ties and zeros included."


# --- 07.2: the unit vector w ---------------------------------------------------------------------------------

SIGMA_W = (2.0, 1.0, 0.9, 0.6)


def _reference_w() -> np.ndarray:
    # r = 3. Keep/mix: q = 0 fails (3·2.0 > 4.5), q = 1 holds (2·1.0 <= 2.5): keep 2.0, mix the other three.
    sigma = np.array(SIGMA_W)
    mix = np.array([False, True, True, True])
    m = int(mix.sum())
    c = (m - 1) / sigma[mix].sum()
    return np.where(mix, np.sqrt(np.clip(1.0 - c * sigma, 0.0, None)), 0.0)


@exercise("07.2", "the unit vector w for σ = (2, 1, 0.9, 0.6)", _reference_w)
def _check_w(answer: Any) -> tuple[bool, str]:
    try:
        w = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return False, "Give w as an array of 4 numbers."
    if w.shape != (4,):
        return False, f"w has one entry per singular value: shape (4,), got {w.shape}."
    sigma = np.array(SIGMA_W)
    keep, mix = split(sigma)
    mu = sigma[mix].sum() / (mix.sum() - 1)
    want = np.where(mix, np.sqrt(np.clip(1.0 - sigma / mu, 0.0, None)), 0.0)
    if np.allclose(w, want, atol=1e-9):
        return True, "Σ w_i² = 1, and 1 − w_i² = σ_i/μ is the diagonal of the mixing's Gram matrix divided by μ."
    if np.allclose(w, -want, atol=1e-9):
        return False, "Up to sign; take the non-negative root w_i = √(1 − σ_i/μ)."
    if np.any(np.abs(w[keep]) > 1e-9):
        return False, "σ_1 = 2 is kept exactly (the rule fails at q = 0 and holds at q = 1), so w_1 = 0."
    norm = float(np.linalg.norm(w))
    if not np.isclose(norm, 1.0, atol=1e-9):
        return False, f"w should be a unit vector (yours has norm {norm:.3g}); check μ = S/(m − 1) with m = 3."
    return False, "w_i = √(1 − σ_i/μ) on the mixed indices, with μ = S/(m − 1) and S the sum of the mixed values."


# --- 07.3 and 07.4: one OK step -------------------------------------------------------------------------------

STEPS_R1 = 4  # fresh random steps per check of 07.3
STEPS_GENERAL = 3  # per rank, for 07.4 (r = 2 and r = 3)


def _reference_step_r1() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def ok_step_r1(
        u: np.ndarray, A: np.ndarray, H: np.ndarray, xhat: np.ndarray, D: np.ndarray, s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One OK step at r = 1: u (K,), A (n, k), H (n, n), xhat (K,), D (n, k), s (2,) -> u' (K,), A' (n, k)."""
        HA = H @ A
        Qv, Rv = np.linalg.qr(np.stack([u, xhat], axis=1))  # (K, 2), (2, 2)
        QM, RM = np.linalg.qr(np.stack([HA.ravel(), D.ravel()], axis=1))  # (nk, 2), (2, 2)
        U, sigma, Vt = np.linalg.svd(Rv @ RM.T)  # the 2 × 2 core
        u_t = Qv @ U  # columns ũ_1, ũ_2
        A_t = (QM @ Vt.T).T.reshape(2, *D.shape)  # Ã_1, Ã_2
        coef = s * np.array([np.sqrt(sigma[0]), -np.sqrt(sigma[1])])  # R = (√σ_1, −√σ_2) at r = 1
        return u_t @ coef, np.tensordot(coef, A_t, axes=1)

    return ok_step_r1


def _reference_step() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def ok_step_general(
        u: np.ndarray, A: np.ndarray, H: np.ndarray, xhat: np.ndarray, D: np.ndarray, s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One OK step: u (r, K), A (r, n, k), H (n, n), xhat (K,), D (n, k), s (r+1,) -> u' (r, K), A' (r, n, k)."""
        r = u.shape[0]
        HA = np.einsum("ab,jbq->jaq", H, A)
        Qv, Rv = np.linalg.qr(np.concatenate([u, xhat[None]]).T)  # v_j as columns: (K, r+1)
        QM, RM = np.linalg.qr(np.concatenate([HA, D[None]]).reshape(r + 1, -1).T)  # M_j flattened as columns
        U, sigma, Vt = np.linalg.svd(Rv @ RM.T)  # the (r+1) × (r+1) core
        u_t = (Qv @ U).T  # ũ_i as rows, (r+1, K)
        A_t = (QM @ Vt.T).T.reshape(r + 1, *D.shape)  # Ã_i, (r+1, n, k)
        R = mixing_coefficients(sigma) * s  # (r, r+1): one sign per singular direction
        return R @ u_t, np.tensordot(R, A_t, axes=1)

    return ok_step_general


# Each instance is chosen so that every mistake below changes the result by a clear margin, whatever the instance:
# a random step can hide a mistake (for a 2 × 2 core, numpy's SVD returns a symmetric V̄ whenever det C > 0, and then
# Vt and Vt.T are the same matrix), so the checker keeps drawing steps until none of them is hidden.
_CORES = {
    "right": lambda Rv, RM: Rv @ RM.T,
    "C transposed (R_M R_vᵀ)": lambda Rv, RM: RM @ Rv.T,
    "R_v R_M": lambda Rv, RM: Rv @ RM,
    "R_vᵀ R_M": lambda Rv, RM: Rv.T @ RM,
}
# Two ways of computing the orthonormal bases: np.linalg.qr as it is, and QR with a positive diagonal of R (what
# Gram–Schmidt gives). They differ by the signs of the basis vectors, which changes which mistakes a step can hide.
_CONVENTIONS = ("qr", "positive")


def _qr(X: np.ndarray, convention: str) -> tuple[np.ndarray, np.ndarray]:
    Q, R = np.linalg.qr(X)
    if convention == "positive":
        d = np.where(np.diag(R) < 0, -1.0, 1.0)
        Q, R = Q * d, d[:, None] * R
    return Q, R


def _step_variant(
    u: np.ndarray,
    A: np.ndarray,
    H: np.ndarray,
    xhat: np.ndarray,
    D: np.ndarray,
    s: np.ndarray,
    *,
    convention: str = "qr",
    use_H: bool = True,
    core: str = "right",
    u_basis: str = "U",
    A_basis: str = "Vt.T",
    weight: str = "σ",
    order: str = "CC",
    pairing: str = "same",
) -> tuple[np.ndarray, np.ndarray]:
    """One OK step, u (r, K), A (r, n, k) -> (u' (r, K), A' (r, n, k)), built with at most one deliberate change.

    The changes: the propagation by H left out (``use_H``), a wrong ``core``, ``u_basis`` Uᵀ for U, ``A_basis``
    Vt (= V̄ᵀ) or U for V̄, other weights of the directions (``weight`` σ² or 1: coefficients σ or 1 where √σ
    belongs), the matrices flattened and reshaped back in different orders (``order`` "CF": flattened row by row,
    reshaped column by column; "FC" the other way), and the vectors and matrices paired in different orders
    (``pairing`` "v": x̂ first among the vectors; "M": D first among the matrices).
    """
    r = u.shape[0]
    n, k = D.shape
    HA = np.einsum("ab,jbq->jaq", H, A) if use_H else A
    vs = np.concatenate([xhat[None], u]) if pairing == "v" else np.concatenate([u, xhat[None]])
    Ms = np.concatenate([D[None], HA]) if pairing == "M" else np.concatenate([HA, D[None]])
    flat = Ms.reshape(r + 1, -1) if order[0] == "C" else Ms.transpose(0, 2, 1).reshape(r + 1, -1)
    Qv, Rv = _qr(vs.T, convention)
    QM, RM = _qr(flat.T, convention)
    U, sig, Vt = np.linalg.svd(_CORES[core](Rv, RM))
    u_t = (Qv @ {"U": U, "Ut": U.T}[u_basis]).T
    A_flat = (QM @ {"Vt.T": Vt.T, "Vt": Vt, "U": U}[A_basis]).T
    A_t = A_flat.reshape(r + 1, n, k) if order[1] == "C" else A_flat.reshape(r + 1, k, n).transpose(0, 2, 1)
    R = mixing_coefficients({"σ": sig, "σ²": sig**2, "1": np.ones_like(sig)}[weight]) * s
    return R @ u_t, np.tensordot(R, A_t, axes=1)


_MIXED_ORDER = (
    "The matrices are flattened and reshaped back in different orders: each M_j is flattened row by row "
    "(M.reshape(-1)), so each Ã_i must be reshaped back row by row, .reshape(n, k); .reshape(k, n).T (or "
    'order="F" on one side only) puts its entries in the wrong places.'
)
_PAIRING = (
    "The vectors and the matrices are paired in different orders: the sum to compress is Σ_j v_j ⊗ M_j with "
    "v = (u, x̂) and M = (H A, D) in the same order, so the j-th column stacked for the vectors and the j-th for the "
    "matrices must belong to the same term; yours pairs x̂ with H A."
)
# The mistakes the checker recognises. Each: (its name, the change to the construction, the message). The mean of
# a mistaken step over all sign vectors is compared with the reader's mean, under both conventions.
_MISTAKES: tuple[tuple[str, dict[str, Any], str], ...] = (
    (
        "H",
        {"use_H": False},
        "H is missing: your step compresses Σ u_j ⊗ A_j + x̂ ⊗ D. The old terms must be propagated first, "
        "M_j = H A_j (notebook 03: H(u ⊗ A) = u ⊗ (HA)).",
    ),
    *(
        (
            "core",
            {"core": name},
            f"The core is wrong: you use {name}. With the v_j as the columns of Vᵀ = Q_v R_v and the flattened M_j as "
            "the columns of Q_M R_M, P = Q_v (R_v R_Mᵀ) Q_Mᵀ: the core is C = R_v R_Mᵀ.",
        )
        for name in list(_CORES)[1:]
    ),
    (
        "basis",
        {"A_basis": "Vt"},
        "The matrix basis is wrong: np.linalg.svd returns Vt = V̄ᵀ, and Ã_i is column i of Q_M V̄ = Q_M Vt.T (row i of "
        "Vt), not of Q_M Vt.",
    ),
    (
        "basis",
        {"u_basis": "Ut"},
        "The vector basis is wrong: np.linalg.svd returns U itself (only V̄ comes transposed), and ũ_i is column i "
        "of Q_v U, not of Q_v Uᵀ.",
    ),
    (
        "basis",
        {"A_basis": "U"},
        "The matrix basis is wrong: it uses U, the left singular vectors of C. The matrices Ã_i come from the right "
        "ones, the columns of Q_M V̄ with V̄ = Vt.T.",
    ),
    (
        "scale",
        {"weight": "σ²"},
        "The scale is wrong: direction i must get the coefficients s_i R_ji on both sides with Σ_j R_ji² = σ_i, so "
        "√σ enters each side, not σ.",
    ),
    (
        "scale",
        {"weight": "1"},
        "The scale is missing: direction i must get the coefficients s_i R_ji on both sides with Σ_j R_ji² = σ_i; "
        "yours give every direction the weight 1.",
    ),
    ("order", {"order": "CF"}, _MIXED_ORDER),
    ("order", {"order": "FC"}, _MIXED_ORDER),
    ("pairing", {"pairing": "v"}, _PAIRING),
    ("pairing", {"pairing": "M"}, _PAIRING.replace("yours pairs x̂ with H A", "yours pairs u with D")),
)


def _hidden_at_r1(change: dict[str, Any], convention: str) -> bool:
    """Mistakes that change nothing at r = 1 with numpy: its SVD of a 2 × 2 matrix returns a symmetric U (so Uᵀ
    is U), and with R factors of positive diagonal det C > 0, which makes V̄ symmetric too (so Vt is V̄)."""
    return change.get("u_basis") == "Ut" or (convention == "positive" and change.get("A_basis") == "Vt")


def _variant_outputs(inst: Instance, patterns: np.ndarray, convention: str = "qr", **change: Any) -> np.ndarray:
    """The dense results (P, n, K, k) of the step with ``change`` for every sign vector of ``patterns``."""
    st = inst.step
    return np.stack(
        [
            kron_sum(*_step_variant(inst.u, inst.A, st.H, st.xhat, st.D, s, convention=convention, **change))
            for s in patterns
        ]
    )


def _orientation_gap(mine: np.ndarray, theirs: np.ndarray, patterns: np.ndarray) -> float:
    """The largest difference between two steps' results over all sign vectors, for the best orientation ε of the
    singular pairs (mine(ε ∘ s) against theirs(s)); flipping a pair is the same as flipping its sign."""
    index = {tuple(p): i for i, p in enumerate(patterns)}
    return min(
        max(float(np.abs(mine[index[tuple(eps * p)]] - theirs[i]).max()) for i, p in enumerate(patterns))
        for eps in patterns
    )


def _shows_every_mistake(inst: Instance, patterns: np.ndarray, margin: float = 1e-3) -> bool:
    """Whether every mistake of _MISTAKES, under both conventions, changes the step's result on this instance by
    more than ``margin`` (relative to its largest entry), so that a step with that mistake cannot pass here."""
    right = _variant_outputs(inst, patterns)
    scale = float(np.abs(right).max())
    for _, change, _ in _MISTAKES:
        for convention in _CONVENTIONS:
            if inst.rank == 1 and _hidden_at_r1(change, convention):
                continue
            if (
                _orientation_gap(_variant_outputs(inst, patterns, convention, **change), right, patterns)
                <= margin * scale
            ):
                return False
    return True


def _step_instances(rank: int, rng: np.random.Generator, count: int) -> list[tuple[Any, Instance]]:
    """``count`` fresh random steps at ``rank``, alternately of a gated and a tanh cell, each one that shows every
    mistake of _MISTAKES (drawn again until it does; about half of the r = 1 steps do)."""
    patterns = all_sign_patterns(rank + 1)
    out = []
    while len(out) < count:
        cell_type = GatedCell if len(out) % 2 == 0 else TanhCell
        n_in, n = int(rng.integers(2, 4)), int(rng.integers(rank + 1, rank + 4))
        cell = cell_type(n_in, n, rng)
        inst = make_instance(cell, rank, rng, warmup=int(rng.integers(rank + 1, rank + 6)))
        if _shows_every_mistake(inst, patterns):
            out.append((cell, inst))
    return out


def _in_singular_basis(X: np.ndarray, inst: Instance) -> np.ndarray:
    """⟨X, ũ_i ⊗ Ã_j⟩ for the singular pairs of the step's P: diag(σ) for P itself."""
    u_t, A_t = _singular_pairs(inst)
    return np.einsum("apq,ip,jaq->ij", X, u_t, A_t)


def _singular_pairs(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    st, r = inst.step, inst.rank
    HA = np.einsum("ab,jbq->jaq", st.H, inst.A)
    Qv, Rv = np.linalg.qr(np.concatenate([inst.u, st.xhat[None]]).T)
    QM, RM = np.linalg.qr(np.concatenate([HA, st.D[None]]).reshape(r + 1, -1).T)
    U, _, Vt = np.linalg.svd(Rv @ RM.T)
    return (Qv @ U).T, (QM @ Vt.T).T.reshape(r + 1, *st.D.shape)


def _mixing_all_infeasible(sigma: np.ndarray) -> bool:
    """True if mixing all r + 1 values is infeasible: the largest is above their common level S/r."""
    r = sigma.size - 1
    return r >= 2 and r * float(sigma.max()) > float(sigma.sum()) * (1 + 1e-12)


def _infeasible_message(sigma: np.ndarray) -> str:
    r = sigma.size - 1
    mu = float(sigma.sum()) / r
    return (
        f"Mixing all r + 1 = {r + 1} values is infeasible here: σ_1 = {sigma.max():.4g} is above their common level "
        f"μ = S/r = {mu:.4g}, so w_1² = 1 − σ_1/μ would be negative and no unbiased mixing of that set exists. Keep "
        "the values the keep/mix rule keeps (exercise 07.1), exactly, and mix only the rest."
    )


def _diagnose_bias(mean: np.ndarray, inst: Instance, scale: float) -> str:
    """What is wrong in a biased OK step, from the mean of its results over all sign vectors."""
    patterns = all_sign_patterns(inst.rank + 1)
    tol = 1e-6 * scale
    for _, change, message in _MISTAKES:
        for convention in _CONVENTIONS:
            if np.linalg.norm(mean - _variant_outputs(inst, patterns, convention, **change).mean(axis=0)) <= tol:
                return message
    sigma = inst.sigma
    C = _in_singular_basis(mean, inst)
    u_t, A_t = _singular_pairs(inst)
    outside = np.linalg.norm(mean - np.einsum("ij,ip,jaq->apq", C, u_t, A_t))
    off = np.linalg.norm(C - np.diag(np.diag(C)))
    keep, _ = split(sigma)
    if _mixing_all_infeasible(sigma) and keep.any() and np.any(np.abs(np.diag(C) - sigma)[keep] > 1e-6 * scale):
        return "infeasible"
    if outside > 1e-6 * scale:
        return (
            "The new factors leave the span of the step's terms: build u'_j from the ũ_i and A'_j from the Ã_i only "
            "(the columns of Q_v U and of Q_M V̄)."
        )
    if off > 1e-6 * scale:
        return (
            f"In the singular basis of P the mean of your results has off-diagonal entries (up to "
            f"{np.abs(C - np.diag(np.diag(C))).max():.3g}): the directions are not P's singular pairs. Check the core "
            "C = R_v R_Mᵀ, ũ_i = column i of Q_v U and Ã_i = column i of Q_M V̄ (V̄ = Vt.T)."
        )
    return (
        f"In the singular basis of P the mean of your results is diagonal, but its diagonal is "
        f"{np.round(np.diag(C), 4).tolist()} instead of σ = {np.round(sigma, 4).tolist()}: the weights of the "
        "directions are wrong. Direction i needs s_i R_ji on both sides with Σ_j R_ji² = σ_i."
    )


def _kf_merge_variance(inst: Instance) -> float:
    """The variance of KF-RTRL's balanced merge of the two terms u ⊗ HA + x̂ ⊗ D of an r = 1 step (notebook 05):
    2‖u‖‖HA‖‖x̂‖‖D‖ + 2⟨u, x̂⟩⟨HA, D⟩."""
    st = inst.step
    u, HA = inst.u[0], st.H @ inst.A[0]
    norms = np.linalg.norm(u) * np.linalg.norm(HA) * np.linalg.norm(st.xhat) * np.linalg.norm(st.D)
    return float(2 * norms + 2 * (u @ st.xhat) * np.sum(HA * st.D))


def _check_ok_step(answer: Any, rank: int, name: str, count: int) -> tuple[bool, str]:
    if not callable(answer):
        return False, f"Give a function {name}(u, A, H, xhat, D, s) returning (u_new, A_new)."
    patterns = all_sign_patterns(rank + 1)
    for cell, inst in _step_instances(rank, np.random.default_rng(), count):
        st = inst.step
        u, A = (inst.u[0], inst.A[0]) if rank == 1 else (inst.u, inst.A)
        shape_u, shape_A = u.shape, A.shape
        P = inst.target
        scale = float(np.linalg.norm(P))
        outs, low_precision = [], False
        for s in patterns:
            arguments = {"u": u, "A": A, "H": st.H, "xhat": st.xhat, "D": st.D, "s": s}
            res = call_answer(answer, name, arguments)
            if res is None:
                return False, f"{name} returned None: return the pair (u_new, A_new)."
            if not isinstance(res, tuple | list) or len(res) != 2:
                return False, f"Return a pair of arrays (u_new, A_new); got {describe(res)}."
            low_precision |= any(np.asarray(x).dtype.kind == "f" and np.asarray(x).dtype.itemsize < 8 for x in res)
            u_new, A_new = (np.asarray(x, dtype=float) for x in res)
            if u_new.shape != shape_u or A_new.shape != shape_A:
                return False, (
                    f"The new factors keep the shapes of the old ones: u {shape_u} and A {shape_A}, got "
                    f"{u_new.shape} and {A_new.shape}."
                )
            if not (np.all(np.isfinite(u_new)) and np.all(np.isfinite(A_new))):
                if _mixing_all_infeasible(inst.sigma):
                    return False, f"The result contains NaN or inf. {_infeasible_message(inst.sigma)}"
                return False, (
                    "The result contains NaN or inf: a square root of a negative number, or a division by zero? "
                    "With the keep/mix rule every w_i² = 1 − σ_i/μ is >= 0."
                )
            outs.append(kron_sum(u_new.reshape(rank, -1), A_new.reshape(rank, *st.D.shape)))
        outs = np.stack(outs)
        if low_precision:
            return False, FLOAT32 + "."
        mean = outs.mean(axis=0)
        mean_dev = float(np.linalg.norm(mean - P)) / scale
        if mean_dev > 1e-8:
            if mean_dev <= 1e-5:
                return False, (
                    f"Unbiased only to {mean_dev:.1g} (relative), not to float64 precision (about 1e-12): is a part "
                    "computed in float32, or a small constant (an ε) added somewhere?"
                )
            hint = ""
            if np.linalg.norm(mean) < 1e-8 * scale:
                hint = " The average is 0: a sign must multiply both factors of a direction, so that it squares to 1."
            elif np.allclose(outs, outs[0], atol=1e-12 * scale):
                hint = " The result does not depend on the signs: use s_i on the coefficients of direction i."
            else:
                diagnosis = _diagnose_bias(mean, inst, scale)
                if diagnosis == "infeasible":
                    return False, (
                        f"Infeasible mixing. {_infeasible_message(inst.sigma)} (Averaged over all {len(patterns)} sign "
                        f"vectors, your step misses H G̃ + F by {mean_dev:.2g}, relative: it is biased.)"
                    )
                hint = " " + diagnosis
            return False, (
                f"Biased: averaged over all {len(patterns)} sign vectors, the new sum misses "
                f"Σ_j v_j ⊗ M_j = H G̃ + F by {mean_dev:.2g} (relative).{hint}"
            )
        errors = np.sum((outs - P) ** 2, axis=(1, 2, 3))
        sigma = inst.sigma
        best = minimal_variance(sigma)
        if errors.mean() > best * (1 + 1e-7) + 1e-14 * scale**2:
            hint = ""
            if np.isclose(errors.mean(), code_split_variance(sigma), rtol=1e-6):
                hint = (
                    " That is the released code's split: put the same coefficients on both sides (√σ_i each, not 1 "
                    "and σ_i)."
                )
            elif rank == 1 and np.isclose(errors.mean(), _kf_merge_variance(inst), rtol=1e-6):
                hint = (
                    " That is KF-RTRL's balanced merge of the two terms as they are (notebook 05). OK merges in the "
                    "singular basis of P instead: the directions ũ_i ⊗ Ã_i, with √σ_i on both sides."
                )
            return False, (
                f"Unbiased, but the variance E‖X − P‖² = {errors.mean():.4g} is {errors.mean() / best:.3g} times the "
                f"optimum minimal_variance(σ) = {best:.4g}.{hint}"
            )
        ok_outs = ok_estimator_outputs(cell, inst, patterns)
        tol = 1e-8 * scale
        index = {tuple(p): i for i, p in enumerate(patterns)}
        # a singular pair is fixed only up to a common sign, which acts like flipping its s_i: look for one
        # orientation ε with answer(s) = OK(ε ∘ s) for every s
        matched = any(
            all(np.allclose(outs[i], ok_outs[index[tuple(eps * p)]], atol=tol) for i, p in enumerate(patterns))
            for eps in patterns
        )
        if not matched:
            return False, (
                "Unbiased and with the optimal variance, but not the same step as okcore's OK for each sign vector: "
                "use one sign per singular direction, in the order of σ descending."
            )
    return True, (
        f"On {count} fresh random steps and every sign vector: unbiased, the minimal error on every draw, and "
        "the same results as okcore's OK (up to the orientation of the singular pairs)."
    )


@exercise("07.3", "one OK step at r = 1", _reference_step_r1)
def _check_step_r1(answer: Any) -> tuple[bool, str]:
    return _check_ok_step(answer, 1, "ok_step_r1", STEPS_R1)


@exercise("07.4", "one OK step at general r", _reference_step)
def _check_step(answer: Any) -> tuple[bool, str]:
    for rank in (2, 3):
        ok, message = _check_ok_step(answer, rank, "ok_step_general", STEPS_GENERAL)
        if not ok:
            return False, f"(r = {rank}) {message}"
    return True, message.replace(
        f"{STEPS_GENERAL} fresh random steps", f"{STEPS_GENERAL} fresh random steps at r = 2 and as many at r = 3"
    )


# --- 07.5: a prediction -------------------------------------------------------------------------------------

GROWTH_CHOICES = {
    "a": "it stays within a factor of 10 of OK's",
    "b": "it settles a fixed factor (between 10 and 1000) above OK's",
    "c": "it keeps growing, step after step, and ends more than 1000 times above OK's",
}


def _reference_growth() -> str:
    # the remembering network of notebook 07, section 11, with fewer samples
    rng = np.random.default_rng(71)
    cell = GatedCell(4, 8, rng)
    W = cell.W.copy()
    W[-1, 8:] += 1.0
    cell.W = W
    xs = random_tokens(60, 4, rng)
    noise = split_noise(cell, xs, [1], 64, rng)
    ok_late, code_late, code_early = noise["OK r=1"][50:].mean(), noise["code r=1"][50:].mean(), noise["code r=1"][4:10]
    ratio = code_late / ok_late
    if ratio < 10:
        return "a"
    if ratio <= 1000 or code_late < 100 * code_early.mean():
        return "b"
    return "c"


@exercise("07.5", "predict: the released split at r = 1 over 60 steps", _reference_growth)
def _check_growth(answer: Any) -> tuple[bool, str]:
    if not isinstance(answer, str) or answer.strip().lower() not in GROWTH_CHOICES:
        return False, f"Give one letter out of {sorted(GROWTH_CHOICES)}."
    want = _reference_growth()
    if answer.strip().lower() == want:
        return True, "Each step's extra error is of the size of the estimate itself, and it is carried forward."
    return False, (
        "Not what happens. Per step the released split adds σ_1² + σ_2² instead of 2σ_1σ_2, and at r = 1 σ_1 is about "
        "‖G̃‖: the added error is as large as the estimate, and a network that remembers carries it into the next "
        "σ_1. Run the next cell to see."
    )
