"""The benchmark script runs and prints one table row per (estimator, rank, n, B)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_script_prints_its_table():
    args = ["--n", "6", "--batch", "1", "2", "--ranks", "1", "2", "--repeats", "2", "--min-time", "0.0005"]
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_estimators.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [line.split("|")[1:-1] for line in run.stdout.splitlines() if line.startswith("| ")][1:]
    cells = [[c.strip() for c in row] for row in rows]
    # one row for each method without a rank, one per rank (2) for the ranked ones; for each of the two batch sizes
    from okcore import costs

    assert len(cells) == 2 * sum(2 if m in costs.RANKED else 1 for m in costs.METHODS)
    for name, rank, n, batch, update, iqr, per_seq, reference, ref, ratio in cells:
        assert n == "6" and batch in ("1", "2")
        assert float(update) > 0 and abs(float(per_seq) - float(update) / int(batch)) < 0.06
        q1, q3 = (float(q) for q in iqr.split("–"))
        assert q1 <= float(update) + 0.05 and float(update) <= q3 + 0.05
        if name in ("uoro", "snap1", "rflo"):  # no single product to compare with
            assert reference == ref == ratio == "-"
        else:
            assert reference == ("H·G" if name == "exact" else f"{rank if rank != '-' else 1}×H·A")
            assert float(ref) > 0 and float(ratio) > 0
    assert "note:" not in run.stdout


def test_training_benchmark_prints_a_row_per_method():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_training.py"), "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    methods, dtypes = run.stdout.split("\nfloat32 against float64")
    rows = [line.split("|")[1:-1] for line in methods.splitlines() if line.startswith("| ")][1:]
    cells = [[c.strip() for c in row] for row in rows]
    assert [c[0] for c in cells[:3]] == ["exact", "ok r=1", "ok r=2"] and len(cells) == 11
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in dtypes.splitlines() if line.startswith("| ")]
    assert [r[0] for r in rows[1:]] == ["float64", "float32"]
    assert all(float(steps_s) > 0 and float(ms) > 0 and 0 < float(bpc) < 8 for _, steps_s, ms, bpc in rows[1:])
    assert "target: float32 at least 1.6x" in dtypes
    for label, _n, _batch, steps_s, ms, update, outside in cells:
        assert float(steps_s) > 0 and float(ms) > 0
        if label.startswith("tbptt"):
            assert update == outside == "-"
        else:
            assert 0 < float(update) < float(ms) and 0 <= float(outside.rstrip(" %")) <= 100
