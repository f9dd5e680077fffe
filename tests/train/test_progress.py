"""Progress in logs: plain lines (no carriage-return frames) when stderr is not a terminal."""

from __future__ import annotations

import io
import re

import numpy as np

from mlplab import optim
from mlplab.data import ArrayDataset, DataLoader
from mlplab.experiments.init_study import InitConfig, run_init_study
from mlplab.nn import Linear
from mlplab.progress import PlainProgress, progress_bar
from mlplab.train import fit


def blobs(n=60):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    return ArrayDataset(rng.normal(size=(n, 2)) + 2.0 * y[:, None], y.astype(np.int64))


def test_fit_progress_into_captured_stderr_is_one_plain_line_per_epoch(capsys):
    model = Linear(2, 2, rng=0, dtype=np.float64)
    loader = DataLoader(blobs(), batch_size=10)
    history = fit(model, optim.SGD(model.parameters(), lr=0.1), loader, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    for line, row in zip(lines, history.epochs, strict=True):
        match = re.fullmatch(r"epoch \d/3: 6/6 loss=(\S+) acc=(\S+) \(\d+\.\d s\)", line)
        assert match, line
        assert float(match[1]) == round(row["train_loss"], 4)
        assert float(match[2]) == round(row["train_accuracy"], 4)


def test_plain_progress_prints_only_every_so_often():
    now = [0.0]
    out = io.StringIO()
    bar = PlainProgress(total=100, desc="d", file=out, every=10, clock=lambda: now[0])
    for _ in range(100):
        now[0] += 0.25  # 25 s in all: lines at 10 s and 20 s, and the final one
        bar.update()
    bar.close()
    bar.close()  # a second close prints nothing
    assert out.getvalue().splitlines() == ["d: 40/100 (10.0 s)", "d: 80/100 (20.0 s)",
                                           "d: 100/100 (25.0 s)"]  # fmt: skip


def test_plain_progress_iterates_and_counts_without_a_total():
    out = io.StringIO()
    bar = PlainProgress(iter(range(5)), file=out, every=1e9)
    assert list(bar) == [0, 1, 2, 3, 4]
    bar.close()
    assert out.getvalue().startswith("5 (")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_tqdm_bar_and_disable_prints_nothing():
    assert type(progress_bar(range(2), file=FakeTerminal())).__module__.startswith("tqdm")
    assert isinstance(progress_bar(range(2), file=io.StringIO()), PlainProgress)
    silent = progress_bar(range(3), disable=True)
    assert list(silent) == [0, 1, 2]
    silent.update(1), silent.set_postfix(a=1), silent.close()


def test_the_init_study_log_has_no_carriage_return_frames(tmp_path, capsys):
    config = InitConfig(depth=3, width=8, epochs=1, train_examples=100, unclipped_steps=2,
                        probe_batch=16, variances=["2/n"])  # fmt: skip
    run_init_study(tmp_path, config, figures=False, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[-1].startswith("init study: ")
