"""Small modal dialogs: ask for a line of text, edit a command, confirm, and the help screen."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from overseer.tui.actions import ACTIONS, key_label
from overseer.tui.widgets.format import NARROW


class AskText(ModalScreen[str | None]):
    """Ask for one line (a block reason, a line to type); Enter submits, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, placeholder: str = "", value: str = "", allow_empty: bool = False
    ) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.value = value
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Input(value=self.value, placeholder=self.placeholder, id="dialog-input")
            yield Label("Enter to confirm · Escape to cancel", id="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text or self.allow_empty:
            self.dismiss(event.value if self.allow_empty else text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditText(ModalScreen[str | None]):
    """Edit a text of one or more lines (a task's command): ctrl+s saves, Escape cancels,
    ctrl+o opens it in $VISUAL or $EDITOR when one is set."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "editor", "$EDITOR"),
    ]

    def __init__(self, title: str, text: str, scratch_dir: Path | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.scratch_dir = scratch_dir  # where $EDITOR's file goes (the state dir's run/)

    def compose(self) -> ComposeResult:
        # The same hint whatever the environment: snapshots must not depend on $EDITOR.
        hint = "ctrl+s save · Escape cancel · ctrl+o edit in $VISUAL or $EDITOR"
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield TextArea(self.text, id="dialog-text", soft_wrap=True, show_line_numbers=False)
            yield Label(hint, id="dialog-hint")

    def action_save(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if text:
            self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_editor(self) -> None:
        """Edit in the user's editor: the terminal is handed over and the text read back."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor or self.scratch_dir is None:
            self.notify("set $EDITOR to edit in your editor", severity="warning", timeout=3)
            return
        area = self.query_one(TextArea)
        self.scratch_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="edit-", suffix=".sh", dir=self.scratch_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(area.text + "\n")
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), name], check=False)
            area.text = Path(name).read_text(encoding="utf-8").rstrip("\n")
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self.notify(f"{editor}: {exc}", severity="error", timeout=6)
        finally:
            Path(name).unlink(missing_ok=True)


class Confirm(ModalScreen[bool]):
    """Yes or no before something that cannot be undone; No has the focus (Enter = No)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, id="dialog-title", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """Every key, what it does, and the command line that does the same."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Label("Overseer keys", id="dialog-title")
            yield Static(id="help-keys")
            yield Static(
                Text(
                    "Task keys act on the marked rows (space), else the selected task, or the "
                    "selected agent's task.\nAgent keys act on the selected agent, or the agent "
                    "running the selected task.\nFilter with /: words match id, agent, state or "
                    "text; state:failed and agent:worker-1 match exactly.\nEnter leaves the filter "
                    "with the first match selected. Remap a key by its id: `keymap: {retry: R}` "
                    "in overseer.yaml or ~/.config/overseer/config.yaml.",
                    style="italic",
                )
            )

    def on_mount(self) -> None:
        self.on_resize()

    def on_resize(self) -> None:
        # Under NARROW columns the shell column would squeeze the action to a word per line:
        # the command line goes under its action instead.
        narrow = self.app.size.width < NARROW
        if getattr(self, "narrow", None) != narrow:
            self.narrow = narrow
            self.query_one("#help-keys", Static).update(self.keys_table(narrow))

    def keys_table(self, narrow: bool) -> Table:
        """Every key with its action id (what `keymap:` takes), what it does and the command
        line that does the same; under NARROW columns the id and the command line go below it."""
        table = Table(box=None, padding=(0, 2), expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        if not narrow:
            table.add_column("id (keymap:)", no_wrap=True)
        table.add_column("action" if narrow else "action · from the shell", ratio=1)
        for a in ACTIONS:
            if a.id == "attach_enter" or (
                a.id.startswith("answer_") and a.id[-1].isdigit() and a.id != "answer_1"
            ):
                continue
            key = key_label(self.keys.get(a.id, a.key))
            if a.id == "attach":
                key += " / enter"
            shown_id = a.id
            if a.id == "answer_1":
                key, shown_id = "1 … 9", "answer_1 … answer_9"
            # Text, not str: a Rich table reads a str cell as markup (keys come from keymap:).
            if narrow:
                action = Text(a.help)
                action.append("\n" + shown_id, style="dim")
                if a.cli:
                    action.append(" · " + a.cli, style="italic dim")
                table.add_row(Text(key), action)
            else:
                action = Text(a.help)
                if a.cli:
                    action.append(" · " + a.cli, style="italic dim")
                table.add_row(Text(key), Text(shown_id), action)
        return table

    def action_close(self) -> None:
        self.dismiss(None)


class DiffScreen(ModalScreen[None]):
    """A scrollable view of an agent's worktree diff."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,d", "close", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        from rich.syntax import Syntax

        with VerticalScroll(id="diff"):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Static(
                Syntax(
                    self.text or "(no changes)",
                    "diff",
                    theme="ansi_dark",
                    word_wrap=False,
                    line_numbers=False,
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)
