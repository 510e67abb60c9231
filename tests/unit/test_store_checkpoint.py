"""WAL checkpoints run in a thread of their own, never in the supervisor's commits."""

from __future__ import annotations

from pathlib import Path

from overseer.state.store import Store
from tests.helpers import wait_until

ROWS, SIZE = 1200, 4000  # about 1,200 pages: past the 1,000 at which a commit checkpoints


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    idle = store.checkpoint_in_background(interval=3600.0)  # a thread that waits long
    for i in range(ROWS):
        store.event("bench.fill", "x" * SIZE + str(i))
    # No commit checkpointed: the pages are all still in the WAL, none in the database.
    assert db.stat().st_size < ROWS * SIZE // 4
    idle.stop()
    # The thread copies them into the database file.
    checkpointer = store.checkpoint_in_background(interval=0.05)
    try:
        wait_until(
            lambda: db.stat().st_size > ROWS * SIZE,
            message=f"the WAL was never checkpointed ({db.stat().st_size} bytes in the database)",
        )
        assert checkpointer.done > 0
    finally:
        checkpointer.stop()
    # Once stopped, the store's connection checkpoints by itself again.
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert store.integrity_check() == "ok"
    store.close()
