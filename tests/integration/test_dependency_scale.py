"""The dependency scenario of the fault campaign, small: a chain runs in order, once each; a
failed task holds its dependants pending without the supervisor failing anything else."""

from __future__ import annotations

from tests.faults import dependency_scale
from tests.project import Project


def test_chain_and_settled_fan_out(project: Project) -> None:
    fig = dependency_scale(project, tasks=40, agents=3, window=1.0)
    assert not fig.violations, fig.violations
    assert fig["chain tasks/s"] > 0
