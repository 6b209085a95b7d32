"""The core lemma of OK: the best unbiased rank-(N-1) stand-in for a diagonal N x N matrix.

Problem. Given singular values ``sigma`` (N >= 2, non-negative), find a random matrix X with
rank(X) <= N-1 and E[X] = diag(sigma) whose variance E||X - diag(sigma)||_F^2 is as small as possible.

Answer (OK's keep/mix rule). Sort descending, sigma_1 >= ... >= sigma_N. Keep sigma_1..sigma_q exactly, where
q is the smallest index with (N-1-q) * sigma_{q+1} <= S := sigma_{q+1} + ... + sigma_N, and mix the remaining
m = N - q values into m - 1 rank-one terms. The smallest achievable variance is

    S^2 / (m - 1) - sum_{i mixed} sigma_i^2  =  sum_{i mixed} sigma_i (mu - sigma_i),   mu = S / (m - 1),

and it is attained by the symmetric construction below on *every* draw of the random signs (so the squared
error is not just minimal on average, it is constant).

Construction, with c = 1 / mu = (m - 1) / S:

* w_i = sqrt(1 - c sigma_i) on mixed indices, 0 on kept ones: a unit vector, since the mixed 1 - c sigma_i
  sum to m - (m - 1) = 1;
* q_1..q_{m-1}: an orthonormal basis of the vectors supported on the mixed indices and orthogonal to w, so
  that sum_j q_j q_j^T = I_mix - w w^T, whose diagonal is c sigma_i;
* the (N-1) x N coefficient matrix R has the rows q_j / sqrt(c) and, for each kept i, sqrt(sigma_i) e_i.
  Its Gram matrix R^T R has diagonal sigma, is exact on the kept block and is mu (I - w w^T) on the mixed one;
* with independent random signs s in {+1, -1}^N, P = Q = (R diag(s))^T and X = P Q^T = diag(s) R^T R diag(s).
  E[s_i s_j] = delta_ij makes E[X] = diag(sigma); the error is the off-diagonal part -mu s_i s_j w_i w_j of
  the mixed block, whose squared norm does not depend on s.

Here the basis q_j is read off a Householder reflection H = I - v v^T / (1 + w_k), v = w + e_k, with k = N the
index of the smallest value, which is always mixed and where w is largest (so 1 + w_k >= 1 + 1/sqrt(m)):
H is symmetric and orthogonal, maps e_k to -w, leaves every kept coordinate vector fixed, and its other
mixed columns are exactly an orthonormal basis of the mixed vectors orthogonal to w. So R is just H with row k
deleted and each row scaled (sqrt(sigma_i) for kept rows, sqrt(mu) for mixed rows): this vectorises over a
batch.

Degenerate inputs. Ties are broken by a stable sort, and in exact arithmetic the rule never separates equal
values, so the masks do not depend on the order of the input. Zero values are always mixed. If every mixed
value is zero (S = 0), the problem is exact: the mixed rows of R are zero, the zero directions are simply
dropped and the variance is 0.

Why it is optimal (lower bound): Var = E||X||^2 - ||diag(sigma)||^2. Take M = diag(sigma_1..sigma_q, mu..mu);
von Neumann's trace inequality and Cauchy-Schwarz over the N-1 singular values of X give
<M, X> <= ||M||_(N-1) ||X||_F, where ||M||_(N-1)^2 sums the N-1 largest squared singular values of M. Hence
E||X||^2 >= <M, diag(sigma)>^2 / ||M||_(N-1)^2 = sum_{i<=q} sigma_i^2 + S mu, which is the variance above.

All arrays are float64. Inputs must be finite and >= 0: a value such as -1e-15 from an SVD is refused, clip it
before calling.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from okcore._checks import check_rng

__all__ = [
    "Mixing",
    "minimal_variance",
    "mixing_coefficients",
    "mixing_matrix_batched",
    "optimal_unbiased",
    "optimal_unbiased_from_signs",
    "split",
]


class Mixing(NamedTuple):
    """Result of :func:`mixing_matrix_batched`, for B rows of N values sorted descending.

    Attributes:
        R: (B, N-1, N) coefficient rows; ``R[b].T @ R[b]`` has diagonal ``sigma_desc[b]``.
        keep: (B, N) bool, True for the values kept exactly (always a leading block of each sorted row).
        m: (B,) int, number of mixed values (2 <= m <= N).
        variance: (B,) float, the minimal variance of each row (>= 0).
    """

    R: np.ndarray
    keep: np.ndarray
    m: np.ndarray
    variance: np.ndarray


# ----------------------------------------------------------------------------------------------------------
# input checks


def _as_sigma(sigma: object, ndim: int, name: str = "sigma") -> np.ndarray:
    """Validate and return ``sigma`` as a float64 array with ``ndim`` dims and last axis >= 2."""
    if ndim == 1:
        what = f"{name}: expected a 1-D array of at least 2 non-negative finite values"
    else:
        what = f"{name}: expected a 2-D array (B, N) with B >= 1, N >= 2, rows of non-negative finite values"
    if isinstance(sigma, str | bytes) or sigma is None:
        raise TypeError(f"{what}, got {type(sigma).__name__}")
    try:
        arr = np.asarray(sigma)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise TypeError(f"{what}, got an object numpy cannot turn into an array ({err})") from None
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{what}, got dtype {arr.dtype}")
    if arr.ndim != ndim or arr.shape[-1] < 2 or arr.size == 0:
        raise ValueError(f"{what}, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{what}, got {int(arr.size - finite.sum())} NaN/inf entries")
    if (arr < 0).any():
        raise ValueError(f"{what}, got a negative value {arr.min()!r} (clip SVD round-off to 0 first)")
    return arr


def _as_signs(signs: object, n: int) -> np.ndarray:
    what = f"signs: expected a 1-D array of {n} values, each +1 or -1"
    if isinstance(signs, str | bytes) or signs is None:
        raise TypeError(f"{what}, got {type(signs).__name__}")
    arr = np.asarray(signs)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{what}, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{what}, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.abs(arr) == 1.0):
        bad = arr[np.abs(arr) != 1.0]
        raise ValueError(f"{what}, got {bad.size} other value(s), e.g. {bad[0]!r}")
    return arr


# ----------------------------------------------------------------------------------------------------------
# the batched core (no input checks)


@functools.lru_cache(maxsize=64)
def _constants(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-N constants: column indices, the test weights N-1-j for j < N-1, and the identity."""
    cols = np.arange(n)
    return cols, (n - 1 - cols[:-1]).astype(np.float64), np.eye(n)


def _mixing_sorted(sd: np.ndarray) -> Mixing:
    """Core of :func:`mixing_matrix_batched` for a checked (B, N) float64 array sorted descending."""
    B, N = sd.shape
    cols, weights, eye = _constants(N)
    # suffix sums S_j = sum_{i >= j} sigma_i; mixed from the first j with (N-1-j) sigma_j <= S_j on. The test
    # always holds at j = N-2 (sigma_{N-2} <= sigma_{N-2} + sigma_{N-1}, also in floating point), so only
    # j = 0..N-2 are tested: q <= N-2, i.e. at least 2 values are mixed.
    suffix = np.cumsum(sd[:, ::-1], axis=1)[:, ::-1]
    q = np.argmax(weights * sd[:, :-1] <= suffix[:, :-1], axis=1)
    m = N - q
    S = np.take_along_axis(suffix, q[:, None], axis=1)  # (B, 1)
    keep = cols < q[:, None]
    mu = S / (m[:, None] - 1)  # = 1/c, the common scale of the mixed rows; 0 when S = 0

    # gap_i = mu - sigma_i >= 0 on mixed indices (clipped against round-off), 0 on kept ones
    gap = np.maximum(mu - sd, 0.0)
    gap[keep] = 0.0
    if S.all():
        w2 = gap / mu  # w_i^2 = 1 - c sigma_i on mixed indices
    else:  # S = 0 in some row: every mixed value there is 0, any unit w on its mixed block will do
        zero = S[:, 0] == 0.0
        w2 = gap / np.where(zero[:, None], 1.0, mu)
        w2[zero] = ~keep[zero] / m[zero, None]
    w = np.sqrt(w2)
    w /= np.sqrt(w2.sum(axis=1, keepdims=True))  # unit up to round-off; make it exact
    # Householder reflection with k = N-1: the smallest value is mixed and w is largest there (w_i^2 grows as
    # sigma_i falls; all equal when S = 0), so w_k >= 1/sqrt(m) > 0. Its rows other than k: kept i -> e_i
    # (scaled by sqrt(sigma_i)), mixed j -> q_j (scaled by sqrt(mu)); row k = -w is the one dropped.
    v = w.copy()
    v[:, -1] += 1.0
    R = eye[:-1] - (w[:, :-1] / v[:, -1:])[:, :, None] * v[:, None, :]
    R *= np.sqrt(np.where(keep[:, :-1], sd[:, :-1], mu))[:, :, None]
    variance = np.einsum("bi,bi->b", sd, gap)  # sum over mixed of sigma_i (mu - sigma_i)
    return Mixing(R, keep, m, variance)


def _sorted_single(sigma: np.ndarray) -> tuple[np.ndarray, Mixing]:
    """Stable descending order of a checked 1-D sigma and the mixing of the sorted values (B = 1)."""
    order = np.argsort(-sigma, kind="stable")
    return order, _mixing_sorted(sigma[order][None, :])


# ----------------------------------------------------------------------------------------------------------
# public functions


def split(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which singular values are kept exactly and which are mixed, for the best rank-(N-1) replacement.

    Args:
        sigma: (N,) non-negative finite values in any order, N >= 2.

    Returns:
        ``(keep, mix)``: two (N,) boolean masks in the order of ``sigma``, complementary. ``mix`` holds the
        m >= 2 smallest values, including every zero; equal values are never separated.
    """
    sigma = _as_sigma(sigma, 1)
    order, mixing = _sorted_single(sigma)
    keep = np.empty(sigma.shape, dtype=bool)
    keep[order] = mixing.keep[0]
    return keep, ~keep


def minimal_variance(sigma: np.ndarray) -> float:
    """Smallest E||X - diag(sigma)||_F^2 over random X with rank(X) <= N-1 and E[X] = diag(sigma).

    Closed form: S^2 / (m-1) - sum_{i mixed} sigma_i^2 with S and m the sum and count of the mixed values of
    :func:`split`, evaluated as sum_{i mixed} sigma_i (S/(m-1) - sigma_i), a sum of non-negative terms. It is
    0 when S = 0 (all mixed values are zero), and 2 sigma_1 sigma_2 for N = 2.

    Args:
        sigma: (N,) non-negative finite values in any order, N >= 2.

    Returns:
        The minimal variance, a float >= 0.
    """
    sigma = _as_sigma(sigma, 1)
    _, mixing = _sorted_single(sigma)
    return float(mixing.variance[0])


def mixing_coefficients(sigma: np.ndarray) -> np.ndarray:
    """The deterministic (N-1) x N coefficient matrix R of the optimal construction, columns in input order.

    ``R.T @ R`` has diagonal ``sigma``: on the kept entries it is diagonal (sigma_i, no coupling), on the
    mixed block it is mu (I - w w^T). Row order is not part of the contract.

    Args:
        sigma: (N,) non-negative finite values in any order, N >= 2.

    Returns:
        R: (N-1, N) float64.
    """
    sigma = _as_sigma(sigma, 1)
    order, mixing = _sorted_single(sigma)
    R = np.empty((sigma.size - 1, sigma.size))
    R[:, order] = mixing.R[0]
    return R


def optimal_unbiased_from_signs(sigma: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The optimal construction for one given sign vector (deterministic; enumerate ``signs`` to average).

    Args:
        sigma: (N,) non-negative finite values in any order, N >= 2.
        signs: (N,) entries +1 or -1, one per singular direction.

    Returns:
        ``(P, Q)``, both (N, N-1) float64 with P == Q (symmetric split: the two factors of every rank-one term
        have equal norm). X = P @ Q.T = diag(signs) R^T R diag(signs) has rank <= N-1, its average over all
        2^N sign vectors is diag(sigma), and ||X - diag(sigma)||_F^2 = minimal_variance(sigma) for every sign
        vector.
    """
    R = mixing_coefficients(sigma)
    s = _as_signs(signs, R.shape[1])
    P = (R * s[None, :]).T.copy()
    return P, P.copy()


def optimal_unbiased(sigma: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the minimal-variance unbiased rank-(N-1) replacement of diag(sigma).

    Draws N independent fair signs from ``rng`` and calls :func:`optimal_unbiased_from_signs`.

    Args:
        sigma: (N,) non-negative finite values in any order, N >= 2.
        rng: a ``numpy.random.Generator``, the only source of randomness.

    Returns:
        ``(P, Q)``, both (N, N-1): X = P @ Q.T has rank <= N-1, E[X] = diag(sigma), and
        ||X - diag(sigma)||_F^2 = minimal_variance(sigma) on every draw.
    """
    sigma = _as_sigma(sigma, 1)
    rng = check_rng("rng", rng)
    signs = rng.choice(np.array([-1.0, 1.0]), size=sigma.size)
    return optimal_unbiased_from_signs(sigma, signs)


def mixing_matrix_batched(sigma_desc: np.ndarray) -> Mixing:
    """Vectorised :func:`mixing_coefficients` for B independent rows already sorted in descending order.

    Each row gets its own keep/mix split. Rows with zeros or with an all-zero mixed block are handled without
    NaN or numpy warnings (the mixed rows of R are then zero and the variance is 0).

    Args:
        sigma_desc: (B, N) non-negative finite values, each row sorted descending, B >= 1, N >= 2.

    Returns:
        :class:`Mixing` with ``R`` (B, N-1, N), ``keep`` (B, N) bool, ``m`` (B,) int and ``variance`` (B,).
        Columns of ``R[b]`` follow the order of ``sigma_desc[b]``; ``R[b].T @ R[b]`` has diagonal
        ``sigma_desc[b]``.
    """
    sd = _as_sigma(sigma_desc, 2, "sigma_desc")
    if (sd[:, 1:] > sd[:, :-1]).any():
        bad = int(np.argmax((sd[:, 1:] > sd[:, :-1]).any(axis=1)))
        raise ValueError(f"sigma_desc: expected every row sorted descending, got row {bad} = {sd[bad]}")
    return _mixing_sorted(sd)
