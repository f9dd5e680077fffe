"""Run folders as a library: :func:`load_run` gives back the model a ``mlplab train`` run trained.

A run folder (``mlplab train --out DIR``, see :mod:`mlplab.commands.rundir`) holds
``config.json`` and ``checkpoint.safetensors``; the checkpoint's tensors are ``model/<name>`` and
``optimizer/<index>/<key>`` and its metadata repeats the config. :func:`load_run` rebuilds the
MLP the config describes and copies the weights in: what ``mlplab evaluate DIR`` scores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RunError", "load_run", "read_run_config"]

#: The config keys the model is rebuilt from.
MODEL_KEYS = ("in_features", "out_features", "depth", "width", "activation", "dtype", "seed")


class RunError(ValueError):
    """A folder that is not a run folder, or a run that cannot be rebuilt."""


def _checkpoint_of(folder: Path) -> Path:
    from .checkpoint import CHECKPOINT_NAME

    if folder.is_file() and folder.name == CHECKPOINT_NAME:
        return folder
    if not folder.exists():
        raise FileNotFoundError(f"load_run: {folder} does not exist")
    if not folder.is_dir():
        raise RunError(f"load_run: {folder} is a file, not a run folder")
    path = folder / CHECKPOINT_NAME
    if not path.is_file():
        if (folder / "config.json").is_file():
            raise RunError(
                f"load_run: {folder} holds no {CHECKPOINT_NAME}: the run stopped before its "
                "first epoch ended, so there is no trained model"
            )
        raise RunError(
            f"load_run: {folder} is not a run folder (no config.json or {CHECKPOINT_NAME}; "
            "mlplab train --out DIR writes one)"
        )
    return path


def read_run_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the config of a run (``config.json``).

    Raises:
        RunError: when the folder has no readable ``config.json`` object.

    Examples:
        >>> import tempfile, json
        >>> from pathlib import Path
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "config.json").write_text('{"width": 8}')
        >>> read_run_config(d)
        {'width': 8}
    """
    path = Path(folder) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"load_run: {folder} has no config.json") from None
    except (OSError, ValueError) as err:
        raise RunError(f"load_run: cannot read {path}: {err}") from None
    if not isinstance(config, dict):
        raise RunError(f"load_run: {path} is not a JSON object")
    return config


def load_run(folder: str | os.PathLike[str]) -> Any:
    """Return the trained model of a run folder, rebuilt from its config and checkpoint.

    The model is the MLP its config describes (``in_features``, ``width``, ``depth``, ...), with
    the weights of the checkpoint (the last finished epoch), in eval mode. A run trained with a
    closure-free Nesterov holds φ = θ − αu in its weights; θ is given back.

    Args:
        folder: a run folder, or its ``checkpoint.safetensors``.

    Raises:
        FileNotFoundError: when ``folder`` does not exist.
        RunError: for a folder that is not a run, a run without a checkpoint (it failed in its
            first epoch), or a config that does not describe an MLP.
        CheckpointError: for a damaged checkpoint or one that does not fit the config.

    Examples:
        >>> import tempfile, mlplab
        >>> mlplab.load_run(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlplab.runs.RunError: load_run: ... is not a run folder (no config.json or ...)
    """
    from .checkpoint import load_checkpoint
    from .commands import UsageError
    from .commands import build as B

    path = _checkpoint_of(Path(folder))
    saved = load_checkpoint(path)
    config = dict(saved.config)
    if not config and (path.parent / "config.json").is_file():
        config = read_run_config(path.parent)
    missing = [key for key in MODEL_KEYS if key not in config]
    if missing:
        raise RunError(
            f"load_run: {path} holds no mlplab train config (missing {', '.join(missing)})"
        )
    config.setdefault("init", "kaiming_normal")
    try:
        model = B.build_model(config)
    except UsageError as err:
        raise RunError(f"load_run: {path}: the config does not describe an MLP: {err}") from None
    saved.load_model(model)
    if saved.optimizer_state.get("mode") == "lookahead":
        _to_theta(config, model, saved)
    return model.eval()


def _to_theta(config: dict[str, Any], model: Any, saved: Any) -> None:
    """Move a closure-free Nesterov's φ = θ − αu to θ (u from the optimizer state)."""
    from .commands import build as B

    optimizer = B.build_optimizer(config, model)
    saved.restore(model, optimizer)
    for p, theta in zip(model.parameters(), optimizer.theta(), strict=True):
        p.data[...] = theta
