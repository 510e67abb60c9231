"""`overseer token` and `overseer serve`: a real server process on a free port, asked by
aiohttp's client: token roles, /metrics through prometheus-client's parser, /api/status,
the event stream resumed after a dropped connection, operator commands."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from overseer.state.models import TaskState
from overseer.state.store import token_digest
from tests.helpers import wait_until
from tests.project import Project

TASKS = """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: bad, run: 'exit 2', max_attempts: 1}
  - {id: good, run: 'exit 0'}
"""


class Server:
    """A running `overseer serve` and the tokens to ask it with."""

    def __init__(self, project: Project, proc: subprocess.Popen[str], url: str) -> None:
        self.project = project
        self.proc = proc
        self.url = url
        self.viewer = create_token(project, "viewer", "v")
        self.operator = create_token(project, "operator", "o")

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def create_token(project: Project, role: str, name: str) -> str:
    r = project.cli("token", "create", "--role", role, "--name", name, check=True)
    return r.stdout.strip()


def start_serve(project: Project, *args: str) -> tuple[subprocess.Popen[str], Path]:
    err = project.root / f"serve-{len(project.procs)}.err"
    cmd = [sys.executable, "-m", "overseer.tui.cli", "serve", "-c", str(project.config), *args]
    with err.open("w") as sink:
        proc = subprocess.Popen(cmd, cwd=project.root, env=project.env(), stderr=sink, text=True)
    project.procs.append(proc)  # ended at teardown whatever happens
    return proc, err


def serving(project: Project) -> tuple[Server, Path]:
    """`overseer serve` on a free loopback port, once it says where it listens (and the
    file its stderr goes to)."""
    proc, err = start_serve(project, "--listen", "127.0.0.1:0")
    found = wait_until(
        lambda: proc.poll() is not None or re.search(r"serving on (http://\S+)", err.read_text()),
        timeout=30,
        message="serve did not start",
    )
    assert proc.poll() is None, err.read_text()
    assert not isinstance(found, bool)
    return Server(project, proc, found.group(1)), err


def served_after_a_run(project: Project, tasks: str) -> Iterator[Server]:
    """Run `tasks` to their end (some fail), serve the project, and stop serve cleanly after."""
    project.write(tasks)
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    served, err = serving(project)
    yield served
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0, err.read_text()


@pytest.fixture
def server(project: Project) -> Iterator[Server]:
    yield from served_after_a_run(project, TASKS)


def test_token_cli_prints_the_token_once_and_keeps_only_its_hash(project: Project) -> None:
    project.write(TASKS)
    assert project.cli("db", "init").returncode == 0
    token = create_token(project, "operator", "deploy")
    assert len(token) >= 40
    listed = project.cli("token", "list", check=True).stdout
    assert "deploy" in listed and "operator" in listed and token not in listed
    assert project.store.token_role(token_digest(token)) == "operator"
    # (Not by reading the file: closing it would drop this process's SQLite locks on it.)
    assert token not in "\n".join(project.store.conn.iterdump())
    dup = project.cli("token", "create", "--role", "viewer", "--name", "deploy")
    assert dup.returncode == 2 and "exists already" in dup.stderr
    assert project.cli("token", "create").returncode == 2  # no --role
    assert project.cli("token", "revoke", "deploy").returncode == 0
    assert project.store.token_role(token_digest(token)) is None
    gone = project.cli("token", "revoke", "deploy")
    assert gone.returncode == 1 and "no token named 'deploy'" in gone.stderr


def test_a_non_loopback_address_needs_allow_remote(project: Project) -> None:
    project.write(TASKS)
    assert project.cli("db", "init").returncode == 0
    r = project.cli("serve", "--listen", "0.0.0.0:0")
    assert r.returncode == 2 and "--allow-remote" in r.stderr and "Traceback" not in r.stderr
    assert project.cli("serve", "--listen", "nowhere").returncode == 2
    proc, err = start_serve(project, "--listen", "0.0.0.0:0", "--allow-remote")
    # The warning says "serving on 0.0.0.0" before it serves: wait for the address it bound.
    wait_until(lambda: "serving on http://" in err.read_text(), timeout=30, message="not serving")
    assert "warning" in err.read_text() and "other machines" in err.read_text()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


async def test_every_request_needs_a_known_token(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {server.viewer}"},
            {"Authorization": "Bearer "},
        ):
            for path in ("/metrics", "/api/status", "/api/events", "/nowhere"):
                async with http.get(server.url + path, headers=headers) as r:
                    assert r.status == 401, (path, headers)
                    assert await r.read() == b""  # nothing about why, nor what exists
        async with http.post(server.url + "/api/commands", json={}) as r:
            assert r.status == 401
        async with http.get(server.url + "/api/status", headers=server.headers(server.viewer)) as r:
            assert r.status == 200
        assert server.project.cli("token", "revoke", "v").returncode == 0
        async with http.get(server.url + "/api/status", headers=server.headers(server.viewer)) as r:
            assert r.status == 401  # revoked: refused at the next request


async def scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as prometheus-client's own parser reads it: (name, labels) -> value."""
    headers = server.headers(server.viewer)
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(server.url + "/metrics") as r,
    ):
        assert r.status == 200
        text = await r.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_parse_and_count_the_store(server: Server) -> None:
    samples = await scrape(server)
    assert samples[("overseer_tasks", (("state", "failed"),))] == 1
    assert samples[("overseer_tasks", (("state", "done"),))] == 1
    assert samples[("overseer_tasks", (("state", "running"),))] == 0
    assert samples[("overseer_task_failures_total", (("exit_code", "2"),))] == 1
    assert samples[("overseer_attempts_total", (("outcome", "ok"),))] == 1
    assert samples[("overseer_attempts_total", (("outcome", "failed"),))] == 1
    assert sum(v for (n, _), v in samples.items() if n == "overseer_agents") == 1
    assert samples[("overseer_agent_heartbeat_age_seconds", (("agent", "w"),))] >= 0
    assert ("overseer_supervisor_heartbeat_age_seconds", ()) not in samples  # none runs
    server.project.start()
    samples = await scrape(server)
    assert 0 <= samples[("overseer_supervisor_heartbeat_age_seconds", ())] < 60


async def test_status_is_the_status_json_document(server: Server) -> None:
    headers = server.headers(server.viewer)
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(server.url + "/api/status") as r,
    ):
        assert r.status == 200 and r.content_type == "application/json"
        served = await r.json()
    printed = json.loads(server.project.cli("status", "--json", check=True).stdout)
    for key in ("project", "counts", "state_dir", "store", "suggestions"):
        assert served[key] == printed[key]
    assert {t["id"]: t["state"] for t in served["tasks"]} == {"bad": "failed", "good": "done"}
    assert [a["name"] for a in served["agents"]] == [a["name"] for a in printed["agents"]]
    # A long-lived server reads through its one store: requests leave no connection open.
    fds = Path(f"/proc/{server.proc.pid}/fd")
    before = len(list(fds.iterdir()))
    async with aiohttp.ClientSession(headers=headers) as http:
        for _ in range(30):
            async with http.get(server.url + "/api/status") as r:
                assert r.status == 200
    assert len(list(fds.iterdir())) < before + 10


async def read_events(
    response: aiohttp.ClientResponse, until: int, seen: list[dict[str, Any]]
) -> None:
    """Read Server-Sent Events into `seen` (checking each id: line) until event id `until`."""
    event_id = None
    while not seen or seen[-1]["id"] < until:
        line = (await response.content.readline()).decode()
        assert line, "the stream ended"
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            assert data["id"] == event_id
            seen.append(data)


async def test_events_resume_after_a_dropped_connection(server: Server) -> None:
    store = server.project.store
    first = store.last_event_id()
    assert first > 3
    seen: list[dict[str, Any]] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        headers=server.headers(server.viewer), timeout=timeout
    ) as http:
        async with http.get(server.url + "/api/events") as r:
            assert r.status == 200 and r.content_type == "text/event-stream"
            await read_events(r, 3, seen)
            # A new event is pushed to a connected reader.
            pushed = store.event("test.pushed", "while connected")
            await read_events(r, pushed, seen)
        cursor = seen[-1]["id"]  # the connection dropped here, mid-history
        written = [store.event("test.later", f"after the drop {i}") for i in range(5)]
        resumed: list[dict[str, Any]] = []
        async with http.get(
            server.url + "/api/events", headers={"Last-Event-ID": str(cursor)}
        ) as r:
            assert r.status == 200
            await read_events(r, written[-1], resumed)
        async with http.get(server.url + "/api/events", headers={"Last-Event-ID": "x"}) as r:
            assert r.status == 400
    ids = [e["id"] for e in seen + resumed]
    assert ids == sorted(set(ids))  # none repeated, in order
    assert ids == [e.id for e in store.events(since=0) if e.id <= written[-1]]  # none lost
    assert resumed[0]["id"] == cursor + 1 and resumed[-1]["message"] == "after the drop 4"


async def test_commands_need_the_operator_role_and_are_validated(server: Server) -> None:
    url = server.url + "/api/commands"
    block = {"verb": "block", "target": "good", "args": {"reason": "from the API"}}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=block, headers=server.headers(server.viewer)) as r:
            assert r.status == 403
        assert server.project.task_state("good") == TaskState.DONE
        ops = server.headers(server.operator)
        async with http.post(url, json=block, headers=ops) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        assert body["status"] == "applied" and body["command"] > 0
        assert server.project.task_state("good") == TaskState.BLOCKED
        for bad, message in (
            ({"verb": "explode", "target": "good"}, "verb must be one of"),
            ({"verb": "block", "target": ""}, "target must name a task"),
            ({"verb": "retry", "target": "nosuch"}, "nosuch"),
            ([1, 2], "JSON object"),
        ):
            async with http.post(url, json=bad, headers=ops) as r:
                assert r.status == 400, bad
                text = await r.text()
                assert message in text, (bad, text)
        async with http.post(url, data=b"{not json", headers=ops) as r:
            assert r.status == 400
        # `overseer resume` without an agent: the breaker and budgets (none holds here).
        async with http.post(url, json={"verb": "resume"}, headers=ops) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["result"].startswith("nothing to resume")
        lift = {"verb": "resume", "args": {"budget": "task:nosuch"}}
        async with http.post(url, json=lift, headers=ops) as r:
            assert r.status == 400 and "no budget with scope 'task:nosuch'" in await r.text()
    cli = server.project.cli("retry", "nosuch")
    assert cli.returncode != 0  # the CLI refuses the same command


async def test_serve_stops_on_sigterm_with_a_stream_open(server: Server) -> None:
    timeout = aiohttp.ClientTimeout(total=60)
    headers = server.headers(server.viewer)
    async with (
        aiohttp.ClientSession(headers=headers, timeout=timeout) as http,
        http.get(server.url + "/api/events") as r,
    ):
        await read_events(r, 1, [])
        server.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.proc.wait, 30) == 0


async def test_scale_is_an_api_command_too(server: Server) -> None:
    url = server.url + "/api/commands"
    ops = server.headers(server.operator)
    async with aiohttp.ClientSession() as http:
        scale = {"verb": "scale", "target": "w", "args": {"size": "+2"}}
        async with http.post(url, json=scale, headers=ops) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        assert body["status"] == "applied" and "w: 3 agent(s)" in body["result"]
        bad = {"verb": "scale", "target": "w", "args": {"size": "-9"}}
        async with http.post(url, json=bad, headers=ops) as r:
            assert r.status == 400 and "0 to 1000 agents" in await r.text()
    stored = json.loads(server.project.store.meta_get("pool") or "{}")
    assert stored["w"]["names"] == ["w", "w-2", "w-3"]
