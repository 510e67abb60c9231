"""The disk and the database under attack: full, read-only, locked, corrupt, tmux unavailable.

Each fault ends in one clear message and exit 3 (never a traceback) or in a clean recovery,
and the database passes `PRAGMA integrity_check` afterwards. A supervisor that cannot
persist stops; the agents keep running and the next start recovers as after a kill -9.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.agents.runner import read_pid
from overseer.state.models import AttemptOutcome, TaskState
from tests.faults import Figures, check_exactly_once, effect_task, finish, start_supervisor
from tests.helpers import wait_until
from tests.project import Project


def effect_project(
    project: Project, prefix: str, n: int, sleep: float = 0.3, attempts: int = 1
) -> dict[str, int]:
    """Write a config with n effect tasks (every 4th exits 3); return the expected codes."""
    codes = {f"{prefix}{i:02d}": (3 if i % 4 == 3 else 0) for i in range(n)}
    body = "\n".join(effect_task(t, c, sleep) for t, c in codes.items())
    project.write(
        "agents:\n  - {name: w, kind: shell, count: 2}\ntasks:\n" + body + "\n",
        retry={"max_attempts": attempts, "backoff": 0, "backoff_max": 0},
    )
    return codes


def add_tasks(project: Project, codes: dict[str, int], sleep: float = 0.3) -> None:
    """Add effect tasks through the command line (applied offline when no supervisor runs)."""
    path = project.root / "more.yaml"
    path.write_text(
        "\n".join(effect_task(t, c, sleep).replace("  - ", "- ", 1) for t, c in codes.items())
        + "\n"
    )
    r = project.cli("add", "--file", str(path))
    assert r.returncode == 0, r.stderr


def close_store(project: Project) -> None:
    """Drop the test's own connection (so the WAL is checkpointed when the last one closes)."""
    if project._store is not None:
        project._store.close()
        project._store = None


def assert_clean_failure(code: int, err: str, *words: str) -> None:
    assert code == 3, err
    assert "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_full_disk_stops_the_supervisor_cleanly_and_a_restart_recovers(project: Project) -> None:
    codes = effect_project(project, "a", 4)
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    assert project.tmux.alive()
    more = {f"b{i:02d}": (3 if i % 4 == 3 else 0) for i in range(24)}
    add_tasks(project, more)
    codes.update(more)
    close_store(project)
    db = project.state_dir / "state.db"
    assert not (project.state_dir / "state.db-wal").exists()
    # The tmux server already runs, so only the supervisor gets the file-size limit.
    proc = start_supervisor(project, fsize_limit=db.stat().st_size + 192 * 1024, wait=False)
    code, _, err = finish(proc, timeout=120)
    assert_clean_failure(code, err, "supervisor stopped", "overseer run")
    assert "file-size limit" in err or "is full" in err
    assert project.tmux.alive(), "the agents must outlive the supervisor"
    assert project.store.integrity_check() == "ok"
    # Space is back: the next run finishes the work, each task exactly once.
    assert project.cli("run", "--until-done", "--timeout", "120").returncode == 1
    fig = Figures("full disk")
    check_exactly_once(project, codes, fig)
    assert not fig.violations, fig.violations


def hold_write_lock(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db), isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_locked_database_waits_then_stops_with_a_clear_error(project: Project) -> None:
    codes = effect_project(project, "a", 8)
    proc = start_supervisor(project)
    db = project.state_dir / "state.db"
    wait_until(lambda: project.store.task_counts()["running"] > 0, message="nothing running")
    # A short lock (a backup, an sqlite3 shell) only delays the supervisor.
    conn = hold_write_lock(db)
    time.sleep(2)  # the fault itself lasts this long; nothing waits on a condition here
    conn.rollback()
    conn.close()
    wait_until(
        lambda: project.store.task_counts()["done"] + project.store.task_counts()["failed"] == 8,
        timeout=60,
        message="work did not resume after a short lock",
    )
    assert proc.poll() is None
    # A lock held past the busy timeout (10 s) stops it with a clear message.
    more = {f"b{i:02d}": 0 for i in range(6)}
    add_tasks(project, more)
    codes.update(more)
    wait_until(lambda: project.store.task_counts()["running"] > 0, message="nothing running")
    conn = hold_write_lock(db)
    try:
        cli = subprocess.Popen(
            [sys.executable, "-m", "overseer.tui.cli", "retry", "a00", "-c", str(project.config)],
            cwd=project.root,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        code, _, err = finish(proc, timeout=60)
        _, cli_err = cli.communicate(timeout=60)
    finally:
        conn.rollback()
        conn.close()
    assert_clean_failure(code, err, "supervisor stopped", "locked")
    assert_clean_failure(cli.returncode, cli_err, "locked")
    assert project.cli("run", "--until-done", "--timeout", "120").returncode == 1
    fig = Figures("locked")
    check_exactly_once(project, codes, fig)
    assert not fig.violations, fig.violations


def corrupt_table(db: Path, table: str) -> None:
    """Overwrite the root page of a table with garbage (the WAL must be checkpointed)."""
    conn = sqlite3.connect(str(db))
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0xA5]) * page_size)


def test_corrupt_database_is_one_clear_message_everywhere(project: Project) -> None:
    effect_project(project, "a", 4)
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    close_store(project)
    db = project.state_dir / "state.db"
    corrupt_table(db, "tasks")
    r = project.cli("run", "--until-done", "--timeout", "30")
    assert_clean_failure(r.returncode, r.stderr, "corrupt", "move the state.db files aside")
    r = project.cli("status")
    assert_clean_failure(r.returncode, r.stderr, "corrupt")
    r = project.cli("health", "--json")
    assert r.returncode == 1, r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["store"]["status"] == "fail"


def unprivileged() -> list[str]:
    """A command prefix under which root obeys file permissions (empty for other users)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture
def ro_mount(tmp_path: Path) -> Iterator[Path | None]:
    """A tmpfs we may remount read-only, or None when mounting is not allowed here."""
    point = tmp_path / "mnt"
    point.mkdir()
    ok = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(point)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield point if ok else None
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.mark.parametrize("how", ["file-mode", "read-only-mount"])
def test_read_only_state_is_a_clear_error(
    project: Project, how: str, ro_mount: Path | None
) -> None:
    if how == "read-only-mount":
        if ro_mount is None:
            pytest.skip("mount is not allowed here (needs root with CAP_SYS_ADMIN)")
        project.state_dir = ro_mount / ".overseer"
        extra: tuple[str, ...] = ("--state-dir", str(project.state_dir))
        prefix: list[str] = []
    else:
        extra = ()
        prefix = unprivileged()
    effect_project(project, "a", 4)
    assert project.cli("run", "--until-done", "--timeout", "60", *extra).returncode == 1
    close_store(project)
    db = project.state_dir / "state.db"
    if how == "read-only-mount":
        assert ro_mount is not None
        # The agents' pipes hold their logs open for writing: a busy mount cannot turn ro.
        assert project.cli("down", "--kill-agents", *extra).returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(ro_mount)], check=True)
    else:
        db.chmod(0o400)
    cmd = [
        *prefix,
        sys.executable,
        "-m",
        "overseer.tui.cli",
        "run",
        "-c",
        str(project.config),
        *extra,
    ]
    r = subprocess.run(
        [*cmd, "--until-done", "--timeout", "30"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_clean_failure(r.returncode, r.stderr, "not writable")
    if how == "read-only-mount":
        assert ro_mount is not None
        subprocess.run(["mount", "-o", "remount,rw", str(ro_mount)], check=True)
    else:
        db.chmod(0o600)
    assert project.cli("run", "--until-done", "--timeout", "60", *extra).returncode == 1
    assert project.store.integrity_check() == "ok"


def tmux_shim(directory: Path, block: Path) -> dict[str, str]:
    """A `tmux` first on PATH that fails while `block` exists (a tmux that cannot start)."""
    real = shutil.which("tmux")
    assert real is not None
    shim = directory / "tmux"
    shim.write_text(
        f'#!/bin/sh\nif [ -e "{block}" ]; then echo "tmux: simulated outage" >&2; exit 1; fi\n'
        f'exec "{real}" "$@"\n'
    )
    shim.chmod(0o755)
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_tmux_that_cannot_restart_burns_no_tries(project: Project, tmp_path: Path) -> None:
    codes = effect_project(project, "a", 6, sleep=1.5, attempts=2)
    block = tmp_path / "tmux-down"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = project.env() | tmux_shim(bindir, block)
    cmd = [sys.executable, "-m", "overseer.tui.cli", "run", "-c", str(project.config), "-q"]
    proc = subprocess.Popen(
        cmd, cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    project.procs.append(proc)
    wait_until(lambda: project.store.task_counts()["running"] == 2, timeout=60, message="idle")

    # Both tasks really started (their wrappers wrote their pids): one killed before that
    # is rightly released, not lost.
    def started() -> bool:
        running = project.store.tasks([TaskState.RUNNING])
        run = project.state_dir / "run"
        return len(running) == 2 and all(
            read_pid(run / f"{t.id}.{t.attempts}.pid") is not None for t in running
        )

    wait_until(started, message="the wrappers never started")
    block.touch()
    project.tmux.kill_server()
    wait_until(
        lambda: all(a.state.value == "dead" for a in project.store.agents()),
        timeout=30,
        message="agents not shown dead while tmux is down",
    )
    agent = project.store.agents()[0]
    assert agent.reason == "tmux server unreachable"
    # Several sweeps pass while tmux stays down: no task is handed to a pane that is gone.
    beat = project.store.supervisor().heartbeat_at or 0.0
    wait_until(
        lambda: (project.store.supervisor().heartbeat_at or 0.0) > beat + 2.5,
        message="supervisor stopped sweeping",
    )
    attempts = project.store.attempts()
    assert len(attempts) == 2, [(a.task_id, a.outcome, a.reason) for a in attempts]
    assert all(a.outcome == AttemptOutcome.INTERRUPTED for a in attempts)
    block.unlink()
    wait_until(
        lambda: project.store.task_counts()["done"] + project.store.task_counts()["failed"] == 6,
        timeout=90,
        message="work did not resume when tmux came back",
    )
    assert proc.poll() is None
    # The two interrupted attempts were retried (their effects ran twice: they were cut off).
    store = project.store
    for task_id, code in codes.items():
        task = store.task(task_id)
        assert task is not None and task.exit_code == code
