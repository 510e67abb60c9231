"""Crash contexts on disk: private, never through a link, pruned by retention, read back."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from overseer.agents import crashes
from overseer.state.config import load_config_text
from overseer.state.paths import StatePaths
from overseer.state.store import StoreError


def files(agent: str, task: str, attempt: int, screen: str = "") -> dict[str, str]:
    context = f'{{"time": {time.time()}, "agent": "{agent}", "task": "{task}", "attempt": {attempt}, "why": "agent died: pane gone"}}'
    return {"screen.txt": screen, "tail.txt": "tail\n", "context.json": context}


def test_written_private_and_read_back_newest_first(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path)
    old = os.umask(0)
    try:
        first = crashes.write(paths, "w-1", 1000.0, files("w-1", "a", 1, "one\n"))
        second = crashes.write(paths, "w-1", 1000.0, files("w-1", "a", 2, "x\ntwo\n"))
    finally:
        os.umask(old)
    assert first != second  # the same millisecond: a name of its own, never an existing one
    for d in (paths.crashes, first, second):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in second.iterdir())
    crash = crashes.newest(paths, task="a")
    assert crash is not None and crash.path == second and crash.excerpt == "x\ntwo"
    assert "last crash: task a attempt 2 on w-1" in crashes.describe(crash)
    assert crashes.newest(paths, agent="w-2") is None


def test_never_written_through_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    (state / "crashes").symlink_to(elsewhere)
    with pytest.raises(StoreError, match="symbolic link"):
        crashes.write(StatePaths(state), "w", time.time(), files("w", "a", 1))
    assert list(elsewhere.iterdir()) == []
    (elsewhere / "20270101-000000.000-w").mkdir()  # a link's target is never read either
    assert crashes.entries(StatePaths(state)) == []


def test_pruned_by_age_and_by_count(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path)
    config = load_config_text("retention: {days: 1, crashes: 2}\nagents: [{name: w}]\n")
    made = [crashes.write(paths, "w", 1000.0 + i, files("w", "a", i)) for i in range(4)]
    now = time.time()
    os.utime(made[3], (now - 3 * 86400, now - 3 * 86400))  # past the days, however new its name
    assert crashes.prune(paths, config, now, dry_run=True) == [made[3], made[0]]
    assert crashes.entries(paths) == made  # a dry run removes nothing
    crashes.prune(paths, config, now)
    assert crashes.entries(paths) == made[1:3]
