"""Every suggestion rule on hand-made snapshots, plus ranking, masking and the dict contract."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from overseer.agents import insights
from overseer.agents.insights import CPU_NOTE, Disk, Snapshot, suggest
from overseer.state.models import (
    SUGGESTION_ACTIONS,
    Agent,
    AgentState,
    Attempt,
    AttemptOutcome,
    Suggestion,
    Task,
    TaskState,
)

NOW = 1_700_000_000.0
_ids = itertools.count(1)
F = AttemptOutcome


def task(tid: str, state: TaskState, **kw: Any) -> Task:
    kw.setdefault("command", "make it")
    kw.setdefault("updated_at", NOW - 30)
    return Task(id=tid, state=state, **kw)


def attempt(
    tid: str,
    number: int,
    outcome: AttemptOutcome,
    code: int | None = None,
    *,
    reason: str | None = None,
    tail: str = "",
    agent: str = "w",
    finished: float | None = None,
) -> Attempt:
    return Attempt(
        id=next(_ids),
        task_id=tid,
        number=number,
        agent=agent,
        started_at=NOW - 100 + number,
        outcome=outcome,
        finished_at=NOW - 50 + number if finished is None else finished,
        exit_code=code,
        reason=reason,
        output_tail=tail,
    )


def agent(name: str, state: AgentState, **kw: Any) -> Agent:
    kw.setdefault("kind", "shell")
    kw.setdefault("state_since", NOW - 20)
    return Agent(name=name, state=state, **kw)


def snap(
    tasks: Sequence[Task] = (),
    attempts: Sequence[Attempt] = (),
    agents: Sequence[Agent] = (),
    **kw: Any,
) -> Snapshot:
    by_task: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_task.setdefault(a.task_id, []).append(a)
    return Snapshot(
        now=NOW,
        tasks=tuple(tasks),
        attempts={k: tuple(sorted(v, key=lambda a: a.number)) for k, v in by_task.items()},
        agents=tuple(agents),
        **kw,
    )


def only(items: list[Suggestion], **match: str) -> Suggestion:
    found = [s for s in items if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, items)
    return found[0]


def of(items: list[Suggestion], target: str) -> list[tuple[str, str]]:
    return [(s.action, s.rule) for s in items if s.target_id == target]


# -- exit 127 / 126 ---------------------------------------------------------------------------


def test_command_not_found_suggests_edit_command_and_never_a_retry() -> None:
    tail = "starting\nbash: line 1: no-such-tool: command not found"
    s = snap(
        [task("build", TaskState.FAILED, attempts=2, max_attempts=2, command="no-such-tool -x")],
        [
            attempt("build", 1, F.FAILED, 127, tail=tail),
            attempt("build", 2, F.FAILED, 127, tail=tail),
        ],
    )
    items = suggest(s)
    assert of(items, "build") == [("edit-command", "command-not-found")]  # no retry, no block
    sug = items[0]
    assert "`no-such-tool`" in sug.reason and "retry will fail" in sug.reason
    assert "output: no-such-tool: command not found" in sug.evidence
    assert "exit 127 on attempt 2 of 2" in sug.evidence
    assert sug.confidence >= 0.9


def test_not_executable_126_and_a_pending_retry_is_more_urgent() -> None:
    tail = "bash: ./deploy.sh: Permission denied"
    backing_off = task("a", TaskState.READY, attempts=1, retry_at=NOW + 5, command="./deploy.sh")
    failed = task("b", TaskState.FAILED, attempts=1, max_attempts=1, command="./deploy.sh")
    items = suggest(
        snap(
            [backing_off, failed],
            [attempt("a", 1, F.FAILED, 126, tail=tail), attempt("b", 1, F.FAILED, 126, tail=tail)],
        )
    )
    a, b = only(items, target_id="a"), only(items, target_id="b")
    assert a.action == b.action == "edit-command"
    assert "not executable" in a.reason
    assert a.urgency > b.urgency
    assert [s.target_id for s in items] == ["a", "b"]


def test_command_not_found_without_the_message_still_names_the_command() -> None:
    items = suggest(
        snap(
            [task("x", TaskState.FAILED, attempts=1, command="frobnicate --all")],
            [attempt("x", 1, F.FAILED, 127)],
        )
    )
    sug = only(items, target_id="x")
    assert "`frobnicate`" in sug.reason and sug.confidence < 0.9


# -- same failure every time -----------------------------------------------------------------


def test_same_exit_code_on_every_attempt_suggests_block_with_the_reason() -> None:
    tail = 'error: relation "users" does not exist'
    items = suggest(
        snap(
            [task("db", TaskState.FAILED, attempts=2, max_attempts=2)],
            [attempt("db", 1, F.FAILED, 2, tail=tail), attempt("db", 2, F.FAILED, 2, tail=tail)],
        )
    )
    sug = only(items, target_id="db")
    assert (sug.action, sug.rule) == ("block", "same-failure")
    assert sug.text == "same failure on all 2 attempts: exit 2"
    assert f"same last output each time: {tail}" in sug.evidence
    assert insights.operator_command(sug) == ("block", "db", {"reason": sug.text})


def test_same_failure_while_backing_off_is_urgent_and_different_codes_are_not_blocked() -> None:
    ready = task("r", TaskState.READY, attempts=2, max_attempts=3, retry_at=NOW + 4)
    mixed = task("m", TaskState.FAILED, attempts=2, max_attempts=2)
    items = suggest(
        snap(
            [ready, mixed],
            [
                attempt("r", 1, F.FAILED, 1),
                attempt("r", 2, F.FAILED, 1),
                attempt("m", 1, F.FAILED, 1),
                attempt("m", 2, F.FAILED, 3),
            ],
        )
    )
    r = only(items, target_id="r")
    assert r.action == "block" and r.urgency >= 0.7 and "would be retried" in r.reason
    m = only(items, target_id="m")
    assert (m.action, m.rule) == ("retry", "failed") and "exit 1, 3" in m.reason


def test_one_failure_is_no_pattern() -> None:
    items = suggest(
        snap(
            [task("t", TaskState.FAILED, attempts=1, max_attempts=1)],
            [attempt("t", 1, F.FAILED, 1)],
        )
    )
    assert of(items, "t") == [("retry", "failed")]


def test_a_lost_attempt_is_retried_with_confidence() -> None:
    items = suggest(
        snap(
            [task("t", TaskState.FAILED, attempts=1, max_attempts=1)],
            [attempt("t", 1, F.LOST, reason="agent died: pane gone")],
        )
    )
    sug = only(items, target_id="t")
    assert sug.action == "retry" and sug.confidence >= 0.7 and "not failed" in sug.reason


# -- flaky ------------------------------------------------------------------------------------


def test_failed_then_passed_is_noted_as_flaky() -> None:
    items = suggest(
        snap(
            [task("dl", TaskState.DONE, attempts=2)],
            [attempt("dl", 1, F.FAILED, 3), attempt("dl", 2, F.OK, 0)],
        )
    )
    sug = only(items, target_id="dl")
    assert sug.rule == "flaky" and "flaky" in sug.reason and "exit 3" in sug.reason
    assert sug.urgency < 0.3  # a note, never ahead of real trouble
    assert "Nothing to do now" in insights.howto(sug)


def test_passing_after_a_lost_attempt_or_first_time_is_not_flaky() -> None:
    items = suggest(
        snap(
            [task("a", TaskState.DONE, attempts=2), task("b", TaskState.DONE, attempts=1)],
            [attempt("a", 1, F.LOST), attempt("a", 2, F.OK, 0), attempt("b", 1, F.OK, 0)],
        )
    )
    assert items == []


# -- timeouts ---------------------------------------------------------------------------------


def test_timeout_at_a_prompt_suggests_making_it_non_interactive() -> None:
    tail = "ready to deploy\nDeploy to staging? [y/N] Terminated"
    items = suggest(
        snap(
            [task("deploy", TaskState.FAILED, attempts=1, max_attempts=1, timeout=12.0)],
            [attempt("deploy", 1, F.TIMEOUT, 143, reason="timed out after 12s", tail=tail)],
        )
    )
    sug = only(items, target_id="deploy")
    assert (sug.action, sug.rule) == ("edit-command", "timeout-at-prompt")
    assert "last output: Deploy to staging? [y/N]" in sug.evidence
    assert "non-interactive" in insights.howto(sug)


def test_repeated_timeouts_suggest_raising_the_timeout() -> None:
    one = task("one", TaskState.FAILED, attempts=1, max_attempts=1, timeout=5.0)
    two = task("two", TaskState.FAILED, attempts=2, max_attempts=2, timeout=5.0)
    items = suggest(
        snap(
            [one, two],
            [
                attempt("one", 1, F.TIMEOUT, 143, reason="timed out after 5s", tail="step 9"),
                attempt("two", 1, F.TIMEOUT, 143, reason="timed out after 5s", tail="step 9"),
                attempt("two", 2, F.TIMEOUT, 143, reason="timed out after 5s", tail="step 9"),
            ],
        )
    )
    a, b = only(items, target_id="one"), only(items, target_id="two")
    assert a.action == b.action == "raise-timeout"
    assert "on all 2 attempts" in b.reason and b.confidence > a.confidence
    assert insights.operator_command(b) is None  # a person changes the timeout


# -- stalls -----------------------------------------------------------------------------------


def test_stalled_earlier_while_using_cpu_suggests_raise_timeout() -> None:
    reason = f"stalled: no output for 6s; {CPU_NOTE}"
    items = suggest(
        snap(
            [task("crunch", TaskState.BLOCKED, attempts=1, blocked_reason=reason)],
            [attempt("crunch", 1, F.STALLED, 143, reason=reason)],
            stall_timeout=6.0,
        )
    )
    sug = only(items, target_id="crunch")
    assert (sug.action, sug.rule) == ("raise-timeout", "stalled-busy")
    assert "stall_timeout 6s" in sug.evidence


def test_stalled_earlier_while_idle_suggests_retry() -> None:
    reason = "stalled: no output for 6s"
    items = suggest(
        snap(
            [task("sync", TaskState.BLOCKED, attempts=1, blocked_reason=reason)],
            [attempt("sync", 1, F.STALLED, 143, reason=reason, tail="syncing mirror\nTerminated")],
        )
    )
    sug = only(items, target_id="sync")
    assert (sug.action, sug.rule) == ("retry", "stalled-idle")
    assert "last output: syncing mirror" in sug.evidence
    assert insights.operator_command(sug) == ("retry", "sync", {})


def test_stalled_now_idle_interrupts_busy_waits() -> None:
    idle = agent("w1", AgentState.STALLED, task_id="a", last_output_at=NOW - 40)
    busy = agent("w2", AgentState.STALLED, task_id="b", last_output_at=NOW - 40)
    running = [task("a", TaskState.RUNNING), task("b", TaskState.RUNNING)]
    items = suggest(snap(running, agents=[idle, busy], cpu_active=frozenset({"w2"})))
    i = only(items, target_id="w1")
    assert (i.action, i.rule) == ("interrupt", "stalled-idle") and "then retry" in i.reason
    assert insights.operator_command(i) == ("interrupt", "w1", {})
    b = only(items, target_id="b")
    assert (b.action, b.rule) == ("raise-timeout", "stalled-busy") and CPU_NOTE in b.evidence


def test_another_hosts_agent_is_judged_by_its_heartbeat_not_by_this_hosts_cpu() -> None:
    # Host a's supervisor samples only its own agents: b/w's busy CPU shows in its heartbeat.
    mine = agent("a/w", AgentState.STALLED, task_id="a", last_output_at=NOW - 60)
    theirs = agent(
        "b/w", AgentState.STALLED, task_id="b", last_output_at=NOW - 60, heartbeat_at=NOW - 1
    )
    running = [task("a", TaskState.RUNNING), task("b", TaskState.RUNNING)]
    items = suggest(snap(running, agents=[mine, theirs], cpu_active=frozenset(), here="a"))
    assert only(items, target_id="a/w").rule == "stalled-idle"
    assert only(items, target_id="b").rule == "stalled-busy"


def test_stalled_now_judges_cpu_from_heartbeats_without_a_supervisor_hint() -> None:
    quiet_beating = agent(
        "w", AgentState.STALLED, task_id="a", last_output_at=NOW - 60, heartbeat_at=NOW - 1
    )
    items = suggest(snap([task("a", TaskState.RUNNING)], agents=[quiet_beating]))
    assert only(items, target_id="a").action == "raise-timeout"
    silent = agent(
        "w", AgentState.STALLED, task_id="a", last_output_at=NOW - 60, heartbeat_at=NOW - 60
    )
    items = suggest(snap([task("a", TaskState.RUNNING)], agents=[silent]))
    assert only(items, target_id="w").action == "interrupt"


def test_a_stall_being_stopped_already_gets_no_suggestion() -> None:
    stalled = agent("w", AgentState.STALLED, task_id="a", last_output_at=NOW - 60)
    assert (
        suggest(snap([task("a", TaskState.RUNNING)], agents=[stalled], stopping=frozenset({"w"})))
        == []
    )


# -- prompts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "action", "text"),
    [
        ("Deploy to staging? [y/N]", "answer", "y"),
        ("Overwrite existing file (yes/no)", "answer", "yes"),
        ("Continue with the upgrade?", "answer", "y"),
        ("Press Enter to continue", "answer", ""),
        ("Enter your choice number:", "send-input", None),
        ("Password:", "attach", None),
        ("[sudo] password for bob:", "attach", None),
        ("Enter API token:", "attach", None),
        ("Are you sure you want to continue connecting (yes/no/[fingerprint])?", "attach", None),
    ],
)
def test_waiting_prompts(prompt: str, action: str, text: str | None) -> None:
    waiting = agent("w", AgentState.WAITING, task_id="t", prompt=prompt)
    sug = only(suggest(snap([task("t", TaskState.RUNNING)], agents=[waiting])), target_id="w")
    assert (sug.action, sug.text) == (action, text)
    assert f"prompt: {prompt}" in sug.evidence


def test_a_password_prompt_is_never_answered() -> None:
    waiting = agent("w", AgentState.WAITING, task_id="t", prompt="Password:")
    sug = only(suggest(snap([task("t", TaskState.RUNNING)], agents=[waiting])), target_id="w")
    assert sug.rule == "secret-prompt" and sug.urgency >= 0.9 and sug.confidence >= 0.9
    assert insights.operator_command(sug) is None
    assert "tmux -L lbl attach -t w" in insights.howto(sug, tmux_label="lbl")


def test_answer_applies_as_send() -> None:
    waiting = agent("w", AgentState.WAITING, task_id="t", prompt="Deploy? [y/N]")
    sug = only(suggest(snap([task("t", TaskState.RUNNING)], agents=[waiting])), target_id="w")
    assert insights.operator_command(sug) == ("send", "w", {"text": "y", "enter": True})


# -- agents -----------------------------------------------------------------------------------


def test_dead_agent_respawn_and_respawn_loop_needs_investigation() -> None:
    loop = agent(
        "a",
        AgentState.DEAD,
        reason="respawn loop: 3 restarts in 60s; last: shell exited",
        last_line="broken agent",
    )
    once = agent("b", AgentState.DEAD, reason="respawn failed: no such window")
    items = suggest(snap(agents=[loop, once]))
    a, b = only(items, target_id="a"), only(items, target_id="b")
    assert a.action == b.action == "respawn-agent"
    assert a.confidence < 0.5 < b.confidence
    assert "last output: broken agent" in a.evidence and "check its command" in a.reason
    assert insights.operator_command(b) == ("respawn", "b", {})


def test_paused_agent_whose_failures_came_from_one_task_is_resumed_with_confidence() -> None:
    paused = agent(
        "w", AgentState.PAUSED, reason="paused after 2 consecutive failures", consecutive_failures=2
    )
    items = suggest(
        snap(
            [task("bad", TaskState.FAILED, attempts=2, max_attempts=2)],
            [attempt("bad", 1, F.FAILED, 1, agent="w"), attempt("bad", 2, F.FAILED, 1, agent="w")],
            agents=[paused, agent("v", AgentState.IDLE)],
        )
    )
    sug = only(items, target_id="w")
    assert sug.action == "resume-agent" and sug.confidence >= 0.7 and "bad" in sug.reason
    assert "bad attempt 2: exit 1" in sug.evidence
    assert insights.operator_command(sug) == ("resume", "w", {})


def test_paused_agent_failing_in_many_tasks_or_stopping_the_fleet() -> None:
    paused = agent(
        "w", AgentState.PAUSED, reason="paused after 2 consecutive failures", consecutive_failures=2
    )
    tasks = [
        task("x", TaskState.FAILED, attempts=1, max_attempts=1),
        task("y", TaskState.FAILED, attempts=1, max_attempts=1),
        task("z", TaskState.READY),
    ]
    attempts = [attempt("x", 1, F.FAILED, 1, agent="w"), attempt("y", 1, F.FAILED, 4, agent="w")]
    sug = only(suggest(snap(tasks, attempts, agents=[paused])), target_id="w")
    assert sug.confidence < 0.7 and "2 different tasks" in sug.reason
    assert sug.urgency >= 0.9 and "no other agent can take the ready tasks" in sug.evidence


def test_paused_by_a_person_is_a_quiet_reminder() -> None:
    paused = agent("w", AgentState.PAUSED, reason="paused by operator")
    sug = only(suggest(snap(agents=[paused, agent("v", AgentState.IDLE)])), target_id="w")
    assert sug.action == "resume-agent" and sug.score < 0.1


# -- claims -----------------------------------------------------------------------------------


def test_orphaned_and_expired_claims_are_released() -> None:
    base = {"attempts": 1, "started_at": NOW - 60, "lease_expires_at": NOW + 20}
    tasks = [
        task("gone", TaskState.RUNNING, claimed_by="old-agent", **base),
        task("dead", TaskState.RUNNING, claimed_by="d", **base),
        task("fine", TaskState.RUNNING, claimed_by="b", **base),
        task(
            "new",
            TaskState.RUNNING,
            claimed_by="i",
            attempts=1,
            started_at=NOW - 1,
            lease_expires_at=NOW + 29,
        ),
    ]
    agents = [
        agent("d", AgentState.DEAD),
        agent("b", AgentState.BUSY, task_id="fine"),
        agent("i", AgentState.IDLE),
    ]
    items = suggest(snap(tasks, agents=agents))
    assert sorted(s.target_id for s in items if s.action == "release") == ["dead", "gone"]
    gone = only(items, target_id="gone")
    assert (
        gone.rule == "orphaned-claim"
        and "claimed by old-agent (not configured) for attempt 1" in gone.evidence
    )
    assert insights.operator_command(gone) == ("release", "gone", {})


def test_an_expired_claim_without_a_supervisor_mentions_readoption() -> None:
    t = task(
        "t",
        TaskState.RUNNING,
        claimed_by="b",
        attempts=1,
        started_at=NOW - 90,
        lease_expires_at=NOW - 40,
    )
    items = suggest(
        snap([t], agents=[agent("b", AgentState.BUSY, task_id="t")], supervisor_alive=False)
    )
    sug = only(items, target_id="t")
    assert sug.rule == "expired-claim" and "overseer run" in sug.reason and sug.confidence < 0.5


# -- dependants -------------------------------------------------------------------------------


def test_fix_upstream_is_ranked_by_how_many_tasks_it_unblocks() -> None:
    tasks = [
        task("small", TaskState.FAILED, attempts=1, max_attempts=1, exit_code=1),
        task("big", TaskState.BLOCKED, blocked_reason="wrong branch"),
        *(task(f"p{i}", TaskState.PENDING, depends_on=("big",)) for i in range(8)),
        task("q", TaskState.PENDING, depends_on=("small",)),
    ]
    stuck = {f"p{i}": "big" for i in range(8)} | {"q": "small"}
    items = [
        s
        for s in suggest(snap(tasks, [attempt("small", 1, F.FAILED, 1)], stuck=stuck))
        if s.action == "fix-upstream"
    ]
    assert [s.target_id for s in items] == ["big", "small"]
    big = items[0]
    assert "8 tasks wait on it" in big.reason
    assert "waiting (8): p0, p1, p2, p3, p4, p5 (+2 more)" in big.evidence
    assert big.urgency > items[1].urgency
    seven = insights.rule_fix_upstream(snap(tasks, stuck={f"p{i}": "big" for i in range(7)}))
    assert next(seven).urgency < big.urgency  # one more dependant always ranks higher


# -- blocked by a person ------------------------------------------------------------------------


def test_blocked_without_a_failure_can_be_unblocked_but_not_after_one() -> None:
    items = suggest(
        snap(
            [
                task("parked", TaskState.BLOCKED, blocked_reason="waiting for review"),
                task("broke", TaskState.BLOCKED, attempts=1, blocked_reason="bad"),
            ],
            [attempt("broke", 1, F.FAILED, 1)],
        )
    )
    assert of(items, "parked") == [("unblock", "blocked")]
    assert of(items, "broke") == []


# -- disk and logs ----------------------------------------------------------------------------


def test_disk_nearly_full_and_huge_logs_suggest_cleanup() -> None:
    agents = [agent("w-1", AgentState.IDLE), agent("w-2", AgentState.IDLE)]
    full = Disk("/state", free=100 << 20, total=100 << 30)
    sug = only(
        suggest(snap(agents=agents, disk=full, logs={"w-1": 10, "w-2": 20})), action="cleanup"
    )
    assert (
        sug.urgency >= 0.8 and "disk nearly full at /state (under 5% or 1 GiB free)" in sug.evidence
    )
    roomy = Disk("/state", free=50 << 30, total=100 << 30)
    big = only(
        suggest(snap(agents=agents, disk=roomy, logs={"w-1": 300 << 20, "w-2": 1})),
        action="cleanup",
    )
    assert big.target == {"agent": "w-1"} and big.urgency < 0.5
    assert "w-1.log ≥ 256.0 MiB" in big.evidence
    assert suggest(snap(agents=agents, disk=roomy, logs={"w-1": 5 << 20})) == []


def test_cleanup_evidence_stays_the_same_while_a_log_grows_within_a_bucket() -> None:
    agents = [agent("w", AgentState.IDLE)]
    a = only(suggest(snap(agents=agents, logs={"w": 300 << 20})), action="cleanup")
    b = only(suggest(snap(agents=agents, logs={"w": 400 << 20})), action="cleanup")
    c = only(suggest(snap(agents=agents, logs={"w": 600 << 20})), action="cleanup")
    assert a.evidence_hash == b.evidence_hash != c.evidence_hash


# -- ranking, masking, the stored shape ----------------------------------------------------------


def _busy_snapshot(order: Sequence[int] = (0, 1, 2, 3, 4)) -> Snapshot:
    tasks = [
        task("a", TaskState.FAILED, attempts=1, max_attempts=1),
        task("b", TaskState.FAILED, attempts=1, max_attempts=1),
        task("c", TaskState.FAILED, attempts=1, max_attempts=1),
        task("d", TaskState.DONE, attempts=2),
        task("e", TaskState.BLOCKED, blocked_reason="later"),
    ]
    attempts = [
        attempt("a", 1, F.FAILED, 1),
        attempt("b", 1, F.FAILED, 1),
        attempt("c", 1, F.FAILED, 127),
        attempt("d", 1, F.FAILED, 2),
        attempt("d", 2, F.OK, 0),
    ]
    agents = [agent("w", AgentState.WAITING, prompt="Go on? [y/N]"), agent("x", AgentState.DEAD)]
    return snap([tasks[i] for i in order], attempts, agents)


def test_ranking_is_by_urgency_times_confidence_and_deterministic() -> None:
    first = suggest(_busy_snapshot())
    scores = [s.score for s in first]
    assert scores == sorted(scores, reverse=True)
    for order in itertools.permutations(range(5)):
        assert suggest(_busy_snapshot(order)) == first
    # Equal scores: the action order, then the target, decide (a before b).
    ties = [s.target_id for s in first if s.rule == "failed"]
    assert ties == ["a", "b"]


def test_one_suggestion_per_target_and_action_keeps_the_stronger() -> None:
    def weak(snap: Snapshot) -> Iterator[Suggestion]:
        yield Suggestion({"task": "t"}, "retry", "weak", 0.2, 0.5)

    def strong(snap: Snapshot) -> Iterator[Suggestion]:
        yield Suggestion({"task": "t"}, "retry", "strong", 0.9, 0.5)

    items = suggest(snap(), rules=[weak, strong, weak])
    assert [s.reason for s in items] == ["strong"]


def test_secrets_are_masked_in_reason_and_evidence() -> None:
    key = "sk-" + "Q" * 30
    tail = f"export OPENAI_API_KEY={key}\nbash: line 2: deploy-tool: command not found"
    items = suggest(
        snap(
            [task("t", TaskState.FAILED, attempts=1, command=f"OPENAI_API_KEY={key} deploy-tool")],
            [attempt("t", 1, F.FAILED, 127, tail=tail)],
        )
    )
    text = " ".join([items[0].reason, *items[0].evidence])
    assert key not in text and "OPENAI_API_KEY=***" in text


def test_stored_dicts_have_the_dashboard_contract() -> None:
    items = insights.to_dicts(suggest(_busy_snapshot()), state_dir="/s", tmux_label="lbl")
    assert [d["rank"] for d in items] == list(range(1, len(items) + 1))
    for d in items:
        assert {
            "target",
            "action",
            "reason",
            "confidence",
            "urgency",
            "evidence",
            "key",
            "evidence_hash",
            "rank",
        } <= set(d)
        assert d["action"] in SUGGESTION_ACTIONS
        assert isinstance(d["evidence"], list) and all(isinstance(e, str) for e in d["evidence"])
        assert 0 <= d["confidence"] <= 1 and 0 <= d["urgency"] <= 1
        kind, name = next(iter(d["target"].items()))
        assert d["key"] == f"{kind}:{name}:{d['action']}"
        if d["action"] in insights.HUMAN_ACTIONS:
            assert d["apply"] is None and d["howto"]
        else:
            assert d["apply"]["verb"] in {
                "retry",
                "block",
                "unblock",
                "release",
                "send",
                "interrupt",
                "pause",
                "resume",
                "respawn",
            }
        assert insights.from_dict(d).key == d["key"]
    answer = next(d for d in items if d["action"] == "answer")
    assert answer["destructive"] and answer["apply"] == {
        "verb": "send",
        "target": "w",
        "args": {"text": "y", "enter": True},
    }
    assert answer["howto"] == "overseer send w y"


def test_every_action_maps_to_an_operator_command_or_a_person() -> None:
    for action in SUGGESTION_ACTIONS:
        target = (
            {"agent": "w"}
            if action
            in {"answer", "send-input", "attach", "interrupt", "respawn-agent", "resume-agent"}
            else {"task": "t"}
        )
        s = Suggestion(target, action, "why", 0.5, 0.5, text="y")
        command = insights.operator_command(s)
        assert (command is None) == (action in insights.HUMAN_ACTIONS), action
        assert insights.howto(s), action


def test_evidence_hash_changes_with_the_evidence_only() -> None:
    a = Suggestion({"task": "t"}, "retry", "one reason", 0.5, 0.5, ("exit 1",))
    b = Suggestion({"task": "t"}, "retry", "other words", 0.9, 0.1, ("exit 1",))
    c = Suggestion({"task": "t"}, "retry", "one reason", 0.5, 0.5, ("exit 2",))
    assert a.evidence_hash == b.evidence_hash != c.evidence_hash
    assert a.key == "task:t:retry"


# -- worktree rules (issue 7) ----------------------------------------------------------------


def _tree(**kw):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from overseer.agents.worktree import WorktreeStatus

    base = dict(
        path=Path("/x"),
        branch="overseer/w",
        base="main",
        ahead=0,
        behind=0,
        dirty=0,
        untracked=0,
        diffstat_uncommitted="",
        diffstat_committed="",
        conflicts=False,
        conflicts_known=True,
        conflict_files=(),
    )
    base.update(kw)
    return WorktreeStatus(**base)  # type: ignore[arg-type]


def test_done_agent_with_uncommitted_changes_gets_a_review_suggestion() -> None:
    from overseer.agents.insights import Snapshot, rule_worktree_changes
    from overseer.state.models import Agent, AgentState

    agent = Agent(name="w", kind="shell", state=AgentState.IDLE)
    snap = Snapshot(now=100.0, agents=(agent,), worktrees={"w": _tree(dirty=3)})
    (s,) = list(rule_worktree_changes(snap))
    assert s.action == "attach" and "3 uncommitted" in s.reason and s.target == {"agent": "w"}
    busy = Snapshot(
        now=100.0,
        agents=(Agent(name="w", kind="shell", state=AgentState.BUSY),),
        worktrees={"w": _tree(dirty=3)},
    )
    assert list(rule_worktree_changes(busy)) == []  # still working: nothing to review yet
    clean = Snapshot(now=100.0, agents=(agent,), worktrees={"w": _tree()})
    assert list(rule_worktree_changes(clean)) == []


def test_conflicting_branch_needs_attention() -> None:
    from overseer.agents.insights import Snapshot, rule_worktree_conflicts
    from overseer.state.models import Agent, AgentState

    agent = Agent(name="w", kind="codex", state=AgentState.BUSY)
    snap = Snapshot(
        now=1.0,
        agents=(agent,),
        worktrees={"w": _tree(conflicts=True, conflict_files=("src/app.py",))},
    )
    (s,) = list(rule_worktree_conflicts(snap))
    assert s.action == "attach" and "src/app.py" in s.reason and s.urgency >= 0.7
