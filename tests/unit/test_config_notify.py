"""The `notify:` config key: command, known event names, rate limit; clear errors otherwise."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overseer.state.config import NOTIFY_EVENTS, Config, ConfigError, NotifyConfig, load_config_text

AGENTS = "agents: [{name: w}]\n"


def load(text: str) -> Config:
    return load_config_text(textwrap.dedent(text) + AGENTS, "overseer.yaml")


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value


def test_no_notify_key_means_no_hook() -> None:
    assert load("name: p\n").notify is None
    assert load("notify:\n").notify is None


def test_command_alone_subscribes_to_every_event() -> None:
    notify = load("notify: {command: 'notify-send \"$OVERSEER_REASON\"'}\n").notify
    assert notify == NotifyConfig(command='notify-send "$OVERSEER_REASON"', events=NOTIFY_EVENTS)
    assert notify.min_interval == 30.0


def test_events_and_min_interval() -> None:
    notify = load(
        """\
        notify:
          command: ./hook.sh
          events: [task.blocked, agent.waiting, task.blocked]
          min_interval: 0
        """
    ).notify
    assert notify is not None
    assert notify.events == ("task.blocked", "agent.waiting")  # duplicates dropped
    assert notify.min_interval == 0.0


def test_unknown_event_names_the_close_one_and_where() -> None:
    exc = error("notify:\n  command: x\n  events: [task.blocked, agent.waitng]\n")
    assert "unknown event 'agent.waitng' in 'notify.events'" in str(exc)
    assert exc.line == 3 and exc.hint == "did you mean 'agent.waiting'?"
    exc = error("notify: {command: x, events: [blocked]}\n")
    assert exc.hint == "did you mean 'task.blocked'?"
    exc = error("notify: {command: x, events: [zzz]}\n")
    assert exc.hint is not None and "known events: task.blocked" in exc.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("notify: {events: [task.blocked]}\n", "'notify' needs a 'command'"),
        ("notify: {command: ''}\n", "'notify.command' must not be empty"),
        ("notify: {command: [a, b]}\n", "'notify.command' must be a string"),
        ("notify: {command: x, events: task.blocked}\n", "'notify.events' must be a list"),
        ("notify: {command: x, events: [[a]]}\n", "an event in 'notify.events' must be a string"),
        ("notify: {command: x, min_interval: -1}\n", "'notify.min_interval' (seconds) must be"),
        ("notify: {command: x, every: 3}\n", "unknown key 'every' in 'notify'"),
        ("notify: ./hook.sh\n", "'notify' must be a mapping"),
    ],
)
def test_bad_notify_values_are_clear_errors(text: str, message: str) -> None:
    exc = error(text)
    assert message in str(exc) and exc.line == 1


values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(NOTIFY_EVENTS),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["command", "events", "min_interval", "x"]), children),
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_any_notify_value_loads_or_is_a_config_error(value: object) -> None:
    text = yaml.safe_dump({"notify": value, "agents": [{"name": "w"}]})
    try:
        config = load_config_text(text, "overseer.yaml")
    except ConfigError:
        return
    assert config.notify is None or isinstance(config.notify, NotifyConfig)
