"""The index of when each log's output arrived: written as a LogStream reads, bounded, reset."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from overseer.agents.stream import LogStream
from overseer.agents.timing import ENTRY, GAP, TimingIndex, read_times


def test_reads_far_apart_get_entries_of_their_own(tmp_path: Path) -> None:
    index = TimingIndex(tmp_path / "times" / "w.times")
    index.note(5, 100.0, 5)
    index.note(9, 101.0, 9)
    index.note(12, 105.5, 12)
    assert read_times(index.path) == [(5, 100.0), (9, 101.0), (12, 105.5)]
    assert stat.S_IMODE(index.path.stat().st_mode) == 0o600


def test_reads_closer_than_the_gap_share_one_entry(tmp_path: Path) -> None:
    """A flood of reads costs one entry per GAP: the index stays bounded."""
    index = TimingIndex(tmp_path / "w.times")
    for i in range(1000):
        index.note(i + 1, 100.0 + i * GAP / 10, i + 1)
    entries = read_times(index.path)
    assert len(entries) <= 1000 // 10 + 1
    assert entries[-1][0] == 1000  # every byte is covered
    assert all(b[1] - a[1] >= GAP for a, b in zip(entries, entries[1:], strict=False))


def test_rereading_known_bytes_adds_nothing(tmp_path: Path) -> None:
    index = TimingIndex(tmp_path / "w.times")
    index.note(10, 100.0, 10)
    index.note(6, 102.0, 10)  # a catch-up read of bytes already timed
    index.note(10, 103.0, 10)
    assert read_times(index.path) == [(10, 100.0)]


def test_a_new_index_continues_the_old_one(tmp_path: Path) -> None:
    """A restarted supervisor appends after what the last one wrote."""
    path = tmp_path / "w.times"
    first = TimingIndex(path)
    first.note(10, 100.0, 10)
    first.close()
    with open(path, "ab") as f:
        f.write(b"\x01\x02\x03")  # a torn entry (a crash mid-write)
    second = TimingIndex(path)
    second.note(8, 200.0, 30)
    second.note(30, 200.0, 30)
    assert read_times(path) == [(10, 100.0), (30, 200.0)]


def test_an_index_longer_than_its_log_is_dropped(tmp_path: Path) -> None:
    """The log was deleted and begun anew: the old times do not fit it."""
    path = tmp_path / "w.times"
    old = TimingIndex(path)
    old.note(5000, 100.0, 5000)
    old.close()
    TimingIndex(path).note(20, 300.0, 20)
    assert read_times(path) == [(20, 300.0)]


def test_log_stream_notes_each_read_and_resets_on_truncation(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"hello\n")
    stream = LogStream(log, times=TimingIndex(tmp_path / "w.times"))
    assert stream.read_new() == b"hello\n"
    first = read_times(tmp_path / "w.times")
    assert [end for end, _ in first] == [6]
    assert first[0][1] == stream.last_output_at
    os.truncate(log, 0)
    log.write_bytes(b"new\n")
    assert stream.read_new() == b"new\n"
    assert [end for end, _ in read_times(tmp_path / "w.times")] == [4]


def test_an_index_that_cannot_be_written_never_stops_reading(tmp_path: Path) -> None:
    log = tmp_path / "w.log"
    log.write_bytes(b"data\n")
    (tmp_path / "elsewhere").write_bytes(b"")
    (tmp_path / "w.times").symlink_to(tmp_path / "elsewhere")  # refused: a link
    stream = LogStream(log, times=TimingIndex(tmp_path / "w.times"))
    assert stream.read_new() == b"data\n"
    assert (tmp_path / "elsewhere").read_bytes() == b""


def test_read_times_of_a_missing_index_is_empty(tmp_path: Path) -> None:
    assert read_times(tmp_path / "none.times") == []
    assert ENTRY.size == 16
