"""Budgets and the circuit breaker as the store keeps them: each scope's budget and what it
did (the `budgets` table), the breaker's state (a meta row), and the aggregates they read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from overseer.state.config import BudgetSpec
from overseer.state.models import Usage
from overseer.state.store import Store, usage_from_json

PROJECT = "project"
BREAKER_KEY = "breaker"
# Attempts that ended by themselves: these count for the breaker (a released, stale or
# interrupted attempt says nothing about the fleet).
FINISHED = ("ok", "failed", "timeout", "stalled", "lost")
_CHUNK = 500  # ids per IN (...) list


def group_scope(name: str) -> str:
    """The scope of an agent group's budget."""
    return f"group:{name}"


def task_scope(task_id: str) -> str:
    """The scope of a task's budget."""
    return f"task:{task_id}"


def scope_label(scope: str) -> str:
    """How a scope reads in a message: 'the project', "group 'w'", "task 'build'"."""
    kind, _, name = scope.partition(":")
    return "the project" if scope == PROJECT else f"{kind} {name!r}"


@dataclass(frozen=True)
class Budget:
    """One scope's budget and what it has done so far."""

    scope: str
    spec: BudgetSpec
    warned_at: float | None = None  # the 80 % warning was given
    acted_at: float | None = None  # the limit was reached and on_exceed applied
    reason: str | None = None  # what was spent, when it acted
    lifted_at: float | None = None  # `overseer resume` lifted it: it does not act again

    @property
    def holding(self) -> bool:
        """Whether it holds dispatch in its scope now (paused or stopped, not lifted)."""
        return (
            self.acted_at is not None
            and self.lifted_at is None
            and self.spec.on_exceed in ("pause", "stop")
        )

    def as_json(self) -> dict[str, Any]:
        """The budget as `status --json` shows it."""
        return {
            "scope": self.scope,
            **self.spec.as_json(),
            "warned_at": self.warned_at,
            "exceeded_at": self.acted_at,
            "reason": self.reason,
            "lifted_at": self.lifted_at,
            "holding": self.holding,
        }


def _spec_text(spec: BudgetSpec) -> str:
    return json.dumps(spec.as_json(), sort_keys=True)


def budgets(store: Store) -> list[Budget]:
    """Every stored budget."""
    rows = store.conn.execute(
        "SELECT scope, spec, warned_at, acted_at, reason, lifted_at FROM budgets ORDER BY scope"
    )
    return [
        Budget(r[0], BudgetSpec.from_json(json.loads(r[1])), r[2], r[3], r[4], r[5]) for r in rows
    ]


def set_budgets(store: Store, specs: Mapping[str, BudgetSpec | None]) -> list[Budget]:
    """Write the budgets of these scopes (None: it has none). A changed budget starts afresh
    (no warning given, not acted); return the budgets that were holding and no longer are."""
    freed: list[Budget] = []
    with store.tx() as c:
        have = {b.scope: b for b in budgets(store)}  # a few rows: read once, not per scope
        for scope, spec in specs.items():
            old = have.get(scope)
            if old is None and spec is None:
                continue
            if spec is not None and old is not None and _spec_text(old.spec) == _spec_text(spec):
                continue
            if old is not None and old.holding:
                freed.append(old)
            c.execute("DELETE FROM budgets WHERE scope=?", (scope,))
            if spec is not None:
                c.execute(
                    "INSERT INTO budgets(scope, spec) VALUES (?, ?)", (scope, _spec_text(spec))
                )
    return freed


def mark(store: Store, scope: str, **fields: float | str | None) -> None:
    """Note what a budget did (warned_at, acted_at, reason, lifted_at)."""
    cols = ", ".join(f"{k}=?" for k in fields)
    with store.tx() as c:
        c.execute(f"UPDATE budgets SET {cols} WHERE scope=?", (*fields.values(), scope))


class WallMeter:
    """Seconds of attempts per agent (running ones count to now), kept incrementally: the
    attempts below the oldest running one have ended for good, so their sum is read once and
    only the attempts from the oldest running one on are read again at each call."""

    def __init__(self) -> None:
        self.settled: dict[str, float] = {}  # agent -> seconds of attempts with id <= upto
        self.upto = 0

    def read(self, store: Store, now: float) -> dict[str, float]:
        """Seconds per agent, through the ids (a range read, not a table read)."""
        row = store.conn.execute(
            "SELECT MIN(id) FROM attempts WHERE outcome='running'"  # the outcome's index
        ).fetchone()
        oldest = row[0] if row and row[0] is not None else None
        upto = int(oldest) - 1 if oldest is not None else last_attempt_id(store)
        if upto > self.upto:
            for agent, spent in store.conn.execute(
                "SELECT agent, SUM(finished_at - started_at) FROM attempts "
                "WHERE id > ? AND id <= ? GROUP BY agent",
                (self.upto, upto),
            ):
                self.settled[agent] = self.settled.get(agent, 0.0) + float(spent or 0.0)
            self.upto = upto
        out = dict(self.settled)
        for agent, spent in store.conn.execute(
            "SELECT agent, SUM(COALESCE(finished_at, ?) - started_at) FROM attempts "
            "WHERE id > ? GROUP BY agent",
            (now, self.upto),
        ):
            out[agent] = out.get(agent, 0.0) + float(spent or 0.0)
        return {agent: max(0.0, spent) for agent, spent in out.items()}


def task_spending(
    store: Store, task_ids: Iterable[str], now: float
) -> dict[str, tuple[float, list[Usage]]]:
    """Seconds and reported usage of each task's attempts (through the task's index)."""
    ids = list(task_ids)
    out: dict[str, tuple[float, list[Usage]]] = {}
    for i in range(0, len(ids), _CHUNK):
        part = ids[i : i + _CHUNK]
        rows = store.conn.execute(
            "SELECT task_id, COALESCE(finished_at, ?) - started_at, usage FROM attempts "
            f"WHERE task_id IN ({','.join('?' * len(part))})",
            (now, *part),
        )
        for task_id, spent, usage in rows:
            wall, usages = out.get(task_id, (0.0, []))
            found = usage_from_json(usage)
            out[task_id] = (
                wall + max(0.0, float(spent or 0.0)),
                usages + ([found] if found else []),
            )
    return out


def task_states(store: Store, task_ids: Iterable[str]) -> dict[str, str]:
    """The state of each of these tasks (a light read: no full rows)."""
    ids = list(task_ids)
    out: dict[str, str] = {}
    for i in range(0, len(ids), _CHUNK):
        part = ids[i : i + _CHUNK]
        rows = store.conn.execute(
            f"SELECT id, state FROM tasks WHERE id IN ({','.join('?' * len(part))})", part
        )
        out.update({str(r[0]): str(r[1]) for r in rows})
    return out


def recent_finished(
    store: Store, window: int, after_id: int
) -> list[tuple[int, str, str, int | None]]:
    """The newest `window` attempts (by claim) that ended by themselves, after attempt
    `after_id`: (id, agent, outcome, exit code). Read backwards along the ids in pages, so
    it stops early whatever the table's size."""
    out: list[tuple[int, str, str, int | None]] = []
    below: int | None = None
    page = window * 2 + 32
    while len(out) < window:
        sql = "SELECT id, agent, outcome, exit_code FROM attempts WHERE id > ?"
        args: list[object] = [after_id]
        if below is not None:
            sql += " AND id < ?"
            args.append(below)
        rows = store.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, page)).fetchall()
        out += [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows if r[2] in FINISHED]
        if len(rows) < page:
            break
        below = int(rows[-1][0])
    return out[:window]


def last_attempt_id(store: Store) -> int:
    """The newest attempt's id (0: none)."""
    row = store.conn.execute("SELECT MAX(id) FROM attempts").fetchone()
    return int(row[0] or 0) if row else 0


def breaker_state(store: Store) -> dict[str, Any]:
    """The breaker as stored: {"open": bool, "at", "reason", "exit_codes", "after": attempt id}."""
    text = store.meta_get(BREAKER_KEY)
    return dict(json.loads(text)) if text else {"open": False, "after": 0}


def set_breaker(store: Store, state: Mapping[str, Any]) -> None:
    """Store the breaker's state (it survives a restart)."""
    store.meta_set(BREAKER_KEY, json.dumps(dict(state), sort_keys=True))
