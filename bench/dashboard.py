"""Item 7: the dashboard (`tui.app.OverseerApp`) headless with Pilot, on a store of 200 agents
and 10,000 tasks: store change -> repaint, and key press -> repaint.

"Repaint" is the first frame Textual composes (`App._display` with an update) in which the
changed widget already holds the new content; Pilot's headless driver then drops the bytes,
so writing them to a real terminal is not included. A store change is one committed
transaction that rewrites an agent's last output line (what the supervisor's sweep does);
the dashboard notices it through its own polling of the store. Skipped, with a row saying
so, while `tui.app` does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import Goal, Result, Row, Scale, summary
from overseer.agents.supervisor import REST_SWEEP
from overseer.state.backend import is_url
from overseer.state.config import load_config_text
from overseer.state.store import open_store

SIZE = (160, 45)
WAIT_S = 10.0  # a change not on screen by then counts as WAIT_S
REST_S = 600.0  # an idle fleet's agents have rested at least this long
STATES = ("done", "done", "done", "ready", "ready", "pending", "failed", "blocked")


@dataclass(frozen=True)
class Fleet:
    """Several hosts sharing one PostgreSQL store, as the dashboard of issue 14 sees them."""

    url: str
    hosts: tuple[str, ...]


def available() -> str | None:
    """Why the dashboard cannot be measured, or None when it can."""
    if importlib.util.find_spec("overseer.tui.app") is None:
        return "overseer.tui.app does not exist yet"
    try:
        module = importlib.import_module("overseer.tui.app")
    except Exception as exc:  # a dashboard being written may not import yet
        return f"overseer.tui.app does not import: {exc}"
    if not hasattr(module, "OverseerApp"):
        return "overseer.tui.app has no OverseerApp"
    return None


def build_store(
    location: Path | str,
    agents: list[str],
    n_tasks: int,
    busy: bool = True,
    hosts: Sequence[str] = (),
) -> None:
    """A store with `agents` (most of them busy, or all idle for REST_S or more) and n_tasks
    tasks in every state (none running, and none finished in the last REST_S, when idle);
    `hosts`: rows of beating supervisors (a shared store). One transaction (a URL: a fresh
    PostgreSQL database, made and analysed here)."""
    rng = random.Random(7)
    now = time.time()
    store = open_store(location, init=True)
    try:
        with store.tx() as c:
            c.execute(
                "INSERT INTO supervisor(id, pid, host, started_at, heartbeat_at) "
                "VALUES (1, 1, 'bench', ?, ?)",
                (now - 3600, now),
            )
            c.executemany(
                "INSERT INTO hosts(name, pid, started_at, heartbeat_at, tmux_label) "
                "VALUES (?,?,?,?,?)",
                [(h, 1000 + i, now - 3600, now, f"overseer-{h}") for i, h in enumerate(hosts)],
            )
            working = agents[: len(agents) * 3 // 4] if busy else []
            busy_on = {name: f"task-{i:05d}" for i, name in enumerate(working)}
            running = {task: name for name, task in busy_on.items()}
            tasks, attempts = [], []
            for i in range(n_tasks):
                tid = f"task-{i:05d}"
                state = "running" if tid in running else rng.choice(STATES)
                deps = json.dumps([f"task-{i - 1:05d}"] if state == "pending" and i else [])
                agent = running.get(tid)
                # At rest for REST_S: the last task ended before that (no recent throughput).
                low, high = (5.0, 3000.0) if busy else (REST_S + 60, 3600.0)
                started = now - rng.uniform(low, high) if state != "ready" else None
                finished = started + rng.uniform(1, 60) if started and state != "running" else None
                code = {"done": 0, "failed": 2, "blocked": 143}.get(state)
                tasks.append(
                    (
                        tid,
                        i + 1,
                        f"make shard {i}",
                        deps,
                        0,
                        3,
                        state,
                        1 if started else 0,
                        agent,
                        now + 30 if agent else None,
                        code,
                        started,
                        finished,
                        now,
                        now,
                    )
                )
                if started:
                    outcome = {"done": "ok", "running": "running"}.get(state, "failed")
                    attempts.append(
                        (
                            tid,
                            1,
                            agent or rng.choice(agents),
                            started,
                            finished,
                            outcome,
                            code,
                            "building shard\nok",
                        )
                    )
            c.executemany(
                "INSERT INTO tasks(id, seq, command, depends_on, priority, max_attempts, state, "
                "attempts, claimed_by, lease_expires_at, exit_code, started_at, finished_at, "
                "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                tasks,
            )
            c.executemany(
                "INSERT INTO attempts(task_id, number, agent, started_at, finished_at, outcome, "
                "exit_code, output_tail) VALUES (?,?,?,?,?,?,?,?)",
                attempts,
            )
            c.executemany(
                "INSERT INTO agents(name, kind, state, task_id, pane_id, pid, last_output_at, "
                "heartbeat_at, state_since, last_line) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        name,
                        "shell",
                        "busy" if name in busy_on else "idle",
                        busy_on.get(name),
                        f"%{i + 1}",
                        None,
                        now,
                        now,
                        now - 60 if busy else now - rng.uniform(REST_S, REST_S + 600),
                        f"step {i} of the build",
                    )
                    for i, name in enumerate(agents)
                ],
            )
            c.executemany(
                "INSERT INTO events(ts, kind, task_id, agent, message) VALUES (?,?,?,?,?)",
                [
                    (
                        now - 500 + i,
                        "task.done",
                        f"task-{i:05d}",
                        agents[i % len(agents)],
                        f"task-{i:05d} attempt 1 ok: exit 0 -> done",
                    )
                    for i in range(300)
                ],
            )
        if is_url(location):
            store.conn.execute(
                "VACUUM ANALYZE"
            )  # the planner knows the tables, as autovacuum would
    finally:
        store.close()


def make_app(
    root: Path, n_agents: int, n_tasks: int, busy: bool = True, fleet: Fleet | None = None
) -> tuple[Any, list[str]]:
    """The dashboard on a freshly built store (canned pane screens, no tmux): SQLite in the
    state dir, or `fleet`'s PostgreSQL database (its hosts' agents: "host/name")."""
    module = importlib.import_module("overseer.tui.app")
    name = "w" if fleet else "worker"
    config = load_config_text(
        f"name: bench\nagents:\n  - {{name: {name}, kind: shell, count: {n_agents}}}\n",
        path=str(root / "overseer.yaml"),
        base_dir=root,
    )
    agents = [name for name, _ in config.agent_instances()]
    state_dir = root / ".overseer"
    if fleet is None:
        build_store(state_dir / "state.db", agents, n_tasks, busy)
    else:
        agents = [f"{h}/{a}" for h in fleet.hosts for a in agents]
        build_store(fleet.url, agents, n_tasks, busy, fleet.hosts)
    cls = module.OverseerApp
    wanted: dict[str, Any] = {
        "usage": lambda pid: (1.0, 10 * 1024 * 1024),
        "live": True,
        "screen_source": lambda agent, pane: f"{agent}$ make shard\nbuilding...\n",
        "supervisor_alive": lambda: True,
    }
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in wanted.items() if k in params}
    return cls(config, state_dir, **kwargs), agents


class FrameClock:
    """Timestamps the first composed frame in which a condition holds."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pending: list[tuple[Callable[[], bool], list[float]]] = []
        self.frames = 0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or int(getattr(app, "_batch_count", 0)):
                return
            self.frames += 1
            now = time.perf_counter()
            for item in list(self.pending):
                if item[0]():
                    item[1].append(now)
                    self.pending.remove(item)

        app._display = display

    def expect(self, predicate: Callable[[], bool]) -> list[float]:
        """Start waiting for a frame where predicate() is true; the list gets its time."""
        out: list[float] = []
        self.pending.append((predicate, out))
        return out


def progress(line: str) -> None:
    """One line on stderr: a long run shows where it is."""
    print(f"bench: dashboard: {line}", file=sys.stderr, flush=True)


def cursor_at(table: Any, row: int) -> bool:
    """Whether the table's cursor is on `row`."""
    return bool(table.cursor_row == row)


def sort_moved(table: Any, before: object) -> bool:
    """Whether the table's sort order is no longer `before`."""
    return getattr(table, "sort_index", None) != before


async def wait(pilot: Any, box: list[float], timeout: float) -> float | None:
    """Let the app run until box has a time (or the timeout passes)."""
    deadline = time.perf_counter() + timeout
    while not box and time.perf_counter() < deadline:
        await pilot.pause(0.002)
    return box[0] if box else None


async def measure(
    scale: Scale,
    root: Path,
    fleet: Fleet | None = None,
    n_agents: int | None = None,
    n_tasks: int | None = None,
    period: float = 1.0,
) -> dict[str, Any]:
    """Run the app under Pilot and take both kinds of samples (on `fleet`'s PostgreSQL
    store: n_agents per host, every host's supervisor writing its sweep each `period` s)."""
    tables = importlib.import_module("overseer.tui.widgets.tables")
    n_agents = n_agents or scale.dash_agents
    n_tasks = n_tasks or scale.dash_tasks
    t0 = time.perf_counter()
    app, agents = make_app(root, n_agents, n_tasks, fleet=fleet)
    built_s = time.perf_counter() - t0
    location: Path | str = fleet.url if fleet else root / ".overseer" / "state.db"
    writer = None
    if fleet is not None:
        writer = RestingSupervisor(location, split_by_host(agents), period)
        writer.thread.start()
    try:
        out = await _measure(scale, app, agents, location, n_tasks, tables)
    finally:
        if writer is not None:
            writer.stop.set()
            writer.thread.join()
    out.update({"agents": len(agents), "tasks": n_tasks, "build_s": round(built_s, 1)})
    if fleet is not None:
        out.update({"hosts": len(fleet.hosts), "beats_per_s": round(len(fleet.hosts) / period, 1)})
    return out


def split_by_host(agents: list[str]) -> dict[str, list[str]]:
    """Agents ("host/name") by host."""
    out: dict[str, list[str]] = {}
    for name in agents:
        out.setdefault(name.partition("/")[0], []).append(name)
    return out


async def _measure(
    scale: Scale, app: Any, agents: list[str], location: Path | str, n_tasks: int, tables: Any
) -> dict[str, Any]:
    """The samples: first full frame, store change -> repaint, key -> repaint."""
    first = agents[0]
    rng = random.Random(3)
    store_ms: list[float] = []
    key_ms: list[float] = []
    sort_ms: list[float] = []
    misses = 0
    t_start = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        clock = FrameClock(app)
        agent_table = app.screen.query_one(tables.AgentTable)
        queue = app.screen.query_one(tables.QueueTable)
        loaded = clock.expect(lambda: queue.row_count >= n_tasks)
        if await wait(pilot, loaded, 600.0) is None:
            raise RuntimeError("the dashboard did not show the tasks within 600 s")
        first_frame_s = loaded[0] - t_start
        progress(f"first full frame after {first_frame_s:.1f} s")
        store = open_store(location)
        try:
            for i in range(scale.dash_samples):
                await pilot.pause(rng.uniform(0.3, 0.7))
                marker = f"bench mark {i}"

                def shows(m: str = marker) -> bool:
                    cells = agent_table.cells.get(first)
                    return bool(cells) and m in str(cells[-1])

                box = clock.expect(shows)
                store.update_agent(first, last_line=marker, heartbeat_at=time.time())
                t0 = time.perf_counter()
                seen = await wait(pilot, box, WAIT_S)
                if seen is None:  # counted as the whole wait: a lower bound, never dropped
                    misses += 1
                    clock.pending.clear()
                store_ms.append(((seen or time.perf_counter()) - t0) * 1000.0)
                progress(f"store change {i + 1}/{scale.dash_samples}: {store_ms[-1]:.0f} ms")
        finally:
            store.close()
        queue.focus()
        await pilot.pause(0.2)
        for _ in range(scale.dash_samples):
            await pilot.pause(rng.uniform(0.15, 0.3))
            row = queue.cursor_row
            key = "down" if row < 20 else "up"
            want = row + 1 if key == "down" else row - 1
            box = clock.expect(partial(cursor_at, queue, want))
            t0 = time.perf_counter()
            await pilot.press(key)
            seen = await wait(pilot, box, WAIT_S)
            if seen is None:
                misses += 1
                clock.pending.clear()
            key_ms.append(((seen or time.perf_counter()) - t0) * 1000.0)
        for _ in range(max(2, scale.dash_samples // 5)):
            await pilot.pause(0.3)
            box = clock.expect(partial(sort_moved, queue, getattr(queue, "sort_index", None)))
            t0 = time.perf_counter()
            await pilot.press("s")
            seen = await wait(pilot, box, 10.0)
            if seen is not None:
                sort_ms.append((seen - t0) * 1000.0)
        frames = clock.frames
    return {
        "size": list(SIZE),
        "first_full_frame_s": round(first_frame_s, 2),
        "store_change_ms": summary(store_ms, 1),
        "key_down_ms": summary(key_ms, 1),
        "key_sort_ms": summary(sort_ms, 1),
        "not_seen": misses,
        "frames": frames,
    }


IDLE_AGENTS, IDLE_TASKS = 50, 500


class RestingSupervisor:
    """Writes what each host's supervisor writes at each sweep (every `period` seconds, the
    hosts spread evenly over it: its agents' heartbeats in one transaction, then its own
    beat); counts its own CPU time, which the figure leaves out."""

    def __init__(self, db: Path | str, agents: dict[str, list[str]], period: float) -> None:
        self.db, self.agents, self.period = db, agents, period
        self.stop = threading.Event()
        self.cpu = 0.0  # this thread's CPU seconds spent writing
        self.thread = threading.Thread(target=self.run, name="resting-supervisor", daemon=True)

    def run(self) -> None:
        store = open_store(self.db)
        hosts = list(self.agents.items())
        slot = self.period / len(hosts)
        try:
            for i in range(1 << 62):
                if self.stop.wait(slot - time.time() % slot):
                    break
                host, agents = hosts[i % len(hosts)]
                c0 = time.thread_time()
                now = time.time()
                with store.tx() as c:
                    store.heartbeats_in(c, [(now, name) for name in agents])
                store.supervisor_beat(1, host, now - 3600, now)
                self.cpu += time.thread_time() - c0
        finally:
            store.close()


async def measure_idle(
    scale: Scale, root: Path, resting: bool = True, period: float = REST_SWEEP
) -> dict[str, Any]:
    """CPU of this process (every thread: the app's workers too) while the dashboard shows
    50 agents, over one window. Resting: idle agents, no task running, and a supervisor
    writing heartbeats every `period` s (its sweep at rest: REST_SWEEP). Otherwise (ticking):
    37 running tasks whose clocks move and 50 heartbeats nobody writes, so their ages count
    up."""
    tables = importlib.import_module("overseer.tui.widgets.tables")
    app, agents = make_app(root, IDLE_AGENTS, IDLE_TASKS, busy=not resting)
    db = root / ".overseer" / "state.db"
    writer = RestingSupervisor(db, {"bench": agents}, period) if resting else None
    if writer is not None:
        writer.thread.start()
    try:
        async with app.run_test(size=SIZE) as pilot:
            clock = FrameClock(app)
            queue = app.screen.query_one(tables.QueueTable)
            loaded = clock.expect(lambda: queue.row_count >= IDLE_TASKS)
            if await wait(pilot, loaded, 120.0) is None:
                raise RuntimeError("the dashboard did not show the tasks within 120 s")
            await pilot.pause(2.0)  # settled: first reads and samples done
            frames, c0, t0 = clock.frames, time.process_time(), time.monotonic()
            w0 = writer.cpu if writer else 0.0
            await pilot.pause(scale.window)
            used, wall = time.process_time() - c0, time.monotonic() - t0
            used -= (writer.cpu - w0) if writer else 0.0
            frames = clock.frames - frames
    finally:
        if writer is not None:
            writer.stop.set()
            writer.thread.join()
    return {
        "agents": IDLE_AGENTS,
        "tasks": IDLE_TASKS,
        "window_s": round(wall, 2),
        "cpu_pct": round(100.0 * used / wall, 2),
        "frames": frames,
    }


def measure_ticking(scale: Scale, root: Path) -> Any:
    """measure_idle on the ticking store."""
    return measure_idle(scale, root, resting=False)


def run(scale: Scale, tmp: Path) -> Result:
    """Item 7, or a SKIP row while the dashboard is missing."""
    why = available()
    if why is not None:
        return Result(
            rows=[Row("7", "dashboard: not available yet", None, "", status="SKIP", note=why)],
            details={"skipped": why},
        )
    tmp.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(AttributeError):
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    d = asyncio.run(measure(scale, tmp))
    (tmp / "idle").mkdir()
    idle = asyncio.run(measure_idle(scale, tmp / "idle"))
    (tmp / "beating").mkdir()
    beating = asyncio.run(measure_idle(scale, tmp / "beating", period=1.0))
    (tmp / "ticking").mkdir()
    ticking = asyncio.run(measure_ticking(scale, tmp / "ticking"))
    res = Result(details={**d, "idle": idle, "beating": beating, "ticking": ticking})
    sizes = f"{d['agents']} agents, {d['tasks']:,} tasks"
    st, key, srt = d["store_change_ms"], d["key_down_ms"], d["key_sort_ms"]
    res.rows.append(
        Row(
            "7",
            "dashboard: store change -> repaint p95",
            st.get("p95"),
            "ms",
            Goal("<=", 250.0),
            f"median {st.get('median')} ms, n={st.get('n')}, unseen {d['not_seen']}; {sizes}",
        )
    )
    res.rows.append(
        Row(
            "7",
            "dashboard: key (cursor down) -> repaint p95",
            key.get("p95"),
            "ms",
            Goal("<=", 50.0),
            f"median {key.get('median')} ms, n={key.get('n')}; {sizes}",
        )
    )
    res.rows.append(
        Row(
            "7",
            f"dashboard: key (sort {d['tasks']:,} rows) -> repaint p95",
            srt.get("p95"),
            "ms",
            note=f"median {srt.get('median')} ms, n={srt.get('n')}; "
            f"first full frame after {d['first_full_frame_s']} s",
        )
    )
    res.rows.append(
        Row(
            "7",
            f"dashboard open, nothing changes: CPU ({IDLE_AGENTS} idle agents)",
            idle["cpu_pct"],
            "% core",
            Goal("<=", 1.0),
            f"headless (Pilot); agents at rest 10+ min, no task runs, a supervisor's writes "
            f"every {REST_SWEEP:g} s as at rest (every heartbeat, its beat); {idle['frames']} "
            f"frames in {idle['window_s']} s",
        )
    )
    res.rows.append(
        Row(
            "7",
            f"dashboard open, heartbeats each second: CPU ({IDLE_AGENTS} idle agents)",
            beating["cpu_pct"],
            "% core",
            note=f"as above, with the supervisor's writes each second (a fleet not at rest); "
            f"{beating['frames']} frames in {beating['window_s']} s",
        )
    )
    res.rows.append(
        Row(
            "7",
            f"dashboard open, clocks ticking: CPU ({IDLE_AGENTS} agents)",
            ticking["cpu_pct"],
            "% core",
            note=f"no writes; 37 running tasks' times and leases and 50 unwritten heartbeats "
            f"age each second; {ticking['frames']} frames in {ticking['window_s']} s",
        )
    )
    return res
