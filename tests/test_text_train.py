"""Text runs: the ``text`` and ``sample`` commands, the weights file, and the cached runs in data/text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from okcore.tasks import TextStreams, contiguous_bpc
from okcore.train import cli
from okcore.train.runs import load_run
from okcore.train.text_runs import load_model, load_text_data, sample_run, text_config

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
    streams = min(128, (data.valid.size - 1) // 2)
    assert contiguous_bpc(cell, readout, data.valid, streams=streams) == pytest.approx(final["valid_bpc"], abs=1e-6)


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
