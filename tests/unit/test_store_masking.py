"""The store masks every text it writes, whichever way it is written (one place, not callers)."""

from __future__ import annotations

import sqlite3

from overseer.state import queue
from overseer.state.models import AgentState, AttemptOutcome
from tests.backends import Backend

SECRET = "ghp_" + "Q" * 36


def dump(backend: Backend) -> str:
    """Every row of every table, as text (SQLite: the whole file's dump)."""
    if backend.name == "sqlite":
        conn = sqlite3.connect(backend.location)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    store = backend()
    tables = store.conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
    ).fetchall()
    assert len(tables) >= 8  # the dump sees the schema
    return "\n".join(
        repr(tuple(row))
        for (table,) in tables
        for row in store.conn.execute(f"SELECT * FROM {table}")
    )


def test_every_write_path_masks_its_text(backend: Backend) -> None:
    store = backend()
    store.upsert_tasks([{"id": "a", "command": "true"}, {"id": "b", "command": "true"}])
    store.upsert_agent("w", "shell")
    store.event("note", f"prompt says {SECRET}", data={"prompt": f"use {SECRET}", "n": [SECRET]})
    store.update_agent(
        "w",
        state=AgentState.WAITING,
        reason=f"stalled on {SECRET}",
        prompt=f"Token {SECRET}? [y/N]",
        last_line=f"export GITHUB_TOKEN={SECRET}",
    )
    claim = queue.claim(store, "w", 30)
    assert claim is not None
    queue.finish(
        store,
        claim.task.id,
        claim.attempt.number,
        AttemptOutcome.FAILED,
        exit_code=1,
        reason=f"failed using {SECRET}",
        output_tail=f"token {SECRET}",
        result=f"answer {SECRET}",
        block_reason=f"blocked: {SECRET}",
    )
    queue.block(store, "b", f"held for {SECRET}")
    cid = store.enqueue_command("send", "w", {"text": f"export TOKEN={SECRET}", "enter": True})
    assert store.command(cid).args["text"].endswith(SECRET)  # type: ignore[union-attr]
    with store.tx() as c:
        store.finish_command_in(c, cid, True, f"typed {SECRET} into w")
    assert SECRET not in dump(backend)
    store = backend()
    assert store.command(cid).args == {"text": "export TOKEN=***", "enter": True}  # type: ignore[union-attr]
    assert store.agent("w").prompt == "Token ghp_***? [y/N]"  # type: ignore[union-attr]
