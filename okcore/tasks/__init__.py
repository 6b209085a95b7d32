"""Sequence tasks, generated from an explicit ``numpy.random.Generator`` or read from text.

Conventions shared by every task here (the same as :mod:`okcore.bptt`):
- inputs are one-hot float64 arrays, (T, n_in) for one sequence or (T, B, n_in) for a batch;
- targets are integer class indices, (T,) or (T, B).

Modules
- :mod:`okcore.tasks.recall`: delayed recall, whose only useful dependency is exactly ``delay`` steps long.
- :mod:`okcore.tasks.copy`: the paper's copy task with its curriculum, as B streams for online training.
- :mod:`okcore.tasks.text`: character-level language modelling: a vocabulary, streams of text for online
  training (one step at a time: x (B, V), y (B,), reset (B,)), bits per character on held-out text, sampling.
"""

from okcore.tasks.copy import FILLER, MARKER, CopyTask, copy_sequence
from okcore.tasks.recall import delayed_recall, delayed_recall_classes, one_hot
from okcore.tasks.text import (
    UNKNOWN,
    TextStreams,
    Vocabulary,
    bigram_bpc,
    bpc_evaluator,
    contiguous_bpc,
    corpus_path,
    load_corpus,
    read_text,
    sample,
    unigram_bpc,
)

__all__ = [
    "one_hot",
    "delayed_recall",
    "delayed_recall_classes",
    "CopyTask",
    "copy_sequence",
    "MARKER",
    "FILLER",
    "UNKNOWN",
    "TextStreams",
    "Vocabulary",
    "bigram_bpc",
    "bpc_evaluator",
    "contiguous_bpc",
    "corpus_path",
    "load_corpus",
    "read_text",
    "sample",
    "unigram_bpc",
]
