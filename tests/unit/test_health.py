"""health.alive: one read of /proc per agent per sweep tells running from zombie and gone."""

from __future__ import annotations

import os
import subprocess

import psutil

from overseer.agents import health
from tests.helpers import wait_until


def test_alive_tells_a_running_process_from_a_zombie_and_a_gone_one() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert health.alive(child.pid)
        child.kill()
        wait_until(lambda: not health.alive(child.pid), message="a killed child stayed alive")
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE  # not reaped yet
    finally:
        child.wait()
    assert not health.alive(child.pid) and not health.alive(None) and not health.alive(0)
    assert health.alive(os.getpid())
