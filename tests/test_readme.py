"""The README's usage example runs and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    """The examples run in order in one namespace, as a reader would paste them; the training example's 5,000
    steps are cut to 100 here (what is checked is that the call and the record it prints work)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2, "expected two python examples in README.md: the estimator loop and training"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    dW, cell = namespace["dW"], namespace["cell"]
    assert dW.shape == cell.W.shape and np.all(np.isfinite(dW)) and np.abs(dW).sum() > 0
    assert "steps=5000" in blocks[1]
    exec(compile(blocks[1].replace("steps=5000", "steps=100"), "README.md", "exec"), namespace)
    record = namespace["result"].history.records[-1]
    assert {"step", "loss_bits", "T", "cpu_s", "cosine", "grad_rel_err", "norm_ratio", "rel_var"} <= set(record)
    assert record["step"] == 100
