"""``mlplab sweep run|show|plot``: run a grid of ``mlplab train`` trials, then look at it.

``run`` expands a spec (a TOML file, or ``--grid``/``--set``), validates every trial before
anything starts, and runs the trials on a local process pool or a Dask cluster into
``DIR/sweep.sqlite``; running the same command again continues the sweep (``--retry-failed``
also runs the failed trials again). ``show`` prints one
row per configuration (mean ± std over seeds); ``plot`` writes the figures.

Exit codes: 0 done; 1 some trials failed (their count is printed); 2 bad input (nothing run,
an existing DIR untouched); 130 Ctrl-C (finished trials are kept: run the command again).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import UsageError
from . import positive_int as _positive_int

__all__ = ["add_parser", "open_store", "parse_scheduler", "print_study", "run_study"]

STORE_NAME = "sweep.sqlite"


def parse_scheduler(text: str) -> str:
    """Check a ``--scheduler`` address: ``tcp://HOST:PORT`` or ``local:N``.

    Examples:
        >>> parse_scheduler("tcp://127.0.0.1:8786"), parse_scheduler("local:2")
        ('tcp://127.0.0.1:8786', 'local:2')
    """
    kind, _, rest = text.partition("://") if "://" in text else text.partition(":")
    if kind == "local" and rest.isdigit() and int(rest) >= 1:
        return text
    if kind == "tcp" and rest.rpartition(":")[2].isdigit() and rest.rpartition(":")[0]:
        return text
    raise argparse.ArgumentTypeError(f"expected tcp://HOST:PORT or local:N, got {text!r}")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sweep`` (``run``, ``show``, ``plot``) to the ``mlplab`` subparsers.

    Examples:
        >>> sub = argparse.ArgumentParser().add_subparsers()
        >>> add_parser(sub).prog.split()[-1]
        'sweep'
    """
    p = subparsers.add_parser("sweep", help="run, resume and compare many training runs",
                              description="Sweeps of `mlplab train` configurations, kept in "
                              "DIR/sweep.sqlite.")  # fmt: skip
    which = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = which.add_parser("run", help="run (or continue) a sweep",
                           description="Run every trial of SPEC (or of --grid/--set) into --out; "
                           "the same command again continues where it stopped.")  # fmt: skip
    run.add_argument("spec", nargs="?", metavar="SPEC", help="TOML file: [fixed], [grid] or "
                     "[[grid]], [random]; every key an `mlplab train` option")  # fmt: skip
    run.add_argument("--out", required=True, metavar="DIR", help="sweep folder (DIR/sweep.sqlite)")
    run.add_argument("--grid", action="append", default=[], metavar="KEY=VALUES",
                     help="swept option without a file: lr=0.1,0.01 | lr=log:1e-4:1:9 | "
                     "lr=linear:a:b:k | seed=range:0:3 (repeatable: a product)")  # fmt: skip
    run.add_argument("--set", dest="set_", action="append", default=[], metavar="KEY=VALUE",
                     help="fixed option without a file (repeatable)")  # fmt: skip
    run.add_argument("--dry-run", action="store_true", help="print the trials, run nothing")
    run.add_argument("--retry-failed", action="store_true", help="on an existing DIR: run the "
                     "failed trials again too (their old errors stay in the store; without it "
                     "they are kept as failed)")  # fmt: skip
    run.add_argument("--workers", type=_positive_int, help="local processes [the cores]")
    run.add_argument("--scheduler", type=parse_scheduler, metavar="tcp://HOST:PORT|local:N",
                     help="run on a Dask cluster (pip install \"mlplab[cluster]\")")  # fmt: skip
    run.add_argument("--slurm", metavar="KEY=VALUE,...", help="a dask-jobqueue SLURMCluster "
                     "(e.g. queue=cpu,cores=8,memory=16GB,walltime=01:00:00,jobs=4)")  # fmt: skip
    run.add_argument("--lifetime", metavar="T", help="with --slurm: worker lifetime, shorter "
                     "than the walltime (e.g. 55m)")  # fmt: skip
    run.set_defaults(run=_run)
    show = which.add_parser("show", help="table: one row per configuration, over seeds")
    show.add_argument("dir", metavar="DIR")
    show.add_argument("--metric", default="test_accuracy", help="summary.json name [test_accuracy]")
    show.add_argument("--group-by", metavar="KEY", help="the best row of each value of KEY")
    show.add_argument("--json", action="store_true", help="every trial with config and metrics")
    show.set_defaults(run=_show)
    plot = which.add_parser("plot", help="PNG figures of the sweep")
    plot.add_argument("dir", metavar="DIR")
    plot.add_argument("--metric", default="test_accuracy", help="summary.json name [test_accuracy]")
    plot.add_argument("--hue", metavar="KEY", help="one line per value of KEY")
    plot.add_argument("--out", metavar="FIG_DIR", help="figure folder [DIR/figures]")
    plot.set_defaults(run=_plot)
    return p


def _spec(args: argparse.Namespace) -> Any:
    from ..sweep import load_spec, spec_from_options

    if args.spec is not None and (args.grid or args.set_):
        raise UsageError("give a SPEC file or --grid/--set options, not both")
    return load_spec(args.spec) if args.spec else spec_from_options(args.grid, args.set_)


def _execution(args: argparse.Namespace) -> dict[str, Any]:
    chosen = [f for f, v in (("--workers", args.workers), ("--scheduler", args.scheduler),
                             ("--slurm", args.slurm)) if v is not None]  # fmt: skip
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)}: choose one way to run the trials")
    if args.lifetime is not None and args.slurm is None:
        raise UsageError(f"--lifetime {args.lifetime}: only with --slurm")
    slurm = None
    if args.slurm is not None:
        from ..sweep.execute import parse_slurm

        slurm = parse_slurm(args.slurm)
    return {"workers": args.workers, "scheduler": args.scheduler, "slurm": slurm,
            "lifetime": args.lifetime}  # fmt: skip


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a sweep folder")
    if out.is_dir() and any(out.iterdir()) and not (out / STORE_NAME).is_file():
        raise UsageError(f"--out {out} holds files but no {STORE_NAME}; choose another folder "
                         "(nothing was overwritten)")  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    execution = _execution(args)
    out = Path(args.out)
    _check_out(out)
    if args.dry_run:
        keys = spec.swept_keys()
        for trial in spec.trials():
            print(f"{trial.key}  {trial.label(keys) or '(the [fixed] options)'}")
        print(f"{len(spec.trials())} trials (dry run: nothing was run or written)")
        if execution["slurm"] is not None:
            from ..sweep.execute import slurm_job_script

            print(slurm_job_script(execution["slurm"], execution["lifetime"]))
        return 0
    execution["retry_failed"] = args.retry_failed
    return _execute(spec, out, execution, prog="mlplab sweep run")


def _execute(spec: Any, out: Path, execution: dict[str, Any], prog: str) -> int:
    from ..sweep import run_sweep

    try:
        outcome = run_sweep(spec, out, **execution)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished trials are kept in {out / STORE_NAME} (run the "
              "same command again to continue)", file=sys.stderr)  # fmt: skip
        return 130
    retried = f", {outcome.retried} failed ones run again" if outcome.retried else ""
    print(f"{outcome.total} trials: {outcome.finished} finished, {outcome.diverged} diverged, "
          f"{outcome.failed} failed, {outcome.skipped} done before{retried}; {out}")  # fmt: skip
    for category, n in sorted(outcome.warned.items()):
        print(f"{n} trials warned: {category} (each trial's warnings: mlplab sweep show {out} "
              "--json)")  # fmt: skip
    if outcome.failed:
        print(f"{prog}: {outcome.failed} trials failed (mlplab sweep show {out} --json has "
              "their errors; --retry-failed runs them again)", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def open_store(folder: str | Path) -> Any:
    """Open the Store of an existing sweep folder (refusing to create one).

    Examples:
        >>> open_store("/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlplab.commands.UsageError: /nonexistent: not a sweep folder (no sweep.sqlite; ...)
    """
    path = Path(folder)
    if not (path / STORE_NAME).is_file():
        raise UsageError(f"{folder}: not a sweep folder (no {STORE_NAME}; start one with "
                         "mlplab sweep run)")  # fmt: skip
    from ..sweep import Store

    return Store(path / STORE_NAME)


def _show(args: argparse.Namespace) -> int:
    from ..sweep.views import format_table, summarize, swept_axes, trials_json

    store = open_store(args.dir)
    try:
        trials, spec, counts = store.trials(), store.stored_spec(), store.counts()
    finally:
        store.close()
    if args.json:
        print(json.dumps(trials_json(trials), indent=1, default=str))
        return 0
    rows = summarize(trials, args.metric, swept_axes(trials, spec), args.group_by)
    print(", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no trials")
    print(format_table(rows, args.metric))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ..sweep.figures import plot_sweep

    store = open_store(args.dir)
    try:
        trials, spec = store.trials(), store.stored_spec()
        out = Path(args.out) if args.out else Path(args.dir) / "figures"
        paths = plot_sweep(trials, out, store.epochs, spec, args.metric, args.hue)
    finally:
        store.close()
    for path in paths:
        print(f"wrote {path}")
    if not paths:
        print("no finished trials to plot yet")
    return 0


def print_study(name: str, folder: str | Path) -> list[Path]:
    """Print a built-in study's tables and write its figures into ``folder/figures``.

    Examples:
        >>> print_study("init", "/nonexistent")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlplab.commands.UsageError: /nonexistent: not a sweep folder ...
    """
    from ..sweep.figures import plot_sweep
    from ..sweep.views import format_profile, format_table, lr_profile, summarize, swept_axes

    store = open_store(folder)
    try:
        trials, spec = store.trials(), store.stored_spec()
        keys = swept_axes(trials, spec)
        rows = summarize(trials, keys=keys)
        if name == "optimizers":
            print(format_profile(lr_profile(rows)))
            print()
        print(format_table(rows if name != "optimizers" else rows[:12]))
        paths = plot_sweep(trials, Path(folder) / "figures", store.epochs, spec)
    finally:
        store.close()
    for path in paths:
        print(f"wrote {path}")
    return paths


def run_study(name: str, out: str | Path, workers: int | None = None,
              scheduler: str | None = None, dry_run: bool = False) -> int:  # fmt: skip
    """Run the built-in study ``name`` (``optimizers`` or ``init``) into ``out`` and report it.

    Examples:
        >>> run_study("init", "/tmp/mlplab-doctest-never-made", dry_run=True)
        48 trials (dry run: nothing was run or written)
        0
    """
    from ..sweep import load_study

    spec, out = load_study(name), Path(out)
    _check_out(out)
    if dry_run:
        print(f"{len(spec.trials())} trials (dry run: nothing was run or written)")
        return 0
    execution = {"workers": workers, "scheduler": scheduler, "slurm": None, "lifetime": None}
    code = _execute(spec, out, execution, prog=f"mlplab experiment sweep-{name}")
    if code in (0, 1):
        print_study(name, out)
    return code
