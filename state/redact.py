"""Mask secrets (API keys, tokens, passwords, private keys) in text before it is stored or sent.

Used at write time for attempt output tails, suggestion evidence and notification
environments. Only the standard library: `state` is importable on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

MASK = "***"

# Names of assignments whose value is a secret: `password=…`, `GITHUB_TOKEN=…`, `api-key: "…"`.
# The secret word ends the name or is followed by a separator, so `max_tokens=` and
# `tokenizer=` stay readable while `GITHUB_TOKEN=` and `secret_key=` are masked.
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*?"
    r"(?:passwd|password|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|credentials?|auth[_-]?key)"
    r"(?:[_.-][A-Za-z0-9_.-]*)?(?![A-Za-z0-9])"
)
# A value: quoted, or a run of characters up to whitespace, a quote, comma, semicolon or '&'.
_VALUE = r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;&]+)"

_Sub = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _keep(group: int) -> Callable[[re.Match[str]], str]:
    """Keep the text of one group (a recognisable prefix) and mask the rest."""
    return lambda m: m.group(group) + MASK


def _assignment(m: re.Match[str]) -> str:
    value = m.group("value")
    if value.startswith(("'", '"')) and len(value) >= 2:
        masked = value[0] + MASK + value[-1]
    else:
        masked = MASK
    return m.group("lead") + masked


def _private_key(m: re.Match[str]) -> str:
    label = m.group("label") or ""
    return f"-----BEGIN {label}PRIVATE KEY-----\n{MASK}\n-----END {label}PRIVATE KEY-----"


# Order matters: whole blocks and headers first, then specific token shapes, then generic
# assignments (which would otherwise keep only part of a token they contain).
_RULES: tuple[_Sub, ...] = (
    (
        re.compile(
            r"-----BEGIN (?P<label>[A-Z0-9 ]*?)PRIVATE KEY-----.*?"
            r"(?:-----END [A-Z0-9 ]*?PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        _private_key,
    ),
    # The end of a key block whose BEGIN line was cut off (e.g. by a tail).
    (
        re.compile(
            r"(?:^[A-Za-z0-9+/=]{16,}\r?\n)+(?P<end>-----END [A-Z0-9 ]*PRIVATE KEY-----)",
            re.MULTILINE,
        ),
        lambda m: MASK + "\n" + m.group("end"),
    ),
    (
        re.compile(
            r"(?P<lead>\b(?:proxy-)?authorization\s*[:=]\s*)(?P<value>[^\r\n]+)", re.IGNORECASE
        ),
        lambda m: m.group("lead") + MASK,
    ),
    (
        re.compile(r"(?P<lead>\bx-(?:api|auth)-(?:key|token)\s*:\s*)[^\r\n]+", re.IGNORECASE),
        lambda m: m.group("lead") + MASK,
    ),
    # A bearer token has a digit somewhere; "Bearer authentication" is prose.
    (
        re.compile(r"(\bBearer\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
        _keep(1),
    ),
    # Anthropic before OpenAI: both start with sk-.
    (re.compile(r"\b(sk-ant-)[A-Za-z0-9_-]{16,}"), _keep(1)),
    (re.compile(r"\b(sk-(?:proj-|svcacct-|admin-)?)[A-Za-z0-9_-]{20,}"), _keep(1)),
    (re.compile(r"\b(github_pat_)[A-Za-z0-9_]{20,}"), _keep(1)),
    (re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{30,}"), _keep(1)),
    (re.compile(r"\b(glpat-)[A-Za-z0-9_-]{20,}"), _keep(1)),
    (
        re.compile(r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16})\b"),
        lambda m: m.group(1)[:4] + MASK,
    ),
    (re.compile(r"\b(xox[abposr]-)[A-Za-z0-9-]{10,}"), _keep(1)),
    (re.compile(r"\b(AIza)[0-9A-Za-z_-]{35}"), _keep(1)),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        lambda m: "eyJ" + MASK,
    ),
    # user:password@ in URLs.
    (
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)", re.IGNORECASE),
        lambda m: m.group(1) + MASK + m.group(2),
    ),
    # password=…, TOKEN=…, --password=…, "api_key": "…", secret: '…'
    (
        re.compile(
            rf"(?P<lead>(?<![A-Za-z0-9])[\"']?{_SECRET_NAME}[\"']?\s*=\s*)(?P<value>{_VALUE})",
            re.IGNORECASE,
        ),
        _assignment,
    ),
    (
        re.compile(
            rf"(?P<lead>(?<![A-Za-z0-9])[\"']{_SECRET_NAME}[\"']\s*:\s*)(?P<value>\"[^\"\n]*\"|'[^'\n]*')",
            re.IGNORECASE,
        ),
        _assignment,
    ),
    # YAML or env-file style at the start of a line: `password: hunter2`, `- token: abc`.
    (
        re.compile(
            rf"(?P<lead>^[ \t]*(?:export[ \t]+|-[ \t]+)?{_SECRET_NAME}[ \t]*:[ \t]+)"
            rf"(?P<value>{_VALUE})",
            re.IGNORECASE | re.MULTILINE,
        ),
        _assignment,
    ),
    (
        re.compile(
            rf"(?P<lead>(?<![A-Za-z0-9-])--{_SECRET_NAME}\s+)(?P<value>(?!-){_VALUE})",
            re.IGNORECASE,
        ),
        _assignment,
    ),
)


def mask(text: str) -> str:
    """Return `text` with secrets replaced by ***; ordinary text comes back unchanged."""
    if not text:
        return text
    for pattern, replace in _RULES:
        text = pattern.sub(replace, text)
    return text


def mask_all(lines: Iterable[str]) -> list[str]:
    """Mask every line of a sequence."""
    return [mask(line) for line in lines]


def mask_env(env: dict[str, str]) -> dict[str, str]:
    """Mask the values of an environment mapping (names are kept)."""
    return {key: mask(value) for key, value in env.items()}
