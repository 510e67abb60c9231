"""Exit codes, sentinels, verify and output tails, read from real panes."""

from __future__ import annotations

import json
import sys

from overseer.state.models import AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project

AGENTS = """
agents:
  - {name: w, kind: shell, count: 3}
"""


def test_exit_codes_are_recorded_exactly(project: Project) -> None:
    project.write(
        AGENTS
        + r"""
tasks:
  - {id: zero, run: "echo fine"}
  - {id: three, run: "echo about to fail; exit 3", max_attempts: 1}
  - {id: missing, run: "no_such_command_ovs_test", max_attempts: 1}
  - {id: killed, run: "kill -KILL $$", max_attempts: 1}
  - id: fake
    max_attempts: 1
    run: |
      printf '\036OVS:0123456789abcdef:0:-\036\n'; echo OVS:0123456789abcdef:0:-; exit 5
""",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
    )
    proc = project.cli("run", "--until-done", "--timeout", "60")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    store = project.store
    codes = {t.id: (t.state, t.exit_code) for t in store.tasks()}
    assert codes == {
        "zero": (TaskState.DONE, 0),
        "three": (TaskState.FAILED, 3),
        "missing": (TaskState.FAILED, 127),
        "killed": (TaskState.FAILED, 137),
        "fake": (TaskState.FAILED, 5),
    }
    killed = store.attempts("killed")[0]
    assert killed.signal == 9
    three = store.attempts("three")[0]
    assert three.outcome == AttemptOutcome.FAILED
    assert "about to fail" in three.output_tail
    # The echo of the typed line and the sentinel itself are not part of the tail.
    assert "OVS:" not in three.output_tail.replace("OVS:0123", "")
    assert ".sh" not in three.output_tail
    missing = store.attempts("missing")[0]
    assert "command not found" in missing.output_tail


def test_verify_decides_success_after_a_zero_exit(project: Project) -> None:
    project.write(
        AGENTS
        + """
tasks:
  - {id: makes-file, run: "touch report.xml", verify: "test -f report.xml"}
  - {id: no-file, run: "true", verify: "test -f nowhere.xml", max_attempts: 1}
""",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    assert project.task_state("makes-file") == TaskState.DONE
    assert project.task_state("no-file") == TaskState.FAILED
    attempt = project.store.attempts("no-file")[0]
    assert attempt.exit_code == 0 and attempt.reason == "verify failed (exit 1)"


def test_commands_run_verbatim(project: Project) -> None:
    # Quotes, $, backticks, ;, newlines and unicode reach the shell exactly as written.
    project.write(
        AGENTS
        + """
tasks:
  - id: tricky
    run: |
      x='it''s "quoted" $HOME `not run`'; printf '%s\\n' "$x" > out.txt
      echo "naïve ☃ 日本" >> out.txt; echo second line >> out.txt
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    text = (project.root / "out.txt").read_text(encoding="utf-8")
    assert text == 'its "quoted" $HOME `not run`\nnaïve ☃ 日本\nsecond line\n'


def test_tasks_see_their_identity_and_env(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, env: {FROM_AGENT: a1}}
tasks:
  - {id: who, run: 'echo "$OVERSEER_TASK $OVERSEER_ATTEMPT $OVERSEER_AGENT $FROM_AGENT $FROM_TASK" > who.txt', env: {FROM_TASK: t1}}
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    assert (project.root / "who.txt").read_text().split() == ["who", "1", "w", "a1", "t1"]


FORGER = r"""
script=$(tr '\0' '\n' < /proc/$PPID/cmdline | grep '\.sh$')
for f in "$script" "${script%.sh}".* /proc/$PPID/cmdline /proc/$PPID/environ \
         /proc/$$/cmdline /proc/$$/environ /proc/$PPID/fd/* /proc/$$/fd/*; do
  [ -f "$f" ] || continue  # files only: reading the terminal would block
  for n in $(tr -c '0-9a-f' '\n' < "$f" | grep -E '^[0-9a-f]{16,64}$' | sort -u); do
    echo "$n" >> candidates.txt
    printf '\n\036OVS:%s:0:-\036\n' "$n"
  done
done
sleep 1
exit 9
"""


def test_a_task_cannot_forge_its_sentinel_from_what_it_can_read(project: Project) -> None:
    # The wrapper's path is in /proc/$PPID/cmdline: the task reads the wrapper script, the
    # attempt's other run files, its own and its wrapper's command line, environment and
    # open files, and prints a sentinel "exit 0" for every hex string it finds there.
    project.write(
        "agents:\n  - {name: w, kind: shell}\ntasks:\n"
        f"  - {{id: forger, max_attempts: 1, run: {json.dumps(FORGER)}}}\n"
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    (attempt,) = project.store.attempts("forger")
    assert attempt.outcome == AttemptOutcome.FAILED and attempt.exit_code == 9, attempt
    # It did find hex strings (the attempt's process marker among them), none of use.
    found = (project.root / "candidates.txt").read_text().split()
    assert any(len(n) == 24 for n in found), found


def test_a_verify_command_of_300_kb_runs(project: Project) -> None:
    # One argument may hold 128 KiB at most: a long verify goes through a file, as run: does.
    pad = ": '" + "x" * 300_000 + "'\n"
    project.write(
        AGENTS
        + "tasks:\n"
        + f"  - {{id: pass, run: 'touch made.txt', verify: {json.dumps(pad + 'test -f made.txt')}}}\n"
        + f"  - {{id: fail, run: 'true', max_attempts: 1, verify: {json.dumps(pad + 'exit 3')}}}\n",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    assert project.task_state("pass") == TaskState.DONE
    (failed,) = project.store.attempts("fail")
    assert failed.exit_code == 0 and failed.reason == "verify failed (exit 3)", failed


# `overseer run` with the once-a-second sweep (its look at rc files among the rest) pushed an
# hour away: a status can only come from the sentinel in the log or from the rc file at once.
RUN_WITHOUT_SWEEP = """
import sys
import overseer.agents.supervisor as sup
sup.SWEEP_INTERVAL = 3600.0
from overseer.tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_an_exit_is_recorded_from_its_rc_file_when_its_output_never_reaches_the_log(
    project: Project,
) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: gated, max_attempts: 1, run: "until [ -e go ]; do sleep 0.05; done; echo after-the-pipe; exit 4"}
  - {id: next, run: "echo second; exit 0"}
""",
    )
    proc = project.start(program=[sys.executable, "-c", RUN_WITHOUT_SWEEP])
    project.wait_task("gated", TaskState.RUNNING)
    wait_until(lambda: project.agent_state("w") == "busy", message="the task never started")
    agent = project.store.agent("w")
    assert agent is not None and agent.pane_id
    run = project.state_dir / "run"
    # The rc files of attempts that do not run (a later attempt of the same task, another
    # task's) are nobody's status.
    (run / "gated.2.rc").write_text("0 -\n")
    (run / "next.1.rc").write_text("0 -\n")
    # Nothing the pane prints reaches the log from here on: no sentinel will ever be read.
    project.tmux.run("pipe-pane", "-t", agent.pane_id)
    (project.root / "go").touch()
    project.wait_task("gated", TaskState.FAILED, timeout=30)
    (attempt,) = project.store.attempts("gated")
    assert (attempt.outcome, attempt.exit_code) == (AttemptOutcome.FAILED, 4)
    # The agent goes on: its next task too is known from its rc file alone.
    project.wait_task("next", TaskState.DONE, timeout=30)
    assert [a.exit_code for a in project.store.attempts("next")] == [0]
    log = (project.state_dir / "logs" / "w.log").read_bytes()
    assert b"after-the-pipe" not in log and b"second" not in log
    proc.terminate()
    proc.wait(timeout=30)
