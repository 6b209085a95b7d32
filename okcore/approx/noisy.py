"""NoisyExact: exact RTRL plus zero-mean noise of a set relative variance, and an optional bias of a set size.

A controlled stand-in for an approximation: it tracks the exact influence G_t (as :class:`okcore.ExactRTRL`)
and hands out, per batch row,

    G̃_t = G_t + E_t + b ‖G_t‖ Δ,

where the noise E_t has E[E_t] = 0 and ‖E_t‖²_F = v ‖G_t‖²_F on *every* draw (v = ``rel_var``), so its relative
variance in the sense of :mod:`okcore.noise`, E‖G̃_t − G_t‖² / ‖G_t‖² without bias, is exactly v; and Δ is one fixed
direction of unit norm (the same for all rows and steps), so that the bias has relative size b (``bias``): the
relative mean squared error is v + b².

Structure of the noise: isotropic, i.e. every one of the N = n K k entries gets an independent ±1 sign, scaled so
that ‖E_t‖² = v ‖G_t‖² (E[E Eᵀ] is a multiple of the identity). Why isotropic and not a random Kronecker product
like the real estimators' noise: what learning sees is the gradient noise Σ_a δ[a] E[a, :, :]. For isotropic E
its covariance is ‖δ‖² v ‖G‖²/N times the identity on the K × k weights; for a Kronecker product a ⊗ B with
independent isotropic factors of the same total size it is the *same* matrix (E[a aᵀ] ⊗ E[(δB)ᵀ(δB)]). So to
second order the two are the same noise; isotropic noise is the one without any further structure, the
reference against which the real estimators, whose noise does have structure, are compared.

Time structure, ``noise=``:

- ``"fresh"``: E_t = √(v ‖G_t‖² / N) Ξ_t with Ξ_t a new array of ±1 signs every step: noise independent from step
  to step.
- ``"carried"``: the noise is carried through the recursion as the real estimators' is (their error obeys
  E_t = H_t E_{t-1} + ε_t, each step adding fresh noise ε_t to the propagated old one). Here Ẽ = H_t E_{t-1} is
  kept as far as it fits: if ‖Ẽ‖² ≥ v ‖G_t‖², E_t = Ẽ scaled down to that norm; otherwise E_t = Ẽ + β Ξ_t with
  the β ≥ 0 that makes ‖E_t‖² = v ‖G_t‖² (fresh noise makes up what the network has forgotten). E_t is an odd
  function of (E_{t-1}, Ξ_t), both symmetric about 0, so E_t is symmetric and has mean zero; the noise is then
  correlated over as many steps as the network remembers.

Bias: Δ = Ξ/√N for one array of signs Ξ drawn at construction. ``bias=0`` (default) leaves the estimate unbiased.

Cost: that of exact RTRL plus one pass over G for its norm, one array of random bits, and for ``"carried"`` one
more product H E (as expensive as exact RTRL's own).
"""

from __future__ import annotations

import numbers

import numpy as np

from okcore._checks import check_rng
from okcore.cells import _Cell
from okcore.rtrl import ExactRTRL

__all__ = ["NoisyExact", "NOISE_MODES"]

NOISE_MODES = ("fresh", "carried")


def _check_nonneg(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


class NoisyExact(ExactRTRL):
    """Exact RTRL's influence plus zero-mean noise of relative variance ``rel_var`` and a bias of relative size
    ``bias`` (see the module docstring).

    Args:
        cell: the cell whose influence is tracked.
        rel_var: v >= 0, the relative variance: ‖E_t‖² = v ‖G_t‖² for every row and step.
        batch: number B of sequences, each with its own noise.
        rng: a ``numpy.random.Generator`` or an integer seed (required): the noise's signs and the bias direction.
        noise: ``"fresh"`` (independent every step) or ``"carried"`` (propagated by H_t, topped up).
        bias: b >= 0, the relative size of the fixed bias b ‖G_t‖ Δ.

    State: the exact influence (``exact_influence()``, (B, n, K, k)), the noise ``E`` (B, n, K, k) and the bias
    direction ``direction`` (n, K, k), unit norm. ``influence()`` returns G + E + b ‖G‖ Δ. Fresh noise is kept as
    its signs Ξ and a scale per row, and E formed only when read.
    """

    def __init__(
        self,
        cell: _Cell,
        rel_var: float,
        batch: int = 1,
        rng: np.random.Generator | int | None = None,
        *,
        noise: str = "fresh",
        bias: float = 0.0,
    ) -> None:
        super().__init__(cell, batch)
        self.rel_var = _check_nonneg("rel_var", rel_var)
        self.bias = _check_nonneg("bias", bias)
        if noise not in NOISE_MODES:
            raise ValueError(f"noise: expected one of {', '.join(NOISE_MODES)}, got {noise!r}")
        self.noise = noise
        self.rng = check_rng("rng", rng, "NoisyExact")
        shape = (self.batch, self.n, self.K, self.k)
        self._size = self.n * self.K * self.k  # N, entries per row
        self._E = np.zeros(shape, dtype=self.dtype) if noise == "carried" else None
        self._xi = np.zeros(shape, dtype=self.dtype)
        self._fresh_scale = np.zeros(self.batch)  # fresh noise: E = scale Ξ per row
        self._HE = np.empty(shape, dtype=self.dtype) if noise == "carried" else None
        self.direction = self._signs((self.n, self.K, self.k), np.empty((self.n, self.K, self.k), self.dtype))
        self.direction /= np.sqrt(self._size)
        self._norm_G = np.zeros(self.batch)  # ‖G_t‖ per row, float64

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", rel_var={self.rel_var:g}, noise={self.noise!r}, bias={self.bias:g})"

    def _signs(self, shape: tuple[int, ...], out: np.ndarray) -> np.ndarray:
        """Independent fair ±1 signs into ``out`` (of ``shape``), from random bytes (eight signs per byte)."""
        size = int(np.prod(shape))
        bits = np.unpackbits(np.frombuffer(self.rng.bytes(-(-size // 8)), dtype=np.uint8), count=size)
        flat = out.reshape(-1)
        np.multiply(bits, 2, out=flat, casting="unsafe")
        flat -= 1
        return out

    @property
    def E(self) -> np.ndarray:
        """The noise of the current estimate, (B, n, K, k) (a new array for fresh noise, the live one if carried)."""
        if self._E is not None:
            return self._E
        return self._fresh_scale.astype(self.dtype)[:, None, None, None] * self._xi

    def _reset_rows(self, rows: np.ndarray) -> None:
        super()._reset_rows(rows)
        if self._E is not None:
            self._E[rows] = 0.0
        self._fresh_scale[rows] = 0.0
        self._norm_G[rows] = 0.0

    def _update(self, xhat: np.ndarray, H: np.ndarray, d: np.ndarray) -> None:
        super()._update(xhat, H, d)
        B, N = self.batch, self._size
        G = self._G.reshape(B, N)
        sq_G = np.einsum("bx,bx->b", G, G, dtype=np.float64)
        self._norm_G = np.sqrt(sq_G)
        target = self.rel_var * sq_G  # ‖E_t‖² wanted, per row
        if self.rel_var == 0.0:
            return
        xi = self._signs(self._xi.shape, self._xi).reshape(B, N)
        if self.noise == "fresh":
            # E = scale Ξ, formed only when asked for (``E``, ``influence``); the gradient uses Ξ directly
            self._fresh_scale = np.sqrt(target / N)
            return
        # carried: Ẽ = H E_{t-1}; keep it (scaled down if too large) and top it up with β Ξ to the target norm
        np.matmul(H, self._E.reshape(B, self.n, -1), out=self._HE.reshape(B, self.n, -1))
        HE = self._HE.reshape(B, N)
        sq_HE = np.einsum("bx,bx->b", HE, HE, dtype=np.float64)
        cross = np.einsum("bx,bx->b", HE, xi, dtype=np.float64)
        if not np.isfinite(sq_HE.sum() + sq_G.sum()):
            raise self._overflow(H, "the propagated noise H E or the influence has no finite squared norm")
        over = sq_HE >= target
        alpha = np.where(over, np.sqrt(np.divide(target, sq_HE, out=np.ones(B), where=sq_HE > 0)), 1.0)
        room = np.maximum(target - sq_HE, 0.0)
        # β ≥ 0 solving ‖Ẽ + β Ξ‖² = ‖Ẽ‖² + 2β⟨Ẽ, Ξ⟩ + β² N = target (Ξ has N entries ±1)
        beta = np.where(over, 0.0, (np.sqrt(cross * cross + N * room) - cross) / N)
        E = self._E.reshape(B, N)
        np.multiply(HE, alpha.astype(self.dtype)[:, None], out=E)
        E += beta.astype(self.dtype)[:, None] * xi

    def exact_influence(self) -> np.ndarray:
        """The exact G_t, (B, n, K, k) (a new array)."""
        return self._G.copy()

    def influence(self) -> np.ndarray:
        G = self._G + self.E
        if self.bias:
            G += (self.bias * self._norm_G).astype(self.dtype)[:, None, None, None] * self.direction
        return G

    def _gradient(self, delta: np.ndarray) -> np.ndarray:
        B, n, K, k = self._G.shape
        grad = delta.reshape(1, B * n) @ self._G.reshape(B * n, K * k)
        if self._E is not None:
            grad += delta.reshape(1, B * n) @ self._E.reshape(B * n, K * k)
        elif self.rel_var:
            scaled = delta * self._fresh_scale.astype(self.dtype)[:, None]
            grad += scaled.reshape(1, B * n) @ self._xi.reshape(B * n, K * k)
        if self.bias:
            weights = (self.bias * self._norm_G).astype(self.dtype)[:, None] * delta  # (B, n)
            grad += weights.sum(axis=0)[None] @ self.direction.reshape(n, K * k)
        return grad.reshape(K, k)
