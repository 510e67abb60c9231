"""A task cannot reach Overseer's tmux server by accident, and one that kills it on purpose
uses only its own tries."""

from __future__ import annotations

from overseer.state.models import TaskState
from tests.faults import Figures, task_kills_tmux
from tests.project import Project


def report(fig: Figures) -> None:
    """Print the figures (visible with -s) and fail on any broken promise."""
    print(f"\n{fig.name}: " + ", ".join(f"{k}={v}" for k, v in fig.values.items()))
    assert not fig.violations, fig.violations


def test_tasks_do_not_find_the_control_socket_in_their_environment(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
  - {name: c, kind: shell, command: 'bash --norc --noprofile -i'}
tasks:
  - {id: env-w, agent: w, run: 'env > env-w.txt'}
  - {id: env-c, agent: c, run: 'env > env-c.txt'}
"""
    )
    done = project.cli("run", "--until-done", "--timeout", "60", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("env-w", "env-c"):
        names = {
            line.split("=", 1)[0]
            for line in (project.root / f"{name}.txt").read_text().splitlines()
        }
        assert "OVERSEER_TASK" in names
        assert not names & {"TMUX", "TMUX_PANE"}, f"{name}: {sorted(names & {'TMUX', 'TMUX_PANE'})}"
    # A custom agent command still starts, and runs its task, through the env wrapper.
    assert project.task_state("env-c") == TaskState.DONE


def test_a_task_that_kills_the_tmux_server_uses_only_its_own_tries(project: Project) -> None:
    fig = task_kills_tmux(project, innocents=4, agents=3, task_seconds=2.0)
    report(fig)
    assert fig["tmux deaths"] >= 3
