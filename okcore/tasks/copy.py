"""The copy (string memorisation) task of the OK paper, with its curriculum, as B independent streams.

A sequence of length T holds T random bits b_1..b_T and has 2T + 2 steps over a vocabulary of 4 symbols
(bits 0 and 1, a marker and a filler)::

    input   [M, b_1 .. b_T, F × (T + 1)]
    target  [F × (T + 1), M, b_1 .. b_T]

so each bit has to be reproduced T + 1 steps after it was seen. The loss counts every step, the trivial filler
targets included.

Curriculum: the lengths are drawn as T = max(1, T_ − U{0..spread}). A running average of the batch-mean loss in
bits, avg ← decay·avg + (1 − decay)·loss, starts at 1. When a sequence ends while avg < threshold, T_ grows by one
and avg restarts at ``restart``.
"""

from __future__ import annotations

import numpy as np

from okcore._checks import check_nonneg_int, check_positive_float, check_positive_int, check_rng

__all__ = ["CopyTask", "copy_sequence", "recall_accuracy", "MARKER", "FILLER", "N_SYMBOLS"]

MARKER = 2
FILLER = 3
N_SYMBOLS = 4
_ONE_HOT = np.eye(N_SYMBOLS)


def copy_sequence(bits: object) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets (both (2T + 2,) integer symbols) of the copy sequence holding ``bits`` (T,)."""
    b = np.asarray(bits)
    if b.ndim != 1 or b.size < 1 or not np.isin(b, (0, 1)).all():
        raise ValueError(f"bits: expected a non-empty 1-D array of 0s and 1s, got {b!r}")
    T = b.size
    filler = np.full(T + 1, FILLER)
    inputs = np.concatenate([[MARKER], b, filler]).astype(np.int64)
    targets = np.concatenate([filler, [MARKER], b]).astype(np.int64)
    return inputs, targets


def _as_generator(rng: object) -> np.random.Generator:
    """A Generator, or an integer seed turned into one."""
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    return check_rng("rng", rng)


class CopyTask:
    """B streams of copy sequences under the paper's curriculum.

    Args:
        batch: number B of streams; each has its own sequence boundaries.
        rng: ``numpy.random.Generator`` (or an integer seed) for lengths and bits.
        threshold, decay, restart: the curriculum (see the module docstring); the paper's values by default.
        start_length: the first curriculum length T_.
        spread: T = max(1, T_ − U{0..spread}).

    Attributes:
        n_in, n_out: 4 each (one-hot symbols in, class scores out).
        T_: the current curriculum length; avg: the running average of the loss in bits.
    """

    n_in = N_SYMBOLS
    n_out = N_SYMBOLS

    def __init__(
        self,
        batch: int = 16,
        rng: np.random.Generator | int = 0,
        *,
        threshold: float = 0.15,
        decay: float = 0.999,
        restart: float = 0.3,
        start_length: int = 1,
        spread: int = 4,
    ) -> None:
        self.batch = check_positive_int("batch", batch)
        self.rng = _as_generator(rng)
        self.threshold = check_positive_float("threshold", threshold)
        self.decay = check_positive_float("decay", decay)
        if self.decay >= 1:
            raise ValueError(f"decay: expected a number in (0, 1), got {decay}")
        self.restart = check_positive_float("restart", restart)
        self.T_ = check_positive_int("start_length", start_length)
        self.spread = check_nonneg_int("spread", spread)
        self.avg = 1.0
        # The current sequence of each row, padded: symbols (B, L), its length 2T + 2 and the position in it.
        self._inputs = np.zeros((self.batch, 0), dtype=np.int64)
        self._targets = np.zeros((self.batch, 0), dtype=np.int64)
        self._length = np.zeros(self.batch, dtype=np.int64)
        self._pos = np.zeros(self.batch, dtype=np.int64)
        self._ended = np.zeros(self.batch, dtype=bool)

    def __repr__(self) -> str:
        return f"CopyTask(batch={self.batch}, T_={self.T_}, avg={self.avg:.3f})"

    def draw_lengths(self, size: int) -> np.ndarray:
        """``size`` sequence lengths T = max(1, T_ − U{0..spread}) for the current T_."""
        return np.maximum(1, self.T_ - self.rng.integers(0, self.spread + 1, size=size))

    def _start(self, rows: np.ndarray) -> None:
        """Draw new sequences for the rows given by index."""
        lengths = self.draw_lengths(rows.size)
        width = 2 * int(lengths.max()) + 2
        if width > self._inputs.shape[1]:
            pad = width - self._inputs.shape[1]
            self._inputs = np.pad(self._inputs, ((0, 0), (0, pad)), constant_values=FILLER)
            self._targets = np.pad(self._targets, ((0, 0), (0, pad)), constant_values=FILLER)
        L = self._inputs.shape[1]
        T = lengths[:, None]
        col = np.arange(L)[None, :]
        bits = self.rng.integers(0, 2, size=(rows.size, L))
        # input: marker at 0, bits at 1..T, filler after; target: filler up to T, marker at T + 1, bits after.
        self._inputs[rows] = np.where(col == 0, MARKER, np.where(col <= T, bits, FILLER))
        shifted = np.take_along_axis(bits, np.clip(col - T - 1, 0, L - 1), axis=1)
        self._targets[rows] = np.where(col <= T, FILLER, np.where(col == T + 1, MARKER, shifted))
        self._length[rows] = 2 * lengths + 2
        self._pos[rows] = 0

    def next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One time step of every stream.

        Returns:
            x: (B, 4) one-hot inputs; y: (B,) integer targets;
            reset: (B,) True where a new sequence starts at this step (state and estimate are zeroed first).
        """
        reset = self._pos >= self._length
        if reset.any():
            self._start(np.flatnonzero(reset))
        rows = np.arange(self.batch)
        x = _ONE_HOT[self._inputs[rows, self._pos]]
        y = self._targets[rows, self._pos]
        self._pos += 1
        self._ended = self._pos >= self._length
        return x, y, reset

    def observe(self, loss_bits: object) -> None:
        """Feed the step's loss per row (B,) in bits to the curriculum.

        Called by the trainer at every step with an array it made, so it is not checked here.
        """
        self.avg = self.decay * self.avg + (1.0 - self.decay) * float(np.mean(loss_bits))
        if self._ended.any() and self.avg < self.threshold:
            self.T_ += 1
            self.avg = self.restart

    def log_fields(self) -> dict[str, int]:
        """What a training log records about the task: the curriculum length."""
        return {"T": int(self.T_)}


def recall_accuracy(
    cell: object, readout: object, lengths: object, sequences: int = 256, rng: np.random.Generator | int = 0
) -> dict:
    """How well fixed weights recall each bit: per length T and bit position i, the share of ``sequences`` fresh
    copy sequences whose target b_i (at step T + 1 + i) gets the highest score of the readout.

    Each sequence runs alone from h = 0, as in training after a reset; the weights are not changed.

    Args:
        cell, readout: a trained cell (``GatedCell`` or ``TanhCell``, ``n_in = 4``) and its ``Readout``.
        lengths: the sequence lengths T to test (positive integers).
        sequences: sequences per length, run side by side as one batch.
        rng: Generator (or integer seed) for the bits.

    Returns:
        ``{"lengths": [T, ...], "sequences": N, "accuracy": [[acc of b_1, ..., acc of b_T], ...]}``, one row per
        length, each entry in [0, 1] (0.5 is guessing).
    """
    Ts = [check_positive_int("lengths", int(T)) for T in np.atleast_1d(np.asarray(lengths))]
    if not Ts:
        raise ValueError("lengths: expected at least one sequence length, got none")
    sequences = check_positive_int("sequences", sequences)
    rng = _as_generator(rng)
    eye = np.eye(N_SYMBOLS, dtype=cell.dtype)
    rows = []
    for T in Ts:
        bits = rng.integers(0, 2, size=(sequences, T))
        filler = np.full((sequences, T + 1), FILLER)
        inputs = np.concatenate([np.full((sequences, 1), MARKER), bits, filler], axis=1)  # (N, 2T + 2)
        h = np.zeros((sequences, cell.n_hidden), dtype=cell.dtype)
        correct = np.zeros(T)
        for t in range(2 * T + 2):
            h = cell._step(eye[inputs[:, t]], h).h
            if t >= T + 2:  # the target at step t is bit t - T - 1 (counted from 1)
                guess = (h @ readout.W_out[:-1] + readout.W_out[-1]).argmax(axis=1)
                correct[t - T - 2] = np.mean(guess == bits[:, t - T - 2])
        rows.append([round(float(a), 4) for a in correct])
    return {"lengths": Ts, "sequences": sequences, "accuracy": rows}
