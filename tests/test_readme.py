"""The README's usage example runs and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "expected exactly one python example in README.md"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    dW, cell = namespace["dW"], namespace["cell"]
    assert dW.shape == cell.W.shape and np.all(np.isfinite(dW)) and np.abs(dW).sum() > 0
