"""`overseer status` prints the columns the README lists; `--demo --reset` replays the demo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from overseer.agents.tmux import TmuxServer, server_label
from overseer.state.models import TaskState
from overseer.state.store import Store
from tests.helpers import wait_until
from tests.project import ROOT, Project


def test_status_shows_tries_times_lease_and_retry(project: Project) -> None:
    project.write(
        """agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - {id: sleeper, run: "sleep 60"}
  - {id: flaky, run: "exit 3", max_attempts: 3}
""",
        retry={"max_attempts": 3, "backoff": 60, "backoff_max": 60},
    )
    project.start()
    project.wait_task("sleeper", TaskState.RUNNING)
    wait_until(
        lambda: (t := project.store.task("flaky")) is not None and t.retry_at is not None,
        message="flaky never failed",
    )
    r = project.cli("status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = next(line for line in lines if line.startswith("TASK"))
    assert header.split() == [
        "TASK",
        "STATE",
        "TRY",
        "EXIT",
        "STARTED",
        "TIME",
        "LEASE",
        "RETRY",
        "AGENT",
        "NOTE",
    ]
    sleeper = next(line for line in lines if line.startswith("sleeper "))
    # running: try 1/3, no exit code, a start time, a running time, a lease, its agent
    assert re.search(r"running\s+1/3\s+-\s+\d\d:\d\d:\d\d\s+\S+s\s+\S+s\s+w-\d", sleeper), sleeper
    flaky = next(line for line in lines if line.startswith("flaky "))
    # backing off: 1 try used, exit 3, a retry countdown near a minute
    assert re.search(r"ready\s+1/3\s+3\s+\d\d:\d\d:\d\d\s+\S+s\s+\d+s\s+-", flaky), flaky
    data = json.loads(project.cli("status", "--json").stdout)
    tasks = {t["id"]: t for t in data["tasks"]}
    assert tasks["flaky"]["tries"] == 1 and tasks["sleeper"]["lease_expires_at"]


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TMUX", None)
    return subprocess.run(
        [sys.executable, "-m", "overseer.tui.cli", "run", "--demo", "-q", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_reset_replays_the_demo_from_the_start(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    state_dir = tmp_path / ".overseer"
    server = TmuxServer(server_label("demo", state_dir))
    try:
        assert demo(tmp_path, "--timeout", "3").returncode == 1  # not done after 3 s
        store = Store(state_dir / "state.db")
        claimed = [e for e in store.events() if e.kind == "task.claimed"]
        assert claimed and server.alive()
        store.close()
        r = demo(tmp_path, "--reset", "--timeout", "1")
        assert "the demo starts afresh" in r.stderr, r.stderr
        store = Store(state_dir / "state.db")
        starts = [e for e in store.events() if e.kind == "supervisor.start"]
        assert len(starts) == 1  # the first run's history is gone
        store.close()
        # Another project's state is never reset.
        other = tmp_path / "other"
        other.mkdir()
        (other / "overseer.yaml").write_text("agents: [{name: w}]\ntasks: []\n")
        r = subprocess.run(
            [sys.executable, "-m", "overseer.tui.cli", "run", "--reset", "-c", "overseer.yaml"],
            cwd=other,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2 and "--reset replays the demo only" in r.stderr
    finally:
        server.kill_server()
