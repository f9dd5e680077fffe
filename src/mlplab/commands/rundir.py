"""The run folder: config, metrics, summary and the curves figure, each written atomically.

Layout of ``mlplab train --out DIR``::

    DIR/config.json              the run's full config (rebuilds model, optimizer, data)
    DIR/checkpoint.safetensors   the latest checkpoint (after every epoch)
    DIR/metrics.jsonl            one JSON object per epoch
    DIR/metrics.csv              the same rows as CSV
    DIR/summary.json             final test/train loss and accuracy, epochs, seconds, ...
    DIR/curves.png               loss and accuracy per epoch (and the thinned per-step loss)

The metrics files are rewritten from the history after every epoch, so after a resume they hold
exactly the rows of an uninterrupted run (only the timing columns differ).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "RUN_FILES",
    "split_run_files",
    "remove_files",
    "write_text",
    "write_json",
    "metric_rows",
    "write_metrics",
    "plot_curves",
    "summary_table",
]

RUN_FILES = ("config.json", "checkpoint.safetensors", "metrics.jsonl", "metrics.csv",
             "summary.json", "curves.png")  # fmt: skip
_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "lr",
    "steps",
    "seconds",
)


def split_run_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Return (the run's own files, every other entry) of ``folder``.

    A run's own files are :data:`RUN_FILES` and the temporary files they are written through
    (``.NAME.*.tmp``); anything else (a user's notes, a subfolder) is "other".

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> (d / "config.json").write_text("{}"); (d / "notes.txt").write_text("mine")
        2
        4
        >>> [[p.name for p in part] for part in split_run_files(d)]
        [['config.json'], ['notes.txt']]
    """
    own: list[Path] = []
    other: list[Path] = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        is_tmp = any(name.startswith(f".{f}.") and name.endswith(".tmp") for f in RUN_FILES)
        (own if entry.is_file() and (name in RUN_FILES or is_tmp) else other).append(entry)
    return own, other


def remove_files(paths: list[Path]) -> None:
    """Delete these files (those already gone are fine)."""
    for path in paths:
        path.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private (0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    write_text(path, json.dumps(value, indent=2) + "\n")


def metric_rows(history: Any) -> list[dict[str, Any]]:
    """One row per epoch, with the validation split named as what it is: the test split."""
    return [
        {key.replace("val_", "test_"): value for key, value in row.items()}
        for row in history.epochs
    ]


def write_metrics(folder: Path, history: Any) -> None:
    """Rewrite ``metrics.jsonl`` and ``metrics.csv`` from the history.

    Also removes the temporary files a killed run left behind (``.metrics.csv.x1y2.tmp``, a
    half-written ``.checkpoint.safetensors.*.tmp``): called between epochs, when this process
    is writing none of them, so every such file is stale.
    """
    for stale in folder.glob(".*.tmp"):
        if any(stale.name.startswith(f".{name}.") for name in RUN_FILES):
            stale.unlink(missing_ok=True)
    rows = metric_rows(history)
    write_text(folder / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    buffer = io.StringIO()
    columns = [c for c in _COLUMNS if any(c in row for row in rows)]
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(folder / "metrics.csv", buffer.getvalue())


def plot_curves(folder: Path, history: Any, title: str = "") -> Path | None:
    """Draw loss and accuracy per epoch (train and test) into ``curves.png``; return its path.

    Figures are optional: without matplotlib (a plain ``pip install mlplab``) this prints one
    line on stderr saying how to get them, draws nothing and returns None; the run goes on.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        print(
            f"mlplab: {folder / 'curves.png'} not drawn: figures need matplotlib "
            f'({err.name or "matplotlib"} is not installed; pip install "mlplab[lab]")',
            file=sys.stderr,
        )
        return None

    rows = metric_rows(history)
    epochs = [row["epoch"] for row in rows]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    if history.steps and rows:
        per_epoch = rows[-1]["epoch"] / max(1, history.steps[-1][0] + 1)
        ax_loss.plot(
            [(s + 1) * per_epoch for s, _ in history.steps],
            [v for _, v in history.steps],
            color="0.75",
            lw=0.8,
            label="train (per step)",
        )
    for split, style in (("train", "-o"), ("test", "-s")):
        if rows and f"{split}_loss" in rows[0]:
            ax_loss.plot(epochs, [r[f"{split}_loss"] for r in rows], style, ms=3, label=split)
            ax_acc.plot(epochs, [r[f"{split}_accuracy"] for r in rows], style, ms=3, label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a run with no epoch rows has nothing to name
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = folder / "curves.png"
    tmp = folder / ".curves.png.tmp"
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def summary_table(summary: dict[str, Any]) -> str:
    """Format the final numbers as a small two-column table.

    Examples:
        >>> print(summary_table({"test_accuracy": 0.9412, "test_loss": 0.21, "train_accuracy": 1.0,
        ...                      "train_loss": 0.004, "epochs": 10, "seconds": 13.25}))
                  loss  accuracy
        train  0.00400    1.0000
        test   0.21000    0.9412
        10 epochs in 13.2 s
    """
    lines = [f"{'':5}  {'loss':>7}  {'accuracy':>8}"]
    for split in ("train", "test"):
        loss, acc = summary[f"{split}_loss"], summary[f"{split}_accuracy"]
        lines.append(f"{split:5}  {loss:7.5f}  {acc:8.4f}")
    epochs = summary["epochs"]
    lines.append(f"{epochs} epoch{'' if epochs == 1 else 's'} in {summary['seconds']:.1f} s")
    return "\n".join(lines)
