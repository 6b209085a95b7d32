"""Counting baselines for character-level language models: n-gram models with Kneser–Ney or add-k smoothing.

An n-gram model predicts a character from the n − 1 characters before it, with probabilities estimated from counts
in a training text. Two smoothings, so that no character gets probability 0:

- ``"kneser-ney"``: **interpolated Kneser–Ney** with one absolute discount per order (Chen & Goodman's
  "interpolated Kneser–Ney"). For a context h of m − 1 characters and its shortened context h' (h without its
  first character),

      p_m(w | h) = max(c_m(h w) − D_m, 0) / c_m(h·) + D_m N_m(h·) / c_m(h·) · p_{m−1}(w | h'),

  where c_m(h·) = Σ_w c_m(h w) and N_m(h·) is the number of distinct w with c_m(h w) > 0. If h was never seen
  (c_m(h·) = 0), p_m(w | h) = p_{m−1}(w | h'). The highest order counts occurrences in the text; every lower
  order counts **continuations**, c_m(g) = the number of distinct characters that precede the m-gram g in the
  text, so that a character that only ever follows one other character (the "u" after "q") is not also given a
  large share when backing off. The recursion ends in the uniform distribution p_0(w) = 1 / V over the whole
  vocabulary, so unseen characters keep a little mass. The discount of order m is D_m = t_1 / (t_1 + 2 t_2),
  t_i the number of m-grams whose (occurrence or continuation) count is exactly i (0.5 if no m-gram has count 1,
  which happens only on tiny texts).
- ``"add-k"``: p(w | h) = (c(h w) + k) / (c(h·) + k V): add ``k`` to every count of the highest order, no
  interpolation (a context with fewer than n − 1 characters, at the start of a text, uses the add-k model of its
  own length).

Everything is counted with numpy: an m-gram is hashed to the integer Σ_i w_i V^(m−1−i) (exact, no collisions, as
long as V^m < 2^63), and the counts are the unique values of those integers. Fitting all orders up to 5 on a few
million characters takes a few seconds.

:func:`ngram_bpc` scores a text: the mean of −log₂ p(w_i | preceding characters) over the characters 1, ..., N − 1
of the text (character 0 has no context and is not predicted, as for the networks); near the start of the text,
where fewer than n − 1 characters precede, the model uses the context it has (the lower orders).
"""

from __future__ import annotations

import numpy as np

from okcore._checks import check_positive_float, check_positive_int

__all__ = ["SMOOTHINGS", "NGramModel", "ngram_bpc"]

SMOOTHINGS = ("kneser-ney", "add-k")


class _Table:
    """Counts of the m-grams of one order, and of their contexts (the first m − 1 characters).

    ``codes``: sorted unique m-gram codes; ``counts``: their counts; ``ctx_codes``: sorted unique context codes;
    ``ctx_total``: Σ_w c(h w) per context; ``ctx_types``: number of distinct w per context.
    """

    def __init__(self, codes: np.ndarray, counts: np.ndarray, V: int) -> None:
        self.codes, self.counts = codes, counts.astype(np.float64)
        ctx = codes // V  # sorted, since codes are
        self.ctx_codes, start, self.ctx_types = np.unique(ctx, return_index=True, return_counts=True)
        self.ctx_total = np.add.reduceat(self.counts, start) if codes.size else np.zeros(0)

    @staticmethod
    def _find(table: np.ndarray, values: np.ndarray, data: np.ndarray) -> np.ndarray:
        """data[i] where table[i] == value, else 0."""
        if table.size == 0:
            return np.zeros(values.shape)
        pos = np.minimum(np.searchsorted(table, values), table.size - 1)
        return np.where(table[pos] == values, data[pos], 0.0)

    def count(self, codes: np.ndarray) -> np.ndarray:
        return self._find(self.codes, codes, self.counts)

    def context(self, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(c(h·), N(h·)) of each context code."""
        return self._find(self.ctx_codes, ctx, self.ctx_total), self._find(self.ctx_codes, ctx, self.ctx_types)


def _codes(ids: np.ndarray, m: int, V: int) -> np.ndarray:
    """Code of every m-gram of ``ids`` (len(ids) − m + 1 of them): Σ_i ids[j + i] V^(m−1−i)."""
    L = ids.size - m + 1
    code = np.zeros(max(L, 0), dtype=np.int64)
    for i in range(m):
        code = code * V + ids[i : i + L]
    return code


class NGramModel:
    """An n-gram model of characters fitted to a training text (see the module docstring).

    Args:
        train_ids: the training text as integer ids in [0, V), (N,).
        V: the vocabulary size.
        order: n >= 1 (1: unigram, 2: bigram, ...).
        smoothing: ``"kneser-ney"`` (interpolated Kneser–Ney) or ``"add-k"``.
        k: the pseudo-count of ``"add-k"`` (default 1).

    Attributes: ``order``, ``V``, ``smoothing``, ``k``, ``discounts`` (D_1, ..., D_n for Kneser–Ney).
    """

    def __init__(self, train_ids: object, V: int, order: int, smoothing: str = "kneser-ney", k: float = 1.0) -> None:
        self.V = check_positive_int("V", V)
        self.order = check_positive_int("order", order)
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing: expected one of {', '.join(SMOOTHINGS)}, got {smoothing!r}")
        self.smoothing = smoothing
        self.k = check_positive_float("k", k)
        if self.V**self.order >= 2**62:
            raise ValueError(f"order: V^order must stay below 2^62 for the codes, got V = {self.V}, order {order}")
        ids = _as_ids(train_ids, self.V, "train_ids")
        if ids.size < self.order:
            raise ValueError(f"train_ids: expected at least order = {self.order} characters, got {ids.size}")
        self.tables: list[_Table] = []  # tables[m − 1]: order m
        self.discounts: list[float] = []
        if smoothing == "add-k":  # occurrence counts at every order
            self.tables = [_Table(*np.unique(_codes(ids, m, self.V), return_counts=True), self.V) for m in self.orders]
            return
        # the highest order counts occurrences, each lower order m continuations: the distinct (m+1)-grams of
        # the text, without their first character, one entry per distinct predecessor
        for m in self.orders:
            seen, counts = np.unique(_codes(ids, m + (m < self.order), self.V), return_counts=True)
            if m < self.order:
                seen, counts = np.unique(seen % self.V**m, return_counts=True)
            self.tables.append(_Table(seen, counts, self.V))
        for t in self.tables:
            t1, t2 = np.sum(t.counts == 1), np.sum(t.counts == 2)
            self.discounts.append(float(t1 / (t1 + 2 * t2)) if t1 > 0 else 0.5)

    @property
    def orders(self) -> range:
        return range(1, self.order + 1)

    def __repr__(self) -> str:
        extra = f", k={self.k:g}" if self.smoothing == "add-k" else ""
        return f"NGramModel(order={self.order}, V={self.V}, smoothing={self.smoothing!r}{extra})"

    def prob(self, contexts: object, targets: object, lengths: object | None = None) -> np.ndarray:
        """p(target | context) for M pairs at once, (M,).

        Args:
            contexts: (M, order − 1) ids: the characters before each target, the last one in the last column.
            targets: (M,) ids.
            lengths: (M,) how many of the last characters of each context are real (0 … order − 1; default all);
                a shorter context backs off to the lower orders, as at the start of a text.
        """
        c = np.asarray(contexts)
        M = np.asarray(targets).shape[0] if np.ndim(targets) == 1 else -1
        if c.ndim != 2 or c.shape != (M, self.order - 1):
            raise ValueError(
                f"contexts: expected shape (M, {self.order - 1}) with M = len(targets), got {c.shape} for M = {M}"
            )
        c = _as_ids(c.reshape(-1), self.V, "contexts").reshape(c.shape)
        w = _as_ids(targets, self.V, "targets")
        if lengths is None:
            lens = np.full(M, self.order - 1)
        else:
            lens = np.asarray(lengths)
            if lens.shape != (M,) or lens.size and (lens.min() < 0 or lens.max() > self.order - 1):
                raise ValueError(f"lengths: expected (M,) integers from 0 to {self.order - 1}, got shape {lens.shape}")
        p = np.full(M, 1.0 / self.V)
        ctx = np.zeros(M, dtype=np.int64)  # code of the last m − 1 characters of each context
        for m in self.orders:
            if m > 1:
                ctx += c[:, self.order - m] * self.V ** (m - 2)  # one more character, in front
            live = lens >= m - 1
            table = self.tables[m - 1]
            total, types = table.context(ctx)
            count = table.count(ctx * self.V + w)
            if self.smoothing == "add-k":  # the longest context available decides
                p = np.where(live, (count + self.k) / (total + self.k * self.V), p)
                continue
            D = self.discounts[m - 1]
            seen = live & (total > 0)
            p = np.where(seen, (np.maximum(count - D, 0.0) + D * types * p) / np.where(seen, total, 1.0), p)
        return p

    def distribution(self, contexts: object, lengths: object | None = None) -> np.ndarray:
        """p(· | context) over the V symbols for M contexts, (M, V)."""
        c = np.asarray(contexts)
        M = c.shape[0] if c.ndim == 2 else -1
        rep = np.repeat(c, self.V, axis=0) if c.ndim == 2 else c
        lens = None if lengths is None else np.repeat(np.asarray(lengths), self.V)
        w = np.tile(np.arange(self.V), max(M, 0))
        return self.prob(rep, w, lens).reshape(M, self.V)

    def bits(self, eval_ids: object) -> float:
        """Bits per character on a text: mean of −log₂ p(w_i | the up to n − 1 characters before it), i >= 1."""
        ids = _as_ids(eval_ids, self.V, "eval_ids")
        if ids.size < 2:
            raise ValueError(f"eval_ids: expected at least 2 characters, got {ids.size}")
        m = self.order - 1
        pos = np.arange(1, ids.size)
        lens = np.minimum(pos, m)
        idx = pos[:, None] - m + np.arange(m)[None, :]
        contexts = ids[np.maximum(idx, 0)] if m > 0 else np.zeros((pos.size, 0), dtype=np.int64)
        return float(-np.mean(np.log2(self.prob(contexts, ids[pos], lens))))


def ngram_bpc(
    train_ids: object, eval_ids: object, V: int, order: int, smoothing: str = "kneser-ney", k: float = 1.0
) -> float:
    """Bits per character on ``eval_ids`` of an n-gram model fitted to ``train_ids`` (see :class:`NGramModel`)."""
    return NGramModel(train_ids, V, order, smoothing, k).bits(eval_ids)


def _as_ids(ids: object, size: int, name: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name}: expected a 1-D integer array, got shape {arr.shape} and dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= size):
        raise ValueError(f"{name}: expected values in [0, {size}), got values from {arr.min()} to {arr.max()}")
    return arr.astype(np.int64)
