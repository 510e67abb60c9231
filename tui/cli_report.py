"""`overseer report` (what a run did, or two runs side by side) and `overseer runs` (every run)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from datetime import datetime
from typing import Any

from overseer.state import report as figures
from overseer.state.runs import Run, get_run, runs
from overseer.state.store import Store
from overseer.tui.cli_common import EXIT_OK, CliError, command, resolve
from overseer.tui.report_text import run_line, text_compare, text_report

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """`--since`: a time ago (90s, 30m, 2h, 1d) or a local ISO date/time (2026-12-01T09:00)."""
    now = time.time() if now is None else now
    m = _AGO.match(text.strip())
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise CliError(
            f"--since takes a time ago (30m, 2h, 1d) or a date/time (2026-12-01T09:00), "
            f"not {text!r}"
        ) from None


def csv_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """A report as rows of (section, item, figure, value)."""
    rows: list[list[Any]] = []
    for section in ("scope", "tasks", "attempts", "duration", "usage"):
        for key, value in doc[section].items():
            rows.append([section, "", key, value])
    rows.append(["summary", "", "success_rate", doc["success_rate"]])
    tp = doc["throughput"]
    for i, n in enumerate(tp["done"]):
        rows.append(["throughput", i * tp["interval_s"], "done", n])
    for ag in doc["agents"]:
        for key in ("attempts", "busy_s", "utilisation"):
            rows.append(["agent", ag["agent"], key, ag[key]])
    for w in doc["waiting"]["agents"]:
        rows.append(["waiting", w["agent"], "times", w["times"]])
        rows.append(["waiting", w["agent"], "seconds", w["seconds"]])
    for row in doc["per_task"]:
        for key in ("attempts", "median_s", "p95_s"):
            rows.append(["task", row["task"], key, row[key]])
    return rows


def emit(args: argparse.Namespace, doc: Any, lines: list[str], rows: list[list[Any]]) -> None:
    """Print a document as JSON, CSV rows or text lines, as asked."""
    if args.json:
        print(json.dumps(doc, indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerows(rows)
    else:
        print("\n".join(lines))


def run_report(store: Store, ref: str | None) -> dict[str, Any]:
    """The report of a run named by id (None: the latest)."""
    return figures.report(store, figures.run_scope(get_run(store, ref)))


def cmd_report(args: argparse.Namespace) -> int:
    if args.json and args.csv:
        raise CliError("--json and --csv: pick one")
    target: list[str] = args.target
    if args.list:
        return list_runs(args)
    store = resolve(args).store()
    if target and target[0] == "compare":
        if len(target) != 3 or args.since:
            raise CliError("usage: overseer report compare RUN_A RUN_B")
        a, b = get_run(store, target[1]), get_run(store, target[2])
        rows = figures.compare(
            figures.report(store, figures.run_scope(a)), figures.report(store, figures.run_scope(b))
        )
        doc = {"a": a.id, "b": b.id, "figures": rows}
        table = [["figure", "a", "b", "diff", "change"]] + [
            [r["figure"], r["a"], r["b"], r["diff"], r["change"]] for r in rows
        ]
        emit(args, doc, text_compare(a, b, rows), table)
        return EXIT_OK
    if len(target) > 1 or (target and args.since):
        raise CliError("usage: overseer report [RUN | --since T] [--json | --csv]")
    if args.since:
        doc = figures.report(store, figures.since_scope(parse_since(args.since)))
    else:
        doc = run_report(store, target[0] if target else None)
    emit(args, doc, text_report(doc), csv_rows(doc))
    return EXIT_OK


def list_runs(args: argparse.Namespace) -> int:
    """`overseer runs`: every run, newest first."""
    found = runs(resolve(args).store())
    if args.json:
        print(json.dumps([_run_json(r) for r in found], indent=2))
        return EXIT_OK
    if getattr(args, "csv", False):
        writer = csv.writer(sys.stdout)
        writer.writerow(["id", "host", "pid", "started_at", "ended_at", "running", "seconds"])
        for r in found:
            writer.writerow([r.id, r.host, r.pid, r.started_at, r.ended_at, r.running, r.seconds])
        return EXIT_OK
    print(f"{'run':>5}  {'host':<20} {'pid':>8}  {'started':<19}  {'ended':<19}  length")
    for r in found:
        print(run_line(r))
    return EXIT_OK


def _run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "host": run.host,
        "pid": run.pid,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "running": run.running,
        "seconds": run.seconds,
    }


def register(sub: Any) -> None:
    """Add the report and runs subcommands."""
    p = command(
        sub,
        "report",
        cmd_report,
        "what a run did: tasks, durations, throughput, agents, waiting, tokens",
        usage="overseer report [RUN | --since T] [--json | --csv]\n"
        "       overseer report compare RUN_A RUN_B [--json | --csv]\n"
        "       overseer report --list",
    )
    p.add_argument("target", nargs="*", metavar="RUN", help="a run id (default: the latest)")
    p.add_argument(
        "--since", metavar="T", help="every attempt started since T (2h, 2026-12-01T09:00)"
    )
    p.add_argument("--list", action="store_true", help="list the runs (as `overseer runs`)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", action="store_true")
    p = command(sub, "runs", list_runs, "every supervisor session (run), newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", action="store_true")
