"""Interactive AI CLIs (and REPLs): a task is a prompt pasted into the agent's input box;
the agent's state and the end of its turn come from the CLI's own signals (hooks, session
files: agents/signals.py) where it reports them, else from its screen, which tmux keeps and
the driver reads back lazily (agents/interactive.py): less often while the signals are live.

A fresh structured event wins over the screen: it sets the state at once, and a screen
verdict that contradicts it counts only once it has held OVERRULE seconds with no newer
event (an Esc interrupt fires no hook; an answered dialog fires none when declined). After
FRESH seconds without events the screen decides alone, as it does for CLIs that report
nothing (older versions, degraded injection, custom kinds).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from overseer.agents import ingest
from overseer.agents.classify import (
    BUSY,
    IDLE,
    UNKNOWN,
    WAITING,
    ScreenRules,
    Verdict,
    choice_parts,
    untested_note,
    version_note,
)
from overseer.agents.clis import CLIS
from overseer.agents.drivers import base
from overseer.agents.drivers.base import AgentDriver, AgentRuntime, Ended, Host, Running
from overseer.agents.interactive import SCREEN_EVERY, InteractiveAgent
from overseer.agents.profiles import AgentKind
from overseer.agents.runner import Dispatch
from overseer.agents.signals import Ev, InjectContext, Injection, Signal
from overseer.agents.tmux import PaneInfo, TmuxError
from overseer.state.models import AgentState, Attempt, AttemptOutcome, Task
from overseer.state.redact import mask
from overseer.state.statedir import write_private

SILENT_TURN = 3.0  # a submitted prompt with no busy screen counts as done after this much idle
RESUBMIT_SIGNALLED = 2.0  # no prompt signal this long after Enter: the Enter was lost, again
PASTE_SETTLE = 0.3  # a paste drawn as something else than its text: the screen quiet this long
LIMIT_RULES = frozenset({"rate-limit", "context-limit"})  # verdicts that end a turn as failed
VERDICT_STATES = {IDLE: AgentState.IDLE, BUSY: AgentState.BUSY, WAITING: AgentState.WAITING}
YES = ("yes", "allow", "trust", "proceed", "approve", "accept", "ok")
NO = ("no", "don't", "do not", "deny", "reject", "decline", "cancel")
FRESH = 30.0  # an event decides the state this long (newer screen evidence may overrule it)
OVERRULE = 3.0  # a screen verdict against a fresh event wins once held this long, no newer event
TURN_END_GRACE = 1.0  # after a turn-end event, the screen gets this long to draw the answer
STARTUP = 20.0  # no session-start signal and no recognisable screen by then: unknown
SIGNAL_STATES = {
    Ev.PROMPT: AgentState.BUSY,
    Ev.TOOL: AgentState.BUSY,
    Ev.PERMISSION: AgentState.WAITING,
    Ev.TURN_END: AgentState.IDLE,
    Ev.TURN_FAILED: AgentState.IDLE,
}
DEGRADED = "signals degraded: using the screen"
LIVE_EVERY = 2.0  # a changing screen is read at most this often while the signals are fresh


@dataclass
class Latest:
    """The newest state-bearing event: what it says, when it came (host clock), its source."""

    state: AgentState
    at: float
    source: str


class PromptDriver(AgentDriver):
    """Captured screen, bracketed-paste submission, resubmit, menus, turn end, rate limits."""

    task_kind: ClassVar[str] = "prompt"

    def __init__(self, host: Host, kind: AgentKind, rules: ScreenRules) -> None:
        super().__init__(host)
        self.kind = kind
        self.ia = InteractiveAgent(kind, rules, clock=host.clock)
        self.cli = CLIS.get(kind.kind)
        self.injection: Injection | None = None
        self.latest: Latest | None = None  # the newest state-bearing event
        self.pending: Verdict | None = None  # a screen verdict not applied yet (see trusted)
        self.arrived: dict[str, int] = {}  # the CLI's event names seen from this process
        self.events: set[Ev] = set()  # which kinds of event this process has reported
        self.session_started = False
        self.spawned_at = host.clock()
        self.recognised = False  # a screen verdict other than unknown was applied since spawn
        self.version: tuple[str, str | None] | None = None

    def command(self, rt: AgentRuntime) -> str:
        return self.kind.command

    def launch(self, rt: AgentRuntime, command: str, cwd: str) -> tuple[str, dict[str, str]]:
        """The CLI's command with its signals injected (files written privately first)."""
        self.injection, self.arrived, self.events = None, {}, set()
        self.session_started = False
        # An interactive CLI in a pane is not in CI, whatever the supervisor's environment
        # says: with CI=true (a CI job, or a shell that exports it) Gemini CLI and other Ink
        # programs draw no input box and exit ("No input provided via stdin"). The agent's own
        # `env:` in the config still wins.
        not_ci = {} if "CI" in rt.spec.env else {"CI": "false"}
        if self.cli is None:
            return command, not_ci
        paths = self.host.paths
        ctx = InjectContext(
            agent=rt.name,
            state_dir=paths.root,
            signals_dir=paths.signals,
            hook_command=ingest.hook_command(paths, rt.name),
            work_dir=Path(cwd),
            env={**os.environ, **rt.spec.env},
        )
        inj = self.cli.inject(ctx)
        try:
            for path, text in inj.files.items():
                if path.parent != paths.signals:
                    raise OSError(f"{path} is outside {paths.signals}")
                write_private(path, text)
        except OSError as exc:
            inj = Injection(degraded=f"could not write the CLI's settings: {exc}")
        self.injection = inj
        self.note_signals(rt)
        if rt.inbox is not None:
            rt.inbox.reset(inj.tail, self.host.clock(), Path(cwd))
        if inj.args:
            command = f"{command} {shlex.join(inj.args)}"
        return command, {**not_ci, **inj.env}

    def spawned(self, rt: AgentRuntime) -> None:
        self.watch(rt)
        self.ia.reset()
        self.latest = self.pending = None
        self.spawned_at = self.host.clock()
        self.recognised = False

    def catch_up(self, rt: AgentRuntime, size: int) -> None:
        rt.stream.seek(size)  # its screen is rebuilt from capture-pane instead (adopt)

    def adopt(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        """Read the pane's screen at once, and the agent's state from it."""
        self.watch(rt)
        self.ia.refresh(force=True)
        verdict = self.ia.read()
        state = VERDICT_STATES.get(verdict.state, AgentState.UNKNOWN)
        if state == AgentState.WAITING:
            rt.prompt = mask(verdict.detail)
        if rt.last_output_at is not None:
            # No progress can have been shown after the pane last printed.
            self.ia.signature_since = min(self.ia.signature_since, rt.last_output_at)
        self.host.set_state(rt, state, f"re-adopted pane ({verdict.rule})")

    def still_running(self, rt: AgentRuntime, pane: PaneInfo) -> bool:
        self.adopt(rt, pane)  # the screen says whether the turn goes on
        return rt.state in (AgentState.BUSY, AgentState.WAITING, AgentState.UNKNOWN)

    # -- the screen ----------------------------------------------------------------

    def watch(self, rt: AgentRuntime) -> None:
        """Read the screen of the agent's pane (whichever pane it has when a look is due)."""

        def capture() -> str | None:
            if rt.pane_id is None:
                return None
            try:
                return self.host.tmux.capture(rt.pane_id)
            except TmuxError:
                return None  # the pane or the server is gone: the sweep settles that

        self.ia.capture = capture

    def feed(self, rt: AgentRuntime, data: bytes) -> None:
        self.ia.feed(data)

    def caught_up(self, rt: AgentRuntime) -> None:
        self.observe(rt)

    def observe(self, rt: AgentRuntime) -> None:
        """Turn a debounced screen verdict into the agent's state (unless an event outranks it)."""
        fresh = rt.signal_at is not None and self.host.clock() - rt.signal_at < FRESH
        self.ia.every = LIVE_EVERY if fresh and self.reports_turns else SCREEN_EVERY
        change = self.ia.observe()
        if change is not None:
            self.pending = change.new
            self.note_screen(rt)
        v = self.pending
        if v is None or not self.trusted(v.state, self.ia.candidate_since):
            return
        self.pending = None
        self.recognised = self.recognised or v.state != UNKNOWN
        if rt.paused and rt.running is None and v.rule in LIMIT_RULES:
            return  # a paused, rate-limited agent stays paused until a person resumes it
        source = f"screen {v.rule}"
        latest = self.latest
        fresh = latest is not None and self.host.clock() - latest.at < FRESH
        if fresh and latest is not None and VERDICT_STATES.get(v.state) == latest.state:
            source = latest.source  # the screen agrees with the event that decided
        if v.state == WAITING:
            rt.prompt = mask(v.detail)
            if rt.state == AgentState.WAITING:
                self.host.event(
                    "agent.waiting", f"{rt.name}: waiting ({v.rule}): {rt.prompt}", agent=rt.name
                )
            self.host.set_state(rt, AgentState.WAITING, f"{v.rule}: {rt.prompt}", source)
        elif v.state == BUSY:
            if rt.state != AgentState.STALLED:
                self.host.set_state(
                    rt, AgentState.BUSY, f"{v.rule}: {mask(v.detail)[:120]}", source
                )
        elif v.state == IDLE:
            if rt.running is None:
                self.host.set_state(
                    rt,
                    AgentState.PAUSED if rt.paused else AgentState.IDLE,
                    f"at its prompt ({v.rule})",
                    source,
                )
                self.host.hint()
        elif v.state == UNKNOWN:
            self.host.set_state(rt, AgentState.UNKNOWN, f"{v.rule}: {mask(v.detail)[:160]}", source)

    def trusted(self, screen: str, since: float) -> bool:
        """Whether a screen verdict (shown since `since`) may decide now, against the events."""
        now = self.host.clock()
        expects = self.injection is not None and self.injection.degraded is None
        if (
            screen == UNKNOWN
            and (expects or not self.recognised)
            and now - self.spawned_at < STARTUP
        ):
            # Its session-start signal or a recognisable screen may still come: a CLI slow to
            # draw its first screen (a loaded machine) is starting, not unknown.
            return False
        if screen == UNKNOWN and self.session_started:
            return False  # the CLI said it is up: its events decide, not an unknown screen
        latest = self.latest
        if latest is None or now - latest.at >= FRESH:
            return True
        if VERDICT_STATES.get(screen) == latest.state:
            return True
        if screen == WAITING and Ev.PERMISSION in self.events:
            # This CLI reports its dialogs: a dialog on screen that no event announced is
            # an answered one still in view.
            return False
        if since < latest.at and self.ia.raw.state == screen:
            # The screen was read lazily and may have shown other states in between: a screen
            # drawn after the event with the same verdict is evidence from after it too.
            since = max(since, self.ia.drawn_at)
        return since >= latest.at and now - since >= OVERRULE

    def last_screen(self, rt: AgentRuntime) -> str:
        """The CLI's screen as last captured (kept when its pane is gone)."""
        return self.ia.screen.text()

    def note_screen(self, rt: AgentRuntime) -> None:
        """The CLI's version, read from its screen while it starts (a flag, never a refusal)."""
        rules = self.ia.rules
        if self.host.clock() - self.spawned_at > STARTUP:
            return
        refused = getattr(self.cli, "refused", None)  # the CLI's words for refusing our file
        inj = self.injection
        for line in self.ia.screen.lines():
            if refused and refused in line and inj is not None and inj.degraded is None:
                self.injection = Injection(degraded=f"the CLI refused its settings: {line.strip()}")
                self.note_signals(rt)
                self.host.event("agent.signals-degraded", f"{rt.name}: {DEGRADED}", agent=rt.name)
        found = version_note(self.ia.screen.lines(), rules) if self.version is None else None
        if found:
            self.set_version(rt, found[0])

    def set_version(self, rt: AgentRuntime, version: str) -> None:
        """Record the CLI's version, and a note when it is not one Overseer was tested with."""
        note = untested_note(version, self.ia.rules) or None
        if (version, note) != self.version:
            self.version = (version, note)
            self.host.store.update_agent(rt.name, cli_version=version, version_note=note)
            if note:
                self.host.event(
                    "agent.untested-version",
                    f"{rt.name}: {note}; running it with the newest rules and signals",
                    agent=rt.name,
                )

    # -- the CLI's own signals -----------------------------------------------------

    def note_signals(self, rt: AgentRuntime) -> None:
        """Write which signals this process was given and which arrived (Agent.signals)."""
        inj = self.injection
        degraded = None if inj is None else inj.degraded
        data = {
            # A re-adopted pane's CLI was given its hooks by an earlier supervisor.
            "injected": (inj is not None or bool(self.arrived)) and degraded is None,
            "degraded": degraded,
            "arrived": dict(self.arrived),
            "session_started": self.session_started,
        }
        self.host.store.update_agent(rt.name, signals=data)

    def signal(self, rt: AgentRuntime, sig: Signal) -> None:
        """A fresh event of the CLI: it decides the state, and a turn end ends the attempt."""
        now = self.host.clock()
        first = sig.name not in self.arrived
        self.arrived[sig.name] = self.arrived.get(sig.name, 0) + 1
        self.events.add(sig.event)
        if sig.event == Ev.SESSION_START:
            self.session_started = True
        if first:
            self.note_signals(rt)
        if sig.event == Ev.SESSION_START:
            version = sig.data.get("version")
            if isinstance(version, str) and version:
                self.set_version(rt, version)
            return
        state = SIGNAL_STATES.get(sig.event)
        if state is None:
            return
        run = rt.running
        if run is not None and sig.at < run.started:
            return  # about an earlier turn (it was written before this prompt was pasted)
        source = f"{sig.source} {sig.name}"
        detail = mask(sig.detail)[:160]
        # The screen's verdict is weighed again against the event (see trusted).
        self.latest, self.pending = Latest(state, now, source), self.ia.stable
        if run is not None and run.stop_at is None:
            if state != AgentState.IDLE and run.submitted_at is None:
                run.submitted_at, run.saw_busy = now, True
            if sig.event == Ev.TURN_FAILED:
                # The CLI gave up on the turn (rate limit, auth): as a screen rate limit does.
                why = f"{sig.name}: {detail}"
                rt.paused, rt.reason = True, f"paused: {why}"
                self.host.set_state(rt, AgentState.PAUSED, why, source)
                self.host.record(rt, Ended(AttemptOutcome.FAILED, why))
                return
            if state == AgentState.IDLE:
                # Ended by check() once the screen has drawn the answer (output_tail).
                run.turn_end_at, run.turn_end = now, sig.name
                self.host.set_state(rt, AgentState.IDLE, f"the turn ended ({sig.name})", source)
                return
        if state == AgentState.WAITING:
            rt.prompt = f"allow {detail or sig.name}?"  # the screen's question replaces it
            self.host.set_state(rt, state, f"{sig.name}: {rt.prompt}", source)
        elif state == AgentState.BUSY:
            self.host.set_state(rt, state, f"{sig.name}: {detail}".strip(": "), source)
        elif run is None:
            self.host.set_state(
                rt,
                AgentState.PAUSED if rt.paused else AgentState.IDLE,
                f"{sig.name}: {detail}".strip(": "),
                source,
            )
            self.host.hint()

    def last_line(self, rt: AgentRuntime) -> str:
        rt.last_line = mask(self.ia.raw.detail)[-200:]
        return rt.last_line

    def output_tail(self, rt: AgentRuntime, run: Running) -> str:
        """The agent's final screen."""
        self.ia.refresh(force=True)
        return self.ia.screen.text()[-base.TAIL_CHARS :]

    def sweep(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        if pane.width and pane.height:
            self.ia.resize(pane.width, pane.height)

    # -- a turn --------------------------------------------------------------------

    def start(self, rt: AgentRuntime, task: Task, attempt: Attempt) -> None:
        """Paste a prompt into the idle agent (bracketed paste); Enter follows once it landed."""
        run_dir = self.host.paths.run
        d = Dispatch.of(run_dir, task.id, attempt.number, attempt.nonce)
        run = self.begin(rt, task, attempt, d)
        run.screen_at_paste = self.ia.screen.generation
        try:
            assert rt.pane_id is not None
            self.host.tmux.paste(
                rt.pane_id, task.command, run_dir / f"{task.id}.{attempt.number}.prompt"
            )
        except (TmuxError, OSError, AssertionError) as exc:
            self.host.record(
                rt, Ended(AttemptOutcome.LOST, f"could not paste into the pane: {exc}")
            )
            return
        run.pasted_at = self.host.clock()
        self.host.set_state(
            rt, AgentState.BUSY, f"prompt {task.id} sent (attempt {attempt.number})"
        )

    def enter(self, rt: AgentRuntime, run: Running, now: float) -> None:
        """Press Enter once the pasted prompt has landed in the input box, the kind's gap later.

        Landed: the screen, drawn again since the paste, shows the start of the text in the box
        (first seen then: the CLI took the paste no later), or it has been quiet PASTE_SETTLE
        since (a paste drawn as a placeholder). The gap runs from the later of that sighting and
        the screen's last change: a CLI still redrawing is still busy with its input. Not landed
        within the kind's paste_wait: Enter anyway.
        """
        ia, kind = self.ia, self.kind
        ia.refresh(now=True)  # the screen is read lazily: look now, at the bounded rate
        drawn = ia.screen.generation != run.screen_at_paste  # text left in the box is no proof
        if run.landed_at is None and drawn and ia.holds_text(run.task.command):
            run.landed_at = now
        if run.landed_at is not None:
            ready = now - max(run.landed_at, ia.changed_at) >= kind.enter_gap
        else:
            ready = drawn and now - ia.changed_at >= max(PASTE_SETTLE, kind.enter_gap)
        unseen = not ready and now - run.pasted_at >= kind.paste_wait
        if not (ready or unseen):
            return
        try:
            assert rt.pane_id is not None
            self.host.tmux.send_keys(rt.pane_id, "Enter")
        except (TmuxError, AssertionError) as exc:
            self.host.record(rt, Ended(AttemptOutcome.LOST, f"could not press Enter: {exc}"))
            return
        run.enter_at, run.screen_at_enter = now, ia.screen.generation
        if unseen:
            self.host.event(
                "task.enter-unseen",
                f"{run.task.id}: the pasted prompt did not show in {rt.name}'s input box "
                f"within {kind.paste_wait:g}s; pressed Enter anyway",
                task_id=run.task.id,
                agent=rt.name,
            )

    def check(self, rt: AgentRuntime, now: float) -> None:
        """Submission, completion, stalls and timeouts of the prompt given to the agent."""
        ia, kind = self.ia, self.kind
        self.observe(rt)
        run = rt.running
        if run is None:
            self.started_by_signal(rt, now)
            return
        # Ending a turn or a stop: the screen is read at once when it changes.
        raw = ia.read(now=run.turn_end_at is not None or run.stop_at is not None)
        if raw.state in (BUSY, WAITING):
            run.saw_busy = True
        since = ia.candidate_since if ia.candidate.state == raw.state else now
        settled = (
            raw.state == IDLE and now - ia.changed_at >= kind.debounce and self.trusted(IDLE, since)
        )
        if run.stop_at is not None:
            if settled:
                outcome = (
                    AttemptOutcome.RELEASED
                    if run.release
                    else (run.stop_outcome or AttemptOutcome.FAILED)
                )
                self.host.record(rt, Ended(outcome, run.stop_detail))
            elif not run.killed and now - run.stop_at >= base.STOP_GRACE:
                run.killed = True
                if rt.pane_id:
                    self.host.tmux.send_keys(rt.pane_id, kind.interrupt_key)
            elif now - run.stop_at >= base.STOP_GRACE + base.STOP_GIVE_UP:
                self.lose(rt, f"{run.stop_detail}; the agent did not return to its prompt")
            return
        if run.submitted_at is None:
            self.submit(rt, run, now)
            return
        if run.turn_end_at is not None and (
            raw.state == IDLE or now - run.turn_end_at >= TURN_END_GRACE
        ):
            why = f"the turn ended ({run.turn_end})"
            self.host.record(rt, Ended(AttemptOutcome.OK, why, result="idle"))
            return
        if run.deadline is not None and now >= run.deadline:
            self.host.stop(rt, AttemptOutcome.TIMEOUT, f"timed out after {run.task.timeout:g}s")
            return
        if raw.rule in LIMIT_RULES and now - ia.changed_at >= 2 * kind.debounce:
            # The CLI gave up on the turn (the limit shows as a dialog, or as the last thing
            # the turn printed above the input box): fail the attempt (backoff applies) and
            # give the agent no more work until a person resumes it.
            detail = f"{raw.rule}: {mask(raw.detail)}"
            rt.paused, rt.reason = True, f"paused: {detail}"
            self.host.record(rt, Ended(AttemptOutcome.FAILED, detail))
            return
        if (
            settled
            and raw.rule not in LIMIT_RULES  # ended by a limit: failed (above), never OK
            and (run.saw_busy or now - run.submitted_at >= SILENT_TURN)
        ):
            end = Ended(AttemptOutcome.OK, "the agent returned to its prompt", result="idle")
            self.host.set_state(rt, AgentState.IDLE, end.reason or "", f"screen {raw.rule}")
            self.host.record(rt, end)
            return
        stall = self.host.stall_timeout
        quiet = ia.progress_age()
        if rt.signal_at is not None:
            quiet = min(quiet, now - rt.signal_at)
        if rt.state == AgentState.STALLED and quiet < stall:
            self.host.set_state(rt, AgentState.BUSY, "progress again (screen or signals)")
        elif rt.state == AgentState.BUSY and quiet >= stall:
            detail = (
                f"stalled: no signal, no file growth and no progress on screen for {quiet:.0f}s "
                "(only spinners and counters changed, and the status lines under the busy line)"
            )
            self.host.set_state(rt, AgentState.STALLED, detail)
            self.host.on_stall(rt, detail)

    def output_wakes(self, rt: AgentRuntime) -> bool:
        # While a submitted turn simply goes on, output only marks the screen dirty (it is
        # read lazily, at most every SCREEN_EVERY): a busy CLI redrawing its spinner dozens
        # of times a second need not wake the loop each time. Submitting, a turn's end and a
        # stop read the screen at once: their output wakes it.
        run = rt.running
        return (
            run is None
            or run.submitted_at is None
            or run.turn_end_at is not None
            or run.stop_at is not None
        )

    def resting(self, rt: AgentRuntime, now: float) -> bool:
        # No verdict waits to be trusted (an event's freshness, the start-up grace) and the
        # screen needs no later look: `check` would change nothing until new output.
        return self.pending is None and self.ia.at_rest()

    def started_by_signal(self, rt: AgentRuntime, now: float) -> None:
        """A CLI that said it is up but whose screen no rule recognises counts as idle."""
        if (
            rt.state in (AgentState.STARTING, AgentState.UNKNOWN)
            and self.session_started
            and now - self.spawned_at >= STARTUP
            and self.ia.read().state == UNKNOWN
        ):
            self.host.set_state(
                rt,
                AgentState.IDLE,
                "the CLI reported its session start; no screen rule matched",
                "hook SessionStart",
            )
            self.host.hint()

    @property
    def reports_turns(self) -> bool:
        """Whether this CLI's own signals are live (its session start arrived, nothing
        degraded): then a turn counts as begun only on its prompt signal or a busy screen."""
        inj = self.injection
        return self.session_started and (inj is None or inj.degraded is None)

    def submit(self, rt: AgentRuntime, run: Running, now: float) -> None:
        """Whether the pasted prompt was taken; Enter once more if it still sits in the box.

        A screen that merely changed after Enter is not proof when the CLI reports its turns
        (a paste shown as a placeholder is not "the prompt left the box"): then only the
        prompt signal or a busy screen is, and Enter is pressed again sooner.
        """
        if run.enter_at is None:
            self.enter(rt, run, now)  # the first Enter waits for the paste to land
            return
        holds = self.ia.holds_text(run.task.command)
        signals = self.reports_turns
        changed = self.ia.screen.generation != run.screen_at_enter and not holds
        if run.saw_busy or (changed and not signals):
            run.submitted_at = now
            return
        first = run.enter_retries == 0
        wait = self.kind.submit_timeout
        if signals and first:
            wait = min(wait, RESUBMIT_SIGNALLED)
        if now - run.enter_at >= wait:
            if (holds or signals) and first and rt.pane_id:
                run.enter_retries, run.enter_at = 1, now
                self.host.tmux.send_keys(rt.pane_id, "Enter")
                seen = (
                    f"the prompt was still in {rt.name}'s input box"
                    if holds
                    else f"{rt.name} did not report taking the prompt"
                )
                self.host.event(
                    "task.resubmit",
                    f"{run.task.id}: {seen}; pressed Enter again",
                    task_id=run.task.id,
                    agent=rt.name,
                )
            else:
                why = (
                    "still in the input box"
                    if holds
                    else "no prompt signal and no busy screen after Enter"
                    if signals
                    else "the screen never changed after Enter"
                )
                lost = Ended(AttemptOutcome.LOST, f"the prompt was not submitted: {why}")
                self.host.record(rt, lost)

    def readopt(self, rt: AgentRuntime) -> None:
        run = rt.running
        assert run is not None
        if rt.state == AgentState.STARTING:
            self.lose(rt, "lost while the supervisor was down (the agent was restarted)")
            return
        # It took the prompt before the crash; the screen says whether it is done.
        run.submitted_at = run.enter_at = run.attempt.started_at
        run.saw_busy = True
        self.host.event(
            "task.readopted",
            f"{run.task.id} attempt {run.attempt.number} re-adopted in {rt.name} (interactive)",
            task_id=run.task.id,
            agent=rt.name,
        )

    # -- ends ----------------------------------------------------------------------

    def interrupt(self, rt: AgentRuntime, run: Running) -> None:
        if rt.pane_id:
            self.host.tmux.send_keys(rt.pane_id, self.kind.interrupt_key)

    def settle_loss(
        self, rt: AgentRuntime, run: Running, reason: str, lost: AttemptOutcome, wait: bool
    ) -> None:
        """Nothing of a turn runs outside the agent's own process: recorded at once."""
        self.host.record(rt, Ended(lost, reason))

    def menu_key(self, rt: AgentRuntime, answer: str) -> str | None:
        """The key that picks `answer` in the numbered menu the agent shows (None: no menu)."""
        self.ia.refresh(force=True)
        verdict = self.ia.read()
        if verdict.state != WAITING or not verdict.choices:
            return None
        parts = [choice_parts(c) for c in verdict.choices]
        numbers = [number for number, _ in parts]
        texts = [text.lower() for _, text in parts]
        if answer.isdigit():
            if answer not in numbers:
                raise ValueError(f"{rt.name}'s menu has no choice {answer} ({', '.join(numbers)})")
            return answer
        low = answer.lower()
        words = YES if low in ("y", "yes") else NO if low in ("n", "no") else ()
        for number, text in zip(numbers, texts, strict=False):
            if text.startswith(words):
                return number
        if low in ("n", "no"):
            return numbers[-1]  # menus put the refusal last
        if low in ("y", "yes"):
            return numbers[0]
        raise ValueError(
            f"{rt.name} shows a menu: answer with a choice number ({', '.join(numbers)})"
        )
