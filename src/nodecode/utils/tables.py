"""Plain-text tables for the terminal and Markdown tables for docs (one formatter for both)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def format_table(
    rows: Sequence[dict],
    columns: Sequence[tuple[str, str]],
    digits: int = 4,
    markdown: bool = False,
) -> str:
    """`columns` are (key, header) pairs; missing or NaN values print as n/a."""
    header = [title for _, title in columns]
    body = [[_cell(row.get(key, math.nan), digits) for key, _ in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join(fmt.format(*r) for r in [header, *body])
