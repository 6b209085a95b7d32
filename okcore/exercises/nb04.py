"""Exercises of notebook 04 (UORO).

04.1 the average of ννᵀ over a set of sign vectors (then applied to all of them); 04.2 the relative variance of the
first step, as a function of n (a derivation, checked against a measurement with :class:`okcore.UORO`); 04.3 the
variance-minimising ratio ρ = ρ0/ρ1 (checked against a numerical minimisation); 04.4 UORO's update with norm
balancing, written by the reader (checked against :class:`okcore.UORO` fed the same signs, and by exact enumeration
over all sign vectors).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from okcore.approx.uoro import UORO
from okcore.cells import GatedCell, TanhCell, _Cell
from okcore.exercises import FLOAT32, call_answer, call_number, describe, exercise, precision_message
from okcore.exercises._factors import relate_factors, repeats, two_term_fit
from okcore.noise import broadcast_step
from okcore.signs import ReplaySigns

SIGN_N = 5  # exercise 04.1: size of the sign vectors the notebook then enumerates


def _reference_moment() -> Callable[[np.ndarray], np.ndarray]:
    def moment(signs: np.ndarray) -> np.ndarray:
        # the average of the outer products ν νᵀ over the rows ν of signs (N, n): (1/N) Σ_ν ν νᵀ
        return signs.T @ signs / len(signs)

    return moment


def _moment_cases(rng: np.random.Generator) -> list[np.ndarray]:
    """Sets of sign vectors: random ones (whose average is not I), and every vector once for n = 3."""
    cases = [rng.choice([-1.0, 1.0], size=(N, n)) for N, n in ((7, 4), (3, 5), (12, 2))]
    cases.append(np.array(list(itertools.product([-1.0, 1.0], repeat=3))))
    return cases


@exercise("04.1", "the average of ννᵀ over sign vectors", _reference_moment)
def _check_moment(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function moment(signs) that averages ν νᵀ over the rows ν of signs (N, n)."
    for signs in _moment_cases(np.random.default_rng()):
        N, n = signs.shape
        result = call_answer(answer, "moment", {"signs": signs})
        if result is None:
            return False, "moment returned None: does it end with return?"
        if not isinstance(result, np.ndarray | list | tuple):
            return False, f"moment(signs) should return an (n, n) matrix, got {describe(result)}."
        M = np.asarray(result, dtype=np.float64)
        want = signs.T @ signs / N
        if M.shape != (n, n):
            if M.shape == (N, N):
                return False, f"For signs of shape {(N, n)} that is an (N, N) matrix: average ν νᵀ, which is (n, n)."
            return False, f"For signs of shape {(N, n)} expected an (n, n) = {(n, n)} matrix, got shape {M.shape}."
        if np.allclose(M, want, rtol=1e-12, atol=1e-12):
            continue
        if np.allclose(M, np.eye(n)):
            return False, (
                f"For {N} sign vectors that are not all of them, the average of ν νᵀ is not I: compute it from the "
                "rows of signs."
            )
        if np.allclose(M, N * want):
            return False, "That is the sum over the sign vectors; divide by their number."
        return False, "Average the outer products ν νᵀ over the rows ν of signs: (1/N) Σ_ν ν νᵀ."
    return True, "Applied to every sign vector once, it gives the expectation E[ννᵀ]."


# --- 04.2 -------------------------------------------------------------------------------------------------


def _reference_first_step() -> Callable[[int], float]:
    def relative_variance_at_t1(n: int) -> float:
        # E‖ν(νᵀF) − F‖² = E‖ν(νᵀF)‖² − ‖F‖² = n E‖νᵀF‖² − ‖F‖² = (n − 1)‖F‖²
        return n - 1.0

    return relative_variance_at_t1


def _measured_first_step(n: int, rng: np.random.Generator) -> float:
    """‖G̃_1 − G_1‖²/‖G_1‖² of one draw of okcore's UORO on a fresh gated cell with n units (every draw agrees)."""
    cell = GatedCell(2, n, rng)
    step = cell.step(rng.normal(size=2), np.zeros(n))
    est = UORO(cell, rng=rng)
    est.update(step)
    F = np.einsum("p,aq->apq", step.xhat, step.D)
    return float(est.squared_error(F)[0] / np.sum(F * F))


@exercise("04.2", "the relative variance after the first step", _reference_first_step)
def _check_first_step(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function of n."
    rng = np.random.default_rng()
    ns = (1, 2, 3, 6, 12)
    got = np.array([call_number(answer, "f", {"n": n}) for n in ns])
    want = np.array([_measured_first_step(n, rng) for n in ns])  # measured on okcore's UORO
    if np.allclose(got, want, rtol=1e-9, atol=1e-9):
        return True, f"It matches one step of okcore's UORO on fresh gated networks with n = {ns}."
    if np.allclose(got, np.array(ns, dtype=float), rtol=1e-9):
        return False, "That is E‖ν(νᵀF)‖²/‖F‖²; the variance subtracts the squared mean, ‖F‖²."
    if np.allclose(got, np.zeros(len(ns))):
        return False, "The first step is unbiased, but a single draw is not F: the variance is not zero."
    return False, "Expand ‖ν(νᵀF) − F‖²: ‖ν(νᵀF)‖² = ‖ν‖² ‖νᵀF‖², ‖ν‖² = n and E‖νᵀF‖² = ‖F‖²."


# --- 04.3 -------------------------------------------------------------------------------------------------


def _reference_rho() -> Callable[[float, float, float, int], float]:
    def best_rho(norm_Hs: float, norm_theta: float, norm_F: float, n: int) -> float:
        # minimise ρ² ‖Hs‖² ‖F‖² + ρ⁻² n ‖θ‖²: ρ⁴ = n ‖θ‖² / (‖Hs‖² ‖F‖²)
        return (n * norm_theta**2 / (norm_Hs**2 * norm_F**2)) ** 0.25

    return best_rho


def _numerical_best_rho(norm_Hs: float, norm_theta: float, norm_F: float, n: int) -> float:
    """The minimiser of ρ² ‖Hs̃‖² ‖F‖² + ρ⁻² n ‖θ̃‖², by golden-section search on log ρ (no formula used)."""
    from okcore.demos.uoro import minimise_scalar

    def v(log_rho: float) -> float:
        rho2 = np.exp(2.0 * log_rho)
        return rho2 * norm_Hs**2 * norm_F**2 + n * norm_theta**2 / rho2

    return float(np.exp(minimise_scalar(v, -30.0, 30.0, tol=1e-12)[0]))


@exercise("04.3", "the variance-minimising ratio ρ = ρ0/ρ1", _reference_rho)
def _check_rho(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function best_rho(norm_Hs, norm_theta, norm_F, n)."
    rng = np.random.default_rng()
    cases = [(*rng.uniform(0.1, 5.0, size=3), int(rng.integers(2, 50))) for _ in range(6)]
    names = ("norm_Hs", "norm_theta", "norm_F", "n")
    got = np.array([call_number(answer, "best_rho", dict(zip(names, c, strict=True))) for c in cases])
    want = np.array([_numerical_best_rho(*c) for c in cases])
    if np.allclose(got, want, rtol=1e-6):
        return True, "It agrees with a numerical minimisation of V(ρ) on random norms."
    if np.allclose(got, 1.0 / want, rtol=1e-6):
        return False, "Upside down: a large ‖θ̃‖ calls for a large ρ, which moves weight onto s̃."
    no_n = np.array([_numerical_best_rho(a, b, c, 1) for a, b, c, _ in cases])
    if np.allclose(got, no_n, rtol=1e-6):
        return False, "The term with ρ⁻² carries a factor n = ‖ν‖²."
    if np.allclose(got, want**2, rtol=1e-6):
        return False, "That is ρ²; take its square root."
    return False, "Minimise ρ² ‖Hs̃‖² ‖F‖² + ρ⁻² n ‖θ̃‖² over ρ > 0 (set the derivative to zero)."


# --- 04.4: UORO's update, written by the reader ------------------------------------------------------------


def _reference_update() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def uoro_update(s, theta, xhat, H, D, nu):
        Hs = H @ s  # (n,)
        nuF = np.outer(xhat, nu @ D)  # νᵀF = x̂ ⊗ (νᵀD), (K, k)
        rho0 = np.sqrt(np.linalg.norm(theta) / np.linalg.norm(Hs))
        rho1 = np.sqrt(np.linalg.norm(nuF) / np.sqrt(len(nu)))
        return rho0 * Hs + rho1 * nu, theta / rho0 + nuF / rho1

    return uoro_update


def _all_signs(n: int) -> np.ndarray:
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def _update_instances(rng: np.random.Generator) -> list[tuple[_Cell, np.ndarray, np.ndarray, Any]]:
    """Fresh random (cell, s̃, θ̃, step): a gated cell with a large θ̃ and a tanh cell with a small one, so that
    UORO's balanced ratio ρ is far from 1 in both."""
    out = []
    for cls, n_in, n, scale in ((GatedCell, 3, 3, 30.0), (TanhCell, 3, 4, 0.03)):
        cell = cls(n_in, n, rng)
        step = cell.step(rng.normal(size=n_in), 0.5 * rng.normal(size=n))
        out.append((cell, rng.normal(size=n), scale * rng.normal(size=(cell.K, cell.k)), step))
    return out


def _okcore_uoro(cell: _Cell, s: np.ndarray, theta: np.ndarray, step: Any, nus: np.ndarray):
    """okcore's UORO applied to (s̃, θ̃) once per row of nus: (s̃' (N, n), θ̃' (N, K, k))."""
    N = nus.shape[0]
    est = UORO(cell, batch=N, rng=ReplaySigns([nus]), eps=1e-200)  # ε far below every norm here
    est.s = np.tile(s, (N, 1))
    est.theta = np.tile(theta, (N, 1, 1))
    est.update(broadcast_step(step, N))
    return est.s.copy(), est.theta.copy()


def _mean_and_variance(s_new: np.ndarray, theta_new: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    prods = s_new[:, :, None, None] * theta_new[:, None]
    return prods.mean(axis=0), float(np.mean(np.sum((prods - target) ** 2, axis=(1, 2, 3))))


def _uses_signs(
    answer: Callable,
    arguments_for: Callable[[np.ndarray], dict],
    nus: np.ndarray,
    s_new: np.ndarray,
    theta_new: np.ndarray,
) -> str | None:
    """None if the reader's update depends on the signs ν it is given, and only on them; else what is wrong.
    ``s_new``, ``theta_new``: what it returned for each row of ``nus``."""
    if not repeats(answer, "uoro_update", arguments_for, nus, (s_new, theta_new)):
        return (
            "Your result does not depend on the signs ν it is given: two calls with the same ν gave different "
            "results, so the function draws random numbers of its own (its own signs?) instead of using nu. All of "
            "a step's randomness is the argument nu: the checker calls it with every ν and needs the same update for "
            "the same ν."
        )
    same_s, same_theta = (np.allclose(x, x[0], rtol=1e-12, atol=0) for x in (s_new, theta_new))
    if same_s and same_theta:
        return "The result does not depend on the signs ν it was given: ν must enter s̃', and νᵀF must enter θ̃'."
    if same_s:
        return "s̃' does not depend on ν: ν is missing from s̃' = ρ0 H s̃ + ρ1 ν."
    if same_theta:
        return (
            "θ̃' does not depend on ν: in θ̃' = θ̃/ρ0 + (νᵀF)/ρ1 the term νᵀF carries the signs, νᵀF = x̂ ⊗ (νᵀD), "
            "np.outer(xhat, nu @ D)."
        )
    return None


def _diagnose_update(answer: Callable, cell, s, theta, step) -> tuple[str, str]:
    """('ok', '') or (kind, message) for one instance."""
    n, K, k = cell.n_hidden, cell.K, cell.k
    nus = _all_signs(n)
    s_list, theta_list, raw = [], [], []
    for nu in nus:
        arguments = {"s": s, "theta": theta, "xhat": step.xhat, "H": step.H, "D": step.D, "nu": nu}
        out = call_answer(answer, "uoro_update", arguments)
        if out is None:
            return "none", "Your function returns None: write its body."
        if not isinstance(out, tuple | list) or len(out) != 2:
            return "shape", f"Return a pair (s_new, theta_new); got {describe(out)}."
        s_new, theta_new = (np.asarray(a, dtype=np.float64) for a in out)
        if s_new.shape != (n,) or theta_new.shape != (K, k):
            return "shape", (
                f"Shapes: s_new should be (n,) = {(n,)} and theta_new (K, k) = {(K, k)}; got {s_new.shape} and "
                f"{theta_new.shape} (cell with n = {n}, K = {K}, k = {k})."
            )
        if not (np.all(np.isfinite(s_new)) and np.all(np.isfinite(theta_new))):
            return "finite", "The result contains inf or nan."
        s_list.append(s_new)
        theta_list.append(theta_new)
        raw.append(tuple(out))
    s_new, theta_new = np.array(s_list), np.array(theta_list)
    ref_s, ref_theta = _okcore_uoro(cell, s, theta, step, nus)
    if np.allclose(s_new, ref_s, rtol=1e-9, atol=1e-12 * np.abs(ref_s).max()) and np.allclose(
        theta_new, ref_theta, rtol=1e-9, atol=1e-12 * np.abs(ref_theta).max()
    ):
        return "ok", ""
    precision = precision_message(raw, list(zip(ref_s, ref_theta, strict=True)))
    if precision:
        return "precision", precision
    if any(np.asarray(a).dtype.kind == "f" and np.asarray(a).dtype.itemsize < 8 for pair in raw for a in pair):
        return "precision", FLOAT32 + "."

    def arguments_for(nu: np.ndarray) -> dict:
        return {"s": s, "theta": theta, "xhat": step.xhat, "H": step.H, "D": step.D, "nu": nu}

    signs_problem = _uses_signs(answer, arguments_for, nus, s_new, theta_new)
    if signs_problem:
        return "signs", signs_problem
    Hs = step.H @ s
    old = Hs[:, None, None] * theta[None]  # H s̃ θ̃ᵀ, as an (n, K, k) array
    F = np.einsum("p,aq->apq", step.xhat, step.D)
    target = old + F
    mean, var = _mean_and_variance(s_new, theta_new, target)
    _, ref_var = _mean_and_variance(ref_s, ref_theta, target)
    bias = np.linalg.norm(mean - target) / np.linalg.norm(target)
    N = len(nus)
    if bias > 1e-8:
        tol = 1e-10 * np.abs(target).max()
        if np.allclose(mean, old - F, rtol=1e-8, atol=tol):
            return "sign", (
                f"Biased: the mean over all {N} sign vectors is H s̃ θ̃ᵀ − F, not + F. A sign error: ν in s̃' and "
                "νᵀF in θ̃' must enter with the same sign, so that their product ν νᵀF averages to +F."
            )
        if np.allclose(mean, s[:, None, None] * theta[None] + F, rtol=1e-8, atol=tol):
            return "bias", "Biased: the old estimate is carried over without H. Propagate it: use H s̃."
        if np.allclose(mean, (step.H.T @ s)[:, None, None] * theta[None] + F, rtol=1e-8, atol=tol):
            return "bias", (
                "Biased: H_t is transposed. The old estimate propagates as H (s̃ θ̃ᵀ) = (H s̃) θ̃ᵀ with "
                "(H s̃)[a] = Σ_b H[a, b] s̃[b]: H @ s, not H.T @ s (or s @ H)."
            )
        fit = two_term_fit(mean, old, F)
        if fit is not None:
            a, b = fit
            if np.isclose(a, 1.0, rtol=1e-6):
                return "bias", (
                    f"Biased: the mean over all {N} sign vectors is H s̃ θ̃ᵀ + {b:.3g} F. The scale of ν in s̃' and the "
                    "scale of νᵀF in θ̃' must multiply to 1 (ρ1 and 1/ρ1)."
                )
            if np.isclose(b, 1.0, rtol=1e-6):
                return "bias", (
                    f"Biased: the mean over all {N} sign vectors is {a:.3g} H s̃ θ̃ᵀ + F. The scales of H s̃ in s̃' and "
                    "of θ̃ in θ̃' must multiply to 1 (ρ0 and 1/ρ0)."
                )
            return "bias", (
                f"Biased: the mean over all {N} sign vectors is {a:.3g} H s̃ θ̃ᵀ + {b:.3g} F. In each of the two "
                "products the scales must cancel: ρ0 on H s̃ goes with 1/ρ0 on θ̃, and ρ1 on ν with 1/ρ1 on νᵀF."
            )
        return "bias", (
            f"Biased: the mean over all {N} sign vectors differs from H s̃ θ̃ᵀ + F by {bias:.2g} (relative). Check "
            "that s̃' = ρ0 H s̃ + ρ1 ν and θ̃' = θ̃/ρ0 + (νᵀF)/ρ1."
        )
    if var > ref_var * (1.0 + 1e-8):
        return "variance", (
            f"Unbiased (checked over all {N} sign vectors), but the variance is {var / ref_var:.3g} times the "
            "balanced minimum: the scales are not balanced. Use ρ0 = √(‖θ̃‖/‖H s̃‖) and ρ1 = √(‖νᵀF‖/√n)."
        )
    relation = relate_factors(
        (s_new, theta_new),
        (ref_s, ref_theta),
        lambda a, b: a[:, :, None, None] * b[:, None],
        nus,
        {"−ν": lambda nu: -nu},
    )
    if relation.kind == "sign":
        return "split", (
            "Unbiased, with the balanced variance, and every product s̃'θ̃'ᵀ equals okcore's, but for some ν you "
            "return (−s̃', −θ̃'): a sign sits on the other factor. Attach ν as okcore does: s̃' = ρ0 H s̃ + ρ1 ν and "
            "θ̃' = θ̃/ρ0 + (νᵀF)/ρ1."
        )
    if relation.kind == "relabel":
        return "split", (
            "Unbiased, with the balanced variance, but your update for ν is okcore's for −ν: ν and νᵀF must both "
            "enter with a plus sign, s̃' = ρ0 H s̃ + ρ1 ν and θ̃' = θ̃/ρ0 + (νᵀF)/ρ1."
        )
    if relation.kind == "scale":
        low, high = relation.scales
        factor = f"{low:.3g}" if np.isclose(low, high) else f"between {low:.3g} and {high:.3g}"
        return "split", (
            f"Unbiased, with the balanced variance, and every product s̃'θ̃'ᵀ equals okcore's, but your s̃' is okcore's "
            f"times {factor} (and θ̃' divided by it): the ratio ρ0/ρ1 is right, the common scale is not. Use exactly "
            "ρ0 = √(‖θ̃‖/‖H s̃‖) and ρ1 = √(‖νᵀF‖/√n)."
        )
    return "split", (
        "Unbiased, with the minimal variance, but not okcore's outcome for each ν. Use exactly ρ0 = √(‖θ̃‖/‖H s̃‖) "
        "and ρ1 = √(‖νᵀF‖/√n), with s̃' = ρ0 H s̃ + ρ1 ν and θ̃' = θ̃/ρ0 + (νᵀF)/ρ1."
    )


@exercise("04.4", "UORO's update with norm balancing", _reference_update)
def _check_update(answer: Any) -> tuple[bool, str]:
    if not callable(answer):
        return False, "Give a function uoro_update(s, theta, xhat, H, D, nu) returning (s_new, theta_new)."
    rng = np.random.default_rng()
    for cell, s, theta, step in _update_instances(rng):
        kind, message = _diagnose_update(answer, cell, s, theta, step)
        if kind != "ok":
            return False, message
    return True, (
        "Equal to okcore's UORO for every sign vector on a fresh gated cell (n = 3) and tanh cell (n = 4); "
        "unbiased, with the balanced variance."
    )
