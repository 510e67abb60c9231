"""Examples under every subcommand's --help, and the short usage of a bare `overseer`."""

from __future__ import annotations

import argparse
from typing import Any

SHORT_USAGE = """\
usage: overseer COMMAND [options]

  overseer up --demo                 the demo fleet and its dashboard
  overseer up                        the supervisor for ./overseer.yaml and its dashboard
  overseer run --until-done          the supervisor in the foreground, printing events
  overseer status                    agents and tasks
  overseer add ID -- COMMAND         queue a task;  overseer edit ID -- COMMAND  fix one
  overseer retry|block|release TASK  act on a task;  overseer send AGENT TEXT  type into an agent

Every command: overseer --help.  One command: overseer COMMAND --help."""

EXAMPLES: dict[str, list[str]] = {
    "scale": [
        "overseer scale worker 6             # the group 'worker' grows to 6 (2 s apart)",
        "overseer scale worker +1            # one more (what + does on the dashboard)",
        "overseer scale worker -- -1         # one fewer: an idle one, else a busy one at its end",
        "overseer scale worker 2 --force     # busy agents too, now (their tasks are released)",
    ],
    "run": [
        "overseer run --demo --until-done      # the demo, unattended; exits 1 (some fail on purpose)",
        "overseer run -c overseer.yaml         # your project, until Ctrl-C",
        "overseer run --sync-config            # tasks changed in overseer.yaml take the new version",
        "overseer run --demo --reset           # replay the demo from the start",
        "overseer run --host-id build1         # one of several hosts sharing a PostgreSQL store",
    ],
    "status": ["overseer status", "overseer status --json | jq '.tasks[] | {id, state}'"],
    "attach": [
        "overseer attach w-1                   # this host's agent, in its tmux",
        "overseer attach build2/w-1            # another host's, over ssh (hosts: in the config)",
        "overseer attach build2/w-1 --print    # the command, not run",
    ],
    "add": [
        "overseer add lint -- ruff check .",
        "overseer add test --depends-on lint --timeout 900 -- 'pytest -q && echo ok'",
        "overseer add --file more-tasks.yaml",
    ],
    "edit": [
        "overseer edit build -- make -j4 all   # the next attempt runs the new command",
        "overseer edit build --timeout 600 --priority 5",
        "overseer edit package --depends-on build,test",
        "overseer edit build --verify ''       # no verify command any more",
    ],
    "retry": ["overseer retry db-migrate"],
    "block": ["overseer block deploy --reason 'waiting for credentials'"],
    "unblock": ["overseer unblock deploy"],
    "release": [
        "overseer release build   # stops the attempt; the task is ready again, no try used"
    ],
    "send": ["overseer send worker-2 y", "overseer send worker-1 'git status' --no-enter"],
    "interrupt": ["overseer interrupt worker-3"],
    "pause": ["overseer pause worker-1"],
    "resume": ["overseer resume worker-1"],
    "respawn": ["overseer respawn worker-4"],
    "down": ["overseer down", "overseer down --kill-agents   # the agents end too"],
    "plan": ["overseer plan", "overseer plan --demo --json"],
    "events": ["overseer events --follow", "overseer events --since 120 --json"],
    "up": [
        "overseer up --demo",
        "overseer up -c overseer.yaml --theme light",
        "overseer up --demo --reset       # replay the demo from the start",
    ],
    "tui": ["overseer tui --state-dir .overseer"],
    "suggest": ["overseer suggest", "overseer suggest --json"],
    "apply": ["overseer apply 2", "overseer apply task:db-migrate:block --yes --json"],
    "dismiss": ["overseer dismiss 3"],
    "explain": [
        "overseer explain claude-1",
        "overseer explain --kind claude --screen saved-screen.txt",
    ],
    "answer": ["overseer answer worker-2 y", "overseer answer claude-1 2"],
    "hook": [
        'echo \'{"session_id": "s1"}\' | overseer hook claude-1 Stop',
        'overseer hook codex-1 notify \'{"type": "agent-turn-complete"}\'',
    ],
    "health": ["overseer health", "overseer health --json"],
    "cleanup": ["overseer cleanup --dry-run", "overseer cleanup --force"],
    "recover": ["overseer recover"],
    "db": [
        "overseer db init                                    # SQLite: .overseer/state.db",
        "overseer db init --store postgresql://ovs@db.example/overseer",
    ],
    "decompose": [
        "overseer decompose SPEC.md --agent claude   # shows the plan, asks before adding",
        "overseer decompose docs/feature.md --agent codex-1 --yes",
    ],
    "record": [
        "overseer record build -o build.cast            # the task's latest attempt",
        "overseer record 42 -o a.cast --idle-limit 2 --speed 2",
        "asciinema play build.cast",
    ],
    "token": [
        "overseer token create --role viewer --name grafana   # prints the token once",
        "overseer token list",
        "overseer token revoke grafana",
    ],
    "report": [
        "overseer report                       # the latest run",
        "overseer report 12 --json             # run 12, as JSON",
        "overseer report --since 2h --csv      # every attempt of the last two hours",
        "overseer report compare 11 12         # two runs side by side",
    ],
    "runs": ["overseer runs", "overseer runs --json"],
    "serve": [
        "overseer serve                                      # 127.0.0.1:8787",
        "overseer serve --listen 0.0.0.0:9100 --allow-remote # other machines: put TLS in front",
    ],
    "completion": [
        'eval "$(overseer completion bash)"                  # in ~/.bashrc',
        "overseer completion zsh > ~/.zfunc/_overseer        # a directory on $fpath",
        "overseer completion fish > ~/.config/fish/completions/overseer.fish",
    ],
}


def add_examples(sub: Any) -> None:
    """Put each subcommand's examples under its --help (tests check that every one has some)."""
    for name, parser in sub.choices.items():
        lines = EXAMPLES.get(name)
        if not lines:
            continue
        parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
