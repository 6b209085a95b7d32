"""Settings for every pytest run in this repository (the unit tests' fixtures are in tests/conftest.py).

With pytest-xdist (``make test`` runs ``pytest -n auto tests/ notebooks/``), the cells of a notebook checked by nbval
must run in order in one process, on one kernel, while the unit tests are best spread over the workers one by one.
The scheduler below does both: a notebook is one unit of work, and so is a test file whose tests share an expensive
module fixture (``WHOLE_FILES``: the book is built once); every other test is its own. (xdist's
``--dist loadgroup`` would say the same with marks, but it does not group under pytest 9, whose node ids it can no
longer extend.) It replaces xdist's default ``--dist load`` only; another ``--dist`` given explicitly is kept.
"""

from __future__ import annotations

from typing import Any

import pytest

WHOLE_FILES = {"tests/test_book.py"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        """Load balancing over single tests, with each notebook (its cells in order) and each of WHOLE_FILES kept
        together."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") or path in WHOLE_FILES else nodeid

    return NotebookScheduling(config, log)
