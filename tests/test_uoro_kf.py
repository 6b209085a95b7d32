"""UORO, KF-RTRL and KF-avg: exact one-step unbiasedness by enumerating every sign pattern, the closed-form
per-step variance of KF, the optimality of its balancing rule, zero starts and resets, gradients, batch rows and
bad input. All in float64 with fixed seeds; any RuntimeWarning fails a test."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from okcore import GatedCell, TanhCell
from okcore.approx import KFRTRL, UORO, KFAverage, kf_step_variance
from okcore.cells import Step
from okcore.signs import ReplaySigns

pytestmark = pytest.mark.filterwarnings("error")

CELLS = {"tanh": TanhCell, "gated": GatedCell}
N_IN = 3


# -- helpers -------------------------------------------------------------------------------------------------
def make_cell(kind: str, n: int, seed: int = 0, scale: float | None = None):
    return CELLS[kind](N_IN, n, np.random.default_rng(seed), scale=scale)


def random_step(cell, batch: int, seed: int = 1) -> Step:
    rng = np.random.default_rng(seed)
    return cell.step(rng.normal(size=(batch, cell.n_in)), rng.normal(size=(batch, cell.n_hidden)))


def dense_F(step: Step) -> np.ndarray:
    """F = x̂ ⊗ D densely, (B, n, K, k)."""
    return step.xhat[:, None, :, None] * step.D[:, :, None, :]


def exact_next(G: np.ndarray, step: Step) -> np.ndarray:
    """H G + F, computed densely and independently of the estimators."""
    return np.einsum("bij,bjpq->bipq", step.H, G) + dense_F(step)


def kron_sum(u: np.ndarray, A: np.ndarray) -> np.ndarray:
    return np.einsum("brp,braq->bapq", u, A)


def sign_patterns(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Every ±1 array of the given shape."""
    size = int(np.prod(shape))
    return [np.array(p, dtype=float).reshape(shape) for p in itertools.product((-1.0, 1.0), repeat=size)]


def batched_patterns(batch: int, row_shape: tuple[int, ...]) -> list[np.ndarray]:
    """All patterns of one row, each row visiting them in its own order (row b is shifted by 7b), so that the
    rows of one draw carry different signs while every row still runs through every pattern once."""
    rows = sign_patterns(row_shape)
    m = len(rows)
    return [np.stack([rows[(i + 7 * b) % m] for b in range(batch)]) for i in range(m)]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def random_kron_state(est, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    est.u = rng.normal(size=est.u.shape)
    est.A = rng.normal(size=est.A.shape)


def random_uoro_state(est, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    est.s = rng.normal(size=est.s.shape)
    est.theta = rng.normal(size=est.theta.shape)


def kron_state_copy(est) -> tuple[np.ndarray, np.ndarray]:
    return est.u.copy(), est.A.copy()


def make_estimator(name: str, cell, batch: int, rng, **kw):
    if name == "uoro":
        return UORO(cell, batch, rng, **kw)
    if name == "kf":
        return KFRTRL(cell, batch, rng, **kw)
    rank = int(name.split("-")[1])
    return KFAverage(cell, rank, batch, rng, **kw)


def sign_row_shape(name: str, n: int) -> tuple[int, ...]:
    if name == "uoro":
        return (n,)
    if name == "kf":
        return (1, 2)
    return (int(name.split("-")[1]), 2)


# -- one update is exactly unbiased --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("balance", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
def test_uoro_one_update_is_unbiased(kind, balance, batch):
    n = 4
    cell = make_cell(kind, n)
    step = random_step(cell, batch)
    patterns = batched_patterns(batch, (n,))
    assert len(patterns) == 2**n
    total = 0.0
    for signs in patterns:
        est = UORO(cell, batch, ReplaySigns([signs]), balance=balance)
        random_uoro_state(est)
        G0 = est.influence()
        est.update(step)
        total = total + est.influence()
    mean = total / len(patterns)
    expected = exact_next(G0, step)
    for b in range(batch):
        assert rel_err(mean[b], expected[b]) < 1e-12


@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("name", ["kf", "avg-2", "avg-3"])
@pytest.mark.parametrize("balance", [True, False])
@pytest.mark.parametrize("batch", [1, 2])
def test_kf_one_update_is_unbiased(kind, name, balance, batch):
    cell = make_cell(kind, 5)
    step = random_step(cell, batch)
    patterns = batched_patterns(batch, sign_row_shape(name, cell.n_hidden))
    assert len(patterns) == 4 ** sign_row_shape(name, cell.n_hidden)[0]
    total = 0.0
    for signs in patterns:
        est = make_estimator(name, cell, batch, ReplaySigns([signs]), balance=balance)
        random_kron_state(est)
        G0 = est.influence()
        est.update(step)
        total = total + est.influence()
    mean = total / len(patterns)
    expected = exact_next(G0, step)
    for b in range(batch):
        assert rel_err(mean[b], expected[b]) < 1e-12


@pytest.mark.parametrize("name", ["uoro", "kf", "avg-3"])
def test_batch_rows_are_independent_estimates(name):
    """A batched estimator equals B separate single-row ones given each row's signs and step."""
    cell = make_cell("gated", 6)
    batch, n_steps = 3, 4
    rng = np.random.default_rng(5)
    xs = rng.normal(size=(n_steps, batch, N_IN))
    row_shape = sign_row_shape(name, cell.n_hidden)
    signs = [rng.choice([-1.0, 1.0], size=(batch, *row_shape)) for _ in range(n_steps)]
    big = make_estimator(name, cell, batch, ReplaySigns(signs))
    singles = [make_estimator(name, cell, 1, ReplaySigns([s[b : b + 1] for s in signs])) for b in range(batch)]
    h = np.zeros((batch, cell.n_hidden))
    for t in range(n_steps):
        step = cell.step(xs[t], h)
        big.update(step)
        for b, est in enumerate(singles):
            est.update(cell.step(xs[t, b], h[b]))
        h = step.h
    G = big.influence()
    for b, est in enumerate(singles):
        np.testing.assert_allclose(G[b], est.influence()[0], rtol=1e-13, atol=1e-15)
    # Different rows saw different signs, so they are not all the same estimate.
    assert not np.allclose(G[0] / np.linalg.norm(G[0]), G[1] / np.linalg.norm(G[1]))


# -- gradient ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("name", ["uoro", "kf", "avg-3"])
@pytest.mark.parametrize("balance", [True, False])
def test_gradient_contracts_the_influence(kind, name, balance):
    cell = make_cell(kind, 7)
    batch = 4
    est = make_estimator(name, cell, batch, np.random.default_rng(3), balance=balance)
    rng = np.random.default_rng(4)
    h = np.zeros((batch, cell.n_hidden))
    for _ in range(6):
        step = cell.step(rng.normal(size=(batch, N_IN)), h)
        est.update(step)
        h = step.h
    delta = rng.normal(size=(batch, cell.n_hidden))
    expected = np.einsum("bapq,ba->pq", est.influence(), delta)
    got = est.gradient(delta)
    assert got.shape == (cell.K, cell.k)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["uoro", "kf", "avg-2"])
def test_single_sequence_accepts_unbatched_steps_and_errors(name):
    cell = make_cell("tanh", 5)
    est = make_estimator(name, cell, 1, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    h = np.zeros(cell.n_hidden)
    for _ in range(3):
        step = cell.step(rng.normal(size=N_IN), h)
        est.update(step)
        h = step.h
    delta = rng.normal(size=cell.n_hidden)
    np.testing.assert_allclose(est.gradient(delta), est.gradient(delta[None]), rtol=0, atol=0)
    np.testing.assert_allclose(est.gradient(delta), np.einsum("apq,a->pq", est.influence()[0], delta), rtol=1e-12)
    assert est.t == 3


# -- zero start, resets, degenerate steps --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("name", ["kf", "avg-1", "avg-4"])
@pytest.mark.parametrize("balance", [True, False])
def test_kf_first_update_from_zero_is_exact(kind, name, balance):
    cell = make_cell(kind, 6)
    batch = 3
    step = random_step(cell, batch)
    with np.errstate(all="raise"):
        est = make_estimator(name, cell, batch, np.random.default_rng(0), balance=balance)
        assert not np.any(est.influence())
        est.update(step)
        np.testing.assert_allclose(est.influence(), dense_F(step), rtol=1e-14, atol=1e-15)
        np.testing.assert_array_equal(est.last_variance, 0.0)
        assert np.all(np.isfinite(est.u)) and np.all(np.isfinite(est.A))


@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("balance", [True, False])
def test_uoro_first_update_from_zero(kind, balance):
    """From zero: no NaN, and the expectation over all sign patterns is F exactly."""
    n, batch = 5, 2
    cell = make_cell(kind, n)
    step = random_step(cell, batch)
    total = 0.0
    patterns = batched_patterns(batch, (n,))
    with np.errstate(all="raise"):
        for signs in patterns:
            est = UORO(cell, batch, ReplaySigns([signs]), balance=balance)
            est.update(step)
            G = est.influence()
            assert np.all(np.isfinite(G))
            total = total + G
    mean = total / len(patterns)
    for b in range(batch):
        assert rel_err(mean[b], dense_F(step)[b]) < 1e-12
    if balance:
        np.testing.assert_allclose(est.last_rho0, 1.0, rtol=0, atol=0)  # (0 + ε)/(0 + ε)


@pytest.mark.parametrize("name", ["uoro", "kf", "avg-3"])
def test_reset_rows_then_continue(name):
    cell = make_cell("gated", 5)
    batch = 3
    rng = np.random.default_rng(7)
    est = make_estimator(name, cell, batch, np.random.default_rng(8))
    h = np.zeros((batch, cell.n_hidden))
    with np.errstate(all="raise"):
        for _ in range(5):
            step = cell.step(rng.normal(size=(batch, N_IN)), h)
            est.update(step)
            h = step.h
        before = est.influence()
        mask = np.array([True, False, True])
        est.reset(mask)
        after = est.influence()
        assert not np.any(after[mask])
        np.testing.assert_array_equal(after[~mask], before[~mask])
        step = cell.step(rng.normal(size=(batch, N_IN)), h)
        est.update(step)
        G = est.influence()
        assert np.all(np.isfinite(G))
        if name != "uoro":  # KF restarts exactly at F
            np.testing.assert_allclose(G[mask], dense_F(step)[mask], rtol=1e-14, atol=1e-15)
        est.reset(np.zeros(batch, dtype=bool))
        np.testing.assert_array_equal(est.influence(), G)
        est.reset()
        assert not np.any(est.influence())
        est.update(step)
        assert np.all(np.isfinite(est.influence()))


def degenerate_step(cell, batch: int, which: str) -> Step:
    """A step with D = 0 (saturated units) or H = 0 (a state that forgets at once)."""
    s = random_step(cell, batch)
    d = np.zeros_like(s.d) if which == "D" else s.d
    H = np.zeros_like(s.H) if which == "H" else s.H
    return Step(s.x, s.h_prev, s.xhat, s.h, H, d)


@pytest.mark.parametrize("which", ["D", "H"])
@pytest.mark.parametrize("name", ["uoro", "kf", "avg-2"])
def test_degenerate_steps_stay_finite_and_unbiased(which, name):
    cell = make_cell("gated", 4)
    batch = 2
    step = degenerate_step(cell, batch, which)
    patterns = batched_patterns(batch, sign_row_shape(name, cell.n_hidden))
    total = 0.0
    with np.errstate(all="raise"):
        for signs in patterns:
            est = make_estimator(name, cell, batch, ReplaySigns([signs]))
            (random_uoro_state if name == "uoro" else random_kron_state)(est)
            G0 = est.influence()
            est.update(step)
            G = est.influence()
            assert np.all(np.isfinite(G))
            total = total + G
            if name != "uoro":
                # One of the two products vanishes, so the balancing rule makes the step (nearly) exact.
                assert rel_err(G, exact_next(G0, step)) < 1e-14
                assert np.all(est.last_variance < 1e-60 * np.linalg.norm(G0) ** 2)
    assert rel_err(total / len(patterns), exact_next(G0, step)) < 1e-12


def test_zero_start_with_saturated_step_stays_zero():
    cell = make_cell("tanh", 4)
    step = degenerate_step(cell, 2, "D")
    with np.errstate(all="raise"):
        for name in ["uoro", "kf", "avg-3"]:
            est = make_estimator(name, cell, 2, np.random.default_rng(0))
            est.update(step)
            assert not np.any(est.influence())


# -- KF's per-step variance ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("name", ["kf", "avg-2", "avg-3"])
@pytest.mark.parametrize("balance", [True, False])
def test_kf_closed_form_variance_equals_enumeration(kind, name, balance):
    cell = make_cell(kind, 5)
    batch = 2
    step = random_step(cell, batch)
    patterns = batched_patterns(batch, sign_row_shape(name, cell.n_hidden))
    sq_errors, reported = [], []
    for signs in patterns:
        est = make_estimator(name, cell, batch, ReplaySigns([signs]), balance=balance)
        random_kron_state(est)
        u0, A0 = kron_state_copy(est)
        target = exact_next(est.influence(), step)
        est.update(step)
        sq_errors.append(np.sum((est.influence() - target) ** 2, axis=(1, 2, 3)))
        reported.append(est.last_variance.copy())
    enumerated = np.mean(sq_errors, axis=0)
    for var in reported:  # the same for every draw
        np.testing.assert_allclose(var, enumerated, rtol=1e-12)
    assert np.all(enumerated > 0)
    # The standalone formula, chain by chain (KF-avg stores each chain times 1/√r; its variance is mean/r).
    r = est.rank
    HA0 = np.einsum("bij,brjq->briq", step.H, A0)
    chains = []
    for i in range(r):
        u_i, HA_i = u0[:, i] * np.sqrt(r), HA0[:, i] * np.sqrt(r)
        if balance:
            chains.append(kf_step_variance(u_i, HA_i, step.xhat, step.D))
            np.testing.assert_allclose(
                chains[-1], kf_step_variance(u_i, HA_i, step.xhat, step.d, est.last_p1[:, i], est.last_p2)
            )
        else:
            chains.append(kf_step_variance(u_i, HA_i, step.xhat, step.d, 1.0, 1.0))
    np.testing.assert_allclose(np.mean(chains, axis=0) / r, enumerated, rtol=1e-12)


def test_kf_balancing_rule_values():
    cell = make_cell("gated", 6)
    step = random_step(cell, 2)
    est = KFRTRL(cell, 2, np.random.default_rng(0))
    random_kron_state(est)
    u0, A0 = kron_state_copy(est)
    est.update(step)
    HA = np.einsum("bij,bjq->biq", step.H, A0[:, 0])
    p1 = np.sqrt(np.linalg.norm(HA, axis=(1, 2)) / np.linalg.norm(u0[:, 0], axis=1))
    p2 = np.sqrt(np.linalg.norm(step.d, axis=1) / np.linalg.norm(step.xhat, axis=1))
    np.testing.assert_allclose(est.last_p1[:, 0], p1, rtol=1e-14)
    np.testing.assert_allclose(est.last_p2, p2, rtol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kf_balancing_minimises_the_step_variance(seed):
    """A 1-D search over the ratio p1/p2 finds the balanced value, within the grid's resolution."""
    rng = np.random.default_rng(seed)
    cell = make_cell("gated", 5, seed=seed)
    step = random_step(cell, 1, seed=seed + 10)
    u = rng.normal(size=cell.K) * rng.uniform(0.1, 10)
    HA = step.H[0] @ rng.normal(size=(cell.n_hidden, cell.k))
    xhat, D = step.xhat[0], step.D[0]
    p1 = np.sqrt(np.linalg.norm(HA) / np.linalg.norm(u))
    p2 = np.sqrt(np.linalg.norm(D) / np.linalg.norm(xhat))
    best = kf_step_variance(u, HA, xhat, D)
    np.testing.assert_allclose(kf_step_variance(u, HA, xhat, D, p1, p2), best, rtol=1e-13)
    log_step = 1e-3
    log_ratios = np.log(p1 / p2) + np.arange(-4000, 4001) * log_step  # ±4 around the balanced ratio
    values = kf_step_variance(u[None], HA[None], xhat[None], D[None], np.exp(log_ratios), 1.0)
    # Off the optimum by h in log-ratio, the variance grows by 2‖a‖‖B‖‖b‖‖C‖ (cosh 2h − 1) ≈ 4‖a‖‖B‖‖b‖‖C‖ h².
    scale = np.linalg.norm(u) * np.linalg.norm(HA) * np.linalg.norm(xhat) * np.linalg.norm(D)
    assert values.min() >= best * (1 - 1e-12)
    assert values.min() <= best + 2 * scale * (np.cosh(log_step) - 1) + 1e-12 * best
    assert abs(log_ratios[np.argmin(values)] - np.log(p1 / p2)) <= log_step
    # Moving off by a factor e costs the predicted excess exactly.
    off = kf_step_variance(u, HA, xhat, D, p1 * np.e, p2)
    np.testing.assert_allclose(off - best, 2 * scale * (np.cosh(2.0) - 1), rtol=1e-10)


def test_kf_step_variance_input_checks():
    rng = np.random.default_rng(0)
    n, k, K = 3, 6, 5
    u, x = rng.normal(size=K), rng.normal(size=K)
    HA, d = rng.normal(size=(n, k)), rng.normal(size=k)
    D = np.zeros((n, k))
    D[np.arange(k) % n, np.arange(k)] = d
    assert np.isclose(kf_step_variance(u, HA, x, D), kf_step_variance(u, HA, x, d))
    assert isinstance(kf_step_variance(u, HA, x, d), float)
    with pytest.raises(ValueError, match="p1, p2"):
        kf_step_variance(u, HA, x, d, p1=1.0)
    with pytest.raises(ValueError, match="D:"):
        kf_step_variance(u, HA, x, rng.normal(size=(n, k)))  # not of the cells' sparse structure
    with pytest.raises(ValueError, match="D:"):
        kf_step_variance(u, HA, x, d[:-1])
    with pytest.raises(ValueError, match="xhat:"):
        kf_step_variance(u, HA, x[:-1], d)
    with pytest.raises(ValueError, match="u:"):
        kf_step_variance(u[None], HA, x, d)
    with pytest.raises(ValueError, match="HA:"):
        kf_step_variance(u, rng.normal(size=(4, 6)), x, d)


# -- state handling ------------------------------------------------------------------------------------------
def test_kf_state_can_be_assigned_or_edited_in_place():
    cell = make_cell("tanh", 4)
    step = random_step(cell, 2)
    rng = np.random.default_rng(0)
    u, A = rng.normal(size=(2, 3, cell.K)), rng.normal(size=(2, 3, cell.n_hidden, cell.k))
    signs = [np.ones((2, 3, 2))]
    a = KFAverage(cell, 3, 2, ReplaySigns(signs))
    a.u, a.A = u, A.astype(np.float32)[..., ::-1][..., ::-1]  # other dtype, non-contiguous: copied in
    b = KFAverage(cell, 3, 2, ReplaySigns(signs))
    b.u[...] = u
    b.A[...] = A.astype(np.float32)
    np.testing.assert_allclose(a.influence(), b.influence(), rtol=1e-12)
    a.update(step)
    b.update(step)
    np.testing.assert_array_equal(a.influence(), b.influence())
    a.u = np.zeros((2, 2, cell.K))
    with pytest.raises(ValueError, match="u: expected shape"):
        a.update(step)
    with pytest.raises(ValueError, match="A: expected shape"):  # checked when assigned
        b.A = np.zeros((2, 3, cell.n_hidden, cell.k + 1))


def test_kf_assigned_arrays_are_copied_in_and_left_alone():
    """An array the caller assigns to u or A is copied in at the next update and never written by the estimator."""
    cell = make_cell("gated", 4)
    rng = np.random.default_rng(3)
    est = KFAverage(cell, 2, 2, rng)
    u, A = rng.normal(size=est.u.shape), rng.normal(size=est.A.shape)
    u_keep, A_keep = u.copy(), A.copy()
    est.u, est.A = u, A
    h = np.zeros((2, cell.n_hidden))
    for _ in range(3):
        step = cell.step(rng.normal(size=(2, N_IN)), h)
        h = step.h
        est.update(step)
        np.testing.assert_array_equal(u, u_keep)
        np.testing.assert_array_equal(A, A_keep)
    assert np.isfinite(est.influence()).all()


def run_lazy_and_eager(make, limit: str, sign_shape, seed: int, check=None):
    """Two estimators fed the same 40 steps and signs, the second folding its kept-aside scale at every check.

    ``make(cell, batch, rng)`` builds one; ``limit`` names its folding threshold; ``sign_shape(cell)`` is the shape
    of one row of signs; ``check(t, lazy, eager)`` runs after each step. Returns (cell, lazy, the last step).
    """
    cell = make_cell("gated", 6)
    batch, n_steps = 2, 40
    rng = np.random.default_rng(seed)
    signs = [rng.choice([-1.0, 1.0], size=(batch, *sign_shape(cell))) for _ in range(n_steps)]
    lazy = make(cell, batch, ReplaySigns(signs))
    eager = make(cell, batch, ReplaySigns(signs))
    setattr(eager, limit, 1.0 + 1e-12)
    h = np.zeros((batch, cell.n_hidden))
    for t in range(n_steps):
        step = cell.step(rng.normal(size=(batch, N_IN)), h)
        lazy.update(step)
        eager.update(step)
        h = step.h
        delta = rng.normal(size=(batch, cell.n_hidden))
        np.testing.assert_allclose(lazy.gradient(delta), eager.gradient(delta), rtol=1e-11, atol=1e-13)
        if check is not None:
            check(t, lazy, eager)
    np.testing.assert_allclose(lazy.influence(), eager.influence(), rtol=1e-11, atol=1e-13)
    return cell, lazy, step


@pytest.mark.parametrize("balance", [True, False])
def test_kf_scale_folding_does_not_change_the_estimate(balance):
    """A_i is kept as λ_i Â_i; folding λ into Â (forced here at every step) gives the same estimates."""

    def check(t, lazy, eager):
        np.testing.assert_allclose(lazy.last_variance, eager.last_variance, rtol=1e-11, atol=1e-15)
        np.testing.assert_allclose(lazy.last_p1, eager.last_p1, rtol=1e-12)
        if t == 20:  # reading A folds λ
            np.testing.assert_allclose(lazy.A, eager.A, rtol=1e-11, atol=1e-13)

    def make(cell, batch, rng):
        return KFAverage(cell, 3, batch, rng, balance=balance)

    _, lazy, _ = run_lazy_and_eager(make, "_LAMBDA2_LIMIT", lambda cell: (3, 2), seed=2, check=check)
    G = lazy.influence()
    np.testing.assert_allclose(G, np.einsum("brp,braq->bapq", lazy.u, lazy.A), rtol=1e-12, atol=1e-14)
    lazy.A[0] = 0.0  # in-place edits of A count
    assert not np.any(lazy.influence()[0])


@pytest.mark.parametrize("name", ["kf", "avg-2"])
def test_kf_many_steps_with_H_zero_stay_finite(name):
    """With H = 0 the balancing rule shrinks u by up to 1e-37 a step; the scale kept aside must not overflow."""
    cell = make_cell("gated", 4)
    est = make_estimator(name, cell, 2, np.random.default_rng(4))
    random_kron_state(est)
    with np.errstate(all="raise"):
        for _ in range(30):
            est.update(degenerate_step(cell, 2, "H"))
            G = est.influence()
            assert np.all(np.isfinite(G)) and np.any(G)
            assert np.all(np.isfinite(est.last_variance))


def test_uoro_scale_folding_does_not_change_the_estimate():
    """θ̃ is kept as γ Θ; folding γ into Θ (forced here at every check) gives the same estimates."""
    cell, lazy, step = run_lazy_and_eager(UORO, "_GAMMA_LIMIT", lambda cell: (cell.n_hidden,), seed=1)
    batch = lazy.batch
    G = lazy.influence()
    np.testing.assert_allclose(G, lazy.s[:, :, None, None] * lazy.theta[:, None], rtol=1e-14)
    lazy.theta[0] = 0.0  # in-place edits of theta count
    assert not np.any(lazy.influence()[0])
    with pytest.raises(ValueError, match="theta: expected shape"):
        lazy.theta = np.zeros((batch, cell.K))
    lazy.s = np.zeros(3)
    with pytest.raises(ValueError, match="s: expected shape"):
        lazy.update(step)


def test_influence_is_a_new_array():
    cell = make_cell("tanh", 3)
    step = random_step(cell, 1)
    for name in ["uoro", "kf", "avg-2"]:
        est = make_estimator(name, cell, 1, np.random.default_rng(0))
        est.update(step)
        G = est.influence()
        G[...] = 0.0
        assert np.any(est.influence())


def test_reprs():
    cell = make_cell("tanh", 3)
    rng = np.random.default_rng(0)
    assert "balance=False" in repr(UORO(cell, 2, rng, balance=False))
    assert repr(KFRTRL(cell, rng=rng)).startswith("KFRTRL(n=3")
    assert "rank=4" in repr(KFAverage(cell, 4, rng=rng))


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rank, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (2.5, TypeError),
        (True, TypeError),
        ("2", TypeError),
        (np.float64(2.0), TypeError),
    ],
)
def test_kf_average_rejects_bad_rank(rank, error):
    with pytest.raises(error, match="rank"):
        KFAverage(make_cell("tanh", 3), rank, rng=np.random.default_rng(0))


def test_kf_average_accepts_numpy_integer_rank():
    assert KFAverage(make_cell("tanh", 3), np.int64(2), rng=np.random.default_rng(0)).rank == 2


@pytest.mark.parametrize("name", ["uoro", "kf", "avg-2"])
@pytest.mark.parametrize("rng", [None, 0.5, np.random.RandomState(0), "seed"])
def test_rng_must_be_a_generator_or_sign_source(name, rng):
    with pytest.raises(TypeError, match="rng"):
        make_estimator(name, make_cell("tanh", 3), 1, rng)


@pytest.mark.parametrize("name", ["uoro", "kf", "avg-2"])
def test_bad_masks_steps_and_options(name):
    cell = make_cell("tanh", 4)
    est = make_estimator(name, cell, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="mask"):
        est.reset(np.array([True, False, True]))
    with pytest.raises(TypeError, match="mask"):
        est.reset(np.array([1, 0]))
    with pytest.raises(ValueError, match="step"):
        est.update(random_step(make_cell("tanh", 5), 2))  # another size
    with pytest.raises(ValueError, match="step"):
        est.update(random_step(make_cell("gated", 4), 2))  # same n, another k
    with pytest.raises(ValueError, match="step"):
        est.update(random_step(cell, 3))  # wrong batch
    with pytest.raises(ValueError, match="step"):
        est.update(cell.step(np.zeros(N_IN), np.zeros(4)))  # an unbatched step for a batch of 2
    with pytest.raises(TypeError, match="step"):
        est.update((np.zeros((2, cell.K)), np.zeros((2, 4, 4)), np.zeros((2, 4))))
    with pytest.raises(ValueError, match="dL_dh"):
        est.gradient(np.zeros((2, 5)))
    with pytest.raises(TypeError, match="balance"):
        make_estimator(name, cell, 2, np.random.default_rng(0), balance="yes")
    with pytest.raises(TypeError, match="balance"):
        make_estimator(name, cell, 2, np.random.default_rng(0), balance=1)
    with pytest.raises((TypeError, ValueError), match="batch"):
        make_estimator(name, cell, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="cell"):
        make_estimator(name, "cell", 1, np.random.default_rng(0))
    assert est.t == 0


@pytest.mark.parametrize(
    "eps, error", [(0.0, ValueError), (-1e-7, ValueError), (np.inf, ValueError), ("1e-7", TypeError), (None, TypeError)]
)
def test_uoro_rejects_bad_eps(eps, error):
    with pytest.raises(error, match="eps"):
        UORO(make_cell("tanh", 3), rng=np.random.default_rng(0), eps=eps)


@pytest.mark.parametrize("name", ["uoro", "kf", "avg-3"])
def test_sign_requests_have_the_documented_shape(name):
    cell = make_cell("gated", 4)
    est = make_estimator(name, cell, 2, ReplaySigns([np.ones((2, 4, 2))]))
    with pytest.raises(ValueError, match="asked for shape"):
        est.update(random_step(cell, 2))


@pytest.mark.parametrize("batched_G", [False, True])
def test_uoro_factored_error_matches_dense(batched_G):
    """UORO's squared_error and mean_influence (from the factors) equal the dense computations."""
    rng = np.random.default_rng(8)
    cell = GatedCell(3, 4, rng)
    est = UORO(cell, batch=5, rng=np.random.default_rng(1))
    h = np.zeros((5, 4))
    for _ in range(6):
        step = cell.step(np.eye(3)[rng.integers(0, 3, size=5)], h)
        h = step.h
        est.update(step)
    G = rng.normal(size=(4, cell.K, cell.k))
    if batched_G:
        G = G * np.arange(1, 6)[:, None, None, None]
    dense = est.influence()
    expected = np.sum((dense - G) ** 2, axis=(1, 2, 3))
    assert np.allclose(est.squared_error(G), expected, rtol=1e-10)
    assert np.allclose(est.mean_influence(), dense.mean(axis=0), rtol=1e-12, atol=1e-15)
