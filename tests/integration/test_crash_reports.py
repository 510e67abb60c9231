"""A bug ends the CLI with one line and a private crash log; the dashboard refuses a non-terminal."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from overseer.state.store import Store
from tests.project import Project

# `overseer status` with a bug planted in it: the real main(), the real error path, no test hook
# in the product. The message carries a secret, which the crash log must mask.
BROKEN_STATUS = """
import sys
import overseer.tui.cli as cli
def broken(args):
    raise KeyError("status broke; password=hunter2")

cli.cmd_status = broken
sys.exit(cli.main(sys.argv[1:]))
"""


def overseer(
    project: Project, *args: str, code: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run overseer (or `code` standing in for it) with no terminal: stdin, stdout are pipes."""
    head = ["-c", code] if code else ["-m", "overseer.tui.cli"]
    return subprocess.run(
        [sys.executable, *head, *args],
        cwd=project.root,
        env=env or project.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def crash_log_named_in(stderr: str) -> Path:
    assert stderr.count("\n") == 1, stderr  # one line, no traceback
    assert "Traceback" not in stderr
    path = Path(stderr.split("the traceback is in ", 1)[1].split(" ", 1)[0])
    assert path.name.startswith("crash-") and path.suffix == ".log"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path


def test_a_bug_in_a_command_prints_one_line_and_logs_the_traceback(tmp_path: Path) -> None:
    project = Project(tmp_path)
    Store(project.state_dir / "state.db").close()
    r = overseer(project, "status", "--state-dir", str(project.state_dir), code=BROKEN_STATUS)
    assert r.returncode == 70, r.stderr
    assert r.stderr.startswith("overseer: overseer status crashed (KeyError:")
    assert "hunter2" not in r.stderr
    log = crash_log_named_in(r.stderr)
    assert log.parent == project.state_dir / "logs"
    text = log.read_text()
    assert "Traceback" in text and "in broken" in text and "overseer status --state-dir" in text
    assert "hunter2" not in text and "password=***" in text


def test_a_crash_without_a_state_dir_logs_under_xdg_state_home(tmp_path: Path) -> None:
    project = Project(tmp_path / "empty")
    project.root.mkdir()
    env = project.env()
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    r = overseer(project, "status", code=BROKEN_STATUS, env=env)
    assert r.returncode == 70, r.stderr
    log = crash_log_named_in(r.stderr)
    assert log.parent == tmp_path / "xdg-state" / "overseer"
    assert not project.state_dir.exists()  # a crash creates no .overseer/ of its own


def test_the_dashboard_refuses_to_start_without_a_terminal(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    Store(project.state_dir / "state.db").close()
    for command in ("tui", "up"):
        r = overseer(project, command, "-c", str(project.config))
        assert r.returncode == 2, (command, r.stderr)
        assert "needs a terminal" in r.stderr and r.stderr.count("\n") == 1
        assert r.stdout == ""  # no escape codes written into a pipe or a file
    assert not (project.state_dir / "supervisor.log").exists()  # `up` started nothing
