"""Sequence tasks, generated from an explicit ``numpy.random.Generator``.

Conventions shared by every task here (the same as :mod:`okcore.bptt`):
- inputs are one-hot float64 arrays, (T, n_in) for one sequence or (T, B, n_in) for a batch;
- targets are integer class indices, (T,) or (T, B).

Modules
- :mod:`okcore.tasks.recall`: delayed recall, whose only useful dependency is exactly ``delay`` steps long.
- :mod:`okcore.tasks.copy`: the paper's copy task with its curriculum, as B streams for online training.
"""

from okcore.tasks.copy import FILLER, MARKER, CopyTask, copy_sequence
from okcore.tasks.recall import delayed_recall, delayed_recall_classes, one_hot

__all__ = [
    "one_hot",
    "delayed_recall",
    "delayed_recall_classes",
    "CopyTask",
    "copy_sequence",
    "MARKER",
    "FILLER",
]
