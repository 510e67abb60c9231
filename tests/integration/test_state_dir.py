"""The state dir as an attacker or a careless user leaves it: copied, foreign, wiped, raced."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys

import pytest

from overseer.agents.lock import OWNER_OPTION, read_holder, set_tmux_owner, tmux_owner
from overseer.state.models import CommandStatus, TaskState
from overseer.state.statedir import origin_record
from overseer.state.store import Store
from tests.faults import beating, finish, start_supervisor
from tests.helpers import wait_until
from tests.integration.test_agent_worktrees import git, make_repo
from tests.project import Project

ONE_AGENT = """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: s0, run: 'echo ran >> effects.txt'}
"""


def plant_store(project: Project, how: str) -> None:
    """A state.db that came from elsewhere: it holds a task overseer.yaml does not name and
    an operator command queued by someone else."""
    made_at = project.root / "elsewhere" / ".overseer" if how == "copied" else project.state_dir
    store = Store(made_at / "state.db")
    store.upsert_tasks([{"id": "evil", "command": "echo evil >> evil.txt"}])
    cid = store.enqueue_command("send", "w", {"text": "touch pwned", "enter": True})
    store.conn.execute("UPDATE commands SET origin='1000@0123456789abcdef' WHERE id=?", (cid,))
    if how == "other machine":
        origin = json.loads(origin_record(made_at))
        origin.update(host="0123456789abcdef", hostname="someone-elses-laptop")
        store.meta_set("origin", json.dumps(origin))
    elif how == "no origin":
        store.conn.execute("DELETE FROM meta WHERE key='origin'")
    store.close()
    if how == "copied":
        project.state_dir.mkdir(mode=0o700)
        for f in made_at.glob("state.db*"):
            shutil.copy(f, project.state_dir / f.name)


@pytest.mark.parametrize("how", ["copied", "other machine", "no origin"])
def test_a_state_dir_made_elsewhere_runs_nothing_until_trusted(project: Project, how: str) -> None:
    project.write(ONE_AGENT)
    plant_store(project, how)
    r = project.cli("run", "-q", "--until-done", "--timeout", "30")
    assert r.returncode == 3 and "refusing the state" in r.stderr, r.stderr
    assert "--trust-state" in r.stderr and "Traceback" not in r.stderr
    reason = {"copied": "moved or copied", "other machine": "someone-elses-laptop"}
    assert reason.get(how, "no origin") in r.stderr
    assert not (project.root / "evil.txt").exists() and not (project.root / "effects.txt").exists()
    # Trusted, the store's tasks run; the command someone else queued is still not applied.
    r = project.cli("run", "-q", "--until-done", "--timeout", "30", "--trust-state")
    assert r.returncode == 0, r.stderr
    assert (project.root / "evil.txt").exists() and (project.root / "effects.txt").exists()
    assert not (project.root / "pwned").exists()
    [cmd] = [c for c in project.store.conn.execute("SELECT id FROM commands")]
    command = project.store.command(cmd[0])
    assert command is not None and command.status == CommandStatus.REJECTED
    assert "not applied: queued by 1000@0123456789abcdef" in (command.result or "")
    assert any(e.kind == "state.trusted" for e in project.store.events())
    # From now on it is this user's own state dir.
    assert project.cli("run", "-q", "--until-done", "--timeout", "30").returncode == 0


def test_state_dir_worktrees_and_their_gitignore_are_private_under_umask_000(
    project: Project,
) -> None:
    make_repo(project.root)
    project.write(
        """
agents:
  - {name: w, kind: shell, worktree: true}
tasks:
  - {id: a, run: 'echo hello > out.txt'}
"""
    )
    proc = start_supervisor(project, umask=0o000)
    project.wait_task("a", TaskState.DONE)
    state = project.state_dir
    trees = state / "worktrees"
    loose = []
    for path in [state, *state.rglob("*")]:
        if trees / "w" in path.parents:
            continue  # the agent's checkout: git's files, reachable through 0700 dirs only
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:
            continue  # renamed or removed since the listing (the wrapper's rc.tmp -> rc)
        if path.is_dir() and mode != 0o700 or not path.is_dir() and mode & 0o077:
            loose.append(f"{path.relative_to(state.parent)} {mode:o}")
    assert not loose, loose
    assert stat.S_IMODE(trees.stat().st_mode) == 0o700
    for ignore in (state / ".gitignore", trees / ".gitignore"):
        assert stat.S_IMODE(ignore.stat().st_mode) == 0o600
        assert "*" in ignore.read_text().splitlines()
    # git never offers the state dir for a commit (nor cleans it without -x).
    assert ".overseer" not in git(project.root, "status", "--porcelain", "--untracked-files=all")
    assert proc.poll() is None


def test_a_broken_config_does_not_lock_the_operator_out(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: long, run: 'sleep 60'}
"""
    )
    proc = project.start()
    project.wait_task("long", TaskState.RUNNING)
    good = project.config.read_text()
    project.config.write_text(good + "max_paralel: 3\n")  # a typo while it runs
    line = len(good.splitlines()) + 1
    status = project.cli("status")
    assert status.returncode == 0, status.stderr
    assert f"overseer.yaml:{line}:1" in status.stderr and "warning" in status.stderr
    assert f"running pid {proc.pid}" in status.stdout
    blocked = project.cli("block", "long", "--reason", "wrong branch")
    assert blocked.returncode == 0, blocked.stderr
    project.wait_task("long", TaskState.BLOCKED)
    # What is about the file itself still says what is wrong with it.
    assert project.cli("plan").returncode == 2
    assert project.cli("run", "-q").returncode == 2
    down = project.cli("down")
    assert down.returncode == 0 and f"supervisor {proc.pid} stopped" in down.stdout, down.stderr
    proc.wait(timeout=30)
    # With no supervisor running, nothing falls back: the file must be fixed.
    assert project.cli("status").returncode == 2


UP = """
import argparse, sys
from overseer.tui.cli_common import resolve
from overseer.tui.cli_dashboard import start_supervisor
args = argparse.Namespace(config=sys.argv[1], state_dir=None, demo=False)
print(start_supervisor(resolve(args), demo=False))
"""


def test_two_up_at_the_same_instant_share_one_supervisor(project: Project) -> None:
    project.write(ONE_AGENT)
    ups = [
        subprocess.Popen(
            [sys.executable, "-c", UP, str(project.config)],
            cwd=project.root,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=90) for p in ups]
    assert [p.returncode for p in ups] == [0, 0], results
    said = sorted(out.strip() for out, _ in results)
    assert said[1] == "None" and said[0].isdigit(), said  # one started it, one attached
    holder = read_holder(project.state_dir / "supervisor.lock")
    assert holder is not None and holder.pid == int(said[0]) and holder.role == "supervisor"


def test_run_waits_for_an_offline_command_instead_of_calling_it_a_supervisor(
    project: Project,
) -> None:
    # `release` with no supervisor stops the attempt itself: SIGTERM is ignored, so it holds
    # the state dir for the 3 s grace before it kills.
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: slow, run: 'trap "" TERM; echo started >> effects.txt; sleep 60'}
"""
    )
    first = project.start()
    project.wait_task("slow", TaskState.RUNNING)
    wait_until(lambda: (project.root / "effects.txt").exists(), message="task never started")
    project.kill9(first)
    release = subprocess.Popen(
        [sys.executable, "-m", "overseer.tui.cli", "release", "slow", "-c", str(project.config)],
        cwd=project.root,
        env=project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(
        lambda: (
            (h := read_holder(project.state_dir / "supervisor.lock")) is not None
            and h.pid == release.pid
        ),
        interval=0.005,
        message="the offline release never took the lock",
    )
    run = start_supervisor(project, wait=False)
    out, err = release.communicate(timeout=60)
    assert release.returncode == 0, err
    wait_until(
        lambda: run.poll() is not None or beating(project, run.pid),
        timeout=60,
        message="the supervisor did not start after the offline command",
    )
    assert run.poll() is None, run.stderr.read() if run.stderr else ""
    attempt = project.store.attempts("slow")[0]
    assert attempt.outcome.value == "released"


def test_down_stops_a_supervisor_whose_state_dir_was_removed(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: long, run: 'echo started >> effects.txt; sleep 120'}
  - {id: next, run: 'echo next >> effects.txt'}
"""
    )
    proc = start_supervisor(project)
    wait_until(lambda: (project.root / "effects.txt").exists(), message="task never started")
    project.close_store()
    shutil.rmtree(project.state_dir)
    wait_until(
        lambda: (o := tmux_owner(project.tmux)) is not None and "removed" in o.note,
        message="the wipe was not noticed",
    )
    status = project.cli("status")
    assert status.returncode == 2 and f"a supervisor (pid {proc.pid}) still runs" in status.stderr
    down = project.cli("down")
    assert down.returncode == 0 and f"supervisor {proc.pid} stopped" in down.stdout, down.stderr
    code, _, err = finish(proc)
    assert code == 3 and "removed" in err and "Traceback" not in err
    assert (project.root / "effects.txt").read_text() == "started\n"
    assert not project.state_dir.exists()
    # The task it left keeps running in its pane; the next supervisor never types into it.
    assert tmux_owner(project.tmux) is None
    pane = project.tmux.window_pane("w")
    assert pane is not None and pane.pid is not None
    os.kill(pane.pid, 0)  # the agent's shell lives on


def test_a_store_with_commands_from_another_machine_applies_none_offline(
    project: Project,
) -> None:
    project.write(ONE_AGENT)
    assert project.cli("run", "-q", "--until-done", "--timeout", "30").returncode == 0
    db = sqlite3.connect(project.state_dir / "state.db")
    db.execute(
        "INSERT INTO commands(ts, verb, target, args, origin) VALUES (0, 'retry', 's0', '{}', "
        "'1000@0123456789abcdef')"
    )
    db.commit()
    db.close()
    r = project.cli("unblock", "s0")  # applies the queue offline, in order
    assert r.returncode == 1 and "is done, not blocked" in r.stderr
    first = project.store.command(1)
    assert first is not None and first.status == CommandStatus.REJECTED
    assert project.task_state("s0") == TaskState.DONE  # the retry from elsewhere never applied


def test_a_tmux_server_another_live_supervisor_owns_is_never_adopted(project: Project) -> None:
    # The owner record stands alone here (no lock file, no kernel lock is held): it is what
    # keeps a second supervisor out where abstract sockets do not exist.
    project.write(ONE_AGENT)
    server = project.tmux
    server.ensure_server()
    set_tmux_owner(server)  # this test process plays the live owner
    r = project.cli("run", "-q", "--until-done", "--timeout", "30")
    assert r.returncode == 2 and f"a supervisor (pid {os.getpid()})" in r.stderr, r.stderr
    assert not (project.root / "effects.txt").exists()
    # A record of a dead supervisor (killed with -9: it never cleared it) is no obstacle.
    server.run("set-option", "-s", OWNER_OPTION, "4194303 12.000")
    r = project.cli("run", "-q", "--until-done", "--timeout", "30")
    assert r.returncode == 0, r.stderr
    assert tmux_owner(server) is None  # cleared by the supervisor when it stopped
