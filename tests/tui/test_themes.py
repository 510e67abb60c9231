"""Theme files: the shipped ones load, a user's own is picked up, broken ones fall back."""

from __future__ import annotations

from pathlib import Path

from tests.tui.fixtures import make_app
from tui.themes import PACKAGE_DIR, load_themes, parse_theme


def test_shipped_themes_load() -> None:
    loaded = load_themes([PACKAGE_DIR])
    assert loaded.errors == []
    assert {"dark", "light", "high-contrast"} <= set(loaded.themes)
    assert loaded.themes["light"].dark is False


def test_broken_theme_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "bad-colour.yaml").write_text("name: bad\nprimary: notacolour\n")
    (tmp_path / "bad-key.yaml").write_text("name: typo\nprimary: '#fff'\nbackgrond: '#000'\n")
    (tmp_path / "bad-yaml.yaml").write_text("name: [unclosed\n")
    (tmp_path / "mine.yaml").write_text("name: mine\nprimary: '#ff8800'\nbackground: '#101010'\n")
    loaded = load_themes([tmp_path])
    assert list(loaded.themes) == ["mine"]
    assert len(loaded.errors) == 3
    joined = "\n".join(loaded.errors)
    assert "'notacolour' is not a colour" in joined and "backgrond" in joined
    assert all(str(tmp_path) in e for e in loaded.errors)


def test_unknown_theme_falls_back_to_the_default(tmp_path: Path) -> None:
    app = make_app(tmp_path, "empty", theme="no-such-theme")
    assert app.theme == "dark"
    assert any("unknown theme 'no-such-theme'" in e for e in app.theme_errors)


def test_a_users_theme_beside_the_config_is_picked(tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "sunset.yaml").write_text("name: sunset\nprimary: '#ff5500'\n")
    app = make_app(tmp_path, "empty", theme="sunset")
    assert app.theme == "sunset" and "sunset" in app.theme_names


def test_parse_requires_primary(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("name: x\n")
    try:
        parse_theme(f)
    except ValueError as exc:
        assert "'primary' colour is required" in str(exc)
    else:  # pragma: no cover - the assertion above must run
        raise AssertionError("a theme without primary was accepted")
