"""The text set's definition and readers, on small made-up run files: names, rates, grouping, curves."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.experiments.text import (
    COMPUTE_FACTOR,
    SNAPSHOTS,
    SWEEP_LRS,
    SWEEP_MORE,
    TEXT_LR,
    TEXT_METHODS,
    TEXT_SETTINGS,
    best_rates,
    curve_by,
    load_text_groups,
    method_key,
    seed_stats,
    sweep_results,
    text_runs,
)
from okcore.train.runs import write_json


def test_the_set_lists_each_run_once_with_its_rate():
    runs = text_runs()
    names = [name for name, _ in runs]
    assert len(names) == len(set(names))
    sweep = [c for n, c in runs if n.startswith("lr/")]
    assert all(c["steps"] < TEXT_SETTINGS["steps"] and not c["save_weights"] for c in sweep)
    assert {c["lr"] for c in sweep} >= set(SWEEP_LRS)
    for method, more in SWEEP_MORE.items():  # the extensions go on from the largest rate of the grid
        assert more[0] == 2 * max(SWEEP_LRS) and all(b == 2 * a for a, b in zip(more, more[1:], strict=False))
        assert method in TEXT_LR
    main = [(n, c) for n, c in runs if "/" not in n]
    assert {method_key(c) for _, c in main} == set(TEXT_METHODS)
    for name, c in main:
        key = method_key(c)
        rate_of = ("ok", 4, None, "block") if key[:2] == ("ok", 8) else key
        assert c["lr"] == TEXT_LR[rate_of], name
        assert all(c[k] == v for k, v in TEXT_SETTINGS.items()), name
        assert c["snapshots"] == (SNAPSHOTS if c["seed"] == 0 else []), name
    compute = [c for n, c in runs if n.startswith("compute/")]
    assert {c["steps"] // TEXT_SETTINGS["steps"] for c in compute} == set(COMPUTE_FACTOR.values())


def _run(folder, method, seed, lr, cpu_per_step=0.001, bpc=(3.0, 2.5), **config):
    config = {"task": "text", "corpus": "kjv", "method": method, "rank": None, "truncation": None,
              "window": "block", "hidden": 8, "batch": 2, "steps": 20, "seed": seed, "cell": "gated",
              "lr": lr, "clip": 1.0, "dtype": "float32", "reset_every": 100, "eval_every": 10} | config  # fmt: skip
    log = [
        {"step": s, "loss_bits": 3.0, "cpu_s": s * cpu_per_step, "valid_bpc": v}
        for s, v in zip((10, 20), bpc, strict=True)
    ]
    final = {"valid_bpc": bpc[-1], "best_valid_bpc": min(bpc), "test_bpc": min(bpc) + 0.01,
             "cpu_seconds": 20 * cpu_per_step}  # fmt: skip
    name = f"{method}-{config['rank'] or config['truncation'] or ''}-lr{lr}-seed{seed}.json"
    write_json(folder / name, {"config": config, "log": log, "final": final})


def test_groups_allow_a_rate_per_method_and_nothing_else(tmp_path):
    for seed in (0, 1):
        _run(tmp_path, "tbptt", seed, 0.03, truncation=16, window="sliding", bpc=(2.8, 2.4 + seed / 10))
        _run(tmp_path, "ok", seed, 0.004, rank=4, cpu_per_step=0.004 + seed / 1000)
    groups = load_text_groups(tmp_path)
    assert list(groups) == ["OK r=4", "TBPTT τ=16 sliding"] and groups["OK r=4"].seeds == [0, 1]
    stats = seed_stats(groups["TBPTT τ=16 sliding"], "best_valid_bpc")
    assert stats == pytest.approx({"mean": 2.45, "lo": 2.4, "hi": 2.5, "seeds": 2})
    x, values = curve_by(groups["OK r=4"], "valid_bpc", "cpu_s")
    np.testing.assert_allclose(x, [0.045, 0.09])  # the mean over the seeds of the processor time
    np.testing.assert_allclose(values, [[3.0, 2.5], [3.0, 2.5]])
    with pytest.raises(ValueError, match="x"):
        curve_by(groups["OK r=4"], "valid_bpc", "seconds")
    _run(tmp_path, "kf", 0, 0.002, hidden=16)
    with pytest.raises(ValueError, match="differ in hidden"):
        load_text_groups(tmp_path)
    assert list(load_text_groups(tmp_path, "kf-*.json")) == ["KF"]  # one method alone
    with pytest.raises(ValueError, match=r"\(uoro-\*.json\) in .*found none"):
        load_text_groups(tmp_path, "uoro-*.json")


def test_the_best_rate_of_a_sweep(tmp_path):
    for lr, bpc in ((0.001, 2.6), (0.002, 2.4), (0.004, 2.5)):
        _run(tmp_path, "kf", 0, lr, bpc=(3.0, bpc))
    sweep = sweep_results(tmp_path)
    assert sweep == {("kf", None, None, "block"): {0.001: 2.6, 0.002: 2.4, 0.004: 2.5}}
    assert best_rates(sweep) == {("kf", None, None, "block"): 0.002}
    with pytest.raises(ValueError, match="found none"):
        sweep_results(tmp_path / "empty")
