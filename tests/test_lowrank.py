"""Tests of okcore.lowrank: the minimal-variance unbiased rank-(N-1) replacement of diag(sigma).

Expectations are exact: all 2^N sign patterns are enumerated through ``optimal_unbiased_from_signs``.
Alternative unbiased schemes are built here independently of the module (own bases, own sign tricks) and their
variance is measured by the same enumeration, so the comparisons do not reuse the code under test.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from okcore.lowrank import (
    Mixing,
    minimal_variance,
    mixing_coefficients,
    mixing_matrix_batched,
    optimal_unbiased,
    optimal_unbiased_from_signs,
    split,
)

# ----------------------------------------------------------------------------------------------------------
# helpers


def all_signs(n: int) -> np.ndarray:
    """(2^n, n) array of every sign pattern."""
    return np.array(list(itertools.product([-1.0, 1.0], repeat=n)))


def enumerate_X(sigma: np.ndarray) -> np.ndarray:
    """(2^N, N, N): X = P @ Q.T of the module's construction for every sign pattern."""
    out = []
    for s in all_signs(sigma.size):
        P, Q = optimal_unbiased_from_signs(sigma, s)
        out.append(P @ Q.T)
    return np.array(out)


def scheme_stats(Xs: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean matrix and per-pattern squared errors of an enumerated scheme."""
    err = ((Xs - np.diag(sigma)) ** 2).sum(axis=(1, 2))
    return Xs.mean(axis=0), err


def rule_q(sigma_desc: np.ndarray) -> int:
    """The keep/mix rule written as a plain loop: smallest q with (N-1-q) sigma_{q+1} <= sum_{i>q} sigma_i."""
    n = sigma_desc.size
    for q in range(n):
        if (n - 1 - q) * sigma_desc[q] <= sigma_desc[q:].sum():
            return q
    raise AssertionError("unreachable")


def variance_for_q(sigma_desc: np.ndarray, q: int) -> float | None:
    """Variance of the symmetric construction that keeps the top q and mixes the rest; None if infeasible."""
    mixed = sigma_desc[q:]
    m = mixed.size
    S = mixed.sum()
    if S == 0:
        return 0.0
    if mixed.max() * (m - 1) > S * (1 + 1e-12):  # some w_i^2 = 1 - c sigma_i would be negative
        return None
    return float(S**2 / (m - 1) - (mixed**2).sum())


def own_symmetric_R(sigma_desc: np.ndarray, q: int) -> np.ndarray:
    """Independent build of the symmetric construction for a given q (basis from an SVD null space)."""
    n = sigma_desc.size
    mixed = sigma_desc[q:]
    m = mixed.size
    S = mixed.sum()
    c = (m - 1) / S
    w = np.sqrt(np.clip(1 - c * mixed, 0, None))
    # the m-1 right singular vectors of w^T beyond the first span the complement of w
    basis = np.linalg.svd(w[None, :])[2][1:]  # (m-1, m), orthonormal rows, all orthogonal to w
    R = np.zeros((n - 1, n))
    R[:q, :q] = np.diag(np.sqrt(sigma_desc[:q]))
    R[q:, q:] = basis / np.sqrt(c)
    return R


def variance_of_gram_scheme(M: np.ndarray, sigma: np.ndarray, rot: np.ndarray | None = None) -> tuple[float, float]:
    """Enumerate X(s) = diag(z) M diag(z), z = rot @ s; return (max |E[X] - diag(sigma)|, E||X - diag||^2)."""
    n = sigma.size
    rot = np.eye(n) if rot is None else rot
    Z = all_signs(n) @ rot.T
    Xs = Z[:, :, None] * M[None] * Z[:, None, :]
    mean, err = scheme_stats(Xs, sigma)
    return float(np.abs(mean - np.diag(sigma)).max()), float(err.mean())


def close(a: float, b: float, rel: float = 1e-10, scale: float = 1.0) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), scale)


rng0 = np.random.default_rng(20190609)

CASES = {
    "random4": rng0.random(4),
    "random6": rng0.exponential(size=6),
    "random8": rng0.random(8) * 3,
    "zeros": np.array([0.0, 1.3, 0.0, 0.4, 2.0]),
    "all_zero": np.zeros(4),
    "one_nonzero": np.array([0.0, 0.0, 5.0]),
    "ties": np.array([1.0, 2.0, 2.0, 1.0, 1.0, 0.5]),
    "unsorted": np.array([0.2, 3.0, 0.9, 1.7, 0.05, 2.2, 0.6]),
    "all_equal": np.full(5, 0.7),
    "dominant": np.array([100.0, 0.3, 50.0, 0.2, 80.0, 10.0]),
    "n2": np.array([0.3, 1.9]),
    "n2_zero": np.array([0.0, 4.0]),
    "boundary": np.array([2.0, 1.0, 1.0]),  # (N-1) sigma_1 == S: keeping or mixing sigma_1 costs the same
    "tiny_and_huge": np.array([1e-8, 1e8, 3e-9, 2e8]),
}


# ----------------------------------------------------------------------------------------------------------
# unbiasedness, constant error, rank, shapes


@pytest.mark.parametrize("name", sorted(CASES))
def test_unbiased_by_enumeration(name: str) -> None:
    sigma = CASES[name]
    mean, _ = scheme_stats(enumerate_X(sigma), sigma)
    assert np.abs(mean - np.diag(sigma)).max() <= 1e-12 * max(1.0, sigma.max())


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_equals_minimal_variance_on_every_pattern(name: str) -> None:
    sigma = CASES[name]
    v = minimal_variance(sigma)
    _, err = scheme_stats(enumerate_X(sigma), sigma)
    tol = 1e-10 * max(v, 1e-300) + 1e-13 * (sigma**2).sum()
    assert np.all(np.abs(err - v) <= tol), (err, v)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rank_shapes_and_symmetric_split(name: str) -> None:
    sigma = CASES[name]
    n = sigma.size
    for s in all_signs(n)[:: max(1, 2**n // 16)]:
        P, Q = optimal_unbiased_from_signs(sigma, s)
        assert P.shape == Q.shape == (n, n - 1)
        assert P.dtype == Q.dtype == np.float64
        assert np.linalg.matrix_rank(P @ Q.T) <= n - 1
        np.testing.assert_allclose(np.linalg.norm(P, axis=0), np.linalg.norm(Q, axis=0), rtol=1e-14)
        assert P is not Q  # independent arrays


def test_rank_is_exactly_n_minus_1_for_generic_sigma() -> None:
    # a construction that silently produced rank < N-1 would need extra variance elsewhere; here it is full
    sigma = np.array([3.0, 2.5, 2.0, 1.5, 1.0])
    P, Q = optimal_unbiased_from_signs(sigma, np.ones(5))
    assert np.linalg.matrix_rank(P @ Q.T) == 4


def test_known_values() -> None:
    assert minimal_variance([1.0, 1.0, 1.0]) == pytest.approx(9 / 2 - 3)
    assert minimal_variance([10.0, 1.0, 1.0]) == pytest.approx(2.0)  # keep 10, merge 1 and 1
    assert minimal_variance([3.0, 2.0, 0.0]) == 0.0  # diag(3, 2, 0) already has rank 2
    assert minimal_variance([0.0, 0.0]) == 0.0
    sigma = np.array([0.3, 2.0, 1.1, 0.7])  # keep 2.0 and 1.1, mix 0.7 and 0.3
    assert minimal_variance(sigma) == pytest.approx(2 * 0.7 * 0.3)


@pytest.mark.parametrize("seed", range(5))
def test_n2_gives_two_sigma1_sigma2(seed: int) -> None:
    sigma = np.random.default_rng(seed).exponential(size=2)
    assert minimal_variance(sigma) == pytest.approx(2 * sigma[0] * sigma[1], rel=1e-13)
    _, err = scheme_stats(enumerate_X(sigma), sigma)
    np.testing.assert_allclose(err, 2 * sigma[0] * sigma[1], rtol=1e-12)


def test_mixing_coefficients_gram_diagonal() -> None:
    rng = np.random.default_rng(1)
    for sigma in [*CASES.values(), rng.random(9), rng.random(17)]:
        R = mixing_coefficients(sigma)
        assert R.shape == (sigma.size - 1, sigma.size)
        G = R.T @ R
        np.testing.assert_allclose(np.diag(G), sigma, rtol=1e-12, atol=1e-14 * sigma.max())
        keep, _ = split(sigma)
        # the kept block is exact: no coupling from a kept direction to any other
        off = G - np.diag(np.diag(G))
        assert np.abs(off[keep]).max(initial=0.0) <= 1e-14 * max(1.0, sigma.max())


# ----------------------------------------------------------------------------------------------------------
# split


@pytest.mark.parametrize("seed", range(20))
def test_split_matches_rule_and_invariants(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    sigma = rng.exponential(size=n) ** rng.uniform(0.2, 3)
    sigma[rng.random(n) < 0.15] = 0.0
    if seed % 3 == 0:
        sigma[: n // 2] = sigma[0]  # a block of ties
    keep, mix = split(sigma)
    assert keep.dtype == mix.dtype == bool
    assert np.array_equal(keep, ~mix)
    assert mix.sum() >= 2
    q = rule_q(np.sort(sigma)[::-1])
    assert keep.sum() == q
    if q:
        assert sigma[keep].min() > sigma[mix].max()  # kept values are the top ones, ties never separated
    assert np.all(mix[sigma == 0])
    perm = rng.permutation(n)  # the masks follow the values, not the positions
    keep_p, _ = split(sigma[perm])
    assert np.array_equal(keep_p, keep[perm])


def test_split_examples() -> None:
    assert split([10.0, 1.0, 1.0])[0].tolist() == [True, False, False]
    assert split([1.0, 10.0, 1.0])[0].tolist() == [False, True, False]
    assert split([1.0, 1.0, 1.0])[0].tolist() == [False, False, False]
    assert split([0.0, 7.0, 3.0, 0.0])[0].tolist() == [False, True, True, False]
    assert split([100.0, 0.2, 80.0, 0.3, 50.0, 10.0])[1].tolist() == [False, True, False, True, False, False]
    assert split([5, 5, 5, 5, 1])[0].tolist() == [False] * 5  # integer input is accepted
    # 4 equal values above 4 tiny ones: the four 5s are kept together, never split among themselves
    assert split([5.0, 5.0, 5.0, 5.0, 0.1, 0.1, 0.1, 0.1])[0].tolist() == [True] * 4 + [False] * 4
    mixed_up = [0.1, 5.0, 0.1, 5.0, 5.0, 0.1, 5.0]
    assert split(mixed_up)[0].tolist() == [False, True, False, True, True, False, True]


# ----------------------------------------------------------------------------------------------------------
# optimality


@pytest.mark.parametrize("seed", range(25))
def test_minimal_over_all_keep_mix_choices(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 9))
    sigma = np.sort(rng.exponential(size=n) ** rng.uniform(0.3, 4))[::-1]
    best = minimal_variance(sigma)
    feasible = {}
    for q in range(n - 1):
        v = variance_for_q(sigma, q)
        if v is not None:
            feasible[q] = v
            assert best <= v * (1 + 1e-12) + 1e-15
    assert close(best, min(feasible.values()))
    # the chosen split is feasible and attains it (mixing more, when feasible, never hurts)
    assert close(best, feasible[rule_q(sigma)])


@pytest.mark.parametrize("seed", range(10))
def test_other_feasible_splits_built_independently_are_unbiased_and_not_better(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(3, 8))
    sigma = np.sort(rng.exponential(size=n) ** 2)[::-1]
    best = minimal_variance(sigma)
    tried = 0
    for q in range(n - 1):
        if variance_for_q(sigma, q) is None:
            continue
        R = own_symmetric_R(sigma, q)
        bias, var = variance_of_gram_scheme(R.T @ R, sigma)
        assert bias <= 1e-12 * sigma.max()
        assert close(var, variance_for_q(sigma, q))
        assert var >= best * (1 - 1e-12)
        tried += 1
    assert tried >= 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_beats_kf_style_merge_of_the_two_smallest(name: str) -> None:
    """Keep the N-2 largest exactly and merge the two smallest with one sign (balanced or unbalanced)."""
    sigma = CASES[name]
    n = sigma.size
    order = np.argsort(-sigma, kind="stable")
    a, b = order[-2], order[-1]
    kept = np.diag(np.where(np.isin(np.arange(n), [a, b]), 0.0, sigma))
    ea, eb = np.eye(n)[a], np.eye(n)[b]
    balanced, unbalanced = [], []
    for sa, sb in itertools.product([-1.0, 1.0], repeat=2):
        u = sa * np.sqrt(sigma[a]) * ea + sb * np.sqrt(sigma[b]) * eb  # KF's p-balancing: equal factor norms
        balanced.append(kept + np.outer(u, u))
        u1, v1 = sa * ea + sb * eb, sa * sigma[a] * ea + sb * sigma[b] * eb  # all weight on one factor
        unbalanced.append(kept + np.outer(u1, v1))
    best = minimal_variance(sigma)
    for Xs, expected in [(balanced, 2 * sigma[a] * sigma[b]), (unbalanced, sigma[a] ** 2 + sigma[b] ** 2)]:
        Xs = np.array(Xs)
        assert all(np.linalg.matrix_rank(X) <= n - 1 for X in Xs)
        mean, err = scheme_stats(Xs, sigma)
        np.testing.assert_allclose(mean, np.diag(sigma), atol=1e-12 * max(1.0, sigma.max()))
        assert close(err.mean(), expected, scale=1e-300)
        assert best <= err.mean() * (1 + 1e-12) + 1e-15
    if n == 2:
        assert close(best, 2 * sigma[0] * sigma[1], scale=1e-300)


def test_strictly_better_than_merging_two_when_many_are_similar() -> None:
    sigma = np.array([1.0, 0.95, 0.9, 0.85, 0.8])  # all mixed: mu = 4.5/4, variance 0.9875 vs 1.36
    assert minimal_variance(sigma) == pytest.approx(sum(x * (4.5 / 4 - x) for x in sigma))
    assert minimal_variance(sigma) < 0.75 * 2 * 0.85 * 0.8


def random_gram_scheme(rng: np.random.Generator, sigma: np.ndarray) -> np.ndarray:
    """Random M = A^T B, A and B of shape (N-1, N), diag(M) = sigma: X = diag(z) M diag(z) is unbiased."""
    n = sigma.size
    A = rng.normal(size=(n - 1, n))
    A /= np.linalg.norm(A, axis=0)
    extra = rng.normal(size=(n - 1, n)) * rng.uniform(0, 2)
    extra -= A * (A * extra).sum(axis=0)  # orthogonal to each column of A: keeps a_i . b_i = sigma_i
    B = A * sigma + extra
    return A.T @ B


@pytest.mark.parametrize("seed", range(20))
def test_lower_bound_against_random_unbiased_schemes(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(2, 8))
    sigma = rng.exponential(size=n) ** rng.uniform(0.5, 3)
    if seed % 4 == 0:
        sigma[rng.integers(n)] = 0.0
    best = minimal_variance(sigma)
    rot = np.linalg.qr(rng.normal(size=(n, n)))[0]  # random signs seen in a rotated basis: E[z z^T] = I still
    for rotation in (None, rot):
        M = random_gram_scheme(rng, sigma)
        assert np.linalg.matrix_rank(M) <= n - 1
        bias, var = variance_of_gram_scheme(M, sigma, rotation)
        assert bias <= 1e-10 * max(1.0, sigma.max())
        assert var >= best * (1 - 1e-10) - 1e-12


@pytest.mark.parametrize("seed", range(8))
def test_bound_is_tight_and_local_perturbations_cost(seed: int) -> None:
    """Perturbing the optimal R (keeping diag(R^T R) = sigma) never lowers the variance, and tends to it."""
    rng = np.random.default_rng(400 + seed)
    n = int(rng.integers(3, 7))
    sigma = rng.exponential(size=n) + 0.1
    best = minimal_variance(sigma)
    R = mixing_coefficients(sigma)
    gaps = []
    for eps in (1e-1, 1e-2, 1e-3):
        Rp = R + eps * rng.normal(size=R.shape)
        Rp *= np.sqrt(sigma / (Rp**2).sum(axis=0))  # restore the diagonal of the Gram matrix
        bias, var = variance_of_gram_scheme(Rp.T @ Rp, sigma)
        assert bias <= 1e-12 * sigma.max()
        assert var >= best * (1 - 1e-12)
        gaps.append(var - best)
    assert gaps[-1] < 1e-3 * max(best, 1.0)
    assert gaps[-1] <= gaps[0]


# ----------------------------------------------------------------------------------------------------------
# the random entry point


def test_optimal_unbiased_uses_the_generator() -> None:
    sigma = np.array([0.5, 1.5, 1.0, 0.2])
    draws = [optimal_unbiased(sigma, np.random.default_rng(7)) for _ in range(2)]
    np.testing.assert_array_equal(draws[0][0], draws[1][0])
    rng = np.random.default_rng(8)
    draws = [optimal_unbiased(sigma, rng) for _ in range(40)]
    patterns = {tuple(np.round(p @ q.T, 12).ravel()) for p, q in draws}
    assert len(patterns) > 1
    enumerated = {tuple(np.round(X, 12).ravel()) for X in enumerate_X(sigma)}
    assert patterns <= enumerated
    v = minimal_variance(sigma)
    for _ in range(10):
        P, Q = optimal_unbiased(sigma, rng)
        assert close(((P @ Q.T - np.diag(sigma)) ** 2).sum(), v)


def test_optimal_unbiased_monte_carlo_mean() -> None:
    rng = np.random.default_rng(9)
    sigma = np.array([2.0, 0.3, 1.1, 0.9, 1.0])
    Xs = []
    for _ in range(4000):
        P, Q = optimal_unbiased(sigma, rng)
        Xs.append(P @ Q.T)
    se = np.std(Xs, axis=0) / np.sqrt(len(Xs))
    assert np.all(np.abs(np.mean(Xs, axis=0) - np.diag(sigma)) <= 5 * se + 1e-12)


# ----------------------------------------------------------------------------------------------------------
# batched version


def batched_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = [
        rng.exponential(size=n),
        rng.random(n) ** 4,
        np.zeros(n),
        np.r_[3.0, np.zeros(n - 1)],
        np.full(n, 0.4),
        np.r_[np.full(n - 1, 2.0), 0.0],
        np.r_[1e3 * rng.random(n // 2 + 1), 1e-3 * rng.random(n - n // 2 - 1)],
        np.r_[10.0 * np.ones(max(n - 2, 0)), 1.0, 1.0][:n],
    ]
    return -np.sort(-np.array(rows), axis=1)


@pytest.mark.parametrize("n", range(2, 10))
def test_batched_agrees_with_single_rows_without_warnings(n: int) -> None:
    sd = batched_rows(np.random.default_rng(500 + n), n)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = mixing_matrix_batched(sd)
    assert isinstance(out, Mixing)
    B = sd.shape[0]
    assert out.R.shape == (B, n - 1, n)
    assert out.keep.shape == (B, n)
    assert out.m.shape == out.variance.shape == (B,)
    assert np.all(np.isfinite(out.R))
    assert np.all(out.variance >= 0)
    for b in range(B):
        row = sd[b]
        np.testing.assert_allclose(out.R[b], mixing_coefficients(row), rtol=1e-13, atol=1e-15)
        keep, mix = split(row)
        np.testing.assert_array_equal(out.keep[b], keep)
        assert out.m[b] == mix.sum()
        assert close(out.variance[b], minimal_variance(row), scale=1e-300)
        np.testing.assert_allclose(np.diag(out.R[b].T @ out.R[b]), row, rtol=1e-12, atol=1e-15 * row.max())


def test_batched_single_row_and_large_n() -> None:
    rng = np.random.default_rng(11)
    for n in (2, 9, 17):
        sd = -np.sort(-rng.random((1, n)), axis=1)
        out = mixing_matrix_batched(sd)
        assert out.R.shape == (1, n - 1, n)
        assert close(out.variance[0], minimal_variance(sd[0]))


def test_batched_accepts_ties_in_sorted_rows() -> None:
    out = mixing_matrix_batched(np.array([[2.0, 2.0, 1.0], [1.0, 1.0, 1.0]]))
    assert out.m.tolist() == [3, 3]


# ----------------------------------------------------------------------------------------------------------
# input checks


class NotAGenerator:
    pass


FULL_MESSAGE = r"^sigma: expected a 1-D array of at least 2 non-negative finite values, got shape \(1,\)$"
BAD_SIGMA = [
    ([1.0], ValueError, FULL_MESSAGE),
    ([], ValueError, r"^sigma: .*got shape \(0,\)"),
    (3.0, ValueError, r"^sigma: .*got shape \(\)"),
    ([[1.0, 2.0], [3.0, 4.0]], ValueError, r"^sigma: .*got shape \(2, 2\)"),
    ([1.0, np.nan], ValueError, r"^sigma: .*NaN/inf"),
    ([1.0, np.inf], ValueError, r"^sigma: .*NaN/inf"),
    ([1.0, -0.5], ValueError, r"^sigma: .*negative"),
    ([1.0, -1e-15], ValueError, r"^sigma: .*negative"),
    ([True, False], TypeError, r"^sigma: .*dtype bool"),
    ([1 + 1j, 2.0], TypeError, r"^sigma: .*dtype complex"),
    (["a", "b"], TypeError, r"^sigma: .*dtype <U1"),
    ("ab", TypeError, r"^sigma: .*got str"),
    (None, TypeError, r"^sigma: .*got NoneType"),
    ([[1.0, 2.0], [3.0]], TypeError, r"^sigma: "),
]


@pytest.mark.parametrize("func", [split, minimal_variance, mixing_coefficients])
@pytest.mark.parametrize(("bad", "exc", "pattern"), BAD_SIGMA)
def test_bad_sigma(func: Callable[[object], object], bad: object, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        func(bad)


@pytest.mark.parametrize(("bad", "exc", "pattern"), BAD_SIGMA)
def test_bad_sigma_in_random_functions(bad: object, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        optimal_unbiased(bad, np.random.default_rng(0))
    with pytest.raises(exc, match=pattern):
        optimal_unbiased_from_signs(bad, np.ones(2))


@pytest.mark.parametrize("rng", [None, 1.0, np.random.RandomState(0), NotAGenerator(), np.random])
def test_bad_rng(rng: object) -> None:
    with pytest.raises(TypeError, match=r"^rng: expected a numpy.random.Generator"):
        optimal_unbiased([1.0, 2.0], rng)


@pytest.mark.parametrize(
    ("signs", "exc", "pattern"),
    [
        (np.ones(2), ValueError, r"^signs: expected a 1-D array of 3 values, each \+1 or -1, got shape \(2"),
        (np.ones((3, 1)), ValueError, r"^signs: .*got shape \(3, 1\)"),
        ([1.0, 0.0, -1.0], ValueError, r"^signs: .*other value"),
        ([1.0, 0.5, -1.0], ValueError, r"^signs: .*0.5"),
        ([1.0, np.nan, -1.0], ValueError, r"^signs: "),
        ([True, False, True], TypeError, r"^signs: .*dtype bool"),
        (None, TypeError, r"^signs: .*NoneType"),
    ],
)
def test_bad_signs(signs: object, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        optimal_unbiased_from_signs([1.0, 2.0, 3.0], signs)


def test_integer_signs_are_accepted() -> None:
    P, _ = optimal_unbiased_from_signs([1.0, 2.0, 3.0], np.array([1, -1, 1]))
    assert P.dtype == np.float64


@pytest.mark.parametrize(
    ("bad", "exc", "pattern"),
    [
        (np.array([2.0, 1.0]), ValueError, r"^sigma_desc: expected a 2-D array .*got shape \(2,\)"),
        (np.zeros((0, 3)), ValueError, r"^sigma_desc: .*got shape \(0, 3\)"),
        (np.zeros((2, 1)), ValueError, r"^sigma_desc: .*got shape \(2, 1\)"),
        (np.array([[2.0, 1.0], [1.0, 2.0]]), ValueError, r"^sigma_desc: expected every row sorted .*row 1"),
        (np.array([[2.0, np.nan]]), ValueError, r"^sigma_desc: .*NaN/inf"),
        (np.array([[2.0, -1.0]]), ValueError, r"^sigma_desc: .*negative"),
        (np.array([[True, False]]), TypeError, r"^sigma_desc: .*dtype bool"),
    ],
)
def test_bad_sigma_desc(bad: object, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        mixing_matrix_batched(bad)
