"""The cells' Jacobians H and D, the immediate influence F = x̂ ⊗ D, and the readout's gradients.

Finite differences: central, eps = 1e-6, in float64. For the O(1) values here the difference quotient is off by
about eps²|f'''|/6 ~ 1e-13 (truncation) plus ~1e-16·|f|/eps ~ 1e-10 (rounding), so FD_ATOL = 1e-8 leaves a
margin of ~100 while any wrong formula (a missing term, a wrong sign, a transposed block) is off by ~1e-2 or more.
"""

import numpy as np
import pytest

from okcore import GatedCell, Readout, TanhCell

N_IN, N = 3, 4
FD_ATOL = 1e-8
# Same arithmetic in a different order (batched vs row by row, or a written-out formula): rounding only.
ROUND_ATOL = 1e-13


def _inputs(rng, batch=None):
    shape = (N_IN,) if batch is None else (batch, N_IN)
    x = rng.uniform(-1.0, 1.0, size=shape)
    h = rng.uniform(-0.9, 0.9, size=shape[:-1] + (N,))
    return x, h


def _cell(cell_cls, rng):
    # scale 0.5: pre-activations of size ~1, in the non-linear but not saturated range of tanh and the sigmoids.
    return cell_cls(N_IN, N, rng, scale=0.5)


def test_shapes(cell_cls, rng):
    cell = _cell(cell_cls, rng)
    k = N if cell_cls is TanhCell else 2 * N
    assert (cell.K, cell.k) == (N_IN + N + 1, k)
    assert cell.W.shape == (cell.K, k)
    x, h = _inputs(rng)
    s = cell.step(x, h)
    assert (s.x.shape, s.h_prev.shape, s.xhat.shape, s.h.shape) == ((N_IN,), (N,), (cell.K,), (N,))
    assert (s.H.shape, s.d.shape, s.D.shape) == ((N, N), (k,), (N, k))
    assert not s.batched
    xb, hb = _inputs(rng, batch=5)
    sb = cell.step(xb, hb)
    assert sb.batched
    assert (sb.xhat.shape, sb.h.shape, sb.H.shape, sb.d.shape, sb.D.shape) == (
        (5, cell.K),
        (5, N),
        (5, N, N),
        (5, k),
        (5, N, k),
    )
    assert cell.initial_state().shape == (N,)
    assert cell.initial_state(3).shape == (3, N)


def test_xhat_is_input_state_one(cell_cls, rng):
    cell = _cell(cell_cls, rng)
    x, h = _inputs(rng)
    s = cell.step(x, h)
    np.testing.assert_array_equal(s.xhat, np.r_[x, h, 1.0])
    np.testing.assert_array_equal(s.x, x)
    np.testing.assert_array_equal(s.h_prev, h)


def test_H_matches_finite_differences(cell_cls, rng, central_diff):
    cell = _cell(cell_cls, rng)
    x, h = _inputs(rng)
    H_fd = central_diff(lambda hh: cell.step(x, hh).h, h)  # [a, i] = ∂h_t[a]/∂h_{t-1}[i]
    H = cell.step(x, h).H
    assert np.abs(H).max() > 0.05  # a real check, not 0 == 0
    np.testing.assert_allclose(H, H_fd, rtol=0, atol=FD_ATOL)


def test_D_matches_finite_differences_of_transition(cell_cls, rng, central_diff):
    cell = _cell(cell_cls, rng)
    x, h = _inputs(rng)
    s = cell.step(x, h)
    z = s.xhat @ cell.W
    np.testing.assert_allclose(cell.transition(z[None], h[None])[0], s.h, rtol=0, atol=ROUND_ATOL)
    D_fd = central_diff(lambda zz: cell.transition(zz[None], h[None])[0], z)  # [a, q] = ∂h_t[a]/∂z[q]
    np.testing.assert_allclose(s.D, D_fd, rtol=0, atol=FD_ATOL)
    # d holds exactly the entries D[q % n, q]; everything else in D is zero (also by finite differences).
    cols = np.arange(cell.k)
    np.testing.assert_allclose(s.d, D_fd[cols % N, cols], rtol=0, atol=FD_ATOL)
    off = np.ones_like(D_fd, dtype=bool)
    off[cols % N, cols] = False
    assert np.abs(D_fd[off]).max() < FD_ATOL
    assert np.all(s.D[off] == 0.0)
    assert np.abs(s.d).min() > 1e-3  # every stored entry is a genuine, non-zero derivative here


def test_batched_D_matches_finite_differences(cell_cls, rng, central_diff):
    cell = _cell(cell_cls, rng)
    x, h = _inputs(rng, batch=3)
    s = cell.step(x, h)
    z = s.xhat @ cell.W
    for b in range(3):
        D_fd = central_diff(lambda zz, b=b: cell.transition(zz[None], h[b : b + 1])[0], z[b])
        np.testing.assert_allclose(s.D[b], D_fd, rtol=0, atol=FD_ATOL)


def test_immediate_influence_is_xhat_outer_D(cell_cls, rng, central_diff):
    """F[a, p, q] = ∂h_t[a]/∂W[p, q] with h_{t-1} held fixed equals x̂[p] D[a, q]."""
    cell = _cell(cell_cls, rng)
    x, h = _inputs(rng)
    s = cell.step(x, h)
    W0 = cell.W.copy()

    def h_of_W(W):
        cell.W = W
        return cell.step(x, h).h

    F_fd = central_diff(h_of_W, W0)
    cell.W = W0
    F = np.einsum("p,aq->apq", s.xhat, s.D)
    np.testing.assert_allclose(F, F_fd, rtol=0, atol=FD_ATOL)


def test_batched_step_matches_row_by_row(cell_cls, rng):
    cell = _cell(cell_cls, rng)
    x, h = _inputs(rng, batch=4)
    sb = cell.step(x, h)
    for b in range(4):
        s = cell.step(x[b], h[b])
        for name in ("x", "h_prev", "xhat", "h", "H", "d", "D"):
            np.testing.assert_allclose(getattr(sb, name)[b], getattr(s, name), rtol=0, atol=ROUND_ATOL, err_msg=name)


def test_gated_cell_matches_written_out_formula(rng):
    cell = GatedCell(N_IN, N, rng, scale=0.5)
    x, h_prev = _inputs(rng)
    W = cell.W
    xhat = np.concatenate([x, h_prev, [1.0]])
    z_c = xhat @ W[:, :N]
    z_f = xhat @ W[:, N:]
    c = 2.0 / (1.0 + np.exp(-z_c)) - 1.0
    f = 1.0 / (1.0 + np.exp(-z_f))
    h = f * h_prev + (1.0 - f) * c
    np.testing.assert_allclose(cell.step(x, h_prev).h, h, rtol=0, atol=ROUND_ATOL)


def test_tanh_cell_matches_written_out_formula(rng):
    cell = TanhCell(N_IN, N, rng, scale=0.5)
    x, h_prev = _inputs(rng)
    h = np.tanh(np.concatenate([x, h_prev, [1.0]]) @ cell.W)
    np.testing.assert_allclose(cell.step(x, h_prev).h, h, rtol=0, atol=ROUND_ATOL)


def test_saturated_cells_stay_finite(cell_cls, rng):
    """Huge pre-activations must not overflow (the sigmoid is computed through tanh)."""
    cell = cell_cls(N_IN, N, rng, scale=1.0)
    cell.W = 1e4 * cell.W
    x, h = _inputs(rng, batch=2)
    s = cell.step(1e3 * x, h)
    for name in ("h", "H", "d"):
        assert np.all(np.isfinite(getattr(s, name))), name
    assert np.all(np.abs(s.h) <= 1.0)


# -- readout -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["nats", "bits"])
@pytest.mark.parametrize("batch", [None, 3])
def test_readout_gradients_match_finite_differences(rng, central_diff, unit, batch):
    readout = Readout(N, 5, rng, unit=unit, scale=1.0)
    h = rng.normal(size=(N,) if batch is None else (batch, N))
    y = 2 if batch is None else rng.integers(0, 5, size=batch)
    loss, dL_dh, dW_out = readout.loss_and_grads(h, y)
    assert dL_dh.shape == h.shape and dW_out.shape == (N + 1, 5)
    np.testing.assert_allclose(loss, np.sum(readout.loss(h, y)), rtol=1e-14)
    dh_fd = central_diff(lambda hh: readout.loss_and_grads(hh, y)[0], h)
    np.testing.assert_allclose(dL_dh, dh_fd, rtol=0, atol=FD_ATOL)
    W0 = readout.W_out.copy()

    def loss_of_W(W):
        readout.W_out = W
        return readout.loss_and_grads(h, y)[0]

    dW_fd = central_diff(loss_of_W, W0)
    readout.W_out = W0
    np.testing.assert_allclose(dW_out, dW_fd, rtol=0, atol=FD_ATOL)


def test_readout_loss_is_cross_entropy_in_nats(rng):
    readout = Readout(N, 5, rng, scale=1.0)
    h = rng.normal(size=(3, N))
    y = np.array([0, 4, 2])
    logits = np.concatenate([h, np.ones((3, 1))], axis=1) @ readout.W_out
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(readout.logits(h), logits, rtol=0, atol=ROUND_ATOL)
    np.testing.assert_allclose(readout.probabilities(h), p, rtol=0, atol=ROUND_ATOL)
    np.testing.assert_allclose(readout.loss(h, y), -np.log(p[np.arange(3), y]), rtol=0, atol=ROUND_ATOL)


def test_bits_are_nats_over_ln2(rng):
    nats = Readout(N, 5, np.random.default_rng(7), unit="nats")
    bits = Readout(N, 5, np.random.default_rng(7), unit="bits")
    np.testing.assert_array_equal(nats.W_out, bits.W_out)
    h = rng.normal(size=(3, N))
    y = np.array([1, 0, 3])
    ln, dhn, dwn = nats.loss_and_grads(h, y)
    lb, dhb, dwb = bits.loss_and_grads(h, y)
    assert ln > 0.1
    np.testing.assert_allclose(lb, ln / np.log(2.0), rtol=1e-14)
    np.testing.assert_allclose(dhb, dhn / np.log(2.0), rtol=1e-14)
    np.testing.assert_allclose(dwb, dwn / np.log(2.0), rtol=1e-14)
    np.testing.assert_allclose(bits.loss(h, y), nats.loss(h, y) / np.log(2.0), rtol=1e-14)


def test_readout_handles_extreme_logits(rng):
    readout = Readout(N, 3, rng)
    readout.W_out = 1e4 * readout.W_out
    h = rng.normal(size=(2, N))
    loss, dL_dh, dW_out = readout.loss_and_grads(h, [0, 1])
    assert np.isfinite(loss) and np.all(np.isfinite(dL_dh)) and np.all(np.isfinite(dW_out))
    np.testing.assert_allclose(readout.probabilities(h).sum(axis=1), 1.0, rtol=1e-14)
