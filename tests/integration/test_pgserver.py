"""The PostgreSQL test server (tests/pgserver.py): it serves, it is private, and nothing of it
outlives its session: not after a failed test, an interrupt, or a killed pytest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.helpers import wait_until
from tests.pgserver import (
    BIN_ENV,
    PgServer,
    PgUnavailable,
    reap_orphans,
    server_processes,
    server_user,
)

ROOT = Path(__file__).resolve().parents[2]


def psycopg() -> Any:
    """The driver, or a skip saying how to get it."""
    return pytest.importorskip("psycopg", reason="psycopg is not installed (psycopg[binary])")


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


def gone(procs: list[psutil.Process]) -> bool:
    """Whether none of these very processes runs any more (a zombie awaiting its reaper is gone)."""
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def runs(pid: int, started: float) -> bool:
    """Whether the process `pid` that started at `started` still runs."""
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_server_serves_the_tests_role_on_the_socket_and_over_tcp(pg_server: PgServer) -> None:
    pg = psycopg()
    for target in (
        pg_server.dsn(),
        pg_server.url(),
        pg_server.dsn(tcp=True),
        pg_server.url(tcp=True),
    ):
        with pg.connect(target) as conn:
            row = conn.execute(
                "SELECT current_user, current_database(), rolsuper, "
                "current_setting('fsync'), current_setting('server_encoding') "
                "FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert row == ("overseer", "overseer", True, "off", "UTF8"), target
    with pg.connect(pg_server.dsn(tcp=True)) as conn:
        assert conn.execute("SELECT inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)


def test_tcp_asks_for_the_password(pg_server: PgServer) -> None:
    pg = psycopg()
    wrong = pg_server.dsn(tcp=True).replace(pg_server.password, "not-the-password")
    with pytest.raises(pg.OperationalError, match="password authentication failed"):
        pg.connect(wrong)


def test_a_fresh_database_is_empty_and_dropped(pg_server: PgServer, pg_database: str) -> None:
    pg = psycopg()
    with pg.connect(pg_database) as conn:
        conn.execute("CREATE TABLE t (x int)")
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
        assert tables.fetchone() == (1,)
    name = pg_server.create_database("t_probe_drop")
    conn = pg.connect(name)
    try:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
        assert tables.fetchone() == (0,)
        pg_server.drop_database("t_probe_drop")
        with pytest.raises(pg.OperationalError):  # its open connection was ended
            conn.execute("SELECT 1")
    finally:
        conn.close()
    with pytest.raises(pg.OperationalError, match="does not exist"):
        pg.connect(name)


def test_the_server_runs_as_its_user_in_private_directories() -> None:
    server = PgServer.start()
    try:
        owner = server_user()
        procs = server.processes()
        assert procs and all(p.uids().effective == owner.pw_uid for p in procs)
        for path in (server.base, server.data, server.sockdir):
            st = path.stat()
            assert (st.st_uid, st.st_mode & 0o777) == (owner.pw_uid, 0o700), path
        assert (server.sockdir / f".s.PGSQL.{server.port}").is_socket()
        listening = {tuple(c.laddr) for c in psutil.net_connections("inet") if c.status == "LISTEN"}
        assert ("127.0.0.1", server.port) in listening
        assert ("0.0.0.0", server.port) not in listening
    finally:
        server.stop()


def test_stop_leaves_no_process_and_no_file() -> None:
    server = PgServer.start()
    procs = server.processes()
    assert len(procs) >= 2, "a postmaster and its helpers"
    server.stop()
    assert gone(procs), [p.pid for p in procs]
    assert not server.base.exists()
    server.stop()  # a second stop (atexit, a fixture's finally) is harmless


INNER = """
import json, os
from pathlib import Path

def test_uses_the_server(pg_server):
    procs = [(p.pid, p.create_time()) for p in pg_server.processes()]
    Path(os.environ["PG_SEEN"]).write_text(json.dumps({"base": str(pg_server.base), "pids": procs}))
    {action}
"""


@pytest.mark.parametrize(
    ("action", "outcome"),
    [("assert False, 'on purpose'", "1 failed"), ("raise KeyboardInterrupt", "KeyboardInterrupt")],
)
def test_the_session_fixture_stops_the_server_after_a_failure_or_an_interrupt(
    tmp_path: Path, action: str, outcome: str
) -> None:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER.replace("{action}", action)))
    seen = tmp_path / "seen.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.pgserver", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=child_env(PG_SEEN=str(seen)),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert outcome in proc.stdout, proc.stdout + proc.stderr
    info = json.loads(seen.read_text())
    base = Path(info["base"])
    assert len(info["pids"]) >= 2, "the server ran during the test"
    assert not server_processes(base), "the inner session's server still runs"
    assert not [pid for pid, t in info["pids"] if runs(pid, t)], "postgres processes outlived it"
    assert not base.exists()


def test_a_killed_session_s_server_is_reaped_by_the_next() -> None:
    script = (
        "import sys, time\n"
        "from tests.pgserver import PgServer\n"
        "s = PgServer.start()\n"
        "print(s.base, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        base = Path(proc.stdout.readline().strip())
        assert base.name.startswith("ovs-pg-"), base
        procs = server_processes(base)
        assert procs, "the orphan-to-be runs"
        assert base not in reap_orphans(), "its session still lives: not reaped"
        proc.send_signal(signal.SIGKILL)  # no finally, no atexit: the server stays behind
        proc.wait(timeout=30)
        assert not gone(procs)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert base in reap_orphans()
    wait_until(lambda: gone(procs), timeout=30, message="the orphaned server still runs")
    assert not base.exists()


def test_without_postgresql_the_fixture_skips_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "test_inner.py").write_text("def test_x(pg_server):\n    pass\n")
    empty = tmp_path / "no-bin"
    empty.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "tests.pgserver",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        env=child_env(**{BIN_ENV: str(empty)}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert f"PostgreSQL is not installed (no initdb, pg_ctl and psql in {empty})" in proc.stdout
    monkeypatch.setenv(BIN_ENV, str(empty))
    with pytest.raises(PgUnavailable, match="PostgreSQL is not installed"):
        PgServer.start()
