"""The biased and controlled estimators in training, run configs and the CLI; the noise experiment set; the
bias/variance split of okcore.noise; the exercises of notebook 13."""

from __future__ import annotations

import json

import numpy as np
import pytest

import okcore.experiments.noise as noise_set
from okcore import RFLO, GatedCell, NoisyExact, SnAp1
from okcore.bptt import unroll
from okcore.demos.truncation import delayed_recall_problem, gradient_by_lag
from okcore.exercises import check, solution
from okcore.exercises.nb13 import half_level
from okcore.experiments import SETS
from okcore.experiments.runner import run_one
from okcore.noise import biased_estimators, diagonal_gradient_by_lag, measure_noise, standard_estimators
from okcore.tasks import CopyTask
from okcore.train import train
from okcore.train.cli import main
from okcore.train.loop import METHODS, RANKED, method_name
from okcore.train.results import data_path
from okcore.train.runs import copy_config, load_run, run_copy, run_record, write_json

KW = {"steps": 40, "hidden": 5, "log_every": 20}


@pytest.mark.parametrize(
    "method,kw",
    [
        ("truncated-ok", {"rank": 2}),
        ("snap1", {}),
        ("rflo", {}),
        ("noisy-exact", {"estimator_options": {"rel_var": 0.5, "noise": "carried"}}),
    ],
)
def test_new_methods_train_by_name_and_measure_their_error(method, kw):
    result = train(CopyTask(2, rng=0), method, cosine_every=10, **KW, **kw)
    assert result.steps_done == 40 and method in METHODS
    assert all(np.isfinite(r["rel_var"]) and r["rel_var"] >= 0 for r in result.history.agreement)
    if method == "noisy-exact":
        # the estimator tracks the same exact G as the one run alongside, so ‖G̃ − G‖² / ‖G‖² is rel_var exactly
        assert all(r["rel_var"] == pytest.approx(0.5, rel=1e-9) for r in result.history.agreement)


def test_options_are_checked():
    assert "truncated-ok" in RANKED and "snap1" not in RANKED
    with pytest.raises(ValueError, match="estimator_options: method 'noisy-exact' needs {'rel_var': v}"):
        train(CopyTask(2, rng=0), "noisy-exact", **KW)
    with pytest.raises(TypeError, match="estimator_options: {'leak': 0.5} does not fit method 'snap1'"):
        train(CopyTask(2, rng=0), "snap1", estimator_options={"leak": 0.5}, **KW)
    with pytest.raises(ValueError, match="estimator_options: 'tbptt' has no estimator"):
        train(CopyTask(2, rng=0), "tbptt", truncation=3, estimator_options={"rel_var": 1}, **KW)
    with pytest.raises(ValueError, match="estimator_options: a factory builds its own estimator"):
        train(CopyTask(2, rng=0), lambda c, b, r: SnAp1(c, b), estimator_options={"x": 1}, **KW)
    with pytest.raises(TypeError, match="estimator_options: expected a dict"):
        train(CopyTask(2, rng=0), "rflo", estimator_options=[0.5], **KW)
    with pytest.raises(ValueError, match="rank: method 'truncated-ok' needs a rank"):
        copy_config(method="truncated-ok")


def test_options_travel_through_run_configs_and_a_factory_names_its_estimator():
    config = copy_config(method="rflo", estimator_options={"leak": 0.5}, steps=20, hidden=4, batch=2, log_every=10)
    result = run_copy(config)
    assert result.estimator.leak == 0.5
    assert run_record(result, config)["config"]["estimator_options"] == {"leak": 0.5}

    def controlled(cell, batch, rng):
        return NoisyExact(cell, 1.0, batch, rng=rng)

    assert method_name(controlled) == "controlled"
    assert isinstance(train(CopyTask(2, rng=0), controlled, **KW).estimator, NoisyExact)


def test_cli_knows_the_biased_methods(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["copy", "--method", "snap1", "--steps", "20", "--hidden", "4", "--batch", "2", "--out", str(out)]) == 0
    assert load_run(out)["config"]["method"] == "snap1"
    args = ["copy", "--method", "truncated-ok", "--rank", "2", "--steps", "20", "--hidden", "4", "--batch", "2"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["copy", "--method", "truncated-ok", "--out", str(out), "--quiet"]) == 2
    assert "--rank: method 'truncated-ok' needs a rank" in capsys.readouterr().err


# --- the experiment set ------------------------------------------------------------------------------------------


def test_the_set_lists_every_run_once_with_equal_settings():
    runs = SETS["noise"]()
    names = [name for name, _ in runs]
    assert len(names) == len(set(names)) and names[0] == "timing.json"
    seeds = noise_set.NOISE_SEEDS
    per_seed = len(noise_set.NOISE_METHODS) + len(noise_set.FRESH_LEVELS) + len(noise_set.CARRIED_LEVELS)
    per_seed += len(noise_set.BIASES)
    assert len(runs) == 1 + len(seeds) * per_seed and len(seeds) >= 5
    levels = np.log10(noise_set.FRESH_LEVELS)
    assert levels.max() - levels.min() >= 4  # at least four decades
    for _, config in runs[1:]:
        assert {k: config[k] for k in noise_set.NOISE_SETTINGS} == noise_set.NOISE_SETTINGS
        probe = config["method"] == "noisy-exact" and config["seed"] == noise_set.PROBE_SEED
        measured = config["method"] not in ("noisy-exact", "exact", "tbptt")
        assert (config["cosine_every"] > 0) == (probe or measured)


def test_a_small_regeneration_writes_files_the_reader_sorts(tmp_path, monkeypatch):
    """Every run of seeds 0 and 1 and the timing, shortened to 60 steps, run through the set's runner and read back."""
    monkeypatch.setattr(noise_set, "TIMING_STEPS", 20)
    monkeypatch.setattr(noise_set, "TIMING_REPEATS", 1)
    small = {"hidden": 4, "batch": 2, "steps": 60, "log_every": 20}
    for name, config in SETS["noise"]():
        if config["task"] == "copy" and config["seed"] not in (0, 1):
            continue
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        run_one(str(path), {**config, **small})
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert set(timing["seconds_per_step"]) == {key for key, *_ in noise_set.timed_methods()}
    monkeypatch.setattr(noise_set, "NOISE_SETTINGS", small)
    runs = noise_set.load_noise_runs(tmp_path)
    assert sorted(runs.fresh) == sorted(noise_set.FRESH_LEVELS)
    assert sorted(runs.carried) == sorted(noise_set.CARRIED_LEVELS) and sorted(runs.bias) == sorted(noise_set.BIASES)
    assert {"exact", "ok-r2", "snap1", "rflo", "truncated-ok-r4", "tbptt-t4"} <= set(runs.methods)
    assert [r["config"]["seed"] for r in runs.methods["exact"]] == [0, 1]
    assert runs.seconds_per_step("snap1") > 0
    assert noise_set.training_rel_var(runs.methods["ok-r2"][0]).size == 1  # compared at step 50 of 60
    assert noise_set.training_rel_var(runs.methods["exact"][0]).size == 0
    with pytest.raises(ValueError, match="expected the runs of the noise set"):
        noise_set.load_noise_runs(tmp_path / "nothing")


def test_readings():
    run = {"log": [{"step": 500, "T": 1}, {"step": 1000, "T": 2}, {"step": 1500, "T": 4}]}
    assert noise_set.T_at_step(run, 1499) == 2 and noise_set.T_at_step(run, 100) == 1
    assert noise_set.T_at_step(run, 1e9) == 4


# --- okcore.noise: bias and variance ----------------------------------------------------------------------------


def test_split_of_biased_and_unbiased_estimators():
    """Deterministic estimators: one sample, all bias. Unbiased ones: bias² small against the variance (within
    what N samples can resolve: the corrected bias² is zero in expectation; its noise is about var·√(2/N)/N)."""
    rng = np.random.default_rng(0)
    cell = GatedCell(3, 6, rng, scale=0.5)
    xs = np.eye(3)[rng.integers(0, 3, size=20)]
    biased = measure_noise(cell, xs, biased_estimators((2,)), 1, rng)
    for name in biased.relative_variance:
        bias2, var = biased.split(name)
        np.testing.assert_array_equal(var, 0.0)
        np.testing.assert_array_equal(bias2, biased.relative_variance[name])
        assert bias2[-1] > 1e-4
    specs = {k: v for k, v in standard_estimators((2,)).items() if k in ("KF", "OK r=2")}
    unbiased = measure_noise(cell, xs, specs, 400, rng)
    for name in specs:
        bias2, var = unbiased.split(name)
        # unclipped, bias² + variance is the mean squared error
        mse = unbiased.relative_variance[name]
        np.testing.assert_allclose(bias2, np.maximum(mse - var, 0.0), rtol=1e-12, atol=1e-15)
        assert np.all(bias2 <= 10 * var / 400 + 1e-12)
    with pytest.raises(ValueError, match="name: expected one of"):
        unbiased.split("UORO")


# --- exercises of notebook 13 -----------------------------------------------------------------------------------


def _verdict(key, answer, capsys):
    capsys.readouterr()
    ok = check(key, answer)
    return ok, capsys.readouterr().out


def test_13_1_reference_and_typical_mistakes(capsys):
    ok, out = _verdict("13.1", solution("13.1"), capsys)
    assert ok and "correct" in out
    ref = solution("13.1")

    def undecayed(J, xhat, H, D):
        return ref(J, xhat, np.eye(H.shape[0]), D)

    def float32(J, xhat, H, D):
        return ref(J, xhat, H, D).astype(np.float32)

    def repeated(J, xhat, H, D):
        n, k = D.shape
        return np.repeat(np.diagonal(H), k // n) * J + (ref(J, xhat, H, D) - np.diagonal(H)[np.arange(k) % n] * J)

    def row_sums(J, xhat, H, D):
        k = D.shape[1]
        return ref(J, xhat, H, D) + (H.sum(axis=1) - np.diagonal(H))[np.arange(k) % H.shape[0]] * J

    def no_immediate(J, xhat, H, D):
        return ref(J, xhat, H, np.zeros_like(D))

    for answer, phrase in [
        (undecayed, "carried over unchanged"),
        (float32, "float32"),
        (repeated, "tiled"),
        (row_sums, "diagonal entry H[a, a] alone"),
        (no_immediate, "add the immediate influence"),
        (lambda J, xhat, H, D: J[1:], "Shape"),
        (lambda J, xhat, H, D: None, "returns None"),
        (3, "Give a function"),
    ]:
        ok, out = _verdict("13.1", answer, capsys)
        assert not ok and phrase in out, (phrase, out)


def test_13_2_half_level_and_the_check(tmp_path, monkeypatch, capsys):
    assert half_level([0.1, 1, 10, 100], [8, 8, 6, 2], 8.0) == pytest.approx(10 ** (1 + 2 / 4))
    assert half_level([0.1, 1], [8, 7], 8.0) == float("inf")
    assert half_level([0.1, 1], [3, 2], 8.0) == 0.1
    # a cached set in miniature: exact reaches 8, fresh noise halves it between v = 10 and v = 100
    folder = tmp_path / "noise"
    for sub in ("methods", "dose"):
        (folder / sub).mkdir(parents=True)
    settings = dict(noise_set.NOISE_SETTINGS)

    def write(path, config, T):
        record = {"config": {**settings, **config}, "log": [{"step": settings["steps"], "T": T}], "final": {"T": T}}
        path.write_text(json.dumps(record))

    for seed in range(2):
        write(folder / "methods" / f"exact-seed{seed}.json", {"method": "exact", "seed": seed}, 8)
        for v, T in [(1.0, 8), (10.0, 6), (100.0, 2)]:
            opts = {"rel_var": v, "noise": "fresh"}
            write(
                folder / "dose" / noise_set.dose_name(opts, seed),
                {"method": "noisy-exact", "seed": seed, "estimator_options": opts},
                T,
            )
    monkeypatch.setenv("OKCORE_DATA", str(tmp_path))
    v_half = 10 ** (1 + 2 / 4)
    assert solution("13.2") == pytest.approx(v_half)
    assert _verdict("13.2", 30.0, capsys)[0]
    ok, out = _verdict("13.2", 0.5, capsys)
    assert not ok and "Too pessimistic" in out and "v ≈ 31.6" in out
    ok, out = _verdict("13.2", 5000, capsys)
    assert not ok and "Too optimistic" in out
    assert not _verdict("13.2", "many", capsys)[0] and not _verdict("13.2", -1, capsys)[0]


@pytest.mark.parametrize("decay,cls", [("snap1", SnAp1), ("rflo", RFLO)])
def test_diagonal_gradient_by_lag_adds_up_to_the_online_gradient(decay, cls):
    """Summed over lags it is the estimator's own gradient Σ_t δ_t·G̃_t (W fixed), and lag 0 is exact."""
    prob = delayed_recall_problem(T=25, delay=5, n_hidden=6, seed=1)
    by_lag = diagonal_gradient_by_lag(prob.cell, prob.readout, prob.xs, prob.ys, decay)
    run = unroll(prob.cell, prob.readout, prob.xs, prob.ys)
    est, total = cls(prob.cell), np.zeros_like(prob.cell.W)
    for t, step in enumerate(run.steps):
        est.update(step)
        total += est.gradient(run.dL_dh[t][0])
    np.testing.assert_allclose(by_lag.sum(axis=0), total, rtol=1e-10, atol=1e-14 * np.abs(total).max())
    exact = gradient_by_lag(prob.cell, prob.readout, prob.xs, prob.ys)
    np.testing.assert_allclose(by_lag[0], exact[0], rtol=1e-12)
    assert np.linalg.norm(by_lag[5] - exact[5]) > 1e-6 * np.linalg.norm(exact[5])  # the bias: a lag-5 path differs
    with pytest.raises(ValueError, match="decay: expected 'snap1' or 'rflo'"):
        diagonal_gradient_by_lag(prob.cell, prob.readout, prob.xs, prob.ys, "exact")


def test_a_run_of_a_factory_is_written_under_its_name(tmp_path):
    """copy_config takes a factory as the method; the run file records the factory's name, and the rest of the
    config as given."""

    def my_estimator(cell, batch, rng):
        return SnAp1(cell, batch)

    config = copy_config(method=my_estimator, steps=20, hidden=4, batch=2, log_every=10)
    record = run_record(run_copy(config), config)
    path = tmp_path / "mine.json"
    write_json(path, record)
    loaded = load_run(path)
    assert loaded["config"]["method"] == "my_estimator" and loaded["config"]["steps"] == 20


# --- the cached set regenerates, and the readings notebook 13 makes of it --------------------------------------


@pytest.mark.parametrize("name", ["methods/snap1-seed0.json", "dose/noisy-exact-carried-v10-seed0.json"])
def test_the_start_of_a_cached_noise_run_regenerates(name):
    """The first 1000 steps of a cached run of the set (an estimator with exact RTRL alongside, and a controlled-noise
    run of the probe seed), rerun from its config, give the same log: losses, levels and the logged errors."""
    record = load_run(data_path("noise", name))
    config = {k: v for k, v in record["config"].items() if k not in ("okcore", "numpy")}
    config["steps"] = 1000
    fresh = run_record(run_copy(config), config)
    cached = [r for r in record["log"] if r["step"] <= 1000]
    assert [r["step"] for r in fresh["log"]] == [r["step"] for r in cached] == [500, 1000]
    assert [r["T"] for r in fresh["log"]] == [r["T"] for r in cached]
    for field in ("loss_bits", "rel_var", "grad_rel_err", "cosine"):
        np.testing.assert_allclose([r[field] for r in fresh["log"]], [r[field] for r in cached], rtol=1e-5, atol=2e-6)


def _run(finals_T, steps=(500, 1000), T_curve=None, rel_var=None):
    log = [{"step": s, "T": t} for s, t in zip(steps, T_curve or [1] * len(steps), strict=True)]
    if rel_var is not None:
        for rec, v in zip(log, rel_var, strict=True):
            rec["rel_var"] = v
    return {"log": log, "final": {"T": finals_T}}


def test_curve_readings():
    runs = [_run(3, T_curve=[1, 3], rel_var=[0.1, 0.3]), _run(5, T_curve=[2, 5], rel_var=[0.2, 0.0])]
    steps, T_mean = noise_set.mean_curve(runs)
    assert steps.tolist() == [500, 1000] and T_mean.tolist() == [1.5, 4.0]
    levels, err = noise_set.error_by_level(runs)
    assert levels.tolist() == [1, 2, 3] and np.allclose(err, [0.1, 0.2, 0.3])  # the record with 0 is skipped
    assert noise_set.training_mean(runs[0]) == pytest.approx(0.2)
    assert np.isnan(noise_set.training_mean(_run(1)))
    with pytest.raises(ValueError, match="same steps"):
        noise_set.mean_curve([runs[0], _run(1, steps=(400, 1000))])
    levels, T = [0.1, 1.0, 10.0], [8.0, 6.0, 2.0]
    assert noise_set.curve_at(1.0, levels, T, 9.0) == 6.0
    assert noise_set.curve_at(np.sqrt(10), levels, T, 9.0) == pytest.approx(4.0)  # halfway in log v
    assert noise_set.curve_at(0.01, levels, T, 9.0) == 9.0 and noise_set.curve_at(0.0, levels, T, 9.0) == 9.0
    assert noise_set.equivalent_rel_var(4.0, levels, T) == pytest.approx(np.sqrt(10))
    assert noise_set.equivalent_rel_var(7.0, levels, T) == pytest.approx(np.sqrt(0.1))
    with pytest.raises(ValueError, match="does not rise"):
        noise_set.equivalent_rel_var(4.0, levels, [8.0, 9.0, 2.0])


def test_distance_to_curve():
    levels = [0.1, 1.0, 10.0]
    per_level = np.array([[8, 8, 8, 8], [6, 6, 6, 6], [2, 2, 2, 2]], dtype=float)
    zero = np.array([9.0, 9.0, 9.0])
    # no spread anywhere: the interval is the point
    assert noise_set.distance_to_curve([5, 5, 5], 1.0, levels, per_level, zero) == pytest.approx((-1.0, -1.0, -1.0))
    # spread in the method's seeds only: the interval is the bootstrap interval of its mean, shifted by the curve
    values = np.array([4.0, 5.0, 6.0, 7.0, 8.0])
    d = noise_set.distance_to_curve(values, 1.0, levels, per_level, zero, rng=1)
    assert d[0] == pytest.approx(0.0) and d[1] < 0 < d[2]
    g = np.random.default_rng(1)
    boot = values[g.integers(0, 5, size=(10_000, 5))].mean(axis=1) - 6.0
    assert (d[1], d[2]) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    with pytest.raises(ValueError, match="expected shapes"):
        noise_set.distance_to_curve(values, 1.0, levels, per_level[:2], zero)


def test_runs_are_labelled_as_in_the_figures():
    runs = noise_set.load_noise_runs()
    assert runs.label("ok-r2") == "OK r=2" and runs.label("snap1") == "SnAp-1" and runs.label("tbptt-t4") == "TBPTT τ=4"
    with pytest.raises(ValueError, match="key: expected one of"):
        runs.label("ok-r3")
