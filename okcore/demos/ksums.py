"""Rank-r Kronecker sums and unbiased ways to compress r+1 terms back to r (notebook 06).

One step of every Kronecker-sum estimator has the same shape. The estimate G̃_{t-1} = Σ_{i<r} u_i ⊗ A_i is pushed
through the recursion exactly, which gives r+1 terms,

    Σ_i u_i ⊗ (H A_i) + x̂ ⊗ D  =  Σ_{j<r+1} v_j ⊗ M_j,

and a random *compression* replaces them by r terms whose expectation is exactly that sum. Here every such
compression is a :class:`Scheme`: a deterministic function of a vector of ±1 signs. Averaging over all 2^m sign
patterns (:func:`exact_moments`) gives its mean and its variance exactly, with no sampling error, which is how
the notebooks check unbiasedness.

Besides the schemes (:func:`kf_pair_scheme`, :func:`kf_avg_scheme`, :func:`sign_mixing_scheme`) the module has
the Kronecker rank (through the Van Loan rearrangement of :mod:`okcore.demos.kronecker`), a product-counting
version of the KF-avg update (:func:`kf_avg_step`, :func:`kf_avg_products`) for the cost argument, and per-run
squared errors over time (:func:`squared_errors`) for Monte Carlo standard errors.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from okcore._checks import check_array, check_positive_int, check_rng
from okcore.approx.kf import KFAverage
from okcore.approx.ok import OK
from okcore.cells import Step, _Cell
from okcore.demos.kronecker import rearrange
from okcore.estimator import Estimator
from okcore.noise import broadcast_step
from okcore.plotting import label_style
from okcore.rtrl import ExactRTRL
from okcore.signs import ReplaySigns
from okcore.tasks import one_hot

__all__ = [
    "Enumerated",
    "Instance",
    "Moments",
    "ProductCounter",
    "Scheme",
    "all_sign_patterns",
    "enumerate_kf_avg",
    "exact_moments",
    "kf_avg_products",
    "kf_avg_scheme",
    "kf_avg_estimator_outputs",
    "kf_avg_step",
    "kf_merge",
    "kf_pair_scheme",
    "kron_sum",
    "kronecker_rank",
    "make_instance",
    "plot_kf_avg_noise",
    "plot_scheme_variances",
    "random_sign_mixing",
    "random_tokens",
    "scheme_outputs",
    "sign_mixing_scheme",
    "squared_errors",
    "variance_decomposition",
]

# ----------------------------------------------------------------------------------------------------------
# Kronecker sums as arrays


def kron_sum(u: object, A: object) -> np.ndarray:
    """The dense Kronecker sum G[a, p, q] = Σ_i u_i[p] A_i[a, q] of u (r, K) and A (r, n, k): shape (n, K, k)."""
    u_arr = check_array("u", u, (None, None))
    A_arr = check_array("A", A, (u_arr.shape[0], None, None))
    return np.einsum("ip,iaq->apq", u_arr, A_arr)


def kronecker_rank(G: object, rtol: float = 1e-10) -> int:
    """Number of singular values of the rearrangement R(G) (K, n·k) above ``rtol`` times the largest."""
    s = np.linalg.svd(rearrange(G), compute_uv=False)
    if s.size == 0 or s[0] == 0.0:
        return 0
    return int(np.sum(s > rtol * s[0]))


# ----------------------------------------------------------------------------------------------------------
# a concrete step: the current sum and the next step of a cell


def random_tokens(T: int, n_in: int, rng: np.random.Generator) -> np.ndarray:
    """T random one-hot inputs of size n_in, (T, n_in): the input stream of the demos."""
    T = check_positive_int("T", T)
    n_in = check_positive_int("n_in", n_in)
    rng = check_rng("rng", rng)
    return one_hot(rng.integers(0, n_in, size=T), n_in)


@dataclass(frozen=True)
class Instance:
    """The data of one compression step: the current r-term sum Σ u_i ⊗ A_i and the step (x̂, H, D).

    Attributes:
        u: (r, K), A: (r, n, k): the current Kronecker sum G̃_{t-1}.
        step: the cell's (unbatched) step at time t.
        exact: (n, K, k), the exact influence G_t of the trajectory (for reference only).
    """

    u: np.ndarray
    A: np.ndarray
    step: Step
    exact: np.ndarray = field(repr=False)

    @property
    def rank(self) -> int:
        return self.u.shape[0]

    @property
    def HA(self) -> np.ndarray:
        """H_t A_i for each term, (r, n, k)."""
        return np.einsum("ab,ibq->iaq", self.step.H, self.A)

    @property
    def v(self) -> np.ndarray:
        """The r+1 vector factors (u_1..u_r, x̂), (r+1, K)."""
        return np.concatenate([self.u, self.step.xhat[None]], axis=0)

    @property
    def M(self) -> np.ndarray:
        """The r+1 matrix factors (H A_1..H A_r, D), (r+1, n, k)."""
        return np.concatenate([self.HA, self.step.D[None]], axis=0)

    @property
    def target(self) -> np.ndarray:
        """P = Σ_j v_j ⊗ M_j = H_t G̃_{t-1} + F_t, (n, K, k): what every compression must equal on average."""
        return kron_sum(self.v, self.M)

    @property
    def sigma(self) -> np.ndarray:
        """The r+1 Kronecker singular values of the target, descending."""
        return np.linalg.svd(rearrange(self.target), compute_uv=False)[: self.rank + 1]


def make_instance(
    cell: _Cell,
    rank: int,
    rng: np.random.Generator,
    warmup: int = 6,
    estimator: Callable[..., Estimator] | None = None,
) -> Instance:
    """Run ``cell`` on random one-hot inputs for ``warmup`` steps, tracking G̃ with a rank-r estimator, then take
    one more step; return the estimator's sum (one row) and that step.

    ``estimator`` is called as ``estimator(cell, rank, batch=1, rng=rng)``; the default is
    :class:`okcore.approx.ok.OK`, whose terms stay linearly independent (KF-avg's chains may coincide early on).
    """
    rank = check_positive_int("rank", rank)
    warmup = check_positive_int("warmup", warmup)
    rng = check_rng("rng", rng)
    est = (OK if estimator is None else estimator)(cell, rank, batch=1, rng=rng)
    if not hasattr(est, "u") or not hasattr(est, "A"):
        raise TypeError("estimator: expected a Kronecker-sum estimator with attributes u and A")
    exact = ExactRTRL(cell, batch=1)
    xs = random_tokens(warmup + 1, cell.n_in, rng)
    h = np.zeros(cell.n_hidden)
    for t in range(warmup):
        step = cell.step(xs[t], h)
        h = step.h
        est.update(step)
        exact.update(step)
    step = cell.step(xs[warmup], h)
    exact.update(step)
    return Instance(est.u[0].copy(), est.A[0].copy(), step, exact.influence()[0])


# ----------------------------------------------------------------------------------------------------------
# compression schemes, each a function of a sign vector


@dataclass(frozen=True)
class Scheme:
    """A random compression of Σ_j v_j ⊗ M_j to r terms, written as a function of ``n_signs`` fair ±1 signs.

    ``apply(signs)`` returns (u', A') of shapes (r, K), (r, n, k). Every pattern of signs is equally likely.
    """

    name: str
    n_signs: int
    apply: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

    def dense(self, signs: object) -> np.ndarray:
        """Σ_j u'_j ⊗ A'_j for one sign pattern, (n, K, k)."""
        u_new, A_new = self.apply(np.asarray(signs, dtype=np.float64))
        return kron_sum(u_new, A_new)


def all_sign_patterns(m: int) -> np.ndarray:
    """All 2^m vectors in {−1, +1}^m, (2^m, m), in a fixed order."""
    m = check_positive_int("m", m)
    return np.array(list(itertools.product((-1.0, 1.0), repeat=m)))


@dataclass(frozen=True)
class Moments:
    """Exact moments of a scheme over all its sign patterns.

    Attributes:
        mean: (n, K, k), the average of the compressed sum.
        variance: E‖X − P‖²_F, the average squared error.
        squared_errors: (2^m,) ‖X − P‖²_F for each pattern.
        bias: ‖mean − P‖_F / ‖P‖_F.
    """

    mean: np.ndarray
    variance: float
    squared_errors: np.ndarray
    bias: float


def scheme_outputs(scheme: Scheme) -> np.ndarray:
    """The compressed sum for every sign pattern, in the order of :func:`all_sign_patterns`: (2^m, n, K, k)."""
    return np.stack([scheme.dense(s) for s in all_sign_patterns(scheme.n_signs)])


def exact_moments(scheme: Scheme, target: object) -> Moments:
    """Average ``scheme`` over all 2^n_signs sign patterns: exact mean and variance about ``target``."""
    P = check_array("target", target, (None, None, None))
    outs = scheme_outputs(scheme)
    err = (outs - P).reshape(outs.shape[0], -1)
    sq = np.einsum("ij,ij->i", err, err)
    mean = outs.mean(axis=0)
    norm = np.linalg.norm(P)
    bias = float(np.linalg.norm(mean - P) / norm) if norm > 0 else float(np.linalg.norm(mean - P))
    return Moments(mean, float(sq.mean()), sq, bias)


def _balance(a: np.ndarray, B: np.ndarray) -> float:
    """KF's scale p = √(‖B‖/‖a‖), which gives the two factors of a ⊗ B equal norms (1 if either is zero)."""
    na, nB = np.linalg.norm(a), np.linalg.norm(B)
    if na == 0.0 or nB == 0.0:
        return 1.0
    return float(np.sqrt(nB / na))


def kf_merge(
    a: np.ndarray, B: np.ndarray, b: np.ndarray, C: np.ndarray, c1: float, c2: float
) -> tuple[np.ndarray, np.ndarray]:
    """KF-RTRL's sign trick: replace a ⊗ B + b ⊗ C by one product with signs c1, c2, both pairs balanced.

    Returns (c1 p1 a + c2 p2 b, (c1/p1) B + (c2/p2) C) with p1 = √(‖B‖/‖a‖), p2 = √(‖C‖/‖b‖).
    """
    p1, p2 = _balance(a, B), _balance(b, C)
    return c1 * p1 * a + c2 * p2 * b, (c1 / p1) * B + (c2 / p2) * C


def _check_terms(v: object, M: object) -> tuple[np.ndarray, np.ndarray]:
    v_arr = check_array("v", v, (None, None))
    M_arr = check_array("M", M, (v_arr.shape[0], None, None))
    if v_arr.shape[0] < 2:
        raise ValueError(f"v: expected at least 2 terms to compress, got {v_arr.shape[0]}")
    return v_arr, M_arr


def kf_pair_scheme(v: object, M: object, i: int, j: int) -> Scheme:
    """KF pairwise merging: terms i and j are merged by KF's sign trick (2 signs), all others are kept exactly."""
    v_arr, M_arr = _check_terms(v, M)
    N = v_arr.shape[0]
    if not (0 <= i < N and 0 <= j < N and i != j):
        raise ValueError(f"i, j: expected two different term indices in 0..{N - 1}, got {i}, {j}")
    rest = [t for t in range(N) if t not in (i, j)]

    def apply(signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u_m, A_m = kf_merge(v_arr[i], M_arr[i], v_arr[j], M_arr[j], signs[0], signs[1])
        return np.concatenate([v_arr[rest], u_m[None]]), np.concatenate([M_arr[rest], A_m[None]])

    return Scheme(f"KF merge ({i + 1},{j + 1})", 2, apply)


def kf_avg_scheme(v: object, M: object) -> Scheme:
    """KF-avg as a compression: the new term v_r ⊗ M_r is cut into r equal parts v_r ⊗ (M_r / r), and part i is
    merged into old term i by KF's sign trick. 2r signs, read as an (r, 2) array of (c1, c2) per chain, the layout
    :class:`okcore.approx.kf.KFAverage` asks for.
    """
    v_arr, M_arr = _check_terms(v, M)
    r = v_arr.shape[0] - 1

    def apply(signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = signs.reshape(r, 2)
        pairs = [kf_merge(v_arr[i], M_arr[i], v_arr[r], M_arr[r] / r, c[i, 0], c[i, 1]) for i in range(r)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    return Scheme("KF-avg", 2 * r, apply)


def sign_mixing_scheme(v: object, M: object, alpha: object, beta: object, name: str = "sign mixing") -> Scheme:
    """Random sign mixing: u'_j = Σ_i s_i α_ji v_i, A'_j = Σ_i s_i β_ji M_i with one sign s_i per term.

    The result is Σ_{i,i'} s_i s_i' (Σ_j α_ji β_ji') v_i ⊗ M_i'; the cross terms i ≠ i' have mean zero, so its mean
    is Σ_i c_i v_i ⊗ M_i with c_i = Σ_j α_ji β_ji. It is unbiased when every c_i = 1, and, if the r + 1 terms
    v_i ⊗ M_i are linearly independent (P of Kronecker rank r + 1), only then; with dependent terms (a zero or a
    repeated term) other coefficients can be unbiased too. ``alpha``, ``beta``: (r, r+1).
    """
    v_arr, M_arr = _check_terms(v, M)
    N = v_arr.shape[0]
    alpha_arr = check_array("alpha", alpha, (None, N))
    beta_arr = check_array("beta", beta, alpha_arr.shape)

    def apply(signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.einsum("ji,i,ip->jp", alpha_arr, signs, v_arr), np.einsum("ji,i,iaq->jaq", beta_arr, signs, M_arr)

    return Scheme(name, N, apply)


def random_sign_mixing(v: object, M: object, rng: np.random.Generator, name: str = "random mixing") -> Scheme:
    """A :func:`sign_mixing_scheme` with Gaussian α (r, r+1) and β_ji = α_ji / Σ_j α_ji², hence unbiased."""
    v_arr, M_arr = _check_terms(v, M)
    rng = check_rng("rng", rng)
    N = v_arr.shape[0]
    alpha = rng.standard_normal((N - 1, N))
    beta = alpha / np.einsum("ji,ji->i", alpha, alpha)
    return sign_mixing_scheme(v_arr, M_arr, alpha, beta, name)


def kf_avg_estimator_outputs(cell: _Cell, instance: Instance, patterns: object) -> np.ndarray:
    """One update of :class:`okcore.approx.kf.KFAverage` from the instance's sum for each sign pattern (rows of
    ``patterns``, (P, 2r), read as (r, 2) per row), as one batch fed through :class:`okcore.signs.ReplaySigns`.
    Returns the dense results (P, n, K, k), to compare with :func:`kf_avg_scheme`.
    """
    r = instance.rank
    pats = check_array("patterns", patterns, (None, 2 * r))
    B = pats.shape[0]
    est = KFAverage(cell, r, batch=B, rng=ReplaySigns([pats.reshape(B, r, 2)]))
    est.u = np.broadcast_to(instance.u, (B, *instance.u.shape)).copy()
    est.A = np.broadcast_to(instance.A, (B, *instance.A.shape)).copy()
    est.update(broadcast_step(instance.step, B))
    return est.influence()


# ----------------------------------------------------------------------------------------------------------
# the cost of KF-avg, counted


class ProductCounter:
    """Counts the scalar multiplications of the array operations routed through it.

    ``einsum`` counts the product of the sizes of all indices once per extra operand (what a plain loop over the
    index space does); ``scale`` counts one multiplication per element.
    """

    def __init__(self) -> None:
        self.products = 0

    def einsum(self, subscripts: str, *operands: np.ndarray) -> np.ndarray:
        inputs = subscripts.split("->")[0].split(",")
        sizes: dict[str, int] = {}
        for letters, op in zip(inputs, operands, strict=True):
            for letter, size in zip(letters, np.shape(op), strict=True):
                sizes[letter] = size
        self.products += int(np.prod(list(sizes.values()), dtype=np.int64)) * (len(operands) - 1)
        return np.einsum(subscripts, *operands)

    def scale(self, coef: np.ndarray, X: np.ndarray) -> np.ndarray:
        """coef[..., None...] * X, broadcast over X's trailing axes; counts X.size products."""
        coef = np.asarray(coef)
        self.products += int(np.size(X))
        return coef.reshape(coef.shape + (1,) * (X.ndim - coef.ndim)) * X


def kf_avg_step(
    u: object,
    A: object,
    xhat: object,
    H: object,
    d: object,
    signs: object,
    counter: ProductCounter | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One KF-avg update of r chains (u (r, K), A (r, n, k), stored with the 1/√r of the mean), counting products.

    The same arithmetic as :class:`okcore.approx.kf.KFAverage` for one batch row: ``d`` (k,) are the non-zero
    entries of D, ``signs`` (r, 2) the chains' (c1, c2). The norms of x̂ and D are computed once and shared.
    """
    cnt = ProductCounter() if counter is None else counter
    u_arr = check_array("u", u, (None, None))
    r, K = u_arr.shape
    A_arr = check_array("A", A, (r, None, None))
    n, k = A_arr.shape[1:]
    x = check_array("xhat", xhat, (K,))
    H_arr = check_array("H", H, (n, n))
    d_arr = check_array("d", d, (k,))
    c = check_array("signs", signs, (r, 2))
    HA = cnt.einsum("ab,ibq->iaq", H_arr, A_arr)
    sq_u = cnt.einsum("ip,ip->i", u_arr, u_arr)
    sq_HA = cnt.einsum("iaq,iaq->i", HA, HA)
    sq_x = cnt.einsum("p,p->", x, x)
    sq_d = cnt.einsum("q,q->", d_arr, d_arr)
    p1 = np.sqrt(np.sqrt(sq_HA / sq_u))
    p2 = np.sqrt(np.sqrt(sq_d / sq_x))
    c2 = c[:, 1] / np.sqrt(r)
    u_new = cnt.scale(c[:, 0] * p1, u_arr) + cnt.scale(c2 * p2, np.broadcast_to(x, (r, K)))
    A_new = cnt.scale(c[:, 0] / p1, HA)
    D_parts = cnt.scale(c2 / p2, np.broadcast_to(d_arr, (r, k)))  # only the k non-zero entries of each D
    cols = np.arange(k)
    A_new[:, cols % n, cols] += D_parts
    return u_new, A_new


def kf_avg_products(n: int, K: int, k: int, rank: int) -> dict[str, int]:
    """Products counted by :func:`kf_avg_step`: ``per_chain`` (paid r times), ``shared`` (once) and ``total``.

    per chain: H A_i (n² k), ‖u_i‖² (K), ‖H A_i‖² (n k), the scaled u_i and x̂ (2K), the scaled H A_i (n k) and
    the scaled entries of D (k); shared: ‖x̂‖² (K) and ‖d‖² (k).
    """
    n, K, k, rank = (check_positive_int(name, val) for name, val in (("n", n), ("K", K), ("k", k), ("rank", rank)))
    per_chain = n * n * k + K + n * k + 2 * K + n * k + k
    shared = K + k
    return {"per_chain": per_chain, "shared": shared, "total": rank * per_chain + shared}


# ----------------------------------------------------------------------------------------------------------
# noise over time, one number per independent run


def squared_errors(
    cell: _Cell,
    xs: object,
    estimators: Mapping[str, Any],
    n_samples: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Relative squared errors ‖G̃_t − G_t‖²_F / ‖G_t‖²_F of every run: name -> (T, n_samples).

    Like :func:`okcore.noise.measure_noise` (runs along the batch axis, one shared input sequence, W fixed), but
    keeps the runs apart so that the Monte Carlo standard error of any average can be computed. ``estimators``
    maps a name to a class or to (class, kwargs).
    """
    xs_arr = check_array("xs", xs, (None, cell.n_in))
    n_samples = check_positive_int("n_samples", n_samples)
    rng = check_rng("rng", rng)
    runs = {}
    for name, spec in estimators.items():
        cls, kwargs = spec if isinstance(spec, tuple) else (spec, {})
        runs[name] = cls(cell, batch=n_samples, rng=rng, **kwargs)
    exact = ExactRTRL(cell, batch=1)
    T = xs_arr.shape[0]
    out = {name: np.empty((T, n_samples)) for name in runs}
    h = np.zeros(cell.n_hidden)
    for t in range(T):
        step = cell.step(xs_arr[t], h)
        h = step.h
        exact.update(step)
        G = exact.influence()[0]
        norm2 = float(np.einsum("apq,apq->", G, G))
        many = broadcast_step(step, n_samples)
        for name, est in runs.items():
            est.update(many)
            out[name][t] = est.squared_error(G) / norm2
    return out


# ----------------------------------------------------------------------------------------------------------
# every sign pattern of a few steps: exact expectations over time


@dataclass(frozen=True)
class Enumerated:
    """KF-avg run over ``T`` steps for every combination of sign patterns (one batch row per combination).

    Attributes:
        estimates: (T, B, n, K, k) G̃_t of every row; all rows are equally likely.
        exact: (T, n, K, k) G_t.
        H: (T, n, n) the state Jacobians; xhat (T, K) and D (T, n, k) the immediate factors.
    """

    estimates: np.ndarray
    exact: np.ndarray
    H: np.ndarray
    xhat: np.ndarray
    D: np.ndarray


def enumerate_kf_avg(cell: _Cell, xs: object, rank: int) -> Enumerated:
    """Run :class:`okcore.approx.kf.KFAverage` from G̃_0 = 0 along ``xs`` (T, n_in) for all 2^(2 r T) sign
    combinations at once (fed through :class:`okcore.signs.ReplaySigns`). Keep 2 r T small (<= 14)."""
    xs_arr = check_array("xs", xs, (None, cell.n_in))
    rank = check_positive_int("rank", rank)
    T = xs_arr.shape[0]
    per_step = all_sign_patterns(2 * rank)  # (P, 2r)
    n_pat = per_step.shape[0]
    B = n_pat**T
    if B > 2**14:
        raise ValueError(f"xs, rank: 2^(2 r T) = {B} combinations is too many; use fewer steps or a smaller rank")
    rows = np.arange(B)
    arrays = [per_step[(rows // n_pat**t) % n_pat].reshape(B, rank, 2) for t in range(T)]
    est = KFAverage(cell, rank, batch=B, rng=ReplaySigns(arrays))
    exact = ExactRTRL(cell, batch=1)
    h = np.zeros(cell.n_hidden)
    estimates, exacts, Hs, xhats, Ds = [], [], [], [], []
    for t in range(T):
        step = cell.step(xs_arr[t], h)
        h = step.h
        est.update(broadcast_step(step, B))
        exact.update(step)
        estimates.append(est.influence())
        exacts.append(exact.influence()[0])
        Hs.append(step.H)
        xhats.append(step.xhat)
        Ds.append(step.D)
    return Enumerated(np.stack(estimates), np.stack(exacts), np.stack(Hs), np.stack(xhats), np.stack(Ds))


def variance_decomposition(run: Enumerated, t: int) -> dict[str, float]:
    """The three terms of E‖G̃_t − G_t‖² = E‖H_t (G̃_{t−1} − G_{t−1})‖² + E‖G̃_t − (H_t G̃_{t−1} + F_t)‖²
    (t >= 1, 0-based), exact over all rows of ``run``: keys ``total``, ``propagated``, ``added``."""
    if not 1 <= t < run.exact.shape[0]:
        raise ValueError(f"t: expected 1 <= t < {run.exact.shape[0]}, got {t}")
    H = run.H[t]
    F = np.einsum("p,aq->apq", run.xhat[t], run.D[t])
    prev = run.estimates[t - 1]
    target = np.einsum("ab,rbpq->rapq", H, prev) + F
    B = prev.shape[0]

    def msq(X: np.ndarray) -> float:
        return float(np.einsum("ri,ri->", X.reshape(B, -1), X.reshape(B, -1)) / B)

    return {
        "total": msq(run.estimates[t] - run.exact[t]),
        "propagated": msq(np.einsum("ab,rbpq->rapq", H, prev - run.exact[t - 1])),
        "added": msq(run.estimates[t] - target),
    }


# ----------------------------------------------------------------------------------------------------------
# pictures


def plot_scheme_variances(
    names: Sequence[str], variances: Sequence[float], bound: float | None = None, ax: Axes | None = None
) -> Axes:
    """Per-step variance of several schemes on one instance, log scale, with an optional horizontal bound."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.bar(range(len(names)), variances, color="tab:gray")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yscale("log")
    if bound is not None:
        ax.axhline(bound, color="tab:green", lw=2, label=f"smallest possible (notebooks 07, 08): {bound:.2g}")
        ax.legend(loc="upper left")
    ax.set_ylabel(r"$E\|X - P\|_F^2$")
    ax.set_title("added variance of one step, exact over all sign patterns")
    return ax


def plot_kf_avg_noise(errors: Mapping[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """Mean relative squared error over time (name -> (T, N) runs) with ±2 standard-error bands, log scale.

    Time steps whose mean is round-off (below 1e-12 of the largest, e.g. the exact first step) are not drawn.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, e in errors.items():
        t = np.arange(1, e.shape[0] + 1)
        mean = e.mean(axis=1)
        se = e.std(axis=1) / np.sqrt(e.shape[1])
        # steps that are exact (the first one from G̃_0 = 0) carry only round-off: leave them out of a log plot
        exact = mean <= 1e-12 * mean.max()
        mean, se = np.where(exact, np.nan, mean), np.where(exact, np.nan, se)
        (line,) = ax.semilogy(t, mean, **(label_style(name) or {"label": name}))
        ax.fill_between(t, np.maximum(mean - 2 * se, mean * 1e-3), mean + 2 * se, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$E\|\tilde G_t - G_t\|^2 / \|G_t\|^2$")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax
