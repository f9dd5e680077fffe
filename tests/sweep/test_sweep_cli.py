"""``mlplab sweep``: bad input exits 2 before anything runs, dry runs, show and plot on a Store."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mlplab.cli import main

from .test_spec import BAD_SPECS


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def existing(tmp_path):
    """A sweep folder that exists already (its store stands in as bytes that must not change)."""
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.sqlite").write_bytes(b"not touched")
    return out


@pytest.mark.parametrize(("case", "text", "named"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_spec_exits_2_naming_the_key_and_leaves_dir_untouched(
    tmp_path, existing, capsys, case, text, named
):
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    before = _snapshot(existing)
    assert main(["sweep", "run", str(spec), "--out", str(existing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and err.startswith("mlplab sweep: error: spec"), (
        err
    )
    assert _snapshot(existing) == before


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--grid", "lr=log:1e-3:1:0"], "grid.lr.num"),
        (["--grid", "lr=log:-1:1:3"], "grid.lr.log"),
        (["--grid", "optimizer=sgd,adamax"], "adamax"),
        (["--set", "epochs=-1"], "fixed.epochs"),
        (["--grid", "lr=0.1", "--workers", "0"], "--workers"),
        (["--grid", "lr=0.1", "--scheduler", "http://x"], "--scheduler"),
        (["--grid", "lr=0.1", "--scheduler", "local:2", "--workers", "2"], "choose one way"),
        (["--grid", "lr=0.1", "--lifetime", "5m"], "--lifetime"),
    ],
)
def test_bad_command_line_exits_2_and_creates_nothing(tmp_path, capsys, argv, named):
    out = tmp_path / "new"
    assert main(["sweep", "run", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1, err
    assert not out.exists()


def test_spec_file_and_grid_together_is_refused(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text("[grid]\nlr = [0.1]\n")
    assert (
        main(["sweep", "run", str(spec), "--grid", "seed=0,1", "--out", str(tmp_path / "o")]) == 2
    )
    assert "not both" in capsys.readouterr().err


def test_out_that_holds_other_files_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert main(["sweep", "run", "--grid", "lr=0.1", "--out", str(out)]) == 2
    assert "holds files but no sweep.sqlite" in capsys.readouterr().err
    assert _snapshot(out) == {"config.json": b"{}"}


def test_dry_run_prints_the_trials_and_their_count_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "dry"
    argv = ["sweep", "run", "--grid", "lr=log:1e-3:1e-1:3", "--grid", "seed=range:0:2",
            "--set", "optimizer=sgd", "--out", str(out), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in lines[:-1]] == [
        [f"lr={lr}", f"seed={s}"] for lr in ("0.001", "0.01", "0.1") for s in (0, 1)
    ]
    assert all(len(line.split()[0]) == 16 for line in lines[:-1])
    assert lines[-1].startswith("6 trials")
    assert not out.exists()


def test_shipped_studies_dry_run(tmp_path, capsys):
    assert main(["experiment", "sweep-init", "--out", str(tmp_path / "i"), "--dry-run"]) == 0
    assert "48 trials" in capsys.readouterr().out
    assert main(["experiment", "sweep-optimizers", "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    assert "252 trials" in capsys.readouterr().out
    assert not (tmp_path / "i").exists() and not (tmp_path / "o").exists()


def test_show_and_plot_refuse_a_folder_without_a_sweep(tmp_path, capsys):
    assert main(["sweep", "show", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert main(["sweep", "plot", str(tmp_path / "missing")]) == 2
    assert not (tmp_path / "missing").exists()


def _result(trial):
    """A worker's result for a stand-in trial (the attributes Store.record reads)."""
    epochs = [{"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5, "val_loss": 1.0,
               "val_accuracy": 0.5 + e / 10, "lr": 0.1} for e in (1, 2)]  # fmt: skip
    return SimpleNamespace(status=trial.status, metrics=trial.metrics, epochs=epochs, error=None,
                           wall_seconds=0.2, train_seconds=0.1, host="test", started="",
                           ended="")  # fmt: skip


@pytest.fixture
def fake_sweep(tmp_path):
    """A real Store filled by hand: 2 optimizers × 3 lrs × 3 seeds, 4 trials diverged."""
    from mlplab.sweep import Store, Trial

    from .test_views import _sweep

    folder = tmp_path / "done"
    folder.mkdir()
    store = Store(folder / "sweep.sqlite")
    stored = {"fixed": {}, "swept": ["optimizer", "lr", "seed"], "log": ["lr"],
              "description": "two optimizers"}  # fmt: skip
    spec = SimpleNamespace(to_json=lambda: stored)
    store.save_spec(spec)
    trials = _sweep()
    store.add_trials([Trial(t.key, t.config) for t in trials])
    for t in trials:
        store.mark_running(t.key, "test")
        store.record(t.key, _result(t))
    store.close()
    return folder


def test_show_prints_one_row_per_configuration_best_first(fake_sweep, capsys):
    assert main(["sweep", "show", str(fake_sweep)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "14 finished, 4 diverged"
    assert lines[1].split()[:3] == ["optimizer", "lr", "test_accuracy"]
    assert lines[2].split()[:5] == ["adam", "0.01", "0.9400", "±", "0.0141"]
    assert lines[-1].split() == ["sgd", "1", "-", "0", "3"]
    assert main(["sweep", "show", str(fake_sweep), "--group-by", "optimizer"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert main(["sweep", "show", str(fake_sweep), "--metric", "nope"]) == 2
    assert "--metric 'nope'" in capsys.readouterr().err


def test_show_json_lists_every_trial(fake_sweep, capsys):
    import json

    assert main(["sweep", "show", str(fake_sweep), "--json"]) == 0
    trials = json.loads(capsys.readouterr().out)
    assert len(trials) == 18 and {t["status"] for t in trials} == {"finished", "diverged"}
    assert all("flags" in t["config"] for t in trials)


def test_plot_writes_the_figures(fake_sweep, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["sweep", "plot", str(fake_sweep), "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert {p.name for p in (tmp_path / "figs").iterdir()} == {
        "test_accuracy_vs_lr.png", "curves.png", "heatmap.png"}  # fmt: skip
    assert out.count("wrote ") == 3


def test_report_has_a_section_per_sweep(fake_sweep):
    pytest.importorskip("matplotlib")
    from mlplab.sweep.page import sweep_section

    html = sweep_section(fake_sweep)
    assert "<h2>Sweep: done</h2>" in html and "two optimizers" in html
    assert "none in grid" not in html and "smallest lr with NaN/inf" in html
    assert html.count("data:image/png;base64,") == 3
    assert (fake_sweep / "figures" / "heatmap.png").is_file()


def test_a_tiny_real_sweep_runs_resumes_and_shows(tmp_path, capsys):
    out = tmp_path / "tiny"
    argv = ["sweep", "run", "--grid", "lr=0.1,0.01", "--set", "optimizer=sgd", "--set", "epochs=1",
            "--set", "width=8", "--out", str(out), "--workers", "1"]  # fmt: skip
    assert main(argv) == 0
    assert "2 finished, 0 diverged, 0 failed, 0 done before" in capsys.readouterr().out
    assert main(argv) == 0  # run again: nothing left to do
    assert "0 finished, 0 diverged, 0 failed, 2 done before" in capsys.readouterr().out
    assert main(["sweep", "show", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 finished" and [line.split()[0] for line in lines[2:]] == ["0.1", "0.01"]
