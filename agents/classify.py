"""Read an interactive agent's state from its screen: pure rules, each with a name.

A verdict says which state the screen shows (idle, busy, waiting, exited or unknown), which
rule decided it and the line it rests on. Rules look at the bottom of the screen (where the
CLIs keep their input box, status line and dialogs); the first rule that matches wins, and
dialogs are checked before busy lines before input boxes, because the real CLIs keep their
input box on screen while they work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

IDLE, BUSY, WAITING, EXITED, UNKNOWN = "idle", "busy", "waiting", "exited", "unknown"

# A numbered menu: the selected choice carries a marker (>, ›, ❯, ●, ▶), the others do not.
MENU_SELECTED = re.compile(r"^[\s│|┃]*(?:›|>|❯|●|▶|→)\s*(\d{1,2})[.)]\s+(\S.*?)[\s│|┃]*$")
MENU_OTHER = re.compile(r"^[\s│|┃]*(\d{1,2})[.)]\s+(\S.*?)[\s│|┃]*$")
SPINNER = re.compile(r"[⠁-⣿◐◓◑◒◴◷◶◵✢✳✶✻✽✺·•◦●○∙⏺*]")
COUNTER = re.compile(r"\d+(?:\.\d+)?\s*(?:ms|s|m|h)\b|\d+/\d+")
BOX = re.compile(r"^[\s│|┃╭╮╰╯─━]*$")


@dataclass(frozen=True)
class Rule:
    """One screen pattern: when it matches, the agent is in `state`."""

    name: str
    state: str
    pattern: re.Pattern[str]
    where: str = "bottom"  # bottom: the last `depth` non-blank lines; last: the cursor's line


@dataclass(frozen=True)
class Verdict:
    """What a screen shows and why."""

    state: str
    rule: str
    detail: str = ""
    choices: tuple[str, ...] = ()
    line: int | None = None  # screen row of the deciding line

    def to_json(self) -> dict[str, object]:
        """A plain dict for --json output."""
        return {
            "state": self.state,
            "rule": self.rule,
            "detail": self.detail,
            "choices": list(self.choices),
            "line": self.line,
        }


@dataclass(frozen=True)
class ScreenRules:
    """Everything a classifier needs for one kind of agent."""

    kind: str
    rules: tuple[Rule, ...]
    depth: int = 18  # how many non-blank lines from the bottom the rules look at
    menus: bool = True  # numbered menus with a selection marker mean waiting
    version: re.Pattern[str] | None = None
    tested_versions: tuple[str, ...] = ()
    source: str = ""  # where the patterns come from (README table)
    notes: dict[str, str] = field(default_factory=dict)


def _bottom(lines: Sequence[str], depth: int) -> list[tuple[int, str]]:
    rows = [(i, line) for i, line in enumerate(lines) if line.strip() and not BOX.match(line)]
    return rows[-depth:]


def find_menu(rows: list[tuple[int, str]]) -> tuple[int, str, tuple[str, ...]] | None:
    """A numbered menu with a selected choice: (row, question, choices)."""
    for k, (row, line) in enumerate(rows):
        if not MENU_SELECTED.match(line):
            continue
        start = k
        while start > 0 and (
            MENU_OTHER.match(rows[start - 1][1]) or _indented_note(rows[start - 1][1])
        ):
            start -= 1
        end = k
        while end + 1 < len(rows) and (
            MENU_OTHER.match(rows[end + 1][1]) or _indented_note(rows[end + 1][1])
        ):
            end += 1
        choices = tuple(
            _clean(line)
            for _, line in rows[start : end + 1]
            if MENU_SELECTED.match(line) or MENU_OTHER.match(line)
        )
        if len(choices) < 2:
            continue
        question = ""
        if start > 0:
            question = _clean(rows[start - 1][1])
        return row, question, choices
    return None


def choice_parts(choice: str) -> tuple[str, str]:
    """(number, text) of one menu choice as a verdict lists it ("› 1. Yes" -> ("1", "Yes"))."""
    m = MENU_SELECTED.match(choice) or MENU_OTHER.match(choice)
    if m is None:
        return "", choice.strip()
    return m.group(1), m.group(2).strip()


def _indented_note(line: str) -> bool:
    # A choice's description under it ("     Usage included with Plus ...").
    return line.startswith("     ") and not MENU_OTHER.match(line) and not MENU_SELECTED.match(line)


def _clean(line: str) -> str:
    return " ".join(line.strip(" │|┃").split())


def classify(lines: Sequence[str], rules: ScreenRules) -> Verdict:
    """The state a screen shows, by the first rule that matches."""
    rows = _bottom(lines, rules.depth)
    if not rows:
        return Verdict(UNKNOWN, "blank-screen", "nothing on screen")
    if rules.version is not None and rules.tested_versions:
        for line in lines:
            m = rules.version.search(line)
            if m and not any(m.group(1).startswith(v) for v in rules.tested_versions):
                return Verdict(
                    UNKNOWN,
                    "untested-version",
                    f"{rules.kind} {m.group(1)} is not a tested version "
                    f"(tested: {', '.join(rules.tested_versions)}); states are not trusted",
                )
    last_row, last = rows[-1]
    menu = find_menu(rows) if rules.menus else None
    choices = menu[2] if menu else ()
    for rule in rules.rules:
        if rule.state != WAITING:
            continue
        for row, line in reversed(rows) if rule.where == "bottom" else [(last_row, last)]:
            if rule.pattern.search(line):
                return Verdict(WAITING, rule.name, _clean(line), choices, row)
    if menu is not None:
        row, question, choices = menu
        return Verdict(WAITING, "numbered-menu", question or choices[0], choices, row)
    for state in (BUSY, IDLE, EXITED):
        for rule in rules.rules:
            if rule.state != state:
                continue
            candidates = reversed(rows) if rule.where == "bottom" else [(last_row, last)]
            for row, line in candidates:
                if rule.pattern.search(line):
                    return Verdict(state, rule.name, _clean(line), line=row)
    return Verdict(UNKNOWN, "no-rule-matched", _clean(last))


def progress_signature(lines: Sequence[str], rules: ScreenRules) -> str:
    """The screen without what changes while nothing progresses (spinners, counters, busy line).

    Two screens with the same signature show the same work: a busy agent whose signature
    stays the same for stall_timeout is stalled even though its spinner still turns.
    """
    busy = [r.pattern for r in rules.rules if r.state == BUSY]
    out = []
    for line in lines:
        if not line.strip():
            continue
        if any(p.search(line) for p in busy):
            out.append("<busy>")
            continue
        out.append(COUNTER.sub("#", SPINNER.sub("", line)).strip())
    return "\n".join(out)


def compile_rules(
    kind: str, patterns: dict[str, Sequence[str]], source: str = "config"
) -> ScreenRules:
    """Rules from `busy:`, `idle:` and `waiting:` regex lists (the `custom` kind)."""
    rules: list[Rule] = []
    for state in (WAITING, BUSY, IDLE):
        for n, rx in enumerate(patterns.get(state, ())):
            rules.append(Rule(f"{state}-{n + 1}", state, re.compile(rx)))
    return ScreenRules(kind, tuple(rules), menus=False, source=source)
