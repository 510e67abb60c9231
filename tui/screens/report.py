"""The current run's report (`overseer report`'s text) over the dashboard."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ReportScreen(ModalScreen[None]):
    """A scrollable run report; Esc, q or o closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,o", "close", "Close")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="report"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Static(Text("\n".join(self.lines), no_wrap=True, overflow="ellipsis"))

    def action_close(self) -> None:
        self.dismiss(None)
