"""The durable store: SQLite in WAL mode, a versioned schema, and typed reads and writes."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from overseer.state import paths
from overseer.state.backend import Conn, ServerError, is_url, store_location
from overseer.state.hosts import host_id
from overseer.state.models import (
    Agent,
    AgentState,
    Attempt,
    AttemptOutcome,
    Command,
    CommandStatus,
    Event,
    HostInfo,
    SupervisorInfo,
    Task,
    TaskState,
    Usage,
    hosts_column,
    hosts_tuple,
)
from overseer.state.redact import mask, mask_data
from overseer.state.statedir import StoreError as StoreError
from overseer.state.statedir import check_path, command_origin, origin_record

SCHEMA_VERSION = 10
# Outcomes that do not use up one of a task's tries (released claims, superseded results,
# attempts cut off by a tmux death that is not charged to them).
FREE_OUTCOMES = (
    AttemptOutcome.RELEASED.value,
    AttemptOutcome.STALE.value,
    AttemptOutcome.INTERRUPTED.value,
)
DEMO_CONFIG = "<demo>"  # meta "config" value of a state dir made by --demo
DB_NAME = paths.DB_NAME
M = TypeVar("M")  # a model read from a row

# Each entry migrates from version i to i+1; index 0 creates the first schema.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        command TEXT NOT NULL,
        depends_on TEXT NOT NULL DEFAULT '[]',
        priority INTEGER NOT NULL DEFAULT 0,
        timeout REAL,
        verify TEXT,
        max_attempts INTEGER NOT NULL DEFAULT 3,
        cwd TEXT,
        env TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_by TEXT,
        lease_expires_at REAL,
        retry_at REAL,
        blocked_reason TEXT,
        exit_code INTEGER,
        started_at REAL,
        finished_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX tasks_state ON tasks(state, priority DESC, seq);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id TEXT NOT NULL REFERENCES tasks(id),
        number INTEGER NOT NULL,
        agent TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        outcome TEXT NOT NULL DEFAULT 'running',
        exit_code INTEGER,
        signal INTEGER,
        reason TEXT,
        output_tail TEXT NOT NULL DEFAULT '',
        nonce TEXT NOT NULL DEFAULT '',
        log_offset INTEGER NOT NULL DEFAULT 0,
        UNIQUE (task_id, number)
    );
    CREATE INDEX attempts_task ON attempts(task_id, number);
    CREATE TABLE agents (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        task_id TEXT,
        attempt_id INTEGER,
        pane_id TEXT,
        pid INTEGER,
        last_output_at REAL,
        heartbeat_at REAL,
        state_since REAL NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        respawns INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        last_line TEXT NOT NULL DEFAULT '',
        prompt TEXT
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        task_id TEXT,
        agent TEXT,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_task ON events(task_id);
    CREATE INDEX events_agent ON events(agent);
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        verb TEXT NOT NULL,
        target TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'queued',
        result TEXT,
        applied_at REAL
    );
    CREATE INDEX commands_status ON commands(status, id);
    CREATE TABLE supervisor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER,
        host TEXT,
        started_at REAL,
        heartbeat_at REAL
    );
    CREATE TABLE suggestions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        data TEXT NOT NULL
    );
    """,
    # 2: dismissed suggestions (key = target + action), each with the evidence it was
    # dismissed on; a changed evidence hash brings the suggestion back.
    """
    CREATE TABLE dismissals (
        key TEXT PRIMARY KEY,
        evidence_hash TEXT NOT NULL,
        ts REAL NOT NULL
    );
    """,
    # 3: prompt tasks for interactive agents, routing to one agent, the AI attempt's result.
    """
    ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'run';
    ALTER TABLE tasks ADD COLUMN agent TEXT;
    ALTER TABLE attempts ADD COLUMN result TEXT;
    CREATE INDEX tasks_kind ON tasks(kind, state);
    """,
    # 4: who wrote each operator command (uid@machine): others' commands are not applied.
    """
    ALTER TABLE commands ADD COLUMN origin TEXT;
    """,
    # 5: who depends on whom, indexed both ways, so a finished task promotes its own
    # dependants instead of the queue rescanning every pending task; and indexes for the
    # readers that ask what changed since (updated_at) or was added since (seq).
    """
    CREATE TABLE task_deps (
        task_id TEXT NOT NULL,
        dep_id TEXT NOT NULL,
        PRIMARY KEY (task_id, dep_id)
    ) WITHOUT ROWID;
    CREATE INDEX task_deps_dep ON task_deps(dep_id, task_id);
    CREATE INDEX tasks_updated ON tasks(updated_at);
    CREATE INDEX tasks_seq ON tasks(seq);
    INSERT OR IGNORE INTO task_deps(task_id, dep_id)
        SELECT t.id, j.value FROM tasks AS t, json_each(t.depends_on) AS j
    """,
    # 6: what AI CLIs say about themselves: their version (and whether it was tested), which
    # signals arrived, the source of the current state, and tokens/cost per attempt and agent.
    """
    ALTER TABLE agents ADD COLUMN cli_version TEXT;
    ALTER TABLE agents ADD COLUMN version_note TEXT;
    ALTER TABLE agents ADD COLUMN signals TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE agents ADD COLUMN state_source TEXT;
    ALTER TABLE agents ADD COLUMN usage TEXT;
    ALTER TABLE attempts ADD COLUMN usage TEXT
    """,
    # 7: API tokens for `overseer serve` (only a hash of each is kept), and an index that lets
    # /metrics count attempts by outcome and exit code without reading the table.
    """
    CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE INDEX attempts_outcome ON attempts(outcome, exit_code)
    """,
    # 8: several supervisors on one database, one per host: each host's heartbeat and tmux
    # label, the hosts a task may run on (",a,b," for a LIKE match; NULL: any), and the host
    # whose supervisor must apply an operator command (NULL: the first that takes it).
    """
    CREATE TABLE hosts (
        name TEXT PRIMARY KEY,
        pid INTEGER,
        started_at REAL,
        heartbeat_at REAL,
        stopped_at REAL,
        tmux_label TEXT
    );
    ALTER TABLE tasks ADD COLUMN hosts TEXT;
    ALTER TABLE commands ADD COLUMN host TEXT
    """,
    # 9: budgets of the project, agent groups and tasks, and what each did (state/budgets.py).
    """
    CREATE TABLE budgets (
        scope TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        warned_at REAL,
        acted_at REAL,
        reason TEXT,
        lifted_at REAL
    )
    """,
    # 10: runs (one per supervisor session; state/runs.py): each attempt names the run that
    # claimed it, so a report reads a run's attempts by index. `first_event`: the newest
    # event id when the run began (its events follow it). And the latency histograms the
    # supervisor keeps for /metrics (state/latency.py): a count and a sum per bucket.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        heartbeat_at REAL,
        first_event INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_host ON runs(host, ended_at);
    ALTER TABLE attempts ADD COLUMN run_id INTEGER;
    CREATE INDEX attempts_run ON attempts(run_id, started_at);
    CREATE INDEX attempts_started ON attempts(started_at);
    CREATE TABLE latency (
        metric TEXT NOT NULL,
        le REAL NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        total REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (metric, le)
    )
    """,
]


_ADD_EVENT = "INSERT INTO events(ts, kind, task_id, agent, message, data) VALUES (?,?,?,?,?,?)"


def _insert(c: Conn, sql: str, values: Sequence[Any]) -> int:
    """Insert one row; return its id (SQLite's lastrowid: RETURNING costs it ~5 us a row)."""
    if isinstance(c, sqlite3.Connection):
        return int(c.execute(sql, values).lastrowid or 0)
    return int(c.execute(sql + " RETURNING id", values).fetchone()[0])


# What retention removes (parameters: newest id to drop, cut-off time / cut-off time).
_OLD_EVENT = "(id <= ? OR ts < ?)"
_OLD_COMMAND = "(status != 'queued' AND ts < ?)"


def explain(exc: BaseException, path: Path | None = None) -> str:
    """What a database or file-system failure means for a person, and what to do about it."""
    if isinstance(exc, ServerError):
        return str(exc)  # PostgreSQL's, told already (state/backend.py)
    text = str(exc) or type(exc).__name__
    low = f"{text} {getattr(exc, 'sqlite_errorname', '')}".lower()
    code = exc.errno if isinstance(exc, OSError) else None
    what = f"the state in {path}" if path else "the state"
    if "unable to open" in low and path is not None and not _writable(path):
        low += " read-only"  # SQLite cannot create its -wal/-shm files beside the database
    if "locked" in low or "busy" in low:
        return (
            f"{what} stayed locked by another process ({text}); close whatever holds a write "
            "transaction on it (an sqlite3 shell, a backup tool) and try again"
        )
    if "is full" in low or "sqlite_full" in low or code in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk holding {what} is full ({text}); free some space and try again"
    if "readonly" in low or "read-only" in low or code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{what} is not writable ({text}); make it writable by this user and try again"
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return (
            f"{what} is corrupt ({text}); move the state.db files aside and start again "
            "(the tmux panes keep running)"
        )
    if "i/o" in low or "ioerr" in low or code in (errno.EIO, errno.EFBIG):
        return (
            f"writing {what} failed ({text}): a full disk, a file-size limit or a failing "
            "device; fix it and try again"
        )
    return f"{what} could not be used ({text})"


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with ESCAPE '!': its '%', '_' and '!' taken literally."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def running_sql(host: str | None) -> tuple[str, tuple[str, ...]]:
    """Counting running tasks: all of them, or those of one host's agents ("host/agent")."""
    sql = "SELECT COUNT(*) FROM tasks WHERE state='running'"
    if host is None:
        return sql, ()
    return sql + " AND claimed_by LIKE ? ESCAPE '!'", (like_literal(host) + "/%",)


def token_digest(token: str) -> str:
    """What the store keeps of an API token: its SHA-256 (tokens are 256 random bits, so a
    fast hash is enough: there is nothing to guess from it)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _loads_tuple(text: str) -> tuple[Any, ...]:
    return tuple(json.loads(text))


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _from_row(cls: type[M], row: Any, **convert: Callable[[Any], Any]) -> M:
    """A model from a row: each field from the column of its name, converted where asked."""
    values = {name: row[name] for name in _field_names(cls)}
    for name, fn in convert.items():
        values[name] = fn(values[name])
    return cls(**values)


def _task(row: Any) -> Task:
    return _from_row(
        Task, row, state=TaskState, depends_on=_loads_tuple, env=json.loads, hosts=hosts_tuple
    )


def usage_from_json(text: str | None) -> Usage | None:
    """A Usage stored as JSON (None: nothing reported)."""
    return Usage(**json.loads(text)) if text else None


def usage_json(usage: Usage | None) -> str | None:
    """A Usage as stored (JSON), or None."""
    return json.dumps(dataclasses.asdict(usage)) if usage is not None else None


def _attempt(row: Any) -> Attempt:
    return _from_row(Attempt, row, outcome=AttemptOutcome, usage=usage_from_json)


def _agent(row: Any) -> Agent:
    return _from_row(Agent, row, state=AgentState, signals=json.loads, usage=usage_from_json)


def _event(row: Any) -> Event:
    return _from_row(Event, row, data=json.loads)


def _command(row: Any) -> Command:
    return _from_row(Command, row, args=json.loads, status=CommandStatus)


def _writable(path: Path) -> bool:
    """Whether the directory holding `path` (or `path` itself, a directory) takes writes."""
    where = path if path.is_dir() else path.parent
    try:
        if os.statvfs(where).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(where, os.W_OK) and (
        where == path or not path.exists() or os.access(path, os.W_OK)
    )


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and make it readable by its owner only.

    A link or another user's directory there is refused (UnsafeStateDir), never followed.
    """
    try:
        st = check_path(path)
        if st is None:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = check_path(path)
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.chmod(path, 0o700)
    except OSError as exc:
        raise StoreError(f"cannot use the directory {path}: {explain(exc)}") from exc
    return path


@contextmanager
def _open_lock(db: Path) -> Iterator[None]:
    """Hold an exclusive flock on `<db>.open.lock` (skipped where the dir takes no writes)."""
    try:
        fd = os.open(
            f"{db}.open.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
    except OSError:
        yield  # a read-only state dir: nobody can be creating or migrating the database
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Store:
    """SQLite-backed state of one project; every public method is one transaction.

    state/pgstore.py's PgStore runs the same methods on PostgreSQL; `open_store` picks one.
    """

    backend = "sqlite"
    local = True  # the database is a file in the state dir (not a server's)
    here: str | None = None  # on a shared store: the host this process speaks for
    lock_rows = ""  # what a read that is about to be rewritten adds (BEGIN IMMEDIATE locks all)
    conn: Conn

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        self.path = Path(path)
        # What enqueue_command touches to wake a resting supervisor.
        self.wake_path: Path | None = self.path
        self.location: str | Path = self.path  # where the store is, as a person names it
        self._tx_owner: int | None = None  # the thread whose transaction is open
        ensure_private_dir(self.path.parent)
        # SQLite follows links: the database and its companions must be plain files of ours.
        for suffix in ("", "-wal", "-shm", ".open.lock"):
            check_path(Path(f"{self.path}{suffix}"))
        # Opening is serialised across processes: while one connection switches a new
        # database to WAL or migrates it, another one opening at the same moment can get
        # SQLITE_BUSY at once (the busy handler is not consulted for that lock dance).
        with _open_lock(self.path):
            fresh = not self.path.exists()
            try:
                self.conn = self.db = sqlite3.connect(
                    str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
                )
                if fresh:
                    os.chmod(self.path, 0o600)
                self.db.row_factory = sqlite3.Row
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"cannot open the state database: {explain(exc, self.path)}"
                ) from exc

    # -- plumbing -----------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        """One write transaction that takes the write lock up front (BEGIN IMMEDIATE); one
        opened inside another (by the same thread) joins it and commits with it."""
        me = threading.get_ident()
        if self._tx_owner == me:
            # Several writes that belong together (an attempt's end and its agent's idle
            # mark) cost one commit, and one fsync when it checkpoints.
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._tx_owner = me
        try:
            yield self.conn
        except BaseException:
            self._tx_owner = None
            # SQLite may already have rolled back (e.g. on a full disk); a failing ROLLBACK
            # must not hide the error that caused it.
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise
        else:
            self._tx_owner = None
            self.conn.execute("COMMIT")

    def _migrate(self) -> None:
        # An up-to-date database is only read: opening a store must not count as a change
        # for the readers watching PRAGMA data_version (the dashboard).
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None  # no meta table yet
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return
        with self.tx() as c:
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this Overseer "
                    f"understands ({SCHEMA_VERSION}); upgrade Overseer."
                )
            for i in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        c.execute(stmt)
            if version == 0:  # a new store: where, by whom and on which machine it was made
                c.execute(
                    "INSERT INTO meta(key, value) VALUES('origin', ?) ON CONFLICT DO NOTHING",
                    (origin_record(self.path.parent),),
                )
            c.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(SCHEMA_VERSION),),
            )

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def meta_get(self, key: str) -> str | None:
        """A value from the meta table."""
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def meta_set(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file ('ok' when healthy)."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # -- events ---------------------------------------------------------------------

    @staticmethod
    def add_event(
        c: Conn,
        kind: str,
        message: str,
        *,
        task_id: str | None = None,
        agent: str | None = None,
        data: dict[str, Any] | None = None,
        now: float | None = None,
    ) -> int:
        """Append one event inside an open transaction; return its id (texts are masked)."""
        values = (
            now or time.time(),
            kind,
            task_id,
            agent,
            mask(message),
            json.dumps(mask_data(data) if data else {}),
        )
        return _insert(c, _ADD_EVENT, values)

    def event(self, kind: str, message: str, **kw: Any) -> int:
        """Append one event in its own transaction."""
        with self.tx() as c:
            return self.add_event(c, kind, message, **kw)

    def events(
        self,
        since: int = 0,
        limit: int | None = None,
        task_id: str | None = None,
        agent: str | None = None,
    ) -> list[Event]:
        """Events with id > since, oldest first."""
        sql = "SELECT * FROM events WHERE id > ?"
        args: list[Any] = [since]
        if task_id is not None:
            sql += " AND task_id = ?"
            args.append(task_id)
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_event(r) for r in self.conn.execute(sql, args)]

    def trim_history(self, before: float, keep_events: int, batch: int = 5000) -> dict[str, int]:
        """Delete up to `batch` events older than `before` or beyond the newest
        `keep_events`, and applied or rejected operator commands older than `before`.

        One short transaction: a caller with more to trim calls again (a full batch says
        so). Tasks and attempts are history the queue needs and are never trimmed here.
        """
        with self.tx() as c:
            top = c.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
            events = c.execute(
                f"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE {_OLD_EVENT} "
                "ORDER BY id LIMIT ?)",
                (top - keep_events, before, batch),
            ).rowcount
            commands = c.execute(
                f"DELETE FROM commands WHERE id IN (SELECT id FROM commands WHERE {_OLD_COMMAND} "
                "ORDER BY id LIMIT ?)",
                (before, batch),
            ).rowcount
        return {"events": events, "commands": commands}

    def trimmable_history(self, before: float, keep_events: int) -> dict[str, int]:
        """How many rows trim_history would delete in all (for a dry run)."""
        c = self.conn
        top = c.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        events = c.execute(
            f"SELECT COUNT(*) FROM events WHERE {_OLD_EVENT}", (top - keep_events, before)
        ).fetchone()[0]
        commands = c.execute(
            f"SELECT COUNT(*) FROM commands WHERE {_OLD_COMMAND}", (before,)
        ).fetchone()[0]
        return {"events": int(events), "commands": int(commands)}

    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""
        return int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def recent_events(self, limit: int = 200) -> list[Event]:
        """The newest events, oldest first."""
        rows = self.conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return [_event(r) for r in reversed(rows.fetchall())]

    # -- tasks ----------------------------------------------------------------------

    def upsert_tasks(self, specs: Sequence[dict[str, Any]], now: float | None = None) -> list[str]:
        """Insert tasks that are new; keep existing ones (their state is history). Return new ids."""
        now = now or time.time()
        added: list[str] = []
        with self.tx() as c:
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) FROM tasks").fetchone()[0]
            for spec in specs:
                if c.execute("SELECT 1 FROM tasks WHERE id=?", (spec["id"],)).fetchone():
                    continue
                seq += 1
                deps = list(dict.fromkeys(spec.get("depends_on") or ()))
                c.execute(
                    "INSERT INTO tasks(id, seq, command, depends_on, priority, timeout, verify, "
                    "max_attempts, cwd, env, state, created_at, updated_at, kind, agent, hosts) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        spec["id"],
                        seq,
                        spec["command"],
                        json.dumps(deps),
                        int(spec.get("priority") or 0),
                        spec.get("timeout"),
                        spec.get("verify"),
                        int(spec.get("max_attempts") or 3),
                        spec.get("cwd"),
                        json.dumps(spec.get("env") or {}),
                        (TaskState.PENDING if deps else TaskState.READY).value,  # see below
                        now,
                        now,
                        str(spec.get("kind") or "run"),
                        spec.get("agent"),
                        hosts_column(spec.get("hosts") or ()),
                    ),
                )
                self.add_event(
                    c, "task.added", f"task {spec['id']} added", task_id=spec["id"], now=now
                )
                self.set_dependencies_in(c, spec["id"], deps)
                added.append(spec["id"])
        return added

    @staticmethod
    def set_dependencies_in(c: Conn, task_id: str, deps: Sequence[str]) -> None:
        """Record what a task depends on (its row's `depends_on` and the dependency index)."""
        c.execute("DELETE FROM task_deps WHERE task_id=?", (task_id,))
        c.executemany(
            "INSERT INTO task_deps(task_id, dep_id) VALUES (?,?) ON CONFLICT DO NOTHING",
            [(task_id, dep) for dep in deps],
        )
        c.execute("UPDATE tasks SET depends_on=? WHERE id=?", (json.dumps(list(deps)), task_id))

    @staticmethod
    def dependants_in(c: Conn, task_id: str, state: TaskState) -> list[Task]:
        """The tasks in `state` that depend on `task_id` (an index lookup)."""
        rows = c.execute(
            "SELECT t.* FROM task_deps AS d JOIN tasks AS t ON t.id = d.task_id "
            "WHERE d.dep_id=? AND t.state=? ORDER BY t.seq",
            (task_id, state.value),
        )
        return [_task(r) for r in rows]

    @staticmethod
    def unblocked_pending_in(c: Conn) -> list[Task]:
        """Pending tasks whose every dependency is done (one indexed query, no row decoding
        for the tasks that still wait)."""
        rows = c.execute(
            "SELECT * FROM tasks AS t WHERE t.state='pending' AND NOT EXISTS ("
            " SELECT 1 FROM task_deps AS d LEFT JOIN tasks AS x ON x.id = d.dep_id"
            " WHERE d.task_id = t.id AND (x.state IS NULL OR x.state != 'done')"
            ") ORDER BY t.seq"
        )
        return [_task(r) for r in rows]

    def task(self, task_id: str) -> Task | None:
        """One task by id."""
        row = self.conn.execute("SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
        return _task(row) if row else None

    def tasks(self, states: Sequence[TaskState] | None = None) -> list[Task]:
        """All tasks (optionally of some states) in queue order."""
        if states:
            marks = ",".join("?" * len(states))
            rows = self.conn.execute(
                f"SELECT * FROM tasks WHERE state IN ({marks}) ORDER BY seq",
                [s.value for s in states],
            )
        else:
            rows = self.conn.execute("SELECT * FROM tasks ORDER BY seq")
        return [_task(r) for r in rows]

    def working_set(self, recent_done: int = 2000) -> list[Task]:
        """The tasks a rule can act on, in queue order: all but done ones, done ones that took
        more than one try, done dependencies of open tasks, and the newest `recent_done`.

        Bounded by the open work rather than by the whole history of the queue.
        """
        rows = self.conn.execute(
            "SELECT * FROM tasks WHERE state != 'done' OR attempts > 1 "
            "OR id IN (SELECT id FROM tasks WHERE state='done' ORDER BY finished_at DESC LIMIT ?) "
            "ORDER BY seq",
            (recent_done,),
        )
        tasks = {r["id"]: _task(r) for r in rows}
        needed = {d for t in tasks.values() if t.state != TaskState.DONE for d in t.depends_on}
        missing = sorted(needed - set(tasks))
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(f"SELECT * FROM tasks WHERE id IN ({marks})", chunk):
                tasks[r["id"]] = _task(r)
        return sorted(tasks.values(), key=lambda t: t.seq)

    def task_stamps_since(self, updated_at: float, after_seq: int) -> list[tuple[str, float, str]]:
        """(id, updated_at, state) of tasks changed at or after `updated_at`, running, or added
        after `after_seq`: a cheap way to find which rows a cache must re-read."""
        rows = self.conn.execute(
            "SELECT id, updated_at, state FROM tasks "
            "WHERE updated_at >= ? OR state='running' OR seq > ?",
            (updated_at, after_seq),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    def task_marks(
        self, updated_at: float | None = None, after_seq: int = 0
    ) -> list[tuple[str, float, str, float | None]]:
        """(id, updated_at, state, lease_expires_at) of every task, or with `updated_at` only
        of those changed at or after it, running, or added after `after_seq`: what tells a
        cache which rows to re-read (a lease renewal moves the lease alone)."""
        sql = "SELECT id, updated_at, state, lease_expires_at FROM tasks"
        args: tuple[Any, ...] = ()
        if updated_at is not None:
            sql += " WHERE updated_at >= ? OR state='running' OR seq > ?"
            args = (updated_at, after_seq)
        return [(r[0], r[1], r[2], r[3]) for r in self.conn.execute(sql, args)]

    def tasks_by_ids(self, task_ids: Sequence[str]) -> list[Task]:
        """Full rows of the given tasks, in queue order."""
        out: list[Task] = []
        ids = list(task_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out += [
                _task(r)
                for r in self.conn.execute(f"SELECT * FROM tasks WHERE id IN ({marks})", chunk)
            ]
        return sorted(out, key=lambda t: t.seq)

    def task_counts(self) -> dict[str, int]:
        """How many tasks are in each state."""
        counts = {s.value: 0 for s in TaskState}
        for state, n in self.conn.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state"):
            counts[state] = n
        return counts

    def running_count(self, host: str | None = None) -> int:
        """How many tasks are running (claimed and not yet ended); given a host, how many
        its agents run (a shared store)."""
        sql, args = running_sql(host)
        return int(self.conn.execute(sql, args).fetchone()[0])

    # -- attempts -------------------------------------------------------------------

    def attempt(self, attempt_id: int) -> Attempt | None:
        """One attempt by row id."""
        row = self.conn.execute("SELECT * FROM attempts WHERE id=?", (attempt_id,)).fetchone()
        return _attempt(row) if row else None

    def attempts(self, task_id: str | None = None) -> list[Attempt]:
        """Attempts of one task (or all), oldest first."""
        if task_id is None:
            rows = self.conn.execute("SELECT * FROM attempts ORDER BY id")
        else:
            rows = self.conn.execute(
                "SELECT * FROM attempts WHERE task_id=? ORDER BY number", (task_id,)
            )
        return [_attempt(r) for r in rows]

    def last_attempts(self) -> dict[str, Attempt]:
        """The newest attempt of every task that has one."""
        rows = self.conn.execute(
            "SELECT * FROM attempts WHERE id IN (SELECT MAX(id) FROM attempts GROUP BY task_id)"
        )
        return {r["task_id"]: _attempt(r) for r in rows}

    def last_attempts_of(self, task_ids: Sequence[str]) -> dict[str, Attempt]:
        """The newest attempt of each of the given tasks (those that have one)."""
        out: dict[str, Attempt] = {}
        ids = list(task_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                "SELECT * FROM attempts WHERE id IN (SELECT MAX(id) FROM attempts "
                f"WHERE task_id IN ({marks}) GROUP BY task_id)",
                chunk,
            )
            out.update({r["task_id"]: _attempt(r) for r in rows})
        return out

    def tries_used(self, task_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Tries each task has used against its budget (released attempts use none).

        Tasks without a try are left out; `task_ids` limits the count to those tasks.
        """
        marks = ",".join("?" * len(FREE_OUTCOMES))
        sql = f"SELECT task_id, COUNT(*) FROM attempts WHERE outcome NOT IN ({marks})"
        if task_ids is None:
            rows = self.conn.execute(sql + " GROUP BY task_id", FREE_OUTCOMES).fetchall()
            return {str(r[0]): int(r[1]) for r in rows}
        out: dict[str, int] = {}
        ids = list(task_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            where = f" AND task_id IN ({','.join('?' * len(chunk))}) GROUP BY task_id"
            for r in self.conn.execute(sql + where, (*FREE_OUTCOMES, *chunk)):
                out[str(r[0])] = int(r[1])
        return out

    def running_attempts(self) -> list[Attempt]:
        """Attempts still marked running."""
        rows = self.conn.execute("SELECT * FROM attempts WHERE outcome='running' ORDER BY id")
        return [_attempt(r) for r in rows]

    def usage_readings(self, agent: str) -> dict[str, Usage]:
        """The last readings by key that record_usage kept for an agent."""
        text = self.meta_get(f"usage_readings:{agent}")
        return {k: Usage(**v) for k, v in json.loads(text).items()} if text else {}

    def attempts_with_usage(self) -> dict[str, list[Attempt]]:
        """Attempts whose AI CLI told tokens or cost, by task, oldest first."""
        out: dict[str, list[Attempt]] = {}
        for row in self.conn.execute("SELECT * FROM attempts WHERE usage IS NOT NULL ORDER BY id"):
            out.setdefault(row["task_id"], []).append(_attempt(row))
        return out

    def agent_last_attempt(self, agent: str) -> Attempt | None:
        """The newest attempt an agent made (searched from the newest row back)."""
        row = self.conn.execute(
            "SELECT * FROM attempts WHERE agent=? ORDER BY id DESC LIMIT 1", (agent,)
        ).fetchone()
        return _attempt(row) if row else None

    def record_usage(
        self,
        agent: str,
        usage: Usage,
        attempt: Attempt | None = None,
        attempt_usage: Usage | None = None,
        *,
        event: tuple[str, dict[str, Any]] | None = None,
        readings: Mapping[str, Usage] | None = None,
    ) -> None:
        """Write an agent's usage, its attempt's share, (when given) an agent.usage event and
        the last readings by key (`usage_readings`: a restarted supervisor counts on from them)."""
        with self.tx() as c:
            self.update_agent_in(c, agent, usage=usage)
            if readings is not None:
                c.execute(
                    "INSERT INTO meta(key, value) VALUES(?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (
                        f"usage_readings:{agent}",
                        json.dumps({k: dataclasses.asdict(u) for k, u in readings.items()}),
                    ),
                )
            if attempt is not None:
                c.execute(
                    "UPDATE attempts SET usage=? WHERE id=?",
                    (usage_json(attempt_usage), attempt.id),
                )
            if event is not None:
                message, data = event
                self.add_event(
                    c,
                    "agent.usage",
                    message,
                    agent=agent,
                    task_id=attempt.task_id if attempt else None,
                    data=data,
                )

    def set_attempt_offset(self, attempt_id: int, log_offset: int) -> None:
        """Remember where the attempt's output starts in its agent's log."""
        with self.tx() as c:
            c.execute("UPDATE attempts SET log_offset=? WHERE id=?", (log_offset, attempt_id))

    def set_attempt_tail(self, attempt_id: int, tail: str, now: float | None = None) -> None:
        """Complete an attempt's recorded output (its last bytes reached the log after its
        status was recorded); the task counts as changed for the readers."""
        with self.tx() as c:
            c.execute("UPDATE attempts SET output_tail=? WHERE id=?", (mask(tail), attempt_id))
            c.execute(
                "UPDATE tasks SET updated_at=? WHERE id=(SELECT task_id FROM attempts WHERE id=?)",
                (now or time.time(), attempt_id),
            )

    def median_durations(self) -> dict[str, float]:
        """Median duration of successful attempts per task (for planning)."""
        out: dict[str, list[float]] = {}
        for tid, start, end in self.conn.execute(
            "SELECT task_id, started_at, finished_at FROM attempts WHERE outcome='ok'"
        ):
            out.setdefault(tid, []).append(end - start)
        return {k: sorted(v)[len(v) // 2] for k, v in out.items()}

    # -- agents ---------------------------------------------------------------------

    def upsert_agent(self, name: str, kind: str, now: float | None = None) -> None:
        """Make sure an agent row exists (state starting when new)."""
        now = now or time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO agents(name, kind, state, state_since) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET kind=excluded.kind",
                (name, kind, AgentState.STARTING.value, now),
            )

    def agent(self, name: str) -> Agent | None:
        """One agent by name."""
        row = self.conn.execute("SELECT * FROM agents WHERE name=?", (name,)).fetchone()
        return _agent(row) if row else None

    def agents(self) -> list[Agent]:
        """All agents by name."""
        return [_agent(r) for r in self.conn.execute("SELECT * FROM agents ORDER BY name")]

    AGENT_FIELDS = frozenset(
        {
            "state",
            "task_id",
            "attempt_id",
            "pane_id",
            "pid",
            "last_output_at",
            "heartbeat_at",
            "state_since",
            "consecutive_failures",
            "respawns",
            "reason",
            "last_line",
            "prompt",
            "cli_version",
            "version_note",
            "signals",
            "state_source",
            "usage",
        }
    )

    AGENT_TEXTS = frozenset({"reason", "last_line", "prompt"})  # masked when written

    @classmethod
    def update_agent_in(cls, c: Conn, name: str, **fields: Any) -> None:
        """Update some columns of an agent inside an open transaction."""
        bad = set(fields) - cls.AGENT_FIELDS
        if bad:
            raise ValueError(f"unknown agent fields {sorted(bad)}")
        if not fields:
            return
        cols = ", ".join(f"{k}=?" for k in fields)
        values = [
            v.value
            if isinstance(v, AgentState)
            else usage_json(v)
            if isinstance(v, Usage)
            else json.dumps(v)
            if k == "signals"
            else mask(v)
            if k in cls.AGENT_TEXTS and isinstance(v, str)
            else v
            for k, v in fields.items()
        ]
        c.execute(f"UPDATE agents SET {cols} WHERE name=?", [*values, name])

    @staticmethod
    def heartbeats_in(c: Conn, beats: Sequence[tuple[float | None, str]]) -> None:
        """Set the heartbeat of some agents ((heartbeat_at, name) pairs) in an open transaction."""
        c.executemany("UPDATE agents SET heartbeat_at=? WHERE name=?", beats)

    def update_agent(self, name: str, **fields: Any) -> None:
        """Update some columns of an agent in its own transaction."""
        with self.tx() as c:
            self.update_agent_in(c, name, **fields)

    def remove_agent(self, name: str) -> None:
        """Forget an agent that the config no longer names."""
        with self.tx() as c:
            c.execute("DELETE FROM agents WHERE name=?", (name,))
            c.execute("DELETE FROM meta WHERE key=?", (f"usage_readings:{name}",))

    # -- API tokens -------------------------------------------------------------------

    def add_token(self, name: str, role: str, digest: str, now: float | None = None) -> None:
        """Record a token by its hash (`digest`); a name already taken is an error."""
        with self.tx() as c:
            if c.execute("SELECT 1 FROM tokens WHERE name=?", (name,)).fetchone():
                raise StoreError(f"a token named {name!r} exists already")
            c.execute(
                "INSERT INTO tokens(name, role, digest, created_at) VALUES (?,?,?,?)",
                (name, role, digest, time.time() if now is None else now),
            )

    def tokens(self) -> list[tuple[str, str, float]]:
        """Every token's name, role and creation time (never its hash), oldest first."""
        rows = self.conn.execute("SELECT name, role, created_at FROM tokens ORDER BY created_at")
        return [(r[0], r[1], r[2]) for r in rows]

    def revoke_token(self, name: str) -> bool:
        """Remove a token; False if there is none of that name."""
        with self.tx() as c:
            return c.execute("DELETE FROM tokens WHERE name=?", (name,)).rowcount > 0

    def token_role(self, digest: str) -> str | None:
        """The role of the token with this hash, or None."""
        row = self.conn.execute("SELECT role FROM tokens WHERE digest=?", (digest,)).fetchone()
        return str(row[0]) if row else None

    def attempt_counts(self) -> dict[tuple[str, int | None], int]:
        """How many attempts ended each way, by outcome and exit code (an index-only count)."""
        rows = self.conn.execute(
            "SELECT outcome, exit_code, COUNT(*) FROM attempts GROUP BY outcome, exit_code"
        )
        return {(r[0], r[1]): r[2] for r in rows}

    # -- operator commands ----------------------------------------------------------

    def enqueue_command(
        self,
        verb: str,
        target: str,
        args: dict[str, Any] | None = None,
        host: str | None = None,
    ) -> int:
        """Queue an operator command for the supervisor (of `host`, when named); return its id."""
        with self.tx() as c:
            command_id = _insert(
                c,
                "INSERT INTO commands(ts, verb, target, args, origin, host) VALUES (?,?,?,?,?,?)",
                (time.time(), verb, target, json.dumps(args or {}), command_origin(), host),
            )
            sender = self.sender()
            if sender:  # several people may share a database: say who sent it
                self.add_event(
                    c,
                    "command.queued",
                    f"{verb} {target} sent by {sender}",
                    data={"command": command_id, "verb": verb, "sender": sender},
                )
        # Once it is committed, touch the store (on PostgreSQL: the state dir): a supervisor
        # asleep at rest wakes on that (inotify, agents/stream.py DirWatch) and reads it; it
        # would otherwise take it at its next sweep. A write to the WAL is no such sign: it
        # comes before the commit shows.
        if self.wake_path is not None:
            with suppress(OSError):
                os.utime(self.wake_path, follow_symlinks=False)
        return command_id

    def sender(self) -> str:
        """Who writes an operator command, when more than the state dir's owner can ('': no
        one else can: the SQLite store is in the owner's private state dir)."""
        return ""

    def pending_commands(self, host: str | None = None) -> list[Command]:
        """Queued commands in the order they were written (given a host: those for it, and
        those for any host)."""
        if host is None:
            rows = self.conn.execute("SELECT * FROM commands WHERE status='queued' ORDER BY id")
        else:
            rows = self.conn.execute(
                "SELECT * FROM commands WHERE status='queued' AND (host IS NULL OR host=?) "
                "ORDER BY id",
                (host,),
            )
        return [_command(r) for r in rows]

    def take_command(self, command_id: int, host: str) -> bool:
        """Make a command for any host this host's (one statement: of several supervisors
        reading it, one takes it); False when another took it first."""
        with self.tx() as c:
            cur = c.execute(
                "UPDATE commands SET host=? WHERE id=? AND host IS NULL AND status='queued'",
                (host, command_id),
            )
            return cur.rowcount == 1

    def command(self, command_id: int) -> Command | None:
        """One command by id."""
        row = self.conn.execute("SELECT * FROM commands WHERE id=?", (command_id,)).fetchone()
        return _command(row) if row else None

    @staticmethod
    def finish_command_in(
        c: Conn, command_id: int, ok: bool, result: str, now: float | None = None
    ) -> None:
        """Mark a command applied or rejected inside an open transaction.

        Its arguments were needed in clear until now (the text `send` types); from here on
        they are history, and kept masked like every other text.
        """
        status = CommandStatus.APPLIED if ok else CommandStatus.REJECTED
        row = c.execute("SELECT args FROM commands WHERE id=?", (command_id,)).fetchone()
        args = json.dumps(mask_data(json.loads(row[0] or "{}"))) if row else "{}"
        c.execute(
            "UPDATE commands SET status=?, result=?, applied_at=?, args=? "
            "WHERE id=? AND status='queued'",
            (status.value, mask(result), now or time.time(), args, command_id),
        )

    # -- supervisor -----------------------------------------------------------------

    def supervisor_beat(
        self, pid: int, host: str, started_at: float, now: float, tmux_label: str | None = None
    ) -> None:
        """Record the supervisor's pid and loop heartbeat (the store's last supervisor, and
        its host's row: several hosts may share one database)."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO supervisor(id, pid, host, started_at, heartbeat_at) VALUES (1,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, host=excluded.host, "
                "started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at",
                (pid, host, started_at, now),
            )
            c.execute(
                "INSERT INTO hosts(name, pid, started_at, heartbeat_at, stopped_at, tmux_label) "
                "VALUES (?,?,?,?,NULL,?) ON CONFLICT(name) DO UPDATE SET pid=excluded.pid, "
                "started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at, "
                "stopped_at=NULL, tmux_label=COALESCE(excluded.tmux_label, hosts.tmux_label)",
                (host, pid, started_at, now, tmux_label),
            )

    def supervisor_stopped(self, pid: int, host: str | None = None) -> None:
        """Clear the heartbeat when the supervisor exits cleanly."""
        with self.tx() as c:
            c.execute("UPDATE supervisor SET heartbeat_at=NULL WHERE pid=?", (pid,))
            if host is not None:
                c.execute(
                    "UPDATE hosts SET heartbeat_at=NULL, stopped_at=? WHERE name=? AND pid=?",
                    (time.time(), host, pid),
                )

    def hosts(self) -> list[HostInfo]:
        """Every host whose supervisor ever ran on this store, by name."""
        rows = self.conn.execute("SELECT * FROM hosts ORDER BY name").fetchall()
        return [_from_row(HostInfo, r) for r in rows]

    def supervisor(self) -> SupervisorInfo:
        """The last supervisor self-report (on a shared store: this host's supervisor's)."""
        if self.here is not None:
            row = self.conn.execute("SELECT * FROM hosts WHERE name=?", (self.here,)).fetchone()
            if row is None:
                return SupervisorInfo(None, None, None, None)
            return SupervisorInfo(row["pid"], row["name"], row["started_at"], row["heartbeat_at"])
        row = self.conn.execute("SELECT * FROM supervisor WHERE id=1").fetchone()
        if row is None:
            return SupervisorInfo(None, None, None, None)
        return SupervisorInfo(row["pid"], row["host"], row["started_at"], row["heartbeat_at"])

    # -- suggestions ----------------------------------------------------------------

    def set_suggestions(self, items: Sequence[dict[str, Any]]) -> None:
        """Replace the stored suggestions."""
        with self.tx() as c:
            c.execute("DELETE FROM suggestions")
            c.executemany(
                "INSERT INTO suggestions(data) VALUES (?)", [(json.dumps(i),) for i in items]
            )

    def suggestions(self) -> list[dict[str, Any]]:
        """Stored suggestions, ranked as written."""
        rows = self.conn.execute("SELECT data FROM suggestions ORDER BY id")
        return [json.loads(r[0]) for r in rows]

    def dismiss_suggestion(self, key: str, evidence_hash: str) -> None:
        """Hide a suggestion until its evidence changes; drop it from the stored list now."""
        with self.tx() as c:
            c.execute(
                "INSERT INTO dismissals(key, evidence_hash, ts) VALUES (?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET evidence_hash=excluded.evidence_hash, ts=excluded.ts",
                (key, evidence_hash, time.time()),
            )
            rows = c.execute("SELECT id, data FROM suggestions ORDER BY id").fetchall()
            rank = 0
            for row in rows:
                item = json.loads(row["data"])
                if item.get("key") == key and item.get("evidence_hash") == evidence_hash:
                    c.execute("DELETE FROM suggestions WHERE id=?", (row["id"],))
                    continue
                rank += 1
                if item.get("rank") != rank and "rank" in item:
                    item["rank"] = rank
                    c.execute(
                        "UPDATE suggestions SET data=? WHERE id=?", (json.dumps(item), row["id"])
                    )
            self.add_event(c, "suggestion.dismissed", f"suggestion {key} dismissed")

    def dismissed(self) -> dict[str, str]:
        """Dismissed suggestion keys, each with the evidence hash it was dismissed on."""
        rows = self.conn.execute("SELECT key, evidence_hash FROM dismissals")
        return {str(r[0]): str(r[1]) for r in rows}

    def drop_dismissals(self, items: dict[str, str]) -> None:
        """End dismissals whose evidence changed: delete each key still at the given hash."""
        with self.tx() as c:
            c.executemany(
                "DELETE FROM dismissals WHERE key=? AND evidence_hash=?", list(items.items())
            )

    # -- reads for the dashboard and the command line ---------------------------------

    @contextmanager
    def read(self) -> Iterator[None]:
        """One read transaction: every query inside it sees the same committed state."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def data_version(self) -> int:
        """SQLite's count of commits by other connections: it moves when anyone else wrote."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def last_event_at(self, kind: str, after: int = 0) -> float | None:
        """When the newest event of `kind` with an id above `after` happened (None: none)."""
        row = self.conn.execute(
            "SELECT MAX(ts) FROM events WHERE id > ? AND kind = ?", (after, kind)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def completions_since(self, since: float) -> list[float]:
        """When the attempts that ended ok finished, from `since` on (throughput, sparkline)."""
        rows = self.conn.execute(
            "SELECT finished_at FROM attempts WHERE outcome='ok' AND finished_at >= ?", (since,)
        )
        return [float(r[0]) for r in rows]

    def reject_command(self, command_id: int, reason: str) -> None:
        """Reject a queued command nobody will apply, in its own transaction."""
        with self.tx() as c:
            self.finish_command_in(c, command_id, False, reason)


def open_store(location: str | Path, *, state_dir: Path | None = None, init: bool = False) -> Store:
    """The store at `location`: a `postgresql://` URL opens PgStore (made or migrated only
    with `init`: `overseer db init`), anything else the SQLite file there.

    `state_dir`: the local state dir a PostgreSQL store wakes a resting supervisor through.
    """
    if is_url(location):
        from overseer.state.pgstore import PgStore

        return PgStore(str(location), state_dir=state_dir, init=init)
    return Store(location)


def project_store(state_dir: Path) -> Store:
    """The store of the project whose state dir this is (see backend.store_location)."""
    store = open_store(store_location(state_dir), state_dir=state_dir)
    if not store.local:  # several hosts may share it: "the supervisor" is this host's
        store.here = host_id(state_dir)
    return store


def store_exists(state_dir: Path) -> bool:
    """Whether the project has a store yet (a database always counts: opening it tells)."""
    where = store_location(state_dir)
    return isinstance(where, str) or where.exists()
