"""While every agent rests, the sweep does not list tmux's panes every second: an agent
shell's death wakes the loop through its pidfd, and is handled at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from overseer.agents import health
from overseer.agents.wakeup import Wakeup
from tests.helpers import wait_until
from tests.project import Project

pytestmark = pytest.mark.tmux

# `overseer run` with the listing of panes at rest pushed an hour away: a death can only be
# noticed through the shells' pidfds.
RUN_AT_REST = """
import sys
import overseer.agents.supervisor as sup
sup.PANES_AT_REST = 3600.0
from overseer.tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux >= 5.3")
def test_an_exit_wakes_the_wait_and_is_named_once() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    watch, wake = health.ExitWatch(), Wakeup()
    try:
        assert watch.arm("w", proc.pid)
        assert not wake.wait(0.0, watch.fds()) and watch.exited() == set()
        proc.kill()
        assert wake.wait(60.0, watch.fds())  # woken by the exit, not by the timeout
        assert watch.exited() == {"w"}
        assert watch.fds() == [] and not watch.arm("w", proc.pid)  # never again for that pid
    finally:
        proc.kill()
        proc.wait()
        watch.close()
        wake.close()


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux >= 5.3")
def test_a_shell_killed_while_every_agent_rests_is_respawned(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2}
tasks: []
"""
    )
    proc = project.start(program=[sys.executable, "-c", RUN_AT_REST])
    wait_until(
        lambda: all(project.agent_state(n) == "idle" for n in ("w-1", "w-2")),
        timeout=40,
        message="the agents never came up",
    )
    agent = project.store.agent("w-1")
    assert agent is not None and agent.pid
    os.kill(agent.pid, signal.SIGKILL)
    wait_until(
        lambda: (
            (a := project.store.agent("w-1")) is not None
            and a.respawns >= 1
            and a.pid != agent.pid
            and a.state.value == "idle"
        ),
        timeout=30,
        message=f"the killed shell was never noticed: {project.store.agent('w-1')}",
    )
    # The tmux server killed while everything rests: its shells die with it.
    project.tmux.kill_server()
    wait_until(
        lambda: "tmux.restarted" in [e.kind for e in project.store.events()],
        timeout=30,
        message="the tmux server's death was never noticed",
    )
    assert proc.poll() is None
