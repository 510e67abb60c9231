"""Signals: a storm of SIGTERM and SIGINT at a busy supervisor stops it promptly and cleanly.

The old handler called threading.Event.set(), which takes the lock the main thread may be
holding inside Event.wait()/clear() when the handler runs on top of it: the supervisor then
waited for itself forever, ignoring every further signal and keeping its lock. The race
window is a few microseconds per loop pass, so each trial gives it one chance per signal
that lands while the loop runs; OVERSEER_SIGNAL_TRIALS repeats it more.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from overseer.agents.lock import is_held
from tests.faults import start_supervisor
from tests.helpers import wait_until
from tests.project import Project

TRIALS = int(os.environ.get("OVERSEER_SIGNAL_TRIALS", "6"))
STORM = 60  # signals per trial, alternating SIGTERM and SIGINT


def storm(proc: subprocess.Popen[str]) -> int:
    """Send STORM signals as fast as they go; return how many were delivered."""
    sent = 0
    for k in range(STORM):
        try:
            os.kill(proc.pid, signal.SIGTERM if k % 2 == 0 else signal.SIGINT)
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(0.0003)
    return sent


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_signal_storm_stops_a_busy_supervisor_promptly_and_cleanly(
    tmp_path: Path, trial: int
) -> None:
    project = Project(tmp_path, name=f"sig{trial}")
    # Two panes printing every millisecond keep the loop waking and waiting all the time.
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - {id: a, run: 'while :; do echo tick; sleep 0.001; done'}
  - {id: b, run: 'while :; do echo tock; sleep 0.001; done'}
"""
    )
    try:
        proc = start_supervisor(project)
        wait_until(
            lambda: project.store.task_counts()["running"] == 2,
            timeout=30,
            message="the busy tasks never ran",
        )
        sent = storm(proc)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"the supervisor hung after {sent} signals (deadlocked in its handler)")
        assert not is_held(project.state_dir), "the supervisor lock is still held"
        kinds = [e.kind for e in project.store.events()]
        # A clean stop: shutdown ran to its end (events, notifications, the lock released).
        # (Signals still arriving after that may end the process on its way out: harmless.)
        assert "supervisor.stop" in kinds, f"killed mid-shutdown (exit {code}) by a later signal"
    finally:
        project.close()


# The loop's wait and its signal handler alone, without tmux: the main thread waits and
# wakes as fast as it can (woken by a thread, as the log watcher does) while signals rain
# on the handler, which here does not end the loop. Every signal is a chance for the race.
CHILD = """
import os, signal, sys, threading, time
from pathlib import Path
from overseer.agents.supervisor import Supervisor
from overseer.state.config import load_config_text

sup = Supervisor(load_config_text("name: sig\\nagents: [{name: w}]\\ntasks: []\\n"), Path(sys.argv[1]))
signal.signal(signal.SIGTERM, sup._on_signal)
if hasattr(signal, "set_wakeup_fd") and hasattr(sup.wake, "catching"):
    signal.set_wakeup_fd(sup.wake._w, warn_on_full_buffer=False)
def watcher():
    while True:
        sup.on_logs_changed({Path("w.log")})
        time.sleep(0.0002)
threading.Thread(target=watcher, daemon=True).start()
print("ready", flush=True)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    sup.wake.wait(0.001)
    getattr(sup.wake, "clear", lambda: None)()
print("survived", flush=True)
"""


def test_the_loop_wait_survives_signals_raining_on_its_handler(tmp_path: Path) -> None:
    env = Project(tmp_path).env()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / ".overseer"), "4"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        sent = 0
        while child.poll() is None and sent < 20000:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
            sent += 1
            time.sleep(0.0002)
        try:
            out, _ = child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the loop hung after {sent} signals: the handler deadlocked")
        # (Signals still arriving while the interpreter exits may end it then: harmless.)
        assert "survived" in out, f"exit {child.returncode}: {out[-2000:]}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
