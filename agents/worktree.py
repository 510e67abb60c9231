"""One git worktree and branch (overseer/<agent>) per agent, through plain git subprocess calls."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from overseer.state.errors import EXIT_ENV, OverseerError
from overseer.state.statedir import check_path, write_private
from overseer.state.store import ensure_private_dir

__all__ = [
    "BRANCH_PREFIX",
    "WorktreeError",
    "WorktreeStatus",
    "branch_name",
    "diff",
    "ensure_worktree",
    "list_worktrees",
    "remove_worktree",
    "repo_root",
    "status",
]

#: Every agent branch lives under this prefix.
BRANCH_PREFIX = "overseer/"
#: Seconds a quick git call (rev-parse, status, worktree list) may take.
GIT_TIMEOUT = 30.0
#: Seconds a git call that may touch many files (worktree add/remove, diff, merge-tree) may take.
GIT_SLOW_TIMEOUT = 120.0
#: At most this many untracked files are shown with their content in diff().
MAX_UNTRACKED_IN_DIFF = 50

# The base a worktree was branched from is kept in the repository's own config, beside the
# branch (`git branch -D` removes it with the branch); the user's global config is never written.
_BASE_KEY = "overseerbase"
# Variables git sets for hooks; inherited, they would point our calls at another repository.
_GIT_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)
_AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HOW_TO_OPT_OUT = "remove 'worktree: true' from the agent in the config"


class WorktreeError(OverseerError):
    """A worktree operation failed or was refused; the message says why and what to do."""

    status = EXIT_ENV


@dataclass(frozen=True)
class WorktreeStatus:
    """Git state of one agent worktree compared with its base branch."""

    path: Path
    branch: str
    base: str
    ahead: int
    behind: int
    dirty: int
    untracked: int
    diffstat_uncommitted: str
    diffstat_committed: str
    conflicts: bool
    conflicts_known: bool
    conflict_files: tuple[str, ...]

    @property
    def diffstat(self) -> str:
        """One line for a table cell: git's summary lines of uncommitted and committed changes."""
        parts: list[str] = []
        if self.diffstat_uncommitted:
            parts.append("uncommitted: " + _summary_line(self.diffstat_uncommitted))
        if self.untracked:
            parts.append(f"{self.untracked} untracked")
        if self.diffstat_committed:
            parts.append(f"vs {self.base}: " + _summary_line(self.diffstat_committed))
        return "; ".join(parts) or "no changes"

    @property
    def clean(self) -> bool:
        """True when nothing is uncommitted and no commit is missing from the base."""
        return self.dirty == 0 and self.ahead == 0


@dataclass(frozen=True)
class _Entry:
    """One record of `git worktree list --porcelain`."""

    path: Path
    head: str
    branch: str  # short name ("overseer/a"), "" when detached or bare
    bare: bool
    locked: bool
    prunable: bool


# -- plumbing ------------------------------------------------------------------------


def _git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise WorktreeError(
            "git is not installed (looked for 'git' on PATH); install git or " + _HOW_TO_OPT_OUT
        )
    return found


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password nobody will type
    env["GIT_OPTIONAL_LOCKS"] = "0"  # reading status must not take the agent's index.lock
    env["LC_ALL"] = "C"  # messages we match on are in English
    env.setdefault("GIT_PAGER", "cat")
    if extra:
        env.update(extra)
    return env


def _git(
    cwd: Path,
    args: Sequence[str],
    *,
    check: bool = True,
    timeout: float = GIT_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `git -C cwd args...`; raise WorktreeError on failure when check."""
    argv = [_git_binary(), "-C", str(cwd), "--no-pager", *args]
    what = " ".join(["git", *args[:2]])
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=_env(),
        )
    except FileNotFoundError as e:
        raise WorktreeError(f"git disappeared while running {what!r}; reinstall git") from e
    except subprocess.TimeoutExpired as e:
        raise WorktreeError(f"{what!r} in {cwd} did not finish within {timeout:g} s") from e
    if check and proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}"
        raise WorktreeError(f"{what!r} failed in {cwd}: {detail}")
    return proc


def _summary_line(stat: str) -> str:
    lines = stat.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _same_path(a: Path, b: Path) -> bool:
    return os.path.normcase(str(a.resolve())) == os.path.normcase(str(b.resolve()))


def _worktrees(repo: Path) -> list[_Entry]:
    proc = _git(repo, ["worktree", "list", "--porcelain", "-z"], check=False)
    if proc.returncode == 0:
        out = proc.stdout
    else:  # git < 2.36 has no -z; its line format differs only for paths with newlines
        out = _git(repo, ["worktree", "list", "--porcelain"]).stdout.replace("\n", "\0")
    entries: list[_Entry] = []
    record: dict[str, str] = {}

    def flush() -> None:
        if "worktree" in record:
            branch = record.get("branch", "")
            entries.append(
                _Entry(
                    path=Path(record["worktree"]),
                    head=record.get("HEAD", ""),
                    branch=branch.removeprefix("refs/heads/"),
                    bare="bare" in record,
                    locked="locked" in record,
                    prunable="prunable" in record,
                )
            )
        record.clear()

    for field in out.split("\0"):
        if not field:
            flush()  # an empty field ends a record
            continue
        key, _, value = field.partition(" ")
        record[key] = value
    flush()
    return entries


def _find_entry(entries: Sequence[_Entry], path: Path) -> _Entry | None:
    for entry in entries:
        if _same_path(entry.path, path):
            return entry
    return None


def _branch_exists(repo: Path, branch: str) -> bool:
    proc = _git(repo, ["show-ref", "--verify", "--quiet", f"refs/heads/{branch}"], check=False)
    return proc.returncode == 0


def _resolve_commit(repo: Path, rev: str) -> str | None:
    proc = _git(repo, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _check_agent(agent: str) -> None:
    if not _AGENT_NAME.match(agent) or ".." in agent or agent.endswith((".lock", ".")):
        raise WorktreeError(
            f"agent name {agent!r} cannot name a git branch and a directory; use letters, "
            "digits, '.', '_' and '-' only (e.g. worker-1)"
        )


def _main_branch(repo: Path) -> str:
    """Return the branch the main worktree is on, or its commit when detached."""
    for entry in _worktrees(repo):
        # The first record is always the main worktree.
        if entry.bare:
            break
        if entry.branch:
            return entry.branch
        if entry.head:
            return entry.head
        break
    raise WorktreeError(
        f"cannot tell the base branch of the repository at {repo}: its main worktree is on no "
        "branch; pass a base explicitly"
    )


def _recorded_base(path: Path, branch: str) -> str | None:
    if not branch:
        return None
    proc = _git(path, ["config", "--local", "--get", f"branch.{branch}.{_BASE_KEY}"], check=False)
    base = proc.stdout.strip()
    return base if proc.returncode == 0 and base else None


def _current_branch(path: Path) -> str:
    proc = _git(path, ["symbolic-ref", "--quiet", "--short", "HEAD"], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _base_for(path: Path, branch: str, base: str | None) -> str:
    chosen = base or _recorded_base(path, branch) or _main_branch(path)
    if _resolve_commit(path, chosen) is None:
        raise WorktreeError(
            f"base {chosen!r} of the worktree at {path} is not a commit in its repository "
            "(was the branch deleted or renamed?); pass an existing branch as the base"
        )
    return chosen


# -- public API ----------------------------------------------------------------------


def branch_name(agent: str) -> str:
    """Return the branch an agent's worktree is on: overseer/<agent>."""
    return f"{BRANCH_PREFIX}{agent}"


def repo_root(path: Path) -> Path:
    """Return the top directory of the git working tree that holds path."""
    if not path.is_dir():
        raise WorktreeError(
            f"{path} is not a directory, so it cannot be a git repository; create it and run "
            f"`git init` there, or {_HOW_TO_OPT_OUT}"
        )
    proc = _git(path, ["rev-parse", "--show-toplevel"], check=False)
    top = proc.stdout.strip()
    if proc.returncode != 0 or not top:
        reason = proc.stderr.strip().splitlines()
        detail = f" (git said: {reason[-1]})" if reason else ""
        raise WorktreeError(
            f"{path} is not inside a git repository: git looked in {path} and every parent "
            f"directory and found no .git{detail}. Run `git init` there and commit once, or "
            + _HOW_TO_OPT_OUT
        )
    return Path(top)


def ensure_worktree(repo: Path, agent: str, parent: Path, base: str | None = None) -> Path:
    """Return parent/agent as a worktree of repo on branch overseer/<agent>, creating it if needed."""
    _check_agent(agent)
    root = repo_root(repo)
    branch = branch_name(agent)
    path = parent / agent
    entries = _worktrees(root)
    entry = _find_entry(entries, path)
    if entry is not None and not entry.prunable and path.is_dir():
        return path  # reused after a restart, whatever the agent has done in it since
    if entry is not None or any(e.prunable and e.branch == branch for e in entries):
        # Registered but deleted by hand: forget the stale registration, then recreate.
        _git(root, ["worktree", "prune"])
        entries = _worktrees(root)
    holder = next((e for e in entries if e.branch == branch), None)
    if holder is not None:
        raise WorktreeError(
            f"branch {branch} is already checked out in another worktree at {holder.path}; "
            f"remove it (`git worktree remove {holder.path}`) or move it to {path}"
        )
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise WorktreeError(
            f"{path} exists and is not a worktree of {root}; move or delete it so that the "
            f"worktree of agent {agent!r} can be created there"
        )
    fresh = not parent.exists() or (parent.is_dir() and not any(parent.iterdir()))
    ensure_private_dir(parent)  # 0700 whatever the umask; a link there is refused
    if fresh:
        _ignore_in_main_tree(parent)  # only in a directory that is ours alone
    target = str(path.absolute())  # git runs in root: a relative path would land there
    if _branch_exists(root, branch):
        _git(root, ["worktree", "add", target, branch], timeout=GIT_SLOW_TIMEOUT)
        os.chmod(path, 0o700)  # git made it after the umask
        return path
    start = base or "HEAD"
    if _resolve_commit(root, start) is None:
        if base is None:
            raise WorktreeError(
                f"the git repository at {root} has no commit yet, and a worktree needs one to "
                "branch from: commit once (e.g. `git commit --allow-empty -m init`) or "
                + _HOW_TO_OPT_OUT
            )
        raise WorktreeError(f"base {base!r} is not a branch or commit in the repository at {root}")
    recorded = base or _main_branch(root)
    _git(
        root,
        ["worktree", "add", "--no-track", "-b", branch, target, start],
        timeout=GIT_SLOW_TIMEOUT,
    )
    _git(root, ["config", "--local", f"branch.{branch}.{_BASE_KEY}", recorded])
    os.chmod(path, 0o700)  # git made it after the umask
    return path


def _ignore_in_main_tree(parent: Path) -> None:
    """Keep the main worktree's `git add -A` from picking agent worktrees up as nested repos."""
    marker = parent / ".gitignore"
    if check_path(marker) is None:
        write_private(
            marker, "# agent worktrees made by Overseer; not part of the project's tree\n*\n"
        )


def status(path: Path, base: str | None = None) -> WorktreeStatus:
    """Return branch, ahead/behind, dirty count, diff stats and conflicts of the worktree at path."""
    top = repo_root(path)
    branch = _current_branch(top)
    base = _base_for(top, branch, base)
    counts = _git(top, ["rev-list", "--left-right", "--count", f"{base}...HEAD", "--"]).stdout
    behind_text, _, ahead_text = counts.strip().partition("\t")
    behind, ahead = int(behind_text or 0), int(ahead_text or 0)
    porcelain = _git(top, ["status", "--porcelain"]).stdout.splitlines()
    untracked = sum(1 for line in porcelain if line.startswith("??"))
    uncommitted = _git(
        top,
        ["diff", "--no-color", "--no-ext-diff", "--stat", "HEAD", "--"],
        timeout=GIT_SLOW_TIMEOUT,
    ).stdout
    committed = ""
    if ahead:
        committed = _git(
            top,
            ["diff", "--no-color", "--no-ext-diff", "--stat", f"{base}...HEAD", "--"],
            timeout=GIT_SLOW_TIMEOUT,
        ).stdout
    conflicts, known, files = _merge_conflicts(top, base, ahead, behind)
    return WorktreeStatus(
        path=path,
        branch=branch or "(detached)",
        base=base,
        ahead=ahead,
        behind=behind,
        dirty=len(porcelain),
        untracked=untracked,
        diffstat_uncommitted=uncommitted.rstrip(),
        diffstat_committed=committed.rstrip(),
        conflicts=conflicts,
        conflicts_known=known,
        conflict_files=files,
    )


def _merge_conflicts(
    top: Path, base: str, ahead: int, behind: int
) -> tuple[bool, bool, tuple[str, ...]]:
    """Return (conflicts, known, files) for merging HEAD with base, without touching any tree."""
    if ahead == 0 or behind == 0:
        return False, True, ()  # a fast-forward either way cannot conflict
    # `merge-tree --write-tree` (git >= 2.38) merges in memory: exit 0 clean, 1 conflicts.
    proc = _git(
        top,
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", base, "HEAD"],
        check=False,
        timeout=GIT_SLOW_TIMEOUT,
    )
    if proc.returncode not in (0, 1):
        return False, False, ()  # older git, or unrelated histories: unknown
    if proc.returncode == 0:
        return False, True, ()
    fields = proc.stdout.split("\0")[1:]  # the first field is the merged tree's id
    files: list[str] = []
    for name in fields:
        if not name:
            break
        if name not in files:
            files.append(name)
    return True, True, tuple(files)


def diff(path: Path, base: str | None = None) -> str:
    """Return the text a person reviews: commits since base, uncommitted changes, new files."""
    top = repo_root(path)
    branch = _current_branch(top)
    base = _base_for(top, branch, base)
    opts = ["--no-color", "--no-ext-diff"]
    sections: list[str] = []
    committed = _git(top, ["diff", *opts, f"{base}...HEAD", "--"], timeout=GIT_SLOW_TIMEOUT).stdout
    if committed:
        sections.append(f"### committed on {branch or 'HEAD'} since {base}\n{committed}")
    uncommitted = _git(top, ["diff", *opts, "HEAD", "--"], timeout=GIT_SLOW_TIMEOUT).stdout
    if uncommitted:
        sections.append(f"### uncommitted changes\n{uncommitted}")
    untracked = _untracked(top)
    if untracked:
        parts = [f"### untracked files ({len(untracked)})\n"]
        for name in untracked[:MAX_UNTRACKED_IN_DIFF]:
            # Exit status 1 means "they differ", which a new file always does.
            shown = _git(top, ["diff", *opts, "--no-index", "--", os.devnull, name], check=False)
            parts.append(shown.stdout if shown.returncode in (0, 1) else f"(cannot show {name})\n")
        if len(untracked) > MAX_UNTRACKED_IN_DIFF:
            parts.append(f"... and {len(untracked) - MAX_UNTRACKED_IN_DIFF} more untracked files\n")
        sections.append("".join(parts))
    return "\n".join(sections)


def _untracked(top: Path) -> list[str]:
    out = _git(top, ["ls-files", "--others", "--exclude-standard", "-z"]).stdout
    return [name for name in out.split("\0") if name]


def remove_worktree(repo: Path, path: Path, force: bool = False) -> str:
    """Remove an agent worktree (refused when dirty or ahead of base unless force); say what was done."""
    root = repo_root(repo)
    entries = _worktrees(root)
    entry = _find_entry(entries, path)
    if entry is None:
        if path.exists():
            raise WorktreeError(
                f"{path} is not a worktree of the repository at {root}; not removed"
            )
        return f"no worktree at {path}; nothing to remove"
    if entries and entry is entries[0]:
        raise WorktreeError(f"{path} is the main worktree of {root}; it is never removed")
    branch = entry.branch
    done: list[str] = []
    if entry.prunable or not path.is_dir():
        _git(root, ["worktree", "prune"])
        done.append(f"forgot worktree {path} (its directory was already gone)")
        ahead, base = _unmerged(root, branch)
    else:
        st = status(path)
        ahead, base = st.ahead, st.base
        if not force and (st.dirty or st.ahead):
            what = []
            if st.dirty:
                what.append(f"{st.dirty} uncommitted file(s)")
            if st.ahead:
                what.append(f"{st.ahead} commit(s) not in {st.base}")
            raise WorktreeError(
                f"refusing to remove the worktree at {path} ({branch or 'detached'}): it has "
                f"{' and '.join(what)}; review with `git -C {path} status`, merge or commit "
                "them, or remove it anyway with --force"
            )
        if entry.locked and not force:
            raise WorktreeError(
                f"the worktree at {path} is locked; `git worktree unlock {path}` or use --force"
            )
        args = ["worktree", "remove"]
        if force:
            args += ["--force", "--force"] if entry.locked else ["--force"]
        _git(root, [*args, str(path.absolute())], timeout=GIT_SLOW_TIMEOUT)
        done.append(f"removed worktree {path}")
    if branch.startswith(BRANCH_PREFIX) and _branch_exists(root, branch):
        tip = _resolve_commit(root, branch) or ""
        if ahead == 0:
            _git(root, ["branch", "-D", branch])
            done.append(f"deleted branch {branch} (merged into {base})")
        elif force:
            _git(root, ["branch", "-D", branch])
            done.append(
                f"deleted branch {branch} with {ahead} commit(s) not in {base} "
                f"(recover with `git branch {branch} {tip[:12]}`)"
            )
        else:
            done.append(f"kept branch {branch}: {ahead} commit(s) not in {base}")
    return "; ".join(done)


def _unmerged(root: Path, branch: str) -> tuple[int, str]:
    """Return (commits on branch not in its base, base) for a branch without a worktree."""
    if not branch or not _branch_exists(root, branch):
        return 0, ""
    base = _recorded_base(root, branch) or _main_branch(root)
    if _resolve_commit(root, base) is None:
        return 1, base  # base gone: count the branch as unmerged so it is kept unless forced
    out = _git(root, ["rev-list", "--count", f"{base}..{branch}", "--"]).stdout
    return int(out.strip() or 0), base


def list_worktrees(repo: Path) -> list[tuple[Path, str]]:
    """Return (path, branch) of every worktree of repo on an overseer/* branch."""
    root = repo_root(repo)
    return [(e.path, e.branch) for e in _worktrees(root) if e.branch.startswith(BRANCH_PREFIX)]
