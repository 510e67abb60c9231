"""Theme files: the shipped ones load, a user's own is picked up, broken ones fall back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from overseer.tui.themes import PACKAGE_DIR, load_themes, parse_theme
from tests.tui.fixtures import make_app


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


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #RRGGBB colours (1 to 21)."""

    def luminance(colour: str) -> float:
        rgb = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


TEXT_COLOURS = ("foreground", "primary", "secondary", "accent", "success", "warning", "error")
BACKGROUNDS = ("background", "surface", "panel")  # the tables, the dialogs, header and titles


@pytest.mark.parametrize("name", ["light", "dark", "high-contrast"])
def test_every_text_colour_meets_wcag_aa_on_every_background(name: str) -> None:
    # State words, counts and keys are drawn in these colours on these backgrounds.
    data = yaml.safe_load((PACKAGE_DIR / f"{name}.yaml").read_text())
    low = [
        f"{fg} {data[fg]} on {bg} {data[bg]}: {contrast(data[fg], data[bg]):.2f}"
        for fg in TEXT_COLOURS
        for bg in BACKGROUNDS
        if fg in data and bg in data and contrast(data[fg], data[bg]) < 4.5
    ]
    assert low == []


def test_the_contrast_formula() -> None:
    assert round(contrast("#000000", "#FFFFFF"), 2) == 21.0
    assert round(contrast("#777777", "#FFFFFF"), 2) == 4.48  # the classic just-below-AA grey
