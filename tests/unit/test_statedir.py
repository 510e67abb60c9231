"""Trusting the state dir: links and other users' files refused, origins recorded and compared."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from overseer.agents.lock import LockHeld, SupervisorLock, is_held, read_holder, supervisor_running
from overseer.state.statedir import (
    UnsafeStateDir,
    check_tree,
    ensure_gitignore,
    foreign,
    origin_record,
    write_private,
)
from overseer.state.store import Store, ensure_private_dir

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")


def test_a_link_anywhere_in_the_state_dir_is_refused_and_never_followed(tmp_path: Path) -> None:
    state = tmp_path / ".overseer"
    (state / "run").mkdir(parents=True)
    victim = tmp_path / "deploy.sh"
    victim.write_text("echo deploy\n")
    (state / "run" / "t.1.sh").symlink_to(victim)
    with pytest.raises(UnsafeStateDir, match=r"run/t\.1\.sh is a symbolic link \(to "):
        check_tree(state)
    with pytest.raises(UnsafeStateDir, match="symbolic link"):
        write_private(state / "run" / "t.1.sh", "echo pwned\n")
    assert victim.read_text() == "echo deploy\n"


def test_a_linked_state_dir_or_database_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o755)
    (tmp_path / ".overseer").symlink_to(real)
    with pytest.raises(UnsafeStateDir, match="symbolic link"):
        ensure_private_dir(tmp_path / ".overseer")
    assert stat.S_IMODE(real.stat().st_mode) == 0o755  # not chmod-ed through the link
    state = tmp_path / "state"
    state.mkdir()
    other = Store(tmp_path / "other" / "state.db")
    other.close()
    (state / "state.db").symlink_to(tmp_path / "other" / "state.db")
    with pytest.raises(UnsafeStateDir, match="state.db is a symbolic link"):
        Store(state / "state.db")


@root_only
def test_a_directory_or_file_of_another_user_is_refused(tmp_path: Path) -> None:
    state = tmp_path / ".overseer"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "w.log").write_text("")
    os.chown(state / "logs" / "w.log", 65534, 65534)
    with pytest.raises(UnsafeStateDir, match="belongs to uid 65534"):
        check_tree(state)
    os.chown(state, 65534, 65534)
    with pytest.raises(UnsafeStateDir, match="belongs to uid 65534"):
        ensure_private_dir(state)


def test_private_files_and_gitignore_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        state = ensure_private_dir(tmp_path / ".overseer")
        ensure_gitignore(state)
    finally:
        os.umask(old)
    ignore = state / ".gitignore"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(ignore.stat().st_mode) == 0o600
    assert "*" in ignore.read_text().splitlines()


def test_origin_is_recorded_at_creation_and_a_copy_is_foreign(tmp_path: Path) -> None:
    store = Store(tmp_path / "a" / "state.db")
    recorded = store.meta_get("origin")
    store.close()
    assert foreign(recorded, tmp_path / "a") is None
    assert "moved or copied" in (foreign(recorded, tmp_path / "b") or "")
    other_host = json.loads(origin_record(tmp_path / "a"))
    other_host.update(host="0" * 32, hostname="build-box")
    assert "another machine (build-box)" in (foreign(json.dumps(other_host), tmp_path / "a") or "")
    other_user = json.loads(origin_record(tmp_path / "a"))
    other_user["uid"] = os.geteuid() + 1
    assert "another user" in (foreign(json.dumps(other_user), tmp_path / "a") or "")
    assert "no origin" in (foreign(None, tmp_path / "a") or "")


def test_commands_record_who_wrote_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    cid = store.enqueue_command("retry", "x")
    cmd = store.command(cid)
    assert cmd is not None and cmd.origin and cmd.origin.startswith(f"{os.geteuid()}@")
    store.close()


# -- the writer lock ---------------------------------------------------------------------------


def test_the_lock_outlives_its_file(tmp_path: Path) -> None:
    # `git clean -fdx` deletes supervisor.lock under a live supervisor: a second one must
    # still be kept out (the kernel lock has no file to delete).
    first = SupervisorLock(tmp_path)
    first.acquire()
    try:
        (tmp_path / "supervisor.lock").unlink()
        with pytest.raises(LockHeld, match="supervisor.lock is gone"):
            SupervisorLock(tmp_path).acquire()
    finally:
        first.release()
    second = SupervisorLock(tmp_path)
    second.acquire()  # free again once the first let go
    second.release()


def test_an_offline_command_is_named_as_such_and_waited_for(tmp_path: Path) -> None:
    apply = SupervisorLock(tmp_path, role="apply")
    apply.acquire()
    holder = read_holder(tmp_path / "supervisor.lock")
    assert holder is not None and holder.role == "apply"
    assert is_held(tmp_path) and not supervisor_running(tmp_path)
    with pytest.raises(LockHeld) as caught:
        SupervisorLock(tmp_path, wait=0.3).acquire()
    assert "applying operator commands offline" in str(caught.value)
    assert "a supervisor" not in str(caught.value)
    # A supervisor starting meanwhile waits for the offline command instead of failing.
    threading.Timer(0.3, apply.release).start()
    sup = SupervisorLock(tmp_path)
    sup.acquire()
    assert supervisor_running(tmp_path)
    with pytest.raises(LockHeld, match="a supervisor .* is already running"):
        SupervisorLock(tmp_path, role="apply", wait=5).acquire()  # no wait for a supervisor
    sup.release()
