"""The private tmux server, against a real tmux on its own socket."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest

import overseer.agents.tmux as tmux_mod
from overseer.agents.stream import LogStream, to_text
from overseer.agents.tmux import (
    PaneInfo,
    TmuxError,
    TmuxMissing,
    TmuxServer,
    server_label,
    tmux_binary,
    tmux_version,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.tmux


def _log_text(stream: LogStream) -> str:
    while stream.read_new():
        pass
    return to_text(stream.ring.data())


def _wait_for_text(stream: LogStream, needle: str, timeout: float = 10.0) -> str:
    return wait_until(
        lambda: text if needle in (text := _log_text(stream)) else "",
        timeout=timeout,
        message=f"{needle!r} never reached {stream.path} (has {_log_text(stream)!r})",
    )


def _pane_after_exit(server: TmuxServer, name: str) -> PaneInfo:
    """Wait until the pane is dead with a known status or signal, kicking tmux < 3.6."""

    def finished() -> PaneInfo | None:
        if server.needs_kick:
            server.kick()
        info = server.window_pane(name)
        if info and info.dead and (info.dead_status is not None or info.dead_signal is not None):
            return info
        return None

    result = wait_until(finished, message=f"pane {name} never reported its exit")
    assert result is not None
    return result


def test_new_server_lists_no_panes(tmux_server: TmuxServer) -> None:
    assert tmux_server.alive()
    assert tmux_server.list_panes() == []  # the placeholder window is not an agent
    assert tmux_server.server_pid() is not None


def test_spawn_runs_command_in_cwd_with_env(tmux_server: TmuxServer, tmp_path: Path) -> None:
    work = tmp_path / "work dir"
    work.mkdir()
    log = tmp_path / "logs" / "a1.log"
    env = {"FOO": "bar baz; $HOME 'q'", "EMPTY": ""}
    pane = tmux_server.spawn_window(
        "a1", 'echo "FOO=$FOO"; echo "EMPTY=[$EMPTY]"; pwd; sleep 60', str(work), env, log
    )
    assert pane.window == "a1"
    assert pane.pane_id.startswith("%")
    text = _wait_for_text(LogStream(log), "EMPTY=[]")
    assert "FOO=bar baz; $HOME 'q'" in text
    assert str(work) in text or str(work.resolve()) in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_output_printed_at_once_is_not_lost(tmux_server: TmuxServer, tmp_path: Path) -> None:
    # The pipe must be attached before the command runs, even for instant output. The
    # commands here stay alive after printing: when a pane's process exits within moments of
    # printing, tmux 3.3a now and then never reads those bytes at all (its screen stays
    # empty too; seen about once in 600 spawns on a loaded 2-core machine), which is not
    # what this test is about.
    for i in range(5):
        tmux_server.spawn_window(
            f"fast{i}", f"echo early-{i}; sleep 60", str(tmp_path), {}, tmp_path / f"{i}.log"
        )
    for i in range(5):
        _wait_for_text(LogStream(tmp_path / f"{i}.log"), f"early-{i}")


def test_window_has_the_requested_size(tmux_server: TmuxServer, tmp_path: Path) -> None:
    log = tmp_path / "size.log"
    tmux_server.spawn_window(
        "sized", "stty size; sleep 60", str(tmp_path), {}, log, width=80, height=20
    )
    _wait_for_text(LogStream(log), "20 80")


def test_duplicate_window_name_is_refused(tmux_server: TmuxServer, tmp_path: Path) -> None:
    tmux_server.spawn_window("dup", "cat", str(tmp_path), {}, tmp_path / "dup.log")
    with pytest.raises(TmuxError, match="already exists"):
        tmux_server.spawn_window("dup", "cat", str(tmp_path), {}, tmp_path / "dup2.log")
    assert [p.window for p in tmux_server.list_panes()] == ["dup"]


def test_missing_cwd_is_a_clear_error(tmux_server: TmuxServer, tmp_path: Path) -> None:
    with pytest.raises(TmuxError, match="does not exist"):
        tmux_server.spawn_window("nowhere", "true", str(tmp_path / "nope"), {}, tmp_path / "n.log")


def test_pane_is_alive_then_dead_with_exit_status(tmux_server: TmuxServer, tmp_path: Path) -> None:
    pane = tmux_server.spawn_window(
        "exiter", "read x; exit 7", str(tmp_path), {}, tmp_path / "e.log"
    )
    info = tmux_server.window_pane("exiter")
    assert info is not None
    assert not info.dead
    assert info.pid is not None and info.pid > 0
    assert info.dead_status is None
    tmux_server.send_text(pane.pane_id, "go")
    done = _pane_after_exit(tmux_server, "exiter")
    assert done.dead_status == 7
    assert done.pane_id == pane.pane_id


def test_exec_process_killed_by_signal(tmux_server: TmuxServer, tmp_path: Path) -> None:
    pane = tmux_server.spawn_window(
        "sleeper", "exec sleep 60", str(tmp_path), {}, tmp_path / "s.log"
    )
    assert pane.pid is not None
    wait_until(
        lambda: (tmux_server.window_pane("sleeper") or pane).current_command == "sleep",
        message="sleep never started",
    )
    os.kill(pane.pid, signal.SIGTERM)
    done = _pane_after_exit(tmux_server, "sleeper")
    assert done.dead
    assert done.dead_signal == signal.SIGTERM or done.dead_status == 128 + signal.SIGTERM


def test_many_exec_exits_are_all_recovered_by_kick(tmux_server: TmuxServer, tmp_path: Path) -> None:
    for i in range(1, 6):
        tmux_server.spawn_window(
            f"x{i}", f"exec sh -c 'exit {i}'", str(tmp_path), {}, tmp_path / f"x{i}.log"
        )
    for i in range(1, 6):
        assert _pane_after_exit(tmux_server, f"x{i}").dead_status == i


SPECIAL = 'he said "hi" & it\'s $HOME `uname` \\n \\; 100% ~ * 日本語 é e\u0301 ✓;'


def test_send_text_arrives_verbatim(tmux_server: TmuxServer, tmp_path: Path) -> None:
    log = tmp_path / "cat.log"
    # No tty echo: the log holds only what cat read, once.
    pane = tmux_server.spawn_window(
        "typist", "stty -echo -icanon; echo ready; cat", str(tmp_path), {"LANG": "C.UTF-8"}, log
    )
    stream = LogStream(log)
    _wait_for_text(stream, "ready")
    lines = [SPECIAL, ";", "-n starts with a dash", "ends with backslash semicolon \\;", "x" * 5000]
    tmux_server.send_text(pane.pane_id, "\n".join(lines))
    tmux_server.send_text(pane.pane_id, "last")
    text = _wait_for_text(stream, "last\n")
    assert text.split("\n")[1:-1] == [*lines, "last"]


def test_send_text_without_enter_leaves_the_line_open(
    tmux_server: TmuxServer, tmp_path: Path
) -> None:
    log = tmp_path / "read.log"
    pane = tmux_server.spawn_window(
        "reader", 'read line; echo "got:$line"; sleep 60', str(tmp_path), {}, log
    )
    stream = LogStream(log)
    tmux_server.send_text(pane.pane_id, "abc", enter=False)
    _wait_for_text(stream, "abc")  # echoed by the tty, not yet read
    assert "got:" not in _log_text(stream)
    tmux_server.send_keys(pane.pane_id, "Enter")
    _wait_for_text(stream, "got:abc")


def test_interrupt_stops_a_foreground_command(tmux_server: TmuxServer, tmp_path: Path) -> None:
    log = tmp_path / "int.log"
    pane = tmux_server.spawn_window(
        "intr",
        "trap 'echo caught; exit 3' INT; echo armed; while :; do sleep 0.05; done",
        str(tmp_path),
        {},
        log,
    )
    _wait_for_text(LogStream(log), "armed")
    tmux_server.interrupt(pane.pane_id)
    _wait_for_text(LogStream(log), "caught")
    assert _pane_after_exit(tmux_server, "intr").dead_status == 3


def test_capture_shows_the_screen(tmux_server: TmuxServer, tmp_path: Path) -> None:
    log = tmp_path / "cap.log"
    pane = tmux_server.spawn_window(
        "cap", "printf '\\033[31mred words\\033[0m\\n'; exec cat", str(tmp_path), {}, log
    )
    _wait_for_text(LogStream(log), "red words")
    assert "red words" in tmux_server.capture(pane.pane_id)
    assert "\x1b[31m" in tmux_server.capture(pane.pane_id, escapes=True)


def test_respawn_restarts_and_repipes(tmux_server: TmuxServer, tmp_path: Path) -> None:
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    pane = tmux_server.spawn_window("re", "echo one; exit 1", str(tmp_path), {}, first)
    _pane_after_exit(tmux_server, "re")
    again = tmux_server.respawn(
        pane.pane_id, 'echo "two $BAR"; read x', str(tmp_path), {"BAR": "bar"}, second
    )
    assert again.pane_id == pane.pane_id
    assert not again.dead
    _wait_for_text(LogStream(second), "two bar")
    assert "two" not in _log_text(LogStream(first))
    piped = tmux_server.run("display-message", "-p", "-t", pane.pane_id, "#{pane_pipe}")
    assert piped.stdout.strip() == "1"


def test_ensure_pipe_reattaches_once(tmux_server: TmuxServer, tmp_path: Path) -> None:
    log = tmp_path / "p.log"
    pane = tmux_server.spawn_window("piped", "stty -echo; cat", str(tmp_path), {}, log)
    tmux_server.run("pipe-pane", "-t", pane.pane_id)  # as if the pipe had gone away
    tmux_server.ensure_pipe(pane.pane_id, log)
    tmux_server.ensure_pipe(pane.pane_id, log)  # already attached: no second pipe
    tmux_server.send_text(pane.pane_id, "marker")
    stream = LogStream(log)
    text = _wait_for_text(stream, "marker")
    assert text.count("marker") == 1


def test_kill_window(tmux_server: TmuxServer, tmp_path: Path) -> None:
    tmux_server.spawn_window("doomed", "cat", str(tmp_path), {}, tmp_path / "d.log")
    tmux_server.spawn_window("kept", "cat", str(tmp_path), {}, tmp_path / "k.log")
    tmux_server.kill_window("doomed")
    assert tmux_server.window_pane("doomed") is None
    assert [p.window for p in tmux_server.list_panes()] == ["kept"]
    tmux_server.kill_window("doomed")  # already gone: no error


def test_ensure_server_is_idempotent(tmux_server: TmuxServer, tmp_path: Path) -> None:
    tmux_server.spawn_window("stay", "cat", str(tmp_path), {}, tmp_path / "stay.log")
    pid = tmux_server.server_pid()
    other = TmuxServer(tmux_server.label)
    other.ensure_server()
    assert other.server_pid() == pid
    assert [p.window for p in other.list_panes()] == ["stay"]


def test_dead_server_raises_instead_of_hanging(tmux_server: TmuxServer) -> None:
    socket = Path(tmux_server.run("display-message", "-p", "#{socket_path}").stdout.strip())
    assert socket.exists()
    tmux_server.kill_server()
    assert not tmux_server.alive()
    assert not socket.exists()  # no stale socket file left behind
    assert tmux_server.server_pid() is None
    assert tmux_server.kick() is False
    with pytest.raises(TmuxError):
        tmux_server.list_panes()
    with pytest.raises(TmuxError):
        tmux_server.send_text("%0", "hello")
    tmux_server.kill_server()  # already gone: no error


def test_stopped_server_times_out(tmux_server: TmuxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = tmux_server.server_pid()
    assert pid is not None
    monkeypatch.setattr(tmux_mod, "CALL_TIMEOUT", 0.3)
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(TmuxError, match="did not answer"):
            tmux_server.list_panes()
        assert not tmux_server.alive()
    finally:
        os.kill(pid, signal.SIGCONT)
    monkeypatch.setattr(tmux_mod, "CALL_TIMEOUT", 10.0)
    wait_until(tmux_server.alive, message="server did not come back after SIGCONT")


def test_server_label_is_per_state_dir(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / ".overseer", tmp_path / "b" / ".overseer"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    assert server_label("proj", a) != server_label("proj", b)
    assert server_label("proj", a) == server_label("proj", a / ".." / ".overseer")
    assert server_label("proj", a).startswith("overseer-proj-")
    assert "/" not in server_label("my/odd name", a)


def test_tmux_missing_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TmuxMissing, match="install"):
        tmux_binary()
    with pytest.raises(TmuxMissing):
        TmuxServer("ovs-test-missing")
    with pytest.raises(TmuxMissing):
        TmuxServer("ovs-test-missing", binary=str(tmp_path / "no-tmux"))


@pytest.mark.parametrize(
    ("output", "expected"),
    [("tmux 3.3a", (3, 3)), ("tmux next-3.6", (3, 6)), ("tmux 3.5", (3, 5)), ("tmux 2.9a", (2, 9))],
)
def test_tmux_version_parsing(tmp_path: Path, output: str, expected: tuple[int, int]) -> None:
    fake = tmp_path / f"tmux-{expected[0]}-{expected[1]}"
    fake.write_text(f"#!/bin/sh\necho '{output}'\n")
    fake.chmod(0o755)
    assert tmux_version(str(fake)) == expected


def test_needs_kick_follows_the_version(tmux_server: TmuxServer) -> None:
    assert tmux_server.needs_kick == (tmux_server.version < (3, 6))


class _CountingPipe:
    """A control client's stdin that counts the lines written to tmux."""

    def __init__(self, pipe: object) -> None:
        self.pipe = pipe
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.lines.append(data)
        return self.pipe.write(data)  # type: ignore[attr-defined, no-any-return]

    def flush(self) -> None:
        self.pipe.flush()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.pipe.close()  # type: ignore[attr-defined]


def test_control_chain_is_one_line_and_stops_at_the_first_error(
    tmux_server: TmuxServer, tmp_path: Path
) -> None:
    """Typing a task is one request to tmux (clear the line, the text, Enter); a chain
    that fails midway runs nothing after the failure, names it, and later calls still
    get their own answers."""
    log = tmp_path / "cat.log"
    pane = tmux_server.spawn_window(
        "chain", "stty -echo -icanon; echo ready; cat", str(tmp_path), {"LANG": "C.UTF-8"}, log
    )
    assert tmux_server.open_control()
    client = tmux_server._control_client()
    assert client is not None
    counting = _CountingPipe(client.proc.stdin)
    client.proc.stdin = counting  # type: ignore[assignment]
    stream = LogStream(log)
    _wait_for_text(stream, "ready")
    tmux_server.send_text(pane.pane_id, "; a \\; b ' c", clear_line=True)
    assert len(counting.lines) == 1  # three commands, one line
    _wait_for_text(stream, "b ' c\n")
    assert stream.ring.data().endswith(b"\x05\x15; a \\; b ' c\r\n")  # C-e, C-u, the text
    with pytest.raises(TmuxError, match="send-keys"):
        tmux_server._run_chain(
            [
                ["send-keys", "-t", pane.pane_id, "-l", "--", "before"],
                ["send-keys", "-t", "%999999", "x"],
                ["send-keys", "-t", pane.pane_id, "-l", "--", "after"],
            ]
        )
    assert tmux_server.run("display-message", "-p", "still in step").stdout == "still in step\n"
    both = tmux_server._run_chain(
        [["display-message", "-p", "one"], ["display-message", "-p", "two"]]
    )
    assert both.stdout == "one\ntwo\n"
    tmux_server.send_text(pane.pane_id, "end")
    text = _wait_for_text(stream, "end\n")
    assert "before" in text and "after" not in text
