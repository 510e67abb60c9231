"""Interactive AI CLIs (and REPLs): a task is a prompt pasted into the agent's input box;
the agent's state and the end of its turn are read from its virtual screen."""

from __future__ import annotations

from typing import ClassVar

from overseer.agents.classify import BUSY, IDLE, UNKNOWN, WAITING, ScreenRules, choice_parts
from overseer.agents.drivers import base
from overseer.agents.drivers.base import AgentDriver, AgentRuntime, Ended, Host, Running
from overseer.agents.interactive import InteractiveAgent
from overseer.agents.profiles import AgentKind
from overseer.agents.runner import Dispatch
from overseer.agents.tmux import PaneInfo, TmuxError
from overseer.state.models import AgentState, Attempt, AttemptOutcome, Task
from overseer.state.redact import mask

SILENT_TURN = 3.0  # a submitted prompt with no busy screen counts as done after this much idle
LIMIT_RULES = frozenset({"rate-limit", "context-limit"})  # verdicts that end a turn as failed
VERDICT_STATES = {IDLE: AgentState.IDLE, BUSY: AgentState.BUSY, WAITING: AgentState.WAITING}
YES = ("yes", "allow", "trust", "proceed", "approve", "accept", "ok")
NO = ("no", "don't", "do not", "deny", "reject", "decline", "cancel")


class PromptDriver(AgentDriver):
    """Virtual screen, bracketed-paste submission, resubmit, menus, turn end, rate limits."""

    task_kind: ClassVar[str] = "prompt"

    def __init__(self, host: Host, kind: AgentKind, rules: ScreenRules) -> None:
        super().__init__(host)
        self.kind = kind
        self.ia = InteractiveAgent(kind, rules, clock=host.clock)

    def command(self, rt: AgentRuntime) -> str:
        return self.kind.command

    def spawned(self, rt: AgentRuntime) -> None:
        self.ia.reset()
        self.ia.resize(200, 50)  # spawn_window's size; the sweep follows later resizes

    def catch_up(self, rt: AgentRuntime, size: int) -> None:
        rt.stream.seek(size)  # its screen is rebuilt from capture-pane instead (adopt)

    def adopt(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        """Rebuild the screen once from capture-pane, then read it."""
        if pane.width and pane.height:
            self.ia.resize(pane.width, pane.height)
        try:
            text = self.host.tmux.capture(pane.pane_id, escapes=True)
        except TmuxError:
            text = ""
        self.ia.feed(b"\x1b[H\x1b[2J" + text.replace("\n", "\r\n").encode("utf-8", "replace"))
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

    def feed(self, rt: AgentRuntime, data: bytes) -> None:
        self.ia.feed(data)

    def caught_up(self, rt: AgentRuntime) -> None:
        self.observe(rt)

    def observe(self, rt: AgentRuntime) -> None:
        """Turn a debounced screen verdict into the agent's state."""
        change = self.ia.observe()
        if change is None:
            return
        v = change.new
        if rt.paused and rt.running is None and v.rule in LIMIT_RULES:
            return  # a paused, rate-limited agent stays paused until a person resumes it
        if v.state == WAITING:
            rt.prompt = mask(v.detail)
            if rt.state == AgentState.WAITING:
                self.host.event(
                    "agent.waiting", f"{rt.name}: waiting ({v.rule}): {rt.prompt}", agent=rt.name
                )
            self.host.set_state(rt, AgentState.WAITING, f"{v.rule}: {rt.prompt}")
        elif v.state == BUSY:
            if rt.state != AgentState.STALLED:
                self.host.set_state(rt, AgentState.BUSY, f"{v.rule}: {mask(v.detail)[:120]}")
        elif v.state == IDLE:
            if rt.running is None:
                self.host.set_state(
                    rt,
                    AgentState.PAUSED if rt.paused else AgentState.IDLE,
                    f"at its prompt ({v.rule})",
                )
                self.host.hint()
        elif v.state == UNKNOWN:
            self.host.set_state(rt, AgentState.UNKNOWN, f"{v.rule}: {mask(v.detail)[:160]}")

    def last_line(self, rt: AgentRuntime) -> str:
        rt.last_line = mask(self.ia.raw.detail)[-200:]
        return rt.last_line

    def output_tail(self, rt: AgentRuntime, run: Running) -> str:
        """The agent's final screen."""
        return self.ia.screen.text()[-base.TAIL_CHARS :]

    def sweep(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        if pane.width and pane.height:
            self.ia.resize(pane.width, pane.height)

    # -- a turn --------------------------------------------------------------------

    def start(self, rt: AgentRuntime, task: Task, attempt: Attempt) -> None:
        """Paste a prompt into the idle agent (bracketed paste), then press Enter."""
        run_dir = self.host.paths.run
        d = Dispatch.of(run_dir, task.id, attempt.number, attempt.nonce)
        run = self.begin(rt, task, attempt, d)
        try:
            assert rt.pane_id is not None
            self.host.tmux.paste(
                rt.pane_id, task.command, run_dir / f"{task.id}.{attempt.number}.prompt"
            )
            self.host.tmux.send_keys(rt.pane_id, "Enter")
        except (TmuxError, OSError, AssertionError) as exc:
            self.host.record(
                rt, Ended(AttemptOutcome.LOST, f"could not paste into the pane: {exc}")
            )
            return
        run.enter_at = self.host.clock()
        run.screen_at_enter = self.ia.screen.generation
        self.host.set_state(
            rt, AgentState.BUSY, f"prompt {task.id} sent (attempt {attempt.number})"
        )

    def check(self, rt: AgentRuntime, now: float) -> None:
        """Submission, completion, stalls and timeouts of the prompt given to the agent."""
        ia, kind = self.ia, self.kind
        self.observe(rt)
        run = rt.running
        if run is None:
            return
        raw = ia.read()
        if raw.state in (BUSY, WAITING):
            run.saw_busy = True
        settled = raw.state == IDLE and now - ia.changed_at >= kind.debounce
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
            self.host.record(rt, end)
            return
        stall = self.host.stall_timeout
        if rt.state == AgentState.STALLED and ia.progress_age() < stall:
            self.host.set_state(rt, AgentState.BUSY, "the screen shows progress again")
        elif rt.state == AgentState.BUSY and ia.progress_age() >= stall:
            detail = (
                f"stalled: no progress on screen for {ia.progress_age():.0f}s "
                "(only spinners and counters changed, and the status lines under the busy line)"
            )
            self.host.set_state(rt, AgentState.STALLED, detail)
            self.host.on_stall(rt, detail)

    def submit(self, rt: AgentRuntime, run: Running, now: float) -> None:
        """Whether the pasted prompt was taken; Enter once more if it still sits in the box."""
        holds = self.ia.holds_text(run.task.command)
        if run.saw_busy or (self.ia.screen.generation != run.screen_at_enter and not holds):
            run.submitted_at = now
        elif now - run.enter_at >= self.kind.submit_timeout:
            if holds and run.enter_retries == 0 and rt.pane_id:
                run.enter_retries, run.enter_at = 1, now
                self.host.tmux.send_keys(rt.pane_id, "Enter")
                self.host.event(
                    "task.resubmit",
                    f"{run.task.id}: the prompt was still in "
                    f"{rt.name}'s input box; pressed Enter again",
                    task_id=run.task.id,
                    agent=rt.name,
                )
            else:
                why = "still in the input box" if holds else "the screen never changed after Enter"
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
