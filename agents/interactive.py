"""The state of one interactive agent (an AI CLI or a REPL), read from its screen.

tmux already keeps every pane's screen, so nothing here replays the output bytes: output only
marks the screen dirty, and the screen is read back (`capture-pane -p`, in-line through the
control-mode client) at a bounded rate: once the output has been quiet for SETTLE, else at
most every `every` seconds (the driver makes it longer while the CLI's own signals are live
and fresh), and at once when a decision needs it (`read(now=True)`, `refresh(force=True)`).

Raw verdicts flicker: a redraw can show half a screen, a resize repaints everything. A state
only counts once a settled look (below) has shown it and it has held for the kind's debounce. Progress is judged on the screen
without spinners, counters, the busy line and the status lines attached under it, so a CLI
that only ticks its "Working (1m 21s)" line and rotates "└ Tip: ..." lines under it stalls;
and only on settled screens (the same signature in two captures in a row, or a capture after a
quiet period) that were not seen lately: a look that lands in the middle of a redraw sees a
half-drawn screen, which is no progress.
"""

from __future__ import annotations

from collections import deque
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
from overseer.agents.screen import CapturedScreen

CHANGING_IS_BUSY = 2.0  # an unmatched screen that changed this recently counts as busy
SETTLE = 0.25  # output quiet this long: the screen tmux shows is a whole frame
SCREEN_EVERY = 0.5  # a dirty screen is read at most this often (signals missing or stale)
NOW_EVERY = 0.1  # ... and this often when a decision needs it now
RECENT = 8  # settled signatures remembered: one seen again lately is no progress

Capture = Callable[[], str | None]


def no_capture() -> str | None:
    """The capture of an agent with no pane yet."""
    return None


@dataclass
class Transition:
    """A debounced change of verdict."""

    old: Verdict | None
    new: Verdict


class InteractiveAgent:
    """Captured screen + classifier + debounce + progress clock for one pane."""

    def __init__(
        self,
        kind: AgentKind,
        rules: ScreenRules,
        *,
        clock: Callable[[], float],
        capture: Capture = no_capture,
    ) -> None:
        self.kind = kind
        self.rules = rules
        self.clock = clock
        self.capture = capture  # the pane's visible rows as text (None: not readable now)
        self.screen = CapturedScreen()
        self.every = SCREEN_EVERY  # the driver sets it: longer while the CLI's signals are live
        self.size = (0, 0)  # the pane's (columns, lines) as the sweep last saw them
        now = clock()
        self.raw: Verdict = Verdict(UNKNOWN, "not-started")
        self.stable: Verdict | None = None
        self.candidate: Verdict = self.raw
        self.candidate_since = now
        self.signature = ""
        self.signature_since = now
        self.changed_at = now
        self.dirty = True  # output came since the last capture
        self.captured_at = float("-inf")
        self.captures = 0
        self.drawn_at = now  # when the screen now shown was drawn (the output before its capture)
        # Progress: the last capture's signature (and since when it was seen in a row), whether
        # it has settled, and the settled signatures seen lately.
        self.last_sig: str | None = None
        self.last_sig_at = now
        self.unsettled = False
        self.recent: deque[str] = deque(maxlen=RECENT)
        # The CLI's version as its banner showed it (the banner scrolls away: kept), and
        # "untested version X (tested: Y)" when the rules were not tested with it.
        self.cli_version: str | None = None
        self.version_note: str | None = None

    def feed(self, data: bytes) -> None:
        """New output from the pane: its screen changed (read it when a look is due)."""
        if data:
            self.dirty = True
            self.changed_at = self.clock()

    def resize(self, columns: int, lines: int) -> None:
        """The pane's size (a change repaints it; debounce absorbs the flicker)."""
        if (columns, lines) != self.size:
            self.size = (columns, lines)
            self.dirty = True

    def reset(self) -> None:
        """After a respawn: a blank screen and no verdict."""
        self.screen.reset()
        self.stable = None
        self.raw = self.candidate = Verdict(UNKNOWN, "respawned")
        self.cli_version = self.version_note = None
        self.candidate_since = self.signature_since = self.changed_at = self.clock()
        self.dirty, self.captured_at, self.drawn_at = True, float("-inf"), self.changed_at
        self.last_sig, self.unsettled = None, False
        self.recent.clear()

    def refresh(self, *, now: bool = False, force: bool = False) -> None:
        """Capture the screen if it changed and a look is due (`now`: a decision needs it;
        `force`: capture whatever the output said, e.g. the last screen of an attempt)."""
        t = self.clock()
        quiet = t - self.changed_at >= SETTLE
        if not self.dirty and not force:
            if self.unsettled and quiet and self.last_sig is not None:
                self.settle(self.last_sig, self.last_sig_at)  # nothing came after that look
            return
        if not force and not quiet and t - self.captured_at < (NOW_EVERY if now else self.every):
            return
        text = self.capture()
        self.captured_at = t
        if text is None:
            return  # no pane (yet): the next due look tries again
        self.dirty = False
        self.captures += 1
        if self.screen.set(text):
            self.drawn_at = self.changed_at
            self.classify()
        self.progress(quiet)

    def classify(self) -> None:
        """Classify the screen just captured; note the CLI's version once."""
        lines = self.screen.lines()
        self.raw = classify(lines, self.rules)
        if self.cli_version is None:
            found = version_note(lines, self.rules)
            if found is not None:
                self.cli_version, self.version_note = found[0], found[1] or None

    def progress(self, quiet: bool) -> None:
        """Weigh the capture's signature: it counts once settled (see the module's doc)."""
        t = self.clock()
        sig = progress_signature(self.screen.lines(), self.rules)
        if sig != self.last_sig:
            self.last_sig, self.last_sig_at = sig, t
            self.unsettled = True
            if not quiet:
                return  # maybe half a redraw: wait for a second look or a quiet period
        self.settle(sig, self.last_sig_at)

    def settle(self, sig: str, seen_at: float) -> None:
        """A settled signature: progress when it was not seen lately."""
        self.unsettled = False
        if sig in self.recent:
            if sig != self.recent[-1]:
                self.recent.remove(sig)
                self.recent.append(sig)
            return
        self.recent.append(sig)
        self.signature = sig
        self.signature_since = max(self.signature_since, seen_at)

    def read(self, *, now: bool = False) -> Verdict:
        """The screen's verdict (captured again first when a look is due, see refresh)."""
        self.refresh(now=now)
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
        if self.unsettled:
            verdict = self.candidate  # maybe half a redraw: the last settled look stands
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

    def at_rest(self) -> bool:
        """Whether nothing waits for a later look: the screen read since it last changed, the
        look settled, the verdict held, and the screen's last change no longer recent."""
        stable, candidate = self.stable, self.candidate
        return (
            not self.dirty
            and not self.unsettled
            and stable is not None
            and (stable.state, stable.detail) == (candidate.state, candidate.detail)
            and self.clock() - self.changed_at >= CHANGING_IS_BUSY
        )

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
        verdict = self.read(now=True)
        return bool(head) and verdict.state == IDLE and head in verdict.detail
