"""The command line's conventions: --version, a short usage, examples under every --help,
and completion scripts generated from the parser (bash ones run in a real bash)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from overseer.state.store import Store
from overseer.tui.cli import build_parser, main
from overseer.tui.cli_common import version
from overseer.tui.cli_completion import GENERATORS, commands
from tests.project import ROOT


def overseer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "overseer.tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_version(tmp_path: Path) -> None:
    r = overseer("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"overseer {version()}"
    assert version()[0].isdigit()
    r = overseer("health", "--json", "--state-dir", str(tmp_path / ".overseer"))
    assert json.loads(r.stdout)["version"] == version()


def test_a_bare_overseer_prints_a_short_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: overseer COMMAND") and "overseer up --demo" in err
    assert "required" not in err and len(err.splitlines()) < 15


def test_every_subcommand_has_examples_in_its_help() -> None:
    names = [c.name for c in commands(build_parser())]
    assert {"run", "add", "edit", "up", "health", "completion"} <= set(names)
    for name in names:
        r = overseer(name, "--help")
        assert r.returncode == 0, name
        assert "examples:\n" in r.stdout and f"  overseer {name}" in r.stdout, name


def test_add_and_edit_help_show_the_command_after_a_double_dash() -> None:
    assert "usage: overseer add ID [options] -- COMMAND..." in overseer("add", "--help").stdout
    assert "usage: overseer edit TASK [options] [-- COMMAND...]" in (
        overseer("edit", "--help").stdout
    )


def complete(script: Path, line: str) -> list[str]:
    """What bash completes for `line` (the word being completed is its last one)."""
    words = line.split(" ")
    body = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_overseer\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    r = subprocess.run(["bash", "--norc", "-c", body], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_options_and_choices(tmp_path: Path) -> None:
    script = tmp_path / "overseer.bash"
    r = overseer("completion", "bash")
    assert r.returncode == 0
    script.write_text(r.stdout)
    assert complete(script, "overseer ed") == ["edit"]
    assert set(complete(script, "overseer ")) >= {"run", "status", "edit", "completion"}
    assert complete(script, "overseer edit build --ti") == ["--timeout"]
    assert complete(script, "overseer run --sync") == ["--sync-config"]
    assert complete(script, "overseer completion ") == ["bash", "zsh", "fish"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "file.yaml").write_text("")
    assert complete(script, f"overseer run --state-dir {tmp_path}/s") == [f"{tmp_path}/sub"]
    assert complete(script, f"overseer run -c {tmp_path}/f") == [f"{tmp_path}/file.yaml"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_command_and_option(shell: str) -> None:
    parser = build_parser()
    text = GENERATORS[shell](parser)
    for c in commands(parser):
        assert c.name in text
        for o in c.options:
            for flag in o.flags:
                fish = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                wanted = flag if shell == "zsh" else fish
                assert wanted in text, (c.name, flag)
    if shutil.which(shell):  # a syntax check where the shell is installed
        r = subprocess.run([shell, "-n"], input=text, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr


def test_a_broken_user_config_stops_the_dashboard_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "overseer").mkdir()
    (tmp_path / "overseer" / "config.yaml").write_text("keymap:\n  retry: R\n  sort: R\n")
    Store(tmp_path / ".overseer" / "state.db").close()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "overseer.tui.cli",
            "tui",
            "--state-dir",
            str(tmp_path / ".overseer"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), PYTHONPATH=str(ROOT)),
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2
    assert f"{tmp_path}/overseer/config.yaml:3:" in r.stderr and "bound twice" in r.stderr
