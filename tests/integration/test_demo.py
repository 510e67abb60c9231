"""The embedded demo runs unattended to the end and shows every kind of outcome."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from overseer.agents.tmux import TmuxServer, server_label
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import Store
from tests.project import ROOT


def test_demo_until_done(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    state_dir = tmp_path / ".overseer"
    server = TmuxServer(server_label("demo", state_dir))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "overseer.tui.cli", "run", "--demo", "--until-done"],
            cwd=tmp_path,
            env={
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "PYTHONPATH": str(ROOT),
                "HOME": str(tmp_path),
                # The agents' tmux server must be where this test's kill_server looks for it.
                **{k: v for k, v in os.environ.items() if k == "TMUX_TMPDIR"},
            },
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr
        store = Store(state_dir / "state.db")
        tasks = {t.id: t for t in store.tasks()}
        assert len(tasks) >= 18
        kinds = {e.kind for e in store.events()}
        # Every state a newcomer should see.
        assert {
            "agent.starting",
            "agent.idle",
            "agent.busy",
            "agent.waiting",
            "agent.stalled",
            "task.ready",
            "task.done",
            "task.failed",
            "task.blocked",
            "task.claimed",
        } <= kinds
        assert tasks["release"].state == TaskState.DONE  # the dependency chain went through
        flaky = store.attempts("flaky-download")
        assert [a.exit_code for a in flaky] == [3, 0]
        assert tasks["db-migrate"].state == TaskState.FAILED and tasks["db-migrate"].exit_code == 2
        assert tasks["mirror-sync"].state == TaskState.BLOCKED
        assert "stalled" in (tasks["mirror-sync"].blocked_reason or "")
        deploy = store.attempts("deploy-staging")[0]
        assert deploy.outcome == AttemptOutcome.TIMEOUT
        assert tasks["coverage"].state == TaskState.DONE
        assert "done" in proc.stderr and "failed" in proc.stderr
    finally:
        server.kill_server()
