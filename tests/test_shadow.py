"""okcore.train.shadow: estimators compared with exact RTRL on one shared trajectory; the copy run file's recall
measurement."""

import numpy as np
import pytest

from okcore.rtrl import ExactRTRL
from okcore.tasks.copy import CopyTask, copy_sequence, recall_accuracy
from okcore.train import train
from okcore.train.runs import RECALL_LENGTHS, copy_config, copy_record, run_copy
from okcore.train.shadow import bin_agreement, shared_trajectory

SMALL = {"steps": 60, "hidden": 4, "log_every": 20}


def run(shadows, every=5, **kw):
    return train(CopyTask(3, rng=0), shared_trajectory(shadows, every), **(SMALL | kw))


def test_exact_drives_the_trajectory_as_if_alone():
    alone = train(CopyTask(3, rng=0), "exact", **SMALL)
    shared = run({"ok-r1": ("ok", 1, None), "uoro": ("uoro", None, None), "tbptt": ("tbptt", None, 3)})
    np.testing.assert_array_equal(shared.cell.W, alone.cell.W)
    assert [r["loss_bits"] for r in shared.history.records] == [r["loss_bits"] for r in alone.history.records]


def test_an_exact_shadow_and_an_untruncated_window_agree_exactly():
    # CopyTask at T_ = 1 has sequences of 4 steps, each starting with a reset: a window of 8 steps sees them whole
    est = run({"exact": lambda cell, batch, rng: ExactRTRL(cell, batch), "long": ("tbptt", None, 8)}).estimator
    assert {a["shadow"] for a in est.agreement} == {"exact", "long"}
    assert [a["step"] for a in est.agreement if a["shadow"] == "long"] == list(range(5, 61, 5))
    for a in est.agreement:
        assert a["cosine"] == pytest.approx(1, abs=1e-12) and a["grad_rel_err"] < 1e-12
        assert a["norm_ratio"] == pytest.approx(1, abs=1e-12)
    assert all(a["rel_var"] < 1e-20 for a in est.agreement if a["shadow"] == "exact")
    assert all("rel_var" not in a for a in est.agreement if a["shadow"] == "long")


def test_a_short_window_and_a_noisy_estimator_do_not():
    est = run({"t1": ("tbptt", None, 1), "uoro": ("uoro", None, None)}).estimator
    for name in ("t1", "uoro"):
        cos = [a["cosine"] for a in est.agreement if a["shadow"] == name]
        assert min(cos) < 0.999 and all(-1 <= c <= 1 for c in cos)
    assert all(a["rel_var"] > 0 for a in est.agreement if a["shadow"] == "uoro")


@pytest.mark.parametrize(
    "shadows, match",
    [
        ({}, "non-empty"),
        ({"x": ("exact", None, None)}, "already drives"),
        ({"x": "ok"}, "expected"),
        ({"x": ("ok", None, None)}, "rank"),
    ],
)
def test_bad_shadows_are_named(shadows, match):
    with pytest.raises(ValueError, match=match):
        run(shadows)


def test_bins_average_the_comparisons_of_each_interval():
    agreement = [
        {"step": 5, "shadow": "a", "cosine": 0.5},
        {"step": 10, "shadow": "a", "cosine": 1.0, "rel_var": float("nan")},
        {"step": 15, "shadow": "a", "cosine": 0.0},
    ]
    assert bin_agreement(agreement, [10, 20, 30]) == [{"a": {"cosine": 0.75}}, {"a": {"cosine": 0.0}}, {}]


def test_copy_configs_with_shadows():
    with pytest.raises(ValueError, match="only exact"):
        copy_config(method="kf", shadows={"a": ("ok", 1, None)}, shadow_every=5)
    with pytest.raises(ValueError, match="shadow_every"):
        copy_config(method="exact", shadows={"a": ("ok", 1, None)})
    config = copy_config(
        method="exact", steps=40, hidden=3, batch=2, log_every=20, shadows={"kf": ["kf", None, None]}, shadow_every=4
    )
    record = copy_record(run_copy(config), config, sequences=8)
    assert [set(r["shadows"]) for r in record["log"]] == [{"kf"}, {"kf"}]
    assert set(record["final"]["shadows"]["kf"]) == {"cosine", "grad_rel_err", "norm_ratio", "rel_var"}
    recall = record["final"]["recall"]
    assert recall["lengths"] == list(RECALL_LENGTHS) and [len(a) for a in recall["accuracy"]] == list(RECALL_LENGTHS)
    assert record["final"]["environment"]["blas"]["name"]


def test_recall_accuracy_counts_the_bits_the_readout_gets_right():
    result = train(CopyTask(2, rng=0), "kf", steps=30, hidden=5)
    cell, readout = result.cell, result.readout
    got = recall_accuracy(cell, readout, [3, 5], sequences=40, rng=7)
    assert got == recall_accuracy(cell, readout, [3, 5], sequences=40, rng=np.random.default_rng(7))
    # the same count, one sequence at a time, with the public step and logits
    rng = np.random.default_rng(7)
    for T, row in zip([3, 5], got["accuracy"], strict=True):
        bits = rng.integers(0, 2, size=(40, T))
        hits = np.zeros(T)
        for b in bits:
            inputs, targets = copy_sequence(b)
            h = np.zeros(5)
            for t, x in enumerate(inputs):
                h = cell.step(np.eye(4)[x], h).h
                if t >= T + 2:
                    hits[t - T - 2] += readout.logits(h).argmax() == targets[t]
        np.testing.assert_allclose(row, hits / 40, atol=1e-4)
    with pytest.raises(ValueError, match="lengths"):
        recall_accuracy(cell, readout, [0])
