"""okcore.experiments: the copy set, and a grid run on a local process pool and on a Dask cluster gives the
same files."""

import json

import pytest
from distributed import LocalCluster

from okcore.experiments import SETS, copy_runs, main
from okcore.experiments.copy import COPY_METHODS, COPY_SEEDS, SHADOWS, SWEEP_RATES, TBPTT_SLIDING
from okcore.experiments.runner import pending, run_dask, run_local
from okcore.train.loop import METHODS
from okcore.train.runs import copy_config

# what depends on the machine, its load and the process (Dask's workers set the BLAS thread variables themselves)
TIMING = {"cpu_s", "seconds", "cpu_seconds", "environment"}


def tiny_grid() -> list[tuple[str, dict]]:
    runs = []
    for seed in (0, 1):
        for method, rank in (("ok", 1), ("kf", None)):
            config = copy_config(method=method, rank=rank, seed=seed, steps=30, hidden=3, batch=2, log_every=10)
            runs.append((f"{method}-seed{seed}.json", config))
    config = copy_config(method="exact", steps=30, hidden=3, batch=2, log_every=10, shadows=SHADOWS, shadow_every=5)
    runs.append(("shared/exact-seed0.json", config))
    return runs


def without_timing(record: object) -> object:
    """The record with the fields that depend on the machine's speed and load removed."""
    if isinstance(record, dict):
        return {k: without_timing(v) for k, v in record.items() if k not in TIMING}
    if isinstance(record, list):
        return [without_timing(v) for v in record]
    return record


def read_all(folder) -> dict:
    return {p.relative_to(folder).as_posix(): json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))}


def test_a_dask_cluster_and_the_local_pool_write_the_same_files(tmp_path, capsys, monkeypatch):
    local = [(tmp_path / "local" / name, config) for name, config in tiny_grid()]
    run_local(pending(local), jobs=2, report=lambda line: None)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0, dashboard_address=None
    ) as cluster:
        monkeypatch.setitem(SETS, "copy", tiny_grid)
        assert main(["copy", "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "dask")]) == 0
        assert "5 runs" in capsys.readouterr().out
        # a second call finds every file there and runs nothing
        assert main(["copy", "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "dask")]) == 0
        assert "5 already there, 0 to do" in capsys.readouterr().out
    by_pool, by_dask = read_all(tmp_path / "local"), read_all(tmp_path / "dask")
    assert sorted(by_pool) == sorted(by_dask) == sorted(name for name, _ in tiny_grid())
    for name in by_pool:
        assert without_timing(by_pool[name]) == without_timing(by_dask[name]), name
        assert by_pool[name]["log"][-1]["cpu_s"] > 0


def test_jobs_and_scheduler_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["copy", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert stop.value.code == 2 and "--jobs" in capsys.readouterr().err


def test_run_dask_without_a_scheduler_says_so(tmp_path):
    with pytest.raises(OSError):
        todo = pending([(tmp_path / "x.json", tiny_grid()[0][1])])
        run_dask(todo, "tcp://127.0.0.1:9", report=lambda s: None, timeout=1)


def test_the_copy_set_compares_methods_on_equal_terms():
    runs = copy_runs()
    names = [n for n, _ in runs]
    assert len(set(names)) == len(names)
    main_grid = [c for n, c in runs if "/" not in n]
    assert len(main_grid) == (len(COPY_METHODS) + len(TBPTT_SLIDING)) * len(COPY_SEEDS) and len(COPY_SEEDS) >= 8
    keys = ("hidden", "batch", "steps", "lr", "clip", "cell", "log_every")
    assert all(all(c[k] == main_grid[0][k] for k in keys) for c in main_grid)
    assert {c["method"] for c in main_grid} == set(METHODS)
    for tag, lr in SWEEP_RATES.items():
        sweep = [c for n, c in runs if n.startswith(f"lr/{tag}/")]
        assert {c["lr"] for c in sweep} == {lr} and len(sweep) >= 3 * len(COPY_METHODS)
    shared = [c for n, c in runs if n.startswith("shared/")]
    assert len(shared) >= 3 and all(c["method"] == "exact" and c["shadows"] == SHADOWS for c in shared)
