"""Plain-text tables for the terminal: the one formatter behind every listing bfrbench prints.

Used by ``bfrbench evaluate``, ``weights list``, ``methods list``, ``metrics list``, the demo's metric table and
the regression gate's diff table. Columns are as wide as their widest cell (or a stated minimum), cells are
left- or right-aligned, and trailing blanks are stripped from every line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Column", "format_table"]


@dataclass(frozen=True)
class Column:
    """One column of :func:`format_table`.

    Attributes:
        title: header text.
        align: ``"<"`` left (default) or ``">"`` right.
        min_width: the column is at least this wide.
        max_width: the column is at most this wide; a longer cell is cut to ``max_width - 3`` characters
            followed by ``...``.
    """

    title: str
    align: Literal["<", ">"] = "<"
    min_width: int = 0
    max_width: int | None = None


def _cell(v: object) -> str:
    return "" if v is None else str(v)


def format_table(columns: Sequence[str | Column], rows: Iterable[Sequence[object]], *,
                 sep: str | Sequence[str] = "  ", rule: bool = False) -> str:
    """Format ``rows`` under a header line.

    Args:
        columns: column titles, or :class:`Column` for alignment and widths.
        rows: one sequence of cells per line, as many as ``columns``; a cell is printed with ``str`` (None as
            an empty cell).
        sep: text between two columns, or one text per gap (``len(columns) - 1``).
        rule: put a line of dashes (one run per column) under the header.

    Returns:
        The lines joined by newlines (no trailing newline), each with its trailing blanks stripped.
    """
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    body = [[_cell(v) for v in r] for r in rows]
    for r in body:
        if len(r) != len(cols):
            raise ValueError(f"a table row has {len(r)} cells for {len(cols)} columns: {r!r}")
    gaps = [sep] * (len(cols) - 1) if isinstance(sep, str) else list(sep)
    if len(gaps) != len(cols) - 1:
        raise ValueError(f"{len(gaps)} separators for {len(cols)} columns")
    widths = []
    for i, c in enumerate(cols):
        w = max([len(c.title), c.min_width, *(len(r[i]) for r in body)])
        widths.append(min(w, c.max_width) if c.max_width is not None else w)
    for r in body:
        for i, c in enumerate(cols):
            if c.max_width is not None and len(r[i]) > c.max_width:
                r[i] = r[i][:c.max_width - 3] + "..."

    def line(cells: Sequence[str]) -> str:
        parts = [v.rjust(w) if c.align == ">" else v.ljust(w) for v, w, c in zip(cells, widths, cols)]
        out = parts[0]
        for gap, part in zip(gaps, parts[1:]):
            out += gap + part
        return out.rstrip()

    lines = [line([c.title for c in cols])]
    if rule:
        lines.append(line(["-" * w for w in widths]))
    lines.extend(line(r) for r in body)
    return "\n".join(lines)
