"""Deaths: an agent's pane that died (respawned, rate-limited) and the tmux server's death,
which is charged to a culprit: the tasks it cut off become suspects that run alone."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from overseer.agents import crashes
from overseer.agents.drivers.base import AgentRuntime
from overseer.agents.tmux import PaneInfo, TmuxError
from overseer.state.models import AgentState, AttemptOutcome, TaskState

if TYPE_CHECKING:
    from overseer.agents.supervisor import Supervisor

log = logging.getLogger("overseer.supervisor")


def agent_died(
    sup: Supervisor, rt: AgentRuntime, pane: PaneInfo | None, why: str, *, own_fault: bool = True
) -> None:
    """Count the running attempt as lost and respawn the agent (rate-limited).

    A respawn after a tmux server death (not `own_fault`) does not count toward the
    respawn-loop limit: the agent did nothing wrong.
    """
    sup.store.event("agent.died", f"{rt.name}: {why}", agent=rt.name)
    crashes.agent_died(sup, rt, pane.pane_id if pane is not None else rt.pane_id, why)
    if rt.running is not None:
        rt.driver.lose(rt, f"agent died: {why}")
    if rt.retiring:
        return  # no longer configured: closed, not respawned
    now = time.time()
    rt.respawn_times = [t for t in rt.respawn_times if now - t < rt.profile.respawn_window]
    if len(rt.respawn_times) >= rt.profile.respawn_limit:
        rt.reason = (
            f"respawn loop: {len(rt.respawn_times)} restarts in "
            f"{rt.profile.respawn_window:.0f}s; last: {why}"
        )
        sup.set_state(rt, AgentState.DEAD, rt.reason)
        return
    if own_fault:
        rt.respawn_times.append(now)
    rt.respawns += 1
    try:
        sup.spawn(rt, pane)
    except TmuxError as exc:
        rt.reason = f"respawn failed: {exc}"
        sup.set_state(rt, AgentState.DEAD, rt.reason)


def tmux_down(sup: Supervisor, why: str) -> None:
    """The tmux server is unreachable: count running attempts as lost, bring it back.

    Any task may have killed the server (`tmux kill-server` from a task), so the tasks
    in flight all become suspects and their attempts use no try (INTERRUPTED). A
    suspect then runs alone (see dispatch_suspect): if the server dies again while it
    runs alone, no other task can be blamed and its attempt is LOST, using a try.
    """
    now = time.time()
    if sup.tmux_down_since is None:
        sup.tmux_down_since = now
        sup.store.event("tmux.down", f"tmux server unreachable: {why}")
        cut = [rt.running.task.id for rt in sup.agents.values() if rt.running is not None]
        alone = len(cut) == 1 and cut[0] in sup.suspects
        sup.suspects.update(cut)
        lost = AttemptOutcome.LOST if alone else AttemptOutcome.INTERRUPTED
        for rt in sup.agents.values():
            if rt.running is not None:
                rt.driver.lose(rt, "tmux server died", lost)
            if rt.state != AgentState.DEAD:
                # No pane to type into until the server is back: never dispatch to it.
                rt.awaiting_tmux = True
                rt.reason = "tmux server unreachable"
                sup.set_state(rt, AgentState.DEAD, rt.reason)
    try:
        sup.tmux.ensure_server()
    except TmuxError as exc:
        log.warning("cannot restart tmux: %s", exc)
        return
    sup.store.event("tmux.restarted", "tmux server restarted; respawning agents")
    for rt in sup.agents.values():
        if rt.awaiting_tmux:
            rt.awaiting_tmux = False
            agent_died(sup, rt, None, "tmux server died", own_fault=False)


def dispatch_suspect(sup: Supervisor, running: int) -> bool:
    """Run a task a tmux server death cut off alone; True when nothing else may start.

    While a suspect runs nothing starts beside it; while one is ready the fleet drains,
    then it starts on its own (when no idle agent can take it, the rest start as usual).
    """
    if any(
        rt.running is not None and rt.running.task.id in sup.suspects for rt in sup.agents.values()
    ):
        return True
    tasks = [t for t in map(sup.store.task, sup.suspects) if t is not None]
    # Done, failed or blocked meanwhile (by an operator, say): no longer held apart.
    sup.suspects = {t.id for t in tasks if t.state in (TaskState.READY, TaskState.RUNNING)}
    ready = [
        t.id
        for t in sorted(tasks, key=lambda t: (-t.priority, t.seq))  # the queue's order
        if t.state == TaskState.READY and (t.retry_at or 0) <= time.time()
    ]
    if not ready:
        return False
    if running:
        return True
    for rt in sup.agents.values():
        if sup.free(rt) and any(sup.claim(rt, task_id=task_id) for task_id in ready):
            return True
    return False
