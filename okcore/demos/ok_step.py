"""One step of OK, written out so that every intermediate object can be looked at (notebook 07).

:func:`ok_parts` follows the construction in the order the notebook explains it:

1. Gram–Schmidt on the r+1 vectors v_j and, separately, on the r+1 matrices M_j (Frobenius inner product):
   orthonormal e_s, Z_s and lower-triangular L, L' with v_j = Σ_s L_js e_s, M_j = Σ_s L'_js Z_s.
2. The core C = Lᵀ L', so that Σ_j v_j ⊗ M_j = Σ_{s,s'} C_ss' e_s ⊗ Z_s'.
3. Its SVD C = U diag(σ) V̄ᵀ, giving orthonormal ũ_i = Σ_s U_si e_s, Ã_i = Σ_s V̄_si Z_s and
   Σ_j v_j ⊗ M_j = Σ_i σ_i ũ_i ⊗ Ã_i.
4. The keep/mix rule (:func:`okcore.lowrank.split`), S = Σ_mixed σ_i, the common level μ = S/(m−1), c = 1/μ and
   the unit vector w_i = √(1 − σ_i/μ) on the mixed indices.
5. An orthonormal completion: m−1 orthonormal vectors q_j supported on the mixed indices and orthogonal to w,
   here by Gram–Schmidt on (w, e_i for mixed i) as the authors' code does.
6. The coefficient rows R: √μ q_j, and √σ_i e_i for each kept i.

:func:`recombine` then applies one sign vector s: u'_j = Σ_i s_i R_ji ũ_i, A'_j = Σ_i s_i R_ji Ã_i (symmetric
split), or the released code's split with R_ji/√σ_i on ũ_i and R_ji √σ_i on Ã_i.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from okcore._checks import check_array, check_positive_int, check_rng
from okcore.approx.ok import OK
from okcore.cells import _Cell
from okcore.demos.ksums import Instance, all_sign_patterns, kron_sum
from okcore.lowrank import mixing_coefficients
from okcore.lowrank import split as lowrank_split
from okcore.noise import broadcast_step, measure_noise
from okcore.plotting import label_style
from okcore.signs import ReplaySigns

__all__ = [
    "OKParts",
    "fmt",
    "code_split_variance",
    "completion",
    "gram_schmidt",
    "ok_estimator_outputs",
    "ok_parts",
    "plot_core",
    "plot_split_noise",
    "recombine",
    "sign_flips",
    "split_noise",
    "step_error",
]

_SPLITS = ("optimal", "code")


def fmt(x: object, digits: int = 3) -> str:
    """An array rounded to ``digits`` decimals as text, with round-off such as -1e-17 shown as 0 (no "-0.")."""
    arr = np.round(np.asarray(x, dtype=np.float64), digits) + 0.0
    return np.array2string(arr, precision=digits, suppress_small=True, floatmode="fixed")


def gram_schmidt(X: object, rtol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Gram–Schmidt on the rows of X (N, ...) (flattened for the inner product).

    Returns (E, L): E has the shape of X with orthonormal rows, L (N, N) is lower triangular with a positive
    diagonal and X_j = Σ_s L_js E_s. Raises ValueError if the rows are linearly dependent (a residual below
    ``rtol`` times the largest row norm).
    """
    X_arr = np.asarray(X, dtype=np.float64)
    if X_arr.ndim < 2 or X_arr.shape[0] < 1:
        raise ValueError(f"X: expected an array (N, ...) with N >= 1 rows, got shape {X_arr.shape}")
    N = X_arr.shape[0]
    flat = X_arr.reshape(N, -1)
    scale = max(float(np.linalg.norm(flat, axis=1).max()), 1e-300)
    E = np.zeros_like(flat)
    L = np.zeros((N, N))
    for j in range(N):
        resid = flat[j].copy()
        for s in range(j):  # modified Gram–Schmidt: project the running residual
            L[j, s] = E[s] @ resid
            resid -= L[j, s] * E[s]
        norm = float(np.linalg.norm(resid))
        if norm <= rtol * scale:
            raise ValueError(f"X: row {j} is (numerically) a combination of the rows before it")
        L[j, j] = norm
        E[j] = resid / norm
    return E.reshape(X_arr.shape), L


def completion(w: object, mix: object, tol: float = 1e-8) -> np.ndarray:
    """m−1 orthonormal rows supported on the ``mix`` indices and orthogonal to the unit vector ``w``, (m−1, N).

    Gram–Schmidt on (w, e_i for each mixed i); the one e_i that is a combination of the others is skipped.
    """
    w_arr = check_array("w", w, (None,))
    mix_arr = np.asarray(mix, dtype=bool)
    if mix_arr.shape != w_arr.shape:
        raise ValueError(f"mix: expected a boolean mask of shape {w_arr.shape}, got shape {mix_arr.shape}")
    basis = [w_arr / np.linalg.norm(w_arr)]
    for i in np.flatnonzero(mix_arr):
        e = np.zeros_like(w_arr)
        e[i] = 1.0
        for b in basis:
            e -= (b @ e) * b
        norm = np.linalg.norm(e)
        if norm > tol:
            basis.append(e / norm)
    m = int(mix_arr.sum())
    if len(basis) != m:
        raise ValueError(f"w: expected a unit vector supported on the {m} mixed indices, got {w_arr}")
    return np.array(basis[1:]).reshape(m - 1, w_arr.size)


@dataclass(frozen=True)
class OKParts:
    """Every intermediate object of one OK step (N = r+1 terms; see the module docstring for the names).

    Attributes:
        v (N, K), M (N, n, k): the terms; e (N, K), L (N, N): Gram–Schmidt of v; Z (N, n, k), Lp (N, N): of M.
        C (N, N): the core; U (N, N), sigma (N,) descending, Vbar (N, N): its SVD C = U diag(σ) Vbarᵀ.
        u_tilde (N, K), A_tilde (N, n, k): the singular directions.
        keep, mix (N,): the masks of lowrank.split; m, S, c: count, sum and c = (m−1)/S = 1/μ of the mixed values.
        w (N,): the unit vector; Q (m−1, N): the completion; R (N−1, N): the coefficient rows.
    """

    v: np.ndarray
    M: np.ndarray
    e: np.ndarray
    L: np.ndarray
    Z: np.ndarray
    Lp: np.ndarray
    C: np.ndarray
    U: np.ndarray
    sigma: np.ndarray
    Vbar: np.ndarray
    u_tilde: np.ndarray
    A_tilde: np.ndarray
    keep: np.ndarray
    mix: np.ndarray
    m: int
    S: float
    c: float
    w: np.ndarray
    Q: np.ndarray
    R: np.ndarray

    @property
    def rank(self) -> int:
        return self.v.shape[0] - 1

    @property
    def target(self) -> np.ndarray:
        """Σ_j v_j ⊗ M_j, (n, K, k)."""
        return kron_sum(self.v, self.M)


def ok_parts(v: object, M: object) -> OKParts:
    """Build every intermediate object of OK's step for the terms v (N, K), M (N, n, k), N = r+1 >= 2.

    The v_j must be linearly independent, and so must the M_j (true for a generic step); the mixed values must
    have a positive sum.
    """
    v_arr = check_array("v", v, (None, None))
    M_arr = check_array("M", M, (v_arr.shape[0], None, None))
    N = v_arr.shape[0]
    if N < 2:
        raise ValueError(f"v: expected at least 2 terms, got {N}")
    e, L = gram_schmidt(v_arr)
    Z, Lp = gram_schmidt(M_arr)
    C = L.T @ Lp
    U, sigma, Vbar_t = np.linalg.svd(C)
    Vbar = Vbar_t.T
    # an SVD fixes each pair of singular vectors only up to a common sign; fix it (largest entry of U_i > 0) so
    # that printed values do not depend on the LAPACK build
    flip = np.sign(U[np.argmax(np.abs(U), axis=0), np.arange(N)])
    U, Vbar = U * flip, Vbar * flip
    u_tilde = U.T @ e
    A_tilde = np.einsum("si,saq->iaq", Vbar, Z)
    keep, mix = lowrank_split(sigma)
    m = int(mix.sum())
    S = float(sigma[mix].sum())
    if S <= 0.0:
        raise ValueError("v, M: the mixed singular values sum to 0 (the step is exact); nothing to show")
    c = (m - 1) / S
    w = np.where(mix, np.sqrt(np.clip(1.0 - c * sigma, 0.0, None)), 0.0)
    w = w / np.linalg.norm(w)
    Q = completion(w, mix)
    kept_rows = np.sqrt(sigma[keep])[:, None] * np.eye(N)[keep]
    R = np.concatenate([kept_rows, Q / np.sqrt(c)], axis=0)
    return OKParts(v_arr, M_arr, e, L, Z, Lp, C, U, sigma, Vbar, u_tilde, A_tilde, keep, mix, m, S, c, w, Q, R)


def _check_split(split: object) -> str:
    if split not in _SPLITS:
        raise ValueError(f"split: expected 'optimal' or 'code', got {split!r}")
    return str(split)


def _check_signs(signs: object, N: int) -> np.ndarray:
    s = check_array("signs", signs, (N,))
    if not np.all(np.abs(s) == 1.0):
        raise ValueError(f"signs: expected {N} entries, each +1 or -1, got {s}")
    return s


def recombine(parts: OKParts, signs: object, split: str = "optimal") -> tuple[np.ndarray, np.ndarray]:
    """The r new terms (u' (r, K), A' (r, n, k)) for one sign vector (N,), one sign per singular direction.

    ``split="optimal"``: u'_j = Σ_i s_i R_ji ũ_i and A'_j = Σ_i s_i R_ji Ã_i. ``split="code"``: the released
    code's split, coefficients s_i R_ji / √σ_i on ũ_i and s_i R_ji √σ_i on Ã_i.
    """
    split = _check_split(split)
    s = _check_signs(signs, parts.sigma.size)
    sR = parts.R * s[None, :]
    if split == "optimal":
        cu, ca = sR, sR
    else:
        root = np.sqrt(parts.sigma)
        cu, ca = sR / root[None, :], sR * root[None, :]
    return cu @ parts.u_tilde, np.einsum("ji,iaq->jaq", ca, parts.A_tilde)


def step_error(parts: OKParts, signs: object, split: str = "optimal") -> float:
    """‖Σ_j u'_j ⊗ A'_j − Σ_j v_j ⊗ M_j‖²_F for one sign vector."""
    u_new, A_new = recombine(parts, signs, split)
    diff = kron_sum(u_new, A_new) - parts.target
    return float(np.einsum("apq,apq->", diff, diff))


def code_split_variance(sigma: object) -> float:
    """Squared error of the released code's split (the same for every sign draw): Σ_{i≠i'} (RᵀR)²_ii' σ_i'/σ_i.

    ``sigma``: (N,) positive values, any order. Two mixed values a, b give σ_a² + σ_b².
    """
    s = np.sort(check_array("sigma", sigma, (None,)))[::-1]
    if s.size < 2 or np.any(s <= 0):
        raise ValueError(f"sigma: expected at least 2 positive values, got {s}")
    R = mixing_coefficients(s)
    G = R.T @ R
    np.fill_diagonal(G, 0.0)
    return float(np.sum(G**2 * s[None, :] / s[:, None]))


# ----------------------------------------------------------------------------------------------------------
# the same step through okcore.approx.ok.OK


def ok_estimator_outputs(cell: _Cell, instance: Instance, patterns: object, split: str = "optimal") -> np.ndarray:
    """Run :class:`okcore.approx.ok.OK` for ``cell`` once from the instance's sum for each sign pattern (rows
    of ``patterns``, (P, r+1)), all as one batch fed through :class:`okcore.signs.ReplaySigns`. Returns the dense
    results (P, n, K, k).
    """
    split = _check_split(split)
    r = instance.rank
    pats = check_array("patterns", patterns, (None, r + 1))
    B = pats.shape[0]
    est = OK(cell, r, batch=B, rng=ReplaySigns([pats]), split=split)
    est.u = np.broadcast_to(instance.u, (B, *instance.u.shape)).copy()
    est.A = np.broadcast_to(instance.A, (B, *instance.A.shape)).copy()
    est.update(broadcast_step(instance.step, B))
    return est.influence()


def sign_flips(cell: _Cell, parts: OKParts, instance: Instance, split: str = "optimal") -> np.ndarray:
    """The sign vector ε (r+1,) with OK(s) = step-by-step(ε ∘ s) for all s.

    An SVD fixes each pair (ũ_i, Ã_i) only up to a common sign, and flipping the pair is the same as flipping
    s_i. ε is found by matching OK's result for s = (1, ..., 1) against all patterns of the construction.
    """
    N = parts.sigma.size
    ones = np.ones((1, N))
    ok_out = ok_estimator_outputs(cell, instance, ones, split)[0]
    scale = np.linalg.norm(parts.target)
    for eps in all_sign_patterns(N):
        mine = kron_sum(*recombine(parts, eps, split))
        if np.linalg.norm(mine - ok_out) <= 1e-9 * scale:
            return eps
    raise RuntimeError("no sign pattern of the step-by-step construction reproduces OK's result")


# ----------------------------------------------------------------------------------------------------------
# over time


def split_noise(
    cell: _Cell,
    xs: object,
    ranks: Sequence[int],
    n_samples: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Relative variance over time of OK with the optimal and the code split at each rank: name -> (T,).

    Names are ``"OK r=1"``, ``"code r=1"``, ... (:func:`okcore.noise.measure_noise`, W fixed).
    """
    rng = check_rng("rng", rng)
    n_samples = check_positive_int("n_samples", n_samples)
    specs = {}
    for r in ranks:
        r = check_positive_int("rank", r)
        specs[f"OK r={r}"] = (OK, {"rank": r, "split": "optimal"})
        specs[f"code r={r}"] = (OK, {"rank": r, "split": "code"})
    return measure_noise(cell, xs, specs, n_samples, rng).relative_variance


# ----------------------------------------------------------------------------------------------------------
# pictures


def plot_core(parts: OKParts, axes: Sequence[Axes] | None = None) -> Sequence[Axes]:
    """Left: the core C as an image. Right: its singular values, kept ones in blue, mixed ones in orange, with
    the level μ = S/(m−1) that the mixed values are flattened to (in every draw)."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8.0, 3.2))
    ax_c, ax_s = axes
    lim = float(np.abs(parts.C).max())
    im = ax_c.imshow(parts.C, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax_c.set_title("core $C$ ($e_s$ rows, $Z_{s'}$ columns)")
    ticks = range(parts.sigma.size)
    ax_c.set_xticks(ticks, [str(i + 1) for i in ticks])
    ax_c.set_yticks(ticks, [str(i + 1) for i in ticks])
    ax_c.figure.colorbar(im, ax=ax_c)
    idx = np.arange(1, parts.sigma.size + 1)
    colors = np.where(parts.keep, "tab:blue", "tab:orange")
    ax_s.bar(idx, parts.sigma, color=colors)
    ax_s.axhline(1.0 / parts.c, color="k", ls="--", lw=1, label=r"$\mu = S/(m-1)$, the flattened level")
    ax_s.set_xticks(idx)
    ax_s.set_xlabel("i")
    ax_s.set_title(r"$\sigma_i$: kept (blue), mixed (orange)")
    ax_s.set_ylim(0.0, 1.35 * float(parts.sigma.max()))  # room for the legend above the bars
    ax_s.legend(loc="upper right")
    return axes


def plot_split_noise(noise: dict[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """Relative variance over time, log scale: solid lines for the optimal split, dashed for the code split.

    Values that are round-off (below 1e-12 of a curve's largest, e.g. the exact first step) are not drawn.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, values in noise.items():
        kind, rank = name.split(" ", 1)
        color = (label_style(f"OK {rank}") or {"color": None})["color"]  # OK's colour at that rank, both splits
        values = np.where(values <= 1e-12 * np.max(values), np.nan, values)  # exact steps: round-off only
        ax.semilogy(np.arange(1, len(values) + 1), values, ls="-" if kind == "OK" else "--", color=color, label=name)
    ax.set_xlabel("time step t")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(r"$E\|\tilde G_t - G_t\|^2 / \|G_t\|^2$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))  # outside the axes: hides no curve
    return ax
