"""The README stays true: it names every setting, the two commands and every CLI command."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from regio.cli import app
from regio.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [
        f"REGIO_{name.upper()}" for name in Settings.model_fields if f"REGIO_{name.upper()}" not in README
    ]
    assert missing == []


def test_the_two_commands_are_the_ones_the_makefile_has() -> None:
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert f"make {target}" in README
        assert f"\n{target}:" in makefile


def _commands(group, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    names = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}"
        if getattr(command, "commands", None):
            names += _commands(command, path)
        else:
            names.append(path)
    return names


def test_every_cli_command_is_in_the_readme() -> None:
    missing = [name for name in _commands(get_command(app), "regio") if name not in README]
    assert missing == []
