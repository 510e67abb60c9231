"""Header, suggestions, detail/preview and the event log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import BindingType
from textual.widgets import DataTable, RichLog, Static

from overseer.agents.usage import usage_detail, usage_text
from overseer.state.models import Event
from overseer.tui.actions import bindings
from overseer.tui.snapshot import AgentRow, Snapshot, TaskRow
from overseer.tui.widgets.format import (
    AGENT_SYMBOLS,
    TASK_SYMBOLS,
    beat_age,
    clip,
    duration,
    sparkline,
    state_text,
)

_NOTHING = object()
_SHOWN: WeakKeyDictionary[Static, Any] = WeakKeyDictionary()  # widget -> the key it shows


def show_once(widget: Static, key: Any, build: Callable[[], Any], *, layout: bool = True) -> bool:
    """Give a Static the content `build()` makes, unless `key` says it already shows it.

    Static.update asks for a layout pass by default, which re-renders the whole screen;
    repeating it for content that did not change made every store change cost a full
    repaint. `build` runs only when the key changed. Pass layout=False where the widget's
    size is fixed by the stylesheet.
    """
    if _SHOWN.get(widget, _NOTHING) == key:
        return False
    _SHOWN[widget] = key
    widget.update(build(), layout=layout)
    return True


def clock_text(ts: float) -> str:
    """An event time as local HH:MM:SS."""
    return time.strftime("%H:%M:%S", time.localtime(ts))


class StatusHeader(Static):
    """Project, supervisor liveness and heartbeat, task counts, throughput and sparkline."""

    def show(self, snap: Snapshot, pal: dict[str, str]) -> None:
        # One line whatever the width (the header's height is fixed): what holds dispatch
        # comes first, and a narrow terminal loses the end of the line instead.
        top = Text(no_wrap=True, overflow="ellipsis")
        top.append(" ◆ Overseer ", style=f"bold {pal['accent']}")
        top.append(f" {snap.project} ", style="bold")
        scopes = [scope for scope, _ in snap.holds]
        if "breaker" in scopes:
            top.append("  ⛔ breaker open", style=f"bold {pal['err']}")
        if any(s != "breaker" for s in scopes):
            spent = ", ".join(s for s in scopes if s != "breaker")
            top.append(f"  ‖ budget spent: {spent}", style=f"bold {pal['warn']}")
        top.append("   supervisor ")
        if snap.supervisor_alive:
            beat = snap.heartbeat_age or 0.0
            style = pal["err"] if beat >= snap.alert else pal["warn"] if beat >= 5 else pal["ok"]
            top.append(f"● running pid {snap.supervisor_pid}", style=f"bold {pal['ok']}")
            top.append(" · loop heartbeat ")
            top.append(beat_age(beat), style=style)  # steady while fresh, like the agents
        elif snap.supervisor_died:
            top.append(f"✗ died (pid {snap.supervisor_pid})", style=f"bold {pal['err']}")
            top.append(" · operator keys refused until `overseer up` starts one", style=pal["dim"])
        else:
            top.append("○ not running", style=f"bold {pal['err']}")
            top.append(" (commands are applied directly)", style=pal["dim"])
        line2 = Text(" ")
        for state in ("running", "ready", "pending", "done", "failed", "blocked"):
            n = snap.counts.get(state, 0)
            style = pal.get(state, "") if n else pal["dim"]
            line2.append(f"{TASK_SYMBOLS[state]} {n} {state}", style=style)
            line2.append("   ")
        line2.append(f"{snap.throughput:.1f} tasks/min ", style="bold")
        line2.append(sparkline(snap.spark), style=pal["ok"])
        # Text compares by text and styled spans; the header's height is fixed (no layout).
        show_once(self, (top, line2), lambda: Group(top, line2), layout=False)


class SupervisorBanner(Static):
    """Shown only while the supervisor is dead: what it last wrote to its log."""

    def show(self, snap: Snapshot, pal: dict[str, str]) -> None:
        self.display = snap.supervisor_died
        if not snap.supervisor_died:
            return
        key = (snap.supervisor_pid, snap.supervisor_log, tuple(pal.items()))
        show_once(self, key, lambda: supervisor_death(snap, pal))


def supervisor_death(snap: Snapshot, pal: dict[str, str]) -> RenderableType:
    """Why nothing moves: the supervisor died, its last words, and what to do."""
    head = Text(f" The supervisor (pid {snap.supervisor_pid}) died", style=f"bold {pal['err']}")
    head.append(
        "; nothing is dispatched or watched, and keys are not applied. "
        "`overseer up` starts a new one (it picks up where this one stopped).",
        style="",
    )
    lines = [head]
    if snap.supervisor_log:
        lines.append(Text(" last lines of .overseer/supervisor.log:", style=pal["dim"]))
        lines.extend(Text("   " + line, style=pal["warn"]) for line in snap.supervisor_log)
    else:
        lines.append(Text(" (no log of it: it was not started by `overseer up`)", style=pal["dim"]))
    return Group(*lines)


class PromptBar(Static):
    """Above the footer in a narrow terminal: the prompt the selected agent waits at, in full."""

    def show(self, row: AgentRow | None, keys: dict[str, str], pal: dict[str, str]) -> None:
        prompt = row.prompt if row is not None else None
        self.display = bool(prompt)
        if row is not None and prompt:
            key = (row.name, prompt, tuple(keys.items()), tuple(pal.items()))
            show_once(self, key, lambda: prompt_text(row.name, prompt, keys, pal))


def prompt_text(agent: str, prompt: str, keys: dict[str, str], pal: dict[str, str]) -> Text:
    """`? worker-2 waits at: <prompt>   y yes · n no · i type · a attach`."""
    text = Text(f"? {agent} waits at: ", style=f"bold {pal['accent']}")
    text.append(prompt, style="bold")
    text.append(
        f"   {keys['answer_yes']} yes · {keys['answer_no']} no · {keys['send']} type · "
        f"{keys['attach']} attach",
        style=pal["dim"],
    )
    return text


class SuggestionTable(DataTable[Any]):
    """Next actions, ranked; Enter applies the selected one, d dismisses it."""

    BINDINGS: ClassVar[list[BindingType]] = [*bindings("suggestions"), *bindings("table")]

    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = [
        ("rank", "#", 2),
        ("action", "action", 13),
        ("target", "target", 16),
        ("reason", "why", None),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", **kw)
        self.items: list[dict[str, Any]] = []
        self.signature: list[str] = []

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    @staticmethod
    def key(item: dict[str, Any]) -> str:
        return str(item.get("key") or f"{item.get('action')}:{target_text(item)}")

    def show(self, items: list[dict[str, Any]], pal: dict[str, str]) -> None:
        signature = [f"{self.key(i)}|{i.get('reason')}" for i in items]
        if signature == self.signature:
            return
        selected = self.selected()
        self.items = list(items)
        self.signature = signature
        self.clear()
        for n, item in enumerate(items, 1):
            self.add_row(  # Text, not str: a DataTable reads a str cell as markup ("[y/N]")
                Text(str(n)),
                Text(str(item.get("action", "")), style=f"bold {pal['accent']}"),
                Text(target_text(item)),
                Text(clip(str(item.get("reason", "")), 120)),
                key=self.key(item),
            )
        if selected is not None:
            for n, item in enumerate(self.items):
                if self.key(item) == self.key(selected):
                    self.move_cursor(row=n)

    def action_dismiss_suggestion(self) -> None:
        """d on this panel: the screen dismisses the selected suggestion."""
        handler = getattr(self.screen, "action_dismiss_suggestion", None)
        if handler is not None:
            handler()

    def selected(self) -> dict[str, Any] | None:
        if not self.items or not self.row_count:
            return None
        row = self.cursor_row
        return self.items[row] if 0 <= row < len(self.items) else None


def target_text(item: dict[str, Any]) -> str:
    """'task build' or 'agent worker-2'."""
    target = item.get("target") or {}
    if isinstance(target, dict) and target:
        kind, name = next(iter(target.items()))
        return f"{kind} {name}"
    return str(target)


class DetailPanel(Static):
    """The selected agent's live screen, or the selected task's attempts, plus its events."""

    def show_empty(self) -> None:
        text = "Select an agent or a task to see its screen, attempts and events."
        show_once(self, text, lambda: Text(text, style="italic"))

    def show_agent(
        self,
        row: AgentRow,
        screen: str | None,
        events: list[Event],
        pal: dict[str, str],
        tree: Any = None,
        crash: str | None = None,
    ) -> None:
        key = (
            "agent",
            (row.name, row.state, row.task, row.pane_id, row.prompt, row.reason, row.usage),
            row.held,
            repr(tree),
            screen,
            tuple(e.id for e in events),
            tuple(pal.items()),
            crash,
        )
        show_once(self, key, lambda: agent_body(row, screen, events, pal, tree, crash))

    def show_task(
        self,
        row: TaskRow,
        attempts: list[Any],
        events: list[Event],
        pal: dict[str, str],
        crash: str | None = None,
    ) -> None:
        key = (
            "task",
            (row.id, row.state, row.tries, row.max_attempts, row.priority, row.command),
            (row.waits_for, row.blocked_reason),
            tuple(attempts),
            tuple(e.id for e in events),
            tuple(pal.items()),
            crash,
        )
        show_once(self, key, lambda: task_body(row, attempts, events, pal, crash))


def crash_block(crash: str | None, pal: dict[str, str]) -> list[RenderableType]:
    """The newest crash context kept (its path and the end of its screen), if any."""
    if crash is None:
        return []
    head, _, rest = crash.partition("\n")
    return [Text("─" * 40 + " crash", style=pal["dim"]), Text(head, style=pal["warn"]), Text(rest)]


def agent_body(
    row: AgentRow,
    screen: str | None,
    events: list[Event],
    pal: dict[str, str],
    tree: Any,
    crash: str | None = None,
) -> RenderableType:
    """The detail of one agent: state, prompt, worktree, live screen and events."""
    title = Text()
    title.append(f"{row.name} ", style="bold")
    title.append_text(state_text(row.state, pal, AGENT_SYMBOLS))
    if row.task:
        title.append(f"   task {row.task}")
    if row.pane_id:
        title.append(f"  pane {row.pane_id}", style=pal["dim"])
    parts: list[RenderableType] = [title]
    if row.usage is not None:
        parts.append(Text(usage_detail(row.usage), style=pal["dim"]))
    if row.prompt:
        parts.append(
            Text(
                f"waiting at: {row.prompt}   (y / n to answer, i to type, a to attach)",
                style=f"bold {pal['accent']}",
            )
        )
    if row.reason:
        parts.append(Text(row.reason, style=pal["warn"]))
    if row.held:
        parts.append(Text(row.held, style=f"bold {pal['err']}"))
    if row.state_source:
        parts.append(Text(f"state from: {row.state_source}", style=pal["dim"]))
    if row.version_note:
        parts.append(Text(row.version_note, style=pal["warn"]))
    if isinstance(tree, str):
        parts.append(Text(f"worktree: {tree}", style=pal["err"]))
    elif tree is not None:
        line = Text("worktree ", style=pal["dim"])
        line.append(tree.branch, style="bold")
        line.append(f" · ahead {tree.ahead} · behind {tree.behind} · {tree.dirty} dirty")
        if tree.conflicts:
            line.append(
                " · conflicts with " + tree.base + ": " + ", ".join(tree.conflict_files[:3]),
                style=f"bold {pal['err']}",
            )
        parts.append(line)
        if tree.diffstat:
            parts.append(Text(tree.diffstat, style=pal["dim"]))
        parts.append(Text("d: show the diff", style=pal["dim"]))
    if screen is None:
        parts.append(Text("(no live screen: the pane is not reachable)", style=pal["dim"]))
    else:
        lines = screen.rstrip("\n").split("\n")
        while lines and not Text.from_ansi(lines[-1]).plain.strip():
            lines.pop()
        parts.append(Text("─" * 40 + " screen", style=pal["dim"]))
        parts.append(Text.from_ansi("\n".join(lines[-30:])))
    parts += crash_block(crash, pal)
    parts.append(events_block(events, pal))
    return Group(*parts)


def task_body(
    row: TaskRow,
    attempts: list[Any],
    events: list[Event],
    pal: dict[str, str],
    crash: str | None = None,
) -> RenderableType:
    """The detail of one task: command, what it waits for, attempts, output and events."""
    title = Text()
    title.append(f"{row.id} ", style="bold")
    title.append_text(state_text(row.state, pal, TASK_SYMBOLS))
    title.append(f"   try {row.tries}/{row.max_attempts} · priority {row.priority}")
    parts: list[RenderableType] = [title, Text(clip(row.command, 200), style=pal["dim"])]
    if row.waits_for:
        parts.append(Text(f"waits for {row.waits_for}", style=pal["dim"]))
    if row.blocked_reason:
        parts.append(Text(f"blocked: {row.blocked_reason}", style=pal["warn"]))
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=True)
    # Tokens and cost only where an AI CLI told them.
    told = any(a.usage is not None for a in attempts)
    for col in (
        "#",
        "agent",
        "outcome",
        "exit",
        "time",
        *(("tokens cost",) if told else ()),
        "reason",
    ):
        table.add_column(col, no_wrap=col != "reason")
    for a in attempts:
        took = duration(a.finished_at - a.started_at) if a.finished_at else "…"
        outcome = a.outcome.value
        style = pal.get(
            "done"
            if outcome == "ok"
            else "failed"
            if outcome in ("failed", "timeout", "stalled", "lost")
            else "dim",
            "",
        )
        table.add_row(
            str(a.number),
            a.agent,
            Text(outcome, style=style),
            "-" if a.exit_code is None else str(a.exit_code),
            took,
            *((usage_text(a.usage) or "-",) if told else ()),
            a.reason or "",
        )
    if attempts:
        parts.append(Text("─" * 40 + " attempts", style=pal["dim"]))
        parts.append(table)
        tail = attempts[-1].output_tail
        if tail:
            parts.append(
                Text("─" * 40 + f" output of attempt {attempts[-1].number}", style=pal["dim"])
            )
            parts.append(Text("\n".join(tail.splitlines()[-15:])))
    parts += crash_block(crash, pal)
    parts.append(events_block(events, pal))
    return Group(*parts)


def events_block(events: list[Event], pal: dict[str, str]) -> RenderableType:
    """The last events of one task or agent."""
    if not events:
        return Text("")
    lines = [Text("─" * 40 + " events", style=pal["dim"])]
    for ev in events[-10:]:
        line = Text(f"{clock_text(ev.ts)} ", style=pal["dim"])
        line.append(ev.message)
        lines.append(line)
    return Group(*lines)


class EventLog(RichLog):
    """State changes as they happen, newest at the bottom."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(max_lines=2000, wrap=False, markup=False, auto_scroll=True, **kw)
        self.last_id = 0

    def add(self, events: list[Event], pal: dict[str, str]) -> list[Event]:
        """Append events not shown yet; return them."""
        fresh = [e for e in events if e.id > self.last_id]
        for ev in fresh:
            line = Text(f"{clock_text(ev.ts)} ", style=pal["dim"])
            kind_state = ev.kind.split(".")[-1]
            line.append(f"{ev.kind:<16} ", style=pal.get(kind_state, ""))
            line.append(ev.message)
            self.write(line)
        if fresh:
            self.last_id = fresh[-1].id
        return fresh
