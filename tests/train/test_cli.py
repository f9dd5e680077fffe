"""The ``mlplab`` command: run folder, evaluate, SIGKILL + --resume, bad input → exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlplab.checkpoint import load_checkpoint, save_checkpoint
from mlplab.cli import main
from mlplab.nn import MLP
from mlplab.optim import Adam

SMALL = ["--width", "16", "--batch-size", "128", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One finished small run (2 epochs on mnist-5k)."""
    out = tmp_path_factory.mktemp("runs") / "small"
    assert main(["train", *SMALL, "--epochs", "2", "--lr", "0.003", "--out", str(out)]) == 0
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_train_writes_the_run_folder(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert names == {"config.json", "checkpoint.safetensors", "metrics.jsonl", "metrics.csv",
                     "summary.json", "curves.png"}  # fmt: skip
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.85
    assert summary["epochs"] == 2 and summary["steps"] == 2 * 32
    assert {"test_loss", "train_loss", "train_accuracy", "seconds"} <= set(summary)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    csv_lines = (run_dir / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,train_loss,train_accuracy,test_loss,test_accuracy")
    assert len(csv_lines) == 3
    assert float(csv_lines[2].split(",")[4]) == rows[1]["test_accuracy"]
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["optimizer_args"]["lr"] == 0.003 and config["width"] == 16


def test_evaluate_matches_the_summary(run_dir, capsys):
    assert main(["evaluate", str(run_dir / "checkpoint.safetensors"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert result["accuracy"] == summary["test_accuracy"]
    assert result["loss"] == pytest.approx(summary["test_loss"], rel=1e-12)
    assert main(["evaluate", str(run_dir), "--split", "train"]) == 0
    assert f"accuracy {summary['train_accuracy']:.4f}" in capsys.readouterr().out


def test_help_on_every_subcommand(capsys):
    for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"]):
        assert main(argv) == 0
        assert "usage: mlplab" in capsys.readouterr().out


def _bad(argv, capsys, match):
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert match in lines[0], lines[0]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--optimizer", "adamax"], "unknown optimizer 'adamax'"),
        (["--init", "glorot"], "unknown initializer 'glorot'"),
        (["--lr", "-1"], "argument --lr: must be >= 0, got -1"),
        (["--epochs", "-3"], "argument --epochs: must be >= 0, got -3"),
        (["--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
        (["--data", "/no/such/folder"], "/no/such/folder"),
        (
            ["--optimizer", "sgd", "--betas", "0.9,0.99"],
            "--betas does not apply to --optimizer sgd",
        ),
        (["--betas", "1.0,0.999"], "beta1 must be in [0.0, 1.0), got 1.0"),
        (["--optimizer", "newton"], "the model has 12,730 parameters"),
        (["--activation", "swish"], "swish"),
        (["--lr-schedule", "cyclic"], "unknown --lr-schedule 'cyclic'"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_bad_train_flags_exit_2_with_one_line(argv, match, capsys, tmp_path):
    out = tmp_path / "never"
    _bad(["train", *SMALL, *argv] + ([] if "--resume" in argv else ["--out", str(out)]),
         capsys, match)  # fmt: skip
    assert not out.exists()


def test_an_empty_data_folder_is_refused(tmp_path, capsys):
    _bad(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r")], capsys, str(tmp_path))


def test_existing_runs_are_never_overwritten(run_dir, capsys):
    before = {p.name: digest(p) for p in run_dir.iterdir()}
    _bad(["train", *SMALL, "--out", str(run_dir)], capsys, "already holds a run; pass --resume")
    _bad(["train", *SMALL, "--lr", "0.5", "--out", str(run_dir), "--resume"], capsys,
         "a resumed run keeps its config")  # fmt: skip
    _bad(["train", *SMALL, "--epochs", "1", "--out", str(run_dir), "--resume"], capsys,
         "fewer than the 2 already done")  # fmt: skip
    assert {p.name: digest(p) for p in run_dir.iterdir()} == before


def test_resume_without_checkpoint(tmp_path, capsys):
    _bad(["train", "--out", str(tmp_path), "--resume"], capsys, "--resume: no checkpoint in")


def test_corrupted_checkpoints_exit_2_and_stay_untouched(run_dir, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    data = (run_dir / "checkpoint.safetensors").read_bytes()
    (broken / "checkpoint.safetensors").write_bytes(data[: len(data) - 100])
    before = digest(broken / "checkpoint.safetensors")
    _bad(["evaluate", str(broken)], capsys, "cannot read checkpoint")
    _bad(["train", "--out", str(broken), "--resume"], capsys, "cannot read checkpoint")
    _bad(["evaluate", str(tmp_path / "nothing.safetensors")], capsys, "no checkpoint at")
    (broken / "checkpoint.safetensors").write_bytes(b"\x80\x04\x95pickle")
    _bad(["evaluate", str(broken)], capsys, "looks like a pickle")
    assert len(list(broken.iterdir())) == 1
    assert before != digest(broken / "checkpoint.safetensors")  # the pickle stays as written


def test_checkpoint_that_does_not_fit_its_architecture(run_dir, tmp_path, capsys):
    config = json.loads((run_dir / "config.json").read_text())
    model = MLP(784, 10, width=8, depth=2, rng=0)  # the config says width 16
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, model=model, optimizer=Adam(model.parameters()), config=config)
    before = digest(path)
    _bad(["evaluate", str(path)], capsys, "does not fit the model")
    _bad(["train", "--out", str(tmp_path), "--resume"], capsys, "does not fit the model")
    assert digest(path) == before


def _train(out: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "mlplab", "train", "--width", "16", "--batch-size", "16",
            "--epochs", "3", "--seed", "5", "--quiet", "--out", str(out), *extra]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _timeless(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    killed, full = tmp_path / "killed", tmp_path / "full"
    victim, reference = _train(killed), _train(full)
    checkpoint = killed / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists()
    cut = load_checkpoint(checkpoint)  # complete, never half-written
    assert 1 <= cut.epoch < 3

    resumed = _train(killed, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err.decode()

    a, b = load_checkpoint(checkpoint), load_checkpoint(full / "checkpoint.safetensors")
    assert a.model_state.keys() == b.model_state.keys()
    for name in a.model_state:
        assert np.array_equal(a.model_state[name], b.model_state[name]), name
    for index, entry in a.optimizer_state["state"].items():
        for key, value in entry.items():
            assert np.array_equal(value, b.optimizer_state["state"][index][key]), key
    assert (a.epoch, a.step, a.loader_state) == (b.epoch, b.step, b.loader_state)
    assert a.history.steps == b.history.steps
    summaries = [json.loads((d / "summary.json").read_text()) for d in (killed, full)]
    assert [s.pop("seconds") > 0 for s in summaries] == [True, True]
    assert summaries[0] == summaries[1]
    metrics = [
        _timeless(json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines())
        for d in (killed, full)
    ]
    assert metrics[0] == metrics[1] and len(metrics[0]) == 3


def _idx_folder(folder: Path, n: int, side: int, seed: int) -> Path:
    """Synthetic IDX files: 3 classes, each a bright bar in its own rows of a side×side image."""
    from mlplab.data import write_idx

    rng = np.random.default_rng(seed)
    folder.mkdir()
    for prefix in ("train", "t10k"):
        labels = rng.integers(0, 3, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, side, side)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, c * side // 3] = 255
        write_idx(images, folder / f"{prefix}-images-idx3-ubyte", gzip=False)
        write_idx(labels, folder / f"{prefix}-labels-idx1-ubyte.gz", gzip=True)
    return folder


def test_train_on_a_folder_of_idx_files(tmp_path, capsys):
    data = _idx_folder(tmp_path / "bars", n=90, side=6, seed=0)
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--width", "8", "--epochs", "3", "--batch-size", "10",
            "--lr", "0.01", "--dtype", "float64", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == [36, 8, 3]
    assert summary["test_accuracy"] >= 0.9
    capsys.readouterr()
    _bad(["evaluate", str(out), "--data", "mnist-5k"], capsys, "has 784 input features")
