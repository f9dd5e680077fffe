"""mlplab train --width 128,64: one width per hidden layer, JSON-able config, resumable."""

from __future__ import annotations

import json

import pytest

import mlplab
from mlplab.cli import build_parser, main
from mlplab.commands.train import make_config

SMALL = ["--batch-size", "256", "--epochs", "1", "--quiet", "--threads", "1"]


def test_width_list_trains_resumes_and_rebuilds(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--width", "24,12", *SMALL, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["width"] == [24, 12] and config["depth"] == 3
    assert mlplab.load_run(out).sizes == [784, 24, 12, 10]
    assert main(["train", "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2


def test_a_single_width_stays_an_int():
    assert build_parser().parse_args(["train", "--width", "64"]).width == 64
    assert build_parser().parse_args(["train", "--width", "64, 32"]).width == [64, 32]
    assert make_config({"width": [8, 4]})["depth"] == 3


@pytest.mark.parametrize("bad", ["0", "8,-1", "a,b", ""])
def test_bad_widths_are_usage_errors(capsys, bad):
    assert main(["train", "--width", bad]) == 2
    assert "--width" in capsys.readouterr().err


def test_a_depth_that_does_not_fit_the_widths_is_refused(capsys, tmp_path):
    assert main(["train", "--width", "8,4", "--depth", "2", "--out", str(tmp_path / "x")]) == 2
    assert "does not fit --width 8,4" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
