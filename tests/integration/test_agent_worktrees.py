"""`worktree: true`: each agent instance works in its own git worktree and branch."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from overseer.agents import worktree
from tests.project import Project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def make_repo(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    (root / "README").write_text("hello\n")
    git(root, "add", "README")
    git(root, "commit", "-q", "-m", "first")


def test_each_instance_gets_its_own_worktree_reused_after_restart(project: Project) -> None:
    make_repo(project.root)
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2, worktree: true}
tasks:
  - {id: where-1, run: 'git branch --show-current; pwd; echo change >> README', agent: w-1}
  - {id: where-2, run: 'git branch --show-current; pwd', agent: w-2}
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    trees = project.state_dir / "worktrees"
    for n in (1, 2):
        tail = project.store.attempts(f"where-{n}")[0].output_tail
        assert f"overseer/w-{n}" in tail and str(trees / f"w-{n}") in tail
    status = worktree.status(trees / "w-1")
    assert status.branch == "overseer/w-1" and status.dirty == 1 and status.base == "main"
    assert (project.root / "README").read_text() == "hello\n"  # the main checkout is untouched
    assert "worktrees" not in git(project.root, "status", "--porcelain")
    # A restart reuses the worktrees (the uncommitted change is still there).
    project.cli("down", "--kill-agents")
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    assert worktree.status(trees / "w-1").dirty == 1
    assert sorted(b for _, b in worktree.list_worktrees(project.root)) == [
        "overseer/w-1",
        "overseer/w-2",
    ]


def test_worktree_outside_a_repository_is_a_clear_error(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, worktree: true}
tasks: []
""",
    )
    r = project.cli("run", "--until-done", "--timeout", "30")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "not a git repository" in r.stderr.lower() and "Traceback" not in r.stderr


def test_cleanup_removes_worktrees_only_when_clean_or_forced(project: Project) -> None:
    make_repo(project.root)
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2, worktree: true}
tasks:
  - {id: dirty, run: 'echo change >> README', agent: w-1}
  - {id: clean, run: 'true', agent: w-2}
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    trees = project.state_dir / "worktrees"
    busy = project.cli("cleanup")
    assert busy.returncode == 0 and (trees / "w-2").exists()  # agents still run in them
    assert "its agent works in it" in busy.stdout
    project.cli("down", "--kill-agents")
    r = project.cli("cleanup")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (trees / "w-2").exists(), r.stdout  # clean: removed
    assert (trees / "w-1").exists() and "uncommitted" in r.stdout  # dirty: kept
    r = project.cli("cleanup", "--force")
    assert not (trees / "w-1").exists(), r.stdout
