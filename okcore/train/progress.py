"""Progress of a training run, drawn by tqdm: a bar on stderr in a terminal, a widget bar in a notebook, and
nothing at all anywhere else (a pipe, a log file, a test), so that logs and stored outputs stay clean.

>>> bar = Progress(total=1000)
>>> for done in range(1, 1001):
...     bar.show(done, {"step": done, "loss_bits": 0.5})   # cheap: tqdm redraws at most every half second
>>> bar.close("done")
"""

from __future__ import annotations

import sys
from typing import IO

__all__ = ["Progress", "in_notebook", "wanted"]

MIN_INTERVAL = 0.5  # seconds between two redraws
_HIDDEN = ("step", "cpu_s")  # fields of a log record the bar leaves out (tqdm shows the step and the time)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where tqdm draws a widget bar instead of writing to stderr)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def wanted(stream: IO[str] | None = None) -> bool:
    """Whether a bar can be seen: in a notebook, or when ``stream`` (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    if in_notebook():
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _postfix(record: dict | None) -> str:
    if not record:
        return ""
    return "  ".join(f"{key} {value}" for key, value in record.items() if key not in _HIDDEN)


class Progress:
    """A tqdm bar over ``total`` steps showing the latest log record, or nothing when no one can see it.

    Args:
        total: the steps of the run.
        stream: where a terminal bar is written (default stderr).
        enabled: None (default) decides with :func:`wanted`; True or False forces it (a forced bar outside a
            notebook is a text bar on ``stream``).
    """

    def __init__(self, total: int, stream: IO[str] | None = None, enabled: bool | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = wanted(self.stream) if enabled is None else bool(enabled)
        self._record: dict | None = None
        self._done = 0
        self._bar = None
        if not self.enabled:
            return
        if in_notebook():
            from tqdm.notebook import tqdm
        else:
            from tqdm.std import tqdm
        self._bar = tqdm(
            total=total,
            unit="step",
            file=self.stream,
            mininterval=MIN_INTERVAL,
            dynamic_ncols=True,
            leave=True,
        )

    def show(self, done: int, record: dict | None = None) -> None:
        """``done`` steps are done; ``record`` is the latest log record (its fields but step and time are shown)."""
        if self._bar is None:
            return
        if record is not self._record:  # a new record: re-format the text only then
            self._record = record
            self._bar.set_postfix_str(_postfix(record), refresh=False)
        self._bar.update(done - self._done)
        self._done = done

    def close(self, status: str | None = None) -> None:
        """Draw the final state (with ``status``, e.g. ``"done"`` or ``"stopped"``, after the record) and close."""
        if self._bar is None:
            return
        text = _postfix(self._record)
        if status:
            text = f"{text}  {status}" if text else status
        self._bar.set_postfix_str(text, refresh=False)
        self._bar.close()
        self._bar = None
