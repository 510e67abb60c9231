"""The agent drivers on a fake host: bytes and screens in, states and records out (no tmux)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overseer.agents import kinds
from overseer.agents.drivers.base import AgentRuntime, Ended, Host
from overseer.agents.drivers.prompt import PromptDriver
from overseer.agents.drivers.shell import SETTLE_WAIT, ShellDriver
from overseer.agents.screen import VirtualScreen
from overseer.agents.stream import LogStream
from overseer.agents.tmux import TmuxError
from overseer.state import config, queue
from overseer.state.config import AgentSpec, Config
from overseer.state.models import AgentState, AttemptOutcome
from overseer.state.paths import StatePaths
from overseer.state.store import Store
from tests.helpers import shared_screens

SCREENS = shared_screens()


class FakeTmux:
    """What a driver types into its pane, kept instead of typed; the pane's screen, as tmux
    would keep it, replayed from the agent's log through a terminal emulator."""

    def __init__(self, log: Path) -> None:
        self.keys: list[tuple[str, ...]] = []
        self.pasted: list[str] = []
        self.typed: list[str] = []
        self.log = log
        self.screen = VirtualScreen(200, 50)  # spawn_window's size
        self.replayed = 0
        self.captures = 0

    def resize(self, columns: int, lines: int) -> None:
        self.screen.resize(columns, lines)

    def capture(self, pane: str, escapes: bool = False, start: int | None = None) -> str:
        data = self.log.read_bytes() if self.log.exists() else b""
        if len(data) < self.replayed:
            self.screen.reset()
            self.replayed = 0
        self.screen.feed(data[self.replayed :])
        self.replayed = len(data)
        self.captures += 1
        return "\n".join(self.screen.lines()) + "\n"

    def send_keys(self, pane: str, *keys: str) -> None:
        self.keys.append(keys)

    def paste(self, pane: str, text: str, path: Path) -> None:
        self.pasted.append(text)

    def send_text(
        self, pane: str, text: str, enter: bool = True, *, clear_line: bool = False
    ) -> None:
        if clear_line:
            self.keys.append(("C-e", "C-u"))
        self.typed.append(text)

    def interrupt(self, pane: str) -> None:
        self.keys.append(("C-c",))

    def alive(self) -> bool:
        return True


class FakeHost(Host):
    """The driver's host: a clock set by the test, a real store, and a record of calls."""

    def __init__(self, root: Path) -> None:
        self.now = 1000.0
        self.config = Config()
        self.paths = StatePaths(root)
        self.paths.run.mkdir(parents=True)
        self.paths.logs.mkdir()
        self.store = Store(self.paths.db)
        self.fake = FakeTmux(self.paths.log("w"))
        self.server = self.fake  # type: ignore[assignment]
        self.work_hint = False
        self.records: list[tuple[AttemptOutcome, int | None, str | None]] = []
        self.events: list[str] = []
        self.stalls: list[str] = []

    def clock(self) -> float:
        return self.now

    def record(self, rt: AgentRuntime, end: Ended) -> None:
        self.records.append((end.outcome, end.exit_code, end.reason))
        rt.running = None

    def on_stall(self, rt: AgentRuntime, detail: str) -> None:
        self.stalls.append(detail)

    def event(self, kind: str, message: str, **refs: str | None) -> None:
        self.events.append(kind)

    def tmux_down(self, why: str) -> None:
        raise AssertionError(f"unexpected tmux death: {why}")


def agent(host: FakeHost, kind: str) -> AgentRuntime:
    """An agent of `kind` with its pane (a fake one) started."""
    spec = AgentSpec(name="w", kind=kind)
    host.paths.log("w").touch()
    rt = AgentRuntime(
        name="w",
        spec=spec,
        profile=kinds.kind(kind).profile,
        stream=LogStream(host.paths.log("w"), start_at_end=True),
        driver=kinds.driver(host, spec),
        pane_id="%1",
    )
    rt.driver.launch_env()
    rt.driver.spawned(rt)
    host.store.upsert_agent("w", kind)
    return rt


def claim(host: FakeHost, command: str, kind: str = "run") -> Any:
    spec: dict[str, Any] = {"id": "t", "command": command, "max_attempts": 2}
    if kind == "prompt":
        spec["kind"] = "prompt"
    host.store.upsert_tasks([spec])
    got = queue.claim(host.store, "w", 30, kind=kind)
    assert got is not None
    return got


def printed(host: FakeHost, rt: AgentRuntime, data: bytes) -> None:
    """The pane prints `data` (tmux appends it to the agent's log); the driver reads it."""
    with open(host.paths.log("w"), "ab") as fh:
        fh.write(data)
    rt.driver.read(rt)


def test_the_registry_knows_every_configurable_kind() -> None:
    assert set(kinds.KINDS) == set(config.AGENT_KINDS)
    prompt = {name for name, k in kinds.KINDS.items() if k.task_kind == "prompt"}
    assert prompt == set(config.PROMPT_KINDS)


# -- shell ------------------------------------------------------------------------------


def test_a_shell_agent_is_ready_then_reports_the_sentinel_status(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "shell")
    assert isinstance(rt.driver, ShellDriver)
    printed(host, rt, b"w$ \x1eOVS-READY:" + rt.driver.ready_nonce.encode() + b"\x1e\r\n")
    assert rt.state == AgentState.IDLE
    c = claim(host, "make")
    rt.driver.start(rt, c.task, c.attempt)
    assert rt.state == AgentState.BUSY and rt.running is not None
    assert host.fake.typed == [rt.running.dispatch.typed_line]
    printed(host, rt, b"building\r\n\x1eOVS:" + c.attempt.nonce.encode() + b":3:-\x1e\r\nw$ ")
    assert host.records == [(AttemptOutcome.FAILED, 3, None)]


def test_a_shell_task_is_written_and_typed_off_the_loop_and_a_stop_before_that_types_nothing(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    jobs: list[Any] = []
    host.offload = lambda job, failed: jobs.append((job, failed))  # type: ignore[method-assign]
    rt = agent(host, "shell")
    rt.state = AgentState.IDLE
    first = claim(host, "make")
    rt.driver.start(rt, first.task, first.attempt)
    assert rt.running is not None
    d = rt.running.dispatch
    # Claimed and busy at once; nothing written or typed until the offload thread runs it.
    assert rt.state == AgentState.BUSY and not d.script.exists() and host.fake.typed == []
    jobs.pop()[0]()
    assert d.script.exists() and host.fake.typed == [d.typed_line]
    host.store.upsert_tasks([{"id": "u", "command": "deploy"}])
    host.records.clear()
    rt.running = None
    second = queue.claim(host.store, "w", 30, task_id="u")
    assert second is not None
    rt.driver.start(rt, second.task, second.attempt)
    host.stop(rt, AttemptOutcome.FAILED, "stopped by operator")
    jobs.pop()[0]()  # the offload thread gets to it after the stop: it types nothing
    assert host.fake.typed == [d.typed_line]


def test_a_line_that_cannot_be_typed_loses_the_attempt_without_using_a_try(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "shell")
    rt.state = AgentState.IDLE

    def refuse(pane: str, text: str, **_: Any) -> None:
        raise TmuxError("can't find pane: %1")

    host.fake.send_text = refuse  # type: ignore[method-assign]
    c = claim(host, "make")
    rt.driver.start(rt, c.task, c.attempt)
    assert host.records == [
        (
            AttemptOutcome.RELEASED,
            None,
            "could not type into the pane: can't find pane: %1, before the task started",
        )
    ]


class StoringHost(FakeHost):
    """A fake host that writes records to its store as the supervisor does."""

    def record(self, rt: AgentRuntime, end: Ended) -> None:
        run = rt.running
        assert run is not None
        super().record(rt, end)
        tail = rt.driver.output_tail(rt, run)
        queue.finish(self.store, run.task.id, run.attempt.number, end.outcome,
                     exit_code=end.exit_code, output_tail=tail, now=self.now)  # fmt: skip


def running_shell(host: FakeHost) -> tuple[AgentRuntime, ShellDriver, Any]:
    """A ready shell agent running a task (`make`)."""
    rt = agent(host, "shell")
    driver = rt.driver
    assert isinstance(driver, ShellDriver)
    printed(host, rt, b"w$ \x1eOVS-READY:" + driver.ready_nonce.encode() + b"\x1e\r\n")
    c = claim(host, "make")
    driver.start(rt, c.task, c.attempt)
    assert rt.running is not None
    return rt, driver, c


def test_a_status_in_the_rc_file_is_recorded_before_the_log_and_its_tail_follows(
    tmp_path: Path,
) -> None:
    host = StoringHost(tmp_path)
    rt, driver, c = running_shell(host)
    run = rt.running
    printed(host, rt, run.dispatch.typed_line.encode() + b"\r\nbuilding\r\n")
    # The wrapper printed its sentinel and wrote the rc file; tmux has not relayed the
    # task's last line (nor the sentinel) into the log yet.
    run.dispatch.rc_path.write_text("3 -\n")
    driver.status_written(rt)
    assert host.records == [(AttemptOutcome.FAILED, 3, None)]
    assert host.store.attempts("t")[0].output_tail == "building"
    assert driver.finishing(rt)  # no task is typed in before its output has come
    host.work_hint = False
    printed(
        host, rt, b"error: disk full\r\n\x1eOVS:" + c.attempt.nonce.encode() + b":3:-\x1e\r\nw$ "
    )
    assert host.store.attempts("t")[0].output_tail == "building\nerror: disk full"
    assert not driver.finishing(rt) and host.work_hint
    assert host.records == [(AttemptOutcome.FAILED, 3, None)]  # recorded once
    # The rc file of an attempt that does not run in the agent is nobody's status.
    c2 = claim(host, "make")
    driver.start(rt, c2.task, c2.attempt)
    run.dispatch.rc_path.write_text("0 -\n")
    driver.status_written(rt)
    assert host.records == [(AttemptOutcome.FAILED, 3, None)] and rt.running is not None


def test_a_recorded_exit_whose_output_never_comes_frees_its_agent_after_a_while(
    tmp_path: Path,
) -> None:
    host = StoringHost(tmp_path)
    rt, driver, c = running_shell(host)
    rt.running.dispatch.rc_path.write_text("0 -\n")
    driver.status_written(rt)
    assert host.records == [(AttemptOutcome.OK, 0, None)] and driver.finishing(rt)
    # Output still coming (tmux catching up with a flood): its sentinel may yet come.
    for _ in range(3):
        host.now += SETTLE_WAIT / 2
        rt.last_output_at = host.now
        driver.check(rt, host.now)
        assert driver.finishing(rt)
    host.now += SETTLE_WAIT
    host.work_hint = False
    driver.check(rt, host.now)
    assert not driver.finishing(rt) and host.work_hint


def test_a_shell_task_quiet_at_a_prompt_waits_for_a_person(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "shell")
    rt.state = AgentState.IDLE
    c = claim(host, "./deploy")
    rt.driver.start(rt, c.task, c.attempt)
    printed(host, rt, b"Deploy to staging? [y/N] ")
    host.now += 5.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.WAITING and rt.prompt == "Deploy to staging? [y/N]"
    assert host.records == [] and host.stalls == []


# -- prompt -----------------------------------------------------------------------------


def screen(name: str) -> bytes:
    text = (SCREENS / name).read_text(encoding="utf-8")
    return b"\x1b[H\x1b[2J" + text.replace("\n", "\r\n").encode()


def codex_screen(*lines: str) -> bytes:
    return ("\x1b[H\x1b[2J" + "\r\n".join([">_ OpenAI Codex (v0.169.0)", "", *lines])).encode()


def idle_codex(host: FakeHost) -> AgentRuntime:
    rt = agent(host, "codex")
    assert isinstance(rt.driver, PromptDriver)
    host.fake.resize(110, 35)
    printed(host, rt, screen("codex-0.169.0-prompt.idle.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.IDLE
    return rt


def start_codex(host: FakeHost, rt: AgentRuntime, command: str = "write the docs") -> Any:
    """Paste a prompt into an idle Codex; its box shows it; Enter follows."""
    c = claim(host, command, kind="prompt")
    rt.driver.start(rt, c.task, c.attempt)
    assert host.fake.pasted == [command] and host.fake.keys == []  # not before it landed
    printed(host, rt, codex_screen(f"› {command}"))
    rt.driver.check(rt, host.now)
    assert host.fake.keys == [("Enter",)]
    return c


def test_a_prompt_is_submitted_worked_on_and_its_turn_recorded(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    start_codex(host, rt)
    assert rt.state == AgentState.BUSY
    printed(host, rt, screen("codex-0.169.0-working.busy.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.running is not None and rt.running.submitted_at == host.now
    printed(host, rt, screen("codex-0.169.0-prompt.idle.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert host.records == [(AttemptOutcome.OK, None, "the agent returned to its prompt")]
    assert rt.running is None


def test_a_busy_turns_output_does_not_wake_the_loop_and_a_settled_prompt_rests(
    tmp_path: Path,
) -> None:
    # The loop sleeps only while every driver rests, and a busy CLI's redraws (dozens a
    # second) wake it only when a decision reads the screen at once.
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    assert rt.driver.output_wakes(rt)  # idle: a dialog or a typed line is looked at now
    host.now += 3.0
    rt.driver.check(rt, host.now)
    assert rt.driver.resting(rt, host.now)
    printed(host, rt, codex_screen("› something typed"))
    assert not rt.driver.resting(rt, host.now)  # its screen is to be read
    host.now += 3.0
    rt.driver.check(rt, host.now)
    printed(host, rt, screen("codex-0.169.0-prompt.idle.ansi"))
    host.now += 3.0
    rt.driver.check(rt, host.now)
    c = claim(host, "write the docs", kind="prompt")
    rt.driver.start(rt, c.task, c.attempt)
    assert rt.driver.output_wakes(rt)  # submitting: Enter waits for the paste to show
    printed(host, rt, codex_screen("› write the docs"))
    rt.driver.check(rt, host.now)
    printed(host, rt, screen("codex-0.169.0-working.busy.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.running is not None and rt.running.submitted_at is not None
    assert not rt.driver.output_wakes(rt)  # the turn goes on: read lazily
    host.stop(rt, AttemptOutcome.FAILED, "stopped to block")
    assert rt.driver.output_wakes(rt)  # a stop reads the screen at once
    shell = agent(FakeHost(tmp_path / "shell"), "shell")
    assert shell.driver.output_wakes(shell) and shell.driver.resting(shell, 0.0)


def test_an_untested_cli_version_is_read_with_the_newest_rules_and_takes_tasks(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    assert isinstance(rt.driver, PromptDriver)
    host.fake.resize(110, 35)
    newer = screen("codex-0.169.0-prompt.idle.ansi").replace(b"v0.169.0", b"v0.231.4")
    printed(host, rt, newer)
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.IDLE  # not `unknown`: the newest rules read it
    assert rt.driver.ia.cli_version == "0.231.4"
    assert rt.driver.ia.version_note == "untested version 0.231.4 (tested: 0.169, 0.171)"
    start_codex(host, rt)
    printed(host, rt, screen("codex-0.169.0-working.busy.ansi").replace(b"v0.169.0", b"v0.231.4"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    printed(host, rt, newer)
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert host.records == [(AttemptOutcome.OK, None, "the agent returned to its prompt")]
    # The banner scrolled away: the version and its note stay; a respawn forgets them.
    printed(host, rt, codex_screen("› Ask Codex to do anything").replace(b"v0.169.0", b""))
    host.now += 1.0  # a look is due (the screen is read lazily)
    assert rt.driver.ia.read().note == "" and rt.driver.ia.cli_version == "0.231.4"
    rt.driver.ia.reset()
    assert rt.driver.ia.cli_version is None and rt.driver.ia.version_note is None


def test_a_rate_limit_fails_the_turn_and_pauses_the_agent(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    start_codex(host, rt)
    printed(host, rt, screen("codex-0.169.0-working.busy.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    printed(host, rt, codex_screen("■ You've hit your usage limit. Try again in 3 hours."))
    host.now += 2.0
    rt.driver.check(rt, host.now)
    ((outcome, _, reason),) = host.records
    assert outcome == AttemptOutcome.FAILED and reason is not None
    assert reason.startswith("rate-limit: ")
    assert rt.paused and rt.reason == f"paused: {reason}"


def test_a_limit_above_the_input_box_ends_the_turn_failed_never_ok(tmp_path: Path) -> None:
    # Codex 0.171 prints the 429 and returns to its input box: the screen reads idle, but
    # the turn did not do its work.
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    start_codex(host, rt)
    printed(
        host, rt, codex_screen("› write the docs", "• Working (1s • esc to interrupt)", "› Ask")
    )
    host.now += 1.0
    rt.driver.check(rt, host.now)
    limit = "■ exceeded retry limit, last status: 429 Too Many Requests"
    printed(host, rt, codex_screen("› write the docs", limit, "› Ask Codex to do anything"))
    for _ in range(4):
        host.now += 0.4  # through the debounce (idle, settled) to twice the debounce
        rt.driver.check(rt, host.now)
    ((outcome, _, reason),) = host.records
    assert outcome == AttemptOutcome.FAILED and reason == f"rate-limit: {limit}"
    assert rt.paused


def test_a_prompt_left_in_the_input_box_gets_enter_once_more_then_is_lost(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    start_codex(host, rt)
    still = codex_screen("› write the docs", "  GPT-6.1-Sol default")
    printed(host, rt, still)
    host.now += 7.0
    rt.driver.check(rt, host.now)
    assert host.fake.keys == [("Enter",), ("Enter",)] and host.events == ["task.resubmit"]
    assert host.records == []
    host.now += 7.0
    rt.driver.check(rt, host.now)
    assert host.records == [
        (AttemptOutcome.LOST, None, "the prompt was not submitted: still in the input box")
    ]


def test_gemini_gets_enter_only_once_the_paste_shows_and_its_fast_return_window_passed(
    tmp_path: Path,
) -> None:
    # Gemini CLI 0.61 takes an Enter read within 30 ms after a paste as a newline.
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    assert isinstance(rt.driver, PromptDriver)
    rt.driver.ia.resize(110, 35)
    printed(host, rt, screen("gemini-0.61.0-prompt.idle.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    c = claim(host, "Add a README to this folder", kind="prompt")  # what the next screen holds
    rt.driver.start(rt, c.task, c.attempt)
    host.now += 0.5
    rt.driver.check(rt, host.now)
    assert host.fake.keys == []  # nothing drawn since the paste: it has not landed
    printed(host, rt, screen("gemini-0.61.0-typed-not-submitted.idle.ansi"))
    rt.driver.check(rt, host.now)
    assert host.fake.keys == []  # it shows, but the CLI may have taken it this instant
    gap = rt.driver.kind.enter_gap
    assert gap > 0.03
    host.now += gap
    rt.driver.check(rt, host.now)
    assert host.fake.keys == [("Enter",)] and host.events == []


def test_a_paste_drawn_as_a_placeholder_gets_enter_once_the_screen_settles(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    c = claim(host, "line one\n" * 40, kind="prompt")
    rt.driver.start(rt, c.task, c.attempt)
    printed(host, rt, codex_screen("› [Pasted Content 360 chars]"))
    rt.driver.check(rt, host.now)
    assert host.fake.keys == []
    host.now += 0.4  # quiet past PASTE_SETTLE
    rt.driver.check(rt, host.now)
    assert host.fake.keys == [("Enter",)] and host.events == []


def test_a_paste_that_never_shows_gets_enter_anyway_and_says_so(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = idle_codex(host)
    c = claim(host, "write the docs", kind="prompt")
    rt.driver.start(rt, c.task, c.attempt)
    for _ in range(3):
        host.now += 0.5
        rt.driver.check(rt, host.now)
    assert host.fake.keys == []
    host.now += 0.5  # the kind's paste_wait (2 s)
    rt.driver.check(rt, host.now)
    assert host.fake.keys == [("Enter",)] and host.events == ["task.enter-unseen"]


@pytest.mark.parametrize(("answer", "key"), [("y", "1"), ("n", "3"), ("2", "2")])
def test_a_menu_takes_the_key_of_the_choice(tmp_path: Path, answer: str, key: str) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    host.fake.resize(110, 35)
    printed(host, rt, screen("gemini-0.61.0-trust-dialog.waiting.ansi"))
    assert rt.driver.menu_key(rt, answer) == key


def test_an_api_key_screen_waits_at_a_prompt_no_answer_types(tmp_path: Path) -> None:
    from overseer.agents.profiles import match_prompt

    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    assert isinstance(rt.driver, PromptDriver)
    host.fake.resize(110, 35)
    here = Path(__file__).resolve().parents[1] / "fakes" / "screens"
    text = (here / "gemini-0.61.0-api-key.waiting.ansi").read_text(encoding="utf-8")
    printed(host, rt, b"\x1b[H\x1b[2J" + text.replace("\n", "\r\n").encode())
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.WAITING and rt.prompt == "Enter Gemini API Key"
    m = match_prompt(rt.prompt)  # what `overseer answer` and suggestions check first
    assert m is not None and m.secret


def test_the_sweep_samples_the_cpu_only_of_agents_at_work_and_quiet(tmp_path: Path) -> None:
    from overseer.agents.supervisor import CPU_QUIET, cpu_watched

    host = FakeHost(tmp_path)
    rt = agent(host, "shell")
    rt.state = AgentState.IDLE
    assert not cpu_watched(rt, host.now)  # nothing runs: alive is enough
    c = claim(host, "make")
    rt.driver.start(rt, c.task, c.attempt)
    assert not cpu_watched(rt, host.now)  # just started
    printed(host, rt, b"compiling\r\n")
    assert rt.last_output_at is not None
    assert not cpu_watched(rt, rt.last_output_at + CPU_QUIET / 2)  # its output is its heartbeat
    assert cpu_watched(rt, rt.last_output_at + CPU_QUIET)  # silent: is it at work, or stuck?


def test_with_rc_files_pushed_the_sweep_looks_at_the_run_files_every_few_seconds(
    tmp_path: Path,
) -> None:
    from overseer.agents.drivers.shell import POLL_PUSHED

    host = StoringHost(tmp_path)
    host.statuses_pushed = True
    rt, driver, c = running_shell(host)
    assert rt.running is not None
    driver.poll(rt, host.now)  # nothing to see yet
    rt.running.dispatch.rc_path.write_text("0 -\n")  # a write the watcher missed
    driver.poll(rt, host.now + 1.0)
    assert host.records == []  # the watcher is trusted: the safety net waits its turn
    driver.poll(rt, host.now + POLL_PUSHED)
    assert host.records == [(AttemptOutcome.OK, 0, None)]
