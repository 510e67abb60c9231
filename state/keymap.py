"""The dashboard's action ids and default keys as data, so `keymap:` is checked at load.

State cannot import the dashboard; tests/unit/test_keymap.py checks that this list matches
the dashboard's registry (tui/actions.py), so the two never drift apart.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

# (action id, default key, where it is bound). "screen": the main screen; "table": the agents,
# queue and suggestions tables (cursor movement); "suggestions": the suggestions panel only.
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("retry", "r", "screen"),
    ("block", "b", "screen"),
    ("unblock", "u", "screen"),
    ("release", "x", "screen"),
    ("edit", "e", "screen"),
    ("replay", "v", "screen"),
    ("report", "o", "screen"),
    ("attach", "a", "screen"),
    ("attach_enter", "enter", "screen"),
    ("send", "i", "screen"),
    ("answer_yes", "y", "screen"),
    ("answer_no", "n", "screen"),
    *((f"answer_{n}", str(n), "screen") for n in range(1, 10)),
    ("interrupt", "ctrl+c", "screen"),
    ("respawn", "K", "screen"),
    ("pause", "p", "screen"),
    ("scale_up", "plus", "screen"),
    ("scale_down", "minus", "screen"),
    ("apply", "A", "screen"),
    ("dismiss", "d", "suggestions"),
    ("diff", "d", "screen"),
    ("filter", "slash", "screen"),
    ("mark", "space", "screen"),
    ("sort", "s", "screen"),
    ("next_panel", "tab", "screen"),
    ("theme", "t", "screen"),
    ("copy_id", "c", "screen"),
    ("copy_line", "C", "screen"),
    ("help", "question_mark", "screen"),
    ("quit", "q", "screen"),
    ("quit_stop", "Q", "screen"),
    ("cursor_down", "j", "table"),
    ("cursor_up", "k", "table"),
    ("cursor_first", "g", "table"),
    ("cursor_last", "G", "table"),
)
ACTION_IDS: tuple[str, ...] = tuple(a[0] for a in ACTIONS)
# A binding of the first place may hide one of the second on purpose (`d` dismisses on the
# suggestions panel and shows a diff elsewhere); any other two actions must not share a key.
SHADOWS = frozenset({("suggestions", "screen")})
# Names Textual gives some characters (see textual.keys).
_RENAMED = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}


def normalize_key(key: str) -> str:
    """One key as Textual names it: '?' is 'question_mark', '/' is 'slash'."""
    key = key.strip()
    if len(key) != 1 or key.isalnum():
        return key
    try:
        name = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return key
    return _RENAMED.get(name, name)


def keys_of(value: str) -> list[str]:
    """The keys of a binding string ("r" or "r,ctrl+r"), normalized."""
    return [normalize_key(k) for k in value.split(",") if k.strip()]


def clashes(keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """Keys bound to two actions once `keymap` is applied: (key, action, other action).

    Each clash is reported once, with an action of `keymap` first when one of them is.
    """
    where = {a: w for a, _, w in ACTIONS}
    bound: dict[str, list[str]] = {}
    for action, default, _ in ACTIONS:
        for key in keys_of(keymap.get(action, default)):
            bound.setdefault(key, []).append(action)
    out = []
    for key, actions in bound.items():
        for i, a in enumerate(actions):
            for b in actions[i + 1 :]:
                pair = (where[a], where[b])
                if pair in SHADOWS or pair[::-1] in SHADOWS:
                    continue
                first, second = (b, a) if b in keymap and a not in keymap else (a, b)
                out.append((key, first, second))
    return out
