"""The cached text runs in data/text: made by the committed set's configs, complete, at each method's best learning
rate, their weights give their scores, and the start of a run regenerates."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.experiments.text import (
    SNAPSHOTS,
    TEXT_LR,
    TEXT_SEEDS,
    best_rates,
    load_text_groups,
    sweep_results,
    text_runs,
)
from okcore.tasks import contiguous_bpc
from okcore.train.results import data_path
from okcore.train.runs import load_run
from okcore.train.text_runs import eval_streams, load_model, load_text_data, run_text, snapshot_steps

VERSIONS = ("okcore", "numpy")


def test_every_run_of_the_set_is_cached_with_its_config():
    runs = text_runs()
    assert len(runs) > 60
    for name, config in runs:
        record = load_run(data_path("text", name))
        assert {k: v for k, v in record["config"].items() if k not in VERSIONS} == config, name
        assert record["config"]["okcore"] and record["config"]["numpy"]
        final = record["final"]
        assert final["steps_done"] == config["steps"] and not final["stopped"], name
        assert final["best_valid_bpc"] <= final["valid_bpc"] and final["cpu_seconds"] > 0
        assert data_path("text", name).with_suffix(".npz").is_file() == config["save_weights"], name


def test_each_method_runs_at_the_best_rate_of_its_sweep():
    assert best_rates(sweep_results(data_path("text", "lr"))) == TEXT_LR
    groups = load_text_groups(data_path("text"))
    assert len(groups) == 8 and all(g.seeds == list(TEXT_SEEDS) for g in groups.values())


def test_best_checkpoint_gives_the_cached_validation_and_test_bpc():
    path = data_path("text", "kf-seed1.json")
    record = load_run(path)
    data = load_text_data(record["config"])
    streams = eval_streams(data.valid, record["config"])
    for which, key in (("best", "best_valid_bpc"), ("final", "valid_bpc")):
        cell, readout, vocab = load_model(path, which)
        assert vocab == data.vocab and cell.W.dtype == np.float32
        got = contiguous_bpc(cell, readout, data.valid, streams=streams)
        assert got == pytest.approx(record["final"][key], abs=1e-6)
    cell, readout, _ = load_model(path, "best")
    got = contiguous_bpc(
        cell, readout, data.test, streams=eval_streams(data.test, record["config"] | {"eval_chars": None})
    )
    assert got == pytest.approx(record["final"]["test_bpc"], abs=1e-6)


def test_first_seed_keeps_snapshots():
    for name, config in text_runs():
        if "/" not in name and config["seed"] == TEXT_SEEDS[0]:
            assert snapshot_steps(data_path("text", name)) == [*SNAPSHOTS, config["steps"]]


def test_regenerate_the_start_of_a_cached_run():
    record = load_run(data_path("text", "ok-r4-seed1.json"))
    config = {k: v for k, v in record["config"].items() if k not in VERSIONS}
    steps = 2 * config["log_every"]
    result, _ = run_text({**config, "steps": steps, "eval_every": 0, "snapshots": []})
    got = [(r["step"], r["loss_bits"]) for r in result.history.records if r["step"] <= steps]
    want = [(r["step"], r["loss_bits"]) for r in record["log"] if r["step"] <= steps]
    assert [s for s, _ in got] == [s for s, _ in want]
    # float32: another BLAS may round differently, and the difference grows over the steps; a change in the
    # method or the data would move the loss by far more
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=0, atol=2e-4)
