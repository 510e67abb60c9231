"""Which host this is, when several share one PostgreSQL store, and how agents are named then.

On SQLite one machine owns the store and agents keep their config names. On a shared store
every host runs its own supervisor and tmux server, and its agents are "host/agent" in the
store, so two hosts' `worker-1` never meet. The host id is `run --host-id NAME`, else
$OVERSEER_HOST_ID, else the one the last supervisor of this state dir ran with, else the
machine's hostname; a supervisor remembers its own in the state dir, so the other commands
run there speak for the same host.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from overseer.state.errors import OverseerError
from overseer.state.statedir import open_private, write_private

HOST_ID_FILE = "host-id"
# A supervisor beats at least every 5 s (agents/supervisor.py REST_SWEEP): three beats missed
# and its host is shown as gone, and commands for any host are not left to it.
BEAT_WITHIN = 15.0
ENV = "OVERSEER_HOST_ID"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_host_id(name: str) -> str:
    """A host id as given by a person: a short name of letters, digits, '.', '_' and '-'."""
    if not _VALID.match(name):
        raise OverseerError(
            f"host id {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def remembered(state_dir: Path) -> str | None:
    """The host id the last supervisor of this state dir ran with, if any."""
    try:
        fd = open_private(state_dir / HOST_ID_FILE, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    with os.fdopen(fd, encoding="utf-8") as fh:
        text = fh.read(200).strip()
    return text if _VALID.match(text) else None


def host_id(state_dir: Path, given: str | None = None) -> str:
    """This host's id: the flag, else $OVERSEER_HOST_ID, else the state dir's, else hostname."""
    if given:
        return check_host_id(given)
    if os.environ.get(ENV):
        return check_host_id(os.environ[ENV])
    name = remembered(state_dir)
    if name:
        return name
    fallback = socket.gethostname().split(".")[0] or "localhost"
    return fallback if _VALID.match(fallback) else "localhost"


def remember(state_dir: Path, name: str) -> None:
    """Keep the supervisor's host id in its state dir for the commands run there."""
    if remembered(state_dir) != name:
        write_private(state_dir / HOST_ID_FILE, name + "\n")


def qualified(host: str, name: str, shared: bool) -> str:
    """An agent's name in the store: "host/name" on a shared store, else the name."""
    return f"{host}/{name}" if shared and "/" not in name else name


def bare(name: str) -> str:
    """An agent's name without its host."""
    return name.rpartition("/")[2]
