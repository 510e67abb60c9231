"""What a failure means for a person: store errors explained, agent commands found."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from overseer.agents.maintenance import command_word
from overseer.state.store import Store, StoreError, ensure_private_dir, explain


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (sqlite3.OperationalError("database is locked"), ["locked", "close whatever holds"]),
        (sqlite3.OperationalError("database or disk is full"), ["is full", "free some space"]),
        (OSError(errno.ENOSPC, "No space left on device"), ["is full"]),
        (sqlite3.OperationalError("attempt to write a readonly database"), ["not writable"]),
        (OSError(errno.EROFS, "Read-only file system"), ["not writable"]),
        (sqlite3.DatabaseError("database disk image is malformed"), ["corrupt", "move"]),
        (sqlite3.DatabaseError("file is not a database"), ["corrupt"]),
        (sqlite3.OperationalError("disk I/O error"), ["file-size limit"]),
        (OSError(errno.EFBIG, "File too large"), ["file-size limit"]),
        (RuntimeError("something else"), ["could not be used", "something else"]),
    ],
)
def test_explain_says_what_broke_and_what_to_do(exc: BaseException, words: list[str]) -> None:
    text = explain(exc, Path("/srv/project/.overseer"))
    assert "/srv/project/.overseer" in text
    for word in words:
        assert word in text


def test_a_database_that_cannot_be_written_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    Store(db).close()
    # A file that is not SQLite at all, then an unusable directory in the way.
    db.write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match="corrupt"):
        Store(db)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot use the directory"):
        ensure_private_dir(blocker / "sub")


@pytest.mark.parametrize(
    ("command", "word"),
    [
        ("bash", "bash"),
        ("exec bash --noprofile -i", "bash"),
        ("env FOO=1 BAR=2 claude --model x", "claude"),
        ("FOO=1 ./bin/agent", "./bin/agent"),
        ("'unterminated", None),
        ("", None),
    ],
)
def test_command_word_finds_the_program(command: str, word: str | None) -> None:
    assert command_word(command) == word
