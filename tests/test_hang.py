"""Notebook 09, whose cells drive the noise explorer's controls, runs to the end through the workbook's executor
(tools/execute.py, the one of `make run` and `make execute`) without a cell waiting for its reply.

A dashboard that displayed its figure inside its Output widget made the executor (nbclient, mimicking a front end)
send the widget's new state back to the kernel on the shell channel while it waited for the cell's reply there;
that wait could then miss the reply and sleep until the cell's timeout (for ever without one), the kernel idle. The
test runs the notebook ten times, each in a fresh kernel and with a timeout per cell, and checks from the kernel's
own timestamps that every next cell started promptly after the previous one ended.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "09_noise_explorer.ipynb"
CELL_TIMEOUT = 60  # a missed reply costs this long, so a delay of more than half of it is one
RUNS = 10


def load_executor():
    spec = importlib.util.spec_from_file_location("okcore_execute", ROOT / "tools" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


executor = load_executor()


@pytest.mark.timeout(10 * CELL_TIMEOUT)
@pytest.mark.parametrize("run", range(RUNS))
def test_notebook_09_runs_without_a_missed_reply(run):
    nb = executor.execute(NOTEBOOK, timeout=CELL_TIMEOUT)
    delays = executor.reply_delays(nb)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert len(delays) == len(code_cells) - 1  # every code cell ran and recorded its times
    late = [(index, round(seconds, 1)) for index, seconds in delays if seconds > CELL_TIMEOUT / 2]
    assert not late, f"run {run}: the executor noticed these cells' replies only after (cell, seconds): {late}"


def test_the_dashboards_set_their_figure_as_state_never_through_the_output_stream(monkeypatch):
    """What the executor tripped over, checked directly: no dashboard of okcore displays inside its Output widget
    (entering it raises here); each one's figure is the widget's state, a PNG."""
    import ipywidgets

    from okcore.demos.proof import singular_value_explorer
    from okcore.widgets import noise_explorer

    def refuse(self):
        raise AssertionError("a dashboard displayed inside its Output widget")

    monkeypatch.setattr(ipywidgets.Output, "__enter__", refuse)
    monkeypatch.setattr(ipywidgets.Output, "clear_output", refuse)
    ex = noise_explorer(n_hidden=8, T=10, n_samples=16, sweep=False)
    first = ex.output.outputs
    ex.controls["rank"].value = 3
    for outputs in (first, ex.output.outputs):
        assert [o["output_type"] for o in outputs] == ["display_data"]
        assert outputs[0]["data"]["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature
    assert ex.output.outputs != first
    sv = singular_value_explorer()
    sv.sliders[0].value = 2.5
    assert [o["output_type"] for o in sv.out.outputs] == ["display_data"]
