"""`python -m bench [--quick] [--only NAMES] [--peers] [--out FILE]`: run the benchmarks, print a table,
write JSON.

Each benchmark uses its own state dir under one temporary directory and its own private tmux
server, killed at the end (only that server). Exit status: 0 when every benchmark ran (goals
met or not; the table says which), 1 when one of them failed to run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.common import CLEANUP, REPO, SCALES, Result, Row, Scale, machine

# name -> (items, module); each module has run(scale, tmp_dir) -> Result.
BENCHES: dict[str, tuple[str, str]] = {
    "exit": ("1", "bench.exitcode"),
    "observe": ("2, 3, 8", "bench.observe"),
    "stall": ("4", "bench.stall"),
    "claims": ("5", "bench.claims"),
    "scaling": ("6", "bench.scaling"),
    "dashboard": ("7", "bench.dashboard"),
    "dashboard-pg": ("7", "bench.dashboard_pg"),  # issue 14; only with --only dashboard-pg
    "peers": ("peers", "bench.peers"),  # only with --peers or --only peers
    "hooks": ("13", "bench.hooks"),
    "serve": ("15", "bench.serve"),
    "budgets": ("15", "bench.budgets"),
    "report": ("15", "bench.runreport"),
    "busy-ai": ("17", "bench.busy_ai"),  # real Gemini and Codex CLIs; only with --only busy-ai
}
# Not part of a plain run (dashboard-pg: 100,000 tasks take minutes to build and show).
OPT_IN = {"peers", "busy-ai", "dashboard-pg"}
DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Overseer benchmarks: figures next to goals, written as JSON.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller samples and windows (under 3 minutes)"
    )
    parser.add_argument("--scale", choices=sorted(SCALES), help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        metavar="NAMES",
        help=f"comma-separated benchmarks to run (of: {', '.join(BENCHES)})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--no-dated", action="store_true", help="do not write the dated copy beside --out"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary state dirs")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="run supervisord (pip install -e '.[bench]') beside Overseer on the same "
        "workload and print the ratios",
    )
    return parser.parse_args(argv)


def run_one(name: str, scale: Scale, tmp: Path) -> tuple[Result, float]:
    """Run one benchmark; a failure becomes an ERROR row, not a crash of the suite."""
    items, module_name = BENCHES[name]
    t0 = time.monotonic()
    try:
        module = importlib.import_module(module_name)
        runner: Callable[[Scale, Path], Result] = module.run
        result = runner(scale, tmp / name)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        result = Result(
            rows=[
                Row(
                    items.split(",")[0],
                    f"{name}: did not run",
                    None,
                    "",
                    status="ERROR",
                    note=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                )
            ],
            details={"error": traceback.format_exc()},
        )
    finally:
        CLEANUP.run()  # whatever the benchmark left behind (normally nothing)
    return result, time.monotonic() - t0


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print the table, write the JSON."""
    args = parse(argv)
    if args.list:
        for name, (items, module) in BENCHES.items():
            print(f"{name:<12} items {items:<8} {module}")
        return 0
    scale = SCALES[args.scale or ("quick" if args.quick else "full")]
    if args.peers:
        names = ["peers"]
    elif args.only:
        names = [n.strip() for n in args.only.split(",") if n]
    else:
        names = [n for n in BENCHES if n not in OPT_IN]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"bench: unknown benchmark(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    if shutil.which("tmux") is None and set(names) - {"claims", "dashboard", "dashboard-pg"}:
        print("bench: tmux is not installed (looked for 'tmux' on PATH)", file=sys.stderr)
        return 2
    os.environ.pop("TMUX", None)
    os.environ.pop("TMUX_PANE", None)
    started = time.time()
    meta: dict[str, Any] = {
        "mode": scale.name,
        "started": started,
        "started_iso": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "command": "python -m bench" + (" --quick" if scale.name == "quick" else ""),
        "machine": machine(),
        "benchmarks": {},
    }
    rows: list[Row] = []
    details: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="overseer-bench-"))
    try:
        for name in names:
            print(f"bench: {name} ({scale.name}) ...", file=sys.stderr, flush=True)
            result, secs = run_one(name, scale, tmp)
            rows += result.rows
            details[name] = result.details
            meta["benchmarks"][name] = {"seconds": round(secs, 1)}
            print(f"bench: {name} done in {secs:.0f} s", file=sys.stderr, flush=True)
    finally:
        CLEANUP.run()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"bench: state dirs kept in {tmp}", file=sys.stderr)
    meta["seconds"] = round(time.time() - started, 1)
    meta["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    doc = report.document(rows, details, meta)
    paths = report.write(doc, args.out, dated=not args.no_dated)
    print(report.table(rows))
    counts = ", ".join(f"{n} {s}" for s, n in sorted(doc["verdicts"].items()))
    m = meta["machine"]
    print(f"\n{scale.name} run, {meta['seconds']:.0f} s: {counts}")
    print(
        f"machine: {m['nproc']} cores ({m['cpu_model']}), {m['tmux']}, Python {m['python']}; "
        f"load average {m['loadavg_start'][0]} at start, {m['loadavg_end'][0]} at end"
    )
    print("results: " + ", ".join(str(p) for p in paths))
    return 1 if any(r.status == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
