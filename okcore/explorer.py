"""The computation behind the noise explorer (notebook 09): relative variance of the estimators, W fixed.

Arrays in, arrays out, no widgets. A *setting* is (cell type, hidden size n, sequence length T, number of samples,
seed). For a setting, :func:`make_problem` builds the network and one random input sequence from
``np.random.default_rng(seed)``; every estimator is then run ``n_samples`` times side by side on that same
sequence (the samples are the batch rows of :func:`okcore.noise.measure_noise`) and compared with exact RTRL:

    relative variance at step t = mean over samples of ‖G̃_t − G_t‖²_F / ‖G_t‖²_F.

Each (estimator, rank) is measured on its own, with signs from its own generator
``np.random.default_rng([seed, family, rank])``, so a curve depends only on its own parameters: switching other
estimators on or off never changes it. KF-avg with r = 1 *is* KF-RTRL (one chain, the same signs), so the two
share one measurement. UORO and KF-RTRL have no rank.

Every curve is kept in a small LRU cache keyed by its parameters, so returning to a setting seen before costs
nothing; :func:`clear_cache` empties it (e.g. to check that a fresh computation gives the same numbers).
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np

from okcore.approx.kf import KFRTRL, KFAverage
from okcore.approx.ok import OK
from okcore.approx.uoro import UORO
from okcore.cells import GatedCell, TanhCell, _Cell
from okcore.noise import measure_noise

__all__ = [
    "ESTIMATORS",
    "RANKED",
    "CELL_TYPES",
    "N_IN",
    "DEFAULT_RANKS",
    "make_problem",
    "noise_curve",
    "noise_curves",
    "noise_vs_rank",
    "noise_vs_size",
    "runs_needed",
    "clear_cache",
    "cache_info",
]

#: The estimators the explorer compares, in the order they are drawn.
ESTIMATORS: tuple[str, ...] = ("UORO", "KF", "KF-avg", "OK")
#: The estimators that have a rank r (number of Kronecker terms); UORO and KF are rank one.
RANKED: tuple[str, ...] = ("KF-avg", "OK")
#: Cell types by name.
CELL_TYPES: dict[str, type[_Cell]] = {"gated": GatedCell, "tanh": TanhCell}
#: Size of the one-hot input alphabet (the inputs x_t are random symbols out of N_IN).
N_IN = 4
#: The ranks of the rank sweep unless others are asked for.
DEFAULT_RANKS: tuple[int, ...] = (1, 2, 4, 8)

# Which generator family an estimator draws its signs from. KF and KF-avg share one: KF-avg(1) equals KF.
_FAMILY = {"UORO": 0, "KF": 1, "KF-avg": 1, "OK": 2}
_CACHE_SIZE = 512


# --- argument checks --------------------------------------------------------------------------------------------


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {low}, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value}")
    return int(value)


def _check_cell_type(cell_type: object) -> str:
    if not isinstance(cell_type, str) or cell_type not in CELL_TYPES:
        known = ", ".join(repr(c) for c in CELL_TYPES)
        raise ValueError(f"cell_type: expected one of {known}, got {cell_type!r}")
    return cell_type


def _check_name(name: object) -> str:
    if not isinstance(name, str) or name not in ESTIMATORS:
        known = ", ".join(repr(e) for e in ESTIMATORS)
        raise ValueError(f"estimator: expected one of {known}, got {name!r}")
    return name


def _check_estimators(estimators: object) -> tuple[str, ...]:
    if isinstance(estimators, str):
        estimators = (estimators,)
    if not isinstance(estimators, Iterable):
        raise TypeError(f"estimators: expected a sequence of names out of {ESTIMATORS}, got {estimators!r}")
    names = tuple(estimators)
    if not names:
        raise ValueError(f"estimators: expected at least one of {ESTIMATORS}, got none")
    for name in names:
        _check_name(name)
    if len(set(names)) != len(names):
        raise ValueError(f"estimators: each name at most once, got {names}")
    # Always in the canonical order, so that equal selections give equal results (and cache keys).
    return tuple(e for e in ESTIMATORS if e in names)


def _check_ranks(ranks: object) -> tuple[int, ...]:
    if not isinstance(ranks, Iterable) or isinstance(ranks, str):
        raise TypeError(f"ranks: expected a sequence of integers >= 1, got {ranks!r}")
    values = tuple(_check_int("ranks", r, 1) for r in ranks)
    if not values:
        raise ValueError("ranks: expected at least one rank, got none")
    return tuple(sorted(set(values)))


def _check_statistic(statistic: object) -> Callable[[np.ndarray], float]:
    reducers = {"final": lambda curve: float(curve[-1]), "mean": lambda curve: float(np.mean(curve))}
    if not isinstance(statistic, str) or statistic not in reducers:
        raise ValueError(f"statistic: expected 'final' or 'mean', got {statistic!r}")
    return reducers[statistic]


def _setting(cell_type: object, n_hidden: object, T: object, n_samples: object, seed: object) -> tuple:
    return (
        _check_cell_type(cell_type),
        _check_int("n_hidden", n_hidden, 1),
        _check_int("T", T, 1),
        _check_int("n_samples", n_samples, 1),
        _check_int("seed", seed, 0),
    )


def _canonical(name: str, rank: int) -> tuple[str, int]:
    """(name, rank) of the measurement behind a curve: rank 1 for UORO and KF, and KF-avg(1) is KF."""
    if name in RANKED:
        if name == "KF-avg" and rank == 1:
            return "KF", 1
        return name, rank
    return name, 1


# --- the problem and the cached measurements ------------------------------------------------------------------


def make_problem(cell_type: str, n_hidden: int, T: int, seed: int) -> tuple[_Cell, np.ndarray]:
    """The network and input sequence of a setting: (cell, xs) with xs (T, N_IN) one-hot random symbols.

    Both come from ``np.random.default_rng(seed)``: first the weights W (the cells' default scale 1/√K), then the
    T symbols.
    """
    cell_type = _check_cell_type(cell_type)
    n_hidden = _check_int("n_hidden", n_hidden, 1)
    T = _check_int("T", T, 1)
    seed = _check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    cell = CELL_TYPES[cell_type](N_IN, n_hidden, rng)
    xs = np.eye(N_IN)[rng.integers(0, N_IN, size=T)]
    return cell, xs


def _spec(name: str, rank: int) -> object:
    if name == "UORO":
        return UORO
    if name == "KF":
        return KFRTRL
    if name == "KF-avg":
        return (KFAverage, {"rank": rank})
    return (OK, {"rank": rank})


class _LRU:
    """A least-recently-used cache of measurements that, unlike ``functools.lru_cache``, can say what it holds."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: tuple) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key in self._items:
            self.hits += 1
            self._items.move_to_end(key)
            return self._items[key]
        self.misses += 1
        value = compute()
        self._items[key] = value
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()
        self.hits = self.misses = 0


_CACHE = _LRU(_CACHE_SIZE)


def _measure(cell_type: str, n_hidden: int, T: int, n_samples: int, seed: int, name: str, rank: int) -> np.ndarray:
    """The cached relative-variance curve of one (canonical) estimator and rank in one setting."""

    def compute() -> np.ndarray:
        cell, xs = make_problem(cell_type, n_hidden, T, seed)
        rng = np.random.default_rng([seed, _FAMILY[name], rank])
        result = measure_noise(cell, xs, {name: _spec(name, rank)}, n_samples, rng)
        curve = np.array(result.relative_variance[name], dtype=np.float64)
        curve.setflags(write=False)  # shared by every caller: nobody may change it
        return curve

    return _CACHE.get((cell_type, n_hidden, T, n_samples, seed, name, rank), compute)


def noise_curve(
    name: str,
    rank: int = 1,
    cell_type: str = "gated",
    n_hidden: int = 16,
    T: int = 50,
    n_samples: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """Relative variance of one estimator at t = 1..T, shape (T,) (read-only; cached).

    ``rank`` is used by KF-avg and OK and ignored by UORO and KF.
    """
    name = _check_name(name)
    rank = _check_int("rank", rank, 1)
    setting = _setting(cell_type, n_hidden, T, n_samples, seed)
    return _measure(*setting, *_canonical(name, rank))


def noise_curves(
    cell_type: str = "gated",
    n_hidden: int = 16,
    T: int = 50,
    rank: int = 2,
    estimators: Iterable[str] = ESTIMATORS,
    n_samples: int = 64,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Relative variance E‖G̃_t − G_t‖²/‖G_t‖² against t = 1..T for each estimator: name -> (T,) array.

    KF-avg and OK use ``rank`` terms; UORO and KF are rank one. The keys come in the order of ``ESTIMATORS``.
    """
    names = _check_estimators(estimators)
    rank = _check_int("rank", rank, 1)
    setting = _setting(cell_type, n_hidden, T, n_samples, seed)
    return {name: _measure(*setting, *_canonical(name, rank)) for name in names}


def noise_vs_rank(
    cell_type: str = "gated",
    n_hidden: int = 16,
    T: int = 50,
    ranks: Iterable[int] = DEFAULT_RANKS,
    estimators: Iterable[str] = ESTIMATORS,
    n_samples: int = 64,
    seed: int = 0,
    statistic: str = "mean",
) -> dict[str, np.ndarray]:
    """Relative variance averaged over t = 1..T (or, with ``statistic="final"``, at t = T) against the rank.

    Returns a dict with ``"ranks"`` (R,) (sorted, without repeats) and, for each chosen estimator, an (R,) array
    for KF-avg and OK and a 0-d array for the rank-one UORO and KF (drawn as horizontal lines). Each value is the
    mean (or the last entry) of the corresponding :func:`noise_curves` curve: the same cached measurement.
    """
    names = _check_estimators(estimators)
    rank_list = _check_ranks(ranks)
    reduce = _check_statistic(statistic)
    setting = _setting(cell_type, n_hidden, T, n_samples, seed)
    out: dict[str, np.ndarray] = {"ranks": np.array(rank_list)}
    for name in names:
        if name in RANKED:
            out[name] = np.array([reduce(_measure(*setting, *_canonical(name, r))) for r in rank_list])
        else:
            out[name] = np.array(reduce(_measure(*setting, name, 1)))
    return out


def noise_vs_size(
    cell_type: str = "gated",
    sizes: Iterable[int] = (8, 16, 32),
    T: int = 50,
    rank: int = 2,
    estimators: Iterable[str] = ("UORO", "KF"),
    n_samples: int = 64,
    seed: int = 0,
    statistic: str = "mean",
) -> dict[str, np.ndarray]:
    """Relative variance averaged over t (or, with ``statistic="final"``, at t = T) against the hidden size n.

    Returns a dict with ``"sizes"`` (S,) (sorted, without repeats) and an (S,) array per chosen estimator. Each
    size is its own setting: its own network and input sequence from the same ``seed``.
    """
    names = _check_estimators(estimators)
    rank = _check_int("rank", rank, 1)
    if not isinstance(sizes, Iterable) or isinstance(sizes, str):
        raise TypeError(f"sizes: expected a sequence of integers >= 1, got {sizes!r}")
    size_list = tuple(sorted({_check_int("sizes", n, 1) for n in sizes}))
    if not size_list:
        raise ValueError("sizes: expected at least one hidden size, got none")
    reduce = _check_statistic(statistic)
    out: dict[str, np.ndarray] = {"sizes": np.array(size_list)}
    for name in names:
        values = []
        for n in size_list:
            setting = _setting(cell_type, n, T, n_samples, seed)
            values.append(reduce(_measure(*setting, *_canonical(name, rank))))
        out[name] = np.array(values)
    return out


def runs_needed(
    cell_type: str = "gated",
    n_hidden: int = 16,
    T: int = 50,
    rank: int = 2,
    estimators: Iterable[str] = ESTIMATORS,
    n_samples: int = 64,
    seed: int = 0,
    ranks: Iterable[int] | None = DEFAULT_RANKS,
) -> list[tuple[str, int]]:
    """The (estimator, rank) measurements that :func:`noise_curves` (and, unless ``ranks`` is None,
    :func:`noise_vs_rank` over ``ranks``) need and that are not cached yet, cheapest first.

    A dashboard can run them one by one with :func:`noise_curve` and report progress in between.
    """
    names = _check_estimators(estimators)
    rank = _check_int("rank", rank, 1)
    setting = _setting(cell_type, n_hidden, T, n_samples, seed)
    wanted = {_canonical(name, rank) for name in names}
    if ranks is not None:
        for name in names:
            for r in _check_ranks(ranks) if name in RANKED else (1,):
                wanted.add(_canonical(name, r))
    todo = [key for key in wanted if (*setting, *key) not in _CACHE]
    return sorted(todo, key=lambda key: (key[1], ESTIMATORS.index(key[0])))


def clear_cache() -> None:
    """Forget every cached measurement."""
    _CACHE.clear()


def cache_info() -> dict[str, int]:
    """Hits, misses, current size and maximum size of the measurement cache."""
    return {"hits": _CACHE.hits, "misses": _CACHE.misses, "size": len(_CACHE), "maxsize": _CACHE.maxsize}
