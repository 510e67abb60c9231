"""Item 5: the queue on a real SQLite file (WAL) — claims per second in one process, and N
processes claiming the same tasks at once (no task twice, none lost) — then the same N
processes on PostgreSQL (a throwaway server of tests/pgserver.py), side by side.

Each claim is `state.queue.claim`: on SQLite one BEGIN IMMEDIATE transaction that picks the
best ready task, marks it running with a lease, inserts the attempt row and appends an event;
on PostgreSQL the same as one statement (FOR UPDATE SKIP LOCKED).
Workers run as `python -m bench.claims worker ...` and start together on a signal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CLEANUP,
    REPO,
    Goal,
    Result,
    Row,
    Scale,
    child_env,
    stop_process,
    with_pg_database,
)
from overseer.state import queue
from overseer.state.backend import is_url
from overseer.state.models import AttemptOutcome
from overseer.state.store import Store, open_store

LEASE_S = 30.0


def seeded(location: Path | str, n: int) -> Store:
    """A fresh store holding n ready tasks (a path: SQLite; a URL: an empty database)."""
    store = open_store(location, init=True)
    store.upsert_tasks([{"id": f"q{i:06d}", "command": "true"} for i in range(n)])
    if is_url(location):
        store.conn.execute("ANALYZE tasks")  # the planner knows the table, as in a running fleet
    return store


def single(scale: Scale, tmp: Path) -> dict[str, Any]:
    """Claims per second (and claim + finish per second) in one process."""
    n = scale.claims_single
    store = seeded(tmp / "single.db", n)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        claimed = []
        while (c := queue.claim(store, "w", LEASE_S)) is not None:
            claimed.append(c)
        claim_s, claim_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()
    store = seeded(tmp / "cycle.db", n)
    try:
        t0 = time.perf_counter()
        while (c := queue.claim(store, "w", LEASE_S)) is not None:
            queue.finish(store, c.task.id, c.attempt.number, AttemptOutcome.OK, exit_code=0)
        cycle_s = time.perf_counter() - t0
    finally:
        store.close()
    return {
        "tasks": n,
        "claimed": len(claimed),
        "claims_per_s": round(len(claimed) / claim_s, 1),
        "claims_per_cpu_s": round(len(claimed) / max(claim_cpu, 1e-6), 1),
        "claim_finish_per_s": round(n / cycle_s, 1),
    }


def multi(scale: Scale, tmp: Path, location: Path | str | None = None) -> dict[str, Any]:
    """N worker processes claim from one database until it is empty (SQLite unless
    `location` names another)."""
    n, procs = scale.claims_multi, scale.claims_procs
    db = location or tmp / "multi.db"
    seeded(db, n).close()
    workers: list[subprocess.Popen[str]] = []
    outs = [tmp / f"worker{i}.json" for i in range(procs)]
    try:
        for i, out in enumerate(outs):
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.claims", "worker", str(db), f"w{i}", str(out)],
                cwd=REPO,
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            CLEANUP.procs.append(proc)
            workers.append(proc)
        for proc in workers:  # every worker has opened the database
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a claim worker did not start")
        t0 = time.perf_counter()
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in workers:
            proc.wait(timeout=600)
        elapsed = time.perf_counter() - t0
    finally:
        for proc in workers:
            stop_process(proc)
    per_worker = [json.loads(out.read_text()) for out in outs]
    ids = [tid for w in per_worker for tid in w["claimed"]]
    store = open_store(db)
    try:
        attempts = store.conn.execute("SELECT COUNT(*), COUNT(DISTINCT task_id) FROM attempts")
        n_attempts, n_distinct = attempts.fetchone()
        counts = store.task_counts()
    finally:
        store.close()
    return {
        "tasks": n,
        "processes": procs,
        "claims": len(ids),
        "duplicates": len(ids) - len(set(ids)),
        "lost": n - len(set(ids)),
        "attempt_rows": n_attempts,
        "attempt_tasks": n_distinct,
        "task_states": counts,
        "per_worker": [len(w["claimed"]) for w in per_worker],
        "busy_errors": sum(w["errors"] for w in per_worker),
        "claims_per_s": round(len(ids) / elapsed, 1),
    }


def on_postgresql(scale: Scale, tmp: Path) -> dict[str, Any]:
    """`multi` on a throwaway PostgreSQL server ({"error": why} when none can run here)."""

    def measure(url: str, server: Any) -> dict[str, Any]:
        out = multi(scale, tmp, url)
        # The figure depends on these (the throwaway server trades durability for speed).
        shown = server.psql("SHOW fsync; SHOW synchronous_commit; SHOW full_page_writes;")
        fsync, sync, fpw = shown.split()
        out["server"] = f"fsync={fsync}, synchronous_commit={sync}, full_page_writes={fpw}"
        return out

    return with_pg_database("claims", measure)


def run(scale: Scale, tmp: Path) -> Result:
    """Item 5."""
    tmp.mkdir(parents=True, exist_ok=True)
    one = single(scale, tmp)
    many = multi(scale, tmp)
    pg = on_postgresql(scale, tmp)
    res = Result(details={"single": one, "multi": many, "postgresql": pg})
    res.rows.append(
        Row(
            "5",
            "claims per second, 1 process",
            one["claims_per_s"],
            "/s",
            Goal(">=", 2000),
            f"{one['claims_per_cpu_s']:,.0f} per CPU-second; claim+finish "
            f"{one['claim_finish_per_s']:,.0f}/s; {one['tasks']} tasks",
        )
    )
    note = (
        f"{many['processes']} processes, {many['tasks']:,} tasks, "
        f"{many['claims_per_s']:,.0f} claims/s together"
    )
    res.rows.append(
        Row(
            "5",
            "concurrent claims: duplicates",
            float(many["duplicates"]),
            "count",
            Goal("<=", 0),
            note,
        )
    )
    lost = many["lost"] + max(0, many["tasks"] - many["attempt_tasks"])
    res.rows.append(
        Row(
            "5",
            "concurrent claims: lost",
            float(lost),
            "count",
            Goal("<=", 0),
            f"attempt rows {many['attempt_rows']:,}, sqlite busy errors {many['busy_errors']}",
        )
    )
    procs = many["processes"]
    res.rows.append(
        Row("5", f"claims per second, {procs} processes: SQLite", many["claims_per_s"], "/s")
    )
    if "error" in pg:
        res.rows.append(
            Row(
                "5",
                f"claims per second, {procs} processes: PostgreSQL",
                None,
                "/s",
                note=f"not measured: {pg['error']}"[:120],
            )
        )
        return res
    res.rows.append(
        Row(
            "5",
            f"claims per second, {procs} processes: PostgreSQL",
            pg["claims_per_s"],
            "/s",
            Goal(">=", 2000),
            f"{pg['tasks']:,} tasks, one statement per claim (FOR UPDATE SKIP LOCKED); "
            f"per process {min(pg['per_worker'])}-{max(pg['per_worker'])}; server {pg['server']}",
        )
    )
    pg_lost = pg["lost"] + max(0, pg["tasks"] - pg["attempt_tasks"])
    res.rows.append(
        Row(
            "5",
            "concurrent claims on PostgreSQL: duplicates + lost",
            float(pg["duplicates"] + pg_lost),
            "count",
            Goal("<=", 0),
            f"duplicates {pg['duplicates']}, lost {pg_lost}, attempt rows "
            f"{pg['attempt_rows']:,}, errors {pg['busy_errors']}",
        )
    )
    return res


def worker(db: str, name: str, out: str) -> int:
    """Claim until the queue is empty; write the claimed task ids."""
    store = open_store(db)
    claimed: list[str] = []
    errors = 0
    print("ready", flush=True)
    sys.stdin.readline()
    while True:
        try:
            c = queue.claim(store, name, LEASE_S)
        except Exception:  # e.g. "database is locked" after the busy timeout: count, go on
            errors += 1
            if errors > 100:
                break
            continue
        if c is None:
            break
        claimed.append(c.task.id)
    store.close()
    Path(out).write_text(json.dumps({"claimed": claimed, "errors": errors}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process."""
    parser = argparse.ArgumentParser(prog="python -m bench.claims")
    parser.add_argument("role", choices=["worker"])
    parser.add_argument("db")
    parser.add_argument("name")
    parser.add_argument("out")
    args = parser.parse_args(argv)
    return worker(args.db, args.name, args.out)


if __name__ == "__main__":
    sys.exit(main())
