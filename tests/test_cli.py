"""The single ``query3d`` entry point describes every verb."""

from __future__ import annotations

import subprocess
import sys

import pytest

from query3d.cli import VERBS, build_parser


def test_top_level_help_lists_every_verb() -> None:
    out = subprocess.run([sys.executable, "-m", "query3d", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for verb in VERBS:
        assert verb in out


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([verb, "--help"])
    assert done.value.code == 0
    assert f"query3d {verb}" in capsys.readouterr().out


def test_unknown_verb_fails() -> None:
    result = subprocess.run([sys.executable, "-m", "query3d", "frobnicate"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "invalid choice" in result.stderr


def test_demo_comes_from_the_node_package() -> None:
    """The core lists ``demo`` but never imports the ROS package: the verb is the node
    package's entry point (``query3d.cli`` group)."""
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="query3d.cli")}
    assert names.get("demo") == "query3d_ros.demo:add_parser"
    args = build_parser().parse_args(["demo", "--out", "x"])
    assert args.run.__module__ == "query3d_ros.demo"


def test_a_missing_plugin_verb_says_what_to_install(monkeypatch, capsys) -> None:
    import query3d.cli as cli

    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    assert cli.main(["demo", "--out", "x"]) == 2
    assert "ROS node package" in capsys.readouterr().err
