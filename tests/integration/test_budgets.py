"""Budgets and the fleet-wide circuit breaker: a real supervisor, real tmux, real processes."""

from __future__ import annotations

import json

from overseer.state.models import AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project

SYSTEMIC = "something systemic: network, disk, credentials?"


def kinds(project: Project, task_id: str | None = None) -> list[str]:
    """The kinds of the events so far (of one task, if given)."""
    return [e.kind for e in project.store.events(task_id=task_id, limit=10_000)]


def status(project: Project) -> dict[str, object]:
    r = project.cli("status", "--json")
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def sweeps_pass(project: Project, n: float = 3.0) -> None:
    """Wait until the supervisor has beaten for `n` more seconds (its sweeps ran meanwhile)."""
    first = project.store.supervisor().heartbeat_at or 0.0
    wait_until(
        lambda: (project.store.supervisor().heartbeat_at or 0.0) >= first + n,
        timeout=30,
        message="the supervisor's heartbeat did not move on",
    )


def test_a_task_over_its_wall_budget_is_stopped_or_paused_and_resume_lifts_it(
    project: Project,
) -> None:
    project.write(
        """agents:
  - {name: w, count: 2}
tasks:
  - {id: endless, run: "sleep 60", budget: {wall: 2, on_exceed: stop}}
  - {id: slow-fail, run: "sleep 5; echo finished-anyway; exit 1", max_attempts: 3,
     budget: {wall: 2, on_exceed: pause}}
""",
        retry={"backoff": 0, "backoff_max": 0},  # a failed attempt is claimable again at once
    )
    project.start()
    # stop: the running attempt is interrupted (Ctrl-C, as `overseer interrupt` sends it), and
    # the task is blocked, not retried.
    project.wait_task("endless", TaskState.BLOCKED, timeout=30)
    (stopped,) = project.store.attempts("endless")
    assert stopped.outcome == AttemptOutcome.FAILED and stopped.exit_code == 130
    task = project.store.task("endless")
    assert task is not None and task.blocked_reason is not None
    assert task.blocked_reason.startswith("budget exceeded (wall ")
    assert "overseer resume --budget task:endless" in task.blocked_reason
    # pause: its attempt runs to its own end (exit 1, its last line printed), and the task is
    # then blocked instead of retried although tries are left.
    project.wait_task("slow-fail", TaskState.BLOCKED, timeout=30)
    paused = project.attempt_showing("slow-fail", "finished-anyway")
    assert paused.exit_code == 1 and len(project.store.attempts("slow-fail")) == 1
    for task_id in ("endless", "slow-fail"):
        events = kinds(project, task_id)
        assert events.count("budget.warn") == 1 and events.count("budget.exceeded") == 1
        assert events.index("budget.warn") < events.index("budget.exceeded")
    budgets = {b["scope"]: b for b in status(project)["budgets"]}  # type: ignore[attr-defined]
    assert budgets["task:endless"]["holding"] and budgets["task:endless"]["on_exceed"] == "stop"
    # The fix the suggestion names: `overseer resume --budget task:ID` unblocks it, and the
    # budget does not act again (lifted until it changes).
    suggest = project.cli("suggest", "--json")
    keys = [s["key"] for s in json.loads(suggest.stdout)]
    assert "task:slow-fail:raise-budget" in keys, keys
    r = project.cli("resume", "--budget", "task:slow-fail")
    assert r.returncode == 0, r.stderr
    assert "budget of task 'slow-fail' lifted" in r.stdout
    wait_until(
        lambda: len(project.store.attempts("slow-fail")) >= 2,
        timeout=30,
        message="slow-fail was not claimed again after its budget was lifted",
    )
    project.wait_task("slow-fail", TaskState.FAILED, timeout=30)  # its tries, not its budget
    assert project.task_state("endless") == TaskState.BLOCKED
    r = project.cli("resume", "--budget", "task:nope")
    assert r.returncode == 1 and "no budget with scope 'task:nope'" in r.stderr


def test_a_group_over_its_budget_pauses_its_agents_and_the_others_go_on(
    project: Project,
) -> None:
    project.write(
        """agents:
  - {name: a, budget: {wall: 1.5, on_exceed: pause}}
  - {name: b}
tasks:
  - {id: first, run: "sleep 4", agent: a}
  - {id: second, run: "true", agent: a, depends_on: [first]}
  - {id: other, run: "true", agent: b, depends_on: [first]}
"""
    )
    project.start()
    project.wait_task("first", TaskState.DONE, timeout=30)  # the running attempt finishes
    project.wait_task("other", TaskState.DONE, timeout=30)  # another group goes on
    sweeps_pass(project)
    assert project.task_state("second") == TaskState.READY  # a's group holds it back
    assert "budget.exceeded" in kinds(project)
    r = project.cli("resume")
    assert r.returncode == 0, r.stderr
    assert "budget of group 'a' lifted" in r.stdout
    project.wait_task("second", TaskState.DONE, timeout=30)


def breaker_config(project: Project, agents: int, tasks: int, **top: object) -> None:
    """`tasks` tasks that fail (exit 3) until the file `ok` exists, on `agents` shell agents;
    notifications of breaker.open appended to notes.txt."""
    lines = [
        f'  - {{id: t{i:02d}, run: "sleep 0.4; test -f ok || exit 3", max_attempts: 1}}'
        for i in range(tasks)
    ]
    project.write(
        f"agents:\n  - {{name: w, count: {agents}}}\ntasks:\n" + "\n".join(lines) + "\n",
        notify={
            "command": 'echo "$OVERSEER_EVENT: $OVERSEER_REASON" >> notes.txt',
            "events": ["breaker.open"],
            "min_interval": 0,
        },
        **top,
    )


def test_a_failing_fleet_trips_the_breaker_which_survives_a_restart_until_resume(
    project: Project,
) -> None:
    breaker_config(project, agents=3, tasks=24, max_parallel=3)
    sup = project.start()
    wait_until(
        lambda: "breaker.open" in kinds(project),
        timeout=60,
        message="the breaker did not open",
    )
    (opened,) = [e for e in project.store.events(limit=10_000) if e.kind == "breaker.open"]
    assert SYSTEMIC in opened.message and "exit codes 3" in opened.message
    assert len(opened.data["agents"]) == 3
    notes = project.root / "notes.txt"
    wait_until(lambda: notes.exists() and SYSTEMIC in notes.read_text(), timeout=30)
    assert notes.read_text().startswith("breaker.open: circuit breaker open: ")
    # Dispatch stopped: the attempts in flight end, and nothing more is claimed.
    wait_until(lambda: project.store.running_count() == 0, timeout=30)
    claimed = len(project.store.attempts())
    sweeps_pass(project)
    assert len(project.store.attempts()) == claimed
    left = [t.id for t in project.store.tasks() if t.state == TaskState.READY]
    assert left, "every task ran: the breaker held nothing back"
    doc = status(project)
    assert doc["breaker"]["open"] is True  # type: ignore[index]
    assert "held: circuit breaker open: " in project.cli("status").stdout
    # A restart keeps it open (it is stored), and still nothing is claimed.
    project.kill9(sup)
    project.start()
    sweeps_pass(project)
    assert len(project.store.attempts()) == claimed
    assert status(project)["breaker"]["open"] is True  # type: ignore[index]
    suggest = json.loads(project.cli("suggest", "--json").stdout)
    assert suggest[0]["key"] == "fleet:breaker:resume", suggest[0]
    assert suggest[0]["howto"].startswith("Find the common cause")
    # The cause fixed, `overseer resume` lifts it and dispatch goes on.
    (project.root / "ok").touch()
    r = project.cli("resume")
    assert r.returncode == 0, r.stderr
    assert "circuit breaker lifted" in r.stdout
    for task_id in left:
        project.wait_task(task_id, TaskState.DONE, timeout=60)
    assert status(project)["breaker"]["open"] is False  # type: ignore[index]
    assert kinds(project).count("breaker.open") == 1


def all_failed(project: Project) -> None:
    """Wait until every (failing) task has run out of tries."""
    wait_until(
        lambda: all(t.state == TaskState.FAILED for t in project.store.tasks()),
        timeout=90,
        message="the failing tasks did not all run",
    )


def test_failures_on_one_agent_do_not_trip_the_breaker(project: Project) -> None:
    breaker_config(project, agents=1, tasks=12)
    project.start()
    all_failed(project)
    sweeps_pass(project, 1.5)
    assert "breaker.open" not in kinds(project)
    assert status(project)["breaker"]["open"] is False  # type: ignore[index]
    assert not (project.root / "notes.txt").exists()


def test_breaker_off_lets_a_failing_fleet_run_everything(project: Project) -> None:
    breaker_config(project, agents=3, tasks=12, breaker=False)
    project.start()
    all_failed(project)
    sweeps_pass(project, 1.5)
    assert "breaker.open" not in kinds(project)


def test_add_takes_a_task_budget_and_refuses_a_bad_one(project: Project) -> None:
    project.write("agents:\n  - {name: w}\ntasks: []\n")
    project.start()
    r = project.cli("add", "x", "--budget", "wall=60,on_exceed=stop", "--", "true")
    assert r.returncode == 0, r.stderr
    (project.root / "more.yaml").write_text("- {id: y, run: 'true', budget: {tokens: 2e6}}\n")
    r = project.cli("add", "--file", "more.yaml")
    assert r.returncode == 0, r.stderr
    budgets = {b["scope"]: b for b in status(project)["budgets"]}  # type: ignore[attr-defined]
    assert (budgets["task:x"]["wall"], budgets["task:x"]["on_exceed"]) == (60, "stop")
    assert (budgets["task:y"]["tokens"], budgets["task:y"]["on_exceed"]) == (2_000_000, "pause")
    r = project.cli("add", "z", "--budget", "wall=soon", "--", "true")
    assert r.returncode == 2
    assert "'budget.wall' of task 'z' (seconds) must be a number > 0, got 'soon'" in r.stderr
    r = project.cli("add", "z", "--budget", "wall", "--", "true")
    assert r.returncode == 2 and "--budget takes KEY=VALUE pairs" in r.stderr
    assert "Traceback" not in r.stderr and project.store.task("z") is None
