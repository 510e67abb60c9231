"""The prompt `overseer decompose` gives an AI agent, and the check of the list it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.agents.decompose import check_list, prompt, slug, template
from overseer.state.config import AgentSpec, Config, ConfigError

CONFIG = Config(agents=(AgentSpec(name="w"),))


def test_the_prompt_holds_the_spec_the_schema_the_file_and_the_last_errors(tmp_path: Path) -> None:
    out = tmp_path / "list.yaml"
    first = prompt("# Spec\nbuild it", out, "ai (codex)")
    assert f"Write the task list to: {out}" in first
    assert "depends_on:" in first and "# Spec\nbuild it" in first
    assert "refused" not in first
    again = prompt("# Spec", out, "ai (codex)", errors="list.yaml:2:3: dependency cycle: a -> b")
    assert "refused by Overseer's validator" in again and "dependency cycle: a -> b" in again


def test_a_list_is_checked_like_add_file_and_its_dependencies_must_exist(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("- {id: a, run: 'echo a'}\n- {id: b, run: 'echo b', depends_on: [a, old]}\n")
    assert [s.id for s in check_list(good, CONFIG, queued=["old"])] == ["a", "b"]
    with pytest.raises(ConfigError, match="depends on unknown task"):
        check_list(good, CONFIG, queued=[])
    with pytest.raises(ConfigError, match="wrote no task list"):
        check_list(tmp_path / "none.yaml", CONFIG, queued=[])
    cycle = tmp_path / "cycle.yaml"
    cycle.write_text("- {id: a, run: x, depends_on: [b]}\n- {id: b, run: y, depends_on: [a]}\n")
    with pytest.raises(ConfigError, match="cycle.yaml:1:.*dependency cycle"):
        check_list(cycle, CONFIG, queued=[])
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("- {id: a, prompt: 'do it'}\n")  # no AI agent takes it
    with pytest.raises(ConfigError):
        check_list(prompts, CONFIG, queued=[])


def test_slugs_and_templates() -> None:
    assert slug(Path("docs/My Feature!.md")) == "My-Feature"
    assert slug(Path("...md")) == "spec"
    text = template(Path("SPEC.md"), "line one\nline two")
    assert "# line one\n# line two\n" in text and text.rstrip().endswith("higher runs first")
