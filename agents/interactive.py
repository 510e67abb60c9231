"""The state of one interactive agent (an AI CLI or a REPL), read from its virtual screen.

Raw verdicts flicker: a redraw can show half a screen, a resize repaints everything. A state
only counts once it has held for the kind's debounce. Progress is judged on the screen
without spinners, counters, the busy line and the status lines attached under it, so a CLI
that only ticks its "Working (1m 21s)" line and rotates "└ Tip: ..." lines under it stalls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from overseer.agents.classify import (
    BUSY,
    IDLE,
    UNKNOWN,
    ScreenRules,
    Verdict,
    classify,
    progress_signature,
    version_note,
)
from overseer.agents.profiles import AgentKind
from overseer.agents.screen import VirtualScreen

CHANGING_IS_BUSY = 2.0  # an unmatched screen that changed this recently counts as busy


@dataclass
class Transition:
    """A debounced change of verdict."""

    old: Verdict | None
    new: Verdict


class InteractiveAgent:
    """Virtual screen + classifier + debounce + progress clock for one pane."""

    def __init__(
        self,
        kind: AgentKind,
        rules: ScreenRules,
        *,
        columns: int = 200,
        lines: int = 50,
        clock: Callable[[], float],
    ) -> None:
        self.kind = kind
        self.rules = rules
        self.clock = clock
        self.screen = VirtualScreen(columns, lines)
        now = clock()
        self.raw: Verdict = Verdict(UNKNOWN, "not-started")
        self.stable: Verdict | None = None
        self.candidate: Verdict = self.raw
        self.candidate_since = now
        self.signature = ""
        self.signature_since = now
        self.changed_at = now
        self._seen = -1
        # The CLI's version as its banner showed it (the banner scrolls away: kept), and
        # "untested version X (tested: Y)" when the rules were not tested with it.
        self.cli_version: str | None = None
        self.version_note: str | None = None

    def feed(self, data: bytes) -> None:
        """New output from the pane."""
        if data:
            self.screen.feed(data)
            self.changed_at = self.clock()

    def resize(self, columns: int, lines: int) -> None:
        """The pane changed size (the program repaints; debounce absorbs the flicker)."""
        self.screen.resize(columns, lines)

    def reset(self) -> None:
        """After a respawn: a blank screen and no verdict."""
        self.screen.reset()
        self.stable = None
        self.raw = self.candidate = Verdict(UNKNOWN, "respawned")
        self.cli_version = self.version_note = None
        self.candidate_since = self.signature_since = self.changed_at = self.clock()

    def read(self) -> Verdict:
        """Classify the screen if it changed since the last look."""
        if self._seen != self.screen.generation:
            self._seen = self.screen.generation
            lines = self.screen.lines()
            verdict = classify(lines, self.rules)
            if self.cli_version is None:
                found = version_note(lines, self.rules)
                if found is not None:
                    self.cli_version, self.version_note = found[0], found[1] or None
            signature = progress_signature(lines, self.rules)
            if signature != self.signature:
                self.signature = signature
                self.signature_since = self.clock()
            self.raw = verdict
        verdict = self.raw
        if (
            verdict.state == UNKNOWN
            and self.kind.busy_when_changing
            and verdict.rule == "no-rule-matched"
            and self.clock() - self.changed_at < CHANGING_IS_BUSY
        ):
            verdict = Verdict(BUSY, "screen-changing", verdict.detail)
        return verdict

    def observe(self) -> Transition | None:
        """Advance the debounce; return a transition when a new state has held long enough."""
        now = self.clock()
        verdict = self.read()
        if (verdict.state, verdict.rule, verdict.detail) != (
            self.candidate.state,
            self.candidate.rule,
            self.candidate.detail,
        ):
            same_state = verdict.state == self.candidate.state
            self.candidate = verdict
            if not same_state:
                # The new state began with the output that drew it, not when we looked.
                self.candidate_since = min(now, self.changed_at)
        if now - self.candidate_since < self.kind.debounce:
            return None
        old = self.stable
        if (
            old is not None
            and old.state == self.candidate.state
            and old.detail == self.candidate.detail
        ):
            return None
        self.stable = self.candidate
        return Transition(old, self.candidate)

    @property
    def state(self) -> str:
        """The debounced state (unknown before the first verdict has held)."""
        return self.stable.state if self.stable else UNKNOWN

    def progress_age(self) -> float:
        """Seconds since the screen last showed progress (see progress_signature)."""
        return self.clock() - self.signature_since

    def holds_text(self, text: str) -> bool:
        """Whether the input box (an idle verdict's line) still shows the start of `text`."""
        head = " ".join(text.split())[:24]
        verdict = self.read()
        return bool(head) and verdict.state == IDLE and head in verdict.detail
