"""okcore.train.results: tables with bootstrap intervals and steps to a level, curves on a grid of processor time,
shared-trajectory runs read back."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from okcore.train.results import (  # noqa: E402
    Group,
    finals_at,
    interval_table,
    level_steps,
    level_table,
    load_shared,
    on_grid,
    plot_intervals,
)
from okcore.train.runs import copy_config, copy_record, run_copy, write_json  # noqa: E402


def fake_run(levels, seconds_per_step, seed=0, method="kf"):
    """A run record whose T_ follows ``levels`` at steps 100, 200, ..."""
    log = [{"step": 100 * (i + 1), "T": T, "cpu_s": 100 * (i + 1) * seconds_per_step} for i, T in enumerate(levels)]
    config = {"method": method, "rank": None, "truncation": None, "seed": seed}
    return {"config": config, "log": log, "final": {"T": levels[-1]}}


def test_interval_table_and_steps_to_level():
    g = Group("KF", [fake_run([1, 2, 3, 3], 0.01, 0), fake_run([1, 1, 2, 2], 0.01, 1), fake_run([2, 3, 4, 5], 0.02, 2)])
    table, ci = interval_table({"KF": g}, "T", rng=0)
    mean, lo, hi = ci["KF"]
    assert mean == pytest.approx(10 / 3) and 2 <= lo < mean < hi <= 5
    assert "KF" in table.splitlines()[1] and "3 2 5" in table
    steps = level_steps(g, [2, 3, 6])
    np.testing.assert_array_equal(steps, [[200, 300, np.inf], [300, np.inf, np.inf], [100, 200, np.inf]])
    np.testing.assert_allclose(level_steps(g, [3], x="cpu_s")[:, 0], [3.0, np.inf, 4.0])
    text = level_table({"KF": g}, [2, 3, 6])
    # T_ = 2: steps 100, 200, 300 -> median 0.2 (thousand), quartiles 0.15 and 0.25, 3 of 3 seeds
    assert "0.2 (0.1–0.2) 3/3" in text.replace("0.15", "0.1").replace("0.25", "0.2")
    assert "— (—–—) 0/3" in text and "2/3" in text
    np.testing.assert_array_equal(finals_at(g, "T", 250), [2, 1, 3])


def test_on_grid_and_the_plot_against_processor_time():
    g = Group("KF", [fake_run([1, 2, 3], 0.01, 0), fake_run([1, 3, 4], 0.02, 1)])
    # NaN before a run's first record and after its last
    np.testing.assert_array_equal(on_grid(g, "T", [1.0, 3.0, 5.0], x="cpu_s"), [[1, 3, np.nan], [np.nan, 1, 3]])
    fig, ax = plt.subplots()
    plot_intervals(ax, {"KF": g}, "T", x="cpu_s", points=11)
    (line,) = ax.get_lines()
    assert line.get_xdata().max() == pytest.approx(3.0)  # stops where the first seed ends
    assert line.get_label() == "KF (2 seeds)" and ax.get_xlabel().startswith("processor seconds")
    plt.close(fig)


def test_shared_runs_read_back(tmp_path):
    shadows = {"kf": ["kf", None, None], "t2": ["tbptt", None, 2]}
    for seed in (0, 1):
        c = copy_config(
            method="exact", seed=seed, steps=40, hidden=3, batch=2, log_every=20, shadows=shadows, shadow_every=4
        )
        write_json(tmp_path / f"exact-seed{seed}.json", copy_record(run_copy(c), c, sequences=4))
    shared = load_shared(tmp_path)
    assert list(shared.steps) == [20, 40] and shared.values["kf"]["cosine"].shape == (2, 2)
    assert np.isnan(shared.values["t2"]["rel_var"]).all() and np.isfinite(shared.values["kf"]["rel_var"]).all()
    assert shared.label("kf") == "KF" and shared.label("t2") == "TBPTT τ=2 sliding"
    with pytest.raises(ValueError, match="found none"):
        load_shared(tmp_path / "none")
