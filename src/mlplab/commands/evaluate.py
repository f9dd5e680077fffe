"""``mlplab evaluate CHECKPOINT``: the loss and accuracy of a saved model on a data split.

The model is rebuilt from the config stored inside the checkpoint (architecture, dtype), then
its weights are loaded; a checkpoint whose weights do not fit that architecture, or data whose
inputs do not fit the model, is refused with one line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import UsageError
from . import build as B

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``evaluate`` to the ``mlplab`` subparsers."""
    p = subparsers.add_parser(
        "evaluate",
        help="loss and accuracy of a checkpoint",
        description="Rebuild the model from a checkpoint (or a run folder holding one) and print "
        "its cross-entropy loss and accuracy on a data split.",
    )
    p.add_argument("checkpoint", help="checkpoint.safetensors, or a run folder")
    p.add_argument("--data", help="data set (default: the one the run trained on)")
    p.add_argument("--root", help="folder holding mnist/fashion-mnist files")
    p.add_argument("--download", action="store_true", help="download missing files")
    p.add_argument("--split", choices=("test", "train"), default="test", help="[test]")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``mlplab evaluate``."""
    from ..checkpoint import CHECKPOINT_NAME, load_checkpoint
    from ..data import DataLoader
    from ..train import evaluate

    path = Path(args.checkpoint)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UsageError(f"no checkpoint at {path}")
    saved = load_checkpoint(path)
    config = dict(saved.config)
    required = ("in_features", "out_features", "depth", "width", "activation", "dtype", "seed")
    if any(key not in config for key in required):
        raise UsageError(f"{path} holds no mlplab train config (cannot rebuild the model)")
    for key in ("data", "root"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    config["download"] = args.download
    config.setdefault("init", "kaiming_normal")
    dataset = B.load_data(config, args.split)
    model = B.build_model(config)
    saved.load_model(model)
    if dataset.x.shape[1] != config["in_features"]:
        raise UsageError(
            f"--data {config['data']} has {dataset.x.shape[1]} input features, the model in "
            f"{path} takes {config['in_features']}"
        )
    if int(dataset.y.max()) >= config["out_features"]:
        raise UsageError(
            f"--data {config['data']} has label {int(dataset.y.max())}, the model in {path} "
            f"has {config['out_features']} outputs"
        )
    loss, accuracy = evaluate(model, DataLoader(dataset, batch_size=1000))
    result = {"loss": loss, "accuracy": accuracy, "samples": len(dataset), "split": args.split,
              "data": str(config["data"]), "epoch": saved.epoch}  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{config['data']} {args.split}: loss {loss:.5f}  accuracy {accuracy:.4f}  "
              f"({len(dataset)} samples, checkpoint after epoch {saved.epoch})")  # fmt: skip
    return 0
