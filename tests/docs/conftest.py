"""Fixtures of the documentation tests (the helpers live in ``docs_support.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docs_support import ExecutedNotebooks  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "docs: executes the notebooks or builds the docs (deselect: -m 'not docs')"
    )


@pytest.fixture(scope="session")
def executed_notebooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecutedNotebooks]:
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    runner = ExecutedNotebooks(tmp_path_factory.mktemp("executed_notebooks"))
    yield runner
    if runner.seconds:
        times = ", ".join(f"{k} {v:.1f} s" for k, v in runner.seconds.items())
        print(f"\nnotebook execution: {times}")
