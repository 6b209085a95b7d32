"""The machinery shared by all checkers (okcore.exercises): remembering accepted answers, explaining an exception
raised in the learner's code in plain words, telling a float32 answer from a wrong one, and never printing the
reference answer of a question with a single right answer."""

from __future__ import annotations

import numpy as np
import pytest

from okcore.exercises import (
    AnswerError,
    accepted,
    call_answer,
    call_number,
    check,
    describe,
    precision_message,
    solution,
)


def test_accepted_remembers_the_last_accepted_answer(capsys):
    assert accepted("00.1") is None or callable(accepted("00.1"))
    check("00.1", None)
    assert accepted("00.1") is None  # an unanswered check forgets

    def ratio(n):
        return n

    assert check("00.1", ratio) and accepted("00.1") is ratio
    assert not check("00.1", lambda n: n * n) and accepted("00.1") is None  # a failed check forgets too
    with pytest.raises(ValueError, match="known exercise key"):
        accepted("99.9")
    capsys.readouterr()


def test_call_answer_explains_errors_in_plain_words():
    def mine(D, nu):
        return D @ nu

    with pytest.raises(AnswerError) as err:
        call_answer(mine, "mine", {"D": np.ones((3, 6)), "nu": np.ones(3)})
    text = str(err.value)
    assert "in the line `return D @ nu`" in text
    assert "left factor's last axis has 6 entries but the right factor's first axis has 3" in text
    assert "D shape (3, 6), nu shape (3,)" in text and "gufunc" not in text

    with pytest.raises(AnswerError, match=r"shapes \(3,\) and \(4,\), which do not line up"):
        call_answer(lambda a, b: a + b, "add", {"a": np.ones(3), "b": np.ones(4)})
    with pytest.raises(AnswerError, match="a reshape that changes the number of entries"):
        call_answer(lambda a: a.reshape(4, 4), "f", {"a": np.ones(6)})
    with pytest.raises(AnswerError, match="an index outside an array"):
        call_answer(lambda a: a[7], "f", {"a": np.ones(6)})
    with pytest.raises(AnswerError, match="does every function end with return"):
        call_answer(lambda a: None + a, "f", {"a": 1})
    with pytest.raises(AnswerError, match="ZeroDivisionError"):
        call_answer(lambda a: a / 0, "f", {"a": 1})


def test_call_answer_passes_copies():
    a = np.zeros(3)
    call_answer(lambda x: x.fill(1.0), "f", {"x": a})
    assert np.all(a == 0)


def test_call_number():
    assert call_number(lambda n: np.array([2.5]), "f", {"n": 1}) == 2.5
    with pytest.raises(AnswerError, match="should return one number"):
        call_number(lambda n: [1, 2], "f", {"n": 1})


def test_describe():
    assert describe(np.zeros((2, 3))) == "shape (2, 3)"
    assert describe(np.zeros(2, dtype=np.float32)) == "shape (2,), float32"
    assert describe(None) == "None" and describe(1.5) == "the number 1.5" and describe("x") == "str"


def test_precision_message():
    rng = np.random.default_rng(0)
    want = rng.standard_normal((4, 5))
    assert "float32 precision" in precision_message(want.astype(np.float32), want)
    assert "float32 precision" in precision_message((want.astype(np.float32), want), (want, want))
    assert "ε" in precision_message(want * (1 + 1e-7), want)  # float64 arrays, close only to 1e-7
    assert precision_message(want, want) is None
    assert precision_message(2 * want, want) is None  # simply wrong: another message says why
    assert "wrong beyond rounding" in precision_message((2 * want).astype(np.float32), want)


# Wrong answers for the exercises with a single right number, pair or word: the message may say what is wrong but must
# never print the reference answer itself.
WRONG = {
    "00.2": [8, 16, 5.0, 0.5],
    "01.1": [64.0 * np.log(2), 80.0, 3.0],
    "01.3": [("sharp", 36), ("smooth", 9), ("smooth", 60)],
    "02.2": [256 * 307 * 256 * 8, 256 * 307 * 512, 1.0],
    "03.3": [(1, 1), (5, 1), (1, 2)],
    "03.4": [1, 9],
    "05.3": [(0.0, 1.0), (1.0, 8.0)],
    "06.1": [(1, 4), (1, 2), (3, 4)],
    "07.5": ["a", "b"],
    "08.2": [0.4, 0.6, 0.9],
}


def _spellings(value) -> set[str]:
    if isinstance(value, str):
        return {f'"{value}"', f"'{value}'"}
    if isinstance(value, tuple):
        return {str(value), ", ".join(map(str, value))} | set().union(*(_spellings(v) for v in value if v != 1))
    if isinstance(value, float) and value != int(value):
        return {f"{value:.3g}", f"{value:.4g}", f"{value:.6g}", repr(value)}
    return {str(int(value))} if int(value) > 9 else set()  # small integers occur in any sentence


@pytest.mark.parametrize("key", sorted(WRONG))
def test_wrong_answer_messages_do_not_print_the_reference(key, capsys):
    reference = solution(key)
    for wrong in WRONG[key]:
        assert not check(key, wrong)
        message = capsys.readouterr().out.split("not yet.", 1)[1]
        for spelled in _spellings(reference):
            assert spelled not in message, f"{key}: the message for {wrong!r} prints the reference {spelled!r}"
