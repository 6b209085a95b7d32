"""Online training: the copy task and its curriculum, Adam, the training loop, run files, the CLI, cached runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import okcore
from okcore.bptt import bptt
from okcore.optim import Adam, clip_by_global_norm
from okcore.tasks import FILLER, MARKER, CopyTask, copy_sequence
from okcore.train import METHODS, check_method, seed_streams, train
from okcore.train import loop as loop_module
from okcore.train.cli import main
from okcore.train.results import data_path, final_table, load_groups
from okcore.train.runs import copy_config, load_run, run_copy, run_record, write_json

# --- the copy task ----------------------------------------------------------------------------------------------


def test_copy_sequence_layout():
    inputs, targets = copy_sequence([1, 0, 1])
    assert inputs.tolist() == [MARKER, 1, 0, 1, FILLER, FILLER, FILLER, FILLER]
    assert targets.tolist() == [FILLER, FILLER, FILLER, FILLER, MARKER, 1, 0, 1]


def test_copy_sequence_refuses_bad_bits():
    with pytest.raises(ValueError, match="bits"):
        copy_sequence([0, 2])
    with pytest.raises(ValueError, match="bits"):
        copy_sequence([])


def test_streams_are_copy_sequences_with_resets_at_their_starts():
    task = CopyTask(batch=5, rng=3)
    task.T_ = 6
    xs, ys, resets = zip(*(task.next() for _ in range(200)), strict=True)
    xs = np.array(xs).argmax(axis=2)  # (T, B)
    ys, resets = np.array(ys), np.array(resets)
    assert resets[0].all()
    for b in range(5):
        starts = np.flatnonzero(resets[:, b])
        for s, e in zip(starts[:-1], starts[1:], strict=True):
            T = (e - s - 2) // 2
            assert 2 * T + 2 == e - s and max(1, 6 - 4) <= T <= 6
            inputs, targets = copy_sequence(xs[s + 1 : s + 1 + T, b])
            assert xs[s:e, b].tolist() == inputs.tolist()
            assert ys[s:e, b].tolist() == targets.tolist()


def test_lengths_follow_the_curriculum_distribution():
    task = CopyTask(batch=1, rng=0)
    task.T_ = 10
    counts = np.bincount(task.draw_lengths(50_000), minlength=11)[6:11] / 50_000
    # U{0..4}: each length 6..10 with probability 1/5; 4-sigma binomial tolerance
    assert np.all(np.abs(counts - 0.2) < 4 * np.sqrt(0.2 * 0.8 / 50_000))
    task.T_ = 2
    assert set(task.draw_lengths(1000).tolist()) == {1, 2}


def test_curriculum_grows_only_at_a_sequence_end_below_the_threshold():
    task = CopyTask(batch=2, rng=0)
    task.avg = 0.1
    task.next()  # first step of a length-1 sequence (4 steps): no row ends here
    task.observe(np.zeros(2))
    assert task.T_ == 1
    for _ in range(3):
        task.next()
        task.observe(np.zeros(2))
    assert task.T_ == 2 and task.avg == 0.3
    task.avg = 0.2  # above the threshold: no growth at the next end
    for _ in range(8):
        task.next()
        task.observe(np.full(2, 0.2))
    assert task.T_ == 2


def test_running_average_of_the_loss():
    task = CopyTask(batch=3, rng=0)
    task.next()
    task.observe(np.array([0.0, 1.0, 2.0]))
    assert task.avg == pytest.approx(0.999 * 1.0 + 0.001 * 1.0)


def test_copy_task_errors_name_the_argument():
    with pytest.raises(ValueError, match="batch"):
        CopyTask(batch=0)
    with pytest.raises(TypeError, match="rng"):
        CopyTask(batch=2, rng="seed")
    with pytest.raises(ValueError, match="decay"):
        CopyTask(batch=2, decay=1.5)


def test_copy_task_seed_and_generator_agree():
    a, b = CopyTask(4, rng=7), CopyTask(4, rng=np.random.default_rng(7))
    for _ in range(20):
        for u, v in zip(a.next(), b.next(), strict=True):
            np.testing.assert_array_equal(u, v)


# --- optimiser ----------------------------------------------------------------------------------------------------


def test_adam_first_steps_match_the_formula():
    p = np.array([1.0, -2.0])
    adam = Adam([p], lr=0.1)
    g1, g2 = np.array([0.5, -1.0]), np.array([0.1, 0.3])
    adam.step([g1])
    # after one step m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g)
    np.testing.assert_allclose(p, [1.0 - 0.1, -2.0 + 0.1], rtol=1e-6)
    p1 = p.copy()
    adam.step([g2])
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    # TensorFlow's form: the bias corrections go into the step size, eps is added to sqrt(v) itself
    step2 = 0.1 * np.sqrt(1 - 0.999**2) / (1 - 0.9**2) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(p, p1 - step2, rtol=1e-12)


def test_clip_by_global_norm():
    g = [np.array([3.0, 0.0]), np.array([[0.0, 4.0]])]
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(5.0)
    assert np.sqrt(sum((c**2).sum() for c in clipped)) == pytest.approx(1.0)
    same, _ = clip_by_global_norm(g, 10.0)
    assert same[0] is g[0]


# --- the training loop --------------------------------------------------------------------------------------------


class _Fixed:
    """A task replaying fixed arrays xs (T, B, n_in), ys (T, B), resets (T, B)."""

    def __init__(self, xs, ys, resets, interrupt_at=None):
        self.xs, self.ys, self.resets = xs, ys, resets
        self.n_in, self.n_out, self.batch = xs.shape[2], int(ys.max()) + 1, xs.shape[1]
        self.t, self.interrupt_at, self.seen = 0, interrupt_at, []

    def next(self):
        if self.t == self.interrupt_at:
            raise KeyboardInterrupt
        t, self.t = self.t, self.t + 1
        return self.xs[t], self.ys[t], self.resets[t]

    def observe(self, loss_bits):
        self.seen.append(loss_bits)

    def log_fields(self):
        return {}


def _fixed_task(T=12, B=3, seed=0, **kw):
    rng = np.random.default_rng(seed)
    xs = np.eye(4)[rng.integers(0, 4, size=(T, B))]
    ys = rng.integers(0, 4, size=(T, B))
    resets = rng.random((T, B)) < 0.2
    resets[0] = True
    return _Fixed(xs, ys, resets, **kw)


def test_a_tbptt_window_longer_than_the_run_gives_the_bptt_gradient():
    """One tbptt update over the whole run equals BPTT of the batch-mean loss (with the resets), before Adam."""
    task = _fixed_task()
    captured = {}
    original = loop_module._window_gradient

    def spy(model, window):
        dW, dWo = original(model, window)
        captured["dW"], captured["W"] = dW, model.W.copy()
        return dW, dWo

    loop_module._window_gradient = spy
    try:
        result = train(task, "tbptt", truncation=100, steps=12, hidden=5, seed=1, clip=1e9)
    finally:
        loop_module._window_gradient = original
    streams = seed_streams(1)  # the loop draws W, then W_out, from the "weights" stream
    cell = okcore.GatedCell(4, 5, streams["weights"])
    readout = okcore.Readout(5, 4, streams["weights"], unit="bits")
    np.testing.assert_array_equal(cell.W, captured["W"])  # no update before the window's end
    _, dW, _ = bptt(cell, readout, task.xs, task.ys, resets=task.resets)
    np.testing.assert_allclose(captured["dW"], dW / task.batch, rtol=1e-10, atol=1e-14)
    assert result.steps_done == 12


@pytest.mark.parametrize("method,kw", [("exact", {}), ("ok", {"rank": 2}), ("tbptt", {"truncation": 3})])
def test_same_seed_same_run_other_seed_other_run(method, kw):
    def run(seed):
        task = CopyTask(4, rng=seed_streams(seed)["task"])
        records = train(task, method, steps=60, hidden=6, seed=seed, log_every=20, **kw).history.records
        return [{k: v for k, v in r.items() if k != "cpu_s"} for r in records]  # all but the processor time

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_exact_rtrl_learns_a_fixed_short_task():
    """Trained online on a repeated pattern, the loss falls well below chance (2 bits)."""
    T, B = 3000, 4
    pattern = np.array([0, 1, 2, 3, 2, 1])
    xs = np.eye(4)[np.tile(pattern, T)[:T]][:, None, :].repeat(B, axis=1)
    ys = np.tile(np.roll(pattern, -1), T)[:T][:, None].repeat(B, axis=1)
    resets = np.zeros((T, B), dtype=bool)
    resets[0] = True
    result = train(_Fixed(xs, ys, resets), "exact", steps=T, hidden=8, lr=1e-2, log_every=50)
    losses = result.history.column("loss_bits")
    assert losses[0] > 1.0 and losses[-1] < 0.1


def test_ctrl_c_stops_cleanly_with_what_was_done():
    task = _fixed_task(T=40, interrupt_at=25)
    result = train(task, "kf", steps=40, hidden=4, log_every=10)
    assert result.stopped and result.steps_done == 25
    assert [r["step"] for r in result.history.records] == [10, 20, 25]


def test_evaluation_every_so_many_steps_and_at_the_end():
    calls = []

    def evaluate(cell, readout):
        calls.append(cell.W.copy())
        return {"score": len(calls)}

    result = train(_fixed_task(T=30), "uoro", steps=25, hidden=4, log_every=10, evaluate=evaluate, eval_every=10)
    recs = result.history.records
    assert [(r["step"], r.get("score")) for r in recs] == [(10, 1), (20, 2), (25, 3)]


def test_cosines_are_recorded_and_exact_against_itself_is_one():
    task = CopyTask(3, rng=0)
    result = train(task, "exact", steps=40, hidden=5, cosine_every=5, log_every=20)
    cos = np.array([c for _, c in result.history.cosines])
    assert len(cos) == 8
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    task = CopyTask(3, rng=0)
    uoro = train(task, "uoro", steps=40, hidden=5, cosine_every=5, log_every=20)
    assert all(-1 <= c <= 1 for _, c in uoro.history.cosines) and min(c for _, c in uoro.history.cosines) < 0.999


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"method": "sgd"}, "method: expected one of"),
        ({"method": "ok"}, "rank: method 'ok' needs a rank"),
        ({"method": "ok", "rank": 0}, "rank: expected a positive integer"),
        ({"method": "kf", "rank": 2}, "rank: only kf-avg, ok take a rank"),
        ({"method": "tbptt"}, "truncation: method 'tbptt' needs"),
        ({"method": "exact", "truncation": 4}, "truncation: only 'tbptt'"),
    ],
)
def test_bad_methods_are_named(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_method(kw["method"], kw.get("rank"), kw.get("truncation"))


def test_train_checks_its_arguments_once():
    task = CopyTask(2)
    with pytest.raises(ValueError, match="steps"):
        train(task, "kf", steps=0)
    with pytest.raises(ValueError, match="cell"):
        train(task, "kf", steps=1, cell="lstm")
    with pytest.raises(TypeError, match="task"):
        train(object(), "kf", steps=1)
    assert set(METHODS) == {"exact", "uoro", "kf", "kf-avg", "ok", "tbptt"}


# --- run files and the CLI ----------------------------------------------------------------------------------------


def test_run_record_round_trip(tmp_path):
    config = copy_config(method="ok", rank=1, steps=30, hidden=4, batch=2, log_every=10)
    record = run_record(run_copy(config), config)
    write_json(tmp_path / "r.json", record)
    back = load_run(tmp_path / "r.json")
    assert back == json.loads(json.dumps(record))
    assert back["config"]["okcore"] == okcore.__version__ and back["config"]["numpy"] == np.__version__
    assert back["final"]["steps_done"] == 30 and [r["step"] for r in back["log"]] == [10, 20, 30]
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_write_json_leaves_nothing_behind_on_failure(tmp_path):
    with pytest.raises(TypeError):
        write_json(tmp_path / "r.json", {"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_load_run_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_run(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_run(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{}")
    with pytest.raises(ValueError, match="config, log and final"):
        load_run(tmp_path / "y.json")


def test_cli_writes_a_run_and_prints_one_summary_line(tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(
        [
            "copy",
            "--method",
            "tbptt",
            "--truncation",
            "4",
            "--steps",
            "50",
            "--hidden",
            "4",
            "--batch",
            "2",
            "--log-every",
            "25",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "T_ = 1" in captured.out
    assert captured.err == ""  # no progress bar where stderr is not a terminal
    assert load_run(out)["config"]["truncation"] == 4


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "args,match",
    [
        (["--method", "nope"], "--method: expected one of"),
        (["--method", "ok"], "--rank: method 'ok' needs a rank"),
        (["--method", "uoro", "--rank", "2"], "--rank: only kf-avg, ok"),
        (["--method", "ok", "--rank", "0"], "--rank: expected a positive integer"),
        (["--method", "kf", "--hidden", "0"], "--hidden: expected a positive number"),
        (["--method", "kf", "--steps", "-5"], "--steps: expected a positive number"),
        (["--method", "kf", "--cell", "lstm"], "argument --cell: invalid choice"),
        (["--method", "kf", "--hidden", "x"], "argument --hidden: invalid int value"),
    ],
)
def test_cli_bad_options_exit_2_with_one_line(tmp_path, capsys, args, match):
    code = _exit_code(["copy", *args, "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and match in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_cli_refuses_an_unwritable_output_before_training(tmp_path, capsys):
    code = _exit_code(["copy", "--method", "kf", "--steps", "1000000000", "--out", str(tmp_path / "no" / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "--out: expected a path in an existing folder" in err


def test_cli_ctrl_c_writes_a_valid_file_and_exits_130(tmp_path, capsys, monkeypatch):
    real_next = CopyTask.next
    calls = {"n": 0}

    def next_then_interrupt(self):
        calls["n"] += 1
        if calls["n"] > 30:
            raise KeyboardInterrupt
        return real_next(self)

    monkeypatch.setattr(CopyTask, "next", next_then_interrupt)
    out = tmp_path / "r.json"
    code = main(["copy", "--method", "kf", "--steps", "1000", "--hidden", "4", "--log-every", "10", "--out", str(out)])
    assert code == 130
    record = load_run(out)
    assert record["final"]["stopped"] is True and record["final"]["steps_done"] == 30
    assert "stopped" in capsys.readouterr().out


# --- results and cached runs --------------------------------------------------------------------------------------


def test_groups_tables_and_equal_settings(tmp_path):
    for seed in (0, 1):
        for method, rank in (("ok", 1), ("kf", None)):
            config = copy_config(method=method, rank=rank, seed=seed, steps=20, hidden=3, batch=2, log_every=10)
            write_json(tmp_path / f"{method}-{seed}.json", run_record(run_copy(config), config))
    groups = load_groups(tmp_path)
    assert list(groups) == ["OK r=1", "KF"] and groups["KF"].seeds == [0, 1]
    table = final_table(groups, "T")
    assert table.splitlines()[1].startswith("OK r=1")
    config = copy_config(method="kf", steps=20, hidden=4, batch=2, log_every=10)
    write_json(tmp_path / "other.json", run_record(run_copy(config), config))
    with pytest.raises(ValueError, match="differ in hidden"):
        load_groups(tmp_path)
    with pytest.raises(ValueError, match="found none"):
        load_groups(tmp_path / "empty")


CACHED = data_path("copy", "kf-seed0.json")


def test_a_cached_run_regenerates():
    """The first 2000 steps of a cached run, rerun from its config, give the same log."""
    record = load_run(CACHED)
    config = {k: v for k, v in record["config"].items() if k not in ("okcore", "numpy")}
    config["steps"] = 2000
    fresh = run_record(run_copy(config), config)
    cached = [r for r in record["log"] if r["step"] <= 2000]
    assert [r["step"] for r in fresh["log"]] == [r["step"] for r in cached]
    assert [r["T"] for r in fresh["log"]] == [r["T"] for r in cached]
    np.testing.assert_allclose([r["loss_bits"] for r in fresh["log"]], [r["loss_bits"] for r in cached], rtol=1e-5)
