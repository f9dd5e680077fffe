"""`mlplab experiment normalization`: does normalization keep a deep net trainable when σ² is wrong?

The lecture's 50-layer, 100-unit ReLU network on mnist-5k, Wᵢ ~ N(0, k/n) for k ∈ {1, 2, 3}
(the init study's networks: same seed, so the σ² differ only by the scale √k), each in four
forms (see :class:`mlplab.nn.MLP`):

- ``none``: Zᵢ₊₁ = σ(Zᵢ Wᵢ + bᵢ), the init study's network;
- ``batch``: Zᵢ₊₁ = σ(BN(Zᵢ Wᵢ + bᵢ)), BatchNorm1d after every hidden Linear;
- ``layer``: Zᵢ₊₁ = σ(LN(Zᵢ Wᵢ + bᵢ)), LayerNorm after every hidden Linear;
- ``residual``: Zᵢ₊₁ = σ(Zᵢ Wᵢ + bᵢ) + Zᵢ around every 100 → 100 layer, no normalization.

All twelve train under one shared budget (the init study's optimizer machinery: SGD with
momentum, cosine schedule, the global gradient norm clipped to 1). For each: per-layer activation
norms ‖Zᵢ₊₁‖ and weight-gradient norms ‖∇Wᵢ‖ on one fixed batch at initialization and after
training, ‖Wᵢ − Wᵢ,₀‖/‖Wᵢ,₀‖, and validation accuracy per epoch.

What to expect from the algebra (and what the table checks): a normalized layer's output does
not depend on the scale of Wᵢ (BN(a·h) = BN(h), LN likewise, up to ε), so with normalization all
three σ² give the *same* forward signal and ‖Z_L‖/‖Z₂‖ ≈ 1; without it the ratio is
(k/2)^{(L−2)/2}. A residual block adds instead of replacing: E‖Zᵢ₊₁‖² ≈ (1 + k/2)·E‖Zᵢ‖² plus
a cross term ≥ 0, so the plain residual net *grows* at every σ² — the identity path keeps the
gradient alive, not the scale in check. The probes run in training mode (batch statistics, as in
a training step) and leave the running statistics as they were.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import load_dataset
from ..diagnostics import probe
from ..nn import MLP, Module
from ..progress import progress_bar
from ..tensor import Tensor
from .init_study import (
    InitConfig,
    parse_variance,
    summarize,
    train_clipped,
)

__all__ = ["METHODS", "NormConfig", "build_normalized", "run_normalization"]

#: method name -> the MLP options it sets.
METHODS: dict[str, dict[str, Any]] = {
    "none": {},
    "batch": {"norm": "batch"},
    "layer": {"norm": "layer"},
    "residual": {"residual": True},
}


@dataclass
class NormConfig(InitConfig):
    """The knobs of the normalization experiment: the init study's, plus the methods.

    The default budget (2 epochs of 80 steps per network, twelve networks) keeps the run to a
    few minutes on two cores.

    Examples:
        >>> NormConfig(depth=3, width=8).methods
        ['none', 'batch', 'layer', 'residual']
    """

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    epochs: int = 2
    unclipped_steps: int = 0

    def check(self) -> None:
        """Refuse an unknown method or σ² by name, before any work.

        Raises:
            ValueError: naming the bad value.
        """
        for method in self.methods:
            if method not in METHODS:
                raise ValueError(
                    f"normalization: unknown method {method!r}, choose from {', '.join(METHODS)}"
                )
        if not self.methods:
            raise ValueError("normalization: methods must not be empty")
        for label in self.variances:
            if parse_variance(label) == 0:
                raise ValueError(f"normalization: σ² must be > 0, got {label!r}")


def build_normalized(config: NormConfig, label: str, method: str, n_in: int, k: int) -> MLP:
    """The init study's network for σ² ``label`` (same seed, same weights) in form ``method``.

    Examples:
        >>> config = NormConfig(depth=3, width=8)
        >>> a = build_normalized(config, "2/n", "none", 784, 10)
        >>> b = build_normalized(config, "2/n", "batch", 784, 10)
        >>> bool(np.array_equal(a.layers[1].weight.data, b.layers[1].weight.data)), len(b.norms)
        (True, 2)
    """
    value, per_n = parse_variance(label), label.strip().endswith("/n")
    init = f"normal:{value!r}" + ("/n" if per_n else "")
    return MLP(
        n_in, k, width=config.width, depth=config.depth, activation="relu", init=init,
        rng=config.seed, **METHODS[method],
    )  # fmt: skip


def _probe_keeping_buffers(model: Module, x: Tensor, y: Tensor) -> Any:
    """probe() in training mode, then put the running statistics back (observe, never steer)."""
    saved = [(b, b.data.copy()) for b in model.buffers()]
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return probe(model, x, y)
    finally:
        for buffer, data in saved:
            buffer.data[...] = data
        model.zero_grad()


def _run_one(config: NormConfig, label: str, method: str, data: tuple, bar: Any) -> dict:
    train, test = data
    model = build_normalized(config, label, method, train.x.shape[1], int(train.y.max()) + 1)
    px, py = Tensor(train.x[: config.probe_batch]), Tensor(train.y[: config.probe_batch])
    at_init = _probe_keeping_buffers(model, px, py)
    info, progress, recorder, opt = train_clipped(
        config, model, train, test, bar, f"{label} {method}"
    )
    after = None if info["diverged"] else _probe_keeping_buffers(model, px, py)
    accuracy = [e.get("val_accuracy") for e in progress.epochs]
    assert recorder.tracker is not None, "fit calls on_train_begin"
    return {
        "label": label,
        "method": method,
        "activation_norm": at_init.activation_norm,
        "gradient_norm": at_init.gradient_norm,
        "initial_loss": at_init.loss,
        **summarize(at_init.activation_norm, at_init.gradient_norm),
        "train": {
            **info,
            "epochs": progress.epochs,
            "steps": progress.steps,
            "fraction_of_steps_clipped": float(
                np.mean(np.asarray(opt.norms) > (config.clip_grad_norm or math.inf))
            )
            if opt.norms
            else 0.0,
        },
        "val_accuracy": accuracy[-1] if accuracy and not info["diverged"] else None,
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


def table(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (σ², method): ‖Z_L‖/‖Z₂‖ at init, the gradient scale and the accuracy.

    Examples:
        >>> table({"runs": [{"label": "2/n", "method": "none", "activation_ratio": 1.0,
        ...                  "gradient_scale": 0.1, "gradient_spread": 2.0,
        ...                  "val_accuracy": 0.9, "weight_change": [0.1, 0.3]}]})[0]["accuracy"]
        0.9
    """
    return [
        {
            "sigma2": r["label"],
            "method": r["method"],
            "activation_ratio": r["activation_ratio"],
            "gradient_scale": r["gradient_scale"],
            "gradient_spread": r["gradient_spread"],
            "accuracy": r["val_accuracy"],
            "max_weight_change": max(r["weight_change"]) if r["weight_change"] else 0.0,
        }
        for r in results["runs"]
    ]


def run_normalization(
    out_dir: str | Path, config: NormConfig | None = None, figures: bool = True,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Run every (σ², method), write ``results.json`` (and PNGs) to ``out_dir``.

    Returns:
        ``{"config", "runs": [{"label", "method", "activation_norm", "gradient_norm",
        "activation_ratio", "val_accuracy", "weight_change", "after_training", ...}], "table",
        "figures", "seconds"}``.

    Raises:
        ValueError: for an unknown method or σ² (before any work).

    Examples:
        A tiny version (3 layers of 8 units, 100 digits, one epoch):

        >>> import tempfile
        >>> config = NormConfig(depth=3, width=8, epochs=1, train_examples=100, probe_batch=16,
        ...                     variances=["2/n"], methods=["none", "batch"])
        >>> res = run_normalization(tempfile.mkdtemp(), config, figures=False, progress=False)
        >>> [(r["sigma2"], r["method"]) for r in res["table"]]
        [('2/n', 'none'), ('2/n', 'batch')]
    """
    config = config or NormConfig()
    config.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    train = load_dataset(config.data, root=config.root, download=config.download)
    test = load_dataset(config.data, split="test", root=config.root, download=config.download)
    if config.train_examples is not None:
        train = type(train)(train.x[: config.train_examples], train.y[: config.train_examples])
    pairs = [(label, method) for label in config.variances for method in config.methods]
    per_run = config.epochs * math.ceil(len(train) / config.batch_size)
    bar = progress_bar(total=len(pairs) * per_run, desc="normalization", disable=not progress)
    try:
        runs = [_run_one(config, s, m, (train, test), bar) for s, m in pairs]
    finally:
        bar.close()
    results: dict[str, Any] = {"config": asdict(config), "runs": runs, "figures": []}
    results["table"] = table(results)
    if figures:
        from .normalization_figures import normalization_figures

        results["figures"] = normalization_figures(results, out)
    results["seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return results
