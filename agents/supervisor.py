"""The supervisor loop: commands -> claims -> dispatch -> observe -> record -> escalate.

It is the only writer of task and agent state and the only code that changes tmux. Output
arrives by push (pipe-pane logs, inotify); a sweep of `list-panes -a` once a second is the
safety net for dead panes, lost sentinels (rc files) and leases.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import NoReturn

import psutil

from overseer.agents import health, runner, worktree
from overseer.agents.classify import BUSY, IDLE, UNKNOWN, WAITING, choice_parts
from overseer.agents.explain import ExplainError, rules_for
from overseer.agents.insights import CPU_ACTIVE_RATE, CPU_NOTE, Insights
from overseer.agents.interactive import InteractiveAgent
from overseer.agents.lock import (
    LockHeld,
    SupervisorLock,
    clear_tmux_owner,
    set_tmux_owner,
    tmux_owner,
)
from overseer.agents.notify import Notifier
from overseer.agents.operator import check_answer
from overseer.agents.profiles import AI_KINDS, Profile, PromptMatch, match_prompt, profile
from overseer.agents.recovery import Settlement, hung_up, loss_reason, stop_orphan
from overseer.agents.recovery import record as record_settlement
from overseer.agents.runner import Dispatch, Status
from overseer.agents.stream import LogStream, LogWatcher, to_text
from overseer.agents.tmux import PaneInfo, TmuxError, TmuxServer, server_label
from overseer.agents.wakeup import Wakeup
from overseer.state import queue
from overseer.state.config import AgentSpec, Config
from overseer.state.drift import task_specs
from overseer.state.models import AgentState, Attempt, AttemptOutcome, Command, Task, TaskState
from overseer.state.paths import StatePaths
from overseer.state.redact import mask
from overseer.state.statedir import (
    UnsafeStateDir,
    check_tree,
    command_origin,
    ensure_gitignore,
    foreign,
    origin_record,
)
from overseer.state.store import DEMO_CONFIG, Store, StoreError, ensure_private_dir, explain

log = logging.getLogger("overseer.supervisor")

LEASE_S = 30.0  # a claim lives this long without renewal
STOP_GRACE = health.TERM_GRACE  # SIGTERM, then SIGKILL after this
STOP_GIVE_UP = 10.0  # after SIGKILL: no status by then => attempt lost
WRAPPER_START_GRACE = 10.0  # a typed wrapper that never wrote its pid file by then is lost
STARTING_FALLBACK = 5.0  # a custom shell command without a ready marker counts as idle after this
SWEEP_INTERVAL = 1.0
TRIM_EVERY = 300.0  # seconds between trims of the event and command logs
TRIM_SOON = 1.0  # after a full batch
TRIM_BATCH = 5000
PROMOTE_EVERY = 60.0  # seconds between safety-net passes over every pending task
INSIGHTS_MIN_GAP = 1.0  # suggestions are recomputed at most once a sweep
TAIL_CHARS = 4000
SILENT_TURN = 3.0
LIMIT_RULES = frozenset(
    {"rate-limit", "context-limit"}
)  # verdicts that end a turn as failed  # a submitted prompt with no busy screen counts as done after this much idle
TMUX_PATIENCE = 30.0  # --until-done waits this long for a tmux server that went away
# Failures to persist state (disk full, read-only, locked or corrupt database): the
# supervisor stops with a clear message, and the next start recovers as after a kill -9.
PERSIST_ERRORS = (StoreError, sqlite3.Error, OSError)


@dataclass
class Running:
    """An attempt in flight in one agent."""

    task: Task
    attempt: Attempt
    dispatch: Dispatch
    started: float
    mark: int  # ring position when dispatched: output after it belongs to this attempt
    deadline: float | None
    stop_outcome: AttemptOutcome | None = None
    stop_detail: str | None = None
    block_reason: str | None = None
    release: bool = False
    by_operator: bool = False  # a person interrupted or stopped it: not the agent's failure
    stop_at: float | None = None
    killed: bool = False
    wrapper_seen: bool = False
    # A loss whose leftover processes are being ended (settled by escalate_stop), a
    # stopped attempt's status held back until they are gone, and those processes.
    lost: str | None = None
    lost_as: AttemptOutcome = AttemptOutcome.LOST  # how a loss being settled is recorded
    pending: Status | None = None
    leftovers: list[psutil.Process] = field(default_factory=list)
    shell_pid: int | None = None  # the agent shell it was typed into (None: that one is gone)
    # Interactive agents: when Enter was pressed, whether the agent took the prompt, and
    # whether it was ever seen working on it.
    enter_at: float = 0.0
    enter_retries: int = 0
    submitted_at: float | None = None
    saw_busy: bool = False
    screen_at_enter: int = 0


@dataclass
class AgentRuntime:
    """What the supervisor knows of one agent between store writes."""

    name: str
    spec: AgentSpec
    profile: Profile
    stream: LogStream
    state: AgentState = AgentState.STARTING
    state_since: float = field(default_factory=time.time)
    pane_id: str | None = None
    pid: int | None = None
    ready_nonce: str = ""
    scanner: runner.Scanner = field(default_factory=runner.Scanner)
    running: Running | None = None
    last_output_at: float | None = None
    heartbeat_at: float | None = None
    cpu_seconds: float = 0.0
    cpu_rate: float = 0.0  # share of a core the pane's processes used since the last sweep
    cpu_sampled_at: float | None = None
    respawn_times: list[float] = field(default_factory=list)
    respawns: int = 0
    consecutive_failures: int = 0
    paused: bool = False
    reason: str | None = None
    prompt: str | None = None
    last_line: str = ""
    last_line_of: tuple[int, int] = (0, -1)  # (ring, bytes seen) that last_line was taken from
    written: bool = False  # the state row has been written at least once
    awaiting_tmux: bool = False  # its pane went with the tmux server; respawn when it is back
    ia: InteractiveAgent | None = None  # interactive agents: virtual screen + verdicts
    choices: tuple[str, ...] = ()  # the menu an interactive agent shows while waiting
    flushed: tuple[object, ...] = ()
    retiring: bool = False  # no longer configured: finish what runs, take no work, close


RESTING = frozenset({AgentState.IDLE, AgentState.PAUSED, AgentState.DEAD})


class Supervisor:
    """One project's supervisor; `run()` is the loop, `apply_offline()` serves the CLI."""

    def __init__(
        self,
        config: Config,
        state_dir: Path,
        *,
        tmux_binary: str | None = None,
        lease_s: float = LEASE_S,
        trust_state: bool = False,
    ) -> None:
        self.config = config
        check_tree(Path(state_dir))  # before anything is created, changed or opened in it
        self.state_dir = ensure_private_dir(Path(state_dir))
        ensure_gitignore(self.state_dir)
        self.paths = StatePaths(self.state_dir)
        self.logs_dir = ensure_private_dir(self.paths.logs)
        self.run_dir = ensure_private_dir(self.paths.run)
        self.store = Store(self.paths.db)
        self.lock = SupervisorLock(self.state_dir)
        self.tmux_binary = tmux_binary
        self.server: TmuxServer | None = None
        self.lease_s = lease_s
        self.agents: dict[str, AgentRuntime] = {}
        self.changed: set[str] = set()
        self.changed_lock = threading.Lock()
        self.wake = Wakeup()
        self.stop_requested = False
        self.kill_agents_on_exit = False
        self.started_at = time.time()
        self.watcher: LogWatcher | None = None
        self.next_sweep = 0.0
        self.work_hint = True
        self.tmux_down_since: float | None = None
        self.offline = False
        self.insights = Insights(
            self.store,
            self.state_dir,
            stall_timeout=config.stall_timeout,
            tmux_label=server_label(config.name, self.state_dir),
        )
        self.notifier: Notifier | None = None
        self.suspects: set[str] = set()  # tasks a tmux server death cut off: they run alone
        self.insights_failed_at = 0.0
        self.insights_due = 0.0
        self.trim_due = 0.0
        self.trust_state = trust_state
        self.origin = command_origin()
        # (device, inode) of the store and the lock at start: a wiped state dir shows here.
        self.identity: dict[Path, tuple[int, int]] = {}
        self.orphaned: str | None = None  # why the state dir is no longer ours (then: drain)
        self.promote_due = 0.0

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Lock the state dir, seed tasks, bring up tmux and the agents, recover attempts."""
        try:
            self.lock.acquire()
        except LockHeld as exc:
            # The lock file names nobody (its state dir went under it): the tmux server may.
            held = self.owner_elsewhere() if exc.pid is None else None
            if held is None:
                raise
            raise held from exc
        try:
            self.check_origin()
            self.identity = self.current_identity()
            held = self.owner_elsewhere()  # before anything is written or any pane adopted
            if held is not None:
                raise held
        except BaseException:
            self.lock.release()
            raise
        self.store.meta_set("config", str(self.config.path) if self.config.path else DEMO_CONFIG)
        # Commands that only talk to this supervisor use it while the file on disk is broken.
        self.store.meta_set("config_text", self.config.text)
        self.store.supervisor_beat(os.getpid(), socket.gethostname(), self.started_at, time.time())
        self.seed_tasks()
        queue.promote(self.store)
        self.suspects = queue.suspects(self.store)
        self.server = TmuxServer(
            server_label(self.config.name, self.state_dir), binary=self.tmux_binary
        )
        self.server.ensure_server()
        set_tmux_owner(self.server)
        self.server.open_control()  # typing and pane listing without a tmux process each
        self.store.event(
            "supervisor.start",
            f"supervisor {os.getpid()} started (tmux -L {self.server.label})",
            data={"pid": os.getpid(), "tmux_label": self.server.label},
        )
        if self.config.notify is not None:
            # From here on: what re-adoption and recovery find (results that came in while
            # no supervisor ran, agents waiting at a prompt) is notified too.
            self.notifier = Notifier(
                self.config.notify,
                self.store,
                self.state_dir,
                cwd=self.config.base_dir,
                project=self.config.name,
            )
        for name, spec in self.config.agent_instances():
            self.store.upsert_agent(name, spec.kind)
            rt = self.new_runtime(name, spec)
            self.agents[name] = rt
            self.adopt_or_spawn(rt)
        self.adopt_unconfigured()
        self.recover()
        self.retire_finished()
        self.watcher = LogWatcher(self.logs_dir, self.on_logs_changed)
        self.watcher.start()

    def new_runtime(self, name: str, spec: AgentSpec) -> AgentRuntime:
        """The in-memory runtime of one agent pane (with its screen reader if it takes prompts)."""
        rt = AgentRuntime(
            name=name,
            spec=spec,
            profile=profile(spec.kind),
            stream=LogStream(self.log_path(name), start_at_end=True),
        )
        if spec.takes_prompts:
            rules = rules_for(spec.kind, spec)
            assert rules is not None
            rt.ia = InteractiveAgent(AI_KINDS[spec.kind], rules, clock=time.time)
        return rt

    def adopt_unconfigured(self) -> None:
        """Panes and claims of agents the config no longer names (count shrunk, renamed).

        An attempt still running there is re-adopted and watched to its end like any other
        (recover() decides), never requeued to run beside itself; the pane is closed once it
        has ended (retire_finished). Their idle panes are closed now.
        """
        claimed = {a.agent for a in self.store.running_attempts()} - set(self.agents)
        panes = {p.window: p for p in self.tmux.list_panes() if p.window not in self.agents}
        for name in sorted(claimed):
            row = self.store.agent(name)
            spec = AgentSpec(name=name, kind=row.kind if row is not None else "shell")
            try:
                rt = self.new_runtime(name, spec)
            except ExplainError:  # a custom kind's patterns went with its config
                rt = self.new_runtime(name, AgentSpec(name=name))
            rt.retiring = True
            self.agents[name] = rt
            pane = panes.get(name)
            if pane is not None and not pane.dead:
                self.adopt_or_spawn(rt)  # a live pane: re-adopted, never respawned
        for name in sorted(set(panes) - claimed):
            pane = panes[name]
            if not pane.dead and health.has_children(pane.pid):
                # Not ours to end: someone runs something there (`overseer clean --force`).
                self.store.event(
                    "agent.unconfigured",
                    f"{name}: no longer configured, but a program runs in its pane; left open",
                    agent=name,
                )
                continue
            self.retire(name)
        for row in self.store.agents():
            if row.name not in self.agents and row.name not in panes:
                self.store.remove_agent(row.name)

    def retire_finished(self) -> None:
        """Close the panes of unconfigured agents whose last attempt has ended."""
        for rt in [rt for rt in self.agents.values() if rt.retiring and rt.running is None]:
            del self.agents[rt.name]
            self.retire(rt.name)

    def retire(self, name: str) -> None:
        """Close the window of an agent no longer configured and forget it."""
        with contextlib.suppress(TmuxError):
            self.tmux.kill_window(name)
        self.store.remove_agent(name)
        self.store.event(
            "agent.retired", f"{name}: no longer configured; its pane was closed", agent=name
        )

    def seed_tasks(self) -> None:
        """Insert the config's tasks that the store does not have yet."""
        self.store.upsert_tasks(task_specs(self.config))

    def check_origin(self) -> None:
        """Refuse a store made on another machine, by another user or elsewhere, unless trusted."""
        why = foreign(self.store.meta_get("origin"), self.state_dir)
        if why is None:
            return
        if not self.trust_state:
            raise UnsafeStateDir(
                f"refusing the state in {self.state_dir}: {why}. Overseer runs no task and "
                "applies no command from a state dir it did not make here; if you trust it, "
                "start once with `overseer run --trust-state` (its queued operator commands "
                "are still not applied)"
            )
        self.store.meta_set("origin", origin_record(self.state_dir))
        self.store.event("state.trusted", f"state dir trusted with --trust-state: {why}")

    def current_identity(self) -> dict[Path, tuple[int, int]]:
        """(device, inode) of the store and of the lock file this supervisor holds."""
        st = os.stat(self.store.path)
        held = self.lock.identity()
        assert held is not None
        return {self.store.path: (st.st_dev, st.st_ino), self.lock.path: held}

    def owner_elsewhere(self) -> LockHeld | None:
        """The refusal to give when the project's tmux server records another live supervisor
        as its owner (one whose state dir was removed still holds it), else None."""
        label = server_label(self.config.name, self.state_dir)
        owner = tmux_owner(self.server or TmuxServer(label, binary=self.tmux_binary))
        if owner is None or owner.pid == os.getpid():
            return None
        return LockHeld(self.lock.path, owner.pid, detail=orphan_message(owner.pid, owner.note))

    def state_dir_lost(self) -> bool:
        """Whether the store or the lock at their paths are no longer the files this supervisor
        opened (the state dir was deleted or replaced): then stop dispatching, at once."""
        if self.orphaned is not None:
            return True
        for path, ident in self.identity.items():
            try:
                st = os.stat(path, follow_symlinks=False)
            except OSError:
                why = f"{path.name} is gone"
            else:
                if (st.st_dev, st.st_ino) == ident:
                    continue
                why = f"{path.name} was replaced"
            self.orphan(why)
            return True
        return False

    def orphan(self, why: str) -> None:
        """Dispatch nothing, apply nothing, write nothing in the state dir from now on; say why.

        The attempts in flight are left to finish (their results can no longer be recorded);
        until they have, the tmux owner record and the kernel lock keep any other supervisor
        from driving these panes.
        """
        busy = sum(rt.running is not None for rt in self.agents.values())
        self.orphaned = f"the state dir {self.state_dir} was removed or replaced ({why})"
        log.error(
            "overseer: %s while this supervisor ran: it dispatches nothing and applies no "
            "command from now on, and stops once the %d attempt(s) in flight have ended",
            self.orphaned,
            busy,
        )
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        with contextlib.suppress(TmuxError):
            set_tmux_owner(self.tmux, note=f"{self.orphaned}; {busy} attempt(s) in flight")

    def drain(self, now: float) -> None:
        """Once a second after the state dir went: forget attempts whose pane has stopped
        working, and stop when none is left (panes are read, never typed into)."""
        if now < self.next_sweep:
            return
        self.next_sweep = now + SWEEP_INTERVAL
        try:
            panes = {p.window: p for p in self.tmux.list_panes()}
        except TmuxError:
            panes = {}
        for rt in self.agents.values():
            pane = panes.get(rt.name)
            if rt.running is None:
                continue
            if pane is None or pane.dead or not health.alive(pane.pid):
                rt.running = None
            elif rt.ia is not None:
                self.adopt_interactive(rt, pane)  # the screen says whether the turn goes on
                if rt.state not in (AgentState.BUSY, AgentState.WAITING, AgentState.UNKNOWN):
                    rt.running = None
            elif not health.has_children(pane.pid):
                rt.running = None
        if all(rt.running is None for rt in self.agents.values()):
            self.stop_requested = True

    def shutdown(self) -> None:
        """Stop watching and release the lock; agents keep running unless asked otherwise."""
        self.settle_ends()
        if self.watcher is not None:
            self.watcher.stop()
        # `overseer status` after the run shows the last word.
        self.refresh_insights(time.time(), force=True)
        if self.notifier is not None:
            # The last events (the failure that ended --until-done, one just before
            # `overseer down`) are told before the supervisor goes.
            try:
                self.notifier.flush()
            except Exception:  # a hook problem must never stop the shutdown
                log.exception("notify flush failed")
            self.notifier.close()
        if self.server is not None:
            clear_tmux_owner(self.server)
            self.server.close_control()
        if self.kill_agents_on_exit and self.server is not None:
            self.store.event("supervisor.kill-agents", "tmux server and agents stopped")
            self.server.kill_server()
        self.store.event("supervisor.stop", f"supervisor {os.getpid()} stopped")
        self.store.supervisor_stopped(os.getpid())
        self.lock.release()

    def run(
        self,
        *,
        until_done: bool = False,
        timeout: float | None = None,
        on_step: Callable[[], None] | None = None,
    ) -> int:
        """The loop. Returns 0 when every task is done, 1 otherwise (until-done), 0 on stop.

        Raises StoreError, after stopping cleanly, when state cannot be persisted.
        """
        failure: BaseException | None = None
        signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        # The handlers are in place from start-up until shutdown is over: a signal during
        # either only asks for a stop, and a second one cannot cut shutdown short.
        with self.wake.catching(signals, self._on_signal):
            try:
                self.start()
            except UnsafeStateDir:
                raise  # refused before anything ran: the message says why
            except PERSIST_ERRORS as exc:
                self.halt(exc)
            deadline = time.time() + timeout if timeout else None
            try:
                self.loop(until_done, deadline, timeout, on_step)
            except PERSIST_ERRORS as exc:
                failure = exc
            finally:
                if failure is None:
                    self.shutdown()
        if failure is not None:
            self.halt(failure)
        if self.orphaned is not None:
            raise StateDirGone(
                f"{self.orphaned} while this supervisor ran: it dispatched nothing after that "
                "and has stopped; the results of the attempts then in flight were not recorded. "
                "`overseer run` starts afresh from the config"
            )
        counts = self.store.task_counts()
        if until_done or deadline is not None:
            return 0 if counts["done"] == sum(counts.values()) else 1
        return 0

    def loop(
        self,
        until_done: bool,
        deadline: float | None,
        timeout: float | None,
        on_step: Callable[[], None] | None,
    ) -> None:
        """Step until asked to stop, the work is settled (until-done) or the deadline passes."""
        while not self.stop_requested:
            self.step()
            if on_step is not None:
                on_step()
            if until_done and queue.settled(self.store):
                break
            if until_done and self.fleet_unavailable():
                self.store.event(
                    "supervisor.no-agents",
                    "no agent can take work (all paused or dead) and nothing is running",
                )
                break
            if deadline is not None and time.time() >= deadline:
                self.store.event("supervisor.timeout", f"--timeout {timeout:g}s reached")
                break
            self.wake.wait(min(0.2, max(0.0, self.next_sweep - time.time())))

    def halt(self, exc: BaseException) -> NoReturn:
        """Stop without writing to the store (it is what failed) and say why; agents keep running."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.notifier is not None:
            with contextlib.suppress(Exception):
                self.notifier.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                clear_tmux_owner(self.server)
            with contextlib.suppress(Exception):
                self.server.close_control()
        self.lock.release()
        raise StoreError(
            f"the supervisor stopped: {explain(exc, self.state_dir)}. The agents keep running "
            "in tmux; once this is fixed, `overseer run` picks up where it stopped."
        ) from exc

    def fleet_unavailable(self) -> bool:
        """True when work waits but every agent is paused or dead and none is running."""
        if any(rt.running is not None for rt in self.agents.values()):
            return False
        if self.tmux_down_since is not None and time.time() - self.tmux_down_since < TMUX_PATIENCE:
            return False  # the agents come back with the tmux server
        if any(rt.state not in (AgentState.PAUSED, AgentState.DEAD) for rt in self.agents.values()):
            return False
        return self.store.task_counts()["ready"] > 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: the interpreter has already written to the wake-up pipe.
        self.stop_requested = True

    def on_logs_changed(self, paths: set[Path]) -> None:
        """Called from the watcher thread: remember which agents have new output."""
        names = {p.stem for p in paths if p.suffix == ".log"}
        if names:
            with self.changed_lock:
                self.changed |= names
            self.wake.set()

    def step(self) -> None:
        """One pass of the loop."""
        now = time.time()
        if self.orphaned is not None:
            self.drain(now)
            return
        names = self.read_changed()
        if now >= self.next_sweep:
            self.next_sweep = now + SWEEP_INTERVAL
            self.sweep(now)
        if self.orphaned is not None:
            return
        self.apply_commands()
        now = time.time()
        for rt in self.agents.values():
            self.check_agent(rt, now)
        if self.work_hint or names:
            self.dispatch()
        self.retire_finished()

    def read_changed(self) -> set[str]:
        """Read the new output of the agents the watcher reported; return their names."""
        with self.changed_lock:
            names, self.changed = self.changed, set()
        for name in names:
            rt = self.agents.get(name)
            if rt is not None:
                self.read_output(rt)
        return names

    # -- paths and tmux -------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        """The append-only output log of one agent."""
        return self.paths.log(name)

    @property
    def tmux(self) -> TmuxServer:
        """The private tmux server (after start)."""
        if self.server is None:
            raise TmuxError("the tmux server has not been started")
        return self.server

    def launch(self, rt: AgentRuntime) -> tuple[str, str, dict[str, str]]:
        """Command, cwd and environment of an agent's pane."""
        rt.ready_nonce = secrets.token_hex(8)
        env = {
            **rt.spec.env,
            "OVERSEER_READY_NONCE": rt.ready_nonce,
            "OVERSEER_AGENT_NAME": rt.name,
        }
        if rt.spec.command:
            command = rt.spec.command
        elif rt.ia is not None:
            command = AI_KINDS[rt.spec.kind].command
        else:
            command = runner.shell_command(runner.agent_rcfile(self.run_dir, rt.name))
        # tmux puts its socket in every pane's TMUX (and the pane in TMUX_PANE): a task
        # would reach Overseer's own server with a bare `tmux kill-server`. The pane's
        # program starts without them (env then sh execs it, as tmux itself would).
        command = f"exec env -u TMUX -u TMUX_PANE /bin/sh -c {shlex.quote(command)}"
        return command, self.agent_cwd(rt), env

    def agent_cwd(self, rt: AgentRuntime) -> str:
        """Where the agent works: its own git worktree (`worktree: true`) or its cwd."""
        cwd = rt.spec.cwd or str(self.config.base_dir)
        if not rt.spec.worktree:
            return cwd
        repo = worktree.repo_root(Path(cwd))
        path = worktree.ensure_worktree(repo, rt.name, self.paths.worktrees)
        return str(path)

    def adopt_or_spawn(self, rt: AgentRuntime) -> None:
        """Re-adopt a live pane left by an earlier supervisor, or start a fresh one."""
        pane = self.tmux.window_pane(rt.name)
        if pane is not None and not pane.dead:
            self.tmux.repipe(pane.pane_id, self.log_path(rt.name))
            self.catch_up(rt)
            rt.pane_id, rt.pid = pane.pane_id, pane.pid
            rt.heartbeat_at = time.time()
            if rt.ia is not None:
                self.adopt_interactive(rt, pane)
                return
            busy = health.has_children(pane.pid)
            self.set_state(rt, AgentState.BUSY if busy else AgentState.IDLE, "re-adopted pane")
            return
        self.spawn(rt, pane)

    def catch_up(self, rt: AgentRuntime) -> None:
        """Read what a re-adopted pane printed while no supervisor ran, and when it last did.

        The last ring's worth of the log is read (prompts, the tail of a task's output, a
        sentinel), but not stamped with the time of reading: tmux appended it while nobody
        read, so the log's mtime is when the pane last printed. Silence is measured from
        there, never from the restart.
        """
        size = rt.stream.size()
        if rt.ia is not None:
            rt.stream.seek(size)  # its screen is rebuilt from capture-pane instead
        else:
            rt.stream.seek(max(0, size - rt.stream.ring.capacity))
            while data := rt.stream.read_new():
                rt.scanner.feed(data)
            rt.scanner.trim()
        try:
            mtime = os.stat(rt.stream.path).st_mtime
        except OSError:
            return
        if size:
            rt.last_output_at = min(mtime, time.time())

    def screen_prompt(self, rt: AgentRuntime) -> PromptMatch | None:
        """A prompt for a person at the end of a shell agent's output (its cursor line)."""
        return match_prompt(rt.stream.partial_line(), rt.stream.last_line())

    def spawn(self, rt: AgentRuntime, pane: PaneInfo | None = None) -> None:
        """Start (or respawn) the agent's pane."""
        command, cwd, env = self.launch(rt)
        log_path = self.log_path(rt.name)
        rt.stream.seek(rt.stream.size())
        rt.scanner.reset()
        if rt.ia is not None:
            rt.ia.reset()
            rt.ia.resize(200, 50)  # spawn_window's size; the sweep follows later resizes
        if pane is not None:
            info = self.tmux.respawn(pane.pane_id, command, cwd, env, log_path)
        else:
            info = self.tmux.spawn_window(rt.name, command, cwd, env, log_path)
        rt.pane_id, rt.pid = info.pane_id, info.pid
        self.set_state(rt, AgentState.STARTING, "pane started")

    # -- observing ------------------------------------------------------------------

    def read_output(self, rt: AgentRuntime) -> None:
        """Consume an agent's new log bytes: ready markers, sentinels, liveness."""
        while True:
            data = rt.stream.read_new()
            if not data:
                rt.scanner.trim()
                if rt.ia is not None:
                    self.observe_interactive(rt)
                return
            now = time.time()
            rt.last_output_at = rt.heartbeat_at = now
            if rt.ia is not None:
                rt.ia.feed(data)
                continue
            rt.scanner.feed(data)
            if rt.state == AgentState.STARTING and rt.scanner.ready(rt.ready_nonce):
                self.set_state(rt, AgentState.PAUSED if rt.paused else AgentState.IDLE, "ready")
                self.work_hint = True
            run = rt.running
            if run is None:
                continue
            status = rt.scanner.sentinel(run.dispatch.nonce)
            if status is not None:
                self.complete(rt, status)
            elif rt.state in (AgentState.STALLED, AgentState.WAITING) and run.stop_at is None:
                self.set_state(rt, AgentState.BUSY, "output resumed")

    def check_agent(self, rt: AgentRuntime, now: float) -> None:
        """Timeouts, stalls, prompts and stop escalation for one agent (in memory, cheap)."""
        if rt.ia is not None:
            self.check_interactive(rt, now)
            return
        if (
            rt.state == AgentState.STARTING
            and rt.spec.command
            and now - rt.state_since >= STARTING_FALLBACK
        ):
            self.set_state(rt, AgentState.IDLE, "no ready marker; assuming idle")
            self.work_hint = True
        run = rt.running
        if run is None:
            return
        if run.stop_at is not None:
            self.escalate_stop(rt, run, now)
            return
        if run.deadline is not None and now >= run.deadline:
            self.stop(rt, AttemptOutcome.TIMEOUT, f"timed out after {run.task.timeout:g}s")
            return
        quiet = now - max(rt.last_output_at or 0.0, run.started)
        if rt.state != AgentState.BUSY or quiet < rt.profile.quiet_before_waiting:
            return
        # A prompt on screen is a person's turn, however long ago it was printed: it is
        # looked for before silence counts as a stall.
        m = self.screen_prompt(rt)
        if m is not None:
            rt.prompt = mask(m.text)
            self.set_state(rt, AgentState.WAITING, f"waiting at prompt: {m.text}")
        elif quiet >= self.config.stall_timeout:
            detail = f"stalled: no output for {quiet:.0f}s"
            if rt.cpu_rate >= CPU_ACTIVE_RATE:
                detail += f"; {CPU_NOTE}"  # silent but working: insights tell the difference
            self.set_state(rt, AgentState.STALLED, detail)
            self.on_stall(rt, detail)

    # -- interactive agents (AI CLIs, REPLs) ------------------------------------------

    def adopt_interactive(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        """Re-adopted pane: rebuild its screen once from capture-pane, then read it."""
        assert rt.ia is not None
        if pane.width and pane.height:
            rt.ia.resize(pane.width, pane.height)
        try:
            text = self.tmux.capture(pane.pane_id, escapes=True)
        except TmuxError:
            text = ""
        rt.ia.feed(b"\x1b[H\x1b[2J" + text.replace("\n", "\r\n").encode("utf-8", "replace"))
        verdict = rt.ia.read()
        state = {IDLE: AgentState.IDLE, BUSY: AgentState.BUSY, WAITING: AgentState.WAITING}.get(
            verdict.state, AgentState.UNKNOWN
        )
        if state == AgentState.WAITING:
            rt.prompt, rt.choices = mask(verdict.detail), verdict.choices
        if rt.last_output_at is not None:
            # No progress can have been shown after the pane last printed.
            rt.ia.signature_since = min(rt.ia.signature_since, rt.last_output_at)
        self.set_state(rt, state, f"re-adopted pane ({verdict.rule})")

    def observe_interactive(self, rt: AgentRuntime) -> None:
        """Turn a debounced screen verdict into the agent's state."""
        assert rt.ia is not None
        change = rt.ia.observe()
        if change is None:
            return
        v = change.new
        if rt.paused and rt.running is None and v.rule in LIMIT_RULES:
            return  # a paused, rate-limited agent stays paused until a person resumes it
        if v.state == WAITING:
            rt.prompt, rt.choices = mask(v.detail), v.choices
            if rt.state == AgentState.WAITING:
                self.store.event(
                    "agent.waiting", f"{rt.name}: waiting ({v.rule}): {rt.prompt}", agent=rt.name
                )
            self.set_state(rt, AgentState.WAITING, f"{v.rule}: {rt.prompt}")
        elif v.state == BUSY:
            rt.choices = ()
            if rt.state != AgentState.STALLED:
                self.set_state(rt, AgentState.BUSY, f"{v.rule}: {mask(v.detail)[:120]}")
        elif v.state == IDLE:
            rt.choices = ()
            if rt.running is None:
                self.set_state(
                    rt,
                    AgentState.PAUSED if rt.paused else AgentState.IDLE,
                    f"at its prompt ({v.rule})",
                )
                self.work_hint = True
        elif v.state == UNKNOWN:
            self.set_state(rt, AgentState.UNKNOWN, f"{v.rule}: {mask(v.detail)[:160]}")

    def check_interactive(self, rt: AgentRuntime, now: float) -> None:
        """Submission, completion, stalls and timeouts of a prompt given to an interactive agent."""
        ia = rt.ia
        assert ia is not None
        self.observe_interactive(rt)
        run = rt.running
        if run is None:
            return
        kind = AI_KINDS[rt.spec.kind]
        raw = ia.read()
        if raw.state in (BUSY, WAITING):
            run.saw_busy = True
        settled = raw.state == IDLE and now - ia.changed_at >= kind.debounce
        if run.stop_at is not None:
            if settled:
                outcome = (
                    AttemptOutcome.RELEASED
                    if run.release
                    else (run.stop_outcome or AttemptOutcome.FAILED)
                )
                self.record(rt, outcome, reason=run.stop_detail)
            elif not run.killed and now - run.stop_at >= STOP_GRACE:
                run.killed = True
                if rt.pane_id:
                    self.tmux.send_keys(rt.pane_id, kind.interrupt_key)
            elif now - run.stop_at >= STOP_GRACE + STOP_GIVE_UP:
                self.lose(rt, f"{run.stop_detail}; the agent did not return to its prompt")
            return
        if run.submitted_at is None:
            holds = ia.holds_text(run.task.command)
            if run.saw_busy or (ia.screen.generation != run.screen_at_enter and not holds):
                run.submitted_at = now
            elif now - run.enter_at >= kind.submit_timeout:
                if holds and run.enter_retries == 0 and rt.pane_id:
                    run.enter_retries, run.enter_at = 1, now
                    self.tmux.send_keys(rt.pane_id, "Enter")
                    self.store.event(
                        "task.resubmit",
                        f"{run.task.id}: the prompt was still in "
                        f"{rt.name}'s input box; pressed Enter again",
                        task_id=run.task.id,
                        agent=rt.name,
                    )
                else:
                    why = (
                        "still in the input box"
                        if holds
                        else "the screen never changed after Enter"
                    )
                    self.record(
                        rt, AttemptOutcome.LOST, reason=f"the prompt was not submitted: {why}"
                    )
            return
        if run.deadline is not None and now >= run.deadline:
            self.stop(rt, AttemptOutcome.TIMEOUT, f"timed out after {run.task.timeout:g}s")
            return
        if (
            raw.state == WAITING
            and raw.rule in LIMIT_RULES
            and now - ia.changed_at >= 2 * kind.debounce
        ):
            # The CLI gave up on the turn: fail the attempt (backoff applies) and give the
            # agent no more work until a person resumes it.
            detail = f"{raw.rule}: {mask(raw.detail)}"
            rt.paused, rt.reason = True, f"paused: {detail}"
            self.record(rt, AttemptOutcome.FAILED, reason=detail)
            return
        if settled and (run.saw_busy or now - run.submitted_at >= SILENT_TURN):
            self.record(
                rt, AttemptOutcome.OK, reason="the agent returned to its prompt", result="idle"
            )
            return
        if rt.state == AgentState.STALLED and ia.progress_age() < self.config.stall_timeout:
            self.set_state(rt, AgentState.BUSY, "the screen shows progress again")
        elif rt.state == AgentState.BUSY and ia.progress_age() >= self.config.stall_timeout:
            detail = (
                f"stalled: no progress on screen for {ia.progress_age():.0f}s "
                "(only spinners and counters changed)"
            )
            self.set_state(rt, AgentState.STALLED, detail)
            self.on_stall(rt, detail)

    def start_prompt(self, rt: AgentRuntime, task: Task, attempt: Attempt) -> None:
        """Paste a prompt into an idle interactive agent (bracketed paste), then press Enter."""
        assert rt.ia is not None
        now = time.time()
        rt.running = run = Running(
            task=task,
            attempt=attempt,
            dispatch=Dispatch.of(self.run_dir, task.id, attempt.number, attempt.nonce),
            started=now,
            mark=rt.stream.ring.total,
            deadline=now + task.timeout if task.timeout else None,
            shell_pid=rt.pid,
        )
        self.store.set_attempt_offset(attempt.id, rt.stream.offset)
        try:
            assert rt.pane_id is not None
            self.tmux.paste(
                rt.pane_id, task.command, self.run_dir / f"{task.id}.{attempt.number}.prompt"
            )
            self.tmux.send_keys(rt.pane_id, "Enter")
        except (TmuxError, OSError, AssertionError) as exc:
            self.record(rt, AttemptOutcome.LOST, reason=f"could not paste into the pane: {exc}")
            return
        run.enter_at = time.time()
        run.screen_at_enter = rt.ia.screen.generation
        self.set_state(rt, AgentState.BUSY, f"prompt {task.id} sent (attempt {attempt.number})")

    def on_stall(self, rt: AgentRuntime, detail: str) -> None:
        """Apply the configured stall policy."""
        policy = self.config.on_stall
        if policy == "retry":
            self.stop(rt, AttemptOutcome.STALLED, detail)
        elif policy == "block":
            self.stop(rt, AttemptOutcome.STALLED, detail, block_reason=detail)
        elif rt.pane_id:
            self.tmux.interrupt(rt.pane_id)
            self.store.event("agent.interrupt", f"{rt.name}: Ctrl-C after stall", agent=rt.name)

    def stop(
        self,
        rt: AgentRuntime,
        outcome: AttemptOutcome,
        detail: str,
        *,
        block_reason: str | None = None,
        release: bool = False,
    ) -> None:
        """Stop the running attempt: SIGTERM to its process group now, SIGKILL after a grace."""
        run = rt.running
        if run is None or run.stop_at is not None:
            return
        run.stop_outcome, run.stop_detail = outcome, detail
        run.block_reason, run.release = block_reason, release
        run.stop_at = time.time()
        if rt.ia is not None:
            if rt.pane_id:
                self.tmux.send_keys(rt.pane_id, AI_KINDS[rt.spec.kind].interrupt_key)
        # With SIGCONT first: a stopped group (Ctrl-Z, `kill -TSTP 0`) would hold SIGTERM.
        elif not run.dispatch.stop(signal.SIGTERM) and rt.pane_id:
            self.tmux.interrupt(rt.pane_id)
        self.store.event(
            "task.stopping",
            f"{run.task.id}: stopping ({detail})",
            task_id=run.task.id,
            agent=rt.name,
        )

    def escalate_stop(self, rt: AgentRuntime, run: Running, now: float) -> None:
        """SIGKILL what survived SIGTERM; give up on a status that never comes."""
        assert run.stop_at is not None
        if not run.killed and now - run.stop_at >= STOP_GRACE:
            run.killed = True
            if run.lost is not None:
                self.lose(rt, run.lost)  # SIGKILL to what is left, then the loss is recorded
                return
            run.dispatch.stop(signal.SIGKILL)
            if run.pending is not None:
                self.complete(rt, run.pending)
        elif run.killed and now - run.stop_at >= STOP_GRACE + STOP_GIVE_UP:
            self.lose(rt, f"{run.stop_detail}; no status after SIGKILL")

    # -- recording ------------------------------------------------------------------

    def output_tail(self, rt: AgentRuntime, run: Running) -> str:
        """The attempt's output, cleaned, without the echo of the typed line and the sentinel.

        For an interactive agent: its final screen.
        """
        if rt.ia is not None:
            return rt.ia.screen.text()[-TAIL_CHARS:]
        ring = rt.stream.ring
        n = max(0, ring.total - run.mark)
        raw = ring.data()
        raw = raw[-n:] if n < len(raw) else raw
        raw = runner.SENTINEL_RE.sub(b"", raw)
        lines = to_text(raw).splitlines()
        if lines and str(run.dispatch.script) in lines[0]:
            lines = lines[1:]
        while lines and (not lines[-1].strip() or lines[-1].strip() == f"{rt.name}$"):
            lines.pop()
        return "\n".join(lines)[-TAIL_CHARS:]

    def complete(self, rt: AgentRuntime, status: Status) -> None:
        """Record a reported exit status for the agent's running attempt."""
        run = rt.running
        if run is None or (run.lost is not None and not run.killed):
            return  # a loss whose processes are being ended: escalate_stop records it
        if hung_up(status) and self.terminal_gone(rt):
            # The terminal went away under the task: that is the agent dying, not a result.
            if not self.tmux.alive():
                self.tmux_down("the server died under a task")  # it settles every attempt
            else:
                self.lose(rt, "agent died under the task")
            return
        outcome, code, sig, reason = runner.judge(status, run.task.verify)
        if run.release:
            outcome, reason = AttemptOutcome.RELEASED, "released by operator"
        elif run.stop_outcome is not None and outcome != AttemptOutcome.OK:
            outcome, reason = run.stop_outcome, run.stop_detail
        if run.stop_at is not None:
            # A stopped attempt's processes that outlived its task (a daemon it started) had
            # SIGTERM with the rest: the status waits until they are gone (the sweep looks
            # again) or were SIGKILLed after the grace (escalate_stop). The loop never waits.
            if not run.killed and (left := run.dispatch.processes(spare_wrapper=True)):
                run.pending, run.leftovers = status, left
                return
            if run.killed or run.leftovers:  # else nothing was left a moment ago
                note = self.end_processes(run, 0.0, spare_wrapper=True)
                if note:
                    reason = f"{reason}; {note}" if reason else note
        self.record(rt, outcome, exit_code=code, sig=sig, reason=reason)

    def end_processes(self, run: Running, grace: float, *, spare_wrapper: bool = False) -> str:
        """End what is left of a shell attempt before it is settled; a note for its reason."""
        ended = run.dispatch.end(grace, spare_wrapper=spare_wrapper, also=run.leftovers)
        note = ended.note()
        if ended.survivors:
            self.store.event(
                "task.survivors",
                f"{run.task.id} attempt {run.attempt.number}: {note}",
                task_id=run.task.id,
            )
        return note

    def lose(
        self,
        rt: AgentRuntime,
        reason: str,
        lost: AttemptOutcome = AttemptOutcome.LOST,
        *,
        wait: bool = False,
    ) -> None:
        """The attempt ended without a readable status (agent or tmux died).

        `lost` is how it is recorded then: INTERRUPTED for one a tmux server death cut off
        (see cut_off). What is left of it (a task that ignores SIGHUP, a daemon it started in
        a session of its own) must not run beside its retry. Its wrapper is killed at once
        (SIGKILL: no status it writes from then on would be the task's), the rest gets SIGCONT
        and SIGTERM, and the loss is recorded once they are SIGKILLed after the grace
        (escalate_stop), or, with `wait`, after waiting here for them.
        """
        run = rt.running
        if run is None:
            return
        if run.lost is not None:
            lost = run.lost_as  # settling a loss begun earlier: record it as it was begun
        elif lost == AttemptOutcome.INTERRUPTED:
            reason += "; no try used"
        if rt.ia is not None:
            self.record(rt, lost, reason=reason)
            return
        if run.lost is not None and not run.killed and not wait:
            return  # already being ended
        status = runner.read_rc(run.dispatch.rc_path)
        if status is not None and not hung_up(status):
            if run.lost is not None:  # it finished in the instant before its wrapper was killed
                run.lost, run.killed = None, True
            self.complete(rt, status)  # it finished before the agent died
            return
        if status is None and runner.read_pid(run.dispatch.pid_path) is None:
            # The wrapper writes its pid before the task starts; without it the task never
            # ran, so it goes back to the queue without using a try.
            self.record(rt, AttemptOutcome.RELEASED, reason=f"{reason}, before the task started")
            return
        if run.lost is None and not run.killed and not wait:
            rest = run.dispatch.abandon()
            if rest:
                health.signal_processes(rest, signal.SIGTERM)
                run.lost, run.lost_as, run.leftovers = reason, lost, rest
                run.stop_at = run.stop_at or time.time()
                return
        if run.killed:
            grace = 0.0
        else:
            grace = STOP_GRACE if run.stop_at is None else run.stop_at + STOP_GRACE - time.time()
        run.killed = True
        note = self.end_processes(run, max(0.0, grace))
        if status is None:
            status = runner.read_rc(run.dispatch.rc_path)  # unless it finished just before
            if status is not None and not hung_up(status):
                run.lost = None
                self.complete(rt, status)
                return
        self.record(rt, lost, reason=loss_reason(reason, note, hangup=status is not None))

    def cut_off(self, task_ids: list[str]) -> AttemptOutcome:
        """How the attempts a tmux server death cut off are recorded; marks the suspects.

        Any task may have killed the server (`tmux kill-server` from a task), so the tasks
        in flight all become suspects and their attempts use no try (INTERRUPTED). A
        suspect then runs alone (see dispatch): if the server dies again while it runs
        alone, no other task can be blamed and its attempt is LOST, using a try.
        """
        alone = len(task_ids) == 1 and task_ids[0] in self.suspects
        self.suspects.update(task_ids)
        return AttemptOutcome.LOST if alone else AttemptOutcome.INTERRUPTED

    def settle_ends(self) -> None:
        """Record now the attempts whose leftover processes are still being ended.

        For when no loop follows (shutdown): their grace is waited out here.
        """
        for rt in self.agents.values():
            run = rt.running
            if run is None or run.stop_at is None or run.killed:
                continue
            if run.lost is not None:
                self.lose(rt, run.lost, wait=True)
            elif run.pending is not None:
                health.wait_gone(run.leftovers, run.stop_at + STOP_GRACE - time.time())
                run.killed = True
                self.complete(rt, run.pending)  # SIGKILL to what is left, then recorded

    def terminal_gone(self, rt: AgentRuntime) -> bool:
        """Whether the agent's shell, its pane or the whole tmux server has gone away."""
        if rt.running is not None and rt.running.shell_pid != rt.pid:
            return True  # the attempt's shell was replaced (respawned while we were down)
        if not health.alive(rt.pid):
            return True
        try:
            pane = self.tmux.window_pane(rt.name)
        except TmuxError:
            return True
        return pane is None or pane.dead or pane.pane_id != rt.pane_id

    def record(
        self,
        rt: AgentRuntime,
        outcome: AttemptOutcome,
        *,
        exit_code: int | None = None,
        sig: int | None = None,
        reason: str | None = None,
        result: str | None = None,
    ) -> None:
        """Write the attempt's end, move the task on, update the agent's failure count."""
        run = rt.running
        assert run is not None
        rt.running = None
        new = queue.finish(
            self.store,
            run.task.id,
            run.attempt.number,
            outcome,
            exit_code=exit_code,
            signal=sig,
            reason=reason,
            output_tail=self.output_tail(rt, run),
            delay=self.config.retry.delay,
            block_reason=run.block_reason,
            result=result,
        )
        self.work_hint = True
        if outcome not in (
            AttemptOutcome.LOST,
            AttemptOutcome.INTERRUPTED,
            AttemptOutcome.RELEASED,
        ):
            self.suspects.discard(run.task.id)  # it ran to an end of its own
        if new is None:
            pass
        elif outcome == AttemptOutcome.OK:
            rt.consecutive_failures = 0
        elif (
            outcome
            not in (AttemptOutcome.RELEASED, AttemptOutcome.LOST, AttemptOutcome.INTERRUPTED)
            and not run.by_operator
        ):
            rt.consecutive_failures += 1
        rt.prompt = None
        limit = self.config.pause_after
        if limit and rt.consecutive_failures >= limit and not rt.paused:
            rt.paused = True
            rt.reason = f"paused after {rt.consecutive_failures} consecutive failures"
        if rt.state in (AgentState.DEAD, AgentState.STARTING):
            return
        if rt.paused:
            self.set_state(rt, AgentState.PAUSED, rt.reason or "paused")
        else:
            self.set_state(rt, AgentState.IDLE, f"{run.task.id} ended: {outcome.value}")

    def set_state(self, rt: AgentRuntime, state: AgentState, why: str) -> None:
        """Change an agent's state (in memory and in the store) with an event."""
        if state == rt.state and rt.written:
            return
        old = rt.state
        rt.state, rt.state_since = state, time.time()
        if state != AgentState.WAITING:
            rt.prompt = None
        if state not in (AgentState.PAUSED, AgentState.DEAD):
            rt.reason = why if state in (AgentState.STALLED, AgentState.UNKNOWN) else None
        with self.store.tx() as c:
            self.store.update_agent_in(
                c,
                rt.name,
                state=state,
                state_since=rt.state_since,
                task_id=rt.running.task.id if rt.running else None,
                attempt_id=rt.running.attempt.id if rt.running else None,
                pane_id=rt.pane_id,
                pid=rt.pid,
                reason=rt.reason,
                prompt=rt.prompt,
                respawns=rt.respawns,
                consecutive_failures=rt.consecutive_failures,
            )
            self.store.add_event(
                c,
                f"agent.{state.value}",
                f"{rt.name}: {old.value} -> {state.value} ({why})"
                if old != state
                else f"{rt.name}: {state.value} ({why})",
                agent=rt.name,
                task_id=rt.running.task.id if rt.running else None,
            )
        rt.written = True

    # -- dispatch -------------------------------------------------------------------

    def dispatch(self) -> None:
        """Give ready tasks to idle agents, up to max_parallel."""
        self.work_hint = False
        if self.state_dir_lost():
            return
        running = self.store.running_count()
        slots = self.config.max_parallel - running
        if self.suspects and self.dispatch_suspect(running):
            return
        for rt in self.agents.values():
            if rt.state != AgentState.IDLE or rt.running is not None or rt.paused or rt.retiring:
                continue
            if slots <= 0 or not queue.claimable(self.store):
                return
            claim = queue.claim(
                self.store,
                rt.name,
                self.lease_s,
                max_running=self.config.max_parallel,
                kind="prompt" if rt.ia is not None else "run",
                names=(rt.spec.name, rt.name),
            )
            if claim is None:
                # Tasks differ by kind and routing: another agent may still find work.
                continue
            slots -= 1
            self.start_attempt(rt, claim.task, claim.attempt)
            # Typing into a pane takes milliseconds; record the exits that arrived meanwhile
            # now rather than after the whole round (and loop again at once if one did).
            if self.read_changed() and self.work_hint:
                self.wake.set()

    def dispatch_suspect(self, running: int) -> bool:
        """Run a task a tmux server death cut off alone; True when nothing else may start.

        While a suspect runs nothing starts beside it; while one is ready the fleet drains,
        then it starts on its own (when no idle agent can take it, the rest start as usual).
        """
        if any(
            rt.running is not None and rt.running.task.id in self.suspects
            for rt in self.agents.values()
        ):
            return True
        tasks = [t for t in map(self.store.task, self.suspects) if t is not None]
        # Done, failed or blocked meanwhile (by an operator, say): no longer held apart.
        self.suspects = {t.id for t in tasks if t.state in (TaskState.READY, TaskState.RUNNING)}
        ready = [
            t.id
            for t in sorted(tasks, key=lambda t: (-t.priority, t.seq))  # the queue's order
            if t.state == TaskState.READY and (t.retry_at or 0) <= time.time()
        ]
        if not ready:
            return False
        if running:
            return True
        for rt in self.agents.values():
            if rt.state != AgentState.IDLE or rt.running is not None or rt.paused or rt.retiring:
                continue
            for task_id in ready:
                claim = queue.claim(
                    self.store,
                    rt.name,
                    self.lease_s,
                    task_id=task_id,
                    kind="prompt" if rt.ia is not None else "run",
                    names=(rt.spec.name, rt.name),
                )
                if claim is not None:
                    self.start_attempt(rt, claim.task, claim.attempt)
                    return True
        return False

    def start_attempt(self, rt: AgentRuntime, task: Task, attempt: Attempt) -> None:
        """Write the wrapper and type it into the agent's pane."""
        if rt.ia is not None:
            self.start_prompt(rt, task, attempt)
            return
        d = runner.prepare(
            self.run_dir,
            task_id=task.id,
            number=attempt.number,
            nonce=attempt.nonce,
            command=task.command,
            agent=rt.name,
            cwd=task.cwd,
            env=task.env,
            verify=task.verify,
        )
        now = time.time()
        rt.running = Running(
            task=task,
            attempt=attempt,
            dispatch=d,
            started=now,
            mark=rt.stream.ring.total,
            deadline=now + task.timeout if task.timeout else None,
            shell_pid=rt.pid,
        )
        self.store.set_attempt_offset(attempt.id, rt.stream.offset)
        try:
            assert rt.pane_id is not None
            # A terminal answers queries a task printed (\x1b[c, \x1b[6n, OSC 10 ...) as if
            # typed; the shell's line holds those replies now. Clear it, or they would run
            # as commands in front of the wrapper.
            self.tmux.send_keys(rt.pane_id, "C-e", "C-u")
            self.tmux.send_text(rt.pane_id, d.typed_line)
        except (TmuxError, AssertionError) as exc:
            # Nothing ran unless the wrapper wrote its pid: then no try is used (lose()).
            self.lose(rt, f"could not type into the pane: {exc}")
            return
        self.set_state(rt, AgentState.BUSY, f"running {task.id} (attempt {attempt.number})")

    # -- the sweep ------------------------------------------------------------------

    def sweep(self, now: float) -> None:
        """Once a second: panes, rc files, leases, dependencies, heartbeats."""
        if self.state_dir_lost():
            return
        try:
            panes = {p.window: p for p in self.tmux.list_panes()}
        except TmuxError as exc:
            self.tmux_down(str(exc))
            panes = None
        for rt in self.agents.values():
            # Safety net for output the watcher did not report (e.g. before it started).
            if rt.stream.size() > rt.stream.offset:
                self.read_output(rt)
        if panes is not None:
            self.tmux_down_since = None
            if self.tmux.needs_kick and any(
                p.dead and p.dead_status is None for p in panes.values()
            ):
                self.tmux.kick()
            # One scan of the process table for every agent that runs something.
            trees = health.tree_cpu(
                {
                    p.pid
                    for name, p in panes.items()
                    if p.pid and name in self.agents and self.agents[name].state not in RESTING
                }
            )
            for rt in self.agents.values():
                self.sweep_agent(rt, panes.get(rt.name), now, trees)
        for rt in self.agents.values():
            if rt.state != AgentState.STARTING or rt.running is None:
                self.poll_rc(rt, now)
        live = [rt.name for rt in self.agents.values() if rt.running is not None]
        queue.renew_agent_leases(self.store, live, self.lease_s, now)
        if queue.reclaim_expired(self.store, now, delay=self.config.retry.delay, keep=set(live)):
            self.work_hint = True
        if now >= self.promote_due:
            # Finishing a task promotes its dependants at once; this pass over the whole
            # queue is only a safety net, so it runs rarely.
            self.promote_due = now + PROMOTE_EVERY
            if queue.promote(self.store, now):
                self.work_hint = True
        if queue.claimable(self.store, now):
            self.work_hint = True
        self.flush_agents()
        self.refresh_insights(now)
        self.trim_history(now)
        if self.notifier is not None:
            try:
                self.notifier.poll()
            except Exception:  # a hook problem must never stop the supervisor
                log.exception("notify poll failed")
        self.store.supervisor_beat(os.getpid(), socket.gethostname(), self.started_at, now)

    def trim_history(self, now: float) -> None:
        """Keep the event log and the command log within `retention` (a batch at a time)."""
        if now < self.trim_due:
            return
        cfg = self.config
        gone = self.store.trim_history(
            now - cfg.retention_seconds, cfg.retention_events, TRIM_BATCH
        )
        # A full batch means there is more: take the next one soon, not all in one go.
        full = max(gone.values()) >= TRIM_BATCH
        self.trim_due = now + (TRIM_SOON if full else TRIM_EVERY)
        if any(gone.values()):
            log.info("trimmed %(events)d events and %(commands)d commands", gone)

    def refresh_insights(self, now: float, force: bool = False) -> None:
        """Recompute the stored suggestions (a bug in a rule is logged, never fatal).

        A refresh over a big store can take a while: the next one waits ten times as long
        as this one took, so suggestions never take more than a tenth of the loop.
        """
        if not force and now < self.insights_due:
            return
        began = time.monotonic()
        try:
            self._refresh_insights(now)
        except PERSIST_ERRORS:
            raise  # the store itself failed: the loop stops cleanly (see run)
        except Exception as exc:
            log.exception("insights refresh failed")
            if now - self.insights_failed_at >= 60.0:
                self.insights_failed_at = now
                self.store.event("insights.error", f"suggestions not refreshed: {exc!r}")
        finally:
            self.insights_due = now + max(INSIGHTS_MIN_GAP, 10 * (time.monotonic() - began))

    def _refresh_insights(self, now: float) -> None:
        self.insights.refresh(
            now,
            supervisor_alive=not self.offline,
            cpu_active=frozenset(
                rt.name
                for rt in self.agents.values()
                if rt.running is not None and rt.cpu_rate >= CPU_ACTIVE_RATE
            ),
            stopping=frozenset(
                rt.name
                for rt in self.agents.values()
                if rt.running is not None and rt.running.stop_at is not None
            ),
            events=not self.offline,
        )

    def sweep_agent(
        self,
        rt: AgentRuntime,
        pane: PaneInfo | None,
        now: float,
        trees: dict[int, float] | None = None,
    ) -> None:
        """Dead panes, untracked jobs finishing, and process activity as a heartbeat.

        `trees` maps pane pids to their process trees' CPU seconds (from `tree_cpu`).
        """
        if rt.awaiting_tmux:  # the server is back (restarted by us or someone else)
            rt.awaiting_tmux = False
            self.agent_died(rt, pane, "tmux server died", own_fault=False)
            return
        if rt.state == AgentState.DEAD:
            return
        if pane is None or pane.dead or not health.alive(pane.pid):
            why = "pane gone" if pane is None else f"shell exited (status {pane.dead_status})"
            self.agent_died(rt, pane, why)
            return
        rt.pid = pane.pid
        if not rt.stream.path.exists():
            # Someone deleted the log: the pipe writes into a dead inode. Start a new file.
            self.store.event(
                "agent.log-reopened", f"{rt.name}: log file was gone; re-piped", agent=rt.name
            )
            self.tmux.repipe(pane.pane_id, rt.stream.path)
            rt.stream.seek(0)
        if rt.ia is not None and pane.width and pane.height:
            rt.ia.resize(pane.width, pane.height)
        if (
            rt.ia is None
            and rt.state == AgentState.BUSY
            and rt.running is None
            and not health.has_children(pane.pid)
        ):
            self.set_state(rt, AgentState.PAUSED if rt.paused else AgentState.IDLE, "job ended")
            self.work_hint = True
        if rt.state in RESTING:
            # Nothing runs: alive is enough for a heartbeat, and the CPU rate (read only while
            # a task runs) restarts from the next task. Skipping the tree here keeps an idle
            # fleet's sweep cheap.
            rt.heartbeat_at = now
            rt.cpu_rate, rt.cpu_sampled_at = 0.0, None
            return
        cpu = (trees or {}).get(pane.pid or 0)
        if cpu is None:
            cpu = health.tree_usage(pane.pid).cpu_seconds
        if rt.cpu_sampled_at is not None and now > rt.cpu_sampled_at:
            used = max(0.0, cpu - rt.cpu_seconds)
            rt.cpu_rate = used / (now - rt.cpu_sampled_at)
        rt.cpu_sampled_at = now
        if cpu > rt.cpu_seconds:
            rt.heartbeat_at = now
        rt.cpu_seconds = cpu

    def poll_rc(self, rt: AgentRuntime, now: float) -> None:
        """Take a status from the rc file when the sentinel was missed; notice lost wrappers."""
        run = rt.running
        if run is None or rt.ia is not None:
            return
        status = runner.read_rc(run.dispatch.rc_path)
        if status is not None:
            self.read_output(rt)  # the sentinel may be in unread output: prefer that path
            if rt.running is run:
                self.complete(rt, status)
            return
        pid = runner.read_pid(run.dispatch.pid_path)
        if pid is None:
            if now - run.started >= WRAPPER_START_GRACE and not health.has_children(rt.pid):
                # Nothing ran, so no side effect happened: requeue without using a try.
                self.record(
                    rt, AttemptOutcome.RELEASED, reason="the task never started in the pane"
                )
            return
        run.wrapper_seen = True
        if not health.wrapper_alive(pid, run.dispatch.script.name):
            status = runner.read_rc(run.dispatch.rc_path)
            if status is not None:
                self.complete(rt, status)
            else:
                self.lose(rt, "the wrapper ended without a status")

    def agent_died(
        self, rt: AgentRuntime, pane: PaneInfo | None, why: str, *, own_fault: bool = True
    ) -> None:
        """Count the running attempt as lost and respawn the agent (rate-limited).

        A respawn after a tmux server death (not `own_fault`) does not count toward the
        respawn-loop limit: the agent did nothing wrong.
        """
        self.store.event("agent.died", f"{rt.name}: {why}", agent=rt.name)
        if rt.running is not None:
            self.lose(rt, f"agent died: {why}")
        if rt.retiring:
            return  # no longer configured: closed, not respawned
        now = time.time()
        rt.respawn_times = [t for t in rt.respawn_times if now - t < rt.profile.respawn_window]
        if len(rt.respawn_times) >= rt.profile.respawn_limit:
            rt.reason = (
                f"respawn loop: {len(rt.respawn_times)} restarts in "
                f"{rt.profile.respawn_window:.0f}s; last: {why}"
            )
            self.set_state(rt, AgentState.DEAD, rt.reason)
            return
        if own_fault:
            rt.respawn_times.append(now)
        rt.respawns += 1
        try:
            self.spawn(rt, pane)
        except TmuxError as exc:
            rt.reason = f"respawn failed: {exc}"
            self.set_state(rt, AgentState.DEAD, rt.reason)

    def tmux_down(self, why: str) -> None:
        """The tmux server is unreachable: count running attempts as lost, bring it back."""
        now = time.time()
        if self.tmux_down_since is None:
            self.tmux_down_since = now
            self.store.event("tmux.down", f"tmux server unreachable: {why}")
            lost = self.cut_off(
                [rt.running.task.id for rt in self.agents.values() if rt.running is not None]
            )
            for rt in self.agents.values():
                if rt.running is not None:
                    self.lose(rt, "tmux server died", lost)
                if rt.state != AgentState.DEAD:
                    # No pane to type into until the server is back: never dispatch to it.
                    rt.awaiting_tmux = True
                    rt.reason = "tmux server unreachable"
                    self.set_state(rt, AgentState.DEAD, rt.reason)
        try:
            self.tmux.ensure_server()
        except TmuxError as exc:
            log.warning("cannot restart tmux: %s", exc)
            return
        self.store.event("tmux.restarted", "tmux server restarted; respawning agents")
        for rt in self.agents.values():
            if rt.awaiting_tmux:
                rt.awaiting_tmux = False
                self.agent_died(rt, None, "tmux server died", own_fault=False)

    def flush_agents(self) -> None:
        """Write heartbeats, last output times and last lines of changed agents in one go."""
        rows = []
        for rt in self.agents.values():
            ring = rt.stream.ring
            if rt.ia is not None:
                rt.last_line = mask(rt.ia.raw.detail)[-200:]
            elif (id(ring), ring.total) != rt.last_line_of:  # decode only after new output
                rt.last_line = mask(rt.stream.last_line()[-200:])
                rt.last_line_of = (id(ring), ring.total)
            snap = (rt.state, rt.heartbeat_at, rt.last_output_at, rt.last_line, rt.prompt)
            if snap != rt.flushed:
                rows.append(rt)
                rt.flushed = snap
        if not rows:
            return
        with self.store.tx() as c:
            for rt in rows:
                self.store.update_agent_in(
                    c,
                    rt.name,
                    heartbeat_at=rt.heartbeat_at,
                    last_output_at=rt.last_output_at,
                    last_line=rt.last_line,
                    prompt=rt.prompt,
                    pid=rt.pid,
                    pane_id=rt.pane_id,
                )

    # -- recovery -------------------------------------------------------------------

    def recover(self) -> None:
        """After a crash: re-adopt attempts still running in panes, record those that ended."""
        for attempt in self.store.running_attempts():
            task = self.store.task(attempt.task_id)
            rt = self.agents.get(attempt.agent)
            if task is None:
                continue
            current = task.state == TaskState.RUNNING and task.attempts == attempt.number
            d = Dispatch.of(self.run_dir, task.id, attempt.number, attempt.nonce)
            script, rc_path, pid_path = d.script, d.rc_path, d.pid_path
            if not current or rt is None:
                continue  # (every claimed agent has a runtime: see adopt_unconfigured)
            # Output the catch-up read since the attempt began belongs to it.
            ring = rt.stream.ring
            since = rt.stream.offset - attempt.log_offset
            rt.running = Running(
                task=task,
                attempt=attempt,
                dispatch=d,
                started=attempt.started_at,
                mark=ring.total - min(len(ring), since) if since >= 0 else ring.total,
                deadline=attempt.started_at + task.timeout if task.timeout else None,
                # A pane started afresh by this supervisor is not the one the task ran in.
                shell_pid=None if rt.state == AgentState.STARTING else rt.pid,
            )
            if rt.ia is not None:
                if rt.state == AgentState.STARTING:
                    self.lose(rt, "lost while the supervisor was down (the agent was restarted)")
                    continue
                # It took the prompt before the crash; the screen says whether it is done.
                run = rt.running
                run.submitted_at = run.enter_at = attempt.started_at
                run.saw_busy = True
                self.store.event(
                    "task.readopted",
                    f"{task.id} attempt {attempt.number} re-adopted in {rt.name} (interactive)",
                    task_id=task.id,
                    agent=rt.name,
                )
                continue
            status = runner.read_rc(rc_path)
            if status is not None:
                self.store.event(
                    "task.recovered",
                    f"{task.id} attempt {attempt.number} finished while the supervisor was down",
                    task_id=task.id,
                    agent=rt.name,
                )
                self.complete(rt, status)
                continue
            pid = runner.read_pid(pid_path)
            if rt.state == AgentState.STARTING or (
                pid is not None and not health.wrapper_alive(pid, script.name)
            ):
                self.lose(rt, "lost while the supervisor was down")
                continue
            m = None
            if time.time() - (rt.last_output_at or 0.0) >= rt.profile.quiet_before_waiting:
                m = self.screen_prompt(rt)  # it waited for a person all along
            if m is not None:
                rt.prompt = mask(m.text)
                self.set_state(rt, AgentState.WAITING, f"re-adopted at prompt: {m.text}")
            else:
                self.set_state(
                    rt, AgentState.BUSY, f"re-adopted {task.id} attempt {attempt.number}"
                )
            self.store.event(
                "task.readopted",
                f"{task.id} attempt {attempt.number} still running in {rt.name}; re-adopted",
                task_id=task.id,
                agent=rt.name,
            )
        live = [rt.name for rt in self.agents.values() if rt.running is not None]
        queue.renew_agent_leases(self.store, live, self.lease_s)

    # -- operator commands ----------------------------------------------------------

    def apply_commands(self) -> None:
        """Apply queued operator commands in the order they were written."""
        for cmd in self.store.pending_commands():
            try:
                if cmd.origin != self.origin:
                    # Written by another user or machine (or came with a copied store).
                    raise ValueError(
                        f"not applied: queued by {cmd.origin or 'an unknown writer'}, "
                        f"not by this user on this machine ({self.origin}); queue it again"
                    )
                ok, result = True, self.apply(cmd)
            except (queue.QueueError, TmuxError, KeyError, ValueError) as exc:
                ok, result = False, str(exc)
            with self.store.tx() as c:
                self.store.finish_command_in(c, cmd.id, ok, result)
                self.store.add_event(
                    c,
                    "command." + ("applied" if ok else "rejected"),
                    f"{cmd.verb} {cmd.target}: {result}",
                    task_id=cmd.target if cmd.verb in TASK_VERBS else None,
                    agent=cmd.target if cmd.verb in AGENT_VERBS else None,
                )
            self.work_hint = True

    def agent_of(self, name: str) -> AgentRuntime:
        """The runtime of a configured agent, or a clear error."""
        rt = self.agents.get(name)
        if rt is None:
            raise KeyError(f"no agent named {name!r} (agents: {', '.join(self.agents)})")
        return rt

    def running_in(self, task_id: str) -> AgentRuntime | None:
        """The agent running a task, if any."""
        for rt in self.agents.values():
            if rt.running is not None and rt.running.task.id == task_id:
                return rt
        return None

    def apply(self, cmd: Command) -> str:
        """Carry out one operator command; return what happened."""
        args = cmd.args
        reason = str(args.get("reason") or "") or None
        if cmd.verb == "retry":
            return queue.retry(self.store, cmd.target, reason)
        if cmd.verb == "block":
            why = reason or "blocked by operator"
            rt = self.running_in(cmd.target)
            if rt is not None and rt.running is not None:
                self.stop(rt, AttemptOutcome.FAILED, "stopped to block", block_reason=why)
                rt.running.by_operator = True
                return f"{cmd.target} is being stopped and will be blocked: {why}"
            task = self.store.task(cmd.target)
            if task is not None and task.state == TaskState.RUNNING:
                return self.stop_detached(task, why)
            return queue.block(self.store, cmd.target, why)
        if cmd.verb == "unblock":
            return queue.unblock(self.store, cmd.target)
        if cmd.verb == "release":
            rt = self.running_in(cmd.target)
            if rt is not None:
                self.stop(rt, AttemptOutcome.RELEASED, "released by operator", release=True)
                return f"{cmd.target}: stopping attempt and releasing the claim"
            task = self.store.task(cmd.target)
            if task is None:
                raise queue.QueueError(f"no task with id {cmd.target!r}")
            if task.state != TaskState.RUNNING:
                raise queue.QueueError(f"{cmd.target} is {task.state.value}: no claim to release")
            return self.stop_detached(task, None)
        if cmd.verb == "add":
            return self.add_tasks(list(args.get("tasks") or []))
        if cmd.verb == "edit":
            return queue.edit(self.store, dict(args.get("tasks") or {}))
        if cmd.verb == "shutdown":
            self.stop_requested = True
            self.kill_agents_on_exit = bool(args.get("kill_agents"))
            return "supervisor stopping" + (
                " and ending the agents" if self.kill_agents_on_exit else ""
            )
        rt = self.agent_of(cmd.target)
        if cmd.verb == "send":
            if args.get("expect_prompt") is not None:  # an answer a suggestion built
                state: AgentState | None = rt.state
                prompt = rt.prompt
                if self.offline:  # no runtime state: the store has what the last one saw
                    row = self.store.agent(rt.name)
                    state, prompt = (row.state, row.prompt) if row else (None, None)
                check_answer(rt.name, state, prompt, str(args["expect_prompt"]))
            if not rt.pane_id:
                raise TmuxError(f"{rt.name} has no pane")
            self.tmux.send_text(
                rt.pane_id, str(args.get("text", "")), enter=bool(args.get("enter", True))
            )
            return f"typed into {rt.name}"
        if cmd.verb == "answer":
            return self.answer(rt, str(args.get("answer", "")).strip())
        if cmd.verb == "interrupt":
            if not rt.pane_id:
                raise TmuxError(f"{rt.name} has no pane")
            self.tmux.interrupt(rt.pane_id)
            if rt.running is not None:
                rt.running.by_operator = True
            return f"Ctrl-C sent to {rt.name}"
        if cmd.verb == "pause":
            rt.paused = True
            rt.reason = reason or "paused by operator"
            if rt.running is None:
                self.set_state(rt, AgentState.PAUSED, rt.reason)
            return f"{rt.name} paused"
        if cmd.verb == "resume":
            rt.paused = False
            rt.consecutive_failures = 0
            rt.reason = None
            if rt.state == AgentState.PAUSED:
                self.set_state(rt, AgentState.IDLE, "resumed by operator")
            return f"{rt.name} resumed"
        if cmd.verb == "respawn":
            if rt.retiring:
                raise ValueError(f"{rt.name} is no longer configured; it closes after its task")
            if rt.running is not None:
                self.lose(rt, "agent respawned by operator")
            rt.respawn_times.clear()
            pane = self.tmux.window_pane(rt.name)
            self.spawn(rt, pane)
            return f"{rt.name} respawned"
        raise ValueError(f"unknown command {cmd.verb!r}")

    def answer(self, rt: AgentRuntime, answer: str) -> str:
        """Answer the prompt an agent waits at: a menu takes the choice's key, a line prompt
        takes the text and Enter. Secret prompts are never answered."""
        if not rt.pane_id:
            raise TmuxError(f"{rt.name} has no pane")
        if not answer:
            raise ValueError("an answer is needed: y, n or a choice number")
        m = match_prompt(rt.prompt or "")
        if m is not None and m.secret:
            raise ValueError(
                f"{rt.name} asks for a secret ({rt.prompt}); attach and type it yourself"
            )
        key = self.menu_key(rt, answer)
        if key is not None:
            self.tmux.send_text(rt.pane_id, key, enter=False)
            return f"chose {key} in {rt.name}'s menu"
        self.tmux.send_text(rt.pane_id, answer, enter=True)
        return f"answered {answer!r} to {rt.name}"

    def menu_key(self, rt: AgentRuntime, answer: str) -> str | None:
        """The key that picks `answer` in the numbered menu the agent shows (None: no menu)."""
        if rt.ia is None:
            return None
        verdict = rt.ia.read()
        if verdict.state != WAITING or not verdict.choices:
            return None
        parts = [choice_parts(c) for c in verdict.choices]
        numbers = [number for number, _ in parts]
        texts = [text.lower() for _, text in parts]
        if answer.isdigit():
            if answer not in numbers:
                raise ValueError(f"{rt.name}'s menu has no choice {answer} ({', '.join(numbers)})")
            return answer
        low = answer.lower()
        yes = ("yes", "allow", "trust", "proceed", "approve", "accept", "ok")
        no = ("no", "don't", "do not", "deny", "reject", "decline", "cancel")
        words = yes if low in ("y", "yes") else no if low in ("n", "no") else ()
        for number, text in zip(numbers, texts, strict=False):
            if text.startswith(words):
                return number
        if low in ("n", "no"):
            return numbers[-1]  # menus put the refusal last
        if low in ("y", "yes"):
            return numbers[0]
        raise ValueError(
            f"{rt.name} shows a menu: answer with a choice number ({', '.join(numbers)})"
        )

    def stop_detached(self, task: Task, block_reason: str | None) -> str:
        """Stop a running attempt that no live agent runtime tracks, then release or block it.

        Used when no supervisor loop runs (the CLI applying a command) or when the claim
        belongs to an agent this supervisor does not run.
        """
        d = Dispatch.latest(self.run_dir, task, self.store.attempts(task.id))
        status, note = stop_orphan(d, STOP_GRACE)  # as stop() and escalate_stop() do, in one go
        reason = "released by operator" if block_reason is None else "stopped to block"
        settled = Settlement(
            AttemptOutcome.RELEASED if block_reason is None else AttemptOutcome.FAILED,
            status.rc if status else None,
            None,
            f"{reason}; {note}" if note else reason,
            "",
        )
        record_settlement(
            self.store, task, settled, delay=self.config.retry.delay, block_reason=block_reason
        )
        if block_reason is None:
            return f"{task.id}: attempt {task.attempts} stopped, claim released"
        return f"{task.id}: attempt {task.attempts} stopped and blocked: {block_reason}"

    def apply_offline(self) -> None:
        """Apply queued commands without running the loop (no supervisor is running)."""
        self.lock.role = "apply"
        self.lock.acquire()
        try:
            self.check_origin()
            try:
                self.server = TmuxServer(
                    server_label(self.config.name, self.state_dir), binary=self.tmux_binary
                )
                held = self.owner_elsewhere()  # one whose state dir was removed still runs
                if held is not None:
                    raise held
                panes = (
                    {p.window: p for p in self.server.list_panes()} if self.server.alive() else {}
                )
            except TmuxError:
                panes = {}
            for name, spec in self.config.agent_instances():
                rt = AgentRuntime(
                    name=name,
                    spec=spec,
                    profile=profile(spec.kind),
                    stream=LogStream(self.log_path(name), start_at_end=True),
                )
                pane = panes.get(name)
                if pane is not None and not pane.dead:
                    rt.pane_id, rt.pid = pane.pane_id, pane.pid
                self.agents[name] = rt
            self.offline = True
            self.apply_commands()
            self.refresh_insights(time.time(), force=True)
        finally:
            self.lock.release()

    def add_tasks(self, specs: list[dict[str, object]]) -> str:
        """Insert tasks added from the command line (dependencies must exist)."""
        ids = {str(s["id"]) for s in specs}
        for s in specs:
            have = self.store.task(str(s["id"]))
            if have is not None and have.command != s.get("command"):
                raise queue.QueueError(
                    f"task {s['id']} already exists with another command; "
                    f"change it with `overseer edit {s['id']} -- COMMAND`"
                )
            raw = s.get("depends_on") or []
            deps = [str(d) for d in raw] if isinstance(raw, list) else []
            missing = [d for d in deps if d not in ids and self.store.task(d) is None]
            if missing:
                raise queue.QueueError(
                    f"task {s['id']} depends on unknown task(s): {', '.join(missing)}"
                )
        added = self.store.upsert_tasks(specs)
        queue.promote(self.store)
        skipped = sorted(ids - set(added))
        msg = f"added {len(added)} task(s)"
        if skipped:
            msg += f"; already present: {', '.join(skipped)}"
        return msg


class StateDirGone(StoreError):
    """The state dir was removed or replaced under a running supervisor, which then stopped."""


def orphan_message(pid: int, note: str) -> str:
    """What a second supervisor (or command) hears while a supervisor `pid` still owns tmux."""
    if not note:
        return (
            f"a supervisor (pid {pid}) is already running on this project's tmux server; "
            "use `overseer status` to watch it or `overseer down` to stop it"
        )
    return (
        f"a supervisor (pid {pid}) still runs on this project's tmux server: {note}. It "
        "dispatches nothing more and stops once those have ended; `overseer down` stops it "
        "now (what runs in its panes keeps running)"
    )


TASK_VERBS = frozenset({"retry", "block", "unblock", "release"})
AGENT_VERBS = frozenset({"send", "answer", "interrupt", "pause", "resume", "respawn"})
