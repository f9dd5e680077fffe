"""A trial is exactly `mlplab train`: bit-identical metrics; diverged and failed are results."""

from __future__ import annotations

import json

from mlplab.cli import main
from mlplab.commands.train import make_config
from mlplab.sweep.trial import load_split, run_trial

FLAGS = {"epochs": 2, "depth": 2, "width": 16, "batch_size": 128, "optimizer": "momentum",
         "lr": 0.05, "seed": 3, "lr_schedule": "step", "step_size": 1}  # fmt: skip


def test_trial_equals_mlplab_train(tmp_path):
    argv = ["train", "--out", str(tmp_path / "run"), "--quiet", "--threads", "1",
            "--epochs", "2", "--depth", "2", "--width", "16", "--batch-size", "128",
            "--optimizer", "momentum", "--lr", "0.05", "--seed", "3",
            "--lr-schedule", "step", "--step-size", "1"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    result = run_trial(make_config(FLAGS))
    assert result.status == "finished" and result.error is None
    for key in summary:
        if key != "seconds":
            assert result.metrics[key] == summary[key], key
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # the run folder names val_* test_*
    assert [r["val_loss"] for r in result.epochs] == [r["test_loss"] for r in rows]
    assert [r["lr"] for r in result.epochs] == [0.05, 0.05 * 0.1]
    assert 0 < result.train_seconds <= result.wall_seconds
    assert not (tmp_path / "checkpoint.safetensors").exists()


def test_diverged_and_failed_are_results(tmp_path):
    bad = run_trial(make_config({"epochs": 1, "width": 8, "optimizer": "sgd", "lr": 1e8}))
    assert bad.status == "diverged"
    assert bad.metrics["diverged_step"] == 10 and bad.metrics["diverged_lr"] == 1e8
    assert "step 10" in bad.error
    failed = run_trial(make_config({"epochs": 1, "data": str(tmp_path / "nowhere")}))
    assert failed.status == "failed" and "\n" not in failed.error and "nowhere" in failed.error


def test_data_loaded_once_per_process():
    config = make_config({"epochs": 1})
    assert load_split(config, "train") is load_split(make_config({"seed": 5}), "train")
    assert load_split(config, "train") is not load_split(make_config({"dtype": "float64"}), "train")
