"""The layout of a state dir: every file and folder Overseer keeps there, named once."""

from __future__ import annotations

from pathlib import Path

DB_NAME = "state.db"
LOCK_NAME = "supervisor.lock"
SUPERVISOR_LOG = "supervisor.log"  # where `overseer up` sends its detached supervisor's output
NOTIFY_LOG = "notify.log"
GITIGNORE = ".gitignore"
LOGS, RUN, EXPLAIN, WORKTREES = "logs", "run", "explain", "worktrees"
DECOMPOSE = "decompose"  # the task lists AI agents write (`overseer decompose`)
CRASHES = "crashes"  # what a dead agent or a lost attempt looked like (agents/crashes.py)
SIGNALS = "signals"  # under run/
TIMES = "times"  # under logs/
# Overseer's own subdirectories: their entries are checked too. The agents' worktrees are
# git checkouts (only the directory entries under worktrees/ are Overseer's).
OWN_SUBDIRS = frozenset({LOGS, RUN, EXPLAIN, WORKTREES, DECOMPOSE, CRASHES})


class StatePaths:
    """Where each thing lives in one state dir (nothing is created here)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / DB_NAME  # the SQLite store
        self.lock = root / LOCK_NAME
        self.supervisor_log = root / SUPERVISOR_LOG
        self.notify_log = root / NOTIFY_LOG  # the notify hook's output
        self.logs = root / LOGS  # the agents' output logs (and crash logs)
        self.times_dir = self.logs / TIMES  # when their output arrived (agents/timing.py)
        # Attempts' wrappers, rc, pid and prompt files, and agents' start-up files.
        self.run = root / RUN
        # The CLIs' hook entry point, their per-agent spools and injected settings files.
        self.signals = self.run / SIGNALS
        self.explain = root / EXPLAIN  # bundles `overseer explain --bundle` writes
        self.worktrees = root / WORKTREES  # the agents' own git worktrees
        self.decompose = root / DECOMPOSE  # task lists from `overseer decompose`, templates
        self.crashes = root / CRASHES  # crash contexts: crashes/<time>-<agent>/

    @property
    def db_files(self) -> tuple[Path, ...]:
        """The store with its write-ahead log and shared memory."""
        return (self.db, self.root / f"{DB_NAME}-wal", self.root / f"{DB_NAME}-shm")

    def log(self, agent: str) -> Path:
        """The append-only output log of one agent."""
        return self.logs / f"{file_stem(agent)}.log"

    def times(self, agent: str) -> Path:
        """When one agent's output arrived (agents/timing.py); a folder of its own under
        logs/, so writing it does not wake the watcher of the logs."""
        return self.times_dir / f"{file_stem(agent)}.times"

    def worktree(self, agent: str) -> Path:
        """One agent's git worktree (`worktree: true`)."""
        return self.worktrees / file_stem(agent)


# On a shared store agents are "host/agent" (state/hosts.py): their files name them with '@'
# instead of the '/', which no configured name may hold.
def file_stem(agent: str) -> str:
    """The part of an agent's file names that names the agent."""
    return agent.replace("/", "@")


def agent_of(stem: str) -> str:
    """The agent a file stem names (file_stem's inverse)."""
    return stem.replace("@", "/")
