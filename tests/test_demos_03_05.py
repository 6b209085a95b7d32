"""Tests of the demonstrations behind notebooks 03-05 (Kronecker structure, UORO, KF-RTRL) and their exercises."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from okcore import ExactRTRL, GatedCell, TanhCell  # noqa: E402
from okcore.approx import KFRTRL, UORO, kf_step_variance  # noqa: E402
from okcore.demos import kf as kfd  # noqa: E402
from okcore.demos import kronecker as kr  # noqa: E402
from okcore.demos import uoro as ud  # noqa: E402
from okcore.noise import measure_noise  # noqa: E402


def _exact_run(cell, xs):
    exact = ExactRTRL(cell)
    h = np.zeros(cell.n_hidden)
    for x in xs:
        step = cell.step(x, h)
        exact.update(step)
        h = step.h
    return exact.influence()[0]


# --- okcore.demos.kronecker ------------------------------------------------------------------------------------


def test_random_network_is_reproducible():
    c1, x1 = kr.random_network(5, 7, seed=3)
    c2, x2 = kr.random_network(5, 7, seed=3)
    assert np.array_equal(c1.W, c2.W) and np.array_equal(x1, x2)
    assert x1.shape == (7, 4) and np.all(x1.sum(axis=1) == 1)
    c3, _ = kr.random_network(5, 7, seed=3, scale=0.5, cell_cls=TanhCell)
    assert isinstance(c3, TanhCell) and c3.W.shape == (10, 5)


def test_kron_layout_and_shape_errors():
    rng = np.random.default_rng(0)
    u, A = rng.normal(size=4), rng.normal(size=(2, 3))
    G = kr.kron(u, A)
    assert G.shape == (2, 4, 3) and G[1, 2, 0] == u[2] * A[1, 0]
    batched = kr.kron(np.stack([u, u]), np.stack([A, 2 * A]))
    assert np.allclose(batched[1], 2 * G)
    with pytest.raises(ValueError, match="u, A"):
        kr.kron(u, A[0])


@pytest.mark.parametrize("cls", [TanhCell, GatedCell])
def test_immediate_influence_matches_finite_differences(cls):
    rng = np.random.default_rng(1)
    cell = cls(2, 3, rng)
    W_before = cell.W.copy()
    x, h = rng.normal(size=2), rng.uniform(-0.5, 0.5, size=3)
    step = cell.step(x, h)
    F_fd = kr.immediate_influence_fd(cell, x, h)
    assert np.array_equal(cell.W, W_before)  # the probe works on a copy
    assert np.abs(kr.immediate_influence(step) - F_fd).max() < 1e-8


def test_immediate_influence_refuses_batched_steps():
    cell = TanhCell(2, 3, np.random.default_rng(0))
    step = cell.step(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="one sequence"):
        kr.immediate_influence(step)


def test_kronecker_terms_sum_to_exact_influence():
    cell, xs = kr.random_network(3, 6, seed=2)
    u, A = kr.kronecker_terms(cell, xs)
    assert u.shape == (6, cell.K) and A.shape == (6, 3, cell.k)
    G = _exact_run(cell, xs)
    assert np.allclose(kr.kron(u, A).sum(axis=0), G, rtol=1e-12, atol=1e-14)


def test_state_jacobian_acts_on_matrix_factor():
    rng = np.random.default_rng(3)
    H, u, A = rng.normal(size=(3, 3)), rng.normal(size=5), rng.normal(size=(3, 6))
    assert np.allclose(kr.apply_state_jacobian(H, kr.kron(u, A)), kr.kron(u, H @ A), rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError):
        kr.apply_state_jacobian(H, np.zeros((4, 5, 6)))


def test_rearrange_is_an_invertible_norm_preserving_permutation():
    rng = np.random.default_rng(4)
    u, A = rng.normal(size=5), rng.normal(size=(3, 4))
    assert np.array_equal(kr.rearrange(kr.kron(u, A)), np.outer(u, A.reshape(-1)))
    G = rng.normal(size=(3, 5, 4))
    R = kr.rearrange(G)
    assert R.shape == (5, 12)
    assert np.array_equal(np.sort(R.ravel()), np.sort(G.ravel()))
    assert np.array_equal(kr.unrearrange(R, 3, 4), G)
    with pytest.raises(ValueError):
        kr.rearrange(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        kr.unrearrange(R, 3, 5)


def test_best_kronecker_approximation_is_truncated_svd():
    rng = np.random.default_rng(5)
    G = rng.normal(size=(3, 6, 4))
    sv = np.linalg.svd(kr.rearrange(G), compute_uv=False)
    for r in (1, 2, 5):
        u, A = kr.best_kronecker_approximation(G, r)
        assert u.shape == (r, 6) and A.shape == (r, 3, 4)
        err = np.sum((kr.kron(u, A).sum(axis=0) - G) ** 2)
        assert err == pytest.approx(np.sum(sv[r:] ** 2), rel=1e-9, abs=1e-12)
    u, A = kr.best_kronecker_approximation(G, 50)  # more terms than the rank: exact
    assert np.allclose(kr.kron(u, A).sum(axis=0), G)


def test_spectrum_rank_share():
    cell, xs = kr.random_network(4, 12, seed=6)
    sv = kr.kronecker_spectrum(cell, xs)
    assert sv.shape == (12, min(cell.K, cell.n_hidden * cell.k))
    assert np.all(np.diff(sv, axis=1) <= 1e-12)
    G = _exact_run(cell, xs)
    assert np.sum(sv[-1] ** 2) == pytest.approx(np.sum(G**2), rel=1e-12)
    t = np.arange(1, 13)
    # one-hot inputs: x̂ lies in a (K - 1)-dimensional subspace
    assert np.all(kr.numerical_rank(sv) <= np.minimum(t, cell.K - 1))
    share = kr.top_share(sv, [1, 2, cell.K])
    assert share.shape == (12, 3)
    assert np.all(np.diff(share, axis=1) >= -1e-15) and np.allclose(share[:, -1], 1.0)
    assert np.allclose(share[0], 1.0)  # G_1 = F_1 is one Kronecker product
    assert np.allclose(kr.top_share(np.zeros((2, 3)), [1]), 1.0)


def test_kronecker_plots_draw():
    sv = np.abs(np.random.default_rng(7).normal(size=(5, 4)))
    sv = -np.sort(-sv, axis=1)
    ax = kr.plot_top_share(kr.top_share(sv, [1, 2]), [1, 2], title="x")
    assert len(ax.lines) == 2
    ax = kr.plot_top_share(kr.top_share(sv, [1, 2]), [1, 2], log_tail=True)
    assert ax.get_yscale() == "log"
    ax = kr.plot_spectra(sv, [1, 5])
    assert len(ax.lines) == 2
    plt.close("all")


# --- okcore.demos.uoro -------------------------------------------------------------------------------------------


def test_all_signs_and_second_moment():
    nu = ud.all_signs(3)
    assert nu.shape == (8, 3) and len({tuple(r) for r in nu}) == 8 and np.all(np.abs(nu) == 1)
    assert np.array_equal(ud.sign_second_moment(6), np.eye(6))
    with pytest.raises(ValueError):
        ud.all_signs(17)


@pytest.fixture
def uoro_setup():
    cell, xs = kr.random_network(3, 8, seed=5, n_in=2)
    s, theta, step = ud.uoro_state_before(cell, xs, 5, np.random.default_rng(0))
    return cell, s, theta, step


@pytest.mark.parametrize("balance", [True, False])
def test_uoro_enumeration_is_unbiased(uoro_setup, balance):
    cell, s, theta, step = uoro_setup
    samples, nu = ud.enumerate_uoro_update(cell, s, theta, step, balance=balance)
    assert samples.shape == (8, 3, cell.K, cell.k) and nu.shape == (8, 3)
    target = ud.uoro_target(s, theta, step)
    assert np.abs(samples.mean(axis=0) - target).max() < 1e-12 * np.abs(target).max()
    assert np.abs(samples - target).max() > 1e-3  # single draws are not exact


def test_uoro_step_variance_closed_form_and_optimum(uoro_setup):
    cell, s, theta, step = uoro_setup
    for rho in (0.1, 1.0, 7.0):
        assert ud.uoro_step_variance(s, theta, step, rho) == pytest.approx(
            ud.enumerated_step_variance(s, theta, step, rho), rel=1e-10
        )
    rho_u = ud.uoro_rho(s, theta, step)
    log_rho, v = ud.minimise_scalar(lambda lr: float(ud.uoro_step_variance(s, theta, step, np.exp(lr))), -10, 10)
    assert np.exp(log_rho) == pytest.approx(rho_u, rel=1e-5)
    samples, _ = ud.enumerate_uoro_update(cell, s, theta, step, balance=True)
    target = ud.uoro_target(s, theta, step)
    assert np.mean(np.sum((samples - target) ** 2, axis=(1, 2, 3))) == pytest.approx(v, rel=1e-9)
    assert ud.uoro_step_variance(s, theta, step, np.array([1.0, 2.0])).shape == (2,)


def test_uoro_state_before_checks_t():
    cell, xs = kr.random_network(3, 4, seed=0)
    with pytest.raises(ValueError, match="t"):
        ud.uoro_state_before(cell, xs, 4, np.random.default_rng(0))


def test_minimise_scalar():
    x, v = ud.minimise_scalar(lambda z: (z - 1.3) ** 2 + 2.0, -5, 5, tol=1e-12)
    assert x == pytest.approx(1.3, abs=1e-6) and v == pytest.approx(2.0, abs=1e-12)
    with pytest.raises(ValueError):
        ud.minimise_scalar(lambda z: z, 1, 0)


def test_loglog_slope():
    assert ud.loglog_slope([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        ud.loglog_slope([1], [1])


def test_uoro_first_step_relative_variance_is_n_minus_one():
    cell, xs = kr.random_network(6, 3, seed=9)
    res = measure_noise(cell, xs, {"u": UORO, "v": (UORO, {"balance": False})}, 10, np.random.default_rng(0))
    assert res.relative_variance["u"][0] == pytest.approx(5.0, rel=1e-12)
    assert res.relative_variance["v"][0] == pytest.approx(5.0, rel=1e-12)


def test_noise_vs_size_shapes_and_ordering():
    out = ud.noise_vs_size([4, 8], {"UORO": UORO, "KF": KFRTRL}, T=12, n_samples=30, seed=1, burn_in=3)
    assert set(out) == {"UORO", "KF"} and out["UORO"].shape == (2,)
    assert np.all(out["UORO"] > out["KF"])
    with pytest.raises(ValueError, match="burn_in"):
        ud.noise_vs_size([4], {"UORO": UORO}, T=5, n_samples=2, seed=0, burn_in=5)


def test_uoro_plots_draw():
    ax = ud.plot_noise_over_time({"a": np.arange(1, 5.0), "b": np.ones(4)})
    assert len(ax.lines) == 2
    ax = ud.plot_noise_vs_size([4, 8], {"a": [1.0, 2.0]}, ylabel="ratio")
    assert len(ax.lines) == 2 and ax.get_ylabel() == "ratio"
    plt.close("all")


# --- okcore.demos.kf -----------------------------------------------------------------------------------------------


@pytest.fixture
def kf_setup():
    cell, xs = kr.random_network(3, 9, seed=4, n_in=2)
    u, A, step = kfd.kf_state_before(cell, xs, 6, np.random.default_rng(0))
    return cell, u, A, step


@pytest.mark.parametrize("balance", [True, False])
def test_kf_enumeration_is_unbiased_with_constant_error(kf_setup, balance):
    cell, u, A, step = kf_setup
    samples, var = kfd.enumerate_kf_update(cell, u, A, step, balance=balance)
    target = kfd.kf_target(u, A, step)
    assert np.abs(samples.mean(axis=0) - target).max() < 1e-12 * np.abs(target).max()
    errors = np.sum((samples - target) ** 2, axis=(1, 2, 3))
    assert np.allclose(errors, var, rtol=1e-10) and np.ptp(errors) < 1e-12 * errors.max()
    if balance:
        assert errors[0] == pytest.approx(kf_step_variance(u, step.H @ A, step.xhat, step.d), rel=1e-12)


def test_kf_fold_and_step_errors_match_closed_form(kf_setup):
    _, u, A, step = kf_setup
    HA = step.H @ A
    for ratio in (0.3, kfd.kf_optimal_ratio(u, A, step), 5.0):
        errs = kfd.kf_step_errors(u, A, step, ratio, 1.0, kfd.SIGN_PATTERNS)
        assert np.allclose(errs, kf_step_variance(u, HA, step.xhat, step.d, ratio, 1.0), rtol=1e-10)
    best = kfd.kf_optimal_ratio(u, A, step)
    log_rho, v = ud.minimise_scalar(
        lambda lr: float(kf_step_variance(u, HA, step.xhat, step.d, np.exp(lr), 1.0)), -20, 20
    )
    assert np.exp(log_rho) == pytest.approx(best, rel=1e-5)
    assert v == pytest.approx(kf_step_variance(u, HA, step.xhat, step.d), rel=1e-10)
    with pytest.raises(ValueError, match="signs"):
        kfd.kf_step_errors(u, A, step, 1.0, 1.0, np.array([[1.0, 0.5]]))


def test_variance_increments_add_up():
    cell, xs = kr.random_network(4, 10, seed=0)
    inc = kfd.variance_increments(cell, xs, 400, np.random.default_rng(3))
    assert inc.n_samples == 400 and inc.total.shape == (400, 10) and inc.exact_norm2.shape == (10,)
    assert np.all(inc.total[:, 0] < 1e-20) and np.all(inc.step[:, 0] == 0)  # the first step is exact
    gap, se = inc.gap()
    assert np.all(np.abs(gap) <= 5 * se + 1e-10 * inc.total.mean(axis=0).max())
    G = _exact_run(cell, xs)
    assert inc.exact_norm2[-1] == pytest.approx(np.sum(G**2))


def test_kf_plot_draws(kf_setup):
    _, u, A, step = kf_setup
    ax = kfd.plot_step_variance(u, A, step)
    assert len(ax.lines) == 2
    plt.close("all")
