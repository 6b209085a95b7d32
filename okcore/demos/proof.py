"""The optimality of OK, one step of the proof at a time, and a small explorer of the keep/mix rule (notebook 08).

Everything is a plain matrix statement. Under the Van Loan rearrangement (:func:`okcore.demos.kronecker.rearrange`)
an (r+1)-term Kronecker sum is a matrix P of rank <= r+1 and an r-term sum is a matrix X of rank <= r; an unbiased
compression is a random X with E[X] = P. Here a random X is given by its finitely many equally weighted (or
weighted) outcomes, so every expectation is an exact finite sum.

Proof of the bound E‖X − P‖²_F >= minimal_variance(σ(P)):

1. E‖X − P‖² = E‖X‖² − ‖P‖² (expand; E⟨X, P⟩ = ‖P‖²).
2. ⟨M, X⟩ <= Σ_i σ_i(M) σ_i(X) (von Neumann's trace inequality), and X has at most r non-zero σ_i(X), so by
   Cauchy–Schwarz ⟨M, X⟩ <= ‖M‖_(r) ‖X‖_F with ‖M‖²_(r) = Σ_{i<=r} σ_i(M)².
3. Taking expectations, ⟨M, P⟩ <= ‖M‖_(r) E‖X‖ <= ‖M‖_(r) (E‖X‖²)^{1/2}. Squaring needs ⟨M, P⟩ >= 0; for
   ⟨M, P⟩ < 0 the same line for −M gives the same squared bound, so E‖X‖² >= ⟨M, P⟩² / ‖M‖²_(r) for every M with
   ‖M‖_(r) > 0.
4. The choice M = Σ_{i<=q} σ_i a_i b_iᵀ + μ Σ_{i>q} a_i b_iᵀ (P = Σ σ_i a_i b_iᵀ, μ = S/(r−q), q from the keep/mix
   rule) gives ‖M‖²_(r) = ⟨M, P⟩ = Σ_{i<=q} σ_i² + S²/(r−q), hence the bound. (For q >= 1 the rule gives μ < σ_q,
   so the r largest singular values of M are σ_1..σ_q and r−q copies of μ; for q = 0 they are r copies of μ.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from okcore._checks import check_array, check_rng
from okcore.demos.kronecker import rearrange
from okcore.demos.ksums import (
    Instance,
    all_sign_patterns,
    kf_avg_scheme,
    kf_pair_scheme,
    kron_sum,
    random_sign_mixing,
)
from okcore.demos.ok_step import code_split_variance, ok_parts, recombine
from okcore.lowrank import minimal_variance, split

__all__ = [
    "Outcomes",
    "SingularValueExplorer",
    "bound_for_q",
    "bound_matrix",
    "compute_explorer",
    "draw_explorer",
    "frame_outcomes",
    "lookahead_comparison",
    "lower_bound",
    "mixture",
    "ok_outcomes",
    "outcome_stats",
    "random_frame_scheme",
    "singular_value_explorer",
    "top_r_norm",
    "workbook_schemes",
]


# ----------------------------------------------------------------------------------------------------------
# norms and the bound


def top_r_norm(M: object, r: int) -> float:
    """‖M‖_(r) = (Σ_{i<=r} σ_i(M)²)^{1/2}, the Frobenius norm of the best rank-r part of M."""
    s = np.linalg.svd(check_array("M", M, (None, None)), compute_uv=False)
    return float(np.sqrt(np.sum(s[:r] ** 2)))


def lower_bound(M: object, P: object, r: int) -> float:
    """⟨M, P⟩² / ‖M‖²_(r) − ‖P‖²: a lower bound on E‖X − P‖² for every random X of rank <= r with E[X] = P."""
    M_arr = check_array("M", M, (None, None))
    P_arr = check_array("P", P, M_arr.shape)
    inner = float(np.sum(M_arr * P_arr))
    return inner**2 / top_r_norm(M_arr, r) ** 2 - float(np.sum(P_arr * P_arr))


def _frame(P: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    U, s, Vt = np.linalg.svd(P, full_matrices=False)
    return U[:, : r + 1], s[: r + 1], Vt[: r + 1]


def bound_for_q(sigma: object, q: int) -> float:
    """The bound of step 4 for M = diag(σ_1..σ_q, μ, ..., μ), μ = Σ_{i>q} σ_i / (r−q), for any 0 <= q < r.

    ``sigma``: the r+1 singular values of P (any order). ‖M‖_(r) is computed from M's actual singular values, so
    this is a valid bound for every q; it is largest at the q of the keep/mix rule.
    """
    s = np.sort(check_array("sigma", sigma, (None,)))[::-1]
    r = s.size - 1
    if not 0 <= q < r:
        raise ValueError(f"q: expected 0 <= q < r = {r}, got {q}")
    mu = s[q:].sum() / (r - q)
    m_diag = np.concatenate([s[:q], np.full(r + 1 - q, mu)])
    return lower_bound(np.diag(m_diag), np.diag(s), r)


def bound_matrix(P: object, r: int) -> tuple[np.ndarray, int, float]:
    """The M of step 4 for a matrix P of rank <= r+1: (M, q, μ), M in P's own singular frame."""
    P_arr = check_array("P", P, (None, None))
    U, s, Vt = _frame(P_arr, r)
    keep, _ = split(s)
    q = int(keep.sum())
    mu = float(s[q:].sum() / (r - q))
    m_diag = np.where(keep, s, mu)
    return (U * m_diag) @ Vt, q, mu


# ----------------------------------------------------------------------------------------------------------
# random matrices given by their outcomes


@dataclass(frozen=True)
class Outcomes:
    """A random matrix with finitely many outcomes: X (P, a, b) with probabilities ``weights`` (P,), summing to 1."""

    name: str
    X: np.ndarray
    weights: np.ndarray

    def mean(self) -> np.ndarray:
        return np.einsum("p,pab->ab", self.weights, self.X)

    def expect(self, values: np.ndarray) -> float:
        return float(self.weights @ values)


def mixture(name: str, parts: Sequence[Outcomes], probs: object) -> Outcomes:
    """Pick one of ``parts`` at random with probabilities ``probs``, then draw from it."""
    p = check_array("probs", probs, (len(parts),))
    if np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"probs: expected non-negative probabilities summing to 1, got {p}")
    X = np.concatenate([o.X for o in parts])
    w = np.concatenate([pi * o.weights for pi, o in zip(p, parts, strict=True)])
    return Outcomes(name, X, w)


def frame_outcomes(instance: Instance, schemes: Sequence) -> list[Outcomes]:
    """The exact outcomes of ksums schemes on ``instance``, rearranged to matrices (K, n·k), equally weighted."""
    out = []
    for scheme in schemes:
        pats = all_sign_patterns(scheme.n_signs)
        X = np.stack([rearrange(scheme.dense(s)) for s in pats])
        out.append(Outcomes(scheme.name, X, np.full(len(pats), 1.0 / len(pats))))
    return out


def ok_outcomes(instance: Instance, split_name: str = "optimal") -> Outcomes:
    """OK's outcomes (optimal or code split) on ``instance`` for all 2^(r+1) sign vectors, as matrices."""
    parts = ok_parts(instance.v, instance.M)
    pats = all_sign_patterns(parts.sigma.size)
    X = np.stack([rearrange(kron_sum(*recombine(parts, s, split_name))) for s in pats])
    name = "OK" if split_name == "optimal" else "code split"
    return Outcomes(name, X, np.full(len(pats), 1.0 / len(pats)))


def random_frame_scheme(P: object, r: int, rng: np.random.Generator, name: str = "random scheme") -> Outcomes:
    """A random unbiased rank-r scheme for P built in P's singular frame P = Σ σ_i a_i b_iᵀ.

    With Gaussian α (r, r+1), random positive γ (r+1,) and one sign s_i per direction: X = Σ_j x_j y_jᵀ,
    x_j = Σ_i s_i α_ji γ_i a_i, y_j = Σ_i s_i σ_i α_ji / (γ_i Σ_j α_ji²) b_i. Diagonal coefficients average to
    σ_i, off-diagonal ones to 0.
    """
    P_arr = check_array("P", P, (None, None))
    rng = check_rng("rng", rng)
    U, s, Vt = _frame(P_arr, r)
    N = r + 1
    alpha = rng.standard_normal((r, N))
    gamma = np.exp(rng.normal(0.0, 0.5, N))
    beta = alpha * (s / (gamma * np.einsum("ji,ji->i", alpha, alpha)))
    pats = all_sign_patterns(N)
    X = np.empty((len(pats), *P_arr.shape))
    for p, sg in enumerate(pats):
        left = (alpha * gamma * sg) @ U.T  # (r, a): the x_j
        right = (beta * sg) @ Vt  # (r, b): the y_j
        X[p] = left.T @ right
    return Outcomes(name, X, np.full(len(pats), 1.0 / len(pats)))


def workbook_schemes(instance: Instance, rng: np.random.Generator, n_random: int = 3) -> list[Outcomes]:
    """Every unbiased compression of the workbook on ``instance``, as exact outcomes (rearranged matrices).

    KF merges of every pair, KF-avg, ``n_random`` random sign mixings of the terms, ``n_random`` random schemes in
    P's singular frame (:func:`random_frame_scheme`), two random mixtures of all of these, the released code's
    split of OK and OK itself (last).
    """
    rng = check_rng("rng", rng)
    v, M, r = instance.v, instance.M, instance.rank
    schemes = [kf_pair_scheme(v, M, i, j) for i in range(r + 1) for j in range(i + 1, r + 1)]
    schemes.append(kf_avg_scheme(v, M))
    schemes += [random_sign_mixing(v, M, rng, name=f"random mixing {i + 1}") for i in range(n_random)]
    out = frame_outcomes(instance, schemes)
    P = rearrange(instance.target)
    out += [random_frame_scheme(P, r, rng, name=f"random frame scheme {i + 1}") for i in range(n_random)]
    for i in range(2):
        probs = rng.dirichlet(np.ones(len(out)))
        out.append(mixture(f"random mixture {i + 1}", list(out), probs))
    out.append(ok_outcomes(instance, "code"))
    out.append(ok_outcomes(instance))
    return out


def outcome_stats(outcomes: Outcomes, P: object, r: int) -> dict[str, float]:
    """The quantities of the proof for one random matrix X and target P (all exact expectations).

    Keys: ``bias`` ‖E X − P‖ / ‖P‖, ``max_rank`` of the outcomes, ``variance`` E‖X − P‖², ``E_norm2`` E‖X‖²,
    ``E_norm_sq`` (E‖X‖)², ``P_norm2`` ‖P‖², ``bound`` ⟨M, P⟩² / ‖M‖²_(r) − ‖P‖² for the M of
    :func:`bound_matrix`, ``min_cs_gap`` min over outcomes of ‖M‖_(r) ‖X‖ − ⟨M, X⟩ (>= 0 by steps 2–3),
    ``norm_spread`` max − min of ‖X‖ over outcomes.
    """
    P_arr = check_array("P", P, (None, None))
    X = outcomes.X
    diff = (X - P_arr).reshape(len(X), -1)
    norms = np.linalg.norm(X.reshape(len(X), -1), axis=1)
    M, _, _ = bound_matrix(P_arr, r)
    mr = top_r_norm(M, r)
    inner = np.einsum("pab,ab->p", X, M)
    ranks = [np.linalg.matrix_rank(x, tol=1e-9 * max(norms.max(), 1e-300)) for x in X]
    p_norm = float(np.linalg.norm(P_arr))
    return {
        "bias": float(np.linalg.norm(outcomes.mean() - P_arr) / p_norm),
        "max_rank": int(max(ranks)),
        "variance": outcomes.expect(np.einsum("pi,pi->p", diff, diff)),
        "E_norm2": outcomes.expect(norms**2),
        "E_norm_sq": outcomes.expect(norms) ** 2,
        "P_norm2": p_norm**2,
        "bound": lower_bound(M, P_arr, r),
        "min_cs_gap": float(np.min(mr * norms - inner)),
        "norm_spread": float(norms.max() - norms.min()),
    }


# ----------------------------------------------------------------------------------------------------------
# the explorer: compute (tested), draw, and a thin widget layer


def compute_explorer(sigmas: object) -> dict:
    """OK's split and per-step variances for singular values ``sigmas`` (r+1 positive values, any order).

    Returns a dict of plain Python values (so results compare with ==):
        ``sigma`` (tuple, input order), ``keep``/``mix`` (tuples of bools), ``r``, ``m`` (number mixed),
        ``mu`` (S/(m−1), the level of the mixed values), and ``variance``: a dict with ``"OK"`` (the minimum),
        ``"KF pairwise"`` (KF's sign trick on the two smallest terms, 2 σ_r σ_{r+1}) and ``"code split"``.
    """
    s = check_array("sigmas", sigmas, (None,))
    if s.size < 2 or np.any(s <= 0):
        raise ValueError(f"sigmas: expected at least 2 positive values, got {s}")
    keep, mix = split(s)
    m = int(mix.sum())
    mu = float(s[mix].sum() / (m - 1))
    desc = np.sort(s)[::-1]
    return {
        "sigma": tuple(float(x) for x in s),
        "keep": tuple(bool(x) for x in keep),
        "mix": tuple(bool(x) for x in mix),
        "r": int(s.size - 1),
        "m": m,
        "mu": mu,
        "variance": {
            "OK": minimal_variance(s),
            "KF pairwise": float(2.0 * desc[-1] * desc[-2]),
            "code split": code_split_variance(s),
        },
    }


def draw_explorer(result: dict, axes: Sequence[Axes]) -> None:
    """Left: the σ_i, kept in blue and mixed in orange, with the level μ. Right: the three per-step variances."""
    ax_s, ax_v = axes
    sigma = np.array(result["sigma"])
    idx = np.arange(1, sigma.size + 1)
    colors = ["tab:blue" if k else "tab:orange" for k in result["keep"]]
    ax_s.bar(idx, sigma, color=colors)
    ax_s.axhline(result["mu"], color="k", ls="--", lw=1, label=rf"$\mu$ = {result['mu']:.3g}")
    ax_s.set_xticks(idx, [rf"$\sigma_{i}$" for i in idx])
    ax_s.set_title(f"r = {result['r']}: {sigma.size - result['m']} kept (blue), {result['m']} mixed (orange)")
    ax_s.legend(loc="upper right")
    names = list(result["variance"])
    values = [result["variance"][k] for k in names]
    ax_v.bar(names, values, color=["tab:green", "tab:gray", "tab:red"][: len(names)])
    for i, val in enumerate(values):
        ax_v.text(i, val, f"{val:.3g}", ha="center", va="bottom")
    ax_v.set_ylim(0.0, 1.15 * max(values) if max(values) > 0 else 1.0)
    ax_v.set_title(r"per-step variance $E\|X - P\|_F^2$")


class SingularValueExplorer:
    """Sliders for σ_1..σ_{r+1}; each change recomputes :func:`compute_explorer` into ``result`` and redraws.

    Attributes: ``sliders`` (list of FloatSlider), ``out`` (the Output holding the figure), ``result`` (the last
    computed dict), ``widget`` (the whole layout; the object itself displays as it).
    """

    def __init__(self, sigmas: Sequence[float] = (3.0, 2.0, 1.5, 1.2, 0.4), max_value: float = 4.0) -> None:
        values = check_array("sigmas", sigmas, (None,))
        self.sliders = [
            widgets.FloatSlider(
                value=float(v),
                min=0.05,
                max=max_value,
                step=0.05,
                description=f"σ{i + 1}",
                continuous_update=False,
            )
            for i, v in enumerate(values)
        ]
        self.out = widgets.Output()
        self.result: dict = {}
        for slider in self.sliders:
            slider.observe(self._on_change, names="value")
        self.widget = widgets.HBox([widgets.VBox(self.sliders), self.out])
        self.update()

    def values(self) -> tuple[float, ...]:
        return tuple(float(s.value) for s in self.sliders)

    def _on_change(self, change: dict) -> None:
        self.update()

    def update(self) -> None:
        """Recompute and redraw. The figure goes into the Output's state (not through the cell's output stream),
        so a cell that only moves a slider stays without output in every front end and under nbval."""
        self.result = compute_explorer(self.values())
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.2))
        draw_explorer(self.result, axes)
        fig.tight_layout()
        self.out.outputs = ()
        self.out.append_display_data(fig)
        plt.close(fig)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def singular_value_explorer(sigmas: Sequence[float] = (3.0, 2.0, 1.5, 1.2, 0.4)) -> SingularValueExplorer:
    """The explorer of notebook 08 for r = len(sigmas) − 1."""
    return SingularValueExplorer(sigmas)


# ----------------------------------------------------------------------------------------------------------
# per step is not over time


def lookahead_comparison(instance: Instance, H_next: object) -> dict[str, float]:
    """OK versus a scheme that knows the next Jacobian H' (n, n), by exact enumeration over the signs.

    "OK" compresses P = Σ v_j ⊗ M_j. "look-ahead" compresses Σ v_j ⊗ H' M_j with OK and maps the result back with
    H'⁻¹, so that after the next multiplication by H' its error is the smallest possible. Returns the per-step
    variances E‖X − P‖² and the propagated ones E‖H'(X − P)‖² of both, where H' acts on the matrix factors:
    H'(Σ_j u_j ⊗ A_j) = Σ_j u_j ⊗ H'A_j, that is (H'X)[a, p, q] = Σ_b H'[a, b] X[b, p, q].
    """
    H = check_array("H_next", H_next, (instance.step.H.shape[0],) * 2)
    H_inv = np.linalg.inv(H)
    P = instance.target
    HP = np.einsum("ab,bpq->apq", H, P)
    plain = ok_parts(instance.v, instance.M)
    ahead = ok_parts(instance.v, np.einsum("ab,jbq->jaq", H, instance.M))
    res = {"OK step": 0.0, "OK propagated": 0.0, "look-ahead step": 0.0, "look-ahead propagated": 0.0}
    pats = all_sign_patterns(plain.sigma.size)
    for s in pats:
        X = kron_sum(*recombine(plain, s))
        u2, A2 = recombine(ahead, s)
        Y = kron_sum(u2, np.einsum("ab,jbq->jaq", H_inv, A2))
        for key, Z in (("OK", X), ("look-ahead", Y)):
            res[f"{key} step"] += float(np.sum((Z - P) ** 2)) / len(pats)
            res[f"{key} propagated"] += float(np.sum((np.einsum("ab,bpq->apq", H, Z) - HP) ** 2)) / len(pats)
    res["bound step"] = minimal_variance(plain.sigma)
    res["bound propagated"] = minimal_variance(ahead.sigma)
    return res
