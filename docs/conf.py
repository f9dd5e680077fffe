"""Sphinx configuration of mlplab's documentation (see building.md for the why).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.

The notebooks live in ``../notebooks`` (stored without outputs) and are copied here before the
build; myst-nb executes them (cached in ``_build/.jupyter_cache`` until a notebook changes). With
``MLPLAB_NOTEBOOKS`` set to a folder of notebooks *already executed* (the tests execute them once
with nbclient), those are copied instead and rendered as they are, without running twice.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import mlplab  # noqa: E402

project = "mlplab"
author = "the mlplab authors"
copyright = "2026, the mlplab authors"
release = version = mlplab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "myst_nb",
    "api_pages",
    "cli_reference",
]

exclude_patterns = ["_build", "jupyter_execute", "CORE_API.md", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_title = f"mlplab {release}"
html_theme_options = {"description": "Fully connected networks on NumPy", "page_width": "1320px"}
html_static_path: list[str] = []

# The docstrings are Google style; napoleon reads them as written.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"exclude-members": "__init__"}
autosummary_generate = False  # api_pages writes the pages itself, from api_modules.txt

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# Notebooks: executed here (cached) unless given already executed; each cell within the timeout;
# a cell that raises fails the build.
EXECUTED_NOTEBOOKS = os.environ.get("MLPLAB_NOTEBOOKS")
nb_execution_mode = "off" if EXECUTED_NOTEBOOKS else "cache"
nb_execution_timeout = 180
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True
nb_merge_streams = True


def _copy_notebooks() -> None:
    """Mirror the notebooks into ``notebooks/`` here (Sphinx reads only its source folder)."""
    source = Path(EXECUTED_NOTEBOOKS or HERE.parent / "notebooks")
    target = HERE / "notebooks"
    target.mkdir(exist_ok=True)
    wanted = {p.name: p for p in sorted(source.glob("*.ipynb"))}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name, path in wanted.items():
        copy = target / name
        if not copy.exists() or copy.read_bytes() != path.read_bytes():
            shutil.copyfile(path, copy)


_copy_notebooks()
