"""Noise measurements: unbiasedness over time and the variance ordering of the estimators (W fixed)."""

from __future__ import annotations

import numpy as np
import pytest

from okcore import ExactRTRL, GatedCell, TanhCell
from okcore.approx import KFRTRL, OK, UORO, KFAverage
from okcore.noise import broadcast_step, measure_noise, relative_variance, variance_table

N_IN = 3


def _sequence(cell_cls, n, T, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    cell = cell_cls(N_IN, n, rng, scale=scale)
    xs = np.eye(N_IN)[rng.integers(0, N_IN, size=T)]
    return cell, xs


def _run(cell, xs, est):
    """Feed one sequence to every row of ``est`` and to ExactRTRL; return (estimates (N, ...), exact G)."""
    exact = ExactRTRL(cell)
    h = np.zeros(cell.n_hidden)
    for x in xs:
        step = cell.step(x, h)
        h = step.h
        exact.update(step)
        est.update(broadcast_step(step, est.batch))
    return est.influence(), exact.influence()[0]


def _max_z(samples: np.ndarray, G: np.ndarray) -> float:
    """Largest |mean − G| / standard error over all entries (structurally zero entries must be exact)."""
    N = samples.shape[0]
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(N)
    # Entries the estimator reproduces exactly (up to rounding) carry no sampling noise to compare against.
    tol = 1e-12 * np.abs(G).max()
    exact_entries = se <= tol
    assert np.all(np.abs(mean - G)[exact_entries] <= 10 * tol)
    return float(np.max(np.abs(mean - G)[~exact_entries] / se[~exact_entries]))


ESTIMATORS = [
    ("UORO", lambda c, N, rng: UORO(c, batch=N, rng=rng)),
    ("KF", lambda c, N, rng: KFRTRL(c, batch=N, rng=rng)),
    ("KF-avg r=2", lambda c, N, rng: KFAverage(c, rank=2, batch=N, rng=rng)),
    ("OK r=1", lambda c, N, rng: OK(c, rank=1, batch=N, rng=rng)),
    ("OK r=2", lambda c, N, rng: OK(c, rank=2, batch=N, rng=rng)),
    ("OK code split r=2", lambda c, N, rng: OK(c, rank=2, batch=N, rng=rng, split="code")),
]


@pytest.mark.parametrize("cell_cls", [TanhCell, GatedCell])
@pytest.mark.parametrize("name,make", ESTIMATORS, ids=[e[0] for e in ESTIMATORS])
def test_unbiased_over_time(cell_cls, name, make):
    """After T steps the mean of N independent runs lies within 5 standard errors of the exact G, entrywise.

    The standard error of each entry is measured from the N runs. Under unbiasedness each z-score is roughly
    standard normal; with a few hundred entries the largest |z| exceeds 5 with probability below 1e-3.
    """
    cell, xs = _sequence(cell_cls, n=4, T=12, seed=7)
    samples, G = _run(cell, xs, make(cell, 4000, np.random.default_rng(11)))
    assert _max_z(samples, G) < 5.0


class _BiasedSigns:
    """+1 with probability 0.7: E[c] ≠ 0, so the cross terms no longer cancel."""

    def __init__(self, rng):
        self.rng = rng

    def signs(self, shape):
        return np.where(self.rng.random(shape) < 0.7, 1.0, -1.0)


def test_the_unbiasedness_check_detects_bias():
    """Negative control: the same check rejects KF-RTRL driven by unfair signs."""
    cell, xs = _sequence(GatedCell, n=4, T=12, seed=7)
    samples, G = _run(cell, xs, KFRTRL(cell, batch=4000, rng=_BiasedSigns(np.random.default_rng(11))))
    assert _max_z(samples, G) > 5.0


def test_relative_variance_matches_direct_computation():
    cell, xs = _sequence(GatedCell, n=5, T=6, seed=3)
    rv = relative_variance(cell, xs, OK, 50, np.random.default_rng(2), {"rank": 2})
    samples, G = _run(cell, xs, OK(cell, rank=2, batch=50, rng=np.random.default_rng(2)))
    direct = np.mean(np.sum((samples - G) ** 2, axis=(1, 2, 3))) / np.sum(G**2)
    assert rv.shape == (6,)
    assert np.isclose(rv[-1], direct, rtol=1e-9)


def test_measure_noise_exact_is_noise_free():
    cell, xs = _sequence(TanhCell, n=4, T=5, seed=1)
    res = measure_noise(cell, xs, {"exact": ExactRTRL}, 3, np.random.default_rng(0))
    assert np.all(res.relative_variance["exact"] < 1e-24)
    assert np.all(res.exact_norm2 > 0)


def test_measure_noise_rejects_bad_input():
    cell, xs = _sequence(TanhCell, n=4, T=5, seed=1)
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="estimators"):
        measure_noise(cell, xs, {"x": int}, 3, rng)
    with pytest.raises(ValueError, match="xs"):
        measure_noise(cell, xs[:, :2], {"ok": (OK, {"rank": 1})}, 3, rng)
    with pytest.raises(ValueError, match="n_samples"):
        measure_noise(cell, xs, {"ok": (OK, {"rank": 1})}, 0, rng)
    with pytest.raises(TypeError, match="rng"):
        measure_noise(cell, xs, {"ok": (OK, {"rank": 1})}, 3, 5.0)


def test_variance_ordering_at_n16():
    """OK(r) < KF-avg(r) < KF < UORO at t = 10, 30, 60 for r = 2, 4, 8 (n = 16, 100 runs each)."""
    table = variance_table()
    for r in (2, 4, 8):
        assert np.all(table[f"OK r={r}"] < table[f"KF-avg r={r}"])
        assert np.all(table[f"KF-avg r={r}"] < table["KF"])
    assert np.all(table["KF"] < table["UORO"])
