"""Input validation shared by the public functions.

Every check raises a ``TypeError`` or ``ValueError`` whose message names the argument, says what was expected and
what was given. Nothing is broadcast silently.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"


def check_rng(name: str, rng: object, owner: str | None = None, also: str = "") -> np.random.Generator:
    """A ``numpy.random.Generator`` from what the Scientific Python convention (SPEC 7) accepts as ``rng``.

    Accepted: a ``Generator`` (returned as it is, so draws advance it), an integer seed >= 0, a
    ``numpy.random.SeedSequence`` or a ``BitGenerator`` (each turned into ``np.random.default_rng(rng)``).
    ``None`` is refused: okcore never draws from fresh OS entropy unless asked, so every result can be reproduced;
    pass ``np.random.default_rng()`` for a fresh stream. The legacy ``RandomState`` is refused too. ``owner``
    (e.g. "GatedCell") names who needs the randomness in the message for a missing ``rng``; ``also`` describes
    further accepted values (e.g. ", or a sign source") for the messages.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence | np.random.BitGenerator):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name}: expected an integer seed >= 0 or a numpy.random.Generator, got {rng}")
        return np.random.default_rng(int(rng))
    accepted = f"a numpy.random.Generator (e.g. np.random.default_rng(0)) or an integer seed{also}"
    if rng is None:
        who = f"{owner} draws random numbers and needs" if owner else "expected"
        example = f", e.g. {owner}(..., {name}=0)" if owner else ""
        raise TypeError(
            f"{name}: {who} {accepted}{example}; got None (pass np.random.default_rng() for fresh, "
            "unreproducible randomness)"
        )
    raise TypeError(f"{name}: expected {accepted}, got {_describe(rng)}")


def check_positive_int(name: str, value: object) -> int:
    """Require a positive integer (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a positive integer, got {_describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value}")
    return int(value)


def check_nonneg_int(name: str, value: object) -> int:
    """Require an integer >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected a non-negative integer, got {_describe(value)}")
    if value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value}")
    return int(value)


def check_positive_float(name: str, value: object) -> float:
    """Require a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a positive number, got {_describe(value)}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value}")
    return float(value)


DTYPES = ("float64", "float32")


def check_dtype(name: str, value: object) -> np.dtype:
    """``float64`` or ``float32``, given as a name, a numpy type or a dtype; returned as a ``np.dtype``."""
    try:
        dtype = np.dtype(value) if value is not None and not isinstance(value, bool) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise ValueError(f"{name}: expected one of {', '.join(DTYPES)}, got {_describe(value)}")
    return dtype


def check_array(
    name: str,
    value: object,
    shape: Sequence[int | None],
    *,
    dtype: type | np.dtype | None = np.float64,
    finite: bool = True,
) -> np.ndarray:
    """Return ``value`` as an array with exactly the given shape (``None`` matches any size).

    Real inputs are converted to ``dtype`` (float64 by default); booleans and non-numeric arrays are refused.
    """
    if not isinstance(value, np.ndarray | list | tuple | numbers.Number):
        raise TypeError(f"{name}: expected an array of shape {_shape_text(shape)}, got {_describe(value)}")
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: expected a real array, got dtype {arr.dtype}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        raise ValueError(f"{name}: expected shape {_shape_text(shape)}, got shape {arr.shape}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got {int(np.sum(~np.isfinite(arr)))} NaN/inf entries")
    return arr


def check_int_array(name: str, value: object, shape: Sequence[int | None], upper: int) -> np.ndarray:
    """Integer array of the given shape with entries in ``[0, upper)``."""
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected an integer array of shape {_shape_text(shape)}, got dtype {arr.dtype}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        raise ValueError(f"{name}: expected shape {_shape_text(shape)}, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        raise ValueError(f"{name}: expected class indices in [0, {upper}), got values from {arr.min()} to {arr.max()}")
    return arr


def check_mask(name: str, value: object, batch: int) -> np.ndarray:
    """Boolean mask of shape (batch,)."""
    arr = np.asarray(value)
    if arr.dtype != bool:
        raise TypeError(f"{name}: expected a boolean array of shape ({batch},), got dtype {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"{name}: expected shape ({batch},), got shape {arr.shape}")
    return arr


def _shape_text(shape: Sequence[int | None]) -> str:
    inner = ", ".join("any" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"
