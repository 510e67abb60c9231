"""The dashboard on a PostgreSQL store: told of each committed write by LISTEN/NOTIFY (no
polling, no files to watch), and nothing read while nothing changes."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.state.backend import STORE_ENV
from overseer.state.pgstore import ChangeListener
from overseer.state.store import Store, open_store
from overseer.tui.screens import main
from tests.helpers import wait_until
from tests.pgserver import PgServer
from tests.tui.fixtures import make_app, shows_a_write_without_polling


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with Overseer's schema."""
    name = f"t_{secrets.token_hex(6)}"
    pg_server.create_database(name)
    url = pg_server.url(name)
    open_store(url, init=True).close()
    try:
        yield url
    finally:
        pg_server.drop_database(name)


def test_a_listener_hears_each_committed_write_and_nothing_else(pg_url: str) -> None:
    heard = threading.Event()
    listener = ChangeListener(pg_url, heard.set)
    listener.start()
    writer: Store = open_store(pg_url)
    try:
        assert not heard.wait(0.5)  # a quiet database says nothing
        with writer.tx():
            writer.event("note", "one")
            assert not heard.wait(0.3)  # not before the commit
        wait_until(heard.is_set, timeout=10, message="no notification for a commit")
        heard.clear()
        writer.upsert_tasks([{"id": "a", "command": "true"}])
        wait_until(heard.is_set, timeout=10, message="no notification for the second commit")
    finally:
        listener.stop()
        writer.close()


async def test_a_write_wakes_the_dashboard_on_postgresql_without_polling(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No timed re-read and no poll within the test: only the notification can wake the reader.
    monkeypatch.setattr(main, "REFRESH_IDLE", 3600.0)
    monkeypatch.setattr(main, "POLL", 3600.0)
    monkeypatch.setenv(STORE_ENV, pg_url)
    app = make_app(tmp_path, live=True)

    def write() -> None:
        store = open_store(pg_url)
        store.upsert_tasks([{"id": "brand-new", "command": "true"}])
        store.close()

    # The queue starts empty: the database's queue is shown, not the fixture's SQLite one.
    await shows_a_write_without_polling(app, write, empty_first=True)
