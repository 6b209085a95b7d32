"""Exercises of the workbook: automatic checks and reference solutions.

Each notebook's exercises live in a module ``okcore.exercises.nbXX`` that registers them with :func:`exercise`.
In a notebook:

>>> from okcore.exercises import check
>>> answer = ...            # the reader's work
>>> check("01.1", answer)   # prints whether it is right, and why not

``check`` returns True or False and never raises on a wrong answer, so a notebook with unanswered exercises
still runs top to bottom. ``accepted(key)`` returns the answer that the latest ``check`` of ``key`` in this session
accepted: None if there was none, or if the latest check failed (even after an earlier pass), so that a later
cell runs the reader's function as it now is, or waits, without depending on the names the reader used.
``solution(key)`` returns the reference answer (computed by code, never stored), and ``show_solution(key)`` prints
the code that computes it; the student edition of the workbook (tools/student.py) uses neither. In the notebooks an
exercise cell ends with ``_ = check(key, answer)``, so that only the printed verdict shows.

Checkers call the reader's functions through :func:`call_answer`, which turns an exception raised inside the reader's
code into a plain message (the failing line, what went wrong, the shapes of the arguments) instead of a numpy
traceback, and use :func:`precision_message` to tell a float32 result from a wrong one.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Exercise",
    "AnswerError",
    "exercise",
    "check",
    "accepted",
    "solution",
    "show_solution",
    "registered",
    "call_answer",
    "call_number",
    "describe",
    "explain_exception",
    "precision_message",
]


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``checker(answer)`` returns (ok, message); ``reference()`` computes the solution."""

    key: str
    title: str
    checker: Callable[[Any], tuple[bool, str]]
    reference: Callable[[], Any]


class AnswerError(Exception):
    """The reader's function raised an exception; the message says where and why, in plain words."""


_REGISTRY: dict[str, Exercise] = {}
_ACCEPTED: dict[str, Any] = {}


def exercise(key: str, title: str, reference: Callable[[], Any]) -> Callable:
    """Decorator registering a checker ``f(answer) -> (ok, message)`` under ``key`` (e.g. "01.2")."""

    def register(checker: Callable[[Any], tuple[bool, str]]) -> Callable[[Any], tuple[bool, str]]:
        _REGISTRY[key] = Exercise(key, title, checker, reference)
        return checker

    return register


def _lookup(key: object) -> Exercise:
    if not isinstance(key, str):
        raise TypeError(f"key: expected an exercise key like '01.1', got {type(key).__name__}")
    if key not in _REGISTRY:
        module = f"okcore.exercises.nb{key.split('.')[0]}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none loaded"
        raise ValueError(f"key: expected a known exercise key, got {key!r} (known: {known})")
    return _REGISTRY[key]


def registered() -> list[str]:
    """Keys of the exercises loaded so far."""
    return sorted(_REGISTRY)


def check(key: str, answer: Any) -> bool:
    """Check ``answer`` for exercise ``key``; print a verdict and return whether it is right.

    An accepted answer is remembered for :func:`accepted`; a rejected one forgets the previous accepted answer.
    """
    ex = _lookup(key)
    _ACCEPTED.pop(key, None)
    if answer is None or answer is Ellipsis:
        print(f"Exercise {key} ({ex.title}): not answered yet.")
        return False
    try:
        ok, message = ex.checker(answer)
    except AnswerError as err:
        ok, message = False, str(err)
    except Exception as err:  # a malformed answer is feedback for the reader, not a crash
        ok, message = False, f"The answer could not be checked: {explain_exception(err)}"
    print(f"Exercise {key} ({ex.title}): {'correct' if ok else 'not yet'}. {message}".rstrip())
    if ok:
        _ACCEPTED[key] = answer
    return bool(ok)


def accepted(key: str) -> Any:
    """The answer that ``check(key, ...)`` accepted last in this session, or None if the last check of ``key``
    failed or there was none. Later cells use it to run the reader's own function, whatever names the reader's
    cells bound in between."""
    _lookup(key)
    return _ACCEPTED.get(key)


def solution(key: str) -> Any:
    """The reference answer of exercise ``key``, computed fresh."""
    return _lookup(key).reference()


def show_solution(key: str) -> None:
    """Print the code of the reference solution of exercise ``key``."""
    print(inspect.getsource(_lookup(key).reference))


# --- calling the reader's code --------------------------------------------------------------------------------

_LIBRARY_DIRS = tuple(str(Path(m.__file__).resolve().parent) for m in (np, inspect))  # numpy and the stdlib
_OKCORE_DIR = str(Path(__file__).resolve().parent.parent)


def describe(value: Any) -> str:
    """A short description of an argument or a result: its shape for arrays, its type otherwise."""
    if isinstance(value, np.ndarray):
        dtype = "" if value.dtype == np.float64 else f", {value.dtype}"
        return f"shape {value.shape}{dtype}"
    if isinstance(value, bool | int | float | np.number):
        return f"the number {value:g}" if isinstance(value, float | np.floating) else f"the number {value}"
    if value is None:
        return "None"
    return type(value).__name__


def _is_library(filename: str) -> bool:
    path = str(Path(filename).resolve()) if filename and not filename.startswith("<") else filename
    return path.startswith(_LIBRARY_DIRS) or path.startswith(_OKCORE_DIR)


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def explain_exception(err: BaseException) -> str:
    """What an exception means, in plain words (no numpy jargon), for the kinds a reader's code usually raises."""
    text = str(err)
    name = type(err).__name__
    if isinstance(err, ValueError) and "matmul" in text:
        sizes = re.search(r"size (\d+) is different from (\d+)", text)
        if sizes:
            a, b = sizes.group(2), sizes.group(1)
            return (
                f"a matrix product @ whose factors do not fit: the left factor's last axis has {a} entries but the "
                f"right factor's first axis has {b} (in X @ Y the last size of X must equal the first size of Y)"
            )
        return "a matrix product @ whose factors do not fit (in X @ Y the last size of X must equal the first of Y)"
    if isinstance(err, ValueError) and "could not be broadcast" in text:
        shapes = re.findall(r"\([\d, ]*\)", text)
        return (
            f"an elementwise operation (+, -, *, /) on arrays of shapes {' and '.join(shapes)}, which do not line up "
            "(broadcasting pairs axes from the right; each pair must be equal, or one of them 1)"
        )
    if isinstance(err, ValueError) and "not aligned" in text:
        shapes = re.findall(r"\([\d, ]*\)", text)
        return f"a product (np.dot) of arrays of shapes {' and '.join(shapes)}, whose inner sizes differ"
    if isinstance(err, ValueError) and "cannot reshape" in text:
        nums = _numbers(text)
        shape = re.search(r"into shape (\(.*\))", text)
        return (
            f"a reshape that changes the number of entries (the array has {nums[0] if nums else '?'} entries, the "
            f"shape {shape.group(1) if shape else 'asked for'} holds a different number)"
        )
    if isinstance(err, ValueError) and ("einstein sum" in text.lower() or "einsum" in text.lower()):
        return f"an np.einsum whose subscripts do not match the arrays' shapes ({text})"
    if isinstance(err, IndexError):
        return f"an index outside an array ({text})"
    if isinstance(err, TypeError) and "NoneType" in text:
        return f"a value that is None was used in a computation ({text}): does every function end with return?"
    if isinstance(err, np.linalg.LinAlgError):
        return f"a linear-algebra routine failed ({text})"
    return f"{name}: {text}"


def call_answer(answer: Callable, name: str, arguments: dict[str, Any]) -> Any:
    """Call the reader's function ``answer`` with copies of ``arguments`` (passed by position, in order).

    If it raises, an :class:`AnswerError` says which line of the reader's code failed, what the error means and the
    shapes of the arguments it was given (never a raw numpy traceback).
    """
    try:
        return answer(*(copy.deepcopy(v) for v in arguments.values()))
    except Exception as err:
        frames = [f for f in traceback.extract_tb(err.__traceback__)[1:] if not _is_library(f.filename)]
        where = ""
        if frames and frames[-1].line:
            where = f" in the line `{frames[-1].line.strip()}`"
        args = ", ".join(f"{key} {describe(value)}" for key, value in arguments.items())
        raise AnswerError(
            f"Your function {name} raised an error{where}: {explain_exception(err)}. It was called with {args}."
        ) from None


def call_number(answer: Callable, name: str, arguments: dict[str, Any]) -> float:
    """:func:`call_answer` for a function that must return one real number; AnswerError otherwise."""
    result = call_answer(answer, name, arguments)
    if isinstance(result, np.ndarray) and result.size == 1:
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, int | float | np.integer | np.floating):
        args = ", ".join(f"{key} {describe(value)}" for key, value in arguments.items())
        raise AnswerError(f"{name} should return one number; called with {args} it returned {describe(result)}.")
    return float(result)


def _as_arrays(values: Any) -> list[np.ndarray]:
    if isinstance(values, np.ndarray):
        return [values]
    if isinstance(values, list | tuple):
        return [a for v in values for a in _as_arrays(v)]
    return []


def precision_message(got: Any, want: Any) -> str | None:
    """A message if ``got`` matches ``want`` only to about single (float32) precision, else None.

    ``got`` is what the reader returned (arrays, or tuples/lists of them, before any conversion), ``want`` the
    float64 reference of the same structure.
    """
    got_arrays, want_arrays = _as_arrays(got), _as_arrays(want)
    low = any(a.dtype.kind in "fc" and a.dtype.itemsize < 8 for a in got_arrays)
    if not want_arrays or len(got_arrays) != len(want_arrays):
        return FLOAT32 + "." if low else None
    if any(a.shape != b.shape for a, b in zip(got_arrays, want_arrays, strict=True)):
        return FLOAT32 + " (and the shapes are not right yet)." if low else None
    scale = max(float(np.abs(b).max()) for b in want_arrays) or 1.0
    pairs = zip(got_arrays, want_arrays, strict=True)
    err = max(float(np.abs(np.asarray(a, dtype=np.float64) - b).max()) for a, b in pairs)
    if low and err <= 1e-3 * scale:
        return f"{FLOAT32} (largest deviation {err / scale:.1g} of the largest entry)."
    if low:
        return FLOAT32 + ", and the result is wrong beyond rounding as well."
    if 1e-10 * scale < err <= 1e-5 * scale:
        return (
            f"Close, to {err / scale:.1g} of the largest entry, but not to float64 precision (about 1e-12): is a "
            "part computed in float32, or a small constant (an ε) added somewhere? Compute in float64, without ε."
        )
    return None


FLOAT32 = (
    "Right to float32 precision, but not to float64's: use float64 throughout. The workbook computes in float64; "
    "an array made with dtype=np.float32 (or .astype(np.float32)) keeps only about 7 significant digits"
)
