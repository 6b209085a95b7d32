"""OK in float32: the Gram matrix of the H A_j is summed in float32 (for r <= 4 with dot products, beyond with one
matrix product), so a row whose H A_j are nearly parallel falls back to Householder QR sooner than in float64."""

from __future__ import annotations

import numpy as np
import pytest

import okcore
from okcore.approx import OK
from okcore.approx.ok import _PIVOT_TOL, _PIVOT_TOL_FLOAT32
from okcore.signs import ReplaySigns


def _gradient(dtype, rank, steps=15):
    cell = okcore.GatedCell(4, 12, rng=0, dtype=dtype)
    est = OK(cell, rank, batch=3, rng=1)
    rng = np.random.default_rng(2)
    h = cell.initial_state(3)
    grad = np.zeros_like(cell.W)
    for _ in range(steps):
        step = cell.step(np.eye(4)[rng.integers(0, 4, 3)], h)
        est.update(step)
        h = step.h
        grad += est.gradient(h - 0.5)
    return est, grad


@pytest.mark.parametrize("rank", [2, 6])  # the dot-product and the matrix-product Gram matrix
def test_float32_follows_float64(rank):
    est32, g32 = _gradient(np.float32, rank)
    _, g64 = _gradient(np.float64, rank)
    assert est32.A.dtype == np.float32 and g32.dtype == np.float32
    assert np.linalg.norm(g32 - g64) <= 1e-5 * np.linalg.norm(g64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearly_parallel_terms_fall_back_to_qr_at_the_tolerance_of_the_dtype(dtype):
    """Two terms at an angle whose sine lies between the float64 and the float32 tolerance: only float32 takes QR,
    and either way the update keeps the exact (r+1)-term sum in expectation (checked over all sign draws)."""
    sine = np.sqrt(_PIVOT_TOL * _PIVOT_TOL_FLOAT32)
    cell = okcore.GatedCell(3, 4, rng=0, dtype=dtype)
    rng = np.random.default_rng(5)
    step = cell.step(np.eye(3)[[1]], rng.uniform(-0.5, 0.5, size=(1, 4)).astype(dtype))
    H = step.H[0].astype(np.float64)
    # A_2 such that H A_2 = H A_1 + sine · (a unit direction orthogonal to H A_1), up to rounding
    A1 = rng.normal(size=(cell.n_hidden, cell.k))
    HA1 = H @ A1
    E = rng.normal(size=HA1.shape)
    E -= (E * HA1).sum() / (HA1 * HA1).sum() * HA1
    HA2 = HA1 + sine * np.linalg.norm(HA1) * E / np.linalg.norm(E)
    A2 = np.linalg.solve(H, HA2)
    u = rng.normal(size=(1, 2, cell.K))

    def updated(signs):
        est = OK(cell, 2, batch=1, rng=ReplaySigns([np.reshape(signs, (1, 3))]))
        est.u = u.astype(dtype)
        est.A = np.stack([A1, A2])[None].astype(dtype)
        G_before = est.influence().astype(np.float64)
        est.update(step)
        return est, G_before

    draws = [np.array(s) for s in np.ndindex(2, 2, 2)]
    results = [updated(2 * d - 1) for d in draws]
    used_qr = {bool(est.last_used_qr[0]) for est, _ in results}
    assert used_qr == {dtype == np.float32}
    G_before = results[0][1]
    F = np.einsum("p,aq->apq", step.xhat[0].astype(np.float64), step.D[0].astype(np.float64))
    exact = np.einsum("ab,bpq->apq", H, G_before[0]) + F
    mean = np.mean([est.influence()[0].astype(np.float64) for est, _ in results], axis=0)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.linalg.norm(mean - exact) <= tol * np.linalg.norm(exact)
