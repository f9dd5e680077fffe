"""Checkpoints: everything a run needs to continue exactly where it stopped, in one safe file.

A checkpoint is one safetensors file (``checkpoint.safetensors``) written through
:mod:`mlplab.serialization` (temp file + rename, so a crash or SIGKILL never leaves a half-written
file where a good one was). It never uses pickle, so loading one cannot run code:

- tensors: ``model/<name>`` for every weight, ``optimizer/<index>/<key>`` for every array of
  the optimizer state (moments, buffers);
- metadata, each a JSON string: ``format``, ``config`` (how to rebuild the model and the run),
  ``optimizer`` (hyperparameters and the non-array state such as step counts),
  ``loader`` (the DataLoader's epoch and generator state), ``scheduler``, ``epoch``, ``step``,
  ``history`` and ``generators`` (the state of each module's own ``rng``, such as a Dropout's
  mask generator, by module name; optional in files written before it existed).

Restoring all of it gives a resumed run the same weights, the same data order, the same learning
rates and therefore the same numbers, bit for bit, as a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .train import History

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "Checkpoint",
    "checkpoint_path",
    "save_checkpoint",
    "load_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.safetensors"
FORMAT = "mlplab-checkpoint-1"
_JSON_KEYS = ("config", "optimizer", "loader", "scheduler", "epoch", "step", "history")
# what decoding or restoring a damaged file's values can raise (RecursionError is a
# RuntimeError: JSON nested too deep; OverflowError: int(inf)); found by fuzzing
_DAMAGE = (KeyError, IndexError, ValueError, TypeError, AttributeError, RuntimeError,
           OverflowError)  # fmt: skip


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupted, or does not fit what it is loaded into."""


def checkpoint_path(folder: str | os.PathLike[str]) -> Path:
    """Return the path of the checkpoint inside a run folder.

    Examples:
        >>> checkpoint_path("runs/mnist").as_posix()
        'runs/mnist/checkpoint.safetensors'
    """
    return Path(folder) / CHECKPOINT_NAME


def _plain(value: Any) -> Any:
    """JSON fallback for NumPy scalars and tuples inside state dicts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"checkpoint: cannot store a {type(value).__name__} as JSON")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_plain, allow_nan=True)


# ------------------------------------------------------------------- file format


def _write(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    from .serialization import save

    save(tensors, path, metadata=metadata)


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from .serialization import load

    tensors, metadata = load(path, with_metadata=True)
    return tensors, metadata


# ------------------------------------------------------------------- saving


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays of an optimizer state_dict become tensors; everything else stays JSON."""
    tensors: dict[str, np.ndarray] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        plain[str(index)] = {}
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                tensors[f"optimizer/{index}/{key}"] = np.ascontiguousarray(value)
            else:
                plain[str(index)][key] = value
    meta = {k: v for k, v in state.items() if k != "state"} | {"state": plain}
    return tensors, meta


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: Any,
    optimizer: Any,
    loader: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    step: int = 0,
    history: History | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (the old file stays intact until the new one is complete).

    Args:
        path: the file to write, e.g. ``checkpoint_path(run_folder)``.
        model: its ``state_dict()`` is stored under ``model/<name>``.
        optimizer: its ``state_dict()``: arrays as tensors, the rest as JSON.
        loader: a DataLoader whose ``state_dict()`` (epoch, generator state) is stored.
        scheduler: an lr scheduler whose ``state_dict()`` is stored.
        epoch: epochs completed; step: optimizer steps completed.
        history: the run's :class:`~mlplab.train.History`.
        config: JSON-able description of the run (used to rebuild the model).

    Examples:
        >>> import tempfile
        >>> from mlplab.nn import MLP
        >>> from mlplab.optim import Adam
        >>> model = MLP(4, 2, width=3, depth=2, rng=0)
        >>> path = checkpoint_path(tempfile.mkdtemp())
        >>> save_checkpoint(path, model=model, optimizer=Adam(model.parameters()), epoch=1,
        ...                 config={"width": 3})
        >>> ckpt = load_checkpoint(path)
        >>> ckpt.epoch, ckpt.config, ckpt.optimizer_state["class"]
        (1, {'width': 3}, 'Adam')
    """
    # asarray(order="C"), not ascontiguousarray: that makes a 0-d buffer (a counter) 1-d
    tensors = {f"model/{k}": np.asarray(v, order="C") for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = _split_optimizer(optimizer.state_dict())
    opt_meta["class"] = type(optimizer).__name__
    tensors.update(opt_tensors)
    values = {
        "config": config or {},
        "optimizer": opt_meta,
        "loader": loader.state_dict() if loader is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": int(epoch),
        "step": int(step),
        "history": (history or History()).to_dict(),
    }
    metadata = {"format": FORMAT} | {k: _dumps(v) for k, v in values.items()}
    metadata["generators"] = _dumps(
        {name: rng.bit_generator.state for name, rng in _module_generators(model)}
    )
    _write(Path(path), tensors, metadata)


def _module_generators(model: Any) -> list[tuple[str, np.random.Generator]]:
    """The modules that draw from a Generator of their own (``module.rng``), by name."""
    modules = model.named_modules() if hasattr(model, "named_modules") else []
    return [
        (name, module.rng)
        for name, module in modules
        if isinstance(getattr(module, "rng", None), np.random.Generator)
    ]


# ------------------------------------------------------------------- loading


@dataclass
class Checkpoint:
    """A loaded checkpoint: the arrays and the decoded metadata.

    Examples:
        >>> import tempfile
        >>> from mlplab.nn import Linear
        >>> from mlplab.optim import SGD
        >>> model = Linear(2, 1, rng=0)
        >>> path = checkpoint_path(tempfile.mkdtemp())
        >>> save_checkpoint(path, model=model, optimizer=SGD(model.parameters(), lr=0.1), epoch=3)
        >>> ckpt = load_checkpoint(path)
        >>> ckpt.epoch, sorted(ckpt.model_state)
        (3, ['bias', 'weight'])
        >>> ckpt.load_model(Linear(2, 1, rng=1))  # copies the weights in
    """

    path: Path
    model_state: dict[str, np.ndarray]
    optimizer_state: dict[str, Any]
    loader_state: dict[str, Any] | None
    scheduler_state: dict[str, Any] | None
    config: dict[str, Any]
    epoch: int
    step: int
    history: History
    generators: dict[str, Any] | None = None

    def load_model(self, model: Any) -> None:
        """Copy the weights and buffers into ``model`` and restore the state of its modules'
        own generators (Dropout masks).

        Raises:
            CheckpointError: if the architecture differs (the message names the mismatch).

        Examples:
            >>> import tempfile, numpy as np
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD
            >>> saved = Linear(2, 1, rng=0)
            >>> path = checkpoint_path(tempfile.mkdtemp())
            >>> save_checkpoint(path, model=saved, optimizer=SGD(saved.parameters(), lr=0.1))
            >>> model = Linear(2, 1, rng=1)
            >>> load_checkpoint(path).load_model(model)
            >>> bool(np.array_equal(model.weight.data, saved.weight.data))
            True
            >>> load_checkpoint(path).load_model(Linear(3, 1))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            mlplab.checkpoint.CheckpointError: checkpoint ... does not fit the model: ...
        """
        try:
            model.load_state_dict(self.model_state)
        except (RuntimeError, ValueError, TypeError) as err:
            raise CheckpointError(
                f"checkpoint {self.path} does not fit the model: {_one_line(err)}"
            ) from None
        saved = self.generators or {}
        for name, rng in _module_generators(model):
            if name not in saved:
                raise CheckpointError(
                    f"checkpoint {self.path} holds no state for the generator of module "
                    f"'{name}' ({type(rng.bit_generator).__name__})"
                )
            try:
                rng.bit_generator.state = saved[name]
            except _DAMAGE as err:
                raise CheckpointError(
                    f"checkpoint {self.path}: cannot restore the generator of module "
                    f"'{name}': {_one_line(err)}"
                ) from None

    def restore(self, model: Any, optimizer: Any, loader: Any = None, scheduler: Any = None):
        """Restore weights, optimizer, loader and scheduler state (in that order).

        Raises:
            CheckpointError: if a part does not fit (another optimizer class, a state missing).

        Examples:
            >>> import tempfile, numpy as np
            >>> from mlplab.nn import Linear
            >>> from mlplab.optim import SGD, Adam
            >>> model = Linear(2, 1, rng=0)
            >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
            >>> model(np.ones((4, 2), np.float32)).sum().backward(); opt.step()
            >>> path = checkpoint_path(tempfile.mkdtemp())
            >>> save_checkpoint(path, model=model, optimizer=opt, epoch=1, step=1)
            >>> again = Linear(2, 1, rng=1)
            >>> again_opt = SGD(again.parameters(), lr=0.1, momentum=0.9)
            >>> load_checkpoint(path).restore(again, again_opt)
            >>> bool(np.array_equal(again_opt.state_dict()["state"][0]["momentum_buffer"],
            ...                     opt.state_dict()["state"][0]["momentum_buffer"]))
            True
            >>> load_checkpoint(path).restore(again, Adam(again.parameters()))
            Traceback (most recent call last):
            ...
            mlplab.checkpoint.CheckpointError: checkpoint ... holds SGD state, the run uses Adam
        """
        self.load_model(model)
        saved_class = self.optimizer_state.get("class")
        if saved_class is not None and saved_class != type(optimizer).__name__:
            raise CheckpointError(
                f"checkpoint {self.path} holds {saved_class} state, the run uses "
                f"{type(optimizer).__name__}"
            )
        parts: list[tuple[str, Any, Any]] = [
            ("optimizer", optimizer, self.optimizer_state),
            ("data loader", loader, self.loader_state),
            ("lr scheduler", scheduler, self.scheduler_state),
        ]
        for what, target, state in parts:
            if target is None:
                continue
            if state is None:
                raise CheckpointError(f"checkpoint {self.path} holds no {what} state")
            try:
                target.load_state_dict(state)
            except _DAMAGE as err:
                raise CheckpointError(
                    f"checkpoint {self.path}: cannot restore the {what}: {_one_line(err)}"
                ) from None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _optimizer_state(meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(entry) for i, entry in meta["state"].items()}
    for name, array in tensors.items():
        _, index, key = name.split("/", 2)
        state.setdefault(int(index), {})[key] = array
    return {k: v for k, v in meta.items() if k != "state"} | {"state": state}


def _check_kinds(values: dict[str, Any]) -> None:
    """Refuse decoded metadata of the wrong JSON kind before anything uses it."""
    for key in ("config", "optimizer", "loader", "scheduler", "history"):
        optional = key in ("loader", "scheduler") and values[key] is None
        if not optional and not isinstance(values[key], dict):
            raise ValueError(f"{key} must be a JSON object, got {type(values[key]).__name__}")
    for key in ("epoch", "step"):
        value = values[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{key} must be an int >= 0, got {str(value)[:40]}")
    rows = values["history"].get("epochs")
    if not isinstance(rows, list):
        raise ValueError(f"history epochs must be a list, got {type(rows).__name__}")
    for row in rows:  # fit and the run folder read these
        numbers = isinstance(row, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in row.values()
        )
        if not numbers or not {"epoch", "steps", "seconds"} <= set(row):
            raise ValueError(f"history rows must be objects of numbers with epoch, steps and "
                             f"seconds, got {str(row)[:60]}")  # fmt: skip


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: if there is no file at ``path``.
        CheckpointError: if the file is truncated, corrupted, or not an mlplab checkpoint.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> bad = Path(tempfile.mkdtemp()) / "checkpoint.safetensors"
        >>> _ = bad.write_bytes(b"not a checkpoint")
        >>> load_checkpoint(bad)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlplab.checkpoint.CheckpointError: cannot read checkpoint ...
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        tensors, metadata = _read(path)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {_one_line(err)}") from None
    if (metadata or {}).get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an mlplab checkpoint (no '{FORMAT}' format tag)")
    try:
        values = {key: json.loads(metadata[key]) for key in _JSON_KEYS}
        _check_kinds(values)
        generators = json.loads(metadata.get("generators", "{}"))
        if not isinstance(generators, dict):
            raise ValueError(f"generators must be a JSON object, got {type(generators).__name__}")
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}
        opt_tensors = {k: v for k, v in tensors.items() if k.startswith("optimizer/")}
        return Checkpoint(
            path=path,
            model_state=model_state,
            optimizer_state=_optimizer_state(values["optimizer"], opt_tensors),
            loader_state=values["loader"],
            scheduler_state=values["scheduler"],
            config=values["config"],
            epoch=int(values["epoch"]),
            step=int(values["step"]),
            history=History.from_dict(values["history"]),
            generators=generators,
        )
    except _DAMAGE as err:
        raise CheckpointError(f"checkpoint {path} is damaged: {_one_line(err)}") from None
