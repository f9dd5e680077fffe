"""A run that failed before its first checkpoint is no dead end; --overwrite starts afresh."""

from __future__ import annotations

import json

import pytest

from mlplab.cli import main

SMALL = ["--width", "16", "--batch-size", "256", "--epochs", "1", "--quiet"]
DIVERGES = ["--optimizer", "sgd", "--lr", "1e4"]


def diverged(tmp_path):
    out = tmp_path / "x"
    assert main(["train", *SMALL, *DIVERGES, "--out", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]
    return out


def test_rerunning_a_run_that_never_wrote_a_checkpoint_starts_afresh(tmp_path, capsys):
    out = diverged(tmp_path)
    assert main(["train", *SMALL, "--optimizer", "sgd", "--lr", "0.1", "--out", str(out)]) == 0
    assert (out / "checkpoint.safetensors").is_file()
    assert json.loads((out / "config.json").read_text())["optimizer_args"]["lr"] == 0.1


def test_resume_of_such_a_run_says_to_rerun(tmp_path, capsys):
    out = diverged(tmp_path)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "rerun without --resume" in err


def test_overwrite_replaces_a_finished_run_and_keeps_other_files(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--lr", "0.003", "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    assert main(["train", *SMALL, "--lr", "0.003", "--out", str(out)]) == 2  # still refused
    assert main(["train", *SMALL, "--lr", "0.001", "--overwrite", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["optimizer_args"]["lr"] == 0.001
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("setup", ["user_file", "file_not_folder"])
def test_a_folder_that_is_not_a_failed_run_is_still_refused(tmp_path, capsys, setup):
    out = tmp_path / "x"
    if setup == "user_file":
        out.mkdir()
        (out / "config.json").write_text("{}")
        (out / "data.csv").write_text("1,2")
    else:
        out.write_text("a file")
    assert main(["train", *SMALL, "--out", str(out)]) == 2
    assert "--out" in capsys.readouterr().err
    if setup == "user_file":
        assert sorted(p.name for p in out.iterdir()) == ["config.json", "data.csv"]


def test_resume_and_overwrite_together_is_a_usage_error(tmp_path, capsys):
    assert main(["train", "--resume", "--overwrite", "--out", str(tmp_path)]) == 2
    assert "pass one" in capsys.readouterr().err
