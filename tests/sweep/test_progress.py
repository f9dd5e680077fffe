"""Progress on a stream that is not a terminal: one final line per sweep, the sweep's counts
(those done before this run included), for the plain lines and for a tqdm bar alike."""

from __future__ import annotations

from mlplab.sweep import run_sweep, spec_from_options

#: lr=1e8 diverges at step 10; lr=0.05 finishes.
FIXED = ["epochs=1", "width=8", "batch_size=256", "optimizer=sgd"]


def _final(err: str) -> str:
    """What a tqdm bar shows last: the text after its last carriage return."""
    return [part for part in err.replace("\n", "\r").split("\r") if part.strip()][-1]


def test_progress_lines_and_bar_on_a_non_terminal(tmp_path, capsys):
    out = tmp_path / "s"
    run_sweep(spec_from_options(["lr=0.05,1e8"], FIXED), out, workers=1)  # progress=None
    err = capsys.readouterr().err
    assert err == "sweep: 2/2 trials done, running=0 diverged=1 failed=0\n"

    grown = spec_from_options(["lr=0.05,1e8,0.1"], FIXED)
    run_sweep(grown, out, workers=1)
    err = capsys.readouterr().err  # the diverged trial from before is still counted
    assert err == "sweep: 3/3 trials done, running=0 diverged=1 failed=0\n"

    run_sweep(grown, out, workers=1, progress=True)  # a tqdm bar, forced, to a non-terminal
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")  # one final line
    final = _final(err)
    assert "3/3" in final and "100%" in final and "running=0 diverged=1 failed=0" in final

    run_sweep(grown, out, workers=1, progress=False)
    assert capsys.readouterr().err == ""
