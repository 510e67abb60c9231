"""agents/tailer.py: new JSON lines of files and of new files below directories, real files."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overseer.agents import tailer
from overseer.agents.tailer import Tailer
from tests.helpers import wait_until


def line(**record: Any) -> str:
    """One JSON line."""
    return json.dumps(record) + "\n"


def records(t: Tailer) -> list[dict[str, Any]]:
    """The records one poll returns."""
    return [r for _, r, _ in t.poll()]


def age(path: Path, seconds: float = 3600) -> None:
    """Make a file look last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_file_gives_each_complete_line_once_and_keeps_a_partial_one(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    t = Tailer([log], since=time.time())
    assert t.poll() == []  # not there yet
    log.write_text(line(n=1) + '{"n": 2')
    got = t.poll()
    assert [(p, r) for p, r, _ in got] == [(log, {"n": 1})]
    assert got[0][2] <= time.time()
    assert records(t) == []
    with log.open("a") as f:
        f.write("}\n" + line(n=3))
    assert records(t) == [{"n": 2}, {"n": 3}]
    assert records(t) == []


def test_bad_json_and_non_objects_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    t = Tailer([log], since=time.time())
    log.write_bytes(b"not json\n[1, 2]\n\n\xff\xfe\n" + line(ok=True).encode())
    assert records(t) == [{"ok": True}]
    assert t.skipped_lines == 3  # the empty line is not counted


def test_an_old_file_is_followed_from_its_end(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text(line(old=1))
    age(log)
    t = Tailer([log], since=time.time())
    assert records(t) == []
    with log.open("a") as f:
        f.write(line(new=1))
    assert records(t) == [{"new": 1}]


def test_new_files_anywhere_below_a_directory_are_read_from_their_start(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    old = sessions / "2026" / "11" / "30" / "rollout-old.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text(line(old=1))
    age(old)
    t = Tailer([sessions], since=time.time())
    assert records(t) == []
    new = sessions / "2026" / "12" / "01" / "rollout-new.jsonl"
    new.parent.mkdir(parents=True)
    new.write_text(line(a=1) + line(a=2))
    got = t.poll()
    assert [(p, r) for p, r, _ in got] == [(new, {"a": 1}), (new, {"a": 2})]
    with old.open("a") as f:  # someone else's older file stays ignored
        f.write(line(old=2))
    with new.open("a") as f:
        f.write(line(a=3))
    assert records(t) == [{"a": 3}]
    assert sessions / "2026" / "12" / "01" in t.watched()
    assert t.watched()[0] == sessions


def test_a_directory_created_later_is_followed(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    t = Tailer([home / "sessions"], since=time.time())
    assert t.poll() == []
    assert t.watched() == [tmp_path]  # the nearest existing ancestor
    (home / "sessions" / "d").mkdir(parents=True)
    (home / "sessions" / "d" / "r.jsonl").write_text(line(x=1))
    assert records(t) == [{"x": 1}]


def test_a_file_written_in_the_same_clock_tick_as_a_listing_is_not_missed(
    tmp_path: Path,
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "one.jsonl").write_text(line(n=1))
    t = Tailer([d], since=time.time() - 1)
    assert records(t) == [{"n": 1}]
    # Same directory mtime as at the listing: a file created in that tick must still show.
    mtime = d.stat().st_mtime_ns
    (d / "two.jsonl").write_text(line(n=2))
    os.utime(d, ns=(mtime, mtime))
    assert records(t) == [{"n": 2}]


def test_truncation_and_replacement_start_over(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    t = Tailer([log], since=time.time())
    log.write_text(line(n=1) + line(n=2) + '{"half": ')
    assert records(t) == [{"n": 1}, {"n": 2}]
    log.write_text(line(n=3))  # truncated and rewritten, shorter than before
    assert records(t) == [{"n": 3}]
    other = tmp_path / "b.jsonl"
    other.write_text(line(n=4) + line(n=5) + line(n=6))
    other.replace(log)  # a new file at the same path, longer than the old one
    assert records(t) == [{"n": 4}, {"n": 5}, {"n": 6}]


def test_a_huge_line_is_skipped_not_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tailer, "MAX_LINE", 1000)
    log = tmp_path / "a.jsonl"
    t = Tailer([log], since=time.time())
    huge = '{"x": "' + "y" * 3000
    log.write_text(line(n=1) + huge)
    assert records(t) == [{"n": 1}]
    f = t._files[log]
    assert len(f.partial) == 0 and f.skipping  # nothing of it is kept
    with log.open("a") as fh:
        fh.write("z" * 5000 + '"}\n' + line(n=2))
    assert records(t) == [{"n": 2}]
    assert t.skipped_lines == 1
    log.write_text("")  # a complete over-long line in one read is skipped too
    with log.open("a") as fh:
        fh.write('{"x": "' + "y" * 2000 + '"}\n' + line(n=3))
    assert records(t) == [{"n": 3}]
    assert t.skipped_lines == 2


def test_each_poll_reads_at_most_a_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tailer, "READ_CHUNK", 64)
    log = tmp_path / "a.jsonl"
    t = Tailer([log], since=time.time())
    log.write_text("".join(line(n=n, pad="p" * 10) for n in range(20)))
    seen: list[dict[str, Any]] = []
    for _ in range(40):
        got = records(t)
        assert len(got) <= 2  # 64 bytes hold at most two of these 30-byte lines
        seen += got
    assert seen == [{"n": n, "pad": "p" * 10} for n in range(20)]


def test_a_long_unchanged_directory_is_looked_at_less_often_but_still_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tailer, "COLD_EVERY", 0.3)
    old = tmp_path / "2024" / "05"
    old.mkdir(parents=True)
    for d in (old, old.parent, tmp_path):
        age(d, 30 * 86400)
    t = Tailer([tmp_path], since=time.time())
    assert records(t) == []
    (old / "r.jsonl").write_text(line(late=1))
    age(old, 30 * 86400)  # as if written long ago: only its listing can show it
    t.poll()  # looked at just now: not again before COLD_EVERY
    assert wait_until(lambda: records(t), timeout=5) == [{"late": 1}]


LINES = st.one_of(
    st.dictionaries(st.sampled_from(["a", "type", "é"]), st.integers() | st.text(max_size=5)).map(
        lambda d: json.dumps(d, ensure_ascii=False).encode()
    ),
    st.sampled_from([b"[1]", b"{", b"\xff\xfe", b"", b"null", b'{"x": "\\u00e9"}']),
)


@given(lines=st.lists(LINES, max_size=12), cuts=st.lists(st.integers(0, 400), max_size=6))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_appends_cut_anywhere_give_the_same_records_as_the_whole_file(
    lines: list[bytes], cuts: list[int], tmp_path: Path
) -> None:
    data = b"".join(x + b"\n" for x in lines)
    want = []
    for x in lines:
        try:
            value = json.loads(x)
        except ValueError:
            continue
        if isinstance(value, dict):
            want.append(value)
    with tempfile.TemporaryDirectory(dir=tmp_path) as d:
        log = Path(d) / "a.jsonl"
        t = Tailer([log], since=time.time() - 1)
        got: list[dict[str, Any]] = []
        at = 0
        for cut in sorted({min(c, len(data)) for c in cuts}) + [len(data)]:
            with log.open("ab") as f:
                f.write(data[at:cut])
            at = max(at, cut)
            got += records(t)
        assert got == want
