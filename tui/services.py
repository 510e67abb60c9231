"""What the main screen uses of the world outside it: the app provides it, the screen is handed it.

Screens never import the app (an import-linter contract): beyond Textual's own App API, all a
screen reaches (the store, operator commands, tmux, the theme) is what `Services` declares.
The app satisfies it and passes itself; a test can pass any object that does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from overseer.state.models import Agent
from overseer.tui.commands import Outcome
from overseer.tui.snapshot import SnapshotReader


class Services(Protocol):
    """The main screen's ties to the store, the supervisor, tmux and the app."""

    @property
    def state_dir(self) -> Path: ...

    @property
    def keymap(self) -> Mapping[str, str]:
        """Action id -> key, where the user's or the project's config remaps one."""
        ...

    @property
    def live(self) -> bool:
        """Whether to follow the store as it changes (False: read it once)."""
        ...

    def make_reader(self) -> SnapshotReader:
        """A store reader of its own, for one worker thread."""
        ...

    def send_command(self, verb: str, target: str, args: dict[str, Any]) -> Outcome:
        """Write one operator command and wait for its result (in a worker)."""
        ...

    def agent_row(self, name: str) -> Agent | None:
        """One agent's stored row as it is now (a small read)."""
        ...

    def dismiss(self, key: str, evidence_hash: str) -> None:
        """Hide a suggestion until its evidence changes (in a worker)."""
        ...

    def stop_supervisor(self) -> None:
        """Write the shutdown command without waiting for it (in a worker)."""
        ...

    def screen_of(self, agent: str, pane_id: str | None) -> str | None:
        """An agent's pane as it looks now (in a worker)."""
        ...

    def attach(self, agent: str) -> None:
        """Hand the terminal to an agent's pane until it detaches."""
        ...

    def cycle_theme(self) -> str:
        """Switch to the next colour theme; its name."""
        ...

    def shown(self) -> None:
        """A snapshot is on screen."""
        ...
