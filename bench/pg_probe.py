"""`python -m bench.pg_probe`: the PostgreSQL figures that decide issue 14's design, on a
throwaway server of its own (tests/pgserver.py). Not part of `python -m bench` yet.

(a) claims per second: K processes claim N ready tasks, each claim one transaction that picks
    with `FOR UPDATE SKIP LOCKED`, marks the task running, inserts the attempt and the event
    (state/queue.py's claim on a PostgreSQL copy of its tables); 0 duplicates, 0 lost.
    Ways: four statements in BEGIN..COMMIT (as the SQLite queue does), the same pipelined into
    two round trips, one statement (CTEs); the first and the last also with a NOTIFY per claim
    (what telling a dashboard of every change costs). Claimers are forked processes.
(b) LISTEN/NOTIFY latency from the notifier's COMMIT to a listener's select() loop, idle and
    while the claimers run.
(c) one connection's setup: unix socket (trust) against 127.0.0.1 (SCRAM, and trust).

Needs psycopg 3 (`psycopg[binary]`). Results print as text and, with --out, as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import secrets
import select
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import psycopg

from bench.common import machine, summary
from tests.pgserver import SETTINGS, PgServer

LEASE_S = 30.0
CHANNEL = "overseer"
FORK = multiprocessing.get_context("fork")

# The tables a claim touches, as state/store.py has them (REAL -> double precision).
SCHEMA = """
CREATE TABLE tasks (
    id TEXT PRIMARY KEY, seq BIGINT NOT NULL, command TEXT NOT NULL,
    depends_on TEXT NOT NULL DEFAULT '[]', priority INTEGER NOT NULL DEFAULT 0,
    timeout DOUBLE PRECISION, verify TEXT, max_attempts INTEGER NOT NULL DEFAULT 3, cwd TEXT,
    env TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT, lease_expires_at DOUBLE PRECISION, retry_at DOUBLE PRECISION,
    blocked_reason TEXT, exit_code INTEGER, started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL DEFAULT 'run', agent TEXT
);
CREATE INDEX tasks_state ON tasks(state, priority DESC, seq);
CREATE INDEX tasks_kind ON tasks(kind, state);
CREATE INDEX tasks_updated ON tasks(updated_at);
CREATE INDEX tasks_seq ON tasks(seq);
CREATE TABLE attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(id), number INTEGER NOT NULL, agent TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION,
    outcome TEXT NOT NULL DEFAULT 'running', exit_code INTEGER, signal INTEGER, reason TEXT,
    output_tail TEXT NOT NULL DEFAULT '', nonce TEXT NOT NULL DEFAULT '',
    log_offset BIGINT NOT NULL DEFAULT 0, result TEXT, UNIQUE (task_id, number)
);
CREATE INDEX attempts_task ON attempts(task_id, number);
CREATE TABLE events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL, task_id TEXT, agent TEXT, message TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_task ON events(task_id);
CREATE INDEX events_agent ON events(agent);
CREATE TABLE probe (id INTEGER PRIMARY KEY, ts DOUBLE PRECISION NOT NULL);
INSERT INTO probe VALUES (1, 0);
"""

PICK = (
    "SELECT id, attempts FROM tasks WHERE state='ready' AND (retry_at IS NULL OR retry_at <= %s) "
    "ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED"
)
MARK = (
    "UPDATE tasks SET state='running', attempts=%s, claimed_by=%s, lease_expires_at=%s, "
    "retry_at=NULL, exit_code=NULL, started_at=%s, finished_at=NULL, updated_at=%s "
    "WHERE id=%s AND state='ready' RETURNING *"
)
ATTEMPT = (
    "INSERT INTO attempts(task_id, number, agent, started_at, nonce) "
    "VALUES (%s, %s, %s, %s, %s) RETURNING *"
)
EVENT = (
    "INSERT INTO events(ts, kind, task_id, agent, message, data) "
    "VALUES (%s, 'task.claimed', %s, %s, %s, %s)"
)
ONE_STATEMENT = """
WITH picked AS (
    SELECT id FROM tasks WHERE state='ready' AND (retry_at IS NULL OR retry_at <= %(now)s)
    ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED
), task AS (
    UPDATE tasks t SET state='running', attempts=t.attempts + 1, claimed_by=%(agent)s,
        lease_expires_at=%(lease)s, retry_at=NULL, exit_code=NULL, started_at=%(now)s,
        finished_at=NULL, updated_at=%(now)s
    FROM picked WHERE t.id = picked.id AND t.state='ready' RETURNING t.*
), attempt AS (
    INSERT INTO attempts(task_id, number, agent, started_at, nonce)
    SELECT id, attempts, %(agent)s, %(now)s, %(nonce)s FROM task RETURNING *
), event AS (
    INSERT INTO events(ts, kind, task_id, agent, message, data)
    SELECT %(now)s, 'task.claimed', id, %(agent)s,
        id || ' attempt ' || attempts || ' claimed by ' || %(agent)s,
        json_build_object('attempt', attempts)::text FROM task
)
SELECT task.id, attempt.number{notify} FROM task, attempt
"""
MODES = (
    "statements",
    "statements, pipelined",
    "one-statement",
    "statements+notify",
    "one-statement+notify",
)


# -- (a) claims -------------------------------------------------------------------------


def claim(conn: psycopg.Connection[Any], agent: str, mode: str) -> str | None:
    """One claim in one transaction; the claimed task's id, or None when nothing is ready."""
    now = time.time()
    nonce = secrets.token_hex(12)
    if mode.startswith("one-statement"):
        notify = f", pg_notify('{CHANNEL}', task.id)" if mode.endswith("+notify") else ""
        row = conn.execute(
            ONE_STATEMENT.format(notify=notify),
            {"now": now, "agent": agent, "lease": now + LEASE_S, "nonce": nonce},
        ).fetchone()
        return None if row is None else str(row[0])
    # Pipelined: BEGIN + pick in one round trip, the writes + COMMIT in a second.
    pipeline = conn.pipeline() if mode.endswith("pipelined") else contextlib.nullcontext()
    with pipeline, conn.transaction():
        picked = conn.execute(PICK, (now,)).fetchone()
        if picked is None:
            return None
        task_id, number = picked[0], picked[1] + 1
        marked = conn.execute(MARK, (number, agent, now + LEASE_S, now, now, task_id))
        conn.execute(ATTEMPT, (task_id, number, agent, now, nonce))
        message = f"{task_id} attempt {number} claimed by {agent}"
        conn.execute(EVENT, (now, task_id, agent, message, json.dumps({"attempt": number})))
        if mode.endswith("+notify"):
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, task_id))
    if marked.rowcount != 1:
        raise RuntimeError(f"{task_id} was locked yet not ready")
    return str(task_id)


def claimer(dsn: str, name: str, mode: str, out: str, start: Barrier) -> None:
    """Child body: claim from the barrier on until nothing is ready; write what was claimed."""
    claimed: list[str] = []
    errors: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        start.wait(timeout=120)
        begin, cpu = time.time(), time.process_time()
        while True:
            try:
                task_id = claim(conn, name, mode)
            except psycopg.Error as exc:  # counted: a claim must never fail here
                errors.append(str(exc).strip())
                if len(errors) > 100:
                    break
                continue
            if task_id is None:
                break
            claimed.append(task_id)
        end, cpu = time.time(), time.process_time() - cpu
    result = {"claimed": claimed, "errors": errors, "span": [begin, end], "cpu": cpu}
    Path(out).write_text(json.dumps(result))


def seed(dsn: str, n: int) -> None:
    """Fresh tables holding n ready tasks."""
    now = time.time()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events, attempts, tasks, probe")
        conn.execute(SCHEMA)
        with conn.cursor().copy(
            "COPY tasks (id, seq, command, state, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row((f"q{i:06d}", i, "true", "ready", now, now))
        conn.execute("VACUUM ANALYZE tasks")


def fork(target: Callable[..., None], *args: object) -> BaseProcess:
    """A forked child running target(*args) (forked: no second import of all this)."""
    proc = FORK.Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def reap(procs: list[BaseProcess]) -> None:
    """Wait for children (killed after a minute); fail when one of them failed."""
    for proc in procs:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError(f"probe children failed: exit codes {[p.exitcode for p in procs]}")


def claims(dsn: str, n: int, k: int, mode: str, tmp: Path, listen: bool) -> dict[str, Any]:
    """K claimers empty a queue of n tasks; with `listen`, notify latency is sampled meanwhile."""
    seed(dsn, n)
    slug = "".join(ch if ch.isalnum() else "-" for ch in mode)
    outs = [tmp / f"{slug}-{i}.json" for i in range(k)]
    start = FORK.Barrier(k + 1)
    procs = [fork(claimer, dsn, f"w{i}", mode, str(out), start) for i, out in enumerate(outs)]
    latency: dict[str, Any] = {}
    try:
        notifier = Notifier(dsn, tmp / f"{slug}-listener.json") if listen else None
        with notifier or contextlib.nullcontext():
            start.wait(timeout=120)
            while any(p.is_alive() for p in procs):
                if notifier is not None:
                    notifier.send()
                time.sleep(0.01)
        if notifier is not None:
            latency = notifier.result
    finally:
        reap(procs)
    per = [json.loads(out.read_text()) for out in outs]
    ids = [t for w in per for t in w["claimed"]]
    span = max(w["span"][1] for w in per) - min(w["span"][0] for w in per)
    with psycopg.connect(dsn) as conn:
        rows, tasks, top = conn.execute(
            "SELECT count(*), count(DISTINCT task_id), max(number) FROM attempts"
        ).fetchone() or (0, 0, 0)
        running = conn.execute("SELECT count(*) FROM tasks WHERE state='running'").fetchone()
    return {
        "mode": mode,
        "tasks": n,
        "claimers": k,
        "claims": len(ids),
        "duplicates": len(ids) - len(set(ids)),
        "lost": n - len(set(ids)),
        "attempt_rows": rows,
        "attempt_tasks": tasks,
        "max_attempt_number": top,
        "tasks_running": running[0] if running else None,
        "errors": sum(len(w["errors"]) for w in per),
        "first_errors": [e for w in per for e in w["errors"]][:3],
        "per_claimer": [len(w["claimed"]) for w in per],
        "seconds": round(span, 3),
        "claims_per_s": round(len(ids) / span, 1),
        "claims_per_client_cpu_s": round(len(ids) / max(sum(w["cpu"] for w in per), 1e-6), 1),
        "notify_latency_ms": latency,
    }


# -- (b) LISTEN/NOTIFY ------------------------------------------------------------------


def listener(dsn: str, out: str, listening: Event) -> None:
    """Child body: LISTEN, wait in select(), note when each probe notification arrived."""
    arrived: dict[str, float] = {}
    others = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        pg = conn.pgconn
        listening.set()
        done = False
        while not done:
            readable, _, _ = select.select([conn.fileno()], [], [], 1.0)
            if not readable:
                continue
            pg.consume_input()
            now = time.time()
            while (note := pg.notifies()) is not None:
                payload = note.extra.decode()
                if payload == "stop":
                    done = True
                elif payload.startswith("probe:"):
                    arrived[payload[6:]] = now
                else:
                    others += 1
    Path(out).write_text(json.dumps({"arrived": arrived, "others": others}))


class Notifier:
    """A listener process, and a connection that commits a change + NOTIFY on each send()."""

    def __init__(self, dsn: str, out: Path) -> None:
        self.out = out
        self.sent: dict[str, float] = {}
        self.result: dict[str, Any] = {}
        listening = FORK.Event()
        self.proc = fork(listener, dsn, str(out), listening)
        if not listening.wait(timeout=60):
            reap([self.proc])
            raise RuntimeError("the listener did not start")
        self.conn = psycopg.connect(dsn)

    def __enter__(self) -> Notifier:
        return self

    def send(self) -> None:
        """Commit one store change with its notification; note when COMMIT was sent."""
        seq = str(len(self.sent))
        self.conn.execute("UPDATE probe SET ts=%s WHERE id=1", (time.time(),))
        self.conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"probe:{seq}"))
        self.sent[seq] = time.time()
        self.conn.commit()

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("SELECT pg_notify(%s, 'stop')", (CHANNEL,))
        self.conn.commit()
        self.conn.close()
        reap([self.proc])
        got = json.loads(self.out.read_text())
        lat = [(got["arrived"][s] - t) * 1000 for s, t in self.sent.items() if s in got["arrived"]]
        self.result = {
            **summary(lat, 3),
            "sent": len(self.sent),
            "lost": len(self.sent) - len(lat),
            "other_notifications": got["others"],
        }


def idle_latency(dsn: str, count: int, tmp: Path) -> dict[str, Any]:
    """Notify latency with nothing else running, one notification every 10 ms."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, ts DOUBLE PRECISION)"
        )
        conn.execute("INSERT INTO probe VALUES (1, 0) ON CONFLICT DO NOTHING")
    with Notifier(dsn, tmp / "idle-listener.json") as notifier:
        for _ in range(count):
            notifier.send()
            time.sleep(0.01)
    return notifier.result


# -- (c) connection setup ---------------------------------------------------------------


def connect_cost(dsn: str, count: int) -> dict[str, Any]:
    """Milliseconds of psycopg.connect() + close(), `count` times."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        psycopg.connect(dsn).close()
        times.append((time.perf_counter() - t0) * 1000)
    return summary(times, 3)


# -- main -------------------------------------------------------------------------------


def probe(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Every measurement on fresh servers; returns the figures."""
    doc: dict[str, Any] = {"machine": machine(), "settings": SETTINGS}
    doc["psycopg"] = {"version": psycopg.__version__, "libpq": psycopg.pq.version()}
    server = PgServer.start()
    try:
        dsn = server.dsn()
        with psycopg.connect(dsn) as conn:
            doc["server"] = conn.execute("SELECT version()").fetchone()[0]  # type: ignore[index]
        doc["connect_ms"] = {
            "unix socket, trust": connect_cost(dsn, args.connects),
            "127.0.0.1, scram-sha-256": connect_cost(server.dsn(tcp=True), args.connects),
        }
        doc["notify_idle_ms"] = idle_latency(dsn, args.notifies, tmp)
        doc["claims"] = [
            claims(
                dsn,
                args.tasks,
                args.claimers,
                mode,
                tmp,
                listen="notify" in mode or mode == "statements",
            )
            for mode in MODES
        ]
    finally:
        server.stop()
    trusting = PgServer.start(host_auth="trust")
    try:
        doc["connect_ms"]["127.0.0.1, trust"] = connect_cost(trusting.dsn(tcp=True), args.connects)
    finally:
        trusting.stop()
    doc["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return doc


def report(doc: dict[str, Any]) -> str:
    """The figures as a few lines of text."""
    lines = [f"{doc['server']}; psycopg {doc['psycopg']['version']}"]
    for c in doc["claims"]:
        lines.append(
            f"claims {c['mode']:<22} {c['claims_per_s']:>6,.0f}/s "
            f"({c['claims_per_client_cpu_s']:,.0f} per client CPU-s), {c['claimers']} claimers, "
            f"{c['tasks']:,} tasks: duplicates {c['duplicates']}, lost {c['lost']}, "
            f"errors {c['errors']}, attempt rows {c['attempt_rows']:,}"
        )
        lat = c["notify_latency_ms"]
        if lat.get("n"):
            lines.append(
                f"  notify latency under it: p50 {lat['median']} ms, p95 {lat['p95']} ms, "
                f"max {lat['max']} ms, n {lat['n']}, lost {lat['lost']}, "
                f"claim notifications seen {lat['other_notifications']:,}"
            )
    idle = doc["notify_idle_ms"]
    lines.append(
        f"notify latency idle: p50 {idle['median']} ms, p95 {idle['p95']} ms, "
        f"max {idle['max']} ms, n {idle['n']}, lost {idle['lost']}"
    )
    for name, s in doc["connect_ms"].items():
        lines.append(f"connect {name:<26} p50 {s['median']} ms, p95 {s['p95']} ms (n {s['n']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the probe, or one of its child processes."""
    parser = argparse.ArgumentParser(prog="python -m bench.pg_probe", description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--claimers", type=int, default=8)
    parser.add_argument("--notifies", type=int, default=300, help="idle notify samples")
    parser.add_argument("--connects", type=int, default=200, help="connections per transport")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ovs-pg-probe-") as tmp:
        doc = probe(args, Path(tmp))
    print(report(doc))
    if args.out:
        args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
