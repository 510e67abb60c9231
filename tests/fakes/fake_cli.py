#!/usr/bin/env python3
"""A fake interactive AI coding CLI (Codex, Gemini CLI, Claude Code or aider look) for tests.

Run it in a terminal: `python3 fake_cli.py --style codex|gemini|claude|aider
[--banner-delay S] [--exit-on-start CODE]`. Standard library only, no network.

It draws screens close to the real CLIs (see ../../../shared/screens), takes typed and
bracketed-pasted input, and the submitted prompt scripts what happens:

  work N     busy N seconds (spinner + elapsed counter), then an answer line, then idle
  hang       busy for ever: only the spinner and the counter change (a stall)
  torn       like hang, but each spinner frame redraws the whole screen, erased first, in
             three writes with a pause between them (a frame split mid-way): the content
             never changes, yet a look in the middle of a redraw sees a half-drawn screen
  ask        busy 1 s, then a permission dialog; 1/y/Enter = yes, 2/n/Esc = no, arrows move
             the marker (gemini: 1 and 2 allow, 3/n/Esc decline); then busy 1 s and idle with
             "ran it" or "declined"
  ratelimit  busy 1 s, then a rate-limit message, then idle with the message on screen
  exit       exit with status 3
  (other)    like `work 1`

Esc (or Ctrl-C) while busy interrupts ("■ Interrupted"); Ctrl-C twice within 1.5 s exits 0.
Enter while busy is ignored: the text stays in the input box, unsubmitted.
`--fast-return MS` takes an Enter read within MS ms after typed or pasted text as a newline,
not a submission, as Gemini CLI 0.61 does when the terminal has no kitty keyboard protocol
(tmux has none): 30 ms after any key (FAST_RETURN_TIMEOUT), 40 ms after a paste.
`--decompose good|cycle|fail`: a prompt that says "Write the task list to: FILE" (what
`overseer decompose` asks) makes it write a good task list there, one with a cycle, or exit 3.

Signals, as the real CLIs give them (tests/fakes/SIGNALS-MEASURED.md): the codex style takes
`-c notify=[...]` and runs that program with the turn's JSON as its last argument when a turn
completes (the first turn also for a title thread), and, when CODEX_HOME is set, writes a rollout
$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl (session_meta, task_started, function_call for
`ask`, token_count, task_complete, turn_aborted on Esc, an error on `ratelimit`). The aider style
takes `--analytics-log FILE` (launched, message_send_starting, message_send with tokens and
cost, exit) and `--notifications --notifications-command CMD` (run through the shell when a
reply is over, idle or at its question).
Hooks, as the real CLIs run them (payload shapes of tests/fakes/signals/): the claude style
reads `--settings FILE`, the gemini style the file GEMINI_CLI_SYSTEM_SETTINGS_PATH names
(refused, with Gemini's warning on screen, unless it and its directories are root's and not
group/other-writable). Each hook command gets its JSON payload on stdin and is waited for.
Fired: SessionStart; UserPromptSubmit/BeforeAgent on submit; PreToolUse/BeforeTool and
PermissionRequest/Notification(ToolPermission) for `ask`, PostToolUse/AfterTool once allowed;
Stop/AfterAgent at a turn's end; StopFailure (claude) or AfterAgent "[no response text]"
(gemini) for `ratelimit`; SessionEnd on exit. Nothing on Esc, nor on a declined dialog.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import datetime
import json
import os
import re
import select
import signal
import stat
import subprocess
import sys
import termios
import time
import tomllib
import tty
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TICK = 0.2  # seconds between spinner frames while busy
TORN_PAUSE = 0.04  # `torn`: seconds between the writes of one frame
ESC_WAIT = 0.05  # a lone ESC is a key once no more bytes follow within this time
EXIT_HINT_SECONDS = 1.5  # a second Ctrl-C within this time exits
ASK_COMMAND = "ls"
# `overseer decompose` asks for a task list in a file (agents/decompose.py); --decompose picks
# what this fake writes there: a good list, a list with a cycle, or nothing (it exits 3).
TASK_LIST_FILE = re.compile(r"Write the task list to: (\S+)")
TASK_LISTS = {
    "good": """\
tasks:
  - {id: setup, run: "echo setup", estimate: 2}
  - {id: build, run: "echo build", depends_on: [setup], estimate: 4}
  - {id: docs, run: "echo docs", depends_on: [setup], estimate: 1}
  - {id: test, run: "echo test", depends_on: [build], estimate: 3}
""",
    "cycle": """\
tasks:
  - {id: build, run: "echo build", depends_on: [test]}
  - {id: test, run: "echo test", depends_on: [build]}
""",
}

# -- text geometry ------------------------------------------------------------------------

_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RESET = "\x1b[0m"
BOLD = "\x1b[1m"
DIM = "\x1b[2m"


def fg(n: int) -> str:
    """SGR for a 256-colour foreground."""
    return f"\x1b[38;5;{n}m"


def char_width(ch: str) -> int:
    """Columns a character takes in a terminal (wide East Asian 2, combining 0)."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _tokens(line: str) -> list[tuple[str, int]]:
    """Split a line into (token, columns): escape sequences take 0 columns."""
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(line):
        m = _ESCAPE.match(line, i)
        if m:
            out.append((m.group(), 0))
            i = m.end()
        else:
            out.append((line[i], char_width(line[i])))
            i += 1
    return out


def cols(line: str) -> int:
    """Display width of a line, escapes excluded."""
    return sum(w for _, w in _tokens(line))


def fit(line: str, width: int) -> str:
    """Cut a line to at most width columns, keeping its escapes."""
    out: list[str] = []
    used = 0
    for tok, w in _tokens(line):
        if used + w > width:
            break
        out.append(tok)
        used += w
    return "".join(out)


def wrap(line: str, width: int) -> list[str]:
    """Break a line into rows of at most width columns (by character, as a terminal would)."""
    rows: list[str] = []
    cur: list[str] = []
    used = 0
    for tok, w in _tokens(line):
        if used + w > width and used > 0:
            rows.append("".join(cur))
            cur, used = [], 0
        cur.append(tok)
        used += w
    rows.append("".join(cur))
    return rows


def pad(line: str, width: int) -> str:
    """Fit and pad a line to exactly width columns."""
    line = fit(line, width)
    return line + " " * (width - cols(line))


def spread(left: str, right: str, width: int) -> str:
    """Left text, then right text ending one column before the edge."""
    gap = width - 1 - cols(left) - cols(right)
    if gap < 1:
        return fit(left, width)
    return left + " " * gap + right


def box(lines: list[str], width: int, indent: int = 0, colour: str = "") -> list[str]:
    """Draw lines inside a rounded box width columns wide."""
    width = max(width, 8)
    inner = width - 4
    end = RESET if colour else ""
    lead = " " * indent
    rows = [f"{lead}{colour}╭{'─' * (width - 2)}╮{end}"]
    for line in lines:
        rows.append(f"{lead}{colour}│{end} {pad(line, inner)}{RESET} {colour}│{end}")
    rows.append(f"{lead}{colour}╰{'─' * (width - 2)}╯{end}")
    return rows


def secs_codex(s: int) -> str:
    """Elapsed time as Codex prints it: 3s, 1m 05s, 1h 02m 03s."""
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m {s % 60:02d}s"


def secs_gemini(s: int) -> str:
    """Elapsed time as Gemini CLI prints it: 3s, 1m 5s."""
    return f"{s}s" if s < 60 else f"{s // 60}m {s % 60}s"


# -- input --------------------------------------------------------------------------------


@dataclass
class Key:
    """One input event: kind is text, paste, enter, newline, backspace, esc, up, down,
    ctrl_c, ctrl_d or ctrl_u."""

    kind: str
    text: str = ""


PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
_CSI = re.compile(r"\x1b\[([0-9;?]*)([\x40-\x7e])")


class InputParser:
    """Turns terminal input (raw mode, bracketed paste) into Key events."""

    def __init__(self) -> None:
        self.buf = ""
        self.pasting = False
        self.paste = ""

    @property
    def pending(self) -> bool:
        """True when buffered bytes may still be the start of an escape sequence."""
        return bool(self.buf) and not self.pasting

    def feed(self, text: str) -> list[Key]:
        """Add input and return the complete events in it."""
        self.buf += text
        return self._parse(final=False)

    def flush(self) -> list[Key]:
        """Return what is buffered once no more input came: a lone ESC is the Esc key."""
        return self._parse(final=True)

    def _parse(self, final: bool) -> list[Key]:
        keys: list[Key] = []
        buf = self.buf
        i = 0
        while i < len(buf):
            if self.pasting:
                end = buf.find(PASTE_END, i)
                if end < 0:
                    # Keep a tail that could be the start of the end marker.
                    keep = 0
                    for n in range(1, len(PASTE_END)):
                        if buf.endswith(PASTE_END[:n]):
                            keep = n
                    self.paste += buf[i : len(buf) - keep]
                    i = len(buf) - keep
                    break
                self.paste += buf[i:end]
                keys.append(Key("paste", self.paste.replace("\r\n", "\n").replace("\r", "\n")))
                self.paste = ""
                self.pasting = False
                i = end + len(PASTE_END)
                continue
            ch = buf[i]
            if ch == "\x1b":
                rest = buf[i:]
                if rest.startswith(PASTE_START):
                    self.pasting = True
                    i += len(PASTE_START)
                    continue
                m = _CSI.match(buf, i)
                if m:
                    final_byte = m.group(2)
                    if final_byte in "AB":
                        keys.append(Key("up" if final_byte == "A" else "down"))
                    i = m.end()
                    continue
                if len(rest) >= 3 and rest[1] == "O":  # SS3 arrows (application cursor mode)
                    if rest[2] in "AB":
                        keys.append(Key("up" if rest[2] == "A" else "down"))
                    i += 3
                    continue
                if len(rest) == 1 or (len(rest) < 8 and rest[1] in "[O" and not final):
                    if not final:
                        break  # wait for the rest of the sequence, or for ESC_WAIT
                    keys.append(Key("esc"))
                    i += 1
                    continue
                if rest[1] == "\r":  # Alt+Enter inserts a newline
                    keys.append(Key("newline"))
                    i += 2
                    continue
                keys.append(Key("esc"))
                i += 1
                continue
            i += 1
            if ch == "\r":
                keys.append(Key("enter"))
            elif ch == "\n":
                keys.append(Key("newline"))
            elif ch in "\x7f\x08":
                keys.append(Key("backspace"))
            elif ch == "\x03":
                keys.append(Key("ctrl_c"))
            elif ch == "\x04":
                keys.append(Key("ctrl_d"))
            elif ch == "\x15":
                keys.append(Key("ctrl_u"))
            elif ch >= " ":
                if keys and keys[-1].kind == "text":
                    keys[-1].text += ch
                else:
                    keys.append(Key("text", ch))
        self.buf = buf[i:]
        return keys


# -- the model ------------------------------------------------------------------------------


@dataclass
class Dialog:
    """A permission dialog: its choices and which one is selected."""

    choices: list[tuple[str, bool]]  # (label, answers yes)
    selected: int = 0


@dataclass
class Model:
    """What the fake CLI is doing: everything a view needs to draw it."""

    state: str = "starting"  # starting | idle | busy | dialog
    transcript: list[str] = field(default_factory=list)
    text: str = ""  # the input box
    busy_since: float = 0.0
    busy_until: float | None = None  # None: for ever (hang)
    then: tuple[str, str] = ("answer", "")
    tick: int = 0
    dialog: Dialog | None = None
    exit_hint_until: float = 0.0
    torn: bool = False  # redraw every frame whole, in several writes (`torn`)

    def elapsed(self, now: float) -> int:
        """Whole seconds since the current task started."""
        return int(now - self.busy_since)

    def exit_hint(self, now: float) -> bool:
        """True while a second Ctrl-C would exit."""
        return now < self.exit_hint_until


# -- views ----------------------------------------------------------------------------------


class Screen:
    """Writes to the terminal; frames are diffed row by row so a tick rewrites only what changed."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.rows: list[str] = []
        self.size = (0, 0)

    def draw(self, rows: list[str], cursor: tuple[int, int], size: tuple[int, int]) -> None:
        """Show rows (exactly size[1] of them) and park the cursor at (row, col), 0-based."""
        out: list[str] = []
        if size != self.size:
            out.append("\x1b[0m\x1b[H\x1b[2J")
            self.rows = [""] * len(rows)
            self.size = size
        for r, row in enumerate(rows):
            if r >= len(self.rows) or self.rows[r] != row:
                out.append(f"\x1b[{r + 1};1H\x1b[0m\x1b[2K{row}{RESET}")
        self.rows = list(rows)
        out.append(f"\x1b[{cursor[0] + 1};{cursor[1] + 1}H")
        self.write("".join(out))

    def draw_torn(self, rows: list[str], cursor: tuple[int, int], size: tuple[int, int]) -> None:
        """Erase the screen and draw every row, in three writes with a pause between them."""
        out = ["\x1b[0m\x1b[H\x1b[2J"]
        out += [f"\x1b[{r + 1};1H{row}{RESET}" for r, row in enumerate(rows)]
        step = -(-len(out) // 3)
        for start in range(0, len(out), step):
            if start:
                time.sleep(TORN_PAUSE)
            self.write("".join(out[start : start + step]))
        self.write(f"\x1b[{cursor[0] + 1};{cursor[1] + 1}H")
        self.rows, self.size = list(rows), size


class FullScreenView:
    """Base of the redrawing styles: a transcript on top and a bottom block (status, input)."""

    anchored = False  # True: the bottom block sits at the bottom row (Codex)
    spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, cwd: str) -> None:
        self.cwd = cwd

    def banner(self) -> list[str]:
        """Transcript lines shown from the start."""
        raise NotImplementedError

    def echo(self, prompt: str) -> list[str]:
        """Transcript lines of a submitted prompt."""
        raise NotImplementedError

    def answer(self, text: str) -> list[str]:
        """Transcript lines of an answer."""
        raise NotImplementedError

    def ratelimit(self) -> list[str]:
        """Transcript lines of the rate-limit message."""
        raise NotImplementedError

    def interrupted(self) -> list[str]:
        """Transcript lines written when a task is interrupted."""
        return [f"{fg(9)}■{RESET} Interrupted", ""]

    def dialog_intro(self) -> list[str]:
        """Transcript lines written when the dialog opens."""
        return []

    def dialog_choices(self) -> list[tuple[str, bool]]:
        """The dialog's choices: (label, whether it answers yes)."""
        return [("Yes", True), ("No", False)]

    def bottom(self, m: Model, width: int, now: float) -> tuple[list[str], tuple[int, int] | None]:
        """The bottom block and the cursor inside it (row, col), if it has an input line."""
        raise NotImplementedError

    def input_rows(self, text: str, first: str, rest: str, width: int) -> list[str]:
        """Input text after a prompt marker, wrapped; rest indents continuation rows."""
        rows: list[str] = []
        for n, line in enumerate(text.split("\n")):
            lead = first if n == 0 else rest
            room = max(width - cols(lead) - 1, 4)
            for k, chunk in enumerate(wrap(line, room)):
                rows.append((lead if k == 0 else " " * cols(lead)) + chunk)
        return rows

    def frame(
        self, m: Model, width: int, height: int, now: float
    ) -> tuple[list[str], tuple[int, int]]:
        """Every row of the screen and the cursor position."""
        top: list[str] = []
        for line in m.transcript:
            top.extend(wrap(line, width))
        if m.state == "starting":
            bottom: list[str] = []
            cursor: tuple[int, int] | None = None
        else:
            bottom, cursor = self.bottom(m, width, now)
        bottom = [fit(row, width) for row in bottom]
        room = height - len(bottom)
        if room < 0:  # a tiny pane: keep the lower part of the bottom block
            bottom = bottom[-height:]
            cursor = None
            room = 0
        if len(top) > room:
            top = top[len(top) - room :]
        gap = room - len(top) if self.anchored else 0
        rows = top + [""] * gap + bottom
        base = len(top) + gap
        rows += [""] * (height - len(rows))
        if cursor is None:
            at = (min(base + len(bottom), height - 1), 0)
        else:
            at = (base + cursor[0], min(cursor[1], width - 1))
        return rows, at


class CodexView(FullScreenView):
    """OpenAI Codex 0.169.0: input box `› ...` at the bottom, `• Working (3s • esc to interrupt)`."""

    anchored = True
    spinner = "•◦"

    def banner(self) -> list[str]:
        return [
            "",
            f"  {BOLD}>_ OpenAI Codex{RESET} {DIM}(v0.169.0){RESET}",
            f"     {DIM}{self.cwd}{RESET}",
            "",
            "  To get started, describe a task or try one of these commands:",
            "",
            "  /init - create an AGENTS.md file with instructions for Codex",
            "  /status - show current session configuration",
            "  /permissions - choose what Codex is allowed to do",
            "  /model - choose what model and reasoning effort to use",
            "  /review - review any changes and find issues",
            "",
        ]

    def echo(self, prompt: str) -> list[str]:
        lines = prompt.split("\n")
        return [" ", f"{BOLD}›{RESET} {lines[0]}", *("  " + x for x in lines[1:]), " ", ""]

    def answer(self, text: str) -> list[str]:
        return [f"• {text}", ""]

    def ratelimit(self) -> list[str]:
        return [f"{fg(9)}■ You've hit your usage limit. Try again in 5 minutes.{RESET}", ""]

    def dialog_intro(self) -> list[str]:
        return []

    def dialog_choices(self) -> list[tuple[str, bool]]:
        return [
            ("Yes, proceed", True),
            ("No, and tell Codex what to do differently (esc)", False),
        ]

    def bottom(self, m: Model, width: int, now: float) -> tuple[list[str], tuple[int, int] | None]:
        if m.state == "dialog" and m.dialog is not None:
            rows: list[str] = [
                f"  {BOLD}Would you like to run the following command?{RESET}",
                "",
                f"  $ {ASK_COMMAND}",
                "",
            ]
            for n, (label, _) in enumerate(m.dialog.choices):
                mark = f"{fg(14)}›{RESET}" if n == m.dialog.selected else " "
                rows.append(f"{mark} {n + 1}. {label}")
            rows += ["", f"  {DIM}Press enter to confirm or esc to cancel{RESET}"]
            return rows, None
        rows = []
        if m.state == "busy":
            glyph = self.spinner[m.tick % len(self.spinner)]
            secs = secs_codex(m.elapsed(now))
            rows += [
                f"{BOLD}{glyph}{RESET} {BOLD}Working{RESET} {DIM}({secs} • esc to interrupt){RESET}",
                "",
            ]
        rows.append("")
        if m.text:
            rows += self.input_rows(m.text, f"{BOLD}›{RESET} ", "  ", width)
        else:
            rows.append(f"{BOLD}›{RESET} {DIM}Ask Codex to do anything{RESET}")
        cursor = (len(rows) - 1, cols(rows[-1]) if m.text else 2)
        rows.append("")
        rows.append(f"  {fg(223)}GPT-6.1-Sol default{RESET} · {fg(151)}{self.cwd}{RESET}")
        if m.exit_hint(now):
            rows.append(f"  {BOLD}ctrl + c{RESET} again to quit")
        else:
            rows.append(f"  {BOLD}←{RESET} for agents · {BOLD}?{RESET} for shortcuts")
        return rows, cursor


class GeminiView(FullScreenView):
    """Gemini CLI 0.61.0: ` >   Type your message`, ` ⠇ Thinking... (esc to cancel, 3s)`."""

    def banner(self) -> list[str]:
        return [
            "",
            f" {fg(75)}Gemini CLI{RESET} v0.61.0",
            "",
            "",
            "",
            "Tips for getting started:",
            "1. Create GEMINI.md files to customize your interactions",
            "2. /help for more information",
            "3. Ask coding questions, edit code or run commands",
            "4. Be specific for the best results",
            "",
        ]

    def echo(self, prompt: str) -> list[str]:
        lines = prompt.split("\n")
        return [f" {fg(13)}>{RESET} {lines[0]}", *("   " + x for x in lines[1:]), ""]

    def answer(self, text: str) -> list[str]:
        return [f"{fg(13)}✦{RESET} {text}", ""]

    def ratelimit(self) -> list[str]:
        return [
            f"{fg(9)}✕ [API Error: Quota exceeded for quota metric 'Generate Content API requests "
            f"per minute'. Please wait and try again later.]{RESET}",
            "",
        ]

    def dialog_choices(self) -> list[tuple[str, bool]]:
        return [("Allow once", True), ("Allow always", True), ("No", False)]

    def footer(self, width: int) -> list[str]:
        """The workspace / sandbox / model footer."""
        mid = max(width * 58 // 110, 26)

        def row(left: str, middle: str, right: str) -> str:
            text = left + " " * max(mid - cols(left), 1) + middle
            return spread(text, right, width)

        return [
            row(" workspace (/directory)", "sandbox", "/model"),
            row(f" {fg(151)}{self.cwd}{RESET}", f"{fg(9)}no sandbox{RESET}", "Auto"),
        ]

    def bottom(self, m: Model, width: int, now: float) -> tuple[list[str], tuple[int, int] | None]:
        rows = [""]
        if m.state == "dialog" and m.dialog is not None:
            body = [f"{fg(11)}?{RESET}  Shell {ASK_COMMAND}", "", ASK_COMMAND, ""]
            body += [f"Allow execution of: '{ASK_COMMAND}'?", ""]
            for n, (label, _) in enumerate(m.dialog.choices):
                mark = f"{fg(10)}●{RESET}" if n == m.dialog.selected else " "
                body.append(f"{mark} {n + 1}. {label}")
            rows += box(body, width - 2, indent=1, colour=fg(11))
            rows.append("")
            return rows + self.footer(width), None
        hint = f"{DIM}? for shortcuts{RESET}"
        if m.exit_hint(now):
            rows.append(f" {fg(11)}Press Ctrl+C again to exit.{RESET}")
        elif m.state == "busy":
            glyph = self.spinner[m.tick % len(self.spinner)]
            busy = f" {fg(13)}{glyph}{RESET} Thinking... {DIM}(esc to cancel, {secs_gemini(m.elapsed(now))}){RESET}"
            rows.append(spread(busy, hint, width))
        elif m.text:
            rows.append("")
        else:
            rows.append(spread("", hint, width))
        rows += [f"{DIM}{'─' * width}{RESET}", f" {DIM}Shift+Tab to accept edits{RESET}", ""]
        if m.text:
            rows += self.input_rows(m.text, f" {fg(13)}>{RESET} ", "   ", width)
            cursor = (len(rows) - 1, cols(rows[-1]))
        else:
            rows.append(f" {fg(13)}>{RESET}   {DIM}Type your message or @path/to/file{RESET}")
            cursor = (len(rows) - 1, 3)
        rows.append("")
        return rows + self.footer(width), cursor


class ClaudeView(FullScreenView):
    """Claude Code 2.1: a `│ > ` input box, `✻ Pondering… (3s · esc to interrupt)`."""

    spinner = "✢✳✶✻✽"
    colour = fg(174)

    def banner(self) -> list[str]:
        body = [
            f"{self.colour}✻{RESET} Welcome to {BOLD}Claude Code{RESET}!",
            "",
            f"  {DIM}/help for help, /status for your current setup{RESET}",
            "",
            f"  {DIM}cwd: {self.cwd}{RESET}",
        ]
        width = max(53, len(self.cwd) + 12)
        return [
            *box(body, width, colour=self.colour),
            "",
            " Tips for getting started:",
            "",
            " 1. Run /init to create a CLAUDE.md file with instructions for Claude",
            " 2. Use Claude to help with file analysis, editing, bash commands and git",
            " 3. Be as specific as you would with another engineer for the best results",
            "",
        ]

    def echo(self, prompt: str) -> list[str]:
        lines = prompt.split("\n")
        return [f"{DIM}>{RESET} {lines[0]}", *("  " + x for x in lines[1:]), ""]

    def answer(self, text: str) -> list[str]:
        return [f"⏺ {text}", ""]

    def ratelimit(self) -> list[str]:
        return [
            f"  ⎿  {fg(9)}Claude usage limit reached. Your limit will reset at 5pm (UTC).{RESET}",
            "",
        ]

    def dialog_intro(self) -> list[str]:
        return [f"⏺ {BOLD}Bash{RESET}({ASK_COMMAND})", ""]

    def dialog_choices(self) -> list[tuple[str, bool]]:
        return [("Yes", True), ("No, and tell Claude what to do differently (esc)", False)]

    def bottom(self, m: Model, width: int, now: float) -> tuple[list[str], tuple[int, int] | None]:
        if m.state == "dialog" and m.dialog is not None:
            body = [
                f"{BOLD}Bash command{RESET}",
                "",
                f"  {ASK_COMMAND}",
                f"  {DIM}List files in the current directory{RESET}",
                "",
            ]
            body.append("Do you want to proceed?")
            for n, (label, _) in enumerate(m.dialog.choices):
                mark = f"{fg(12)}❯{RESET}" if n == m.dialog.selected else " "
                body.append(f"{mark} {n + 1}. {label}")
            return box(body, width, colour=fg(12)), None
        rows: list[str] = []
        if m.state == "busy":
            glyph = self.spinner[m.tick % len(self.spinner)]
            rows += [
                f"{self.colour}{glyph} Pondering…{RESET} {DIM}({m.elapsed(now)}s · esc to interrupt){RESET}",
                "",
            ]
        inner = width - 4
        if m.text:
            lines = self.input_rows(m.text, "> ", "  ", inner)
        else:
            lines = [f'> {DIM}Try "write a test for <filepath>"{RESET}']
        rows += box(lines, width, colour=DIM)
        cursor = (len(rows) - 2, 2 + (cols(lines[-1]) if m.text else 2))
        if m.exit_hint(now):
            rows.append(f"  {DIM}Press Ctrl-C again to exit{RESET}")
        else:
            rows.append(f"  {DIM}? for shortcuts{RESET}")
        return rows, cursor


# -- the program -----------------------------------------------------------------------------


class Terminal:
    """The controlling terminal: raw mode, bracketed paste, size; restored on close."""

    def __init__(self) -> None:
        self.fd_in = sys.stdin.fileno()
        self.fd_out = sys.stdout.fileno()
        self.saved: list[Any] | None = None

    def open(self) -> None:
        """Enter raw mode and enable bracketed paste."""
        if os.isatty(self.fd_in):
            self.saved = termios.tcgetattr(self.fd_in)
            tty.setraw(self.fd_in)
        self.write("\x1b[?2004h")

    def close(self, leave_at: int | None = None) -> None:
        """Restore the terminal as it was; leave the cursor on row leave_at (0-based)."""
        tail = "\x1b[0m\x1b[?2004l\x1b[?25h"
        if leave_at is not None:
            rows = self.size()[1]
            tail += f"\x1b[{min(leave_at, rows - 1) + 1};1H"
            if leave_at >= rows:
                tail += "\r\n"  # the screen is full: scroll once so the shell starts below
        with contextlib.suppress(OSError):
            self.write(tail)
        if self.saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self.saved)
            self.saved = None

    def write(self, text: str) -> None:
        """Write all of text to the terminal."""
        data = text.encode("utf-8")
        while data:
            n = os.write(self.fd_out, data)
            data = data[n:]

    def size(self) -> tuple[int, int]:
        """(columns, rows), at least 20x6."""
        try:
            c, r = os.get_terminal_size(self.fd_out)
        except OSError:
            c, r = 80, 24
        return max(c, 20), max(r, 6)


class Exit(Exception):
    """Leave the main loop with an exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


HOOK_NAMES = {
    "claude": {
        "start": "SessionStart",
        "prompt": "UserPromptSubmit",
        "tool": "PreToolUse",
        "ask": "PermissionRequest",
        "tool-done": "PostToolUse",
        "stop": "Stop",
        "fail": "StopFailure",
        "end": "SessionEnd",
    },
    "gemini": {
        "start": "SessionStart",
        "prompt": "BeforeAgent",
        "tool": "BeforeTool",
        "ask": "Notification",
        "tool-done": "AfterTool",
        "stop": "AfterAgent",
        "fail": "AfterAgent",
        "end": "SessionEnd",
    },
}


def insecure(path: str) -> str | None:
    """Gemini's check of a system settings file: root's, not group/other-writable, all the way."""
    place = os.path.abspath(path)
    while True:
        st = os.stat(place)
        if st.st_uid != 0:
            return f"'{place}' is not owned by root (uid 0). Current uid: {os.getuid()}"
        if stat.S_IMODE(st.st_mode) & 0o022:
            return (
                f"Parent directory '{place}' is insecure: Directory '{place}' is writable by "
                f"group or others (mode: {oct(st.st_mode)[2:]})"
            )
        if place == "/":
            return None
        place = os.path.dirname(place)


class Hooks:
    """The hook commands of a settings file, run as the CLI runs them."""

    def __init__(self, style: str, settings: str | None) -> None:
        self.style = style
        self.names = HOOK_NAMES.get(style, {})
        self.commands: dict[str, list[str]] = {}
        self.warning = ""
        self.session = f"fake-{os.getpid()}"
        if not settings or not self.names:
            return
        if style == "gemini":
            why = insecure(settings)
            if why is not None:
                self.warning = (
                    f"⚠  Security Warning: Skipping system settings file '{settings}': {why}"
                )
                return
        with open(settings, encoding="utf-8") as fh:
            data = json.load(fh)
        for event, groups in (data.get("hooks") or {}).items():
            for group in groups:
                for hook in group.get("hooks", []):
                    if hook.get("type") == "command":
                        self.commands.setdefault(event, []).append(hook["command"])

    def fire(self, what: str, **extra: Any) -> None:
        """Run every command hooked on the event `what` stands for, payload on stdin."""
        event = self.names.get(what)
        if event is None or event not in self.commands:
            return
        payload = {
            "session_id": self.session,
            "transcript_path": os.path.join(os.getcwd(), f".fake-{self.session}.jsonl"),
            "cwd": os.getcwd(),
            "hook_event_name": event,
            **extra,
        }
        if self.style == "gemini":
            payload["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        for command in self.commands[event]:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    ["/bin/sh", "-c", command],
                    input=json.dumps(payload),
                    text=True,
                    stdout=subprocess.DEVNULL,
                    timeout=10,
                )

    def tool(self, what: str, **extra: Any) -> None:
        """A tool hook of the shell command the `ask` prompt runs."""
        name = "Bash" if self.style == "claude" else "run_shell_command"
        args = {"command": ASK_COMMAND, "description": f"Run {ASK_COMMAND}"}
        self.fire(what, tool_name=name, tool_input=args, **extra)

    def ask(self) -> None:
        """The permission event as the dialog is drawn."""
        if self.style == "claude":
            self.tool("ask")
        else:
            self.fire(
                "ask",
                notification_type="ToolPermission",
                message="Tool Confirm Shell Command requires execution",
                details={"type": "exec", "title": "Confirm Shell Command", "command": ASK_COMMAND},
            )

    def stop(self, prompt: str, said: str) -> None:
        """The turn's end."""
        if self.style == "claude":
            self.fire("stop", last_assistant_message=said, stop_hook_active=False)
        else:
            self.fire("stop", prompt=prompt, prompt_response=said, stop_hook_active=False)

    def fail(self, prompt: str) -> None:
        """A turn that failed on a rate limit."""
        if self.style == "claude":
            said = "API Error: Request rejected (429) · Rate limit reached for requests"
            self.fire("fail", error="rate_limit", last_assistant_message=said)
        else:
            self.fire("fail", prompt=prompt, prompt_response="[no response text]")


class App:
    """The event loop: input, timers and signals drive the model; the view redraws it."""

    def __init__(
        self,
        style: str,
        term: Terminal,
        banner_delay: float,
        signals: Signals | None = None,
        settings: str | None = None,
        fast_return: float | None = None,
        decompose: str | None = None,
    ) -> None:
        self.style = style
        self.fast_return = fast_return  # seconds (see --fast-return)
        self.decompose = decompose  # see --decompose
        self.inserted_at = float("-inf")  # when typed or pasted text was last read
        self.sig = signals or Signals()  # codex and aider: notify, rollout, analytics
        self.hooks = Hooks(style, settings)  # claude and gemini: settings-file hooks
        self.prompt = ""
        self.term = term
        self.banner_delay = banner_delay
        self.m = Model()
        self.parser = InputParser()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.esc_deadline: float | None = None
        self.next_tick = 0.0
        cwd = os.getcwd()
        views: dict[str, type[FullScreenView]] = {
            "codex": CodexView,
            "gemini": GeminiView,
            "claude": ClaudeView,
        }
        self.view: FullScreenView | None = views[style](cwd) if style in views else None
        self.screen = Screen(term.write)
        self.aider = AiderLines(term, self.m) if style == "aider" else None

    # -- drawing

    def redraw(self, now: float) -> None:
        """Draw the current state (full-screen styles) or the prompt line (aider)."""
        if self.view is not None:
            w, h = self.term.size()
            rows, cursor = self.view.frame(self.m, w, h, now)
            if self.m.torn and self.m.state == "busy":
                if rows != self.screen.rows:
                    self.screen.draw_torn(rows, cursor, (w, h))
                return
            self.screen.draw(rows, cursor, (w, h))
        elif self.aider is not None:
            self.aider.refresh(now)

    def last_row(self) -> int | None:
        """The row below the last non-empty row of the last frame (where the shell continues)."""
        if self.view is None:
            return None
        rows = self.screen.rows
        return max((i for i, r in enumerate(rows) if _ESCAPE.sub("", r).strip()), default=-1) + 1

    def say(self, lines: list[str]) -> None:
        """Add lines to the transcript."""
        self.m.transcript.extend(lines)
        if self.aider is not None:
            self.aider.print(lines)

    # -- state changes

    def start(self) -> None:
        """Show the banner, wait banner_delay, then the idle screen."""
        if self.aider is not None:
            self.aider.banner()
        else:
            assert self.view is not None
            self.m.transcript = self.view.banner()
            if self.hooks.warning:
                self.m.transcript += [self.hooks.warning, ""]
        self.sig.started()
        self.hooks.fire("start", source="startup", model="fake-model")
        now = time.monotonic()
        self.redraw(now)
        if self.banner_delay > 0:
            self.m.state = "starting"
            self.busy(self.banner_delay, ("start", ""), now, show=False)
        else:
            self.to_idle(now)

    def to_idle(self, now: float) -> None:
        """Wait at the empty input box."""
        self.m.state = "idle"
        self.m.dialog = None
        self.m.torn = False
        if self.aider is not None:
            self.aider.prompt()

    def busy(
        self, seconds: float | None, then: tuple[str, str], now: float, show: bool = True
    ) -> None:
        """Work for seconds (None: for ever), then do what `then` says."""
        if show:
            self.m.state = "busy"
        self.m.busy_since = now
        self.m.busy_until = None if seconds is None else now + seconds
        self.m.then = then
        self.m.tick = 0
        self.next_tick = now + TICK
        if show and self.aider is not None:
            self.aider.spinner_start()

    def finish_busy(self, now: float) -> None:
        """End the current work: answer, show the rate limit, or ask."""
        kind, text = self.m.then
        if self.aider is not None and self.m.state == "busy":
            self.aider.spinner_clear()
        if kind == "start":
            self.to_idle(now)
        elif kind == "answer":
            self.say(self.answer_lines(text))
            self.sig.reply(text)
            self.to_idle(now)
            self.sig.waiting()
            if text != "declined":  # a declined dialog ends the turn without a hook
                self.redraw(now)  # the answer is on screen before the hook runs
                self.hooks.stop(self.prompt, text)
        elif kind == "ratelimit":
            self.say(self.ratelimit_lines())
            self.sig.failed("exceeded retry limit, last status: 429 Too Many Requests")
            self.to_idle(now)
            self.sig.waiting()
            self.redraw(now)
            self.hooks.fail(self.prompt)
        elif kind == "dialog":
            self.sig.asks(ASK_COMMAND)
            self.hooks.tool("tool")
            self.open_dialog(now)
            self.sig.waiting()

    def answer_lines(self, text: str) -> list[str]:
        """Transcript lines of an answer in this style."""
        if self.view is not None:
            return self.view.answer(text)
        return [text, ""]

    def ratelimit_lines(self) -> list[str]:
        """Transcript lines of the rate-limit message in this style."""
        if self.view is not None:
            return self.view.ratelimit()
        return ["The API provider has rate limited you. Try again later or check your quotas.", ""]

    def open_dialog(self, now: float) -> None:
        """Show the permission dialog and wait for a person."""
        if self.view is not None:
            self.say(self.view.dialog_intro())
            self.m.dialog = Dialog(self.view.dialog_choices())
        else:
            self.m.dialog = Dialog([("Yes", True), ("No", False)])
        self.m.state = "dialog"
        if self.aider is not None:
            self.aider.ask()
        self.hooks.ask()

    def answer_dialog(self, yes: bool, now: float) -> None:
        """Close the dialog and carry on for a second."""
        if self.aider is not None:
            self.aider.newline()
        self.m.dialog = None
        self.sig.ran()
        self.busy(1.0, ("answer", "ran it" if yes else "declined"), now)
        if yes:
            self.hooks.tool("tool-done", tool_response={"stdout": "", "stderr": ""})

    def submit(self, now: float) -> None:
        """Send the input box: its first word decides what happens."""
        prompt = self.m.text.strip()
        self.m.text = ""
        if self.aider is not None:
            self.aider.submitted()
        if not prompt:
            if self.aider is not None:
                self.aider.prompt()
            return
        if self.view is not None:
            self.say(self.view.echo(prompt))
        words = prompt.split()
        word = words[0].lower()
        if word == "exit":
            raise Exit(3)
        self.sig.prompt(prompt)
        self.prompt = prompt
        self.hooks.fire("prompt", prompt=prompt)
        asked = TASK_LIST_FILE.search(prompt)
        if asked and self.decompose:
            if self.decompose == "fail":
                raise Exit(3)
            with open(asked.group(1), "w", encoding="utf-8") as f:
                f.write(TASK_LISTS[self.decompose])
            self.busy(0.5, ("answer", f"Wrote the task list to {asked.group(1)}."), now)
            return
        if word in ("hang", "torn"):
            self.m.torn = word == "torn"
            self.busy(None, ("answer", ""), now)
        elif word == "ask":
            self.busy(1.0, ("dialog", ""), now)
        elif word == "ratelimit":
            self.busy(1.0, ("ratelimit", ""), now)
        else:
            seconds = 1.0
            if word == "work" and len(words) > 1:
                try:
                    seconds = max(float(words[1]), 0.0)
                except ValueError:
                    seconds = 1.0
            self.busy(seconds, ("answer", f"Done after {seconds:g}s."), now)

    def interrupt(self, now: float) -> None:
        """Stop the current work and go back to idle."""
        if self.aider is not None:
            self.aider.spinner_clear()
        lines = self.view.interrupted() if self.view is not None else ["■ Interrupted", ""]
        self.sig.aborted()
        self.say(lines)
        self.to_idle(now)

    def ctrl_c(self, now: float) -> None:
        """Interrupt, decline or clear; a second Ctrl-C within the hint time exits."""
        if self.m.exit_hint(now):
            raise Exit(0)
        self.m.exit_hint_until = now + EXIT_HINT_SECONDS
        if self.m.state == "busy":
            self.interrupt(now)
        elif self.m.state == "dialog":
            self.answer_dialog(False, now)
        else:
            self.m.text = ""
            if self.aider is not None:
                self.aider.print_hint()

    # -- input

    def key(self, k: Key, now: float) -> None:
        """Apply one input event."""
        m = self.m
        if self.fast_return is not None:
            fast = k.kind == "enter" and now - self.inserted_at <= self.fast_return
            if fast:
                k = Key("newline")  # taken as part of what was just typed or pasted
            self.inserted_at = now if fast or k.kind in ("text", "paste") else float("-inf")
        if k.kind == "ctrl_c":
            self.ctrl_c(now)
            return
        if m.state == "dialog" and m.dialog is not None:
            if self.aider is None:
                self.dialog_key(k, m.dialog, now)
                return
            if k.kind == "enter":
                reply = m.text.strip().lower()
                m.text = ""
                if reply in ("", "1", "y", "yes", "d"):
                    self.answer_dialog(True, now)
                elif reply in ("2", "n", "no"):
                    self.answer_dialog(False, now)
                else:
                    self.aider.newline()
                    self.aider.ask()
                return
            if k.kind == "esc":
                m.text = ""
                self.answer_dialog(False, now)
                return
        if k.kind == "esc":
            if m.state == "busy":
                self.interrupt(now)
            return
        if k.kind == "enter":
            if m.state == "idle":
                self.submit(now)
            return  # busy: the text stays in the box, not submitted
        if k.kind in ("text", "paste"):
            m.text += k.text
        elif k.kind == "newline":
            m.text += "\n"
        elif k.kind == "backspace":
            m.text = m.text[:-1]
        elif k.kind == "ctrl_u":
            m.text = m.text.rsplit("\n", 1)[0] + "\n" if "\n" in m.text else ""
        elif k.kind == "ctrl_d" and not m.text and m.state == "idle":
            raise Exit(0)

    def dialog_key(self, k: Key, d: Dialog, now: float) -> None:
        """Apply one input event to the open dialog."""
        n = len(d.choices)
        if k.kind == "up":
            d.selected = (d.selected - 1) % n
        elif k.kind == "down":
            d.selected = (d.selected + 1) % n
        elif k.kind == "enter":
            self.answer_dialog(d.choices[d.selected][1], now)
        elif k.kind == "esc":
            self.answer_dialog(False, now)
        elif k.kind == "text":
            ch = k.text[0].lower()
            if ch.isdigit() and 1 <= int(ch) <= n:
                d.selected = int(ch) - 1
                self.answer_dialog(d.choices[d.selected][1], now)
            elif ch == "y":
                self.answer_dialog(True, now)
            elif ch == "n":
                self.answer_dialog(False, now)

    # -- loop

    def timeout(self, now: float) -> float | None:
        """Seconds select may block: None (for ever) unless a timer is due."""
        deadlines: list[float] = []
        if self.m.state in ("busy", "starting"):
            if self.m.state == "busy":
                deadlines.append(self.next_tick)
            if self.m.busy_until is not None:
                deadlines.append(self.m.busy_until)
        if self.esc_deadline is not None:
            deadlines.append(self.esc_deadline)
        if self.m.exit_hint_until > now:
            deadlines.append(self.m.exit_hint_until)
        if not deadlines:
            return None
        return max(min(deadlines) - now, 0.0)

    def timers(self, now: float) -> None:
        """Advance the spinner, end work that is due, expire the exit hint."""
        m = self.m
        if m.exit_hint_until and now >= m.exit_hint_until:
            m.exit_hint_until = 0.0
        if m.state == "starting" and m.busy_until is not None and now >= m.busy_until:
            self.to_idle(now)
            return
        if m.state != "busy":
            return
        if m.busy_until is not None and now >= m.busy_until:
            self.finish_busy(now)
            return
        while now >= self.next_tick:
            m.tick += 1
            self.next_tick += TICK

    def run(self) -> int:
        """Run until exit; return the exit status."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(wake_r, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGWINCH, lambda s, f: None)
        self.term.open()
        code = 0
        try:
            self.start()
            while True:
                now = time.monotonic()
                self.timers(now)
                self.redraw(now)
                fds = [wake_r]
                if self.m.state != "starting":
                    fds.append(self.term.fd_in)  # while starting, keys wait in the tty buffer
                ready, _, _ = select.select(fds, [], [], self.timeout(now))
                now = time.monotonic()
                if wake_r in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
                    self.screen.size = (0, 0)  # SIGWINCH: redraw everything at the new size
                if self.term.fd_in in ready:
                    data = os.read(self.term.fd_in, 65536)
                    if not data:
                        raise Exit(0)  # the terminal went away
                    for k in self.parser.feed(self.decoder.decode(data)):
                        self.key(k, now)
                    self.esc_deadline = now + ESC_WAIT if self.parser.pending else None
                elif self.esc_deadline is not None and now >= self.esc_deadline:
                    self.esc_deadline = None
                    for k in self.parser.flush():
                        self.key(k, now)
        except Exit as e:
            code = e.code
            self.hooks.fire("end", reason="exit")
        finally:
            self.sig.exited()
            signal.set_wakeup_fd(-1)
            self.term.close(self.last_row())
            if self.aider is not None:
                self.term.write("\r\n")
        return code


class AiderLines:
    """Aider 0.86 is a line REPL: header lines, a `> ` prompt, a spinner line while waiting."""

    frames = ["░" * n + "█" + "░" * (9 - n) for n in (*range(10), *range(8, 0, -1))]

    def __init__(self, term: Terminal, m: Model) -> None:
        self.term = term
        self.m = m
        self.prompt_rows = 0  # rows the prompt and its input take now (0: not shown)
        self.marker = "> "
        self.spinning = False
        self.shown = ""

    def rule(self) -> str:
        """A full-width horizontal rule."""
        return f"{DIM}{'─' * self.term.size()[0]}{RESET}"

    def print(self, lines: list[str]) -> None:
        """Print whole lines."""
        self.term.write("".join(f"\x1b[2K\r{line}\r\n" for line in lines))

    def banner(self) -> None:
        """Print the start-up header."""
        self.print(
            [
                self.rule(),
                "Aider v0.86.0",
                "Main model: gpt-4o with diff edit format",
                "Weak model: gpt-4o-mini",
                "Git repo: none",
                "Repo-map: disabled",
            ]
        )

    def prompt(self) -> None:
        """Print a rule and the `> ` prompt with the current input."""
        self.print([self.rule()])
        self.marker = f"{fg(10)}> {RESET}"
        self.prompt_rows = 0
        self.shown = ""
        self.draw_input()

    def ask(self) -> None:
        """Print the shell-command question and wait for a line."""
        self.print([ASK_COMMAND, ""])
        self.marker = f"{fg(12)}Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:{RESET} "
        self.prompt_rows = 0
        self.shown = ""
        self.draw_input()

    def draw_input(self) -> None:
        """Redraw the prompt and its (possibly multi-line) input in place."""
        width = self.term.size()[0]
        lines = self.m.text.split("\n")
        out = []
        if self.prompt_rows > 1:
            out.append(f"\x1b[{self.prompt_rows - 1}A")
        out.append("\r\x1b[J")
        rows = 0
        for n, line in enumerate(lines):
            text = (self.marker if n == 0 else "") + line
            rows += max(1, -(-cols(text) // width))
            out.append(text if n == 0 else "\r\n" + text)
        self.prompt_rows = rows
        self.shown = self.m.text
        self.term.write("".join(out))

    def submitted(self) -> None:
        """Move below the submitted input."""
        self.newline()

    def newline(self) -> None:
        """End the current line."""
        self.term.write("\r\n")
        self.prompt_rows = 0

    def print_hint(self) -> None:
        """Print the Ctrl-C exit hint and prompt again."""
        self.newline()
        self.print(["^C again to exit"])
        self.prompt()

    def spinner_start(self) -> None:
        """Start showing the spinner line."""
        self.spinning = True

    def spinner_clear(self) -> None:
        """Erase the spinner line."""
        if self.spinning:
            self.term.write("\r\x1b[2K")
        self.spinning = False

    def refresh(self, now: float) -> None:
        """Redraw the spinner line or the input after a change."""
        m = self.m
        if m.state == "busy" and self.spinning:
            frame = self.frames[m.tick % len(self.frames)]
            self.term.write(f"\r\x1b[2K{frame} Waiting for gpt-4o ({m.elapsed(now)}s)")
        elif m.state in ("idle", "dialog") and self.prompt_rows and m.text != self.shown:
            self.draw_input()


# -- signals: what the real CLIs write and run besides their screens ---------------------------


def iso(t: float) -> str:
    """A time as Codex writes it: 2026-12-01T14:40:54.089Z."""
    return (
        datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )


def append_line(path: str, record: dict[str, Any]) -> None:
    """Append one JSON line with one write, as the CLIs do."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


class Signals:
    """The signals of a style without any: every event is ignored."""

    def started(self) -> None:
        """The CLI is up."""

    def prompt(self, text: str) -> None:
        """A prompt was submitted."""

    def asks(self, command: str) -> None:
        """A tool call that needs a person's approval (the dialog opens)."""

    def ran(self) -> None:
        """The approved or declined tool call is over."""

    def reply(self, text: str) -> None:
        """The turn ended with an answer."""

    def failed(self, message: str) -> None:
        """The turn failed (a rate limit)."""

    def waiting(self) -> None:
        """The CLI waits for input after a reply (idle or at a question)."""

    def aborted(self) -> None:
        """The turn was interrupted."""

    def exited(self) -> None:
        """The CLI is leaving."""


class CodexSignals(Signals):
    """Codex 0.171: a rollout file below $CODEX_HOME/sessions made at the first prompt (only when
    CODEX_HOME is set), and the
    `-c notify=[...]` program run with the turn's JSON as its last argument at each completed
    turn (also for the title thread of the first turn); see signals/codex-0.171.0/."""

    version = "0.169.0"

    def __init__(self, notify: list[str] | None, cwd: str) -> None:
        self.notify = notify
        self.cwd = cwd
        self.began = time.time()
        self.thread = str(uuid.uuid4())
        self.turn = ""
        self.rollout: str | None = None
        self.prompts: list[str] = []
        self.tokens = [0, 0, 0]  # input, cached input, output: the session's running total
        self.children: list[subprocess.Popen[bytes]] = []

    def write(self, kind: str, payload: dict[str, Any]) -> None:
        """Append a rollout line; the file and its session_meta come with the first one."""
        home = os.environ.get("CODEX_HOME")
        if not home:
            return  # only into a CODEX_HOME a test chose: never the user's own ~/.codex
        if self.rollout is None:
            day = time.strftime("%Y/%m/%d", time.gmtime(self.began))
            stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(self.began))
            folder = os.path.join(home, "sessions", *day.split("/"))
            os.makedirs(folder, exist_ok=True)
            self.rollout = os.path.join(folder, f"rollout-{stamp}-{self.thread}.jsonl")
            meta = {
                "session_id": self.thread,
                "id": self.thread,
                "timestamp": iso(self.began),
                "cwd": self.cwd,
                "originator": "codex-tui",
                "cli_version": self.version,
                "source": "cli",
                "thread_source": "user",
                "model_provider": "fake",
            }
            append_line(
                self.rollout,
                {"timestamp": iso(time.time()), "type": "session_meta", "payload": meta},
            )
        append_line(self.rollout, {"timestamp": iso(time.time()), "type": kind, "payload": payload})

    def event(self, payload: dict[str, Any]) -> None:
        """An event_msg line."""
        self.write("event_msg", payload)

    def prompt(self, text: str) -> None:
        self.turn = str(uuid.uuid4())
        self.prompts.append(text)
        self.event({"type": "task_started", "turn_id": self.turn, "started_at": int(time.time())})
        self.write(
            "turn_context",
            {
                "turn_id": self.turn,
                "cwd": self.cwd,
                "approval_policy": "on-request",
                "model": "fake-model",
            },
        )
        self.write(
            "response_item",
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        )

    def asks(self, command: str) -> None:
        arguments = {
            "cmd": command,
            "sandbox_permissions": "require_escalated",
            "justification": "asked to",
        }
        self.write(
            "response_item",
            {
                "type": "function_call",
                "name": "exec_command",
                "arguments": json.dumps(arguments),
                "call_id": "call_1",
            },
        )

    def ran(self) -> None:
        self.write(
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": "Process exited with code 0",
            },
        )

    def count(self, prompt: str, answer: str) -> None:
        """A token_count line with the session's running total."""
        self.tokens[0] += 1000 + len(prompt)
        self.tokens[2] += 1 + len(answer) // 4
        usage = {
            "input_tokens": self.tokens[0],
            "cached_input_tokens": self.tokens[1],
            "output_tokens": self.tokens[2],
            "reasoning_output_tokens": 0,
            "total_tokens": self.tokens[0] + self.tokens[2],
        }
        self.event(
            {
                "type": "token_count",
                "info": {"total_token_usage": usage, "last_token_usage": usage},
                "rate_limits": None,
            }
        )

    def reply(self, text: str) -> None:
        self.count(self.prompts[-1], text)
        self.event({"type": "task_complete", "turn_id": self.turn, "last_agent_message": text})
        if len(self.prompts) == 1:  # the title thread Codex starts beside the first turn
            self.run_notify(
                str(uuid.uuid4()),
                [f"Generate a concise, single-line task title for: {text}"],
                "Title",
            )
        self.run_notify(self.thread, self.prompts, text)

    def failed(self, message: str) -> None:
        error = {
            "message": message,
            "codex_error_info": {"response_too_many_failed_attempts": {"http_status_code": 429}},
        }
        self.event(
            {
                "type": "task_complete",
                "turn_id": self.turn,
                "last_agent_message": None,
                "error": error,
            }
        )

    def aborted(self) -> None:
        self.event({"type": "turn_aborted", "turn_id": self.turn, "reason": "interrupted"})

    def run_notify(self, thread: str, prompts: list[str], answer: str) -> None:
        """Run the notify program, fire and forget, with the turn's JSON as its last argument."""
        self.children = [c for c in self.children if c.poll() is None]
        if not self.notify:
            return
        payload = {
            "type": "agent-turn-complete",
            "thread-id": thread,
            "turn-id": str(uuid.uuid4()),
            "cwd": self.cwd,
            "client": "codex-tui",
            "input-messages": prompts,
            "last-assistant-message": answer,
        }
        with contextlib.suppress(OSError):
            self.children.append(
                subprocess.Popen(
                    [*self.notify, json.dumps(payload)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )


class AiderSignals(Signals):
    """aider 0.86: `--analytics-log FILE` lines and the `--notifications-command` run through
    the shell when a reply is over (idle or at a question); see signals/aider-0.86.2/."""

    def __init__(self, log: str | None, command: str | None) -> None:
        self.log = log
        self.command = command
        self.total_cost = 0.0
        self.user = str(uuid.uuid4())
        self.sent = ""

    def event(self, name: str, **properties: Any) -> None:
        """An analytics line (aider's time is whole seconds)."""
        if self.log:
            record = {
                "event": name,
                "properties": properties,
                "user_id": self.user,
                "time": int(time.time()),
            }
            append_line(self.log, record)

    def started(self) -> None:
        self.event("launched")
        self.event("no-repo")
        self.event("cli session", main_model="gpt-4o", edit_format="diff")

    def prompt(self, text: str) -> None:
        self.sent = text
        self.event("message_send_starting")

    def reply(self, text: str) -> None:
        prompt_tokens, completion_tokens = 2000 + len(self.sent), 1 + len(text) // 4
        cost = round(prompt_tokens * 2.5e-6 + completion_tokens * 1e-5, 6)
        self.total_cost += cost
        self.event(
            "message_send",
            main_model="gpt-4o",
            edit_format="diff",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            cost=cost,
            total_cost=self.total_cost,
        )

    def asks(self, command: str) -> None:
        self.reply(f"{command}\nRun shell command?")  # the reply ends in aider's question

    def ran(self) -> None:
        self.event("message_send_starting")  # the command's outcome goes back to the model

    def waiting(self) -> None:
        if self.command:
            # As aider does: through the shell, waiting for it, the terminal as its stdin.
            with contextlib.suppress(OSError):
                subprocess.run(self.command, shell=True, capture_output=True, check=False)

    def exited(self) -> None:
        self.event("exit", reason="exit")


def config_value(settings: list[str], key: str) -> Any:
    """A `-c key=value` setting as Codex reads it (TOML, else the text itself)."""
    value: Any = None
    for setting in settings:
        name, _, raw = setting.partition("=")
        if name.strip() == key:
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
    return value


# -- entry point -------------------------------------------------------------------------------

_START_ERRORS = {
    "claude": [
        "Welcome to Claude Code v2.1.197",
        "",
        " Unable to connect to Anthropic services",
        "",
        " Failed to connect to api.anthropic.com: ENOTFOUND",
        "",
        " Please check your internet connection and network settings.",
    ],
    "codex": [
        "■ Unable to connect to OpenAI services: failed to lookup address information: "
        "Name does not resolve (api.openai.com)",
    ],
    "gemini": [
        " Gemini CLI v0.61.0",
        "",
        "Error: Unable to connect to Gemini API services "
        "(generativelanguage.googleapis.com: ENOTFOUND)",
    ],
    "aider": [
        "Aider v0.86.0",
        "litellm.APIConnectionError: Unable to connect to api.openai.com (ENOTFOUND)",
    ],
}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the fake CLI; return its exit status."""
    parser = argparse.ArgumentParser(description="A fake interactive AI coding CLI for tests.")
    parser.add_argument("--style", choices=["codex", "gemini", "claude", "aider"], required=True)
    parser.add_argument(
        "--banner-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="show only the banner for S seconds before the input box",
    )
    parser.add_argument("--settings", metavar="FILE", help="claude style: a settings file")
    parser.add_argument(
        "--fast-return",
        type=float,
        default=None,
        metavar="MS",
        help="an Enter within MS ms after typed or pasted text is a newline (as Gemini CLI)",
    )
    parser.add_argument(
        "--exit-on-start",
        type=int,
        default=None,
        metavar="CODE",
        help="print a connection error and exit with CODE",
    )
    # Signals, as the real CLIs take them (codex: -c notify=[...]; aider: the rest).
    parser.add_argument("-c", dest="config", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--notifications", action="store_true")
    parser.add_argument("--notifications-command", default=None, metavar="CMD")
    parser.add_argument("--analytics-log", default=None, metavar="FILE")
    parser.add_argument("--no-analytics", action="store_true")
    parser.add_argument(
        "--decompose",
        choices=["good", "cycle", "fail"],
        help="asked for a task list: write a good one, one with a cycle, or exit 3",
    )
    args = parser.parse_args(argv)
    if args.exit_on_start is not None:
        if args.banner_delay > 0:
            time.sleep(args.banner_delay)
        sys.stdout.write("\n".join(_START_ERRORS[args.style]) + "\n")
        sys.stdout.flush()
        return int(args.exit_on_start)

    def stop(signum: int, _frame: object) -> None:
        raise Exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    term = Terminal()
    signals: Signals | None = None
    if args.style == "codex":
        notify = config_value(args.config, "notify")
        if not (isinstance(notify, list) and all(isinstance(a, str) for a in notify)):
            notify = None
        signals = CodexSignals(notify, os.getcwd())
    elif args.style == "aider":
        command = args.notifications_command if args.notifications else None
        signals = AiderSignals(args.analytics_log, command)
    settings = args.settings
    if args.style == "gemini":
        settings = os.environ.get("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
    fast = None if args.fast_return is None else args.fast_return / 1000
    return App(args.style, term, args.banner_delay, signals, settings, fast, args.decompose).run()


if __name__ == "__main__":
    sys.exit(main())
