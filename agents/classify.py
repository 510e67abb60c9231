"""Read an interactive agent's state from its screen: pure rules, each with a name.

A verdict says which state the screen shows (idle, busy, waiting, exited or unknown), which
rule decided it and the line it rests on. Rules look at the bottom of the screen (where the
CLIs keep their input box, status line and dialogs) and the element nearest the bottom
decides: a dialog answered long ago but still in the scrollback above a newer input box is
history. The real CLIs keep their input box on screen while they work, with the busy line
just above it, so an input box reads busy when a busy line sits between it and the prompt
before it (the turn it belongs to), and idle otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

IDLE, BUSY, WAITING, EXITED, UNKNOWN = "idle", "busy", "waiting", "exited", "unknown"

# A numbered menu: the selected choice carries a marker (>, ›, ❯, ●, ▶), the others do not.
MENU_SELECTED = re.compile(r"^[\s│|┃]*(?:›|>|❯|●|▶|→)\s*(\d{1,2})[.)]\s+(\S.*?)[\s│|┃]*$")
MENU_OTHER = re.compile(r"^[\s│|┃]*(\d{1,2})[.)]\s+(\S.*?)[\s│|┃]*$")
SPINNER = re.compile(r"[⠁-⣿◐◓◑◒◴◷◶◵✢✳✶✻✽✺·•◦●○∙⏺*]")
COUNTER = re.compile(r"\d+(?:\.\d+)?\s*(?:ms|s|m|h)\b|\d+/\d+")
# A status line hung under the line above it: Codex "└ Tip: ...", Claude "⎿  Tip: ...".
ATTACHED = re.compile(r"^\s*[└⎿]\s")
SEEN_LINES = 4096  # lines whose matching rules are remembered (per kind)
BOX = re.compile(r"^[\s│|┃╭╮╰╯─━]*$")


@dataclass(frozen=True)
class Rule:
    """One screen pattern: when it matches, the agent is in `state`."""

    name: str
    state: str
    pattern: re.Pattern[str]
    where: str = "bottom"  # bottom: the last `depth` non-blank lines; last: the cursor's line
    box: bool = False  # an input box the CLI keeps on screen while busy (busy line above it)
    limit: bool = False  # a rate or context limit: the turn ended without doing its work


@dataclass(frozen=True)
class Verdict:
    """What a screen shows and why."""

    state: str
    rule: str
    detail: str = ""
    choices: tuple[str, ...] = ()
    line: int | None = None  # screen row of the deciding line
    note: str = ""  # e.g. "untested version 0.171.0 (tested: 0.169)": read with the newest rules

    def to_json(self) -> dict[str, object]:
        """A plain dict for --json output."""
        return {
            "state": self.state,
            "rule": self.rule,
            "detail": self.detail,
            "choices": list(self.choices),
            "line": self.line,
            "note": self.note,
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

    @cached_property
    def seen(self) -> dict[str, tuple[Rule, ...]]:
        """The rules each line matched: a redrawn screen repeats most lines of the last one."""
        return {}

    def matching(self, line: str) -> tuple[Rule, ...]:
        """The rules whose pattern matches `line`, in the rules' order."""
        hit = self.seen.get(line)
        if hit is None:
            if len(self.seen) >= SEEN_LINES:
                self.seen.clear()
            hit = self.seen[line] = tuple(r for r in self.rules if r.pattern.search(line))
        return hit


def _bottom(lines: Sequence[str], depth: int) -> list[tuple[int, str]]:
    rows = [(i, line) for i, line in enumerate(lines) if line.strip() and not BOX.match(line)]
    return rows[-depth:]


def _menu(rows: list[tuple[int, str]]) -> tuple[int, int, str, tuple[str, ...]] | None:
    """The lowest numbered menu with a selected choice: (first row, last row, question, choices)."""
    for k in reversed(range(len(rows))):
        if not MENU_SELECTED.match(rows[k][1]):
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
        question = _clean(rows[start - 1][1]) if start > 0 else ""
        return rows[start][0], rows[end][0], question, choices
    return None


def find_menu(rows: list[tuple[int, str]]) -> tuple[int, str, tuple[str, ...]] | None:
    """A numbered menu with a selected choice: (row, question, choices)."""
    menu = _menu(rows)
    return None if menu is None else (menu[0], menu[2], menu[3])


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


def version_note(lines: Sequence[str], rules: ScreenRules) -> tuple[str, str] | None:
    """(version, note) when the screen names the CLI's version; the note is empty for a
    tested version, else "untested version X (tested: Y)"."""
    if rules.version is None:
        return None
    for line in lines:
        m = rules.version.search(line)
        if m:
            return m.group(1), untested_note(m.group(1), rules)
    return None


def untested_note(version: str, rules: ScreenRules) -> str:
    """'' for a version the rules were tested with, else "untested version X (tested: Y)"."""
    tested = rules.tested_versions
    if not tested or any(version == v or version.startswith(v + ".") for v in tested):
        return ""
    return f"untested version {version} (tested: {', '.join(tested)})"


LIMIT_TAIL = 3  # a limit message counts among this many last lines of its turn
Mark = tuple[int, str, Rule]  # (screen row, line, the first rule that matches it)


def classify(lines: Sequence[str], rules: ScreenRules) -> Verdict:
    """The state a screen shows: the element nearest the bottom decides."""
    rows = _bottom(lines, rules.depth)
    if not rows:
        return Verdict(UNKNOWN, "blank-screen", "nothing on screen")
    found = version_note(lines, rules)
    note = found[1] if found else ""
    menu = _menu(rows) if rules.menus else None
    in_menu = range(menu[0], menu[1] + 1) if menu else range(0)
    marks: list[Mark] = []
    for k, (row, line) in enumerate(rows):
        for rule in rules.matching(line):
            if rule.where == "last" and k != len(rows) - 1:
                continue
            if rule.box and row in in_menu:
                continue  # "› 1. Yes, proceed" is a menu's choice, not an input box
            marks.append((row, line, rule))
            break
    last_row = max(marks[-1][0] if marks else -1, menu[1] if menu else -1)
    if last_row < 0:
        return Verdict(UNKNOWN, "no-rule-matched", _clean(rows[-1][1]), note=note)
    lowest = next((m for m in reversed(marks) if m[0] == last_row), None)
    if lowest is None or lowest[2].state == WAITING:
        return _waiting(marks, menu, last_row, rules, note)
    row, line, rule = lowest
    if rule.state != IDLE:
        return Verdict(rule.state, rule.name, _clean(line), line=row, note=note)
    # An input box with only idle lines (footers, hints) below it is the present.
    for m in reversed(marks):
        if m[2].state != IDLE:
            break
        if m[2].box:
            row, line, rule = m
            break
    # The turn this box belongs to: the lines since the prompt before it (its echo).
    start = max((r for r, text in rows if r < row and rule in rules.matching(text)), default=-1)
    turn = [m for m in marks if start < m[0] < row]
    busy = [m for m in turn if m[2].state == BUSY]
    if rule.box and busy:
        b_row, b_line, b_rule = busy[-1]
        return Verdict(BUSY, b_rule.name, _clean(b_line), line=b_row, note=note)
    # A limit ends its turn: among the last lines before the box, not quoted in an answer.
    tail = [r for r, _ in rows if start < r < row][-LIMIT_TAIL:]
    limit = [m for m in turn if m[2].limit and m[0] in tail]
    if limit:
        l_row, l_line, l_rule = limit[-1]
        return Verdict(IDLE, l_rule.name, _clean(l_line), line=l_row, note=note)
    return Verdict(IDLE, rule.name, _clean(line), line=row, note=note)


def _waiting(
    marks: list[Mark],
    menu: tuple[int, int, str, tuple[str, ...]] | None,
    last_row: int,
    rules: ScreenRules,
    note: str,
) -> Verdict:
    """A dialog at the bottom, named by its first-listed rule among the lines since the last
    element that is no part of it, with the choices of its menu."""
    since = max((m[0] for m in marks if m[2].state != WAITING and m[0] < last_row), default=-1)
    block = [m for m in marks if m[0] > since]
    choices = menu[3] if menu and menu[1] > since else ()
    if block:
        rank = {id(rule): n for n, rule in enumerate(rules.rules)}
        row, line, rule = min(block, key=lambda m: (rank[id(m[2])], m[0]))
        return Verdict(WAITING, rule.name, _clean(line), choices, row, note=note)
    assert menu is not None
    return Verdict(WAITING, "numbered-menu", menu[2] or menu[3][0], menu[3], menu[0], note=note)


def progress_signature(lines: Sequence[str], rules: ScreenRules) -> str:
    """The screen without what changes while nothing progresses (spinners, counters, the busy
    line and the status lines attached under it).

    Two screens with the same signature show the same work: a busy agent whose signature
    stays the same for stall_timeout is stalled even though its spinner still turns, its
    "└ Connection failed" line comes and goes and its "└ Tip: ..." lines rotate.
    """
    out = []
    under_busy = False
    for line in lines:
        if not line.strip():
            continue
        if any(r.state == BUSY for r in rules.matching(line)):
            if not under_busy:
                out.append("<busy>")
            under_busy = True
            continue
        if under_busy and ATTACHED.match(line):
            continue
        under_busy = False
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
