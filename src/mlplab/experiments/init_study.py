"""`mlplab experiment init`: the lecture's initialization study on MNIST.

A ReLU MLP of L Linear layers (default 50 × 100 units), Wᵢ ~ N(0, σ²) with σ² = k/n (n = fan_in)
for each k of the sweep (1/n, 2/n, 3/n; zeros on request), biases zero. For each σ²:

- at initialization, on one fixed batch: ‖Zᵢ₊₁‖ per layer (forward) and ‖∇_{Wᵢ} ℓ‖ per layer;
- training (``mlplab.train.fit``, SGD with momentum by default): the loss per step, the loss
  and accuracy per epoch; a run whose loss becomes NaN/inf is recorded as diverged;
- after training: ‖Wᵢ − Wᵢ,₀‖ / ‖Wᵢ,₀‖ per layer.

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
from ..nn import MLP
from ..tensor import Tensor
from ..train import Callback, DivergenceError, fit

__all__ = ["InitConfig", "parse_variance", "build_network", "summarize", "run_init_study"]


@dataclass
class InitConfig:
    """The knobs of the initialization study (the defaults are the lecture's network)."""

    data: str = "mnist-5k"
    depth: int = 50
    width: int = 100
    variances: list[str] = field(default_factory=lambda: ["1/n", "2/n", "3/n"])
    include_zeros: bool = False
    epochs: int = 3
    batch_size: int = 100
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    probe_batch: int = 256
    train_examples: int | None = None
    seed: int = 0

    def labels(self) -> list[str]:
        """The σ² labels to run, in order (``"zeros"`` last when included)."""
        return [*self.variances, *(["zeros"] if self.include_zeros else [])]


def parse_variance(label: str) -> float:
    """Return k of a σ² label ``"k/n"`` (``"zeros"`` is 0).

    Raises:
        ValueError: for a label of another form.

    Examples:
        >>> parse_variance("2/n"), parse_variance("0.5/n"), parse_variance("zeros")
        (2.0, 0.5, 0.0)
    """
    text = label.strip()
    if text in ("zeros", "0"):
        return 0.0
    if text.endswith("/n"):
        try:
            k = float(text[:-2])
        except ValueError:
            k = -1.0
        if k > 0:
            return k
    raise ValueError(f"init study: a variance must look like 'k/n' with k > 0, got {label!r}")


def build_network(config: InitConfig, label: str, in_features: int, classes: int) -> MLP:
    """The study's ReLU MLP with Wᵢ ~ N(0, k/n) (or zeros), biases zero.

    Every σ² is drawn from the same seed, so the networks differ only by the scale √k.
    """
    init = "zeros" if parse_variance(label) == 0 else f"normal:{parse_variance(label):g}/n"
    return MLP(
        in_features, classes, width=config.width, depth=config.depth, activation="relu",
        init=init, rng=config.seed,
    )  # fmt: skip


def _optimizer(config: InitConfig, model: MLP) -> Any:
    if config.optimizer == "sgd":
        return optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=config.lr)
    if config.optimizer == "gd":
        return optim.GD(model.parameters(), lr=config.lr)
    raise ValueError(f"init study: optimizer must be sgd, adam or gd, got {config.optimizer!r}")


def _geomean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.exp(np.mean(np.log(arr)))) if np.all(arr > 0) else 0.0


def summarize(activation_norm: list[float], gradient_norm: list[float]) -> dict[str, float]:
    """Reduce per-layer norms at initialization to the numbers the lecture's claims are about.

    ``activation_ratio`` = ‖Z_L‖/‖Z₂‖, the last hidden layer's output over the first's
    (L − 2 ReLU layers apart); ``gradient_scale`` the geometric mean of ‖∇Wᵢ‖ over the hidden
    layers i = 2 … L−1 (100 × 100 weights); ``gradient_spread`` their max / min.
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


def _run_one(config: InitConfig, label: str, train: Any, test: Any, bar: Any) -> dict[str, Any]:
    """Probe one network at initialization, train it, measure how far its weights moved."""
    in_features, classes = train.x.shape[1], int(train.y.max()) + 1
    model = build_network(config, label, in_features, classes)
    px, py = Tensor(train.x[: config.probe_batch]), Tensor(train.y[: config.probe_batch])
    at_init = probe(model, px, py)
    layers = list(model.layers)
    below_last_zero = all(
        p.grad is not None and not np.any(p.grad.data) for m in layers[:-1] for p in m.parameters()
    )
    model.zero_grad()
    recorder, progress = DiagnosticsRecorder(every=10), _Progress(bar, label)
    loader = DataLoader(train, config.batch_size, shuffle=True, seed=config.seed)
    train_info: dict[str, Any] = {"diverged": False}
    start = time.perf_counter()
    try:
        # An exploding network overflows on its way to NaN; fit detects and reports that.
        with np.errstate(over="ignore", invalid="ignore"):
            fit(
                model, _optimizer(config, model), loader, config.epochs,
                val_loader=DataLoader(test, 500), callbacks=[recorder, progress],
            )  # fmt: skip
    except DivergenceError as err:
        train_info["diverged"], train_info["error"] = True, str(err)
        if bar is not None:  # the steps this run will not take
            bar.update(config.epochs * len(loader) - len(progress.steps))
    train_info["seconds"] = time.perf_counter() - start
    assert recorder.tracker is not None, "fit calls on_train_begin"
    return {
        "label": label,
        "k": parse_variance(label),
        "activation_norm": at_init.activation_norm,
        "gradient_norm": at_init.gradient_norm,
        "initial_loss": at_init.loss,
        "gradients_below_last_layer_exactly_zero": below_last_zero,
        **summarize(at_init.activation_norm, at_init.gradient_norm),
        "train": {
            **train_info,
            "epochs": progress.epochs,
            "steps": progress.steps,
            "gradient_norms_every_10_steps": recorder.gradient_norms,
        },  # fmt: skip
        "weight_change": recorder.tracker.relative_change(),
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


def _figures(results: dict[str, Any], out: Path) -> list[str]:
    from . import plots

    runs, depth = results["runs"], results["config"]["depth"]
    act = {r["label"]: r["activation_norm"] for r in runs if r["k"] > 0}
    act_theory = {
        r["label"]: [r["activation_norm"][0] * (r["k"] / 2) ** (i / 2) for i in range(depth - 1)]
        for r in runs
        if r["k"] > 0
    }
    title = "Forward: ‖Zᵢ₊₁‖ per layer at init (dashed: ‖Z₂‖·(σ²n/2)^((i−1)/2))"
    plots.per_layer(act, title, "activation norm", out / "activation_norm.png", act_theory)
    grads = {r["label"]: r["gradient_norm"] for r in runs if r["k"] > 0}  # zeros: all 0
    ref = next((r for r in runs if r["k"] == 2.0), None)
    grad_theory = {}
    if ref is not None:
        for r in runs:
            if r["k"] > 0:
                level = ref["gradient_scale"] * (r["k"] / 2) ** ((depth - 1) / 2)
                grad_theory[r["label"]] = [level] * depth
    title = "Backward: ‖∇Wᵢ ℓ‖ per layer at init (dashed: 2/n level·(k/2)^((L−1)/2))"
    plots.per_layer(grads, title, "weight-gradient norm", out / "gradient_norm.png", grad_theory)
    curves = {
        f"σ² = {r['label']}" + (" (diverged)" if r["train"]["diverged"] else ""): (
            [s for s, _ in r["train"]["steps"]],
            [v for _, v in r["train"]["steps"]],
        )
        for r in runs
    }
    plots.curves(curves, "Training loss per step", "step", "training loss (minibatch)",
                 out / "training.png")  # fmt: skip
    change = {
        r["label"]: r["weight_change"] for r in runs if r["k"] > 0 and not r["train"]["diverged"]
    }
    plots.per_layer(change, "After training: ‖Wᵢ − Wᵢ,₀‖ / ‖Wᵢ,₀‖ per layer",
                    "relative weight change", out / "weight_change.png")  # fmt: skip
    return ["activation_norm.png", "gradient_norm.png", "training.png", "weight_change.png"]


def _variance_figure(variance: dict[str, Any], out: Path) -> str:
    from . import plots

    series = {
        f"{d['activation']}, {d['sigma2']} (factor {d['factor_measured']:.3f}, theory "
        f"{d['factor_theory']:g})": d["second_moment"]
        for d in variance["depth"]
    }
    plots.per_layer(series, "E[z²] of each layer's output, x ~ N(0, I), W ~ N(0, σ²)",
                    "second moment", out / "variance.png")  # fmt: skip
    return "variance.png"


def run_init_study(
    out_dir: str | Path, config: InitConfig | None = None, figures: bool = True,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Run the study for every σ², write ``results.json`` (and PNGs) to ``out_dir``.

    Returns:
        ``{"config", "runs": [{"label", "activation_norm", "gradient_norm", "train",
        "weight_change", "activation_ratio", "gradient_scale", ...}], "theory", "variance",
        "figures", "seconds"}``.
    """
    from tqdm.auto import tqdm

    from .variance import run_variance

    config = config or InitConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = config.labels()
    for label in labels:
        parse_variance(label)
    start = time.perf_counter()
    train, test = load_dataset(config.data), load_dataset(config.data, split="test")
    if config.train_examples is not None:
        train = type(train)(train.x[: config.train_examples], train.y[: config.train_examples])
    total = len(labels) * config.epochs * math.ceil(len(train) / config.batch_size)
    bar = tqdm(total=total, desc="init study", disable=not progress, dynamic_ncols=True)
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
        results["figures"] = [*_figures(results, out), _variance_figure(results["variance"], out)]
    results["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
