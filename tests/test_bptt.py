"""Full and truncated backpropagation through time against finite differences and against each other.

Finite differences of the total loss (central, eps = 1e-6): the loss is a sum of T·B cross-entropies of size
~1, |loss| ~ 20, so rounding in the quotient is ~1e-16·20/1e-6 ~ 2e-9 and truncation ~eps² ~ 1e-12. FD_ATOL =
1e-7 leaves a margin of ~50; a missing or misrouted term of BPTT changes entries by ~1e-2.
"""

import numpy as np
import pytest

from okcore import Readout, bptt, truncated_bptt, unroll

N_IN, N, N_OUT, T = 3, 4, 3, 6
FD_ATOL = 1e-7
# Two summation orders of the same O(1) terms: rounding only (~1e-15 relative).
SAME_REL = 1e-12


def _problem(cell_cls, rng, batch, scale=0.6):
    """Cell, readout and a sequence; batch None means one sequence without a batch axis."""
    cell = cell_cls(N_IN, N, rng, scale=scale)
    readout = Readout(N, N_OUT, rng, scale=1.0)
    lead = (T,) if batch is None else (T, batch)
    xs = rng.uniform(-1.0, 1.0, size=lead + (N_IN,))
    ys = rng.integers(0, N_OUT, size=lead)
    h0 = rng.uniform(-0.5, 0.5, size=lead[1:] + (N,))
    resets = np.zeros(lead, dtype=bool)
    if batch is None:
        resets[3] = True
    else:
        resets[2, 0] = True
        resets[4, batch - 1] = True
        resets[0, batch // 2] = True  # a reset at t = 0 discards h0 for that row
    return cell, readout, xs, ys, h0, resets


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _forward_loss(cell, readout, xs, ys, h0, resets):
    """The total loss written out step by step, independent of ``unroll``."""
    h = np.array(h0, dtype=float)
    total = 0.0
    for t in range(len(xs)):
        h = np.where(resets[t][..., None], 0.0, h) if h.ndim == 2 else (0.0 * h if resets[t] else h)
        h = cell.step(xs[t], h).h
        total += np.sum(readout.loss(h, ys[t]))
    return total


@pytest.mark.parametrize("batch", [None, 1, 3])
def test_bptt_matches_finite_differences(cell_cls, rng, central_diff, batch):
    cell, readout, xs, ys, h0, resets = _problem(cell_cls, rng, batch)
    loss, dW, dW_out = bptt(cell, readout, xs, ys, h0=h0, resets=resets)
    np.testing.assert_allclose(loss, _forward_loss(cell, readout, xs, ys, h0, resets), rtol=1e-13)
    W0, W_out0 = cell.W.copy(), readout.W_out.copy()

    def loss_of_W(W):
        cell.W = W
        return _forward_loss(cell, readout, xs, ys, h0, resets)

    def loss_of_W_out(W_out):
        readout.W_out = W_out
        return _forward_loss(cell, readout, xs, ys, h0, resets)

    dW_fd = central_diff(loss_of_W, W0)
    cell.W = W0
    dW_out_fd = central_diff(loss_of_W_out, W_out0)
    readout.W_out = W_out0
    assert np.abs(dW).max() > 0.05
    np.testing.assert_allclose(dW, dW_fd, rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(dW_out, dW_out_fd, rtol=0, atol=FD_ATOL)


def test_reset_splits_the_sequence(cell_cls, rng):
    """A reset at step t gives the same loss and gradients as two separate sequences, the second from h = 0."""
    cell, readout, xs, ys, h0, _ = _problem(cell_cls, rng, None)
    resets = np.zeros(T, dtype=bool)
    resets[3] = True
    loss, dW, dW_out = bptt(cell, readout, xs, ys, h0=h0, resets=resets)
    l1, dW1, dWo1 = bptt(cell, readout, xs[:3], ys[:3], h0=h0)
    l2, dW2, dWo2 = bptt(cell, readout, xs[3:], ys[3:])
    np.testing.assert_allclose(loss, l1 + l2, rtol=1e-14)
    assert _rel(dW, dW1 + dW2) < SAME_REL
    assert _rel(dW_out, dWo1 + dWo2) < SAME_REL
    # ...and differs from the run without the reset, so the check above has teeth.
    assert _rel(bptt(cell, readout, xs, ys, h0=h0)[1], dW) > 1e-3


def test_batch_is_the_sum_of_its_rows(cell_cls, rng):
    cell, readout, xs, ys, h0, resets = _problem(cell_cls, rng, 3)
    loss, dW, dW_out = bptt(cell, readout, xs, ys, h0=h0, resets=resets)
    rows = [bptt(cell, readout, xs[:, b], ys[:, b], h0=h0[b], resets=resets[:, b]) for b in range(3)]
    np.testing.assert_allclose(loss, sum(r[0] for r in rows), rtol=1e-14)
    assert _rel(dW, sum(r[1] for r in rows)) < SAME_REL
    assert _rel(dW_out, sum(r[2] for r in rows)) < SAME_REL


@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("truncation", [T, T + 5])
def test_truncation_at_least_T_is_bptt(cell_cls, rng, batch, truncation):
    cell, readout, xs, ys, h0, resets = _problem(cell_cls, rng, batch)
    loss, dW, dW_out = bptt(cell, readout, xs, ys, h0=h0, resets=resets)
    lt, dWt, dWot = truncated_bptt(cell, readout, xs, ys, truncation, h0=h0, resets=resets)
    assert lt == loss
    assert _rel(dWt, dW) < SAME_REL
    np.testing.assert_array_equal(dWot, dW_out)


@pytest.mark.parametrize("truncation", range(1, T))
def test_truncation_below_T_is_biased(cell_cls, rng, truncation):
    """Without resets, dropping the paths longer than ``truncation`` changes dW.

    The dropped terms go through products of Jacobians H whose norms are checked to be >= 0.1 here, so they are
    not negligible: on this problem the relative change is 2e-3 (truncation T - 1) to 0.7 (truncation 1).
    The margin 1e-4 is well below that and ~1e11 above rounding (~1e-15).
    """
    cell, readout, xs, ys, h0, _ = _problem(cell_cls, rng, 2)
    run = unroll(cell, readout, xs, ys, h0=h0)
    assert min(np.linalg.norm(s.H, ord=2, axis=(1, 2)).min() for s in run.steps) > 0.1
    loss, dW, dW_out = bptt(cell, readout, xs, ys, h0=h0)
    lt, dWt, dWot = truncated_bptt(cell, readout, xs, ys, truncation, h0=h0)
    assert lt == loss
    np.testing.assert_array_equal(dWot, dW_out)  # W_out's gradient needs no backpropagation through time
    assert _rel(dWt, dW) > 1e-4


def test_truncation_error_shrinks_with_length(cell_cls, rng):
    """T - 1 drops one path (L_{T-1} back to step 0), truncation 1 drops all but the immediate terms."""
    cell, readout, xs, ys, h0, _ = _problem(cell_cls, rng, 2)
    dW = bptt(cell, readout, xs, ys, h0=h0)[1]
    errors = [_rel(truncated_bptt(cell, readout, xs, ys, k, h0=h0)[1], dW) for k in (1, T - 1, T)]
    assert errors[0] > errors[1] > 0 and errors[2] < SAME_REL


@pytest.mark.parametrize("batch", [None, 3])
def test_truncation_one_is_the_sum_of_immediate_terms(cell_cls, rng, batch):
    """With truncation 1, dW = Σ_t Σ_b x̂_t ⊗ (δ_t D_t), written here with dense D and np.einsum."""
    cell, readout, xs, ys, h0, resets = _problem(cell_cls, rng, batch)
    run = unroll(cell, readout, xs, ys, h0=h0, resets=resets)
    expected = sum(np.einsum("bp,ba,baq->pq", s.xhat, run.dL_dh[t], s.D) for t, s in enumerate(run.steps))
    dW1 = truncated_bptt(cell, readout, xs, ys, 1, h0=h0, resets=resets)[1]
    assert _rel(dW1, expected) < SAME_REL
    assert _rel(bptt(cell, readout, xs, ys, h0=h0, resets=resets)[1], expected) > 1e-3


def test_unroll_collects_steps_and_signals(cell_cls, rng):
    cell, readout, xs, ys, h0, resets = _problem(cell_cls, rng, 3)
    run = unroll(cell, readout, xs, ys, h0=h0, resets=resets)
    assert len(run.steps) == T
    assert run.dL_dh.shape == (T, 3, N) and run.losses.shape == (T,) and run.resets.shape == (T, 3)
    for t, s in enumerate(run.steps):
        expected_prev = run.steps[t - 1].h if t else h0
        expected_prev = np.where(resets[t][:, None], 0.0, expected_prev)
        np.testing.assert_array_equal(s.h_prev, expected_prev)
        np.testing.assert_allclose(run.dL_dh[t], readout.loss_and_grads(s.h, ys[t])[1], rtol=1e-14)
    np.testing.assert_allclose(run.loss, _forward_loss(cell, readout, xs, ys, h0, resets), rtol=1e-13)
