"""SIGKILL at several moments of training; the resumed run is bitwise equal to an uninterrupted
one, and nothing half-written is ever loaded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

import rel_program as prog
from estimator import checkpoint as ckpt

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("uninterrupted")
    prog.make_estimator(model_dir).train(prog.input_fn, max_steps=prog.N_STEPS)
    return prog.variables(model_dir)


MOMENTS = {  # moment -> (latest checkpoint after the kill, what the kill left behind)
    "step:6": ("model.ckpt-4.pt", None),               # mid-step: forward done, no update
    "save:8": ("model.ckpt-4.pt", ".tmp."),            # mid-save: half a file, temp name
    "index:8": ("model.ckpt-4.pt", "model.ckpt-8.pt"),  # renamed, not yet in the index
}


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """One model_dir per moment, each left by a training process SIGKILLed then (the three
    processes run at once)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + [p for p in sys.path if p]))
    dirs, procs = {}, {}
    for moment in MOMENTS:
        dirs[moment] = tmp_path_factory.mktemp(moment.replace(":", "_"))
        procs[moment] = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "rel_program.py"), str(dirs[moment]), moment],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    for moment, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, f"{moment}: {err[-3000:]}"
    return dirs


@pytest.mark.slow
@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_resume_after_sigkill_is_bitwise_equal(killed, uninterrupted, moment):
    tmp_path = killed[moment]
    latest, leftover = MOMENTS[moment]
    assert os.path.basename(ckpt.latest_checkpoint(tmp_path)) == latest
    if leftover is not None:  # what the kill left behind, which must not be loaded
        assert any(leftover in name for name in os.listdir(tmp_path)), os.listdir(tmp_path)
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=prog.N_STEPS)
    assert os.path.basename(ckpt.latest_checkpoint(tmp_path)) == f"model.ckpt-{prog.N_STEPS}.pt"
    prog.assert_bitwise_equal(prog.variables(tmp_path), uninterrupted)
    assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]  # the dead writer's temp: gone
