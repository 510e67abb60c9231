"""A real PostgreSQL server for tests: initdb + pg_ctl on a temporary directory, reached on a
private unix socket (trust) or 127.0.0.1 (password); fixtures `pg_server` and `pg_database`.

As root the server runs as the `postgres` system user (initdb refuses root), through runuser.
Everything lives in one directory under the temp dir, `ovs-pg-*`, owned by the server's user:
  owner      pid and start time of the process that made it (so a killed session's server
             is recognised as orphaned and reaped by the next session)
  data/      the cluster (initdb); sock/ the socket directory (0700); server.log
Pitfalls met on the way (root, permissions, locale, ports) are in bench/pg_probe.md.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

BIN_ENV = "OVERSEER_PG_BIN"  # a directory holding initdb, pg_ctl, psql (overrides the search)
PREFIX = "ovs-pg-"
SUPERUSER = "overseer"  # the tests' login role (a superuser); `postgres` is initdb's own
DBNAME = "overseer"
# Durability buys nothing in a throwaway cluster; the rest keeps runs predictable.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "jit": "off",  # compiling a plan costs more than these small queries
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "lc_messages": "'C'",
    "timezone": "'UTC'",
}


class PgUnavailable(Exception):
    """PostgreSQL cannot run here (not installed, nobody to run it as): its tests skip."""


class PgError(Exception):
    """The test server failed to start or stop; the message carries the log's tail."""


def find_bin() -> Path:
    """The directory of initdb/pg_ctl/psql: $OVERSEER_PG_BIN, the newest Debian version, PATH."""
    if os.environ.get(BIN_ENV):
        candidates = [Path(os.environ[BIN_ENV])]
    else:
        versions = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).parent)
    for path in candidates:
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "psql")):
            return path
    where = os.environ.get(BIN_ENV) or "/usr/lib/postgresql/*/bin or on PATH"
    raise PgUnavailable(
        f"PostgreSQL is not installed (no initdb, pg_ctl and psql in {where}); "
        "install the Debian package postgresql (.ci/run does) or set " + BIN_ENV
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", name))


def server_user() -> pwd.struct_passwd:
    """Who runs the server: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    if shutil.which("runuser") is None:
        raise PgUnavailable("running as root and runuser is missing (util-linux)")
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PgUnavailable(
            "running as root and there is no 'postgres' system user to run the server as "
            "(initdb refuses root; the postgresql package creates the user)"
        ) from None


def _as_server(argv: list[str]) -> list[str]:
    """argv run as the server's user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _env() -> dict[str, str]:
    """Our environment without PG* variables (PGHOST, PGSSLMODE... would redirect the tools)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"  # a LANG naming an ungenerated locale makes initdb fail
    return env


def _run(argv: list[str], cwd: Path, what: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, env=_env(), input=stdin, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise PgError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _alive(proc: psutil.Process) -> bool:
    """Whether this very process (same pid and start time) still runs."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def server_processes(base: Path) -> list[psutil.Process]:
    """The postmaster whose data dir is base/data, and its children, if it runs."""
    data = str(base / "data")
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if data in cmd and any(Path(c).name in ("postgres", "postmaster") for c in cmd[:1]):
            with contextlib.suppress(psutil.Error):
                return [proc, *proc.children(recursive=True)]
    return []


class PgServer:
    """One running test cluster; `start()` makes it, `stop()` ends it and removes its files."""

    def __init__(self, base: Path, bindir: Path, port: int, password: str) -> None:
        self.base = base
        self.bindir = bindir
        self.port = port
        self.password = password
        self.user = SUPERUSER
        self.dbname = DBNAME

    @property
    def sockdir(self) -> Path:
        """The private socket directory (the `host` of unix-socket connections)."""
        return self.base / "sock"

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.base / "data"

    # -- life cycle ---------------------------------------------------------------------

    @classmethod
    def start(cls, host_auth: str = "scram-sha-256") -> PgServer:
        """initdb, configure, start and bootstrap a cluster; raises PgUnavailable or PgError."""
        bindir = find_bin()
        owner = server_user()
        reap_orphans()
        base = Path(tempfile.mkdtemp(prefix=PREFIX))  # 0700, ours
        me = psutil.Process()
        (base / "owner").write_text(f"{me.pid} {me.create_time()}\n")
        server = cls(base, bindir, _free_port(), secrets.token_hex(16))
        atexit.register(server.stop)
        try:
            (base / "sock").mkdir(mode=0o700)
            if os.geteuid() == 0:
                for path in (base, base / "sock"):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            server._init(host_auth)
            server._launch()
            server.psql(
                f"CREATE ROLE {SUPERUSER} LOGIN SUPERUSER PASSWORD '{server.password}';\n"
                f"CREATE DATABASE {DBNAME} OWNER {SUPERUSER};\n",
                user="postgres",
                dbname="postgres",
            )
        except BaseException:
            server.stop()
            raise
        return server

    def _init(self, host_auth: str) -> None:
        """initdb (C locale, UTF-8, no fsync) and our settings and access rules."""
        initdb = ["-D", str(self.data), "--username=postgres", "--auth=trust"]
        initdb += ["--encoding=UTF8", "--locale=C", "--no-sync"]
        _run(self._tool("initdb", *initdb), self.base, "initdb")
        # Files keep their owner when we (root) append to or rewrite them.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/pgserver.py\n")
            conf.writelines(f"{k} = {v}\n" for k, v in SETTINGS.items())
            conf.write(f"unix_socket_directories = '{self.sockdir}'\n")
        # The socket is in a 0700 directory: only the server's user (and root) reach it.
        # Over TCP anyone on this machine could knock, so a password is asked for there.
        (self.data / "pg_hba.conf").write_text(
            f"local all all trust\nhost all all 127.0.0.1/32 {host_auth}\n"
        )

    def _launch(self) -> None:
        """pg_ctl start on a free port (another on a clash), waiting until it accepts."""
        for tries_left in range(4, -1, -1):
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {self.port}\n")  # the last one wins
            proc = subprocess.run(
                self._tool("pg_ctl", "start", "-w", "-t", "60", "-s", "-D", str(self.data))
                + ["-l", str(self.base / "server.log")],
                cwd=self.base,
                env=_env(),
                capture_output=True,
                text=True,
                timeout=90,
            )
            if proc.returncode == 0:
                return
            log = self.log_tail()
            if "already in use" not in log or not tries_left:
                raise PgError(f"pg_ctl start failed ({proc.returncode}): {proc.stderr}\n{log}")
            self.port = _free_port()

    def stop(self) -> None:
        """Stop the server at once (pg_ctl stop -m immediate, then SIGKILL) and remove it."""
        atexit.unregister(self.stop)
        if not self.base.exists():
            return
        procs = server_processes(self.base)
        if procs or (self.data / "postmaster.pid").exists():
            subprocess.run(
                self._tool("pg_ctl", "stop", "-s", "-m", "immediate", "-w", "-t", "30")
                + ["-D", str(self.data)],
                cwd=self.base,
                env=_env(),
                capture_output=True,
                timeout=60,
            )
            _kill_all(procs)
        shutil.rmtree(self.base, ignore_errors=True)

    def _tool(self, name: str, *args: str) -> list[str]:
        """The command line of one of the server's programs, run as the server's user."""
        return _as_server([str(self.bindir / name), *args])

    # -- use ----------------------------------------------------------------------------

    def dsn(self, dbname: str | None = None, *, tcp: bool = False) -> str:
        """A libpq connection string: the unix socket (trust) or 127.0.0.1 (password)."""
        db = dbname or self.dbname
        if tcp:
            return (
                f"host=127.0.0.1 port={self.port} user={self.user} "
                f"password={self.password} dbname={db} sslmode=disable"
            )
        return f"host={self.sockdir} port={self.port} user={self.user} dbname={db}"

    def url(self, dbname: str | None = None, *, tcp: bool = False) -> str:
        """The same as a postgresql:// URL (the form a user writes in overseer.yaml)."""
        db = dbname or self.dbname
        if tcp:
            return (
                f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{db}"
                "?sslmode=disable"
            )
        return f"postgresql://{self.user}@/{db}?host={quote(str(self.sockdir), safe='')}&port={self.port}"

    def psql(self, sql: str, *, user: str | None = None, dbname: str | None = None) -> str:
        """Run SQL through psql on the socket (stops at the first error); return its output."""
        argv = [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.sockdir), "-p", str(self.port)]
        argv += ["-U", user or self.user, "-d", dbname or self.dbname, "-f", "-"]
        return _run(argv, self.base, "psql", stdin=sql)

    def create_database(self, name: str) -> str:
        """A new empty database owned by the tests' role; returns its dsn."""
        self.psql(f'CREATE DATABASE "{name}" OWNER {self.user};', dbname="postgres")
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending its open connections."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);', dbname="postgres")

    def processes(self) -> list[psutil.Process]:
        """The postmaster and its children."""
        return server_processes(self.base)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log."""
        try:
            return (self.base / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _kill_all(procs: list[psutil.Process], timeout: float = 15.0) -> None:
    """SIGKILL what of these processes still runs (the postmaster first) and wait until gone."""
    for proc in procs:
        if _alive(proc):
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in procs):
        if time.monotonic() > deadline:
            raise PgError(f"postgres processes outlived SIGKILL: {[p.pid for p in procs]}")
        time.sleep(0.02)


def reap_orphans(tmp: Path | None = None) -> list[Path]:
    """Stop and remove the servers whose making process is gone (a killed test session)."""
    uid = server_user().pw_uid
    reaped = []
    for base in Path(tmp or tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            if base.stat().st_uid not in (uid, os.geteuid()):
                continue  # another user's: not ours to end
            pid, started = (base / "owner").read_text().split()
        except (OSError, ValueError):
            continue  # being made right now, or not one of ours
        try:
            maker = psutil.Process(int(pid))
            if abs(maker.create_time() - float(started)) < 0.01:
                continue  # its session still runs
        except psutil.NoSuchProcess:
            pass
        PgServer(base, find_bin(), 0, "").stop()
        reaped.append(base)
    return reaped


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session; skips when PostgreSQL cannot run here."""
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh empty database on the session's server (its dsn), dropped after the test."""
    name = f"t_{secrets.token_hex(6)}"
    dsn = pg_server.create_database(name)
    try:
        yield dsn
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def pg_store_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with Overseer's schema, as a store URL (socket), dropped after."""
    from overseer.state.store import open_store

    name = f"t_{secrets.token_hex(6)}"
    pg_server.create_database(name)
    url = pg_server.url(name)
    open_store(url, init=True).close()
    try:
        yield url
    finally:
        pg_server.drop_database(name)
