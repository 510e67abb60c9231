"""Plan: waves, critical path and simulated speedup on small hand-checked graphs."""

from __future__ import annotations

import pytest

from overseer.state.config import TaskSpec, demo_config
from overseer.state.plan import format_plan, make_plan


def t(
    task_id: str,
    *deps: str,
    estimate: float | None = None,
    priority: int = 0,
) -> TaskSpec:
    return TaskSpec(id=task_id, run="true", depends_on=deps, estimate=estimate, priority=priority)


DIAMOND = [
    t("a", estimate=2),
    t("b", "a", estimate=3),
    t("c", "a", estimate=1),
    t("d", "b", "c", estimate=4),
]


def test_diamond_waves_critical_path_and_makespan() -> None:
    plan = make_plan(DIAMOND, max_parallel=2)
    assert plan.waves == [["a"], ["b", "c"], ["d"]]
    assert plan.critical_path == ["a", "b", "d"]
    assert plan.critical_seconds == 9.0
    assert plan.total_seconds == 10.0
    # a 0-2; b 2-5 and c 2-3 in parallel; d 5-9.
    assert plan.makespan_seconds == 9.0
    assert plan.speedup == pytest.approx(10 / 9)
    assert plan.estimated_from == dict.fromkeys("abcd", "config")


def test_one_slot_is_serial() -> None:
    plan = make_plan(DIAMOND, max_parallel=1)
    assert plan.makespan_seconds == 10.0
    assert plan.speedup == 1.0


def test_independent_tasks_scale_with_slots() -> None:
    tasks = [t(f"t{i}") for i in range(8)]
    plan = make_plan(tasks, max_parallel=4)
    assert plan.waves == [[f"t{i}" for i in range(8)]]
    assert plan.total_seconds == 8.0
    assert plan.makespan_seconds == 2.0
    assert plan.speedup == 4.0
    assert plan.critical_seconds == 1.0
    assert plan.critical_path == ["t0"]


def test_wave_is_the_depth_of_the_deepest_dependency() -> None:
    tasks = [t("a"), t("b", "a"), t("c", "b"), t("d", "a", "c"), t("e")]
    plan = make_plan(tasks, max_parallel=8)
    assert plan.waves == [["a", "e"], ["b"], ["c"], ["d"]]


def test_waves_sort_by_priority_then_config_order() -> None:
    tasks = [t("x"), t("y", priority=5), t("z", priority=5), t("w", priority=-1)]
    assert make_plan(tasks, 4).waves == [["y", "z", "x", "w"]]


def test_priority_decides_who_starts_first() -> None:
    low_long = [t("long", estimate=4), t("s1"), t("s2"), t("s3")]
    # Config order: long and s1 start at 0, s2 1-2, s3 2-3, long ends at 4.
    assert make_plan(low_long, 2).makespan_seconds == 4.0
    urgent_short = [t("long", estimate=4)] + [t(f"s{i}", priority=1) for i in (1, 2, 3)]
    # s1 and s2 take both slots first; long only starts at 1 and ends at 5.
    plan = make_plan(urgent_short, 2)
    assert plan.makespan_seconds == 5.0
    assert plan.speedup == pytest.approx(7 / 5)


def test_estimates_come_from_config_then_history_then_default() -> None:
    tasks = [t("a", estimate=5), t("b"), t("c")]
    plan = make_plan(tasks, 2, history={"a": 100.0, "b": 7.0}, default_estimate=3.0)
    assert plan.estimates == {"a": 5.0, "b": 7.0, "c": 3.0}
    assert plan.estimated_from == {"a": "config", "b": "history", "c": "default"}
    assert plan.total_seconds == 15.0


def test_critical_path_follows_the_longest_chain_not_the_deepest() -> None:
    tasks = [
        t("s1", estimate=1),
        t("s2", "s1", estimate=1),
        t("s3", "s2", estimate=1),
        t("big", estimate=10),
        t("end", "s3", "big", estimate=1),
    ]
    plan = make_plan(tasks, 4)
    assert plan.critical_path == ["big", "end"]
    assert plan.critical_seconds == 11.0
    assert plan.makespan_seconds == 11.0


def test_dependencies_outside_the_list_count_as_done() -> None:
    plan = make_plan([t("a", "already-done"), t("b", "a")], 2)
    assert plan.waves == [["a"], ["b"]]
    assert plan.makespan_seconds == 2.0


def test_cycles_and_bad_slots_are_rejected() -> None:
    with pytest.raises(ValueError, match="dependency cycle: a -> b -> a"):
        make_plan([t("a", "b"), t("b", "a")], 2)
    with pytest.raises(ValueError):
        make_plan(DIAMOND, 0)


def test_empty_plan() -> None:
    plan = make_plan([], 4)
    assert plan.waves == [] and plan.critical_path == []
    assert plan.makespan_seconds == 0.0 and plan.speedup == 1.0
    assert format_plan(plan) == "no tasks to plan"


def test_zero_estimates_do_not_divide_by_zero() -> None:
    plan = make_plan([t("a", estimate=0), t("b", "a", estimate=0)], 2)
    assert plan.makespan_seconds == 0.0 and plan.speedup == 1.0


def test_format_plan_text() -> None:
    text = format_plan(make_plan(DIAMOND, 2))
    lines = text.splitlines()
    assert lines[0] == "wave 1 (1 task)"
    assert "wave 2 (2 tasks)" in lines
    assert any(line.split() == ["b", "3.0", "s"] for line in lines)
    assert "critical path: a -> b -> d (9.0 s)" in lines
    assert "estimated speedup at max_parallel=2: 1.1x (makespan 9.0 s vs 10.0 s serial)" in lines
    assert "defaults" not in text


def test_format_plan_marks_default_estimates() -> None:
    text = format_plan(make_plan([t("a"), t("b", estimate=2)], 2, history={}))
    assert "(default)" in text
    assert "1 of 2 estimates are defaults" in text


def test_demo_plan_is_parallel() -> None:
    config = demo_config()
    plan = make_plan(config.tasks, config.max_parallel)
    assert len(plan.critical_path) >= 4
    assert plan.speedup > 2.0
    assert plan.makespan_seconds < 60.0
