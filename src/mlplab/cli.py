"""The ``mlplab`` command: ``train``, ``evaluate``, and the lecture's experiments.

Each subcommand lives in :mod:`mlplab.commands` (or :mod:`mlplab.experiments.cli`) and
contributes its parser through ``add_parser(subparsers)``, setting ``run`` as a default: a
function ``run(args) -> int``. The experiments register all of theirs through
``mlplab.experiments.cli.add_parsers(subparsers)`` when that module exists. A ``run`` reports
bad input by raising :class:`mlplab.commands.UsageError` (or ``FileNotFoundError``,
:class:`mlplab.checkpoint.CheckpointError`); ``main`` prints its message as one line.

Exit codes: 0 success; 2 bad input (unknown option or value, missing data, corrupted or
mismatched checkpoint, a run folder that would be overwritten) with one line on stderr and no
traceback; 1 when training fails on its own (a NaN loss, a singular Newton system); 130 on
Ctrl-C (the last checkpoint is intact: continue with ``--resume``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``mlplab train: error: ...``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``mlplab`` parser with every subcommand registered.

    Examples:
        >>> args = build_parser().parse_args(["train", "--epochs", "2"])
        >>> args.command, args.epochs
        ('train', 2)
    """
    from .commands import evaluate, sweep, train

    parser = _Parser(
        prog="mlplab",
        description="mlplab: fully connected networks, optimizers and initialization on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"mlplab {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    train.add_parser(subparsers)
    evaluate.add_parser(subparsers)
    sweep.add_parser(subparsers)
    if importlib.util.find_spec("mlplab.experiments.cli") is not None:
        importlib.import_module("mlplab.experiments.cli").add_parsers(subparsers)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _set_threads(args: Any) -> None:
    """Set mlplab's and the BLAS's threads: ``--threads N``; else ``train`` takes all cores for a
    large layer and 1 for a small one (``parallel.threads_for_layer``: a fixed rule, so a resumed
    run gets the same count and the same bits) and the other commands use 1; an
    ``OMP/OPENBLAS/MKL_NUM_THREADS`` in the environment is the user's choice."""
    threads = args.threads
    if threads is None and any(
        os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    ):
        return
    from .parallel import set_num_threads, threads_for_layer

    if threads is None:
        if args.command == "train":
            batch = getattr(args, "batch_size", None) or 64
            width = getattr(args, "width", None) or 256
            width = max(width) if isinstance(width, list) else width  # --width 128,64
            threads = threads_for_layer(batch, width)
        else:
            threads = 1
    set_num_threads(threads)


def _fail(prog: str, err: BaseException, code: int) -> int:
    message = " ".join(str(err).split()) or type(err).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mlplab`` command line; return the exit code.

    Examples:
        >>> main(["train", "--optimizer", "adamax"])
        2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if getattr(args, "run", None) is None:
        print("mlplab: error: choose a command (mlplab --help lists them)", file=sys.stderr)
        return 2
    prog = f"mlplab {args.command}"
    if hasattr(args, "threads"):
        _set_threads(args)
    return _dispatch(args, prog)


def _dispatch(args: Any, prog: str) -> int:
    from .checkpoint import CheckpointError
    from .commands import UsageError
    from .train import DivergenceError

    try:
        return int(args.run(args) or 0)
    except (UsageError, CheckpointError, FileNotFoundError) as err:
        return _fail(prog, err, 2)
    except (DivergenceError, RuntimeError, FloatingPointError) as err:
        return _fail(prog, err, 1)
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        hint = f"; continue with --out {out} --resume" if out else ""
        print(f"{prog}: interrupted{hint}", file=sys.stderr)
        return 130
