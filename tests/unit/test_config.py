"""Config loading: every error names what is wrong and points at file:line:column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from overseer.state.config import (
    AGENT_KINDS,
    ON_STALL,
    SAFE_ID,
    AgentSpec,
    Config,
    ConfigError,
    RetryConfig,
    TaskSpec,
    demo_config,
    load_config,
    load_config_text,
    load_tasks_file,
    task_spec_from_mapping,
)

AGENTS = "agents: [{name: w}]\n"


def load(text: str, **kwargs: object) -> Config:
    return load_config_text(textwrap.dedent(text), "overseer.yaml", **kwargs)  # type: ignore[arg-type]


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value


# --------------------------------------------------------------------------- happy path


FULL = """\
name: demo
max_parallel: 8
stall_timeout: 300
heartbeat: {warn: 30, alert: 90}
retry: {max_attempts: 3, backoff: 2, backoff_max: 60}
on_stall: retry
pause_after: 3
agents:
  - {name: worker, kind: shell, count: 3, cwd: ., env: {FOO: bar, N: 3, ON: yes}}
tasks:
  - {id: lint, run: "ruff check ."}
  - {id: test, run: "pytest -q", depends_on: [lint], timeout: 900,
     verify: "test -f report.xml", max_attempts: 2, priority: 1}
"""


def test_full_example_loads(tmp_path: Path) -> None:
    config = load_config_text(FULL, "overseer.yaml", tmp_path)
    assert config.name == "demo"
    assert config.max_parallel == 8
    assert config.stall_timeout == 300.0
    assert config.heartbeat.warn == 30.0 and config.heartbeat.alert == 90.0
    assert config.retry == RetryConfig(max_attempts=3, backoff=2.0, backoff_max=60.0)
    assert config.on_stall == "retry"
    assert config.pause_after == 3
    (agent,) = config.agents
    assert agent.kind == "shell" and agent.count == 3
    assert agent.cwd == str(tmp_path)
    assert agent.env == {"FOO": "bar", "N": "3", "ON": "yes"}
    lint, test = config.tasks
    assert lint == TaskSpec(id="lint", run="ruff check .")
    assert test.depends_on == ("lint",)
    assert test.timeout == 900.0 and test.verify == "test -f report.xml"
    assert test.priority == 1
    assert config.max_attempts_for(lint) == 3
    assert config.max_attempts_for(test) == 2
    assert config.base_dir == tmp_path
    assert config.keymap == {} and config.retention_days == 7.0


def test_defaults_for_a_minimal_config() -> None:
    config = load(AGENTS)
    assert config.name == "overseer"
    assert config.max_parallel == 8
    assert config.stall_timeout == 300.0
    assert config.on_stall == "retry"
    assert config.pause_after == 3
    assert config.tasks == ()
    assert config.retry == RetryConfig()


def test_load_config_reads_a_file_and_resolves_cwd_next_to_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "overseer.yaml"
    path.write_text("agents: [{name: w, cwd: sub}]\ntasks: [{id: a, run: x, cwd: ../other}]\n")
    config = load_config(path)
    assert config.path == path.absolute()
    assert config.base_dir == tmp_path
    assert config.agents[0].cwd == str(tmp_path / "sub")
    assert config.tasks[0].cwd == str(tmp_path.parent / "other")


def test_missing_file_says_how_to_get_started(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "overseer.yaml")
    text = str(info.value)
    assert "does not exist" in text
    assert "--demo" in text
    assert info.value.line is None


def test_keymap_and_retention() -> None:
    config = load(AGENTS + "keymap: {retry: R, quit: q}\nretention: {days: 2.5}\n")
    assert config.keymap == {"retry": "R", "quit": "q"}
    assert config.retention_days == 2.5
    assert config.retention_events == 200_000
    assert load(AGENTS + "retention: {events: 5000}\n").retention_events == 5000


def test_keymap_values_must_be_strings() -> None:
    err = error(AGENTS + "keymap: {retry: [a, b]}\n")
    assert "'keymap.retry' must be a string" in err.message
    assert (err.line, err.column) == (2, 17)


def test_null_optional_sections_mean_defaults() -> None:
    config = load(AGENTS + "tasks:\nheartbeat:\nretry:\n")
    assert config.tasks == ()
    assert config.heartbeat.warn == 30.0


def test_x_prefixed_top_level_keys_hold_anchors() -> None:
    config = load(
        """\
        x-base: &base {kind: shell, env: {A: "1"}}
        agents:
          - {<<: *base, name: w, count: 2}
        """
    )
    assert config.agents[0].env == {"A": "1"}
    assert [n for n, _ in config.agent_instances()] == ["w-1", "w-2"]


# --------------------------------------------------------------------------- ConfigError


def test_config_error_formatting() -> None:
    err = ConfigError("unknown key 'x' in the top level", "a.yaml", 12, 5, "did you mean 'y'?")
    assert str(err) == "a.yaml:12:5: unknown key 'x' in the top level\n  hint: did you mean 'y'?"
    assert str(ConfigError("empty", "a.yaml")) == "a.yaml: empty"


# --------------------------------------------------------------------------- YAML errors


def test_malformed_yaml_points_at_the_problem() -> None:
    err = error("agents: [{name: w}]\ntasks:\n  - {id: a, run: x\n")
    assert err.message.startswith("invalid YAML:")
    assert "expected ',' or '}'" in err.message
    assert err.line == 4 and err.column == 1


def test_tab_indentation_is_reported_with_position() -> None:
    err = error("agents:\n\t- {name: w}\n")
    assert "invalid YAML" in err.message
    assert (err.line, err.column) == (2, 1)


def test_control_characters_are_reported_with_position() -> None:
    err = error("agents: [{name: w}]\nname: a\x07b\n")
    assert "unacceptable character #x0007" in err.message
    assert (err.line, err.column) == (2, 8)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "~\n"])
def test_empty_config_is_a_clear_error(text: str) -> None:
    err = error(text)
    assert err.message == "the config is empty"
    assert err.hint is not None


def test_two_documents_are_rejected() -> None:
    err = error(AGENTS + "---\n" + AGENTS)
    assert "single document" in err.message
    assert err.line == 2


def test_top_level_must_be_a_mapping() -> None:
    err = error("- a\n- b\n")
    assert err.message == "the top level must be a mapping, got a list"
    assert (err.line, err.column) == (1, 1)


# --------------------------------------------------------------------------- keys


def test_unknown_top_level_key_suggests_the_close_one() -> None:
    # The whole document is indented by 4, so the key sits at column 5 of line 12.
    with pytest.raises(ConfigError) as info:
        load_config_text("    " + AGENTS + "\n" * 10 + "    max_paralel: 3\n", "overseer.yaml")
    err = info.value
    assert err.message == "unknown key 'max_paralel' in the top level"
    assert err.hint == "did you mean 'max_parallel'?"
    assert (err.line, err.column) == (12, 5)
    assert str(err) == (
        "overseer.yaml:12:5: unknown key 'max_paralel' in the top level\n"
        "  hint: did you mean 'max_parallel'?"
    )


def test_unknown_key_without_a_close_match_lists_valid_keys() -> None:
    err = error(AGENTS + "zzz: 1\n")
    assert err.message == "unknown key 'zzz' in the top level"
    assert err.hint is not None and "max_parallel" in err.hint and "agents" in err.hint
    assert (err.line, err.column) == (2, 1)


@pytest.mark.parametrize(
    ("text", "where", "suggestion", "position"),
    [
        ("heartbeat: {warm: 3}\n", "'heartbeat'", "warn", (2, 13)),
        ("retry: {max_attempt: 3}\n", "'retry'", "max_attempts", (2, 9)),
        ("retention: {day: 3}\n", "'retention'", "days", (2, 13)),
        ("tasks:\n  - {id: t, run: x, dependson: [a]}\n", "task 't'", "depends_on", (3, 21)),
        ("tasks:\n  - {idd: t, run: x}\n", "task #1", "id", (3, 6)),
    ],
)
def test_unknown_nested_keys(
    text: str, where: str, suggestion: str, position: tuple[int, int]
) -> None:
    err = error(AGENTS + text)
    assert err.message.endswith(f"in {where}")
    assert err.hint == f"did you mean {suggestion!r}?"
    assert (err.line, err.column) == position


def test_unknown_agent_key() -> None:
    err = error("agents:\n  - name: w\n    cnt: 2\n")
    assert err.message == "unknown key 'cnt' in agent 'w'"
    assert err.hint == "did you mean 'count'?"
    assert (err.line, err.column) == (3, 5)


def test_duplicate_key_in_a_mapping() -> None:
    err = error(AGENTS + "max_parallel: 2\nmax_parallel: 3\n")
    assert "duplicate key 'max_parallel'" in err.message
    assert "line 2" in err.message
    assert (err.line, err.column) == (3, 1)


# --------------------------------------------------------------------------- types and ranges


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_parallel: eight", "'max_parallel' must be a whole number ≥ 1, got 'eight'"),
        ("max_parallel: 0", "'max_parallel' must be a whole number ≥ 1, got 0"),
        ("max_parallel: 2.5", "'max_parallel' must be a whole number ≥ 1, got 2.5"),
        ("max_parallel: true", "'max_parallel' must be a whole number ≥ 1, got true"),
        ("max_parallel: '4'", "'max_parallel' must be a whole number ≥ 1, got '4'"),
        ("max_parallel: [1]", "'max_parallel' must be a whole number ≥ 1, got a list"),
        ("max_parallel:", "'max_parallel' must be a whole number ≥ 1, got nothing (null)"),
        ("stall_timeout: 0", "'stall_timeout' must be a number > 0, got 0"),
        ("stall_timeout: -1.5", "'stall_timeout' must be a number > 0, got -1.5"),
        ("stall_timeout: .inf", "'stall_timeout' must be a number > 0, got .inf"),
        ("stall_timeout: yes", "'stall_timeout' must be a number > 0, got yes"),
        ("pause_after: -1", "'pause_after' must be a whole number ≥ 0 (0 = never pause), got -1"),
        ("heartbeat: {warn: 0}", "'heartbeat.warn' must be a number > 0, got 0"),
        (
            "heartbeat: {warn: 30, alert: 30}",
            "'heartbeat.alert' must be greater than 'heartbeat.warn' (30), got 30",
        ),
        ("retry: {max_attempts: 0}", "'retry.max_attempts' must be a whole number ≥ 1, got 0"),
        ("retry: {backoff: -1}", "'retry.backoff' must be a number ≥ 0, got -1"),
        (
            "retry: {backoff: 5, backoff_max: 3}",
            "'retry.backoff_max' must be a number ≥ 'retry.backoff' (5), got 3",
        ),
        ("retention: {days: 0}", "'retention.days' must be a number > 0, got 0"),
        ("retention: {events: 10}", "'retention.events' must be a whole number ≥ 1000, got 10"),
        ("heartbeat: 5", "'heartbeat' must be a mapping, got 5"),
    ],
)
def test_wrong_types_and_ranges(line: str, message: str) -> None:
    err = error(AGENTS + line + "\n")
    assert err.message == message
    assert err.line == 2
    assert err.column is not None and err.column > 1


def test_ints_are_accepted_where_floats_are_expected() -> None:
    config = load(AGENTS + "stall_timeout: 5\npause_after: 0\nretry: {backoff: 0}\n")
    assert config.stall_timeout == 5.0 and isinstance(config.stall_timeout, float)
    assert config.pause_after == 0
    assert config.retry.delay(3) == 0.0


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{id: t, run: x, timeout: 0}", "'timeout' of task 't' must be a number > 0, got 0"),
        (
            "{id: t, run: x, priority: high}",
            "'priority' of task 't' must be a whole number, got 'high'",
        ),
        (
            "{id: t, run: x, max_attempts: 0}",
            "'max_attempts' of task 't' must be a whole number ≥ 1, got 0",
        ),
        (
            "{id: t, run: x, estimate: -2}",
            "'estimate' of task 't' (seconds) must be a number ≥ 0, got -2",
        ),
        ("{id: t, run: [a]}", "'run' of task 't' must be a string, got a list"),
        ("{id: t, run: '  '}", "'run' of task 't' must not be empty"),
        (
            "{id: t, run: x, depends_on: {a: b}}",
            "'depends_on' of task 't' must be a list, got a mapping",
        ),
        ("{id: t, run: x, env: [A]}", "'env' of task 't' must be a mapping, got a list"),
        (
            "{id: t, run: x, env: {A: [1]}}",
            "'env.A' of task 't' must be a string, number or boolean, got a list",
        ),
    ],
)
def test_task_field_errors(task: str, message: str) -> None:
    err = error(AGENTS + "tasks:\n  - " + task + "\n")
    assert err.message == message
    assert err.line == 3


def test_task_without_run_points_at_the_task() -> None:
    err = error(AGENTS + "tasks:\n  - id: a\n    timeout: 3\n")
    assert err.message == "task 'a' has no 'run' command"
    assert (err.line, err.column) == (3, 5)


def test_task_without_id() -> None:
    err = error(AGENTS + "tasks:\n  - run: x\n")
    assert err.message == "task #1 has no 'id'"
    assert (err.line, err.column) == (3, 5)


def test_tasks_must_be_a_list_of_mappings() -> None:
    err = error(AGENTS + "tasks: {a: 1}\n")
    assert err.message == "'tasks' must be a list, got a mapping"
    err = error(AGENTS + "tasks: [build]\n")
    assert err.message == "task #1 must be a mapping, got 'build'"
    assert (err.line, err.column) == (2, 9)


def test_on_stall_must_be_a_known_policy() -> None:
    err = error(AGENTS + "on_stall: blok\n")
    assert err.message == "'on_stall' must be one of retry, block, interrupt; got 'blok'"
    assert err.hint == "did you mean 'block'?"
    assert (err.line, err.column) == (2, 11)
    for policy in ON_STALL:
        assert load(AGENTS + f"on_stall: {policy}\n").on_stall == policy


def test_unknown_agent_kind_lists_valid_kinds() -> None:
    err = error("agents: [{name: w, kind: robot}]\n")
    assert "must be one of " + ", ".join(AGENT_KINDS) in err.message
    assert "'robot'" in err.message
    assert (err.line, err.column) == (1, 26)


def test_env_keys_must_be_variable_names() -> None:
    err = error("agents:\n  - name: w\n    env: {GOOD: 1, 9BAD: 2}\n")
    assert "'9BAD'" in err.message and "environment variable name" in err.message
    assert (err.line, err.column) == (3, 20)


def test_env_values_are_coerced_to_strings_as_written() -> None:
    config = load(
        AGENTS + "tasks: [{id: t, run: x, env: {A: 1, B: true, C: 0x10, D: 1.50, E: }}]\n"
    )
    assert config.tasks[0].env == {"A": "1", "B": "true", "C": "0x10", "D": "1.50", "E": ""}


# --------------------------------------------------------------------------- agents


def test_at_least_one_agent_is_required() -> None:
    err = error("max_parallel: 2\n")
    assert err.message == "at least one agent is required"
    assert err.hint is not None and "agents:" in err.hint
    err = error("agents: []\n")
    assert err.message == "at least one agent is required"
    assert (err.line, err.column) == (1, 9)


def test_agent_count_range() -> None:
    err = error("agents: [{name: w, count: 1001}]\n")
    assert err.message == "'count' of agent 'w' must be a whole number from 1 to 1000, got 1001"
    err = error("agents: [{name: w, count: 0}]\n")
    assert "from 1 to 1000, got 0" in err.message


def test_instance_names() -> None:
    assert AgentSpec(name="solo").instance_names() == ["solo"]
    assert AgentSpec(name="w", count=3).instance_names() == ["w-1", "w-2", "w-3"]
    config = load("agents: [{name: a}, {name: w, count: 2}]\n")
    assert [name for name, _ in config.agent_instances()] == ["a", "w-1", "w-2"]
    assert config.agent_instances()[1][1].name == "w"


def test_expanded_agent_names_must_be_unique() -> None:
    err = error("agents:\n  - {name: w, count: 2}\n  - {name: w-2}\n")
    assert err.message == "agent name 'w-2' is already used by the agent at line 2"
    assert (err.line, err.column) == (3, 12)


def test_duplicate_agent_names() -> None:
    err = error("agents:\n  - {name: w}\n  - {name: w}\n")
    assert "agent name 'w' is already used" in err.message
    assert err.line == 3


def test_agent_command_override() -> None:
    config = load("agents: [{name: w, command: 'bash --norc'}]\n")
    assert config.agents[0].command == "bash --norc"


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    "bad",
    [
        "'a b'",
        "'it''s'",
        '"say \\"hi\\""',
        "'$HOME'",
        "'naïve'",
        "'日本'",
        "-lead",
        "'.hidden'",
        "'a;rm'",
        "'a/b'",
        "x" * 65,
        "''",
    ],
)
def test_unsafe_task_ids_are_rejected_at_their_position(bad: str) -> None:
    err = error(AGENTS + "tasks:\n  - {run: x, id: " + bad + "}\n")
    assert (err.line, err.column) == (3, 18)
    if bad != "''":
        assert "letters, digits, '.', '_' and '-', starting with a letter or digit" in err.message
        assert "at most 64 characters" in err.message


@pytest.mark.parametrize("bad", ["'a b'", "'$x'", "'ünï'", "'q\"'"])
def test_unsafe_agent_names_are_rejected(bad: str) -> None:
    err = error("agents:\n  - {name: " + bad + "}\n")
    assert "letters, digits, '.', '_' and '-'" in err.message
    assert (err.line, err.column) == (2, 12)


def test_config_name_must_be_safe() -> None:
    err = error(AGENTS + "name: 'my project'\n")
    assert "'name'" in err.message and "letters, digits" in err.message
    assert (err.line, err.column) == (2, 7)


@pytest.mark.parametrize("good", ["a", "A1", "build.step_2-x", "1", "x" * 64])
def test_safe_ids_are_accepted(good: str) -> None:
    assert SAFE_ID.match(good)
    assert load(AGENTS + f"tasks: [{{id: '{good}', run: x}}]\n").tasks[0].id == good


def test_numeric_ids_keep_their_text() -> None:
    config = load(AGENTS + "tasks: [{id: 007, run: x}, {id: 1.10, run: y, depends_on: 007}]\n")
    assert [t.id for t in config.tasks] == ["007", "1.10"]
    assert config.tasks[1].depends_on == ("007",)


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    "command",
    [
        "echo 'single' \"double\"",
        'echo "$HOME" ${PATH} $((1+2))',
        "echo `date` $(whoami)",
        "a; b && c || d | e > f 2>&1 &",
        "echo ünïcödé ✓ 日本語 🚀",
        "line1\nline2\n  indented\n",
        "trailing spaces   ",
        "back\\slash \\n not a newline",
        "# not a comment",
        "key: value",
    ],
)
def test_commands_are_kept_verbatim(command: str) -> None:
    import yaml

    text = yaml.safe_dump(
        {"agents": [{"name": "w"}], "tasks": [{"id": "t", "run": command, "verify": command}]},
        allow_unicode=True,
    )
    task = load_config_text(text).tasks[0]
    assert task.run == command
    assert task.verify == command


def test_block_scalar_command_is_verbatim() -> None:
    config = load(
        """\
        agents: [{name: w}]
        tasks:
          - id: t
            run: |
              for i in 1 2; do
                echo "step $i" 'it''s' `date`; done
        """
    )
    assert config.tasks[0].run == "for i in 1 2; do\n  echo \"step $i\" 'it''s' `date`; done\n"


# --------------------------------------------------------------------------- dependencies


def test_duplicate_task_ids_point_at_the_second_and_name_the_first() -> None:
    err = error(AGENTS + "tasks:\n  - {id: a, run: x}\n  - {id: b, run: x}\n  - {id: a, run: y}\n")
    assert err.message == "duplicate task id 'a' (first defined at line 3)"
    assert (err.line, err.column) == (5, 10)


def test_unknown_dependency_hints_the_closest_id() -> None:
    err = error(
        AGENTS + "tasks:\n  - {id: lint, run: x}\n  - {id: t, run: y, depends_on: [lnit]}\n"
    )
    assert err.message == "task 't' depends on unknown task 'lnit'"
    assert err.hint == "did you mean 'lint'?"
    assert (err.line, err.column) == (4, 34)


def test_unknown_dependency_without_close_match_lists_tasks() -> None:
    err = error(AGENTS + "tasks:\n  - {id: lint, run: x}\n  - {id: t, run: y, depends_on: zzz}\n")
    assert err.hint == "known tasks: lint, t"
    assert (err.line, err.column) == (4, 33)


def test_single_string_dependency() -> None:
    config = load(AGENTS + "tasks:\n  - {id: a, run: x}\n  - {id: b, run: y, depends_on: a}\n")
    assert config.tasks[1].depends_on == ("a",)


def test_self_dependency_is_a_cycle() -> None:
    err = error(AGENTS + "tasks:\n  - {id: a, run: x, depends_on: [a]}\n")
    assert err.message == "dependency cycle: a -> a"
    assert (err.line, err.column) == (3, 34)


def test_cycle_is_printed_in_run_order() -> None:
    err = error(
        AGENTS
        + "tasks:\n"
        + "  - {id: z, run: x}\n"
        + "  - {id: a, run: x, depends_on: [z, c]}\n"
        + "  - {id: b, run: x, depends_on: [a]}\n"
        + "  - {id: c, run: x, depends_on: [b]}\n"
    )
    assert err.message == "dependency cycle: a -> b -> c -> a"
    # Points at the dependency of the first task in the file that closes the cycle.
    assert (err.line, err.column) == (4, 37)


def test_long_chain_does_not_hit_the_recursion_limit() -> None:
    lines = [AGENTS, "tasks:\n", "  - {id: t0, run: x}\n"]
    lines += [f"  - {{id: t{i}, run: x, depends_on: t{i - 1}}}\n" for i in range(1, 3000)]
    config = load("".join(lines))
    assert len(config.tasks) == 3000


# --------------------------------------------------------------------------- retry


def test_retry_delay_is_capped_exponential() -> None:
    retry = RetryConfig(max_attempts=5, backoff=2.0, backoff_max=60.0)
    assert [retry.delay(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert retry.delay(0) == 0.0
    assert retry.delay(10_000) == 60.0


# --------------------------------------------------------------------------- tasks files


def test_tasks_file_as_list_or_mapping(tmp_path: Path) -> None:
    as_list = tmp_path / "a.yaml"
    as_list.write_text("- {id: a, run: x, depends_on: [in-store]}\n- {id: b, run: y, cwd: w}\n")
    specs = load_tasks_file(as_list)
    assert [s.id for s in specs] == ["a", "b"]
    assert specs[0].depends_on == ("in-store",)
    assert specs[1].cwd == str(tmp_path / "w")
    as_map = tmp_path / "b.yaml"
    as_map.write_text("tasks:\n  - {id: c, run: z}\n")
    assert [s.id for s in load_tasks_file(as_map)] == ["c"]


def test_tasks_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- {id: a, run: x, depends_on: b}\n- {id: b, run: y, depends_on: a}\n")
    with pytest.raises(ConfigError) as info:
        load_tasks_file(path)
    assert info.value.message == "dependency cycle: a -> b -> a"
    assert info.value.path == str(path)
    path.write_text("tasks: []\nagents: []\n")
    with pytest.raises(ConfigError) as info:
        load_tasks_file(path)
    assert "unknown key 'agents'" in info.value.message
    path.write_text("- {id: 'bad id', run: x}\n")
    with pytest.raises(ConfigError, match="letters, digits"):
        load_tasks_file(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_tasks_file(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- CLI tasks


def test_task_spec_from_mapping() -> None:
    spec = task_spec_from_mapping(
        {"id": "t1", "run": 'echo "$X" `y`; z', "depends_on": ("a", "b"), "timeout": 5}
    )
    assert spec == TaskSpec(id="t1", run='echo "$X" `y`; z', depends_on=("a", "b"), timeout=5.0)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"id": "bad id", "run": "x"}, "letters, digits"),
        ({"id": "t", "run": ""}, "must not be empty"),
        ({"id": "t"}, "has no 'run'"),
        ({"id": "t", "run": "x", "bogus": 1}, "unknown key 'bogus'"),
        ({"id": "t", "run": "x", "timeout": "soon"}, "must be a number > 0"),
        ({"id": "t", "run": "x", "depends_on": ["t"]}, "dependency cycle: t -> t"),
        ({"id": "t", "run": "x", "env": {"A": object()}}, "not plain data"),
    ],
)
def test_task_spec_from_mapping_errors(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        task_spec_from_mapping(data)
    assert fragment in str(info.value)
    assert info.value.path == "<cli>"


# --------------------------------------------------------------------------- demo


def _chain_length(tasks: tuple[TaskSpec, ...]) -> int:
    by_id = {t.id: t for t in tasks}
    depth: dict[str, int] = {}

    def d(task_id: str) -> int:
        if task_id not in depth:
            depth[task_id] = 1 + max((d(x) for x in by_id[task_id].depends_on), default=0)
        return depth[task_id]

    return max(d(t) for t in by_id)


def test_demo_config_meets_the_demo_brief() -> None:
    config = demo_config()
    assert config.agent_instances()[0][0] == "worker-1"
    assert [a.count for a in config.agents] == [4] and config.agents[0].kind == "shell"
    assert config.max_parallel == 4 and config.stall_timeout == 6.0
    assert (config.heartbeat.warn, config.heartbeat.alert) == (10.0, 30.0)
    assert config.retry == RetryConfig(max_attempts=2, backoff=1.0, backoff_max=4.0)
    assert config.on_stall == "block" and config.pause_after == 3
    assert config.base_dir == Path.cwd()
    tasks = {t.id: t for t in config.tasks}
    assert 18 <= len(tasks) <= 24
    assert _chain_length(config.tasks) >= 4
    assert any(len(t.depends_on) >= 2 for t in config.tasks), "needs a fan-in"
    assert any(t.verify for t in config.tasks)
    assert any("OVERSEER_ATTEMPT" in t.run for t in config.tasks), "fail-once task"
    prompt = [t for t in config.tasks if "[y/N]" in t.run]
    assert prompt and prompt[0].timeout == 12.0 and prompt[0].max_attempts == 1
    silent = [t for t in config.tasks if "sleep 30" in t.run]
    assert silent and silent[0].max_attempts == 1
    assert any("exit 2" in t.run and t.max_attempts == 2 for t in config.tasks)


def test_demo_tasks_behave_as_described(tmp_path: Path) -> None:
    import os
    import subprocess

    tasks = {t.id: t for t in demo_config().tasks}
    flaky = next(t for t in tasks.values() if "OVERSEER_ATTEMPT" in t.run)

    def run(command: str, attempt: int) -> int:
        env = {**os.environ, "OVERSEER_ATTEMPT": str(attempt)}
        return subprocess.run(
            ["bash", "-c", command.replace("sleep ", ": ")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            check=False,
        ).returncode

    assert run(flaky.run, 1) != 0
    assert run(flaky.run, 2) == 0
    broken = next(t for t in tasks.values() if "exit 2" in t.run)
    assert run(broken.run, 1) == 2 and run(broken.run, 2) == 2
    verified = next(t for t in tasks.values() if t.verify)
    assert run(verified.verify or "", 1) != 0
    assert run(verified.run, 1) == 0
    assert run(verified.verify or "", 1) == 0


def test_exponent_numbers_are_numbers_but_quoted_ones_are_not() -> None:
    config = load(AGENTS + "stall_timeout: 1e3\ntasks: [{id: t, run: x, timeout: 2.5E+1}]\n")
    assert config.stall_timeout == 1000.0
    assert config.tasks[0].timeout == 25.0
    err = error(AGENTS + "stall_timeout: '1e3'\n")
    assert err.message == "'stall_timeout' must be a number > 0, got '1e3'"


def test_huge_whole_numbers_are_rejected() -> None:
    err = error(AGENTS + "tasks: [{id: t, run: x, priority: 99999999999999999999}]\n")
    assert err.message == "'priority' of task 't' is too large: at most 1,000,000,000"
    assert (err.line, err.column) == (2, 35)
