"""Colour themes loaded from YAML files: the package's themes/ and the user's own."""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "dark"
COLOR_KEYS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
OTHER_KEYS = ("name", "dark", "luminosity_spread", "text_alpha", "variables")
# The shipped themes: the `overseer.themes` package (a folder of YAML files).
PACKAGE_DIR = Path(str(importlib.resources.files("overseer.themes")))


@dataclass
class ThemeSet:
    """The themes that loaded, in order, and a message per file that did not."""

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def theme_dirs(config_dir: Path | None = None) -> list[Path]:
    """Where theme files are looked for, later ones overriding earlier ones."""
    dirs = [PACKAGE_DIR]
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs.append(Path(xdg) / "overseer" / "themes")
    if config_dir is not None:
        dirs.append(config_dir / "themes")
    return dirs


def parse_theme(path: Path) -> Theme:
    """One theme file, or ValueError with a message that names the file and the problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read theme: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a theme file must be a mapping of keys to colours")
    unknown = sorted(set(data) - set(COLOR_KEYS) - set(OTHER_KEYS))
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {', '.join(unknown)}; "
            f"valid: {', '.join(OTHER_KEYS + COLOR_KEYS)}"
        )
    name = str(data.get("name") or path.stem)
    if "primary" not in data:
        raise ValueError(f"{path}: 'primary' colour is required")
    colours: dict[str, str] = {}
    for key in COLOR_KEYS:
        if key in data:
            value = str(data[key])
            try:
                Color.parse(value)
            except ColorParseError:
                raise ValueError(f"{path}: {key}: {value!r} is not a colour") from None
            colours[key] = value
    variables = data.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError(f"{path}: 'variables' must be a mapping")
    try:
        return Theme(
            name=name,
            dark=bool(data.get("dark", True)),
            luminosity_spread=float(data.get("luminosity_spread", 0.15)),
            text_alpha=float(data.get("text_alpha", 0.95)),
            variables={str(k): str(v) for k, v in variables.items()},
            # COLOR_KEYS names only Theme's `str | None` colour fields; mypy cannot see that
            # through ** (its other fields are bool and float).
            **colours,  # type: ignore[arg-type]
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def load_themes(dirs: list[Path] | None = None) -> ThemeSet:
    """Every theme file in `dirs`; broken files are reported, not fatal."""
    result = ThemeSet()
    for d in dirs if dirs is not None else theme_dirs():
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")):
            try:
                theme = parse_theme(path)
            except ValueError as exc:
                result.errors.append(str(exc))
                continue
            result.themes[theme.name] = theme
    return result
