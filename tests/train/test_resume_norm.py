"""mlplab train --norm/--dropout/--residual: buffers and dropout masks survive a resume exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab.checkpoint import CheckpointError, load_checkpoint
from mlplab.cli import main

NET = ["--depth", "3", "--width", "16", "--batch-size", "200", "--seed", "4", "--quiet",
       "--norm", "batch", "--dropout", "0.3", "--residual"]  # fmt: skip


def _metrics(folder):
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_resumed_run_with_batch_norm_and_dropout_is_bit_identical(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main(["train", *NET, "--epochs", "3", "--out", str(full)]) == 0
    assert main(["train", *NET, "--epochs", "1", "--out", str(cut)]) == 0
    assert main(["train", *NET, "--epochs", "3", "--out", str(cut), "--resume"]) == 0
    a, b = (
        load_checkpoint(full / "checkpoint.safetensors"),
        load_checkpoint(cut / "checkpoint.safetensors"),
    )
    assert "norms.0.running_var" in a.model_state and "norms.1.num_batches_tracked" in a.model_state
    assert a.model_state.keys() == b.model_state.keys()
    for name in a.model_state:
        assert np.array_equal(a.model_state[name], b.model_state[name]), name
    assert a.generators == b.generators and list(a.generators) == ["dropout"]
    assert _metrics(full) == _metrics(cut)
    config = json.loads((full / "config.json").read_text())
    assert (config["norm"], config["dropout"], config["residual"]) == ("batch", 0.3, True)


def test_config_of_a_plain_run_does_not_name_the_new_options(tmp_path):
    out = tmp_path / "plain"
    assert main(["train", "--width", "8", "--epochs", "0", "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert not {"norm", "dropout", "residual"} & set(config)


def test_a_checkpoint_without_the_dropout_generator_is_refused(tmp_path):
    from mlplab.commands.build import build_model

    out = tmp_path / "run"
    assert main(["train", *NET, "--epochs", "1", "--out", str(out)]) == 0
    saved = load_checkpoint(out / "checkpoint.safetensors")
    model = build_model(saved.config)
    saved.generators = {}
    with pytest.raises(CheckpointError, match="no state for the generator of module 'dropout'"):
        saved.load_model(model)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--norm", "group"], "invalid choice: 'group'"),
        (["--dropout", "1"], r"--dropout: must be in \[0, 1\), got 1"),
        (["--dropout", "x"], "expected a probability"),
        (["--residual", "--depth", "2"], "--residual needs two consecutive hidden layers"),
        (["--residual", "--width", "16,8"], "--residual needs two consecutive hidden layers"),
    ],
)
def test_bad_model_flags_exit_2_naming_the_flag(argv, match, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        code = main(["train", *argv, "--quiet", "--out", str(tmp_path / "x")])
        raise SystemExit(code)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) <= 2 and __import__("re").search(match, err), err
    assert not (tmp_path / "x").exists()
