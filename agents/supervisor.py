"""The supervisor loop: read output -> signals -> sweep -> operator commands -> check -> dispatch.

It is the only writer of task and agent state and the only code that changes tmux. Output
arrives by push (pipe-pane logs, inotify) and goes to each agent's driver (agents/drivers/);
a sweep of `list-panes -a` once a second is the safety net for dead panes, lost sentinels
(rc files) and leases. Around it: operator commands (agents/operator.py), start-up
reconciliation (agents/recovery.py), pane and tmux deaths (agents/deaths.py), the state-dir
and tmux-owner guard (agents/guard.py), pane start-up (agents/panes.py) and the sweep's
housekeeping (agents/housekeeping.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

from overseer.agents import deaths, guard, health, housekeeping, ingest, kinds, operator, recovery
from overseer.agents.budget import Budgets
from overseer.agents.clis import CLIS
from overseer.agents.crashes import attempt_lost, lease_expired
from overseer.agents.drivers.base import AgentRuntime, Ended, Running
from overseer.agents.housekeeping import PERSIST_ERRORS
from overseer.agents.insights import Insights
from overseer.agents.lock import LockHeld, SupervisorLock, clear_tmux_owner, set_tmux_owner
from overseer.agents.notify import Notifier
from overseer.agents.offload import Offload
from overseer.agents.scaling import Starts, restore, start_due
from overseer.agents.stream import DirWatch, LogStream, LogWatcher
from overseer.agents.timing import TimingIndex
from overseer.agents.tmux import PaneInfo, TmuxError, TmuxServer, server_label
from overseer.agents.wakeup import Wakeup
from overseer.state import hosts, latency, queue, runs
from overseer.state.config import AgentSpec, Config
from overseer.state.drift import task_specs
from overseer.state.models import AgentState, AttemptOutcome
from overseer.state.paths import StatePaths, agent_of
from overseer.state.queue import LEASE_S
from overseer.state.statedir import UnsafeStateDir, check_tree, command_origin, ensure_gitignore
from overseer.state.store import (
    DEMO_CONFIG,
    StoreError,
    ensure_private_dir,
    explain,
    project_store,
)

log = logging.getLogger("overseer.supervisor")

SWEEP_INTERVAL = 1.0
# While every agent rests and each shell is watched by a pidfd (its exit wakes the loop at
# once), tmux is asked for the panes this often instead of every sweep.
PANES_AT_REST = 5.0
# While the fleet rests (every agent resting and watched, nothing read, signalled, changed or
# hinted for REST_AFTER seconds), the loop sleeps until something wakes it (output, a pidfd,
# an operator command, a signal) or a timer is due (a retry, the sweep), and the whole sweep
# runs every REST_SWEEP seconds (at most half of `heartbeat.warn`); otherwise it waits at most
# STEP_WAIT between passes.
REST_SWEEP = PANES_AT_REST
REST_AFTER = 2.0
CPU_QUIET = 2.0  # a busy agent's process tree is sampled once it printed nothing for this long
STEP_WAIT = 0.2
PROMOTE_EVERY = 60.0  # seconds between safety-net passes over every pending task
TMUX_PATIENCE = 30.0  # --until-done waits this long for a tmux server that went away
RESTING = frozenset({AgentState.IDLE, AgentState.PAUSED, AgentState.DEAD})

__all__ = ["AgentRuntime", "Running", "Supervisor"]


class Supervisor(operator.Fleet):
    """One project's supervisor; `run()` is the loop. It is the drivers' host."""

    sweep_interval = SWEEP_INTERVAL

    def __init__(
        self,
        config: Config,
        state_dir: Path,
        *,
        tmux_binary: str | None = None,
        lease_s: float = LEASE_S,
        trust_state: bool = False,
        host_id: str | None = None,
    ) -> None:
        self.config = config
        check_tree(Path(state_dir))  # before anything is created, changed or opened in it
        self.state_dir = ensure_private_dir(Path(state_dir))
        ensure_gitignore(self.state_dir)
        self.paths = StatePaths(self.state_dir)
        ensure_private_dir(self.paths.logs)
        ensure_private_dir(self.paths.run)
        self.store = project_store(self.state_dir)
        # Several hosts may share a PostgreSQL store: each runs its own agents, named
        # "host/agent" there, and claims only what is not pinned to other hosts.
        self.shared = not self.store.local
        self.host_id = hosts.host_id(self.state_dir, host_id)
        if self.shared:
            self.store.here = self.host_id  # "the supervisor" it reads back is this one
        self.lock = SupervisorLock(self.state_dir)
        self.tmux_binary = tmux_binary
        self.server: TmuxServer | None = None
        self.lease_s = lease_s
        self.agents: dict[str, AgentRuntime] = {}
        self.changed: set[str] = set()
        self.signalled: set[str] = set()  # agents whose hook spool grew (the signals watcher)
        self.statuses: set[Path] = set()  # rc files written (the run dir's watcher)
        self.changed_lock = threading.Lock()
        self.wake = Wakeup()
        # Attempts' files and typed lines: written and typed on a thread of their own.
        self.offloader = Offload(self.wake.set)
        self.stop_requested = False
        self.kill_agents_on_exit = False
        self.started_at = time.time()
        self.watcher: LogWatcher | None = None
        self.signal_watcher: LogWatcher | None = None
        self.rc_watcher: LogWatcher | None = None
        self.next_sweep = 0.0
        self.work_hint = True
        self.tmux_down_since: float | None = None
        # Suggestions are recomputed on a thread of their own, with their own connection.
        advisor_store = project_store(self.state_dir)
        advisor_store.here = self.store.here
        self.suggester = housekeeping.Suggester(
            Insights(
                advisor_store,
                self.state_dir,
                stall_timeout=config.stall_timeout,
                tmux_label=server_label(config.name, self.state_dir),
            )
        )
        self.notifier: Notifier | None = None
        self.suspects: set[str] = set()  # tasks a tmux server death cut off: they run alone
        self.trim_due = 0.0
        self.trust_state = trust_state
        self.origin = command_origin()
        # (device, inode) of the store and the lock at start: a wiped state dir shows here.
        self.identity: dict[Path, tuple[int, int]] = {}
        self.orphaned: str | None = None  # why the state dir is no longer ours (then: drain)
        self.promote_due = 0.0
        self.shells = health.ExitWatch()  # the agents' shells: an exit wakes the loop
        self.trees = health.TreeSampler()  # busy agents' process trees, for their CPU
        self.panes_due = 0.0  # when the panes are listed next while every agent rests
        self.store_watch: DirWatch | None = None  # the state dir: other writers, a wipe
        self.resting = False  # the fleet rests: the loop sleeps until woken or a timer
        self.active_at = 0.0  # when a state last changed or work was hinted
        self.budgets: Budgets = Budgets(config, self.store)  # budgets and the breaker
        self.starts: Starts = Starts()  # agents `overseer scale` added, started staggered
        self.run_id: int | None = None  # this session's run (state/runs.py), once started

    # -- the host of the drivers (and agents/housekeeping.py, agents/deaths.py) -------

    def tmux_down(self, why: str) -> None:
        """The tmux server is unreachable: settle what ran, bring it back (agents/deaths.py)."""
        deaths.tmux_down(self, why)

    def agent_gone(self, rt: AgentRuntime, why: str) -> None:
        """The agent's pane or shell went away under its task: as the sweep would find it."""
        try:
            pane = self.tmux.window_pane(rt.name)
        except TmuxError as exc:
            self.tmux_down(str(exc))
            return
        deaths.agent_died(self, rt, pane, why)

    def offload(self, job: Callable[[], None], failed: Callable[[BaseException], None]) -> None:
        """Run a driver's blocking job on the offload thread (agents/offload.py)."""
        self.offloader.submit(job, failed)

    def refresh_insights(self, now: float, force: bool = False) -> None:
        """Recompute the stored suggestions, spaced out (agents/housekeeping.py)."""
        housekeeping.refresh_insights(self, now, force)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Lock the state dir, seed tasks, bring up tmux and the agents, recover attempts."""
        try:
            self.lock.acquire()
        except LockHeld as exc:
            # The lock file names nobody (its state dir went under it): the tmux server may.
            held = guard.owner_elsewhere(self) if exc.pid is None else None
            if held is None:
                raise
            raise held from exc
        try:
            guard.check_origin(self.store, self.state_dir, self.trust_state)
            self.identity = guard.current_identity(self)
            held = guard.owner_elsewhere(self)  # before anything is written or any pane adopted
            if held is not None:
                raise held
        except BaseException:
            self.lock.release()
            raise
        self.store.meta_set("config", str(self.config.path) if self.config.path else DEMO_CONFIG)
        # Commands that only talk to this supervisor use it while the file on disk is broken.
        self.store.meta_set("config_text", self.config.text)
        label = server_label(self.config.name, self.state_dir)
        if self.shared:
            hosts.remember(self.state_dir, self.host_id)
        self.run_id = runs.open_run(self.store, self.host_id, os.getpid(), self.started_at)
        self.store.supervisor_beat(os.getpid(), self.host_id, self.started_at, time.time(), label)
        self.store.upsert_tasks(task_specs(self.config))  # the config's tasks the store lacks
        self.budgets.start(self)
        queue.promote(self.store)
        self.suspects = queue.suspects(self.store)
        self.server = TmuxServer(label, binary=self.tmux_binary)
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
        ingest.install_hook(self.paths)  # before any CLI is started with hooks calling it
        self.config = restore(self)  # groups scaled at run time keep their size
        for local, spec in self.config.agent_instances():
            name = hosts.qualified(self.host_id, local, self.shared)
            self.store.upsert_agent(name, spec.kind)
            rt = self.new_runtime(name, spec)
            self.agents[name] = rt
            self.adopt_or_spawn(rt)
        # An exit is known from its rc file about a tenth of a millisecond after the wrapper
        # wrote it, without waiting for tmux to relay the sentinel into the log. Writes only:
        # the run dir's files are made empty first (no event), the status is one write.
        self.rc_watcher = LogWatcher(self.paths.run, self.on_run_changed, 0, writes_only=True)
        self.rc_watcher.start()
        self.statuses_pushed = True
        recovery.reconcile(self)
        self.store_watch = DirWatch(self.state_dir)
        self.watcher = LogWatcher(self.paths.logs, self.on_logs_changed)
        self.watcher.start()
        self.signal_watcher = LogWatcher(self.paths.signals, self.on_signals_changed)
        self.signal_watcher.start()

    def new_runtime(self, name: str, spec: AgentSpec) -> AgentRuntime:
        """The in-memory runtime of one agent pane, with the driver of its kind."""
        return AgentRuntime(
            name=name,
            spec=spec,
            profile=kinds.kind(spec.kind).profile,
            stream=LogStream(
                self.paths.log(name), start_at_end=True, times=TimingIndex(self.paths.times(name))
            ),
            driver=kinds.driver(self, spec),
            inbox=ingest.Inbox(self.paths, name, spec.kind) if spec.kind in CLIS else None,
        )

    def shutdown(self) -> None:
        """Stop watching and release the lock; agents keep running unless asked otherwise."""
        self.offloader.close()  # what was claimed is typed (or settled as not typed)
        for rt in self.agents.values():
            rt.driver.settle_end(rt)
        for watcher in (self.watcher, self.signal_watcher, self.rc_watcher):
            if watcher is not None:
                watcher.stop()
        # `overseer status` after the run shows the last word: the agents' last heartbeats
        # and lines (a run shorter than a sweep wrote none), then the suggestions.
        housekeeping.flush_agents(self)
        self.refresh_insights(time.time(), force=True)
        self.suggester.close()
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
        self.store.supervisor_stopped(os.getpid(), self.host_id)
        if self.run_id is not None:
            runs.close_run(self.store, self.run_id)
        self.shells.close()
        if self.store_watch is not None:
            self.store_watch.close()
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
            raise guard.StateDirGone(
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
                    "no agent can take work (all paused or dead, or held by the circuit breaker "
                    "or a budget) and nothing is running",
                )
                break
            if deadline is not None and time.time() >= deadline:
                self.store.event("supervisor.timeout", f"--timeout {timeout:g}s reached")
                break
            self.wake.wait(*self.wait_for(deadline))

    def wait_for(self, deadline: float | None) -> tuple[float, list[int]]:
        """How long the loop may wait before its next pass, and the descriptors that end the
        wait sooner (the agents' shells' pidfds; at rest also the state dir's watch)."""
        now = time.time()
        fds = self.shells.fds()
        watch = self.store_watch.fd if self.store_watch is not None else None
        if self.resting and self.orphaned is None and watch is not None:
            fds.append(watch)
            retry = queue.next_retry(self.store, now)
            if retry is not None:  # the sweep that finds it claimable comes forward to then
                self.next_sweep = min(self.next_sweep, retry)
            due = self.next_sweep
        else:
            due = min(self.next_sweep, now + STEP_WAIT)
        if deadline is not None:
            due = min(due, deadline)
        return max(0.0, due - now), fds

    def halt(self, exc: BaseException) -> NoReturn:
        """Stop without writing to the store (it is what failed) and say why; agents keep running."""
        for watcher in (self.watcher, self.signal_watcher, self.rc_watcher):
            if watcher is not None:
                watcher.stop()
        with contextlib.suppress(Exception):
            self.offloader.close(settle=False)  # the store failed: nothing more is recorded
        if self.notifier is not None:
            with contextlib.suppress(Exception):
                self.notifier.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                clear_tmux_owner(self.server)
            with contextlib.suppress(Exception):
                self.server.close_control()
        with contextlib.suppress(Exception):
            self.suggester.close()
        if self.store_watch is not None:
            self.store_watch.close()
        self.lock.release()
        raise StoreError(
            f"the supervisor stopped: {explain(exc, self.state_dir)}. The agents keep running "
            "in tmux; once this is fixed, `overseer run` picks up where it stopped."
        ) from exc

    def fleet_unavailable(self) -> bool:
        """True when work waits but every agent is paused, dead or held (the breaker, a
        budget) and none is running."""
        if self.starts.queue or any(rt.running is not None for rt in self.agents.values()):
            return False
        if self.tmux_down_since is not None and time.time() - self.tmux_down_since < TMUX_PATIENCE:
            return False  # the agents come back with the tmux server
        if any(
            rt.state not in (AgentState.PAUSED, AgentState.DEAD) and not self.budgets.holds(rt)
            for rt in self.agents.values()
        ):
            return False
        return self.store.task_counts()["ready"] > 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: the interpreter has already written to the wake-up pipe.
        self.stop_requested = True

    def on_logs_changed(self, paths: set[Path]) -> None:
        """Called from the watcher thread: remember which agents have new output."""
        self._note(paths, ".log", "changed")

    def on_signals_changed(self, paths: set[Path]) -> None:
        """Called from the signals watcher's thread: remember whose hook spool grew."""
        self._note(paths, ".jsonl", "signalled")

    def on_run_changed(self, paths: set[Path]) -> None:
        """Called from the run dir watcher's thread: remember which rc files were written."""
        written = {p for p in paths if p.suffix == ".rc"}
        if written:
            with self.changed_lock:
                self.statuses.update(written)
            self.wake.set()

    def _note(self, paths: set[Path], suffix: str, into: str) -> None:
        names = {agent_of(p.stem) for p in paths if p.suffix == suffix}
        if names:
            with self.changed_lock:  # the set is looked up under the lock: the loop swaps it
                getattr(self, into).update(names)
            if into != "changed" or any(self.output_wakes(name) for name in names):
                self.wake.set()

    def output_wakes(self, name: str) -> bool:
        """Whether an agent's new output wakes the loop now (its driver says; see
        AgentDriver.output_wakes), or waits for the next pass."""
        rt = self.agents.get(name)
        return rt is None or rt.driver.output_wakes(rt)

    # -- the loop -------------------------------------------------------------------

    def step(self) -> None:
        """One pass: read output -> signals -> sweep -> operator commands -> check -> dispatch."""
        now = time.time()
        if self.orphaned is not None:
            guard.drain(self, now)
            return
        self.offloader.settle()  # lines that could not be typed
        names = self.read_changed()
        if self.shells.exited():  # an agent's shell ended: look at the panes now
            self.next_sweep = self.panes_due = now
        # Taken before the commands are read, so a command queued from here on wakes the
        # next wait; an entry of the state dir removed or replaced: the sweep's guard looks now.
        if self.store_watch is not None and self.store_watch.drain():
            self.next_sweep = now
        with self.changed_lock:
            signalled, self.signalled = self.signalled, set()
        for name in signalled:
            rt = self.agents.get(name)
            if rt is not None:
                self.read_signals(rt)
        if now >= self.next_sweep:
            self.next_sweep = now + (self.rest_sweep() if self.resting else SWEEP_INTERVAL)
            self.sweep(now)
        if self.orphaned is not None:
            self.next_sweep = min(self.next_sweep, now + SWEEP_INTERVAL)  # guard.drain's pace
            return
        operator.apply_commands(self)
        start_due(self, time.time())
        now = time.time()
        for rt in self.agents.values():
            rt.driver.check(rt, now)
        if self.work_hint or names:
            self.active_at = now
            self.dispatch()
        recovery.retire_finished(self)
        self.resting = self.quiet(time.time())
        if not self.resting:
            self.next_sweep = min(self.next_sweep, now + SWEEP_INTERVAL)

    def set_state(
        self, rt: AgentRuntime, state: AgentState, why: str, source: str | None = None
    ) -> None:
        """Change an agent's state (in memory and in the store) with an event."""
        super().set_state(rt, state, why, source)
        self.active_at = time.time()  # the loop keeps its short waits a while (REST_AFTER)

    def quiet(self, now: float) -> bool:
        """Whether the loop may sleep until something happens: the fleet rests (fleet_rests),
        nothing changed lately, no agent's driver waits for a later look, and the state dir
        is watched (a command, a new task or a wipe then wakes it)."""
        if (
            self.store_watch is None
            or self.store_watch.fd is None
            or self.work_hint
            or self.starts.queue
            or now - self.active_at < REST_AFTER
            or (self.notifier is not None and (self.notifier.running or self.notifier.queue))
            or not self.fleet_rests()
        ):
            return False
        return all(
            now - max(rt.last_output_at or 0.0, rt.signal_at or 0.0) >= REST_AFTER
            and rt.driver.resting(rt, now)
            for rt in self.agents.values()
        )

    def rest_sweep(self) -> float:
        """The sweep's period at rest: REST_SWEEP, or less so an agent's heartbeat (written
        by the sweep) never ages past half of `heartbeat.warn`."""
        return max(SWEEP_INTERVAL, min(REST_SWEEP, self.config.heartbeat.warn / 2))

    def read_changed(self) -> set[str]:
        """Take the statuses of rc files just written, and read the new output of the agents
        the watcher reported; return the names of both."""
        with self.changed_lock:
            names, self.changed = self.changed, set()
            written, self.statuses = self.statuses, set()
        ended: set[str] = set()
        if written:
            for agent in self.agents.values():
                if agent.running is not None and agent.running.dispatch.rc_path in written:
                    agent.driver.status_written(agent)  # it reads the agent's log first
                    ended.add(agent.name)
        for name in names - ended:
            rt = self.agents.get(name)
            if rt is not None:
                rt.driver.read(rt)
        return names | ended

    def read_signals(self, rt: AgentRuntime) -> None:
        """Hand the agent's new signals (hook calls, tailed lines) to its driver."""
        if rt.inbox is None:
            return
        signals, grew = rt.inbox.read()
        if signals or grew:
            rt.signal_at = time.time()
        for sig in signals:
            transcript = sig.data.get("transcript_path")
            if isinstance(transcript, str) and transcript:
                rt.inbox.follow([Path(transcript)])  # its lines carry tokens and cost
            if sig.usage is not None:
                self.record_usage(rt, sig.usage)
            rt.driver.signal(rt, sig)

    # -- panes ----------------------------------------------------------------------

    def adopt_or_spawn(self, rt: AgentRuntime) -> None:
        """Re-adopt a live pane left by an earlier supervisor, or start a fresh one."""
        pane = self.tmux.window_pane(rt.name)
        if pane is None or pane.dead:
            self.spawn(rt, pane)
            return
        self.tmux.repipe(pane.pane_id, self.paths.log(rt.name))
        recovery.catch_up(rt)
        rt.pane_id, rt.pid = pane.pane_id, pane.pid
        rt.heartbeat_at = time.time()
        rt.driver.adopt(rt, pane)

    # -- attempts -------------------------------------------------------------------

    def record(self, rt: AgentRuntime, end: Ended) -> None:
        """Write the attempt's end, move the task on, update the agent's failure count."""
        run = rt.running
        assert run is not None
        rt.running = None
        tail = rt.driver.output_tail(rt, run)  # before the transaction: it may ask tmux
        if end.outcome == AttemptOutcome.LOST:
            attempt_lost(self, rt, run, end.reason or "lost")  # its screen, tail and events
        # The attempt's end and the agent's new state: one transaction, one commit.
        with self.store.tx() as c:
            self.finished(rt, run, end, tail)
            if end.learned_at is not None:  # for /metrics: one upsert in the same commit
                latency.observe(c, latency.EXIT, time.time() - end.learned_at)
        self.work_hint = True

    def finished(self, rt: AgentRuntime, run: Running, end: Ended, tail: str) -> None:
        """The writes of record(), inside its transaction."""
        outcome = end.outcome
        new = queue.finish(
            self.store,
            run.task.id,
            run.attempt.number,
            outcome,
            exit_code=end.exit_code,
            signal=end.sig,
            reason=end.reason,
            output_tail=tail,
            delay=self.config.retry.delay,
            block_reason=run.block_reason or self.budgets.block_reason(run.task.id, outcome),
            result=end.result,
        )
        no_try = (AttemptOutcome.LOST, AttemptOutcome.INTERRUPTED, AttemptOutcome.RELEASED)
        if outcome not in no_try:
            self.suspects.discard(run.task.id)  # it ran to an end of its own
        if new is None:
            pass
        elif outcome == AttemptOutcome.OK:
            rt.consecutive_failures = 0
        elif outcome not in no_try and not run.by_operator:
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

    # -- dispatch -------------------------------------------------------------------

    def free(self, rt: AgentRuntime) -> bool:
        """Whether an agent may be given a task now."""
        return (
            rt.state == AgentState.IDLE
            and rt.running is None
            and not rt.paused
            and not rt.retiring
            and not rt.driver.finishing(rt)
        )

    def claim(
        self, rt: AgentRuntime, *, task_id: str | None = None, max_running: int | None = None
    ) -> bool:
        """Claim a task for a free agent (of the kind its driver takes) and start it there."""
        # The claim and the agent's busy mark are one transaction; what the driver hands to
        # the offload thread (the files, the typing) starts only once that has committed.
        with self.offloader.hold(), self.store.tx() as c:
            claim = queue.claim(
                self.store,
                rt.name,
                self.lease_s,
                max_running=max_running,
                task_id=task_id,
                kind=rt.driver.task_kind,
                names=(rt.spec.name, hosts.bare(rt.name), rt.name),
                log_offset=rt.stream.offset,  # the attempt's output starts here (driver.begin)
                host=self.host_id if self.shared else None,
                run_id=self.run_id,
            )
            if claim is None:
                return False
            latency.observe(c, latency.CLAIM, claim.waited)
            rt.driver.start(rt, claim.task, claim.attempt)
        return True

    def dispatch(self) -> None:
        """Give ready tasks to idle agents, up to max_parallel."""
        self.work_hint = False
        if guard.state_dir_lost(self):
            return
        # On a shared store max_parallel is this host's: each host runs its own share.
        running = self.store.running_count(self.host_id if self.shared else None)
        slots = self.config.max_parallel - running
        if self.suspects and deaths.dispatch_suspect(self, running):
            return
        for rt in self.agents.values():
            if not self.free(rt) or self.budgets.holds(rt):
                continue
            if slots <= 0 or not queue.claimable(self.store):
                return
            if not self.claim(rt, max_running=self.config.max_parallel):
                continue  # tasks differ by kind and routing: another agent may find work
            slots -= 1
            # Typing into a pane takes milliseconds; record the exits that arrived meanwhile
            # now rather than after the whole round (and loop again at once if one did).
            if self.read_changed() and self.work_hint:
                self.wake.set()

    # -- the sweep ------------------------------------------------------------------

    def sweep(self, now: float) -> None:
        """Once a second: panes, rc files, leases, dependencies, heartbeats."""
        if guard.state_dir_lost(self):
            return
        panes: dict[str, PaneInfo] | None = None
        if self.at_rest(now):
            for rt in self.agents.values():
                if rt.state != AgentState.DEAD:
                    rt.heartbeat_at = now  # its shell lives: its pidfd has not fired
        else:
            self.panes_due = now + PANES_AT_REST
            try:
                panes = {p.window: p for p in self.tmux.list_panes()}
            except TmuxError as exc:
                self.tmux_down(str(exc))
        for rt in self.agents.values():
            # Safety net for output the watcher did not report (e.g. before it started).
            if rt.stream.size() > rt.stream.offset:
                rt.driver.read(rt)
            self.read_signals(rt)  # the same for hook calls; tailed files are read here
        if panes is not None:
            self.tmux_down_since = None
            if self.tmux.needs_kick and any(
                p.dead and p.dead_status is None for p in panes.values()
            ):
                self.tmux.kick()
            # The process trees of the agents that run something quietly (health.TreeSampler).
            trees = self.trees.cpu(
                {
                    p.pid
                    for name, p in panes.items()
                    if p.pid and name in self.agents and cpu_watched(self.agents[name], now)
                }
            )
            for rt in self.agents.values():
                self.sweep_agent(rt, panes.get(rt.name), now, trees)
        for rt in self.agents.values():
            if rt.state != AgentState.STARTING or rt.running is None:
                rt.driver.poll(rt, now)
        live = [rt.name for rt in self.agents.values() if rt.running is not None]
        queue.renew_agent_leases(self.store, live, self.lease_s, now)
        expired = queue.reclaim_expired(
            self.store,
            now,
            delay=self.config.retry.delay,
            keep=set(live),
            hosts_alive=self.hosts_alive(now),
        )
        for task_id in expired:
            lease_expired(self, task_id)
        if expired:
            self.work_hint = True
        if now >= self.promote_due:
            # Finishing a task promotes its dependants at once; this pass over the whole
            # queue is only a safety net, so it runs rarely.
            self.promote_due = now + PROMOTE_EVERY
            if queue.promote(self.store, now):
                self.work_hint = True
        self.budgets.check(self, now)
        if queue.claimable(self.store, now):
            self.work_hint = True
        housekeeping.flush_agents(self)
        self.refresh_insights(now)
        housekeeping.trim_history(self, now)
        if self.notifier is not None:
            try:
                self.notifier.poll()
            except Exception:  # a hook problem must never stop the supervisor
                log.exception("notify poll failed")
        with self.store.tx():  # one commit for both beats
            self.store.supervisor_beat(os.getpid(), self.host_id, self.started_at, now)
            if self.run_id is not None:
                runs.beat(self.store, self.run_id, now)

    def hosts_alive(self, now: float) -> set[str]:
        """Other hosts whose supervisors beat within a lease: their claims are theirs to
        renew, even when a lease ran out (a long pause, a slow database), so only a host
        silent for longer than a lease loses its tasks to the others."""
        if not self.shared:
            return set()
        return {
            h.name
            for h in self.store.hosts()
            if h.name != self.host_id and h.beats(now, self.lease_s)
        }

    def at_rest(self, now: float) -> bool:
        """Whether this sweep may skip listing the panes: the fleet rests and the last
        listing is under PANES_AT_REST old."""
        return now < self.panes_due and self.fleet_rests()

    def fleet_rests(self) -> bool:
        """Every agent rests, each live shell is watched by a pidfd, and tmux is up."""
        watched = [
            self.shells.arm(rt.name, rt.pid)
            for rt in self.agents.values()
            if rt.state != AgentState.DEAD
        ]
        return (
            all(watched)
            and self.tmux_down_since is None
            and all(
                rt.state in RESTING and rt.running is None and not rt.awaiting_tmux
                for rt in self.agents.values()
            )
        )

    def sweep_agent(
        self,
        rt: AgentRuntime,
        pane: PaneInfo | None,
        now: float,
        trees: dict[int, float],
    ) -> None:
        """Dead panes, the driver's look at a live one, and process activity as a heartbeat.

        `trees` maps pane pids to their process trees' CPU seconds (from `tree_cpu`).
        """
        if rt.awaiting_tmux:  # the server is back (restarted by us or someone else)
            rt.awaiting_tmux = False
            deaths.agent_died(self, rt, pane, "tmux server died", own_fault=False)
            return
        if rt.state == AgentState.DEAD:
            return
        if pane is None or pane.dead or not health.alive(pane.pid):
            why = "pane gone" if pane is None else f"shell exited (status {pane.dead_status})"
            deaths.agent_died(self, rt, pane, why)
            return
        rt.pid = pane.pid
        if not rt.stream.path.exists():
            # Someone deleted the log: the pipe writes into a dead inode. Start a new file.
            self.store.event(
                "agent.log-reopened", f"{rt.name}: log file was gone; re-piped", agent=rt.name
            )
            self.tmux.repipe(pane.pane_id, rt.stream.path)
            rt.stream.seek(0)
        rt.driver.sweep(rt, pane)
        if rt.state in RESTING:
            # Nothing runs: alive is enough for a heartbeat, and the CPU rate (read only while
            # a task runs) restarts from the next task. Skipping the tree here keeps an idle
            # fleet's sweep cheap.
            rt.heartbeat_at = now
            rt.cpu_rate, rt.cpu_sampled_at = 0.0, None
            return
        cpu = trees.get(pane.pid or 0)
        if cpu is None:
            # Not sampled: its recent output is its heartbeat (or its tree is gone).
            rt.cpu_rate, rt.cpu_sampled_at = 0.0, None
            return
        if rt.cpu_sampled_at is not None and now > rt.cpu_sampled_at:
            used = max(0.0, cpu - rt.cpu_seconds)
            rt.cpu_rate = used / (now - rt.cpu_sampled_at)
        rt.cpu_sampled_at = now
        if cpu > rt.cpu_seconds:
            rt.heartbeat_at = now
        rt.cpu_seconds = cpu


def cpu_watched(rt: AgentRuntime, now: float) -> bool:
    """Whether the sweep samples the CPU of the agent's process tree: it runs something
    and has printed nothing for CPU_QUIET s. Its CPU tells a silent task at work from a
    stuck one (a heartbeat, the stall's note, the suggestions); output tells it sooner.
    At 50 busy agents running short tasks, sampling every tree was a tenth of the loop."""
    if rt.state in RESTING:
        return False
    began = rt.running.started if rt.running is not None else 0.0
    return now - max(rt.last_output_at or 0.0, began) >= CPU_QUIET
