"""Screen classifiers against the real screens in ../shared/screens and synthetic ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.agents.classify import UNKNOWN, classify, compile_rules, progress_signature
from overseer.agents.profiles import AI_KINDS
from overseer.agents.screen import VirtualScreen, screen_from_capture
from tests.helpers import shared_screens

SCREENS = shared_screens()
REAL = sorted(SCREENS.glob("*.ansi"))


def verdict_of(path: Path, columns: int = 110, lines: int = 35):  # type: ignore[no-untyped-def]
    kind = path.name.split("-")[0]
    screen = screen_from_capture(path.read_text(encoding="utf-8"), columns, lines)
    return classify(screen.lines(), AI_KINDS[kind].screen)  # type: ignore[arg-type]


def test_the_shared_screens_are_there() -> None:
    assert len(REAL) >= 8, f"expected the captured screens in {SCREENS}"


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_real_screens_classify_as_their_file_name_says(path: Path) -> None:
    expected = path.name.rsplit(".", 2)[-2]  # <cli>-<version>-<what>.<state>.ansi
    assert verdict_of(path).state == expected


def test_evidence_names_the_rule_and_the_line() -> None:
    busy = verdict_of(SCREENS / "codex-0.169.0-working.busy.ansi")
    assert busy.rule == "esc-to-interrupt" and "esc to interrupt" in busy.detail
    trust = verdict_of(SCREENS / "gemini-0.61.0-trust-dialog.waiting.ansi")
    assert trust.rule == "trust-dialog"
    assert trust.choices[:3] == (
        "● 1. Trust folder (proj)",
        "2. Trust parent folder (clis)",
        "3. Don't trust",
    )
    signin = verdict_of(SCREENS / "codex-0.169.0-signin-menu.waiting.ansi")
    assert signin.choices[0] == "> 1. Sign in with ChatGPT" and len(signin.choices) == 3


def test_an_input_box_on_screen_while_busy_is_not_idle() -> None:
    for name in ("codex-0.169.0-working.busy.ansi", "gemini-0.61.0-thinking.busy.ansi"):
        assert verdict_of(SCREENS / name).state == "busy"


def test_typed_but_not_submitted_is_idle() -> None:
    v = verdict_of(SCREENS / "gemini-0.61.0-typed-not-submitted.idle.ansi")
    assert v.state == "idle" and "Add a README" in v.detail


@pytest.mark.parametrize("path", REAL, ids=[p.name for p in REAL])
def test_resizing_does_not_flip_the_verdict(path: Path) -> None:
    assert verdict_of(path, 160, 50).state == verdict_of(path).state


def test_spinner_and_elapsed_counter_are_not_progress() -> None:
    rules = AI_KINDS["codex"].screen
    assert rules is not None
    a = ["› Add a README", "◦ Working (1m 21s • esc to interrupt)", "› Ask Codex to do anything"]
    b = ["› Add a README", "• Working (1m 22s • esc to interrupt)", "› Ask Codex to do anything"]
    c = [*b[:1], "wrote README.md", *b[1:]]
    assert progress_signature(a, rules) == progress_signature(b, rules)
    assert progress_signature(a, rules) != progress_signature(c, rules)


def test_status_bar_alone_is_not_enough() -> None:
    lines = ["  GPT-6.1-Sol default · /home/user/proj", "  ← for agents · ? for shortcuts"]
    assert classify(lines, AI_KINDS["codex"].screen).state == UNKNOWN  # type: ignore[arg-type]


def test_untested_version_is_unknown_never_a_confident_guess() -> None:
    text = (SCREENS / "codex-0.169.0-prompt.idle.ansi").read_text().replace("v0.169.0", "v0.231.0")
    v = classify(screen_from_capture(text, 110, 35).lines(), AI_KINDS["codex"].screen)  # type: ignore[arg-type]
    assert v.state == UNKNOWN and v.rule == "untested-version" and "0.231" in v.detail


def test_blank_and_unmatched_screens_are_unknown() -> None:
    rules = AI_KINDS["gemini"].screen
    assert classify([], rules).state == UNKNOWN  # type: ignore[arg-type]
    assert classify(["some unrelated text"], rules).rule == "no-rule-matched"  # type: ignore[arg-type]


def test_rate_limit_and_permission_dialogs_are_waiting() -> None:
    claude = AI_KINDS["claude"].screen
    dialog = [
        "Bash command",
        "  rm -rf build",
        "Do you want to proceed?",
        "❯ 1. Yes",
        "  2. No, and tell Claude what to do differently (esc)",
    ]
    v = classify(dialog, claude)  # type: ignore[arg-type]
    assert v.state == "waiting" and v.rule == "approval" and len(v.choices) == 2
    limit = ["Claude usage limit reached. Your limit will reset at 5pm", "│ > │"]
    assert classify(limit, claude).rule == "rate-limit"  # type: ignore[arg-type]


def test_aider_prompt_is_read_from_the_last_line() -> None:
    aider = AI_KINDS["aider"].screen
    assert classify(["Aider v0.86.1", "> "], aider).state == "idle"  # type: ignore[arg-type]
    assert classify(["Add file to the chat? (Y)es/(N)o [Yes]: "], aider).state == "waiting"  # type: ignore[arg-type]
    assert classify(["> fix the bug", "Editing foo.py"], aider).state == UNKNOWN  # type: ignore[arg-type]


def test_custom_rules_come_from_the_config() -> None:
    rules = compile_rules(
        "custom", {"busy": [r"^\.\.\. working"], "idle": [r"^repl> $"], "waiting": [r"\[confirm\]"]}
    )
    assert classify(["repl> "], rules).state == "idle"
    assert classify(["... working 3"], rules).state == "busy"
    assert classify(["delete? [confirm]"], rules).state == "waiting"


def test_virtual_screen_follows_redraws() -> None:
    vs = VirtualScreen(40, 5)
    vs.feed(b"\x1b[H\x1b[2Jfirst\r\nsecond")
    vs.feed(b"\x1b[H\x1b[2Jonly this")
    assert vs.text() == "only this"
    # Cursor at the bottom-right corner, a title (OSC), invalid UTF-8: it scrolls like a
    # terminal and carries on.
    vs.feed(b"\x1b[999;999H\x1b]0;title\x07\xff\xfe broken utf8")
    assert vs.text().endswith("\ufffd broken utf8") and "title" not in vs.text()


def test_menu_choices_split_into_number_and_text() -> None:
    from overseer.agents.classify import choice_parts

    trust = verdict_of(SCREENS / "gemini-0.61.0-trust-dialog.waiting.ansi")
    assert [choice_parts(c) for c in trust.choices] == [
        ("1", "Trust folder (proj)"),
        ("2", "Trust parent folder (clis)"),
        ("3", "Don't trust"),
    ]
    assert choice_parts("│ ❯ 1. Yes │") == ("1", "Yes")
