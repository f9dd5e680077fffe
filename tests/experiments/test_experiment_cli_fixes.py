"""experiment init/optimizers: refuse to overwrite, --download/--root, honest summaries, σ² = v."""

from __future__ import annotations

import json

import pytest

from mlplab.cli import build_parser, main
from mlplab.experiments.init_study import InitConfig, build_network, parse_variance, variance_k

TINY = ["--depth", "4", "--width", "16", "--epochs", "1", "--probe-batch", "16",
        "--batch-size", "400", "--unclipped-steps", "2", "--no-progress"]  # fmt: skip


@pytest.mark.parametrize("experiment", ["init", "optimizers"])
def test_an_existing_non_empty_out_is_refused(tmp_path, capsys, experiment):
    (tmp_path / "results.json").write_text("mine")
    assert main(["experiment", experiment, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already holds files" in err and "--overwrite" in err
    assert (tmp_path / "results.json").read_text() == "mine"


def test_overwrite_replaces_and_the_summary_is_honest(tmp_path, capsys):
    (tmp_path / "results.json").write_text("old")
    args = ["experiment", "init", "--out", str(tmp_path), *TINY, "--optimizer", "adam",
            "--lr", "1e-3", "--variances", "2/n", "--include-zeros", "--overwrite"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert json.loads((tmp_path / "results.json").read_text())["config"]["optimizer"] == "adam"
    assert "momentum" not in out.splitlines()[0]  # Adam has no momentum hyperparameter
    assert "nan" not in out  # zero init: no "xnan of 2/n"
    assert "of 2/n" in out  # the 2/n run itself is still compared


def test_sgd_summary_still_names_its_momentum(tmp_path, capsys):
    args = ["experiment", "init", "--out", str(tmp_path), *TINY, "--variances", "2/n"]
    assert main(args) == 0
    assert "momentum 0.9" in capsys.readouterr().out.splitlines()[0]


def test_a_bare_number_is_an_absolute_variance(capsys):
    assert parse_variance("2") == 2.0 and variance_k("2", 100) == 200.0
    assert variance_k("0.02", 100) == pytest.approx(2.0)
    config = InitConfig(depth=3, width=400)
    absolute = build_network(config, "0.005", 784, 10)
    relative = build_network(config, "2/n", 784, 10)
    for layer in absolute.layers:  # σ² = 0.005 whatever the fan-in
        assert layer.weight.data.var() == pytest.approx(0.005, rel=0.05)
    assert relative.layers[1].weight.data.var() == pytest.approx(2 / 400, rel=0.05)
    args = build_parser().parse_args(["experiment", "init", "--variances", "2,1/n"])
    assert args.variances == ["2", "1/n"]
    for bad in ("-2", "inf", "2/m"):
        with pytest.raises(ValueError, match="k/n"):
            parse_variance(bad)


def test_data_options_are_accepted_and_the_error_names_them(tmp_path, capsys):
    args = build_parser().parse_args(
        ["experiment", "init", "--data", "mnist", "--root", str(tmp_path), "--download"]
    )
    assert args.download and args.root == str(tmp_path)
    code = main(["experiment", "init", "--out", str(tmp_path / "o"), "--data", "mnist",
                 "--root", str(tmp_path / "empty"), *TINY])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "not found" in err and "--download" in err
    assert not (tmp_path / "o" / "results.json").exists()


def test_the_least_squares_race_runs_for_one_epoch_and_refuses_none():
    from mlplab.experiments.optimizers import OptimizersConfig, least_squares_race

    race = least_squares_race(OptimizersConfig(ls_examples=100, ls_epochs=1))
    assert race["gd"]["steps"] == 1 and race["sgd"]["steps"] == 10  # one pass, batch 10
    assert list(race["sgd"]["excess_loss_after_epochs"]) == ["1"]  # no epoch 2 to report
    assert race["sgd"]["excess_loss_after_epochs"]["1"] == race["sgd"]["final_excess_loss"]
    three = least_squares_race(OptimizersConfig(ls_examples=100, ls_epochs=3))
    assert list(three["gd"]["excess_loss_after_epochs"]) == ["1", "2", "3"]
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"ls_epochs must be >= 1, got {bad}"):
            least_squares_race(OptimizersConfig(ls_examples=100, ls_epochs=bad))


def _subcommands(parser, path=()):
    """(path, parser) for every leaf subcommand under ``parser``."""
    import argparse

    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _subcommands(sub, (*path, name))
    return found or [(path, parser)]


def _shown(default):
    if isinstance(default, list):
        return ",".join(map(str, default))
    return "none" if default is None else default


def _real_default(path, parser, dest):
    """The value a flag left out takes: the parser's, or for ``train`` the config's DEFAULTS."""
    if path == ("train",):  # train's flags default to None and take the config's value
        from mlplab.commands.train import DEFAULTS, MODEL_OPTIONS

        if dest in MODEL_OPTIONS:  # --norm: None is "no normalization", shown as [none]
            return "none" if MODEL_OPTIONS[dest] is None else MODEL_OPTIONS[dest]
        return DEFAULTS.get(dest, ...)
    return parser.get_default(dest)


def test_every_bracketed_default_in_the_help_is_the_real_default():
    import re

    leaves = [(path, p) for path, p in _subcommands(build_parser())
              if path[0] in ("experiment", "sweep", "report", "train")]  # fmt: skip
    assert {path[-1] for path, _ in leaves} >= {"normalization", "init", "sweep-init", "run"}
    checked = []
    for path, parser in leaves:
        for action in parser._actions:
            match = re.search(r"\[([^\]]+)\]$", action.help or "")
            default = _real_default(path, parser, action.dest)
            if match is None or default in (None, ...) or isinstance(default, bool):
                continue  # no bracket, or a bracket that describes what None means
            text = re.split(r", |: ", match.group(1))[0]  # "[mnist-5k, embedded]" → mnist-5k
            shown = _shown(default)
            if isinstance(shown, float):
                assert float(text) == shown, (path, action.dest, text, default)
            else:
                assert text == str(shown), (path, action.dest, text, default)
            checked.append((path[-1], action.dest))
    assert {("normalization", "epochs"), ("normalization", "unclipped_steps")} <= set(checked)
    assert ("train", "depth") in checked and ("train", "norm") in checked
    assert len(checked) > 60
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["experiment"]
                         ._subparsers._group_actions[0].choices["normalization"]
                         .format_help().split())  # fmt: skip
    assert "epochs per σ² [2]" in help_text


# The three tables of the report page as they rendered before they shared mlplab.html_table
# (captured from the code of commit c9d9ade): the shared helper must not change a byte.
_HEADER, _ROWS = ["method", "a<b", "x & y"], [["gd <1>", 0.123456789, None], ["sgd", True, 12],
                                             [False, 1e-9, 'q"uote']]  # fmt: skip
_OLD_REPORT_TABLE = (
    '<table><tr><th>method</th><th>a&lt;b</th><th>x &amp; y</th></tr><tr><td class="num">gd '
    '&lt;1&gt;</td><td class="num">0.1235</td><td class="num">never</td></tr><tr><td class="num">'
    'sgd</td><td class="num">yes</td><td class="num">12</td></tr><tr><td class="num">no</td><td '
    'class="num">1e-09</td><td class="num">q&quot;uote</td></tr></table>'
)
_OLD_NORMALIZATION_TABLE = (
    "<table><tr><th></th><th>none: ‖Z_L‖/‖Z₂‖</th><th>‖∇W‖ max/min</th><th>acc</th><th>batch: "
    '‖Z_L‖/‖Z₂‖</th><th>‖∇W‖ max/min</th><th>acc</th></tr><tr><td>σ² = 1/n</td><td class="num">'
    '1.23</td><td class="num">2</td><td class="num">diverged</td><td class="num">diverged</td><td '
    'class="num">diverged</td><td class="num">diverged</td></tr><tr><td>σ² = 2/n</td><td class='
    '"num">1.23</td><td class="num">2</td><td class="num">0.912</td><td class="num">1.23</td><td '
    'class="num">2</td><td class="num">0.95</td></tr></table>'
)


def test_the_report_tables_render_exactly_as_before_they_shared_one_helper():
    from pathlib import Path

    from mlplab.experiments import report
    from mlplab.experiments.normalization_report import normalization_section
    from mlplab.sweep import page

    assert report._table(_HEADER, _ROWS) == _OLD_REPORT_TABLE
    old_sweep = _OLD_REPORT_TABLE.replace("never", "–").replace(">yes<", ">True<")
    assert page.table(_HEADER, _ROWS) == old_sweep.replace(">no<", ">False<")

    def row(sigma2, method, accuracy):
        return {"sigma2": sigma2, "method": method, "activation_ratio": 1.23456,
                "gradient_scale": 0.5, "gradient_spread": 2.0, "accuracy": accuracy,
                "max_weight_change": 0.1}  # fmt: skip

    res = {"table": [row("1/n", "none", None), row("2/n", "none", 0.91234),
                     row("2/n", "batch", 0.95)],  # no (1/n, batch) run: its cells read diverged
           "config": {"depth": 50, "width": 100, "epochs": 2}, "figures": []}  # fmt: skip
    section = normalization_section(res, Path("."))
    assert section.startswith("<h2>Normalization: ")
    assert section.endswith("removes.</p>" + _OLD_NORMALIZATION_TABLE)


def test_png_embeds_the_file_bytes_and_the_style(tmp_path) -> None:
    import base64

    from mlplab.html_table import png

    figure = tmp_path / "a<b>.png"
    figure.write_bytes(b"\x89PNG fake bytes")
    tag = png(figure, style="max-width:100%")
    assert tag.startswith('<img alt="a&lt;b&gt;.png" src="data:image/png;base64,')
    encoded = tag.split("base64,")[1].split('"')[0]
    assert base64.b64decode(encoded) == b"\x89PNG fake bytes"
    assert tag.endswith(' style="max-width:100%">')
    assert "style" not in png(figure)
