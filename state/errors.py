"""Errors a person can act on: one base class that carries the exit status.

Every layer raises subclasses of `OverseerError` (state: config, store, queue; agents: tmux,
lock, worktree, explain; tui: the command line's own), so `overseer`'s main() catches the
base once, prints the message as one line and exits with the error's status. Anything else
that escapes a command is a bug: exit 70 and a crash log.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a task or an operator command failed, or a question was answered no
EXIT_USAGE = 2  # bad usage or config: what the user typed or wrote
EXIT_ENV = 3  # the environment: tmux, the database, the state dir, git
EXIT_CRASH = 70  # EX_SOFTWARE (sysexits.h): a fault of Overseer's, not of the user's input


class OverseerError(Exception):
    """A problem a person can act on; its message says what and where, `status` ends the command."""

    status: int = EXIT_USAGE
