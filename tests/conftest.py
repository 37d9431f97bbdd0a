"""Fixtures shared by the test folders."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules_after(code):
    """The module names loaded after running ``code`` in a fresh interpreter on this tree."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint(sorted(sys.modules))"],
                         check=True, capture_output=True, text=True, env=env).stdout
    return set(eval(out.strip().splitlines()[-1]))  # a printed list of str


@pytest.fixture
def modules_after():
    """``modules_after(code)``: what a fresh interpreter has imported after ``code``."""
    return _modules_after
