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
