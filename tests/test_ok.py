"""Tests of okcore.approx.ok.OK, the optimal Kronecker-sum approximation.

Expectations over the random signs are exact: every one of the 2^(r+1) sign patterns of an update is replayed
through ``ReplaySigns`` and the results are averaged. Targets are built densely and independently of the module:
the exact one-step sum H G̃ + x̂ ⊗ D, and the singular values of its rearrangement into a K × nk matrix.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from okcore import ExactRTRL, GatedCell, Step, TanhCell
from okcore.approx.ok import OK
from okcore.lowrank import minimal_variance, split
from okcore.signs import ReplaySigns

pytestmark = pytest.mark.filterwarnings("error")  # no RuntimeWarning anywhere, degenerate inputs included

N_IN, N_HID = 3, 4  # K = 8, so the rearranged sum (K × nk) has room for r + 1 <= 5 singular values


# ----------------------------------------------------------------------------------------------------------
# helpers


def all_signs(N: int) -> np.ndarray:
    """(2^N, N) array of every sign pattern."""
    return np.array(list(itertools.product([-1.0, 1.0], repeat=N)))


def random_state(est: OK, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random non-zero rank-r state, different in every batch row."""
    u = rng.normal(size=est.u.shape)
    A = rng.normal(size=est.A.shape) * rng.uniform(0.3, 3.0, size=(est.batch, est.rank, 1, 1))
    return u, A


def random_step(cell, batch: int, rng: np.random.Generator) -> Step:
    return cell.step(rng.normal(size=(batch, cell.n_in)), rng.uniform(-0.9, 0.9, size=(batch, cell.n_hidden)))


def random_instance(
    cell, rank: int, batch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, Step, np.ndarray]:
    """(u0, A0, step, target): a random rank-r state, a random step and the exact H G + x̂ ⊗ D from that state."""
    probe = OK(cell, rank, batch=batch, rng=rng)
    u0, A0 = random_state(probe, rng)
    step = random_step(cell, batch, rng)
    probe.u, probe.A = u0, A0
    return u0, A0, step, exact_sum(probe.influence(), step)


def make_step(xhat: np.ndarray, H: np.ndarray, d: np.ndarray, n_in: int) -> Step:
    """A Step with prescribed x̂, H and d (x and h are read off x̂; h is not used by the estimators)."""
    n = H.shape[-1]
    return Step(xhat[:, :n_in], xhat[:, n_in : n_in + n], xhat, np.zeros((xhat.shape[0], n)), H, d)


def exact_sum(G: np.ndarray, step: Step) -> np.ndarray:
    """H G + x̂ ⊗ D, densely, (B, n, K, k)."""
    xhat, H, _ = step.as_batch()
    D = step.D if step.batched else step.D[None]
    return np.einsum("bac,bcpq->bapq", H, G) + np.einsum("bp,baq->bapq", xhat, D)


def rearranged_singular_values(G: np.ndarray, count: int) -> np.ndarray:
    """The largest ``count`` singular values of each row's K × nk rearrangement P[p, (a, q)] = G[a, p, q]."""
    B, n, K, k = G.shape
    P = G.transpose(0, 2, 1, 3).reshape(B, K, n * k)
    return np.linalg.svd(P, compute_uv=False)[:, :count]


def run_patterns(cell, rank, u0, A0, step, **kw) -> tuple[np.ndarray, list[OK]]:
    """Influence after one update from (u0, A0) for every sign pattern: (2^N, B, n, K, k), and the estimators.

    Row b uses pattern (p + b · 2^N // 3) mod 2^N at enumeration step p, so that every row sees every pattern
    once while the rows of one update carry different signs.
    """
    B = u0.shape[0]
    patterns = all_signs(rank + 1)
    P = len(patterns)
    out, ests = [], []
    for p in range(P):
        signs = np.stack([patterns[(p + b * (P // 3)) % P] for b in range(B)])
        est = OK(cell, rank, batch=B, rng=ReplaySigns([signs]), **kw)
        est.u, est.A = u0.copy(), A0.copy()
        est.update(step)
        out.append(est.influence())
        ests.append(est)
    return np.array(out), ests


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


# ----------------------------------------------------------------------------------------------------------
# unbiasedness and variance of one update


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("split_name", ["optimal", "code"])
def test_one_update_is_exactly_unbiased(cell_cls, rank, split_name, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B = 3
    u0, A0, step, target = random_instance(cell, rank, B, rng)
    results, _ = run_patterns(cell, rank, u0, A0, step, split=split_name)
    assert rel(results.mean(axis=0), target) < 1e-12
    # each row on its own: the same average as a batch of one with that row's state
    for b in range(B):
        single, _ = run_patterns(cell, rank, u0[b : b + 1], A0[b : b + 1], _row(step, b), split=split_name)
        assert rel(single.mean(axis=0)[0], target[b]) < 1e-12


def _row(step: Step, b: int) -> Step:
    return Step(*(getattr(step, f)[b : b + 1] for f in ("x", "h_prev", "xhat", "h", "H", "d")))


def test_batch_rows_do_not_interact(rng):
    cell = GatedCell(N_IN, N_HID, rng)
    B, rank = 3, 2
    u0, A0, step, _ = random_instance(cell, rank, B, rng)
    signs = all_signs(rank + 1)[[1, 4, 6]]
    est = OK(cell, rank, batch=B, rng=ReplaySigns([signs]))
    est.u, est.A = u0.copy(), A0.copy()
    est.update(step)
    for b in range(B):
        one = OK(cell, rank, batch=1, rng=ReplaySigns([signs[b : b + 1]]))
        one.u, one.A = u0[b : b + 1].copy(), A0[b : b + 1].copy()
        one.update(_row(step, b))
        assert rel(est.influence()[b], one.influence()[0]) < 1e-12
        assert est.last_variance[b] == pytest.approx(one.last_variance[0], rel=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
@pytest.mark.parametrize("basis", ["gram", "qr"])
def test_error_is_minimal_variance_on_every_pattern(cell_cls, rank, basis, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B = 2
    u0, A0, step, target = random_instance(cell, rank, B, rng)
    sv = rearranged_singular_values(target, rank + 1)
    best = np.array([minimal_variance(s) for s in sv])
    assert (best > 0).all()
    results, ests = run_patterns(cell, rank, u0, A0, step, basis=basis)
    errors = ((results - target) ** 2).sum(axis=(2, 3, 4))  # (patterns, B)
    np.testing.assert_allclose(errors, np.broadcast_to(best, errors.shape), rtol=1e-10)
    for est in ests:
        np.testing.assert_allclose(est.last_variance, best, rtol=1e-10)
        np.testing.assert_allclose(est.last_singular_values, sv, rtol=1e-10, atol=1e-12 * sv.max())


def test_factors_are_balanced(cell_cls, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    for split_name in ("optimal", "code"):
        est = OK(cell, 3, batch=2, rng=rng, split=split_name)
        est.u, est.A = random_state(est, rng)
        est.update(random_step(cell, 2, rng))
        nu = np.linalg.norm(est.u, axis=2)
        nA = np.linalg.norm(est.A.reshape(2, 3, -1), axis=2)
        np.testing.assert_allclose(nu, nA, rtol=1e-10)


def test_diagnostics_are_consistent(rng):
    cell = TanhCell(N_IN, N_HID, rng)
    est = OK(cell, 4, batch=3, rng=rng)
    h = np.zeros((3, N_HID))
    for _ in range(8):
        step = cell.step(rng.normal(size=(3, N_IN)), h)
        h = step.h
        est.update(step)
        assert est.last_singular_values.shape == (3, 5)
        for b in range(3):
            sv = est.last_singular_values[b]
            assert np.all(np.diff(sv) <= 0)
            keep, mix = split(sv)
            assert est.last_n_mixed[b] == mix.sum()
            share = sv[mix].sum() / sv.sum()
            assert est.last_mixed_share[b] == pytest.approx(share, rel=1e-12)
            assert est.last_variance[b] == pytest.approx(minimal_variance(sv), rel=1e-12)
        assert not est.last_used_qr.any()


def test_gram_and_qr_bases_agree(cell_cls, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B, rank = 3, 3
    u0, A0, step, _ = random_instance(cell, rank, B, rng)
    out = {}
    for basis in ("gram", "qr"):
        est = OK(cell, rank, batch=B, rng=rng, basis=basis)
        est.u, est.A = u0.copy(), A0.copy()
        est.update(step)
        out[basis] = est
    np.testing.assert_allclose(out["gram"].last_singular_values, out["qr"].last_singular_values, rtol=1e-12)
    np.testing.assert_allclose(out["gram"].last_variance, out["qr"].last_variance, rtol=1e-10)
    assert out["qr"].last_used_qr.all() and not out["gram"].last_used_qr.any()


# ----------------------------------------------------------------------------------------------------------
# the released code's split


def test_code_split_has_at_least_the_optimal_variance(cell_cls, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    for rank in (1, 2, 3, 4):
        B = 3
        u0, A0, step, target = random_instance(cell, rank, B, rng)
        results, ests = run_patterns(cell, rank, u0, A0, step, split="code")
        errors = ((results - target) ** 2).sum(axis=(2, 3, 4))
        # sign-independent, and equal to the reported value
        np.testing.assert_allclose(errors, np.broadcast_to(ests[0].last_variance, errors.shape), rtol=1e-10)
        best = np.array([minimal_variance(s) for s in ests[0].last_singular_values])
        assert (ests[0].last_variance >= best * (1 - 1e-12)).all()


def test_code_split_two_values(cell_cls, rng):
    """r = 1: two singular values, both mixed; variance σ1² + σ2² for the code split, 2 σ1 σ2 for OK."""
    cell = cell_cls(N_IN, N_HID, rng)
    u0, A0, step, _ = random_instance(cell, 1, 2, rng)
    got = {}
    for split_name in ("optimal", "code"):
        est = OK(cell, 1, batch=2, rng=rng, split=split_name)
        est.u, est.A = u0.copy(), A0.copy()
        est.update(step)
        got[split_name] = est
    s1, s2 = got["code"].last_singular_values.T
    np.testing.assert_allclose(got["code"].last_variance, s1**2 + s2**2, rtol=1e-12)
    np.testing.assert_allclose(got["optimal"].last_variance, 2 * s1 * s2, rtol=1e-12)
    assert (got["code"].last_n_mixed == 2).all()


# ----------------------------------------------------------------------------------------------------------
# exactness while the true influence has Kronecker rank <= r


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize(("basis", "split_name"), [("gram", "optimal"), ("qr", "optimal"), ("gram", "code")])
def test_exact_for_the_first_r_steps_after_a_reset(cell_cls, rank, basis, split_name, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B = 2
    est = OK(cell, rank, batch=B, rng=rng, basis=basis, split=split_name)
    exact = ExactRTRL(cell, batch=B)
    h = np.zeros((B, N_HID))

    def advance():
        nonlocal h
        step = cell.step(rng.normal(size=(B, N_IN)), h)
        h = step.h
        est.update(step)
        exact.update(step)

    for _ in range(rank):  # from the all-zero start
        advance()
        assert rel(est.influence(), exact.influence()) < 1e-10
        assert np.all(est.last_variance == 0.0)
    for _ in range(3):
        advance()
    mask = np.array([True, False])
    est.reset(mask)
    exact.reset(mask)
    assert np.all(est.influence()[0] == 0.0)
    for _ in range(rank):
        advance()
        assert rel(est.influence()[0], exact.influence()[0]) < 1e-10
        assert est.last_variance[0] == 0.0


# ----------------------------------------------------------------------------------------------------------
# degenerate inputs: zero start, parallel vectors, D = 0, H = 0, dependent matrices


def _check_degenerate(cell, rank, u0, A0, step, **kw) -> list[OK]:
    probe = OK(cell, rank, batch=u0.shape[0], rng=np.random.default_rng(0))
    probe.u, probe.A = u0.copy(), A0.copy()
    target = exact_sum(probe.influence(), step)
    results, ests = run_patterns(cell, rank, u0, A0, step, **kw)
    assert np.isfinite(results).all()
    scale = max(np.abs(target).max(), 1e-300)
    assert np.abs(results.mean(axis=0) - target).max() <= 1e-12 * scale
    errors = ((results - target) ** 2).sum(axis=(2, 3, 4))
    for est in ests:
        assert np.isfinite(est.u).all() and np.isfinite(est.A).all()
        for name in ("last_variance", "last_singular_values", "last_mixed_share"):
            assert np.isfinite(getattr(est, name)).all()
        np.testing.assert_allclose(errors[0], est.last_variance, rtol=1e-9, atol=1e-12 * scale**2)
    if kw.get("split", "optimal") == "optimal":
        best = np.array([minimal_variance(s) for s in ests[0].last_singular_values])
        np.testing.assert_allclose(ests[0].last_variance, best, rtol=1e-9, atol=1e-12 * scale**2)
    return ests


@pytest.mark.parametrize("split_name", ["optimal", "code"])
def test_degenerate_inputs(cell_cls, split_name, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B, rank = 4, 3
    u0, A0, step, _ = random_instance(cell, rank, B, rng)
    xhat, H, d = step.xhat.copy(), step.H.copy(), step.d.copy()
    u0[0, 1] = -2.5 * xhat[0]  # row 0: x̂ parallel to an existing u
    d[1] = 0.0  # row 1: D = 0
    H[2] = 0.0  # row 2: H = 0, so only x̂ ⊗ D is left
    u0[3, 2] = 0.0  # row 3: one zero pair and one pair with a zero vector factor
    A0[3, 2] = 0.0
    u0[3, 0] = 0.0
    _check_degenerate(cell, rank, u0, A0, make_step(xhat, H, d, N_IN), split=split_name)


@pytest.mark.parametrize("offset", [0.0, 1e-6])
def test_dependent_matrices_fall_back_to_householder(cell_cls, offset, rng):
    """H A_1, H A_2 parallel (offset 0) or nearly so: the Gram matrix of the M_j is (close to) singular."""
    cell = cell_cls(N_IN, N_HID, rng)
    B, rank = 2, 3
    probe = OK(cell, rank, batch=B, rng=rng)
    u0, A0 = random_state(probe, rng)
    A0[0, 1] = -3.0 * A0[0, 0] + offset * rng.normal(size=A0[0, 0].shape)
    step = random_step(cell, B, rng)
    ests = _check_degenerate(cell, rank, u0, A0, step)
    assert ests[0].last_used_qr[0]
    if offset:  # Cholesky succeeds; only the ill-conditioned row is redone
        assert not ests[0].last_used_qr[1]


def test_all_zero_state_and_zero_step(cell_cls, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B, rank = 2, 2
    zeros_u = np.zeros((B, rank, cell.K))
    zeros_A = np.zeros((B, rank, cell.n_hidden, cell.k))
    step = random_step(cell, B, rng)
    _check_degenerate(cell, rank, zeros_u, zeros_A, step)  # the all-zero start
    d0 = np.zeros_like(step.d)
    ests = _check_degenerate(cell, rank, zeros_u, zeros_A, make_step(step.xhat, step.H, d0, N_IN))
    assert np.all(ests[0].influence() == 0.0)
    assert np.all(ests[0].last_singular_values == 0.0) and np.all(ests[0].last_mixed_share == 0.0)


@pytest.mark.parametrize("scale", [1e-60, 1e60])
def test_tiny_and_huge_scales(cell_cls, scale, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B, rank = 2, 2
    u0, A0, step, _ = random_instance(cell, rank, B, rng)
    _check_degenerate(cell, rank, u0 * scale, A0 * scale, make_step(step.xhat, step.H, step.d * scale**2, N_IN))


def test_below_the_floor_is_zero(rng):
    cell = TanhCell(N_IN, N_HID, rng)
    est = OK(cell, 2, batch=1, rng=rng)
    step = random_step(cell, 1, rng)
    est.update(make_step(step.xhat, step.H, step.d * 1e-300, N_IN))
    assert np.all(est.influence() == 0.0) and np.all(est.last_singular_values == 0.0)


def test_long_run_with_resets_stays_finite(cell_cls, rng):
    cell = cell_cls(N_IN, 6, rng)
    B = 3
    for split_name in ("optimal", "code"):
        est = OK(cell, 2, batch=B, rng=rng, split=split_name)
        h = np.zeros((B, 6))
        for t in range(60):
            step = cell.step(rng.normal(size=(B, N_IN)), h)
            h = step.h
            est.update(step)
            if t % 17 == 5:
                est.reset(rng.random(B) < 0.5)
            assert np.isfinite(est.influence()).all() and np.isfinite(est.last_variance).all()


# ----------------------------------------------------------------------------------------------------------
# gradient, unbatched steps, bad input


def test_gradient_is_the_contraction_of_the_influence(cell_cls, rng):
    cell = cell_cls(N_IN, N_HID, rng)
    B = 3
    est = OK(cell, 2, batch=B, rng=rng)
    h = np.zeros((B, N_HID))
    for _ in range(4):
        step = cell.step(rng.normal(size=(B, N_IN)), h)
        h = step.h
        est.update(step)
    delta = rng.normal(size=(B, N_HID))
    expected = np.einsum("ba,bapq->pq", delta, est.influence())
    np.testing.assert_allclose(est.gradient(delta), expected, rtol=1e-12, atol=1e-14)


def test_unbatched_steps(rng):
    cell = GatedCell(N_IN, N_HID, rng)
    est = OK(cell, 2, rng=rng)
    exact = ExactRTRL(cell)
    h = np.zeros(N_HID)
    for _ in range(2):
        step = cell.step(rng.normal(size=N_IN), h)
        h = step.h
        est.update(step)
        exact.update(step)
    assert rel(est.influence(), exact.influence()) < 1e-10
    delta = rng.normal(size=N_HID)
    np.testing.assert_allclose(est.gradient(delta), exact.gradient(delta), rtol=1e-9, atol=1e-14)


def test_bad_input(rng):
    cell = TanhCell(N_IN, N_HID, rng)
    with pytest.raises(ValueError, match="rank"):
        OK(cell, 0, rng=rng)
    with pytest.raises(TypeError, match="rank"):
        OK(cell, 1.5, rng=rng)
    with pytest.raises(TypeError, match="rank"):
        OK(cell, True, rng=rng)
    with pytest.raises(ValueError, match="split"):
        OK(cell, 2, rng=rng, split="balanced")
    with pytest.raises(TypeError, match="split"):
        OK(cell, 2, rng=rng, split=None)
    with pytest.raises(ValueError, match="basis"):
        OK(cell, 2, rng=rng, basis="svd")
    with pytest.raises(TypeError, match="rng"):
        OK(cell, 2)
    with pytest.raises(TypeError, match="cell"):
        OK("cell", 2, rng=rng)
    est = OK(cell, 2, batch=2, rng=rng)
    with pytest.raises(ValueError, match="mask"):
        est.reset(np.array([True, False, True]))
    with pytest.raises(TypeError, match="mask"):
        est.reset(np.array([1, 0]))
    other = TanhCell(N_IN, N_HID + 1, rng)
    with pytest.raises(ValueError, match="step"):
        est.update(other.step(np.zeros((2, N_IN)), np.zeros((2, N_HID + 1))))
    with pytest.raises(ValueError, match="step"):
        est.update(cell.step(np.zeros((3, N_IN)), np.zeros((3, N_HID))))
    with pytest.raises(ValueError, match="step"):
        est.update(GatedCell(N_IN, N_HID, rng).step(np.zeros((2, N_IN)), np.zeros((2, N_HID))))
    with pytest.raises(TypeError, match="step"):
        est.update("step")
    with pytest.raises(ValueError, match="dL_dh"):
        est.gradient(np.zeros((2, N_HID + 1)))
    est.u = np.zeros((2, 3, cell.K))
    with pytest.raises(ValueError, match="u"):
        est.update(cell.step(np.zeros((2, N_IN)), np.zeros((2, N_HID))))
    assert est.t == 0


def test_public_linalg_fallback_gives_the_same_update(monkeypatch):
    """The direct LAPACK calls and numpy.linalg's public functions give the same OK step."""
    import okcore.approx.ok as ok_module

    def run():
        rng = np.random.default_rng(5)
        cell = GatedCell(3, 6, rng)
        est = ok_module.OK(cell, rank=3, batch=2, rng=np.random.default_rng(9))
        h = np.zeros((2, 6))
        for _ in range(8):
            step = cell.step(np.eye(3)[rng.integers(0, 3, size=2)], h)
            h = step.h
            est.update(step)
        return est.influence()

    fast = run()
    monkeypatch.setattr(ok_module, "_RAW", False)
    assert np.allclose(run(), fast, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rank", [2, 4, 6])
def test_both_ways_of_forming_the_gram_matrix_agree(monkeypatch, cell_cls, rank, rng):
    """Dot products per diagonal (small ranks) and one matrix product (larger ones) give the same OK step."""
    import okcore.approx.ok as ok_module

    cell = cell_cls(3, 6, rng)  # K = 10 > r + 1
    u0, A0, step, target = random_instance(cell, rank, 2, rng)
    signs = all_signs(rank + 1)[[3, 5]]
    out = []
    for max_rank in (rank, rank - 1):
        monkeypatch.setattr(ok_module, "_VECDOT_MAX_RANK", max_rank)
        est = ok_module.OK(cell, rank, batch=2, rng=ReplaySigns([signs]))
        assert (est._gram_lower is None) == (rank > max_rank)
        est.u, est.A = u0.copy(), A0.copy()
        est.update(step)
        assert not est.last_used_qr.any()
        out.append(est)
    assert rel(out[0].influence(), out[1].influence()) < 1e-12
    np.testing.assert_allclose(out[0].last_singular_values, out[1].last_singular_values, rtol=1e-12)
    best = [minimal_variance(s) for s in rearranged_singular_values(target, rank + 1)]
    np.testing.assert_allclose(out[0].last_variance, best, rtol=1e-10)


@pytest.mark.parametrize(("seed", "rank"), [(81, 3), (90, 2), (96, 2), (82, 4)])
def test_a_realisation_does_not_depend_on_rounding(monkeypatch, seed, rank):
    """Rounding-level changes (here the Gram matrix summed in another order) leave a whole OK run unchanged.

    Without a sign convention for the singular pairs, these runs from the zero start part after a few steps.
    """
    import okcore.approx.ok as ok_module

    runs = []
    for max_rank in (rank, rank - 1):
        monkeypatch.setattr(ok_module, "_VECDOT_MAX_RANK", max_rank)
        rng = np.random.default_rng(seed)
        cell = GatedCell(3, 4, rng)
        xs = np.eye(3)[rng.integers(0, 3, size=12)]
        est = ok_module.OK(cell, rank, rng=rng)
        h, estimates = np.zeros(4), []
        for x in xs:
            step = cell.step(x, h)
            h = step.h
            est.update(step)
            estimates.append(est.influence())
        runs.append(np.array(estimates))
    assert rel(runs[0], runs[1]) < 1e-12


def test_rank_beyond_the_row_space_is_refused():
    cell = GatedCell(2, 3, np.random.default_rng(0))  # K = 6
    OK(cell, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"rank: expected an integer from 1 to K - 1 = 5 .* got 6"):
        OK(cell, 6, rng=np.random.default_rng(0))
