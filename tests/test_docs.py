"""Docs that are checked: every command has help and appears in the README."""

import re

import pytest
from typer.testing import CliRunner

from cli.main import build_app
from tests.conftest import ROOT


def click_commands() -> dict:
    import typer.main

    group = typer.main.get_command(build_app())
    found = {}
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        found |= {f"{name} {s}": c for s, c in sub.items()} if sub else {name: command}
    return found


def commands() -> list[str]:
    return list(click_commands())


def test_there_are_commands():
    assert set(commands()) >= {"index", "search", "info", "model build"}


@pytest.mark.parametrize("command", commands())
def test_command_has_help(command):
    summary = (click_commands()[command].help or "").strip().splitlines()[0]
    assert len(summary) > 20
    result = CliRunner().invoke(build_app(), [*command.split(), "--help"])
    assert result.exit_code == 0
    assert summary in " ".join(result.stdout.split())


@pytest.mark.parametrize("command", commands())
def test_command_is_in_the_readme(command):
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"vraagbaak {command}\b", readme), f"`vraagbaak {command}` is not in README.md"


def test_readme_gives_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_every_module_is_in_the_architecture_doc():
    """docs/architecture.md lists the layout one line per module: a new module joins it."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [str(p.relative_to(ROOT)) for package in ("indexer", "search", "cli")
               for p in (ROOT / package).rglob("*.py")
               if p.name != "__init__.py" or p.parent.name in ("vectors", "keywords", "embedders")
               if p.stem not in doc]
    assert missing == []
