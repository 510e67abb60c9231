"""Codex and aider signals end to end: the fake CLIs (tests/fakes/fake_cli.py) run in a real tmux
pane with the injection of agents/clis/codex.py or aider.py applied, their notify program or
notifications command and their rollout or analytics files are read back with the Tailer, and
what arrives parses into the same Signals as the real CLIs' recordings (tests/fakes/signals/).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from overseer.agents.clis.aider import CLI as AIDER
from overseer.agents.clis.codex import CLI as CODEX
from overseer.agents.clis.codex import Sessions
from overseer.agents.signals import Ev, InjectContext, Injection, Signal
from overseer.agents.tailer import Tailer
from overseer.agents.tmux import TmuxServer
from tests.fakes import FAKE_CLI
from tests.fakes.model_api import ModelAPI
from tests.fakes.real_cli import NOTIFY_SCRIPT, Run, cli_version, processes_with_home
from tests.helpers import wait_until
from tests.integration.test_model_api import real_cli, shown

pytestmark = pytest.mark.tmux

SIGNALS = Path(__file__).resolve().parents[1] / "fakes" / "signals"
# aider runs its command with the terminal as stdin: this hook reads nothing from it.
NOTE_SCRIPT = """#!/bin/sh
printf '{"at": %s, "hook": "%s", "payload": {}}\\n' "$(date +%s.%N)" "$2" >> "$1"
"""


def records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a file (none while it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def events(signals: list[Signal]) -> list[tuple[Ev, str]]:
    """(event, detail) of each signal that is not about usage alone."""
    return [(s.event, s.detail) for s in signals if s.event != Ev.USAGE]


class Pane:
    """A fake CLI in the test's tmux server, with its injection applied, and its tailed files."""

    def __init__(
        self,
        server: TmuxServer,
        tmp_path: Path,
        style: str,
        inj: Injection,
        env: dict[str, str],
        line: Callable[[Path, dict[str, Any], float], Signal | None],
    ) -> None:
        self.server = server
        self.line = line
        self.since = time.time()
        self.tailer = Tailer(inj.tail, self.since)
        self.signals: list[Signal] = []
        cmd = shlex.join([sys.executable, str(FAKE_CLI), "--style", style, *inj.args])
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        info = server.spawn_window(style, cmd, str(work), env, tmp_path / f"{style}.log")
        self.pane = info.pane_id

    def poll(self) -> list[Signal]:
        """Read what the tailed files gained."""
        for path, record, at in self.tailer.poll():
            sig = self.line(path, record, at)
            if sig is not None:
                self.signals.append(sig)
        return self.signals

    def until(self, what: str, check: Callable[[list[Signal]], bool], timeout: float = 10) -> None:
        """Poll the files until check holds for the signals so far."""
        wait_until(lambda: check(self.poll()), timeout=timeout, message=what)

    def screen_has(self, text: str) -> None:
        """Wait until text is on the pane's screen."""
        wait_until(
            lambda: text in self.server.capture(self.pane), timeout=10, message=f"screen: {text}"
        )

    def say(self, text: str) -> None:
        """Type a prompt and submit it."""
        self.server.send_text(self.pane, text, enter=True)


def count(event: Ev, n: int) -> Callable[[list[Signal]], bool]:
    """A check: at least n signals of this event arrived."""
    return lambda sigs: sum(s.event == event for s in sigs) >= n


def test_fake_codex_with_the_injection_notifies_and_writes_its_rollout_like_the_real_one(
    tmux_server: TmuxServer, tmp_path: Path
) -> None:
    codex_home = tmp_path / "codex-home"
    sessions_dir = codex_home / "sessions" / "2026" / "01" / "02"
    sessions_dir.mkdir(parents=True)
    notify_log = tmp_path / "notify.jsonl"
    script = tmp_path / "notify.sh"
    script.write_text(NOTIFY_SCRIPT)
    env = {"HOME": str(tmp_path / "home"), "CODEX_HOME": str(codex_home)}
    ctx = InjectContext(
        "a1", tmp_path, tmp_path, ("sh", str(script), str(notify_log)), tmp_path / "work", env
    )
    inj = CODEX.inject(ctx)
    pane = Pane(tmux_server, tmp_path, "codex", inj, env, CODEX.line)
    mine = Sessions(tmp_path / "work", pane.since)
    # Another Codex of the same user, in another folder, writes beside it.
    other = sessions_dir / "rollout-2026-01-02T00-00-00-0000aaaa-0000-0000-0000-000000000000.jsonl"
    meta = {"id": "0000aaaa", "cwd": "/elsewhere", "timestamp": "2030-01-01T00:00:00.000Z"}
    other.write_text(
        json.dumps(
            {"timestamp": "2030-01-01T00:00:00.000Z", "type": "session_meta", "payload": meta}
        )
        + "\n"
        + json.dumps({"type": "event_msg", "payload": {"type": "task_started"}})
        + "\n"
    )

    pane.screen_has("Ask Codex to do anything")
    pane.say("hello there")
    pane.until("the first turn ends", count(Ev.TURN_END, 1))
    pane.say("ask")
    pane.screen_has("Would you like to run the following command?")
    pane.until("the approval shows in the rollout", count(Ev.PERMISSION, 1))
    tmux_server.send_keys(pane.pane, "1")
    pane.until("the approved turn ends", count(Ev.TURN_END, 2))
    pane.say("work 30")
    pane.until("a turn starts", count(Ev.PROMPT, 3))
    tmux_server.send_keys(pane.pane, "Escape")
    pane.until("Esc aborts it", count(Ev.TURN_END, 3))
    pane.say("ratelimit")
    pane.until("the rate limit fails the turn", count(Ev.TURN_FAILED, 1))
    pane.say("hang")
    pane.until("a turn starts", count(Ev.PROMPT, 5))
    tmux_server.send_keys(pane.pane, "Escape")
    pane.until("Esc aborts it", count(Ev.TURN_END, 4))

    got = [s for s in pane.signals if mine.keep(s)]
    assert len(got) < len(pane.signals)  # the other folder's session was dropped
    assert all(s.data["thread_id"] != "0000aaaa" for s in got)
    real = [
        CODEX.line(Path("/r.jsonl"), r, 0.0)
        for r in records(SIGNALS / "codex-0.171.0" / "rollout.jsonl")
    ]
    want = [s for s in real if s is not None]
    # The same events in the same order as the real Codex's, answers aside.
    assert [e for e, _ in events(got)] == [e for e, _ in events(want)]
    assert [d for e, d in events(got) if e != Ev.TURN_END][:2] == ["0.169.0", ""]
    assert got[0].event == Ev.SESSION_START and got[0].data["cwd"] == str(tmp_path / "work")
    usage = [s.usage for s in got if s.usage is not None]
    assert usage and usage[-1].input_tokens > usage[0].input_tokens  # a running total

    # notify ran with the payload as its last argument: the title thread is dropped.
    def notified() -> list[dict[str, Any]]:
        return records(notify_log) if len(records(notify_log)) >= 3 else []

    calls = wait_until(notified, message="notify ran three times (title, two turns)")
    assert len(calls) == 3
    assert all(c["hook"] == "notify" for c in calls)
    recorded = records(SIGNALS / "codex-0.171.0" / "notify.jsonl")
    assert {k for c in calls for k in c["payload"]} == {k for r in recorded for k in r["payload"]}
    hooks = [CODEX.hook("notify", c["payload"], c["at"]) for c in calls]
    kept = [h for h in hooks if h is not None and mine.keep(h)]
    assert [h.detail for h in kept] == ["Done after 1s.", "ran it"]
    assert {h.data["thread_id"] for h in kept} == {got[0].data["thread_id"]}


def test_fake_aider_with_the_injection_logs_analytics_and_notifies_like_the_real_one(
    tmux_server: TmuxServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.jsonl"
    script = tmp_path / "note.sh"
    script.write_text(NOTE_SCRIPT)
    signals_dir = tmp_path / "signals"
    signals_dir.mkdir()
    env = {"HOME": str(tmp_path / "home")}
    ctx = InjectContext(
        "a1", tmp_path, signals_dir, ("sh", str(script), str(notes)), tmp_path / "work", env
    )
    inj = AIDER.inject(ctx)
    pane = Pane(tmux_server, tmp_path, "aider", inj, env, AIDER.line)
    pane.until("aider is up", count(Ev.SESSION_START, 1))
    pane.screen_has("Repo-map: disabled")  # its last line before the prompt
    pane.say("hello")
    pane.until("the reply is logged", count(Ev.TURN_END, 1))
    pane.say("work 0.5")
    pane.until("the second reply is logged", count(Ev.TURN_END, 2))
    pane.say("exit")
    pane.until("the exit is logged", count(Ev.SESSION_END, 1))

    real = [
        AIDER.line(Path("/log"), r, 0.0)
        for r in records(SIGNALS / "aider-0.86.2" / "analytics.jsonl")
    ]
    want = [s.event for s in real if s is not None]
    got = [s.event for s in pane.signals]
    assert got[: len(want) - 1] == want[:-1]  # the recording ends inside a third turn
    assert got[-1] == Ev.SESSION_END
    replies = [s.usage for s in pane.signals if s.event == Ev.TURN_END]
    assert all(u is not None and u.input_tokens and u.cost_usd for u in replies)
    assert Path(inj.tail[0]).parent == signals_dir  # the log is under the state dir

    # The notifications command ran once per finished reply.
    calls = wait_until(lambda: records(notes) if len(records(notes)) >= 2 else [], message="notes")
    assert [c["hook"] for c in calls] == ["notification", "notification"]
    hooks = [AIDER.hook(c["hook"], c["payload"], c["at"]) for c in calls]
    assert all(h is not None and h.event == Ev.NOTIFICATION for h in hooks)


@pytest.mark.realcli
def test_real_codex_with_the_injection_notifies_us_and_the_user_and_writes_its_rollout(
    tmp_path: Path,
) -> None:
    binary = real_cli("codex")
    api = ModelAPI().start()
    run = Run("codex", binary, tmp_path / "codex", api.url)
    try:
        # The user's own config.toml with a notify program of theirs.
        theirs = tmp_path / "theirs.jsonl"
        (run.home / ".codex").mkdir()
        config = run.home / ".codex" / "config.toml"
        config.write_text(
            f'notify = ["sh", "-c", "printf \'%s\\\\n\' \\"$1\\" >> {theirs}", "x"]\n'
        )
        ours = tmp_path / "ours.jsonl"
        script = tmp_path / "notify.sh"
        script.write_text(NOTIFY_SCRIPT)
        env = {"HOME": str(run.home)}
        ctx = InjectContext("a1", tmp_path, tmp_path, ("sh", str(script), str(ours)), run.work, env)
        inj = CODEX.inject(ctx)
        since = time.time()
        tailer = Tailer(inj.tail, since)
        mine = Sessions(run.work, since)
        got: list[Signal] = []

        def arrived(event: Ev) -> bool:
            for path, record, at in tailer.poll():
                sig = CODEX.line(path, record, at)
                if sig is not None and mine.keep(sig):
                    got.append(sig)
            return any(s.event == event for s in got)

        # Run's own -c notify comes first on the command line: the injection's, later, wins.
        run.start(extra=list(inj.args))
        wait_until(lambda: shown(run, "Ask Codex"), timeout=40, message="no input box")
        run.submit("run: touch made-by-codex")
        wait_until(lambda: arrived(Ev.PERMISSION), timeout=30, message="no approval in rollout")
        wait_until(lambda: shown(run, "Would you like to run"), timeout=20, message="no dialog")

        def approved() -> bool:
            # Codex drops an Enter that comes right as it draws the dialog: press it again.
            if shown(run, "Would you like to run"):
                run.keys("Enter")
                return False
            return True

        wait_until(approved, timeout=20, interval=1.0, message="the dialog stays")
        wait_until(lambda: arrived(Ev.TURN_END), timeout=30, message="no task_complete")
        assert "need review" not in run.screen()  # no hook was given to Codex
        start = got[0]
        assert start.event == Ev.SESSION_START and start.data["cwd"] == str(run.work)
        assert start.data["version"] == cli_version(binary)
        assert [s.event for s in got if s.event != Ev.USAGE] == [
            Ev.SESSION_START,
            Ev.PROMPT,
            Ev.PERMISSION,
            Ev.TOOL,
            Ev.TURN_END,
        ]
        assert [s.usage for s in got if s.usage is not None][-1].input_tokens > 0

        calls = wait_until(
            lambda: [c for c in records(ours) if c["hook"] == "notify"],
            timeout=20,
            message="our notify did not run",
        )
        ends = [CODEX.hook("notify", c["payload"], c["at"]) for c in calls]
        kept = [e for e in ends if e is not None and mine.keep(e)]
        assert [e.detail for e in kept] == ["Ran touch made-by-codex."]
        assert run.hooks("notify") == []  # Run's own notify was overridden
        wait_until(lambda: theirs.exists(), timeout=10, message="the user's notify did not run")
        assert "Ran touch made-by-codex." in theirs.read_text()
    finally:
        run.stop()
        api.close()
        assert not list(processes_with_home(run.home)), "a process of Codex outlived its run"
