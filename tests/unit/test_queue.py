"""The store and queue on a real SQLite file and a real PostgreSQL database (the `backend`
fixture runs each test on both): claims, leases, fencing, retries, policy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from overseer.state import queue
from overseer.state.backend import StoreIntegrityError
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import SCHEMA_VERSION, Store, StoreError
from tests.backends import Backend


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend()


def add(store: Store, *specs: dict[str, object]) -> None:
    store.upsert_tasks([{"command": "true", **s} for s in specs])


def test_wal_mode_schema_version_and_private_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "s" / "state.db")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version() == SCHEMA_VERSION
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "s" / "state.db").stat().st_mode & 0o777 == 0o600
    store.close()
    assert Store(tmp_path / "s" / "state.db").schema_version() == SCHEMA_VERSION  # reopen: no-op


def test_newer_schema_is_refused_with_a_clear_message(backend: Backend) -> None:
    backend().meta_set("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer than this Overseer"):
        backend()


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the state database"):
        Store(db)


def test_a_transaction_opened_inside_another_commits_with_it(backend: Backend) -> None:
    # An attempt's end and its agent's idle mark are one commit: a reader sees both or none.
    store, reader = backend(), backend()
    add(store, {"id": "a"})
    claim = queue.claim(store, "w", 30, log_offset=4096)
    assert claim is not None and claim.attempt.log_offset == 4096  # recorded by the claim

    def seen() -> list[str]:
        return [e.message for e in reader.events() if e.kind == "x"]

    with store.tx():
        queue.finish(store, "a", 1, AttemptOutcome.OK)
        store.event("x", "agent idle")
        assert reader.task("a").state == TaskState.RUNNING and seen() == []  # type: ignore[union-attr]
    assert reader.task("a").state == TaskState.DONE and seen() == ["agent idle"]  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), store.tx():
        store.event("x", "rolled back with the outer one")
        raise RuntimeError
    assert seen() == ["agent idle"]


def test_claim_order_priority_then_insertion(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b", "priority": 5}, {"id": "c"})
    got = [queue.claim(store, "w", 30) for _ in range(4)]
    assert [c.task.id if c else None for c in got] == ["b", "a", "c", None]


def test_a_claim_returns_the_rows_it_wrote(store: Store) -> None:
    add(store, {"id": "a", "env": {"K": "v"}, "depends_on": []}, {"id": "b"})
    claim = queue.claim(store, "w", 30, now=1000.5, log_offset=7)
    assert claim is not None
    assert claim.task == store.task("a") and claim.attempt == store.attempts("a")[0]
    assert claim.attempt.number == claim.task.attempts == 1 and claim.attempt.log_offset == 7
    assert claim.task.lease_expires_at == 1030.5 and claim.task.claimed_by == "w"
    (event,) = [e for e in store.events(task_id="a") if e.kind == "task.claimed"]
    assert event.message == "a attempt 1 claimed by w" and event.data == {"attempt": 1}
    assert event.agent == "w" and event.ts == 1000.5


def test_claim_filters_by_task_kind_and_routing(store: Store) -> None:
    add(
        store,
        {"id": "routed", "agent": "x", "priority": 9},
        {"id": "ask", "kind": "prompt"},
        {"id": "free"},
        {"id": "last"},
    )
    assert queue.claim(store, "w", 30, task_id="last").task.id == "last"  # type: ignore[union-attr]
    got = queue.claim(store, "w", 30, kind="prompt")
    assert got is not None and got.task.id == "ask"
    got = queue.claim(store, "y", 30, names=("y", "pool"))  # not routed to y: skipped
    assert got is not None and got.task.id == "free"
    assert queue.claim(store, "y", 30, names=("y",)) is None
    got = queue.claim(store, "x", 30, names=("x",))
    assert got is not None and got.task.id == "routed"


def test_claim_respects_max_running(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b"})
    assert queue.claim(store, "w1", 30, max_running=1) is not None
    assert queue.claim(store, "w2", 30, max_running=1) is None


def test_on_a_shared_store_pins_and_max_running_are_per_host(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b"}, {"id": "c", "hosts": ["y_1"]}, {"id": "d"})
    assert store.task("c").hosts == ("y_1",)  # type: ignore[union-attr]
    got = queue.claim(store, "x/w-1", 30, max_running=1, host="x")
    assert got is not None and got.task.id == "a"
    assert queue.claim(store, "x/w-2", 30, max_running=1, host="x") is None  # x is at its limit
    got = queue.claim(store, "y_1/w-1", 30, max_running=2, host="y_1")  # y_1's own count: 0
    assert got is not None and got.task.id == "b"
    assert store.running_count("x") == 1 and store.running_count() == 2
    # "yx1" would match "y_1" if '_' were a LIKE wildcard: the pin is taken literally.
    assert queue.claim(store, "yx1/w-1", 30, max_running=5, host="yx1").task.id == "d"  # type: ignore[union-attr]
    assert queue.claim(store, "x/w-2", 30, host="x") is None  # c waits for its host
    got = queue.claim(store, "y_1/w-2", 30, max_running=2, host="y_1")
    assert got is not None and got.task.id == "c"


def test_an_expired_lease_of_a_beating_host_is_left_to_it(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b"})
    queue.claim(store, "x/w-1", 1, now=100.0, host="x")
    queue.claim(store, "y/w-1", 1, now=100.0, host="y")
    lost = queue.reclaim_expired(store, now=200.0, hosts_alive={"x"})
    assert lost == ["b"]  # y is silent: its task goes back to the queue; x's stays x's
    assert store.task("a").state == TaskState.RUNNING  # type: ignore[union-attr]


def test_dependencies_wait_and_promote_on_done(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b", "depends_on": ["a"]})
    assert store.task("b").state == TaskState.PENDING  # type: ignore[union-attr]
    c = queue.claim(store, "w", 30)
    assert c is not None and c.task.id == "a"
    assert queue.claim(store, "w2", 30) is None
    queue.finish(store, "a", c.attempt.number, AttemptOutcome.OK, exit_code=0)
    assert store.task("b").state == TaskState.READY  # type: ignore[union-attr]


def test_failed_dependency_leaves_dependants_pending_and_settled(store: Store) -> None:
    add(
        store,
        {"id": "a", "max_attempts": 1},
        {"id": "b", "depends_on": ["a"]},
        {"id": "c", "depends_on": ["b"]},
    )
    c = queue.claim(store, "w", 30)
    assert c is not None
    assert queue.finish(store, "a", 1, AttemptOutcome.FAILED, exit_code=2) == TaskState.FAILED
    assert store.task("b").state == TaskState.PENDING  # type: ignore[union-attr]
    assert queue.stuck_pending(store) == {"b": "a", "c": "a"}
    assert queue.settled(store)


def test_stale_result_never_overwrites_a_newer_attempt(store: Store) -> None:
    add(store, {"id": "a"})
    first = queue.claim(store, "w1", 30, now=100.0)
    assert first is not None
    # The lease runs out; the task is reclaimed and claimed again by another agent.
    assert queue.reclaim_expired(store, now=200.0, delay=lambda n: 0) == ["a"]
    second = queue.claim(store, "w2", 30, now=201.0)
    assert second is not None and second.attempt.number == 2
    # The late result of attempt 1 arrives: ignored.
    assert queue.finish(store, "a", 1, AttemptOutcome.OK, exit_code=0) is None
    task = store.task("a")
    assert task is not None and task.state == TaskState.RUNNING and task.claimed_by == "w2"
    assert store.attempts("a")[0].outcome == AttemptOutcome.LOST
    assert any(e.kind == "attempt.stale" for e in store.events(task_id="a"))
    assert queue.finish(store, "a", 2, AttemptOutcome.OK, exit_code=0) == TaskState.DONE


def test_renew_is_fenced(store: Store) -> None:
    add(store, {"id": "a"})
    c = queue.claim(store, "w1", 30, now=100.0)
    assert c is not None
    assert queue.renew(store, "a", 1, "w1", 30, now=110.0)
    assert not queue.renew(store, "a", 1, "other", 30, now=110.0)
    assert not queue.renew(store, "a", 2, "w1", 30, now=110.0)
    assert store.task("a").lease_expires_at == 140.0  # type: ignore[union-attr]
    assert queue.reclaim_expired(store, now=139.0) == []


def test_reclaim_skips_agents_known_alive(store: Store) -> None:
    add(store, {"id": "a"})
    queue.claim(store, "w1", 1, now=100.0)
    assert queue.reclaim_expired(store, now=200.0, keep={"w1"}) == []


def test_backoff_is_capped_exponential(store: Store) -> None:
    add(store, {"id": "a", "max_attempts": 5})
    delays = []
    now = 1000.0
    for n in range(1, 5):
        c = queue.claim(store, "w", 30, now=now)
        assert c is not None, n
        queue.finish(
            store,
            "a",
            n,
            AttemptOutcome.FAILED,
            exit_code=1,
            now=now,
            delay=lambda f: min(5.0, 2.0 * 2 ** (f - 1)),
        )
        t = store.task("a")
        assert t is not None and t.retry_at is not None
        delays.append(t.retry_at - now)
        assert queue.claim(store, "w", 30, now=now) is None  # not before retry_at
        now = t.retry_at
    assert delays == [2.0, 4.0, 5.0, 5.0]


def test_attempts_run_out(store: Store) -> None:
    add(store, {"id": "a", "max_attempts": 2})
    for n in (1, 2):
        queue.claim(store, "w", 30, now=float(n * 100))
        queue.finish(
            store, "a", n, AttemptOutcome.FAILED, exit_code=3, delay=lambda f: 0, now=float(n * 100)
        )
    t = store.task("a")
    assert t is not None and t.state == TaskState.FAILED and t.exit_code == 3


def test_operator_retry_block_unblock(store: Store) -> None:
    add(store, {"id": "a", "max_attempts": 1})
    queue.claim(store, "w", 30)
    with pytest.raises(queue.QueueError, match="running"):
        queue.retry(store, "a")
    queue.finish(store, "a", 1, AttemptOutcome.FAILED, exit_code=1)
    queue.retry(store, "a", "try again")
    t = store.task("a")
    assert t is not None and t.state == TaskState.READY and t.max_attempts == 2
    queue.block(store, "a", "needs a person")
    t = store.task("a")
    assert t is not None and t.state == TaskState.BLOCKED and t.blocked_reason == "needs a person"
    assert queue.claim(store, "w", 30) is None
    queue.unblock(store, "a")
    assert store.task("a").state == TaskState.READY  # type: ignore[union-attr]
    with pytest.raises(queue.QueueError, match="not blocked"):
        queue.unblock(store, "a")
    with pytest.raises(queue.QueueError, match="no task"):
        queue.block(store, "nope", "x")


def test_released_attempt_does_not_use_a_try(store: Store) -> None:
    add(store, {"id": "a", "max_attempts": 1})
    queue.claim(store, "w", 30)
    assert queue.finish(store, "a", 1, AttemptOutcome.RELEASED) == TaskState.READY
    c = queue.claim(store, "w", 30)
    assert c is not None and c.attempt.number == 2
    assert queue.finish(store, "a", 2, AttemptOutcome.FAILED, exit_code=1) == TaskState.FAILED


def test_events_resume_after_an_id(store: Store) -> None:
    add(store, {"id": "a"}, {"id": "b"})
    evs = store.events()
    assert [e.task_id for e in evs] == ["a", "b"]
    assert [e.task_id for e in store.events(since=evs[0].id)] == ["b"]


def test_two_connections_see_each_others_commits(backend: Backend) -> None:
    a, b = backend(), backend()
    cid = a.enqueue_command("retry", "x", {"reason": "r"})
    cmd = b.command(cid)
    assert cmd is not None and cmd.args == {"reason": "r"} and cmd.status.value == "queued"
    with b.tx() as c:
        b.finish_command_in(c, cid, True, "done")
    assert a.pending_commands() == []
    with pytest.raises((sqlite3.IntegrityError, StoreIntegrityError)), a.tx() as c:
        c.execute(
            "INSERT INTO tasks(id, seq, command, state, created_at, updated_at) "
            "VALUES ('a', 1, 'x', 'ready', 0, 0)"
        )
        c.execute(
            "INSERT INTO tasks(id, seq, command, state, created_at, updated_at) "
            "VALUES ('a', 2, 'x', 'ready', 0, 0)"
        )
    assert a.task("a") is None  # the failed transaction left nothing behind
