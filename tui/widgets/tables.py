"""The agents and queue tables: updated by key (diffs only), with marks, filter and sort."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual.binding import BindingType
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist, RowKey

from overseer.agents.usage import usage_text
from overseer.tui.actions import bindings
from overseer.tui.snapshot import AgentRow, Snapshot, TaskRow
from overseer.tui.widgets.format import (
    AGENT_SYMBOLS,
    TASK_SYMBOLS,
    age_label,
    age_text,
    clip,
    coarse_age,
    countdown,
    duration,
    size,
    state_text,
)

R = TypeVar("R", bound=AgentRow | TaskRow)

MARK = "●"


def matches(text: str, query: str) -> bool:
    """Whether every word of the filter matches: `state:x`, `agent:x`, or a substring."""
    hay = text.lower()
    for word in query.lower().split():
        if ":" in word:
            field, _, value = word.partition(":")
            if f"{field}={value}" not in hay.split("\t"):
                return False
        elif word not in hay:
            return False
    return True


class KeyedTable(DataTable[Any], Generic[R]):
    """A DataTable whose rows are keyed by id and updated cell by cell."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("table")  # j, k, g, G
    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = []
    ID_COLUMN: ClassVar[str] = "id"  # the column holding the plain-text key
    SORTS: ClassVar[list[tuple[str, Callable[[Any], Any]]]] = []
    HEADER_SORTS: ClassVar[dict[str, str]] = {}  # a clicked column -> the sort it picks

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.rows_by_key: dict[str, R] = {}
        self.cells: dict[str, tuple[Any, ...]] = {}
        self.marked: set[str] = set()
        self.query_text = ""
        self.sort_index = 0
        self.order: list[str] = []
        self.last_rows: list[R] = []
        self.last_shape: tuple[str, int] = ("", 0)  # filter and sort the rows were laid out with
        self.pal: dict[str, str] = {}
        self.snapshot: Snapshot | None = None
        self.changed_cells: set[tuple[RowKey, ColumnKey]] = set()  # since the last frame
        self.drawn_widths: tuple[int, ...] = ()  # column widths the cached renders have

    # -- rendering only what changed --------------------------------------------------

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Any,
        *,
        update_width: bool = False,
    ) -> None:
        """Change one cell; the next frame renders that cell again, and no other.

        DataTable's own update_cell bumps a counter that is part of every render cache key,
        so one ticking age re-rendered every visible cell of the table each second. Here the
        cell is noted (its cached renders are dropped before the next frame, forget_changed)
        and only its line of the screen is marked for a repaint.
        """
        rk = RowKey(row_key) if isinstance(row_key, str) else row_key
        ck = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        row = self.rows.get(rk)
        if update_width or row is None or row.height != 1 or ck not in self._column_locations:
            super().update_cell(rk, ck, value, update_width=update_width)  # or its error
            return
        self._data[rk][ck] = value
        self.changed_cells.add((rk, ck))
        # The row's line on screen (every row is one line high); none while scrolled away.
        header = self.header_height if self.show_header else 0
        line = self.get_row_index(rk) + header - self.scroll_offset.y
        if header <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def forget_changed(self) -> None:
        """Before a frame: drop the cached renders of changed cells, or all of them when a
        column's width changed.

        DataTable widens an auto-width column when it measures new rows (on idle) without
        invalidating anything, and its cell renders are cached without their width: a cell
        drawn before the widening would stay clipped. A new width therefore bumps the
        counter every cache key holds, and repaints the whole table.
        """
        widths = (
            self._row_label_column_width,
            *(c.get_render_width(self) for c in self.ordered_columns),
        )
        if widths != self.drawn_widths:
            self.drawn_widths = widths
            self.changed_cells.clear()
            self._update_count += 1
            self.refresh()
            return
        if not self.changed_cells:
            return
        changed, self.changed_cells = self.changed_cells, set()
        rows = {rk for rk, _ in changed}
        cells = self._cell_render_cache
        # An LRUCache has keys() but no __iter__ (noqa: SIM118).
        for cell in [k for k in cells.keys() if k[0] in rows and (k[0], k[1]) in changed]:  # noqa: SIM118
            cells.discard(cell)
        lines = self._row_render_cache
        for line in [k for k in lines.keys() if k[0] in rows]:  # noqa: SIM118
            lines.discard(line)
        indexes = {self._row_locations.get(rk) for rk in rows}
        renderables = self._row_renderable_cache
        for row in [k for k in renderables.keys() if k[1] in indexes]:  # noqa: SIM118
            renderables.discard(row)
        self._line_cache.clear()  # lines are joined again from the rows' caches, cheaply

    def render_lines(self, crop: Region) -> list[Strip]:
        self.forget_changed()
        return super().render_lines(crop)

    def on_mount(self) -> None:
        for key, label, width in self.shown_columns():
            self.add_column(label, key=key, width=width)

    def shown_columns(self) -> list[tuple[str, str, int | None]]:
        """The columns on screen (key, label, width)."""
        return self.COLUMNS

    # -- what a subclass supplies ---------------------------------------------------

    def key_of(self, row: R) -> str:
        raise NotImplementedError

    def render_row(self, row: R, snap: Snapshot) -> tuple[Any, ...]:
        raise NotImplementedError

    def search_text(self, row: R) -> str:
        raise NotImplementedError

    def shows_same(self, new: R, old: R, snap: Snapshot) -> bool:
        """Whether a changed row would show exactly what `old` shows (cheaper than its cells)."""
        return False

    def row_cells(self, row: R, snap: Snapshot) -> tuple[Any, ...]:
        """render_row with plain strings made Text: a DataTable reads a str cell as markup."""
        return tuple(Text(c) if isinstance(c, str) else c for c in self.render_row(row, snap))

    # -- updating -------------------------------------------------------------------

    @property
    def sort_name(self) -> str:
        return self.SORTS[self.sort_index][0] if self.SORTS else ""

    def sort_by_column(self, column: str) -> bool:
        """Pick the sort of a clicked column header; False when that column has none."""
        names = [name for name, _ in self.SORTS]
        wanted = self.HEADER_SORTS.get(column)
        if wanted not in names:
            return False
        self.sort_index = names.index(wanted)
        return True

    def filtered(self, rows: Sequence[R]) -> list[R]:
        """Rows that pass the filter, in the current sort order."""
        chosen = [
            r for r in rows if not self.query_text or matches(self.search_text(r), self.query_text)
        ]
        if self.SORTS:
            chosen.sort(key=self.SORTS[self.sort_index][1])
        return chosen

    def show(
        self, rows: Sequence[R], snap: Snapshot, pal: dict[str, str], force: bool = False
    ) -> None:
        """Bring the table in line with `rows`: remove, add and update only what changed."""
        shape = (self.query_text, self.sort_index)
        fast = not force and pal == self.pal and shape == self.last_shape
        if fast and self.show_changed(rows, snap):
            return
        self.show_all(rows, snap, pal, force)
        self.last_rows = list(rows)
        self.last_shape = shape

    def show_changed(self, rows: Sequence[R], snap: Snapshot) -> bool:
        """Fast path: when no row came, went or moved, redraw only the rows that changed.

        Rows a snapshot did not touch are the same objects as before, so with 10,000 tasks
        a snapshot costs a pass of identity checks plus the few rows that really changed.
        Returns False (nothing done) when the slow path is needed.
        """
        last = self.last_rows
        if not last or len(rows) != len(last):
            return False
        order = self.SORTS[self.sort_index][1] if self.SORTS else None
        query = self.query_text
        changed: list[R] = []
        for new, old in zip(rows, last, strict=True):
            if new is old:
                continue
            if self.key_of(new) != self.key_of(old):
                return False
            if order is not None and order(new) != order(old):
                return False
            if query and matches(self.search_text(new), query) != matches(
                self.search_text(old), query
            ):
                return False
            changed.append(new)
        self.snapshot = snap
        columns = [c[0] for c in self.shown_columns()]
        for row in changed:
            key = self.key_of(row)
            before = self.rows_by_key.get(key)
            self.rows_by_key[key] = row
            old_cells = self.cells.get(key)
            if old_cells is None:
                continue  # filtered out
            if before is not None and self.shows_same(row, before, snap):
                continue
            cells = (old_cells[0], *self.row_cells(row, snap))
            for col, value, was in zip(columns, cells, old_cells, strict=True):
                if value != was:
                    self.update_cell(key, col, value)
            self.cells[key] = cells
        self.last_rows = list(rows)
        return True

    def show_all(self, rows: Sequence[R], snap: Snapshot, pal: dict[str, str], force: bool) -> None:
        """Slow path: filter, sort, and diff every row."""
        self.snapshot = snap
        if force or pal != self.pal:
            # Keep the rows, forget their cells: every cell is redrawn in the new colours.
            self.pal = pal
            blank = (None,) * len(self.shown_columns())
            self.cells = {k: blank for k in self.cells}
        wanted = self.filtered(rows)
        keys = [self.key_of(r) for r in wanted]
        previous = self.rows_by_key
        self.rows_by_key = {self.key_of(r): r for r in rows}
        keyset = set(keys)
        self.marked &= set(self.rows_by_key)
        for gone in [k for k in self.cells if k not in keyset]:
            self.cells.pop(gone, None)
            with contextlib.suppress(RowDoesNotExist):
                self.remove_row(gone)
        columns = [c[0] for c in self.shown_columns()]
        for key, row in zip(keys, wanted, strict=True):
            old = self.cells.get(key)
            before = previous.get(key)
            if old is not None and old[0] is not None and (before is row or before == row):
                continue  # same data, same colours: nothing to render
            cells = (
                Text(MARK if key in self.marked else " ", style=pal.get("accent", "")),
                *self.row_cells(row, snap),
            )
            if old is None:
                self.add_row(*cells, key=key)
            elif old != cells:
                for col, new, was in zip(columns, cells, old, strict=True):
                    if new != was:
                        self.update_cell(key, col, new)
            self.cells[key] = cells
        if keys != self.order:
            position = {k: i for i, k in enumerate(keys)}
            if len(keys) > 1:
                self.sort(self.ID_COLUMN, key=lambda value: position.get(str(value), 0))
            self.order = keys

    def refresh_marks(self) -> None:
        """Redraw the mark column after marks changed."""
        for key in self.order:
            mark = Text(MARK if key in self.marked else " ", style=self.pal.get("accent", ""))
            old = self.cells.get(key)
            if old is not None and old[0] != mark:
                self.update_cell(key, "mark", mark)
                self.cells[key] = (mark, *old[1:])

    # -- selection ------------------------------------------------------------------

    def selected_key(self) -> str | None:
        """The key of the row under the cursor."""
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def selected_row(self) -> R | None:
        key = self.selected_key()
        return self.rows_by_key.get(key) if key else None

    def targets(self) -> list[str]:
        """Marked rows in table order, else the row under the cursor."""
        if self.marked:
            return [k for k in self.order if k in self.marked]
        key = self.selected_key()
        return [key] if key else []

    def toggle_mark(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        self.marked ^= {key}
        self.refresh_marks()
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self.refresh_marks()

    def select_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def select_key(self, key: str) -> bool:
        try:
            self.move_cursor(row=self.get_row_index(key))
        except RowDoesNotExist:
            return False
        return True


class AgentTable(KeyedTable[AgentRow]):
    """Agents: state, task, heartbeat age, time in state, CPU, RSS, tokens/cost, last line."""

    ID_COLUMN: ClassVar[str] = "name"

    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = [
        ("mark", " ", 1),
        ("name", "agent", 12),
        ("state", "state", 10),
        ("task", "task", 16),
        ("beat", "beat", 8),  # "1m03s !!" fits
        ("since", "in state", 8),
        ("cpu", "cpu", 4),
        ("rss", "rss", 6),
        ("line", "last output / prompt", None),
    ]
    # Shown (before the line) once some agent's CLI has told its tokens: a fleet of shells
    # keeps the room for its lines.
    USAGE_COLUMN: ClassVar[tuple[str, str, int | None]] = ("usage", "tokens in/out cost", 19)
    STATE_ORDER: ClassVar[dict[str, int]] = {
        "waiting": 0,
        "stalled": 1,
        "dead": 2,
        "paused": 3,
        "busy": 4,
        "starting": 5,
        "idle": 6,
    }
    SORTS: ClassVar[list[tuple[str, Callable[[Any], Any]]]] = [
        ("name", lambda r: r.name),
        ("attention", lambda r: (AgentTable.STATE_ORDER.get(r.state, 9), r.name)),
        ("heartbeat", lambda r: (-(r.heartbeat_age or 0.0), r.name)),
        ("task", lambda r: (r.task is None, r.task or "", r.name)),
        ("in state", lambda r: (-r.state_age, r.name)),
        ("cpu", lambda r: (-(r.cpu_pct or 0.0), r.name)),
        ("rss", lambda r: (-(r.rss or 0), r.name)),
        ("cost", lambda r: (-(r.usage.cost_usd or 0.0) if r.usage else 0.0, r.name)),
    ]
    HEADER_SORTS: ClassVar[dict[str, str]] = {
        "name": "name",
        "state": "attention",
        "task": "task",
        "beat": "heartbeat",
        "since": "in state",
        "cpu": "cpu",
        "rss": "rss",
        "usage": "cost",
    }

    with_usage = False

    def shown_columns(self) -> list[tuple[str, str, int | None]]:
        if not self.with_usage:
            return self.COLUMNS
        return [*self.COLUMNS[:-1], self.USAGE_COLUMN, self.COLUMNS[-1]]

    def show(
        self, rows: Sequence[AgentRow], snap: Snapshot, pal: dict[str, str], force: bool = False
    ) -> None:
        if not self.with_usage and any(r.usage is not None for r in rows):
            self.with_usage = force = True
            self.clear(columns=True)
            self.cells, self.order, self.last_rows = {}, [], []
            for key, label, width in self.shown_columns():
                self.add_column(label, key=key, width=width)
        super().show(rows, snap, pal, force)

    def key_of(self, row: AgentRow) -> str:
        return row.name

    # What an agent's row shows, but for its two ages (compared as shown).
    STEADY = operator.attrgetter(
        "name",
        "state",
        "task",
        "cpu_pct",
        "rss",
        "usage",
        "last_line",
        "prompt",
        "reason",
        "version_note",
        "host_gone",
    )

    def shows_same(self, new: AgentRow, old: AgentRow, snap: Snapshot) -> bool:
        """Most snapshots change only heartbeat ages, written each second for every agent."""
        return (
            self.STEADY(new) == self.STEADY(old)
            and coarse_age(new.state_age) == coarse_age(old.state_age)
            and age_label(new.heartbeat_age, snap.warn, snap.alert)
            == age_label(old.heartbeat_age, snap.warn, snap.alert)
        )

    def search_text(self, row: AgentRow) -> str:
        return "\t".join(
            [
                row.name,
                row.state,
                row.task or "",
                row.last_line,
                row.prompt or "",
                row.reason or "",
                f"state={row.state}",
                f"agent={row.name}",
                f"task={row.task or ''}",
                f"host={row.name.partition('/')[0] if '/' in row.name else ''}",
            ]
        )

    def render_row(self, row: AgentRow, snap: Snapshot) -> tuple[Any, ...]:
        pal = self.pal
        if row.prompt:
            line = Text(clip(f"? {row.prompt}", 48), style=f"bold {pal['accent']}")
        elif row.reason and row.state in ("paused", "dead", "stalled"):
            line = Text(clip(row.reason, 48), style=pal["warn"])
        elif row.version_note:
            line = Text(clip(f"[{row.version_note}] {row.last_line}", 48), style=pal["warn"])
        else:
            line = Text(clip(row.last_line, 48))
        cpu = "-" if row.cpu_pct is None else f"{row.cpu_pct:.0f}%"
        if row.host_gone:
            # Its host's supervisor stopped beating: what the store last heard, greyed.
            dim = pal["dim"]
            return (
                Text(row.name, style=dim),
                Text(f"? {row.state}", style=dim),
                Text(row.task or "-", style=dim),
                Text("gone", style=pal["warn"]),
                Text(coarse_age(row.state_age), style=dim),
                "-",
                "-",
                *(("-",) if self.with_usage else ()),
                Text(clip(f"its host stopped beating; last: {row.last_line}", 48), style=dim),
            )
        return (
            row.name,
            state_text(row.state, pal, AGENT_SYMBOLS),
            row.task or "-",
            age_text(row.heartbeat_age, snap.warn, snap.alert, pal),
            coarse_age(row.state_age),
            cpu,
            size(row.rss),
            *((usage_text(row.usage) or "-",) if self.with_usage else ()),
            line,
        )


def clocks(row: TaskRow) -> tuple[str, str, str]:
    """A task row's lease countdown, duration and retry countdown as shown."""
    return (
        countdown(row.lease_left) if row.state == "running" else "",
        duration(row.duration) if row.duration is not None else "",
        countdown(row.retry_left) if row.retry_left and row.retry_left > 0 else "",
    )


class QueueTable(KeyedTable[TaskRow]):
    """Tasks: state, attempt/max, claim, lease countdown, exit code, duration, retry, why."""

    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = [
        ("mark", " ", 1),
        ("id", "task", 18),
        ("state", "state", 10),
        ("try", "try", 4),
        ("agent", "agent", 10),
        ("lease", "lease", 5),
        ("exit", "exit", 4),
        ("dur", "time", 6),
        ("retry", "retry", 5),
        ("note", "waits for / reason", None),
    ]
    STATE_ORDER: ClassVar[dict[str, int]] = {
        "failed": 0,
        "blocked": 1,
        "running": 2,
        "ready": 3,
        "pending": 4,
        "done": 5,
    }
    SORTS: ClassVar[list[tuple[str, Callable[[Any], Any]]]] = [
        ("queue", lambda r: r.seq),
        ("state", lambda r: (QueueTable.STATE_ORDER.get(r.state, 9), r.seq)),
        ("id", lambda r: r.id),
        ("time", lambda r: (-(r.duration or 0.0), r.seq)),
        ("priority", lambda r: (-r.priority, r.seq)),
        ("tries", lambda r: (-r.tries, r.seq)),
        ("agent", lambda r: (r.claimed_by is None, r.claimed_by or "", r.seq)),
        ("exit", lambda r: (r.exit_code in (None, 0), -(r.exit_code or 0), r.seq)),
        ("retry", lambda r: (r.retry_left is None, r.retry_left or 0.0, r.seq)),
        ("lease", lambda r: (r.lease_left is None, r.lease_left or 0.0, r.seq)),
    ]
    HEADER_SORTS: ClassVar[dict[str, str]] = {
        "id": "id",
        "state": "state",
        "try": "tries",
        "agent": "agent",
        "exit": "exit",
        "dur": "time",
        "retry": "retry",
        "lease": "lease",
    }

    def key_of(self, row: TaskRow) -> str:
        return row.id

    def search_text(self, row: TaskRow) -> str:
        return "\t".join(
            [
                row.id,
                row.state,
                row.claimed_by or "",
                row.blocked_reason or "",
                row.waits_for,
                row.reason or "",
                row.command,
                f"state={row.state}",
                f"agent={row.claimed_by or ''}",
                f"id={row.id}",
            ]
        )

    def render_row(self, row: TaskRow, snap: Snapshot) -> tuple[Any, ...]:
        pal = self.pal
        lease, took, retry = clocks(row)
        if row.state == "pending":
            note = Text(clip("waits for " + row.waits_for, 80), style=pal["dim"])
        elif row.blocked_reason:
            note = Text(clip(row.blocked_reason, 80), style=pal["warn"])
        elif row.reason and row.state != "done":
            note = Text(clip(row.reason, 80))
        else:
            note = Text("")
        code = Text(
            "-" if row.exit_code is None else str(row.exit_code),
            style="" if row.exit_code in (None, 0) else f"bold {pal['err']}",
        )
        return (
            row.id,
            state_text(row.state, pal, TASK_SYMBOLS),
            f"{row.tries}/{row.max_attempts}",
            row.claimed_by or "-",
            lease,
            code,
            took,
            retry,
            note,
        )

    # Everything a row shows but its clocks (lease, duration, retry countdown).
    STEADY = operator.attrgetter(
        "id",
        "state",
        "tries",
        "max_attempts",
        "claimed_by",
        "exit_code",
        "blocked_reason",
        "reason",
        "waits_for",
    )

    def shows_same(self, new: TaskRow, old: TaskRow, snap: Snapshot) -> bool:
        """Running rows change only their clocks at most snapshots, and those show seconds:
        hundreds of them re-rendered at every commit took the loop's time (issue 14)."""
        return self.STEADY(new) == self.STEADY(old) and clocks(new) == clocks(old)
