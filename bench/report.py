"""The results table (text) and the results file (JSON)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import Goal, Row

COLUMNS = ("item", "measure", "figure", "goal", "verdict", "note")


def fmt_value(value: float | None, unit: str) -> str:
    """A figure with its unit, rounded for reading."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "count":
        return f"{int(value)}"
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 1000 else f"{value:,.0f} ms"
    if unit == "% core":
        return f"{value:.1f} %"
    return f"{value:g} {unit}".strip()


def fmt_goal(row: Row) -> str:
    """The goal in the row's unit, or '-'."""
    if row.goal is None:
        return "-"
    target = fmt_value(row.goal.target, row.unit)
    return f"{row.goal.op} {target}"


def table(rows: Sequence[Row], note_width: int = 60) -> str:
    """Rows as an aligned text table, ordered by item."""
    body = [
        (
            r.item,
            r.name,
            fmt_value(r.value, r.unit),
            fmt_goal(r),
            r.status,
            r.note if len(r.note) <= note_width else r.note[: note_width - 1] + "…",
        )
        for r in sorted(rows, key=lambda r: r.item)
    ]
    widths = [max(len(c), *(len(line[i]) for line in body)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for line in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines)


def verdicts(rows: Sequence[Row]) -> dict[str, int]:
    """How many rows passed, missed, were skipped, informative or errors."""
    out: dict[str, int] = {}
    for r in rows:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def document(rows: Sequence[Row], details: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of one run."""
    return {
        "meta": meta,
        "verdicts": verdicts(rows),
        "results": [r.as_json() for r in sorted(rows, key=lambda r: r.item)],
        "details": details,
    }


def write(doc: dict[str, Any], out: Path, dated: bool = True) -> list[Path]:
    """Write the document to `out` and, when asked, a dated copy beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    out.write_text(text)
    written = [out]
    if dated:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(doc["meta"].get("started", 0)))
        copy = out.parent / f"{stamp}-{doc['meta'].get('mode', 'run')}.json"
        copy.write_text(text)
        written.append(copy)
    return written


def rows_of(doc: dict[str, Any]) -> list[Row]:
    """The rows of a results document."""
    return [
        Row(
            r["item"],
            r["name"],
            r["value"],
            r["unit"],
            None if r["goal"] is None else Goal(r["goal"]["op"], r["goal"]["target"]),
            r["note"],
            r["status"],
        )
        for r in doc["results"]
    ]


def markdown(doc: dict[str, Any]) -> str:
    """A results document as a Markdown table (for README's Performance section)."""
    lines = ["| # | measure | figure | goal | verdict |", "|---|---|---|---|---|"]
    for row in rows_of(doc):
        lines.append(
            f"| {row.item} | {row.name} | {fmt_value(row.value, row.unit)} | "
            f"{'' if row.goal is None else fmt_goal(row)} | {row.status} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.report [FILE]`: print a results file as a text and a Markdown table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report")
    parser.add_argument("file", nargs="?", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    doc = json.loads(args.file.read_text())
    if args.markdown:
        print(markdown(doc))
        return 0
    print(table(rows_of(doc), note_width=200))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
