"""Operator commands as the CLI and the dashboard write them (no Textual here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overseer.state.backend import PermissionDenied
from overseer.state.config import Config
from overseer.state.store import ensure_private_dir, project_store

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
        cid = store.enqueue_command(verb, target, args or {})
        if config is not None and not supervisor_running(state_dir):
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
            return Outcome(
                "queued", f"{verb} {target}: queued for the supervisor (command {cid})", cid
            )
        return Outcome(cmd.status.value, cmd.result or "", cid)
    finally:
        store.close()
