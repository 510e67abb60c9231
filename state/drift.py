"""Where overseer.yaml and the store disagree about a task, and the edit that syncs them.

The store keeps a task's command once it is seeded (its history depends on it); editing
`run:` in the config changes nothing until the config's version is applied as an edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from overseer.state.config import Config, task_row
from overseer.state.queue import EDITABLE
from overseer.state.store import Store


def task_specs(config: Config) -> list[dict[str, Any]]:
    """The config's tasks as rows for `Store.upsert_tasks`."""
    return [task_row(t, config.max_attempts_for(t)) for t in config.tasks]


@dataclass(frozen=True)
class Drift:
    """One task whose stored fields differ from the config: field -> (store, config)."""

    task_id: str
    fields: dict[str, tuple[Any, Any]]


def drift(store: Store, config: Config) -> list[Drift]:
    """Tasks of the config whose command, timeout, verify, priority or dependencies differ
    from the store's, in config order (tasks the store does not have yet are not drift)."""
    out = []
    for spec in task_specs(config):
        task = store.task(spec["id"])
        if task is None:
            continue
        stored = {
            "command": task.command,
            "timeout": task.timeout,
            "verify": task.verify,
            "priority": task.priority,
            "depends_on": sorted(task.depends_on),
        }
        wanted = {**{k: spec[k] for k in EDITABLE}, "depends_on": sorted(spec["depends_on"])}
        fields = {k: (stored[k], wanted[k]) for k in EDITABLE if stored[k] != wanted[k]}
        if fields:
            out.append(Drift(task.id, fields))
    return out


def describe(drifts: list[Drift], limit: int = 8) -> str:
    """ "build (command, timeout), test (depends_on)", cut after `limit` tasks."""
    parts = [f"{d.task_id} ({', '.join(d.fields)})" for d in drifts[:limit]]
    if len(drifts) > limit:
        parts.append(f"and {len(drifts) - limit} more")
    return ", ".join(parts)


def sync_edits(drifts: list[Drift]) -> dict[str, dict[str, object]]:
    """The `edit` command's changes that give each task the config's version."""
    return {d.task_id: {k: new for k, (_, new) in d.fields.items()} for d in drifts}
