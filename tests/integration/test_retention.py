"""`retention` keeps the store's event and command logs bounded, and nothing else goes."""

from __future__ import annotations

import json
import time

from overseer.state.models import TaskState
from overseer.state.store import Store
from tests.project import Project

OLD = time.time() - 30 * 86400


def seed_history(store: Store, old: int, recent: int) -> None:
    with store.tx() as c:
        c.executemany(
            "INSERT INTO events(ts, kind, message) VALUES (?, 'seed.old', 'old')",
            [(OLD + i,) for i in range(old)],
        )
        c.executemany(
            "INSERT INTO events(ts, kind, message) VALUES (?, 'seed.recent', 'recent')",
            [(time.time(),) for _ in range(recent)],
        )
        c.execute(
            "INSERT INTO commands(ts, verb, target, status) VALUES (?, 'retry', 'x', 'applied')",
            (OLD,),
        )
        c.execute(
            "INSERT INTO commands(ts, verb, target, status) VALUES (?, 'retry', 'y', 'queued')",
            (OLD,),
        )


def kinds(store: Store) -> dict[str, int]:
    rows = store.conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall()
    return {r[0]: r[1] for r in rows}


def test_the_supervisor_trims_old_events_and_caps_their_number(project: Project) -> None:
    project.write(
        "agents:\n  - {name: w, kind: shell}\ntasks:\n  - {id: one, run: 'echo hi'}\n",
        retention={"days": 7, "events": 1000},
    )
    project.cli("plan", check=True)  # creates the store
    store = Store(project.state_dir / "state.db")
    seed_history(store, old=3000, recent=1500)
    r = project.cli("run", "--until-done", "-q", timeout=120)
    assert r.returncode == 0, r.stderr
    assert project.task_state("one") == TaskState.DONE
    counts = kinds(store)
    assert "seed.old" not in counts  # past 7 days
    total = sum(counts.values())
    assert 1000 <= total <= 1000 + 100, counts  # the newest 1,000 plus this run's own
    assert counts.get("task.done", 0) >= 1  # the run's events are among the newest kept
    cmds = store.conn.execute("SELECT target FROM commands ORDER BY id").fetchall()
    assert [c[0] for c in cmds] == ["y"]  # a queued command is never trimmed
    assert store.integrity_check() == "ok"


def test_cleanup_reports_then_trims_history(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    project.cli("plan", check=True)
    store = Store(project.state_dir / "state.db")
    seed_history(store, old=12_000, recent=10)
    dry = project.cli("cleanup", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {a["kind"]: a for a in json.loads(dry.stdout)}
    assert not planned["history"]["done"]
    assert "12000 event(s) and 1 operator command(s)" in planned["history"]["detail"]
    assert kinds(store)["seed.old"] == 12_000  # a dry run deletes nothing
    done = project.cli("cleanup", "--json")
    acts = {a["kind"]: a for a in json.loads(done.stdout)}
    assert acts["history"]["done"], done.stdout
    assert kinds(store) == {"seed.recent": 10}
    again = project.cli("cleanup", "--json")
    assert "history" not in {a["kind"] for a in json.loads(again.stdout)}
