"""The notebooks: stored without outputs, in sync with their sources, and they run.

Each notebook is executed top to bottom in a fresh ``python3`` kernel (see ``conftest.py``);
a cell that raises or runs past the per-cell timeout fails the test. The executed copy must show
its figures inline.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from docs_support import NOTEBOOK_NAMES, NOTEBOOKS, ROOT

nbformat = pytest.importorskip("nbformat")

pytestmark = pytest.mark.docs

EXPECTED = [
    "01_lecture.ipynb",
    "02_write_your_own_optimizer.ipynb",
    "03_second_order.ipynb",
    "04_sweeps_and_normalization.ipynb",
]


def test_the_four_notebooks_are_there():
    assert set(EXPECTED) <= set(NOTEBOOK_NAMES)


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_committed_notebook_has_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: cell {i} has outputs: store notebooks without them"
            assert cell.execution_count is None, f"{name}: cell {i} has an execution count"


def test_notebooks_match_their_sources():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_notebooks.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_kernel_python3_is_this_interpreter(tmp_path):
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_runs_top_to_bottom_with_inline_figures(name, executed_notebooks):
    nb = nbformat.read(executed_notebooks(name), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    figures = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert figures, f"{name}: no inline figure in the executed notebook"
    printed = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert printed.strip(), f"{name}: the notebook printed no numbers"
