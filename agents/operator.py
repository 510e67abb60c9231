"""Operator commands: what a person asks of the fleet (retry, block, release, add, edit,
send, answer, menu keys, interrupt, pause, resume, respawn, shutdown, lift: `overseer resume`
of the breaker and budgets), applied by the
supervisor's loop or, while none runs, offline (`apply_offline`, without a Supervisor)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from overseer.agents import budget, guard, kinds, panes, scaling
from overseer.agents.answers import Refused, check_answer
from overseer.agents.drivers.base import STOP_GRACE, AgentRuntime, Ended, Host
from overseer.agents.housekeeping import PERSIST_ERRORS
from overseer.agents.insights import Insights
from overseer.agents.lock import SupervisorLock
from overseer.agents.profiles import match_prompt
from overseer.agents.recovery import Settlement, record, stop_orphan
from overseer.agents.runner import Dispatch
from overseer.agents.stream import LogStream
from overseer.agents.tmux import PaneInfo, TmuxError, TmuxServer, server_label
from overseer.state import hosts, pool, queue
from overseer.state.budgets import set_budgets
from overseer.state.config import Config
from overseer.state.models import AgentState, AttemptOutcome, Command, Task, TaskState
from overseer.state.paths import StatePaths
from overseer.state.statedir import check_tree, command_origin
from overseer.state.store import Store, ensure_private_dir, project_store

log = logging.getLogger("overseer.supervisor")
# -- applying operator commands ----------------------------------------------------------

TASK_VERBS = frozenset({"retry", "block", "unblock", "release"})
AGENT_VERBS = frozenset({"send", "answer", "interrupt", "pause", "resume", "respawn"})
GROUP_VERBS = frozenset({"scale"})  # on an agent group (or one of its agents)


class Fleet(Host):
    """The drivers' host as operator commands see it: the supervisor, or Offline."""

    origin: str
    shared: bool  # several hosts share the store (PostgreSQL)
    host_id: str
    agents: dict[str, AgentRuntime]
    stop_requested: bool
    kill_agents_on_exit: bool
    budgets: budget.Budgets | None = None  # the supervisor's (what holds its dispatch)
    starts: scaling.Starts | None = None  # agents a scale-up adds (None: no loop starts them)

    def spawn(self, rt: AgentRuntime, pane: PaneInfo | None = None) -> None:
        """Start (or respawn, in `pane`) the agent's pane."""
        panes.spawn(self, rt, pane)


def apply_commands(fleet: Fleet) -> None:
    """Apply queued operator commands in the order they were written.

    On a shared store a host applies those sent to it and takes those sent to any host
    (one statement: one host gets each); the database's roles say who may send them.
    """
    shared = fleet.shared
    for cmd in fleet.store.pending_commands(fleet.host_id if shared else None):
        if shared and cmd.host is None and not fleet.store.take_command(cmd.id, fleet.host_id):
            continue
        try:
            if cmd.origin != fleet.origin and not shared:
                # Written by another user or machine (or came with a copied store).
                raise ValueError(
                    f"not applied: queued by {cmd.origin or 'an unknown writer'}, "
                    f"not by this user on this machine ({fleet.origin}); queue it again"
                )
            ok, result = True, apply(fleet, cmd)
        except (queue.QueueError, TmuxError, Refused, KeyError, ValueError) as exc:
            ok, result = False, str(exc)
        with fleet.store.tx() as c:
            fleet.store.finish_command_in(c, cmd.id, ok, result)
            fleet.store.add_event(
                c,
                "command." + ("applied" if ok else "rejected"),
                f"{cmd.verb} {cmd.target}: {result}",
                task_id=cmd.target if cmd.verb in TASK_VERBS else None,
                agent=cmd.target if cmd.verb in AGENT_VERBS else None,
            )
        fleet.work_hint = True


def agent_of(fleet: Fleet, name: str) -> AgentRuntime:
    """The runtime of a configured agent, or a clear error."""
    rt = fleet.agents.get(name) or fleet.agents.get(hosts.qualified(fleet.host_id, name, True))
    if rt is None:
        raise KeyError(f"no agent named {name!r} (agents: {', '.join(fleet.agents)})")
    return rt


def running_in(fleet: Fleet, task_id: str) -> AgentRuntime | None:
    """The agent running a task, if any."""
    for rt in fleet.agents.values():
        if rt.running is not None and rt.running.task.id == task_id:
            return rt
    return None


def apply(fleet: Fleet, cmd: Command) -> str:
    """Carry out one operator command; return what happened."""
    args = cmd.args
    reason = str(args.get("reason") or "") or None
    if cmd.verb in TASK_VERBS or cmd.verb in ("add", "edit", "shutdown"):
        return apply_to_queue(fleet, cmd.verb, cmd.target, args, reason)
    if cmd.verb == "lift":  # `overseer resume` without an agent: the breaker and budgets
        return budget.lift(fleet, cmd.target or None)
    if cmd.verb == "scale":
        return scaling.scale(fleet, cmd.target, args)
    rt = agent_of(fleet, cmd.target)
    if cmd.verb == "send":
        if args.get("expect_prompt") is not None:  # an answer a suggestion built
            check_answer(rt.name, rt.state, rt.prompt, str(args["expect_prompt"]))
        return send(fleet, rt, str(args.get("text", "")), bool(args.get("enter", True)))
    if cmd.verb == "answer":
        return answer(fleet, rt, str(args.get("answer", "")).strip())
    if cmd.verb == "interrupt":
        return interrupt(fleet, rt)
    if cmd.verb == "pause":
        rt.paused = True
        rt.reason = reason or "paused by operator"
        if rt.running is None:
            fleet.set_state(rt, AgentState.PAUSED, rt.reason)
        return f"{rt.name} paused"
    if cmd.verb == "resume":
        rt.paused = False
        rt.consecutive_failures = 0
        rt.reason = None
        if rt.state == AgentState.PAUSED:
            fleet.set_state(rt, AgentState.IDLE, "resumed by operator")
        return f"{rt.name} resumed"
    if cmd.verb == "respawn":
        if rt.retiring:
            raise ValueError(f"{rt.name} is no longer configured; it closes after its task")
        if rt.running is not None:
            rt.driver.lose(rt, "agent respawned by operator")
        rt.respawn_times.clear()
        fleet.spawn(rt, fleet.tmux.window_pane(rt.name))
        return f"{rt.name} respawned"
    raise ValueError(f"unknown command {cmd.verb!r}")


def interrupt(fleet: Fleet, rt: AgentRuntime) -> str:
    """Ctrl-C to the agent; its running attempt's failure is not the agent's (pause_after)."""
    fleet.tmux.interrupt(pane_of(rt))
    if rt.running is not None:
        rt.running.by_operator = True
    return f"Ctrl-C sent to {rt.name}"


def apply_to_queue(
    fleet: Fleet, verb: str, target: str, args: Mapping[str, Any], reason: str | None
) -> str:
    """The commands on tasks and on the supervisor itself."""
    if verb == "retry":
        return queue.retry(fleet.store, target, reason)
    if verb == "block":
        why = reason or "blocked by operator"
        rt = running_in(fleet, target)
        if rt is not None and rt.running is not None:
            fleet.stop(rt, AttemptOutcome.FAILED, "stopped to block", block_reason=why)
            rt.running.by_operator = True
            return f"{target} is being stopped and will be blocked: {why}"
        task = fleet.store.task(target)
        if task is not None and task.state == TaskState.RUNNING:
            return stop_detached(fleet, task, why)
        return queue.block(fleet.store, target, why)
    if verb == "unblock":
        return queue.unblock(fleet.store, target)
    if verb == "release":
        rt = running_in(fleet, target)
        if rt is not None:
            fleet.stop(rt, AttemptOutcome.RELEASED, "released by operator", release=True)
            return f"{target}: stopping attempt and releasing the claim"
        task = fleet.store.task(target)
        if task is None:
            raise queue.QueueError(f"no task with id {target!r}")
        if task.state != TaskState.RUNNING:
            raise queue.QueueError(f"{target} is {task.state.value}: no claim to release")
        return stop_detached(fleet, task, None)
    if verb == "add":
        specs = list(args.get("tasks") or [])
        new = [s for s in specs if fleet.store.task(str(s["id"])) is None]
        result = add_tasks(fleet.store, specs)
        # Budgets of the tasks just added (the config's are written at the supervisor's start).
        set_budgets(fleet.store, budget.added_budgets(new))
        if fleet.budgets is not None:
            fleet.budgets.load()
        return result
    if verb == "edit":
        return queue.edit(fleet.store, dict(args.get("tasks") or {}))
    # shutdown
    fleet.stop_requested = True
    fleet.kill_agents_on_exit = bool(args.get("kill_agents"))
    return "supervisor stopping" + (" and ending the agents" if fleet.kill_agents_on_exit else "")


def pane_of(rt: AgentRuntime) -> str:
    """The agent's pane id, or a clear error."""
    if not rt.pane_id:
        raise TmuxError(f"{rt.name} has no pane")
    return rt.pane_id


def send(fleet: Fleet, rt: AgentRuntime, text: str, enter: bool) -> str:
    """Type text into an agent's pane."""
    fleet.tmux.send_text(pane_of(rt), text, enter=enter)
    return f"typed into {rt.name}"


def answer(fleet: Fleet, rt: AgentRuntime, text: str) -> str:
    """Answer the prompt an agent waits at: a menu takes the choice's key, a line prompt
    takes the text and Enter. Secret prompts are never answered."""
    pane = pane_of(rt)
    if not text:
        raise ValueError("an answer is needed: y, n or a choice number")
    m = match_prompt(rt.prompt or "")
    if m is not None and m.secret:
        raise Refused(f"{rt.name} asks for a secret ({rt.prompt}); attach and type it yourself")
    key = rt.driver.menu_key(rt, text)
    if key is not None:
        fleet.tmux.send_text(pane, key, enter=False)
        return f"chose {key} in {rt.name}'s menu"
    fleet.tmux.send_text(pane, text, enter=True)
    return f"answered {text!r} to {rt.name}"


def stop_detached(fleet: Fleet, task: Task, block_reason: str | None) -> str:
    """Stop a running attempt that no live agent runtime tracks, then release or block it.

    Used when no supervisor loop runs (the CLI applying a command) or when the claim
    belongs to an agent this supervisor does not run.
    """
    d = Dispatch.latest(fleet.paths.run, task, fleet.store.attempts(task.id))
    status, note = stop_orphan(d, STOP_GRACE)  # as a supervisor's stop escalates, in one go
    reason = "released by operator" if block_reason is None else "stopped to block"
    settled = Settlement(
        AttemptOutcome.RELEASED if block_reason is None else AttemptOutcome.FAILED,
        status.rc if status else None,
        None,
        f"{reason}; {note}" if note else reason,
        "",
    )
    record(fleet.store, task, settled, delay=fleet.config.retry.delay, block_reason=block_reason)
    if block_reason is None:
        return f"{task.id}: attempt {task.attempts} stopped, claim released"
    return f"{task.id}: attempt {task.attempts} stopped and blocked: {block_reason}"


def add_tasks(store: Store, specs: list[dict[str, object]]) -> str:
    """Insert tasks added from the command line (dependencies must exist)."""
    ids = {str(s["id"]) for s in specs}
    for s in specs:
        have = store.task(str(s["id"]))
        if have is not None and have.command != s.get("command"):
            raise queue.QueueError(
                f"task {s['id']} already exists with another command; "
                f"change it with `overseer edit {s['id']} -- COMMAND`"
            )
        raw = s.get("depends_on") or []
        deps = [str(d) for d in raw] if isinstance(raw, list) else []
        missing = [d for d in deps if d not in ids and store.task(d) is None]
        if missing:
            raise queue.QueueError(
                f"task {s['id']} depends on unknown task(s): {', '.join(missing)}"
            )
    added = store.upsert_tasks(specs)
    queue.promote(store)
    skipped = sorted(ids - set(added))
    msg = f"added {len(added)} task(s)"
    if skipped:
        msg += f"; already present: {', '.join(skipped)}"
    return msg


# -- without a supervisor ----------------------------------------------------------------


class Offline(Fleet):
    """The fleet as the store and tmux show it, for applying commands while no supervisor
    runs (`overseer` commands then apply their own command at once).

    It is also the drivers' host for what a command asks of them; no attempt runs under
    it, so none is ever recorded here.
    """

    def __init__(self, config: Config, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.paths = StatePaths(state_dir)
        self.store = project_store(state_dir)
        self.shared = not self.store.local
        self.host_id = hosts.host_id(state_dir)
        self.config = pool.scaled(config, self.store)  # agents added by `overseer scale`
        self.origin = command_origin()
        self.agents: dict[str, AgentRuntime] = {}
        self.server: TmuxServer | None = None
        with contextlib.suppress(TmuxError):
            self.server = TmuxServer(server_label(config.name, state_dir))
        self.stop_requested = self.kill_agents_on_exit = self.work_hint = False

    def spawn(self, rt: AgentRuntime, pane: PaneInfo | None = None) -> None:
        """Start (or respawn) the agent's pane; the next supervisor adopts it."""
        ensure_private_dir(self.paths.logs)
        super().spawn(rt, pane)

    def record(self, rt: AgentRuntime, end: Ended) -> None:
        """Never asked: no attempt runs under an offline fleet (see stop_detached)."""
        raise ValueError(f"{rt.name}: no supervisor runs to record its attempt")

    def tmux_down(self, why: str) -> None:
        """Never asked: no agent is checked here."""

    def load_agents(self) -> None:
        """A runtime for each configured agent, as its store row and its pane show it."""
        try:
            alive = self.server is not None and self.server.alive()
            found = {p.window: p for p in self.tmux.list_panes()} if alive else {}
        except TmuxError:
            found = {}
        for local, spec in self.config.agent_instances():
            name = hosts.qualified(self.host_id, local, self.shared)
            rt = AgentRuntime(
                name=name,
                spec=spec,
                profile=kinds.kind(spec.kind).profile,
                stream=LogStream(self.paths.log(name), start_at_end=True),
                driver=kinds.driver(self, spec),
            )
            row = self.store.agent(name)
            if row is not None:  # what the last supervisor saw (an answer checks it)
                rt.state, rt.prompt = row.state, row.prompt
            pane = found.get(name)
            if pane is not None and not pane.dead:
                rt.pane_id, rt.pid = pane.pane_id, pane.pid
            self.agents[name] = rt


def apply_offline(config: Config, state_dir: Path, *, trust_state: bool = False) -> None:
    """Apply queued commands while no supervisor runs (under the supervisor lock, role
    apply: a supervisor that starts meanwhile waits for it, then finds them applied)."""
    check_tree(state_dir)
    fleet = Offline(config, state_dir)
    lock = SupervisorLock(state_dir, role="apply")
    try:
        lock.acquire()
        try:
            guard.check_origin(fleet.store, state_dir, trust_state)
            # A supervisor whose state dir was removed may still drive these panes.
            held = guard.owner_of(fleet.server, lock.path) if fleet.server else None
            if held is not None:
                raise held
            fleet.load_agents()
            apply_commands(fleet)
            insights = Insights(
                fleet.store,
                state_dir,
                stall_timeout=config.stall_timeout,
                tmux_label=server_label(config.name, state_dir),
            )
            try:
                insights.refresh(time.time(), supervisor_alive=False, events=False)
            except PERSIST_ERRORS:
                raise
            except Exception as exc:  # a bug in a rule must not fail the command applied
                log.exception("insights refresh failed")
                fleet.event("insights.error", f"suggestions not refreshed: {exc!r}")
        finally:
            lock.release()
    finally:
        fleet.store.close()
