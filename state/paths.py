"""The layout of a state dir: every file and folder Overseer keeps there, named once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DB_NAME = "state.db"
LOCK_NAME = "supervisor.lock"
SUPERVISOR_LOG = "supervisor.log"  # where `overseer up` sends its detached supervisor's output
NOTIFY_LOG = "notify.log"
GITIGNORE = ".gitignore"
LOGS, RUN, EXPLAIN, WORKTREES = "logs", "run", "explain", "worktrees"
# Overseer's own subdirectories: their entries are checked too. The agents' worktrees are
# git checkouts (only the directory entries under worktrees/ are Overseer's).
OWN_SUBDIRS = frozenset({LOGS, RUN, EXPLAIN, WORKTREES})


@dataclass(frozen=True)
class StatePaths:
    """Where each thing lives in one state dir (nothing is created here)."""

    root: Path

    @property
    def db(self) -> Path:
        """The SQLite store."""
        return self.root / DB_NAME

    @property
    def db_files(self) -> tuple[Path, ...]:
        """The store with its write-ahead log and shared memory."""
        return (self.db, self.root / f"{DB_NAME}-wal", self.root / f"{DB_NAME}-shm")

    @property
    def lock(self) -> Path:
        """The supervisor lock file."""
        return self.root / LOCK_NAME

    @property
    def supervisor_log(self) -> Path:
        """A detached supervisor's output."""
        return self.root / SUPERVISOR_LOG

    @property
    def notify_log(self) -> Path:
        """The notify hook's output."""
        return self.root / NOTIFY_LOG

    @property
    def logs(self) -> Path:
        """The agents' output logs (and crash logs)."""
        return self.root / LOGS

    @property
    def run(self) -> Path:
        """Attempts' wrappers, rc, pid and prompt files, and agents' start-up files."""
        return self.root / RUN

    @property
    def explain(self) -> Path:
        """Bundles `overseer explain --bundle` writes."""
        return self.root / EXPLAIN

    @property
    def worktrees(self) -> Path:
        """The agents' own git worktrees."""
        return self.root / WORKTREES

    def log(self, agent: str) -> Path:
        """The append-only output log of one agent."""
        return self.logs / f"{agent}.log"

    def worktree(self, agent: str) -> Path:
        """One agent's git worktree (`worktree: true`)."""
        return self.worktrees / agent
