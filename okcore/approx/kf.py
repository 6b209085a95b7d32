"""Kronecker-factored RTRL (KF-RTRL) and its averaged version over r independent chains (KF-avg).

KF-RTRL keeps, per batch row, one Kronecker product G̃ = u ⊗ A with u of length K and A of shape (n, k). A step
of the recursion G_t = H_t G_{t-1} + x̂_t ⊗ D_t produces a sum of two products, u ⊗ (H A) + x̂ ⊗ D. Two random
signs c1, c2 ∈ {±1} fold it back into one product:

    u ← c1 p1 u + c2 p2 x̂,        A ← (c1/p1) H A + (c2/p2) D.

Multiplying out, c1² = c2² = 1 gives the two wanted terms and the cross terms carry c1 c2, which has mean zero:
the update is unbiased for any p1, p2 > 0 chosen before the signs are drawn. Write a = u, B = HA, b = x̂, C = D.
The error of one step is c1 c2 [(p1/p2) a ⊗ C + (p2/p1) b ⊗ B], so its squared Frobenius norm is the same for
every sign draw:

    E‖err‖² = (p1/p2)² ‖a‖² ‖C‖² + (p2/p1)² ‖b‖² ‖B‖² + 2 ⟨a, b⟩ ⟨B, C⟩.

Only the ratio p1/p2 matters; the *balancing* rule p1 = √(‖HA‖/‖u‖), p2 = √(‖D‖/‖x̂‖) minimises it, giving
2 ‖a‖ ‖B‖ ‖b‖ ‖C‖ + 2 ⟨a, b⟩ ⟨B, C⟩ (see :func:`kf_step_variance`).

KF-avg runs r such chains side by side with independent signs and averages them. It stores every chain scaled
by 1/√r in both factors, so that ``u`` (B, r, K) and ``A`` (B, r, n, k) hold the estimate as a plain Kronecker
sum G̃ = Σ_i u_i ⊗ A_i, the mean of the r chains. The added variance per step is the mean of the chains'
variances divided by r. :class:`KFRTRL` is the case r = 1.

Zero norms (the zero start, resets, a saturated D = 0) need no special case: the norms inside p1 and p2 get
a tiny floor, so a factor that is zero makes the balancing rule shrink the other factor of its pair to nothing
(and p1 = 1 when u and HA both vanish). The update stays unbiased, and from G̃ = 0 the first step is exact.
"""

from __future__ import annotations

import math

import numpy as np

from okcore.cells import _Cell
from okcore.estimator import KroneckerSumEstimator
from okcore.signs import SignSource

__all__ = ["KFRTRL", "KFAverage", "kf_step_variance"]

# Floor added to squared norms inside the balancing rule. It keeps p1 and p2 finite and non-zero when a norm is
# zero, and is far below any squared norm the recursion meets, so it does not change p otherwise.
_TINY = 1e-150


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def _diagonal_view(X: np.ndarray, n: int) -> np.ndarray:
    """Writable view of the entries of X (..., n, k) where D can be non-zero: V[..., j, a] = X[..., a, a + j n].

    Shape (..., k // n, n). Adding ``coef * d.reshape(..., k // n, n)`` to it adds ``coef * D`` to X without
    forming D.
    """
    k = X.shape[-1]
    s_row, s_col = X.strides[-2], X.strides[-1]
    return np.lib.stride_tricks.as_strided(
        X, shape=(*X.shape[:-2], k // n, n), strides=(*X.strides[:-2], n * s_col, s_row + s_col), writeable=True
    )


def kf_step_variance(
    u: object,
    HA: object,
    xhat: object,
    D: object,
    p1: object | None = None,
    p2: object | None = None,
) -> np.ndarray:
    """Added variance E‖u'⊗A' − (u⊗HA + x̂⊗D)‖²_F of one KF-RTRL step, in closed form.

    With a = u, B = HA, b = x̂, C = D:

        E‖err‖² = (p1/p2)² ‖a‖² ‖C‖² + (p2/p1)² ‖b‖² ‖B‖² + 2 ⟨a, b⟩ ⟨B, C⟩.

    Args:
        u: (..., K), the vector factor before the step.
        HA: (..., n, k), H_t times the matrix factor before the step.
        xhat: (..., K), x̂_t.
        D: D_t dense, (..., n, k), or its non-zero entries d, (..., k) (``Step.d``; one axis fewer than ``HA``).
        p1, p2: the scales of the step (scalars or arrays over the leading axes). Leave both out for the
            balancing rule, whose value is the minimum over p1/p2: 2 ‖a‖ ‖B‖ ‖b‖ ‖C‖ + 2 ⟨a, b⟩ ⟨B, C⟩.

    The leading axes "..." must agree between all arguments. Returns an array of shape "..." (a float for
    unbatched input).
    """
    u = np.asarray(u, dtype=np.float64)
    HA = np.asarray(HA, dtype=np.float64)
    xhat = np.asarray(xhat, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    if HA.ndim < 2:
        raise ValueError(f"HA: expected shape (..., n, k), got shape {HA.shape}")
    lead, (n, k) = HA.shape[:-2], HA.shape[-2:]
    if k % n:
        raise ValueError(f"HA: expected shape (..., n, k) with k a multiple of n, got shape {HA.shape}")
    if u.ndim != len(lead) + 1 or u.shape[:-1] != lead:
        raise ValueError(f"u: expected shape {(*lead, 'K')}, got shape {u.shape}")
    if xhat.shape != u.shape:
        raise ValueError(f"xhat: expected the shape of u, {u.shape}, got shape {xhat.shape}")
    cols = np.arange(k)
    if D.shape == HA.shape:
        d = D[..., cols % n, cols]
        dense = np.zeros_like(D)
        dense[..., cols % n, cols] = d
        if not np.array_equal(dense, D):
            raise ValueError("D: expected D[a, q] = 0 unless q % n == a (the structure of the cells' D)")
    elif D.shape == (*lead, k):
        d = D
    else:
        raise ValueError(f"D: expected shape {HA.shape} (dense) or {(*lead, k)} (entries d), got shape {D.shape}")
    if (p1 is None) != (p2 is None):
        raise ValueError("p1, p2: give both, or neither for the balancing rule")

    sq_a = np.einsum("...p,...p->...", u, u)
    sq_b = np.einsum("...p,...p->...", xhat, xhat)
    sq_B = np.einsum("...aq,...aq->...", HA, HA)
    sq_C = np.einsum("...q,...q->...", d, d)
    ab = np.einsum("...p,...p->...", u, xhat)
    BC = np.einsum("...q,...q->...", HA[..., cols % n, cols], d)
    if p1 is None:
        out = 2.0 * np.sqrt(sq_a * sq_B * sq_b * sq_C) + 2.0 * ab * BC
    else:
        ratio2 = (np.asarray(p1, dtype=np.float64) / np.asarray(p2, dtype=np.float64)) ** 2
        out = ratio2 * sq_a * sq_C + sq_b * sq_B / ratio2 + 2.0 * ab * BC
    return out[()] if out.ndim == 0 else out


class _KroneckerFactored(KroneckerSumEstimator):
    """r independent KF-RTRL chains, each scaled by 1/√r in both factors; the estimate is their mean.

    Attributes (besides ``u``, ``A``):
        last_variance: (B,) the exact added variance E‖G̃_t − (H_t G̃_{t-1} + F_t)‖²_F of the latest update,
            from the closed form (computed on first access after each update).
        last_p1: (B, r), last_p2: (B,) the scales used in the latest update (chain units, without 1/√r).

    Work layout: ``u`` is a view ``S[:, :, 0]`` of a stack S (B, r, 2, K) whose slot 1 receives x̂ at each
    update; one product S Sᵀ then gives ‖u_i‖², ⟨u_i, x̂⟩ and ‖x̂‖², and one product (a_u, b_u) S gives the new u.
    Two such stacks alternate, so ``u`` is a different view after each update (copy it to keep a snapshot).
    Each matrix factor is kept as A_i = λ_i Â_i with a scalar λ_i per chain, as UORO keeps θ̃ = γ Θ: the step's
    factor a_A then changes λ only, and H Â is written into a second buffer, gets D added through a strided view
    of its entries [a, a + j n] (``_diagonal_view``) and becomes the new Â; the two buffers alternate. So the
    update sweeps the large side once after the product (for the norms). Reading ``A`` folds λ into Â (one
    pass); the estimator's own methods use λ directly. Assigning a new array to ``u`` or ``A``, or editing them
    in place, is allowed: assigned arrays are checked and copied in.
    """

    # λ is folded into Â when λ² leaves [1/_LAMBDA2_LIMIT, _LAMBDA2_LIMIT], which keeps ‖Â‖² and ‖H Â‖² far from
    # under- and overflow.
    _LAMBDA2_LIMIT = 1e100

    def __init__(
        self,
        cell: _Cell,
        rank: int,
        batch: int = 1,
        rng: np.random.Generator | int | SignSource | None = None,
        *,
        balance: bool = True,
    ) -> None:
        super().__init__(cell, rank, batch, rng)
        self.balance = _check_bool("balance", balance)
        B, r, n, k = self.batch, self.rank, self.n, self.k
        self._blocks = k // n
        # Sign multipliers (c1, c2/√r): the 1/√r of KF-avg goes on the new pair, in both factors.
        self._chain_scale = np.array([1.0, 1.0 / np.sqrt(r)]) if r > 1 else None
        self._HA_diag = np.zeros((B, r, k // n, n), dtype=self.dtype)  # the entries of H Â where D lives
        # the small bookkeeping (norms, p, λ) is float64 whatever the dtype of the factors
        self._sq = np.zeros((B, r, 2))  # [‖H A_i‖², ‖D‖²] of the latest update
        self._sq_HA_out = self._sq[:, :, 0:1, None]  # (B, r, 1, 1)
        self._ones = np.ones((B, r, 2))
        # λ's range before it is folded into Â: Â = A/λ must stay far from under- and overflow in its own type
        self._lambda2_limit = self._LAMBDA2_LIMIT if self.dtype == np.float64 else 1e12
        self.last_p1 = self._ones[..., 0]
        self.last_p2 = self._ones[:, 0, 1]
        self._variance = np.zeros(B)
        self._pending: tuple | None = None

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", balance={self.balance})"

    def _allocate_factors(self) -> None:
        B, r, n, k, K = self.batch, self.rank, self.n, self.k, self.K
        self._stacks = [np.zeros((B, r, 2, K), dtype=self.dtype) for _ in range(2)]
        self._u_views = [S[:, :, 0] for S in self._stacks]
        self._u_outs = [S[:, :, 0:1] for S in self._stacks]  # (B, r, 1, K), where the new u is written
        self._cur = 0
        self.u = self._u_views[0]
        self._bufs = [np.zeros((B, r, n, k), dtype=self.dtype) for _ in range(2)]  # Â, and the next one
        self._rows = [X.reshape(B, r, 1, n * k) for X in self._bufs]  # for the norms ‖H Â_i‖²
        self._diags = [_diagonal_view(X, n) for X in self._bufs]
        self._lams = [np.ones((B, r)) for _ in range(2)]  # λ (float64), alternating like Â
        self._scaled = False  # True when some λ may differ from 1

    @property
    def A(self) -> np.ndarray:
        """The matrix factors, (B, r, n, k) (a live array: in-place edits count until the next update)."""
        self._fold_lambda()
        return self._bufs[self._cur]

    @A.setter
    def A(self, value: object) -> None:
        work = self._bufs[self._cur]
        value = np.asarray(value)
        if value.shape != work.shape:
            raise ValueError(f"A: expected shape {work.shape}, got shape {value.shape}")
        work[...] = value
        self._unscale()

    def _unscale(self) -> None:
        self._lams[self._cur][...] = 1.0
        self._scaled = False

    def _fold_lambda(self) -> None:
        if self._scaled:
            self._bufs[self._cur] *= self._lams[self._cur][:, :, None, None]
            self._unscale()

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        lam = self._lams[self._cur].astype(self.dtype, copy=False)
        return self.u * lam[:, :, None], self._bufs[self._cur]

    def _reset_rows(self, rows: np.ndarray) -> None:
        self.u[rows] = 0.0
        self._bufs[self._cur][rows] = 0.0
        self._lams[self._cur][rows] = 1.0

    def _bind_u(self) -> None:
        """Take in an array a user assigned to ``u`` (checked, copied into the work stack)."""
        work = self._u_views[self._cur]
        value = np.asarray(self.u)
        if value.shape != work.shape:
            raise ValueError(f"u: expected shape {work.shape}, got shape {value.shape}")
        work[...] = value
        self.u = work

    @property
    def last_variance(self) -> np.ndarray:
        if self._pending is not None:
            self._variance = self._step_variance(*self._pending)
            self._pending = None
        return self._variance

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        cur, nxt = self._cur, 1 - self._cur
        if self.u is not self._u_views[cur]:
            self._bind_u()
        B, r = self.batch, self.rank
        S, lam = self._stacks[cur], self._lams[cur]
        HA = self._bufs[nxt]  # H Â, then the new Â
        np.matmul(H[:, None], self._bufs[cur], out=HA)
        S[:, :, 1] = xhat[:, None, :]
        # (B, r, 2, 2): [[‖u_i‖², ⟨u_i, x̂⟩], [⟨u_i, x̂⟩, ‖x̂‖²]], in float64 whatever the dtype
        gram = np.matmul(S, S.swapaxes(2, 3), dtype=np.float64)
        sq = self._sq
        rows = self._rows[nxt]
        np.matmul(rows, rows.swapaxes(2, 3), out=self._sq_HA_out, dtype=np.float64)
        scaled = self._scaled
        if scaled:
            sq[:, :, 0] *= lam * lam  # ‖H A_i‖² = λ_i² ‖H Â_i‖²
        sq[:, :, 1] = np.einsum("bq,bq->b", d, d)[:, None]
        sq_u = gram.diagonal(axis1=2, axis2=3)
        if self.balance:
            # [p1, p2] = ([‖HA‖², ‖D‖²] / [‖u‖², ‖x̂‖²])^(1/4), with the floor _TINY against zero norms.
            p = np.sqrt(np.sqrt((sq + _TINY) / (sq_u + _TINY)))
        else:
            p = self._ones
            if not math.isfinite(sq.sum()):  # without balancing, H A grows with the network (u stays bounded)
                self._raise_overflow(H, sq, sq_u)
        c = self.signs.signs((B, r, 2))
        if self._chain_scale is not None:
            c = c * self._chain_scale
        coef_u = c * p  # [a_u, b_u] = [c1 p1, c2 p2]: u' = a_u u + b_u x̂
        coef_A = c / p  # [a_A, b_A] = [c1/p1, c2/p2]: A' = a_A HA + b_A D
        np.matmul(coef_u[:, :, None, :], S, out=self._u_outs[nxt])
        # A' = a_A λ H Â + b_A D = λ' (H Â + (b_A/λ') D) with λ' = a_A λ
        diag = self._diags[nxt]
        np.copyto(self._HA_diag, diag)  # kept for last_variance
        lam_new = np.multiply(lam, coef_A[:, :, 0], out=self._lams[nxt])
        d3 = d.reshape(B, 1, self._blocks, self.n)
        diag += (coef_A[:, :, 1] / lam_new)[:, :, None, None] * d3
        lam2 = lam_new * lam_new
        self._cur, self._scaled = nxt, True
        self.u = self._u_views[nxt]
        # Written so that NaN enters the branch too. An overflowed squared norm makes p1 inf or 0 (or NaN), hence
        # λ' 0 or inf (or NaN): so the check that λ stays in range, made anyway, also catches an overflow.
        if not (lam2.max() <= self._lambda2_limit and lam2.min() >= 1.0 / self._lambda2_limit):
            if not math.isfinite(sq.sum() + sq_u.sum() + lam2.sum()):
                self._raise_overflow(H, sq, sq_u)
            self._fold_lambda()
        self.last_p1, self.last_p2 = p[..., 0], p[:, 0, 1]
        # the old λ stays in its buffer until the update after next, which replaces this record
        self._pending = (gram, coef_u, coef_A, d3, lam if scaled else None)

    def _raise_overflow(self, H: np.ndarray, sq: np.ndarray, sq_u: np.ndarray) -> None:
        with np.errstate(all="ignore"):
            bad = ~np.isfinite(sq.sum(axis=(1, 2)) + sq_u.sum(axis=(1, 2)))
        raise self._overflow(H, "the squared norms ‖H A‖², ‖u‖² used for balancing are inf or NaN", bad)

    def _step_variance(
        self, gram: np.ndarray, coef_u: np.ndarray, coef_A: np.ndarray, d3: np.ndarray, lam: np.ndarray | None
    ) -> np.ndarray:
        # Chain i's error is c1 c2 (p1/p2 · u ⊗ D + p2/p1 · x̂ ⊗ HA), times 1/r in KF-avg's storage. In terms of
        # the coefficients, cross1 = a_u b_A and cross2 = b_u a_A (signs cancel in all three products below).
        # Chains have independent signs, so their variances add.
        cross1 = coef_u[..., 0] * coef_A[..., 1]
        cross2 = coef_u[..., 1] * coef_A[..., 0]
        sq_u, ux, sq_x = gram[..., 0, 0], gram[..., 0, 1], gram[..., 1, 1]
        sq_HA, sq_D = self._sq[..., 0], self._sq[..., 1]
        HA_D = np.einsum("brja,bja->br", self._HA_diag, d3[:, 0])  # ⟨H Â_i, D⟩
        if lam is not None:
            HA_D *= lam
        per_chain = cross1**2 * sq_u * sq_D + cross2**2 * sq_x * sq_HA + 2.0 * cross1 * cross2 * ux * HA_D
        return per_chain.sum(axis=1)


class KFRTRL(_KroneckerFactored):
    """KF-RTRL: one Kronecker product u ⊗ A per batch row, updated with two random signs per step.

    Args:
        cell: the cell whose influence is tracked.
        batch: number of sequences B; each row has its own estimate and its own signs.
        rng: a ``numpy.random.Generator``, an integer seed, or a sign source (e.g.
            :class:`okcore.signs.ReplaySigns`). Each update asks for one array of signs of shape (B, 1, 2): [..., 0]
            is c1, [..., 1] is c2.
        balance: use the variance-minimising p1 = √(‖HA‖/‖u‖), p2 = √(‖D‖/‖x̂‖); False uses p1 = p2 = 1.

    State: ``u`` (B, 1, K), ``A`` (B, 1, n, k) with G̃ = u ⊗ A. Diagnostics: ``last_variance`` (B,), the closed-form
    added variance of the latest step (see :func:`kf_step_variance`), and ``last_p1`` (B, 1), ``last_p2`` (B,).
    Cost per step and row: O(n² k) time (the product H A), O(n k + K) memory.
    """

    def __init__(
        self,
        cell: _Cell,
        batch: int = 1,
        rng: np.random.Generator | int | SignSource | None = None,
        *,
        balance: bool = True,
    ) -> None:
        super().__init__(cell, 1, batch, rng, balance=balance)

    def __repr__(self) -> str:
        return f"KFRTRL(n={self.n}, K={self.K}, k={self.k}, batch={self.batch}, balance={self.balance})"


class KFAverage(_KroneckerFactored):
    """KF-avg: the mean of ``rank`` independent KF-RTRL chains per batch row.

    Args:
        cell: the cell whose influence is tracked.
        rank: number r of chains (an integer >= 1).
        batch: number of sequences B; each row has its own chains and its own signs.
        rng: a ``numpy.random.Generator``, an integer seed or a sign source. Each update asks for one array of
            signs of shape (B, r, 2): [b, i, 0] is c1 and [b, i, 1] is c2 of chain i of row b.
        balance: as in :class:`KFRTRL`, per chain.

    State: ``u`` (B, r, K), ``A`` (B, r, n, k) hold the chains scaled by 1/√r each, so that G̃ = Σ_i u_i ⊗ A_i is
    their mean. ``last_variance`` (B,) is the mean of the chains' per-step variances divided by r.
    All chains advance together: one batched product H A over (B, r) per step. Cost: r times KF-RTRL.
    """
