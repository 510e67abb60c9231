"""Fuzz the output parsers: whatever bytes a pane prints, and however they are chunked.

Properties: never a traceback; a real sentinel (or ready marker) embedded anywhere in random
output, split at random chunk boundaries, is found exactly once with the right status; an
imitation without the nonce is never accepted; rendered text never carries escapes or
control characters; a LogStream reassembles exactly what was appended.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from overseer.agents.runner import Scanner, Status, find_ready, find_sentinel
from overseer.agents.stream import LogStream, RingBuffer, strip_ansi, to_text

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NONCE = "0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba98"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Bytes that look like terminal output at its worst: escapes, controls, broken UTF-8,
# wide and combining characters, sentinel fragments.
TOKENS = [
    b"\x1b",
    b"\x1b[",
    b"\x1b[31m",
    b"\x1b[2K",
    b"\x1b[5C",
    b"\x1b[5 C",
    b"\x1b[999C",
    b"\x1b[3D",
    b"\x1b[10G",
    b"\x1b]0;title\x07",
    b"\x1b]8;;http://x\x1b\\",
    b"\x1bP",
    b"\x1b\\",
    b"\x9b",
    b"\xc2\x9b1m",
    b"\r",
    b"\n",
    b"\r\n",
    b"\b",
    b"\t",
    b"\x00",
    b"\x07",
    b"\x1e",
    b"\x1eOVS:",
    b"\x1eOVS-READY:",
    b":0:-\x1e",
    b"\xff\xfe",
    b"\xe6\x97",
    "日本".encode(),
    "e\u0301".encode(),
    "\u200b".encode(),
    b"[y/N] ",
    b"x",
    b"progress 42%",
]
noise = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.binary(max_size=40)),
    max_size=40,
).map(b"".join)


def sentinel(nonce: str, rc: int, vrc: int | None) -> bytes:
    return b"\n\x1eOVS:%s:%d:%s\x1e\n" % (nonce.encode(), rc, b"-" if vrc is None else b"%d" % vrc)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


# -- sentinels and ready markers --------------------------------------------------------


@SETTINGS
@given(
    before=noise,
    after=noise,
    rc=st.integers(0, 255),
    vrc=st.one_of(st.none(), st.integers(0, 255)),
    cuts=st.lists(st.integers(0, 10_000), max_size=12),
)
@example(before=b"\x1eOVS:", after=b"", rc=0, vrc=None, cuts=[1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_a_real_sentinel_split_anywhere_is_found_exactly_once(
    before: bytes, after: bytes, rc: int, vrc: int | None, cuts: list[int]
) -> None:
    assume(NONCE.encode() not in before + after)
    stream = before + sentinel(NONCE, rc, vrc) + after
    scanner = Scanner()
    found = []
    for chunk in chunked(stream, cuts):
        scanner.feed(chunk)
        status = scanner.sentinel(NONCE)
        if status is not None:
            found.append(status)
        # Asking again about the same window never reports it twice, nor after a trim.
        assert scanner.sentinel(NONCE) is None
        scanner.trim()
        assert len(scanner.window) <= Scanner.KEEP
        assert scanner.sentinel(NONCE) is None
    assert found == [Status(rc, vrc)]


@SETTINGS
@given(
    data=noise,
    rc=st.integers(0, 999),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_an_imitation_without_the_nonce_is_never_accepted(
    data: bytes, rc: int, cuts: list[int]
) -> None:
    # Output cannot know the fresh nonce: everything else that looks like a sentinel.
    fake = data + b"\x1eOVS:%s:%d:-\x1e" % (OTHER.encode(), rc) + data
    fake += b"\x1eOVS:%s:0:-\x1e" % NONCE[:-2].encode()  # a prefix of the nonce
    fake += b"\x1eOVS:%s00:0:-\x1e" % NONCE.encode()  # the nonce plus more
    assume(NONCE.encode() not in fake.replace(NONCE.encode() + b"00", b""))
    assert find_sentinel(fake, NONCE) is None
    scanner = Scanner()
    for chunk in chunked(fake, cuts):
        scanner.feed(chunk)
        assert scanner.sentinel(NONCE) is None


@SETTINGS
@given(before=noise, after=noise, cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_the_ready_marker_split_anywhere_is_found_once(
    before: bytes, after: bytes, cuts: list[int]
) -> None:
    assume(NONCE.encode() not in before + after)
    stream = before + b"\x1eOVS-READY:%s\x1e\n" % NONCE.encode() + after
    scanner = Scanner()
    hits = 0
    for chunk in chunked(stream, cuts):
        scanner.feed(chunk)
        hits += scanner.ready(NONCE)
        assert not scanner.ready(OTHER)
    assert hits == 1
    assert find_ready(stream, NONCE) and not find_ready(stream, OTHER)


@SETTINGS
@given(data=st.binary(max_size=2000), nonce=st.text(max_size=70))
def test_finders_never_raise_on_arbitrary_input(data: bytes, nonce: str) -> None:
    find_sentinel(data, nonce)
    find_ready(data, nonce)
    scanner = Scanner()
    scanner.feed(data)
    scanner.sentinel(nonce)
    scanner.ready(nonce)


def test_two_attempts_in_one_window_each_get_their_own_status() -> None:
    scanner = Scanner()
    scanner.feed(sentinel(OTHER, 3, None) + b"prompt$ " + sentinel(NONCE, 0, 0))
    assert scanner.sentinel(OTHER) == Status(3, None)
    assert scanner.sentinel(NONCE) == Status(0, 0)
    scanner.reset()
    scanner.feed(b"")
    assert scanner.sentinel(NONCE) is None


# -- text rendering ---------------------------------------------------------------------


@SETTINGS
@given(data=noise)
@example(data=b"a\x1b[5 Cb")
@example(data=b"\x1b[999Cx" * 50)
def test_to_text_never_raises_and_leaves_no_controls(data: bytes) -> None:
    text = to_text(data)
    assert "\x1b" not in text
    assert "\r" not in text
    assert not CONTROL.search(text), repr(text)


@SETTINGS
@given(data=noise)
def test_strip_ansi_never_raises_and_is_idempotent(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    plain = strip_ansi(text)
    assert not CONTROL.search(plain)
    assert strip_ansi(plain) == plain


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_to_text_on_random_bytes(data: bytes) -> None:
    text = to_text(data)
    assert not CONTROL.search(text)


def test_cursor_moves_cannot_blow_up_a_line() -> None:
    # 64 KiB of "move right 999, print x": a terminal clamps the cursor at its width, and
    # so does the renderer; the result stays proportional to the input.
    text = to_text(b"\x1b[999Cx" * (65536 // 7))
    assert len(text) < 70_000
    assert text.count("x") == 65536 // 7


def test_printable_text_survives_rendering_untouched() -> None:
    line = "naïve ☃ 日本 e\u0301 $HOME `x` 'q' \"d\" ; \t tab"
    assert to_text(line.encode()) == line


# -- LogStream over random chunkings --------------------------------------------------------


@SETTINGS
@given(
    data=st.binary(max_size=5000),
    cuts=st.lists(st.integers(0, 10_000), max_size=15),
    capacity=st.integers(1, 600),
    max_bytes=st.integers(1, 700),
)
def test_logstream_reassembles_what_was_appended(
    data: bytes, cuts: list[int], capacity: int, max_bytes: int
) -> None:
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "a.log"
        stream = LogStream(log, capacity=capacity)
        got = bytearray()
        for chunk in chunked(data, cuts):
            with log.open("ab") as f:
                f.write(chunk)
            while piece := stream.read_new(max_bytes=max_bytes):
                got += piece
            assert len(stream.ring) <= capacity
            stream.tail_text(100)
            stream.last_line()
            stream.partial_line()
        assert bytes(got) == data
        assert stream.ring.data() == data[-capacity:] if data else stream.ring.data() == b""
        assert stream.offset == len(data)


@SETTINGS
@given(chunks=st.lists(st.binary(max_size=300), max_size=30), capacity=st.integers(1, 500))
def test_ring_buffer_is_the_suffix_of_everything_appended(
    chunks: list[bytes], capacity: int
) -> None:
    ring = RingBuffer(capacity)
    for c in chunks:
        ring.append(c)
        assert len(ring) <= capacity
    everything = b"".join(chunks)
    assert ring.data() == everything[-capacity:] if everything else ring.data() == b""
    assert ring.total == len(everything)
