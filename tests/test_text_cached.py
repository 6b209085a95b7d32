"""The cached text runs in data/text: complete, comparable, their weights match, and their start regenerates."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.tasks import contiguous_bpc
from okcore.train.results import data_path, load_groups
from okcore.train.runs import load_run
from okcore.train.text_runs import load_model, load_text_data, run_text


def test_cached_runs_are_complete_and_comparable():
    groups = load_groups(data_path("text"))
    assert list(groups) == ["OK r=2", "OK r=8", "KF", "UORO", "TBPTT τ=4", "TBPTT τ=16"]
    for g in groups.values():
        assert g.seeds == [0, 1, 2]
        for r in g.runs:
            assert r["config"]["okcore"] and r["config"]["numpy"]
            assert r["final"]["steps_done"] == r["config"]["steps"] and not r["final"]["stopped"]
            assert r["final"]["best_valid_bpc"] <= r["final"]["valid_bpc"]


def test_cached_weights_give_the_cached_validation_bpc():
    path = data_path("text", "ok-r8-seed0.json")
    record = load_run(path)
    cell, readout, vocab = load_model(path)
    data = load_text_data(record["config"])
    assert vocab == data.vocab
    got = contiguous_bpc(cell, readout, data.valid, streams=record["config"]["eval_streams"])
    assert got == pytest.approx(record["final"]["valid_bpc"], abs=1e-6)


def test_regenerate_the_start_of_a_cached_run():
    record = load_run(data_path("text", "ok-r2-seed1.json"))
    config = {k: v for k, v in record["config"].items() if k not in ("okcore", "numpy")}
    steps = 2 * config["log_every"]
    result, _ = run_text({**config, "steps": steps, "eval_every": 0}, data=None)
    got = [(r["step"], r["loss_bits"]) for r in result.history.records if r["step"] <= steps]
    want = [(r["step"], r["loss_bits"]) for r in record["log"] if r["step"] <= steps]
    assert [s for s, _ in got] == [s for s, _ in want]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=0, atol=2e-6)
