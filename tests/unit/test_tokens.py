"""API tokens in the store (both backends): only a hash is kept, names are unique, a revoked
token stops working; and the grouped attempt counts /metrics reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from overseer.state import queue
from overseer.state.models import AttemptOutcome
from overseer.state.store import SCHEMA_VERSION, Store, StoreError, token_digest
from tests.backends import Backend
from tests.backends import backend as backend  # noqa: F401 (the fixture)
from tests.helpers import DROP_V8


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend()


def test_tokens_keep_only_a_hash_and_resolve_to_their_role(store: Store) -> None:
    secret = "s3cret-token-value"
    store.add_token("ci", "viewer", token_digest(secret))
    store.add_token("ops", "operator", token_digest("other"))
    assert store.token_role(token_digest(secret)) == "viewer"
    assert store.token_role(token_digest("other")) == "operator"
    assert store.token_role(token_digest("guess")) is None
    assert [(n, r) for n, r, _ in store.tokens()] == [("ci", "viewer"), ("ops", "operator")]
    stored = [tuple(r) for r in store.conn.execute("SELECT * FROM tokens").fetchall()]
    assert not any(secret in str(value) for row in stored for value in row)
    with pytest.raises(StoreError, match="exists already"):
        store.add_token("ci", "operator", token_digest("third"))
    assert store.revoke_token("ci") is True
    assert store.token_role(token_digest(secret)) is None
    assert store.revoke_token("ci") is False


def test_attempt_counts_group_by_outcome_and_exit_code(store: Store) -> None:
    store.upsert_tasks([{"id": t, "command": "x"} for t in ("a", "b", "c")])
    for code in (2, 2, 0):
        claim = queue.claim(store, "w", 60)
        assert claim is not None
        outcome = AttemptOutcome.OK if code == 0 else AttemptOutcome.FAILED
        queue.finish(store, claim.task.id, claim.attempt.number, outcome, exit_code=code)
    counts = store.attempt_counts()
    assert counts[(AttemptOutcome.FAILED.value, 2)] == 2
    assert counts[(AttemptOutcome.OK.value, 0)] == 1


def test_a_version_6_store_migrates_to_tokens(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    conn = sqlite3.connect(path)  # as a version-6 store was: no tokens, no outcome index
    conn.executescript(
        DROP_V8 + "DROP TABLE tokens; DROP INDEX attempts_outcome; "
        "UPDATE meta SET value='6' WHERE key='schema_version';"
    )
    conn.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    store.add_token("ci", "viewer", token_digest("t"))
    assert store.token_role(token_digest("t")) == "viewer"
    plan = " ".join(
        str(tuple(r))
        for r in store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT outcome, exit_code, COUNT(*) FROM attempts "
            "GROUP BY outcome, exit_code"
        )
    )
    assert "COVERING INDEX attempts_outcome" in plan  # /metrics never reads the table itself
