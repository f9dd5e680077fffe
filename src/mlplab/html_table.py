"""HTML for ``mlplab report``'s self-contained page: escaped cells, one table builder, figures.

The page is assembled from sections written in three modules (the lecture's experiments in
:mod:`mlplab.experiments.report`, the normalization study in
:mod:`mlplab.experiments.normalization_report`, each sweep in :mod:`mlplab.sweep.page`). Their
tables are the same markup — a header row, then one ``<td class="num">`` per value — and differ
only in what a missing value is called (``never`` reached, ``diverged``, ``–``), in the number
of significant digits and in how a yes/no value reads, so those are the arguments here.
Figures go into the page itself as base64 PNG (:func:`png`), so the page is one file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

__all__ = ["cell", "table", "png"]


def cell(value: object, none: str = "–", digits: int = 4, yes_no: bool = False) -> str:
    """Format one table value as escaped HTML text.

    Args:
        value: the value; None stands for a missing one.
        none: the text of a missing value, in the words of its table.
        digits: significant digits of a float (``f"{value:.{digits}g}"``).
        yes_no: write a bool as ``yes``/``no`` (else as ``True``/``False``).

    Returns:
        The text, with ``<``, ``>``, ``&`` and quotes escaped.

    Examples:
        >>> cell(0.123456), cell(0.123456, digits=3), cell(None, none="never")
        ('0.1235', '0.123', 'never')
        >>> cell(True), cell(True, yes_no=True), cell("a<b")
        ('True', 'yes', 'a&lt;b')
    """
    if value is None:
        return none
    if yes_no and isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    none: str = "–",
    digits: int = 4,
    yes_no: bool = False,
    row_labels: bool = False,
) -> str:
    """Return ``<table>``: the escaped ``header`` as one row of ``<th>``, then one row per row.

    Args:
        header: the column titles (plain text, escaped here).
        rows: the values, one sequence per row, each formatted by :func:`cell`.
        none, digits, yes_no: as in :func:`cell`.
        row_labels: the first value of each row is its label, a plain ``<td>`` (not set in the
            monospace ``num`` class of the values).

    Examples:
        >>> table(["method", "steps"], [["GD", 12], ["Newton", None]], none="never")
        '<table><tr><th>method</th><th>steps</th></tr><tr><td class="num">GD</td><td class="num">12</td></tr><tr><td class="num">Newton</td><td class="num">never</td></tr></table>'
        >>> table(["", "acc"], [["σ² = 2/n", 0.91234]], digits=3, row_labels=True)
        '<table><tr><th></th><th>acc</th></tr><tr><td>σ² = 2/n</td><td class="num">0.912</td></tr></table>'
    """  # noqa: E501
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = ""
    for row in rows:
        cells = [cell(v, none, digits, yes_no) for v in row]
        label = f"<td>{cells.pop(0)}</td>" if row_labels and cells else ""
        body += "<tr>" + label + "".join(f'<td class="num">{c}</td>' for c in cells) + "</tr>"
    return f"<table><tr>{head}</tr>{body}</table>"


def png(path: Path, style: str = "") -> str:
    """Return ``<img>`` with the PNG at ``path`` embedded as base64, or a line saying it is missing.

    Args:
        path: the figure's file.
        style: an inline CSS ``style`` for the image (none if empty).

    Examples:
        >>> png(Path("no-such-figure.png"))
        '<p><em>figure no-such-figure.png missing</em></p>'
    """
    path = Path(path)
    if not path.exists():
        return f"<p><em>figure {html.escape(path.name)} missing</em></p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    extra = f' style="{html.escape(style)}"' if style else ""
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}"{extra}>'
