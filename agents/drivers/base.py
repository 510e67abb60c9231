"""The driver interface, the host a driver acts through, and what it knows of an agent.

A driver never imports the supervisor or the operator: everything it changes beyond its own
agent (the agent's state row, the attempt's record, events, tmux) goes through `Host`.
"""

from __future__ import annotations

import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import psutil

from overseer.agents import health
from overseer.agents import usage as usage_
from overseer.agents.ingest import Inbox
from overseer.agents.profiles import Profile
from overseer.agents.runner import Dispatch, Status
from overseer.agents.signals import Signal
from overseer.agents.stream import LogStream
from overseer.agents.tmux import PaneInfo, TmuxError, TmuxServer
from overseer.state.config import AgentSpec, Config
from overseer.state.models import AgentState, Attempt, AttemptOutcome, Task, Usage
from overseer.state.paths import StatePaths
from overseer.state.store import Store

TAIL_CHARS = 4000  # of an attempt's output kept with its record
STOP_GRACE = health.TERM_GRACE  # a stopped attempt gets this long before the harder step
STOP_GIVE_UP = 10.0  # after that: no status by then => attempt lost
USAGE_EVENT_EVERY = 60.0  # an agent.usage event at most this often per agent (not per reading)
# Usage told shortly after an attempt ended (Claude's statusLine runs after Stop; a tailed line
# read a moment late) is that attempt's.
USAGE_GRACE = 30.0
# What a state change writes to the agent's row, and what the sweep writes of a live one.
STATE_FIELDS = [
    "state",
    "state_since",
    "pane_id",
    "pid",
    "reason",
    "prompt",
    "respawns",
    "consecutive_failures",
    "state_source",
]
LIVE_FIELDS = ["heartbeat_at", "last_output_at", "last_line", "prompt", "pid", "pane_id"]


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
    polled_at: float = 0.0  # when the sweep last looked at its pid and rc files
    # A loss whose leftover processes are being ended (settled by escalate_stop), a
    # stopped attempt's status held back until they are gone, and those processes.
    lost: str | None = None
    lost_as: AttemptOutcome = AttemptOutcome.LOST  # how a loss being settled is recorded
    pending: Status | None = None
    leftovers: list[psutil.Process] = field(default_factory=list)
    dying: list[psutil.Process] = field(default_factory=list)  # SIGKILLed by the stop
    shell_pid: int | None = None  # the agent shell it was typed into (None: that one is gone)
    crash_kept: bool = False  # its crash context was written (agents/crashes.py)
    # Interactive agents: when the prompt was pasted (and the screen's generation then), when
    # it was seen in the input box, when Enter was pressed (None: not yet), whether the agent
    # took the prompt, and whether it was ever seen working on it.
    pasted_at: float = 0.0
    screen_at_paste: int = 0
    landed_at: float | None = None
    enter_at: float | None = None
    enter_retries: int = 0
    submitted_at: float | None = None
    saw_busy: bool = False
    screen_at_enter: int = 0
    turn_end_at: float | None = None  # when the CLI's own turn-end event came
    turn_end: str = ""  # that event's name


@dataclass
class AgentRuntime:
    """What the supervisor knows of one agent between store writes."""

    name: str
    spec: AgentSpec
    profile: Profile
    stream: LogStream
    driver: AgentDriver
    running: Running | None = None  # the attempt its driver runs now
    state: AgentState = AgentState.STARTING
    state_since: float = field(default_factory=time.time)
    pane_id: str | None = None
    pid: int | None = None
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
    written: bool = False  # the state row has been written at least once
    awaiting_tmux: bool = False  # its pane went with the tmux server; respawn when it is back
    flushed: tuple[object, ...] = ()
    flushed_beat: float | None = None  # the heartbeat last written
    retiring: bool = False  # no longer configured: finish what runs, take no work, close
    usage: usage_.Tally = field(default_factory=usage_.Tally)  # tokens and cost told so far
    state_source: str | None = None  # what decided the state ("hook Stop", "screen input-box")
    inbox: Inbox | None = None  # its CLI's signals (hook spool, tailed files); None: no signals
    signal_at: float | None = None  # when its CLI last signalled or a tailed file grew

    def fields(self, names: list[str]) -> dict[str, object]:
        """Some of the agent's fields, as its store row names them."""
        return {name: getattr(self, name) for name in names}

    def set_state(
        self, store: Store, state: AgentState, why: str, now: float, source: str | None = None
    ) -> None:
        """Change the agent's state (in memory and in the store) with an event; `source` is
        what decided it (a hook event, a file's line, a screen rule; None: the supervisor)."""
        if state == self.state and self.written:
            if source is not None and source != self.state_source:
                self.state_source = source  # the same state, now confirmed by another source
                store.update_agent(self.name, state_source=source)
            return
        old = self.state
        self.state, self.state_since, self.state_source = state, now, source
        if state != AgentState.WAITING:
            self.prompt = None
        if state not in (AgentState.PAUSED, AgentState.DEAD):
            self.reason = why if state in (AgentState.STALLED, AgentState.UNKNOWN) else None
        run = self.running
        with store.tx() as c:
            store.update_agent_in(
                c,
                self.name,
                **self.fields(STATE_FIELDS),
                task_id=run.task.id if run else None,
                attempt_id=run.attempt.id if run else None,
            )
            store.add_event(
                c,
                f"agent.{state.value}",
                f"{self.name}: {old.value} -> {state.value} ({why})"
                if old != state
                else f"{self.name}: {state.value} ({why})",
                agent=self.name,
                task_id=run.task.id if run else None,
                data={"source": source} if source else None,
            )
        self.written = True


@dataclass(frozen=True)
class Ended:
    """How an attempt ended, as its record says."""

    outcome: AttemptOutcome
    reason: str | None = None
    exit_code: int | None = None
    sig: int | None = None
    result: str | None = None
    # When the exit became known (its rc file's mtime), for the exit-to-store latency.
    learned_at: float | None = None


class Host(ABC):
    """What a driver may use of the supervisor that runs it (or of what stands in for one):
    the agent's state row, the attempt's record, stops, events, tmux, paths and the clock."""

    config: Config
    store: Store
    paths: StatePaths
    server: TmuxServer | None
    work_hint: bool
    # The host reports an attempt's rc file as soon as it is written (status_written): the
    # sweep's look at the run files is then a safety net, taken less often.
    statuses_pushed: bool = False

    @property
    def tmux(self) -> TmuxServer:
        """The project's private tmux server."""
        if self.server is None:
            raise TmuxError("the tmux server has not been started")
        return self.server

    @property
    def stall_timeout(self) -> float:
        """Seconds without progress after which a busy agent counts as stalled."""
        return self.config.stall_timeout

    def clock(self) -> float:
        """Wall-clock seconds (a fake host sets the time)."""
        return time.time()

    def set_state(
        self, rt: AgentRuntime, state: AgentState, why: str, source: str | None = None
    ) -> None:
        """Change an agent's state (in memory and in the store) with an event."""
        rt.set_state(self.store, state, why, self.clock(), source)

    def event(
        self, kind: str, message: str, *, task_id: str | None = None, agent: str | None = None
    ) -> None:
        """Add an event to the log."""
        self.store.event(kind, message, task_id=task_id, agent=agent)

    def hint(self) -> None:
        """Work may have become dispatchable: look at the queue on this pass."""
        self.work_hint = True

    def agent_gone(self, rt: AgentRuntime, why: str) -> None:
        """The agent's pane or shell went away under its task: its attempt is lost (and the
        supervisor respawns it)."""
        rt.driver.lose(rt, f"agent died: {why}")

    def offload(self, job: Callable[[], None], failed: Callable[[BaseException], None]) -> None:
        """Run a blocking job (files, typing into tmux) off the loop where the host has a
        thread for it, else now; `failed(exc)` runs on the loop's thread if it raises."""
        try:
            job()
        except Exception as exc:
            failed(exc)

    def stop(
        self,
        rt: AgentRuntime,
        outcome: AttemptOutcome,
        detail: str,
        *,
        block_reason: str | None = None,
        release: bool = False,
    ) -> None:
        """Stop the running attempt the agent's way; its driver escalates and records it."""
        run = rt.running
        if run is None or run.stop_at is not None:
            return
        run.stop_outcome, run.stop_detail = outcome, detail
        run.block_reason, run.release = block_reason, release
        run.stop_at = self.clock()
        rt.driver.interrupt(rt, run)
        self.event(
            "task.stopping",
            f"{run.task.id}: stopping ({detail})",
            task_id=run.task.id,
            agent=rt.name,
        )

    def on_stall(self, rt: AgentRuntime, detail: str) -> None:
        """Apply the configured stall policy."""
        policy = self.config.on_stall
        if policy == "retry":
            self.stop(rt, AttemptOutcome.STALLED, detail)
        elif policy == "block":
            self.stop(rt, AttemptOutcome.STALLED, detail, block_reason=detail)
        elif rt.pane_id:
            self.tmux.interrupt(rt.pane_id)
            self.event("agent.interrupt", f"{rt.name}: Ctrl-C after stall", agent=rt.name)

    def record_usage(self, rt: AgentRuntime, usage: Usage) -> None:
        """A CLI's reading of tokens/cost: priced when it gave no cost, added once to the agent's
        total and to its attempt's share, with an agent.usage event now and then."""
        tally = rt.usage
        table, problem = usage_.prices()
        if problem and not tally.warned:
            tally.warned = True
            self.event("prices.invalid", f"{problem}; using the shipped prices", agent=rt.name)
        if not tally.loaded:
            row = self.store.agent(rt.name)
            tally.total, tally.loaded = (row.usage if row else None), True
            tally.seen = self.store.usage_readings(rt.name)
        share = tally.share(usage_.price(usage, table))
        if usage_.empty(share):
            return
        now = self.clock()
        tally.total = usage_.add(tally.total, share)
        attempt = self._usage_attempt(rt, now)
        first = False
        if attempt is not None:
            if tally.attempt_id != attempt.id:
                tally.attempt_id, tally.attempt, first = attempt.id, attempt.usage, True
            tally.attempt = usage_.add(tally.attempt, share)
        event = None
        if first or tally.event_at is None or now - tally.event_at >= USAGE_EVENT_EVERY:
            tally.event_at = now
            text = f"{rt.name}: {usage_.usage_text(tally.total)}"
            data: dict[str, object] = {"usage": usage_.stored(tally.total)}
            if attempt is not None:
                text += f" ({attempt.task_id} #{attempt.number}: "
                text += f"{usage_.usage_text(tally.attempt)})"
                data |= {"attempt": attempt.id, "attempt_usage": usage_.stored(tally.attempt)}
            event = (text, data)
        kept = dict(list(tally.seen.items())[-usage_.KEPT_KEYS :]) if usage.key else None
        self.store.record_usage(
            rt.name, tally.total, attempt, tally.attempt, event=event, readings=kept
        )

    def _usage_attempt(self, rt: AgentRuntime, now: float) -> Attempt | None:
        """The attempt a reading belongs to: the running one, else one that just ended."""
        if rt.running is not None:
            return rt.running.attempt
        last = self.store.agent_last_attempt(rt.name)
        if last is None or last.finished_at is None or now - last.finished_at > USAGE_GRACE:
            return None
        return last

    @abstractmethod
    def record(self, rt: AgentRuntime, end: Ended) -> None:
        """Write the end of the agent's running attempt and move its task on."""

    @abstractmethod
    def tmux_down(self, why: str) -> None:
        """The tmux server is gone: settle every attempt and bring it back."""


class AgentDriver(ABC):
    """How one kind of agent is started, read, given work and stopped (one per agent)."""

    task_kind: ClassVar[str]  # the kind of task it takes from the queue

    def __init__(self, host: Host) -> None:
        self.host = host
        self.ready_nonce = ""

    def launch_env(self) -> dict[str, str]:
        """Environment the pane's program starts with: a fresh ready nonce."""
        self.ready_nonce = secrets.token_hex(8)
        return {"OVERSEER_READY_NONCE": self.ready_nonce}

    @abstractmethod
    def command(self, rt: AgentRuntime) -> str:
        """The program the pane runs when the config names none."""

    def launch(self, rt: AgentRuntime, command: str, cwd: str) -> tuple[str, dict[str, str]]:
        """The pane's command with what makes its program report, and the environment added."""
        return command, {}

    def signal(self, rt: AgentRuntime, sig: Signal) -> None:
        """Something the agent's program said about itself (agents/signals.py)."""
        return None  # only AI CLIs report

    @abstractmethod
    def spawned(self, rt: AgentRuntime) -> None:
        """A fresh pane: forget what the old one showed."""

    @abstractmethod
    def catch_up(self, rt: AgentRuntime, size: int) -> None:
        """A re-adopted pane: read what it printed (`size` bytes of log) while no one watched."""

    @abstractmethod
    def adopt(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        """A live pane left by an earlier supervisor: set the agent's state from it."""

    @abstractmethod
    def feed(self, rt: AgentRuntime, data: bytes) -> None:
        """New output of the pane."""

    def caught_up(self, rt: AgentRuntime) -> None:
        """All new output has been read."""
        return None  # nothing to do for most kinds

    def status_written(self, rt: AgentRuntime) -> None:
        """The running attempt's rc file was written (its status, before the log shows it)."""
        return None  # only shell agents run a wrapper

    def finishing(self, rt: AgentRuntime) -> bool:
        """Whether the last attempt, recorded already, still waits for its output to arrive
        (the agent takes no task meanwhile)."""
        return False

    def read(self, rt: AgentRuntime) -> None:
        """Read the pane's new output (its log) and feed it to the driver."""
        while data := rt.stream.read_new():
            rt.last_output_at = rt.heartbeat_at = self.host.clock()
            self.feed(rt, data)
        self.caught_up(rt)

    @abstractmethod
    def check(self, rt: AgentRuntime, now: float) -> None:
        """Timeouts, stalls, prompts and stop escalation (called every loop, cheap)."""

    @abstractmethod
    def start(self, rt: AgentRuntime, task: Task, attempt: Attempt) -> None:
        """Give a claimed task to the idle agent."""

    @abstractmethod
    def interrupt(self, rt: AgentRuntime, run: Running) -> None:
        """Ask the running attempt to stop (the host escalates through check)."""

    def lose(
        self,
        rt: AgentRuntime,
        reason: str,
        lost: AttemptOutcome = AttemptOutcome.LOST,
        *,
        wait: bool = False,
    ) -> None:
        """The attempt ended without a readable result (its agent or tmux died).

        `lost` is how it is recorded then: INTERRUPTED (no try used) for one a tmux server
        death cut off; a loss begun earlier is recorded as it was begun.
        """
        run = rt.running
        if run is None:
            return
        if run.lost is not None:
            lost = run.lost_as
        elif lost == AttemptOutcome.INTERRUPTED:
            reason += "; no try used"
        self.settle_loss(rt, run, reason, lost, wait)

    @abstractmethod
    def settle_loss(
        self, rt: AgentRuntime, run: Running, reason: str, lost: AttemptOutcome, wait: bool
    ) -> None:
        """Record a loss (see lose), after ending what is left of the attempt."""

    def begin(self, rt: AgentRuntime, task: Task, attempt: Attempt, d: Dispatch) -> Running:
        """The attempt now in flight in the agent, its output counted from here."""
        now = self.host.clock()
        rt.running = Running(
            task=task,
            attempt=attempt,
            dispatch=d,
            started=now,
            mark=rt.stream.ring.total,
            deadline=now + task.timeout if task.timeout else None,
            shell_pid=rt.pid,
        )
        if attempt.log_offset != rt.stream.offset:  # the claim records it (Supervisor.claim)
            self.host.store.set_attempt_offset(attempt.id, rt.stream.offset)
        return rt.running

    def settle_end(self, rt: AgentRuntime) -> None:
        """No loop follows (shutdown): record now an attempt still being ended."""
        return None  # nothing to do for most kinds

    @abstractmethod
    def output_tail(self, rt: AgentRuntime, run: Running) -> str:
        """What the attempt showed, kept with its record."""

    @abstractmethod
    def sweep(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        """Once a second, a look at the agent's live pane."""

    def poll(self, rt: AgentRuntime, now: float) -> None:
        """Once a second: results the output did not show (the safety net)."""
        return None  # nothing to do for most kinds

    def output_wakes(self, rt: AgentRuntime) -> bool:
        """Whether new output should wake the loop at once (else the loop's next pass reads
        it, within a fifth of a second). Called from the log watcher's thread."""
        return True

    def resting(self, rt: AgentRuntime, now: float) -> bool:
        """Whether a resting agent needs no `check` until new output, a signal or a command
        (then the loop may sleep)."""
        return True

    @abstractmethod
    def readopt(self, rt: AgentRuntime) -> None:
        """At start-up: the agent's attempt, recorded as running, is rebuilt (rt.running)."""

    @abstractmethod
    def still_running(self, rt: AgentRuntime, pane: PaneInfo) -> bool:
        """Whether the attempt in a live pane goes on (read only, for a draining supervisor)."""

    @abstractmethod
    def last_line(self, rt: AgentRuntime) -> str:
        """The line shown for the agent in the dashboard."""

    def last_screen(self, rt: AgentRuntime) -> str:
        """The agent's screen as its driver last read it ('' when it keeps none)."""
        return ""

    def menu_key(self, rt: AgentRuntime, answer: str) -> str | None:
        """The key that picks `answer` in a menu the agent shows (None: no menu)."""
        return None
