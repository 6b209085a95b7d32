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
    # exact, uoro, kf: one row each; kf-avg, ok: one row per rank; for each of the two batch sizes
    assert len(cells) == 2 * (3 + 2 * 2)
    for name, rank, n, batch, update, per_seq, reference, ref, ratio in cells:
        assert n == "6" and batch in ("1", "2")
        assert float(update) > 0 and abs(float(per_seq) - float(update) / int(batch)) < 0.06
        if name == "uoro":
            assert reference == ref == ratio == "-"
        else:
            assert reference == ("H·G" if name == "exact" else f"{rank if rank != '-' else 1}×H·A")
            assert float(ref) > 0 and float(ratio) > 0
    assert "note:" not in run.stdout
