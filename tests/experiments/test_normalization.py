"""mlplab experiment normalization: the table, the algebra it checks, the CLI, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.experiments.normalization import (
    NormConfig,
    _probe_keeping_buffers,
    build_normalized,
    run_normalization,
)
from mlplab.tensor import Tensor

TINY = dict(depth=8, width=16, epochs=1, train_examples=200, batch_size=50, probe_batch=64)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("normalization")
    return out, run_normalization(out, NormConfig(**TINY), figures=True, progress=False)


def test_every_sigma2_and_method_is_run_and_written(results):
    out, res = results
    pairs = [(r["sigma2"], r["method"]) for r in res["table"]]
    assert pairs == [(s, m) for s in ("1/n", "2/n", "3/n")
                     for m in ("none", "batch", "layer", "residual")]  # fmt: skip
    saved = json.loads((out / "results.json").read_text())
    assert saved["table"] == res["table"]
    for name in res["figures"]:
        assert (out / name).stat().st_size > 1000
    assert "normalization_activation_norm.png" in res["figures"]
    for run in res["runs"]:
        assert len(run["activation_norm"]) == len(run["gradient_norm"]) == TINY["depth"]
        assert len(run["weight_change"]) == TINY["depth"]
        assert run["val_accuracy"] is None or 0.0 <= run["val_accuracy"] <= 1.0


def test_normalization_makes_the_forward_signal_independent_of_sigma2(results):
    _, res = results
    ratio = {(r["sigma2"], r["method"]): r["activation_ratio"] for r in res["table"]}
    for method in ("batch", "layer"):
        values = [ratio[(s, method)] for s in ("1/n", "2/n", "3/n")]
        np.testing.assert_allclose(values, values[1], rtol=1e-3)  # BN(a·h) = BN(h) up to ε
    plain = [ratio[(s, "none")] for s in ("1/n", "2/n", "3/n")]
    assert plain[0] < plain[1] < plain[2]
    # (k/2)^((L−2)/2) between 1/n and 3/n: 3^3 = 27 at L = 8, within a factor 3
    assert 27 / 3 < plain[2] / plain[0] < 27 * 3
    residual = [ratio[(s, "residual")] for s in ("1/n", "2/n", "3/n")]
    assert all(r > 2.0 for r in residual)  # the residual stack grows at every σ²


def test_probes_leave_the_running_statistics_alone():
    config = NormConfig(**TINY)
    model = build_normalized(config, "2/n", "batch", 784, 10)
    before = [b.data.copy() for b in model.buffers()]
    x = Tensor(np.random.default_rng(0).standard_normal((32, 784)).astype(np.float32))
    _probe_keeping_buffers(model, x, Tensor(np.zeros(32, np.int64)))
    for buffer, data in zip(model.buffers(), before, strict=True):
        np.testing.assert_array_equal(buffer.data, data)


def test_bad_methods_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown method 'group'"):
        run_normalization(tmp_path / "x", NormConfig(**TINY, methods=["group"]))
    assert not (tmp_path / "x").exists()


def test_cli_prints_the_table_and_refuses_bad_flags(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["experiment", "normalization", "--depth", "3", "--width", "8", "--epochs", "1",
            "--batch-size", "500", "--variances", "2/n", "--methods", "none,batch",
            "--probe-batch", "32", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "|Z_L|/|Z_2| at init" in text and "batch" in text
    assert json.loads((out / "results.json").read_text())["config"]["epochs"] == 1
    assert main(["experiment", "normalization", "--methods", "none,group", "--out", "x"]) == 2
    assert "expected methods from none,batch,layer,residual" in capsys.readouterr().err
    assert main(argv) == 2  # the folder holds results: refused, nothing overwritten
    assert "already holds files" in capsys.readouterr().err


def test_report_section_embeds_the_table_and_figures(results, tmp_path):
    from mlplab.experiments.normalization_report import normalization_section

    out, res = results
    page = normalization_section(res, out)
    assert page.count("<tr>") == 1 + 3  # the header and one row per σ²
    assert "σ² = 3/n" in page and "residual: ‖Z_L‖/‖Z₂‖" in page
    assert page.count("data:image/png;base64,") == len(res["figures"])


def test_report_refuses_a_normalization_dir_without_results(tmp_path, capsys):
    argv = ["report", "--normalization-dir", str(tmp_path / "none"), "--out",
            str(tmp_path / "r.html")]  # fmt: skip
    assert main(argv) == 2
    assert "holds no results.json" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
