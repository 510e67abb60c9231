"""Scaling agent groups at run time: the `scale` operator command, the staggered starts of
the agents it adds, and the sizes a restarted supervisor keeps (state/pool.py).

Shrinking removes idle agents first, highest number first; a busy agent is never stopped
without `force`: it takes no more work and goes when its attempt ends (it is `retiring`,
as an agent the config no longer names). With `force` its attempt is stopped and the task
released (no try used), then the agent goes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overseer.agents.tmux import TmuxError
from overseer.state import pool
from overseer.state.config import AgentSpec, Config
from overseer.state.models import AttemptOutcome

if TYPE_CHECKING:
    from overseer.agents.operator import Fleet
    from overseer.agents.supervisor import Supervisor


@dataclass
class Starts:
    """Agents a scale-up added, started one at a time, `stagger` seconds apart."""

    queue: deque[tuple[str, str]] = field(default_factory=deque)  # (agent, group)
    next_at: float = 0.0  # no start before this (the last one plus its group's stagger)

    def pending(self, group: str) -> list[str]:
        """The agents of a group still waiting to start."""
        return [name for name, g in self.queue if g == group]

    def drop(self, name: str) -> None:
        """Forget an agent that has not started yet."""
        self.queue = deque(item for item in self.queue if item[0] != name)


def restore(sup: Supervisor) -> Config:
    """The config with the groups scaled earlier; entries the config's count changed since
    are dropped (the config wins again), with an event each."""
    groups = pool.stored(sup.store)
    if not groups:
        return sup.config
    specs = {s.name: s for s in sup.config.agents}
    kept = {}
    for name, entry in groups.items():
        spec = specs.get(name)
        names = pool.valid_names(spec, entry) if spec is not None else None
        if spec is None or names is None:
            sup.store.event(
                "pool.reset",
                f"{name}: the config changed the group since it was scaled; its count applies",
            )
            continue
        kept[name] = entry
        sup.store.event(
            "pool.kept",
            f"{name}: {len(names)} agent(s), as scaled at run time (the config says {spec.count})",
            data={"group": name, "size": len(names), "config": spec.count},
        )
    if kept != groups:
        pool.save(sup.store, kept)
    return pool.scaled(sup.config, sup.store)


def scale(fleet: Fleet, target: str, args: Mapping[str, Any]) -> str:
    """Grow or shrink the group `target` names (a group, or one of its agents) to a size."""
    if fleet.shared:  # its sizes and names are one host's; a shared store has several
        raise ValueError("scale is not supported on a store several hosts share (yet)")
    spec = pool.group(fleet.config, target)
    members = spec.instance_names()
    size = pool.target_size(len(members), str(args.get("size", "")))
    force = bool(args.get("force"))
    if size > len(members):
        added, note = grow(fleet, spec, members, size - len(members))
        members += added
    elif size < len(members):
        removed, note = shrink(fleet, spec, members, len(members) - size, force)
        members = [m for m in members if m not in removed]
    else:
        return f"{spec.name} has {size} agent(s) already"
    keep(fleet, spec, members)
    fleet.store.event(
        "pool.scaled",
        f"{spec.name}: {size} agent(s); {note}",
        data={"group": spec.name, "size": size, "agents": members, "force": force},
    )
    return f"{spec.name}: {size} agent(s); {note}"


def grow(fleet: Fleet, spec: AgentSpec, members: list[str], n: int) -> tuple[list[str], str]:
    """Take back the group's agents that were to go, then name new ones and queue them."""
    back = sorted(
        (rt for rt in fleet.agents.values() if rt.retiring and rt.spec.name == spec.name),
        key=lambda rt: pool.index(spec, rt.name),
    )[:n]
    for rt in back:
        rt.retiring = False
    taken = {name for s in fleet.config.agents for name in s.instance_names()} | set(fleet.agents)
    new = pool.new_names(spec, [*members, *(rt.name for rt in back)], n - len(back), taken)
    if fleet.starts is not None:
        fleet.starts.queue.extend((name, spec.name) for name in new)
    parts = []
    if back:
        parts.append(f"kept {', '.join(rt.name for rt in back)}")
    if new:
        stagger = fleet.config.stagger_of(spec)
        when = "" if fleet.starts is not None else ", with the next supervisor"
        parts.append(f"starting {', '.join(new)} ({stagger:g}s apart{when})")
    return [rt.name for rt in back] + new, "; ".join(parts)


def shrink(
    fleet: Fleet, spec: AgentSpec, members: list[str], n: int, force: bool
) -> tuple[list[str], str]:
    """Remove `n` agents: not yet started, then idle, then busy, highest number first."""
    starts = fleet.starts
    waiting = set(starts.pending(spec.name)) if starts is not None else set()
    busy = {a.agent for a in fleet.store.running_attempts()}
    busy |= {name for name, rt in fleet.agents.items() if rt.running is not None}

    def order(name: str) -> tuple[int, int]:
        rank = 0 if name in waiting else 2 if name in busy else 1
        return rank, -pool.index(spec, name)

    removed = sorted(members, key=order)[:n]
    closed, going, stopped = [], [], []
    for name in removed:
        rt = fleet.agents.get(name)
        if name in waiting and starts is not None:
            starts.drop(name)
        elif name not in busy:
            close(fleet, name)
            closed.append(name)
        elif rt is None:
            if force:
                raise ValueError(
                    f"{name} runs a task and no supervisor runs here to stop it; "
                    "start one (`overseer up`) or release the task first"
                )
            going.append(name)  # the next supervisor re-adopts its attempt, then closes it
        else:
            rt.retiring = True
            if force and rt.running is not None:
                fleet.stop(rt, AttemptOutcome.RELEASED, f"{name} removed by scale", release=True)
                stopped.append(name)
            else:
                going.append(name)
    parts = []
    if closed or (waiting & set(removed)):
        parts.append(f"removed {', '.join(n for n in removed if n not in busy)}")
    if stopped:
        parts.append(f"stopping {', '.join(stopped)} (its task is released, no try used)")
    if going:
        parts.append(f"{', '.join(going)} busy: removed when its task ends (--force stops it)")
    return removed, "; ".join(parts)


def close(fleet: Fleet, name: str) -> None:
    """Close an idle agent's pane and forget it."""
    fleet.agents.pop(name, None)
    if fleet.server is not None:
        with contextlib.suppress(TmuxError):
            fleet.tmux.kill_window(name)
    fleet.store.remove_agent(name)
    fleet.event("agent.removed", f"{name}: removed by scale; its pane was closed", agent=name)


def keep(fleet: Fleet, spec: AgentSpec, members: list[str]) -> None:
    """Make `members` the group's agents, in the running config and in the store."""
    groups = pool.stored(fleet.store)
    plain = dataclasses.replace(spec, names=None)
    if members == plain.instance_names():
        groups.pop(spec.name, None)  # the config's own size again
        new = plain
    else:
        groups[spec.name] = {"config": spec.count, "names": members}
        new = dataclasses.replace(spec, names=tuple(members))
    pool.save(fleet.store, groups)
    agents = tuple(new if s.name == spec.name else s for s in fleet.config.agents)
    fleet.config = dataclasses.replace(fleet.config, agents=agents)


def start_due(sup: Supervisor, now: float) -> None:
    """Start the next queued agent when its turn has come (one per call)."""
    starts = sup.starts
    if starts is None or not starts.queue or now < starts.next_at:
        return
    name, group = starts.queue.popleft()
    spec = next((s for s in sup.config.agents if s.name == group), None)
    if spec is None or name not in spec.instance_names() or name in sup.agents:
        return
    sup.store.upsert_agent(name, spec.kind)
    rt = sup.new_runtime(name, spec)
    sup.agents[name] = rt
    try:
        sup.adopt_or_spawn(rt)
    except TmuxError as exc:  # the sweep finds it without a pane and respawns it (rate-limited)
        sup.event("agent.start-failed", f"{name}: {exc}", agent=name)
    sup.event(
        "agent.scaled-up",
        f"{name}: started (group {group}; {len(starts.pending(group))} more to start)",
        agent=name,
    )
    starts.next_at = time.time() + sup.config.stagger_of(spec)
    sup.work_hint = True
