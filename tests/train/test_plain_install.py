"""The main job on a plain install: only numpy, tqdm and threadpoolctl, no extras.

Each run is a subprocess whose import system refuses every module outside the standard library
and the core dependencies (as a fresh ``pip install mlplab`` would leave it), so matplotlib,
pooch, torch, mlxtend and the rest are all missing there, for real.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlplab.data import download

CORE = ("numpy", "tqdm", "threadpoolctl", "tomli", "mlplab")
BLOCKER = textwrap.dedent(
    f"""
    import sys

    class PlainInstall:
        allowed = set(sys.stdlib_module_names) | set({CORE!r})

        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            if top not in self.allowed and not top.startswith("_"):
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, PlainInstall())
    from mlplab.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _plain(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "MLPLAB_DATA": str(cwd / "cache"), "HOME": str(cwd)},
    )


def test_the_blocker_really_hides_the_extras(tmp_path):
    probe = BLOCKER.replace("from mlplab.cli import main", "import matplotlib")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "No module named 'matplotlib'" in done.stderr


def test_train_without_matplotlib_says_so_in_one_line_and_finishes(tmp_path):
    out = tmp_path / "run"
    done = _plain(["train", "--epochs", "2", "--width", "16", "--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    notes = [line for line in done.stderr.splitlines() if "figures need" in line]
    assert len(notes) == 1 and 'pip install "mlplab[lab]"' in notes[0]
    assert "curves.png" in notes[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["test_accuracy"] > 0.5
    assert (out / "checkpoint.safetensors").is_file() and (out / "metrics.csv").is_file()
    assert not (out / "curves.png").exists()
    assert "test" in done.stdout and f"run folder: {out}" in done.stdout


def test_a_download_without_pooch_is_one_line_and_exit_2(tmp_path):
    args = ["train", "--data", "mnist", "--download", "--root", str(tmp_path / "d")]
    done = _plain([*args, "--out", str(tmp_path / "run")], tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "needs pooch" in done.stderr and 'pip install "mlplab[lab]"' in done.stderr
    assert not (tmp_path / "run").exists()


def test_the_full_sets_without_download_still_point_to_the_embedded_digits(tmp_path):
    done = _plain(["train", "--data", "mnist", "--out", str(tmp_path / "run")], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert str(tmp_path / "cache" / "mnist") in done.stderr and "mnist-5k" in done.stderr


def test_the_cache_folder_is_poochs_without_importing_pooch(monkeypatch, tmp_path):
    pooch = pytest.importorskip("pooch")
    monkeypatch.delenv("MLPLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.data_home() == Path(pooch.os_cache("mlplab"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert download.data_home() == Path(pooch.os_cache("mlplab"))
