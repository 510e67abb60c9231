"""Per-pane output: an append-only log read incrementally on inotify events, plus text helpers."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import select
import struct
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change
from watchfiles._rust_notify import RustNotify

from overseer.agents.timing import TimingIndex

__all__ = [
    "DirWatch",
    "LogStream",
    "LogWatcher",
    "RingBuffer",
    "strip_ansi",
    "to_text",
]

log = logging.getLogger(__name__)

# -- escape sequences ------------------------------------------------------------------

# Order matters: string sequences (OSC, DCS, APC, PM, SOS) swallow their payload first.
# A string cut short by another ESC or by the end of the data is dropped up to that point,
# as a terminal would.
_OSC = r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
_STRING = r"\x1b[P_^X][^\x1b]*(?:\x1b\\)?"
_CSI = r"\x1b\[([0-?]*)[ -/]*([@-~]|$)"
_ESC_OTHER = r"\x1b(?:[ -/]*[0-~])?"
_C1_CSI = r"\x9b[0-?]*[ -/]*[@-~]?"
_C1_STRING = r"[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"

_ESCAPES = re.compile("|".join([_OSC, _STRING, _CSI, _ESC_OTHER, _C1_CSI, _C1_STRING]))
_CONTROLS_ALL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# After _ESCAPES, an ESC left in the text starts a kept line CSI (see _keep_line_csi).
_CONTROLS_KEEP_CR_BS = re.compile(r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
# Cursor moves and line erases inside one line are replayed; every other CSI is dropped.
_LINE_CSI_FINALS = frozenset("CDGK")
_LINE_TOKEN = re.compile(r"\x1b\[([0-9;]*)([CDGK])|([\r\x08])")
_CSI_MAX_ARG = 1000
# A terminal clamps its cursor at the screen's width; so does the renderer, so that cursor
# moves cannot pad a line beyond its text (a flood of "\x1b[999Cx" stays proportional).
_MAX_CURSOR_COL = 1024


def strip_ansi(text: str) -> str:
    """Remove escape sequences and control characters except newline and tab."""
    return _CONTROLS_ALL.sub("", _ESCAPES.sub("", text))


def _keep_line_csi(match: re.Match[str]) -> str:
    final = match.group(2)
    if final and final in _LINE_CSI_FINALS and match.group(0).startswith("\x1b["):
        params = match.group(1) or ""
        # Only the plain form is replayed; one with intermediates ("\x1b[5 C") is dropped.
        plain = match.group(0) == f"\x1b[{params}{final}"
        if plain and all(c.isdigit() or c == ";" for c in params):
            return match.group(0)
    return ""


def _cell_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _csi_arg(params: str, default: int) -> int:
    first = params.split(";", 1)[0]
    value = int(first) if first.isdigit() else default
    return min(value, _CSI_MAX_ARG)


def _render_line(line: str) -> str:
    """Replay carriage returns, backspaces, cursor moves and erases within one line."""
    cells: list[str] = []  # "" marks the right half of a wide character
    col = 0

    def put(text: str) -> None:
        nonlocal col
        for ch in text:
            width = _cell_width(ch)
            if width == 0:
                # A combining mark joins the character before the cursor.
                target = col - 1
                while target > 0 and target < len(cells) and cells[target] == "":
                    target -= 1
                if 0 <= target < len(cells):
                    cells[target] += ch
                continue
            if col > len(cells):
                cells.extend(" " * (col - len(cells)))
            for i in range(col, col + width):
                if i < len(cells):
                    if cells[i] == "" and i > 0:
                        cells[i - 1] = " "  # overwrote the right half of a wide char
                    if i + 1 < len(cells) and cells[i + 1] == "" and _is_wide(cells[i]):
                        cells[i + 1] = " "  # overwrote the left half of a wide char
            new = [ch] + [""] * (width - 1)
            cells[col : col + width] = new
            col += width

    pos = 0
    for match in _LINE_TOKEN.finditer(line):
        put(line[pos : match.start()])
        pos = match.end()
        control = match.group(3)
        if control == "\r":
            col = 0
        elif control == "\x08":
            col = max(0, col - 1)
        else:
            params, final = match.group(1), match.group(2)
            limit = max(len(cells), _MAX_CURSOR_COL)
            if final == "C":
                col = min(col + (_csi_arg(params, 1) or 1), max(col, limit))
            elif final == "D":
                col = max(0, col - (_csi_arg(params, 1) or 1))
            elif final == "G":
                col = min(max(0, _csi_arg(params, 1) - 1), limit)
            elif final == "K":
                mode = _csi_arg(params, 0)
                if mode == 0:
                    del cells[col:]
                elif mode == 1:
                    for i in range(min(col + 1, len(cells))):
                        cells[i] = " "
                else:
                    cells.clear()
    put(line[pos:])
    # Blanks past the cursor are erased characters ("\b \b"), not text.
    while len(cells) > col and cells[-1] == " ":
        cells.pop()
    return "".join(cells)


def _is_wide(cell: str) -> bool:
    return bool(cell) and _cell_width(cell[0]) == 2


def to_text(data: bytes) -> str:
    """Decode terminal output into plain text: no escapes, carriage returns and backspaces applied."""
    text = data.decode("utf-8", errors="replace")
    text = re.sub(r"\r+\n", "\n", text)
    text = _ESCAPES.sub(_keep_line_csi, text)
    text = _CONTROLS_KEEP_CR_BS.sub("", text)
    if "\r" not in text and "\x08" not in text and "\x1b" not in text:
        return text
    lines = text.split("\n")
    return "\n".join(
        _render_line(ln) if ("\r" in ln or "\x08" in ln or "\x1b" in ln) else ln for ln in lines
    )


# -- ring buffer -----------------------------------------------------------------------


class RingBuffer:
    """The last `capacity` bytes of a stream; memory stays bounded however much is appended."""

    def __init__(self, capacity: int = 65536) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.total = 0
        self._buf = bytearray()

    def append(self, data: bytes) -> None:
        """Add data, dropping the oldest bytes beyond capacity."""
        if not data:
            return
        self.total += len(data)
        if len(data) >= self.capacity:
            self._buf[:] = data[-self.capacity :]
            return
        self._buf += data
        excess = len(self._buf) - self.capacity
        if excess > 0:
            del self._buf[:excess]

    def data(self) -> bytes:
        """Return the buffered bytes, oldest first."""
        return bytes(self._buf)

    @property
    def wrapped(self) -> bool:
        """True once older bytes have been dropped."""
        return self.total > len(self._buf)

    def __len__(self) -> int:
        return len(self._buf)


# -- log stream ------------------------------------------------------------------------


class LogStream:
    """Incremental reader of one append-only pane log."""

    def __init__(
        self,
        path: Path,
        capacity: int = 65536,
        start_at_end: bool = False,
        times: TimingIndex | None = None,
    ) -> None:
        """Read path from its start, or from its current end when start_at_end; note each
        read's time in `times` (the supervisor's streams: `overseer record` replays them)."""
        self.path = path
        self.times = times
        self.ring = RingBuffer(capacity)
        self.last_output_at: float | None = None
        self.offset = 0
        self._inode: int | None = None
        try:
            st = os.stat(path)
        except OSError:
            return
        self._inode = st.st_ino
        if start_at_end:
            self.offset = st.st_size

    def size(self) -> int:
        """Return the log's current size in bytes (0 if it does not exist)."""
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def seek(self, offset: int) -> None:
        """Continue reading at offset."""
        self.offset = max(0, offset)

    def read_new(self, max_bytes: int = 4 << 20) -> bytes:
        """Return (at most max_bytes of) what was appended since the last call."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return b""  # deleted or not created yet
        try:
            st = os.fstat(fd)
            if self._inode is not None and st.st_ino != self._inode:
                self.offset = 0  # replaced by a new file
                if self.times is not None:
                    self.times.reset()
            self._inode = st.st_ino
            if st.st_size < self.offset:
                self.offset = 0  # truncated
                if self.times is not None:
                    self.times.reset()
            if st.st_size == self.offset:
                return b""
            data = os.pread(fd, min(max_bytes, st.st_size - self.offset), self.offset)
        finally:
            os.close(fd)
        if data:
            self.offset += len(data)
            self.ring.append(data)
            self.last_output_at = time.time()
            if self.times is not None:
                self.times.note(self.offset, self.last_output_at, st.st_size)
        return data

    def _ring_bytes(self, limit: int | None = None) -> bytes:
        data = self.ring.data()
        cut = self.ring.wrapped
        if limit is not None and len(data) > limit:
            data = data[-limit:]
            cut = True
        if cut:
            # The first line was cut in the middle (maybe inside a character or an escape).
            newline = data.find(b"\n")
            data = data[newline + 1 :] if newline >= 0 else data.lstrip(bytes(range(0x80, 0xC0)))
        return data

    def tail_text(self, max_chars: int = 4000) -> str:
        """Return the last max_chars characters of recent output as plain text."""
        text = to_text(self._ring_bytes(max_chars * 4 + 1024))
        return text[-max_chars:] if max_chars > 0 else ""

    def last_line(self) -> str:
        """Return the last non-empty line of recent output, stripped."""
        # Decode the end first: the sweep asks this of every busy agent, and decoding 8 KB per
        # agent and sweep was an eighth of a core at 50 agents; a longer window only when the
        # end holds no line (a last line longer than that keeps its end, as with 8 KB before).
        for limit in (1024, 8192, None):
            for line in reversed(to_text(self._ring_bytes(limit)).split("\n")):
                if line.strip():
                    return line.strip()
            if limit is not None and len(self.ring) <= limit:
                break
        return ""

    def partial_line(self) -> str:
        """Return the text after the last newline: what sits at the cursor, e.g. a prompt."""
        data = self.ring.data()
        newline = data.rfind(b"\n")
        if newline >= 0:
            return to_text(data[newline + 1 :])
        return to_text(self._ring_bytes())


# -- watcher ---------------------------------------------------------------------------


class LogWatcher:
    """Push notification of files added or appended in a directory.

    On Linux a thread blocks on the directory's inotify descriptor (libc through ctypes): it
    costs nothing while nothing is written and wakes at once when something is. Elsewhere
    watchfiles' notifier, which polls its event set every `step_ms` (measured: about 1 % of a
    core on its own while idle, and up to `step_ms` of delay).
    """

    def __init__(
        self,
        directory: Path,
        on_change: Callable[[set[Path]], None],
        step_ms: int = 2,
        debounce_ms: int = 5,
        *,
        writes_only: bool = False,
    ) -> None:
        """Call on_change(paths) from a background thread whenever files under directory change.

        While files keep changing, batches are at least `step_ms` apart (a flood of writes
        is reported as one batch per step, not one per write); the first change after a quiet
        spell is reported at once. watchfiles (not Linux) reports a batch once it stops
        growing between two steps, or after debounce_ms. `writes_only`: on Linux, report a
        file only when bytes are written to it (or it is truncated), not when it is created,
        closed or moved in.
        """
        self.directory = directory
        self.on_change = on_change
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._notify: RustNotify | None = None
        self._inotify: _Inotify | None = None
        self._mask = _IN_MODIFY if writes_only else _WRITTEN

    def start(self) -> None:
        """Start watching; changes made after start() returns are always reported."""
        if self._thread is not None:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Built here, not in the thread, so the watch exists before start() returns.
        self._inotify = _Inotify.open(self.directory, self._mask)
        if self._inotify is None:
            self._notify = RustNotify([str(self.directory)], False, False, 300, True, False)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_inotify if self._inotify else self._run,
            name=f"LogWatcher({self.directory})",
            daemon=True,
        )
        self._thread.start()

    def _deliver(self, paths: set[Path]) -> None:
        if not paths:
            return
        try:
            self.on_change(paths)
        except Exception:
            log.exception("LogWatcher on_change callback failed")

    def _run_inotify(self) -> None:
        ino = self._inotify
        assert ino is not None
        step = self.step_ms / 1000.0
        last = 0.0
        while ino.wait():  # its descriptors are closed by stop(), after this thread ended
            gap = time.monotonic() - last
            if gap < step:
                time.sleep(step - gap)  # busy: let this batch gather a step's writes
            paths = ino.read()
            last = time.monotonic()
            self._deliver(paths)

    def _run(self) -> None:
        notify = self._notify
        assert notify is not None
        try:
            while not self._stop.is_set():
                raw = notify.watch(self.debounce_ms, self.step_ms, 0, self._stop)
                if raw == "stop":
                    break
                if isinstance(raw, str):
                    continue  # "signal" or "timeout"
                self._deliver({Path(p) for change, p in raw if change != Change.deleted.value})
        finally:
            notify.close()

    def stop(self) -> None:
        """Stop watching and wait for the thread to end."""
        self._stop.set()
        if self._inotify is not None:
            self._inotify.interrupt()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=2.0)
        if self._inotify is not None and not (thread and thread.is_alive()):
            self._inotify.close()
        self._notify = None
        self._inotify = None

    @property
    def running(self) -> bool:
        """True while the watching thread runs."""
        return self._thread is not None and self._thread.is_alive()


# -- inotify ---------------------------------------------------------------------------

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x2, 0x4, 0x8, 0x80, 0x100
_IN_MOVED_FROM, _IN_DELETE, _IN_DELETE_SELF, _IN_MOVE_SELF = 0x40, 0x200, 0x400, 0x800
_IN_Q_OVERFLOW = 0x4000
_WRITTEN = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
_REMOVED = _IN_MOVED_FROM | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF
_REPLACED = _REMOVED | _IN_CREATE | _IN_MOVED_TO
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class _Inotify:
    """One directory's inotify descriptor, a blocking wait on it, and a way to interrupt it."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self.fd = fd
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN)
        self.poller.register(self.wake_r, select.POLLIN)
        self.stopped = False

    @classmethod
    def open(cls, directory: Path, mask: int = _WRITTEN) -> _Inotify | None:
        """Watch `directory` for files created, written or moved in (or the events of
        `mask`); None without inotify."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
            if fd < 0:
                return None
            if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
                os.close(fd)
                return None
        except (OSError, AttributeError):
            return None
        return cls(directory, fd)

    def wait(self) -> bool:
        """Block until events arrive (True) or interrupt() was called (False)."""
        while not self.stopped:
            try:
                ready = self.poller.poll()
            except InterruptedError:
                continue
            if any(fd == self.wake_r for fd, _ in ready):
                return False
            if ready:
                return True
        return False

    def read(self) -> set[Path]:
        """The files named by every queued event that still exist (all of the directory's
        after an overflow)."""
        data = b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        paths: set[Path] = set()
        at = 0
        while at + _EVENT.size <= len(data):
            _wd, mask, _cookie, size = _EVENT.unpack_from(data, at)
            name = data[at + _EVENT.size : at + _EVENT.size + size].rstrip(b"\0")
            at += _EVENT.size + size
            if mask & _IN_Q_OVERFLOW:
                paths.update(p for p in self.directory.iterdir() if p.is_file())
            elif name:
                paths.add(self.directory / os.fsdecode(name))
        # A file written and removed before its events were read is not reported (the events
        # of its writes can trail behind): as with watchfiles, a deletion is never a change.
        return {p for p in paths if os.path.lexists(p)}

    def masks(self) -> int:
        """Read every queued event without waiting; return their masks together."""
        seen = 0
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return seen
            if not data:
                return seen
            at = 0
            while at + _EVENT.size <= len(data):
                _wd, mask, _cookie, size = _EVENT.unpack_from(data, at)
                seen |= mask
                at += _EVENT.size + size

    def interrupt(self) -> None:
        """Make wait() return False (from any thread)."""
        self.stopped = True
        with contextlib.suppress(OSError):
            os.write(self.wake_w, b"x")

    def close(self) -> None:
        """Close the descriptors."""
        for fd in (self.fd, self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


class DirWatch:
    """A directory's entries touched or removed, as a descriptor a loop's wait can include
    (Linux: inotify).

    The supervisor watches its state dir with it: a process that has queued an operator
    command touches the store (`Store.enqueue_command`), and a wiped or replaced state dir
    removes, creates or moves its entries, so a loop asleep is woken by either. Without
    inotify `fd` is None.
    """

    def __init__(self, directory: Path) -> None:
        self._ino = _Inotify.open(directory, _IN_ATTRIB | _REPLACED)

    @property
    def fd(self) -> int | None:
        """The descriptor that is readable while events wait; None without inotify."""
        return self._ino.fd if self._ino is not None else None

    def drain(self) -> bool:
        """Take the events that came; whether an entry was removed, created or moved (or
        events were lost)."""
        if self._ino is None:
            return False
        return bool(self._ino.masks() & (_REPLACED | _IN_Q_OVERFLOW))

    def close(self) -> None:
        """Stop watching."""
        if self._ino is not None:
            self._ino.close()
            self._ino = None
