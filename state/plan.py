"""Dependency waves, critical path and estimated speedup of a task graph (pure)."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from overseer.state.config import TaskSpec, cycle_in_run_order


@dataclass(frozen=True)
class Plan:
    """How a set of tasks would run: waves, critical path and a simulated makespan."""

    waves: list[list[str]]
    critical_path: list[str]
    critical_seconds: float
    total_seconds: float
    makespan_seconds: float
    speedup: float
    max_parallel: int
    estimates: dict[str, float] = field(default_factory=dict)
    estimated_from: dict[str, str] = field(default_factory=dict)


def _estimates(
    tasks: Sequence[TaskSpec], history: Mapping[str, float] | None, default: float
) -> tuple[dict[str, float], dict[str, str]]:
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    for task in tasks:
        if task.estimate is not None:
            values[task.id], sources[task.id] = float(task.estimate), "config"
        elif history is not None and task.id in history:
            values[task.id], sources[task.id] = float(history[task.id]), "history"
        else:
            values[task.id], sources[task.id] = float(default), "default"
    return values, sources


def _topological(tasks: Sequence[TaskSpec], deps: Mapping[str, list[str]]) -> list[str]:
    """Task ids with every dependency before its dependents (config order breaks ties)."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = [task.id for task in tasks]
    while remaining:
        still: list[str] = []
        for task_id in remaining:
            if all(dep in placed for dep in deps[task_id]):
                order.append(task_id)
                placed.add(task_id)
            else:
                still.append(task_id)
        if len(still) == len(remaining):  # pragma: no cover - guarded by find_cycle
            raise ValueError("dependency cycle among: " + ", ".join(still))
        remaining = still
    return order


def _simulate(
    tasks: Sequence[TaskSpec],
    deps: Mapping[str, list[str]],
    estimates: Mapping[str, float],
    max_parallel: int,
) -> float:
    """Makespan of list scheduling: free slots take the highest-priority ready task."""
    position = {task.id: i for i, task in enumerate(tasks)}
    priority = {task.id: task.priority for task in tasks}
    waiting_on = {task_id: len(d) for task_id, d in deps.items()}
    dependents: dict[str, list[str]] = {task.id: [] for task in tasks}
    for task_id, task_deps in deps.items():
        for dep in task_deps:
            dependents[dep].append(task_id)
    ready: list[tuple[int, int, str]] = [
        (-priority[t], position[t], t) for t, n in waiting_on.items() if n == 0
    ]
    heapq.heapify(ready)
    running: list[tuple[float, int, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < max_parallel:
            _, pos, task_id = heapq.heappop(ready)
            heapq.heappush(running, (now + estimates[task_id], pos, task_id))
        now, _, finished = heapq.heappop(running)
        done = [finished]
        while running and running[0][0] <= now:
            done.append(heapq.heappop(running)[2])
        for task_id in done:
            for child in dependents[task_id]:
                waiting_on[child] -= 1
                if waiting_on[child] == 0:
                    heapq.heappush(ready, (-priority[child], position[child], child))
    return now


def make_plan(
    tasks: Sequence[TaskSpec],
    max_parallel: int,
    history: Mapping[str, float] | None = None,
    default_estimate: float = 1.0,
) -> Plan:
    """Plan the tasks; dependencies on tasks not in the list count as already done."""
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    ring = cycle_in_run_order(tasks)
    if ring is not None:
        raise ValueError("dependency cycle: " + " -> ".join([*ring, ring[0]]))
    known = {task.id for task in tasks}
    deps = {task.id: [d for d in task.depends_on if d in known] for task in tasks}
    position = {task.id: i for i, task in enumerate(tasks)}
    priority = {task.id: task.priority for task in tasks}
    estimates, sources = _estimates(tasks, history, default_estimate)
    order = _topological(tasks, deps)

    level: dict[str, int] = {}
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for task_id in order:
        level[task_id] = 1 + max((level[d] for d in deps[task_id]), default=-1)
        best: str | None = None
        for dep in deps[task_id]:
            if best is None or finish[dep] > finish[best]:
                best = dep
        via[task_id] = best
        finish[task_id] = estimates[task_id] + (finish[best] if best is not None else 0.0)

    waves: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for task_id in sorted(level, key=lambda t: (-priority[t], position[t])):
        waves[level[task_id]].append(task_id)

    critical: list[str] = []
    critical_seconds = 0.0
    if finish:
        end = max(finish, key=lambda t: (finish[t], -position[t]))
        critical_seconds = finish[end]
        step: str | None = end
        while step is not None:
            critical.append(step)
            step = via[step]
        critical.reverse()

    total = sum(estimates.values())
    makespan = _simulate(tasks, deps, estimates, max_parallel) if tasks else 0.0
    speedup = total / makespan if makespan > 0 else 1.0
    return Plan(
        waves=waves,
        critical_path=critical,
        critical_seconds=critical_seconds,
        total_seconds=total,
        makespan_seconds=makespan,
        speedup=speedup,
        max_parallel=max_parallel,
        estimates=estimates,
        estimated_from=sources,
    )


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def format_plan(plan: Plan) -> str:
    """Human-readable plan: waves, critical path and the estimated speedup."""
    if not plan.waves:
        return "no tasks to plan"
    lines: list[str] = []
    width = max(len(t) for wave in plan.waves for t in wave)
    marks = {"config": "", "history": " (history)", "default": " (default)"}
    for number, wave in enumerate(plan.waves, start=1):
        noun = "task" if len(wave) == 1 else "tasks"
        lines.append(f"wave {number} ({len(wave)} {noun})")
        for task_id in wave:
            seconds = _seconds(plan.estimates.get(task_id, 0.0))
            source = marks.get(plan.estimated_from.get(task_id, ""), "")
            lines.append(f"  {task_id:<{width}}  {seconds:>8}{source}")
    lines.append("")
    path = " -> ".join(plan.critical_path)
    lines.append(f"critical path: {path} ({_seconds(plan.critical_seconds)})")
    lines.append(
        f"estimated speedup at max_parallel={plan.max_parallel}: {plan.speedup:.1f}x "
        f"(makespan {_seconds(plan.makespan_seconds)} vs {_seconds(plan.total_seconds)} serial)"
    )
    defaults = sum(1 for s in plan.estimated_from.values() if s == "default")
    if defaults:
        lines.append(
            f"{defaults} of {len(plan.estimated_from)} estimates are defaults; add "
            "'estimate:' to tasks or run them once to use their history"
        )
    return "\n".join(lines)
