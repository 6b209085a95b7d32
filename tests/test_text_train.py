"""Text runs: the ``text`` and ``sample`` commands, the weights file, and the cached runs in data/text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from okcore.tasks import TextStreams, contiguous_bpc
from okcore.train import cli
from okcore.train.runs import load_run
from okcore.train.text_runs import (
    CHARS_PER_STREAM,
    auto_streams,
    eval_streams,
    load_model,
    load_text_data,
    run_text,
    sample_run,
    save_model,
    snapshot_steps,
    text_config,
    text_record,
)

LINE = "In the beginning was the word, and the word was with the text; and the text was long.\n"


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(LINE * 30, encoding="utf-8")
    return path


def _train(corpus, out, *extra):
    argv = ["text", "--corpus", str(corpus), "--hidden", "6", "--batch", "3", "--steps", "120"]
    argv += ["--log-every", "20", "--eval-every", "60", "--quiet", "--out", str(out), *extra]
    return cli.main(argv)


def test_text_command_writes_run_and_weights(corpus, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert _train(corpus, out, "--method", "ok", "--rank", "2") == 0
    assert "wrote" in capsys.readouterr().out
    record = load_run(out)
    config, log, final = record["config"], record["log"], record["final"]
    assert config["task"] == "text" and config["okcore"] and config["numpy"] == np.__version__
    assert config["method"] == "ok" and config["rank"] == 2 and config["steps"] == 120 and config["lr"] == 1e-3
    assert [r["step"] for r in log if "valid_bpc" in r] == [60, 120]
    assert final["best_valid_bpc"] == min(r["valid_bpc"] for r in log if "valid_bpc" in r)
    assert final["valid_bpc"] == log[-1]["valid_bpc"] and final["steps_done"] == 120
    # the weights beside the run file give back the final validation bpc
    cell, readout, vocab = load_model(out)
    assert vocab.chars == final["vocab"] == "".join(sorted(set(LINE)))
    data = load_text_data(text_config(corpus=str(corpus), batch=3))
    text = LINE * 30
    assert data.valid.size == len(text) - int(len(text) * 0.9)  # the last 10% of the file
    streams = eval_streams(data.valid, config)
    assert streams == 1  # 254 characters: one stream, not 127 streams of 2 characters
    assert contiguous_bpc(cell, readout, data.valid, streams=streams) == pytest.approx(final["valid_bpc"], abs=1e-6)


def test_eval_streams_option_sets_the_validation_layout(corpus, tmp_path):
    out = tmp_path / "run.json"
    assert _train(corpus, out, "--method", "kf", "--eval-streams", "4") == 0
    final, config = load_run(out)["final"], load_run(out)["config"]
    assert config["eval_streams"] == 4
    cell, readout, _ = load_model(out)
    data = load_text_data(text_config(corpus=str(corpus), batch=3))
    assert contiguous_bpc(cell, readout, data.valid, streams=4) == pytest.approx(final["valid_bpc"], abs=1e-6)
    assert contiguous_bpc(cell, readout, data.valid, streams=1) != pytest.approx(final["valid_bpc"], abs=1e-6)


def test_streams_follow_the_length_of_the_text():
    assert auto_streams(500) == 1 and auto_streams(20_000) == 20 and auto_streams(195_000) == 128
    ids = np.zeros(50_001, dtype=int)
    assert eval_streams(ids, {"eval_streams": None, "eval_chars": None}) == 50_000 // CHARS_PER_STREAM
    assert eval_streams(ids, {"eval_streams": None, "eval_chars": 5_000}) == 5
    assert eval_streams(ids, {"eval_streams": 64, "eval_chars": 100}) == 50  # at most one per 2 characters
    with pytest.raises(ValueError, match="eval_streams"):
        text_config(eval_streams=0)
    with pytest.raises(ValueError, match="snapshots"):
        text_config(snapshots=[0, 10])


def test_best_checkpoint_and_snapshots_are_kept(corpus, tmp_path):
    config = text_config(
        corpus=str(corpus), method="uoro", hidden=6, batch=3, steps=120, log_every=20, eval_every=40,
        snapshots=[20, 80], lr=0.05, dtype="float32",
    )  # fmt: skip
    result, data = run_text(config)
    log = result.history.records
    assert [r["step"] for r in log] == [20, 40, 60, 80, 100, 120]  # one record per log_every steps
    valid = {r["step"]: r["valid_bpc"] for r in log if "valid_bpc" in r}
    assert list(valid) == [40, 80, 120]
    path = tmp_path / "run.npz"
    save_model(path, result, data.vocab, config)
    assert snapshot_steps(path) == [20, 80, 120]
    best_step = min(valid, key=valid.get)
    for which, step in (("best", best_step), (80, 80), ("final", 120), (120, 120)):
        cell, readout, _ = load_model(path, which)
        assert cell.W.dtype == np.float32
        got = contiguous_bpc(cell, readout, data.valid, streams=eval_streams(data.valid, config))
        assert got == pytest.approx(valid[step], abs=1e-6)
    with pytest.raises(ValueError, match="which"):
        load_model(path, 40)
    data.test = data.valid  # scored on the validation text, the test bpc is the best checkpoint's validation bpc
    record = text_record(result, data, config)
    assert record["final"]["best_step"] == best_step and record["final"]["best_valid_bpc"] == valid[best_step]
    assert record["final"]["test_bpc"] == pytest.approx(valid[best_step], abs=1e-6)


def test_sample_command(corpus, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert _train(corpus, out, "--method", "tbptt", "--truncation", "4") == 0
    capsys.readouterr()
    assert cli.main(["sample", "--run", str(out), "--chars", "40", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert len(text) == 41 and set(text) <= set(LINE)  # 40 characters and print's newline
    assert cli.main(["sample", "--run", str(out.with_suffix(".npz")), "--chars", "40", "--seed", "3"]) == 0
    assert capsys.readouterr().out == text
    assert sample_run(out, 40, seed=3) + "\n" == text


def _one_error_line(capsys, option):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --{option}: "), err
    return err[0]


@pytest.mark.parametrize(
    ("option", "content", "words"),
    [
        ("corpus", None, "does not exist"),
        ("corpus", b"", "empty"),
        ("corpus", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL"),
        ("corpus", b"na\xefve text", "UTF-8"),
        ("valid", None, "does not exist"),
        ("valid", b"\xff\xfe", "UTF-8"),
        ("valid", b"ZZZQQQ123", "none of whose 9 characters"),
    ],
)
def test_bad_files_exit_2_with_one_line(corpus, tmp_path, capsys, option, content, words):
    bad = tmp_path / "bad.txt"
    if content is not None:
        bad.write_bytes(content)
    files = {"corpus": bad, "valid": corpus} if option == "corpus" else {"corpus": corpus, "valid": bad}
    argv = ["text", "--corpus", str(files["corpus"]), "--method", "kf", "--out", str(tmp_path / "r.json")]
    if option == "valid":
        argv += ["--valid", str(files["valid"])]
    assert cli.main(argv) == 2
    assert words in _one_error_line(capsys, option)
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--method", "ok"], "rank"),
        (["--method", "kf", "--max-vocab", "1"], "max-vocab"),
        (["--method", "kf", "--eval-every", "-1"], "eval-every"),
        (["--method", "kf", "--reset-every", "0"], "reset-every"),
        (["--method", "kf", "--eval-streams", "0"], "eval-streams"),
    ],
)
def test_bad_options_exit_2(corpus, tmp_path, capsys, argv, option):
    assert cli.main(["text", "--corpus", str(corpus), "--out", str(tmp_path / "r.json"), *argv]) == 2
    _one_error_line(capsys, option)


def test_sample_refuses_missing_runs_and_runs_without_weights(corpus, tmp_path, capsys):
    assert cli.main(["sample", "--run", str(tmp_path / "none.json")]) == 2
    _one_error_line(capsys, "run")
    (tmp_path / "copy.json").write_text(json.dumps({"config": {}, "log": [], "final": {}}))
    assert cli.main(["sample", "--run", str(tmp_path / "copy.json")]) == 2
    assert "names no weights file" in _one_error_line(capsys, "run")


def test_ctrl_c_leaves_a_valid_run_file(corpus, tmp_path, monkeypatch):
    real_next = TextStreams.next

    def interrupted(self):
        if self.t == 50:
            raise KeyboardInterrupt
        return real_next(self)

    monkeypatch.setattr(TextStreams, "next", interrupted)
    out = tmp_path / "run.json"
    assert _train(corpus, out, "--method", "uoro") == 130
    record = load_run(out)
    assert record["final"]["stopped"] is True and record["final"]["steps_done"] == 50
    assert "valid_bpc" in record["final"] and out.with_suffix(".npz").is_file()
