"""Escape stripping, text rendering, the ring buffer and incremental log reading."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from overseer.agents.stream import LogStream, RingBuffer, strip_ansi, to_text
from tests.helpers import shared_screens

SCREENS = shared_screens()
SCREEN_FILES = sorted(SCREENS.glob("*.ansi")) if SCREENS.is_dir() else []


# -- strip_ansi ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("\x1b[1;31mred\x1b[0m text", "red text"),
        ("\x1b[38;5;174mWelcome\x1b[39m", "Welcome"),
        ("\x1b[?25l\x1b[2J\x1b[Hhome", "home"),
        ("\x1b]0;window title\x07after", "after"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ end", "link end"),
        ("\x1bPq#0;2;0;0;0\x1b\\sixel gone", "sixel gone"),
        ("\x1b_apc payload\x1b\\kept", "kept"),
        ("\x1b(B\x1b[mplain", "plain"),
        ("\x1b7saved\x1b8", "saved"),
        ("bell\x07 and nul\x00 and del\x7f", "bell and nul and del"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("cut at the end \x1b[38;5", "cut at the end "),
        ("osc cut at the end \x1b]0;unterminated", "osc cut at the end "),
    ],
)
def test_strip_ansi_removes_sequences_and_keeps_text(raw: str, plain: str) -> None:
    assert strip_ansi(raw) == plain


def test_strip_ansi_leaves_plain_unicode_alone() -> None:
    text = "日本語 ✓ é e\u0301 ⠋ ╭──╮"
    assert strip_ansi(text) == text


# -- to_text ---------------------------------------------------------------------------


def test_progress_bar_keeps_only_the_last_state() -> None:
    assert to_text(b"10%\r20%\r30%") == "30%"
    assert to_text(b"step 1\n10%\r20%\r100%\nstep 2") == "step 1\n100%\nstep 2"


def test_crlf_is_a_newline_not_a_carriage_return() -> None:
    assert to_text(b"one\r\ntwo\r\n") == "one\ntwo\n"


def test_carriage_return_overwrites_like_a_terminal() -> None:
    assert to_text(b"abcdef\r12") == "12cdef"
    assert to_text(b"Downloading 100%\r\x1b[KDone") == "Done"
    assert to_text(b"\x1b[2Kretyped\r") == "retyped"


def test_backspaces_are_applied() -> None:
    assert to_text(b"abc\b\bX") == "aXc"
    assert to_text(b"ab\b \b") == "a"  # the shell's rubout idiom leaves no blank behind
    assert to_text(b"\b\bstart") == "start"


def test_cursor_forward_becomes_spaces() -> None:
    assert to_text(b"a\x1b[3Cb") == "a   b"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert to_text(b"ok \xff\xfe done") == "ok \ufffd\ufffd done"
    assert to_text(b"cut \xe6\x97") == "cut \ufffd"


def test_wide_characters_take_two_cells_when_overwritten() -> None:
    assert to_text("日本語".encode()) == "日本語"
    # "X" lands on the left half of 日: the wide glyph is gone, its right half is blank.
    assert to_text("日本\rX".encode()) == "X 本"
    assert to_text("日本\rXYZ".encode()) == "XYZ"


def test_combining_characters_stay_with_their_base() -> None:
    assert to_text("e\u0301".encode()) == "e\u0301"
    assert to_text("xe\u0301\r\u00e0".encode()) == "\u00e0e\u0301"


def test_escapes_split_across_lines_do_not_leak() -> None:
    text = to_text(b"\x1b[38;5;211mUnable\x1b[39m to connect\r\n\x1b[0m\x1b[39m\x1b[49mEXIT=1")
    assert text == "Unable to connect\nEXIT=1"


@pytest.mark.parametrize("path", SCREEN_FILES, ids=[p.name for p in SCREEN_FILES])
def test_real_cli_screens_become_clean_text(path: Path) -> None:
    text = to_text(path.read_bytes())
    assert "\x1b" not in text
    assert not any(ord(c) < 32 and c not in "\n\t" for c in text)
    name = path.name
    expected = {
        "claude": ["Unable to connect to Anthropic services", "EXIT=1"],
        "codex-0.169.0-prompt": ["OpenAI Codex", "(v0.169.0)"],
        "codex-0.169.0-signin": ["Sign in with ChatGPT", "Press enter to continue"],
        "codex-0.169.0-working": ["Reconnecting... 3/5", "esc to interrupt"],
        "gemini-0.61.0-prompt": ["Gemini CLI v0.61.0", "Type your message"],
        "gemini-0.61.0-thinking": ["Thinking...", "(esc to cancel, 3s)"],
        "gemini-0.61.0-trust": ["Do you trust the files in this folder?", "1. Trust folder"],
        "gemini-0.61.0-typed": ["> Add a README to this folder"],
    }
    words = next(v for k, v in expected.items() if name.startswith(k))
    for word in words:
        assert word in text, f"{word!r} missing from {name}"


def test_screens_fixture_is_present() -> None:
    assert SCREEN_FILES, f"no *.ansi screens in {SCREENS}"


# -- RingBuffer ------------------------------------------------------------------------


def test_ring_keeps_the_last_capacity_bytes() -> None:
    ring = RingBuffer(10)
    ring.append(b"hello ")
    ring.append(b"world!")
    assert ring.data() == b"llo world!"
    assert ring.total == 12
    ring.append(b"0123456789abc")
    assert ring.data() == b"3456789abc"
    assert ring.total == 25


def test_ring_stays_bounded_under_a_flood() -> None:
    ring = RingBuffer(64 * 1024)
    chunk = bytes(range(256)) * 256  # 64 KiB
    tracemalloc.start()
    try:
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            ring.append(chunk)
            assert len(ring) <= ring.capacity
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ring.total == 50 * 1024 * 1024
    assert ring.data() == chunk
    # The ring itself plus one chunk in flight; a leak would reach megabytes.
    assert peak < 1024 * 1024


# -- LogStream -------------------------------------------------------------------------


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def test_reads_only_what_was_appended(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"first\n")
    stream = LogStream(log)
    assert stream.last_output_at is None
    assert stream.read_new() == b"first\n"
    assert stream.last_output_at is not None
    assert stream.read_new() == b""
    _append(log, b"second\n")
    assert stream.read_new() == b"second\n"
    assert stream.offset == len(b"first\nsecond\n")
    assert stream.ring.data() == b"first\nsecond\n"


def test_start_at_end_skips_old_output(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"old output\n")
    stream = LogStream(log, start_at_end=True)
    assert stream.read_new() == b""
    _append(log, b"new\n")
    assert stream.read_new() == b"new\n"


def test_large_backlog_is_read_in_chunks(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 10_000)
    stream = LogStream(log, capacity=1024)
    sizes = []
    while chunk := stream.read_new(max_bytes=4096):
        sizes.append(len(chunk))
    assert sizes == [4096, 4096, 1808]
    assert len(stream.ring.data()) == 1024


def test_truncated_log_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"a long first line\n")
    stream = LogStream(log)
    stream.read_new()
    log.write_bytes(b"new\n")  # truncates and rewrites
    assert stream.read_new() == b"new\n"


def test_deleted_log_reads_nothing_and_is_not_recreated(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"x\n")
    stream = LogStream(log)
    stream.read_new()
    log.unlink()
    assert stream.read_new() == b""
    assert stream.size() == 0
    assert not log.exists()


def test_missing_log_can_appear_later(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    stream = LogStream(log, start_at_end=True)
    assert stream.read_new() == b""
    log.write_bytes(b"hello\n")
    assert stream.read_new() == b"hello\n"


def test_seek_and_size(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"0123456789")
    stream = LogStream(log)
    assert stream.size() == 10
    stream.seek(6)
    assert stream.read_new() == b"6789"


def test_partial_line_shows_an_unanswered_prompt(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"Removing 3 files\r\n\x1b[1mContinue? [y/N] \x1b[0m")
    stream = LogStream(log)
    stream.read_new()
    assert stream.partial_line() == "Continue? [y/N] "
    assert stream.last_line() == "Continue? [y/N]"
    _append(log, b"y\r\ndone\r\n")
    stream.read_new()
    assert stream.partial_line() == ""
    assert stream.last_line() == "done"


def test_last_line_skips_blank_lines_and_applies_carriage_returns(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"building\r\n 10%\r 55%\r100%\r\n\r\n   \r\n")
    stream = LogStream(log)
    stream.read_new()
    assert stream.last_line() == "100%"


@pytest.mark.parametrize("blank", [0, 900, 3000, 20000])
def test_last_line_is_found_however_much_blank_output_follows_it(
    tmp_path: Path, blank: int
) -> None:
    # The end is decoded first and the window widened only when it holds no line.
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 5000 + b"\nearlier\n" + b"Deploy? [y/N] \r\n" + b" \r\n" * (blank // 3))
    stream = LogStream(log)
    stream.read_new()
    assert stream.last_line() == "Deploy? [y/N]"


def test_tail_text_after_wrap_drops_the_cut_first_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    lines = [f"\x1b[32mline {i}\x1b[0m\n".encode() for i in range(1000)]
    log.write_bytes(b"".join(lines))
    stream = LogStream(log, capacity=200)
    while stream.read_new():
        pass
    text = stream.tail_text()
    assert text.endswith("line 999\n")
    assert "\x1b" not in text
    assert text.startswith("line ")  # no half line, no half escape at the start
    assert stream.tail_text(max_chars=9) == "line 999\n"


def test_reads_are_durable_across_stream_objects(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"before restart\n")
    first = LogStream(log)
    first.read_new()
    _append(log, b"while down\n")
    second = LogStream(log)
    second.seek(first.offset)
    assert second.read_new() == b"while down\n"


@pytest.mark.skipif(os.name != "posix", reason="inode replacement is POSIX behaviour")
def test_replaced_log_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"0123456789\n")
    stream = LogStream(log)
    stream.read_new()
    keep = tmp_path / "keep"  # hold the old inode so the new file gets another one
    os.link(log, keep)
    replacement = tmp_path / "new.log"
    replacement.write_bytes(b"a fresh and longer file\n")
    os.replace(replacement, log)
    assert stream.read_new() == b"a fresh and longer file\n"
