"""OK: the optimal Kronecker-sum approximation of RTRL (Benzing, Gauy, Mujika, Martinsson & Steger, ICML 2019).

Each batch row keeps G̃ = Σ_{j=1..r} u_j ⊗ A_j. One step of the recursion G_t = H_t G_{t-1} + x̂_t ⊗ D_t turns it
into the r + 1 exact terms

    Σ_j v_j ⊗ M_j,    v = (u_1, ..., u_r, x̂),    M = (H A_1, ..., H A_r, D),

and OK replaces them by r random terms whose expectation is exact and whose variance is the smallest any unbiased
Kronecker-rank-r replacement can have. Under the rearrangement u ⊗ A ↦ u vec(A)ᵀ the sum is the K × nk matrix
P = Vᵀ M (V: the v_j as rows, M: the vec(M_j) as rows), so the problem is a low-rank one:

1. Orthonormal bases of the two spans: Vᵀ = Q_v R_v (Householder QR, K × (r+1)) and Mᵀ = Q_M S with Q_M
   orthonormal and SᵀS = M Mᵀ. Then P = Q_v C Q_Mᵀ with the (r+1) × (r+1) core C = R_v Sᵀ; this holds for
   rank-deficient spans too (zero rows of R_v or S are allowed).
2. SVD C = U diag(σ) Wᵀ, σ descending, so P = Σ_i σ_i ũ_i ⊗ Ã_i with ũ = Q_v U and Ã = Q_M W orthonormal.
   Each pair (ũ_i, Ã_i) is fixed only up to a common sign; the update takes the one with Σ_p w_p ũ_pi³ > 0
   (fixed weights w_p = 1 + p/K), so that a realisation depends on the drawn signs and not on round-off in the
   bases or in LAPACK's choice.
3. The keep/mix rule and the (r, r+1) mixing matrix R of :mod:`okcore.lowrank` (RᵀR has diagonal σ), and one
   random sign s_i per singular direction. The symmetric split sets

       u'_j = Σ_i s_i R_ji ũ_i,    A'_j = Σ_i s_i R_ji Ã_i,

   so that Σ_j u'_j ⊗ A'_j has the coefficient matrix diag(s) RᵀR diag(s) in the singular basis: its mean is
   diag(σ) (unbiased) and its squared distance to diag(σ) is ``lowrank.minimal_variance(σ)`` for every sign draw.
4. The two factors of each pair have equal norms, ‖u'_j‖² = Σ_i R_ji² = ‖A'_j‖², because the split is symmetric
   and the bases are orthonormal. (The released code's split below is rescaled pair by pair to get there.)

How the large side is handled. The matrices M_j have nk entries (nk = 2n² for the gated cell); apart from the
products H A_j, the update reads them only twice (once for their Gram matrix, once to form the new A'_j):

* Ã_i is never formed. Because Q_M S = Mᵀ, σ_i Ã_i = Pᵀ ũ_i = Mᵀ R_vᵀ U_i, so A'_j = Σ_i (s_i R_ji / σ_i)
  Mᵀ R_vᵀ U_i is one small (r, r+1) coefficient matrix times M: a single matrix product. The division is safe:
  the column i of R has norm √σ_i, so the coefficient is at most 1/√σ_i on a vector of norm σ_i. Singular
  values below ``1e-13 σ_1`` are set to zero (round-off from rank-deficient spans; dropping them changes the
  estimate by less than 1e-12 relative).
* S comes from the Gram matrix M Mᵀ ((r+1) × (r+1), one pass): scaled to unit diagonal, Ĝ = L Lᵀ
  (Cholesky) and S = Lᵀ diag(‖M_j‖). The Gram matrix squares the condition number, so a row whose Cholesky
  pivot L_jj² (the squared sine of the angle between M_j and the span of the earlier M's) falls below ``1e-6``
  is redone with Householder QR of Mᵀ (S = R_M), and so is the whole batch if Cholesky fails. Exactly zero M_j
  (the zero start, resets, D = 0) are exact and do not count. ``basis="qr"`` uses Householder QR for every row
  (slower; for checks).
* A' is formed in column blocks when H A and A' are large (beyond the cache, one product over the whole width
  is markedly slower), directly into the buffer of A, and D is added through a strided view of its 2n non-zero
  entries, never densely.

Unbiasedness does not rest on the orthogonality of these bases: averaged over the signs the new sum is
Q_v U Uᵀ R_v M = Vᵀ M up to round-off in U, whatever S is. The accuracy of S only affects how close the variance
is to the optimum.

The split of the authors' published implementation (``split="code"``) puts s_i R_ji / √σ_i on ũ_i and
s_i R_ji √σ_i on Ã_i. It is still unbiased (the diagonal is unchanged) but its off-diagonal error entries are
multiplied by √(σ_i'/σ_i), so its variance Σ_{i≠i'} (RᵀR)²_ii' σ_i'/σ_i is larger (σ_1² + σ_2² instead of
2σ_1σ_2 when two values are mixed).

Range. The Gram matrices hold squared norms, so the factors must stay within about 1e±150; singular values below
1e-150 are treated as zero. An exploding influence overflows there. The core is checked before its SVD, and a
failed factorisation (LAPACK refuses inf and NaN) is checked for inf or NaN in H A_j and u_j: either way a
``FloatingPointError`` says what happened, instead of a ``LinAlgError`` from LAPACK.
"""

from __future__ import annotations

import math

import numpy as np

from okcore.cells import _Cell
from okcore.estimator import KroneckerSumEstimator
from okcore.lowrank import _mixing_sorted
from okcore.signs import SignSource

__all__ = ["OK"]

# Singular values of the core at or below _SIGMA_TOL * σ_1, or below _SIGMA_FLOOR, are treated as zero (the floor
# keeps 1/σ finite; a whole estimate that small is below the resolution of the Gram matrices anyway).
_SIGMA_TOL = 1e-13
_SIGMA_FLOOR = 1e-150
# Smallest Cholesky pivot of the unit-diagonal Gram matrix of the M_j (the sine of the angle between M_j and the
# span of the earlier ones) below which a row falls back to Householder QR: the Gram matrix then no longer
# determines S to the precision the split needs. In float32 the Gram matrix is summed in float32 (its entries
# carry relative errors of about 1e-7 instead of 1e-16), so the pivot must be larger for the same relative accuracy.
_PIVOT_TOL = 1e-3
_PIVOT_TOL_FLOAT32 = 3e-2

# Up to this rank the Gram matrix of the H A_j is formed with one np.vecdot per diagonal of its lower triangle
# (plain dot products); beyond it with one matrix product, whose packing overhead only pays off for many rows.
_VECDOT_MAX_RANK = 4

# Size in bytes of the column blocks in which the new A' = T M is formed when H A and A' together exceed three of
# them: beyond the cache, one product over the whole width is markedly slower than a few narrower ones.
_BLOCK_BYTES = 1 << 20

_SPLITS = ("optimal", "code")
_BASES = ("gram", "qr")


# The small factorisations call numpy's LAPACK gufuncs directly, as numpy.linalg.qr, cholesky and svd do after
# their argument checks (identical results, a fraction of the overhead), with the public functions as fallback.
try:
    from numpy.linalg import _umath_linalg as _lapack
except ImportError:  # pragma: no cover
    _lapack = None
_RAW = _lapack is not None and all(hasattr(_lapack, f) for f in ("qr_r_raw", "qr_reduced", "cholesky_lo", "svd_f"))


def _linalg_errors(message: str) -> dict:
    """``np.errstate`` arguments that turn a LAPACK failure flagged by a gufunc into ``LinAlgError(message)``."""

    def callback(err: object, flag: object) -> None:
        raise np.linalg.LinAlgError(message)

    return {"call": callback, "invalid": "call", "over": "ignore", "divide": "ignore", "under": "ignore"}


_QR_ERRORS = _linalg_errors("Incorrect argument found while performing QR factorization")
_CHOLESKY_ERRORS = _linalg_errors("Matrix is not positive definite")
_SVD_ERRORS = _linalg_errors("SVD did not converge")


def _qr(a: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.linalg.qr(a)`` (reduced) for float64 stacks, overwriting ``a``; ``upper``: the triangle mask of R."""
    if not _RAW:
        return np.linalg.qr(a)
    with np.errstate(**_QR_ERRORS):
        tau = _lapack.qr_r_raw(a, signature="d->d")
        q = _lapack.qr_reduced(a, tau, signature="dd->d")
    return q, np.where(upper, a[..., : upper.shape[0], :], 0.0)


def _cholesky(a: np.ndarray) -> np.ndarray:
    """``np.linalg.cholesky(a)`` for float64 stacks."""
    if not _RAW:
        return np.linalg.cholesky(a)
    with np.errstate(**_CHOLESKY_ERRORS):
        return _lapack.cholesky_lo(a, signature="d->d")


def _svd_u_s(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U, σ) of ``np.linalg.svd(a)`` for float64 stacks."""
    if not _RAW:
        u, s, _ = np.linalg.svd(a)
        return u, s
    with np.errstate(**_SVD_ERRORS):
        u, s, _ = _lapack.svd_f(a, signature="d->ddd")
    return u, s


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


class OK(KroneckerSumEstimator):
    """The optimal Kronecker-sum approximation of rank r, per batch row (see the module docstring).

    Args:
        cell: the cell whose influence is tracked.
        rank: number r >= 1 of Kronecker terms kept.
        batch: number B of sequences, each with its own estimate.
        rng: a ``numpy.random.Generator``, an integer seed or a sign source (required); each update draws one
            (B, r+1) array of signs, one per singular direction in descending order of σ.
        split: ``"optimal"`` (symmetric split, minimal variance) or ``"code"`` (the split of the authors'
            published implementation: unbiased, larger variance).
        basis: ``"gram"`` (Gram matrix of the M_j, Householder QR for ill-conditioned rows) or ``"qr"``
            (Householder QR always).

    Diagnostics of the latest update (arrays over the batch):
        last_variance: (B,) the squared error ‖G̃_t − (H_t G̃_{t-1} + F_t)‖²_F it added. It does not depend on the
            signs; for the optimal split it is ``lowrank.minimal_variance`` of ``last_singular_values``.
        last_singular_values: (B, r+1) singular values of the exact (r+1)-term sum, descending.
        last_n_mixed: (B,) number m of singular values mixed (the rest are kept exactly).
        last_mixed_share: (B,) Σ mixed σ / Σ σ (0 when every σ is 0).
        last_used_qr: (B,) True where the row's basis of the M_j came from Householder QR.
    """

    def __init__(
        self,
        cell: _Cell,
        rank: int,
        batch: int = 1,
        rng: np.random.Generator | int | SignSource | None = None,
        split: str = "optimal",
        basis: str = "gram",
    ) -> None:
        super().__init__(cell, rank, batch, rng)
        if self.rank >= self.K:
            raise ValueError(
                f"rank: expected an integer from 1 to K - 1 = {self.K - 1} for this cell (the r + 1 terms of an "
                f"update span at most K = n_in + n + 1 directions), got {self.rank}"
            )
        self.split = _check_choice("split", split, _SPLITS)
        self.basis = _check_choice("basis", basis, _BASES)
        B, r, n, k = self.batch, self.rank, self.n, self.k
        N = r + 1
        self._HA = np.zeros((B, r, n, k), dtype=self.dtype)
        self._HA_diag = self._diagonal(self._HA)
        self._A_diag = (None, None)  # (A, the diagonal view of A) for the latest A buffer
        width = n * k
        per_col = 8 * 2 * r  # bytes of one column of H A and A'
        if per_col * width <= 3 * _BLOCK_BYTES:
            self._blocks = None
        else:
            step = -(-width // -(-per_col * width // _BLOCK_BYTES))
            self._blocks = [slice(s, min(s + step, width)) for s in range(0, width, step)]
        # small buffers, refilled by every update
        # The small linear algebra (bases, core, SVD) runs in float64 whatever the dtype; only the r products
        # H A_j and the recombination into A' run in the estimator's dtype.
        self._V = np.zeros((B, N, self.K))  # the v_j as rows
        self._upper = ~np.tri(min(N, self.K), N, k=-1, dtype=bool)  # the triangle of R_v
        # weights of the sign convention of the singular pairs: cubes let the largest entries decide, and unequal
        # weights keep symmetric vectors such as (e_1 - e_2)/√2 away from a tie
        self._cube_weights = 1.0 + np.arange(self.K) / self.K
        self._gram = np.zeros((B, N, N))
        flat = self._gram.reshape(B, N * N)
        self._gram_diag = flat[:, :: N + 1]
        # offset-o diagonal of the lower triangle of the r × r block: entries [j + o, j] for j < r - o
        self._gram_lower = (
            [flat[:, o * N : o * N + (r - o) * (N + 1) : N + 1] for o in range(r)] if r <= _VECDOT_MAX_RANK else None
        )
        self.last_variance = np.zeros(B)
        self.last_singular_values = np.zeros((B, N))
        self.last_n_mixed = np.zeros(B, dtype=int)
        self._keep = np.zeros((B, N), dtype=bool)
        self.last_used_qr = np.zeros(B, dtype=bool)
        self._no_rows = np.zeros(B, dtype=bool)
        self._no_rows.flags.writeable = False

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", split={self.split!r}, basis={self.basis!r})"

    # -- the update ------------------------------------------------------------------------------------------
    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        B, r = self.batch, self.rank
        A = self._writable_A()
        if np.shape(self.u) != (B, r, self.K):
            raise ValueError(f"u: expected shape {(B, r, self.K)}, got {np.shape(self.u)}")
        # The two passes over the large side (H A_j and their Gram matrix; the new A') come first and last, the
        # small linear algebra in between.
        np.matmul(H[:, None], A, out=self._HA)  # H A_j for all rows and j: (B, r, n, k)
        V = self._V
        V[:, :r] = self.u
        V[:, r] = xhat
        try:
            S, used_qr = self._m_basis(d)  # SᵀS = M Mᵀ
            # v side: Vᵀ = Q_v R_v, (B, K, N)
            Qv, Rv = _qr(V.transpose(0, 2, 1), self._upper)
        except np.linalg.LinAlgError:
            # LAPACK refuses inf and NaN; the Gram-matrix path checks its norms first, the QR paths land here
            if not np.isfinite(self._HA.sum() + V.sum()):
                bad = ~np.isfinite(self._HA.sum(axis=(1, 2, 3)) + V.sum(axis=(1, 2)))
                raise self._overflow(H, "the terms H A_j or u_j are inf or NaN", bad) from None
            raise

        # core, its SVD and the mixing
        core = Rv @ S.transpose(0, 2, 1)
        flat = core.reshape(-1)
        if not math.isfinite(flat.dot(flat)):  # its squared norm: ‖u_j‖ ‖M_j‖ has overflowed
            with np.errstate(all="ignore"):
                bad = ~np.isfinite((core * core).sum(axis=(1, 2)))
            raise self._overflow(H, "the core R_v Sᵀ, before its SVD, has no finite squared norm", bad)
        U, sigma = _svd_u_s(core)
        sigma *= sigma > np.maximum(_SIGMA_TOL * sigma[:, :1], _SIGMA_FLOOR)
        mixing = _mixing_sorted(sigma)
        inv_sigma = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=sigma > 0.0)
        # A singular pair (ũ_i, Ã_i) is defined up to a common sign, and which one LAPACK returns can hinge on
        # round-off (signs of the bases, entries near zero). Flipping a pair acts like flipping its s_i, so each
        # drawn s_i is applied to the pair with Σ_p w_p ũ_pi³ > 0 (ũ_i = Q_v U_i): a realisation then depends on
        # the drawn signs, not on rounding.
        u_tilde = Qv @ U  # the ũ_i as columns, (B, K, N)
        cube = u_tilde * u_tilde
        cube *= u_tilde
        signs = np.asarray(self.signs.signs(sigma.shape), dtype=np.float64)
        signs = signs * np.copysign(1.0, self._cube_weights @ cube)

        # coefficients of u'_j on ũ_i (cu) and of A'_j on σ_i Ã_i = Mᵀ R_vᵀ U_i (ca)
        cu = mixing.R * signs[:, None, :]
        if self.split == "optimal":
            # ‖u'_j‖² = Σ_i cu_ji² and ‖A'_j‖² = Σ_i (ca_ji σ_i)² = Σ_i cu_ji² (orthonormal bases; column i of R
            # has norm √σ_i, so it is zero where σ_i = 0): the two factors of each pair have equal norms up to
            # round-off, with no rescaling.
            ca = cu * inv_sigma[:, None, :]
            self.last_variance = mixing.variance
        else:
            cu *= np.sqrt(inv_sigma)[:, None, :]
            ca = self._rebalance(cu, sigma)
            self.last_variance = self._code_variance(mixing.R, sigma, inv_sigma)
        self.last_singular_values = sigma
        self.last_n_mixed = mixing.m
        self._keep = mixing.keep
        self.last_used_qr = used_qr

        # new factors: u' = cu (Q_v U)ᵀ, A' = (ca Uᵀ R_v) M
        self.u = (cu @ u_tilde.transpose(0, 2, 1)).astype(self.dtype, copy=False)
        T = ((ca @ U.transpose(0, 2, 1)) @ Rv).astype(self.dtype, copy=False)  # (B, r, N) coefficients on M's rows
        self._recombine(T, A, d)

    def _recombine(self, T: np.ndarray, A: np.ndarray, d: np.ndarray) -> None:
        """A' = T M in place of A: T (B, r, r+1) holds the coefficients on M's rows, the r products H A_j (kept in
        ``self._HA``) and D, whose non-zero entries d (B, k) are added on A's diagonal."""
        B, r = T.shape[0], T.shape[1]
        T_HA, HA2, A2 = T[:, :, :r], self._HA.reshape(B, r, -1), A.reshape(B, r, -1)
        if self._blocks is None:
            np.matmul(T_HA, HA2, out=A2)
        else:
            for cols in self._blocks:
                np.matmul(T_HA, HA2[:, :, cols], out=A2[:, :, cols])
        if self._A_diag[0] is not A:
            self._A_diag = (A, self._diagonal(A))
        self._A_diag[1][...] += T[:, :, r, None, None] * d.reshape(B, 1, -1, self.n)

    @property
    def last_mixed_share(self) -> np.ndarray:
        """(B,) Σ mixed σ / Σ σ of the latest update (0 when every σ is 0)."""
        sigma = self.last_singular_values
        mixed = np.where(self._keep, 0.0, sigma).sum(axis=1)
        # Σ σ is 0 or at least _SIGMA_FLOOR, so this is 0 when every σ is 0
        return mixed / np.maximum(sigma.sum(axis=1), _SIGMA_FLOOR)

    @staticmethod
    def _rebalance(cu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Rescale the pairs (cu, ca = cu) of the code split so that ‖u'_j‖ = ‖A'_j‖; returns ca, scales cu.

        In the orthonormal bases ‖u'_j‖² = Σ_i cu_ji² and ‖A'_j‖² = Σ_i (ca_ji σ_i)²; an all-zero pair stays zero.
        """
        ca_s = cu * sigma[:, None, :]
        nu2 = np.einsum("bji,bji->bj", cu, cu)
        na2 = np.einsum("bji,bji->bj", ca_s, ca_s)
        live = (nu2 > 0.0) & (na2 > 0.0)
        rho = np.sqrt(np.sqrt(np.divide(na2, nu2, out=np.ones_like(nu2), where=live)))
        live_f = live.astype(cu.dtype)
        ca = cu * (live_f / rho)[:, :, None]
        cu *= (rho * live_f)[:, :, None]
        return ca

    def _diagonal(self, X: np.ndarray) -> np.ndarray:
        """Writable view of the entries of X (B, r, n, k) where D can be non-zero: (B, r, k // n, n).

        Entry [b, j, c, a] is X[b, j, a, c n + a], which D holds as d[b, c n + a]: so writing
        ``d.reshape(B, k // n, n)`` to the view of a zero X[:, j] makes it D, without touching its other entries.
        """
        B, r, n, k = X.shape
        return np.einsum("bjaca->bjca", X.reshape(B, r, n, k // n, n))

    def _writable_A(self) -> np.ndarray:
        """``self.A`` as a C-contiguous float array we may overwrite (a copy if it was replaced by a view)."""
        A = self.A
        shape = (self.batch, self.rank, self.n, self.k)
        if not isinstance(A, np.ndarray) or A.shape != shape:
            raise ValueError(f"A: expected shape {shape}, got {np.shape(A)}")
        if A.dtype != self.dtype or not A.flags.c_contiguous or not A.flags.writeable:
            A = np.array(A, dtype=self.dtype)
            self.A = A
        return A

    def _m_basis(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S (B, N, N), used_qr (B,)) with SᵀS = M Mᵀ, i.e. Mᵀ = Q_M S for some Q_M with orthonormal columns."""
        B, r = self.batch, self.rank
        if self.basis == "qr":
            rows = np.ones(B, dtype=bool)
            return self._qr_basis(rows, self._HA, d), rows
        G = self._gram
        # The products are summed in the dtype of H A (a float32 copy in float64 would cost more than the products);
        # the small Gram matrix and all that follows are float64.
        HA2 = self._HA.reshape(B, r, -1)
        d = d.astype(np.float64, copy=False)
        if self._gram_lower is None:
            if self.dtype == np.float64:
                np.matmul(HA2, HA2.transpose(0, 2, 1), out=G[:, :r, :r])
            else:
                G[:, :r, :r] = HA2 @ HA2.transpose(0, 2, 1)
        else:  # the lower triangle only (Cholesky reads no more); the upper one of this block stays 0
            for o, out in enumerate(self._gram_lower):
                np.vecdot(HA2[:, o:], HA2[:, : r - o], out=out)
        # ⟨H A_j, D⟩ from the 2n entries of H A_j where D can be non-zero
        np.einsum("bjca,bca->bj", self._HA_diag, d.reshape(B, -1, self.n), out=G[:, r, :r])
        G[:, :r, r] = G[:, r, :r]
        G[:, r, r] = np.einsum("bq,bq->b", d, d)
        # scale to unit diagonal; an exactly zero M_j gets a decoupled unit row (and a zero column of S)
        norm = np.sqrt(self._gram_diag)
        inv = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0.0)
        G *= inv[:, :, None]
        G *= inv[:, None, :]
        self._gram_diag[...] = 1.0
        try:
            L = _cholesky(G)
        except np.linalg.LinAlgError:  # some row is numerically singular: Householder QR for every row
            rows = np.ones(B, dtype=bool)
            return self._qr_basis(rows, self._HA, d), rows
        # G = L Lᵀ, so S = Lᵀ diag(norm). A pivot L_ii² is the squared sine of the angle between M_i and the
        # span of M_1..M_{i-1}; a small one means the Gram matrix has lost the precision that S needs.
        S = L.transpose(0, 2, 1) * norm[:, None, :]
        pivots = L.reshape(B, -1)[:, :: r + 2]
        tol = _PIVOT_TOL if self.dtype == np.float64 else _PIVOT_TOL_FLOAT32
        if pivots.min() >= tol:
            return S, self._no_rows
        bad = pivots.min(axis=1) < tol
        S[bad] = self._qr_basis(bad, self._HA, d)
        return S, bad

    def _qr_basis(self, rows: np.ndarray, HA: np.ndarray, d: np.ndarray) -> np.ndarray:
        """R_M of the Householder QR Mᵀ = Q_M R_M for the selected batch rows, (nb, N, N)."""
        r, n, k = self.rank, self.n, self.k
        nb = int(rows.sum())
        M = np.zeros((nb, r + 1, n, k), dtype=self.dtype)
        M[:, :r] = HA[rows]
        self._diagonal(M[:, r:])[...] = d[rows].reshape(nb, 1, k // n, n)
        return np.linalg.qr(M.reshape(nb, r + 1, n * k).transpose(0, 2, 1), mode="r")

    @staticmethod
    def _code_variance(R: np.ndarray, sigma: np.ndarray, inv_sigma: np.ndarray) -> np.ndarray:
        """Σ_{i≠i'} (RᵀR)²_ii' σ_i'/σ_i: the code split's squared error, the same for every sign draw."""
        RtR = R.transpose(0, 2, 1) @ R
        weight = inv_sigma[:, :, None] * sigma[:, None, :]
        err = RtR * RtR * weight
        N = sigma.shape[1]
        idx = np.arange(N)
        err[:, idx, idx] = 0.0
        return err.sum(axis=(1, 2))
