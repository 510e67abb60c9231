"""Shared pieces of the benchmarks: scales, statistics, result rows, fleets and CPU meters."""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from overseer.agents.tmux import TmuxServer, server_label
from overseer.state.store import Store

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")

# A timestamped marker a workload prints into a pane: OVB|<id>|<unix time>|
MARK_RE = re.compile(rb"OVB\|([A-Za-z0-9_.:-]{1,64})\|(\d{9,11}\.\d{1,9})\|")


class BenchError(Exception):
    """A benchmark could not run to the end (the message says where it stopped)."""


# -- scales -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How big and how long every benchmark runs."""

    name: str
    exit_agents: tuple[int, ...]
    exit_samples: int  # finished tasks measured per agent count (at least)
    exit_rounds: int  # tasks per agent (at least)
    obs_panes: int  # panes in the observer comparison
    window: float  # seconds of each CPU / latency window
    idle_agents: tuple[int, ...]
    flood_agents: int
    flood_rate: int  # lines per second per agent
    compare_idle: bool  # also compare observers' CPU on the largest idle fleet
    stall_agents: int  # half silent, half slow but live
    stall_timeout: float
    stall_rounds: int  # tasks per agent
    claims_single: int
    claims_procs: int
    claims_multi: int
    scale_agents: tuple[int, ...]
    scale_tasks: Mapping[int, int]
    task_seconds: float
    dash_agents: int
    dash_tasks: int
    dash_samples: int
    # The dashboard on a shared PostgreSQL store (issue 14): hosts x agents each, tasks.
    pgdash_hosts: int
    pgdash_agents: int
    pgdash_tasks: int


SCALES: dict[str, Scale] = {
    "quick": Scale(
        name="quick",
        exit_agents=(1, 20, 50),
        exit_samples=40,
        exit_rounds=2,
        obs_panes=50,
        window=4.0,
        idle_agents=(10, 50, 200),
        flood_agents=50,
        flood_rate=100,
        compare_idle=False,
        stall_agents=10,
        stall_timeout=2.0,
        stall_rounds=1,
        claims_single=3000,
        claims_procs=8,
        claims_multi=10000,
        scale_agents=(8,),
        scale_tasks={8: 64},
        task_seconds=0.5,
        dash_agents=200,
        dash_tasks=10000,
        dash_samples=6,
        pgdash_hosts=10,
        pgdash_agents=50,
        pgdash_tasks=20000,
    ),
    "full": Scale(
        name="full",
        exit_agents=(1, 20, 50),
        exit_samples=200,
        exit_rounds=5,
        obs_panes=50,
        window=20.0,
        idle_agents=(10, 50, 200),
        flood_agents=50,
        flood_rate=100,
        compare_idle=True,
        stall_agents=20,
        stall_timeout=3.0,
        stall_rounds=2,
        claims_single=10000,
        claims_procs=8,
        claims_multi=10000,
        scale_agents=(1, 2, 4, 8),
        scale_tasks={1: 64, 2: 64, 4: 64, 8: 64},
        task_seconds=0.5,
        dash_agents=200,
        dash_tasks=10000,
        dash_samples=30,
        pgdash_hosts=10,
        pgdash_agents=50,
        pgdash_tasks=100000,
    ),
    # For the smoke test: the cheapest code paths with tiny sizes; figures mean nothing.
    "smoke": Scale(
        name="smoke",
        exit_agents=(1,),
        exit_samples=2,
        exit_rounds=1,
        obs_panes=2,
        window=0.5,
        idle_agents=(2,),
        flood_agents=2,
        flood_rate=10,
        compare_idle=False,
        stall_agents=2,
        stall_timeout=1.0,
        stall_rounds=1,
        claims_single=50,
        claims_procs=2,
        claims_multi=100,
        scale_agents=(1,),
        scale_tasks={1: 2},
        task_seconds=0.1,
        dash_agents=5,
        dash_tasks=20,
        dash_samples=2,
        pgdash_hosts=2,
        pgdash_agents=2,
        pgdash_tasks=50,
    ),
}


# -- statistics -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float | int]:
    """n, median, p95, max and mean of some measurements (rounded)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "max": round(max(values), digits),
        "mean": round(sum(values) / len(values), digits),
    }


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A target a figure must meet, e.g. Goal("<=", 50)."""

    op: str  # "<=" or ">="
    target: float

    def met(self, value: float) -> bool:
        """Whether value meets the goal."""
        return value <= self.target if self.op == "<=" else value >= self.target

    def __str__(self) -> str:
        return f"{self.op} {self.target:g}"


@dataclass
class Row:
    """One line of the results table: a figure, its unit, its goal and the verdict."""

    item: str
    name: str
    value: float | None
    unit: str
    goal: Goal | None = None
    note: str = ""
    status: str = ""

    def __post_init__(self) -> None:
        if self.status:
            return
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            self.status = "MISS" if self.goal else "INFO"
        elif self.goal is None:
            self.status = "INFO"
        else:
            self.status = "PASS" if self.goal.met(self.value) else "MISS"

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON object."""
        return {
            "item": self.item,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "goal": None if self.goal is None else {"op": self.goal.op, "target": self.goal.target},
            "status": self.status,
            "note": self.note,
        }


@dataclass
class Result:
    """What one benchmark produced: table rows and raw details for the JSON file."""

    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# -- waiting and clean-up ---------------------------------------------------------------


def wait_for(predicate: Callable[[], T], timeout: float, message: str, interval: float = 0.05) -> T:
    """Poll predicate until it is truthy and return it; raise BenchError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BenchError(f"{message} (after {timeout:g} s)")
        time.sleep(interval)


class Cleanup:
    """Processes and tmux servers this run started, ended at exit if a benchmark did not."""

    def __init__(self) -> None:
        self.labels: set[str] = set()
        self.procs: list[subprocess.Popen[Any]] = []
        atexit.register(self.run)

    def run(self) -> None:
        """End every process and tmux server still registered."""
        for proc in self.procs:
            stop_process(proc)
        self.procs.clear()
        for label in sorted(self.labels):
            with contextlib.suppress(Exception):
                TmuxServer(label).kill_server()
        self.labels.clear()


CLEANUP = Cleanup()


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20.0) -> int | None:
    """SIGTERM a process we started (then SIGKILL) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def child_env() -> dict[str, str]:
    """The environment of processes the bench starts: the repo importable, no outer tmux."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# -- CPU --------------------------------------------------------------------------------


def cpu_seconds(pid: int, reaped_children: bool) -> float | None:
    """User+system CPU seconds of pid (plus its reaped children when asked), or None if gone."""
    try:
        t = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    total = t.user + t.system
    if reaped_children:
        total += t.children_user + t.children_system
    return total


PidSource = Callable[[], Iterable[tuple[int, bool]]]


class CpuWindow:
    """CPU used by named groups of processes between start() and stop(), in % of one core.

    Each group is a callable listing (pid, count_reaped_children) pairs; it is asked again at
    the end, so processes that appear during the window count in full.
    """

    def __init__(self, groups: Mapping[str, PidSource]) -> None:
        self.groups = dict(groups)
        self.t0 = 0.0
        self.before: dict[str, dict[int, float]] = {}

    def _snap(self) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for name, source in self.groups.items():
            seen: dict[int, float] = {}
            for pid, kids in source():
                secs = cpu_seconds(pid, kids)
                if secs is not None:
                    seen[pid] = secs
            out[name] = seen
        return out

    def start(self) -> None:
        """Take the first reading."""
        self.before = self._snap()
        self.t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Percent of one core per group and in total over the window."""
        after = self._snap()
        wall = max(1e-6, time.monotonic() - self.t0)
        out: dict[str, float] = {}
        for name, now in after.items():
            old = self.before.get(name, {})
            used = sum(max(0.0, secs - old.get(pid, 0.0)) for pid, secs in now.items())
            out[name] = round(100.0 * used / wall, 2)
        out["total"] = round(sum(out.values()), 2)
        out["window_s"] = round(wall, 2)
        return out


def pipe_helpers(server_pid: int | None) -> list[tuple[int, bool]]:
    """The pipe-pane processes (`sh -c cat >> log` and its cat) under a tmux server."""
    if not server_pid:
        return []
    try:
        kids = psutil.Process(server_pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
    out = []
    for k in kids:
        try:
            cmd = " ".join(k.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if cmd == "cat" or cmd.startswith(("cat ", "sh -c cat >>", "/bin/sh -c cat >>")):
            out.append((k.pid, False))
    return out


# -- workloads --------------------------------------------------------------------------


def writer_command(ident: str, rate: float, duration: float, **opts: float) -> str:
    """The shell line that runs bench/writer.py in a pane (a marker workload)."""
    args = [sys.executable, str(REPO / "bench" / "writer.py"), ident, f"{rate:g}", f"{duration:g}"]
    args += [f"--{k}={v:g}" for k, v in opts.items()]
    return " ".join(args)


def parse_markers(data: bytes) -> list[tuple[str, float]]:
    """(id, written-at) of every marker in some output."""
    return [(m.group(1).decode(), float(m.group(2))) for m in MARK_RE.finditer(data)]


# -- a fleet ----------------------------------------------------------------------------


class Fleet:
    """A throwaway project: shell agents on a private tmux server, a supervisor subprocess.

    The supervisor runs as `python -m bench.supervise`, which is `Supervisor.run()` (what
    `overseer run -q` runs) plus a light probe that timestamps what the loop reads and records.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        agents: int,
        tasks: Sequence[Mapping[str, object]] = (),
        agent: Mapping[str, object] | None = None,
        *,
        steps: bool = False,
        cprofile: Path | None = None,
        **top: object,
    ) -> None:
        """`steps`: follow each exit step by step (bench.supervise --steps, into
        `steps_dir`); `cprofile`: run the supervisor under cProfile, pstats written there."""
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.steps_dir = root / "wstamps" if steps else None
        self.cprofile = cprofile
        self.name = name
        self.agents = agents
        self.state_dir = root / ".overseer"
        self.config_path = root / "overseer.yaml"
        self.probe_path = root / "probe.json"
        self.log_path = root / "supervisor.out"
        header: dict[str, object] = {
            "name": name,
            "max_parallel": max(1, agents),
            "stall_timeout": 300,
            "pause_after": 0,
        }
        header.update(top)
        doc = {
            **header,
            # Shell agents unless `agent` says otherwise (kind, command, env, cwd).
            "agents": [{"name": "a", "kind": "shell", **(agent or {}), "count": agents}],
            "tasks": [dict(t) for t in tasks],
        }
        # JSON is YAML: the config loader reads it as it is.
        self.config_path.write_text(json.dumps(doc, indent=1))
        self.label = server_label(name, self.state_dir)
        self.proc: subprocess.Popen[bytes] | None = None
        self._store: Store | None = None
        self.probe: dict[str, Any] = {}
        CLEANUP.labels.add(self.label)

    @property
    def names(self) -> list[str]:
        """Agent names, as the config expands them."""
        return ["a"] if self.agents == 1 else [f"a-{i}" for i in range(1, self.agents + 1)]

    @property
    def store(self) -> Store:
        """A read connection to the fleet's store (exists once the supervisor started)."""
        if self._store is None:
            self._store = Store(self.state_dir / "state.db")
        return self._store

    @property
    def tmux(self) -> TmuxServer:
        """The fleet's private tmux server."""
        return TmuxServer(self.label)

    def start(self, timeout: float = 120.0) -> None:
        """Start the supervisor and wait until every agent has left `starting`."""
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.supervise",
                    "--config",
                    str(self.config_path),
                    "--state-dir",
                    str(self.state_dir),
                    "--probe",
                    str(self.probe_path),
                    *(["--steps", str(self.steps_dir)] if self.steps_dir else []),
                    *(["--cprofile", str(self.cprofile)] if self.cprofile else []),
                ],
                cwd=REPO,
                env=child_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        CLEANUP.procs.append(self.proc)
        db = self.state_dir / "state.db"
        wait_for(
            lambda: self._exited() or (db.exists() and self.store.supervisor().heartbeat_at),
            timeout,
            f"{self.name}: supervisor did not start",
        )
        self._check_alive()
        wait_for(
            lambda: self._exited() or self.count_up() == self.agents,
            timeout,
            f"{self.name}: agents did not come up",
            interval=0.2,
        )
        self._check_alive()

    def _exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def _check_alive(self) -> None:
        if self._exited():
            text = self.log_path.read_text(errors="replace")[-2000:]
            raise BenchError(f"{self.name}: supervisor exited early:\n{text}")

    def count_agents(self, state: str) -> int:
        """How many agents are in a state (as the store says)."""
        row = self.store.conn.execute(
            "SELECT COUNT(*) FROM agents WHERE state=?", (state,)
        ).fetchone()
        return int(row[0])

    def count_up(self) -> int:
        """How many agents have left `starting` (idle, busy, ...)."""
        row = self.store.conn.execute(
            "SELECT COUNT(*) FROM agents WHERE state!='starting'"
        ).fetchone()
        return int(row[0])

    def count_tasks(self, *states: str) -> int:
        """How many tasks are in any of some states."""
        marks = ",".join("?" * len(states))
        row = self.store.conn.execute(
            f"SELECT COUNT(*) FROM tasks WHERE state IN ({marks})", states
        ).fetchone()
        return int(row[0])

    def add_tasks(self, tasks: Sequence[Mapping[str, object]]) -> None:
        """Queue tasks through the operator-command table (what `overseer add` does)."""
        payload = [
            {"id": t["id"], "command": t["run"], "max_attempts": 1, "env": {}, "depends_on": []}
            for t in tasks
        ]
        ids = ",".join(str(t["id"]) for t in tasks)
        self.store.enqueue_command("add", ids[:200], {"tasks": payload})

    @property
    def supervisor_pid(self) -> int | None:
        """The supervisor process id while it runs."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def server_pid(self) -> int | None:
        """The tmux server's pid."""
        return self.tmux.server_pid()

    def stop(self) -> dict[str, Any]:
        """Stop the supervisor (agents keep running) and return its probe's records."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
            with contextlib.suppress(OSError, ValueError):
                self.probe = json.loads(self.probe_path.read_text())
        return self.probe

    def close_pipes(self) -> None:
        """Close every pane's pipe-pane (for observers that do not use the logs)."""
        tmux = self.tmux
        for pane in tmux.list_panes():
            tmux.run("pipe-pane", "-t", pane.pane_id, check=False)

    def close(self) -> None:
        """Stop the supervisor, end the tmux server (only this one) and close the store."""
        self.stop()
        with contextlib.suppress(Exception):
            self.tmux.kill_server()
        CLEANUP.labels.discard(self.label)
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        tmux = subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()
    except OSError:
        tmux = "missing"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "tmux": tmux,
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def with_pg_database(name: str, measure: Callable[[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """Run `measure(url, server)` on a database `name` of a throwaway PostgreSQL server
    (tests/pgserver.py), stopped after; {"error": why} when none can run here."""
    try:
        from tests.pgserver import PgServer, PgUnavailable
    except ImportError as exc:  # psycopg or psutil missing
        return {"error": str(exc)}
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        return {"error": str(exc)}
    try:
        server.create_database(name)
        return measure(server.url(name), server)
    finally:
        server.stop()
