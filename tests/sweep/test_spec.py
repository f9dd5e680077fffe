"""Sweep specs: expansion (grids, unions, ranges, random draws, dedup) and refusal of bad specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlplab.commands.train import make_config
from mlplab.sweep import Spec, SpecError, load_spec, load_study, spec_from_options, trial_key
from mlplab.sweep.values import expand_range


def _spec(tmp_path: Path, text: str) -> Spec:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def _values(spec: Spec, *keys: str) -> list[tuple]:
    return [tuple(t.config["flags"].get(k) for k in keys) for t in spec.trials()]


def test_grid_is_a_product_with_the_last_key_fastest(tmp_path):
    spec = _spec(
        tmp_path, '[fixed]\noptimizer = "sgd"\n[grid]\nlr = [0.1, 0.01]\nseed = [0, 1, 2]\n'
    )
    assert _values(spec, "lr", "seed") == [(lr, s) for lr in (0.1, 0.01) for s in (0, 1, 2)]
    assert spec.swept_keys() == ["lr", "seed"]
    assert spec.fixed == {"optimizer": "sgd"}


def test_each_trial_is_the_train_config_of_its_flags(tmp_path):
    spec = _spec(
        tmp_path, '[fixed]\noptimizer = "momentum"\nbeta = 0.8\n[grid]\nbatch-size = [32]\n'
    )
    (trial,) = spec.trials()
    flags = {"optimizer": "momentum", "momentum": 0.8, "batch_size": 32}
    assert trial.config == json.loads(json.dumps(make_config(flags)))
    assert trial.config["optimizer_args"]["beta"] == 0.8
    assert trial.key == trial_key(trial.config)
    assert len(trial.key) == 16


def test_union_of_sub_grids_drops_duplicate_trials(tmp_path):
    spec = _spec(
        tmp_path,
        '[[grid]]\noptimizer = ["sgd"]\nlr = [0.1, 0.01]\n'
        '[[grid]]\noptimizer = ["sgd", "momentum"]\nlr = [0.1]\n'
        '[[grid]]\noptimizer = ["momentum"]\nbeta = [0.5, 0.9]\nlr = [0.1]\n',
    )
    got = _values(spec, "optimizer", "lr", "momentum")
    # sgd/0.1 is in two sub-grids; momentum with beta 0.9 equals momentum's default beta but
    # differs in its flags, so it is its own trial (a trial is the flags train would be given)
    assert got == [
        ("sgd", 0.1, None),
        ("sgd", 0.01, None),
        ("momentum", 0.1, None),
        ("momentum", 0.1, 0.5),
        ("momentum", 0.1, 0.9),
    ]
    assert len({t.key for t in spec.trials()}) == 5


def test_ranges_log_linear_and_half_open_integer_range(tmp_path):
    spec = _spec(
        tmp_path,
        "[grid]\nlr = {log = [1e-4, 1.0], num = 5}\nweight_decay = {linear = [0.0, 0.1], num = 3}"
        "\nseed = {range = [1, 7, 2]}\n",
    )
    lrs, wds, seeds = (
        sorted({v[i] for v in _values(spec, "lr", "weight_decay", "seed")}) for i in range(3)
    )
    assert lrs == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]  # rounded: exactly 0.001, not 0.0010000000000000002
    assert wds == [0.0, 0.05, 0.1]
    assert seeds == [1, 3, 5]
    assert spec.log_keys() == {"lr"}
    assert len(spec.trials()) == 5 * 3 * 3


def test_float_ranges_are_rounded_to_12_significant_digits():
    values, _ = expand_range({"linear": [0.0, 1.0], "num": 11}, "grid.weight_decay")
    assert values[3] == 0.3  # np.linspace gives 0.30000000000000004


def test_integer_bounds_give_integers(tmp_path):
    spec = _spec(tmp_path, "[grid]\nbatch_size = {log = [16, 256], num = 5}\n")
    assert [v for (v,) in _values(spec, "batch_size")] == [16, 32, 64, 128, 256]


def test_random_draws_are_reproducible_and_stable_when_the_spec_grows(tmp_path):
    text = "[random]\nsamples = {n}\nseed = {s}\nlr = {{loguniform = [1e-4, 1e-1]}}\n"
    a = _spec(tmp_path, text.format(n=6, s=3))
    b = _spec(tmp_path, text.format(n=6, s=3))
    assert [t.key for t in a.trials()] == [t.key for t in b.trials()]
    lrs = [v for (v,) in _values(a, "lr")]
    assert all(1e-4 <= v <= 1e-1 for v in lrs) and len(set(lrs)) == 6
    more = _spec(tmp_path, text.format(n=10, s=3))
    assert [t.key for t in more.trials()][:6] == [t.key for t in a.trials()]
    other = _spec(tmp_path, text.format(n=6, s=4))
    assert [v for (v,) in _values(other, "lr")] != lrs
    assert a.log_keys() == {"lr"}


def test_random_choice_and_uniform_combined_with_every_grid_point(tmp_path):
    spec = _spec(
        tmp_path,
        "[grid]\nseed = [0, 1]\n[random]\nsamples = 4\n"
        'optimizer = {choice = ["sgd", "adam"]}\nweight_decay = {uniform = [0.0, 0.01]}\n',
    )
    got = _values(spec, "seed", "optimizer", "weight_decay")
    assert len(got) == 8 and {s for s, _, _ in got} == {0, 1}
    assert got[:4] == [(0, o, w) for _, o, w in got[4:]]  # the same samples for each seed
    assert {o for _, o, _ in got} <= {"sgd", "adam"}
    assert all(0.0 <= w <= 0.01 for _, _, w in got)


def test_flags_that_are_only_on_are_absent_when_false(tmp_path):
    spec = _spec(
        tmp_path, '[fixed]\noptimizer = "sgd"\n[grid]\nnesterov = [false, true]\nmomentum = [0.9]\n'
    )
    assert [t.config["flags"].get("nesterov") for t in spec.trials()] == [None, True]
    assert [t.config["optimizer_args"]["nesterov"] for t in spec.trials()] == [False, True]


def test_command_line_grid_equals_the_toml_spec(tmp_path):
    toml = _spec(
        tmp_path,
        '[fixed]\noptimizer = "adam"\nbetas = [0.9, 0.99]\n'
        "[grid]\nlr = {log = [1e-4, 1e-2], num = 3}\nseed = {range = [0, 2]}\n"
        "batch_size = [32, 64]\n",
    )
    cli = spec_from_options(
        ["lr=log:1e-4:1e-2:3", "seed=range:0:2", "batch-size=32,64"],
        ["optimizer=adam", "betas=0.9,0.99"],
    )
    assert [t.key for t in cli.trials()] == [t.key for t in toml.trials()]
    assert cli.to_json() == toml.to_json()
    assert cli.log_keys() == {"lr"}
    lists = spec_from_options(["betas=0.9,0.999;0.8,0.99", "lr=linear:0.1:0.3:3"], [])
    b1, b2 = [0.9, 0.999], [0.8, 0.99]
    assert _values(lists, "betas", "lr")[:4] == [(b1, 0.1), (b1, 0.2), (b1, 0.3), (b2, 0.1)]


def test_to_json_is_canonical_json(tmp_path):
    spec = _spec(tmp_path, "[fixed]\nepochs = 1\n[grid]\nlr = {log = [0.01, 1.0], num = 3}\n")
    stored = json.loads(json.dumps(spec.to_json()))
    assert stored == {
        "fixed": {"epochs": 1},
        "grid": [{"lr": [0.01, 0.1, 1.0]}],
        "random": None,
        "swept": ["lr"],
        "log": ["lr"],
        "description": None,
    }


def test_only_fixed_gives_one_trial(tmp_path):
    assert len(_spec(tmp_path, "[fixed]\nepochs = 1\n").trials()) == 1
    assert len(spec_from_options([], []).trials()) == 1


def test_the_built_in_studies_expand():
    opt = load_study("optimizers")
    names = {
        (t.config["optimizer"], t.config["optimizer_args"].get("bias_correction"))
        for t in opt.trials()
    }
    assert names == {("gd", None), ("momentum", False), ("momentum", True), ("nesterov", None),
                     ("adam", True), ("adam", False)}  # fmt: skip
    assert {t.config["seed"] for t in opt.trials()} == {0, 1, 2}
    assert opt.log_keys() == {"lr"}
    init = load_study("init")
    cells = {(t.config["init"], t.config["depth"]) for t in init.trials()}
    assert len(cells) == 24 and ("normal:0.5/n", 50) in cells
    assert all(t.config["width"] == 100 for t in init.trials())


BAD_SPECS = [
    ("unknown option", "[grid]\nlrr = [0.1]\n", "grid.lrr"),
    ("bad value", "[grid]\nlr = [0.1, -1.0]\n", "grid.lr"),
    ("bad value type", "[fixed]\nepochs = 1.5\n", "fixed.epochs"),
    ("bad choice", '[fixed]\ndtype = "float16"\n', "fixed.dtype"),
    ("unknown optimizer", '[fixed]\noptimizer = "adamax"\n', "optimizer"),
    (
        "flag the optimizer lacks",
        '[fixed]\noptimizer = "gd"\n[grid]\nbetas = [[0.9, 0.9]]\n',
        "--betas",
    ),
    ("bad activation", '[grid]\nactivation = ["relu", "swish"]\n', "activation"),
    ("empty grid list", "[grid]\nlr = []\n", "grid.lr"),
    ("empty grid table", "[grid]\n", "[grid]"),
    ("empty union", "grid = []\n", "[[grid]]"),
    ("num < 1", "[grid]\nlr = {log = [1e-3, 1.0], num = 0}\n", "grid.lr.num"),
    ("log bound <= 0", "[grid]\nlr = {log = [0.0, 1.0], num = 3}\n", "grid.lr.log"),
    ("empty range", "[grid]\nseed = {range = [3, 3]}\n", "grid.seed.range"),
    ("unknown range key", "[grid]\nlr = {logg = [1e-3, 1.0], num = 3}\n", "grid.lr"),
    ("section typo", "[gird]\nlr = [0.1]\n", "[gird]"),
    ("key in two sections", "[fixed]\nlr = 0.1\n[grid]\nlr = [0.2]\n", "grid.lr"),
    ("run-only option", '[fixed]\nout = "runs/x"\n', "fixed.out"),
    ("random without samples", "[random]\nlr = {uniform = [0.0, 1.0]}\n", "random.samples"),
    ("unknown distribution", "[random]\nsamples = 2\nlr = {normal = [0.0, 1.0]}\n", "random.lr"),
    ("loguniform bound", "[random]\nsamples = 2\nlr = {loguniform = [0.0, 1.0]}\n", "random.lr"),
    (
        "sub-grid key unknown",
        "[[grid]]\nlr = [0.1]\n[[grid]]\nmomentun = [0.9]\n",
        "grid[1].momentun",
    ),
    ("bad TOML", "[grid\nlr = [0.1]\n", "not valid TOML"),
]


@pytest.mark.parametrize(("case", "text", "named"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_specs_raise_one_line_naming_the_key(tmp_path, case, text, named):
    with pytest.raises(SpecError) as info:
        _spec(tmp_path, text)
    message = str(info.value)
    assert named in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("grid", "set_", "named"),
    [
        (["lr"], [], "--grid 'lr'"),
        (["lr=log:1e-3:1"], [], "log:a:b:k"),
        (["lr=log:1e-3:x:3"], [], "'x' is not a number"),
        (["lr=0.1", "lr=0.2"], [], "given twice"),
        ([], ["lr"], "--set 'lr'"),
        ([], ["momentumm=0.9"], "fixed.momentumm"),
        (["seed=range:0:0"], [], "grid.seed.range"),
    ],
)
def test_bad_command_line_grids(grid, set_, named):
    with pytest.raises(SpecError, match=None) as info:
        spec_from_options(grid, set_)
    assert named in str(info.value), str(info.value)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.toml")


def test_every_train_option_can_be_swept_and_run_options_cannot():
    import argparse

    from mlplab.commands import train
    from mlplab.sweep.options import canonical_name

    sub = argparse.ArgumentParser().add_subparsers()
    parser = train.add_parser(sub)
    config_keys = {*train.DEFAULTS, *train.OPTIMIZER_FLAGS, *train.SCHEDULE_FLAGS}
    for action in parser._actions:
        if action.dest == "help":
            continue
        name = action.option_strings[0].lstrip("-")
        if action.dest in config_keys:
            assert canonical_name(name, "grid") == action.dest
        else:  # --out, --resume, --quiet, --threads, ...: the sweep's business
            with pytest.raises(SpecError, match="chosen by the sweep"):
                canonical_name(name, "grid")
