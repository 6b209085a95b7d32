"""Online training of a recurrent network with any of okcore's methods, on a task of :mod:`okcore.tasks`.

- :mod:`okcore.train.loop`: :func:`train`, one loop for every method, and its :class:`History`.
- :mod:`okcore.train.runs`: the run-file format (JSON with config, log and final), cached runs of the copy task.
- :mod:`okcore.train.results`: loading groups of run files, tables and plots of them.
- :mod:`okcore.train.text_runs`: character-level language-model runs, their weights files, sampling.
- :mod:`okcore.train.cli`: ``python -m okcore.train`` (``copy``, ``text``, ``sample``; see also
  :mod:`okcore.train.text_cli`).
"""

from okcore.train.loop import (
    CELLS,
    DEFAULT_LR,
    METHODS,
    History,
    TrainResult,
    check_method,
    make_cell,
    make_estimator,
    seed_streams,
    train,
)

__all__ = [
    "CELLS",
    "DEFAULT_LR",
    "METHODS",
    "History",
    "TrainResult",
    "check_method",
    "make_cell",
    "make_estimator",
    "seed_streams",
    "train",
]
