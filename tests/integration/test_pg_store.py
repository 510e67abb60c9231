"""A project whose store is a PostgreSQL database (tests/pgserver.py's real server): `db init`,
`run --until-done` with shell agents in a private tmux, `status` and `events` reading it, the
password never printed, and an unreachable or uninitialised database told in one line."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.state.backend import STORE_ENV
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import SCHEMA_VERSION, open_store
from tests.helpers import wait_until
from tests.pgserver import PgServer
from tests.project import Project

AGENTS = """
agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - {id: a, run: 'echo one'}
  - {id: b, run: 'echo two'}
  - {id: c, run: 'echo three', depends_on: [a, b]}
  - {id: d, run: 'exit 0', depends_on: [c]}
"""


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database on the session's server, as a URL with a password (over TCP)."""
    name = f"t_{secrets.token_hex(6)}"
    pg_server.create_database(name)
    try:
        yield pg_server.url(name, tcp=True)
    finally:
        pg_server.drop_database(name)


def said(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr


def test_a_project_runs_to_done_on_a_postgresql_store(
    project: Project, pg_server: PgServer, pg_url: str
) -> None:
    project.write(AGENTS, store=pg_url)
    secret = pg_server.password
    # Before `db init` the database holds no schema: one clear line, exit 3.
    r = project.cli("status")
    assert r.returncode == 3, said(r)
    assert "no Overseer schema" in r.stderr and "overseer db init" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in said(r)
    assert secret not in said(r)
    r = project.cli("db", "init", check=True)
    assert "schema version" in r.stdout and "postgresql" in r.stdout and secret not in said(r)
    assert "roles" not in r.stdout  # only with --roles
    assert project.cli("db", "init", check=True).returncode == 0  # again: nothing to migrate

    r = project.cli("run", "--until-done", "--timeout", "90")
    assert r.returncode == 0, said(r)
    assert secret not in said(r)
    assert not (project.state_dir / "state.db").exists()  # only the database moved
    assert (project.state_dir / "logs").is_dir()  # logs and run files stay local

    status = project.cli("status", "--json", check=True)
    assert secret not in said(status)
    data = json.loads(status.stdout)
    assert data["store"].startswith("postgresql://") and ":***@" in data["store"]
    assert {t["id"]: t["state"] for t in data["tasks"]} == dict.fromkeys("abcd", "done")
    text = project.cli("status", check=True).stdout
    assert "store: postgresql://" in text and secret not in text
    events = project.cli("events", check=True).stdout
    for task in "abcd":
        assert f"{task} attempt 1 claimed by" in events
        assert f"{task} attempt 1 ok" in events
    assert secret not in events

    store = open_store(pg_url)  # what the commands read is in the database itself
    try:
        assert [t.state for t in store.tasks()] == [TaskState.DONE] * 4
        assert all(len(store.attempts(t)) == 1 for t in "abcd")
        assert secret not in json.dumps([e.message for e in store.events()])
    finally:
        store.close()


def test_an_unreachable_database_is_one_line_and_exit_3(project: Project, tmp_path: object) -> None:
    project.write(AGENTS)
    url = "postgresql://someone:hunter2-not-shown@127.0.0.1:1/nowhere?connect_timeout=2"
    for args in (("status",), ("db", "init"), ("events",), ("retry", "a")):
        r = project.cli(*args, "--store", url)
        assert r.returncode == 3, (args, said(r))
        assert "cannot be reached" in r.stderr and "Traceback" not in said(r)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "hunter2-not-shown" not in said(r)
        assert "someone:***@127.0.0.1:1" in r.stderr
    # Not a URL: a usage error, as for any bad option.
    r = project.cli("status", "--store", "/tmp/elsewhere.db")
    assert r.returncode == 2 and "must be a postgresql:// URL" in r.stderr


def test_a_supervisor_rides_out_a_database_outage_and_loses_nothing(
    project: Project, pg_server: PgServer, tmp_path: Path
) -> None:
    name = f"t_{secrets.token_hex(6)}"
    pg_server.create_database(name)
    done = tmp_path / "done"
    release = tmp_path / "release"
    project.write(
        "agents:\n  - {name: w, kind: shell}\ntasks:\n"
        f"  - {{id: long, run: 'while [ ! -e {release} ]; do sleep 0.1; done; echo ok > {done}'}}\n",
        store=pg_server.url(name),
    )
    project.cli("db", "init", check=True)
    proc = project.start()
    project.wait_task("long", TaskState.RUNNING)
    project.close_store()
    # The outage: no new connection is let in, and the open ones (the supervisor's) are cut.
    pg_server.psql(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false; '
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid();",
        dbname="postgres",
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the supervisor says it waits; it does not stop
    assert "cannot be reached" in line and "trying again" in line, line
    assert proc.poll() is None
    release.touch()  # the task ends while the database is away: its rc file keeps the status
    wait_until(done.exists, timeout=30, message="the agent did not run on through the outage")
    panes = project.tmux.list_panes()
    assert len(panes) == 1 and not panes[0].dead
    pg_server.psql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true;', dbname="postgres")
    project.wait_task("long", TaskState.DONE, timeout=90)  # recorded once it is back
    attempts = project.store.attempts("long")
    assert [(a.outcome, a.exit_code) for a in attempts] == [(AttemptOutcome.OK, 0)]
    assert proc.poll() is None  # and it goes on supervising


def as_role(url: str, role: str) -> str:
    """The same database reached as another login role (the socket trusts every role)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


def test_roles_a_viewer_only_views_and_every_command_says_who_sent_it(
    project: Project, pg_server: PgServer
) -> None:
    name = f"t_{secrets.token_hex(6)}"
    pg_server.create_database(name)
    admin = pg_server.url(name)
    logins = {"ann": "overseer_viewer", "bob": "overseer_operator", "sup": "overseer_supervisor"}
    project.write(
        "agents:\n  - {name: w, kind: shell}\n"
        "tasks:\n  - {id: a, run: 'exit 3', max_attempts: 1}\n",
        store=as_role(admin, "sup"),
    )
    r = project.cli("db", "init", "--roles", "--store", admin, check=True)
    assert "overseer_viewer, overseer_operator, overseer_supervisor" in r.stdout
    for login, role in logins.items():
        pg_server.psql(f"DROP ROLE IF EXISTS {login}; CREATE ROLE {login} LOGIN IN ROLE {role};")
    try:
        # The supervisor's role is enough to run the fleet (claims, records, events).
        proc = project.start()
        project.wait_task("a", TaskState.FAILED)
        viewer = as_role(admin, "ann")
        assert project.cli("status", "--store", viewer).returncode == 0  # viewing is allowed
        assert project.cli("events", "--store", viewer).returncode == 0
        r = project.cli("retry", "a", "--store", viewer)
        assert r.returncode == 2, said(r)
        assert r.stderr.strip() == (
            "overseer: permission denied: role ann may only view (overseer_viewer)"
        )
        assert project.task_state("a") == TaskState.FAILED  # nothing was queued
        r = project.cli("retry", "a", "--reason", "once more", "--store", as_role(admin, "bob"))
        assert r.returncode == 0, said(r)
        project.wait_task("a", TaskState.FAILED)
        events = project.cli("events", "--store", viewer, check=True).stdout
        sent = [line for line in events.splitlines() if "sent by" in line]
        assert len(sent) == 1 and "retry a sent by bob (" in sent[0], events
        assert "a retried by operator" in events
        # A role that may only view cannot make roles or change the schema either.
        r = project.cli("db", "init", "--roles", "--store", viewer)
        assert r.returncode == 2 and "permission denied: role ann" in r.stderr, said(r)
        project.close()
        project.close_store()
        assert proc.returncode == 0
        # No supervisor runs: the operator's command is queued for one, not applied by a role
        # that may not (nor a crash on a state dir this machine never made).
        shutil.rmtree(project.state_dir)
        r = project.cli("retry", "a", "--store", as_role(admin, "bob"))
        assert r.returncode == 0 and "queued for a supervisor" in r.stdout, said(r)
        assert "may not apply it itself" in r.stdout and project.task_state("a") == TaskState.FAILED
        assert [c.verb for c in project.store.pending_commands()] == ["retry"]
    finally:
        project.close_store()
        pg_server.drop_database(name)
        pg_server.psql("".join(f"DROP ROLE IF EXISTS {login};" for login in logins))


def test_db_init_on_sqlite_makes_the_state_db_and_refuses_roles(project: Project) -> None:
    project.write(AGENTS)
    r = project.cli("db", "init", check=True)
    assert f"schema version {SCHEMA_VERSION} (sqlite)" in r.stdout
    assert str(project.state_dir) in r.stdout and (project.state_dir / "state.db").exists()
    assert project.store.schema_version() == SCHEMA_VERSION and project.store.tasks() == []
    r = project.cli("db", "init", "--roles")
    assert r.returncode == 2 and "--roles needs a PostgreSQL store" in r.stderr


def test_db_init_needs_no_config_file(tmp_path: Path, pg_url: str) -> None:
    """`db init --store URL` in a directory with no overseer.yaml: before it the database has
    no schema, which must not stop the very command that makes it."""
    env = {**Project(tmp_path).env(), STORE_ENV: ""}
    run = [sys.executable, "-m", "overseer.tui.cli"]
    r = subprocess.run(
        [*run, "status", "--store", pg_url], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert r.returncode == 3 and "no Overseer schema" in r.stderr, said(r)
    r = subprocess.run(
        [*run, "db", "init", "--store", pg_url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and "schema version" in r.stdout, said(r)
    r = subprocess.run(
        [*run, "status", "--store", pg_url], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0 and "tasks: none" in r.stdout, said(r)
