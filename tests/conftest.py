from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_configure(config: pytest.Config) -> None:
    """Keep cnnaudit's cache of parsed board files (cnnaudit/datafile.py) out of the user's
    home: one temporary folder for the session, inherited by the CLI's subprocesses."""
    os.environ["CNNAUDIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="cnnaudit-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.pop("CNNAUDIT_CACHE_DIR", ""), ignore_errors=True)


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write spec text to a file and return its path (errors then name a real file)."""

    def write(text: str, name: str = "model.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
