"""The progress bar of training runs: tqdm on a terminal, nothing where no one can see it."""

import io
import sys

import numpy as np

from okcore.tasks.copy import CopyTask
from okcore.train import progress, train
from okcore.train.progress import Progress


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def test_a_bar_on_a_terminal_shows_the_latest_record_and_how_it_ended():
    term = Terminal()
    bar = Progress(200, stream=term)
    assert bar.enabled
    for done in range(1, 201):
        bar.show(done, {"step": done, "loss_bits": 0.25, "cpu_s": 1.5} if done >= 100 else None)
    bar.close("done")
    last = term.getvalue().split("\r")[-1]
    assert "200/200" in last and "loss_bits 0.25  done" in last and "step 200" not in last and "cpu" not in last
    assert last.endswith("\n")


def test_no_bar_where_the_stream_is_not_a_terminal():
    stream = io.StringIO()
    bar = Progress(10, stream=stream)
    assert not bar.enabled
    bar.show(10, {"loss_bits": 1.0})
    bar.close("done")
    assert stream.getvalue() == ""


def test_training_draws_the_bar_on_a_terminal_only(monkeypatch, capsys):
    def run():
        return train(CopyTask(2, np.random.default_rng(0)), "kf", steps=60, hidden=4, log_every=20, progress=True)

    run()
    assert capsys.readouterr().err == ""  # pytest's captured stderr is not a terminal
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    result = run()
    last = term.getvalue().split("\r")[-1]
    assert "60/60" in last and f"loss_bits {result.history.records[-1]['loss_bits']}" in last and "done" in last


def test_a_notebook_is_recognised_by_its_kernel(monkeypatch):
    assert not progress.in_notebook()  # plain pytest

    class Shell:
        config = {"IPKernelApp": {}}

    class FakeIPython:
        @staticmethod
        def get_ipython():
            return Shell()

    monkeypatch.setitem(sys.modules, "IPython", FakeIPython)
    assert progress.in_notebook() and progress.wanted(io.StringIO())
