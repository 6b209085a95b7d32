"""Exact RTRL: its influence matrix, its gradient (equal to BPTT's), reset and copy semantics."""

import numpy as np
import pytest

from okcore import ExactRTRL, Readout, bptt, unroll

N_IN, N, N_OUT, T = 3, 4, 3, 7
# RTRL and BPTT sum the same O(1) products in opposite orders, so they agree up to rounding (~1e-15 relative,
# growing mildly with T); 1e-10 leaves a wide margin and is far below any real discrepancy (a missed reset or
# a wrong term moves the gradient by >= 1e-3, as the reset test below checks).
RTRL_REL = 1e-10
# Finite differences (central, eps = 1e-6) of h_t w.r.t. W, with h_t of size ~1 after T steps: truncation
# ~eps² ~ 1e-12, rounding ~1e-16/eps ~ 1e-10. 1e-8 leaves a margin of 100.
FD_ATOL = 1e-8
# The same arithmetic in another order (a naive dense recursion, an einsum): rounding only.
ROUND_ATOL = 1e-12


def _problem(cell_cls, rng, batch):
    cell = cell_cls(N_IN, N, rng, scale=0.6)
    readout = Readout(N, N_OUT, rng, scale=1.0)
    xs = rng.uniform(-1.0, 1.0, size=(T, batch, N_IN))
    ys = rng.integers(0, N_OUT, size=(T, batch))
    h0 = rng.uniform(-0.5, 0.5, size=(batch, N))
    return cell, readout, xs, ys, h0


def _resets(batch):
    """Resets of some rows mid-sequence (row 0 at t = 3, the last row also at t = 5)."""
    resets = np.zeros((T, batch), dtype=bool)
    resets[3, 0] = True
    resets[5, batch - 1] = True
    return resets


def _rtrl_gradient(cell, run, batch):
    est = ExactRTRL(cell, batch=batch)
    grad = np.zeros_like(cell.W)
    for t, step in enumerate(run.steps):
        if run.resets[t].any():
            est.reset(run.resets[t])
        est.update(step)
        grad += est.gradient(run.dL_dh[t])
    return grad


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("with_resets", [False, True])
def test_rtrl_gradient_equals_bptt(cell_cls, rng, batch, with_resets):
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, batch)
    resets = _resets(batch) if with_resets else None
    run = unroll(cell, readout, xs, ys, h0=h0, resets=resets)
    dW = bptt(cell, readout, xs, ys, h0=h0, resets=resets)[1]
    assert _rel(_rtrl_gradient(cell, run, batch), dW) < RTRL_REL


def test_rtrl_without_the_reset_differs(cell_cls, rng):
    """Ignoring the resets gives a different gradient: the equality above depends on reset() being honoured."""
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, 4)
    resets = _resets(4)
    run = unroll(cell, readout, xs, ys, h0=h0, resets=resets)
    dW = bptt(cell, readout, xs, ys, h0=h0, resets=resets)[1]
    est = ExactRTRL(cell, batch=4)
    grad = np.zeros_like(dW)
    for t, step in enumerate(run.steps):
        est.update(step)
        grad += est.gradient(run.dL_dh[t])
    assert _rel(grad, dW) > 1e-3


def test_unbatched_steps(cell_cls, rng):
    """Steps taken on 1-D inputs drive a batch-1 estimator exactly like batched steps of one row."""
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, 1)
    run = unroll(cell, readout, xs, ys, h0=h0)
    a, b = ExactRTRL(cell), ExactRTRL(cell, batch=1)
    h = h0[0]
    for t in range(T):
        s = cell.step(xs[t, 0], h)
        assert not s.batched
        a.update(s)
        b.update(run.steps[t])
        h = s.h
        np.testing.assert_allclose(a.influence(), b.influence(), rtol=0, atol=ROUND_ATOL)
        np.testing.assert_allclose(a.gradient(run.dL_dh[t, 0]), b.gradient(run.dL_dh[t]), rtol=0, atol=ROUND_ATOL)


@pytest.mark.parametrize("t_steps", [1, 4])
def test_influence_matches_finite_differences(cell_cls, rng, central_diff, t_steps):
    """influence()[b, a, p, q] = ∂h_t[b, a]/∂W[p, q] through all t steps (W shared by every step)."""
    batch = 2
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, batch)
    resets = np.zeros((T, batch), dtype=bool)
    resets[2, 1] = True  # row 1 restarts at t = 2: its influence forgets steps 0 and 1
    W0 = cell.W.copy()

    def h_t(W):
        cell.W = W
        h = h0
        for t in range(t_steps):
            h = cell.step(xs[t], np.where(resets[t][:, None], 0.0, h)).h
        return h

    G_fd = central_diff(h_t, W0)  # (B, n, K, k)
    cell.W = W0
    est = ExactRTRL(cell, batch=batch)
    h = h0
    for t in range(t_steps):
        est.reset(resets[t])
        step = cell.step(xs[t], np.where(resets[t][:, None], 0.0, h))
        est.update(step)
        h = step.h
    G = est.influence()
    assert G.shape == (batch, N, cell.K, cell.k)
    assert np.abs(G).max() > 0.1
    np.testing.assert_allclose(G, G_fd, rtol=0, atol=FD_ATOL)


def test_influence_follows_the_dense_recursion(cell_cls, rng):
    """G_t = H_t G_{t-1} + F_t with F_t = x̂_t ⊗ D_t built densely with np.kron, row by row."""
    batch = 3
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, batch)
    run = unroll(cell, readout, xs, ys, h0=h0)
    est = ExactRTRL(cell, batch=batch)
    G = np.zeros((batch, N, cell.K, cell.k))
    for step in run.steps[:4]:
        est.update(step)
        for b in range(batch):
            # kron of (n, 1, k) and (1, K, 1) is (n, K, k) with entries D[a, q] x̂[p].
            F = np.kron(step.D[b][:, None, :], step.xhat[b][None, :, None])
            G[b] = np.tensordot(step.H[b], G[b], axes=1) + F
        np.testing.assert_allclose(est.influence(), G, rtol=0, atol=ROUND_ATOL)
    assert est.t == 4


def test_batch_rows_are_independent(cell_cls, rng):
    batch = 3
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, batch)
    run = unroll(cell, readout, xs, ys, h0=h0)
    est = ExactRTRL(cell, batch=batch)
    singles = [ExactRTRL(cell) for _ in range(batch)]
    for step in run.steps:
        est.update(step)
        for b, single in enumerate(singles):
            single.update(cell.step(step.x[b], step.h_prev[b]))
    G = est.influence()
    for b, single in enumerate(singles):
        np.testing.assert_allclose(G[b], single.influence()[0], rtol=0, atol=ROUND_ATOL)


def test_gradient_contracts_influence_with_delta(cell_cls, rng):
    batch = 3
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, batch)
    run = unroll(cell, readout, xs, ys, h0=h0)
    est = ExactRTRL(cell, batch=batch)
    for step in run.steps[:3]:
        est.update(step)
    delta = rng.normal(size=(batch, N))
    g = est.gradient(delta)
    assert g.shape == (cell.K, cell.k)
    np.testing.assert_allclose(g, np.einsum("ba,bapq->pq", delta, est.influence()), rtol=0, atol=ROUND_ATOL)
    assert np.abs(g).max() > 0.1


def test_reset_zeroes_only_masked_rows(cell_cls, rng):
    batch = 4
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, batch)
    run = unroll(cell, readout, xs, ys, h0=h0)
    est = ExactRTRL(cell, batch=batch)
    for step in run.steps[:3]:
        est.update(step)
    before = est.influence()
    assert np.all(np.abs(before).reshape(batch, -1).max(axis=1) > 0.1)
    mask = np.array([True, False, True, False])
    est.reset(mask)
    after = est.influence()
    assert np.all(after[mask] == 0.0)
    np.testing.assert_array_equal(after[~mask], before[~mask])
    est.reset(np.zeros(batch, dtype=bool))  # an empty mask changes nothing
    np.testing.assert_array_equal(est.influence(), after)
    est.reset()
    assert np.all(est.influence() == 0.0)


def test_influence_returns_a_copy(cell_cls, rng):
    cell, readout, xs, ys, h0 = _problem(cell_cls, rng, 2)
    run = unroll(cell, readout, xs, ys, h0=h0)
    est = ExactRTRL(cell, batch=2)
    for step in run.steps[:2]:
        est.update(step)
    G = est.influence()
    delta = run.dL_dh[1]
    g = est.gradient(delta)
    G[...] = 123.0
    np.testing.assert_array_equal(est.gradient(delta), g)
    assert not np.any(est.influence() == 123.0)
    # Updating the estimator does not change an influence() taken earlier either.
    G2 = est.influence()
    snapshot = G2.copy()
    est.update(run.steps[2])
    np.testing.assert_array_equal(G2, snapshot)
