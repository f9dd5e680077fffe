"""Helpers of the documentation tests: paths, the docs' own extensions, notebook execution.

``ExecutedNotebooks`` runs ``notebooks/<name>`` top to bottom with nbclient in the kernel
``python3`` of this environment (ipykernel installed beside mlplab; jupyter_client starts it with
this interpreter), each cell within ``CELL_TIMEOUT`` seconds, in a scratch folder, and keeps the
executed copy. The notebook test and the docs build share one instance per session, so every
notebook runs once.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
DOCS = ROOT / "docs"
CELL_TIMEOUT = 300  # seconds per cell: generous for a busy 2-core machine; a hang still ends
NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def load_docs_extension(name: str) -> Any:
    """Import ``docs/_ext/<name>.py`` (the docs' own helpers) as a module."""
    path = DOCS / "_ext" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_mlplab_docs_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class ExecutedNotebooks:
    """Execute each notebook at most once; remember the executed copy and its wall time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seconds: dict[str, float] = {}
        self.errors: dict[str, BaseException] = {}

    def __call__(self, name: str) -> Path:
        target = self.folder / name
        if name in self.errors:
            raise self.errors[name]
        if target.exists():
            return target
        import nbformat
        from nbclient import NotebookClient

        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        workdir = self.folder / f"{Path(name).stem}.cwd"
        workdir.mkdir()
        client = NotebookClient(
            nb, timeout=CELL_TIMEOUT, kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )  # fmt: skip
        start = time.perf_counter()
        try:
            client.execute()
        except BaseException as err:
            self.errors[name] = err
            raise
        self.seconds[name] = time.perf_counter() - start
        nbformat.write(nb, target)
        return target

    def all(self) -> Path:
        for name in NOTEBOOK_NAMES:
            self(name)
        return self.folder
