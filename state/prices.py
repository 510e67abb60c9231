"""What models cost: a table shipped as data (state/data/prices.yaml) that a user's own file
($XDG_CONFIG_HOME/overseer/prices.yaml) extends or corrects, by model id."""

from __future__ import annotations

import datetime
import functools
import importlib.resources
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from overseer.state.config import ConfigError

FIELDS = {"input", "cached", "output", "date", "source"}
# A dated release of a priced model ("claude-sonnet-4-5-20250929", "gpt-5-2025-08-07") costs
# what the model does; any other suffix is another model and stays unpriced.
_DATED = re.compile(r"^(.+?)(?:[-@](?:\d{8}|\d{4}-\d{2}-\d{2})|-latest)$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens of one model, with where and when that was published."""

    input: float
    output: float
    cached: float  # input read from a cache
    date: str = ""
    source: str = ""


def user_prices_path() -> Path:
    """The user's own price file ($XDG_CONFIG_HOME, else ~/.config)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "overseer" / "prices.yaml"


def _number(entry: Mapping[str, Any], key: str, where: str, path: str) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(
            f"{where}: {key!r} must be a number of USD per million tokens, not {value!r}",
            path,
            hint="e.g. {input: 3.00, cached: 0.30, output: 15.00, date: ..., source: ...}",
        )
    return float(value)


def parse_prices(text: str, path: str) -> dict[str, Price]:
    """A price file's entries by model id (a bad entry is a ConfigError naming it)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            path,
            mark.line + 1 if mark else None,
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("a price file maps model ids to prices", path)
    out: dict[str, Price] = {}
    for model, entry in data.items():
        where = f"model {model!r}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping of input/cached/output", path)
        unknown = set(entry) - FIELDS
        if unknown:
            raise ConfigError(
                f"{where}: unknown field {sorted(unknown)[0]!r}", path, hint=f"use {sorted(FIELDS)}"
            )
        given = _number(entry, "input", where, path)
        output = _number(entry, "output", where, path)
        if given is None or output is None:
            raise ConfigError(f"{where}: 'input' and 'output' are required", path)
        cached = _number(entry, "cached", where, path)
        date = entry.get("date", "")
        out[normalize(str(model))] = Price(
            input=given,
            output=output,
            cached=given if cached is None else cached,
            date=date.isoformat() if isinstance(date, datetime.date) else str(date),
            source=str(entry.get("source", "")),
        )
    return out


@functools.cache
def shipped_prices() -> Mapping[str, Price]:
    """The table that ships with Overseer."""
    text = importlib.resources.files("overseer.state").joinpath("data/prices.yaml")
    return parse_prices(text.read_text("utf-8"), "state/data/prices.yaml")


def load_prices(user_file: Path | None = None) -> dict[str, Price]:
    """The shipped table with the user's file (when it exists) on top."""
    table = dict(shipped_prices())
    file = user_file if user_file is not None else user_prices_path()
    if file.is_file():
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read it: {exc}", str(file)) from None
        table.update(parse_prices(text, str(file)))
    return table


def normalize(model: str) -> str:
    """A model id as the table spells it: no provider prefix, no "[1m]"-like suffix, lower case."""
    model = model.strip().lower().rsplit("/", 1)[-1]
    return re.sub(r"\[[^\]]*\]$", "", model)


def lookup(table: Mapping[str, Price], model: str | None) -> Price | None:
    """The price of a model (a dated release costs what its model does), None when unknown."""
    if not model:
        return None
    name = normalize(model)
    if name in table:
        return table[name]
    dated = _DATED.match(name)
    return table.get(dated.group(1)) if dated else None
