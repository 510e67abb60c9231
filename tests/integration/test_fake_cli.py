"""The fake AI CLIs in real tmux panes: what each style shows when idle, typed, busy, asking.

These tests document the screens tests/fakes/fake_cli.py produces (lines as `capture-pane -p`
gives them, boxed lines with their `│` borders removed), so detector tests can rely on them.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from overseer.agents.tmux import TmuxServer
from tests.fakes import FAKE_CLI
from tests.helpers import wait_until

pytestmark = pytest.mark.tmux

_BOXED = re.compile(r" ?│ (.*?) *│")


def norm(line: str) -> str:
    """A captured line without trailing blanks, and without box borders if it is boxed."""
    line = line.rstrip()
    m = _BOXED.fullmatch(line)
    return m.group(1) if m else line


@dataclass(frozen=True)
class Look:
    """What one style shows, line by line (normalised with norm)."""

    banner: str
    placeholder: str  # the empty input box
    typed: tuple[str, str]  # "hang\nslowly!" typed into the box, as two lines
    busy: re.Pattern[str]  # the busy line; spinner glyph and seconds change
    echo: tuple[str, str]  # the submitted "hang\nslowly" above the input box
    interrupted: str
    dialog: tuple[str, ...]  # in this order, first choice selected
    second_selected: tuple[str, str]  # choices 1 and 2 after pressing Down
    ran_it: str
    worked: str  # answer to "work 0.5"
    ratelimit: str
    yes: tuple[str, ...]  # keys that answer the dialog with its first choice


LOOKS = {
    "codex": Look(
        banner="  >_ OpenAI Codex (v0.169.0)",
        placeholder="› Ask Codex to do anything",
        typed=("› hang", "  slowly!"),
        busy=re.compile(r"[•◦] Working \(\d+s • esc to interrupt\)"),
        echo=("› hang", "  slowly"),
        interrupted="■ Interrupted",
        dialog=(
            "  Would you like to run the following command?",
            "  $ ls",
            "› 1. Yes, proceed",
            "  2. No, and tell Codex what to do differently (esc)",
            "  Press enter to confirm or esc to cancel",
        ),
        second_selected=(
            "  1. Yes, proceed",
            "› 2. No, and tell Codex what to do differently (esc)",
        ),
        ran_it="• ran it",
        worked="• Done after 0.5s.",
        ratelimit="■ You've hit your usage limit. Try again in 5 minutes.",
        yes=("1",),
    ),
    "gemini": Look(
        banner=" Gemini CLI v0.61.0",
        placeholder=" >   Type your message or @path/to/file",
        typed=(" > hang", "   slowly!"),
        busy=re.compile(r" [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] Thinking\.\.\. \(esc to cancel, \d+s\) +\? for shortcuts"),
        echo=(" > hang", "   slowly"),
        interrupted="■ Interrupted",
        dialog=(
            "?  Shell ls",
            "ls",
            "Allow execution of: 'ls'?",
            "● 1. Allow once",
            "  2. Allow always",
            "  3. No",
        ),
        second_selected=("  1. Allow once", "● 2. Allow always"),
        ran_it="✦ ran it",
        worked="✦ Done after 0.5s.",
        ratelimit=(
            "✕ [API Error: Quota exceeded for quota metric 'Generate Content API requests per "
            "minute'. Please wait and try again later.]"
        ),
        yes=("1",),
    ),
    "claude": Look(
        banner="✻ Welcome to Claude Code!",
        placeholder='> Try "write a test for <filepath>"',
        typed=("> hang", "  slowly!"),
        busy=re.compile(r"[✢✳✶✻✽] Pondering… \(\d+s · esc to interrupt\)"),
        echo=("> hang", "  slowly"),
        interrupted="■ Interrupted",
        dialog=(
            "⏺ Bash(ls)",
            "Bash command",
            "  ls",
            "Do you want to proceed?",
            "❯ 1. Yes",
            "  2. No, and tell Claude what to do differently (esc)",
        ),
        second_selected=("  1. Yes", "❯ 2. No, and tell Claude what to do differently (esc)"),
        ran_it="⏺ ran it",
        worked="⏺ Done after 0.5s.",
        ratelimit="  ⎿  Claude usage limit reached. Your limit will reset at 5pm (UTC).",
        yes=("1",),
    ),
    "aider": Look(
        banner="Aider v0.86.0",
        placeholder=">",  # "> " at the start of the last line; capture drops the blank
        typed=("> hang", "slowly!"),
        busy=re.compile(r"[░█]{10} Waiting for gpt-4o \(\d+s\)"),
        echo=("> hang", "slowly"),
        interrupted="■ Interrupted",
        dialog=("ls", "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:"),
        second_selected=("", ""),  # a line prompt: no selection marker
        ran_it="ran it",
        worked="Done after 0.5s.",
        ratelimit="The API provider has rate limited you. Try again later or check your quotas.",
        yes=("y", "Enter"),
    ),
}
STYLES = list(LOOKS)


class Fake:
    """One fake CLI in a pane of the test's private tmux server."""

    def __init__(self, server: TmuxServer, tmp_path: Path, style: str, *args: str) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.look = LOOKS[style]
        cmd = shlex.join([sys.executable, str(FAKE_CLI), "--style", style, *args])
        info = server.spawn_window(
            style, f"{cmd}; echo EXIT=$?", str(tmp_path), {}, tmp_path / f"{style}.log"
        )
        self.pane = info.pane_id

    def lines(self) -> list[str]:
        """The screen, normalised, without trailing empty lines."""
        rows = [norm(r) for r in self.server.capture(self.pane).split("\n")]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def wait(
        self, check: Callable[[list[str]], bool], what: str, timeout: float = 5.0
    ) -> list[str]:
        """Wait until check(lines) holds and return those lines."""
        found: list[list[str]] = []

        def probe() -> bool:
            found[:] = [self.lines()]
            return check(found[0])

        try:
            wait_until(probe, timeout=timeout, message=what)
        except AssertionError as e:
            screen = "\n".join(found[0]) if found else ""
            raise AssertionError(f"{e}\n--- screen ---\n{screen}") from None
        return found[0]

    def idle(self, lines: list[str]) -> bool:
        """The empty input box is on screen and nothing is busy or asking."""
        look = self.look
        if look is LOOKS["aider"]:
            has_box = bool(lines) and lines[-1] == look.placeholder
        else:
            has_box = look.placeholder in lines
        return has_box and not any(look.busy.fullmatch(x) for x in lines)

    def busy_line(self, lines: list[str]) -> int | None:
        """Index of the busy line, or None."""
        return next((i for i, x in enumerate(lines) if self.look.busy.fullmatch(x)), None)

    def type(self, text: str, enter: bool = True) -> None:
        """Type text literally (then Enter)."""
        self.server.send_text(self.pane, text, enter=enter)

    def paste(self, text: str) -> None:
        """Paste text through a tmux buffer with bracketed paste, as the supervisor does."""
        buf = self.tmp_path / "paste.txt"
        buf.write_text(text)
        self.server.run("load-buffer", "-b", "fake-paste", str(buf))
        self.server.run("paste-buffer", "-p", "-d", "-b", "fake-paste", "-t", self.pane)

    def keys(self, *keys: str) -> None:
        """Send tmux key names."""
        self.server.send_keys(self.pane, *keys)


def contains_in_order(lines: list[str], wanted: tuple[str, ...]) -> bool:
    """True when every wanted line is on screen, in this order (others may come between)."""
    at = 0
    for line in lines:
        if at < len(wanted) and line == wanted[at]:
            at += 1
    return at == len(wanted)


@pytest.mark.parametrize("style", STYLES)
def test_paste_sits_unsubmitted_then_busy_ticks_and_esc_interrupts(
    tmux_server: TmuxServer, tmp_path: Path, style: str
) -> None:
    fake = Fake(tmux_server, tmp_path, style)
    look = fake.look
    lines = fake.wait(fake.idle, f"{style}: the idle screen")
    assert look.banner in lines

    # A bracketed paste with a newline inserts both lines and submits nothing.
    fake.paste("hang\nslowly")
    fake.type("!", enter=False)  # lands after the paste: proves the paste was not submitted
    lines = fake.wait(lambda ls: contains_in_order(ls, look.typed), f"{style}: typed text in box")
    assert fake.busy_line(lines) is None
    assert look.placeholder not in lines
    fake.keys("BSpace")
    fake.wait(lambda ls: contains_in_order(ls, (look.typed[0], look.echo[1])), "backspace")

    fake.keys("Enter")
    first = fake.wait(lambda ls: fake.busy_line(ls) is not None, f"{style}: busy line")
    assert contains_in_order(first, look.echo)
    if style != "aider":  # the input box stays on screen while busy, emptied
        assert look.placeholder in first
    # Only the spinner glyph and the elapsed counter change while a task hangs.
    second = fake.wait(lambda ls: ls != first, f"{style}: the busy line ticks", timeout=3)
    changed = [
        i for i in range(max(len(first), len(second))) if first[i : i + 1] != second[i : i + 1]
    ]
    assert changed == [fake.busy_line(first)] == [fake.busy_line(second)]

    fake.keys("Escape")
    lines = fake.wait(fake.idle, f"{style}: idle after Esc")
    assert look.interrupted in lines


@pytest.mark.parametrize("style", STYLES)
def test_ask_shows_a_permission_dialog_that_an_answer_closes(
    tmux_server: TmuxServer, tmp_path: Path, style: str
) -> None:
    fake = Fake(tmux_server, tmp_path, style)
    look = fake.look
    fake.wait(fake.idle, f"{style}: the idle screen")

    fake.type("ask")
    lines = fake.wait(lambda ls: contains_in_order(ls, look.dialog), f"{style}: the dialog")
    assert fake.busy_line(lines) is None  # waiting for a person, not working
    if style != "aider":
        assert look.placeholder not in lines  # the dialog takes the input box's place
        fake.keys("Down")
        fake.wait(lambda ls: contains_in_order(ls, look.second_selected), "marker on choice 2")
        fake.keys("Up")
        fake.wait(lambda ls: contains_in_order(ls, look.dialog), "marker back on choice 1")

    if look.yes == ("1",):
        fake.type("1", enter=False)
    else:
        fake.type(look.yes[0])
    lines = fake.wait(lambda ls: look.ran_it in ls and fake.idle(ls), f"{style}: ran it", timeout=4)
    assert look.dialog[-1] not in lines[-4:]


def test_dialog_declined_with_esc(tmux_server: TmuxServer, tmp_path: Path) -> None:
    fake = Fake(tmux_server, tmp_path, "claude")
    fake.wait(fake.idle, "the idle screen")
    fake.type("ask")
    fake.wait(lambda ls: contains_in_order(ls, fake.look.dialog), "the dialog")

    fake.keys("Escape")

    fake.wait(lambda ls: "⏺ declined" in ls and fake.idle(ls), "declined", timeout=4)


@pytest.mark.parametrize("style", STYLES)
def test_work_answers_and_ratelimit_message_stays_on_screen(
    tmux_server: TmuxServer, tmp_path: Path, style: str
) -> None:
    fake = Fake(tmux_server, tmp_path, style)
    look = fake.look
    fake.wait(fake.idle, f"{style}: the idle screen")

    fake.type("work 0.5")
    fake.wait(lambda ls: look.worked in ls and fake.idle(ls), f"{style}: the answer")
    fake.type("ratelimit")
    lines = fake.wait(lambda ls: look.ratelimit in ls and fake.idle(ls), f"{style}: rate limit")
    assert lines.index(look.ratelimit) > lines.index(look.worked)


def test_exit_prompt_and_exit_on_start_set_the_exit_status(
    tmux_server: TmuxServer, tmp_path: Path
) -> None:
    quits = Fake(tmux_server, tmp_path, "codex")
    broken = Fake(tmux_server, tmp_path, "claude", "--exit-on-start", "2")
    quits.wait(quits.idle, "the idle screen")

    quits.type("exit")

    quits.wait(lambda ls: "EXIT=3" in ls, "exit status 3")
    lines = broken.wait(lambda ls: "EXIT=2" in ls, "exit status 2 at start")
    assert " Unable to connect to Anthropic services" in lines


def test_ctrl_c_twice_exits(tmux_server: TmuxServer, tmp_path: Path) -> None:
    fake = Fake(tmux_server, tmp_path, "gemini")
    fake.wait(fake.idle, "the idle screen")

    fake.keys("C-c")
    fake.wait(lambda ls: " Press Ctrl+C again to exit." in ls, "the exit hint")
    fake.keys("C-c")

    fake.wait(lambda ls: "EXIT=0" in ls, "exit status 0")


def test_resize_redraws_at_the_new_size(tmux_server: TmuxServer, tmp_path: Path) -> None:
    fake = Fake(tmux_server, tmp_path, "codex", "--banner-delay", "1")
    lines = fake.wait(lambda ls: fake.look.banner in ls, "the banner")
    assert fake.look.placeholder not in lines  # still starting: no input box yet
    fake.wait(fake.idle, "the idle screen after the banner delay")

    tmux_server.run("resize-window", "-t", fake.pane, "-x", "80", "-y", "24")

    def footer_on_last_row(ls: list[str]) -> bool:
        raw = tmux_server.capture(fake.pane).split("\n")
        return len(raw) >= 24 and raw[23].rstrip() == "  ← for agents · ? for shortcuts"

    fake.wait(footer_on_last_row, "the footer on row 24 of 24")
    assert fake.lines()[-4] == fake.look.placeholder
