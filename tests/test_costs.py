"""okcore.costs: the counts match the estimators' arrays, and the cached measurements can be made again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from okcore import GatedCell, costs

ROOT = Path(__file__).resolve().parents[1]
CACHED = ROOT / "data" / "costs" / "costs.json"


@pytest.mark.parametrize("method", costs.METHODS)
@pytest.mark.parametrize(("n", "rank", "batch"), [(5, 2, 1), (9, 3, 4)])
def test_counted_bytes_are_the_arrays(method, n, rank, batch):
    rank = rank if method in costs.RANKED else 1
    cell = GatedCell(costs.N_IN, n, rng=0)
    est = costs.make_estimator(method, cell, rank, batch, rng=1)
    for step in costs.make_steps(cell, batch, np.random.default_rng(2), 3):
        est.update(step)
    assert costs.estimate_nbytes(est) == costs.estimate_bytes(method, n, rank, batch=batch)
    held = costs.held_bytes(method, n, rank, batch=batch)
    assert held <= costs.measure_memory(method, n, rank, batch=batch) <= held + 64 * 1024


def test_flop_counts_written_out():
    n, n_in = 10, 3
    K, k = n_in + n + 1, 2 * n
    assert costs.update_flops("exact", n, n_in=n_in, batch=2) == 2 * (2 * n * n * K * k + K * k)
    assert costs.update_flops("uoro", n, n_in=n_in) == 2 * n * n + 3 * K * k
    assert costs.update_flops("kf", n, n_in=n_in) == 2 * n * n * k + 2 * n * k + k
    assert costs.update_flops("kf-avg", n, 3, n_in=n_in) == 3 * costs.update_flops("kf", n, n_in=n_in)
    r = 5
    assert (
        costs.update_flops("ok", n, r, n_in=n_in)
        == 2 * r * n * n * k + r * (r + 1) * n * k + 2 * r * r * n * k + 3 * r * k
    )
    # the tanh cell has k = n
    assert costs.update_flops("kf", n, n_in=n_in, cell="tanh") == 2 * n * n * n + 2 * n * n + n


def test_bad_arguments():
    with pytest.raises(ValueError, match="^method: "):
        costs.update_flops("rtrl", 4)
    with pytest.raises(ValueError, match="^rank: "):
        costs.estimate_bytes("kf", 4, 2)
    with pytest.raises(ValueError, match="^cell: "):
        costs.held_bytes("ok", 4, 2, cell="lstm")


def _key(row: dict) -> tuple:
    return (row["method"], row["rank"], row["n"], row["batch"])


def test_cached_file_describes_this_code_and_can_be_made_again():
    """Regenerate a small piece of data/costs/costs.json and compare everything that does not depend on the machine."""
    cached = costs.load(CACHED)
    for field in ("machine", "blas", "threads", "versions", "parameters", "created", "command"):
        assert field in cached
    assert all(v == "1" for v in cached["threads"].values())
    assert cached["command"].startswith("python -m okcore.costs ")
    by_key = {_key(r): r for r in cached["rows"]}
    params = cached["parameters"]
    expected = {
        (m, r, n, b)
        for n in params["n"]
        for b in params["batch"]
        for m in params["methods"]
        for r in (params["ranks"] if m in costs.RANKED else [1])
    }
    skipped = {
        k
        for k in expected
        if k[0] in costs.DENSE and 2 * costs.estimate_bytes("exact", k[2], batch=k[3]) > params["max_gb"] * 1e9
    }
    assert set(by_key) == expected - skipped

    fresh = costs.run(
        methods=params["methods"], ns=(16,), ranks=(2,), batches=(1,), repeats=2, min_time=0.001, seed=params["seed"]
    )
    assert fresh["parameters"]["cell"] == params["cell"]
    assert len(fresh["rows"]) == len(params["methods"])
    for row in fresh["rows"]:
        old = by_key[_key(row)]
        assert set(row) == set(old)
        for field in ("flops", "estimate_bytes", "held_bytes", "reference"):
            assert row[field] == old[field], (row["method"], field)
        assert row["update_s"] > 0 and row["best_s"] <= row["update_s"]
        assert (row["ratio"] is None) == (row["method"] in ("uoro", "snap1", "rflo"))


def test_the_command_pins_blas_threads_and_writes_json(tmp_path):
    out = tmp_path / "small.json"
    args = ["--methods", "kf", "ok", "--n", "6", "--ranks", "2", "--batch", "1", "--repeats", "1", "--min-time", "1e-4"]
    run = subprocess.run(
        [sys.executable, "-m", "okcore.costs", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "2"},
    )
    assert "wrote 2 rows" in run.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["threads"] == {var: "1" for var in costs.THREAD_VARS}
    assert [r["method"] for r in doc["rows"]] == ["kf", "ok"]
