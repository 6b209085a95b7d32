"""NoisyExact: exact RTRL plus zero-mean noise of a set relative variance, and a bias of a set size."""

from __future__ import annotations

import numpy as np
import pytest

from okcore import ExactRTRL, GatedCell, NoisyExact, TanhCell
from okcore.noise import broadcast_step

N_IN, N, T = 2, 3, 12


def _run(cell_cls, samples, seed=0, **kw):
    """One input sequence fed to ``samples`` rows of NoisyExact (W fixed): the estimates (S, n, K, k) after each
    step, and the exact G_t."""
    rng = np.random.default_rng(seed)
    cell = cell_cls(N_IN, N, rng, scale=0.6)
    est = NoisyExact(cell, batch=samples, rng=rng, **kw)
    exact = ExactRTRL(cell)
    h = np.zeros(N)
    out = []
    for _ in range(T):
        step = cell.step(np.eye(N_IN)[rng.integers(0, N_IN)], h)
        h = step.h
        exact.update(step)
        est.update(broadcast_step(step, samples))
        out.append((est.influence(), exact.influence()[0]))
    return est, out


@pytest.mark.parametrize("cell_cls", [GatedCell, TanhCell])
@pytest.mark.parametrize("noise", ["fresh", "carried"])
def test_relative_variance_is_exact_on_every_draw(cell_cls, noise):
    """‖G̃_t − G_t‖² = v ‖G_t‖² for every row and step (the noise is scaled to that norm, not just on average)."""
    v = 0.37
    _, out = _run(cell_cls, 50, rel_var=v, noise=noise)
    for Gt, G in out:
        rel = ((Gt - G) ** 2).sum(axis=(1, 2, 3)) / (G**2).sum()
        np.testing.assert_allclose(rel, v, rtol=1e-10)


@pytest.mark.parametrize("cell_cls", [GatedCell, TanhCell])
@pytest.mark.parametrize("noise", ["fresh", "carried"])
def test_noise_has_mean_zero(cell_cls, noise):
    """The mean of S = 4000 independent rows lies within 4.5 standard errors of G_t, entrywise, at every step.

    The standard error of entry i is s_i / √S with s_i the sample standard deviation of the rows (for fresh noise
    it is known exactly, √(v ‖G‖² / N) / √S, and the sample one agrees with it). With 2 × 3 × 6 × 6 = 216 entries
    per step and 12 steps, a deviation beyond 4.5 standard errors has probability about 2600 · 6.8e-6 ≈ 0.02 under
    the null; the seed is fixed."""
    v, S = 2.0, 4000
    _, out = _run(cell_cls, S, seed=1, rel_var=v, noise=noise)
    worst = 0.0
    for Gt, G in out:
        mean = Gt.mean(axis=0)
        se = Gt.std(axis=0, ddof=1) / np.sqrt(S)
        if noise == "fresh":
            np.testing.assert_allclose(se, np.sqrt(v * (G**2).sum() / G.size / S), rtol=0.05)
        worst = max(worst, float(np.max(np.abs(mean - G) / se)))
    assert worst < 4.5, worst


def test_carried_noise_is_correlated_from_step_to_step_and_fresh_noise_is_not():
    """The cosine between E_t and E_{t+1}, averaged over rows: about 0 for fresh noise (within 5/√(N S)), clearly
    positive for carried noise (the old noise, propagated by H, is kept)."""
    S = 400

    def step_cosines(noise):
        rng = np.random.default_rng(2)
        cell = GatedCell(N_IN, N, rng, scale=0.6)
        est = NoisyExact(cell, 1.0, batch=S, rng=rng, noise=noise)
        h = np.zeros(N)
        prev, cosines = None, []
        for _ in range(T):
            step = cell.step(np.eye(N_IN)[rng.integers(0, N_IN)], h)
            h = step.h
            est.update(broadcast_step(step, S))
            E = est.E.reshape(S, -1).copy()
            if prev is not None:
                c = (E * prev).sum(axis=1) / np.linalg.norm(E, axis=1) / np.linalg.norm(prev, axis=1)
                cosines.append(c.mean())
            prev = E
        return np.array(cosines), E.shape[1]

    fresh, size = step_cosines("fresh")
    carried, _ = step_cosines("carried")
    assert np.all(np.abs(fresh) < 5 / np.sqrt(size * S)), fresh
    assert np.all(carried > 0.3), carried


def test_bias_shifts_the_mean_by_b_times_the_norm_along_a_fixed_direction():
    """With bias b, the mean over rows is G + b ‖G‖ Δ (within 4.5 standard errors entrywise), Δ has unit norm,
    and the relative mean squared error is v + b² (within 5 standard errors of the mean over rows)."""
    v, b, S = 0.5, 0.8, 3000
    est, out = _run(GatedCell, S, seed=3, rel_var=v, bias=b)
    assert np.linalg.norm(est.direction) == pytest.approx(1.0)
    for Gt, G in out[-3:]:
        target = G + b * np.linalg.norm(G) * est.direction
        se = Gt.std(axis=0, ddof=1) / np.sqrt(S)
        assert np.max(np.abs(Gt.mean(axis=0) - target) / se) < 4.5
        rel = ((Gt - G) ** 2).sum(axis=(1, 2, 3)) / (G**2).sum()
        assert abs(rel.mean() - (v + b * b)) < 5 * rel.std(ddof=1) / np.sqrt(S)


def test_without_noise_it_is_exact_rtrl_and_gradients_match_the_influence():
    rng = np.random.default_rng(4)
    cell = GatedCell(N_IN, N, rng)
    quiet = NoisyExact(cell, 0.0, batch=2, rng=0)
    noisy = NoisyExact(cell, 3.0, batch=2, rng=0, noise="carried", bias=0.5)
    exact = ExactRTRL(cell, batch=2)
    h = cell.initial_state(2)
    for t in range(6):
        step = cell.step(np.eye(N_IN)[rng.integers(0, N_IN, 2)], h)
        h = step.h
        for est in (quiet, noisy, exact):
            est.reset(np.array([t == 3, False]))
            est.update(step)
    np.testing.assert_array_equal(quiet.influence(), exact.influence())
    np.testing.assert_array_equal(noisy.exact_influence(), exact.influence())
    delta = rng.standard_normal((2, N))
    np.testing.assert_allclose(noisy.gradient(delta), np.einsum("ba,bapq->pq", delta, noisy.influence()), rtol=1e-12)
    np.testing.assert_allclose(quiet.gradient(delta), exact.gradient(delta), rtol=1e-14)


def test_arguments_are_checked():
    cell = GatedCell(N_IN, N, 0)
    with pytest.raises(ValueError, match="rel_var: expected a finite number >= 0, got -1"):
        NoisyExact(cell, -1, rng=0)
    with pytest.raises(ValueError, match="bias: expected a finite number >= 0"):
        NoisyExact(cell, 1.0, rng=0, bias=float("nan"))
    with pytest.raises(ValueError, match="noise: expected one of fresh, carried, got 'pink'"):
        NoisyExact(cell, 1.0, rng=0, noise="pink")
    with pytest.raises(TypeError, match="rng: NoisyExact draws random numbers"):
        NoisyExact(cell, 1.0)
    assert "rel_var=1, noise='carried', bias=0.2" in repr(NoisyExact(cell, 1.0, rng=0, noise="carried", bias=0.2))
