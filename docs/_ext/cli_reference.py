"""The ``mlplab-cli`` directive: the command-line reference, generated from the argparse parsers.

It walks :func:`mlplab.cli.build_parser` and every subparser below it (``mlplab train``,
``mlplab experiment init``, ...) and prints, for each, its one-line summary and its ``--help``
exactly as the terminal shows it. Nothing is written by hand, so a new subcommand or option
appears in the reference at the next build.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

HELP_WIDTH = "92"
_UNDERLINES = "-~^\"'"


def walk(
    parser: argparse.ArgumentParser, summary: str = "", depth: int = 0
) -> Iterator[tuple[int, argparse.ArgumentParser, str]]:
    """Yield (depth, parser, one-line summary) for ``parser`` and its subparsers, depth first."""
    yield depth, parser, summary
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen:  # an alias of a subcommand already listed
                continue
            seen.add(id(sub))
            yield from walk(sub, helps.get(name, ""), depth + 1)


def help_text(parser: argparse.ArgumentParser) -> str:
    """Return ``parser.format_help()`` at a fixed width, so the build does not depend on a tty."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_|])", r"\\\1", " ".join(text.split()))


def reference(parser: argparse.ArgumentParser) -> list[str]:
    """Return the reST lines of the whole reference: a section per (sub)command."""
    lines: list[str] = []
    for depth, sub, summary in walk(parser):
        title = sub.prog
        lines += [title, _UNDERLINES[min(depth, len(_UNDERLINES) - 1)] * len(title), ""]
        if summary:
            lines += [_escape(summary), ""]
        lines += [".. code-block:: text", ""]
        lines += [f"   {line}".rstrip() for line in help_text(sub).splitlines()]
        lines.append("")
    return lines


class MlplabCli(SphinxDirective):
    """``.. mlplab-cli::`` — insert the generated reference of the ``mlplab`` command."""

    has_content = False

    def run(self) -> list[Any]:
        from mlplab.cli import build_parser

        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(
            self.state, StringList(reference(build_parser()), "mlplab-cli"), container
        )
        return container.children


def setup(app: Any) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("mlplab-cli", MlplabCli)
    return {"parallel_read_safe": True, "version": "1"}
