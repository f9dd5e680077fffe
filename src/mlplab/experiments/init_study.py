"""`mlplab experiment init`: the lecture's initialization study on MNIST.

A ReLU MLP of L Linear layers (default 50 × 100 units), Wᵢ ~ N(0, σ²) with σ² = k/n (n = fan_in)
for each k of the sweep (1/n, 2/n, 3/n; zeros on request), biases zero. For each σ²:

- at initialization, on one fixed batch: ‖Zᵢ₊₁‖ per layer (forward) and ‖∇_{Wᵢ} ℓ‖ per layer;
- training (``mlplab.train.fit``) with one optimizer setting shared by every σ² — by default
  SGD with momentum, a cosine lr schedule and the global gradient norm clipped to 1: the loss
  and the gradient norm (before clipping) per step, the loss and accuracy per epoch; a run whose
  loss becomes NaN/inf is recorded as diverged;
- the same optimizer *without* clipping for the first few steps, which shows what the raw
  gradients do: 3/n's gradients are ~10⁴× those of 2/n and its first step sends the loss to inf;
- after training: ‖Wᵢ − Wᵢ,₀‖ / ‖Wᵢ,₀‖ per layer, and the activation and gradient norms per
  layer again on the same batch.

Theory (the derivation the report prints): each ReLU layer multiplies the second moment of the
activations by c = σ²n/2 = k/2, so ‖Z_L‖/‖Z₂‖ ≈ c^{(L−2)/2}. Backwards, Gᵢ = (Gᵢ₊₁ ∘ σ′)Wᵢᵀ
multiplies the second moment of the backward signal by the same c per layer, in the other
direction. The weight gradient Zᵢᵀ Gᵢ₊₁ takes c^{(i−1)/2} from the forward side and c^{(L−i)/2}
from the backward side: about the same in every layer, at an overall scale ∝ c^{(L−1)/2}.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import optim
from ..data import DataLoader, load_dataset
from ..diagnostics import DiagnosticsRecorder, probe
from ..nn import MLP, CrossEntropyLoss
from ..progress import progress_bar
from ..tensor import Tensor
from ..train import Callback, DivergenceError, fit, train_step

__all__ = ["InitConfig", "parse_variance", "build_network", "summarize", "run_init_study"]


@dataclass
class InitConfig:
    """The knobs of the initialization study (the defaults are the lecture's network).

    Examples:
        >>> config = InitConfig(depth=3, width=8, include_zeros=True)
        >>> config.labels()
        ['1/n', '2/n', '3/n', 'zeros']
    """

    data: str = "mnist-5k"
    root: str | None = None
    download: bool = False
    depth: int = 50
    width: int = 100
    variances: list[str] = field(default_factory=lambda: ["1/n", "2/n", "3/n"])
    include_zeros: bool = False
    # One training setting for every σ² (that is the experiment). A 50-layer plain ReLU network
    # needs many small steps: with these, 2/n passes 0.85 validation accuracy on mnist-5k in
    # 12 × 80 steps. Clipping the global gradient norm to 1 lets 3/n (gradients ~10⁴× larger)
    # train at all; 1/n's tiny gradients are never clipped; ``unclipped_steps`` shows the
    # first steps of each run without clipping.
    epochs: int = 12
    batch_size: int = 50
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    schedule: str = "cosine"
    clip_grad_norm: float | None = 1.0
    unclipped_steps: int = 20
    probe_batch: int = 256
    train_examples: int | None = None
    seed: int = 0

    def labels(self) -> list[str]:
        """The σ² labels to run, in order (``"zeros"`` last when included)."""
        return [*self.variances, *(["zeros"] if self.include_zeros else [])]


def parse_variance(label: str) -> float:
    """Return the number of a σ² label: k of ``"k/n"`` (σ² = k/fan_in), or σ² itself of a bare
    number ``"v"`` (an absolute variance, σ² = v); ``"zeros"`` and ``"0"`` are 0.

    Raises:
        ValueError: for a label of another form.

    Examples:
        >>> parse_variance("2/n"), parse_variance("0.5/n"), parse_variance("zeros")
        (2.0, 0.5, 0.0)
        >>> parse_variance("2"), parse_variance("0.02")  # σ² = 2 and σ² = 0.02
        (2.0, 0.02)
    """
    text = label.strip()
    if text in ("zeros", "0"):
        return 0.0
    if not text.endswith("/n"):
        try:
            v = float(text)
        except ValueError:
            v = -1.0
        if v > 0 and math.isfinite(v):
            return v
    if text.endswith("/n"):
        try:
            k = float(text[:-2])
        except ValueError:
            k = -1.0
        if k > 0:
            return k
    raise ValueError(
        f"init study: a variance must look like 'k/n' (σ² = k/n) or a number v > 0 (σ² = v), "
        f"got {label!r}"
    )


def variance_k(label: str, width: int) -> float:
    """k with σ² = k/n for the hidden layers (fan-in n = ``width``): the number of a ``"k/n"``
    label, σ²·width for an absolute ``"v"`` (so the theory c = k/2 applies to both).

    Examples:
        >>> variance_k("2/n", 100), variance_k("0.02", 100), variance_k("zeros", 100)
        (2.0, 2.0, 0.0)
    """
    value = parse_variance(label)
    return value if label.strip().endswith("/n") else value * width


def build_network(config: InitConfig, label: str, in_features: int, classes: int) -> MLP:
    """The study's ReLU MLP with Wᵢ ~ N(0, k/n) (or zeros), biases zero.

    Every σ² is drawn from the same seed, so the networks differ only by the scale √k.

    Examples:
        >>> config = InitConfig(depth=3, width=8)
        >>> a, b = (build_network(config, s, 784, 10) for s in ("1/n", "2/n"))
        >>> ratio = b.layers[1].weight.data / a.layers[1].weight.data
        >>> bool(np.allclose(ratio, np.sqrt(2)))
        True
    """
    value, per_n = parse_variance(label), label.strip().endswith("/n")
    init = "zeros" if value == 0 else f"normal:{value!r}" + ("/n" if per_n else "")
    return MLP(
        in_features, classes, width=config.width, depth=config.depth, activation="relu",
        init=init, rng=config.seed,
    )  # fmt: skip


def _optimizer(config: InitConfig, model: MLP) -> Any:
    """The shared optimizer (without clipping: :class:`GradientClip` adds that)."""
    if config.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=config.lr)
    if config.optimizer == "gd":
        return optim.GD(model.parameters(), lr=config.lr)
    raise ValueError(f"init study: optimizer must be sgd, adam or gd, got {config.optimizer!r}")


class GradientClip:
    """Wrap an optimizer: scale the gradients to a global norm ≤ ``max_norm`` before each step.

    g ← g · min(1, max_norm / ‖g‖) over all parameters together (``optim.clip_grad_norm_``);
    ``max_norm=None`` clips nothing. Either way the norm before clipping is kept in ``norms``.
    """

    requires_closure = False

    def __init__(self, optimizer: Any, params: list[Any], max_norm: float | None) -> None:
        self.optimizer, self.params, self.max_norm = optimizer, params, max_norm
        self.norms: list[float] = []

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups  # type: ignore[no-any-return]

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        limit = math.inf if self.max_norm is None else self.max_norm
        self.norms.append(float(optim.clip_grad_norm_(self.params, limit)))
        self.optimizer.step()


def _scheduler(config: InitConfig, optimizer: Any) -> Any:
    if config.schedule == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=max(config.epochs, 1))
    if config.schedule == "constant":
        return None
    raise ValueError(f"init study: schedule must be cosine or constant, got {config.schedule!r}")


def _geomean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.exp(np.mean(np.log(arr)))) if np.all(arr > 0) else 0.0


def summarize(activation_norm: list[float], gradient_norm: list[float]) -> dict[str, float]:
    """Reduce per-layer norms at initialization to the numbers the lecture's claims are about.

    ``activation_ratio`` = ‖Z_L‖/‖Z₂‖, the last hidden layer's output over the first's
    (L − 2 ReLU layers apart); ``gradient_scale`` the geometric mean of ‖∇Wᵢ‖ over the hidden
    layers i = 2 … L−1 (100 × 100 weights); ``gradient_spread`` their max / min.

    Examples:
        >>> summarize([4.0, 2.0, 1.0], [1.0, 2.0, 8.0])
        {'activation_ratio': 0.5, 'gradient_scale': 2.0, 'gradient_spread': 1.0}
    """
    hidden = gradient_norm[1:-1] or gradient_norm
    return {
        "activation_ratio": activation_norm[-2] / activation_norm[0]
        if activation_norm[0] > 0
        else 0.0,
        "gradient_scale": _geomean(hidden),
        "gradient_spread": max(hidden) / min(hidden) if min(hidden) > 0 else math.inf,
    }


class _Progress(Callback):
    """Advance the shared progress bar and keep the loss curve (kept even if fit raises)."""

    def __init__(self, bar: Any, label: str) -> None:
        self.bar, self.label = bar, label
        self.steps: list[list[float]] = []
        self.epochs: list[dict[str, float]] = []

    def on_step_end(self, state: Any) -> None:
        self.steps.append([state.step, float(state.logs["loss"])])
        if self.bar is not None:
            self.bar.update(1)
            if state.step % 10 == 0:
                self.bar.set_postfix(sigma2=self.label, loss=f"{state.logs['loss']:.3g}")

    def on_epoch_end(self, state: Any) -> None:
        self.epochs.append(dict(state.logs))


def _unclipped_steps(config: InitConfig, label: str, train: Any, bar: Any) -> dict[str, Any]:
    """Take the first ``config.unclipped_steps`` steps of the same run without clipping.

    Returns the finite losses per step, the global gradient norm of each step and, if the loss
    became NaN/inf, the step at which it did (the check stops there).
    """
    model = build_network(config, label, train.x.shape[1], int(train.y.max()) + 1)
    params = list(model.parameters())
    opt = GradientClip(_optimizer(config, model), params, None)
    loader = DataLoader(train, config.batch_size, shuffle=True, seed=config.seed)
    steps: list[list[float]] = []
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore"):
        for step, (x, y) in enumerate(loader, start=1):
            value, _ = train_step(model, opt, CrossEntropyLoss(), x, y)
            if not math.isfinite(value):
                diverged_at = step
                break
            steps.append([step, value])
            if step >= config.unclipped_steps:
                break
    if bar is not None:
        bar.update(config.unclipped_steps)
    return {
        "steps": steps,
        "gradient_norm_before_clipping": opt.norms,
        "diverged_at_step": diverged_at,
    }


def train_clipped(
    config: InitConfig, model: Any, train: Any, test: Any, bar: Any, label: str
) -> tuple[dict[str, Any], _Progress, DiagnosticsRecorder, GradientClip]:
    """Train ``model`` under the study's shared budget (clipped optimizer, schedule, epochs).

    Returns ``(info, progress, recorder, clipped_optimizer)``: ``info`` holds ``diverged``,
    ``seconds`` and, for a run that diverged, ``error`` and ``diverged_at_step``.
    """
    recorder, progress = DiagnosticsRecorder(every=10), _Progress(bar, label)
    loader = DataLoader(train, config.batch_size, shuffle=True, seed=config.seed)
    inner = _optimizer(config, model)
    opt = GradientClip(inner, list(model.parameters()), config.clip_grad_norm)
    info: dict[str, Any] = {"diverged": False}
    start = time.perf_counter()
    try:
        # An exploding network overflows on its way to NaN; fit detects and reports that.
        with np.errstate(over="ignore", invalid="ignore"):
            fit(
                model, opt, loader, config.epochs, val_loader=DataLoader(test, 500),
                callbacks=[recorder, progress], scheduler=_scheduler(config, inner),
            )  # fmt: skip
    except DivergenceError as err:
        info["diverged"], info["error"] = True, str(err)
        info["diverged_at_step"] = len(progress.steps) + 1
        if bar is not None:  # the steps this run will not take
            bar.update(config.epochs * len(loader) - len(progress.steps))
    info["seconds"] = time.perf_counter() - start
    return info, progress, recorder, opt


def _run_one(config: InitConfig, label: str, train: Any, test: Any, bar: Any) -> dict[str, Any]:
    """Probe one network at initialization, train it, probe it again, measure how far it moved."""
    in_features, classes = train.x.shape[1], int(train.y.max()) + 1
    model = build_network(config, label, in_features, classes)
    px, py = Tensor(train.x[: config.probe_batch]), Tensor(train.y[: config.probe_batch])
    at_init = probe(model, px, py)
    layers = list(model.layers)
    below_last_zero = all(
        p.grad is not None and not np.any(p.grad.data) for m in layers[:-1] for p in m.parameters()
    )
    model.zero_grad()
    train_info, progress, recorder, opt = train_clipped(config, model, train, test, bar, label)
    after = None
    if not train_info["diverged"]:
        with np.errstate(over="ignore", invalid="ignore"):
            after = probe(model, px, py)
        model.zero_grad()
    unclipped = None
    if config.clip_grad_norm is not None and config.unclipped_steps > 0:
        unclipped = _unclipped_steps(config, label, train, bar)
    limit = math.inf if config.clip_grad_norm is None else config.clip_grad_norm
    assert recorder.tracker is not None, "fit calls on_train_begin"
    return {
        "label": label,
        "k": variance_k(label, config.width),
        "activation_norm": at_init.activation_norm,
        "gradient_norm": at_init.gradient_norm,
        "initial_loss": at_init.loss,
        "gradients_below_last_layer_exactly_zero": below_last_zero,
        **summarize(at_init.activation_norm, at_init.gradient_norm),
        "train": {
            **train_info,
            "epochs": progress.epochs,
            "steps": progress.steps,
            "gradient_norm_before_clipping": opt.norms,
            "fraction_of_steps_clipped": float(np.mean(np.asarray(opt.norms) > limit))
            if opt.norms
            else 0.0,
            "gradient_norms_every_10_steps": recorder.gradient_norms,
        },  # fmt: skip
        "unclipped": unclipped,
        "weight_change": recorder.tracker.relative_change(),
        "after_training": None
        if after is None
        else {
            "loss": after.loss,
            "activation_norm": after.activation_norm,
            "gradient_norm": after.gradient_norm,
            **summarize(after.activation_norm, after.gradient_norm),
        },
    }


def theory(runs: list[dict[str, Any]], depth: int) -> dict[str, Any]:
    """The predictions c = σ²n/2 = k/2 per run, with measured counterparts.

    ``activation_ratio_theory`` = c^{(L−2)/2}; ``gradient_scale_vs_2n_theory`` =
    (k/2)^{(L−1)/2}, compared with the measured gradient scale over the 2/n run's.
    """
    ref = next((r for r in runs if r["k"] == 2.0), None)
    out = {}
    for r in runs:
        c = r["k"] / 2
        row = {"factor_per_layer": c, "activation_ratio_theory": c ** ((depth - 2) / 2),
               "activation_ratio_measured": r["activation_ratio"]}  # fmt: skip
        if ref is not None and ref["gradient_scale"] > 0 and c > 0:
            row["gradient_scale_vs_2n_theory"] = c ** ((depth - 1) / 2)
            row["gradient_scale_vs_2n_measured"] = r["gradient_scale"] / ref["gradient_scale"]
        out[r["label"]] = row
    return out


def run_init_study(
    out_dir: str | Path, config: InitConfig | None = None, figures: bool = True,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Run the study for every σ², write ``results.json`` (and PNGs) to ``out_dir``.

    Returns:
        ``{"config", "runs": [{"label", "activation_norm", "gradient_norm", "train",
        "weight_change", "activation_ratio", "gradient_scale", ...}], "theory", "variance",
        "figures", "seconds"}``.

    Examples:
        A tiny version (3 layers of 8 units, 100 digits, one epoch):

        >>> import tempfile
        >>> config = InitConfig(depth=3, width=8, epochs=1, train_examples=100,
        ...                     unclipped_steps=2, probe_batch=16)
        >>> results = run_init_study(tempfile.mkdtemp(), config, figures=False, progress=False)
        >>> [run["label"] for run in results["runs"]], len(results["runs"][0]["weight_change"])
        (['1/n', '2/n', '3/n'], 3)
    """
    from .variance import run_variance

    config = config or InitConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = config.labels()
    for label in labels:
        parse_variance(label)
    start = time.perf_counter()
    root, download = config.root, config.download
    train = load_dataset(config.data, root=root, download=download)
    test = load_dataset(config.data, split="test", root=root, download=download)
    if config.train_examples is not None:
        train = type(train)(train.x[: config.train_examples], train.y[: config.train_examples])
    per_run = config.epochs * math.ceil(len(train) / config.batch_size)
    if config.clip_grad_norm is not None:
        per_run += config.unclipped_steps
    total = len(labels) * per_run
    bar = progress_bar(total=total, desc="init study", disable=not progress)  # plain lines in logs
    try:
        runs = [_run_one(config, label, train, test, bar) for label in labels]
    finally:
        bar.close()
    results: dict[str, Any] = {
        "config": asdict(config),
        "runs": runs,
        "theory": theory(runs, config.depth),
        "variance": run_variance(n=config.width, depth=config.depth, seed=config.seed),
        "figures": [],
    }
    if figures:
        from .init_figures import study_figures, variance_figure

        results["figures"] = [
            *study_figures(results, out),
            variance_figure(results["variance"], out),
        ]
    results["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
