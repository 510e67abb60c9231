"""An attempt's frames: cut where reads ended, at line ends, masked, paced."""

from __future__ import annotations

from overseer.agents.record import Frame, Recording, _frames, _until_end
from overseer.state.models import Attempt


def test_frames_end_at_line_ends_so_a_secret_read_in_two_pieces_is_masked() -> None:
    data = b"one\nAPI_TOKEN=abcd" + b"1234secret\ntwo"
    frames = _frames(data, 100, [(117, 50.0), (131, 51.5)], began=49.0)
    assert [(f.at, f.text) for f in frames] == [
        (1.0, "one\n"),
        (2.5, "API_TOKEN=***\n"),
        (2.5, "two"),
    ]


def test_pauses_are_capped_then_the_whole_is_sped_up() -> None:
    attempt = Attempt(id=1, task_id="t", number=1, agent="w", started_at=0.0)
    rec = Recording(attempt, [Frame(0.5, "a"), Frame(10.5, "b"), Frame(11.0, "c")], True)
    assert [f.at for f in rec.paced(idle_limit=2.0)] == [0.5, 2.5, 3.0]
    assert [f.at for f in rec.paced(speed=2.0, idle_limit=2.0)] == [0.25, 1.25, 1.5]
    assert [f.at for f in rec.paced()] == [0.5, 10.5, 11.0]


def test_an_attempt_ends_at_its_sentinel_even_when_its_exit_was_recorded_first() -> None:
    # The exit came from the rc file at t=10; tmux relayed the last line into the log at 10.2.
    nonce = "ab12cd34ef56"
    attempt = Attempt(
        id=1, task_id="t", number=1, agent="w", started_at=0.0, finished_at=10.0, nonce=nonce
    )
    data = b"$ bash t.1.sh\nsecret line\n\x1eOVS:" + nonce.encode() + b":0:-\x1e\n$ next"
    kept = _until_end(data, attempt, [(14, 1.0), (len(data), 10.2)])
    assert kept.endswith(b":0:-\x1e") and b"secret line" in kept and b"next" not in kept
    # A shell that died before its sentinel: the reads up to the finish are the attempt's.
    cut = _until_end(b"$ bash t.1.sh\nhalf", attempt, [(14, 1.0), (18, 11.0)])
    assert cut == b"$ bash t.1.sh\n"
