"""Messages between workers, widgets and screens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from overseer.tui.snapshot import Snapshot


@dataclass
class SnapshotReady(Message):
    """A fresh snapshot was read from the store (bursts collapse: only the newest matters)."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


@dataclass
class PaneScreen(Message):
    """The captured screen of the pane on view."""

    agent: str
    text: str | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PaneScreen) and message.agent == self.agent


@dataclass
class CommandDone(Message):
    """An operator command finished (applied or rejected) or timed out waiting."""

    verb: str
    target: str
    ok: bool
    result: str


@dataclass
class DetailReady(Message):
    """Attempt history and events of the selected task or agent."""

    key: str
    attempts: list[object]
    events: list[object]
    crash: str | None = None  # the newest crash context kept of it, described (agents/crashes.py)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DetailReady)
