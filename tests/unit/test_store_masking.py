"""The store masks every text it writes, whichever way it is written (one place, not callers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from overseer.state import queue
from overseer.state.models import AgentState, AttemptOutcome
from overseer.state.store import Store

SECRET = "ghp_" + "Q" * 36


def dump(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_every_write_path_masks_its_text(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
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
    store.close()
    assert SECRET not in dump(tmp_path / "state.db")
    store = Store(tmp_path / "state.db")
    assert store.command(cid).args == {"text": "export TOKEN=***", "enter": True}  # type: ignore[union-attr]
    assert store.agent("w").prompt == "Token ghp_***? [y/N]"  # type: ignore[union-attr]
