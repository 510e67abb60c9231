"""Errors as one hierarchy: whatever layer raises it, an Overseer error ends a command with one
line and the exit status its class carries; only a bug ends as a crash (70)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest

import overseer
from overseer.agents.explain import ExplainError
from overseer.agents.lock import LockHeld
from overseer.agents.tmux import TmuxError, TmuxMissing
from overseer.agents.worktree import WorktreeError
from overseer.state.config import ConfigError
from overseer.state.errors import EXIT_CRASH, OverseerError
from overseer.state.queue import QueueError
from overseer.state.statedir import StoreError, UnsafeStateDir
from overseer.tui import cli, cli_common

CASES: list[tuple[Callable[[Path], OverseerError], str, int]] = [
    (lambda d: ConfigError("unknown key 'x'", "a.yaml", 3, 1), "a.yaml:3:1: unknown key 'x'", 2),
    (lambda d: StoreError("the state database is corrupt"), "the state database is corrupt", 3),
    (lambda d: UnsafeStateDir(f"{d} is a symbolic link"), "is a symbolic link", 3),
    (lambda d: QueueError("build is done: nothing to retry"), "build is done: nothing to retry", 1),
    (lambda d: TmuxError("tmux new-session: no server"), "tmux new-session: no server", 3),
    (lambda d: TmuxMissing("tmux is not installed"), "tmux is not installed", 3),
    (lambda d: LockHeld(d / "supervisor.lock", 4242), "pid 4242", 2),
    (lambda d: WorktreeError("not inside a git repository"), "not inside a git repository", 3),
    (lambda d: ExplainError("unknown kind 'vim'"), "unknown kind 'vim'", 2),
    (
        lambda d: cli_common.CliError("the supervisor did not stop", 1),
        "the supervisor did not stop",
        1,
    ),
]


@pytest.mark.parametrize(("make", "said", "status"), CASES)
def test_an_overseer_error_from_any_layer_ends_a_command_with_its_status(
    make: Callable[[Path], OverseerError],
    said: str,
    status: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = make(tmp_path)

    def command(args: object) -> int:
        raise error

    monkeypatch.setattr(cli, "cmd_status", command)  # the parser takes it when it is built
    assert cli.main(["status", "--state-dir", str(tmp_path)]) == status
    err = capsys.readouterr().err
    assert err == f"overseer: {error}\n" and said in err  # one line, no crash log named
    assert not (tmp_path / "logs").exists()


def test_anything_else_is_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def command(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_status", command)
    tmp_path.joinpath("state").mkdir()
    assert cli.main(["status", "--state-dir", str(tmp_path / "state")]) == EXIT_CRASH
    assert "crashed (RuntimeError: a bug)" in capsys.readouterr().err


def test_every_error_class_of_overseer_is_an_overseer_error() -> None:
    """One way to turn errors into messages: no error class outside the hierarchy."""
    outside = []
    for info in pkgutil.walk_packages(overseer.__path__, "overseer."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
                and not issubclass(obj, OverseerError)
            ):
                outside.append(f"{module.__name__}.{name}")
    assert outside == []
