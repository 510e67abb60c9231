"""A deterministic fixture store for dashboard tests: fixed times, no tmux, no clock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overseer.state.config import Config, UserConfig, load_config_text
from overseer.state.models import Usage
from overseer.state.store import Store, usage_json
from overseer.tui.app import OverseerApp

T0 = 1_800_000_000.0  # every timestamp is T0 + offset
NOW = T0 + 600.0

CONFIG = """
name: fleet
stall_timeout: 60
heartbeat: {warn: 30, alert: 90}
agents:
  - {name: worker, kind: shell, count: 4}
tasks: []
"""

# Longer than any column at 80 or 100 columns: the dashboard must still show all of it.
PROMPT = "Deploy build 4f2c1e to staging (3 services, 2 migrations pending)? [y/N]"
SCREEN = (
    "worker-2$ bash /work/.overseer/run/build.1.sh\n"
    "compiling module 1/3\ncompiling module 2/3\n" + PROMPT + " "
)


def config(root: Path) -> Config:
    return load_config_text(CONFIG, path=str(root / "overseer.yaml"), base_dir=root)


def _task(
    c,
    tid,
    seq,
    state,
    *,
    attempts=0,
    max_attempts=3,
    agent=None,
    lease=None,
    exit_code=None,
    started=None,
    finished=None,
    retry_at=None,
    blocked=None,
    deps=(),
    command=None,
    priority=0,
):
    c.execute(
        "INSERT INTO tasks(id, seq, command, depends_on, priority, max_attempts, state, attempts, "
        "claimed_by, lease_expires_at, retry_at, blocked_reason, exit_code, started_at, finished_at, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            tid,
            seq,
            command or f"make {tid}",
            json.dumps(list(deps)),
            priority,
            max_attempts,
            state,
            attempts,
            agent,
            lease,
            retry_at,
            blocked,
            exit_code,
            started,
            finished,
            T0,
            T0,
        ),
    )


def _attempt(c, tid, number, agent, outcome, exit_code, start, end, reason=None, tail=""):
    c.execute(
        "INSERT INTO attempts(task_id, number, agent, started_at, finished_at, outcome, exit_code, "
        "reason, output_tail) VALUES (?,?,?,?,?,?,?,?,?)",
        (tid, number, agent, start, end, outcome, exit_code, reason, tail),
    )


def _agent(
    c,
    name,
    state,
    *,
    task=None,
    beat=None,
    since=None,
    line="",
    prompt=None,
    reason=None,
    pane=None,
):
    c.execute(
        "INSERT INTO agents(name, kind, state, task_id, pane_id, pid, last_output_at, heartbeat_at, "
        "state_since, last_line, prompt, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            name,
            "shell",
            state,
            task,
            pane,
            None,
            beat,
            beat,
            since if since is not None else T0,
            line,
            prompt,
            reason,
        ),
    )


def _event(c, ts, kind, message, task=None, agent=None):
    c.execute(
        "INSERT INTO events(ts, kind, task_id, agent, message) VALUES (?,?,?,?,?)",
        (ts, kind, task, agent, message),
    )


def build(root: Path, scenario: str) -> Path:
    """Write a store for `scenario` (empty, busy, stalled, waiting, tokens) and return the state
    dir."""
    state_dir = root / ".overseer"
    store = Store(state_dir / "state.db")
    with store.tx() as c:
        c.execute(
            "INSERT INTO supervisor(id, pid, host, started_at, heartbeat_at) VALUES (1, 4242, 'h', ?, ?)",
            (T0, NOW - 0.4),
        )
        if scenario == "empty":
            pass
        else:
            _fleet(c, scenario)
        if scenario == "tokens":
            _tokens(c)
        if scenario != "empty":  # the supervisor's run, which claimed every attempt
            c.execute(
                "INSERT INTO runs(id, host, pid, started_at, heartbeat_at) VALUES (1, 'h', 4242, ?, ?)",
                (T0, NOW - 0.4),
            )
            c.execute("UPDATE attempts SET run_id=1")
    store.close()
    if scenario != "empty":
        _recording(state_dir)
    if scenario == "crash":
        _crash(state_dir)
    return state_dir


def _crash(state_dir: Path) -> None:
    """The crash context kept when worker-3 died under docs' first attempt."""
    import json

    from overseer.agents import crashes
    from overseer.state.paths import StatePaths

    context = {"time": NOW - 19, "agent": "worker-3", "task": "docs", "attempt": 1}
    context["why"] = "agent died: shell exited (status 137)"
    screen = "worker-3$ bash /work/.overseer/run/docs.1.sh\nbuilding html\n  [ 40%] api.rst\n"
    files = {"screen.txt": screen, "tail.txt": screen, "context.json": json.dumps(context)}
    crashes.write(StatePaths(state_dir), "worker-3", NOW - 19, files)


# worker-1's log as the supervisor read it: (seconds after fetch began, bytes). The lint
# attempt that followed on worker-1 starts where fetch's output ends.
FETCH_OUTPUT = [
    (0.1, b"worker-1$ bash /work/.overseer/run/fetch.1.sh\r\n"),
    (0.5, b"\x1b[32mfetching\x1b[0m 12 files from origin\r\n"),
    (2.0, b"  files 1-6   \x1b[1mok\x1b[0m\r\n"),
    (3.5, b"  files 7-12  \x1b[1mok\x1b[0m\r\n  using token=tok_4f2c1e9a77 for the mirror\r\n"),
    (3.9, b"\x1b[33mfetched 12 files\x1b[0m\r\nworker-1$ "),
]


def _recording(state_dir: Path) -> None:
    from overseer.agents.timing import TimingIndex
    from overseer.state.paths import StatePaths

    paths = StatePaths(state_dir)
    paths.logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = b"".join(chunk for _, chunk in FETCH_OUTPUT)
    index = TimingIndex(paths.times("worker-1"))
    end = 0
    for at, chunk in FETCH_OUTPUT:
        end += len(chunk)
        index.note(end, T0 + 10 + at, len(data))
    index.close()
    paths.log("worker-1").write_bytes(data + b"bash /work/.overseer/run/lint.1.sh\r\n")
    store = Store(paths.db)
    with store.tx() as c:
        c.execute("UPDATE attempts SET log_offset=? WHERE task_id='lint'", (len(data),))
    store.close()


def _fleet(c, scenario: str) -> None:
    _task(c, "fetch", 1, "done", attempts=1, exit_code=0, started=T0 + 10, finished=T0 + 14)
    _attempt(c, "fetch", 1, "worker-1", "ok", 0, T0 + 10, T0 + 14, tail="fetched 12 files")
    _task(
        c,
        "build",
        2,
        "running",
        attempts=1,
        agent="worker-2",
        lease=NOW + 24,
        started=NOW - 95,
        deps=["fetch"],
    )
    _attempt(c, "build", 1, "worker-2", "running", None, NOW - 95, None)
    _task(c, "unit-tests", 3, "pending", deps=["build"])
    _task(c, "package", 4, "pending", deps=["unit-tests", "lint"])
    _task(c, "lint", 5, "running", attempts=1, agent="worker-1", lease=NOW + 28, started=NOW - 12)
    _attempt(c, "lint", 1, "worker-1", "running", None, NOW - 12, None)
    _task(
        c, "flaky-download", 6, "done", attempts=2, exit_code=0, started=T0 + 40, finished=T0 + 42
    )
    _attempt(
        c, "flaky-download", 1, "worker-3", "failed", 3, T0 + 20, T0 + 21, tail="connection reset"
    )
    _attempt(c, "flaky-download", 2, "worker-3", "ok", 0, T0 + 40, T0 + 42, tail="downloaded")
    _task(
        c,
        "db-migrate",
        7,
        "failed",
        attempts=2,
        max_attempts=2,
        exit_code=2,
        started=T0 + 50,
        finished=T0 + 51,
    )
    _attempt(c, "db-migrate", 1, "worker-4", "failed", 2, T0 + 30, T0 + 31, tail="relation missing")
    _attempt(c, "db-migrate", 2, "worker-4", "failed", 2, T0 + 50, T0 + 51, tail="relation missing")
    _task(c, "docs", 8, "ready", attempts=1, retry_at=NOW + 7, exit_code=1)
    _attempt(c, "docs", 1, "worker-3", "failed", 1, NOW - 20, NOW - 19, tail="sphinx error")
    _task(
        c,
        "mirror-sync",
        9,
        "blocked",
        attempts=1,
        max_attempts=1,
        exit_code=143,
        started=T0 + 60,
        finished=T0 + 70,
        blocked="stalled: no output for 60s",
    )
    _attempt(
        c,
        "mirror-sync",
        1,
        "worker-4",
        "stalled",
        143,
        T0 + 60,
        T0 + 70,
        reason="stalled: no output for 60s",
    )
    for i in range(10, 16):
        _task(c, f"shard-{i - 9:02d}", i, "ready")
    stalled = scenario == "stalled"
    waiting = scenario == "waiting"
    _agent(
        c,
        "worker-1",
        "busy",
        task="lint",
        beat=NOW - 1.5,
        since=NOW - 12,
        line="checking util.py",
        pane="%1",
    )
    _agent(
        c,
        "worker-2",
        "waiting" if waiting else "busy",
        task="build",
        beat=NOW - 3,
        since=NOW - 40 if waiting else NOW - 95,
        line="compiling module 2/3",
        prompt=PROMPT if waiting else None,
        pane="%2",
    )
    _agent(
        c,
        "worker-3",
        "stalled" if stalled else "idle",
        task="docs" if stalled else None,
        beat=NOW - 75 if stalled else NOW - 0.5,
        since=NOW - 15 if stalled else NOW - 19,
        line="sphinx-build -b html docs",
        reason="stalled: no output for 75s" if stalled else None,
        pane="%3",
    )
    _agent(
        c,
        "worker-4",
        "paused",
        beat=NOW - 120,
        since=NOW - 300,
        line="",
        reason="paused after 3 consecutive failures",
        pane="%4",
    )
    _event(
        c,
        T0 + 10,
        "task.claimed",
        "fetch attempt 1 claimed by worker-1",
        task="fetch",
        agent="worker-1",
    )
    _event(
        c,
        T0 + 14,
        "task.done",
        "fetch attempt 1 ok: exit 0 -> done",
        task="fetch",
        agent="worker-1",
    )
    _event(
        c,
        T0 + 21,
        "task.ready",
        "flaky-download attempt 1 failed: exit 3 -> ready, retry in 2.0s",
        task="flaky-download",
    )
    _event(
        c,
        T0 + 51,
        "task.failed",
        "db-migrate attempt 2 failed: exit 2 -> failed",
        task="db-migrate",
    )
    _event(
        c,
        T0 + 70,
        "task.blocked",
        "mirror-sync attempt 1 stalled: exit 143 -> blocked",
        task="mirror-sync",
    )
    _event(
        c,
        NOW - 95,
        "agent.busy",
        "worker-2: idle -> busy (running build (attempt 1))",
        agent="worker-2",
    )
    if waiting:
        _event(
            c,
            NOW - 40,
            "agent.waiting",
            f"worker-2: busy -> waiting (waiting at prompt: {PROMPT})",
            agent="worker-2",
        )
    if stalled:
        _event(
            c,
            NOW - 15,
            "agent.stalled",
            "worker-3: busy -> stalled (stalled: no output for 75s)",
            agent="worker-3",
        )


def _tokens(c) -> None:
    """Two of the workers are AI CLIs that told their tokens and cost (one model unpriced)."""
    told = {
        "worker-1": ("claude", Usage(123_456, 7_890, 100_000, 0.42, "claude-sonnet-4-5")),
        "worker-2": ("codex", Usage(40_500, 45, 0, None, "mock-model")),
    }
    for name, (kind, usage) in told.items():
        c.execute("UPDATE agents SET kind=?, usage=? WHERE name=?", (kind, usage_json(usage), name))
    attempts = {
        ("fetch", 1): Usage(22_263, 18, 0, 0.12, "claude-sonnet-4-5"),
        ("flaky-download", 1): Usage(2_000, 300, 0, None, "mock-model"),
        ("flaky-download", 2): Usage(1_500, 120, 1_000, 0.01, "gpt-5"),
    }
    for (task, number), usage in attempts.items():
        c.execute(
            "UPDATE attempts SET usage=? WHERE task_id=? AND number=?",
            (usage_json(usage), task, number),
        )


def make_app(
    root: Path,
    scenario: str = "busy",
    *,
    theme: str | None = None,
    live: bool = False,
    alive: bool = True,
    user: UserConfig | None = None,
    died: bool = False,
) -> OverseerApp:
    """A dashboard on a fixture store: fixed clock, fixed CPU/RSS, canned pane screen.

    alive=False: the supervisor stopped cleanly (its heartbeat cleared); died=True: it is
    not running and never stopped (killed or crashed), having logged DEATH_LOG.
    """
    state_dir = build(root, scenario)
    if not alive and not died:
        store = Store(state_dir / "state.db")
        store.supervisor_stopped(4242)
        store.close()
    if died:
        log = state_dir / "supervisor.log"
        log.write_text("\n".join(DEATH_LOG) + "\n")
        os.utime(log, (NOW, NOW))
    return OverseerApp(
        config(root),
        state_dir,
        theme=theme,
        clock=lambda: NOW,
        usage=lambda pid: (3.0, 12 * 1024 * 1024),
        live=live,
        screen_source=lambda agent, pane: SCREEN if pane else None,
        supervisor_alive=lambda: alive and not died,
        user=user,
    )


DEATH_LOG = [
    "overseer: the supervisor stopped: cannot write to the store: database or disk is full.",
    "overseer: overseer run crashed (OSError: [Errno 28] No space left on device); "
    "the traceback is in /srv/fleet/.overseer/logs/crash-20270115-083000-4242.log",
]


async def shows_a_write_without_polling(
    app: Any, write: Callable[[], None], empty_first: bool = False
) -> None:
    """Open the live dashboard, check nothing is read while nothing changes, then `write` a
    task `brand-new` and wait for it in the queue (the caller has turned polling off)."""
    from overseer.tui.screens.main import MainScreen
    from overseer.tui.widgets.tables import QueueTable

    async with app.run_test(size=(160, 45)) as pilot:
        queue = app.screen.query_one(QueueTable)
        for _ in range(100):
            if app.snapshots:
                break
            await pilot.pause(0.05)
        shown = app.snapshots
        await pilot.pause(0.3)
        assert app.snapshots == shown  # nothing changed: nothing read, nothing shown
        if empty_first:
            assert queue.rows_by_key == {}
        write()
        for _ in range(100):
            if "brand-new" in queue.rows_by_key:
                break
            await pilot.pause(0.05)
        assert "brand-new" in queue.rows_by_key
        screen = app.screen
        assert isinstance(screen, MainScreen)
        screen.stop.set()
        screen.wake.set()
