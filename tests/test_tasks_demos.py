"""Tests of okcore.tasks, okcore.demos and okcore.plotting (notebooks 00-02; their exercises: test_exercises_00_03)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from okcore import ExactRTRL, GatedCell, Readout, TanhCell, bptt, truncated_bptt  # noqa: E402
from okcore.demos import numerical_gradient  # noqa: E402
from okcore.demos.scaling import (  # noqa: E402
    loglog_slope,
    make_cell,
    measure_rtrl_memory,
    rtrl_memory_bytes,
    rtrl_update_flops,
    time_rtrl_update,
)
from okcore.demos.truncation import (  # noqa: E402
    delayed_recall_problem,
    gradient_by_lag,
    truncation_bias,
)
from okcore.plotting import plot_gradient_by_lag, plot_scaling, plot_states, plot_truncation_bias  # noqa: E402
from okcore.tasks import delayed_recall, delayed_recall_classes, one_hot  # noqa: E402

# ----------------------------------------------------------------------------------------------------------
# tasks


class TestDelayedRecall:
    def test_single_sequence(self, rng):
        xs, ys = delayed_recall(20, 5, 3, rng)
        assert xs.shape == (20, 3) and xs.dtype == np.float64
        assert ys.shape == (20,) and np.issubdtype(ys.dtype, np.integer)
        assert np.all(xs.sum(axis=1) == 1) and set(np.unique(xs)) <= {0.0, 1.0}
        symbols = xs.argmax(axis=1)
        assert np.all(ys[:5] == 3)  # blank = n_symbols
        assert np.array_equal(ys[5:], symbols[:-5])

    def test_batch(self, rng):
        xs, ys = delayed_recall(12, 4, 5, rng, batch=7)
        assert xs.shape == (12, 7, 5) and ys.shape == (12, 7)
        symbols = xs.argmax(axis=2)
        assert np.array_equal(ys[4:], symbols[:-4])
        assert np.all(ys[:4] == 5)
        # rows are independent draws, not copies
        assert not np.array_equal(symbols[:, 0], symbols[:, 1])

    def test_zero_delay_recalls_the_current_symbol(self, rng):
        xs, ys = delayed_recall(10, 0, 4, rng)
        assert np.array_equal(ys, xs.argmax(axis=1))

    def test_reproducible(self):
        a = delayed_recall(15, 3, 4, np.random.default_rng(7), batch=2)
        b = delayed_recall(15, 3, 4, np.random.default_rng(7), batch=2)
        assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))

    def test_symbols_are_roughly_uniform(self, rng):
        xs, _ = delayed_recall(4000, 1, 4, rng)
        freq = xs.mean(axis=0)
        assert np.allclose(freq, 0.25, atol=0.03)

    def test_classes(self):
        assert delayed_recall_classes(4) == 5

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"T": 0}, ValueError, "T"),
            ({"T": 5.0}, TypeError, "T"),
            ({"delay": 10}, ValueError, "delay"),
            ({"delay": -1}, ValueError, "delay"),
            ({"delay": True}, TypeError, "delay"),
            ({"n_symbols": 1}, ValueError, "n_symbols"),
            ({"n_symbols": 0}, ValueError, "n_symbols"),
            ({"rng": -1}, ValueError, "rng"),
            ({"rng": np.random.RandomState(0)}, TypeError, "rng"),
            ({"batch": 0}, ValueError, "batch"),
        ],
    )
    def test_input_checks(self, kwargs, error, match):
        args = {"T": 10, "delay": 2, "n_symbols": 3, "rng": np.random.default_rng(0)} | kwargs
        with pytest.raises(error, match=match):
            delayed_recall(**args)


def test_one_hot():
    assert np.array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.zeros((2, 3), dtype=int), 4).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="indices"):
        one_hot([3], 3)
    with pytest.raises(TypeError, match="indices"):
        one_hot([0.5], 3)


# ----------------------------------------------------------------------------------------------------------
# demos: numerical gradient, truncation


def test_numerical_gradient_of_a_quadratic(rng):
    A = rng.standard_normal((3, 3))
    X = rng.standard_normal((3, 2))
    X_before = X.copy()
    grad = numerical_gradient(lambda Y: float(np.sum(Y * (A @ Y))), X)
    assert np.allclose(grad, (A + A.T) @ X, rtol=0, atol=1e-8)
    assert np.array_equal(X, X_before)
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(np.sum, X, eps=0.0)


def _setup(cell_cls, rng, T=9, batch=None):
    cell = cell_cls(3, 4, rng)
    readout = Readout(4, delayed_recall_classes(3), rng)
    xs, ys = delayed_recall(T, 2, 3, rng, batch=batch)
    return cell, readout, xs, ys


@pytest.mark.parametrize("batch", [None, 3])
def test_gradient_by_lag_decomposes_truncated_bptt(cell_cls, rng, batch):
    cell, readout, xs, ys = _setup(cell_cls, rng, batch=batch)
    T = xs.shape[0]
    g = gradient_by_lag(cell, readout, xs, ys)
    assert g.shape == (T, cell.K, cell.k)
    _, g_full, _ = bptt(cell, readout, xs, ys)
    scale = np.linalg.norm(g_full)
    assert np.linalg.norm(g.sum(axis=0) - g_full) <= 1e-12 * scale
    for tau in range(1, T + 1):
        _, g_tau, _ = truncated_bptt(cell, readout, xs, ys, tau)
        assert np.linalg.norm(g[:tau].sum(axis=0) - g_tau) <= 1e-12 * scale


def test_gradient_by_lag_respects_resets(rng):
    cell, readout, xs, ys = _setup(GatedCell, rng, T=8, batch=2)
    resets = np.zeros((8, 2), dtype=bool)
    resets[4, 0] = True
    g = gradient_by_lag(cell, readout, xs, ys, resets=resets)
    _, g_full, _ = bptt(cell, readout, xs, ys, resets=resets)
    assert np.allclose(g.sum(axis=0), g_full, rtol=1e-12, atol=1e-14)
    _, g3, _ = truncated_bptt(cell, readout, xs, ys, 3, resets=resets)
    assert np.allclose(g[:3].sum(axis=0), g3, rtol=1e-12, atol=1e-14)


def test_truncation_bias(cell_cls, rng):
    cell, readout, xs, ys = _setup(cell_cls, rng)
    T = xs.shape[0]
    errors = truncation_bias(cell, readout, xs, ys, [1, 3, T, T + 5])
    assert errors.shape == (4,)
    assert errors[0] > 1e-3 and errors[1] > 0
    assert errors[2] < 1e-13 and errors[3] < 1e-13
    # the error is the tail of the lag decomposition
    g = gradient_by_lag(cell, readout, xs, ys)
    tail = np.linalg.norm(g[3:].sum(axis=0)) / np.linalg.norm(g.sum(axis=0))
    assert errors[1] == pytest.approx(tail, rel=1e-10)


def test_truncation_bias_input_checks(rng):
    cell, readout, xs, ys = _setup(TanhCell, rng)
    with pytest.raises(ValueError, match="truncations"):
        truncation_bias(cell, readout, xs, ys, [])
    with pytest.raises(TypeError, match="truncations"):
        truncation_bias(cell, readout, xs, ys, [1.5])
    with pytest.raises(ValueError, match="truncations"):
        truncation_bias(cell, readout, xs, ys, [0])


def test_delayed_recall_problem_shows_the_lost_dependency():
    """The claims notebook 01 makes about its problem, for a few seeds."""
    for seed in range(3):
        p = delayed_recall_problem(seed=seed)
        a = delayed_recall_problem(seed=seed)
        assert np.array_equal(p.cell.W, a.cell.W) and np.array_equal(p.xs, a.xs)
        n = p.cell.n_hidden
        # the forget bias is added to the z_f columns of the bias row only
        forget = 1.0 / (1.0 + np.exp(-p.cell.W[-1, n:]))  # the gates at zero input and state
        assert 0.8 < forget.mean() < 0.95
        errors = truncation_bias(p.cell, p.readout, p.xs, p.ys, np.arange(1, p.T + 1))
        assert np.all(errors[: p.delay] > 0.3) and errors[-1] < 1e-12
        g = gradient_by_lag(p.cell, p.readout, p.xs, p.ys)
        rows = np.linalg.norm(g[:, : p.cell.n_in], axis=(1, 2))
        assert rows[p.delay] > 1.5 * max(rows[p.delay - 1], rows[p.delay + 1])


# ----------------------------------------------------------------------------------------------------------
# demos: scaling


@pytest.mark.parametrize("kind", ["tanh", "gated"])
@pytest.mark.parametrize("batch", [1, 3])
def test_byte_and_flop_counts(kind, batch):
    cell = make_cell(5, 6, kind, np.random.default_rng(0))
    est = ExactRTRL(cell, batch=batch)
    assert rtrl_memory_bytes(5, 6, kind, batch=batch) == est.influence().nbytes
    K, k = cell.K, cell.k
    assert rtrl_update_flops(5, 6, kind, batch=batch) == batch * (2 * 36 * K * k + K * k)


def test_count_slopes_tend_to_three_and_four():
    big = [2000, 4000, 8000]
    assert loglog_slope(big, [rtrl_memory_bytes(4, n) for n in big]) == pytest.approx(3, abs=0.01)
    assert loglog_slope(big, [rtrl_update_flops(4, n) for n in big]) == pytest.approx(4, abs=0.01)


def test_loglog_slope():
    x = np.array([2.0, 5.0, 11.0, 40.0])
    assert loglog_slope(x, 3.5 * x**2.7) == pytest.approx(2.7, rel=1e-12)
    with pytest.raises(ValueError, match="two points"):
        loglog_slope([1.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        loglog_slope([1.0, 2.0], [1.0, 2.0, 3.0])


def test_scaling_input_checks():
    with pytest.raises(ValueError, match="cell"):
        rtrl_memory_bytes(4, 8, "lstm")
    with pytest.raises(ValueError, match="n_hidden"):
        rtrl_update_flops(4, 0)
    with pytest.raises(TypeError, match="batch"):
        rtrl_memory_bytes(4, 8, batch=1.0)


def test_measured_memory_is_two_buffers():
    for n in (8, 24):
        G = rtrl_memory_bytes(3, n, "gated", batch=2)
        used = measure_rtrl_memory(3, n, "gated", batch=2)
        assert 2 * G <= used <= 2 * G + 64 * 1024


def test_time_rtrl_update_runs():
    times = time_rtrl_update([4, 8], n_in=2, cell="tanh", repeats=2, warmup=1)
    assert times.shape == (2,) and np.all(np.isfinite(times)) and np.all(times > 0)


# ----------------------------------------------------------------------------------------------------------
# plotting


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def test_plot_functions_draw_on_given_axes(close_figures):
    fig, axes = plt.subplots(2, 2)
    assert plot_states(np.zeros((5, 3)), ax=axes[0, 0], title="h") is axes[0, 0]
    assert plot_truncation_bias([1, 2, 3], [0.5, 0.1, 0.0], delay=1, ax=axes[0, 1]) is axes[0, 1]
    assert plot_gradient_by_lag([3.0, 2.0, 1.0], delay=1, ax=axes[1, 0]) is axes[1, 0]
    assert plot_scaling([8, 16, 32], [1.0, 8.0, 64.0], slopes=(3, 4), ax=axes[1, 1], label="x") is axes[1, 1]
    assert len(axes[1, 1].get_lines()) == 3
    assert len(fig.axes) == 5  # four panels and the colorbar


def test_plot_functions_make_their_own_figure(close_figures):
    for ax in (
        plot_states(np.zeros((5, 3))),
        plot_truncation_bias([1, 2], [0.5, 0.1]),
        plot_gradient_by_lag([1.0, 0.5]),
        plot_scaling([1, 2], [1.0, 2.0]),
    ):
        assert isinstance(ax, Axes)
    assert len(plt.get_fignums()) == 4
    with pytest.raises(ValueError, match="hs"):
        plot_states(np.zeros(4))
