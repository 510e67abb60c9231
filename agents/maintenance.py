"""Operations without the loop: health checks, clean-up and on-demand recovery.

`health` only reads. `cleanup` removes what nothing uses any more (windows no agent owns,
agent rows the config dropped, stale leases, old logs and run files); it changes the store
only while it holds the supervisor lock, since the supervisor is the only writer of task
and agent state. `recover` is the reconciliation a supervisor runs when it starts, run
once on demand, without dispatching any work.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from overseer.agents import crashes, runner
from overseer.agents import health as proc
from overseer.agents.clis import CLIS
from overseer.agents.lock import LockHeld, SupervisorLock, is_held
from overseer.agents.recovery import record, settle_orphan
from overseer.agents.tmux import (
    PaneInfo,
    TmuxError,
    TmuxServer,
    server_label,
    tmux_binary,
    tmux_version,
)
from overseer.state import hosts, pool
from overseer.state.config import Config
from overseer.state.drift import describe, drift
from overseer.state.models import Agent, AgentState, Task, TaskState, host_of
from overseer.state.paths import StatePaths
from overseer.state.store import (
    SCHEMA_VERSION,
    Store,
    StoreError,
    explain,
    project_store,
    store_exists,
)

OK, WARN, FAIL = "ok", "warn", "fail"
RECOMMENDED_TMUX = (3, 6)
DISK_FAIL_BYTES = 100 << 20  # below this the store can no longer be trusted to write
DISK_WARN_BYTES = 1 << 30
DISK_WARN_FRACTION = 0.05
LOG_WARN_BYTES = 256 << 20  # one agent log this big
LOGS_WARN_BYTES = 1 << 30  # all logs together
RUN_FILE = re.compile(r"^(?P<task>.+)\.(?P<n>\d+)\.(?P<ext>sh|cmd|rc|rc\.tmp|pid|key|verify)$")
AGENT_RC = re.compile(r"^agent-(?P<agent>.+)\.bashrc$")
SHELL_WORDS = frozenset({"exec", "env", "command", "nohup", "nice"})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "fish", "-sh", "-bash"})
NOISE = frozenset({"supervisor.start", "supervisor.stop"})


@dataclass(frozen=True)
class Check:
    """One health check: ok, warn or fail, with what was seen."""

    name: str
    status: str
    detail: str

    def as_json(self) -> dict[str, str]:
        """The check as `overseer health --json` prints it."""
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Action:
    """One clean-up step: done, only proposed (dry run), or skipped with the reason."""

    kind: str
    target: str
    detail: str
    done: bool
    skipped: str | None = None

    def as_json(self) -> dict[str, object]:
        """The action as `overseer cleanup --json` prints it."""
        return {
            "kind": self.kind,
            "target": self.target,
            "detail": self.detail,
            "done": self.done,
            "skipped": self.skipped,
        }


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _server(config: Config, state_dir: Path) -> TmuxServer | None:
    try:
        return TmuxServer(server_label(config.name, state_dir))
    except TmuxError:
        return None


def _panes(server: TmuxServer | None) -> dict[str, PaneInfo] | None:
    """The private server's panes by window name, or None when it is not running."""
    if server is None or not server.alive():
        return None
    try:
        return {p.window: p for p in server.list_panes()}
    except TmuxError:
        return None


def command_word(command: str) -> str | None:
    """The program a shell command line starts (after exec, env and VAR=value words)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for word in words:
        if word in SHELL_WORDS or word.startswith("-") or re.match(r"^[A-Za-z_]\w*=", word):
            continue
        return word
    return None


def _on_path(word: str, cwd: Path) -> bool:
    if "/" in word:
        path = Path(word) if os.path.isabs(word) else cwd / word
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(word) is not None


# -- health -----------------------------------------------------------------------------


def health(
    state_dir: Path,
    config: Config | None,
    *,
    config_error: str | None = None,
    now: float | None = None,
) -> list[Check]:
    """Every check, in a fixed order; none of them changes anything."""
    now = time.time() if now is None else now
    checks: list[Check] = [_check_config(config, config_error)]
    checks += _check_tmux()
    store: Store | None = None
    db = StatePaths(state_dir).db
    if not store_exists(state_dir):
        checks.append(
            Check("store", WARN, f"no state yet in {state_dir} (`overseer run` makes it)")
        )
    else:
        try:
            store = project_store(state_dir)
            verdict = store.integrity_check()
            version = store.schema_version()
            if verdict != "ok":
                checks.append(Check("store", FAIL, f"integrity_check: {verdict}"))
            elif version != SCHEMA_VERSION:
                checks.append(
                    Check("store", FAIL, f"schema {version}, this Overseer uses {SCHEMA_VERSION}")
                )
            else:
                checks.append(Check("store", OK, f"integrity ok, schema {version}"))
        except (StoreError, OSError) as exc:
            checks.append(Check("store", FAIL, str(exc)))
            store = None
        except sqlite3.Error as exc:  # corrupt pages show up on the first read
            checks.append(Check("store", FAIL, explain(exc, db)))
            store = None
    if store is not None and config is not None:
        checks.append(_check_drift(store, config))
    if store is not None:
        checks += [_check_signals(a) for a in store.agents() if a.kind != "shell"]
    running = is_held(state_dir)
    if store is not None and config is not None:
        config = pool.scaled(config, store)  # the agents a scale added are the fleet's too
    try:
        checks += _check_runtime(state_dir, config, store, running, now)
    except sqlite3.Error as exc:  # a store that opened but fails on read
        checks.append(Check("runtime", FAIL, explain(exc, db)))
    checks.append(_check_disk(state_dir))
    checks.append(_check_logs(state_dir, config, now))
    if config is not None:
        checks.append(_check_commands(config))
    if store is not None:
        store.close()
    return checks


def _check_signals(agent: Agent) -> Check:
    """An AI agent's CLI version and which of its own signals arrived (or why none can)."""
    version = agent.cli_version or "version not seen"
    if agent.version_note:
        version += f" ({agent.version_note})"
    sig = agent.signals
    arrived = sorted(sig.get("arrived") or {})
    if agent.kind not in CLIS:
        return Check(f"agent {agent.name}", OK, f"{agent.kind} {version}; read from its screen")
    if sig.get("degraded"):
        detail = f"signals degraded: using the screen ({sig['degraded']})"
        return Check(f"agent {agent.name}", WARN, f"{agent.kind} {version}; {detail}")
    if not sig.get("injected"):
        return Check(f"agent {agent.name}", OK, f"{agent.kind} {version}; not started yet")
    got = f"signals arrived: {', '.join(arrived)}" if arrived else "no signal arrived yet"
    if not sig.get("session_started"):
        got += "; missing: the session start (signals degraded: using the screen)"
    status = WARN if agent.version_note or not sig.get("session_started") else OK
    return Check(f"agent {agent.name}", status, f"{agent.kind} {version}; {got}")


def _check_config(config: Config | None, error: str | None) -> Check:
    if error:
        return Check("config", FAIL, error)
    if config is None:
        return Check("config", WARN, "no config (pass -c FILE or create ./overseer.yaml)")
    agents = len(config.agent_instances())
    where = str(config.path) if config.path else "the demo"
    return Check("config", OK, f"{where}: {agents} agent(s), {len(config.tasks)} task(s)")


def _check_drift(store: Store, config: Config) -> Check:
    """Tasks whose command, timeout, verify, priority or dependencies the config changed."""
    try:
        drifts = drift(store, config)
    except sqlite3.Error as exc:
        return Check("config-sync", FAIL, explain(exc, store.path))
    if not drifts:
        return Check("config-sync", OK, "the store's tasks match the config")
    return Check(
        "config-sync",
        WARN,
        f"the config and the store disagree about {len(drifts)} task(s): {describe(drifts)}; "
        "the store's version runs (`overseer run --sync-config` applies the config's)",
    )


def _check_tmux() -> list[Check]:
    try:
        binary = tmux_binary()
        version = tmux_version(binary)
    except TmuxError as exc:
        return [Check("tmux", FAIL, str(exc))]
    text = f"tmux {version[0]}.{version[1]} ({binary})"
    if version < RECOMMENDED_TMUX:
        return [
            Check(
                "tmux",
                WARN,
                f"{text}: below 3.6 exit statuses can be lost until the server gets a SIGCHLD "
                "(Overseer sends one and reads rc files); 3.6 or newer is recommended",
            )
        ]
    return [Check("tmux", OK, text)]


def _check_runtime(
    state_dir: Path, config: Config | None, store: Store | None, running: bool, now: float
) -> list[Check]:
    checks: list[Check] = []
    counts = store.task_counts() if store else {}
    work = counts.get("ready", 0) + counts.get("running", 0)
    # The supervisor's heartbeat.
    if running and store is not None:
        beat = store.supervisor().heartbeat_at
        age = now - beat if beat else None
        warn = config.heartbeat.warn if config else 30.0
        alert = config.heartbeat.alert if config else 90.0
        pid = store.supervisor().pid
        if age is None or age >= alert:
            seen = "never" if age is None else f"{_age(age)} ago"
            checks.append(Check("supervisor", FAIL, f"pid {pid} holds the lock; heartbeat {seen}"))
        elif age >= warn:
            checks.append(Check("supervisor", WARN, f"pid {pid}: heartbeat {_age(age)} ago"))
        else:
            checks.append(Check("supervisor", OK, f"pid {pid}: heartbeat {age:.1f}s ago"))
    elif running:
        checks.append(Check("supervisor", WARN, "a process holds the supervisor lock"))
    elif work:
        checks.append(
            Check("supervisor", WARN, f"not running, and {work} task(s) wait (`overseer run`)")
        )
    else:
        checks.append(Check("supervisor", OK, "not running; no work waits"))
    # The private tmux server and its panes.
    panes: dict[str, PaneInfo] | None = None
    if config is not None:
        server = _server(config, state_dir)
        panes = _panes(server)
        if panes is not None:
            checks.append(Check("tmux-server", OK, f"{server.label if server else ''}: up"))
        elif running:
            checks.append(Check("tmux-server", FAIL, "the supervisor runs but tmux is unreachable"))
        elif counts.get("running", 0):
            checks.append(
                Check(
                    "tmux-server",
                    WARN,
                    "down while tasks are recorded as running (`overseer recover` settles them)",
                )
            )
        else:
            checks.append(Check("tmux-server", OK, "not running"))
    # Leases.
    if store is not None:
        stale = [
            t
            for t in store.tasks([TaskState.RUNNING])
            if t.lease_expires_at is not None and t.lease_expires_at < now
        ]
        if not stale:
            checks.append(Check("leases", OK, f"{counts.get('running', 0)} running, none stale"))
        else:
            ids = ", ".join(t.id for t in stale[:8])
            if running:
                checks.append(Check("leases", FAIL, f"{len(stale)} expired and not renewed: {ids}"))
            else:
                checks.append(
                    Check(
                        "leases",
                        WARN,
                        f"{len(stale)} left by a stopped supervisor: {ids} "
                        "(`overseer recover` or `overseer run` settles them)",
                    )
                )
    # Panes no agent owns, dead panes, dead agents.
    if config is not None:
        names = own_names(config, store)
        notes: list[str] = []
        status = OK
        if panes is not None:
            orphans = sorted(set(panes) - names)
            if orphans:
                status = WARN
                notes.append(f"windows no agent owns: {', '.join(orphans)} (`overseer cleanup`)")
            dead = sorted(n for n, p in panes.items() if n in names and p.dead)
            if dead:
                status = WARN
                notes.append(f"dead panes: {', '.join(dead)}")
            if running:
                missing = sorted(names - set(panes))
                if missing:
                    status = WARN
                    notes.append(f"agents without a pane: {', '.join(missing)}")
        if store is not None:
            for agent in store.agents():
                if agent.state == AgentState.DEAD and agent.name in names:
                    status = WARN
                    notes.append(f"{agent.name} is dead: {agent.reason or 'no reason recorded'}")
        leftovers = _leftover_wrappers(state_dir, store)
        if leftovers:
            status = WARN
            notes.append(f"processes of finished attempts still alive: {', '.join(leftovers)}")
        checks.append(Check("panes", status, "; ".join(notes) or "every pane has its agent"))
    return checks


def _leftover_wrappers(state_dir: Path, store: Store | None) -> list[str]:
    """Wrappers still alive for attempts the store no longer counts as running."""
    if store is None:
        return []
    running = {(a.task_id, a.number) for a in store.running_attempts()}
    out = []
    for pid_file in StatePaths(state_dir).run.glob("*.pid"):
        m = RUN_FILE.match(pid_file.name)
        if m is None or (m["task"], int(m["n"])) in running:
            continue
        pid = runner.read_pid(pid_file)
        script = pid_file.name[: -len(".pid")] + ".sh"
        if proc.wrapper_alive(pid, script):
            out.append(f"{m['task']} attempt {m['n']} (pid {pid})")
    return sorted(out)


def _check_disk(state_dir: Path) -> Check:
    where = state_dir if state_dir.exists() else state_dir.parent
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return Check("disk", FAIL, f"cannot read the free space of {where}: {exc}")
    text = f"{_size(usage.free)} free of {_size(usage.total)}"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, f"{text}: the store and the logs need room")
    if usage.free < DISK_WARN_BYTES or usage.free < usage.total * DISK_WARN_FRACTION:
        return Check("disk", WARN, f"{text}: nearly full")
    return Check("disk", OK, text)


def _check_logs(state_dir: Path, config: Config | None, now: float) -> Check:
    logs = sorted(StatePaths(state_dir).logs.glob("*.log"))
    if not logs:
        return Check("logs", OK, "no logs yet")
    sizes = {p: p.stat().st_size for p in logs if p.exists()}
    total = sum(sizes.values())
    big = [p.name for p, n in sizes.items() if n >= LOG_WARN_BYTES]
    keep = config.retention_seconds if config else Config().retention_seconds
    old = [p.name for p in sizes if now - p.stat().st_mtime > keep]
    text = f"{len(sizes)} log(s), {_size(total)}"
    notes = []
    if big:
        notes.append(f"large: {', '.join(big)}")
    if total >= LOGS_WARN_BYTES:
        notes.append("over 1 GB together")
    if old:
        notes.append(f"past retention: {', '.join(old)} (`overseer cleanup`)")
    if notes:
        return Check("logs", WARN, f"{text}; " + "; ".join(notes))
    return Check("logs", OK, text)


def _check_commands(config: Config) -> Check:
    missing = []
    for name, spec in config.agent_instances():
        command = spec.command or "bash"
        word = command_word(command)
        cwd = Path(spec.cwd) if spec.cwd else config.base_dir
        if word is None or not _on_path(word, cwd):
            missing.append(f"{name}: {word or command!r}")
    if missing:
        return Check("agent-commands", FAIL, "not found on PATH: " + "; ".join(missing))
    return Check("agent-commands", OK, "every agent's command is on PATH")


def failed(checks: Iterable[Check]) -> bool:
    """Whether any check failed."""
    return any(c.status == FAIL for c in checks)


# -- cleanup ----------------------------------------------------------------------------


BUSY_NOTE = "a supervisor is running; it settles this itself"


@dataclass(frozen=True)
class Clean:
    """One clean-up run: the project, its panes, and how far it may go."""

    config: Config
    paths: StatePaths
    panes: dict[str, PaneInfo] | None
    names: set[str]  # the configured agents
    now: float
    dry_run: bool
    force: bool
    supervised: bool  # a supervisor runs: what it settles itself is left to it

    @property
    def keep(self) -> float:
        """Seconds logs, run files and history are kept."""
        return self.config.retention_seconds


def cleanup(
    state_dir: Path,
    config: Config,
    *,
    dry_run: bool = False,
    force: bool = False,
    now: float | None = None,
) -> list[Action]:
    """Remove what no agent or attempt uses any more; with dry_run only say what would go."""
    lock = SupervisorLock(state_dir, role="cleanup")
    owned = False
    if not dry_run:
        try:
            lock.acquire()
            owned = True
        except LockHeld:
            owned = False
    store = project_store(state_dir) if store_exists(state_dir) else None
    if store is not None:
        config = pool.scaled(config, store)  # agents `overseer scale` added are not orphans
    c = Clean(
        config,
        StatePaths(state_dir),
        _panes(_server(config, state_dir)),
        own_names(config, store),
        time.time() if now is None else now,
        dry_run,
        force,
        supervised=not owned and is_held(state_dir),
    )
    actions: list[Action] = []
    try:
        actions += _clean_windows(c)
        if store is not None:
            actions += _clean_history(c, store)
            actions += _clean_agent_rows(c, store)
            actions += _clean_leases(c, store)
        actions += _clean_logs(c)
        actions += _clean_crashes(c)
        actions += _clean_worktrees(c)
        actions += _clean_run_files(c, store)
    finally:
        if store is not None:
            store.close()
        if owned:
            lock.release()
    return actions


def _clean_windows(c: Clean) -> list[Action]:
    if c.panes is None:
        return []
    server = _server(c.config, c.paths.root)
    out = []
    for window, pane in sorted(c.panes.items()):
        if window in c.names:
            continue
        busy = not pane.dead and (proc.has_children(pane.pid) or pane.current_command not in SHELLS)
        detail = f"window {window!r} ({pane.pane_id}) belongs to no agent"
        if busy and not c.force:
            out.append(Action("window", window, detail, False, "a program runs in it (--force)"))
            continue
        if not c.dry_run and server is not None:
            server.run("kill-window", "-t", pane.pane_id, check=False)
        out.append(Action("window", window, detail, not c.dry_run))
    return out


def own_names(config: Config, store: Store | None) -> set[str]:
    """The configured agents as the store names them (on a shared store: "host/agent")."""
    here = store.here if store is not None else None
    return {hosts.qualified(here, n, True) if here else n for n, _ in config.agent_instances()}


def elsewhere(store: Store, agent: str | None) -> bool:
    """Whether an agent is another host's (a shared store): not this machine's to clean."""
    return store.here is not None and agent is not None and host_of(agent) != store.here


def _clean_agent_rows(c: Clean, store: Store) -> list[Action]:
    out = []
    for agent in store.agents():
        if elsewhere(store, agent.name):
            continue
        pane = (c.panes or {}).get(agent.name)
        if agent.name not in c.names:
            if pane is not None and not pane.dead:
                continue  # its window is handled above; the row goes once the pane is gone
            detail = f"agent {agent.name} is no longer in the config and has no pane"
            if c.supervised:
                out.append(Action("agent-row", agent.name, detail, False, BUSY_NOTE))
                continue
            if not c.dry_run:
                store.remove_agent(agent.name)
            out.append(Action("agent-row", agent.name, detail, not c.dry_run))
        elif (pane is None or pane.dead) and agent.state != AgentState.DEAD:
            detail = f"agent {agent.name} is recorded {agent.state.value} but has no pane"
            if c.supervised:
                out.append(Action("agent-row", agent.name, detail, False, BUSY_NOTE))
                continue
            if not c.dry_run:
                store.update_agent(
                    agent.name,
                    state=AgentState.DEAD,
                    state_since=time.time(),
                    reason="no pane (cleanup); `overseer run` starts it again",
                    task_id=None,
                    attempt_id=None,
                )
                store.event("agent.dead", f"{agent.name}: no pane (cleanup)", agent=agent.name)
            out.append(Action("agent-row", agent.name, detail + ": marked dead", not c.dry_run))
    return out


def _clean_leases(c: Clean, store: Store) -> list[Action]:
    out = []
    run_dir = c.paths.run
    for task in store.tasks([TaskState.RUNNING]):
        if task.lease_expires_at is None or task.lease_expires_at >= c.now:
            continue
        if elsewhere(store, task.claimed_by):
            continue  # another host's: its supervisor, or the hosts that outlive it, settle it
        where = f"{task.id} attempt {task.attempts} (lease expired {_age(c.now - task.lease_expires_at)} ago)"
        if c.supervised:
            out.append(Action("lease", task.id, where, False, BUSY_NOTE))
            continue
        d = runner.Dispatch.latest(run_dir, task, store.attempts(task.id))
        if runner.read_rc(d.rc_path) is None and d.wrapper() is not None and not c.force:
            out.append(
                Action(
                    "lease",
                    task.id,
                    where + ": still running in its pane",
                    False,
                    "`overseer run` re-adopts it (--force stops it)",
                )
            )
            continue
        settled = settle_orphan(
            d,
            task,
            why="lease expired with no supervisor running (cleanup)",
            shell_gone=functools.partial(_shell_gone, store, task, c.panes),
            end=not c.dry_run,
        )
        if not c.dry_run:
            record(store, task, settled, delay=c.config.retry.delay)
        out.append(Action("lease", task.id, f"{where}: {settled.detail}", not c.dry_run))
    return out


def _shell_gone(store: Store, task: Task, panes: dict[str, PaneInfo] | None) -> bool:
    """Whether the shell the task was typed into is gone (dead, or its pane replaced)."""
    agent = store.agent(task.claimed_by) if task.claimed_by else None
    if agent is None or not proc.alive(agent.pid):
        return True
    pane = (panes or {}).get(agent.name)
    return pane is None or pane.dead or pane.pid != agent.pid


def _clean_logs(c: Clean) -> list[Action]:
    out = []
    for log in sorted(c.paths.logs.glob("*.log")):
        try:
            age = c.now - log.stat().st_mtime
        except OSError:
            continue
        if age <= c.keep:
            continue
        pane = (c.panes or {}).get(log.stem)
        detail = f"log {log.name}, last written {_age(age)} ago"
        if pane is not None and not pane.dead and not c.force:
            out.append(Action("log", log.name, detail, False, "its pane still writes it (--force)"))
            continue
        if not c.dry_run:
            log.unlink(missing_ok=True)
            c.paths.times(log.stem).unlink(missing_ok=True)  # its output's times go with it
        out.append(Action("log", log.name, detail, not c.dry_run))
    for times in sorted(c.paths.times_dir.glob("*.times")):
        if c.paths.log(times.stem).exists():
            continue
        if not c.dry_run:
            times.unlink(missing_ok=True)
        out.append(Action("log", times.name, "output times of a log gone", not c.dry_run))
    return out


def _clean_crashes(c: Clean) -> list[Action]:
    """Crash contexts past `retention` (its days, and beyond the newest `retention.crashes`)."""
    return [
        Action("crash", path.name, "crash context past retention", not c.dry_run)
        for path in crashes.prune(c.paths, c.config, c.now, dry_run=c.dry_run)
    ]


def _clean_worktrees(c: Clean) -> list[Action]:
    """Agents' git worktrees: removed when their agent is not running and they are clean
    (nothing uncommitted, no commit the base lacks), or with --force."""
    from overseer.agents import worktree

    parent = c.paths.worktrees
    if not parent.is_dir():
        return []
    try:
        repo = worktree.repo_root(c.config.base_dir)
        trees = worktree.list_worktrees(repo)
    except worktree.WorktreeError as exc:
        return [Action("worktree", str(parent), "cannot list worktrees", False, str(exc))]
    out = []
    root = parent.resolve()
    for path, branch in trees:
        if path.resolve().parent != root:
            continue
        agent = path.name
        pane = (c.panes or {}).get(agent)
        detail = f"worktree {path} ({branch})"
        if pane is not None and not pane.dead and not c.force:
            out.append(
                Action(
                    "worktree",
                    agent,
                    detail,
                    False,
                    "its agent works in it (stop the agents first, or --force)",
                )
            )
            continue
        try:
            st = worktree.status(path)
        except worktree.WorktreeError as exc:
            out.append(Action("worktree", agent, detail, False, str(exc)))
            continue
        if not st.clean and not c.force:
            why = f"{st.dirty} uncommitted file(s), {st.ahead} commit(s) not in {st.base}"
            out.append(Action("worktree", agent, detail, False, f"{why} (--force)"))
            continue
        if c.dry_run:
            out.append(Action("worktree", agent, detail, False))
            continue
        try:
            done = worktree.remove_worktree(repo, path, force=c.force)
        except worktree.WorktreeError as exc:
            out.append(Action("worktree", agent, detail, False, str(exc)))
            continue
        out.append(Action("worktree", agent, f"{detail}: {done}", True))
    return out


def _clean_history(c: Clean, store: Store) -> list[Action]:
    """Events and applied commands past `retention` (a running supervisor does this too)."""
    before = c.now - c.config.retention_seconds
    keep = c.config.retention_events
    if c.dry_run:
        gone = store.trimmable_history(before, keep)
    else:
        gone = {"events": 0, "commands": 0}
        while True:
            step = store.trim_history(before, keep)
            for k, n in step.items():
                gone[k] += n
            if not any(step.values()):
                break
    if not any(gone.values()):
        return []
    detail = (
        f"{gone['events']} event(s) and {gone['commands']} operator command(s) older than "
        f"{c.config.retention_days:g} days or beyond the newest {keep:,} events"
    )
    return [Action("history", "store", detail, not c.dry_run)]


def _clean_run_files(c: Clean, store: Store | None) -> list[Action]:
    run_dir = c.paths.run
    if not run_dir.is_dir():
        return []
    running = {(a.task_id, a.number) for a in store.running_attempts()} if store else set()
    tasks_known = {t.id for t in store.tasks()} if store else set()
    grouped: dict[str, list[Path]] = {}
    for path in sorted(run_dir.iterdir()):
        m = RUN_FILE.match(path.name)
        if m is not None:
            if (m["task"], int(m["n"])) in running or store is None:
                continue  # a live attempt, or no store to say it is finished
            try:
                age = c.now - path.stat().st_mtime
            except OSError:
                continue
            if age > c.keep or c.force or m["task"] not in tasks_known:
                grouped.setdefault(f"{m['task']} attempt {m['n']}", []).append(path)
            continue
        a = AGENT_RC.match(path.name)
        if a is not None and a["agent"] not in c.names:
            grouped.setdefault(f"start-up file of agent {a['agent']}", []).append(path)
    out = []
    for what, paths in grouped.items():
        if not c.dry_run:
            for p in paths:
                p.unlink(missing_ok=True)
        out.append(Action("run-files", what, f"{len(paths)} file(s) of {what}", not c.dry_run))
    return out


# -- recover ----------------------------------------------------------------------------


def recover(config: Config, state_dir: Path) -> list[str]:
    """Run the start-up reconciliation once, without dispatching; return what it changed.

    Raises LockHeld when a supervisor runs (it reconciles continuously by itself).
    """
    from overseer.agents.supervisor import Supervisor

    sup = Supervisor(config, state_dir)
    store = sup.store
    since = store.last_event_id()
    before = {a.name: a.state for a in store.agents()}
    try:
        sup.start()
    except LockHeld:
        store.close()
        raise
    try:
        for rt in sup.agents.values():
            rt.driver.read(rt)
        sup.sweep(time.time())
    finally:
        sup.shutdown()
    # Agents' state events are summed up per agent: re-adopting an idle pane changes nothing.
    states = {f"agent.{s.value}" for s in AgentState}
    changes = [
        f"{e.kind}: {e.message}"
        for e in store.events(since=since)
        if e.kind not in NOISE and e.kind not in states
    ]
    for agent in store.agents():
        was = before.get(agent.name)
        if was != agent.state:
            why = f" ({agent.reason})" if agent.reason else ""
            changes.append(
                f"agent {agent.name}: {was.value if was else 'new'} -> {agent.state.value}{why}"
            )
    store.close()
    return changes
