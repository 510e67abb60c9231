"""The pool: agent groups scaled at run time (`overseer scale`), their members kept in the
store's meta table until the config changes the group's `count:`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, Protocol

from overseer.state.config import MAX_AGENT_COUNT, SAFE_ID, AgentSpec, Config

META_KEY = "pool"


class Meta(Protocol):
    """The part of a store the pool reads and writes."""

    def meta_get(self, key: str) -> str | None: ...

    def meta_set(self, key: str, value: str) -> None: ...


def stored(store: Meta) -> dict[str, dict[str, Any]]:
    """The scaled groups as stored: group -> {"config": its count then, "names": [...]}."""
    try:
        raw = json.loads(store.meta_get(META_KEY) or "{}")
    except ValueError:
        return {}
    return (
        {str(k): v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}
    )


def save(store: Meta, groups: dict[str, dict[str, Any]]) -> None:
    """Write the scaled groups."""
    store.meta_set(META_KEY, json.dumps(groups, sort_keys=True))


def valid_names(spec: AgentSpec, entry: dict[str, Any]) -> list[str] | None:
    """A stored entry's members, or None when the config changed the group's count since
    (or the entry is not one this version wrote)."""
    names = entry.get("names")
    if entry.get("config") != spec.count or not isinstance(names, list):
        return None
    if not all(isinstance(n, str) and SAFE_ID.match(n) for n in names):
        return None
    return list(names)


def scaled(config: Config, store: Meta) -> Config:
    """The config with each scaled group's members as stored (stale entries are ignored)."""
    groups = stored(store)
    if not groups:
        return config
    specs = []
    taken: set[str] = set()
    for spec in config.agents:
        entry = groups.get(spec.name)
        names = valid_names(spec, entry) if entry is not None else None
        if names is not None and not taken.intersection(names):
            spec = dataclasses.replace(spec, names=tuple(names))
        taken.update(spec.instance_names())
        specs.append(spec)
    # A scaled name never shadows another group's configured name (checked when scaling).
    return dataclasses.replace(config, agents=tuple(specs))


def group(config: Config, target: str) -> AgentSpec:
    """The group `target` names: a group's own name, or one of its agents'."""
    for spec in config.agents:
        if spec.name == target:
            return spec
    for spec in config.agents:
        if target in spec.instance_names():
            return spec
    groups = ", ".join(s.name for s in config.agents)
    raise ValueError(f"no agent group or agent named {target!r} (groups: {groups})")


def index(spec: AgentSpec, name: str) -> int:
    """An agent's number in its group (the bare group name counts as 1)."""
    if name == spec.name:
        return 1
    tail = name[len(spec.name) + 1 :]
    return int(tail) if tail.isdigit() else 0


def new_names(spec: AgentSpec, members: Iterable[str], n: int, taken: set[str]) -> list[str]:
    """`n` names for new agents of the group: the lowest free numbers, never a name in use
    (by this group or any other)."""
    have = set(members)
    out: list[str] = []
    i = 0
    while len(out) < n:
        i += 1
        if i > MAX_AGENT_COUNT * 2:
            raise ValueError(f"no free agent names left in group {spec.name!r}")
        if i == 1 and spec.name in have:
            continue
        name = f"{spec.name}-{i}"
        if name in have or name in taken:
            continue
        if not SAFE_ID.match(name):
            raise ValueError(f"agent name {name!r} would be too long (at most 64 characters)")
        out.append(name)
    return out


def target_size(current: int, value: str) -> int:
    """The size asked for: `N`, or `+N` / `-N` relative to the current size; in 0..1000."""
    text = value.strip()
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"size must be a number, +N or -N, got {value!r}") from None
    size = current + n if text[:1] in "+-" else n
    if not 0 <= size <= MAX_AGENT_COUNT:
        raise ValueError(f"a group holds 0 to {MAX_AGENT_COUNT} agents, not {size}")
    return size
