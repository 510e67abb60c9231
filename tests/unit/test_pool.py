"""The pool's pure parts: `stagger:` validation, group lookup, new names, sizes, and the
stored sizes that the config's count overrides."""

from __future__ import annotations

import pytest

from overseer.state import pool
from overseer.state.config import ConfigError, load_config_text
from tests.backends import Backend


def test_stagger_top_level_and_per_agent() -> None:
    c = load_config_text("stagger: 0.5\nagents: [{name: a, stagger: 3}, {name: b}]\n")
    assert [c.stagger_of(s) for s in c.agents] == [3.0, 0.5]
    assert load_config_text("agents: [{name: a}]\n").stagger == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stagger: -1\nagents: [{name: a}]\n", "<string>:1:10: 'stagger' must be a number"),
        ("stagger: 7200\nagents: [{name: a}]\n", "from 0 to 3600, got 7200"),
        ("agents: [{name: a, stagger: x}]\n", "'stagger' of agent 'a' must be a number"),
    ],
)
def test_bad_stagger_is_a_located_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config_text(text)


def test_new_names_fill_gaps_and_skip_other_groups() -> None:
    c = load_config_text("agents: [{name: w, count: 3}, {name: w-5}, {name: solo}]\n")
    w, _, solo = c.agents
    taken = {n for s in c.agents[1:] for n in s.instance_names()}  # the other groups
    assert pool.new_names(w, ["w-1", "w-3"], 3, taken) == ["w-2", "w-4", "w-6"]
    assert pool.new_names(solo, ["solo"], 2, taken) == ["solo-2", "solo-3"]
    assert pool.group(c, "w-2") is w and pool.group(c, "solo") is solo
    with pytest.raises(ValueError, match="no agent group or agent named 'x'"):
        pool.group(c, "x")


def test_target_size_absolute_and_relative() -> None:
    assert pool.target_size(3, "5") == 5
    assert pool.target_size(3, "+2") == 5
    assert pool.target_size(3, "-3") == 0
    with pytest.raises(ValueError, match="not -1"):
        pool.target_size(0, "-1")
    with pytest.raises(ValueError, match="must be a number"):
        pool.target_size(0, "many")


def test_stored_size_holds_until_the_config_changes_the_count(backend: Backend) -> None:
    store = backend()
    c = load_config_text("agents: [{name: w, count: 2}]\n")
    pool.save(store, {"w": {"config": 2, "names": ["w-1", "w-2", "w-3"]}})
    assert [n for n, _ in pool.scaled(c, store).agent_instances()] == ["w-1", "w-2", "w-3"]
    changed = load_config_text("agents: [{name: w, count: 4}]\n")
    assert len(pool.scaled(changed, store).agent_instances()) == 4
    store.meta_set(pool.META_KEY, "not json")
    assert pool.scaled(c, store) is c
