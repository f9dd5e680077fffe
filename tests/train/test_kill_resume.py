"""SIGKILL ``mlplab train`` at 10 seeded random points; every ``--resume`` ends bit-identical.

Each victim is a real ``mlplab train`` process on a small synthetic IDX folder (40 epochs of 16
steps). A point is drawn from ``default_rng(SEED)``: wait until ``metrics.jsonl`` holds k epoch
rows (1 <= k < 40), then a further random 0-20 ms, so kills land anywhere: mid-epoch, while the
checkpoint or the metrics are being written, between epochs, or in the final evaluation. The
first point kills within 0.5 s of the start (before the first checkpoint, mostly: that run is
rerun afresh, as ``mlplab train`` allows). Each
killed run is then resumed with ``--resume`` and must end with exactly the weights, optimizer
state, data-loader state, step losses, metrics rows and summary of the uninterrupted run.
matplotlib is hidden from the subprocesses (figures are not the point, and cost a second each).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mlplab.checkpoint import load_checkpoint
from mlplab.data import write_idx

SEED, POINTS, EPOCHS = 13, 10, 40
RUN = textwrap.dedent(
    """
    import sys

    class NoFigures:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "matplotlib":
                raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")

    sys.meta_path.insert(0, NoFigures())
    from mlplab.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """256 train and 64 test 8x8 images in 3 classes (a bright row per class), as IDX files."""
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 256), ("t10k", 64)):
        labels = rng.integers(0, 3, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 8, 8)).astype(np.uint8)
        images[np.arange(n), 2 * labels] = 255
        write_idx(images, folder / f"{prefix}-images-idx3-ubyte")
        write_idx(labels, folder / f"{prefix}-labels-idx1-ubyte")
    return folder


def _train(data: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", RUN, "train", "--data", str(data), "--width", "8",
            "--batch-size", "16", "--epochs", str(EPOCHS), "--seed", "3", "--quiet",
            "--out", str(out), *extra]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> None:
    try:
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err.decode()


def _rows(out: Path) -> int:
    try:
        return (out / "metrics.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_at(process: subprocess.Popen[bytes], out: Path, rows: int, delay: float) -> bool:
    """SIGKILL once ``rows`` epoch rows are written and ``delay`` seconds more; True if killed."""
    deadline = time.monotonic() + 120
    while _rows(out) < rows and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    if process.poll() is not None:  # finished first: the resume then only completes it
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return True


def _result(out: Path) -> dict:
    """Everything a run ends with, timing columns left out."""
    saved = load_checkpoint(out / "checkpoint.safetensors")
    optimizer = {
        (index, key): value.tobytes()
        for index, entry in saved.optimizer_state["state"].items()
        for key, value in entry.items()
        if isinstance(value, np.ndarray)
    }
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    return {
        "weights": {name: array.tobytes() for name, array in saved.model_state.items()},
        "optimizer": optimizer,
        "steps": (saved.epoch, saved.step, saved.loader_state, saved.scheduler_state),
        "losses": saved.history.steps,
        "metrics": [{k: v for k, v in row.items() if k != "seconds"} for row in rows],
        "summary": {k: v for k, v in summary.items() if k != "seconds"},
    }


def test_sigkill_at_10_random_points_then_resume_is_bit_identical(data, tmp_path):
    reference = tmp_path / "reference"
    _finish(_train(data, reference))
    expected = _result(reference)
    assert len(expected["metrics"]) == EPOCHS

    rng = np.random.default_rng(SEED)
    killed, resumed = [], 0
    for point in range(POINTS):
        rows, delay = int(rng.integers(1, EPOCHS)), float(rng.uniform(0.0, 0.02))
        if point == 0:  # early: while starting or in the first epoch, likely before a checkpoint
            rows, delay = 0, float(rng.uniform(0.0, 0.5))
        out = tmp_path / f"point{point}"
        victim = _train(data, out)
        try:
            killed.append(_kill_at(victim, out, rows, delay))
        finally:
            if victim.poll() is None:
                victim.kill()
            victim.communicate()
        if killed[-1]:
            assert victim.returncode == -signal.SIGKILL
            assert not (out / "summary.json").exists()
        # a run killed before its first checkpoint is rerun afresh; any other is resumed
        again = ("--resume",) if (out / "checkpoint.safetensors").exists() else ()
        resumed += bool(again)
        _finish(_train(data, out, *again))
        got = _result(out)
        assert not list(out.glob(".*.tmp")), f"point {point}: temporary files left behind"
        for key in expected:
            assert got[key] == expected[key], f"point {point} ({rows} rows + {delay:.3f} s): {key}"
    assert sum(killed) >= POINTS // 2, f"only {sum(killed)} of {POINTS} runs were killed mid-run"
    assert resumed >= POINTS - 1  # all but (perhaps) the early one continued from a checkpoint


def test_temporaries_a_killed_run_left_are_removed_by_the_next_epoch(tmp_path):
    """A SIGKILL inside an atomic write leaves ``.metrics.csv.<random>.tmp`` (seen at point 8)."""
    from mlplab.commands import rundir
    from mlplab.train import History

    stale = [".metrics.csv.snj4twgi.tmp", ".checkpoint.safetensors.a1b2.tmp", ".curves.png.tmp"]
    for name in [*stale, ".notes.txt.tmp", "notes.tmp"]:
        (tmp_path / name).write_text("x")
    rundir.write_metrics(tmp_path, History())
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".notes.txt.tmp", "metrics.csv", "metrics.jsonl", "notes.tmp"]
