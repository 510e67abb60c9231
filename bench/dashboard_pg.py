"""Issue 14: the dashboard on a shared PostgreSQL store, 10 hosts x 50 agents and 100,000
tasks (full scale), told of changes by LISTEN/NOTIFY.

The store is a fresh database on a throwaway server (tests/pgserver.py, as the claims bench
uses), filled in one transaction: agents "h0/w-1" ... "h9/w-50", a `hosts` row per host, tasks
in every state. While the dashboard runs, every host's supervisor writes its sweep (its
agents' heartbeats, then its beat) once a second, the hosts spread over the second: 20
notifying commits a second that wake the dashboard. The figures are those of the SQLite
benchmark (bench/dashboard.py): a write through another connection -> the first composed frame
showing it, the first full frame, key -> repaint. `python -m bench.dashboard_pg` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import SCALES, Goal, Result, Row, Scale, with_pg_database
from bench.dashboard import Fleet, available, measure
from overseer.state.backend import STORE_ENV
from overseer.state.hosts import ENV as HOST_ENV

BEAT_PERIOD = 1.0  # each host's sweep of busy agents (a fleet at rest sweeps every 5 s)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration (the dashboard reads its store from them)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def measure_pg(scale: Scale, tmp: Path) -> dict[str, Any]:
    """The dashboard's figures on a throwaway server ({"error": why} when none can run)."""

    def on(url: str, server: Any) -> dict[str, Any]:
        hosts = tuple(f"h{i}" for i in range(scale.pgdash_hosts))
        fleet = Fleet(url, hosts)
        with contextlib.suppress(AttributeError):
            asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
        with environment(**{STORE_ENV: fleet.url, HOST_ENV: hosts[0]}):
            return asyncio.run(
                measure(
                    scale,
                    tmp,
                    fleet,
                    n_agents=scale.pgdash_agents,
                    n_tasks=scale.pgdash_tasks,
                    period=BEAT_PERIOD,
                )
            )

    return with_pg_database("dashboard", on)


def run(scale: Scale, tmp: Path) -> Result:
    """The rows of issue 14's dashboard figures, or a SKIP row saying why there are none."""
    why = available()
    tmp.mkdir(parents=True, exist_ok=True)
    d = {"error": why} if why else measure_pg(scale, tmp)
    if "error" in d:
        row = Row("7", "dashboard on PostgreSQL", None, "", status="SKIP", note=str(d["error"]))
        return Result(rows=[row], details=d)
    res = Result(details=d)
    sizes = f"{d['hosts']} hosts x {d['agents'] // d['hosts']} agents, {d['tasks']:,} tasks"
    st, key, srt = d["store_change_ms"], d["key_down_ms"], d["key_sort_ms"]
    res.rows.append(
        Row(
            "7",
            "dashboard on PostgreSQL: store change -> repaint p95",
            st.get("p95"),
            "ms",
            Goal("<=", 250.0),
            f"median {st.get('median')}, max {st.get('max')} ms, n={st.get('n')}, unseen "
            f"{d['not_seen']}; {sizes}; {d['beats_per_s']:g} host sweeps/s",
        )
    )
    res.rows.append(
        Row(
            "7",
            "dashboard on PostgreSQL: first full frame",
            d["first_full_frame_s"],
            "s",
            note=sizes,
        )
    )
    res.rows.append(
        Row(
            "7",
            "dashboard on PostgreSQL: key (cursor down) -> repaint p95",
            key.get("p95"),
            "ms",
            Goal("<=", 50.0),
            f"median {key.get('median')} ms, n={key.get('n')}; sort {d['tasks']:,} rows: "
            f"median {srt.get('median')}, p95 {srt.get('p95')} ms",
        )
    )
    return res


def main(argv: list[str] | None = None) -> int:
    """Run this benchmark alone and print its details as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_pg")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--tasks", type=int, help="tasks (default: the scale's)")
    parser.add_argument("--samples", type=int, help="store changes measured")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale]
    if args.tasks:
        scale = dataclasses.replace(scale, pgdash_tasks=args.tasks)
    if args.samples:
        scale = dataclasses.replace(scale, dash_samples=args.samples)
    with tempfile.TemporaryDirectory(prefix="overseer-bench-") as tmp:
        res = run(scale, Path(tmp))
    print(json.dumps(res.details, indent=2, default=str))
    return 0 if res.rows and res.rows[0].status != "SKIP" else 1


if __name__ == "__main__":
    sys.exit(main())
