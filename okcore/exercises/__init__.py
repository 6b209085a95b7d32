"""Exercises of the workbook: automatic checks and reference solutions.

Each notebook's exercises live in a module ``okcore.exercises.nbXX`` that registers them with :func:`exercise`.
In a notebook:

>>> from okcore.exercises import check, solution
>>> answer = ...            # the reader's work
>>> check("01.1", answer)   # prints whether it is right, and why not

``check`` returns True or False and never raises on a wrong answer, so a notebook with unanswered exercises
still runs top to bottom. ``solution(key)`` returns the reference answer (computed by code, never stored), and
``show_solution(key)`` prints the code that computes it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Exercise", "exercise", "check", "solution", "show_solution", "registered"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``checker(answer)`` returns (ok, message); ``reference()`` computes the solution."""

    key: str
    title: str
    checker: Callable[[Any], tuple[bool, str]]
    reference: Callable[[], Any]


_REGISTRY: dict[str, Exercise] = {}


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
    """Check ``answer`` for exercise ``key``; print a verdict and return whether it is right."""
    ex = _lookup(key)
    if answer is None or answer is Ellipsis:
        print(f"Exercise {key} ({ex.title}): not answered yet.")
        return False
    try:
        ok, message = ex.checker(answer)
    except Exception as err:  # a malformed answer is feedback for the reader, not a crash
        ok, message = False, f"could not check the answer: {type(err).__name__}: {err}"
    print(f"Exercise {key} ({ex.title}): {'correct' if ok else 'not yet'}. {message}".rstrip())
    return bool(ok)


def solution(key: str) -> Any:
    """The reference answer of exercise ``key``, computed fresh."""
    return _lookup(key).reference()


def show_solution(key: str) -> None:
    """Print the code of the reference solution of exercise ``key``."""
    print(inspect.getsource(_lookup(key).reference))
