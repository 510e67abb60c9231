"""Start-up reconciliation and the settlement of attempts no agent runtime watches.

A supervisor that starts (and `overseer recover`, which runs the same once) re-adopts the
panes and attempts an earlier one left, catches up on what they printed meanwhile, retires
agents the config no longer names, and settles what ended. `settle_orphan` is the one
judgement of an attempt from its files alone, used by the supervisor and `overseer cleanup`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from overseer.agents import health, runner
from overseer.agents.drivers.base import AgentRuntime, Running
from overseer.agents.kinds import KindError
from overseer.agents.runner import HANGUP_STATUS as HANGUP_STATUS
from overseer.agents.runner import HUNG_UP as HUNG_UP
from overseer.agents.runner import Dispatch, Status, hung_up, loss_reason
from overseer.agents.tmux import TmuxError
from overseer.state import queue
from overseer.state.config import AgentSpec
from overseer.state.models import AgentState, AttemptOutcome, Task, TaskState, host_of
from overseer.state.store import Store

if TYPE_CHECKING:
    from overseer.agents.supervisor import Supervisor


@dataclass(frozen=True)
class Settlement:
    """How an attempt without a runtime ends: its outcome and what the record says."""

    outcome: AttemptOutcome
    exit_code: int | None
    signal: int | None
    reason: str
    detail: str  # one line for the operator (`overseer cleanup` lists it)


def settle_orphan(
    d: Dispatch,
    task: Task,
    *,
    why: str,
    shell_gone: Callable[[], bool],
    end: bool = True,
) -> Settlement:
    """Judge an attempt no runtime watches from its files, ending what is left of it.

    A hang-up status while its shell is gone is the agent dying, not a result. Unless
    `end` is False (a dry run), a lost attempt's leftover processes (a daemon it started
    included) are ended first: nothing of it may run beside its retry.
    """
    status = runner.read_rc(d.rc_path)
    pid = runner.read_pid(d.pid_path)
    hangup = False
    if hung_up(status) and shell_gone():
        status, hangup = None, True
    note = ""
    if status is None and pid is not None and end:
        note = d.end(health.TERM_GRACE).note()
        status = runner.read_rc(d.rc_path)  # unless it finished just before
        if hung_up(status):
            status, hangup = None, True
    if status is not None:
        outcome, code, sig, reason = runner.judge(status, task.verify)
        return Settlement(
            outcome, code, sig, reason or "", f"finished with exit {code} (from its rc file)"
        )
    if pid is None:
        return Settlement(
            AttemptOutcome.RELEASED,
            None,
            None,
            f"{why}, before the task started",
            "never started: requeued without using a try",
        )
    reason = loss_reason(why, note, hangup)
    detail = "ended without a status: recorded lost" + (f" ({note})" if note else "")
    return Settlement(AttemptOutcome.LOST, None, None, reason, detail)


def stop_orphan(d: Dispatch, grace: float) -> tuple[Status | None, str]:
    """Stop an attempt no runtime watches (SIGTERM, SIGKILL after `grace`, then whatever is
    left); return its status, if it reported one, and a note of what had to be ended."""
    began = time.time()
    if d.stop(signal.SIGTERM):
        deadline = time.time() + grace
        while time.time() < deadline and runner.read_rc(d.rc_path) is None:
            time.sleep(0.05)
        if runner.read_rc(d.rc_path) is None:
            d.stop(signal.SIGKILL)
            deadline = time.time() + 2.0
            while time.time() < deadline and runner.read_rc(d.rc_path) is None:
                time.sleep(0.05)
    status = runner.read_rc(d.rc_path)
    # Whatever is left (a daemon the task started, a wrapper that never reported).
    return status, d.end(max(0.0, began + grace - time.time())).note()


def record(
    store: Store,
    task: Task,
    s: Settlement,
    *,
    delay: Callable[[int], float],
    block_reason: str | None = None,
) -> None:
    """Write a settlement as the end of the task's latest attempt."""
    queue.finish(
        store,
        task.id,
        task.attempts,
        s.outcome,
        exit_code=s.exit_code,
        signal=s.signal,
        reason=s.reason,
        delay=delay,
        block_reason=block_reason,
    )


# -- start-up reconciliation -------------------------------------------------------------


def reconcile(sup: Supervisor) -> None:
    """After the configured agents are adopted or spawned: the rest of what was left."""
    adopt_unconfigured(sup)
    readopt_attempts(sup)
    stop_superseded(sup)
    retire_finished(sup)


def ours(sup: Supervisor, agent: str) -> bool:
    """Whether an agent of the store is this supervisor's (on a shared store: its host's)."""
    return not sup.shared or host_of(agent) == sup.host_id


def catch_up(rt: AgentRuntime) -> None:
    """Read what a re-adopted pane printed while no supervisor ran, and when it last did.

    What was read is not stamped with the time of reading: tmux appended it while nobody
    read, so the log's mtime is when the pane last printed. Silence is measured from
    there, never from the restart.
    """
    size = rt.stream.size()
    rt.driver.catch_up(rt, size)
    try:
        mtime = os.stat(rt.stream.path).st_mtime
    except OSError:
        return
    if size:
        rt.last_output_at = min(mtime, time.time())


def adopt_unconfigured(sup: Supervisor) -> None:
    """Panes and claims of agents the config no longer names (count shrunk, renamed).

    An attempt still running there is re-adopted and watched to its end like any other
    (readopt_attempts decides), never requeued to run beside itself; the pane is closed
    once it has ended (retire_finished). Their idle panes are closed now.
    """
    claimed = {a.agent for a in sup.store.running_attempts() if ours(sup, a.agent)}
    claimed -= set(sup.agents)
    panes = {p.window: p for p in sup.tmux.list_panes() if p.window not in sup.agents}
    for name in sorted(claimed):
        row = sup.store.agent(name)
        spec = AgentSpec(name=name, kind=row.kind if row is not None else "shell")
        try:
            rt = sup.new_runtime(name, spec)
        except KindError:  # a custom kind's patterns went with its config
            rt = sup.new_runtime(name, AgentSpec(name=name))
        rt.retiring = True
        sup.agents[name] = rt
        pane = panes.get(name)
        if pane is not None and not pane.dead:
            sup.adopt_or_spawn(rt)  # a live pane: re-adopted, never respawned
    for name in sorted(set(panes) - claimed):
        pane = panes[name]
        if not pane.dead and health.has_children(pane.pid):
            # Not ours to end: someone runs something there (`overseer clean --force`).
            sup.store.event(
                "agent.unconfigured",
                f"{name}: no longer configured, but a program runs in its pane; left open",
                agent=name,
            )
            continue
        retire(sup, name)
    for row in sup.store.agents():
        if row.name not in sup.agents and row.name not in panes and ours(sup, row.name):
            sup.store.remove_agent(row.name)


def retire_finished(sup: Supervisor) -> None:
    """Close the panes of unconfigured agents whose last attempt has ended."""
    for rt in [rt for rt in sup.agents.values() if rt.retiring and rt.running is None]:
        del sup.agents[rt.name]
        retire(sup, rt.name)


def retire(sup: Supervisor, name: str) -> None:
    """Close the window of an agent no longer configured and forget it."""
    with contextlib.suppress(TmuxError):
        sup.tmux.kill_window(name)
    sup.store.remove_agent(name)
    sup.store.event(
        "agent.retired", f"{name}: no longer configured; its pane was closed", agent=name
    )


def stop_superseded(sup: Supervisor) -> None:
    """Stop what an agent still runs of an attempt the store no longer counts as running.

    Another host took the task over while this host's supervisor was away (its lease ran
    out, its heartbeat went stale): that attempt is no longer this agent's to record, and
    must not run beside its successor. A status it wrote meanwhile is left unread.
    """
    if not sup.shared:
        return  # one supervisor per store: nobody else takes its attempts over
    for rt in sup.agents.values():
        if rt.running is not None:
            continue
        last = sup.store.agent_last_attempt(rt.name)
        if last is None or last.outcome == AttemptOutcome.RUNNING:
            continue
        d = Dispatch.of(sup.paths.run, last.task_id, last.number, last.nonce)
        pid = runner.read_pid(d.pid_path)
        if pid is None or runner.read_rc(d.rc_path) is not None or not health.alive(pid):
            continue
        _, note = stop_orphan(d, health.TERM_GRACE)
        sup.store.event(
            "attempt.superseded",
            f"{last.task_id} attempt {last.number} still ran in {rt.name} after it was "
            f"recorded {last.outcome.value} ({last.reason or 'taken over'}): stopped, "
            "its result not recorded" + (f" ({note})" if note else ""),
            task_id=last.task_id,
            agent=rt.name,
            data={"attempt": last.number},
        )


def readopt_attempts(sup: Supervisor) -> None:
    """Re-adopt attempts still running in panes and record those that ended meanwhile."""
    for attempt in sup.store.running_attempts():
        task = sup.store.task(attempt.task_id)
        rt = sup.agents.get(attempt.agent)
        if task is None or rt is None:
            continue  # (every claimed agent has a runtime: see adopt_unconfigured)
        if task.state != TaskState.RUNNING or task.attempts != attempt.number:
            continue
        # Output the catch-up read since the attempt began belongs to it.
        ring = rt.stream.ring
        since = rt.stream.offset - attempt.log_offset
        rt.running = Running(
            task=task,
            attempt=attempt,
            dispatch=Dispatch.of(sup.paths.run, task.id, attempt.number, attempt.nonce),
            started=attempt.started_at,
            mark=ring.total - min(len(ring), since) if since >= 0 else ring.total,
            deadline=attempt.started_at + task.timeout if task.timeout else None,
            # A pane started afresh by this supervisor is not the one the task ran in.
            shell_pid=None if rt.state == AgentState.STARTING else rt.pid,
        )
        rt.driver.readopt(rt)
    live = [rt.name for rt in sup.agents.values() if rt.running is not None]
    queue.renew_agent_leases(sup.store, live, sup.lease_s)
