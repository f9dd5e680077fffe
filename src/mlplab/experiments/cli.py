"""The experiments' subcommands: ``mlplab experiment optimizers|init`` and ``mlplab report``.

``add_parsers(subparsers)`` registers them on the ``mlplab`` parser; each sets ``run`` (and
``func``, the same function) to a callable taking the argparse namespace and returning the exit
code.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ..commands import positive_int as _positive_int

__all__ = ["add_parsers"]


def _nonnegative(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = -1
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
        return value

    return parse


def _variances(text: str) -> list[str]:
    from .init_study import parse_variance

    labels = [t.strip() for t in text.split(",") if t.strip()]
    try:
        for label in labels:
            parse_variance(label)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not labels:
        raise argparse.ArgumentTypeError("expected a comma-separated list like 1/n,2/n,3/n")
    return labels


def _check_out(out: str, overwrite: bool, flag: str = "--out") -> None:
    """Refuse an existing non-empty output folder (as ``mlplab train`` does) unless overwrite."""
    from pathlib import Path

    from ..commands import UsageError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {out} is a file, not a folder")
    if not overwrite and path.is_dir() and any(path.iterdir()):
        raise UsageError(
            f"{flag} {out} already holds files; pass --overwrite to replace its results, or "
            f"choose another {flag} (nothing was overwritten)"
        )


def _check_config(config: Any) -> None:
    """Run ``config.check()``, its ValueError turned into a usage error (exit 2, one line)."""
    from ..commands import UsageError

    try:
        config.check()
    except ValueError as err:
        raise UsageError(str(err)) from None


def _init_config(args: Any) -> Any:
    from .init_study import InitConfig

    return InitConfig(
        data=args.data, root=args.root, download=bool(args.download),
        depth=args.depth, width=args.width, variances=args.variances,
        include_zeros=args.include_zeros, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, schedule=args.schedule,
        clip_grad_norm=args.clip_grad_norm or None, unclipped_steps=args.unclipped_steps,
        probe_batch=args.probe_batch, seed=args.seed,
    )  # fmt: skip


def _run_optimizers(args: Any) -> int:
    from .optimizers import run_optimizers

    _check_out(args.out, args.overwrite)
    start = time.perf_counter()
    res = run_optimizers(args.out)
    c = res["claims"]
    print(
        f"2/lambda_max = {c['threshold_lr_2_over_lambda_max']:.4g}; GD at 0.95x converges: "
        f"{c['gd_converges_below_threshold']}, "
        f"at 1.05x diverges: {c['gd_diverges_above_threshold']}"
    )
    print(
        f"Newton full step: error after 1 step {c['newton_full_step_error_after_1_step']:.3g}; "
        f"damped (0.5): error ratio per step {c['newton_damped_error_ratio_per_step']:.4g}"
    )
    print(f"unbiased / plain momentum first step: {c['unbiased_over_plain_first_step_length']:.4g}")
    for key, steps in c["steps_to_tol"].items():
        run = res["runs"][key]
        print(
            f"  {run['label']:<44} steps to tol {steps!s:>5}  final error {run['final_error']:.3g}"
        )
    for key in ("gd", "sgd"):
        ls = res["least_squares"][key]
        print(
            f"  least squares {ls['optimizer']}: excess loss after epochs "
            f"{ {k: round(v, 5) for k, v in ls['excess_loss_after_epochs'].items()} }"
        )
    print(f"wrote {args.out}/results.json and {len(res['figures'])} figures "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return 0


def _run_init(args: Any) -> int:
    from .init_study import run_init_study

    _check_out(args.out, args.overwrite)
    start = time.perf_counter()
    res = run_init_study(args.out, _init_config(args), progress=not args.no_progress)
    cfg = res["config"]
    clip = "off" if cfg["clip_grad_norm"] is None else f"{cfg['clip_grad_norm']:g}"
    momentum = f" momentum {cfg['momentum']:g}" if cfg["optimizer"] == "sgd" else ""
    print(
        f"training (every sigma2): {cfg['optimizer']} lr {cfg['lr']:g}{momentum} "
        f"{cfg['schedule']}, batch {cfg['batch_size']}, {cfg['epochs']} "
        f"epochs, gradient norm clipped to {clip}"
    )
    for r in res["runs"]:
        th, tr, after = res["theory"][r["label"]], r["train"], r["after_training"]
        last = tr["epochs"][-1] if tr["epochs"] else {}
        norms = tr["gradient_norm_before_clipping"]
        versus = ""  # zero init, or no 2/n run: nothing to compare with
        if "gradient_scale_vs_2n_measured" in th:
            versus = (f" (x{th['gradient_scale_vs_2n_measured']:.3g} of 2/n, theory "
                      f"x{th['gradient_scale_vs_2n_theory']:.3g})")  # fmt: skip
        print(
            f"sigma2={r['label']:<6} init: |Z_L|/|Z_2| = {r['activation_ratio']:.3g} (theory "
            f"{th['activation_ratio_theory']:.3g}); grad scale {r['gradient_scale']:.3g}"
            f"{versus}, spread {r['gradient_spread']:.3g}"
        )
        print(
            f"{'':<13} train: |g| at step 1 {norms[0] if norms else float('nan'):.3g}, clipped "
            f"{100 * tr['fraction_of_steps_clipped']:.0f}% of {len(norms)} steps; loss "
            f"{r['initial_loss']:.4g} -> {last.get('train_loss', float('nan')):.4g}, val acc "
            f"{last.get('val_accuracy', float('nan')):.3f}"
            + (f" DIVERGED at step {tr['diverged_at_step']}" if tr["diverged"] else "")
        )
        if r["unclipped"] is not None:
            u = r["unclipped"]
            first = u["gradient_norm_before_clipping"]
            fate = (
                f"loss not finite at step {u['diverged_at_step']}"
                if u["diverged_at_step"]
                else f"loss {u['steps'][0][1]:.4g} -> {u['steps'][-1][1]:.4g}"
            )
            print(
                f"{'':<13} without clipping: |g| at step 1 {first[0]:.3g}; {fate} "
                f"(first {cfg['unclipped_steps']} steps)"
            )
        change = r["weight_change"]
        text = f"mean {sum(change) / len(change):.3g}, max {max(change):.3g}"
        if after is not None:
            text += (
                f"; after: |Z_L|/|Z_2| = {after['activation_ratio']:.3g}, grad scale "
                f"{after['gradient_scale']:.3g}, spread {after['gradient_spread']:.3g}"
            )
        print(f"{'':<13} |W-W0|/|W0| per layer: {text}")
    for d in res["variance"]["dot_product"]:
        print(f"Var(w.x) {d['activation']:<6} sigma2={d['sigma2']}: {d['measured']:.4f} "
              f"(theory {d['theory']:g})")  # fmt: skip
    print(f"wrote {args.out}/results.json and {len(res['figures'])} figures "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return 0


def _run_normalization(args: Any) -> int:
    from .normalization import NormConfig, run_normalization

    _check_out(args.out, args.overwrite)
    base = _init_config(args)
    config = NormConfig(**{k: v for k, v in vars(base).items() if k != "include_zeros"},
                        methods=args.methods)  # fmt: skip
    _check_config(config)
    res = run_normalization(args.out, config, progress=not args.no_progress)
    print(f"{'sigma2':<7}{'method':<10}{'|Z_L|/|Z_2| at init':>21}{'grad scale':>12}"
          f"{'max dW/W0':>11}{'val acc':>9}")  # fmt: skip
    for row in res["table"]:
        acc = "diverged" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        ratio, scale = row["activation_ratio"], row["gradient_scale"]
        print(f"{row['sigma2']:<7}{row['method']:<10}{ratio:>21.3g}{scale:>12.3g}"
              f"{row['max_weight_change']:>11.3g}{acc:>9}")  # fmt: skip
    print(f"wrote {args.out}/results.json and {len(res['figures'])} figures "
          f"in {res['seconds']:.1f} s")  # fmt: skip
    return 0


def _run_newton(args: Any) -> int:
    from dataclasses import replace

    from .newton_report import newton_claims
    from .newton_study import NewtonConfig, run_newton

    _check_out(args.out, args.overwrite)
    config = NewtonConfig.quick() if args.quick else NewtonConfig()
    changes = {"seed": args.seed} | ({} if args.starts is None else {"starts": args.starts})
    config = replace(config, **changes)
    _check_config(config)
    res = run_newton(args.out, config, progress=not args.no_progress)
    for row in newton_claims(res):
        print(f"{row['reason']}: {row['measured']}")
    print(f"wrote {args.out}/results.json and {len(res['figures'])} figures "
          f"in {res['seconds']:.1f} s")  # fmt: skip
    return 0


def _methods(text: str) -> list[str]:
    from .normalization import METHODS

    methods = [t.strip() for t in text.split(",") if t.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise argparse.ArgumentTypeError(f"expected methods from {','.join(METHODS)}, got {text!r}")
    return methods


def _run_report(args: Any) -> int:
    from pathlib import Path

    from ..commands import UsageError
    from .report import write_report

    norm_dir, newton_dir = args.normalization_dir, args.newton_dir
    for experiment, folder in (("normalization", norm_dir), ("newton", newton_dir)):
        if folder is not None and not (Path(folder) / "results.json").is_file():
            raise UsageError(f"--{experiment}-dir {folder} holds no results.json; run mlplab "
                             f"experiment {experiment} --out {folder} first")  # fmt: skip
    path = write_report(args.out, args.optimizers_dir, args.init_dir, rerun=args.rerun,
                        init_config=_init_config(args), sweeps=args.sweep,
                        normalization_dir=norm_dir, newton_dir=newton_dir)  # fmt: skip
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, self-contained)")
    return 0


def _add_init_options(p: argparse.ArgumentParser, **defaults: Any) -> None:
    """The init study's options on ``p``; ``defaults`` overrides InitConfig's (help shows them)."""
    from dataclasses import replace

    from .init_study import InitConfig

    d = replace(InitConfig(), **defaults)
    p.add_argument("--data", default="mnist-5k", help="data set [mnist-5k, embedded]")
    p.add_argument("--root", help="folder holding mnist/fashion-mnist files [cache folder]")
    p.add_argument("--download", action="store_true",
                   help="fetch missing mnist/fashion-mnist files (checksums checked)")  # fmt: skip
    p.add_argument("--depth", type=_positive_int, default=50, help="Linear layers L [50]")
    p.add_argument("--width", type=_positive_int, default=100, help="hidden units [100]")
    p.add_argument("--variances", type=_variances, default=["1/n", "2/n", "3/n"],
                   help="σ² values, comma-separated: k/n (σ² = k/fan_in) or a number v "
                   "(σ² = v) [1/n,2/n,3/n]")  # fmt: skip
    p.add_argument("--include-zeros", action="store_true", help="also run zero initialization")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs per σ² [{d.epochs}]")
    p.add_argument("--batch-size", type=_positive_int, default=d.batch_size,
                   help=f"minibatch size [{d.batch_size}]")  # fmt: skip
    p.add_argument("--optimizer", choices=["sgd", "adam", "gd"], default=d.optimizer,
                   help="one optimizer for every σ²; sgd = SGD with momentum "
                   f"[{d.optimizer}]")  # fmt: skip
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate [{d.lr:g}]")
    p.add_argument("--momentum", type=float, default=d.momentum,
                   help=f"SGD momentum [{d.momentum:g}]")  # fmt: skip
    p.add_argument("--schedule", choices=["cosine", "constant"], default=d.schedule,
                   help="lr per epoch: cosine annealing to 0 or constant "
                   f"[{d.schedule}]")  # fmt: skip
    p.add_argument("--clip-grad-norm", type=_nonnegative(float), default=d.clip_grad_norm,
                   metavar="C",
                   help="scale the gradients of every step to a global norm <= C; 0 = off "
                   f"[{d.clip_grad_norm:g}]")  # fmt: skip
    p.add_argument("--unclipped-steps", type=_nonnegative(int), default=d.unclipped_steps,
                   metavar="N",
                   help="with clipping on, also take the first N steps without it, to show "
                   f"what raw gradients do; 0 = skip [{d.unclipped_steps}]")  # fmt: skip
    p.add_argument("--probe-batch", type=_positive_int, default=256,
                   help="images for the norms before and after training [256]")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and data order [0]")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="BLAS threads [1: small matrices run faster on one]")  # fmt: skip


def _run_sweep_study(args: Any) -> int:
    from ..commands.sweep import run_study

    return run_study(args.study, args.out, args.workers, args.scheduler, args.dry_run)


def _add_sweep_study(which: Any, name: str, text: str) -> None:
    """``experiment sweep-<name>``: the shipped spec ``mlplab/sweep/studies/<name>.toml``."""
    from ..commands.sweep import parse_scheduler

    p = which.add_parser(f"sweep-{name}", help=text, description=f"{text}; the shipped spec "
                         f"mlplab/sweep/studies/{name}.toml run through mlplab sweep (rerun to "
                         "continue), then its tables and figures.")  # fmt: skip
    p.add_argument("--out", default=f"runs/sweep-{name}", help=f"[runs/sweep-{name}]")
    p.add_argument("--workers", type=_positive_int, help="local processes [the cores]")
    p.add_argument("--scheduler", type=parse_scheduler, metavar="tcp://HOST:PORT|local:N",
                   help="run on a Dask cluster")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="count the trials, run nothing")
    p.set_defaults(run=_run_sweep_study, func=_run_sweep_study, study=name)


def add_parsers(subparsers: Any) -> None:
    """Register ``experiment`` (``optimizers``, ``init``) and ``report`` on ``subparsers``."""
    exp = subparsers.add_parser("experiment", help="run one of the lecture's experiments",
                                description="Run one of the lecture's experiments.")  # fmt: skip
    which = exp.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    opt = which.add_parser("optimizers", help="optimizer paths on 2-D quadratics; SGD vs GD",
                           description="GD, Newton, momentum, Nesterov, Adam on an ill-conditioned "
                           "2-D quadratic; minibatch SGD vs GD on least squares.")  # fmt: skip
    opt.add_argument("--out", default="runs/optimizers", help="output folder [runs/optimizers]")
    opt.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    opt.add_argument("--threads", type=_positive_int, default=None, help="BLAS threads [1]")
    opt.set_defaults(run=_run_optimizers, func=_run_optimizers)
    ini = which.add_parser("init", help="the 50-layer initialization study on MNIST",
                           description="Activation and gradient norms per layer, training and "
                           "weight change for W ~ N(0, k/n); the variance argument.")  # fmt: skip
    ini.add_argument("--out", default="runs/init", help="output folder [runs/init]")
    ini.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    ini.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_init_options(ini)
    ini.set_defaults(run=_run_init, func=_run_init)
    nrm = which.add_parser("normalization",
                           help="σ² × {none, BatchNorm, LayerNorm, residual} on the 50-layer net",
                           description="The init study's 50-layer ReLU network with σ² = k/n, "
                           "without normalization, with BatchNorm, with LayerNorm and with "
                           "residual connections, under one training budget: per-layer norms "
                           "at init and after training, weight change, accuracy.")  # fmt: skip
    nrm.add_argument("--out", default="runs/normalization", help="[runs/normalization]")
    nrm.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    nrm.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    nrm.add_argument("--methods", type=_methods, default=["none", "batch", "layer", "residual"],
                     help="comma-separated [none,batch,layer,residual]")  # fmt: skip
    _add_init_options(nrm, epochs=2, unclipped_steps=0)
    nrm.set_defaults(run=_run_normalization, func=_run_normalization)
    nwt = which.add_parser("newton", help="why Newton's method is little used in deep learning",
                           description="The lecture's five reasons, measured: a 2-D saddle, and "
                           "a ReLU MLP on 7×7 MNIST with exact Hessians (local optima, "
                           "indefiniteness, cost, conditioning, the starting point).")  # fmt: skip
    nwt.add_argument("--out", default="runs/newton", help="output folder [runs/newton]")
    nwt.add_argument("--seed", type=_nonnegative(int), default=0,
                     help="seed of the data subset and the initializations [0]")  # fmt: skip
    nwt.add_argument("--starts", type=_positive_int, default=None,
                     help="seeded initializations of the starting-point study "
                     "(20; with --quick 3)")  # fmt: skip
    nwt.add_argument("--quick", action="store_true", help="tiny settings that run in seconds")
    nwt.add_argument("--overwrite", action="store_true", help="replace results already in --out")
    nwt.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    nwt.set_defaults(run=_run_newton, func=_run_newton)
    _add_sweep_study(which, "optimizers", "the lecture's optimizers in stochastic form, lr × seeds")
    _add_sweep_study(which, "init", "σ² = k/n × depth on 100-unit ReLU MLPs, accuracy heatmap")
    rep = subparsers.add_parser("report", help="one self-contained HTML page of all experiments",
                                description="Run (or reuse) both experiments and write one "
                                "self-contained HTML report.")  # fmt: skip
    rep.add_argument("--out", default="report.html", help="the HTML file [report.html]")
    rep.add_argument("--optimizers-dir", default="runs/optimizers", help="[runs/optimizers]")
    rep.add_argument("--init-dir", default="runs/init", help="[runs/init]")
    rep.add_argument("--rerun", action="store_true", help="rerun even if results.json exists")
    rep.add_argument("--sweep", action="append", default=[], metavar="DIR",
                     help="add a section for this sweep folder (repeatable)")  # fmt: skip
    rep.add_argument("--normalization-dir", metavar="DIR",
                     help="add the section of experiment normalization's results")  # fmt: skip
    rep.add_argument("--newton-dir", metavar="DIR",
                     help="add the section of experiment newton's results")  # fmt: skip
    _add_init_options(rep)
    rep.set_defaults(run=_run_report, func=_run_report)
