"""The checkers of notebook 12 accept the reference answers and reject typical wrong ones with the message that names
the mistake; no message for a wrong prediction prints the reference answer."""

from __future__ import annotations

import pytest

from okcore import costs
from okcore.exercises import accepted, check, solution


def verdict(key, answer, capsys):
    ok = check(key, answer)
    return ok, capsys.readouterr().out


def _bytes(numbers_only=False, no_batch=False, no_rank=False, no_bias=False, k_is_n=False, dense=False, off=1):
    """An estimate_bytes with one chosen mistake."""

    def estimate_bytes(method, n, rank, n_in, batch):
        K, k = n_in + n + (0 if no_bias else 1), (n if k_is_n else 2 * n)
        if method == "exact" or dense:
            per_row = n * K * k
        elif method == "uoro":
            per_row = n + K * k
        else:
            per_row = (1 if no_rank else rank) * (K + n * k)
        return (1 if numbers_only else 8) * (1 if no_batch else batch) * per_row * off

    return estimate_bytes


def test_12_1_reference_passes_and_runs_later(capsys):
    reference = solution("12.1")
    ok, out = verdict("12.1", reference, capsys)
    assert ok and "correct. The counts agree with okcore.costs.estimate_bytes" in out
    assert accepted("12.1") is reference
    for method in ("exact", "uoro", "kf", "kf-avg", "ok"):
        rank = 4 if method in costs.RANKED else 1
        assert reference(method, 128, rank, costs.N_IN, 16) == costs.estimate_bytes(method, 128, rank, batch=16)


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ({"numbers_only": True}, "This counts numbers, not bytes: float64 takes 8 bytes each (for exact, n = "),
        ({"no_batch": True}, "Every batch row keeps its own estimate: multiply by the batch size (for exact"),
        ({"no_rank": True}, "kf-avg keeps r = "),
        ({"no_bias": True}, "K = n_in + n + 1: the bias is a column of W too (for exact"),
        ({"k_is_n": True}, "The gated cell has k = 2n columns of W, not n (for exact"),
        ({"dense": True}, "uoro does not store G densely: it keeps factors"),
        ({"off": 3}, "bytes, got "),
    ],
)
def test_12_1_mistakes_are_named(mistake, message, capsys):
    for _ in range(5):  # the sizes are random: the message must name the mistake for every draw
        ok, out = verdict("12.1", _bytes(**mistake), capsys)
        assert not ok and message in out, out
    if mistake == {"off": 3}:
        assert "(off by a factor 3)" in out


def test_12_1_malformed_answers(capsys):
    def skeleton(method, n, rank, n_in, batch):
        pass

    def broken(method, n, rank, n_in, batch):
        return [n][rank]

    for answer, message in [
        (skeleton, "returned None; expected a number of bytes. Does it end with return?"),
        (lambda method, n, rank, n_in, batch: "8 MB", "returned str; expected a number of bytes."),
        (lambda method, n, rank, n_in, batch: True, "returned the number True; expected a number of bytes."),
        (broken, "Your function estimate_bytes raised an error in the line `return [n][rank]`"),
        (5e6, "Expected a function estimate_bytes(method, n, rank, n_in, batch), got the number 5e+06."),
    ]:
        ok, out = verdict("12.1", answer, capsys)
        assert not ok and message in out, out
    ok, out = verdict("12.1", None, capsys)
    assert not ok and "not answered yet" in out


def test_12_2_cross_rank(capsys):
    want = solution("12.2")
    assert want == 19
    ok, out = verdict("12.2", want, capsys)
    assert ok and "bring the crossing down to r = 19." in out
    for wrong, message in [
        (37, "That counts the products H A_j only"),
        (36, "That counts the products H A_j only"),
        (8, "Compare update_flops('ok', 32, r) with update_flops('exact', 32) as r grows."),
        (20, "Compare update_flops"),
        (19.0, "Expected a whole number (a rank), got the number 19."),
        (True, "Expected a whole number (a rank), got the number True."),
    ]:
        ok, out = verdict("12.2", wrong, capsys)
        assert not ok and message in out, out
        if not isinstance(wrong, float):
            assert "19" not in out.split("not yet.", 1)[1], out


def test_12_3_batching(capsys):
    assert solution("12.3") == "c"
    ok, out = verdict("12.3", " C ", capsys)
    assert ok and "correct. At n = 128 the product H·A takes 2 n² k = 8.4 Mflop per sequence" in out
    for wrong, message in [
        ("a", "Batching shares the per-call overhead, not the arithmetic: each row has its own H·A."),
        ("b", "0.3 is what batching gives where the calls dominate (small n); at n = 128 the product does."),
        ("d", "Expected one of ['a', 'b', 'c'], got 'd'."),
        (0.3, "Expected one of ['a', 'b', 'c'], got 0.3."),
    ]:
        ok, out = verdict("12.3", wrong, capsys)
        assert not ok and message in out, out
        assert "'c'" not in out.split("not yet.", 1)[1].replace("['a', 'b', 'c']", ""), out
