"""The noise explorer: its computation (okcore.explorer), the dashboard (okcore.widgets) and notebook 09's exercises."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from okcore import explorer
from okcore.approx import KFRTRL, OK, UORO, KFAverage
from okcore.cells import GatedCell, TanhCell
from okcore.noise import measure_noise
from okcore.widgets import (
    DEFAULTS,
    NoiseExplorer,
    compute_result,
    draw_noise,
    draw_size,
    format_readout,
    format_value,
    noise_explorer,
    sweep_ranks,
)

# A small setting that runs in a few milliseconds per estimator.
SMALL = {"cell_type": "gated", "n_hidden": 8, "T": 12, "n_samples": 16, "seed": 3}


@pytest.fixture(autouse=True)
def _fresh_cache():
    explorer.clear_cache()
    yield
    explorer.clear_cache()


# --- the problem ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell_type,cls", [("gated", GatedCell), ("tanh", TanhCell)])
def test_make_problem_is_seeded_one_hot(cell_type, cls):
    cell, xs = explorer.make_problem(cell_type, 8, 20, seed=5)
    assert isinstance(cell, cls) and cell.n_hidden == 8 and cell.n_in == explorer.N_IN
    assert xs.shape == (20, explorer.N_IN)
    assert np.array_equal(xs.sum(axis=1), np.ones(20)) and set(np.unique(xs)) == {0.0, 1.0}
    cell2, xs2 = explorer.make_problem(cell_type, 8, 20, seed=5)
    assert np.array_equal(cell.W, cell2.W) and np.array_equal(xs, xs2)
    cell3, _ = explorer.make_problem(cell_type, 8, 20, seed=6)
    assert not np.array_equal(cell.W, cell3.W)


# --- the curves -------------------------------------------------------------------------------------------------


def test_noise_curves_shapes_order_and_values():
    curves = explorer.noise_curves(rank=2, estimators=("OK", "UORO", "KF-avg", "KF"), **SMALL)
    assert list(curves) == list(explorer.ESTIMATORS)  # canonical order whatever the order asked for
    for curve in curves.values():
        assert curve.shape == (SMALL["T"],) and curve.dtype == np.float64
        assert np.all(np.isfinite(curve)) and np.all(curve >= 0)
        assert not curve.flags.writeable  # cached arrays are shared: read-only
    # every estimator is exact at t = 1 (G_1 = x̂_1 ⊗ D_1 is one Kronecker product), up to rounding
    for name in ("KF", "KF-avg", "OK"):
        assert curves[name][0] < 1e-12


def test_curve_is_measure_noise_with_its_own_generator():
    """The documented recipe: make_problem(seed), then measure_noise with default_rng([seed, family, rank])."""
    cell, xs = explorer.make_problem(SMALL["cell_type"], SMALL["n_hidden"], SMALL["T"], SMALL["seed"])
    seed, B = SMALL["seed"], SMALL["n_samples"]
    cases = [
        ("UORO", 1, UORO, 0),
        ("KF", 1, KFRTRL, 1),
        ("KF-avg", 3, (KFAverage, {"rank": 3}), 1),
        ("OK", 3, (OK, {"rank": 3}), 2),
    ]
    for name, rank, spec, family in cases:
        direct = measure_noise(cell, xs, {name: spec}, B, np.random.default_rng([seed, family, rank]))
        got = explorer.noise_curve(name, rank, **SMALL)
        np.testing.assert_allclose(got, direct.relative_variance[name], rtol=1e-12, atol=0)


def test_a_curve_does_not_depend_on_the_other_estimators():
    alone = explorer.noise_curves(rank=3, estimators=["OK"], **SMALL)["OK"].copy()
    explorer.clear_cache()
    together = explorer.noise_curves(rank=3, **SMALL)["OK"]
    np.testing.assert_allclose(alone, together, rtol=1e-12, atol=0)


def test_kf_avg_with_one_chain_is_kf():
    kf = explorer.noise_curve("KF", **SMALL)
    assert explorer.noise_curve("KF-avg", 1, **SMALL) is kf
    assert explorer.noise_curve("UORO", 5, **SMALL) is explorer.noise_curve("UORO", 1, **SMALL)  # rank ignored


def test_ok_is_exact_while_the_sum_has_at_most_r_terms():
    """G_t is a sum of t Kronecker terms, so OK with r >= t keeps it exactly: only rounding is left."""
    curve = explorer.noise_curve("OK", 6, **SMALL)
    assert np.all(curve[:6] < 1e-12)
    assert curve[-1] > 1e-12  # afterwards it must mix


def test_different_seeds_give_different_curves():
    a = explorer.noise_curve("KF", **SMALL)
    b = explorer.noise_curve("KF", **{**SMALL, "seed": SMALL["seed"] + 1})
    assert not np.allclose(a, b)


def test_ordering_of_the_estimators():
    """OK(r) < KF-avg(r) < KF < UORO, averaged over t (n = 16, 64 samples; the gaps are factors of 2 to 20)."""
    curves = explorer.noise_curves("gated", 16, 30, rank=2, n_samples=64, seed=0)
    mean = {name: float(np.mean(c)) for name, c in curves.items()}
    assert mean["OK"] < mean["KF-avg"] < mean["KF"] < mean["UORO"]


def test_noise_vs_rank_is_the_last_step_of_the_curves():
    sweep = explorer.noise_vs_rank(ranks=(4, 1, 2, 2), statistic="final", **SMALL)
    assert list(sweep) == ["ranks", *explorer.ESTIMATORS]
    assert sweep["ranks"].tolist() == [1, 2, 4]
    for name in explorer.RANKED:
        assert sweep[name].shape == (3,)
        for i, r in enumerate(sweep["ranks"]):
            assert sweep[name][i] == explorer.noise_curve(name, int(r), **SMALL)[-1]
    for name in ("UORO", "KF"):
        assert sweep[name].shape == ()
        assert float(sweep[name]) == explorer.noise_curve(name, **SMALL)[-1]
    assert sweep["KF-avg"][0] == float(sweep["KF"])  # KF-avg(1) is KF


def test_noise_vs_rank_mean_statistic_is_the_default():
    sweep = explorer.noise_vs_rank(ranks=(1, 3), **SMALL)
    assert sweep["OK"][1] == float(np.mean(explorer.noise_curve("OK", 3, **SMALL)))
    assert float(sweep["UORO"]) == float(np.mean(explorer.noise_curve("UORO", **SMALL)))
    with pytest.raises(ValueError, match="statistic: expected 'final' or 'mean'"):
        explorer.noise_vs_rank(statistic="median", **SMALL)


def test_noise_vs_size():
    small = {k: v for k, v in SMALL.items() if k != "n_hidden"}
    by_size = explorer.noise_vs_size(sizes=(8, 4, 8), rank=2, estimators=("KF", "OK"), **small)
    assert list(by_size) == ["sizes", "KF", "OK"] and by_size["sizes"].tolist() == [4, 8]
    for i, n in enumerate((4, 8)):
        assert by_size["OK"][i] == float(np.mean(explorer.noise_curve("OK", 2, n_hidden=n, **small)))
    final = explorer.noise_vs_size(sizes=(4,), estimators=("KF",), statistic="final", **small)
    assert final["KF"][0] == explorer.noise_curve("KF", n_hidden=4, **small)[-1]
    with pytest.raises(ValueError, match="at least one hidden size"):
        explorer.noise_vs_size(sizes=(), **small)
    with pytest.raises(ValueError, match="sizes"):
        explorer.noise_vs_size(sizes=(0, 8), **small)


def test_uoro_starts_at_n_minus_one():
    """At t = 1 UORO's error is (ννᵀ − I)F; the rows of F are orthogonal, so ‖error‖² = (n − 1)‖F‖² exactly."""
    for cell_type in ("gated", "tanh"):
        for n in (4, 8):
            curve = explorer.noise_curve("UORO", cell_type=cell_type, n_hidden=n, T=2, n_samples=8, seed=1)
            assert abs(curve[0] - (n - 1)) < 1e-12 * n


def test_noise_vs_rank_only_for_chosen_estimators():
    sweep = explorer.noise_vs_rank(ranks=(1, 2), estimators=("OK",), **SMALL)
    assert list(sweep) == ["ranks", "OK"]


def test_cache_hits_and_runs_needed():
    todo = explorer.runs_needed(rank=3, ranks=(1, 2), **SMALL)
    assert todo == [("UORO", 1), ("KF", 1), ("OK", 1), ("KF-avg", 2), ("OK", 2), ("KF-avg", 3), ("OK", 3)]
    assert explorer.runs_needed(rank=3, ranks=None, estimators=["OK"], **SMALL) == [("OK", 3)]
    first = explorer.noise_curves(rank=3, **SMALL)
    info = explorer.cache_info()
    assert info["misses"] == 4 and info["size"] == 4
    again = explorer.noise_curves(rank=3, **SMALL)
    assert all(again[name] is first[name] for name in first)
    assert explorer.cache_info()["hits"] == 4
    assert explorer.runs_needed(rank=3, ranks=(1, 2), **SMALL) == [("OK", 1), ("KF-avg", 2), ("OK", 2)]
    explorer.clear_cache()
    assert explorer.cache_info() == {"hits": 0, "misses": 0, "size": 0, "maxsize": info["maxsize"]}
    fresh = explorer.noise_curves(rank=3, **SMALL)
    for name in first:
        assert fresh[name] is not first[name]
        np.testing.assert_allclose(fresh[name], first[name], rtol=1e-12, atol=0)


def test_the_cache_is_bounded():
    cache = explorer._LRU(2)
    for key in "abc":
        cache.get((key,), lambda key=key: np.array([ord(key)]))
    assert len(cache) == 2 and ("a",) not in cache and ("c",) in cache


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"estimators": ("OK", "SnAp")}, ValueError, "estimator: expected one of 'UORO', 'KF', 'KF-avg', 'OK'"),
        ({"estimators": ()}, ValueError, "at least one"),
        ({"estimators": ("OK", "OK")}, ValueError, "at most once"),
        ({"estimators": 3}, TypeError, "sequence of names"),
        ({"cell_type": "lstm"}, ValueError, "cell_type: expected one of 'gated', 'tanh'"),
        ({"rank": 0}, ValueError, "rank: expected an integer >= 1"),
        ({"rank": 2.0}, TypeError, "rank"),
        ({"n_hidden": 0}, ValueError, "n_hidden"),
        ({"T": True}, TypeError, "T: expected an integer"),
        ({"n_samples": -1}, ValueError, "n_samples"),
        ({"seed": -1}, ValueError, "seed: expected an integer >= 0"),
    ],
)
def test_clear_errors(kwargs, error, match):
    args = {**SMALL, "rank": 2, **kwargs}
    with pytest.raises(error, match=match):
        explorer.noise_curves(**args)


def test_clear_errors_single_curve_and_sweep():
    with pytest.raises(ValueError, match="estimator: expected one of"):
        explorer.noise_curve("kf", **SMALL)
    with pytest.raises(ValueError, match="at least one rank"):
        explorer.noise_vs_rank(ranks=(), **SMALL)
    with pytest.raises(ValueError, match="ranks"):
        explorer.noise_vs_rank(ranks=(0, 1), **SMALL)
    with pytest.raises(TypeError, match="ranks"):
        explorer.noise_vs_rank(ranks="12", **SMALL)


# --- the dashboard's plain functions ----------------------------------------------------------------------------


def test_compute_result_matches_the_explorer_and_reports_progress():
    calls = []
    params = {**SMALL, "rank": 3}
    result = compute_result(params, progress=lambda done, total, label: calls.append((done, total, label)))
    assert result["params"] == {**DEFAULTS, **params, "estimators": explorer.ESTIMATORS}
    want = explorer.noise_curves(rank=3, **SMALL)
    assert all(result["curves"][k] is want[k] for k in want)
    sweep = explorer.noise_vs_rank(ranks=(1, 2, 3, 4, 8), statistic="mean", **SMALL)
    assert all(np.array_equal(result["sweep"][k], sweep[k]) for k in sweep)
    assert result["final"] == {k: float(v[-1]) for k, v in want.items()}
    assert result["mean"] == {k: float(np.mean(v)) for k, v in want.items()}
    # the rank plot and the readout's first column show the same statistic: at the current rank they agree
    i = list(sweep["ranks"]).index(3)
    for name in ("KF-avg", "OK"):
        assert result["sweep"][name][i] == result["mean"][name]
    for name in ("UORO", "KF"):
        assert float(result["sweep"][name]) == result["mean"][name]
    total = len(calls) - 1
    assert [c[:2] for c in calls] == [(i, total) for i in range(total)] + [(total, total)]
    assert calls[0][2] == "UORO" and calls[-1][2] == "done" and ("OK, r = 8" in [c[2] for c in calls])
    calls.clear()
    compute_result(params, progress=lambda *a: calls.append(a))
    assert calls == [(0, 0, "done")]  # everything cached now


def test_compute_result_without_sweep_and_errors():
    result = compute_result({**SMALL, "sweep": False, "estimators": ["KF"]})
    assert result["sweep"] is None and list(result["curves"]) == ["KF"]
    with pytest.raises(TypeError, match="unknown parameter"):
        compute_result({"hidden": 8})
    with pytest.raises(TypeError, match="sweep"):
        compute_result({**SMALL, "sweep": "yes"})


def test_sweep_ranks():
    assert sweep_ranks(2) == (1, 2, 4, 8)
    assert sweep_ranks(3) == (1, 2, 3, 4, 8)


def test_format_value():
    assert format_value(32.14159) == "32.1"
    assert format_value(0.000123456) == "0.000123"
    assert format_value(3e-16) == "< 1e-12"
    assert format_value(0.0) == "< 1e-12"


def test_readout_and_figure():
    result = compute_result({**SMALL, "rank": 4})
    text = format_readout(result)
    for curve in result["curves"].values():
        assert format_value(float(curve[-1])) in text and format_value(float(np.mean(curve))) in text
    assert "OK (r = 4)" in text and "KF-avg (r = 4)" in text and "UORO (r" not in text
    assert text.index("mean over t") < text.index("at t = T")  # the plotted statistic comes first
    fig, ax = plt.subplots()
    draw_size(ax, explorer.noise_vs_size(sizes=(4, 8), estimators=("UORO", "KF"), T=5, n_samples=4))
    assert [line.get_label() for line in ax.get_lines()] == ["UORO", "KF"] and ax.get_xscale() == "log"
    plt.close(fig)
    fig = draw_noise(result)
    left, right = fig.axes
    assert left.get_yscale() == "log" and right.get_yscale() == "log"
    assert len(left.get_lines()) == 4
    labels = [line.get_label() for line in right.get_lines()]
    assert labels == ["UORO (rank one)", "KF (rank one)", "KF-avg", "OK", "r = 4"]


# --- the dashboard ----------------------------------------------------------------------------------------------


def test_dashboard_follows_its_controls():
    ex = noise_explorer(**SMALL, rank=2)
    assert isinstance(ex, NoiseExplorer)
    assert set(ex.controls) == set(DEFAULTS)
    assert ex.params == {**DEFAULTS, **SMALL, "rank": 2}
    assert ex.readout.value == format_readout(ex.result)
    assert ex.controls["rank"].continuous_update is False
    before = ex.readout.value
    ex.controls["rank"].value = 4
    assert ex.result["params"]["rank"] == 4
    want = explorer.noise_curves(rank=4, **SMALL)
    assert all(ex.result["curves"][k] is want[k] for k in want)
    assert ex.readout.value == format_readout(ex.result) != before
    assert ex.status.value.startswith("updated in")
    ex.controls["estimators"].value = ("OK",)
    assert list(ex.result["curves"]) == ["OK"]
    ex.controls["estimators"].value = ()
    assert ex.status.value == "choose at least one estimator" and list(ex.result["curves"]) == ["OK"]
    ex.set(estimators=["UORO", "OK"], rank=3, seed=4)
    assert ex.result["params"]["seed"] == 4 and list(ex.result["curves"]) == ["UORO", "OK"]
    ex.reset()
    assert ex.params == {**DEFAULTS, **SMALL, "rank": 2}
    assert ex.readout.value == before


def test_dashboard_errors():
    with pytest.raises(TypeError, match="unknown parameter"):
        noise_explorer(size=8)
    with pytest.raises(ValueError, match="n_hidden"):
        noise_explorer(**{**SMALL, "n_hidden": 100})
    ex = noise_explorer(**SMALL)
    with pytest.raises(TypeError, match="unknown control"):
        ex.set(colour="red")
