"""agents.worktree against real temporary git repositories (no user or system git config)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from overseer.agents.worktree import (
    WorktreeError,
    branch_name,
    diff,
    ensure_worktree,
    list_worktrees,
    remove_worktree,
    repo_root,
    status,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's and the system's git config out, and give commits an identity."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.invalid")
    monkeypatch.delenv("GIT_DIR", raising=False)
    monkeypatch.delenv("GIT_WORK_TREE", raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run git in cwd and return its output; fail the test if git fails."""
    proc = subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def commit(cwd: Path, name: str, text: str, message: str) -> None:
    """Write a file and commit it."""
    (cwd / name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on branch main with one commit of README.md."""
    root = tmp_path / "proj"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, "README.md", "hello\n", "initial")
    return root


@pytest.fixture
def parent(repo: Path) -> Path:
    """Where worktrees go: <state_dir>/worktrees inside the project, as Overseer lays it out."""
    return repo / ".overseer" / "worktrees"


def test_ensure_worktree_creates_path_and_branch(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "worker-1", parent)

    assert path == parent / "worker-1"
    assert (path / "README.md").read_text() == "hello\n"
    assert git(path, "symbolic-ref", "--short", "HEAD").strip() == "overseer/worker-1"
    assert branch_name("worker-1") == "overseer/worker-1"
    assert [(p.resolve(), b) for p, b in list_worktrees(repo)] == [
        (path.resolve(), "overseer/worker-1")
    ]
    st = status(path)
    assert (st.branch, st.base) == ("overseer/worker-1", "main")
    assert (st.ahead, st.behind, st.dirty) == (0, 0, 0)
    assert st.clean and st.diffstat == "no changes"
    # The project's own tree does not pick the worktrees up as untracked nested repositories.
    assert git(repo, "status", "--porcelain") == ""


def test_ensure_worktree_again_reuses_it(repo: Path, parent: Path) -> None:
    first = ensure_worktree(repo, "worker-1", parent)
    (first / "notes.txt").write_text("work in progress\n")

    again = ensure_worktree(repo, "worker-1", parent)

    assert again == first
    assert (again / "notes.txt").read_text() == "work in progress\n"
    assert len(list_worktrees(repo)) == 1


def test_commit_in_worktree_is_ahead(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(path, "feature.py", "x = 1\n", "feature")

    st = status(path)

    assert (st.ahead, st.behind, st.dirty) == (1, 0, 0)
    assert "feature.py" in st.diffstat_committed
    assert "1 file changed, 1 insertion(+)" in st.diffstat_committed
    assert st.diffstat_uncommitted == ""
    assert "+x = 1" in diff(path)


def test_commit_on_main_is_behind(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(repo, "CHANGELOG", "v1\n", "on main")

    st = status(path)

    assert (st.ahead, st.behind) == (0, 1)
    assert st.conflicts is False and st.conflicts_known is True


def test_uncommitted_edit_is_dirty_with_a_diffstat(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    (path / "README.md").write_text("hello\nworld\n")

    st = status(path)

    assert st.dirty == 1 and st.untracked == 0 and not st.clean
    assert "README.md" in st.diffstat_uncommitted
    assert "1 file changed, 1 insertion(+)" in st.diffstat_uncommitted
    assert st.diffstat == "uncommitted: 1 file changed, 1 insertion(+)"
    text = diff(path)
    assert "### uncommitted changes" in text and "+world" in text
    assert "\x1b[" not in text


def test_untracked_file_counts_as_dirty_and_shows_in_the_diff(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    (path / "new.txt").write_text("brand new\n")

    st = status(path)

    assert (st.dirty, st.untracked) == (1, 1)
    text = diff(path)
    assert "### untracked files (1)" in text and "+brand new" in text


def test_conflicting_changes_on_both_sides(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(path, "README.md", "hello from the agent\n", "agent edit")
    commit(repo, "README.md", "hello from main\n", "main edit")

    st = status(path)

    assert (st.ahead, st.behind) == (1, 1)
    assert st.conflicts is True and st.conflicts_known is True
    assert st.conflict_files == ("README.md",)
    # Checking for conflicts changes neither side.
    assert (path / "README.md").read_text() == "hello from the agent\n"
    assert git(path, "status", "--porcelain") == ""


def test_diverged_but_compatible_changes_do_not_conflict(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(path, "agent.txt", "a\n", "agent file")
    commit(repo, "main.txt", "m\n", "main file")

    st = status(path)

    assert (st.ahead, st.behind, st.conflicts, st.conflicts_known) == (1, 1, False, True)
    assert st.conflict_files == ()


def test_remove_refuses_a_dirty_worktree_unless_forced(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    (path / "README.md").write_text("changed\n")

    with pytest.raises(WorktreeError, match=r"refusing to remove .* 1 uncommitted file.*--force"):
        remove_worktree(repo, path)
    assert (path / "README.md").read_text() == "changed\n"

    said = remove_worktree(repo, path, force=True)

    assert not path.exists()
    assert list_worktrees(repo) == []
    assert git(repo, "branch", "--list", "overseer/a") == ""
    assert "removed worktree" in said and "deleted branch overseer/a" in said


def test_remove_refuses_unmerged_commits_and_keeps_a_recovery_hint(
    repo: Path, parent: Path
) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(path, "feature.py", "x = 1\n", "feature")
    tip = git(path, "rev-parse", "HEAD").strip()

    with pytest.raises(WorktreeError, match=r"1 commit\(s\) not in main"):
        remove_worktree(repo, path)
    said = remove_worktree(repo, path, force=True)

    assert not path.exists()
    assert f"git branch overseer/a {tip[:12]}" in said


def test_remove_a_clean_merged_worktree_deletes_its_branch(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(path, "feature.py", "x = 1\n", "feature")
    git(repo, "merge", "-q", "--ff-only", "overseer/a")

    said = remove_worktree(repo, path)

    assert not path.exists()
    assert git(repo, "branch", "--list", "overseer/a") == ""
    assert "deleted branch overseer/a (merged into main)" in said


def test_not_a_repository_says_where_and_how_to_fix(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    with pytest.raises(WorktreeError) as err:
        ensure_worktree(plain, "a", tmp_path / "wt")

    message = str(err.value)
    assert "not inside a git repository" in message
    assert str(plain) in message
    assert "git init" in message and "worktree: true" in message
    with pytest.raises(WorktreeError, match="not inside a git repository"):
        repo_root(plain)


def test_repository_without_a_commit_is_refused_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")

    with pytest.raises(WorktreeError, match=r"has no commit yet.*git commit --allow-empty"):
        ensure_worktree(empty, "a", tmp_path / "wt")
    assert not (tmp_path / "wt" / "a").exists()


def test_worktree_deleted_by_hand_is_recreated_on_its_branch(repo: Path, parent: Path) -> None:
    path = ensure_worktree(repo, "a", parent)
    commit(path, "feature.py", "x = 1\n", "feature")
    shutil.rmtree(path)

    again = ensure_worktree(repo, "a", parent)

    assert again == path and (path / "feature.py").read_text() == "x = 1\n"
    assert status(path).ahead == 1
    assert [b for _, b in list_worktrees(repo)] == ["overseer/a"]


def test_explicit_base_is_recorded_for_status(repo: Path, parent: Path) -> None:
    git(repo, "branch", "develop")
    path = ensure_worktree(repo, "a", parent, base="develop")
    commit(repo, "main-only.txt", "m\n", "main moves on")  # develop does not

    st = status(path)

    assert (st.base, st.behind) == ("develop", 0)
    with pytest.raises(WorktreeError, match="'nope' is not a branch or commit"):
        ensure_worktree(repo, "b", parent, base="nope")


def test_relative_parent_and_unusable_agent_names(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)

    path = ensure_worktree(Path("."), "a", Path(".overseer/worktrees"))

    assert (repo / ".overseer" / "worktrees" / "a" / "README.md").exists()
    assert status(path).branch == "overseer/a"
    for bad in ("../escape", "a/b", "", "x.lock", "-flag"):
        with pytest.raises(WorktreeError, match="cannot name a git branch"):
            ensure_worktree(repo, bad, repo / "wt")


def test_only_overseer_worktrees_are_listed(repo: Path, parent: Path, tmp_path: Path) -> None:
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "mine"))
    path = ensure_worktree(repo, "a", parent)

    assert [(p.resolve(), b) for p, b in list_worktrees(repo)] == [(path.resolve(), "overseer/a")]
    with pytest.raises(WorktreeError, match="main worktree"):
        remove_worktree(repo, repo, force=True)


def test_missing_git_is_reported_with_a_fix(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-programs"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    with pytest.raises(WorktreeError, match=r"git is not installed .*install git"):
        repo_root(repo)
