"""Budgets (the project's, an agent group's, a task's) and the fleet-wide circuit breaker,
evaluated on the supervisor's sweep from grouped reads of what the store recorded.

A budget warns once at 80 % (`budget.warn`) and acts once at 100 % (`budget.exceeded`): warn
does nothing more; pause holds dispatch in its scope (the project: every agent; a group: its
agents; a task: it is not claimed again, it is blocked when its attempt ends) and lets the
running attempts finish; stop also interrupts them, as the operator's interrupt does. The
breaker opens when most recent attempts failed across agents, and holds all dispatch.
`overseer resume` lifts both (`lift`, an operator command).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from overseer.state import budgets as stored
from overseer.state import queue
from overseer.state.budgets import PROJECT, Budget, group_scope, scope_label, task_scope
from overseer.state.config import BreakerConfig, BudgetSpec, Config
from overseer.state.models import AttemptOutcome, TaskState, Usage
from overseer.state.store import Store

if TYPE_CHECKING:
    from overseer.agents.drivers.base import AgentRuntime
    from overseer.agents.operator import Fleet

WARN_AT = 0.8  # share of a budget at which it warns
SYSTEMIC = "something systemic: network, disk, credentials?"
BLOCK_PREFIX = "budget exceeded"
OPEN_TASKS = frozenset(
    s.value for s in (TaskState.READY, TaskState.RUNNING, TaskState.PENDING, TaskState.BLOCKED)
)


def config_budgets(config: Config) -> dict[str, BudgetSpec | None]:
    """The budgets the config gives (None: a scope of the config without one)."""
    specs: dict[str, BudgetSpec | None] = {PROJECT: config.budget}
    specs.update({group_scope(a.name): a.budget for a in config.agents})
    specs.update({task_scope(t.id): t.budget for t in config.tasks})
    return specs


def added_budgets(specs: Iterable[Mapping[str, object]]) -> dict[str, BudgetSpec]:
    """The budgets of tasks added by `overseer add` (rows of state.config.task_row)."""
    out: dict[str, BudgetSpec] = {}
    for s in specs:
        raw = s.get("budget")
        if isinstance(raw, Mapping):
            out[task_scope(str(s["id"]))] = BudgetSpec.from_json(raw)
    return out


def spent(usages: Iterable[Usage | None]) -> tuple[int, float]:
    """Tokens (input and output) and the priced part of the cost of some readings."""
    tokens, cost = 0, 0.0
    for u in usages:
        if u is not None:
            tokens += u.input_tokens + u.output_tokens
            cost += u.cost_usd or 0.0
    return tokens, cost


def over(spec: BudgetSpec, wall: float, tokens: int, cost: float) -> tuple[float, str]:
    """The largest share of the budget used, and what that is ("wall 93s of 100s")."""
    parts: list[tuple[float, str]] = []
    if spec.wall is not None:
        parts.append((wall / spec.wall, f"wall {wall:.0f}s of {spec.wall:g}s"))
    if spec.tokens is not None:
        parts.append((tokens / spec.tokens, f"tokens {tokens:,} of {spec.tokens:,}"))
    if spec.cost_usd is not None:
        parts.append((cost / spec.cost_usd, f"cost ${cost:.2f} of ${spec.cost_usd:.2f}"))
    return max(parts) if parts else (0.0, "")


class Budgets:
    """What holds dispatch (budgets, the breaker), kept in step with the store."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.groups = {name: spec.name for name, spec in config.agent_instances()}
        self.rows: dict[str, Budget] = {}
        self.breaker: dict[str, object] = {"open": False}
        self.walls = stored.WallMeter()

    def start(self, fleet: Fleet) -> None:
        """Write the config's budgets (a changed one starts afresh; a task it held is
        unblocked) and read what holds from the store."""
        for freed in stored.set_budgets(self.store, config_budgets(self.config)):
            release_task(fleet, freed.scope, "its budget changed in the config")
        if self.config.breaker is None and stored.breaker_state(self.store).get("open"):
            stored.set_breaker(
                self.store, {"open": False, "after": stored.last_attempt_id(self.store)}
            )
            self.store.event(
                "breaker.closed", "circuit breaker closed: `breaker: off` in the config"
            )
        self.load()

    def load(self) -> None:
        """Read the budgets and the breaker's state (after a change, or each sweep)."""
        self.rows = {b.scope: b for b in stored.budgets(self.store)}
        self.breaker = stored.breaker_state(self.store)

    # -- what dispatch asks --------------------------------------------------------------

    def holds(self, rt: AgentRuntime) -> bool:
        """Whether an agent may take no task now: the breaker is open, or the project's or
        its group's budget holds."""
        if self.breaker.get("open"):
            return True
        for scope in (PROJECT, group_scope(self.groups.get(rt.name, rt.spec.name))):
            row = self.rows.get(scope)
            if row is not None and row.holding:
                return True
        return False

    def block_reason(self, task_id: str, outcome: AttemptOutcome) -> str | None:
        """Why an attempt that just ended leaves its task blocked: its budget holds it (a
        task that succeeded is done all the same)."""
        row = self.rows.get(task_scope(task_id))
        if row is None or not row.holding or outcome == AttemptOutcome.OK:
            return None
        return blocked_text(row)

    # -- the sweep -----------------------------------------------------------------------

    def check(self, fleet: Fleet, now: float) -> None:
        """Evaluate the budgets and the breaker; warn and act where due."""
        self.load()
        if self.config.breaker is not None and not self.breaker.get("open"):
            self.check_breaker(fleet, self.config.breaker, now)
        live = [b for b in self.rows.values() if b.lifted_at is None]
        if not live:
            return
        fleet_rows = [b for b in live if not b.scope.startswith("task:") and b.acted_at is None]
        if fleet_rows:
            walls = self.walls.read(self.store, now)
            agents = {a.name: a.usage for a in self.store.agents()}
            for b in fleet_rows:
                names = (
                    set(walls) | set(agents)
                    if b.scope == PROJECT
                    else {n for n, g in self.groups.items() if group_scope(g) == b.scope}
                )
                wall = sum(walls.get(n, 0.0) for n in names)
                tokens, cost = spent(agents.get(n) for n in names)
                self.judge(fleet, b, wall, tokens, cost, now)
        tasks = {b.scope[5:]: b for b in live if b.scope.startswith("task:")}
        if tasks:
            states = stored.task_states(self.store, tasks)
            open_ids = [t for t in tasks if states.get(t) in OPEN_TASKS]
            spending = stored.task_spending(self.store, open_ids, now)
            for task_id in open_ids:
                b = tasks[task_id]
                if b.acted_at is None:
                    wall, usages = spending.get(task_id, (0.0, []))
                    self.judge(fleet, b, wall, *spent(usages), now)
                elif b.holding:
                    hold_task(fleet, task_id, blocked_text(b))

    def judge(
        self, fleet: Fleet, b: Budget, wall: float, tokens: int, cost: float, now: float
    ) -> None:
        """Warn at WARN_AT of the budget, act at all of it (each once)."""
        share, what = over(b.spec, wall, tokens, cost)
        task_id = b.scope[5:] if b.scope.startswith("task:") else None
        if share >= 1.0:
            act = b.spec.on_exceed
            done = {
                "warn": "warned only",
                "pause": "paused: no new attempts there; running ones finish",
                "stop": "stopped: running attempts interrupted, no new ones",
            }[act]
            stored.mark(
                self.store, b.scope, acted_at=now, reason=what, warned_at=b.warned_at or now
            )
            fleet.store.event(
                "budget.exceeded",
                f"budget of {scope_label(b.scope)} exceeded ({what}): {done}",
                task_id=task_id,
                data={"scope": b.scope, "on_exceed": act, "spent": what},
            )
            self.load()
            if act == "warn":
                return
            if act == "stop":
                for rt in list(fleet.agents.values()):
                    if rt.running is not None and self.in_scope(rt, b.scope):
                        interrupt_running(fleet, rt)
            if task_id is not None:
                hold_task(fleet, task_id, blocked_text(self.rows[b.scope]))
        elif share >= WARN_AT and b.warned_at is None:
            stored.mark(self.store, b.scope, warned_at=now)
            fleet.store.event(
                "budget.warn",
                f"budget of {scope_label(b.scope)} at {int(share * 100)}% ({what}); "
                f"on exceeding it: {b.spec.on_exceed}",
                task_id=task_id,
                data={"scope": b.scope, "share": round(share, 3), "spent": what},
            )

    def in_scope(self, rt: AgentRuntime, scope: str) -> bool:
        """Whether the agent's running attempt falls under a scope."""
        if scope == PROJECT:
            return True
        if scope.startswith("group:"):
            return group_scope(self.groups.get(rt.name, rt.spec.name)) == scope
        return rt.running is not None and task_scope(rt.running.task.id) == scope

    def check_breaker(self, fleet: Fleet, cfg: BreakerConfig, now: float) -> None:
        """Open the breaker when `failures` of the last `window` finished attempts failed on
        at least `agents` agents (attempts before the last `overseer resume` do not count)."""
        after = int(str(self.breaker.get("after") or 0))
        recent = stored.recent_finished(self.store, cfg.window, after)
        failed = [r for r in recent if r[2] != "ok"]
        agents = {r[1] for r in failed}
        if len(failed) < cfg.failures or len(agents) < cfg.agents:
            return
        codes = sorted({str(r[3]) if r[3] is not None else r[2] for r in failed})
        message = (
            f"circuit breaker open: {len(failed)} of the last {len(recent)} attempts failed "
            f"on {len(agents)} agents (exit codes {', '.join(codes)}): {SYSTEMIC} "
            "Dispatch stopped; running attempts go on; `overseer resume` lifts it"
        )
        self.breaker = {
            "open": True,
            "at": now,
            "after": after,
            "failures": len(failed),
            "window": len(recent),
            "agents": sorted(agents),
            "exit_codes": codes,
            "reason": message,
        }
        stored.set_breaker(self.store, self.breaker)
        fleet.store.event(
            "breaker.open",
            message,
            data={"exit_codes": codes, "agents": sorted(agents), "failures": len(failed)},
        )


def blocked_text(b: Budget) -> str:
    """A task's blocked reason when its budget holds it."""
    return (
        f"{BLOCK_PREFIX} ({b.reason}); raise it in the config or "
        f"`overseer resume --budget {b.scope}`"
    )


def interrupt_running(fleet: Fleet, rt: AgentRuntime) -> None:
    """Interrupt an agent's running attempt as the operator's `interrupt` does."""
    from overseer.agents.operator import interrupt

    try:
        interrupt(fleet, rt)
    except Exception as exc:  # a pane gone meanwhile: its death is seen by the sweep
        fleet.store.event("budget.interrupt-failed", f"{rt.name}: {exc}", agent=rt.name)


def hold_task(fleet: Fleet, task_id: str, reason: str) -> None:
    """A task its budget holds: blocked now unless it is running (then when it ends)."""
    task = fleet.store.task(task_id)
    if task is not None and task.state in (TaskState.READY, TaskState.PENDING):
        queue.block(fleet.store, task_id, reason)


def release_task(fleet: Fleet, scope: str, why: str) -> None:
    """Unblock a task its budget had blocked (its budget was lifted or changed)."""
    if not scope.startswith("task:"):
        return
    task = fleet.store.task(scope[5:])
    held = task is not None and (task.blocked_reason or "").startswith(BLOCK_PREFIX)
    if task is not None and held and task.state == TaskState.BLOCKED:
        queue.unblock(fleet.store, task.id)
        fleet.store.event("budget.lifted", f"{task.id} unblocked: {why}", task_id=task.id)


def lift(fleet: Fleet, scope: str | None) -> str:
    """`overseer resume` (scope None: the breaker and every budget that holds) or
    `overseer resume --budget SCOPE`; a lifted budget does not act again until it changes."""
    store = fleet.store
    now = time.time()
    done: list[str] = []
    if scope is None:
        state = stored.breaker_state(store)
        if state.get("open"):
            # Only attempts that end from now on count towards opening it again.
            stored.set_breaker(store, {"open": False, "after": stored.last_attempt_id(store)})
            store.event("breaker.closed", "circuit breaker lifted by operator: dispatch resumes")
            done.append("circuit breaker lifted")
    rows = {b.scope: b for b in stored.budgets(store)}
    if scope is not None and scope not in rows:
        known = ", ".join(rows) or "none"
        raise ValueError(f"no budget with scope {scope!r} (budgets: {known})")
    for b in rows.values():
        if (scope is None and not b.holding) or (scope is not None and b.scope != scope):
            continue
        stored.mark(store, b.scope, lifted_at=now)
        store.event(
            "budget.lifted",
            f"budget of {scope_label(b.scope)} lifted by operator",
            task_id=b.scope[5:] if b.scope.startswith("task:") else None,
            data={"scope": b.scope},
        )
        release_task(fleet, b.scope, "budget lifted by operator")
        done.append(f"budget of {scope_label(b.scope)} lifted")
    hold = fleet.budgets
    if hold is not None:
        hold.load()
    if not done:
        return "nothing to resume: the circuit breaker is closed and no budget holds"
    return "; ".join(done)
