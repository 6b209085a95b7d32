"""The command line never loses a run and answers a user's mistake with one line, never a traceback.

Every test runs ``main`` in-process with its own temporary folder (and, where the working directory matters, its
own working directory), so the tests can run in parallel.
"""

import gzip
import json
import pickle
import shutil
import tracemalloc

import numpy as np
import pytest

from okcore.tasks.copy import CopyTask
from okcore.train import cli, options, text_cli, train
from okcore.train.memory import format_bytes, run_bytes
from okcore.train.options import Formatter
from okcore.train.runs import load_run

CORPUS = "In the beginning was the word, and the word was with the model. " * 40


def _run(argv):
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code


def _one_line(capsys, start="error: "):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(start) and "Traceback" not in err, err
    return err


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any training starts."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(cli, "run_copy", refuse)
    monkeypatch.setattr(text_cli, "run_text", refuse)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


# -- memory ------------------------------------------------------------------------------------------------------


def test_a_run_too_large_for_memory_is_refused_before_allocating(tmp_path, capsys, no_training):
    out = tmp_path / "r.json"
    code = _run(["copy", "--method", "exact", "--hidden", "100000", "--out", str(out)])
    err = _one_line(capsys, "error: --hidden: expected a run that fits in the free memory")
    assert code == 2 and not out.exists() and list(tmp_path.iterdir()) == []
    need = run_bytes("exact", 100000, batch=16, n_in=4, n_out=4)
    assert f"needs {format_bytes(need)} ({need:.3g} bytes)" in err and "PiB" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--method", "uoro"],
        ["--method", "kf"],
        ["--method", "kf-avg", "--rank", "2"],
        ["--method", "ok", "--rank", "3"],
        ["--method", "tbptt", "--truncation", "10"],
        ["--method", "exact"],
        ["--method", "kf", "--cosine-every", "10"],
    ],
)
def test_every_method_is_checked_against_the_free_memory(tmp_path, capsys, monkeypatch, no_training, argv):
    """With the free memory just below (above) what the run needs, it is refused (goes on to train)."""
    method = argv[1]
    kw = {"rank": int(argv[3])} if "--rank" in argv else {}
    kw |= {"truncation": 10} if method == "tbptt" else {}
    cosine = 10 if "--cosine-every" in argv else 0
    need = run_bytes(method, 24, batch=16, n_in=4, n_out=4, cosine_every=cosine, **kw)
    assert need > run_bytes(method, 24, batch=16, n_in=4, n_out=4, **kw) or not cosine
    monkeypatch.setattr(options, "available_bytes", lambda: need - 1)
    assert _run(["copy", *argv, "--out", str(tmp_path / "r.json")]) == 2
    assert f"got --method {method}" in _one_line(capsys, "error: --hidden: expected a run that fits")
    monkeypatch.setattr(options, "available_bytes", lambda: need)
    with pytest.raises(AssertionError, match="training started"):
        _run(["copy", *argv, "--out", str(tmp_path / "r.json")])


def test_float32_runs_need_half_the_memory(tmp_path, capsys, monkeypatch, no_training):
    need64 = run_bytes("kf", 24, batch=16, n_in=4, n_out=4)
    assert run_bytes("kf", 24, batch=16, n_in=4, n_out=4, itemsize=4) * 2 == need64
    monkeypatch.setattr(options, "available_bytes", lambda: need64 - 1)
    argv = ["copy", "--method", "kf", "--out", str(tmp_path / "r.json")]
    assert _run(argv) == 2
    _one_line(capsys, "error: --hidden: expected a run that fits")
    with pytest.raises(AssertionError, match="training started"):
        _run([*argv, "--dtype", "float32"])


@pytest.mark.parametrize(
    ("method", "kw"),
    [
        ("exact", {}),
        ("uoro", {}),
        ("kf", {}),
        ("kf-avg", {"rank": 3}),
        ("ok", {"rank": 3}),
        ("tbptt", {"truncation": 20}),
    ],
)
def test_the_memory_count_matches_what_training_allocates(method, kw):
    """The count is within 30 % of the peak that tracemalloc sees during a few steps of training (numpy reports its
    buffers to tracemalloc), at a size where the large arrays dominate."""
    n, B = 64, 8
    task = CopyTask(B, np.random.default_rng(0))
    tracemalloc.start()
    try:
        train(task, method, steps=25, hidden=n, log_every=5, **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    counted = run_bytes(method, n, batch=B, n_in=4, n_out=4, **kw)
    assert 0.7 * peak < counted < 1.3 * peak, (counted, peak)


def test_memory_sizes_read_well():
    assert format_bytes(512) == "512 B"
    assert format_bytes(149 * 2**30) == "149 GiB"
    assert format_bytes(1.5 * 2**20) == "1.5 MiB"


# -- --out ---------------------------------------------------------------------------------------------------------


def test_an_out_where_no_file_can_be_created_is_refused_before_training(capsys, no_training):
    """/proc accepts no new file, even from root (for whom os.access says it is writable)."""
    code = _run(["copy", "--method", "kf", "--steps", "1000000000", "--out", "/proc/okcore-run.json"])
    assert code == 2
    _one_line(capsys, "error: --out: expected a")


def test_out_is_claimed_at_once_and_nothing_is_left_behind(tmp_path, monkeypatch):
    seen = {}

    def run_copy(config, progress):
        seen["files"] = sorted(p.name for p in tmp_path.iterdir())
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_copy", run_copy)
    assert _run(["copy", "--method", "kf", "--out", str(tmp_path / "r.json")]) == 130
    assert len(seen["files"]) == 1 and seen["files"][0].startswith(".r.json.")  # the temporary file, made first
    assert list(tmp_path.iterdir()) == []  # and removed


def _remove_folder_while_training(monkeypatch, module, name, folder):
    real = getattr(module, name)

    def run_then_remove(*args, **kwargs):
        result = real(*args, **kwargs)
        shutil.rmtree(folder)
        return result

    monkeypatch.setattr(module, name, run_then_remove)


def test_a_run_whose_out_cannot_be_written_is_saved_in_the_working_directory(tmp_path, capsys, monkeypatch):
    target, cwd = tmp_path / "target", tmp_path / "cwd"
    target.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    _remove_folder_while_training(monkeypatch, cli, "run_copy", target)
    argv = ["copy", "--method", "kf", "--hidden", "4", "--steps", "40", "--log-every", "20"]
    assert _run([*argv, "--out", str(target / "r.json")]) == 1
    captured = capsys.readouterr()
    saved = cwd / "r.json"
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(f"error: --out: could not write {str(target / 'r.json')!r} (")
    assert captured.err.endswith(f"the run is saved as {str(saved)!r}\n")
    assert f"wrote {saved}" in captured.out
    assert load_run(saved)["final"]["steps_done"] == 40


def test_and_else_in_the_temporary_folder_without_overwriting(tmp_path, capsys, monkeypatch, corpus):
    """A text run (run file and weights) whose --out folder goes away, with a working directory where nothing can
    be written: it lands in the temporary folder, beside an older run of the same name that it leaves alone."""
    target, tmp = tmp_path / "target", tmp_path / "tmp"
    target.mkdir()
    tmp.mkdir()
    (tmp / "r.json").write_text("an older run")
    monkeypatch.chdir("/proc")
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    _remove_folder_while_training(monkeypatch, text_cli, "run_text", target)
    argv = ["text", "--corpus", str(corpus), "--method", "kf", "--hidden", "4", "--batch", "2", "--steps", "30"]
    assert _run([*argv, "--eval-every", "0", "--out", str(target / "r.json")]) == 1
    saved = tmp / "r-2.json"
    assert _one_line(capsys).endswith(f"the run is saved as {str(saved)!r}\n")
    assert (tmp / "r.json").read_text() == "an older run"
    assert load_run(saved)["final"]["weights"] == "r-2.npz"
    assert cli.main(["sample", "--run", str(saved), "--chars", "10"]) == 0


# -- --help ------------------------------------------------------------------------------------------------------


def _subparsers():
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return action.choices


@pytest.mark.parametrize("command", ["copy", "text", "sample"])
def test_help_shows_every_default(command, capsys):
    sub = _subparsers()[command]
    formatter = Formatter(prog="p")
    for action in sub._actions:
        if not action.option_strings or action.dest == "help" or action.default is None or action.default is False:
            continue
        assert "default" in formatter._get_help_string(action), action.dest
    assert _run([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    if command == "copy":
        assert "time steps to train (default: 60000)" in text and "hidden units n (default: 24)" in text
    if command == "text":
        assert "time steps to train (default: 15000)" in text and "learning rate (default 0.001)" in text


# -- sample --run ------------------------------------------------------------------------------------------------


def _write(path, kind):
    if kind == "text":
        path.write_text("not a run\n")
    elif kind == "npy":
        np.save(path, np.arange(3))
    elif kind == "npz":
        np.savez(path, x=np.arange(3))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"W": 1}))
    elif kind == "gzip":
        path.write_bytes(gzip.compress(b"hello"))
    elif kind == "json list":
        path.write_text("[1, 2]")
    elif kind == "json copy run":
        path.write_text(json.dumps({"config": {}, "log": [], "final": {"T": 3}}))
    elif kind == "json bad final":
        path.write_text(json.dumps({"config": {}, "log": [], "final": 3}))
    elif kind == "json missing weights":
        path.write_text(json.dumps({"config": {}, "log": [], "final": {"weights": "gone.npz"}}))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()


@pytest.mark.parametrize(
    "kind",
    [
        "text",
        "npy",
        "npz",
        "pickle",
        "gzip",
        "json list",
        "json copy run",
        "json bad final",
        "json missing weights",
        "empty",
        "folder",
        "missing",
    ],
)
def test_sample_of_a_file_that_is_not_a_run_says_so_in_one_line(tmp_path, capsys, kind):
    path = tmp_path / "thing.json"
    _write(path, kind)
    assert _run(["sample", "--run", str(path)]) == 2
    err = _one_line(capsys, "error: --run: expected a run file (.json) or weights file (.npz) written by the text")
    assert "pickle" not in err and str(path) in err


# -- corpus ------------------------------------------------------------------------------------------------------


def test_a_corpus_too_short_for_its_validation_split_says_so(tmp_path, capsys, no_training):
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij")  # its last 10 % is one character
    assert (
        _run(["text", "--corpus", str(short), "--method", "kf", "--batch", "2", "--out", str(tmp_path / "r.json")]) == 2
    )
    err = _one_line(capsys, "error: --corpus: expected a text long enough for its last 10% to make a validation")
    assert "got 10 characters" in err and "--valid:" not in err
    assert not (tmp_path / "r.json").exists()
