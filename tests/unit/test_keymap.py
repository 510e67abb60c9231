"""`keymap:` is checked at load against the dashboard's action ids, in overseer.yaml and in
the user-level config; state's list of actions is the dashboard's registry."""

from __future__ import annotations

import string
import textwrap
from pathlib import Path

import pytest
from textual.keys import _character_to_key

from overseer.state import keymap
from overseer.state.config import (
    ConfigError,
    UserConfig,
    effective_keymap,
    load_config_text,
    load_user_config,
    user_config_path,
)
from overseer.tui.actions import ACTIONS

AGENTS = "agents: [{name: w}]\n"


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config_text(textwrap.dedent(text), "overseer.yaml")
    return info.value


def test_states_action_list_is_the_dashboards_registry() -> None:
    # A new dashboard action must be added to state/keymap.py too, or `keymap:` rejects it.
    assert list(keymap.ACTIONS) == [(a.id, a.key, a.where) for a in ACTIONS]


@pytest.mark.parametrize("char", string.punctuation + string.ascii_letters + string.digits)
def test_key_names_agree_with_textual(char: str) -> None:
    assert keymap.normalize_key(char) == _character_to_key(char)


def test_the_default_keys_bind_no_key_twice() -> None:
    assert keymap.clashes({}) == []


def test_an_unknown_action_is_an_error_at_its_line() -> None:
    err = error(AGENTS + "keymap:\n  retry: R\n  retyr: T\n")
    assert (err.path, err.line) == ("overseer.yaml", 4)
    assert "unknown action 'retyr' in 'keymap'" in err.message
    assert err.hint == "did you mean 'retry'?"


def test_a_key_bound_twice_in_the_keymap_is_an_error_at_the_second() -> None:
    err = error(AGENTS + "keymap:\n  retry: R\n  block: R\n")
    assert err.line == 4
    assert err.message == "key 'R' is bound twice: to 'block' and to 'retry' (in 'keymap')"


def test_a_key_that_another_action_has_by_default_is_an_error() -> None:
    err = error(AGENTS + "keymap: {retry: b}\n")
    assert err.line == 2
    assert "key 'b' is bound twice: to 'retry' and to 'block' (by default)" in err.message
    # '?' and 'question_mark' are the same key.
    err = error(AGENTS + "keymap: {retry: '?'}\n")
    assert "'question_mark' is bound twice: to 'retry' and to 'help'" in err.message
    # Moving the displaced action away too is fine; so is d (dismiss on its panel, diff elsewhere).
    config = load_config_text(AGENTS + "keymap: {retry: b, block: B}\n", "overseer.yaml")
    assert config.keymap == {"retry": "b", "block": "B"}


def test_the_user_config_is_validated_like_overseer_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_config_path() == tmp_path / "overseer" / "config.yaml"
    assert load_user_config() is None  # no file: nothing to apply
    path = tmp_path / "overseer" / "config.yaml"
    path.parent.mkdir()
    path.write_text("theme: light\nkeymap: {retry: R, cursor_down: J}\n")
    user = load_user_config()
    assert user == UserConfig(path=path, theme="light", keymap={"retry": "R", "cursor_down": "J"})
    path.write_text("theme: light\nkeymap:\n  retry: R\n  sort: R\n")
    with pytest.raises(ConfigError) as info:
        load_user_config()
    assert str(info.value).startswith(f"{path}:4:")
    path.write_text("theme: light\nmax_parallel: 3\n")
    with pytest.raises(ConfigError) as info:
        load_user_config()
    assert (info.value.line, info.value.message) == (
        2,
        "unknown key 'max_parallel' in the user config",
    )


def test_the_projects_keymap_goes_over_the_users(tmp_path: Path) -> None:
    user = UserConfig(path=tmp_path / "config.yaml", keymap={"retry": "R", "sort": "S"})
    project = load_config_text(AGENTS + "keymap: {retry: ctrl+r}\n", "overseer.yaml")
    assert effective_keymap(user, project) == {"retry": "ctrl+r", "sort": "S"}
    clash = load_config_text(AGENTS + "keymap: {block: S}\n", "overseer.yaml")
    with pytest.raises(ConfigError) as info:
        effective_keymap(user, clash)
    assert "key 'S' is bound twice" in info.value.message
    assert str(tmp_path / "config.yaml") in info.value.message
