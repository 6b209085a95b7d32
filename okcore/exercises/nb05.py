"""Exercises of notebook 05 (KF-RTRL).

05.1 the variance-minimising ratio p1/p2 (checked against a numerical minimisation of the closed-form variance);
05.2 KF-RTRL's update with balancing, written by the reader (checked against :class:`okcore.KFRTRL` fed the same
signs, and by exact enumeration over the four sign pairs); 05.3 a prediction: how the ratio of UORO's to KF-RTRL's
relative variance grows with n (checked against the floor argument; the notebook then measures it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.approx.kf import KFRTRL, kf_step_variance
from okcore.cells import GatedCell, TanhCell, _Cell
from okcore.exercises import FLOAT32, call_answer, call_number, describe, exercise, precision_message
from okcore.exercises._factors import relate_factors, repeats, two_term_fit
from okcore.noise import broadcast_step
from okcore.signs import ReplaySigns

_SIGNS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])  # (c1, c2), each pair with probability 1/4
# other ways of attaching the two signs, each a map from a sign pair to the pair whose outcome it gives
_RELABELS = {
    "(c2, c1)": lambda c: c[::-1],
    "(−c1, −c2)": lambda c: -c,
    "(−c1, c2)": lambda c: c * np.array([-1.0, 1.0]),
    "(c1, −c2)": lambda c: c * np.array([1.0, -1.0]),
    "(−c2, −c1)": lambda c: -c[::-1],
    "(c2, −c1)": lambda c: c[::-1] * np.array([1.0, -1.0]),
    "(−c2, c1)": lambda c: c[::-1] * np.array([-1.0, 1.0]),
}


# --- 05.1 -------------------------------------------------------------------------------------------------


def _reference_ratio() -> Callable[[float, float, float, float], float]:
    def best_ratio(norm_u: float, norm_HA: float, norm_xhat: float, norm_D: float) -> float:
        # minimise ρ² ‖u‖² ‖D‖² + ρ⁻² ‖x̂‖² ‖HA‖²: ρ⁴ = ‖x̂‖² ‖HA‖² / (‖u‖² ‖D‖²)
        return float(np.sqrt(norm_xhat * norm_HA / (norm_u * norm_D)))

    return best_ratio


def _numerical_best_ratio(norm_u: float, norm_HA: float, norm_xhat: float, norm_D: float) -> float:
    """The minimiser over ρ = p1/p2 of okcore's closed-form step variance, for factors with these norms."""
    from okcore.demos.uoro import minimise_scalar

    # vectors and matrices with the given norms; ⟨u, x̂⟩ = 0 so that the ρ-free term vanishes (it does not move ρ*)
    u, xhat = np.array([norm_u, 0.0]), np.array([0.0, norm_xhat])
    HA, D = np.array([[norm_HA, 0.0]]), np.array([[norm_D, 0.0]])

    def v(log_rho: float) -> float:
        return float(kf_step_variance(u, HA, xhat, D, np.exp(log_rho), 1.0))

    return float(np.exp(minimise_scalar(v, -30.0, 30.0, tol=1e-12)[0]))


@exercise("05.1", "the variance-minimising ratio p1/p2", _reference_ratio)
def _check_ratio(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function best_ratio(norm_u, norm_HA, norm_xhat, norm_D)."
    rng = np.random.default_rng()
    cases = [tuple(rng.uniform(0.1, 5.0, size=4)) for _ in range(6)]
    names = ("norm_u", "norm_HA", "norm_xhat", "norm_D")
    got = np.array([call_number(answer, "best_ratio", dict(zip(names, c, strict=True))) for c in cases])
    want = np.array([_numerical_best_ratio(*c) for c in cases])
    if np.allclose(got, want, rtol=1e-6):
        return True, "It agrees with a numerical minimisation of okcore's closed-form variance on random norms."
    if np.allclose(got, 1.0 / want, rtol=1e-6):
        return False, "Upside down: p1 multiplies u, so a small ‖u‖ (or a large ‖HA‖) calls for a large p1."
    if np.allclose(got, want**2, rtol=1e-6):
        return False, "That is (p1/p2)²; take the square root."
    return False, "Minimise ρ² ‖u‖² ‖D‖² + ρ⁻² ‖x̂‖² ‖HA‖² over ρ = p1/p2 > 0 (set the derivative to zero)."


# --- 05.2: KF-RTRL's update, written by the reader ----------------------------------------------------------


def _reference_update() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def kf_update(u, A, xhat, H, D, c1, c2):
        HA = H @ A  # (n, k)
        p1 = np.sqrt(np.linalg.norm(HA) / np.linalg.norm(u))
        p2 = np.sqrt(np.linalg.norm(D) / np.linalg.norm(xhat))
        return c1 * p1 * u + c2 * p2 * xhat, (c1 / p1) * HA + (c2 / p2) * D

    return kf_update


def _update_instances(rng: np.random.Generator) -> list[tuple[_Cell, np.ndarray, np.ndarray, Any]]:
    """Fresh random (cell, u, A, step): a gated cell with a large u and a tanh cell with a small one, so that the
    balanced p1/p2 is far from 1 in both."""
    out = []
    for cls, n_in, n, scale in ((GatedCell, 3, 3, 30.0), (TanhCell, 3, 4, 0.03)):
        cell = cls(n_in, n, rng)
        step = cell.step(rng.normal(size=n_in), 0.5 * rng.normal(size=n))
        out.append((cell, scale * rng.normal(size=cell.K), rng.normal(size=(n, cell.k)), step))
    return out


def _okcore_kf(cell: _Cell, u: np.ndarray, A: np.ndarray, step: Any) -> tuple[np.ndarray, np.ndarray]:
    """okcore's KFRTRL applied to (u, A) once per sign pair of _SIGNS: (u' (4, K), A' (4, n, k))."""
    est = KFRTRL(cell, batch=4, rng=ReplaySigns([_SIGNS[:, None, :]]))
    est.u = np.tile(u, (4, 1, 1))
    est.A = np.tile(A, (4, 1, 1, 1))
    est.update(broadcast_step(step, 4))
    return est.u[:, 0].copy(), est.A[:, 0].copy()


def _kron(u: np.ndarray, A: np.ndarray) -> np.ndarray:
    return np.einsum("...p,...aq->...apq", u, A)


def _uses_signs(
    answer: Callable, arguments_for: Callable[[np.ndarray], dict], us: np.ndarray, As: np.ndarray
) -> str | None:
    """None if the reader's update depends on both signs (c1, c2) it is given, and only on them; else what is wrong.
    ``us``, ``As``: what it returned for each sign pair of _SIGNS."""
    if not repeats(answer, "kf_update", arguments_for, _SIGNS, (us, As)):
        return (
            "Your result does not depend on the signs c1, c2 it is given: two calls with the same signs gave "
            "different results, so the function draws random numbers of its own (its own signs?) instead of using "
            "c1 and c2. All of a step's randomness is in those two arguments: the checker calls it with all four "
            "sign pairs and needs the same update for the same pair."
        )

    def same(i: int, j: int) -> bool:  # the same factors for the sign pairs _SIGNS[i] and _SIGNS[j]
        return bool(np.allclose(us[i], us[j], rtol=1e-12, atol=0) and np.allclose(As[i], As[j], rtol=1e-12, atol=0))

    # _SIGNS: (1, 1), (1, −1), (−1, 1), (−1, −1)
    free_of_c1, free_of_c2 = same(0, 2) and same(1, 3), same(0, 1) and same(2, 3)
    if free_of_c1 and free_of_c2:
        return "The result does not depend on the signs c1, c2 it was given: they must multiply the two terms."
    if free_of_c2:
        return (
            "The result does not depend on c2 (is c1 used for both terms?). Each term needs its own sign: c1 "
            "multiplies the old term (u in u' and HA in A'), c2 the new one (x̂ in u' and D in A')."
        )
    if free_of_c1:
        return (
            "The result does not depend on c1 (is c2 used for both terms?). Each term needs its own sign: c1 "
            "multiplies the old term (u in u' and HA in A'), c2 the new one (x̂ in u' and D in A')."
        )
    return None


def _diagnose_update(answer: Callable, cell: _Cell, u: np.ndarray, A: np.ndarray, step: Any) -> tuple[str, str]:
    n, K, k = cell.n_hidden, cell.K, cell.k
    us, As, raw = [], [], []
    for c1, c2 in _SIGNS:
        arguments = {"u": u, "A": A, "xhat": step.xhat, "H": step.H, "D": step.D, "c1": c1, "c2": c2}
        out = call_answer(answer, "kf_update", arguments)
        if out is None:
            return "none", "Your function returns None: write its body."
        if not isinstance(out, tuple | list) or len(out) != 2:
            return "shape", f"Return a pair (u_new, A_new); got {describe(out)}."
        u_new, A_new = (np.asarray(a, dtype=np.float64) for a in out)
        if u_new.shape != (K,) or A_new.shape != (n, k):
            return "shape", (
                f"Shapes: u_new should be (K,) = {(K,)} and A_new (n, k) = {(n, k)}; got {u_new.shape} and "
                f"{A_new.shape} (cell with n = {n}, K = {K}, k = {k})."
            )
        if not (np.all(np.isfinite(u_new)) and np.all(np.isfinite(A_new))):
            return "finite", "The result contains inf or nan."
        us.append(u_new)
        As.append(A_new)
        raw.append(tuple(out))
    us, As = np.array(us), np.array(As)
    ref_u, ref_A = _okcore_kf(cell, u, A, step)
    if np.allclose(us, ref_u, rtol=1e-9, atol=1e-12 * np.abs(ref_u).max()) and np.allclose(
        As, ref_A, rtol=1e-9, atol=1e-12 * np.abs(ref_A).max()
    ):
        return "ok", ""
    precision = precision_message(raw, list(zip(ref_u, ref_A, strict=True)))
    if precision:
        return "precision", precision
    if any(np.asarray(a).dtype.kind == "f" and np.asarray(a).dtype.itemsize < 8 for pair in raw for a in pair):
        return "precision", FLOAT32 + "."

    def arguments_for(c: np.ndarray) -> dict:
        return {"u": u, "A": A, "xhat": step.xhat, "H": step.H, "D": step.D, "c1": c[0], "c2": c[1]}

    signs_problem = _uses_signs(answer, arguments_for, us, As)
    if signs_problem:
        return "signs", signs_problem
    HA = step.H @ A
    old, new = _kron(u, HA), _kron(step.xhat, step.D)
    target = old + new
    prods, ref_prods = _kron(us, As), _kron(ref_u, ref_A)
    mean = prods.mean(axis=0)
    errs = np.sum((prods - target) ** 2, axis=(1, 2, 3))
    ref_var = float(np.mean(np.sum((ref_prods - target) ** 2, axis=(1, 2, 3))))
    bias = np.linalg.norm(mean - target) / np.linalg.norm(target)
    tol = 1e-10 * np.abs(target).max()
    if bias > 1e-8:
        if np.linalg.norm(mean) <= 1e-8 * np.linalg.norm(target):
            return "bias", (
                "Biased: the mean over the four sign pairs is 0. A sign must multiply both factors of its term (c1 in "
                "u' and in A', c2 likewise), so that it appears squared in the product: c1² = c2² = 1."
            )
        if np.allclose(mean, old - new, rtol=1e-8, atol=tol) or np.allclose(mean, new - old, rtol=1e-8, atol=tol):
            return "sign", (
                "Biased: the mean over the four sign pairs has one of the two terms with a minus sign. A sign "
                "error: each term must carry the same sign in u' and in A' (c1 with u and HA, c2 with x̂ and D), "
                "so that c1² = c2² = 1 multiplies it."
            )
        if np.allclose(mean, _kron(u, A) + new, rtol=1e-8, atol=tol):
            return "bias", "Biased: the old estimate is carried over without H. Propagate it: use H A."
        if np.allclose(mean, _kron(u, step.H.T @ A) + new, rtol=1e-8, atol=tol):
            return "bias", (
                "Biased: H_t is transposed. The old estimate propagates as H (u ⊗ A) = u ⊗ (H A) with "
                "(H A)[a, q] = Σ_b H[a, b] A[b, q]: H @ A, not H.T @ A."
            )
        if np.allclose(mean, _kron(step.xhat, HA) + _kron(u, step.D), rtol=1e-8, atol=tol):
            return "bias", (
                "Biased: the mean over the four sign pairs is x̂ ⊗ HA + u ⊗ D: the terms are paired the wrong way. "
                "u belongs with HA (the old term, sign c1) and x̂ with D (the new term, sign c2): "
                "u' = c1 p1 u + c2 p2 x̂ and A' = (c1/p1) HA + (c2/p2) D."
            )
        fit = two_term_fit(mean, old, new)
        if fit is not None:
            a, b = fit
            for c, other, name, p in ((b, a, "x̂ ⊗ D", "p2"), (a, b, "u ⊗ HA", "p1")):
                if np.isclose(other, 1.0, rtol=1e-6):
                    return "bias", (
                        f"Biased: the mean over the four sign pairs has {c:.3g} {name} instead of 1 {name}. Its "
                        f"scales in u' and A' must multiply to 1 ({p} and 1/{p})."
                    )
            return "bias", (
                f"Biased: the mean over the four sign pairs is {a:.3g} u ⊗ HA + {b:.3g} x̂ ⊗ D. In each term the "
                "scales must cancel in the product: p1 on u goes with 1/p1 on HA, and p2 on x̂ with 1/p2 on D."
            )
        return "bias", (
            f"Biased: the mean over the four sign pairs differs from u ⊗ HA + x̂ ⊗ D by {bias:.2g} (relative). Check "
            "that u' = c1 p1 u + c2 p2 x̂ and A' = (c1/p1) HA + (c2/p2) D."
        )
    var = float(errs.mean())
    if var > ref_var * (1.0 + 1e-8):
        return "variance", (
            f"Unbiased (checked over the four sign pairs), but the variance is {var / ref_var:.3g} times the balanced "
            "minimum: the scales are not balanced. Use p1 = √(‖HA‖/‖u‖) and p2 = √(‖D‖/‖x̂‖)."
        )
    relation = relate_factors((us, As), (ref_u, ref_A), _kron, _SIGNS, _RELABELS)
    rule = "u' = c1 p1 u + c2 p2 x̂ and A' = (c1/p1) HA + (c2/p2) D"
    if relation.kind == "sign":
        return "split", (
            "Unbiased, with the balanced variance, and every product u'⊗A' equals okcore's, but for some sign pairs "
            "you return (−u', −A'): a sign sits on the other factor. Attach the signs as okcore does, c1 to both "
            f"parts of the old term and c2 to both parts of the new one: {rule}."
        )
    if relation.kind == "relabel":
        return "split", (
            f"Unbiased, with the balanced variance, but your update for the signs (c1, c2) is okcore's for "
            f"{relation.relabel}: c1 belongs to the old term (u and HA), c2 to the new one (x̂ and D), both with a "
            f"plus sign: {rule}."
        )
    if relation.kind == "scale":
        low, high = relation.scales
        factor = f"{low:.3g}" if np.isclose(low, high) else f"between {low:.3g} and {high:.3g}"
        return "split", (
            f"Unbiased, with the balanced variance, and every product u'⊗A' equals okcore's, but your u' is okcore's "
            f"times {factor} (and A' divided by it): the ratio p1/p2 is right, the common scale is not. Use exactly "
            "p1 = √(‖HA‖/‖u‖) and p2 = √(‖D‖/‖x̂‖)."
        )
    return "split", (
        f"Unbiased, with the minimal variance, but not okcore's outcome for each sign pair. Use {rule} with exactly "
        "p1 = √(‖HA‖/‖u‖) and p2 = √(‖D‖/‖x̂‖)."
    )


@exercise("05.2", "KF-RTRL's update with balancing", _reference_update)
def _check_update(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function kf_update(u, A, xhat, H, D, c1, c2) returning (u_new, A_new)."
    rng = np.random.default_rng()
    for cell, u, A, step in _update_instances(rng):
        kind, message = _diagnose_update(answer, cell, u, A, step)
        if kind != "ok":
            return False, message
    return True, (
        "Equal to okcore's KFRTRL for all four sign pairs on a fresh gated cell (n = 3) and tanh cell (n = 4); "
        "unbiased, with the balanced variance."
    )


# --- 05.3: a prediction -------------------------------------------------------------------------------------

# Accepted predictions. κ: UORO pays a floor that grows like n relative to ‖F_t‖², KF-RTRL only merges two products,
# so the ratio grows like n¹. The KF factor: KF-RTRL's relative variance at n = 64 over that at n = 8, of order one.
# The notebook measures both and asserts that they lie in these ranges.
KAPPA_RANGE = (0.8, 1.2)
KF_FACTOR_RANGE = (0.5, 2.0)


def _reference_exponent() -> tuple[float, float]:
    # UORO pays (n − 1)‖F_t‖² per step, KF-RTRL a variance whose size relative to ‖G_t‖² does not grow with n:
    # the ratio of the relative variances grows like n¹, and KF's own relative variance stays about the same.
    return 1.0, 1.0


@exercise("05.3", "predict: how UORO / KF-RTRL and KF-RTRL itself change with n", _reference_exponent)
def _check_exponent(answer: Any) -> tuple[bool, str]:
    try:
        kappa, kf_factor = (float(x) for x in answer)
    except (TypeError, ValueError):
        return False, "Give a pair (κ, factor): the exponent in ratio ∝ n^κ, and KF-RTRL's noise at n = 64 over n = 8."
    messages = []
    if not KAPPA_RANGE[0] <= kappa <= KAPPA_RANGE[1]:
        if abs(kappa) <= 0.25:
            messages.append("κ: the ratio does grow, because UORO's per-step floor (n − 1)‖F_t‖² grows with n.")
        elif kappa > KAPPA_RANGE[1]:
            messages.append("κ: too fast; the floor (n − 1)‖F_t‖² is linear in n. Does KF-RTRL's noise shrink with n?")
        else:
            messages.append("κ: compare UORO's per-step floor (n − 1)‖F_t‖² with what KF-RTRL's step adds.")
    if not KF_FACTOR_RANGE[0] <= kf_factor <= KF_FACTOR_RANGE[1]:
        messages.append(
            "KF-RTRL: F_t has rank one in KF's layout and is carried exactly; the step only merges two products. "
            "Does anything in that merge grow or shrink with n, relative to ‖G_t‖²?"
        )
    if messages:
        return False, " ".join(messages)
    return True, (
        "UORO's floor (n − 1)‖F_t‖² grows like n relative to ‖F_t‖², KF-RTRL's step variance does not: κ = 1, "
        "and KF's own noise stays of order one. The next cell measures both."
    )
