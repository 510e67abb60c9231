"""Fuzz: whatever text comes in, load_config_text raises ConfigError or returns a Config."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overseer.state.config import (
    Config,
    ConfigError,
    TaskSpec,
    load_config_text,
    load_tasks_text,
    task_spec_from_mapping,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = Path("/nonexistent/base")

KEYS = [
    "name",
    "max_parallel",
    "stall_timeout",
    "heartbeat",
    "retry",
    "on_stall",
    "pause_after",
    "agents",
    "tasks",
    "keymap",
    "retention",
    "warn",
    "alert",
    "max_attempts",
    "backoff",
    "backoff_max",
    "days",
    "kind",
    "count",
    "cwd",
    "env",
    "command",
    "id",
    "run",
    "depends_on",
    "timeout",
    "verify",
    "priority",
    "estimate",
    "<<",
    "x-a",
    "FOO",
    "a",
    "",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["a", "b", "shell", "retry", "w", "x y", "$X", "ü", "a-1", "0", "yes"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers(-3, 3), st.none())
structures = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)
top_level = st.dictionaries(st.sampled_from(KEYS), structures, max_size=8)


def check(text: str) -> None:
    try:
        config = load_config_text(text, "fuzz.yaml", BASE)
    except ConfigError as err:
        assert str(err).startswith("fuzz.yaml")
        assert err.line is None or err.line >= 1
        assert err.column is None or err.column >= 1
    else:
        assert isinstance(config, Config)
        assert config.agents


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    check(text)


YAML_BITS = st.sampled_from(
    [
        "agents:",
        "tasks:",
        "  - ",
        "{",
        "}",
        "[",
        "]",
        ":",
        ", ",
        "\n",
        "  ",
        "&a ",
        "*a",
        "<<: ",
        "!!int ",
        "!!float ",
        "!!str ",
        "!!binary ",
        "!x ",
        "---\n",
        "...\n",
        "'",
        '"',
        "|\n",
        ">\n",
        "#",
        "id: a",
        "run: x",
        "name: w",
        "depends_on: [a]",
        "? ",
        "~",
        "\t",
        "- {name: w}",
        "- {id: a, run: b}",
        "0x1F",
        "1e400",
        ".nan",
        "2001-13-45",
        "%YAML 1.1\n",
    ]
)


@SETTINGS
@given(st.lists(YAML_BITS, max_size=40))
def test_yaml_shaped_text(bits: list[str]) -> None:
    check("".join(bits))


@SETTINGS
@given(top_level)
def test_random_nested_structures(data: dict[object, object]) -> None:
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    check(text)


@SETTINGS
@given(top_level, structures)
def test_random_structures_with_a_valid_agent(data: dict[object, object], tasks: object) -> None:
    data = {**data, "agents": [{"name": "w"}], "tasks": tasks}
    check(yaml.safe_dump(data, allow_unicode=True))


task_mappings = st.dictionaries(st.sampled_from(KEYS[20:]), structures, max_size=6)


@SETTINGS
@given(task_mappings)
def test_random_task_mappings(data: dict[str, object]) -> None:
    try:
        spec = task_spec_from_mapping(data)
    except ConfigError:
        return
    assert isinstance(spec, TaskSpec)


@SETTINGS
@given(st.lists(task_mappings, max_size=5))
def test_random_tasks_files(items: list[dict[str, object]]) -> None:
    try:
        specs = load_tasks_text(yaml.safe_dump(items), "t.yaml", BASE)
    except ConfigError:
        return
    assert all(isinstance(s, TaskSpec) for s in specs)
