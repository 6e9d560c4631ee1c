"""Shared test helpers for the core suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``../shared`` beside the checkout (ours, not our users'): tests using it skip
    when it is absent."""
    return Path(os.environ.get("QUERY3D_SHARED", REPO.parent / "shared"))


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"{path} is absent (project-internal data)")
    return path
