"""A trial's warnings (SubnormalWarning on a deep net with small weights) are recorded once in its
row, not printed by every worker; the sweep's summary counts the trials that warned."""

from __future__ import annotations

import warnings

from mlplab.cli import main
from mlplab.commands.train import make_config
from mlplab.sweep import Store
from mlplab.sweep.trial import run_trial

#: 40 ReLU layers at σ² = 0.3/n: Adam's second moment goes subnormal in the first epoch (~0.4 s).
DEEP = {"epochs": 2, "depth": 40, "width": 8, "init": "normal:0.3/n", "optimizer": "adam",
        "lr": 3e-4, "batch_size": 1000}  # fmt: skip


def test_a_trial_records_each_kind_of_warning_once_and_prints_none():
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        result = run_trial(make_config(DEEP))
    assert result.status == "finished" and outside == []
    (line,) = result.warnings  # warned after both epochs: kept once
    assert line.startswith("SubnormalWarning: fit: ") and "exp_avg_sq subnormal" in line


def test_a_sweep_keeps_warnings_in_the_store_and_counts_them(tmp_path, capfd):
    out = tmp_path / "deep"
    argv = ["sweep", "run", "--out", str(out), "--workers", "1", "--grid", "seed=0,1",
            *(f"--set={k}={v}" for k, v in DEEP.items())]  # fmt: skip
    assert main(argv) == 0
    printed = capfd.readouterr()
    assert "SubnormalWarning" not in printed.err  # the workers printed nothing
    assert "2 trials warned: SubnormalWarning" in printed.out
    store = Store(out / "sweep.sqlite")
    rows = store.trials()
    store.close()
    assert [len(t.warnings) for t in rows] == [1, 1]
    assert all(t.warnings[0].startswith("SubnormalWarning: fit:") for t in rows)
    assert main(["sweep", "show", str(out), "--json"]) == 0
    assert capfd.readouterr().out.count('"SubnormalWarning: fit:') == 2
