"""The ``mlplab report`` section of the normalization experiment, from its ``results.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..html_table import table

__all__ = ["normalization_section"]


def normalization_section(res: dict[str, Any], folder: Path) -> str:
    """Return the HTML section: the table (‖Z_L‖/‖Z₂‖ at init, accuracy per σ² and method),
    what it shows, and the figures (embedded).

    Examples:
        >>> row = {"sigma2": "2/n", "method": "batch", "activation_ratio": 1.0,
        ...        "gradient_scale": 0.5, "gradient_spread": 2.0, "accuracy": 0.9,
        ...        "max_weight_change": 0.1}
        >>> res = {"table": [row], "config": {"depth": 50, "width": 100, "epochs": 2},
        ...        "figures": []}
        >>> "<h2>" in normalization_section(res, Path("."))
        True
    """
    from .report import _img

    cfg = res["config"]
    methods = list(dict.fromkeys(r["method"] for r in res["table"]))
    sigmas = list(dict.fromkeys(r["sigma2"] for r in res["table"]))
    by = {(r["sigma2"], r["method"]): r for r in res["table"]}
    header = [""]
    for m in methods:
        header += [f"{m}: ‖Z_L‖/‖Z₂‖", "‖∇W‖ max/min", "acc"]
    rows = []
    for s in sigmas:
        row: list[object] = [f"σ² = {s}"]
        for m in methods:
            r = by.get((s, m))  # a run missing from the table reads as diverged, like a None
            row += [None] * 3 if r is None else [r["activation_ratio"], r["gradient_spread"],
                                                 r["accuracy"]]  # fmt: skip
        rows.append(row)
    figures = "".join(_img(folder, name) for name in res.get("figures", []))
    return (
        "<h2>Normalization: does it keep the deep network trainable when σ² is wrong?</h2>"
        f"<p>The {cfg['depth']}-layer, {cfg['width']}-unit ReLU network with W ~ N(0, k/n), "
        "without normalization, with BatchNorm or LayerNorm after every hidden Linear layer, "
        f"and with residual connections (no normalization), each trained {cfg['epochs']} "
        "epochs with the init study's optimizer (one budget for all). ‖Z_L‖/‖Z₂‖ is measured "
        "at initialization on one batch (training-mode statistics); accuracy is on the "
        "validation split after training. A normalized layer does not see the scale of its "
        "weights (BN(a·h) = BN(h)), so its ratio is the same for every σ²; the plain network's "
        "is (k/2)^((L−2)/2); the residual stack adds to its input at every layer, so it grows "
        "at every σ² — the identity path preserves the gradient, not the scale. ‖∇W‖ max/min "
        "is the spread of the weight-gradient norms over the hidden layers at initialization: "
        "a deep BatchNorm network's gradients grow towards the input layers (Yang et al., "
        "A Mean Field Theory of Batch Normalization, 2019), which no rescaling of W removes."
        "</p>" + table(header, rows, none="diverged", digits=3, row_labels=True) + figures
    )
