"""Operator commands as the CLI and the dashboard write them (no Textual here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overseer.state import hosts
from overseer.state.backend import PermissionDenied
from overseer.state.config import Config
from overseer.state.errors import OverseerError
from overseer.state.models import TaskState, host_of
from overseer.state.store import Store, ensure_private_dir, project_store

COMMAND_WAIT = 15.0  # seconds to wait for a running supervisor to apply a command


@dataclass(frozen=True)
class Outcome:
    """What became of one operator command."""

    status: str  # applied | rejected | queued (not applied within the wait)
    result: str
    command_id: int

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


def wait_for(pred: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll a condition until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def send(
    state_dir: Path,
    config: Config | None,
    verb: str,
    target: str,
    args: dict[str, Any] | None = None,
    *,
    wait: float = COMMAND_WAIT,
) -> Outcome:
    """Queue a command; a running supervisor applies it, otherwise apply it here and now."""
    from overseer.agents.lock import LockHeld, supervisor_running
    from overseer.agents.operator import apply_offline

    store = project_store(state_dir)
    try:
        here = hosts.host_id(state_dir)
        host, target = route(store, verb, target, here) if not store.local else (None, target)
        cid = store.enqueue_command(verb, target, args or {}, host=host)
        elsewhere = host not in (None, here) or (host is None and beating(store, here))
        if config is not None and not elsewhere and not supervisor_running(state_dir):
            if not store.local:  # the database may be all this machine has of the project yet
                ensure_private_dir(state_dir)
            try:
                apply_offline(config, state_dir)  # waits for another offline command to finish
            except PermissionDenied as exc:  # a role that may queue it but not apply it
                return Outcome(
                    "queued",
                    f"{verb} {target}: queued for a supervisor (command {cid}); none runs here "
                    f"and this role may not apply it itself ({exc})",
                    cid,
                )
            except LockHeld as exc:
                if not supervisor_running(state_dir):
                    # Nobody will apply it (a supervisor whose state dir was removed, or an
                    # offline command that did not finish): say so instead of leaving it queued.
                    store.reject_command(cid, str(exc))
                    return Outcome("rejected", str(exc), cid)
                # Otherwise a supervisor started meanwhile, and it applies the command.

        def settled() -> bool:
            cmd = store.command(cid)
            return cmd is not None and cmd.status.value != "queued"

        wait_for(settled, wait)
        cmd = store.command(cid)
        if cmd is None or cmd.status.value == "queued":
            whose = f"host {host}'s supervisor" if host not in (None, here) else "the supervisor"
            if host not in (None, here) and host not in beating(store, None):
                whose += ", which is not running"
            return Outcome("queued", f"{verb} {target}: queued for {whose} (command {cid})", cid)
        return Outcome(cmd.status.value, cmd.result or "", cid)
    finally:
        store.close()


def beating(store: Store, besides: str | None) -> set[str]:
    """The hosts (but `besides`) whose supervisors beat lately on a shared store."""
    now = time.time()
    return {
        h.name
        for h in store.hosts()
        if h.name != besides and h.stopped_at is None and h.beats(now, hosts.BEAT_WITHIN)
    }


def route(store: Store, verb: str, target: str, here: str) -> tuple[str | None, str]:
    """Which host's supervisor must apply a command on a shared store, and its target with
    the agent's host named: an agent's host; a running task's agent's host; this host for
    `shutdown`; else any host (None)."""
    from overseer.agents.operator import AGENT_VERBS

    if verb == "shutdown":
        return here, target
    if verb in AGENT_VERBS:
        if "/" not in target:
            found = [a.name for a in store.agents() if hosts.bare(a.name) == target]
            if len(found) > 1:
                raise OverseerError(
                    f"agent {target!r} is on several hosts ({', '.join(sorted(found))}): "
                    "name one as HOST/AGENT"
                )
            target = found[0] if found else hosts.qualified(here, target, True)
        return host_of(target), target
    task = store.task(target) if verb in ("retry", "block", "unblock", "release") else None
    if task is not None and task.state == TaskState.RUNNING and task.claimed_by:
        return host_of(task.claimed_by), target
    return None, target
