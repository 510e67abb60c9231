"""One store/queue suite over both backends: the `backend` fixture opens Stores on a fresh
SQLite file or on a fresh database of the session's PostgreSQL server (tests/pgserver.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.state.store import Store, open_store


class Backend:
    """Where a test's store lives; each call opens one more connection to it."""

    def __init__(self, name: str, location: str | Path, state_dir: Path) -> None:
        self.name = name
        self.location = location
        self.state_dir = state_dir
        self.opened: list[Store] = []

    def __call__(self) -> Store:
        store = open_store(self.location, state_dir=self.state_dir, init=not self.opened)
        self.opened.append(store)
        return store

    def close(self) -> None:
        """Close every store the test opened."""
        for store in self.opened:
            store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A place for a store on SQLite, then on PostgreSQL (a database of its own per test)."""
    state_dir = tmp_path / "s"
    if request.param == "sqlite":
        where = Backend("sqlite", state_dir / "state.db", state_dir)
        yield where
        where.close()
        return
    server = request.getfixturevalue("pg_server")
    name = f"t_{secrets.token_hex(6)}"
    server.create_database(name)
    state_dir.mkdir(mode=0o700)
    where = Backend("postgresql", server.url(name), state_dir)
    try:
        yield where
    finally:
        where.close()
        server.drop_database(name)
