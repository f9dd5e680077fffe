"""``mlplab train``: train an MLP on MNIST-like data with any optimizer and initializer.

The defaults (784-256-10 ReLU MLP, Kaiming normal weights, Adam with lr 1e-3, batches of 64,
10 epochs, on the embedded mnist-5k set) reach about 0.94 test accuracy in well under a minute
on two cores. Every run writes a folder (see :mod:`mlplab.commands.rundir`) and a checkpoint
after every epoch; ``--resume`` continues a run bit-identically.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..train import Callback
from . import UsageError, rundir
from . import build as B

__all__ = ["add_parser", "run", "make_config", "train_config"]

#: Top-level config keys and their defaults (flags left out take these).
DEFAULTS: dict[str, Any] = {
    "data": "mnist-5k", "root": None, "download": False,
    "depth": 2, "width": 256, "activation": "relu", "init": "kaiming_normal",
    "optimizer": "adam", "batch_size": 64, "epochs": 10, "lr_schedule": "none",
    "seed": 0, "dtype": "float32",
}  # fmt: skip
#: Model options added after the first configs were written: a config holds them only when set
#: to something else than these defaults, so configs (and sweep keys) of runs without them
#: stay exactly as they were, and old runs resume.
MODEL_OPTIONS: dict[str, Any] = {"norm": None, "dropout": 0.0, "residual": False}
OPTIMIZER_FLAGS = ("lr", "momentum", "betas", "eps", "weight_decay", "bias_correction",
                   "nesterov", "dampening", "damping", "alpha", "centered", "amsgrad",
                   "lr_decay", "newton_method", "cg_max_iter")  # fmt: skip
SCHEDULE_FLAGS = ("step_size", "gamma", "warmup_epochs")
#: Flags a resumed run may change (they do not alter the numbers).
_RESUME_FREE = ("epochs", "root", "download")


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _widths(text: str) -> int | list[int]:
    """``"128"`` -> 128 (every hidden layer), ``"128,64"`` -> [128, 64] (one per hidden layer).

    Examples:
        >>> _widths("128"), _widths("128, 64")
        (128, [128, 64])
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or a list like 128,64, got {text!r}"
        )
    return values[0] if len(values) == 1 and "," not in text else values


def _dropout_p(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0 <= value < 1:  # p = 1 would drop every activation: nothing could be learned
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _betas(text: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.9,0.999, got {text!r}")
    return values  # type: ignore[return-value]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``train`` and its flags to the ``mlplab`` subparsers."""
    p = subparsers.add_parser(
        "train",
        help="train an MLP and write a run folder",
        description="Train a fully connected network. Each run writes a folder with config.json, "
        "metrics.jsonl/.csv, summary.json, curves.png and checkpoint.safetensors (saved after "
        "every epoch; --resume continues bit-identically). The test split is evaluated after "
        "every epoch (it only reports, it selects nothing).",
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", help="mnist-5k (embedded, 4000 train / 1000 test), mnist, "
                   "fashion-mnist, or a folder of IDX files [mnist-5k]")  # fmt: skip
    d.add_argument("--root", help="folder holding mnist/fashion-mnist files [cache folder]")
    d.add_argument(
        "--download",
        action="store_true",
        default=None,
        help="download missing mnist/fashion-mnist files (checksums verified)",
    )
    m = p.add_argument_group("model")
    m.add_argument("--depth", type=_int_at_least(1), help="number of Linear layers L [2]")
    m.add_argument("--width", type=_widths, help="hidden units per layer, or one per hidden "
                   "layer like 128,64 (then --depth is their count + 1) [256]")  # fmt: skip
    m.add_argument("--activation", help="relu, leaky_relu, tanh, sigmoid, gelu, identity [relu]")
    m.add_argument("--init", help=f"weight init: {', '.join(B.INITIALIZERS)} [kaiming_normal]")
    m.add_argument("--norm", choices=("batch", "layer"),
                   help="BatchNorm1d or LayerNorm after every hidden Linear [none]")  # fmt: skip
    m.add_argument("--dropout", type=_dropout_p,
                   help="dropout p after every hidden activation [0]")  # fmt: skip
    m.add_argument("--residual", action="store_true", default=None,
                   help="add each hidden layer's input to its output (equal widths)")  # fmt: skip
    o = p.add_argument_group("optimizer (defaults depend on --optimizer)")
    o.add_argument("--optimizer", help=f"{', '.join(B.OPTIMIZERS)} [adam]")
    o.add_argument("--lr", type=_non_negative_float, help="learning rate α")
    o.add_argument(
        "--momentum",
        "--beta",
        dest="momentum",
        type=_non_negative_float,
        help="β of momentum/nesterov (lecture EMA form), momentum of sgd/rmsprop",
    )
    o.add_argument("--betas", type=_betas, help="adam/adamw (β₁,β₂), e.g. 0.9,0.999")
    o.add_argument("--eps", type=_non_negative_float, help="ε of adam, adamw, rmsprop, adagrad")
    o.add_argument("--weight-decay", type=_non_negative_float, help="L2 / decoupled decay")
    o.add_argument(
        "--bias-correction",
        action=argparse.BooleanOptionalAction,
        help="bias-corrected moments (adam: on, momentum: off)",
    )
    o.add_argument("--nesterov", action="store_true", default=None, help="sgd: PyTorch Nesterov")
    o.add_argument("--dampening", type=_non_negative_float, help="sgd dampening")
    o.add_argument("--damping", type=_non_negative_float, help="newton: λ in (H + λI)d = g")
    o.add_argument("--newton-method", choices=("full", "cg"), help="newton: full Hessian or CG")
    o.add_argument("--cg-max-iter", type=_int_at_least(1), help="newton cg iterations [20]")
    o.add_argument("--alpha", type=_non_negative_float, help="rmsprop smoothing α")
    o.add_argument("--centered", action="store_true", default=None, help="rmsprop centered")
    o.add_argument("--amsgrad", action="store_true", default=None, help="adam/adamw AMSGrad")
    o.add_argument("--lr-decay", type=_non_negative_float, help="adagrad lr decay")
    t = p.add_argument_group("training")
    t.add_argument("--batch-size", type=_int_at_least(1), help="minibatch size |B| [64]")
    t.add_argument("--epochs", type=_int_at_least(0), help="epochs [10]")
    t.add_argument("--lr-schedule", help=f"per-epoch schedule: {', '.join(B.SCHEDULES)} [none]")
    t.add_argument("--step-size", type=_int_at_least(1), help="step schedule: epochs per decay")
    t.add_argument("--gamma", type=_non_negative_float, help="step/exponential decay factor")
    t.add_argument("--warmup-epochs", type=_int_at_least(1), help="warmup schedule length [2]")
    t.add_argument("--seed", type=_int_at_least(0), help="seed of weights and data order [0]")
    t.add_argument("--dtype", choices=("float32", "float64"), help="parameter dtype [float32]")
    r = p.add_argument_group("run")
    r.add_argument("--out", help="run folder [runs/<date>-<time>]")
    r.add_argument("--resume", action="store_true", help="continue the run in --out")
    r.add_argument("--overwrite", action="store_true",
                   help="start afresh in --out, replacing its run files (others stay)")  # fmt: skip
    r.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    r.add_argument("--threads", type=_int_at_least(1),
                   help="threads for mlplab and the BLAS [all cores from batch·width² ≥ 2²⁴ "
                   "on, else 1; or OMP_NUM_THREADS]")  # fmt: skip
    p.set_defaults(run=run)
    return p


def make_config(flags: dict[str, Any]) -> dict[str, Any]:
    """Resolve the given flags (name -> value, unset ones absent) into a complete config.

    Examples:
        >>> c = make_config({"optimizer": "sgd", "lr": 0.1, "momentum": 0.9})
        >>> c["optimizer_args"]["momentum"], c["depth"], c["width"]
        (0.9, 2, 256)
    """
    config = DEFAULTS | {k: v for k, v in flags.items() if k in DEFAULTS}
    config |= {
        k: v for k, v in flags.items() if k in MODEL_OPTIONS and v not in (None, MODEL_OPTIONS[k])
    }
    if isinstance(config["width"], list | tuple):  # one width per hidden layer: L = count + 1
        config["width"] = [int(w) for w in config["width"]]
        if "depth" not in flags:
            config["depth"] = len(config["width"]) + 1
        elif flags["depth"] != len(config["width"]) + 1:
            raise UsageError(
                f"--depth {flags['depth']} does not fit --width "
                f"{','.join(map(str, config['width']))}: {len(config['width'])} hidden widths "
                f"make {len(config['width']) + 1} Linear layers"
            )
    if config.get("residual") and not _has_residual_block(config["width"], config["depth"]):
        raise UsageError(
            f"--residual needs two consecutive hidden layers of equal width (a residual block "
            f"adds a hidden layer's input to its output), --depth {config['depth']} --width "
            f"{config['width']} has none"
        )
    config["optimizer_args"] = B.resolve_optimizer(
        config["optimizer"], {k: flags.get(k) for k in OPTIMIZER_FLAGS}
    )
    config["schedule_args"] = B.resolve_schedule(
        config["lr_schedule"], config["epochs"], {k: flags.get(k) for k in SCHEDULE_FLAGS}
    )
    config["flags"] = dict(flags)
    return config


def _has_residual_block(width: Any, depth: int) -> bool:
    """Whether some hidden layer maps nᵢ → nᵢ₊₁ = nᵢ (hidden sizes: the L − 1 widths)."""
    hidden = list(width) if isinstance(width, list | tuple) else [width] * (depth - 1)
    return any(a == b for a, b in zip(hidden, hidden[1:], strict=False))


def _given(args: argparse.Namespace) -> dict[str, Any]:
    keys = (*DEFAULTS, *MODEL_OPTIONS, *OPTIMIZER_FLAGS, *SCHEDULE_FLAGS)
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _default_out() -> Path:
    base = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _resume_config(out: Path, given: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The saved run's config, with --epochs etc. applied; refuse flags that change the run."""
    from ..checkpoint import checkpoint_path, load_checkpoint

    path = checkpoint_path(out)
    if not path.is_file():
        hint = ""
        if (out / "config.json").is_file():
            hint = "; the run stopped before its first epoch ended: rerun without --resume"
        raise UsageError(f"--resume: no checkpoint in {out} (expected {path}){hint}")
    saved = load_checkpoint(path)
    config = saved.config
    if not config or not isinstance(config.get("flags"), dict):
        raise UsageError(f"--resume: {path} holds no mlplab train config")
    try:
        wanted = make_config(config["flags"] | given)
    except (TypeError, ValueError) as err:  # flags from a damaged file (found by fuzzing)
        raise UsageError(f"--resume: {path} holds a damaged config: {err}") from None
    for key in sorted(set(wanted) | set(config)):
        if key in (*_RESUME_FREE, "flags", "in_features", "out_features", "schedule_args"):
            continue
        if wanted.get(key) != config.get(key):
            raise UsageError(
                f"--resume: the command line gives {key} = {wanted.get(key)!r}, the run in "
                f"{out} has {config.get(key)!r}; a resumed run keeps its config (only --epochs "
                "may change)"
            )
    if wanted["schedule_args"] != config["schedule_args"]:
        raise UsageError(
            f"--resume: the lr schedule would change from {config['schedule_args']} to "
            f"{wanted['schedule_args']}; resume with the run's --epochs {config['epochs']}"
        )
    for key in _RESUME_FREE:
        config[key] = wanted[key]
    if config["epochs"] < saved.epoch:
        raise UsageError(
            f"--resume: --epochs {config['epochs']} is fewer than the {saved.epoch} already done"
        )
    config["flags"] = config["flags"] | {k: given[k] for k in _RESUME_FREE if k in given}
    return config, saved


def _fresh_out(out: Path, overwrite: bool) -> list[Path]:
    """The run files to clear before a fresh run in ``out``; refuse a folder that holds a run.

    A folder of a run that never wrote a checkpoint (it failed in its first epoch) starts
    afresh; with ``overwrite`` any run does. Files that are not a run's are never touched.
    """
    from ..checkpoint import CHECKPOINT_NAME

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if not out.is_dir():
        return []
    own, other = rundir.split_run_files(out)
    if overwrite or (not other and not (out / CHECKPOINT_NAME).exists()):
        return own
    kind = "a run" if (out / CHECKPOINT_NAME).exists() else "files"
    raise UsageError(
        f"--out {out} already holds {kind}; pass --resume to continue it, --overwrite to start "
        "afresh, or choose another --out (nothing was overwritten)"
    )


class _RunFolder(Callback):
    """fit callback: after every epoch, rewrite the metrics files and print the epoch line."""

    def __init__(self, out: Path, quiet: bool) -> None:
        self.out, self.quiet = out, quiet

    def on_epoch_end(self, state: Any) -> None:
        rundir.write_metrics(self.out, state.history)
        if not self.quiet:
            row = state.logs
            print(
                f"epoch {row['epoch']}/{state.epochs}  train loss {row['train_loss']:.4f} "
                f"acc {row['train_accuracy']:.4f}  test loss {row['val_loss']:.4f} "
                f"acc {row['val_accuracy']:.4f}  lr {row['lr']:.3g}  {row['seconds']:.1f} s",
                file=sys.stderr,
            )


def train_config(
    config: dict[str, Any],
    train_set: Any,
    test_set: Any,
    *,
    saved: Any = None,
    before_fit: Callable[[Any], None] | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint_dir: Path | None = None,
    progress: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """Train what a resolved config describes; return its History and summary.json dict.

    The one training path of ``mlplab train`` and of a sweep trial (:mod:`mlplab.sweep.trial`),
    so both give bit-identical numbers for one config: model, init, data order, optimizer and
    schedule from ``config``; ``saved`` (a loaded checkpoint) resumes; ``before_fit(model)``
    runs once the model is built and restored, before the first step.

    Raises:
        mlplab.train.DivergenceError: when the loss becomes NaN or infinite.

    Examples:
        >>> c = make_config({"epochs": 1, "depth": 1})
        >>> from mlplab.data.loader import ArrayDataset
        >>> train, test = B.load_data(c, "train"), B.load_data(c, "test")
        >>> small = ArrayDataset(train.x[:256], train.y[:256])
        >>> history, summary = train_config(c, small, ArrayDataset(test.x[:100], test.y[:100]))
        >>> summary["epochs"], summary["steps"]
        (1, 4)
    """
    from ..data import DataLoader
    from ..train import evaluate, fit

    if saved is None:
        n_classes = int(max(train_set.y.max(), test_set.y.max())) + 1
        config["in_features"], config["out_features"] = int(train_set.x.shape[1]), n_classes
    model = B.build_model(config)
    optimizer = B.build_optimizer(config, model)
    scheduler = B.build_scheduler(config, optimizer)
    train_loader = DataLoader(
        train_set, batch_size=config["batch_size"], shuffle=True, seed=config["seed"]
    )
    test_loader = DataLoader(test_set, batch_size=1000)
    if saved is not None:  # refuse a checkpoint that does not fit before writing anything
        saved.restore(model, optimizer, train_loader, scheduler)
    if before_fit is not None:
        before_fit(model)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the NaN guard reports
        history = fit(
            model,
            optimizer,
            train_loader,
            config["epochs"],
            val_loader=test_loader,
            callbacks=callbacks,
            checkpoint_dir=checkpoint_dir,
            resume=saved is not None,
            scheduler=scheduler,
            config=config,
            progress=progress,
        )
    test_loss, test_acc = evaluate(model, test_loader, optimizer=optimizer)
    train_loss, train_acc = evaluate(model, DataLoader(train_set, batch_size=1000), None, optimizer)
    summary = {
        "test_accuracy": test_acc, "test_loss": test_loss,
        "train_accuracy": train_acc, "train_loss": train_loss,
        "epochs": len(history.epochs),
        "steps": history.epochs[-1]["steps"] if history.epochs else 0,
        "seconds": history.epochs[-1]["seconds"] if history.epochs else 0.0,
        "parameters": model.num_parameters(), "model": model.sizes,
        "optimizer": config["optimizer"], "data": str(config["data"]),
    }  # fmt: skip
    return history, summary


def run(args: argparse.Namespace) -> int:
    """Run ``mlplab train`` (see :func:`add_parser` for the flags)."""
    given = _given(args)
    stale: list[Path] = []
    if args.resume and getattr(args, "overwrite", False):
        raise UsageError("--resume continues the run in --out, --overwrite replaces it: pass one")
    if args.resume:
        if args.out is None:
            raise UsageError("--resume needs --out RUN_FOLDER (the run to continue)")
        out = Path(args.out)
        config, saved = _resume_config(out, given)
    else:
        out = Path(args.out) if args.out is not None else _default_out()
        stale = _fresh_out(out, getattr(args, "overwrite", False))
        config, saved = make_config(given), None
    train_set, test_set = B.load_data(config, "train"), B.load_data(config, "test")

    def start(model: Any) -> None:  # the checkpoint fits: only now write the run folder
        if stale and not args.quiet:
            print(f"mlplab train: starting afresh in {out} (replacing "
                  f"{', '.join(p.name for p in stale)})", file=sys.stderr)  # fmt: skip
        rundir.remove_files(stale)
        out.mkdir(parents=True, exist_ok=True)
        rundir.write_json(out / "config.json", config)
        if not args.quiet:
            n = model.num_parameters()
            sizes = "-".join(str(s) for s in model.sizes)
            print(f"mlplab train: MLP {sizes} ({n:,} parameters), {config['optimizer']} "
                  f"{config['optimizer_args']}, {config['data']}, run folder {out}",
                  file=sys.stderr)  # fmt: skip

    history, summary = train_config(
        config, train_set, test_set, saved=saved, before_fit=start,
        callbacks=[_RunFolder(out, args.quiet)], checkpoint_dir=out,
        progress=not args.quiet and sys.stderr.isatty(),
    )  # fmt: skip
    rundir.write_metrics(out, history)
    rundir.write_json(out / "summary.json", summary)
    rundir.plot_curves(out, history, title=f"{config['optimizer']} on {config['data']}")
    print(rundir.summary_table(summary))
    print(f"run folder: {out}")
    return 0
