"""A supervisor restart never kills healthy work, whatever changed while it was down."""

from __future__ import annotations

import pytest

from tests.faults import Figures, restart_after_downtime, shrink_campaign
from tests.project import Project


def report(fig: Figures) -> None:
    """Print the figures (visible with -s) and fail on any broken promise."""
    print(f"\n{fig.name}: " + ", ".join(f"{k}={v}" for k, v in fig.values.items()))
    assert not fig.violations, fig.violations


@pytest.mark.parametrize("how", ["kill9", "down"])
def test_downtime_longer_than_stall_timeout_keeps_healthy_work(project: Project, how: str) -> None:
    # stall_timeout 6 s, 10 s without a supervisor: a printing task keeps running, a task at
    # a [y/N] prompt stays waiting, and the silent one is still called stalled.
    report(restart_after_downtime(project, how=how, stall_timeout=6.0, downtime=10.0))


def test_agent_count_shrunk_while_down_runs_nothing_twice_and_closes_old_panes(
    project: Project,
) -> None:
    fig = shrink_campaign(project, before=3, task_seconds=5.0, tasks=6)
    report(fig)
    assert fig["attempts in flight at the kill"] == 3
    assert fig["unconfigured panes closed"] == 3
