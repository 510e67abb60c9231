"""The dashboard's one main screen: widgets report, this screen decides."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import DescendantFocus
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from overseer.agents.answers import Refused, about, suggestion_command
from overseer.agents.stream import LogWatcher
from overseer.state.backend import store_location
from overseer.state.paths import StatePaths
from overseer.state.pgstore import ChangeListener
from overseer.state.statedir import StoreError
from overseer.state.store import DB_NAME
from overseer.tui.actions import ACTIONS, BY_ID, bindings, key_label
from overseer.tui.messages import CommandDone, DetailReady, PaneScreen, SnapshotReady
from overseer.tui.screens.dialogs import AskText, Confirm, DiffScreen, EditText, HelpScreen
from overseer.tui.services import Services
from overseer.tui.snapshot import AgentRow, Snapshot, SnapshotReader, TaskRow
from overseer.tui.widgets.format import NARROW, duration, palette
from overseer.tui.widgets.panels import (
    DetailPanel,
    EventLog,
    PromptBar,
    StatusHeader,
    SuggestionTable,
    SupervisorBanner,
    show_once,
)
from overseer.tui.widgets.tables import AgentTable, QueueTable

# Events that want a person's attention: a notification and the terminal bell.
ALERT_KINDS = frozenset(
    {"task.blocked", "agent.waiting", "agent.stalled", "agent.dead", "agent.paused"}
)
REFRESH_IDLE = 1.0  # re-read at least this often (ages and countdowns move)
POLL = 0.02  # with no watch on the store's files: how often PRAGMA data_version is checked
GATHER = 0.02  # after a write wakes the reader: the rest of its burst lands, one read for all


class MainScreen(Screen[None]):
    """Header, agents, queue, suggestions, detail, events, footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", show=False),
        *bindings(),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.snap: Snapshot | None = None
        self.seen_events = 0
        self.first = True
        self.detail_key: str | None = None
        self.screens: dict[str, str | None] = {}
        self.stop = threading.Event()
        self.wake = threading.Event()  # the store's files changed, or the screen goes away
        self.applied = threading.Event()  # the last snapshot read is on screen
        self.applied.set()
        self.detail_reader: SnapshotReader | None = None
        self.detail_lock = threading.Lock()
        self.focus_order = ["agents", "queue", "suggestions", "detail-box", "events"]
        self.last_table = "queue"

    # -- layout ---------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield SupervisorBanner(id="supervisor-banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Label(" Agents", classes="panel-title", id="agents-title", markup=False)
                yield AgentTable(id="agents")
                yield Label(" Queue", classes="panel-title", id="queue-title", markup=False)
                yield Input(
                    placeholder="filter: words, state:failed, agent:worker-1 (Enter: select, Esc: clear)",
                    id="filter",
                )
                yield QueueTable(id="queue")
            with Vertical(id="right"):
                yield Label(" Suggestions  (enter: apply · d: dismiss)", classes="panel-title")
                yield SuggestionTable(id="suggestions")
                yield Label(" Detail", classes="panel-title", id="detail-title", markup=False)
                with VerticalScroll(id="detail-box"):
                    yield DetailPanel(id="detail")
                yield Label(" Events", classes="panel-title")
                yield EventLog(id="events")
        yield PromptBar(id="prompt-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda theme: self.restyle())
        self.query_one("#filter", Input).display = False
        self.query_one(DetailPanel).show_empty()
        self.query_one(QueueTable).focus()
        self.watch_store()

    def on_unmount(self) -> None:
        self.stop.set()
        self.wake.set()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        if narrow != self.has_class("narrow"):
            self.set_class(narrow, "narrow")
            self.refresh_bindings()  # the footer leads with the panel key when narrow
            self.update_prompt_bar()
        self.set_class(self.size.height < 30, "short")

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # Narrow: the column holding the focused panel is the one on screen.
        right = self.query_one("#right")
        self.set_class(right in event.widget.ancestors_with_self, "side")

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The footer's keys; in a narrow terminal, first the key that reaches hidden panels."""
        found = super().active_bindings
        if not self.has_class("narrow"):
            return found
        lead = {
            key: active._replace(binding=replace(active.binding, show=True, description="Panels"))
            for key, active in found.items()
            if active.binding.id == "next_panel"
        }
        return {**lead, **{k: v for k, v in found.items() if k not in lead}}

    @property
    def pal(self) -> dict[str, str]:
        return palette(self.app.current_theme)

    # -- reading the store (worker thread) --------------------------------------------

    @work(thread=True, exclusive=True, group="store")
    def watch_store(self) -> None:
        """Read a snapshot when the store changed (or every second), post it; never touch widgets.

        A write to the database or its WAL wakes this thread (inotify on Linux, through
        LogWatcher; on PostgreSQL a NOTIFY at each write's commit, through ChangeListener),
        so an unchanged store costs no polling; without a watch, data_version is checked
        every POLL. A changed data_version decides; on PostgreSQL a notification does too: it
        comes after its commit is visible, while the WAL position may include a commit a
        snapshot taken a moment later does not show yet.
        """
        reader = self.services.make_reader()
        watcher = self.watch_files() if self.services.live else None
        try:
            last_version = -1
            last_read = 0.0
            told = False
            while True:
                version = reader.data_version()
                now = time.monotonic()
                if told or version != last_version or now - last_read >= REFRESH_IDLE:
                    # Read once the last snapshot is on screen: commits coming faster than
                    # the screen applies them (ten hosts' sweeps) queued stale snapshots
                    # ahead of the newest, and their reads took the loop's CPU (issue 14).
                    while not self.applied.wait(0.25):
                        if self.stop.is_set():
                            return
                    snap = reader.read()
                    last_version, last_read = snap.data_version, now
                    self.applied.clear()
                    self.post_message(SnapshotReady(snap))
                if not self.services.live:
                    return
                if watcher is None:
                    if self.stop.wait(POLL):
                        return
                    continue
                self.wake.wait(max(0.0, last_read + REFRESH_IDLE - time.monotonic()))
                if self.stop.is_set() or self.stop.wait(GATHER if self.wake.is_set() else 0):
                    return
                told = isinstance(watcher, ChangeListener) and self.wake.is_set()
                self.wake.clear()
        finally:
            if watcher is not None:
                watcher.stop()
            reader.close()

    def watch_files(self) -> LogWatcher | ChangeListener | None:
        """Set `wake` whenever the database or its WAL is written (a PostgreSQL store: when
        the server notifies a commit, LISTEN/NOTIFY); None if it cannot watch."""
        where = store_location(self.services.state_dir)
        if isinstance(where, str):
            try:
                listener = ChangeListener(where, self.wake.set)
            except StoreError:
                return None  # the reader's own queries say what is wrong
            listener.start()
            return listener
        names = {DB_NAME, f"{DB_NAME}-wal"}

        def changed(paths: set[Path]) -> None:
            if any(p.name in names for p in paths):
                self.wake.set()

        watcher = LogWatcher(self.services.state_dir, changed, step_ms=int(GATHER * 1000))
        try:
            watcher.start()
        except OSError:
            return None
        return watcher

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        try:
            self.show_snapshot(message.snapshot)
        finally:
            self.applied.set()  # the reader may read the next one

    def show_snapshot(self, snap: Snapshot) -> None:
        """Bring every panel in line with one snapshot."""
        self.snap = snap
        pal = self.pal
        with self.app.batch_update():
            self.query_one(StatusHeader).show(snap, pal)
            self.query_one(SupervisorBanner).show(snap, pal)
            self.query_one(AgentTable).show(snap.agents, snap, pal)
            self.query_one(QueueTable).show(snap.tasks, snap, pal)
            self.query_one(SuggestionTable).show(snap.suggestions, pal)
            fresh = self.query_one(EventLog).add(snap.events, pal)
        self.update_titles()
        if not self.first:
            self.alert(fresh)
        self.first = False
        self.services.shown()
        self.refresh_detail()

    def alert(self, events: list[Any]) -> None:
        """Notify (and ring the bell) for events that need a human."""
        wanted = [e for e in events if e.kind in ALERT_KINDS]
        for ev in wanted[:3]:
            severity: SeverityLevel = (
                "error" if ev.kind in ("agent.dead", "task.blocked") else "warning"
            )
            self.notify(ev.message, title=ev.kind, severity=severity, timeout=6)
        if wanted:
            self.app.bell()

    def update_titles(self) -> None:
        agents = self.query_one(AgentTable)
        queue = self.query_one(QueueTable)
        total = len(self.snap.tasks) if self.snap else 0
        shown = queue.row_count
        filt = f"  filter: {queue.query_text}" if queue.query_text else ""
        marks = f"  {len(queue.marked)} marked" if queue.marked else ""
        title = f" Queue  {shown}/{total} · sort: {queue.sort_name}{filt}{marks}"
        show_once(self.query_one("#queue-title", Label), title, lambda: title, layout=False)
        amarks = f"  {len(agents.marked)} marked" if agents.marked else ""
        # Several hosts share the store: each one, and whether its supervisor beats.
        hosts = (
            " ".join(f"{n}{'●' if ok else '✗'}" for n, ok in self.snap.hosts) if self.snap else ""
        )
        where = f" · hosts {hosts}" if hosts else ""
        atitle = f" Agents  {agents.row_count}{where} · sort: {agents.sort_name}{amarks}"
        show_once(self.query_one("#agents-title", Label), atitle, lambda: atitle, layout=False)

    # -- detail / preview -------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def on_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id in ("agents", "queue"):
            self.last_table = str(event.data_table.id)
        self.refresh_detail()

    def current(self) -> tuple[str, AgentRow | TaskRow | None]:
        """What the detail panel should show: the selection of the focused table."""
        focused = self.focused
        name = (
            focused.id
            if focused is not None and focused.id in ("agents", "queue")
            else self.last_table
        )
        if name == "agents":
            return "agent", self.query_one(AgentTable).selected_row()
        return "task", self.query_one(QueueTable).selected_row()

    def refresh_detail(self) -> None:
        self.update_prompt_bar()
        kind, row = self.current()
        if row is None:
            return
        key = f"{kind}:{row.name if isinstance(row, AgentRow) else row.id}"
        self.load_detail(key, row)
        if isinstance(row, AgentRow):
            self.capture_pane(row.name, row.pane_id)

    def update_prompt_bar(self) -> None:
        """Narrow terminals: the prompt the selected agent (or the selected task's) waits at."""
        row: AgentRow | TaskRow | None = None
        if self.has_class("narrow"):
            _, row = self.current()
            if isinstance(row, TaskRow):
                row = self.query_one(AgentTable).rows_by_key.get(row.claimed_by or "")
        keys = {
            a: key_label(self.services.keymap.get(a, BY_ID[a].key))
            for a in ("answer_yes", "answer_no", "send", "attach")
        }
        self.query_one(PromptBar).show(row if isinstance(row, AgentRow) else None, keys, self.pal)

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, key: str, row: AgentRow | TaskRow) -> None:
        # One reader for the detail workers; a cancelled thread worker may still be running,
        # so the lock keeps two of them off the connection at once.
        with self.detail_lock:
            if self.detail_reader is None:
                self.detail_reader = self.services.make_reader()
            reader = self.detail_reader
            if isinstance(row, AgentRow):
                events = reader.events_for(agent=row.name)
                attempts: list[Any] = []
                tree = self.services.state_dir / "worktrees" / row.name
                if tree.exists():
                    from overseer.agents import worktree

                    try:
                        attempts = [worktree.status(tree)]
                    except worktree.WorktreeError as exc:
                        attempts = [str(exc)]
            else:
                events = reader.events_for(task_id=row.id)
                attempts = reader.attempts(row.id)
        self.post_message(DetailReady(key, attempts, list(events), self.crash_of(row)))

    def crash_of(self, row: AgentRow | TaskRow) -> str | None:
        """The newest crash context kept of an agent or a task, as a few lines (a worker's)."""
        from overseer.agents.crashes import describe, newest

        paths = StatePaths(self.services.state_dir)
        if isinstance(row, AgentRow):
            crash = newest(paths, agent=row.name)
        else:
            crash = newest(paths, task=row.id)
        return describe(crash, paths.root.parent) if crash is not None else None

    @work(thread=True, exclusive=True, group="pane")
    def capture_pane(self, agent: str, pane_id: str | None) -> None:
        """capture-pane for the one pane on screen (never a loop over panes)."""
        self.post_message(PaneScreen(agent, self.services.screen_of(agent, pane_id)))

    def on_pane_screen(self, message: PaneScreen) -> None:
        self.screens[message.agent] = message.text
        self.redraw_detail()

    def on_detail_ready(self, message: DetailReady) -> None:
        self.detail_cache = message
        self.redraw_detail()

    def redraw_detail(self) -> None:
        message = getattr(self, "detail_cache", None)
        kind, row = self.current()
        if row is None or message is None:
            return
        key = f"{kind}:{row.name if isinstance(row, AgentRow) else row.id}"
        if message.key != key:
            return
        panel = self.query_one(DetailPanel)
        if isinstance(row, AgentRow):
            tree = message.attempts[0] if message.attempts else None
            panel.show_agent(
                row, self.screens.get(row.name), message.events, self.pal, tree, message.crash
            )
        else:
            panel.show_task(row, message.attempts, message.events, self.pal, message.crash)
        title = f" Detail · {kind} {key.split(':', 1)[1]}"
        if isinstance(row, AgentRow) and row.heartbeat_age is not None:
            title += f" · heartbeat {duration(row.heartbeat_age)} ago"  # the table says `<10s`
        show_once(self.query_one("#detail-title", Label), title, lambda: title, layout=False)

    # -- targets ----------------------------------------------------------------------

    def task_targets(self) -> list[str]:
        """Tasks an action applies to: marked rows, the selected task, or the agent's task."""
        focused = self.focused
        if isinstance(focused, SuggestionTable):
            item = focused.selected()
            target = (item or {}).get("target") or {}
            return [target["task"]] if "task" in target else []
        if isinstance(focused, AgentTable):
            names = focused.targets()
            return [r.task for n in names if (r := focused.rows_by_key.get(n)) and r.task]
        return self.query_one(QueueTable).targets()

    def agent_targets(self) -> list[str]:
        """Agents an action applies to: marked, selected, or the agent running the selected task."""
        focused = self.focused
        if isinstance(focused, SuggestionTable):
            item = focused.selected()
            target = (item or {}).get("target") or {}
            if "agent" in target:
                return [target["agent"]]
            task = target.get("task")
            row = self.query_one(QueueTable).rows_by_key.get(task) if task else None
            return [row.claimed_by] if row and row.claimed_by else []
        if isinstance(focused, QueueTable):
            ids = focused.targets()
            return [r.claimed_by for i in ids if (r := focused.rows_by_key.get(i)) and r.claimed_by]
        return self.query_one(AgentTable).targets()

    def chosen(self, what: str) -> list[str]:
        """The tasks or agents (`what`) an action applies to; none, and a notice, if none is."""
        targets = self.task_targets() if what == "task" else self.agent_targets()
        if not targets:
            self.notify(
                f"select {'an' if what[0] in 'aeiou' else 'a'} {what} first",
                severity="warning",
                timeout=3,
            )
        return targets

    # -- commands -----------------------------------------------------------------------

    def command(self, verb: str, targets: list[str], args: dict[str, Any] | None = None) -> None:
        """Write operator commands (in a worker) and clear the marks they used."""
        if self.snap is not None and self.snap.supervisor_died:
            # Applying it here would look like success while nothing dispatches or watches.
            self.notify(
                f"{verb} not applied: the supervisor died; `overseer up` starts a new one",
                severity="error",
                timeout=6,
            )
            return
        self.send_commands(verb, list(targets), dict(args or {}))
        self.query_one(QueueTable).clear_marks()
        self.query_one(AgentTable).clear_marks()
        self.update_titles()

    def confirmed(self, question: str, verb: str, targets: list[str]) -> None:
        """Ask first (the dialog's default is No); on yes, write the commands."""

        def done(yes: bool | None) -> None:
            if yes:
                self.command(verb, targets)

        self.app.push_screen(Confirm(question), done)

    @work(thread=True, group="commands")
    def send_commands(self, verb: str, targets: list[str], args: dict[str, Any]) -> None:
        for target in targets:
            outcome = self.services.send_command(verb, target, args)
            self.post_message(CommandDone(verb, target, outcome.ok, outcome.result))

    def on_command_done(self, message: CommandDone) -> None:
        self.notify(
            message.result or f"{message.verb} {message.target}",
            severity="information" if message.ok else "error",
            timeout=4,
        )

    def action_retry(self) -> None:
        if targets := self.chosen("task"):
            self.command("retry", targets)

    def action_unblock(self) -> None:
        if targets := self.chosen("task"):
            self.command("unblock", targets)

    def action_release(self) -> None:
        if targets := self.chosen("task"):
            label = targets[0] if len(targets) == 1 else f"{len(targets)} tasks"
            question = f"Release {label}? A running attempt is stopped (it uses no try)."
            self.confirmed(question, "release", targets)

    def action_edit(self) -> None:
        """The selected task's command in a dialog; saving writes an `edit` command."""
        targets = self.chosen("task")
        if not targets:
            return
        task = targets[0]
        row = self.query_one(QueueTable).rows_by_key.get(task)
        if row is None:
            self.notify(f"{task} is not in the queue", severity="warning", timeout=3)
            return

        def done(text: str | None) -> None:
            if text and text != row.command:
                self.command("edit", [task], {"tasks": {task: {"command": text}}})

        self.app.push_screen(
            EditText(
                f"Command of {task} (the next attempt runs it)",
                row.command,
                scratch_dir=self.services.state_dir / "run",
            ),
            done,
        )

    def action_copy_id(self) -> None:
        """Copy the selected row's id (OSC 52: the terminal's clipboard, over SSH too)."""
        _, row = self.current()
        if isinstance(self.focused, SuggestionTable):
            item = self.focused.selected()
            text = (item or {}).get("key")
        elif row is not None:
            text = row.name if isinstance(row, AgentRow) else row.id
        else:
            text = None
        self.copy(str(text) if text else None)

    def action_copy_line(self) -> None:
        """Copy the agent's prompt or last output line, or the task's command."""
        _, row = self.current()
        if isinstance(row, AgentRow):
            text: str | None = row.prompt or row.last_line
        else:
            text = row.command if row is not None else None
        self.copy(text or None)

    def copy(self, text: str | None) -> None:
        if text is None:
            self.notify("nothing to copy", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(text)
        shown = text if len(text) <= 40 else text[:39] + "…"
        self.notify(f"copied: {shown}", timeout=2)

    def action_block(self) -> None:
        targets = self.chosen("task")
        if not targets:
            return
        label = targets[0] if len(targets) == 1 else f"{len(targets)} tasks"

        def done(reason: str | None) -> None:
            if reason:
                self.command("block", targets, {"reason": reason})

        self.app.push_screen(
            AskText(f"Block {label}: why?", "reason, e.g. waiting for credentials"), done
        )

    def action_send_line(self) -> None:
        targets = self.chosen("agent")
        if not targets:
            return

        def done(text: str | None) -> None:
            if text is not None:
                self.command("send", targets, {"text": text, "enter": True})

        self.app.push_screen(
            AskText(
                f"Type into {', '.join(targets)}", "a line (Enter is sent too)", allow_empty=True
            ),
            done,
        )

    def action_answer(self, answer: str) -> None:
        """y, n or a choice number: the supervisor delivers it the way the agent's prompt wants."""
        if targets := self.chosen("agent"):
            self.command("answer", targets, {"answer": answer})

    def action_diff(self) -> None:
        if targets := self.chosen("agent"):
            self.load_diff(targets[0])

    @work(thread=True, exclusive=True, group="diff")
    def load_diff(self, agent: str) -> None:
        """git diff of the agent's worktree, read in a worker."""
        from overseer.agents import worktree

        path = self.services.state_dir / "worktrees" / agent
        if not path.exists():
            self.app.call_from_thread(
                self.notify,
                f"{agent} has no worktree (set worktree: true on the agent)",
                severity="warning",
                timeout=4,
            )
            return
        try:
            text = worktree.diff(path)
        except worktree.WorktreeError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=6)
            return
        self.app.call_from_thread(
            self.app.push_screen, DiffScreen(f"{agent} · {worktree.branch_name(agent)}", text)
        )

    def action_replay(self) -> None:
        if targets := self.chosen("task"):
            self.load_replay(targets[0])

    @work(thread=True, exclusive=True, group="replay")
    def load_replay(self, task_id: str) -> None:
        """The task's last attempt with its output's times, read in a worker."""
        from overseer.agents.record import RecordError, find_attempt, recording
        from overseer.tui.screens.replay import ReplayScreen

        reader = self.services.make_reader()
        try:
            store = reader.store
            rec = recording(self.services.state_dir, store, find_attempt(store, task_id))
        except RecordError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=6)
            return
        finally:
            reader.close()
        self.app.call_from_thread(self.app.push_screen, ReplayScreen(rec))

    def action_report(self) -> None:
        self.load_report()

    @work(thread=True, exclusive=True, group="report")
    def load_report(self) -> None:
        """The latest run's report (the current one while a supervisor runs), read in a worker."""
        from overseer.state import report
        from overseer.state.runs import RunNotFound, get_run
        from overseer.tui.report_text import text_report
        from overseer.tui.screens.report import ReportScreen

        reader = self.services.make_reader()
        try:
            run = get_run(reader.store, None, now=reader.clock())
            lines = text_report(report.report(reader.store, report.run_scope(run)))
        except RunNotFound as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=6)
            return
        finally:
            reader.close()
        title = f"run {run.id} · overseer report {run.id}"
        self.app.call_from_thread(self.app.push_screen, ReportScreen(title, lines))

    def action_interrupt(self) -> None:
        if targets := self.chosen("agent"):
            self.confirmed(f"Send Ctrl-C to {', '.join(targets)}?", "interrupt", targets)

    def action_respawn(self) -> None:
        if targets := self.chosen("agent"):
            question = f"Respawn {', '.join(targets)}? Its running task is lost."
            self.confirmed(question, "respawn", targets)

    def action_pause(self) -> None:
        rows = self.query_one(AgentTable).rows_by_key
        for name in self.chosen("agent"):
            row = rows.get(name)
            verb = "resume" if row is not None and row.state == "paused" else "pause"
            self.command(verb, [name])

    def action_scale(self, size: str) -> None:
        """Grow or shrink the selected agent's group by one (the agent names its group)."""
        if targets := self.chosen("agent"):
            self.command("scale", targets[:1], {"size": size, "force": False})

    def action_attach(self) -> None:
        if isinstance(self.focused, SuggestionTable):
            self.action_apply_suggestion()
            return
        if isinstance(self.focused, Input):
            return
        if targets := self.chosen("agent"):
            self.services.attach(targets[0])

    # -- suggestions --------------------------------------------------------------------

    def action_apply_suggestion(self) -> None:
        table = self.query_one(SuggestionTable)
        item = table.selected()
        if item is None:
            self.notify("no suggestion selected", severity="warning", timeout=3)
            return
        self.apply_suggestion(item)

    def apply_suggestion(self, item: dict[str, Any]) -> None:
        """Apply a suggestion through the same operator command as the key for it."""
        action = str(item.get("action", ""))
        target = item.get("target") or {}
        if action == "attach" and "agent" in target:
            self.services.attach(str(target["agent"]))
            return
        agent = about(item)
        try:
            command = suggestion_command(
                item, self.services.agent_row(agent) if action == "answer" and agent else None
            )
        except Refused as exc:
            self.notify(str(exc), title="not applied", severity="error", timeout=8)
            return
        if command is None:
            howto = item.get("howto") or item.get("reason", "")
            self.notify(f"{action}: {howto}", title="needs a person", timeout=8)
            return
        verb, name, args = command

        def go(yes: bool | None = True) -> None:
            if yes:
                self.command(verb, [name], args)

        if item.get("destructive"):
            self.app.push_screen(Confirm(f"{action} {name}? {item.get('reason', '')}"), go)
        else:
            go()

    def action_dismiss_suggestion(self) -> None:
        item = self.query_one(SuggestionTable).selected()
        if item is not None:
            self.dismiss_suggestion(str(item.get("key")), str(item.get("evidence_hash", "")))

    @work(thread=True, group="commands")
    def dismiss_suggestion(self, key: str, evidence_hash: str) -> None:
        """Hide a suggestion until its evidence changes (a small write, done in a worker)."""
        self.services.dismiss(key, evidence_hash)
        self.app.call_from_thread(
            self.notify, "suggestion dismissed until its evidence changes", timeout=3
        )

    # -- filter, marks, sort, focus ---------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        for table in (self.query_one(QueueTable), self.query_one(AgentTable)):
            table.query_text = event.value
            self.relayout(table)
        self.update_titles()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        queue = self.query_one(QueueTable)
        agents = self.query_one(AgentTable)
        target: AgentTable | QueueTable = (
            queue if queue.row_count or not agents.row_count else agents
        )
        box.display = bool(event.value)
        target.focus()
        target.select_first()
        self.refresh_detail()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value or box.display:
            box.value = ""
            box.display = False
            self.query_one(QueueTable).focus()

    def action_mark(self) -> None:
        focused = self.focused
        if isinstance(focused, AgentTable | QueueTable):
            focused.toggle_mark()
            self.update_titles()

    def action_sort(self) -> None:
        focused = self.focused
        table: AgentTable | QueueTable = (
            focused if isinstance(focused, AgentTable | QueueTable) else self.query_one(QueueTable)
        )
        table.sort_index = (table.sort_index + 1) % len(table.SORTS)
        self.resort(table)

    def resort(self, table: AgentTable | QueueTable) -> None:
        """Lay a table out again in its (new) sort order."""
        self.relayout(table)
        self.update_titles()
        self.notify(f"sorted by {table.sort_name}", timeout=2)

    @on(DataTable.HeaderSelected)
    def on_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column header sorts by that column."""
        table = event.data_table
        if not isinstance(table, AgentTable | QueueTable):
            return
        if table.sort_by_column(str(event.column_key.value)):
            self.resort(table)

    def action_next_panel(self) -> None:
        """Focus the next panel; in a narrow terminal its column comes on screen with it."""
        order = [w for w in self.focus_order if self.query_one(f"#{w}").display]
        current = self.focused.id if self.focused is not None else None
        nxt = order[(order.index(current) + 1) % len(order)] if current in order else order[0]
        # Now, not after this message (Widget.focus): a second tab typed at once moves on from it.
        self.set_focus(self.query_one(f"#{nxt}"))

    def relayout(self, table: AgentTable | QueueTable) -> None:
        """Show the last snapshot's rows again after the table's filter or sort changed."""
        if self.snap is None:
            return
        if isinstance(table, QueueTable):
            table.show(self.snap.tasks, self.snap, self.pal)
        else:
            table.show(self.snap.agents, self.snap, self.pal)

    def restyle(self) -> None:
        """Re-render every row with the current theme's colours."""
        if self.snap is not None:
            pal = self.pal
            self.query_one(AgentTable).show(self.snap.agents, self.snap, pal, force=True)
            self.query_one(QueueTable).show(self.snap.tasks, self.snap, pal, force=True)
            self.query_one(StatusHeader).show(self.snap, pal)
            self.query_one(SuggestionTable).signature = []
            self.query_one(SuggestionTable).show(self.snap.suggestions, pal)
            self.redraw_detail()

    # -- app-wide actions (bound here so the footer shows them) -------------------------

    def action_quit(self) -> None:
        self.app.exit()

    def action_cycle_theme(self) -> None:
        self.notify(f"theme: {self.services.cycle_theme()}", timeout=2)

    def action_help(self) -> None:
        keys = {a.id: self.services.keymap.get(a.id, a.key) for a in ACTIONS}
        self.app.push_screen(HelpScreen(keys))

    def action_quit_and_stop(self) -> None:
        def go(yes: bool | None) -> None:
            if yes:
                self.stop_supervisor_and_exit()

        self.app.push_screen(Confirm("Quit and stop the supervisor? (agents keep running)"), go)

    @work(thread=True, group="commands")
    def stop_supervisor_and_exit(self) -> None:
        """Write the shutdown command (a store write, maybe applied here) off the event loop."""
        self.services.stop_supervisor()
        self.app.call_from_thread(self.app.exit)

    @on(DataTable.RowSelected)
    def on_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: attach to the agent (agents, queue) or apply (suggestions)."""
        if isinstance(event.data_table, SuggestionTable):
            self.action_apply_suggestion()
        else:
            self.action_attach()
