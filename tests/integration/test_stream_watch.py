"""LogWatcher: inotify push of appended logs, including logs written by tmux pipe-pane."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.agents import stream
from overseer.agents.stream import LogStream, LogWatcher
from overseer.agents.tmux import TmuxServer
from tests.helpers import wait_until


class Recorder:
    """Collects the paths LogWatcher reports, from its thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: set[Path] = set()
        self.calls = 0

    def __call__(self, paths: set[Path]) -> None:
        with self.lock:
            self.paths |= paths
            self.calls += 1

    def seen(self, path: Path) -> bool:
        with self.lock:
            return path in self.paths

    def clear(self) -> None:
        with self.lock:
            self.paths.clear()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(params=["inotify", "watchfiles"])
def watcher(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LogWatcher]:
    """Each test runs on Linux's blocking inotify and on the watchfiles fallback."""
    if request.param == "watchfiles":
        monkeypatch.setattr(stream._Inotify, "open", classmethod(lambda cls, d, mask=0: None))
    w = LogWatcher(tmp_path / "logs", recorder)
    w.start()
    assert (w._inotify is not None) == (request.param == "inotify")
    try:
        yield w
    finally:
        w.stop()


def test_an_overflow_reports_every_file(tmp_path: Path) -> None:
    # The kernel drops events when its queue overflows and says so once: every file may
    # have changed. (The overflow record is fed through a pipe in place of the descriptor.)
    ino = stream._Inotify.open(tmp_path)
    assert ino is not None
    try:
        (tmp_path / "a.log").write_bytes(b"x")
        (tmp_path / "b.log").write_bytes(b"y")
        assert ino.wait()
        ino.read()  # the real events
        overflow = stream._EVENT.pack(-1, stream._IN_Q_OVERFLOW, 0, 0)
        r, w = os.pipe()
        os.write(w, overflow)
        os.close(w)
        real, ino.fd = ino.fd, r
        try:
            assert ino.read() == {tmp_path / "a.log", tmp_path / "b.log"}
        finally:
            ino.fd = real
            os.close(r)
    finally:
        ino.close()


def test_append_is_reported(watcher: LogWatcher, recorder: Recorder) -> None:
    log = watcher.directory / "a.log"
    # Written right after start(): the watch already exists, nothing is missed.
    with log.open("ab") as f:
        f.write(b"hello\n")
    wait_until(lambda: recorder.seen(log), message="creation of a.log not reported")
    recorder.clear()
    with log.open("ab") as f:
        f.write(b"more\n")
    wait_until(lambda: recorder.seen(log), message="append to a.log not reported")


def test_only_the_changed_file_is_reported(watcher: LogWatcher, recorder: Recorder) -> None:
    quiet, busy = watcher.directory / "quiet.log", watcher.directory / "busy.log"
    quiet.write_bytes(b"")
    busy.write_bytes(b"")
    wait_until(lambda: recorder.seen(quiet) and recorder.seen(busy), message="files not seen")
    recorder.clear()
    with busy.open("ab") as f:
        f.write(b"x")
    wait_until(lambda: recorder.seen(busy), message="append not reported")
    assert not recorder.seen(quiet)


def test_deletion_is_not_reported(watcher: LogWatcher, recorder: Recorder) -> None:
    gone, marker = watcher.directory / "gone.log", watcher.directory / "marker.log"
    first = watcher.directory / "first.log"
    gone.write_bytes(b"x")
    first.write_bytes(b"x")  # once it is seen, every event of gone's writing was too
    wait_until(lambda: recorder.seen(gone) and recorder.seen(first), message="writes not seen")
    recorder.clear()
    gone.unlink()
    marker.write_bytes(b"x")  # events arrive in order: once marker is seen, the unlink was too
    wait_until(lambda: recorder.seen(marker), message="marker not seen")
    assert not recorder.seen(gone)


def test_a_watcher_of_writes_is_told_of_a_write_not_of_an_empty_file(
    tmp_path: Path, recorder: Recorder
) -> None:
    # The rc files' watcher: the run dir's files are made empty first (no event), and the
    # status is written into one later (one event, at the write, before the file is closed).
    w = LogWatcher(tmp_path / "run", recorder, 0, writes_only=True)
    w.start()
    try:
        blank, other = w.directory / "t.1.rc", w.directory / "u.1.rc"
        blank.write_bytes(b"")
        other.write_bytes(b"")
        with blank.open("r+b") as f:
            f.write(b"0 -\n")
            f.flush()
            wait_until(lambda: recorder.seen(blank), message="the write was not reported")
        assert not recorder.seen(other)
    finally:
        w.stop()


def test_a_failing_callback_does_not_stop_the_watcher(tmp_path: Path) -> None:
    seen: list[set[Path]] = []

    def explode(paths: set[Path]) -> None:
        seen.append(paths)
        if len(seen) == 1:
            raise RuntimeError("callback bug")

    w = LogWatcher(tmp_path, explode)
    w.start()
    try:
        (tmp_path / "one.log").write_bytes(b"1")
        wait_until(lambda: len(seen) >= 1, message="first change not reported")
        (tmp_path / "two.log").write_bytes(b"2")
        wait_until(
            lambda: any(tmp_path / "two.log" in s for s in seen),
            message="watcher died after a callback error",
        )
        assert w.running
    finally:
        w.stop()


def test_stop_ends_the_thread(tmp_path: Path, recorder: Recorder) -> None:
    w = LogWatcher(tmp_path, recorder)
    w.start()
    assert w.running
    w.stop()
    assert not w.running
    calls = recorder.calls
    (tmp_path / "after.log").write_bytes(b"x")
    w.stop()  # a second stop is harmless
    assert recorder.calls == calls


def test_start_creates_the_directory(tmp_path: Path, recorder: Recorder) -> None:
    w = LogWatcher(tmp_path / "new" / "logs", recorder)
    w.start()
    try:
        assert (tmp_path / "new" / "logs").is_dir()
    finally:
        w.stop()


@pytest.mark.tmux
def test_pane_output_is_pushed_through_pipe_pane(
    tmux_server: TmuxServer, watcher: LogWatcher, recorder: Recorder, tmp_path: Path
) -> None:
    log = watcher.directory / "agent.log"
    pane = tmux_server.spawn_window("agent", "stty -echo; cat", str(tmp_path), {}, log)
    stream = LogStream(log)
    recorder.clear()
    tmux_server.send_text(pane.pane_id, "pushed line")
    wait_until(lambda: recorder.seen(log), message="pane output not reported")

    def read() -> bytes:
        stream.read_new()
        return stream.ring.data()

    wait_until(lambda: b"pushed line" in read(), message="pushed line not in the log")
    assert stream.last_line() == "pushed line"
