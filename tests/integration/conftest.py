"""Integration fixtures: a real project with its own tmux server and SQLite file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A project in tmp_path; its supervisors and private tmux server end at teardown."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (looked for 'tmux' on PATH)")
    proj = Project(tmp_path)
    try:
        yield proj
    finally:
        proj.close()
