"""Debounce, stall signature and submission checks of an interactive agent (fake clock)."""

from __future__ import annotations

from pathlib import Path

from overseer.agents.interactive import SETTLE, InteractiveAgent
from overseer.agents.profiles import AI_KINDS
from overseer.agents.screen import VirtualScreen


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def draw(*lines: str) -> bytes:
    return ("\x1b[H\x1b[2J" + "\r\n".join(lines)).encode()


IDLE = draw(">_ OpenAI Codex (v0.169.0)", "", "› Ask Codex to do anything", "  GPT-6.1-Sol default")


def busy(sec: int, glyph: str = "◦") -> bytes:
    return draw(
        ">_ OpenAI Codex (v0.169.0)",
        "› write docs",
        f"{glyph} Working ({sec}s • esc to interrupt)",
        "› Ask Codex to do anything",
        "  GPT-6.1-Sol default",
    )


class Pane(InteractiveAgent):
    """An agent whose pane (tmux's part: a terminal emulator) is fed what the test prints."""

    def __init__(self, clock: Clock, kind: str, columns: int, lines: int) -> None:
        k = AI_KINDS[kind]
        assert k.screen is not None
        self.vs = VirtualScreen(columns, lines)
        super().__init__(k, k.screen, clock=clock, capture=lambda: "\n".join(self.vs.lines()))

    def feed(self, data: bytes) -> None:
        self.vs.feed(data)
        super().feed(data)

    def resize(self, columns: int, lines: int) -> None:
        self.vs.resize(columns, lines)
        super().resize(columns, lines)


def agent(clock: Clock, kind: str = "codex", columns: int = 100, lines: int = 20) -> Pane:
    return Pane(clock, kind, columns, lines)


def test_a_state_counts_only_after_the_debounce() -> None:
    clock = Clock()
    a = agent(clock)
    a.feed(IDLE)
    assert a.observe() is None  # not held yet
    clock.t += 0.7
    t = a.observe()
    assert t is not None and t.new.state == "idle" and a.state == "idle"
    a.feed(busy(1))
    clock.t += 0.2
    assert a.observe() is None and a.state == "idle"
    a.feed(IDLE)  # a flicker back to idle before busy held: no transition at all
    clock.t += 0.2
    assert a.observe() is None
    clock.t += 1.0
    assert a.observe() is None and a.state == "idle"


def test_ticking_spinner_is_not_progress_but_new_output_is() -> None:
    clock = Clock()
    a = agent(clock)
    a.feed(busy(1))
    clock.t += 1
    a.observe()
    assert a.state == "busy"
    start = a.progress_age()
    for sec in range(2, 40):
        clock.t += 1
        a.feed(busy(sec, "◦•"[sec % 2]))
        a.observe()
    assert a.state == "busy" and a.progress_age() >= start + 38
    clock.t += 1
    a.feed(
        draw("› write docs", "wrote README.md", "• Working (41s • esc to interrupt)", "› Ask Codex")
    )
    a.observe()
    assert a.progress_age() >= 39  # one look may land in the middle of a redraw
    clock.t += SETTLE  # nothing came after it: that screen was whole
    a.observe()
    assert a.progress_age() == SETTLE  # progress since it was first seen


def test_half_drawn_screens_are_no_progress() -> None:
    # Looks that land in the middle of a redraw (the frame erased, then drawn in two writes)
    # while only the spinner and the counter change: no progress, however they alternate.
    clock = Clock()
    a = agent(clock)
    a.feed(busy(1))
    clock.t += 1
    a.observe()
    begun = clock.t
    for sec in range(2, 60):
        frame = busy(sec, "◦•"[sec % 2])
        cut = len(frame) // 2
        # Half a frame, then the whole one; from sec 30 on, each seen in two looks in a row.
        for part in (frame[:cut], frame[cut:]):
            for _ in range(1 if sec < 30 else 2):
                clock.t += 0.5
                a.feed(part if _ == 0 else b"")
                a.observe()
    assert a.captures > 100
    # The half frame settled once (at sec 30, a screen not seen before): nothing else counted.
    assert a.progress_age() >= clock.t - begun - 30


def test_typed_prompt_in_the_box_is_detected() -> None:
    clock = Clock()
    a = agent(clock)
    a.feed(draw(">_ OpenAI Codex (v0.169.0)", "› write the docs for the parser module"))
    assert a.holds_text("write the docs for the parser module please")
    a.feed(busy(1))
    clock.t += 0.1
    assert not a.holds_text("write the docs for the parser module please")


def test_aider_unmatched_but_changing_screen_is_busy() -> None:
    clock = Clock()
    a = agent(clock, "aider")
    a.feed(b"Aider v0.86.1\r\n> fix it\r\nEditing foo.py\r\n")
    assert a.read().state == "busy"
    clock.t += 5
    assert a.read().state == "unknown"


def test_resize_flicker_does_not_flip_the_state() -> None:
    clock = Clock()
    a = agent(clock)
    a.feed(busy(1))
    clock.t += 1
    a.observe()
    a.resize(60, 10)
    a.feed(b"\x1b[H\x1b[2J")  # the program clears before repainting
    clock.t += 0.1
    a.observe()
    a.feed(busy(2))
    clock.t += 0.1
    assert a.observe() is None and a.state == "busy"


SCREENS = Path(__file__).resolve().parents[1] / "fakes" / "screens"


def capture(name: str, change: tuple[str, str] = ("", "")) -> bytes:
    """A saved real screen as the pane would redraw it (optionally one text changed)."""
    text = (SCREENS / name).read_text(encoding="utf-8").replace(*change)
    return ("\x1b[H\x1b[2J" + text.replace("\n", "\r\n")).encode()


def test_a_cli_spinning_without_network_makes_no_progress_but_new_output_does() -> None:
    # Codex 0.171 without network: the busy line alternates "Reconnecting..." and "Working",
    # the lines under it come and go ("└ Connection failed", rotating "└ Tip: ...").
    clock = Clock()
    a = agent(clock, "codex", 110, 35)
    frames = [
        capture("codex-0.171.0-no-network-reconnecting.busy.ansi"),
        capture("codex-0.171.0-no-network-tip.busy.ansi"),
        capture("codex-0.171.0-no-network-working.busy.ansi"),
        capture(
            "codex-0.171.0-no-network-working.busy.ansi",
            ("Use /feedback to send logs", "Press Esc twice to edit a previous message"),
        ),
    ]
    a.feed(frames[0])
    a.observe()
    start = a.signature_since
    for n in range(1, 120):
        clock.t += 1
        a.feed(frames[n % len(frames)])
        a.observe()
        assert a.read().state == "busy"
    assert a.signature_since == start and a.progress_age() >= 119
    # New output above the busy line is progress.
    clock.t += 1
    a.feed(capture("codex-0.171.0-no-network-tip.busy.ansi", ("\n\n• ", "\n• Ran ls\n• ")))
    a.observe()
    assert a.progress_age() >= 120  # not settled yet: one look may be half a redraw
    clock.t += SETTLE
    a.observe()
    assert a.progress_age() == SETTLE


def test_claude_rotating_tips_under_its_busy_line_are_not_progress() -> None:
    clock = Clock()
    a = agent(clock, "claude", 110, 35)
    name = "claude-2.1.197-stalled.busy.ansi"
    a.feed(capture(name))
    a.read()
    for tip, word in (("Use /btw to ask a question", "Pondering"), ("Press Esc", "Churning")):
        clock.t += 5
        a.feed(
            capture(name, ("Use /memory to view and manage Claude memory", tip)).replace(
                b"Noodling", word.encode()
            )
        )
        assert a.read().state == "busy"
    assert a.progress_age() == 10
    a.feed(capture(name, ("hang here\x1b[39m\n\n", "hang here\n● Read(notes.md)\n")))
    assert a.read().state == "busy" and a.progress_age() == 10  # not looked at yet
    clock.t += SETTLE
    a.read()  # read once the output is quiet: a whole screen, progress at once
    assert a.progress_age() == 0


def test_a_screen_rests_only_once_nothing_waits_for_a_later_look() -> None:
    # While it rests the supervisor's loop sleeps: a pane may only say so once no look,
    # no debounce and no "changing is busy" window is still to come.
    clock = Clock()
    a = agent(clock, "aider")
    assert not a.at_rest()  # nothing read yet
    a.feed(b"\x1b[H\x1b[2Jsomething no rule knows")
    clock.t += 0.1
    a.observe()
    assert not a.at_rest()  # the verdict has not held, and the screen just changed
    clock.t += 2.0
    a.observe()
    assert a.state == "unknown" and a.at_rest()
    a.feed(b" more")  # new output: the screen is dirty until it is read
    assert not a.at_rest()
    clock.t += SETTLE
    a.observe()
    assert not a.at_rest()  # read, but an unmatched screen that changed lately is busy
    clock.t += 2.0
    a.observe()
    assert a.at_rest()
