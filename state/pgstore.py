"""The Store on PostgreSQL: the same methods and SQL as on SQLite, over one psycopg connection.

What differs lives here and in state/backend.py: write transactions serialise on one advisory
lock (as SQLite's BEGIN IMMEDIATE serialises writers), reads see one snapshot (REPEATABLE
READ), change detection follows the WAL, and the schema is made or migrated only by
`overseer db init`. Claims are one statement of their own (state/queue.py).
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from overseer.state.backend import ROLES, Conn, PgConn, mask_url, pg_ddl
from overseer.state.models import Agent
from overseer.state.statedir import StoreError
from overseer.state.store import DB_NAME, MIGRATIONS, SCHEMA_VERSION, Store, _agent

# The advisory lock every write transaction holds (any fixed number; "ovs" in ASCII).
WRITE_LOCK = 0x6F7673
BEGIN_WRITE = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
# Every write transaction tells the listeners (the dashboard) at its commit: one empty
# notification per transaction, sent with the COMMIT (no extra round trip). Claims, one
# statement each, do not: a NOTIFY costs a claim up to half its rate (bench/pg_probe.md), and
# the supervisor's next write (the agent it hands the task to) tells of it.
CHANNEL = "overseer"
COMMIT_WRITE = f"NOTIFY {CHANNEL}; COMMIT"


class PgStore(Store):
    """The state of one project in a PostgreSQL database; every public method is one
    transaction, as on SQLite."""

    backend = "postgresql"
    local = False
    # A row read and then rewritten is locked as it is read: claims, which take no advisory
    # lock, skip it rather than change it under the writer.
    lock_rows = " FOR UPDATE"

    def __init__(self, url: str, *, state_dir: Path | None = None, init: bool = False) -> None:
        self.location = url
        self.path = (state_dir or Path.cwd()) / DB_NAME  # no file: its parent is the state dir
        self.wake_path = state_dir
        self._tx_owner: int | None = None
        self._agents_read: dict[Any, Agent] = {}  # each agent's last row read -> its Agent
        self.pg = PgConn(url)
        self.conn: Conn = self.pg
        try:
            if init:
                self._migrate()
            else:
                self._check_schema()
        except BaseException:
            self.pg.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        self.pg.close()

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        """One write transaction holding the store's write lock; one opened inside another (by
        the same thread) joins it and commits with it."""
        me = threading.get_ident()
        if self._tx_owner == me:
            yield self.pg
            return
        self.pg.script(BEGIN_WRITE)
        self._tx_owner = me
        try:
            yield self.pg
        except BaseException:
            self._tx_owner = None
            if self.pg.in_transaction:
                with suppress(Exception):  # a lost connection must not hide the first error
                    self.pg.script("ROLLBACK")
            raise
        else:
            self._tx_owner = None
            self.pg.script(COMMIT_WRITE)

    @contextmanager
    def read(self) -> Iterator[None]:
        """One read transaction: every query inside it sees the same committed state."""
        self.pg.script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if self.pg.in_transaction:
                self.pg.script("COMMIT")

    def data_version(self) -> int:
        """Where the server's write-ahead log ends: every commit moves it (so do other
        databases' writes, which only cost a needless re-read)."""
        row = self.pg.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").fetchone()
        return int(row[0])

    def agents(self) -> list[Agent]:
        """As on SQLite; an agent whose row is as the last call read it is the same (frozen)
        object, not decoded again: a dashboard reads every agent at each commit, and at 500
        agents over ten hosts most rows did not move since."""
        known = self._agents_read
        fresh: dict[Any, Agent] = {}
        for row in self.pg.execute("SELECT * FROM agents ORDER BY name"):
            fresh[row] = known.get(row) or _agent(row)
        self._agents_read = fresh
        return list(fresh.values())

    def completions_since(self, since: float) -> list[float]:
        """As on SQLite, in one row: an array is decoded at once, not row by row (a fleet of
        500 agents finishes thousands of attempts in the sparkline's ten minutes)."""
        row = self.pg.execute(
            "SELECT array_agg(finished_at) FROM attempts WHERE outcome='ok' AND finished_at >= ?",
            (since,),
        ).fetchone()
        return [float(ts) for ts in row[0] or ()]

    def task_marks(
        self, updated_at: float | None = None, after_seq: int = 0
    ) -> list[tuple[str, float, str, float | None]]:
        """As on SQLite; every task's marks come as four arrays in one row (the periodic
        check at 100,000 tasks: a row each cost 0.6 s of the dashboard's CPU)."""
        if updated_at is not None:
            return super().task_marks(updated_at, after_seq)
        row = self.pg.execute(
            "SELECT array_agg(id), array_agg(updated_at), array_agg(state), "
            "array_agg(lease_expires_at) FROM tasks"
        ).fetchone()
        return list(zip(*row, strict=True)) if row[0] else []

    def integrity_check(self) -> str:
        """'ok': the server keeps its own pages whole (there is no file here to check)."""
        self.pg.execute("SELECT 1").fetchone()
        return "ok"

    def grant_roles(self) -> list[str]:
        """Make the viewer, operator and supervisor roles (NOLOGIN groups: GRANT one to a
        login) and give them this database's tables (run it again after a migration: the
        grants cover the tables there are)."""
        viewer, operator, supervisor = "overseer_viewer", "overseer_operator", "overseer_supervisor"
        every = f"{viewer}, {operator}, {supervisor}"
        with self.tx():
            for role in ROLES:
                self.pg.script(
                    f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
                    f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
                )
            db = self.pg.execute("SELECT current_database()").fetchone()[0].replace('"', '""')
            self.pg.script(
                f'GRANT CONNECT ON DATABASE "{db}" TO {every}; '
                f"GRANT USAGE ON SCHEMA public TO {every}; "
                f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {every}; "
                # An operator queues commands and adds tasks (with their events); what the
                # commands do is the supervisor's to apply.
                f"GRANT INSERT ON commands, tasks, task_deps, events TO {operator}; "
                f"GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {supervisor}; "
                f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {operator}, {supervisor}"
            )
        return [viewer, operator, supervisor]

    def sender(self) -> str:
        """Who writes an operator command: the database role and the OS user@host."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a bare container)
            user = str(os.getuid())
        return f"{self.pg.raw.info.user} ({user}@{socket.gethostname()})"

    def _version(self) -> int | None:
        """The schema version recorded (None: no Overseer schema in this database)."""
        if self.pg.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
            return None
        row = self.pg.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None

    def _check_schema(self) -> None:
        where = mask_url(self.location)
        version = self._version()
        if version is None:
            raise StoreError(
                f"the database at {where} holds no Overseer schema: create it with "
                "`overseer db init` (with the same --store)"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database at {where} has schema version {version}, newer than this "
                f"Overseer understands ({SCHEMA_VERSION}); upgrade Overseer."
            )
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"the database at {where} has schema version {version}, older than this "
                f"Overseer's ({SCHEMA_VERSION}): migrate it with `overseer db init`"
            )

    def _migrate(self) -> None:
        """Create or bring the schema up to date, one version at a time, in one transaction."""
        with self.tx() as c:
            version = self._version() or 0
            if version > SCHEMA_VERSION:
                self._check_schema()
            for i in range(version, SCHEMA_VERSION):
                self.pg.script(pg_ddl(MIGRATIONS[i]))
            c.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(SCHEMA_VERSION),),
            )


class ChangeListener:
    """Calls `on_change` (from its own thread) whenever a write transaction commits in the
    database: LISTEN on its own connection, no polling. `stop` ends it."""

    def __init__(self, url: str, on_change: Callable[[], None]) -> None:
        self.url = url
        self.on_change = on_change
        self._stop = threading.Event()
        self._conn = PgConn(url)  # connecting fails here, in the caller, with a StoreError
        self._conn.script(f"LISTEN {CHANNEL}")
        self._thread = threading.Thread(target=self._run, name="overseer-listen", daemon=True)

    def start(self) -> None:
        """Begin listening."""
        self._thread.start()

    def _run(self) -> None:
        raw = self._conn.raw
        try:
            while not self._stop.is_set():
                # Wakes for each notification, or after the timeout to look at the stop flag.
                for _ in raw.notifies(timeout=0.25):
                    self.on_change()
        except Exception:  # the connection went: the reader's own queries say why
            self.on_change()
        finally:
            with suppress(Exception):
                self._conn.close()

    def stop(self) -> None:
        """Stop listening and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        else:
            with suppress(Exception):
                self._conn.close()
