"""Whose state dir and tmux server these are: the origin check at start, the owner record
on the tmux server, and the watch for a state dir wiped under a running supervisor (after
which it dispatches nothing, drains what runs and stops)."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from overseer.agents import health
from overseer.agents.lock import LockHeld, set_tmux_owner, tmux_owner
from overseer.agents.tmux import TmuxError, TmuxServer, server_label
from overseer.state.statedir import UnsafeStateDir, foreign, origin_record
from overseer.state.store import Store, StoreError

if TYPE_CHECKING:
    from overseer.agents.supervisor import Supervisor

log = logging.getLogger("overseer.supervisor")


class StateDirGone(StoreError):
    """The state dir was removed or replaced under a running supervisor, which then stopped."""


def orphan_message(pid: int, note: str) -> str:
    """What a second supervisor (or command) hears while a supervisor `pid` still owns tmux."""
    if not note:
        return (
            f"a supervisor (pid {pid}) is already running on this project's tmux server; "
            "use `overseer status` to watch it or `overseer down` to stop it"
        )
    return (
        f"a supervisor (pid {pid}) still runs on this project's tmux server: {note}. It "
        "dispatches nothing more and stops once those have ended; `overseer down` stops it "
        "now (what runs in its panes keeps running)"
    )


def check_origin(store: Store, state_dir: Path, trust_state: bool) -> None:
    """Refuse a store made on another machine, by another user or elsewhere, unless trusted.

    A PostgreSQL store is not in the state dir: the database's own logins decide who uses it.
    """
    if not store.local:
        return
    why = foreign(store.meta_get("origin"), state_dir)
    if why is None:
        return
    if not trust_state:
        raise UnsafeStateDir(
            f"refusing the state in {state_dir}: {why}. Overseer runs no task and "
            "applies no command from a state dir it did not make here; if you trust it, "
            "start once with `overseer run --trust-state` (its queued operator commands "
            "are still not applied)"
        )
    store.meta_set("origin", origin_record(state_dir))
    store.event("state.trusted", f"state dir trusted with --trust-state: {why}")


def owner_of(server: TmuxServer, lock_path: Path) -> LockHeld | None:
    """The refusal to give when the project's tmux server records another live supervisor
    as its owner (one whose state dir was removed still holds it), else None."""
    owner = tmux_owner(server)
    if owner is None or owner.pid == os.getpid():
        return None
    return LockHeld(lock_path, owner.pid, detail=orphan_message(owner.pid, owner.note))


def owner_elsewhere(sup: Supervisor) -> LockHeld | None:
    """The refusal to give when another live supervisor owns this project's tmux server."""
    label = server_label(sup.config.name, sup.state_dir)
    return owner_of(sup.server or TmuxServer(label, binary=sup.tmux_binary), sup.lock.path)


def current_identity(sup: Supervisor) -> dict[Path, tuple[int, int]]:
    """(device, inode) of the store (when it is a file here) and of the lock file this
    supervisor holds."""
    held = sup.lock.identity()
    assert held is not None
    if not sup.store.local:
        return {sup.lock.path: held}
    st = os.stat(sup.store.path)
    return {sup.store.path: (st.st_dev, st.st_ino), sup.lock.path: held}


def state_dir_lost(sup: Supervisor) -> bool:
    """Whether the store or the lock at their paths are no longer the files the supervisor
    opened (the state dir was deleted or replaced): then stop dispatching, at once."""
    if sup.orphaned is not None:
        return True
    for path, ident in sup.identity.items():
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            why = f"{path.name} is gone"
        else:
            if (st.st_dev, st.st_ino) == ident:
                continue
            why = f"{path.name} was replaced"
        orphan(sup, why)
        return True
    return False


def orphan(sup: Supervisor, why: str) -> None:
    """Dispatch nothing, apply nothing, write nothing in the state dir from now on; say why.

    The attempts in flight are left to finish (their results can no longer be recorded);
    until they have, the tmux owner record and the kernel lock keep any other supervisor
    from driving these panes.
    """
    busy = sum(rt.running is not None for rt in sup.agents.values())
    sup.orphaned = f"the state dir {sup.state_dir} was removed or replaced ({why})"
    log.error(
        "overseer: %s while this supervisor ran: it dispatches nothing and applies no "
        "command from now on, and stops once the %d attempt(s) in flight have ended",
        sup.orphaned,
        busy,
    )
    if sup.watcher is not None:
        sup.watcher.stop()
        sup.watcher = None
    with contextlib.suppress(TmuxError):
        set_tmux_owner(sup.tmux, note=f"{sup.orphaned}; {busy} attempt(s) in flight")


def drain(sup: Supervisor, now: float) -> None:
    """Once a second after the state dir went: forget attempts whose pane has stopped
    working, and stop when none is left (panes are read, never typed into)."""
    if now < sup.next_sweep:
        return
    sup.next_sweep = now + sup.sweep_interval
    try:
        panes = {p.window: p for p in sup.tmux.list_panes()}
    except TmuxError:
        panes = {}
    for rt in sup.agents.values():
        pane = panes.get(rt.name)
        if rt.running is None:
            continue
        if (
            pane is None
            or pane.dead
            or not health.alive(pane.pid)
            or not rt.driver.still_running(rt, pane)
        ):
            rt.running = None
    if all(rt.running is None for rt in sup.agents.values()):
        sup.stop_requested = True
