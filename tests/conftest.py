"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from uuid import uuid4

import pytest

from agents.tmux import TmuxServer
from tests.helpers import wait_until

__all__ = ["wait_until"]

# Tests behave the same inside and outside a tmux session.
os.environ.pop("TMUX", None)
os.environ.pop("TMUX_PANE", None)


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
