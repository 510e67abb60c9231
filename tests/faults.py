"""Fault scenarios shared by the test suite (short runs) and `python -m bench.faults` (long runs).

Each scenario drives a real project (tests.project.Project: its own state dir and private
tmux server), breaks something on purpose, lets Overseer finish the work, then checks what
the user cares about and returns the figures. `violations` lists every broken promise; the
tests assert it is empty and the benchmark prints it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from overseer.agents.runner import attempt_paths, read_pid
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.paths import StatePaths
from tests.helpers import wait_until
from tests.project import Project

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Figures:
    """What a scenario measured, and every promise it saw broken."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def check(self, ok: bool, message: str) -> None:
        """Record a broken promise when `ok` is false."""
        if not ok:
            self.violations.append(message)


# -- processes ---------------------------------------------------------------------------


def start_supervisor(
    project: Project,
    *args: str,
    fsize_limit: int | None = None,
    umask: int | None = None,
    wait: bool = True,
) -> subprocess.Popen[str]:
    """`overseer run -q ARGS` in the background, optionally with a file-size limit or umask.

    A file-size limit (RLIMIT_FSIZE) stands in for a full disk without root: every write of
    the supervisor that would grow a file past it fails with EFBIG. Start the tmux server
    beforehand, so that the panes (children of the server) do not inherit the limit.
    """

    def setup() -> None:
        if fsize_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
        if umask is not None:
            os.umask(umask)

    cmd = [sys.executable, "-m", "overseer.tui.cli", "run", "-c", str(project.config), "-q", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=project.root,
        env=project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=setup,
    )
    project.procs.append(proc)
    if wait:
        wait_until(
            lambda: proc.poll() is not None or beating(project, proc.pid),
            timeout=60,
            message="supervisor did not start",
        )
    return proc


def beating(project: Project, pid: int) -> bool:
    """Whether the supervisor `pid` has written its heartbeat."""
    if not (project.state_dir / "state.db").exists():
        return False
    sup = project.store.supervisor()
    return sup.pid == pid and sup.heartbeat_at is not None


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """Wait for a supervisor started by start_supervisor; its status, stdout and stderr."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


class Sampler(threading.Thread):
    """Samples a process's RSS and open file descriptors in the background."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (time, rss bytes, fds)
        self._done = threading.Event()

    def sample(self) -> tuple[float, int, int] | None:
        try:
            with self.proc.oneshot():
                s = (time.time(), self.proc.memory_info().rss, self.proc.num_fds())
        except psutil.Error:
            return None
        self.samples.append(s)
        return s

    def run(self) -> None:
        while not self._done.wait(self.interval):
            if self.sample() is None:
                return

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)

    @property
    def peak_rss(self) -> int:
        return max((s[1] for s in self.samples), default=0)


def mb(n: float) -> float:
    return round(n / 1e6, 1)


# -- task sets ----------------------------------------------------------------------------


def effect_task(task_id: str, code: int, sleep: float, effects: str = "effects.txt") -> str:
    """A task that appends "<id> <attempt> <code>" to a file once, sleeps, and exits `code`."""
    return (
        f'  - {{id: {task_id}, run: \'echo "$OVERSEER_TASK $OVERSEER_ATTEMPT {code}" '
        f">> {effects}; sleep {sleep:g}; exit {code}'}}"
    )


def read_effects(root: Path, name: str = "effects.txt") -> list[tuple[str, int, int]]:
    """The (task, attempt, code) lines the tasks wrote."""
    path = root / name
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


def check_exactly_once(project: Project, codes: dict[str, int], fig: Figures) -> None:
    """Every task's side effect happened once, and the store holds the code it returned."""
    effects = read_effects(project.root)
    seen = Counter(t for t, _, _ in effects)
    returned = {t: c for t, _, c in effects}
    twice = sorted(t for t, n in seen.items() if n > 1)
    never = sorted(t for t in codes if seen[t] == 0)
    fig.check(not twice, f"side effect ran more than once: {twice[:10]}")
    fig.check(not never, f"side effect never ran: {never[:10]}")
    store = project.store
    wrong = []
    for task_id, code in codes.items():
        task = store.task(task_id)
        if task is None:
            wrong.append(f"{task_id}: missing")
            continue
        want_state = TaskState.DONE if code == 0 else TaskState.FAILED
        real = [a for a in store.attempts(task_id) if a.outcome != AttemptOutcome.RELEASED]
        if task.state != want_state or task.exit_code != returned.get(task_id, code):
            wrong.append(f"{task_id}: {task.state.value} exit {task.exit_code}, returned {code}")
        elif len(real) != 1 or real[0].exit_code != code:
            wrong.append(f"{task_id}: attempts {[(a.outcome.value, a.exit_code) for a in real]}")
    fig.check(not wrong, f"recorded result differs from what the task returned: {wrong[:10]}")
    integrity = store.integrity_check()
    fig["integrity"] = integrity
    fig.check(integrity == "ok", f"integrity_check: {integrity}")


# -- kill -9 of the supervisor ---------------------------------------------------------------


def kill9_campaign(
    project: Project,
    *,
    tasks: int = 200,
    cycles: int = 20,
    agents: int = 6,
    seed: int = 7,
    log: Log = _quiet,
) -> Figures:
    """kill -9 the supervisor at random moments (some during its own start-up) while tasks run."""
    rng = random.Random(seed)
    codes = {
        f"t{i:03d}": (0 if rng.random() < 0.8 else rng.choice([1, 2, 3, 42])) for i in range(tasks)
    }
    lines = [
        effect_task(t, c, rng.choice([0.1, 0.3, 0.6, 1.0, 1.5, 2.0])) for t, c in codes.items()
    ]
    project.write(
        f"agents:\n  - {{name: w, kind: shell, count: {agents}}}\ntasks:\n"
        + "\n".join(lines)
        + "\n",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
        max_parallel=agents,
    )
    fig = Figures("kill -9 of the supervisor")
    fig["tasks"], fig["agents"] = tasks, agents
    t0 = time.time()
    in_flight = 0
    during_startup = 0
    done = 0
    for cycle in range(cycles):
        proc = start_supervisor(project, wait=False)
        if cycle == 1 or rng.random() < 0.2:
            # Kill it while it is still starting: adopting panes, reading rc files.
            time.sleep(rng.uniform(0.3, 1.0))
            during_startup += 1
        else:
            wait_until(
                lambda p=proc: p.poll() is not None or beating(project, p.pid),
                timeout=60,
                message="supervisor did not start",
            )
            time.sleep(rng.uniform(0.2, 2.5))
        running = project.store.task_counts()["running"]
        in_flight += running > 0
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        counts = project.store.task_counts()
        done = counts["done"] + counts["failed"]
        log(f"  cycle {cycle + 1:2d}: killed with {running} running, {done}/{tasks} finished")
        fig.check(project.tmux.alive(), f"cycle {cycle + 1}: the agents died with the supervisor")
    fig["cycles"] = cycles
    fig["kills with tasks in flight"] = in_flight
    fig["kills during start-up"] = during_startup
    fig["finished before the last kill"] = done
    final = project.cli("run", "--until-done", "--timeout", str(60 + tasks * 2), "-q", timeout=900)
    fig["wall time (s)"] = round(time.time() - t0, 1)
    events = project.store.events()
    fig["attempts re-adopted"] = sum(e.kind == "task.readopted" for e in events)
    fig["results read from rc files"] = sum(e.kind == "task.recovered" for e in events)
    attempts = project.store.attempts()
    fig["requeued, never started"] = sum(a.outcome == AttemptOutcome.RELEASED for a in attempts)
    fig["lost"] = sum(a.outcome == AttemptOutcome.LOST for a in attempts)
    fig.check(final.returncode in (0, 1), f"final run exited {final.returncode}: {final.stderr}")
    check_exactly_once(project, codes, fig)
    return fig


# -- the tmux server dies -------------------------------------------------------------------


TASK_SECONDS = 2.5


def started(project: Project, attempt: Any) -> bool:
    """Whether a running attempt's wrapper has started (it wrote its pid file)."""
    pid_file = attempt_paths(StatePaths(project.state_dir).run, attempt.task_id, attempt.number)[3]
    return read_pid(pid_file) is not None


def tmux_kill_campaign(
    project: Project,
    *,
    kills: int = 1,
    agents: int = 3,
    mode: str = "kill-server",
    spacing: float = 0.0,
    log: Log = _quiet,
) -> Figures:
    """Kill the whole tmux server under running tasks; the supervisor must carry on.

    One task per agent ignores SIGHUP, as a daemon-like task would: it must not live on
    beside its own retry.
    """
    # Enough work that every agent is still busy when the next kill comes.
    refill = int(spacing * kills / TASK_SECONDS) + kills if spacing else 0
    n = agents * (kills + 1 + refill)
    lines = []
    for i in range(n):
        trap = 'trap "" HUP; ' if i % agents == 0 else ""
        lines.append(
            f'  - {{id: s{i:02d}, run: \'{trap}echo "$OVERSEER_TASK start" >> effects.txt; '
            f'sleep {TASK_SECONDS:g}; echo "$OVERSEER_TASK end" >> effects.txt\'}}'
        )
    project.write(
        f"agents:\n  - {{name: w, kind: shell, count: {agents}}}\ntasks:\n"
        + "\n".join(lines)
        + "\n",
        retry={"max_attempts": 4, "backoff": 0, "backoff_max": 0},
        max_parallel=agents,
    )
    fig = Figures(f"tmux server killed ({mode})")
    proc = start_supervisor(project)
    latencies = []
    in_flight: set[tuple[str, int]] = set()
    for k in range(kills):
        wait_until(
            lambda: project.store.task_counts()["running"] >= agents,
            timeout=60,
            message="agents never all busy",
        )
        wait_until(
            lambda: all(started(project, a) for a in project.store.running_attempts()),
            timeout=30,
            message="the running tasks never started their wrappers",
        )  # each task is at work in its pane, not merely claimed
        hit = {(a.task_id, a.number) for a in project.store.running_attempts()}
        in_flight |= hit
        since = max((e.id for e in project.store.recent_events(1)), default=0)
        server = project.tmux
        pid = server.server_pid()
        killed_at = time.time()
        if mode == "sigkill" and pid:
            os.kill(pid, signal.SIGKILL)
        else:
            server.run("kill-server", check=False)
        down = wait_until(
            lambda s=since: next(
                (e for e in project.store.events(since=s) if e.kind == "tmux.down"), None
            ),
            timeout=30,
            message="tmux death not noticed",
        )
        latencies.append(down.ts - killed_at)
        wait_until(
            lambda h=hit: not h & running_now(project),
            timeout=30,
            message="attempts running at the kill were never settled",
        )
        log(f"  kill {k + 1}: noticed after {latencies[-1]:.2f}s, {len(hit)} attempts in flight")
        if spacing and k < kills - 1:
            time.sleep(spacing)
    wait_until(
        lambda: project.store.task_counts()["done"] == n,
        timeout=60 + 10 * n,
        message="tasks did not all finish after the tmux restarts",
    )
    fig.check(proc.poll() is None, "the supervisor did not survive the tmux server's death")
    fig["kills"] = kills
    fig["detection latency max (s)"] = round(max(latencies), 2)
    fig["detection latency mean (s)"] = round(sum(latencies) / len(latencies), 2)
    attempts = project.store.attempts()
    cut = (AttemptOutcome.LOST, AttemptOutcome.INTERRUPTED)
    lost = [a for a in attempts if a.outcome in cut]
    hit_ends = Counter(a.outcome.value for a in attempts if (a.task_id, a.number) in in_flight)
    fig["attempts in flight at the kills"] = len(in_flight)
    fig["attempts cut off"] = len(lost)
    fig["how those ended"] = dict(hit_ends)
    # An attempt that finished in the instant before the kill is rightly "ok"; none of them
    # may carry an exit code that the kill caused. They use no try ("interrupted") unless
    # one ran alone after an earlier death (then "lost": see Supervisor.cut_off).
    fig.check(
        set(hit_ends) <= {"interrupted", "lost", "released", "ok"}
        and hit_ends["interrupted"] + hit_ends["lost"] + hit_ends["released"] >= kills,
        f"attempts in flight at the kills ended as {dict(hit_ends)}",
    )
    fig.check(
        all(a.exit_code is None and "died" in (a.reason or "") for a in lost),
        f"cut-off attempts carry an exit code or another reason: {[(a.exit_code, a.reason) for a in lost]}",
    )
    fig.check(
        not any(a.outcome == AttemptOutcome.FAILED for a in attempts),
        "an attempt killed with tmux was recorded as failed with an exit code",
    )
    ends = Counter(
        line.split()[0]
        for line in (project.root / "effects.txt").read_text().splitlines()
        if line.endswith(" end")
    )
    fig.check(
        ends == Counter({f"s{i:02d}": 1 for i in range(n)}),
        f"a task finished twice or never (leftover processes?): {ends}",
    )
    agents_now = project.store.agents()
    fig["respawns per agent"] = sorted({a.respawns for a in agents_now})
    fig.check(all(a.respawns >= kills for a in agents_now), "agents were not respawned")
    fig.check(project.store.integrity_check() == "ok", "integrity_check failed")
    return fig


# -- processes that leave their attempt ----------------------------------------------------


def daemon_lines(tag: str) -> str:
    """Shell lines that start a worker the way a daemon or dev server does, then go on.

    Double-forked (it is re-parented away from the task), in a session and process group of
    its own (setsid), ignoring SIGHUP and SIGTERM, with no terminal: it writes its pid to
    `<tag>.pid` and a heartbeat to `<tag>.beat` ten times a second until it is killed.
    """
    worker = (
        f'trap "" HUP TERM; echo $$ > {tag}.pid; '
        f"while :; do date +%s.%N > {tag}.beat; sleep 0.1; done"
    )
    return f"( setsid sh -c '{worker}' < /dev/null > /dev/null 2>&1 & )"


def verdict_lines(tag: str, out: str) -> str:
    """Shell lines that write to `out` whether the worker of daemon_lines(tag) still lives."""
    return (
        f"w=$(cat {tag}.pid 2>/dev/null); s=$(cut -d' ' -f3 /proc/$w/stat 2>/dev/null); "
        f'if [ -n "$w" ] && [ -n "$s" ] && [ "$s" != Z ]; then echo alive > {out}; '
        f"else echo gone > {out}; fi"
    )


def worker_pid(root: Path, tag: str) -> int | None:
    """The pid the worker of daemon_lines(tag) wrote, once it has written it."""
    try:
        text = (root / f"{tag}.pid").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


LEFTOVER_MODES = ("timeout", "stall", "release", "kill-pane", "kill-server")


def leftover_campaign(
    project: Project,
    *,
    rounds: int = 1,
    agents: int = 3,
    scan_processes: int = 200,
    log: Log = _quiet,
) -> Figures:
    """Tasks that leave a daemon behind, ended every way an attempt can end without its exit.

    Each round runs one task per agent for each way (timeout, stall, release by operator,
    its pane killed, the tmux server killed), one way after the other; each task's first
    attempt starts a worker (daemon_lines: double-forked, setsid, ignoring SIGHUP and
    SIGTERM) and its retry records whether that worker still ran. Then tasks that stop
    themselves (`kill -TSTP 0`) run into their timeout. Also measured: one scan of the
    process table for an attempt's marker, with `scan_processes` extra processes running.
    """
    from overseer.agents import health, runner

    waves: list[tuple[str, list[str]]] = []
    lines = []
    previous: list[str] = []
    for r in range(rounds):
        for mode in LEFTOVER_MODES:
            ids = [f"r{r}-{mode}-{i}" for i in range(agents)]
            waves.append((mode, ids))
            for tid in ids:
                # Ticking keeps a task from stalling; the stall tasks are silent.
                wait = "sleep 60" if mode == "stall" else "while :; do echo tick; sleep 0.5; done"
                run = (
                    f'if [ "$OVERSEER_ATTEMPT" = 1 ]; then {daemon_lines(tid)}; {wait}; '
                    f"else {verdict_lines(tid, tid + '.verdict')}; fi"
                )
                keys = ", timeout: 3" if mode == "timeout" else ""
                deps = f", depends_on: [{', '.join(previous)}]" if previous else ""
                lines.append(f"  - {{id: {tid}, run: {json.dumps(run)}{keys}{deps}}}")
            previous = ids
    stopped = [f"tstp-{i}" for i in range(agents)]
    for tid in stopped:
        run = "echo stopping; kill -TSTP 0; sleep 60"
        lines.append(
            f"  - {{id: {tid}, run: {json.dumps(run)}, timeout: 2, max_attempts: 1, "
            f"depends_on: [{', '.join(previous)}]}}"
        )
    project.write(
        f"agents:\n  - {{name: w, kind: shell, count: {agents}}}\ntasks:\n"
        + "\n".join(lines)
        + "\n",
        retry={"max_attempts": 2, "backoff": 0, "backoff_max": 0},
        max_parallel=agents,
        stall_timeout=3,
        on_stall="retry",
    )
    fig = Figures(f"processes that leave their attempt ({rounds} round(s), {agents} agents)")
    proc = start_supervisor(project)
    workers: dict[str, int] = {}
    kills: list[float] = []

    def started(ids: list[str]) -> bool:
        for tid in ids:
            if tid not in workers and (project.root / f"{tid}.beat").exists():
                pid = worker_pid(project.root, tid)
                if pid:
                    workers[tid] = pid
        return all(t in workers for t in ids)

    t0 = time.time()
    try:
        for mode, ids in waves:
            wait_until(lambda i=ids: started(i), timeout=60, message=f"{mode}: workers never ran")
            if mode.startswith("kill-"):
                # A third restart within 60 s would mark the agents dead (a respawn loop).
                if len(kills) >= 2:
                    time.sleep(max(0.0, kills[-2] + 61 - time.time()))
                kills.append(time.time())
            if mode == "release":
                for tid in ids:
                    r = project.cli("release", tid)
                    fig.check(r.returncode == 0, f"release {tid}: {r.stderr}")
            elif mode == "kill-pane":
                for tid in ids:
                    holder = project.store.task(tid).claimed_by  # type: ignore[union-attr]
                    pane = project.store.agent(holder).pane_id if holder else None  # type: ignore[union-attr]
                    if pane:
                        project.tmux.run("kill-pane", "-t", pane, check=False)
            elif mode == "kill-server":
                project.tmux.run("kill-server", check=False)
            wait_until(
                lambda i=ids: all(project.task_state(t) == TaskState.DONE for t in i),
                timeout=120,
                message=f"{mode}: tasks did not finish",
            )
            log(f"  {mode}: {len(ids)} workers, all tasks done")
        wait_until(
            lambda: all(project.task_state(t) == TaskState.FAILED for t in stopped),
            timeout=60,
            message="the stopped tasks were never settled",
        )
    finally:
        # A broken promise must not leave workers behind on the machine.
        alive = [pid for pid in workers.values() if health.wrapper_alive(pid, ".beat")]
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
    fig["wall time (s)"] = round(time.time() - t0, 1)
    fig["workers started"] = len(workers)
    fig.check(not alive, f"{len(alive)} workers outlived their tasks")
    store = project.store
    beside: list[str] = []
    after_settle: list[float] = []
    by_mode: dict[str, Counter[str]] = {m: Counter() for m in LEFTOVER_MODES}
    for mode, ids in waves:
        for tid in ids:
            verdict = (project.root / f"{tid}.verdict").read_text().strip()
            if verdict != "gone":
                beside.append(tid)
            first = store.attempts(tid)[0]
            by_mode[mode][first.outcome.value] += 1
            # The worker's last heartbeat against the moment its attempt was recorded.
            beat = (project.root / f"{tid}.beat").stat().st_mtime
            if first.finished_at is not None:
                after_settle.append(beat - first.finished_at)
    fig["first attempts ended as"] = {m: dict(c) for m, c in by_mode.items()}
    fig.check(not beside, f"a retry ran beside its attempt's worker: {beside}")
    fig["retries that ran beside their worker"] = len(beside)
    latest = max(after_settle, default=0.0)
    fig["last worker heartbeat, relative to its attempt's end (s, max)"] = round(latest, 3)
    # mtime comes from a coarser clock than time.time(): allow it a few milliseconds.
    fig.check(latest <= 0.02, f"a worker still beat {latest:.3f}s after its attempt ended")
    timeouts = [
        a.finished_at - a.started_at - 3.0
        for mode, ids in waves
        if mode == "timeout"
        for a in (store.attempts(t)[0] for t in ids)
        if a.finished_at
    ]
    fig["timeout -> recorded, worker ignoring SIGTERM (s, max)"] = round(max(timeouts), 2)
    tstp = [store.attempts(t)[0] for t in stopped]
    fig["self-stopped tasks ended as"] = dict(
        Counter(f"{a.outcome.value} {a.exit_code}" for a in tstp)
    )
    fig.check(
        all(a.outcome == AttemptOutcome.TIMEOUT and a.exit_code == 143 for a in tstp),
        f"a task that stopped itself was not recorded as a timeout: {[(a.outcome.value, a.reason) for a in tstp]}",
    )
    fig["self-stopped: timeout -> recorded (s, max)"] = round(
        max((a.finished_at or 0.0) - a.started_at - 2.0 for a in tstp), 2
    )
    fig.check(proc.poll() is None, "the supervisor died")
    fig.check(store.integrity_check() == "ok", "integrity_check failed")
    fig.values.update(scan_cost(scan_processes, runner.attempt_mark("0" * 24)))
    return fig


def scan_cost(extra: int, mark: str, repeat: int = 30) -> dict[str, Any]:
    """What finding an attempt's processes costs with `extra` more processes running."""
    from overseer.agents import health

    sleepers = [subprocess.Popen(["sleep", "120"], stdin=subprocess.DEVNULL) for _ in range(extra)]
    try:
        total = len(psutil.pids())
        wall, cpu = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            health.attempt_processes(mark)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    finally:
        for p in sleepers:
            p.kill()
            p.wait()
    wall.sort()
    cpu.sort()
    return {
        f"marker scan, {total} processes: CPU (ms, median)": round(cpu[repeat // 2] * 1000, 2),
        f"marker scan, {total} processes: wall (ms, median / max)": (
            round(wall[repeat // 2] * 1000, 2),
            round(wall[-1] * 1000, 2),
        ),
    }


def running_now(project: Project) -> set[tuple[str, int]]:
    """(task, attempt number) of every attempt the store counts as running."""
    return {(a.task_id, a.number) for a in project.store.running_attempts()}


# -- output from hell -----------------------------------------------------------------------

HELL = r"""printf 'bad utf8 \xff\xfe\xc3 | \x1b[1;31mred\x1b[0m \x1b]0;title\x07 \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n'
printf 'wide 日本語 combining e\xcc\x81 zero\xe2\x80\x8bwidth \x1b[5 C \x1b[999C|\n'
bar=; for i in $(seq 1 50); do bar="$bar#"; printf '\r[%-50s] %d%%' "$bar" $((i*2)); done; echo
printf 'queries \x1b[c \x1b[6n \x1b]10;?\x07 \x1b[>c\n'"""


def output_from_hell(project: Project, *, flood_mb: int = 50, log: Log = _quiet) -> Figures:
    """A 1 MB line, binary bytes, escapes, progress bars, wide characters and a big flood."""
    py = sys.executable
    binary = f"{py} -c 'import random,sys; sys.stdout.buffer.write(random.Random(5).randbytes(2_000_000))'"
    flood = f"yes 'flood line with some text in it 0123456789' | head -c {flood_mb * 1_000_000}"
    tasks = {
        "long-line": ("head -c 1000000 /dev/zero | tr '\\0' x; exit 3", 3),
        "binary": (f"{binary}; exit 4", 4),
        "escapes": (HELL + "\nexit 5", 5),
        "flood": (f"{flood}; echo; echo flood-done; exit 6", 6),
        "after": ("echo still-fine; exit 0", 0),
    }
    body = ["agents:", "  - {name: w, kind: shell}", "tasks:"]
    for prio, (tid, (run, _)) in enumerate(tasks.items()):
        body.append(f"  - id: {tid}")
        body.append(f"    priority: {100 - prio}")
        body.append("    max_attempts: 1")
        body.append("    run: |")
        body += [f"      {line}" for line in run.splitlines()]
    project.write("\n".join(body) + "\n", retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0})
    fig = Figures(f"output from hell ({flood_mb} MB flood)")
    proc = start_supervisor(project)
    sampler = Sampler(proc.pid)
    before = sampler.sample()
    sampler.start()
    t0 = time.time()
    try:
        wait_until(
            lambda: (
                project.store.task_counts()["done"] + project.store.task_counts()["failed"]
                == len(tasks)
            ),
            timeout=120 + flood_mb,
            message="output from hell did not finish",
        )
    finally:
        sampler.stop()
    elapsed = time.time() - t0
    after = sampler.sample()
    assert before is not None
    fig["supervisor RSS before (MB)"] = mb(before[1])
    fig["supervisor RSS peak (MB)"] = mb(sampler.peak_rss)
    fig["supervisor RSS after (MB)"] = mb(after[1] if after else 0)
    fig["output read (MB)"] = mb((project.state_dir / "logs" / "w.log").stat().st_size)
    store = project.store
    flooded = store.attempts("flood")
    if flooded and flooded[0].finished_at:
        took = flooded[0].finished_at - flooded[0].started_at
        fig["flood task time (s)"] = round(took, 1)
        fig["flood throughput (MB/s)"] = round(flood_mb / max(took, 1e-3), 1)
    fig["all tasks time (s)"] = round(elapsed, 1)
    got = {t.id: t.exit_code for t in store.tasks()}
    fig.check(got == {t: c for t, (_, c) in tasks.items()}, f"exit codes {got}")
    # Terminal replies to the queries (typed into the pane by tmux) must not garble the next
    # typed line: every task runs at its first attempt.
    tries = {t: [a.outcome.value for a in store.attempts(t)] for t in tasks}
    fig.check(all(len(v) == 1 for v in tries.values()), f"attempts per task: {tries}")
    fig.check(sampler.peak_rss < 300e6, f"supervisor RSS peaked at {mb(sampler.peak_rss)} MB")

    def tails_now() -> dict[str, str]:
        return {a.task_id: a.output_tail for a in store.attempts()}

    # An exit known from its rc file is recorded first; its last output follows it into the
    # store once the log has caught up (a flood takes a while).
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: (
                "flood-done" in (t := tails_now()).get("flood", "")
                and "still-fine" in t.get("after", "")
            ),
            timeout=30,
        )
    tails = tails_now()
    fig.check("flood-done" in tails.get("flood", ""), "the line after the flood is not in the tail")
    fig.check("still-fine" in tails.get("after", ""), "the agent did not work after the hell")
    fig.check(
        all("\x1b" not in t and "\r" not in t for t in tails.values()),
        "an escape or carriage return reached the stored output",
    )
    fig.check(proc.poll() is None, "the supervisor died")
    return fig


# -- soak -------------------------------------------------------------------------------------


def soak(
    project: Project,
    *,
    seconds: float = 20.0,
    agents: int = 20,
    batch: int = 100,
    every: float = 10.0,
    log: Log = _quiet,
) -> Figures:
    """Many agents churning short tasks: the supervisor's RSS and open descriptors stay flat."""
    project.write(
        f"agents:\n  - {{name: w, kind: shell, count: {agents}}}\ntasks: []\n",
        max_parallel=agents,
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
    )
    fig = Figures(f"soak ({agents} agents, {seconds / 60:g} min)")
    proc = start_supervisor(project)
    wait_until(
        lambda: sum(a.state.value == "idle" for a in project.store.agents()) == agents,
        timeout=60,
        message="agents did not start",
    )
    sampler = Sampler(proc.pid)
    added = 0
    series: list[tuple[float, float, int, int, float]] = []  # (t, rss MB, fds, done, db MB)
    t0 = time.time()
    next_sample = t0
    tasks_file = project.root / "batch.yaml"
    while time.time() - t0 < seconds:
        counts = project.store.task_counts()
        if counts["ready"] < batch:
            lines = [
                f"- {{id: k{added + i:07d}, run: 'echo {added + i}; sleep 0.{(added + i) % 4}'}}"
                for i in range(batch)
            ]
            tasks_file.write_text("\n".join(lines) + "\n")
            r = project.cli("add", "--file", str(tasks_file))
            fig.check(r.returncode == 0, f"add failed: {r.stderr}")
            added += batch
        if time.time() >= next_sample:
            s = sampler.sample()
            if s is None:
                fig.check(False, "the supervisor died")
                break
            done = project.store.task_counts()["done"]
            db = sum(p.stat().st_size for p in project.state_dir.glob("state.db*") if p.exists())
            series.append((round(s[0] - t0, 1), mb(s[1]), s[2], done, mb(db)))
            log(f"  t={series[-1][0]:7.1f}s rss={series[-1][1]:6.1f} MB fds={s[2]:3d} done={done}")
            next_sample += every
        time.sleep(0.5)
    s = sampler.sample()
    if s is not None:
        done = project.store.task_counts()["done"]
        db = sum(p.stat().st_size for p in project.state_dir.glob("state.db*") if p.exists())
        series.append((round(s[0] - t0, 1), mb(s[1]), s[2], done, mb(db)))
    fig["series"] = series
    fig["tasks done"] = project.store.task_counts()["done"]
    fig["tasks failed"] = project.store.task_counts()["failed"]
    if len(series) >= 3:
        # Compare the end with a point after warm-up (caches and the first batches).
        warm = series[max(1, len(series) // 5)]
        end = series[-1]
        fig["rss after warm-up (MB)"] = warm[1]
        fig["rss at end (MB)"] = end[1]
        fig["fds after warm-up"] = warm[2]
        fig["fds at end"] = end[2]
        fig.check(end[2] <= warm[2] + 4, f"open descriptors grew from {warm[2]} to {end[2]}")
        fig.check(end[1] < 300, f"RSS reached {end[1]} MB")
        slack = max(20.0, warm[1] * 0.25)
        fig.check(
            end[1] <= warm[1] + slack,
            f"RSS grew from {warm[1]} MB after warm-up to {end[1]} MB "
            f"({end[3] - warm[3]} tasks later)",
        )
    fig.check(fig["tasks failed"] == 0, f"{fig['tasks failed']} short tasks failed")
    fig.check(proc.poll() is None, "the supervisor died")
    return fig


# -- the state dir wiped under a running supervisor -------------------------------------------


def wiped_state_dir(
    project: Project, *, agents: int = 2, queued: int = 4, seconds: float = 120.0, log: Log = _quiet
) -> Figures:
    """`git clean -fdx` under a running supervisor, with tasks in flight and more queued.

    It must stop dispatching at once and say why; while its tasks still run, a new `overseer
    run` must refuse, with no state dir or with a state dir made anew; no task may run twice,
    and it must write nothing into the new state dir. The tasks in flight hold until both
    refusals were checked (a file they wait for; `seconds` at most), however slow the machine.
    """
    from overseer.agents.lock import tmux_owner
    from overseer.state.store import Store

    lines = [
        f'  - {{id: s{i}, run: \'echo "$OVERSEER_TASK start" >> effects.txt; n=0; '
        f"while [ ! -e release ] && [ $n -lt {int(seconds * 10)} ]; do sleep 0.1; n=$((n+1)); done; "
        f'echo "$OVERSEER_TASK end" >> effects.txt\'}}'
        for i in range(agents + queued)
    ]
    project.write(
        f"agents:\n  - {{name: w, kind: shell, count: {agents}}}\ntasks:\n"
        + "\n".join(lines)
        + "\n",
        max_parallel=agents,
    )
    fig = Figures("state dir wiped under a running supervisor")
    proc = start_supervisor(project)
    effects = project.root / "effects.txt"

    def started() -> list[str]:
        text = effects.read_text() if effects.exists() else ""
        return [line.split()[0] for line in text.splitlines() if line.endswith(" start")]

    wait_until(lambda: len(started()) >= agents, timeout=60, message="tasks never started")
    before = set(started())
    fig["attempts in flight at the wipe"] = len(before)
    project.close_store()
    wiped = time.time()
    shutil.rmtree(project.state_dir)  # what `git clean -fdx` does to .overseer/
    owner = wait_until(
        lambda: (o := tmux_owner(project.tmux)) is not None and "removed" in o.note and o,
        timeout=30,
        message="the wipe was not noticed",
    )
    fig["noticed after (s)"] = round(time.time() - wiped, 2)
    fig.check(owner.pid == proc.pid, f"the tmux owner record names {owner.pid}, not {proc.pid}")
    second = project.cli("run", "-q", "--until-done", "--timeout", "30")
    fig["second run with no state dir: exit"] = second.returncode
    fig.check(
        second.returncode == 2 and f"pid {proc.pid}" in second.stderr,
        f"a second supervisor was not refused: {second.returncode} {second.stderr.strip()}",
    )
    Store(project.state_dir / "state.db").close()  # the state dir made anew (e.g. a checkout)
    third = project.cli("run", "-q", "--until-done", "--timeout", "30")
    fig["second run with a new state dir: exit"] = third.returncode
    fig.check(
        third.returncode == 2 and f"pid {proc.pid}" in third.stderr,
        f"a supervisor started on a new state dir: {third.returncode} {third.stderr.strip()}",
    )
    fig.check(proc.poll() is None, "the supervisor stopped before its tasks had ended")
    (project.root / "release").touch()  # the tasks in flight may end now
    code, _, err = finish(proc, timeout=60)
    fig["stopped after the wipe (s)"] = round(time.time() - wiped, 1)
    fig["old supervisor: exit"] = code
    fig.check(code == 3 and "removed" in err, f"the old supervisor ended {code}: {err.strip()}")
    counts = Counter(started())
    fig["tasks started after the wipe"] = len(set(counts) - before)
    fig.check(
        set(counts) == before, f"tasks started after the wipe: {sorted(set(counts) - before)}"
    )
    fig.check(all(n == 1 for n in counts.values()), f"a task ran twice: {dict(counts)}")
    ends = [line.split()[0] for line in effects.read_text().splitlines() if line.endswith(" end")]
    fig.check(sorted(ends) == sorted(before), f"tasks in flight did not finish: {ends}")
    written = [
        str(p.relative_to(project.state_dir))
        for p in project.state_dir.rglob("*")
        if p.suffix in (".sh", ".cmd", ".log")
    ]
    fig.check(not written, f"the old supervisor wrote into the new state dir: {written}")
    return fig


# -- links and other users' files planted in the state dir ------------------------------------

PLANTS = (
    "supervisor.lock -> a file of the user",
    "run/s0.1.sh -> a script of the user",
    "logs -> a directory of the user",
    "state.db -> a database of the user",
    ".overseer -> a directory of the user",
    "supervisor.log -> a file of the user (overseer up)",
    "run/ owned by another user",
    "state.db copied from another project",
)


def planted_links(project: Project, *, log: Log = _quiet) -> Figures:
    """A state dir that came with a clone or a copy: every plant is refused with exit 3 and a
    message naming it, nothing runs, and the user's files stay exactly as they were."""
    from overseer.state.store import Store

    fig = Figures("links and foreign files planted in the state dir")
    project.write(
        "agents:\n  - {name: w, kind: shell}\ntasks:\n"
        "  - {id: s0, run: 'echo ran >> effects.txt'}\n"
    )
    victims = project.root.parent / f"{project.root.name}-victims"
    refused, untouched, took = 0, 0, []
    skipped = []
    for plant in PLANTS:
        if "another user" in plant and os.geteuid() != 0:
            skipped.append(plant)  # only root can make a file another user's
            continue
        shutil.rmtree(project.state_dir, ignore_errors=True)
        if project.state_dir.is_symlink():
            project.state_dir.unlink()
        shutil.rmtree(victims, ignore_errors=True)
        victims.mkdir()
        (victims / "notes.txt").write_text("precious\n")
        (victims / "deploy.sh").write_text("#!/bin/sh\necho deploying\n")
        (victims / "dir").mkdir(mode=0o755)
        (victims / "dir" / "keep").write_text("keep\n")
        Store(victims / "other.db").close()
        before = _snapshot(victims)
        state = project.state_dir
        args = ["run", "-q", "--until-done", "--timeout", "20"]
        if plant.startswith(".overseer"):
            state.symlink_to(victims / "dir")
        else:
            state.mkdir(mode=0o700)
        if plant.startswith("supervisor.lock"):
            (state / "supervisor.lock").symlink_to(victims / "notes.txt")
        elif plant.startswith("run/s0"):
            (state / "run").mkdir(mode=0o700)
            (state / "run" / "s0.1.sh").symlink_to(victims / "deploy.sh")
        elif plant.startswith("logs"):
            (state / "logs").symlink_to(victims / "dir")
        elif plant.startswith("state.db ->"):
            (state / "state.db").symlink_to(victims / "other.db")
        elif plant.startswith("supervisor.log"):
            (state / "supervisor.log").symlink_to(victims / "notes.txt")
            args = ["up"]
        elif plant.startswith("run/ owned"):
            (state / "run").mkdir(mode=0o777)
            os.chown(state / "run", 65534, 65534)
        elif plant.startswith("state.db copied"):
            other = Project(project.root.parent / f"{project.root.name}-elsewhere", name="t")
            other.root.mkdir(exist_ok=True)
            Store(other.state_dir / "state.db").close()
            for f in other.state_dir.glob("state.db*"):
                shutil.copy(f, state / f.name)
            shutil.rmtree(other.root)
        t0 = time.time()
        r = project.cli(*args, timeout=120)
        took.append(time.time() - t0)
        first = (r.stderr.strip().splitlines() or [""])[0]
        log(f"  {plant}: exit {r.returncode}: {first[:150]}")
        ok = r.returncode == 3 and "refusing" in r.stderr and "Traceback" not in r.stderr
        refused += ok
        fig.check(ok, f"{plant}: not refused ({r.returncode}: {r.stderr.strip()[:300]})")
        same = _snapshot(victims) == before
        untouched += same
        fig.check(same, f"{plant}: the user's files changed")
        fig.check(not (project.root / "effects.txt").exists(), f"{plant}: a task ran")
        project.tmux.kill_server()
    if state.is_symlink():
        state.unlink()
    shutil.rmtree(victims, ignore_errors=True)
    fig["plants refused"] = f"{refused}/{len(PLANTS) - len(skipped)}"
    fig["user's files untouched"] = f"{untouched}/{len(PLANTS) - len(skipped)}"
    fig["slowest refusal (s)"] = round(max(took), 2) if took else None
    if skipped:
        fig["skipped (not root)"] = skipped
    return fig


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """(mode, mtime_ns, content) of everything under `root`, links not followed."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        data = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
        out[str(p.relative_to(root))] = (st.st_mode, st.st_mtime_ns, data)
    out["."] = (root.stat().st_mode, root.stat().st_mtime_ns, b"")
    return out


# -- dependencies at scale -------------------------------------------------------------------


def _run_until_done(project: Project, timeout: float) -> tuple[int, float]:
    """`overseer run --until-done` to the end; its status and the tasks' span in seconds."""
    proc = start_supervisor(project, "--until-done", wait=False)
    code, _, err = finish(proc, timeout=timeout)
    store = project.store
    spans = store.conn.execute("SELECT MIN(started_at), MAX(finished_at) FROM attempts").fetchone()
    return code, max(1e-6, (spans[1] or 0) - (spans[0] or 0))


def dependency_scale(
    project: Project, *, tasks: int = 5000, agents: int = 4, window: float = 20.0, log: Log = _quiet
) -> Figures:
    """A chain of `tasks` dependent tasks against as many independent ones on one agent (the
    chain runs one at a time, so that is the fair comparison), then the CPU of a supervisor
    that has nothing to do but hold `tasks - 1` tasks pending on a failed one."""
    fig = Figures("deps")
    width = len(str(tasks))

    def project_for(name: str, body: str) -> Project:
        sub = Project(project.root / name, name=f"{project.name}-{name}")
        sub.root.mkdir(parents=True, exist_ok=True)
        sub.write(body, retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0})
        return sub

    def ids(prefix: str) -> list[str]:
        return [f"{prefix}{i:0{width}d}" for i in range(tasks)]

    subs: list[Project] = []
    try:
        lines = ["agents:", "  - {name: w, kind: shell}", "tasks:"]
        lines += [f"  - {{id: {t}, run: 'true'}}" for t in ids("i")]
        flat = project_for("flat", "\n".join(lines) + "\n")
        subs.append(flat)
        code, span = _run_until_done(flat, timeout=tasks)
        fig.check(code == 0, f"independent tasks: run exited {code}")
        fig["independent tasks/s (1 agent)"] = round(tasks / span, 1)
        log(f"  {tasks} independent tasks on 1 agent: {tasks / span:.1f} tasks/s")

        chain = ids("c")
        lines = ["agents:", f"  - {{name: w, kind: shell, count: {agents}}}", "tasks:"]
        lines.append(f"  - {{id: {chain[0]}, run: 'true'}}")
        lines += [
            f"  - {{id: {t}, run: 'true', depends_on: [{prev}]}}"
            for prev, t in zip(chain, chain[1:], strict=False)
        ]
        linked = project_for("chain", "\n".join(lines) + "\n")
        subs.append(linked)
        code, span = _run_until_done(linked, timeout=tasks)
        done = linked.store.task_counts()["done"]
        fig.check(code == 0 and done == tasks, f"chain: exit {code}, {done}/{tasks} done")
        order = [
            r[0]
            for r in linked.store.conn.execute("SELECT task_id FROM attempts ORDER BY started_at")
        ]
        fig.check(order == chain, "chain: tasks did not run in dependency order, once each")
        fig["chain tasks/s"] = round(tasks / span, 1)
        fig["chain / independent"] = round(
            fig["chain tasks/s"] / fig["independent tasks/s (1 agent)"], 2
        )
        log(f"  a chain of {tasks} on {agents} agents: {tasks / span:.1f} tasks/s")

        fan = ids("p")
        lines = ["agents:", f"  - {{name: w, kind: shell, count: {agents}}}", "tasks:"]
        lines.append("  - {id: root, run: 'exit 1'}")
        lines += [f"  - {{id: {t}, run: 'true', depends_on: [root]}}" for t in fan[1:]]
        settled = project_for("settled", "\n".join(lines) + "\n")
        subs.append(settled)
        proc = start_supervisor(settled)
        settled.wait_task("root", TaskState.FAILED, timeout=60)
        # Start-up work (the first suggestions) is over once they are in the store.
        wait_until(lambda: settled.store.suggestions(), timeout=60, message="no suggestions")
        sup = psutil.Process(proc.pid)
        before, t0 = sup.cpu_times(), time.time()
        time.sleep(window)  # a measuring window, not a wait for a condition
        after, t1 = sup.cpu_times(), time.time()
        busy = (after.user - before.user) + (after.system - before.system)
        fig[f"settled supervisor CPU % ({tasks - 1} pending on a failed task)"] = round(
            100 * busy / (t1 - t0), 2
        )
        pending = settled.store.task_counts()["pending"]
        fig.check(pending == tasks - 1, f"settled: {pending} pending, expected {tasks - 1}")
        log(f"  settled with {tasks - 1} pending: {100 * busy / (t1 - t0):.2f} % CPU")
    finally:
        for sub in subs:
            sub.close()
    return fig


# -- a supervisor restart after a long downtime ----------------------------------------------


def stop_supervisor(project: Project, proc: subprocess.Popen[str], how: str) -> None:
    """End a supervisor by `kill -9` or by `overseer down` (the agents keep running)."""
    if how == "kill9":
        proc.send_signal(signal.SIGKILL)
    else:
        down = project.cli("down")
        assert down.returncode == 0, down.stdout + down.stderr
    proc.wait(timeout=30)


def restart_after_downtime(
    project: Project,
    *,
    how: str = "kill9",
    stall_timeout: float = 6.0,
    downtime: float = 10.0,
    log: Log = _quiet,
) -> Figures:
    """The supervisor is down for longer than stall_timeout while a task prints, one waits at
    a `[y/N]` prompt and one is silent: after the restart the printing task keeps running,
    the waiting one stays waiting, and only the silent one is stalled."""
    every = 2.0  # the printing task's pace: slower than the loop, well within stall_timeout
    ticks = int((downtime + stall_timeout + 12) / every)
    project.write(
        f"""
agents:
  - {{name: w, kind: shell, count: 3}}
tasks:
  - {{id: printing, agent: w-1, run: 'for i in $(seq 1 {ticks}); do echo "tick $i"; sleep {every:g}; done'}}
  - {{id: asking, agent: w-2, run: 'read -r -p "Deploy? [y/N] " a; [ "$a" = y ] && echo deployed'}}
  - {{id: silent, agent: w-3, run: 'echo started; sleep 600'}}
""",
        stall_timeout=stall_timeout,
        on_stall="retry",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
    )
    fig = Figures(f"supervisor down {downtime:g}s > stall_timeout {stall_timeout:g}s ({how})")
    proc = start_supervisor(project)
    wait_until(
        lambda: (
            project.store.task_counts()["running"] == 3 and project.agent_state("w-2") == "waiting"
        ),
        timeout=60,
        message="the three tasks never all ran (with w-2 at its prompt)",
    )
    stop_supervisor(project, proc, how)
    stopped_at = time.time()
    log(f"  supervisor stopped ({how}); down for {downtime:g}s")
    time.sleep(downtime)  # the fault itself: no supervisor runs meanwhile
    since = max((e.id for e in project.store.recent_events(1)), default=0)
    proc = start_supervisor(project)
    restarted = time.time()
    fig["downtime (s)"] = round(restarted - stopped_at, 1)

    def ended(task_id: str) -> Any:
        attempts = project.store.attempts(task_id)
        return attempts and attempts[0].outcome != AttemptOutcome.RUNNING and attempts[0]

    silent = wait_until(
        lambda: ended("silent"), timeout=stall_timeout + 30, message="silent task never ended"
    )
    fig["silent task"] = (
        f"{silent.outcome.value} {silent.finished_at - restarted:.1f}s after restart"
    )
    fig.check(silent.outcome == AttemptOutcome.STALLED, f"silent task ended {silent.outcome}")
    # The waiting task must stay waiting for longer than stall_timeout after the restart.
    wait_until(lambda: time.time() >= restarted + stall_timeout + 2, timeout=stall_timeout + 5)
    asking = project.store.attempts("asking")[0]
    state = project.agent_state("w-2")
    fig["waiting task, stall_timeout after restart"] = f"agent {state}, attempt {asking.outcome}"
    fig.check(
        state == "waiting" and asking.outcome == AttemptOutcome.RUNNING,
        f"the task at its prompt was not left waiting: agent {state}, attempt {asking.outcome}",
    )
    answer = project.cli("answer", "w-2", "y")
    fig.check(answer.returncode == 0, f"answer failed: {answer.stdout}{answer.stderr}")
    for task_id in ("asking", "printing"):
        done = wait_until(
            lambda t=task_id: ended(t), timeout=ticks * every + 30, message=f"{task_id} never ended"
        )
        fig[f"{task_id} task"] = f"{done.outcome.value} exit {done.exit_code}"
        fig.check(
            done.outcome == AttemptOutcome.OK and len(project.store.attempts(task_id)) == 1,
            f"{task_id}: {[(a.outcome.value, a.exit_code, a.reason) for a in project.store.attempts(task_id)]}",
        )
    stalls = [
        e.message
        for e in project.store.events(since=since)
        if e.kind == "agent.stalled" and e.agent in ("w-1", "w-2")
    ]
    fig.check(not stalls, f"healthy work called stalled after the restart: {stalls}")
    with contextlib.suppress(AssertionError):  # the last output follows the record
        wait_until(lambda: f"tick {ticks}" in project.store.attempts("printing")[0].output_tail)
    tail = project.store.attempts("printing")[0].output_tail
    fig.check(f"tick {ticks}" in tail, "the printing task's last line is not in its output")
    fig.check(proc.poll() is None, "the supervisor died")
    return fig


# -- the agent count shrunk while the supervisor was down ------------------------------------


def shrink_campaign(
    project: Project,
    *,
    before: int = 3,
    task_seconds: float = 6.0,
    tasks: int = 6,
    log: Log = _quiet,
) -> Figures:
    """`before` agents w-1..w-N run long tasks; kill -9; the config now has one agent `w`.

    What still runs in the panes of agents no longer configured is watched to its end, never
    run again beside itself, and those panes are closed.
    """
    # Tasks that succeed, with a try to spare: a rerun beside itself would show as a second
    # side effect, not as a failure.
    codes = {f"k{i}": 0 for i in range(tasks)}

    def config(count: int) -> None:
        project.write(
            f"agents:\n  - {{name: w, kind: shell, count: {count}}}\ntasks:\n"
            + "\n".join(effect_task(t, c, task_seconds) for t, c in codes.items())
            + "\n",
            retry={"max_attempts": 2, "backoff": 0, "backoff_max": 0},
            max_parallel=before,
        )

    config(before)
    fig = Figures(f"agent count {before} -> 1 while the supervisor was down")
    proc = start_supervisor(project)
    wait_until(
        lambda: len(read_effects(project.root)) >= before,
        timeout=60,
        message="the agents never all started a task",
    )
    in_flight = running_now(project)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    config(1)
    log(f"  killed with {len(in_flight)} attempts in flight; now 1 agent")
    t0 = time.time()
    final = project.cli("run", "--until-done", "--timeout", str(60 + tasks * task_seconds * 2))
    fig["wall time after restart (s)"] = round(time.time() - t0, 1)
    fig.check(final.returncode in (0, 1), f"final run exited {final.returncode}: {final.stderr}")
    fig["attempts in flight at the kill"] = len(in_flight)
    ends = {(a.task_id, a.number): a for a in project.store.attempts()}
    fig["how those ended"] = dict(Counter(ends[k].outcome.value for k in in_flight))
    events = project.store.events()
    fig["re-adopted in unconfigured panes"] = sum(
        e.kind == "task.readopted" and e.agent != "w" for e in events
    )
    fig["unconfigured panes closed"] = sum(e.kind == "agent.retired" for e in events)
    check_exactly_once(project, codes, fig)
    windows = sorted(p.window for p in project.tmux.list_panes())
    fig["windows left"] = windows
    fig.check(windows == ["w"], f"windows of agents no longer configured were left: {windows}")
    rows = sorted(a.name for a in project.store.agents())
    fig.check(rows == ["w"], f"agents no longer configured still listed: {rows}")
    return fig


# -- a task kills the tmux server -------------------------------------------------------------


def task_kills_tmux(
    project: Project,
    *,
    innocents: int = 5,
    agents: int = 3,
    task_seconds: float = 3.0,
    log: Log = _quiet,
) -> Figures:
    """One task runs `tmux kill-server` on Overseer's own server (it sets TMUX as a pane
    would have it), again on every try; the innocent tasks beside it use no try."""
    socket = f'"${{TMUX_TMPDIR:-/tmp}}/tmux-$(id -u)/{project.label},1,0"'
    body = ["agents:", f"  - {{name: w, kind: shell, count: {agents}}}", "tasks:"]
    ids = [f"i{n}" for n in range(innocents)]
    for n, task_id in enumerate(ids):
        if n == agents - 1:  # in the first wave, beside the first innocents
            body += [
                "  - id: culprit",
                "    run: |",
                '      echo "$OVERSEER_ATTEMPT" >> culprit.txt',
                "      sleep 1",
                f"      TMUX={socket} tmux kill-server",
                "      sleep 30",
            ]
        body += [
            f"  - id: {task_id}",
            "    run: |",
            '      echo "$OVERSEER_TASK $OVERSEER_ATTEMPT start" >> effects.txt',
            f"      sleep {task_seconds:g}",
            '      echo "$OVERSEER_TASK end" >> effects.txt',
        ]
    project.write(
        "\n".join(body) + "\n",
        retry={"max_attempts": 2, "backoff": 0, "backoff_max": 0},
        max_parallel=agents,
    )
    fig = Figures("a task kills the tmux server on every try")
    proc = start_supervisor(project)
    t0 = time.time()
    wait_until(
        lambda: (
            project.task_state("culprit") == TaskState.FAILED
            and all(project.task_state(t) == TaskState.DONE for t in ids)
        ),
        timeout=120 + innocents * task_seconds * 2,
        message="the work did not settle",
    )
    fig["wall time (s)"] = round(time.time() - t0, 1)
    events = project.store.events()
    fig["tmux deaths"] = sum(e.kind == "tmux.down" for e in events)
    fig["culprit tries"] = len((project.root / "culprit.txt").read_text().split())
    culprit = [(a.outcome.value, a.reason) for a in project.store.attempts("culprit")]
    fig["culprit attempts"] = [o for o, _ in culprit]
    fig.check(
        [o for o, _ in culprit if o == "lost"] == ["lost", "lost"],
        f"the culprit was not charged its two tries: {culprit}",
    )
    ends: Counter[str] = Counter()
    for task_id in ids:
        attempts = project.store.attempts(task_id)
        ends.update(a.outcome.value for a in attempts)
        used = [a.outcome.value for a in attempts if a.outcome.value in ("lost", "failed")]
        fig.check(not used, f"{task_id} used a try for the culprit's doing: {used}")
    fig["innocent attempts"] = dict(ends)
    fig.check(ends["interrupted"] >= 1, "no innocent task was in flight at a tmux death")
    finished = Counter(
        line.split()[0]
        for line in (project.root / "effects.txt").read_text().splitlines()
        if line.endswith(" end")
    )
    fig.check(finished == Counter(ids), f"innocent tasks ended twice or never: {finished}")
    fig["agents dead"] = [a.name for a in project.store.agents() if a.state.value == "dead"]
    fig.check(not fig["agents dead"], "agents were left dead after the tmux deaths")
    fig.check(proc.poll() is None, "the supervisor died")
    return fig
