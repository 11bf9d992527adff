"""Shared test fixtures.

Real-data tests read ``../shared/data`` beside the repository (or ``$LIPMOTION_DATA``) and
skip with a message when it is absent, so the suite runs anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("LIPMOTION_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings folder; skips the test when it is absent."""
    path = _shared_data_dir()
    if not (path / "grid").is_dir():
        pytest.skip(f"real data not found at {path} (set LIPMOTION_DATA to run real-data tests)")
    return path


@pytest.fixture(scope="session")
def grid_s1(shared_data) -> Path:
    return shared_data / "grid" / "s1"
