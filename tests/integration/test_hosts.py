"""Several hosts on one PostgreSQL store: three supervisors with their own `--host-id`, state
dir and private tmux server claim from one queue; a host that crashes (its supervisor and its
tmux server killed) loses its tasks to the others once its heartbeat is stale past the lease,
and every task's side effect happens once; a task pinned to the dead host waits; a command for
another host's agent is applied there; a supervisor killed alone stops, when it comes back,
what it still ran of an attempt another host took over."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.store import Store
from tests.helpers import wait_until
from tests.project import Project

LEASE = "3"  # seconds: a crashed host's tasks go to the others about this long after


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[dict[str, Project]]:
    """Three project dirs (one per host), each with its own state dir and tmux server."""
    made = {}
    for name in ("a", "b", "c"):
        root = tmp_path / name
        root.mkdir()
        made[name] = Project(root)
    try:
        yield made
    finally:
        for proj in made.values():
            proj.close()


def config(effects: Path, n: int) -> str:
    """Two shell agents a host; n tasks, each appending its id to `effects` after 4 s."""
    lines = ["agents:", "  - {name: w, kind: shell, count: 2}", "tasks:"]
    for i in range(n):
        lines.append(f"  - {{id: t{i}, run: 'sleep 4; echo t{i} >> {effects}'}}")
    return "\n".join(lines) + "\n"


def crash(host: Project, proc: subprocess.Popen[str]) -> None:
    """The machine goes away: its supervisor and its tmux server (with the agents) die."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    host.tmux.kill_server()


def running_on(store: Store, host: str, since: float = 0.0) -> list[str]:
    """The tasks the host's agents run (those started after `since`)."""
    return [
        a.task_id
        for a in store.running_attempts()
        if a.agent.startswith(host + "/") and a.started_at >= since
    ]


def test_three_hosts_share_one_queue_and_a_crashed_host_loses_its_tasks_once(
    hosts: dict[str, Project], pg_store_url: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    for name, proj in hosts.items():
        reach = {"hosts": {"b": {"ssh": "me@10.0.0.9"}}} if name == "a" else {}
        proj.write(config(effects, 12), store=pg_store_url, **reach)
    procs = {name: proj.start("--host-id", name, "--lease", LEASE) for name, proj in hosts.items()}
    store = hosts["a"].store
    # Agents are host/agent, one set per host, in the one database.
    names = wait_until(  # (the message below is read after the wait)
        lambda: {a.name for a in store.agents()} if len(store.agents()) == 6 else None,
    )
    assert names == {f"{h}/w-{i}" for h in "abc" for i in (1, 2)}

    # Host c crashes while its agents run tasks that have not reached their side effect.
    wait_until(
        lambda: len(running_on(store, "c", since=time.time() - 2)) == 2,
        timeout=40,
        message="c never ran two fresh tasks",
    )
    lost = running_on(store, "c")
    crash(hosts["c"], procs["c"])
    # A task for the dead host only, added after the crash: it waits, the others go on.
    hosts["a"].cli("add", "pinned", "--host", "c", "--", f"echo pinned >> {effects}", check=True)

    wait_until(
        lambda: all(store.task(f"t{i}").state == TaskState.DONE for i in range(12)),  # type: ignore[union-attr]
        timeout=90,
        message="the tasks were not all done",
    )
    # Each side effect once: nothing ran twice, nothing was lost with host c.
    done = effects.read_text().split()
    assert sorted(done) == sorted(f"t{i}" for i in range(12)), done
    # The crashed host's tasks were reclaimed as lost and finished by the others.
    for task_id in lost:
        attempts = store.attempts(task_id)
        assert attempts[0].outcome == AttemptOutcome.LOST and attempts[0].agent.startswith("c/")
        assert attempts[-1].outcome == AttemptOutcome.OK and not attempts[-1].agent.startswith("c/")
    # The work spread over the hosts.
    ran = {a.agent.split("/")[0] for t in range(12) for a in store.attempts(f"t{t}")}
    assert ran == {"a", "b", "c"}
    assert store.task("pinned").state == TaskState.READY  # type: ignore[union-attr]

    # A command for another host's agent is routed to that host's supervisor.
    for verb in ("pause", "resume"):
        r = hosts["a"].cli(verb, "b/w-1")
        assert r.returncode == 0 and "queued" not in r.stdout, r.stdout + r.stderr
    applied = [e for e in store.events() if e.kind == "command.applied" and "b/w-1" in e.message]
    assert len(applied) == 2, [e.message for e in store.events() if e.kind.startswith("command")]
    # Attaching to another host's agent goes over ssh, as the config says, to its tmux.
    r = hosts["a"].cli("attach", "b/w-2", "--print", check=True)
    pane = store.agent("b/w-2").pane_id  # type: ignore[union-attr]
    assert r.stdout.split() == [
        *("ssh", "-t", "me@10.0.0.9", "tmux", "-L", hosts["b"].label),
        *("attach-session", "-t", str(pane)),
    ]
    r = hosts["a"].cli("attach", "c/w-2", "--print")
    assert r.returncode == 2 and "hosts: {c: {ssh: user@address}}" in r.stderr, r.stderr
    r = hosts["a"].cli("attach", "a/w-2", "--print", check=True)  # this host's: its own tmux
    assert r.stdout.split()[:3] == ["tmux", "-L", hosts["a"].label]
    # A bare agent name that several hosts have is refused, naming them.
    r = hosts["a"].cli("pause", "w-1")
    assert r.returncode == 2 and "a/w-1, b/w-1, c/w-1" in r.stderr, r.stderr

    # Every host is shown, the crashed one as gone once it missed three beats.
    def alive() -> dict[str, bool]:
        status = json.loads(hosts["a"].cli("status", "--json", check=True).stdout)
        return {h["name"]: h["alive"] for h in status["hosts"]}

    wait_until(lambda: alive() == {"a": True, "b": True, "c": False}, timeout=30)
    # Cleaning up on a host whose supervisor stopped leaves the other hosts' agents and panes
    # alone, the dead host's too.
    procs["a"].send_signal(signal.SIGTERM)
    procs["a"].wait(timeout=30)
    hosts["a"].cli("cleanup", check=True)
    assert {a.name for a in store.agents()} == names
    assert len([p for p in hosts["b"].tmux.list_panes() if not p.dead]) == 2


def test_a_supervisor_back_after_a_takeover_stops_what_it_still_ran(
    hosts: dict[str, Project], pg_store_url: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    body = (
        "agents:\n  - {name: w, kind: shell}\ntasks:\n"
        f"  - {{id: long, run: 'sleep 12; echo long >> {effects}', hosts: [a, b]}}\n"
    )
    a, b = hosts["a"], hosts["b"]
    b.write(body, store=pg_store_url)
    proc_b = b.start("--host-id", "b", "--lease", LEASE)
    store = b.store
    wait_until(lambda: running_on(store, "b") == ["long"], timeout=30)
    b.kill9(proc_b)  # the supervisor alone: its tmux and the attempt live on
    a.write(body, store=pg_store_url)
    proc_a = a.start("--host-id", "a", "--lease", LEASE)
    wait_until(
        lambda: store.attempts("long")[0].outcome == AttemptOutcome.LOST,
        timeout=30,
        message="a never took the task over",
    )
    assert store.attempts("long")[0].reason == "lease expired"
    b.procs.remove(proc_b)
    b.start("--host-id", "b", "--lease", LEASE)  # back: the old copy must not run on
    wait_until(
        lambda: any(e.kind == "attempt.superseded" for e in store.events(task_id="long")),
        timeout=15,
        message="b did not stop its superseded attempt",
    )
    a.wait_task("long", TaskState.DONE, timeout=30)
    assert effects.read_text().split() == ["long"]  # once: a's, never b's old copy
    assert [x.outcome for x in store.attempts("long")] == [AttemptOutcome.LOST, AttemptOutcome.OK]
    assert proc_a.poll() is None


def test_a_supervisor_back_within_its_lease_keeps_its_attempt(
    hosts: dict[str, Project], pg_store_url: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    release = tmp_path / "release"
    body = (
        "agents:\n  - {name: w, kind: shell}\ntasks:\n"
        f"  - {{id: job, run: 'while [ ! -e {release} ]; do sleep 0.1; done; echo job >> {effects}'}}\n"
    )
    a, b = hosts["a"], hosts["b"]
    for proj in (a, b):
        proj.write(body, store=pg_store_url)
    proc_b = b.start("--host-id", "b")
    store = b.store
    wait_until(lambda: running_on(store, "b") == ["job"], timeout=30)
    a.start("--host-id", "a")  # another host beside it, free to take work
    b.kill9(proc_b)
    release.touch()  # the task ends while b's supervisor is away: its rc file keeps the status
    wait_until(effects.exists, timeout=30)
    b.procs.remove(proc_b)
    b.start("--host-id", "b")  # back before its lease ran out: the attempt is still b's
    b.wait_task("job", TaskState.DONE, timeout=30)
    attempts = store.attempts("job")
    assert [(x.agent, x.outcome, x.exit_code) for x in attempts] == [("b/w", AttemptOutcome.OK, 0)]
    assert effects.read_text().split() == ["job"]
