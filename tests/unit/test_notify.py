"""The notify hook: environment, subscriptions, rate limits, failures; the loop never waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.agents import notify
from overseer.agents.notify import Notifier
from overseer.state.config import NOTIFY_EVENTS, NotifyConfig
from overseer.state.store import Store
from tests.helpers import wait_until

HOOK = (
    'printf "%s|%s|%s|%s|%s\\n" "$OVERSEER_EVENT" "$OVERSEER_TASK" "$OVERSEER_AGENT" '
    '"$OVERSEER_REASON" "$OVERSEER_PROJECT" >> "$OUT"'
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state" / "state.db")


def make(
    store: Store,
    tmp_path: Path,
    command: str = HOOK,
    events: tuple[str, ...] = NOTIFY_EVENTS,
    min_interval: float = 30.0,
    **kw: object,
) -> Notifier:
    return Notifier(
        NotifyConfig(command=command, events=events, min_interval=min_interval),
        store,
        tmp_path / "state",
        cwd=tmp_path,
        project="proj",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "notified.txt"
    monkeypatch.setenv("OUT", str(path))
    return path


def lines(path: Path, n: int) -> list[str]:
    wait_until(
        lambda: path.exists() and len(path.read_text().splitlines()) >= n,
        message=f"{n} notification(s) not written",
    )
    return path.read_text().splitlines()


def drain(n: Notifier) -> None:
    """Poll until no hook runs (each poll returns at once; the hooks finish on their own)."""

    def idle() -> bool:
        n.poll()
        return not n.running and not n.queue

    wait_until(idle, message="hooks did not finish")


def test_subscribed_events_run_the_hook_with_the_overseer_environment(
    store: Store, tmp_path: Path, out: Path
) -> None:
    store.upsert_tasks([{"id": "db", "command": "x"}])
    n = make(store, tmp_path)
    store.event("task.done", "db done", task_id="db")  # not an event that needs a person
    store.event("task.blocked", "db blocked: same failure", task_id="db")
    store.conn.execute("UPDATE tasks SET state='blocked', blocked_reason='exit 2 twice'")
    store.event("agent.waiting", "w: busy -> waiting (waiting at prompt: Go? [y/N])", agent="w")
    n.poll()
    got = sorted(lines(out, 2))
    assert got == [
        "agent.waiting||w|waiting at prompt: Go? [y/N]|proj",
        "task.blocked|db||exit 2 twice|proj",
    ]
    drain(n)


def test_only_events_from_after_start_and_only_subscribed_kinds(
    store: Store, tmp_path: Path, out: Path
) -> None:
    store.event("task.blocked", "old news", task_id="a")
    n = make(store, tmp_path, events=("agent.dead",))
    store.event("task.blocked", "not subscribed", task_id="b")
    store.event("agent.dead", "w: starting -> dead (respawn loop)", agent="w")
    n.poll()
    assert lines(out, 1) == ["agent.dead||w|respawn loop|proj"]
    drain(n)
    assert out.read_text().splitlines() == ["agent.dead||w|respawn loop|proj"]


def test_the_same_event_and_target_is_rate_limited(store: Store, tmp_path: Path, out: Path) -> None:
    clock = Clock()
    n = make(store, tmp_path, events=("agent.stalled",), min_interval=30, clock=clock)
    store.event("agent.stalled", "w: busy -> stalled (one)", agent="w")
    store.event("agent.stalled", "w: busy -> stalled (two)", agent="w")
    store.event("agent.stalled", "v: busy -> stalled (other agent)", agent="v")
    n.poll()
    drain(n)
    clock.now += 31
    store.event("agent.stalled", "w: busy -> stalled (later)", agent="w")
    n.poll()
    drain(n)
    assert sorted(lines(out, 3)) == [
        "agent.stalled||v|other agent|proj",
        "agent.stalled||w|later|proj",
        "agent.stalled||w|one|proj",
    ]


def test_secrets_are_masked_in_the_hook_environment(
    store: Store, tmp_path: Path, out: Path
) -> None:
    n = make(store, tmp_path)
    key = "sk-ant-" + "k" * 30
    store.event("agent.waiting", f"w: busy -> waiting (use {key} at prompt: y/N)", agent="w")
    n.poll()
    (line,) = lines(out, 1)
    assert key not in line and "sk-ant-***" in line
    drain(n)


def test_a_failing_hook_is_logged_not_fatal(store: Store, tmp_path: Path) -> None:
    n = make(store, tmp_path, command="echo webhook refused >&2; exit 3")
    store.event("task.failed", "t failed", task_id="t")
    n.poll()
    drain(n)
    (event,) = [e for e in store.events() if e.kind == "notify.failed"]
    assert "the hook exited 3: webhook refused" in event.message and event.task_id == "t"
    assert (tmp_path / "state" / "notify.log").stat().st_mode & 0o777 == 0o600


def test_polling_never_waits_for_a_hook_and_a_hung_one_is_killed(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    n = make(store, tmp_path, command="sleep 60", clock=clock, timeout=5.0)
    store.event("agent.dead", "w died", agent="w")
    n.poll()  # returns with the hook still running
    (run,) = n.running
    assert run.proc.poll() is None
    clock.now += 6
    n.poll()
    assert n.running == [] and run.proc.returncode is not None
    (event,) = [e for e in store.events() if e.kind == "notify.failed"]
    assert "ran longer than 5s and was killed" in event.message


def test_a_flood_is_bounded_and_the_drop_is_logged(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "QUEUE_MAX", 3)
    n = make(store, tmp_path, command="sleep 60", min_interval=0)
    for i in range(8):
        store.event("agent.waiting", f"w{i} waiting", agent=f"w{i}")
    n.poll()
    # At most QUEUE_MAX wait at once (the newest); MAX_RUNNING of them have started.
    started = [run.note.agent for run in n.running]
    assert started == ["w5", "w6"] and [q.agent for q in n.queue] == ["w7"]
    assert any(e.kind == "notify.dropped" and "5 notification" in e.message for e in store.events())
    for run in n.running:
        n.kill(run.proc)
    n.close()


def test_a_hook_that_cannot_start_is_logged(store: Store, tmp_path: Path) -> None:
    n = make(store, tmp_path)
    n.cwd = tmp_path / "missing-dir"
    store.event("agent.dead", "w died", agent="w")
    n.poll()
    (event,) = [e for e in store.events() if e.kind == "notify.failed"]
    assert "could not start the hook" in event.message
