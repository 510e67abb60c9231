"""Shell agents: a task is a command typed into the pane's shell, run by a wrapper that
reports its exit status twice (a sentinel in the output and an rc file)."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

from overseer.agents import health, runner
from overseer.agents.drivers import base
from overseer.agents.drivers.base import AgentDriver, AgentRuntime, Ended, Host, Running
from overseer.agents.insights import CPU_ACTIVE_RATE, CPU_NOTE
from overseer.agents.profiles import PromptMatch, match_prompt
from overseer.agents.runner import Status, hung_up, loss_reason
from overseer.agents.stream import to_text
from overseer.agents.tmux import PaneInfo, TmuxError
from overseer.state.models import AgentState, Attempt, AttemptOutcome, Task
from overseer.state.redact import mask

WRAPPER_START_GRACE = 10.0  # a typed wrapper that never wrote its pid file by then is lost
# While rc files are pushed to the driver as they are written, the sweep's look at each
# attempt's run files (a missed status, a wrapper that never started or died) comes this often.
POLL_PUSHED = 5.0
STARTING_FALLBACK = 5.0  # a custom shell command without a ready marker counts as idle after this
# An exit taken from its rc file waits for the rest of its output (up to its sentinel) to
# reach the log, the agent taking no new task meanwhile: while output still comes (a flood
# tmux has not caught up with), up to SETTLE_MAX; once the pane is quiet, SETTLE_WAIT.
SETTLE_WAIT = 1.0
SETTLE_MAX = 10.0


@dataclass
class Settling:
    """An attempt recorded from its rc file, whose last output may still be on its way
    through tmux into the log: its tail is written again if that output changes it."""

    run: Running
    tail: str  # the output tail as recorded
    since: float  # when it was recorded

    def given_up(self, rt: AgentRuntime, now: float) -> bool:
        """Whether its sentinel is not coming (tmux lost it): the tail stays as recorded."""
        quiet = now - max(self.since, rt.last_output_at or 0.0)
        return quiet >= SETTLE_WAIT or now - self.since >= SETTLE_MAX


class Typing:
    """An attempt's files and the line that starts it, written and typed off the loop (on the
    host's offload thread); once cancelled before it began, it never starts the attempt."""

    def __init__(self, host: Host, pane_id: str, line: str, files: runner.Files) -> None:
        self.host, self.pane_id, self.line, self.files = host, pane_id, line, files
        self.lock = threading.Lock()
        self.cancelled = False

    def run(self) -> None:
        """Write the files, then type the line (raises OSError or TmuxError)."""
        with self.lock:
            if self.cancelled:
                return
            runner.write_files(self.files)
            # A terminal answers queries a task printed (\x1b[c, \x1b[6n, OSC 10 ...) as if
            # typed; the shell's line holds those replies now. Clear it, or they would run
            # as commands in front of the wrapper. One call to tmux for both.
            self.host.tmux.send_text(self.pane_id, self.line, clear_line=True)

    def cancel(self) -> None:
        """From now on nothing is typed (waits for a typing in progress)."""
        with self.lock:
            self.cancelled = True


class ShellDriver(AgentDriver):
    """Wrapper, sentinel, rc files, ready marker and prompts of shell tasks."""

    task_kind: ClassVar[str] = "run"

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.scanner = runner.Scanner()
        self.last_line_of: tuple[int, int] = (0, -1)  # (ring, bytes seen) of the last line
        self.prompt_of: tuple[int, int] = (0, -1)  # the same, of the prompt looked for last
        self.prompt: PromptMatch | None = None
        self.typing: Typing | None = None  # the last attempt's files and line, off the loop
        self.settling: Settling | None = None
        self.tail_of: tuple[Running | None, int, str] = (None, -1, "")  # the last tail made

    def cancel_typing(self) -> None:
        """Make sure a line not typed yet is never typed."""
        if self.typing is not None:
            self.typing.cancel()

    def command(self, rt: AgentRuntime) -> str:
        return runner.shell_command(runner.agent_rcfile(self.host.paths.run, rt.name))

    def spawned(self, rt: AgentRuntime) -> None:
        self.scanner.reset()
        self.settling = None

    def catch_up(self, rt: AgentRuntime, size: int) -> None:
        # The last ring's worth: prompts, the tail of a task's output, a sentinel.
        rt.stream.seek(max(0, size - rt.stream.ring.capacity))
        while data := rt.stream.read_new():
            self.scanner.feed(data)
        self.scanner.trim()

    def adopt(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        busy = health.has_children(pane.pid)
        self.host.set_state(rt, AgentState.BUSY if busy else AgentState.IDLE, "re-adopted pane")

    # -- output --------------------------------------------------------------------

    def feed(self, rt: AgentRuntime, data: bytes) -> None:
        self.scanner.feed(data)
        if rt.state == AgentState.STARTING and self.scanner.ready(self.ready_nonce):
            self.host.set_state(rt, AgentState.PAUSED if rt.paused else AgentState.IDLE, "ready")
            self.host.hint()
        ending = self.settling
        if ending is not None and self.scanner.sentinel(ending.run.dispatch.nonce) is not None:
            self.settled(rt, ending)
        run = rt.running
        if run is None:
            return
        status = self.scanner.sentinel(run.dispatch.nonce)
        if status is not None:
            self.complete(rt, status)
        elif rt.state in (AgentState.STALLED, AgentState.WAITING) and run.stop_at is None:
            self.host.set_state(rt, AgentState.BUSY, "output resumed")

    def caught_up(self, rt: AgentRuntime) -> None:
        self.scanner.trim()

    def screen_prompt(self, rt: AgentRuntime) -> PromptMatch | None:
        """A prompt for a person at the end of the agent's output (its cursor line)."""
        ring = rt.stream.ring
        # A quiet busy agent is asked this on every pass: look again only after new output.
        if (id(ring), ring.total) != self.prompt_of:
            self.prompt = match_prompt(rt.stream.partial_line(), rt.stream.last_line())
            self.prompt_of = (id(ring), ring.total)
        return self.prompt

    def last_line(self, rt: AgentRuntime) -> str:
        ring = rt.stream.ring
        if (id(ring), ring.total) != self.last_line_of:  # decode only after new output
            rt.last_line = mask(rt.stream.last_line()[-200:])
            self.last_line_of = (id(ring), ring.total)
        return rt.last_line

    def output_tail(self, rt: AgentRuntime, run: Running) -> str:
        """The attempt's output, cleaned, without the echo of the typed line and the sentinel."""
        ring = rt.stream.ring
        if self.tail_of[0] is run and self.tail_of[1] == ring.total:
            return self.tail_of[2]  # made a moment ago (status_written compares with it)
        n = max(0, ring.total - run.mark)
        raw = ring.data()
        raw = raw[-n:] if n < len(raw) else raw
        raw = runner.SENTINEL_RE.sub(b"", raw)
        lines = to_text(raw).splitlines()
        if lines and str(run.dispatch.script) in lines[0]:
            lines = lines[1:]
        while lines and (not lines[-1].strip() or lines[-1].strip() == f"{rt.name}$"):
            lines.pop()
        tail = "\n".join(lines)[-base.TAIL_CHARS :]
        self.tail_of = (run, ring.total, tail)
        return tail

    def finishing(self, rt: AgentRuntime) -> bool:
        return self.settling is not None

    def settled(self, rt: AgentRuntime, ending: Settling) -> None:
        """The sentinel of an attempt recorded from its rc file reached the log: its output
        is complete now (nothing was typed into the pane since)."""
        self.settling = None
        tail = self.output_tail(rt, ending.run)
        if tail != ending.tail:
            self.host.store.set_attempt_tail(ending.run.attempt.id, tail)
        self.host.hint()

    # -- work ----------------------------------------------------------------------

    def start(self, rt: AgentRuntime, task: Task, attempt: Attempt) -> None:
        """Plan the wrapper; write it and type it into the agent's pane off the loop."""
        d, files = runner.plan(
            self.host.paths.run,
            task_id=task.id,
            number=attempt.number,
            nonce=attempt.nonce,
            command=task.command,
            agent=rt.name,
            cwd=task.cwd,
            env=task.env,
            verify=task.verify,
        )
        run = self.begin(rt, task, attempt, d)
        if rt.pane_id is None:
            self.lose(rt, "could not type into the pane: the agent has no pane")
            return
        self.typing = Typing(self.host, rt.pane_id, d.typed_line, files)
        self.host.set_state(rt, AgentState.BUSY, f"running {task.id} (attempt {attempt.number})")
        self.host.offload(self.typing.run, lambda exc: self.not_typed(rt, run, exc))

    def not_typed(self, rt: AgentRuntime, run: Running, exc: BaseException) -> None:
        """The attempt's files or line did not make it (on the loop's thread)."""
        if not isinstance(exc, TmuxError):
            raise exc  # its files could not be written: the store's disk fails too (halt)
        if rt.running is run:
            # Nothing ran unless the wrapper wrote its pid: then no try is used (lose()).
            self.lose(rt, f"could not type into the pane: {exc}")

    def check(self, rt: AgentRuntime, now: float) -> None:
        if self.settling is not None and self.settling.given_up(rt, now):
            self.settling = None
            self.host.hint()
        if (
            rt.state == AgentState.STARTING
            and rt.spec.command
            and now - rt.state_since >= STARTING_FALLBACK
        ):
            self.host.set_state(rt, AgentState.IDLE, "no ready marker; assuming idle")
            self.host.hint()
        run = rt.running
        if run is None:
            return
        if run.stop_at is not None:
            self.escalate_stop(rt, run, now)
            return
        if run.deadline is not None and now >= run.deadline:
            self.host.stop(rt, AttemptOutcome.TIMEOUT, f"timed out after {run.task.timeout:g}s")
            return
        quiet = now - max(rt.last_output_at or 0.0, run.started)
        if rt.state != AgentState.BUSY or quiet < rt.profile.quiet_before_waiting:
            return
        # A prompt on screen is a person's turn, however long ago it was printed: it is
        # looked for before silence counts as a stall.
        m = self.screen_prompt(rt)
        if m is not None:
            rt.prompt = mask(m.text)
            self.host.set_state(rt, AgentState.WAITING, f"waiting at prompt: {m.text}")
        elif quiet >= self.host.stall_timeout:
            detail = f"stalled: no output for {quiet:.0f}s"
            if rt.cpu_rate >= CPU_ACTIVE_RATE:
                detail += f"; {CPU_NOTE}"  # silent but working: insights tell the difference
            self.host.set_state(rt, AgentState.STALLED, detail)
            self.host.on_stall(rt, detail)

    def sweep(self, rt: AgentRuntime, pane: PaneInfo) -> None:
        if rt.state == AgentState.BUSY and rt.running is None and not health.has_children(pane.pid):
            self.host.set_state(
                rt, AgentState.PAUSED if rt.paused else AgentState.IDLE, "job ended"
            )
            self.host.hint()

    def still_running(self, rt: AgentRuntime, pane: PaneInfo) -> bool:
        return health.has_children(pane.pid)

    def readopt(self, rt: AgentRuntime) -> None:
        run = rt.running
        assert run is not None
        task, attempt = run.task, run.attempt
        status = runner.read_rc(run.dispatch.rc_path)
        if status is not None:
            self.host.event(
                "task.recovered",
                f"{task.id} attempt {attempt.number} finished while the supervisor was down",
                task_id=task.id,
                agent=rt.name,
            )
            self.complete(rt, status)
            return
        pid = runner.read_pid(run.dispatch.pid_path)
        if rt.state == AgentState.STARTING or (
            pid is not None and not health.wrapper_alive(pid, run.dispatch.script.name)
        ):
            self.lose(rt, "lost while the supervisor was down")
            return
        m = None
        if self.host.clock() - (rt.last_output_at or 0.0) >= rt.profile.quiet_before_waiting:
            m = self.screen_prompt(rt)  # it waited for a person all along
        if m is not None:
            rt.prompt = mask(m.text)
            self.host.set_state(rt, AgentState.WAITING, f"re-adopted at prompt: {m.text}")
        else:
            self.host.set_state(
                rt, AgentState.BUSY, f"re-adopted {task.id} attempt {attempt.number}"
            )
        self.host.event(
            "task.readopted",
            f"{task.id} attempt {attempt.number} still running in {rt.name}; re-adopted",
            task_id=task.id,
            agent=rt.name,
        )

    # -- ends ----------------------------------------------------------------------

    def interrupt(self, rt: AgentRuntime, run: Running) -> None:
        self.cancel_typing()  # a line not typed yet never will be: nothing starts after a stop
        # With SIGCONT first: a stopped group (Ctrl-Z, `kill -TSTP 0`) would hold SIGTERM.
        if not run.dispatch.stop(signal.SIGTERM) and rt.pane_id:
            self.host.tmux.interrupt(rt.pane_id)

    def escalate_stop(self, rt: AgentRuntime, run: Running, now: float) -> None:
        """SIGKILL what survived SIGTERM; give up on a status that never comes."""
        assert run.stop_at is not None
        if not run.killed and now - run.stop_at >= base.STOP_GRACE:
            run.killed = True
            if run.lost is not None:
                self.lose(rt, run.lost)  # SIGKILL to what is left, then the loss is recorded
                return
            run.dying = run.dispatch.kill() or []
            if run.pending is not None:
                self.complete(rt, run.pending)
        elif run.killed and now - run.stop_at >= base.STOP_GRACE + base.STOP_GIVE_UP:
            self.lose(rt, f"{run.stop_detail}; no status after SIGKILL")

    def poll(self, rt: AgentRuntime, now: float) -> None:
        """Take a status from the rc file when the sentinel was missed; notice lost wrappers."""
        run = rt.running
        if run is None or (self.host.statuses_pushed and now - run.polled_at < POLL_PUSHED):
            return
        run.polled_at = now
        if self.take_rc(rt, run):
            return
        pid = runner.read_pid(run.dispatch.pid_path)
        if pid is None:
            if now - run.started >= WRAPPER_START_GRACE and not health.has_children(rt.pid):
                # Nothing ran, so no side effect happened: requeue without using a try.
                self.host.record(
                    rt, Ended(AttemptOutcome.RELEASED, "the task never started in the pane")
                )
            return
        run.wrapper_seen = True
        if not health.wrapper_alive(pid, run.dispatch.script.name):
            status = runner.read_rc(run.dispatch.rc_path)
            if status is not None:
                self.complete(rt, status)
            else:
                self.lose(rt, "the wrapper ended without a status")

    def status_written(self, rt: AgentRuntime) -> None:
        if rt.running is not None:
            self.take_rc(rt, rt.running)

    def take_rc(self, rt: AgentRuntime, run: Running) -> bool:
        """Record the status in the attempt's rc file, if it holds one (True)."""
        status = runner.read_rc(run.dispatch.rc_path)
        if status is None:
            return False
        self.from_rc(rt, run, status)
        return True

    def from_rc(self, rt: AgentRuntime, run: Running, status: Status) -> None:
        """Record the status in the attempt's rc file (the truth, written before the sentinel
        is printed), without waiting for the sentinel to come through tmux."""
        self.read(rt)  # the sentinel may be in the log already: then that path records it
        if rt.running is not run:
            return
        self.complete(rt, status)
        if rt.running is None and rt.state not in (AgentState.DEAD, AgentState.STARTING):
            # Recorded with the output the log held; the rest (if any) comes before the
            # sentinel, since the task printed it before the wrapper printed that.
            tail = self.output_tail(rt, run)
            self.settling = Settling(run, tail, self.host.clock())

    def complete(self, rt: AgentRuntime, status: Status) -> None:
        """Record a reported exit status for the agent's running attempt."""
        run = rt.running
        if run is None or (run.lost is not None and not run.killed):
            return  # a loss whose processes are being ended: escalate_stop records it
        gone = self.terminal_gone(rt) if hung_up(status) else None
        if gone is not None:
            # The terminal went away under the task: that is the agent dying, not a result.
            if not self.host.tmux.alive():
                self.host.tmux_down("the server died under a task")  # it settles every attempt
            elif gone == "shell replaced":
                self.lose(rt, f"agent died: {gone}")  # the new shell lives: nothing to respawn
            else:
                # The rc file is often read before the sweep finds the pane gone: the agent
                # dies here as it would there (the attempt lost, the agent respawned).
                self.host.agent_gone(rt, gone)
            return
        outcome, code, sig, reason = runner.judge(status, run.task.verify)
        if run.release:
            outcome, reason = AttemptOutcome.RELEASED, "released by operator"
        elif run.stop_outcome is not None and outcome != AttemptOutcome.OK:
            outcome, reason = run.stop_outcome, run.stop_detail
        if run.stop_at is not None:
            # A stopped attempt's processes that outlived its task (a daemon it started) had
            # SIGTERM with the rest: the status waits until they are gone (the sweep looks
            # again) or were SIGKILLed after the grace (escalate_stop). The loop never waits.
            if not run.killed and (left := run.dispatch.processes(spare_wrapper=True)):
                # Processes of the task's own group still dying of the stop's SIGTERM are the
                # stop at work; those that left the group (a daemon) are named as leftovers.
                run.pending, run.leftovers = status, run.dispatch.outside_group(left)
                return
            if run.killed or run.leftovers:  # else nothing was left a moment ago
                note = self.end_processes(run, 0.0, spare_wrapper=True)
                if note:
                    reason = f"{reason}; {note}" if reason else note
        self.host.record(
            rt,
            Ended(
                outcome,
                reason,
                exit_code=code,
                sig=sig,
                learned_at=runner.written_at(run.dispatch.rc_path),
            ),
        )

    def end_processes(self, run: Running, grace: float, *, spare_wrapper: bool = False) -> str:
        """End what is left of an attempt before it is settled; a note for its reason."""
        ended = run.dispatch.end(
            grace, spare_wrapper=spare_wrapper, also=run.leftovers, dying=run.dying
        )
        note = ended.note()
        if ended.survivors:
            self.host.event(
                "task.survivors",
                f"{run.task.id} attempt {run.attempt.number}: {note}",
                task_id=run.task.id,
            )
        return note

    def settle_loss(
        self, rt: AgentRuntime, run: Running, reason: str, lost: AttemptOutcome, wait: bool
    ) -> None:
        """What is left of a lost attempt (a task that ignores SIGHUP, a daemon it started in
        a session of its own) must not run beside its retry. Its wrapper is killed at once
        (SIGKILL: no status it writes from then on would be the task's), the rest gets
        SIGCONT and SIGTERM, and the loss is recorded once they are SIGKILLed after the grace
        (escalate_stop), or, with `wait`, after waiting here for them.
        """
        if run.lost is not None and not run.killed and not wait:
            return  # already being ended
        self.cancel_typing()
        status = runner.read_rc(run.dispatch.rc_path)
        if status is not None and not hung_up(status):
            if run.lost is not None:  # it finished in the instant before its wrapper was killed
                run.lost, run.killed = None, True
            self.complete(rt, status)  # it finished before the agent died
            return
        if status is None and runner.read_pid(run.dispatch.pid_path) is None:
            # The wrapper writes its pid before the task starts; without it the task never
            # ran, so it goes back to the queue without using a try.
            self.host.record(
                rt, Ended(AttemptOutcome.RELEASED, f"{reason}, before the task started")
            )
            return
        if run.lost is None and not run.killed and not wait:
            rest = run.dispatch.abandon()
            if rest:
                health.signal_processes(rest, signal.SIGTERM)
                run.lost, run.lost_as, run.leftovers = reason, lost, rest
                run.stop_at = run.stop_at or self.host.clock()
                return
        if run.killed:
            grace = 0.0
        else:
            now = self.host.clock()
            grace = base.STOP_GRACE if run.stop_at is None else run.stop_at + base.STOP_GRACE - now
        run.killed = True
        note = self.end_processes(run, max(0.0, grace))
        if status is None:
            status = runner.read_rc(run.dispatch.rc_path)  # unless it finished just before
            if status is not None and not hung_up(status):
                run.lost = None
                self.complete(rt, status)
                return
        self.host.record(rt, Ended(lost, loss_reason(reason, note, hangup=status is not None)))

    def settle_end(self, rt: AgentRuntime) -> None:
        ending = self.settling
        while ending is not None and self.settling is ending:
            self.read(rt)  # no loop follows: the last output of a recorded attempt, now
            if self.settling is ending and not ending.given_up(rt, self.host.clock()):
                time.sleep(0.005)
            else:
                break
        self.settling = None
        run = rt.running
        if run is None or run.stop_at is None or run.killed:
            return
        if run.lost is not None:
            self.lose(rt, run.lost, wait=True)
        elif run.pending is not None:
            health.wait_gone(run.leftovers, run.stop_at + base.STOP_GRACE - self.host.clock())
            run.killed = True
            self.complete(rt, run.pending)  # SIGKILL to what is left, then recorded

    def terminal_gone(self, rt: AgentRuntime) -> str | None:
        """How the agent's shell, its pane or the whole tmux server went away (None: they
        did not)."""
        if rt.running is not None and rt.running.shell_pid != rt.pid:
            return "shell replaced"  # the attempt's shell was respawned while we were down
        try:
            pane = self.host.tmux.window_pane(rt.name)
        except TmuxError:
            return "tmux server gone"
        if pane is None or pane.pane_id != rt.pane_id:
            return "pane gone"
        if pane.dead or not health.alive(rt.pid):
            return "shell exited"
        return None
