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
CACHED_NOISE = ROOT / "data" / "costs" / "noise.json"


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
    assert held == costs.estimate_bytes(method, n, rank, batch=batch) + costs.work_bytes(method, n, rank, batch=batch)
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


def test_work_buffers_written_out():
    n, n_in, r = 10, 3, 4
    K, k = n_in + n + 1, 2 * n
    assert costs.work_bytes("exact", n, n_in=n_in, batch=2) == 2 * 8 * n * K * k
    assert costs.work_bytes("uoro", n, n_in=n_in) == 0
    assert costs.held_bytes("uoro", n, n_in=n_in) == costs.estimate_bytes("uoro", n, n_in=n_in)
    assert costs.work_bytes("kf", n, n_in=n_in) == 8 * n * k
    assert costs.work_bytes("ok", n, r, n_in=n_in) == costs.work_bytes("kf-avg", n, r, n_in=n_in) == 8 * r * n * k


def test_the_registry_defines_the_method_sets():
    assert costs.METHODS == tuple(costs.COUNTS)
    assert costs.RANKED == {"kf-avg", "ok", "truncated-ok"} and costs.DENSE == {"exact"}
    assert costs.FACTORED == {"kf", "kf-avg", "ok", "truncated-ok"}


def test_quartiles():
    assert costs.quartiles([3.0]) == (3.0, 3.0)
    assert costs.quartiles([4.0, 1.0, 3.0, 2.0, 5.0]) == (2.0, 4.0)
    with pytest.raises(ValueError, match="^samples: "):
        costs.quartiles([])


def _tiny_doc(methods=("exact", "ok"), ranks=(2,)):
    rows = []
    for method in methods:
        for rank in ranks if method in costs.RANKED else [1]:
            for n in (4, 8):
                rows.append(
                    {
                        "method": method,
                        "rank": rank,
                        "n": n,
                        "batch": 1,
                        "update_s": 1e-5 * n,
                        "q1_s": 0.9e-5 * n,
                        "q3_s": 1.2e-5 * n,
                    }
                )
    return {"rows": rows}


def test_comparison_has_a_row_per_method_in_the_file():
    times = _tiny_doc(("exact", "uoro", "ok"), ranks=(2, 8))
    noise = {"rows": [{"method": "ok", "rank": 2, "n": 8, "rel_var": 0.5}]}
    entries = costs.comparison(times, noise, sizes=(4, 8))
    assert [e["label"] for e in entries] == ["exact RTRL", "UORO", "OK r=2", "OK r=8"]
    ok2 = entries[2]
    assert ok2["noise"] == {4: None, 8: 0.5}
    assert ok2["time_us"][8] == pytest.approx(80.0) and ok2["iqr_us"][8] == pytest.approx((72.0, 96.0))
    assert ok2["held_bytes"][8] == costs.held_bytes("ok", 8, 2)
    assert [e["label"] for e in costs.comparison(times, sizes=(4, 8), ranks=(8,))] == ["exact RTRL", "UORO", "OK r=8"]
    text = costs.format_comparison(entries)
    assert "not measured" in text and "80 [72–96]" in text
    assert len(text.splitlines()) == 2 + len(entries)
    biased = [dict(ok2, label="SnAp-1", bias="drops paths through other units")]
    assert "biased: see 13" in costs.format_comparison(biased) and "not measured" not in costs.format_comparison(biased)
    # a size the file lacks drops the method rather than inventing a number
    assert costs.comparison(times, sizes=(4, 16)) == []
    with pytest.raises(ValueError, match="^entries: "):
        costs.format_comparison([])


def test_row_names_a_missing_setting():
    doc = _tiny_doc()
    assert costs.row(doc, "ok", 8, 2)["update_s"] == pytest.approx(8e-5)
    with pytest.raises(ValueError, match="ok r=4 n=8 B=1"):
        costs.row(doc, "ok", 8, 4)


def test_wait_for_quiet(monkeypatch):
    loads = iter([2.0, 1.5, 0.5])
    monkeypatch.setattr(costs, "_load", lambda: next(loads))
    monkeypatch.setattr(costs.time, "sleep", lambda s: None)
    said = []
    assert costs.wait_for_quiet(0.7, wait=100, every=1, say=said.append)
    assert len(said) == 2 and "load average 2.00" in said[0]
    monkeypatch.setattr(costs, "_load", lambda: 3.0)
    assert not costs.wait_for_quiet(0.7, wait=0, every=1, say=said.append)


def test_cached_noise_is_this_code():
    """data/costs/noise.json holds what okcore.explorer measures: recompute one entry and compare."""
    cached = costs.load(CACHED_NOISE)
    p = cached["parameters"]
    assert {r["n"] for r in cached["rows"]} == set(p["n"])
    fresh = costs.measure_noise(
        ns=(p["n"][0],),
        ranks=(p["ranks"][0],),
        methods=("exact", "kf"),
        T=p["T"],
        n_samples=p["n_samples"],
        seed=p["seed"],
    )
    for r in fresh["rows"]:
        (old,) = [o for o in cached["rows"] if (o["method"], o["rank"], o["n"]) == (r["method"], r["rank"], r["n"])]
        assert r["rel_var"] == pytest.approx(old["rel_var"], rel=1e-9)


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
    assert {"load_average_1min", "load_average_1min_end"} <= set(cached["machine"])
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

    # the methods the cached file holds (methods added to COUNTS since appear when it is measured again)
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
        assert row["update_s"] > 0 and row["best_s"] <= row["q1_s"] <= row["update_s"] <= row["q3_s"]
        assert len(row["samples_s"]) == 2
        assert (row["ratio"] is None) == (costs.COUNTS[row["method"]].reference is None)  # no product to compare


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
