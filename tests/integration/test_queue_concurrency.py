"""Several processes claiming from one database (SQLite, then PostgreSQL: the `backend`
fixture) never run a task twice and lose none."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from overseer.state import queue
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import Store, open_store
from tests.backends import Backend

TASKS = 1000
WORKERS = 8


def worker(db: str, name: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(db) if db.startswith("postgresql://") else Store(db, timeout=60)
    claimed: list[str] = []
    while True:
        claim = queue.claim(store, name, lease_s=600)
        if claim is None:
            if not queue.claimable(store):
                break
            continue
        claimed.append(claim.task.id)
        queue.finish(store, claim.task.id, claim.attempt.number, AttemptOutcome.OK, exit_code=0)
    out.put((name, claimed))


def test_eight_processes_claim_a_thousand_tasks_without_duplicates(backend: Backend) -> None:
    store = backend()
    db = str(backend.location)
    store.upsert_tasks([{"id": f"t{i:04d}", "command": "true"} for i in range(TASKS)])
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=worker, args=(db, f"p{i}", out)) for i in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    claimed = [tid for _, ids in results for tid in ids]
    assert len(claimed) == len(set(claimed)), "a task was claimed twice"
    assert sorted(claimed) == sorted(f"t{i:04d}" for i in range(TASKS)), "a task was lost"
    assert sum(1 for _, ids in results if ids) > 1, "only one process got work"
    assert store.task_counts()[TaskState.DONE.value] == TASKS
    assert all(len(store.attempts(t.id)) == 1 for t in store.tasks()[:50])
    attempts = store.attempts()
    assert len(attempts) == len({a.task_id for a in attempts}) == TASKS  # one attempt each
    assert {a.number for a in attempts} == {1}
    assert store.integrity_check() == "ok"


def opener(db: str, start: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    start.wait(30)
    try:
        Store(db).close()
        out.put("ok")
    except Exception as exc:  # noqa: BLE001 - the message is the result
        out.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Creating the schema (WAL switch and migration) in one process never makes another
    process's open fail: two supervisors, a dashboard and a CLI may all start together."""
    ctx = mp.get_context("fork")
    failures: list[str] = []
    for round_no in range(30):
        db = str(tmp_path / f"r{round_no}" / "state.db")
        start = ctx.Event()
        out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        procs = [ctx.Process(target=opener, args=(db, start, out)) for _ in range(4)]
        for p in procs:
            p.start()
        start.set()
        failures += [r for r in (out.get(timeout=60) for _ in procs) if r != "ok"]
        for p in procs:
            p.join(timeout=30)
    assert not failures, failures[:3]
