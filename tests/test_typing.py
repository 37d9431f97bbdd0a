"""The three packages type-check cleanly under mypy (configured in pyproject.toml)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _require_mypy() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it is part of the 'test' extra)")
    try:
        importlib.metadata.version("types-protobuf")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("types-protobuf is not installed (it is part of the 'test' extra)")


@pytest.mark.slow
def test_mypy_finds_no_errors(tmp_path):
    _require_mypy()
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "mypy_cache"), "data", "estimator", "models"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, "mypy errors:\n" + result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
