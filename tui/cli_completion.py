"""`overseer completion bash|zsh|fish`: shell completion generated from the argument parser.

Subcommands, their options, choices, and files or directories where an option takes one;
the scripts are written from the same parser `overseer` parses with, so they never drift.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overseer.tui.cli_common import command

SHELLS = ("bash", "zsh", "fish")
FILE_DESTS = frozenset({"config", "file", "screen"})
DIR_DESTS = frozenset({"state_dir"})


@dataclass(frozen=True)
class Option:
    """One option of a subcommand, as completion needs it."""

    flags: tuple[str, ...]
    help: str
    value: str | None  # None: a flag; "file", "dir", "choice" or "word": it takes a value
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, help line, options and positional choices."""

    name: str
    help: str
    options: tuple[Option, ...]
    choices: tuple[str, ...] = ()  # what its first positional argument may be


def _option(action: argparse.Action) -> Option:
    value: str | None = None
    if action.nargs != 0:
        value = (
            "choice"
            if action.choices
            else "file"
            if action.dest in FILE_DESTS
            else "dir"
            if action.dest in DIR_DESTS
            else "word"
        )
    help_text = "" if action.help in (None, argparse.SUPPRESS) else str(action.help)
    return Option(tuple(action.option_strings), help_text, value, tuple(action.choices or ()))


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Every subcommand of `parser` with what completion needs."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: str(a.help or "") for a in sub._choices_actions}
    out = []
    for name, p in sub.choices.items():
        options = tuple(_option(a) for a in p._actions if a.option_strings)
        positional = [a for a in p._actions if not a.option_strings and a.choices]
        choices = tuple(positional[0].choices or ()) if positional else ()
        out.append(Command(name, helps.get(name, ""), options, tuple(choices)))
    return out


def bash(parser: argparse.ArgumentParser) -> str:
    """A bash completion script (`eval "$(overseer completion bash)"`)."""
    cmds = commands(parser)
    lines = [
        '# overseer completion for bash: eval "$(overseer completion bash)" in ~/.bashrc',
        "_overseer() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in -*) ;; *) cmd="${COMP_WORDS[i]}"; break ;; esac',
        "    done",
        '    case "$cmd" in',
        '        "")',
        f'            COMPREPLY=($(compgen -W "{" ".join(c.name for c in cmds)} --help --version"'
        ' -- "$cur"))',
        "            return ;;",
    ]
    for c in cmds:
        files = [f for o in c.options if o.value == "file" for f in o.flags]
        dirs = [f for o in c.options if o.value == "dir" for f in o.flags]
        words = [f for o in c.options if o.value in ("word",) for f in o.flags]
        lines.append(f"        {c.name})")
        lines.append('            case "$prev" in')
        if files:
            lines.append(
                f'                {"|".join(files)}) COMPREPLY=($(compgen -f -- "$cur")); return ;;'
            )
        if dirs:
            lines.append(
                f'                {"|".join(dirs)}) COMPREPLY=($(compgen -d -- "$cur")); return ;;'
            )
        for o in c.options:
            if o.value == "choice":
                lines.append(
                    f"                {'|'.join(o.flags)}) COMPREPLY=($(compgen -W "
                    f'"{" ".join(o.choices)}" -- "$cur")); return ;;'
                )
        if words:
            lines.append(f"                {'|'.join(words)}) return ;;")
        lines.append("            esac")
        flags = " ".join(f for o in c.options for f in o.flags)
        lines.append(
            f'            if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{flags}" -- "$cur"));'
            f' else COMPREPLY=($(compgen -W "{" ".join(c.choices)}" -- "$cur")); fi ;;'
        )
    lines += ["    esac", "}", "complete -o default -F _overseer overseer", ""]
    return "\n".join(lines)


def _zsh_text(text: str) -> str:
    """Help text inside a single-quoted zsh _arguments spec."""
    for a, b in (("'", "'\\''"), ("[", "\\["), ("]", "\\]"), (":", "\\:")):
        text = text.replace(a, b)
    return text


def zsh(parser: argparse.ArgumentParser) -> str:
    """A zsh completion function (`overseer completion zsh > DIR/_overseer`, DIR on $fpath)."""
    cmds = commands(parser)
    lines = ["#compdef overseer", "", "_overseer() {", "    local -a cmds", "    cmds=("]
    lines += [f"        '{c.name}:{_zsh_text(c.help)}'" for c in cmds]
    lines += [
        "    )",
        "    if (( CURRENT == 2 )); then",
        "        _describe 'command' cmds",
        "        return",
        "    fi",
        "    case $words[2] in",
    ]
    for c in cmds:
        specs = []
        for o in c.options:
            action = {
                None: "",
                "file": ":file:_files",
                "dir": ":directory:_files -/",
                "choice": ":value:(" + " ".join(o.choices) + ")",
                "word": ":value: ",
            }[o.value]
            specs += [f"'{flag}[{_zsh_text(o.help)}]{action}'" for flag in o.flags]
        if c.choices:
            specs.append(f"'1:value:({' '.join(c.choices)})'")
        specs.append("'*::argument:_default'")
        lines.append(f"        {c.name}) _arguments -s {' '.join(specs)} ;;")
    lines += [
        "    esac",
        "}",
        "",
        'if [[ "${funcstack[1]}" == "_overseer" ]]; then',
        '    _overseer "$@"',
        "else",
        "    compdef _overseer overseer",
        "fi",
        "",
    ]
    return "\n".join(lines)


def _fish_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(parser: argparse.ArgumentParser) -> str:
    """A fish completion file (`overseer completion fish > ~/.config/fish/completions/...`)."""
    cmds = commands(parser)
    lines = ["# overseer completion for fish", "complete -c overseer -f"]
    for c in cmds:
        lines.append(
            f"complete -c overseer -n __fish_use_subcommand -a {c.name} -d {_fish_text(c.help)}"
        )
    lines.append("complete -c overseer -n __fish_use_subcommand -l version -d 'print the version'")
    for c in cmds:
        cond = f"-n '__fish_seen_subcommand_from {c.name}'"
        for o in c.options:
            parts = [f"complete -c overseer {cond}"]
            for flag in o.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if o.value == "file":
                parts.append("-r -F")
            elif o.value == "dir":
                parts.append("-r -a '(__fish_complete_directories)'")
            elif o.value == "choice":
                parts.append(f"-r -a {_fish_text(' '.join(o.choices))}")
            elif o.value == "word":
                parts.append("-r")
            if o.help:
                parts.append(f"-d {_fish_text(o.help)}")
            lines.append(" ".join(parts))
        if c.choices:
            lines.append(f"complete -c overseer {cond} -a {_fish_text(' '.join(c.choices))}")
    return "\n".join(lines) + "\n"


GENERATORS: dict[str, Callable[[argparse.ArgumentParser], str]] = {
    "bash": bash,
    "zsh": zsh,
    "fish": fish,
}


def cmd_completion(args: argparse.Namespace) -> int:
    print(GENERATORS[args.shell](args.parser), end="")  # the parser that parsed this command
    return 0


def register(sub: Any) -> None:
    """Add `overseer completion SHELL`."""
    p = command(
        sub,
        "completion",
        cmd_completion,
        "print a shell completion script (bash, zsh, fish)",
        project=False,
    )
    p.add_argument("shell", choices=SHELLS)
