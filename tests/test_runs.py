"""mlplab.load_run: the trained model back from a run folder; clear errors for other folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mlplab
from mlplab import optim
from mlplab.checkpoint import save_checkpoint
from mlplab.cli import main
from mlplab.commands import build as B
from mlplab.data import DataLoader, load_dataset
from mlplab.nn import CrossEntropyLoss
from mlplab.runs import RunError
from mlplab.train import evaluate


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    args = ["train", "--width", "8", "--epochs", "1", "--batch-size", "256", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    return out


def test_load_run_gives_the_trained_model(run_dir):
    model = mlplab.load_run(run_dir)
    assert model.sizes == [784, 8, 10] and not model.training
    test = load_dataset("mnist-5k", "test")
    _, accuracy = evaluate(model, DataLoader(test, batch_size=1000))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert accuracy == summary["test_accuracy"]
    again = mlplab.load_run(run_dir / "checkpoint.safetensors")
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_folders_that_are_not_runs_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mlplab.load_run(tmp_path / "nope")
    with pytest.raises(RunError, match="is not a run folder"):
        mlplab.load_run(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(RunError, match="is a file, not a run folder"):
        mlplab.load_run(tmp_path / "f.txt")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RunError, match="stopped before its first epoch ended"):
        mlplab.load_run(tmp_path)


def test_a_checkpoint_without_a_train_config_is_refused(run_dir, tmp_path):
    model = mlplab.load_run(run_dir)
    save_checkpoint(tmp_path / "checkpoint.safetensors", model=model,
                    optimizer=optim.SGD(model.parameters(), lr=0.1))  # fmt: skip
    with pytest.raises(RunError, match="missing in_features"):
        mlplab.load_run(tmp_path)


def test_a_closure_free_nesterov_run_gives_back_theta(run_dir, tmp_path):
    config = json.loads((run_dir / "config.json").read_text())
    config |= {"optimizer": "nesterov", "optimizer_args": {"lr": 0.1, "beta": 0.9}}
    model = B.build_model(config)
    opt = B.build_optimizer(config, model)
    x, y = next(iter(DataLoader(load_dataset("mnist-5k", "test"), batch_size=64)))
    for _ in range(3):  # a user's loop: no closure, the weights hold φ = θ − αu
        opt.zero_grad()
        CrossEntropyLoss()(model(x), y).backward()
        opt.step()
    save_checkpoint(tmp_path / "checkpoint.safetensors", model=model, optimizer=opt,
                    config=config)  # fmt: skip
    loaded = mlplab.load_run(tmp_path)
    for p, theta in zip(loaded.parameters(), opt.theta(), strict=True):
        np.testing.assert_array_equal(p.data, theta)
    assert any(not np.array_equal(p.data, q.data)
               for p, q in zip(loaded.parameters(), model.parameters(), strict=True))  # fmt: skip
