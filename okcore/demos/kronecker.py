"""The Kronecker structure of the influence matrix (notebook 03).

Both cells compute their pre-activations as z_t = x̂_t W, so the immediate influence of W on h_t is a Kronecker
product, F_t = x̂_t ⊗ D_t, i.e. F[a, p, q] = x̂[p] D[a, q]. Unrolling G_t = H_t G_{t-1} + F_t gives

    G_t = Σ_{s ≤ t} x̂_s ⊗ (H_t H_{t-1} ⋯ H_{s+1} D_s),

a sum of t Kronecker products. The Van Loan rearrangement R maps u ⊗ A to the outer product u vec(A)ᵀ, a (K, n k)
matrix; it only moves entries around, so it keeps the Frobenius norm, and it turns "number of Kronecker terms"
into "matrix rank". The singular values of R(G_t) therefore say how well G_t is approximated by r terms.

Everything here works on one sequence (no batch axis) and is meant for teaching and checking, not speed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from okcore._checks import check_array, check_positive_float, check_positive_int
from okcore.cells import GatedCell, Step, _Cell
from okcore.rtrl import ExactRTRL
from okcore.tasks import one_hot

__all__ = [
    "random_network",
    "kron",
    "immediate_influence",
    "immediate_influence_fd",
    "apply_state_jacobian",
    "rearrange",
    "unrearrange",
    "kronecker_terms",
    "kronecker_spectrum",
    "top_share",
    "numerical_rank",
    "best_kronecker_approximation",
    "plot_top_share",
    "plot_spectra",
]


def random_network(
    n_hidden: int,
    T: int,
    seed: int,
    n_in: int = 4,
    scale: float | None = None,
    cell_cls: type[_Cell] = GatedCell,
) -> tuple[_Cell, np.ndarray]:
    """A cell with random weights and a random one-hot input sequence xs (T, n_in), both from ``seed``.

    ``scale`` is the standard deviation of the entries of W (None: the cell's default 1/√K). The cell is drawn
    first, then the T input symbols, uniformly from n_in.
    """
    n_hidden = check_positive_int("n_hidden", n_hidden)
    T = check_positive_int("T", T)
    rng = np.random.default_rng(seed)
    cell = cell_cls(n_in, n_hidden, rng, scale=scale)
    xs = one_hot(rng.integers(0, n_in, size=T), n_in)
    return cell, xs


def kron(u: object, A: object) -> np.ndarray:
    """u ⊗ A in the workbook's layout: (u ⊗ A)[a, p, q] = u[p] A[a, q]; u (..., K), A (..., n, k) -> (..., n, K, k)."""
    u = np.asarray(u, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    if u.ndim < 1 or A.ndim != u.ndim + 1 or u.shape[:-1] != A.shape[:-2]:
        raise ValueError(f"u, A: expected shapes (..., K) and (..., n, k), got {u.shape} and {A.shape}")
    return np.einsum("...p,...aq->...apq", u, A)


def immediate_influence(step: Step) -> np.ndarray:
    """F_t = x̂_t ⊗ D_t of an unbatched step, (n, K, k)."""
    if step.batched:
        raise ValueError("step: expected a step of one sequence (1-D x and h), got a batched step")
    return kron(step.xhat, step.D)


def immediate_influence_fd(cell: _Cell, x: object, h: object, eps: float = 1e-6) -> np.ndarray:
    """∂h_t/∂W with x_t and h_{t-1} held fixed, by central differences: (n, K, k).

    Each entry W[p, q] is moved by ±eps in a copy of the cell (the cell itself is not touched). In float64 the
    error is about eps² |h'''| + 1e-16/eps, i.e. around 1e-10 for the default eps.
    """
    eps = check_positive_float("eps", eps)
    probe = copy.deepcopy(cell)
    W0 = probe.W.copy()
    n = cell.n_hidden
    out = np.empty((n, cell.K, cell.k))
    for p in range(cell.K):
        for q in range(cell.k):
            W = W0.copy()
            W[p, q] += eps
            probe.W = W
            h_plus = probe.step(x, h).h
            W[p, q] -= 2.0 * eps
            probe.W = W
            h_minus = probe.step(x, h).h
            out[:, p, q] = (h_plus - h_minus) / (2.0 * eps)
    return out


def apply_state_jacobian(H: object, G: object) -> np.ndarray:
    """H G for an (n, n) Jacobian and an influence G (n, K, k): (H G)[a, p, q] = Σ_b H[a, b] G[b, p, q]."""
    H = np.asarray(H, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or G.ndim != 3 or G.shape[0] != H.shape[1]:
        raise ValueError(f"H, G: expected shapes (n, n) and (n, K, k), got {H.shape} and {G.shape}")
    return np.einsum("ab,bpq->apq", H, G)


def rearrange(G: object) -> np.ndarray:
    """The Van Loan rearrangement R(G), (K, n k): R[p, a k + q] = G[a, p, q], so that R(u ⊗ A) = u vec(A)ᵀ.

    vec(A) lists A (n, k) row by row. R permutes the entries of G, so ‖R(G)‖_F = ‖G‖_F.
    """
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 3:
        raise ValueError(f"G: expected shape (n, K, k), got shape {G.shape}")
    n, K, k = G.shape
    return G.transpose(1, 0, 2).reshape(K, n * k)


def unrearrange(R: object, n: int, k: int) -> np.ndarray:
    """The inverse of :func:`rearrange`: a (K, n k) matrix back to an influence (n, K, k)."""
    R = np.asarray(R, dtype=np.float64)
    n, k = check_positive_int("n", n), check_positive_int("k", k)
    if R.ndim != 2 or R.shape[1] != n * k:
        raise ValueError(f"R: expected shape (K, {n * k}), got shape {R.shape}")
    return R.reshape(R.shape[0], n, k).transpose(1, 0, 2)


def _run(cell: _Cell, xs: object, h0: object | None) -> tuple[np.ndarray, np.ndarray]:
    xs = check_array("xs", xs, (None, cell.n_in))
    h = np.zeros(cell.n_hidden) if h0 is None else check_array("h0", h0, (cell.n_hidden,))
    return xs, h


def kronecker_terms(cell: _Cell, xs: object, h0: object | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The t Kronecker terms of G_t after the whole sequence: u (T, K), A (T, n, k) with G_T = Σ_s u_s ⊗ A_s.

    u_s = x̂_s and A_s = H_T ⋯ H_{s+1} D_s: every step appends its own term x̂_s ⊗ D_s and multiplies the matrix
    factor of every older term by H_s, never touching the vector factors.
    """
    xs, h = _run(cell, xs, h0)
    us: list[np.ndarray] = []
    As = np.zeros((0, cell.n_hidden, cell.k))
    for x in xs:
        step = cell.step(x, h)
        h = step.h
        As = np.concatenate([np.einsum("ab,sbq->saq", step.H, As), step.D[None]])
        us.append(step.xhat)
    return np.array(us), As


def kronecker_spectrum(cell: _Cell, xs: object, h0: object | None = None) -> np.ndarray:
    """Singular values of R(G_t) for t = 1..T, largest first: (T, min(K, n k)). G_t from exact RTRL."""
    xs, h = _run(cell, xs, h0)
    exact = ExactRTRL(cell)
    out = []
    for x in xs:
        step = cell.step(x, h)
        h = step.h
        exact.update(step)
        out.append(np.linalg.svd(rearrange(exact.influence()[0]), compute_uv=False))
    return np.array(out)


def top_share(sv: object, ranks: Sequence[int]) -> np.ndarray:
    """Share of the squared Frobenius norm carried by the top r singular values, Σ_{i≤r} σ_i² / Σ_i σ_i².

    ``sv``: singular values, largest first, (..., m). Returns (..., len(ranks)); a zero matrix has share 1.
    """
    sv = np.asarray(sv, dtype=np.float64)
    sq = sv**2
    total = sq.sum(axis=-1, keepdims=True)
    cum = np.cumsum(sq, axis=-1)
    idx = [min(check_positive_int("rank", r), sv.shape[-1]) - 1 for r in ranks]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, cum[..., idx] / total, 1.0)
    return share


def numerical_rank(sv: object, rtol: float = 1e-10) -> np.ndarray:
    """Number of singular values above rtol × the largest, along the last axis."""
    sv = np.asarray(sv, dtype=np.float64)
    return np.sum(sv > rtol * sv.max(axis=-1, keepdims=True), axis=-1)


def best_kronecker_approximation(G: object, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """The best Frobenius approximation of G (n, K, k) by ``rank`` Kronecker terms: u (r, K), A (r, n, k).

    From the truncated SVD of R(G) (Eckart–Young): u_i = √σ_i times the i-th left singular vector, A_i = √σ_i
    times the i-th right singular vector reshaped to (n, k). The squared error is Σ_{i>r} σ_i².
    """
    G = np.asarray(G, dtype=np.float64)
    rank = check_positive_int("rank", rank)
    n, K, k = G.shape
    U, s, Vt = np.linalg.svd(rearrange(G), full_matrices=False)
    r = min(rank, s.size)
    root = np.sqrt(s[:r])
    return (U[:, :r] * root).T, (root[:, None] * Vt[:r]).reshape(r, n, k)


def plot_top_share(
    shares: object, ranks: Sequence[int], ax: Axes | None = None, title: str | None = None, log_tail: bool = False
) -> Axes:
    """Top-r share of ‖G_t‖²_F against t, one line per r. ``log_tail``: plot the rest, 1 − share, on a log axis
    (where it is round-off, below 1e-15, it is not drawn)."""
    shares = np.asarray(shares, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    t = np.arange(1, shares.shape[0] + 1)
    for j, r in enumerate(ranks):
        if log_tail:  # steps where the top r terms hold all of G (rest at round-off) are left out, not drawn at a floor
            rest = 1.0 - shares[:, j]
            ax.semilogy(t, np.where(rest > 1e-15, rest, np.nan), label=f"r = {r}")
        else:
            ax.plot(t, shares[:, j], label=f"r = {r}")
    ax.set_xlabel("time step t")
    ax.set_ylabel("1 − share (mass left out)" if log_tail else "share of $\\|G_t\\|_F^2$ in the top r")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_spectra(sv: object, times: Sequence[int], ax: Axes | None = None) -> Axes:
    """Singular values of R(G_t), normalised by the largest, at the given times t (1-based), on a log axis."""
    sv = np.asarray(sv, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    i = np.arange(1, sv.shape[1] + 1)
    for t in times:
        ax.semilogy(i, np.maximum(sv[t - 1] / sv[t - 1, 0], 1e-17), "o-", ms=3, label=f"t = {t}")
    ax.set_xlabel("index i")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("$\\sigma_i / \\sigma_1$ of $R(G_t)$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return ax
