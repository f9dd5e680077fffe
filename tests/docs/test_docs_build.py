"""The docs build with warnings as errors, from a copy of ``docs/`` into a temporary folder.

The notebooks are the ones ``executed_notebooks`` already ran (``MLPLAB_NOTEBOOKS``), so myst-nb
renders their outputs and executes nothing a second time ("auto" mode skips a notebook that has
outputs). The checks read the built HTML: the generated API pages, the CLI reference walked
from the argparse parsers, and the notebooks with their figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from docs_support import DOCS, NOTEBOOK_NAMES, load_docs_extension

pytestmark = pytest.mark.docs

GENERATED = ("_build", "api", "notebooks", "jupyter_execute", "__pycache__")


@pytest.fixture(scope="module")
def built(tmp_path_factory, executed_notebooks) -> dict:
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    root = tmp_path_factory.mktemp("docs")
    src, out = root / "src", root / "html"
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns(*GENERATED))
    env = dict(os.environ, MLPLAB_NOTEBOOKS=str(executed_notebooks.all()))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
           "-d", str(root / "doctrees"), str(src), str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    return {"done": done, "out": out, "src": src}


def test_build_succeeds_with_warnings_as_errors(built):
    done = built["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_notebooks_are_rendered_with_their_outputs_not_executed_again(built):
    assert "Executing" not in built["done"].stdout  # myst-nb logs each notebook it executes
    for name in NOTEBOOK_NAMES:
        page = built["out"] / "notebooks" / name.replace(".ipynb", ".html")
        html = page.read_text(encoding="utf-8")
        assert "<img" in html, f"{page.name}: no figure"
    lecture = (built["out"] / "notebooks" / "01_lecture.html").read_text(encoding="utf-8")
    assert "lecture: 1 − α = 0.5" in lecture  # a printed claim: Newton's damped step


def test_api_pages_cover_every_public_name_of_every_existing_module(built):
    api = load_docs_extension("api_pages")
    modules = api.existing_modules(built["src"] / "api_modules.txt")
    assert {"mlplab", "mlplab.nn", "mlplab.optim", "mlplab.init", "mlplab.data"} <= set(modules)
    for qualname in api.canonical_names(modules).values():
        assert (built["out"] / "api" / f"{qualname}.html").exists(), qualname
    adam = (built["out"] / "api" / "mlplab.optim.Adam.html").read_text(encoding="utf-8")
    assert "bias_correction" in adam and "Examples" in adam


def test_a_missing_module_is_skipped_not_an_error(tmp_path):
    api = load_docs_extension("api_pages")
    listing = tmp_path / "api_modules.txt"
    listing.write_text("mlplab.nn\nmlplab.not_written_yet  # in progress\n")
    assert api.existing_modules(listing) == ["mlplab.nn"]


def test_cli_reference_lists_every_subcommand_from_the_parsers(built):
    from mlplab.cli import build_parser

    cli = load_docs_extension("cli_reference")
    html = (built["out"] / "cli.html").read_text(encoding="utf-8")
    progs = [parser.prog for _, parser, _ in cli.walk(build_parser())]
    assert "mlplab train" in progs and "mlplab evaluate" in progs
    for prog in progs:
        assert f"{prog}</h" in html or f"{prog}<a" in html, prog
    assert "--optimizer" in html


def test_formula_map_links_to_the_api(built):
    html = (built["out"] / "formulas.html").read_text(encoding="utf-8")
    for target in (
        "mlplab.optim.Newton.html",
        "mlplab.init.kaiming_normal.html",
        "mlplab.nn.BatchNorm1d.html",
    ):
        assert target in html
