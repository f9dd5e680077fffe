"""From a run's config (a plain JSON dict) to the objects that train: data, model, optimizer.

The config is the whole description of a run; it is written to ``config.json`` and into every
checkpoint, so ``mlplab evaluate`` and ``--resume`` rebuild exactly the same model and optimizer.
Every optimizer hyperparameter is resolved here to a concrete value (the flag, or the
optimizer's default in the table below), so the config never depends on defaults changing later.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import UsageError

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "INITIALIZERS",
    "NEWTON_FULL_MAX_PARAMETERS",
    "resolve_optimizer",
    "resolve_schedule",
    "load_data",
    "build_model",
    "build_optimizer",
    "build_scheduler",
]

#: --optimizer name -> (class in mlplab.optim, its keyword arguments with the CLI's defaults).
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "gd": ("GD", {"lr": 0.1, "weight_decay": 0.0}),
    "momentum": ("Momentum", {"lr": 0.1, "beta": 0.9, "bias_correction": False,
                              "weight_decay": 0.0}),
    "nesterov": ("Nesterov", {"lr": 0.1, "beta": 0.9}),
    "adam": ("Adam", {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
                      "amsgrad": False, "bias_correction": True}),
    "adamw": ("AdamW", {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-2,
                        "amsgrad": False, "bias_correction": True}),
    "newton": ("Newton", {"lr": 1.0, "damping": 0.0, "method": "full", "cg_max_iter": 20}),
    "sgd": ("SGD", {"lr": 0.05, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0,
                    "nesterov": False}),
    "rmsprop": ("RMSprop", {"lr": 1e-3, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0,
                            "momentum": 0.0, "centered": False}),
    "adagrad": ("Adagrad", {"lr": 1e-2, "lr_decay": 0.0, "eps": 1e-10, "weight_decay": 0.0}),
}  # fmt: skip

#: config key (the flag's dest) -> the keyword it sets, per optimizer where the names differ.
_RENAMES = {
    "momentum": {"momentum": "beta", "nesterov": "beta"},
    "newton_method": {"newton": "method"},
}
_FLAG = {"bias_correction": "--bias-correction/--no-bias-correction",
         "newton_method": "--newton-method", "cg_max_iter": "--cg-max-iter",
         "momentum": "--momentum/--beta"}  # fmt: skip

SCHEDULES = ("none", "step", "exponential", "cosine", "warmup")
INITIALIZERS = ("kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform",
                "orthogonal", "zeros", "normal:<k>/n", "normal:<variance>")  # fmt: skip
#: Full Newton builds the n×n Hessian with one backward pass per row: small models only.
NEWTON_FULL_MAX_PARAMETERS = 2000


def _flag(key: str) -> str:
    return _FLAG.get(key, "--" + key.replace("_", "-"))


def resolve_optimizer(name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Return the optimizer's keyword arguments: its defaults overridden by the given flags.

    Args:
        name: an :data:`OPTIMIZERS` key.
        given: config key -> value for the optimizer flags the user set (None = not set).

    Raises:
        UsageError: for an unknown optimizer, or a flag that this optimizer does not take.

    Examples:
        >>> resolve_optimizer("momentum", {"lr": 0.5, "momentum": 0.8})
        {'lr': 0.5, 'beta': 0.8, 'bias_correction': False, 'weight_decay': 0.0}
    """
    if name not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    args = dict(OPTIMIZERS[name][1])
    for key, value in given.items():
        if value is None:
            continue
        kwarg = _RENAMES.get(key, {}).get(name, key)
        if kwarg not in args:
            options = ", ".join(_flag(k) for k in args)
            raise UsageError(
                f"{_flag(key)} does not apply to --optimizer {name} (it takes {options})"
            )
        args[kwarg] = list(value) if isinstance(value, tuple) else value
    return args


def resolve_schedule(name: str, epochs: int, given: dict[str, Any]) -> dict[str, Any]:
    """Return the schedule's arguments (per-epoch schedules, as in PyTorch).

    step: lr·γ^⌊e/step_size⌋ (defaults: step_size = max(1, epochs // 3), γ = 0.1);
    exponential: lr·γ^e (γ = 0.9); cosine: annealing to 0 over all epochs;
    warmup: linear from 0.1·lr to lr over ``warmup_epochs`` (default 2), then constant.

    Examples:
        >>> resolve_schedule("step", 9, {"gamma": None, "step_size": None, "warmup_epochs": None})
        {'step_size': 3, 'gamma': 0.1}
    """
    if name not in SCHEDULES:
        raise UsageError(f"unknown --lr-schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    defaults: dict[str, dict[str, Any]] = {
        "none": {},
        "step": {"step_size": max(1, epochs // 3), "gamma": 0.1},
        "exponential": {"gamma": 0.9},
        "cosine": {"T_max": max(1, epochs)},
        "warmup": {"warmup_epochs": 2},
    }
    args = defaults[name]
    for key, value in given.items():
        if value is None:
            continue
        if key not in args:
            raise UsageError(f"{_flag(key)} does not apply to --lr-schedule {name}")
        args[key] = value
    return args


def load_data(config: dict[str, Any], split: str) -> Any:
    """Load a split of the config's data set, in the config's dtype.

    Raises:
        UsageError: for an unknown set, a missing folder or files, or corrupt files.
    """
    from ..data import DownloadError, load_dataset
    from ..data.loader import ArrayDataset

    try:
        dataset = load_dataset(
            config["data"], split=split, root=config.get("root"), download=config["download"]
        )
    except (FileNotFoundError, ValueError, DownloadError, OSError) as err:
        raise UsageError(" ".join(str(err).split())) from None
    dtype = np.dtype(config["dtype"])
    if dataset.x.dtype != dtype:
        dataset = ArrayDataset(dataset.x.astype(dtype), dataset.y)
    if dataset.x.ndim != 2:
        dataset = ArrayDataset(dataset.x.reshape(len(dataset.x), -1), dataset.y)
    return dataset


def build_model(config: dict[str, Any]) -> Any:
    """Build the MLP the config describes, its weights drawn from the config's seed.

    The model options added later (``norm``, ``dropout``, ``residual``) are read with their
    defaults, since configs hold them only when set (see ``train.MODEL_OPTIONS``).
    """
    from ..nn import MLP

    rng = np.random.default_rng(np.random.SeedSequence([config["seed"], 0]))
    try:
        return MLP(
            config["in_features"],
            config["out_features"],
            width=config["width"],
            depth=config["depth"],
            activation=config["activation"],
            init=config["init"],
            rng=rng,
            dtype=np.dtype(config["dtype"]),
            norm=config.get("norm"),
            dropout=config.get("dropout", 0.0),
            residual=config.get("residual", False),
        )
    except (ValueError, TypeError) as err:
        raise UsageError(" ".join(str(err).split())) from None


def build_optimizer(config: dict[str, Any], model: Any) -> Any:
    """Build the config's optimizer over the model's parameters.

    Raises:
        UsageError: for a bad hyperparameter (the optimizer's own message), or full Newton on a
            model too large for its n×n Hessian.
    """
    from .. import optim

    name = config["optimizer"]
    class_name = OPTIMIZERS[name][0]
    args = dict(config["optimizer_args"])
    if "betas" in args:
        args["betas"] = tuple(args["betas"])
    if name == "newton":
        n = model.num_parameters()
        if args["method"] == "full" and n > NEWTON_FULL_MAX_PARAMETERS:
            raise UsageError(
                f"--optimizer newton: the model has {n:,} parameters, full Newton builds an "
                f"n×n Hessian (one backward pass per row) and allows at most "
                f"{NEWTON_FULL_MAX_PARAMETERS:,}; use --newton-method cg or another optimizer"
            )
        if args["method"] != "cg":
            args.pop("cg_max_iter")
    try:
        return getattr(optim, class_name)(model.parameters(), **args)
    except (ValueError, TypeError) as err:
        raise UsageError(" ".join(str(err).split())) from None


def build_scheduler(config: dict[str, Any], optimizer: Any) -> Any:
    """Build the config's per-epoch lr schedule (None for ``"none"``)."""
    from ..optim import lr_scheduler as sched

    name, args = config["lr_schedule"], dict(config["schedule_args"])
    try:
        if name == "none":
            return None
        if name == "step":
            return sched.StepLR(optimizer, step_size=args["step_size"], gamma=args["gamma"])
        if name == "exponential":
            return sched.ExponentialLR(optimizer, gamma=args["gamma"])
        if name == "cosine":
            return sched.CosineAnnealingLR(optimizer, T_max=args["T_max"])
        return sched.LinearLR(optimizer, start_factor=0.1, total_iters=args["warmup_epochs"])
    except (ValueError, TypeError) as err:
        raise UsageError(" ".join(str(err).split())) from None
