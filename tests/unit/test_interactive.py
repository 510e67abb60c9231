"""Debounce, stall signature and submission checks of an interactive agent (fake clock)."""

from __future__ import annotations

from pathlib import Path

from overseer.agents.interactive import InteractiveAgent
from overseer.agents.profiles import AI_KINDS


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


def agent(clock: Clock, kind: str = "codex") -> InteractiveAgent:
    k = AI_KINDS[kind]
    assert k.screen is not None
    return InteractiveAgent(k, k.screen, columns=100, lines=20, clock=clock)


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
    a.feed(
        draw("› write docs", "wrote README.md", "• Working (41s • esc to interrupt)", "› Ask Codex")
    )
    a.observe()
    assert a.progress_age() == 0


def test_typed_prompt_in_the_box_is_detected() -> None:
    clock = Clock()
    a = agent(clock)
    a.feed(draw(">_ OpenAI Codex (v0.169.0)", "› write the docs for the parser module"))
    assert a.holds_text("write the docs for the parser module please")
    a.feed(busy(1))
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
    k = AI_KINDS["codex"]
    assert k.screen is not None
    a = InteractiveAgent(k, k.screen, columns=110, lines=35, clock=clock)
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
    a.feed(capture("codex-0.171.0-no-network-tip.busy.ansi", ("\n\n• ", "\n• Ran ls\n• ")))
    a.observe()
    assert a.progress_age() == 0


def test_claude_rotating_tips_under_its_busy_line_are_not_progress() -> None:
    clock = Clock()
    k = AI_KINDS["claude"]
    assert k.screen is not None
    a = InteractiveAgent(k, k.screen, columns=110, lines=35, clock=clock)
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
    a.read()
    assert a.progress_age() == 0
