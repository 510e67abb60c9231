"""One private tmux server per project: setup through libtmux, hot paths through plain tmux calls."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import libtmux
from libtmux import exc as libtmux_exc

from overseer.state.errors import EXIT_ENV, OverseerError

__all__ = [
    "PaneInfo",
    "TmuxError",
    "TmuxMissing",
    "TmuxServer",
    "server_label",
    "tmux_binary",
    "tmux_version",
]

#: Seconds any single tmux call may take before it counts as a hung server.
CALL_TIMEOUT = 10.0

# tmux rejects a client message above 16 KiB ("command too long"); stay well below it.
_MAX_CALL_BYTES = 8000
_MAX_CHUNK_CHARS = 1500

_FIELDS = (
    "#{pane_id}",
    "#{pane_pid}",
    "#{pane_dead}",
    "#{pane_dead_status}",
    "#{pane_dead_signal}",
    "#{session_name}",
    "#{pane_current_command}",
    "#{pane_width}",
    "#{pane_height}",
    "#{window_name}",
)
# The window name comes last so that a name containing a tab cannot shift other fields.
_PANE_FORMAT = "\t".join(_FIELDS)
_SAFE_LABEL = re.compile(r"[^A-Za-z0-9_-]+")
_VERSION = re.compile(r"(\d+)\.(\d+)")


class TmuxError(OverseerError):
    """A tmux call failed; the message says which call and what tmux answered."""

    status = EXIT_ENV


class TmuxMissing(TmuxError):
    """The tmux binary could not be found."""


def tmux_binary() -> str:
    """Return the path of the tmux binary on PATH, or raise TmuxMissing."""
    found = shutil.which("tmux")
    if found is None:
        raise TmuxMissing(
            "tmux is not installed (looked for 'tmux' on PATH); install it: apt-get install tmux"
        )
    return found


@functools.lru_cache(maxsize=8)
def _version_of(binary: str) -> tuple[int, int]:
    try:
        proc = subprocess.run(
            [binary, "-V"],
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as e:
        raise TmuxMissing(f"tmux binary {binary!r} does not exist; install tmux") from e
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TmuxError(f"could not run {binary!r} -V: {e}") from e
    text = (proc.stdout or proc.stderr).strip()
    match = _VERSION.search(text)
    if match is None:
        if proc.returncode == 0 and "master" in text:
            return (999, 0)  # a build from git master is newer than any release
        raise TmuxError(f"cannot parse the tmux version from {text!r} ({binary})")
    return (int(match.group(1)), int(match.group(2)))


def tmux_version(binary: str | None = None) -> tuple[int, int]:
    """Return (major, minor) of tmux: "tmux 3.3a" -> (3, 3), "tmux next-3.6" -> (3, 6)."""
    return _version_of(binary or tmux_binary())


def server_label(name: str, state_dir: Path) -> str:
    """Return the -L socket name of the private server that belongs to one state directory."""
    digest = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:10]
    safe = _SAFE_LABEL.sub("-", name).strip("-")[:40] or "project"
    return f"overseer-{safe}-{digest}"


@dataclass(frozen=True)
class PaneInfo:
    """One pane as tmux reports it; window is the window name, which is the agent name."""

    window: str
    pane_id: str
    pid: int | None
    dead: bool
    dead_status: int | None
    dead_signal: int | None
    current_command: str
    width: int = 0  # columns (0: unknown)
    height: int = 0  # lines


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _parse_pane(line: str) -> tuple[str, PaneInfo] | None:
    parts = line.split("\t", len(_FIELDS) - 1)
    if len(parts) != len(_FIELDS):
        return None
    pane_id, pid, dead, status, sig, session, command, width, height, window = parts
    info = PaneInfo(
        window=window,
        pane_id=pane_id,
        pid=_int_or_none(pid),
        dead=dead.strip() == "1",
        dead_status=_int_or_none(status),
        dead_signal=_int_or_none(sig),
        current_command=command,
        width=_int_or_none(width) or 0,
        height=_int_or_none(height) or 0,
    )
    return session, info


def _escape_arg(arg: str) -> str:
    # tmux treats an argument ending in ";" as a command separator; "\;" keeps it literal.
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


def _chain(commands: Sequence[Sequence[str]]) -> list[str]:
    """Join several tmux commands into the argv of one tmux call."""
    argv: list[str] = []
    for command in commands:
        if argv:
            argv.append(";")
        argv.extend(_escape_arg(a) for a in command)
    return argv


def _pipe_command(log_path: Path) -> str:
    return f"cat >> {shlex.quote(str(log_path))}"


def _prepare_log(log_path: Path) -> None:
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_NOFOLLOW: a link planted in place of a log must not send output to its target.
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    os.close(fd)


def _env_args(env: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in env.items():
        if not key or "=" in key:
            raise TmuxError(f"invalid environment variable name {key!r}")
        args += ["-e", f"{key}={value}"]
    return args


def _terminfo_exists(name: str) -> bool:
    dirs = [os.path.expanduser("~/.terminfo"), "/etc/terminfo", "/lib/terminfo"]
    dirs += ["/usr/share/terminfo", "/usr/lib/terminfo", "/usr/share/lib/terminfo"]
    extra = os.environ.get("TERMINFO")
    if extra:
        dirs.insert(0, extra)
    for base in dirs:
        # Linux stores terminfo under the first letter, macOS under its hex code.
        for sub in (name[0], f"{ord(name[0]):x}"):
            if os.path.exists(os.path.join(base, sub, name)):
                return True
    return False


# Commands a control-mode client may run for us: they start no process and do not depend on
# the calling client's environment or working directory.
_CONTROL_VERBS = frozenset({"send-keys", "list-panes", "display-message", "capture-pane"})
_READ_ONLY_VERBS = frozenset({"list-panes", "display-message", "capture-pane"})
_BLOCK = re.compile(rb"%(begin|end|error) \d+ (\d+) (\d+)")
_CONTROL_RETRY_S = 5.0


def _quote_word(arg: str) -> str:
    """One argument as a single-quoted word of tmux's command syntax."""
    return "'" + arg.replace("'", "'\\''") + "'"


class ControlClient:
    """A long-lived control-mode client (`tmux -C attach`) that runs commands in-line.

    A command through it costs about 0.1 ms, against 3-7 ms for starting a tmux process;
    that counts when typing tasks into panes and in the once-a-second sweep. It is attached
    with the flags no-output (pane output is read from the logs, not here) and ignore-size
    (it never changes a window's size). tmux answers each command line with a block
    `%begin T N 1` ... `%end T N 1` (or `%error`); notifications between blocks are skipped.
    """

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        """Start the client (argv ends with the attach command)."""
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,  # a Ctrl-C meant for the supervisor must not end it
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buf = b""
        self.lock = threading.Lock()

    def alive(self) -> bool:
        """True while the client process runs."""
        return self.proc.poll() is None

    def command(self, args: Sequence[str], timeout: float) -> tuple[bool, str]:
        """Run one command: (succeeded, its output or error text).

        Raises OSError, EOFError or TimeoutError when the client is gone or gets no answer.
        """
        return self.chain([args], timeout)[0]

    def chain(self, commands: Sequence[Sequence[str]], timeout: float) -> list[tuple[bool, str]]:
        """Run commands as one command list (one line, one round trip): (succeeded, output
        or error text) of each that ran. tmux stops the list at the first failing command
        and answers only for the commands it ran, so the last answer is then an error.

        Raises OSError, EOFError or TimeoutError when the client is gone or gets no answer.
        """
        stdin = self.proc.stdin
        assert stdin is not None
        line = " ; ".join(" ".join(_quote_word(a) for a in args) for args in commands)
        with self.lock:
            stdin.write((line + "\n").encode())
            stdin.flush()
            deadline = time.monotonic() + timeout
            answers: list[tuple[bool, str]] = []
            number: bytes | None = None
            body: list[bytes] = []
            while len(answers) < len(commands):
                line_ = self._readline(deadline)
                m = _BLOCK.match(line_)
                if number is None:
                    if m is not None and m.group(1) == b"begin" and m.group(3) == b"1":
                        number, body = m.group(2), []
                    continue
                if m is not None and m.group(1) != b"begin" and m.group(2) == number:
                    ok = m.group(1) == b"end"
                    answers.append((ok, b"".join(body).decode("utf-8", "replace")))
                    number = None
                    if not ok:
                        break  # the rest of the list was skipped: no answer comes for it
                    continue
                body.append(line_)
            return answers

    def _readline(self, deadline: float) -> bytes:
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the tmux control client")
            if select.select([self._fd], [], [], left)[0]:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise EOFError("the tmux control client ended")
                self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line + b"\n"

    def close(self) -> None:
        """Detach (end of input) and reap the client."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=2.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class TmuxServer:
    """A private tmux server reached through its own socket label (tmux -L label)."""

    SESSION = "overseer"
    PLACEHOLDER = "_overseer"
    # Keeps the session alive while no agent window exists; portable, unlike "sleep infinity".
    _PLACEHOLDER_CMD = "while :; do sleep 86400; done"
    # A window first runs this gate, so its pipe is attached before the real command starts.
    _GATE_CMD = "sleep 86400"

    def __init__(
        self, label: str, binary: str | None = None, config_file: str | None = os.devnull
    ) -> None:
        """Bind to the server named label; config_file=None loads the user's tmux.conf."""
        self.label = label
        self.binary = binary or tmux_binary()
        self.version = tmux_version(self.binary)
        self.config_file = config_file
        self._default_size: tuple[int, int] | None = None
        self._control: ControlClient | None = None
        self._want_control = False
        self._control_retry_at = 0.0

    # -- plumbing ---------------------------------------------------------------

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [self.binary, "-L", self.label]
        if self.config_file is not None:
            argv += ["-f", self.config_file]
        return argv + list(args)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one tmux command on this server; raise TmuxError on failure when check."""
        if args and args[0] in _CONTROL_VERBS:
            done = self._via_control([args], check)
            if done is not None:
                return done
        return self._exec([_escape_arg(a) for a in args], check)

    # -- control-mode client ----------------------------------------------------

    def open_control(self) -> bool:
        """Run typing and pane listing through one control-mode client from now on.

        Needs tmux 3.2 (client flags); without it, or while the client cannot start, every
        command runs as a tmux process as before. Returns whether the client is up.
        """
        self._want_control = self.version >= (3, 2)
        return self._control_client() is not None

    def close_control(self) -> None:
        """Detach the control-mode client; commands run as tmux processes again."""
        self._want_control = False
        self._drop_control()

    def _drop_control(self) -> None:
        client, self._control = self._control, None
        if client is not None:
            client.close()

    def _control_client(self) -> ControlClient | None:
        if not self._want_control:
            return None
        if self._control is not None:
            if self._control.alive():
                return self._control
            self._drop_control()
        now = time.monotonic()
        if now < self._control_retry_at:
            return None
        self._control_retry_at = now + _CONTROL_RETRY_S
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        attach = ["-C", "attach-session", "-t", f"={self.SESSION}", "-f", "no-output,ignore-size"]
        try:
            self._control = ControlClient(self._argv(attach), env)
        except OSError:
            return None
        return self._control

    def _via_control(
        self, commands: Sequence[Sequence[str]], check: bool
    ) -> subprocess.CompletedProcess[str] | None:
        """Run commands in order through the control client, stopping at the first error.

        None when there is no client, or it failed before anything but reads had been sent
        (the caller then runs them as a process).
        """
        client = self._control_client()
        if client is None:
            return None
        try:
            # One line, one round trip: the server is asked once however long the chain.
            answers = client.chain(commands, CALL_TIMEOUT)
        except (OSError, EOFError, TimeoutError) as e:
            self._drop_control()
            if all(c[0] in _READ_ONLY_VERBS for c in commands):
                return None
            raise TmuxError(f"tmux {commands[0][0]} on server {self.label!r} failed: {e}") from e
        out = [text for ok, text in answers if ok]
        if answers and not answers[-1][0]:
            command, text = commands[len(answers) - 1], answers[-1][1]
            if check:
                detail = text.strip() or "error"
                raise TmuxError(f"tmux {command[0]} on server {self.label!r} failed: {detail}")
            return subprocess.CompletedProcess(list(command), 1, "".join(out), text)
        return subprocess.CompletedProcess(list(commands[-1]), 0, "".join(out), "")

    def _exec(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        # Without TMUX/TMUX_PANE a supervisor started inside a pane cannot target that pane by accident.
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        what = args[0] if args else "tmux"
        try:
            proc = subprocess.run(
                self._argv(args),
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=CALL_TIMEOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except FileNotFoundError as e:
            raise TmuxMissing(f"tmux binary {self.binary!r} disappeared; reinstall tmux") from e
        except subprocess.TimeoutExpired as e:
            raise TmuxError(
                f"tmux server {self.label!r} did not answer {what!r} within {CALL_TIMEOUT:g} s"
            ) from e
        if check and proc.returncode != 0:
            detail = proc.stderr.strip() or f"exit status {proc.returncode}"
            raise TmuxError(f"tmux {what} on server {self.label!r} failed: {detail}")
        return proc

    def _run_chain(self, commands: Sequence[Sequence[str]]) -> subprocess.CompletedProcess[str]:
        if commands and all(c and c[0] in _CONTROL_VERBS for c in commands):
            done = self._via_control(commands, True)
            if done is not None:
                return done
        return self._exec(_chain(commands))

    def _libtmux(self) -> libtmux.Server:
        return libtmux.Server(
            socket_name=self.label, tmux_bin=self.binary, config_file=self.config_file
        )

    # -- server lifecycle -------------------------------------------------------

    def alive(self) -> bool:
        """Return True when the server answers on its socket."""
        try:
            return self.run("list-sessions", check=False).returncode == 0
        except TmuxError:
            return False

    def has_session(self) -> bool:
        """Return True when the overseer session exists on this server."""
        try:
            proc = self.run("has-session", "-t", f"={self.SESSION}", check=False)
        except TmuxError:
            return False
        return proc.returncode == 0

    def server_pid(self) -> int | None:
        """Return the server's process id, or None if it is not running."""
        try:
            proc = self.run("display-message", "-p", "#{pid}", check=False)
        except TmuxError:
            return None
        return _int_or_none(proc.stdout) if proc.returncode == 0 else None

    def ensure_server(self) -> None:
        """Start the server and its session if absent, and set the options Overseer relies on."""
        if not self.has_session():
            try:
                self._libtmux().new_session(
                    session_name=self.SESSION,
                    window_name=self.PLACEHOLDER,
                    window_command=self._PLACEHOLDER_CMD,
                    start_directory=os.path.expanduser("~"),
                    x=200,
                    y=50,
                )
            except libtmux_exc.TmuxSessionExists:
                pass  # another process created it first
            except libtmux_exc.LibTmuxException as e:
                if not self.has_session():
                    raise TmuxError(f"could not start tmux server {self.label!r}: {e}") from e
        terminal = "tmux-256color" if _terminfo_exists("tmux-256color") else "screen-256color"
        self._run_chain(
            [
                ["set-option", "-s", "exit-empty", "off"],
                ["set-option", "-g", "-w", "remain-on-exit", "on"],
                ["set-option", "-g", "history-limit", "5000"],
                ["set-option", "-g", "default-terminal", terminal],
                # Commands are POSIX shell strings whatever the user's login shell is.
                ["set-option", "-g", "default-shell", "/bin/sh"],
                # The window name is the agent name: nothing may rename it.
                ["set-option", "-g", "-w", "automatic-rename", "off"],
                ["set-option", "-g", "-w", "allow-rename", "off"],
                ["set-option", "-t", f"={self.SESSION}:", "default-size", "200x50"],
            ]
        )
        self._default_size = (200, 50)

    def kill_server(self) -> None:
        """Kill this label's server (and every pane in it); no error if it is already gone."""
        try:
            found = self.run("display-message", "-p", "#{socket_path}", check=False)
            socket = found.stdout.strip() if found.returncode == 0 else ""
            self.run("kill-server", check=False)
        except TmuxError:
            if self.alive():
                raise
            return
        finally:
            self._default_size = None
        # tmux 3.3 leaves its socket file behind; remove it once nothing answers there.
        if socket and not self.alive():
            Path(socket).unlink(missing_ok=True)

    def kick(self) -> bool:
        """Send SIGCHLD to the server so tmux < 3.6 reaps exited panes; True if sent."""
        pid = self.server_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGCHLD)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    @property
    def needs_kick(self) -> bool:
        """True for tmux versions that lose exit statuses until the server gets SIGCHLD."""
        return self.version < (3, 6)

    # -- windows and panes ------------------------------------------------------

    def list_panes(self) -> list[PaneInfo]:
        """Return every pane of every window in one tmux call, without the placeholder."""
        proc = self.run("list-panes", "-a", "-F", _PANE_FORMAT)
        panes: list[PaneInfo] = []
        for line in proc.stdout.splitlines():
            parsed = _parse_pane(line)
            if parsed is None:
                continue
            session, info = parsed
            if session == self.SESSION and info.window == self.PLACEHOLDER:
                continue
            panes.append(info)
        return panes

    def window_pane(self, name: str) -> PaneInfo | None:
        """Return the pane of the window called name, or None."""
        for info in self.list_panes():
            if info.window == name:
                return info
        return None

    def _pane_info(self, target: str) -> PaneInfo:
        proc = self.run("display-message", "-p", "-t", target, _PANE_FORMAT)
        parsed = _parse_pane(proc.stdout.rstrip("\n"))
        if parsed is None:
            raise TmuxError(f"tmux gave no pane information for {target!r}: {proc.stdout!r}")
        return parsed[1]

    def spawn_window(
        self,
        name: str,
        command: str,
        cwd: str,
        env: Mapping[str, str],
        log_path: Path,
        width: int = 200,
        height: int = 50,
    ) -> PaneInfo:
        """Open window name running command in cwd with env, its output piped into log_path."""
        if not name or name == self.PLACEHOLDER or any(ord(c) < 32 for c in name):
            raise TmuxError(f"invalid window name {name!r}")
        if not Path(cwd).is_dir():
            raise TmuxError(f"cannot start {name!r}: working directory {cwd} does not exist")
        if self.window_pane(name) is not None:
            raise TmuxError(f"a window named {name!r} already exists on server {self.label!r}")
        _prepare_log(log_path)
        if self._default_size != (width, height):
            self.run("set-option", "-t", f"={self.SESSION}:", "default-size", f"{width}x{height}")
            self._default_size = (width, height)
        try:
            session = self._libtmux().sessions.get(session_name=self.SESSION, default=None)
            if session is None:
                raise TmuxError(f"session {self.SESSION!r} is missing; call ensure_server() first")
            window = session.new_window(
                window_name=name,
                start_directory=cwd,
                attach=False,
                window_shell=self._GATE_CMD,
            )
        except libtmux_exc.LibTmuxException as e:
            raise TmuxError(f"could not create window {name!r}: {e}") from e
        target = str(window.window_id)
        # One call: the pipe is open before the real command replaces the gate, so no byte is lost.
        try:
            self._run_chain(
                [
                    ["pipe-pane", "-O", "-t", target, _pipe_command(log_path)],
                    ["respawn-pane", "-k", "-t", target, "-c", cwd, *_env_args(env), command],
                ]
            )
        except TmuxError:
            self.run("kill-window", "-t", target, check=False)
            raise
        return self._pane_info(target)

    def respawn(
        self, pane_id: str, command: str, cwd: str, env: Mapping[str, str], log_path: Path
    ) -> PaneInfo:
        """Restart the pane with a new command and re-open its pipe into log_path."""
        _prepare_log(log_path)
        # tmux refuses to pipe a dead pane, so respawn first; in the same call the server has
        # not read the new process's output yet when the pipe opens, so none is lost.
        # pipe-pane without -o replaces any pipe still open.
        self._run_chain(
            [
                ["respawn-pane", "-k", "-t", pane_id, "-c", cwd, *_env_args(env), command],
                ["pipe-pane", "-O", "-t", pane_id, _pipe_command(log_path)],
            ]
        )
        return self._pane_info(pane_id)

    def repipe(self, pane_id: str, log_path: Path) -> None:
        """(Re)open the pane's pipe into log_path, replacing any pipe already open.

        Used when re-adopting a pane: an open pipe may still write into a log file that has
        since been deleted or moved, so it is replaced rather than trusted.
        """
        _prepare_log(log_path)
        self.run("pipe-pane", "-O", "-t", pane_id, _pipe_command(log_path))

    def ensure_pipe(self, pane_id: str, log_path: Path) -> None:
        """Attach the pane's pipe into log_path unless a pipe is already open."""
        # Not "pipe-pane -o": on an open pipe it closes it (a toggle), it does not keep it.
        proc = self.run("display-message", "-p", "-t", pane_id, "#{pane_pipe}")
        if proc.stdout.strip() != "1":
            _prepare_log(log_path)
            self.run("pipe-pane", "-O", "-t", pane_id, _pipe_command(log_path))

    def kill_window(self, name: str) -> None:
        """Kill the window called name (no error if there is none)."""
        info = self.window_pane(name)
        if info is not None:
            self.run("kill-window", "-t", info.pane_id)

    # -- input and screen -------------------------------------------------------

    def send_text(
        self, pane_id: str, text: str, enter: bool = True, *, clear_line: bool = False
    ) -> None:
        """Type text literally into the pane, line by line, pressing Enter between lines;
        with `clear_line`, first empty the shell's input line (C-e C-u), in the same call."""
        lines = text.replace("\r\n", "\n").split("\n")
        commands: list[list[str]] = (
            [["send-keys", "-t", pane_id, "C-e", "C-u"]] if clear_line else []
        )
        for i, line in enumerate(lines):
            for start in range(0, len(line), _MAX_CHUNK_CHARS):
                chunk = line[start : start + _MAX_CHUNK_CHARS]
                commands.append(["send-keys", "-t", pane_id, "-l", "--", chunk])
            if i < len(lines) - 1 or enter:
                commands.append(["send-keys", "-t", pane_id, "Enter"])
        self._run_batched(commands)

    def _run_batched(self, commands: list[list[str]]) -> None:
        batch: list[list[str]] = []
        size = 0
        for command in commands:
            cost = sum(len(a.encode()) + 2 for a in command) + 2
            if batch and size + cost > _MAX_CALL_BYTES:
                self._run_chain(batch)
                batch, size = [], 0
            batch.append(command)
            size += cost
        if batch:
            self._run_chain(batch)

    def paste(self, pane_id: str, text: str, scratch: Path) -> None:
        """Paste `text` into the pane as one bracketed paste (the program sees it as pasted,
        not typed: newlines do not submit). `scratch` is a private file used to load it."""
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        buffer = f"ovs-{pane_id.lstrip('%')}"
        try:
            self.run("load-buffer", "-b", buffer, str(scratch))
            self.run("paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id)
        finally:
            scratch.unlink(missing_ok=True)

    def send_keys(self, pane_id: str, *keys: str) -> None:
        """Send tmux key names (not literal text), e.g. "C-c", "Enter", "Up"."""
        if keys:
            self.run("send-keys", "-t", pane_id, *keys)

    def interrupt(self, pane_id: str) -> None:
        """Press Ctrl-C in the pane."""
        self.send_keys(pane_id, "C-c")

    def capture(self, pane_id: str, escapes: bool = False, start: int | None = None) -> str:
        """Return the pane's screen text (its visible rows; `start`: from that history line).

        Through the control-mode client when it is up (no process started): AI panes are read
        this way at a bounded rate (agents/interactive.py)."""
        args = ["capture-pane", "-p"]
        if escapes:
            args.append("-e")
        if start is not None:
            args += ["-S", str(start)]
        return self.run(*args, "-t", pane_id).stdout
