"""kill -9 of the supervisor at random moments: no task lost, none run twice, codes right."""

from __future__ import annotations

import random
from collections import Counter

from overseer.state.models import AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project

N_TASKS = 36
CYCLES = 3


def expected_code(i: int) -> int:
    return 3 if i % 5 == 0 else 0


def test_kill_minus_nine_mid_run_then_restart_runs_each_task_once(project: Project) -> None:
    rng = random.Random(1234)
    tasks = []
    for i in range(N_TASKS):
        sleep = rng.choice(["0.2", "0.4", "0.7", "1.0", "1.5"])
        tasks.append(
            f'  - {{id: t{i:02d}, run: \'echo "$OVERSEER_TASK $OVERSEER_ATTEMPT" >> effects.txt; '
            f"sleep {sleep}; exit {expected_code(i)}'}}"
        )
    project.write(
        "agents:\n  - {name: w, kind: shell, count: 4}\ntasks:\n" + "\n".join(tasks) + "\n",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
        max_parallel=4,
    )

    def finished() -> int:
        c = project.store.task_counts()
        return c["done"] + c["failed"]

    for _cycle in range(CYCLES):
        before = finished()
        proc = project.start()
        # Let a few tasks finish, then kill at a random moment while others are in flight.
        wait_until(lambda b=before: finished() >= b + 3, timeout=60, message="no progress")
        wait_until(
            lambda: project.store.task_counts()["running"] > 0,
            timeout=30,
            message="nothing running to interrupt",
        )
        project.kill9(proc)
        assert project.tmux.alive(), "the agents must outlive the supervisor"

    final = project.cli("run", "--until-done", "--timeout", "120", "-q")
    assert final.returncode == 1, final.stdout + final.stderr  # some tasks exit 3 by design

    effects = Counter(
        line.split()[0] for line in (project.root / "effects.txt").read_text().splitlines()
    )
    assert effects == Counter({f"t{i:02d}": 1 for i in range(N_TASKS)}), (
        "a side effect ran twice or never"
    )
    store = project.store
    for i in range(N_TASKS):
        task = store.task(f"t{i:02d}")
        assert task is not None
        want = expected_code(i)
        assert task.state == (TaskState.DONE if want == 0 else TaskState.FAILED), task
        assert task.exit_code == want, task
        real = [a for a in store.attempts(task.id) if a.outcome != AttemptOutcome.RELEASED]
        assert len(real) == 1, real
        assert real[0].exit_code == want
    assert any(e.kind in ("task.readopted", "task.recovered") for e in store.events()), (
        "the kills never caught a task in flight"
    )
    assert store.integrity_check() == "ok"
