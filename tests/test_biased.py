"""The biased approximations TruncatedOK, SnAp1 and RFLO against their definitions, computed densely."""

from __future__ import annotations

import numpy as np
import pytest

from okcore import RFLO, ExactRTRL, GatedCell, SnAp1, TanhCell, TruncatedOK
from okcore.cells import sigmoid

N_IN, N, B, T = 3, 5, 3, 14


def _trajectory(cell_cls, seed=0, scale=0.6):
    """A cell and T batched steps with random one-hot inputs; row 1 starts a new sequence at step 6."""
    rng = np.random.default_rng(seed)
    cell = cell_cls(N_IN, N, rng, scale=scale)
    resets = np.zeros((T, B), dtype=bool)
    resets[6, 1] = True
    h = cell.initial_state(B)
    steps = []
    for t in range(T):
        h[resets[t]] = 0.0
        step = cell.step(np.eye(N_IN)[rng.integers(0, N_IN, B)], h)
        steps.append(step)
        h = step.h
    return cell, steps, resets


def _dense_F(step):
    """F_t = x̂ ⊗ D densely, (B, n, K, k)."""
    return np.einsum("bp,baq->bapq", step.xhat, step.D)


def _own_unit_mask(n, K, k):
    a = np.arange(n)[:, None, None]
    q = np.arange(k)[None, None, :]
    return np.broadcast_to(a == q % n, (n, K, k))


def _check_against(est, dense, G_exact, rng):
    """influence, squared_error, gradient and mean_influence of ``est`` agree with the dense estimate."""
    np.testing.assert_allclose(est.influence(), dense, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(est.mean_influence(), dense.mean(axis=0), rtol=1e-10, atol=1e-13)
    err = ((dense - G_exact) ** 2).sum(axis=(1, 2, 3))
    # factored estimators compute ‖G̃‖² − 2⟨G̃, G⟩ + ‖G‖²: rounding of the order of 1e-16 ‖G‖²
    atol = 1e-12 * max((G_exact**2).sum(axis=(1, 2, 3)).max(), 1e-300)
    np.testing.assert_allclose(est.squared_error(G_exact), err, rtol=1e-9, atol=atol)
    err0 = ((dense - G_exact[0]) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(est.squared_error(G_exact[0]), err0, rtol=1e-9, atol=atol)
    delta = rng.standard_normal((B, N))
    np.testing.assert_allclose(est.gradient(delta), np.einsum("ba,bapq->pq", delta, dense), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cell_cls", [GatedCell, TanhCell])
def test_snap1_is_the_masked_recursion(cell_cls):
    """SnAp-1 equals G̃_t = mask ⊙ (H_t G̃_{t-1} + F_t), mask keeping the entries [q mod n, p, q], at every step."""
    cell, steps, resets = _trajectory(cell_cls)
    est, exact = SnAp1(cell, batch=B), ExactRTRL(cell, batch=B)
    mask = _own_unit_mask(N, cell.K, cell.k)
    dense = np.zeros((B, N, cell.K, cell.k))
    rng = np.random.default_rng(1)
    for t, step in enumerate(steps):
        est.reset(resets[t])
        exact.reset(resets[t])
        dense[resets[t]] = 0.0
        est.update(step)
        exact.update(step)
        dense = mask * (np.einsum("bac,bcpq->bapq", step.H, dense) + _dense_F(step))
        _check_against(est, dense, exact.influence(), rng)
    np.testing.assert_allclose(est.last_decay, np.diagonal(steps[-1].H, axis1=1, axis2=2))


def test_snap1_is_exact_when_H_is_diagonal():
    """With the recurrent weights off the diagonal set to zero, H_t is diagonal and nothing is dropped."""
    rng = np.random.default_rng(3)
    cell = GatedCell(N_IN, N, rng, scale=0.6)
    W = cell.W.copy()
    off = ~np.eye(N, dtype=bool)
    for block in range(2):
        W[N_IN : N_IN + N, block * N : (block + 1) * N][off] = 0.0
    cell.W = W
    est, exact = SnAp1(cell, batch=2), ExactRTRL(cell, batch=2)
    h = cell.initial_state(2)
    for _ in range(10):
        step = cell.step(np.eye(N_IN)[rng.integers(0, N_IN, 2)], h)
        h = step.h
        est.update(step)
        exact.update(step)
    np.testing.assert_allclose(est.influence(), exact.influence(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell_cls", [GatedCell, TanhCell])
def test_rflo_is_the_masked_recursion_with_the_leak(cell_cls):
    """RFLO equals G̃_t = mask ⊙ (diag(λ_t) G̃_{t-1} + F_t), λ_t = diag(H_t − D_t W_hᵀ) formed densely; for the
    gated cell λ_t is the forget gate σ(z_f) computed from the pre-activations, for the tanh cell it is 0."""
    cell, steps, resets = _trajectory(cell_cls, seed=4)
    est, exact = RFLO(cell, batch=B), ExactRTRL(cell, batch=B)
    mask = _own_unit_mask(N, cell.K, cell.k)
    W_h = cell.W[N_IN : N_IN + N]  # (n, k): the rows that multiply h_{t-1}
    dense = np.zeros((B, N, cell.K, cell.k))
    rng = np.random.default_rng(5)
    for t, step in enumerate(steps):
        est.reset(resets[t])
        exact.reset(resets[t])
        dense[resets[t]] = 0.0
        est.update(step)
        exact.update(step)
        leak = np.diagonal(step.H - step.D @ W_h.T, axis1=1, axis2=2)
        if cell_cls is GatedCell:
            z = step.xhat @ cell.W
            np.testing.assert_allclose(leak, sigmoid(z[:, N:]), rtol=1e-12)
        else:
            np.testing.assert_allclose(leak, 0.0, atol=1e-15)
        np.testing.assert_allclose(est.last_decay, leak, rtol=1e-12, atol=1e-15)
        dense = mask * (leak[:, :, None, None] * dense + _dense_F(step))
        _check_against(est, dense, exact.influence(), rng)


def test_rflo_with_a_constant_leak_and_its_checks():
    cell, steps, _ = _trajectory(TanhCell, seed=6)
    est = RFLO(cell, batch=B, leak=0.75)
    mask = _own_unit_mask(N, cell.K, cell.k)
    dense = np.zeros((B, N, cell.K, cell.k))
    for step in steps:
        est.update(step)
        dense = mask * (0.75 * dense + _dense_F(step))
    np.testing.assert_allclose(est.influence(), dense, rtol=1e-12, atol=1e-15)
    for bad in (1.0, -0.1, "0.5", True):
        with pytest.raises(ValueError, match=r"leak: expected None \(the cell's own leak\) or a number in \[0, 1\)"):
            RFLO(cell, leak=bad)


def _best_rank(G, r):
    """The best Kronecker-rank-r approximation of G (n, K, k): the rank-r SVD truncation of its rearrangement."""
    n, K, k = G.shape
    P = G.transpose(1, 0, 2).reshape(K, n * k)
    U, s, Vt = np.linalg.svd(P, full_matrices=False)
    P_r = (U[:, :r] * s[:r]) @ Vt[:r]
    return P_r.reshape(K, n, k).transpose(1, 0, 2), s


@pytest.mark.parametrize("cell_cls", [GatedCell, TanhCell])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_truncated_ok_keeps_the_best_rank_r_part_of_each_step(cell_cls, rank):
    """TruncatedOK equals G̃_t = best rank-r approximation of H_t G̃_{t-1} + F_t (Eckart–Young, by numpy's SVD of
    the rearranged K × nk matrix), and last_dropped is the squared error of the step, σ_{r+1}²."""
    cell, steps, resets = _trajectory(cell_cls, seed=7)
    est, exact = TruncatedOK(cell, rank, batch=B), ExactRTRL(cell, batch=B)
    dense = np.zeros((B, N, cell.K, cell.k))
    rng = np.random.default_rng(8)
    for t, step in enumerate(steps):
        est.reset(resets[t])
        exact.reset(resets[t])
        dense[resets[t]] = 0.0
        est.update(step)
        exact.update(step)
        full = np.einsum("bac,bcpq->bapq", step.H, dense) + _dense_F(step)
        dropped = np.zeros(B)
        for b in range(B):
            dense[b], s = _best_rank(full[b], rank)
            dropped[b] = s[rank] ** 2 if s.size > rank else 0.0
        _check_against(est, dense, exact.influence(), rng)
        np.testing.assert_allclose(est.last_dropped, dropped, rtol=1e-8, atol=1e-14 * (full**2).sum())
        np.testing.assert_allclose(((dense - full) ** 2).sum(axis=(1, 2, 3)), est.last_dropped, rtol=1e-7, atol=1e-14)
    assert np.all(est.last_variance == 0.0)
    # the two factors of each pair have equal norms √σ_j
    u_norm = np.linalg.norm(est.u, axis=2)
    A_norm = np.linalg.norm(est.A.reshape(B, rank, -1), axis=2)
    np.testing.assert_allclose(u_norm, A_norm, rtol=1e-8)


def test_truncated_ok_is_deterministic_and_checks_its_rank():
    cell, steps, _ = _trajectory(GatedCell, seed=9)
    a, b = TruncatedOK(cell, 2, batch=B), TruncatedOK(cell, 2, batch=B)
    for step in steps:
        a.update(step)
        b.update(step)
    np.testing.assert_array_equal(a.influence(), b.influence())
    with pytest.raises(ValueError, match="rank: expected an integer from 1 to K - 1"):
        TruncatedOK(cell, cell.K)
    with pytest.raises(TypeError, match="rank: expected an integer >= 1"):
        TruncatedOK(cell, 1.5)
    assert "TruncatedOK(n=5" in repr(a) and "rank=2" in repr(a)


@pytest.mark.parametrize("make", [lambda c: SnAp1(c, batch=2), lambda c: TruncatedOK(c, 1, 2)])
def test_biased_estimators_name_an_overflow(make):
    """Weights that make the network explode end in a FloatingPointError naming the estimator, not in inf."""
    rng = np.random.default_rng(10)
    cell = TanhCell(N_IN, N, rng, scale=1.0)
    W = cell.W.copy()
    W[N_IN : N_IN + N] = 1e3 * np.eye(N)  # H = D 1e3 I: the kept diagonal grows 1e3-fold per step while D stays 1
    W[-1] = 0.0
    W[:N_IN] = 0.0
    cell.W = W
    est = make(cell)
    h = np.zeros((2, N))
    with pytest.raises(FloatingPointError, match=type(est).__name__):
        for _ in range(200):
            step = cell.step(np.zeros((2, N_IN)), h)
            est.update(step)
