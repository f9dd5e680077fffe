"""The init study's results file, the CLI and the self-contained report, on tiny configurations."""

import json
import re

from mlplab.cli import main

TINY_INIT = [
    "--depth",
    "6",
    "--width",
    "16",
    "--epochs",
    "1",
    "--probe-batch",
    "16",
    "--batch-size",
    "200",
    "--variances",
    "1/n,2/n",
    "--include-zeros",
    "--unclipped-steps",
    "3",
]


def test_experiment_init_and_report_are_self_contained(tmp_path, capsys):
    init_dir, opt_dir = tmp_path / "init", tmp_path / "opt"
    assert main(["experiment", "init", "--out", str(init_dir), "--no-progress", *TINY_INIT]) == 0
    res = json.loads((init_dir / "results.json").read_text())
    assert [r["label"] for r in res["runs"]] == ["1/n", "2/n", "zeros"]
    for run in res["runs"]:
        assert len(run["activation_norm"]) == len(run["gradient_norm"]) == 6
        assert len(run["weight_change"]) == 6 and run["train"]["epochs"]
    zeros = res["runs"][-1]
    assert zeros["gradients_below_last_layer_exactly_zero"] and zeros["weight_change"] == [0.0] * 6
    assert res["config"]["depth"] == 6 and res["config"]["unclipped_steps"] == 3
    assert [len(r["unclipped"]["steps"]) for r in res["runs"]] == [3, 3, 3]
    assert res["runs"][1]["after_training"]["activation_norm"][-1] > 0
    out = tmp_path / "report.html"
    # the optimizers folder is empty, so the report runs that experiment itself
    assert (
        main(
            [
                "report",
                "--out",
                str(out),
                "--optimizers-dir",
                str(opt_dir),
                "--init-dir",
                str(init_dir),
                *TINY_INIT,
            ]
        )
        == 0
    )
    page = out.read_text(encoding="utf-8")
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert links and all(link.startswith("data:image/png;base64,") for link in links)
    assert "http" not in page and "<link" not in page and "<script" not in page
    figures = json.loads((opt_dir / "results.json").read_text())["figures"] + res["figures"]
    for name in figures:
        assert f'alt="{name}" src="data:image/png;base64,' in page
    assert "2/λ_max" in page and "(σ²n/2)" in page
    assert "global gradient norm clipped to 1" in page and "without clipping" in page
    assert "The norm profiles after training" in page
    assert "wrote" in capsys.readouterr().out


def test_bad_variance_is_a_usage_error(capsys):
    assert main(["experiment", "init", "--variances", "2/m"]) == 2
    assert "k/n" in capsys.readouterr().err


def test_negative_clip_is_a_usage_error(capsys):
    assert main(["experiment", "init", "--clip-grad-norm", "-1"]) == 2
    assert "clip-grad-norm" in capsys.readouterr().err
