"""How a reader's two-factor update relates to okcore's, sign pattern by sign pattern.

UORO keeps s̃θ̃ᵀ and KF-RTRL keeps u ⊗ A: the same product can be split into two factors in many ways, and the same
set of outcomes can be produced with the random signs attached differently. When a reader's update is unbiased and
has the balanced variance but is not okcore's, :func:`relate_factors` says which of these it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from okcore.exercises import call_answer


@dataclass(frozen=True)
class Relation:
    """``kind`` is "same", "sign" (some outcomes are okcore's with both factors negated), "scale" (okcore's factors
    times λ and 1/λ, λ in ``scales``), "relabel" (okcore's outcomes for the signs mapped by ``relabel``) or "other"."""

    kind: str
    scales: tuple[float, float] = (1.0, 1.0)
    relabel: str = ""


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(b).max()))))


def relate_factors(
    mine: tuple[np.ndarray, np.ndarray],
    ref: tuple[np.ndarray, np.ndarray],
    product: Callable[[np.ndarray, np.ndarray], np.ndarray],
    patterns: np.ndarray,
    relabels: Mapping[str, Callable[[np.ndarray], np.ndarray]],
) -> Relation:
    """Compare the reader's factors ``mine`` = (first, second), one row per sign pattern, with okcore's ``ref``.

    ``product(first, second)`` forms the estimates (one row per pattern); ``patterns`` (N, ...) are the signs of the
    rows; ``relabels`` maps a description (e.g. "−ν") to a function of a pattern giving the pattern it stands for.
    """
    m1, m2 = mine
    r1, r2 = ref
    if _close(m1, r1) and _close(m2, r2):
        return Relation("same")
    prods, ref_prods = product(m1, m2), product(r1, r2)
    if _close(prods, ref_prods):
        flat_m, flat_r = m1.reshape(len(m1), -1), r1.reshape(len(r1), -1)
        lam = np.sum(flat_m * flat_r, axis=1) / np.sum(flat_r * flat_r, axis=1)
        if np.allclose(np.abs(lam), 1.0, rtol=1e-8):
            return Relation("sign")
        return Relation("scale", (float(np.abs(lam).min()), float(np.abs(lam).max())))
    index = {tuple(np.ravel(p)): i for i, p in enumerate(patterns)}
    for name, relabel in relabels.items():
        try:
            order = [index[tuple(np.ravel(relabel(p)))] for p in patterns]
        except KeyError:
            continue
        if _close(prods, ref_prods[order]):
            return Relation("relabel", relabel=name)
    return Relation("other")


def repeats(
    answer: Callable,
    name: str,
    arguments_for: Callable[[np.ndarray], dict],
    patterns: np.ndarray,
    results: tuple[np.ndarray, np.ndarray],
    rows: tuple[int, ...] | None = None,
    rounds: int = 2,
) -> bool:
    """Whether the reader's function ``answer`` gives again what it gave before (``results``: its two factors, one
    row per sign pattern) when it is called again, ``rounds`` times, with the sign patterns of ``rows`` (all by
    default). A function that draws random numbers of its own instead of using the signs it is given does not; with
    four patterns and two rounds, one that draws its own pair of signs passes by chance once in 4⁸ = 65,536."""
    for i in [j for _ in range(rounds) for j in (range(len(patterns)) if rows is None else rows)]:
        again = call_answer(answer, name, arguments_for(patterns[i]))
        if not isinstance(again, tuple | list) or len(again) != 2:
            return False
        pair = [np.asarray(a, dtype=np.float64) for a in again]
        if any(a.shape != r[i].shape or not np.array_equal(a, r[i]) for a, r in zip(pair, results, strict=True)):
            return False
    return True


def two_term_fit(mean: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, float] | None:
    """(a, b) if ``mean`` = a·first + b·second (to 1e-8, relative), else None."""
    basis = np.stack([first.ravel(), second.ravel()], axis=1)
    coef, *_ = np.linalg.lstsq(basis, mean.ravel(), rcond=None)
    size = np.linalg.norm(mean) + np.linalg.norm(first) + np.linalg.norm(second)
    ok = np.linalg.norm(basis @ coef - mean.ravel()) <= 1e-8 * size
    return (float(coef[0]), float(coef[1])) if ok else None
