"""Fixtures shared by every test tier."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from overseer.agents.tmux import TmuxServer
from tests.backends import backend
from tests.helpers import wait_until
from tests.pgserver import pg_database, pg_server, pg_store_url

__all__ = ["backend", "pg_database", "pg_server", "pg_store_url", "wait_until"]

# Tests behave the same inside and outside a tmux session.
os.environ.pop("TMUX", None)
os.environ.pop("TMUX_PANE", None)
# A store named in the caller's environment would send every project's commands to it.
os.environ.pop("OVERSEER_STORE", None)


@pytest.fixture
def tmux_server() -> Iterator[TmuxServer]:
    """A private tmux server on its own socket, killed (only it) at teardown."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (looked for 'tmux' on PATH)")
    server = TmuxServer(f"ovs-test-{uuid4().hex[:10]}")
    server.ensure_server()
    try:
        yield server
    finally:
        server.kill_server()


def tmux_socket_dirs() -> list[Path]:
    """Where tmux servers of this user put their sockets: tmux's default and $TMUX_TMPDIR's."""
    name = f"tmux-{os.getuid()}"
    dirs = [Path("/tmp") / name]
    if os.environ.get("TMUX_TMPDIR"):
        dirs.append(Path(os.environ["TMUX_TMPDIR"]) / name)
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def answers(sock: Path) -> bool:
    """Whether a tmux server listens on this socket (a stale file refuses the connection)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(sock))
        except OSError:
            return False
    return True


def leaked_servers(root: Path) -> list[Path]:
    """Live sockets of the private tmux servers of projects under `root` (their labels end
    in a digest of the state dir), wherever they are: a child process that ran without the
    test's TMUX_TMPDIR puts its server in /tmp/tmux-UID, where the test's teardown misses it."""
    digests = {
        hashlib.sha1(str(db.parent.resolve()).encode()).hexdigest()[:10]
        for db in root.rglob("state.db")
    }
    return [
        sock
        for d in tmux_socket_dirs()
        for sock in d.iterdir()
        if sock.name.rsplit("-", 1)[-1] in digests and answers(sock)
    ]


@pytest.fixture(autouse=True)
def no_tmux_server_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a tmux server of its own projects running (and end it)."""
    # Asked for here, tmp_path outlives the fixtures that use it (a project's teardown).
    root = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if root is None:
        return
    left = leaked_servers(root)
    for sock in left:
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, timeout=10)
    assert not left, f"the test left tmux servers running: {[str(s) for s in left]}"
