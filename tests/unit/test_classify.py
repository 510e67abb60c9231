"""Screen classifiers against the real screens in ../shared/screens and synthetic ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_untested_version_reads_with_the_newest_rules_and_carries_a_note() -> None:
    text = (SCREENS / "codex-0.169.0-prompt.idle.ansi").read_text().replace("v0.169.0", "v0.231.0")
    v = classify(screen_from_capture(text, 110, 35).lines(), AI_KINDS["codex"].screen)  # type: ignore[arg-type]
    assert (v.state, v.rule) == ("idle", "input-box")
    assert v.note == "untested version 0.231.0 (tested: 0.169, 0.171)"
    tested = verdict_of(SCREENS / "codex-0.169.0-prompt.idle.ansi")
    assert tested.note == "" and tested.to_json()["note"] == ""
    # `version_check: false` on the agent: no versions, no note.
    from overseer.agents.kinds import rules_for
    from overseer.state.config import AgentSpec

    unchecked = rules_for("codex", AgentSpec(name="c", kind="codex", version_check=False))
    assert unchecked is not None
    assert classify(screen_from_capture(text, 110, 35).lines(), unchecked).note == ""


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


CLAUDE_DIALOG = [
    "❯ run: touch x",
    "● Bash(touch x)",
    "Bash command",
    "  touch x",
    "Do you want to proceed?",
    "❯ 1. Yes",
    "  2. No, and tell Claude what to do differently (esc)",
]


def test_the_element_nearest_the_bottom_decides() -> None:
    claude = AI_KINDS["claude"].screen
    assert claude is not None
    waiting = classify(CLAUDE_DIALOG, claude)
    assert (waiting.state, waiting.rule, len(waiting.choices)) == ("waiting", "approval", 2)
    # The same dialog, answered, still on screen above a newer turn and input box: history.
    answered = [
        *CLAUDE_DIALOG,
        "  ⎿  Done",
        "✻ Churned for 1s",
        "─" * 40,
        "❯",
        "─" * 40,
        "  status",
    ]
    assert (classify(answered, claude).state, classify(answered, claude).rule) == (
        "idle",
        "input-box",
    )
    # A dialog drawn below the input box is the present.
    assert classify(["❯ hello", "● hi", "❯", *CLAUDE_DIALOG[2:]], claude).state == "waiting"
    # A busy line between the input box and the prompt before it: busy, whatever is above.
    busy = [*answered[:-3], "❯ hang here", "✽ Noodling… (59s)", "  ⎿  Tip: x", "❯", "  status"]
    assert (classify(busy, claude).state, classify(busy, claude).rule) == ("busy", "spinner-line")


def test_a_limit_reads_as_the_end_of_its_turn_only() -> None:
    codex = AI_KINDS["codex"].screen
    assert codex is not None
    limited = ["› limit now", "■ exceeded retry limit, last status: 429 Too Many Requests", "› Ask"]
    v = classify(limited, codex)
    assert (v.state, v.rule) == ("idle", "rate-limit") and "429" in v.detail
    later = [*limited[:-1], "› hello", "• Answer to: hello", "  Worked for 1s", "› Ask"]
    assert classify(later, codex).rule == "input-box"
    # An answer that speaks of rate limits is no limit.
    answer = ["› explain", "• The API has a rate limit of 5 requests.", "  So we batch.", "  Done."]
    assert classify([*answer, "  Worked for 4s", "› Ask"], codex).rule == "input-box"


def test_sign_in_and_api_key_screens_wait_and_the_key_is_never_typed() -> None:
    from overseer.agents.answers import Refused, check_answer
    from overseer.state.models import AgentState

    here = Path(__file__).resolve().parents[1] / "fakes" / "screens"
    for name in ("codex-0.171.0-api-key-entry.waiting.ansi", "gemini-0.61.0-api-key.waiting.ansi"):
        v = verdict_of(here / name)
        assert (v.state, v.rule) == ("waiting", "api-key"), name
        with pytest.raises(Refused, match="asks for a secret"):
            check_answer("ai", AgentState.WAITING, v.detail, None)
    for name in (
        "codex-0.171.0-signin-menu.waiting.ansi",
        "codex-0.171.0-signin-another-way.waiting.ansi",
    ):
        v = verdict_of(here / name)
        assert (v.state, v.rule) == ("waiting", "sign-in") and len(v.choices) >= 2, name
        check_answer("ai", AgentState.WAITING, v.detail, None)  # a menu choice: no secret


def test_an_answered_aider_question_is_history_and_codex_hook_review_waits() -> None:
    aider = AI_KINDS["aider"].screen
    assert aider is not None
    asked = ["> fix it", "touch x", "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: "]
    assert classify(asked, aider).rule == "yes-no"
    answered = [*asked[:-1], asked[-1] + "y", "Running touch x", "Editing foo.py"]
    assert classify(answered, aider).state == UNKNOWN  # working (busy when it keeps changing)
    codex = AI_KINDS["codex"].screen
    assert codex is not None
    review = [
        "  5 hooks need review before they can run",
        "  t trust all · enter review · esc close",
    ]
    assert (classify(review, codex).state, classify(review, codex).rule) == (
        "waiting",
        "hooks-review",
    )


PIECES = [
    "› ",
    "> ",
    "❯ ",
    "│ > ",
    "• Working (3s • esc to interrupt)",
    "✽ Noodling… (5s)",
    "  └ Tip: x",
    "  ⎿  Tip: y",
    "⠼ Thinking... (esc to cancel, 2s)",
    "Do you want to proceed?",
    "❯ 1. Yes",
    "  2. No",
    "> 1. Sign in with ChatGPT",
    "Rate limit reached",
    "Retrying in 2.0 seconds...",
    "Enter Gemini API Key",
    "Pane is dead (status 0)",
    "hello",
    "",
    "─" * 30,
]


@given(
    st.lists(st.sampled_from(PIECES), max_size=40),
    st.sampled_from(["codex", "gemini", "claude", "aider"]),
)
@settings(max_examples=300, deadline=None)
def test_any_mix_of_screen_elements_gets_a_verdict_with_its_rule(
    picks: list[str], kind: str
) -> None:
    rules = AI_KINDS[kind].screen
    assert rules is not None
    v = classify(picks, rules)
    assert v.state in ("idle", "busy", "waiting", "exited", "unknown") and v.rule
    if v.line is not None and v.rule != "numbered-menu":  # a menu's detail: its question
        assert picks[v.line].strip() and v.detail in " ".join(picks[v.line].split())
    progress_signature(picks, rules)
