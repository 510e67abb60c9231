"""The one registry of dashboard actions: bindings, footer, help screen and command palette."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class ActionSpec:
    """One operator action: its id (for `keymap:`), default key, and what it does."""

    id: str
    key: str
    action: str
    description: str
    help: str
    scope: str  # "task", "agent", "any"
    show: bool = True
    cli: str = ""  # the equivalent command line
    # "screen": bound on the main screen; "suggestions": on that panel; "table": on every table
    where: str = "screen"


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "retry",
        "r",
        "retry",
        "Retry",
        "Make the task ready again now (marked rows: all)",
        "task",
        cli="overseer retry TASK",
    ),
    ActionSpec(
        "block",
        "b",
        "block",
        "Block",
        "Park the task with a reason (stops it if running)",
        "task",
        cli="overseer block TASK --reason TEXT",
    ),
    ActionSpec(
        "unblock",
        "u",
        "unblock",
        "Unblock",
        "Return a blocked task to the queue",
        "task",
        cli="overseer unblock TASK",
    ),
    ActionSpec(
        "release",
        "x",
        "release",
        "Release",
        "Free the task's claim; the attempt is stopped (asks first)",
        "task",
        cli="overseer release TASK",
    ),
    ActionSpec(
        "edit",
        "e",
        "edit",
        "Edit",
        "Edit the task's command; the next attempt runs it",
        "task",
        cli="overseer edit TASK -- COMMAND",
    ),
    ActionSpec(
        "replay",
        "v",
        "replay",
        "Replay",
        "Replay the task's last attempt as it happened (play, pause, seek, speed)",
        "task",
        show=False,
        cli="overseer record TASK -o FILE",
    ),
    ActionSpec(
        "report",
        "o",
        "report",
        "Report",
        "The current run's report (overview): tasks, durations, throughput, agents, waiting, tokens",
        "any",
        show=False,
        cli="overseer report",
    ),
    ActionSpec(
        "attach",
        "a",
        "attach",
        "Attach",
        "Open the agent's pane (detach with Ctrl-b d)",
        "agent",
        cli="tmux -L <label> attach -t overseer:AGENT",
    ),
    ActionSpec(
        "attach_enter",
        "enter",
        "attach",
        "Attach",
        "Same as a (on the agents and queue panels)",
        "agent",
        show=False,
    ),
    ActionSpec(
        "send",
        "i",
        "send_line",
        "Type",
        "Type a line into the agent (Enter included)",
        "agent",
        cli="overseer send AGENT TEXT",
    ),
    ActionSpec(
        "answer_yes",
        "y",
        "answer('y')",
        "Yes",
        "Answer a prompt with yes (a menu: its yes choice)",
        "agent",
        cli="overseer answer AGENT y",
    ),
    ActionSpec(
        "answer_no",
        "n",
        "answer('n')",
        "No",
        "Answer a prompt with no (a menu: its no choice)",
        "agent",
        show=False,
        cli="overseer answer AGENT n",
    ),
    *(
        ActionSpec(
            f"answer_{n}",
            str(n),
            f"answer('{n}')",
            f"Choice {n}",
            "Pick that choice in the menu the agent shows",
            "agent",
            show=False,
            cli="overseer answer AGENT N",
        )
        for n in range(1, 10)
    ),
    ActionSpec(
        "interrupt",
        "ctrl+c",
        "interrupt",
        "Interrupt",
        "Send Ctrl-C to the agent (asks first)",
        "agent",
        cli="overseer interrupt AGENT",
    ),
    ActionSpec(
        "respawn",
        "K",
        "respawn",
        "Respawn",
        "Restart the agent's pane",
        "agent",
        show=False,
        cli="overseer respawn AGENT",
    ),
    ActionSpec(
        "pause",
        "p",
        "pause",
        "Pause",
        "Pause or resume handing the agent tasks",
        "agent",
        cli="overseer pause|resume AGENT",
    ),
    ActionSpec(
        "scale_up",
        "plus",
        "scale('+1')",
        "Scale +",
        "One more agent in the selected agent's group (started after the stagger)",
        "agent",
        show=False,
        cli="overseer scale GROUP +1",
    ),
    ActionSpec(
        "scale_down",
        "minus",
        "scale('-1')",
        "Scale -",
        "One agent fewer in its group: an idle one; a busy one goes when its task ends",
        "agent",
        show=False,
        cli="overseer scale GROUP -1",
    ),
    ActionSpec(
        "apply",
        "A",
        "apply_suggestion",
        "Apply",
        "Apply the selected suggestion",
        "any",
        show=False,
        cli="overseer apply N",
    ),
    ActionSpec(
        "dismiss",
        "d",
        "dismiss_suggestion",
        "Dismiss",
        "On the suggestions panel: dismiss until its evidence changes",
        "any",
        show=False,
        where="suggestions",
    ),
    ActionSpec(
        "diff",
        "d",
        "diff",
        "Diff",
        "The agent's worktree diff, in a scrollable view",
        "agent",
        show=False,
        cli="git -C .overseer/worktrees/AGENT diff",
    ),
    ActionSpec(
        "filter", "slash", "filter", "Filter", "Filter rows by id, agent, state or text", "any"
    ),
    ActionSpec(
        "mark",
        "space",
        "mark",
        "Mark",
        "Mark the row; actions apply to every marked row",
        "any",
        show=False,
    ),
    ActionSpec(
        "sort", "s", "sort", "Sort", "Cycle the sort order of the focused table", "any", show=False
    ),
    ActionSpec(
        "next_panel", "tab", "next_panel", "Panel", "Focus the next panel", "any", show=False
    ),
    ActionSpec("theme", "t", "cycle_theme", "Theme", "Cycle colour themes", "any", show=False),
    ActionSpec(
        "copy_id",
        "c",
        "copy_id",
        "Copy id",
        "Copy the selected task id or agent name (OSC 52: works over SSH)",
        "any",
        show=False,
    ),
    ActionSpec(
        "copy_line",
        "C",
        "copy_line",
        "Copy line",
        "Copy the agent's prompt or last output line, or the task's command",
        "any",
        show=False,
    ),
    ActionSpec("help", "question_mark", "help", "Help", "Show every key", "any"),
    ActionSpec("quit", "q", "quit", "Quit", "Quit the dashboard (agents keep running)", "any"),
    ActionSpec(
        "quit_stop",
        "Q",
        "quit_and_stop",
        "Quit+stop",
        "Quit and stop the supervisor (asks first)",
        "any",
        show=False,
        cli="overseer down",
    ),
    ActionSpec(
        "cursor_down", "j", "cursor_down", "Down", "Move down", "any", show=False, where="table"
    ),
    ActionSpec("cursor_up", "k", "cursor_up", "Up", "Move up", "any", show=False, where="table"),
    ActionSpec(
        "cursor_first", "g", "scroll_top", "Top", "Go to the first row", "any", False, where="table"
    ),
    ActionSpec(
        "cursor_last",
        "G",
        "scroll_bottom",
        "Bottom",
        "Go to the last row",
        "any",
        False,
        where="table",
    ),
)

BY_ID = {a.id: a for a in ACTIONS}


def bindings(where: str = "screen") -> list[BindingType]:
    """Textual bindings for the actions bound at `where`, each with its id (for `keymap:`)."""
    return [
        Binding(a.key, a.action, a.description, show=a.show, id=a.id, priority=a.id == "interrupt")
        for a in ACTIONS
        if a.where == where
    ]


def key_label(key: str) -> str:
    """A key as a person reads it."""
    names = {
        "slash": "/",
        "question_mark": "?",
        "space": "space",
        "enter": "enter",
        "tab": "tab",
        "plus": "+",
        "minus": "-",
    }
    return names.get(key, key)
