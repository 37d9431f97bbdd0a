"""Files in model_dir: nothing outside it is ever deleted, truncated or followed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import rel_program as prog
from estimator import checkpoint as ckpt

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symlinks and fork are POSIX here")


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "outside" / "notes.txt"
    path.parent.mkdir()
    path.write_text("precious")
    return path


def _write_index(model_dir, entries, latest=None):
    lines = [f'model_checkpoint_path: "{latest or entries[-1]}"']
    lines += [f'all_model_checkpoint_paths: "{e}"' for e in entries]
    (model_dir / "checkpoint").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink"])
def test_pruning_never_deletes_what_a_crafted_index_points_to(tmp_path, victim, kind, caplog):
    model_dir = tmp_path / "model"
    prog.make_estimator(model_dir).train(prog.input_fn, max_steps=4)
    if kind == "absolute":
        entry = str(victim)
    elif kind == "dotdot":
        entry = os.path.join("..", "outside", "notes.txt")
    else:
        entry = "model.ckpt-1.pt"
        os.symlink(victim, model_dir / entry)
    _write_index(model_dir, [entry, "model.ckpt-4.pt"])
    with caplog.at_level(logging.WARNING):
        prog.make_estimator(model_dir, keep_checkpoint_max=1).train(prog.input_fn, max_steps=12)
    assert victim.read_text() == "precious"
    assert repr(entry) in caplog.text and "Ignoring" in caplog.text
    assert sorted(n for n in os.listdir(model_dir) if n.endswith(".pt")) == \
        (["model.ckpt-1.pt"] if kind == "symlink" else []) + ["model.ckpt-12.pt"]


def test_index_pointing_outside_model_dir_is_not_loaded(tmp_path, caplog):
    elsewhere, model_dir = tmp_path / "elsewhere", tmp_path / "model"
    prog.make_estimator(elsewhere).train(prog.input_fn, max_steps=8)
    prog.make_estimator(model_dir).train(prog.input_fn, max_steps=4)
    outside = str(elsewhere / "model.ckpt-8.pt")
    _write_index(model_dir, ["model.ckpt-4.pt", outside])
    with caplog.at_level(logging.WARNING):
        assert ckpt.latest_checkpoint(model_dir).endswith(os.path.join("model", "model.ckpt-4.pt"))
        assert ckpt.load(model_dir)["global_step"] == 4
    assert repr(outside) in caplog.text


def test_symlinked_checkpoint_file_is_not_loaded(tmp_path, caplog):
    elsewhere, model_dir = tmp_path / "elsewhere", tmp_path / "model"
    prog.make_estimator(elsewhere).train(prog.input_fn, max_steps=8)
    prog.make_estimator(model_dir).train(prog.input_fn, max_steps=4)
    os.remove(model_dir / "checkpoint")
    os.symlink(elsewhere / "model.ckpt-8.pt", model_dir / "model.ckpt-9.pt")
    with caplog.at_level(logging.WARNING):
        assert ckpt.load(model_dir)["global_step"] == 4
    assert "'model.ckpt-9.pt'" in caplog.text


def test_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path, victim):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    os.symlink(victim, model_dir / ".lock")
    with pytest.raises(ckpt.UnsafePathError, match=r"\.lock: it is a symlink \(to '.*notes"):
        prog.make_estimator(model_dir).train(prog.input_fn, max_steps=2)
    assert victim.read_text() == "precious"


def test_planted_temp_file_symlinks_are_not_followed(tmp_path, victim):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    # The names a writer with a predictable scheme would use for this process's next saves.
    for name in ("model.ckpt-2.pt", "model.ckpt-2.pt.sha256", "checkpoint"):
        os.symlink(victim, model_dir / f".{name}.tmp.{os.getpid()}")
    prog.make_estimator(model_dir, save_checkpoints_steps=2).train(prog.input_fn, max_steps=2)
    assert victim.read_text() == "precious"
    assert ckpt.load(model_dir)["global_step"] == 2


_FORKING_TRAINER = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, sys.argv[2])
    import estimator as est
    import rel_program as prog

    class ForkThenDie(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            if run_context.session.global_step == 2:
                if os.fork() == 0:  # a worker process that outlives the trainer
                    time.sleep(60)
                    os._exit(0)
                print("forked", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    prog.make_estimator(sys.argv[1]).train(prog.input_fn, hooks=[ForkThenDie()], max_steps=8)
""")


def _children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return kids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
@pytest.mark.slow
def test_child_forked_while_training_does_not_keep_the_lock(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    # start_new_session: the orphaned worker is reparented, so find it by its session
    proc = subprocess.Popen([sys.executable, "-c", _FORKING_TRAINER, str(tmp_path), here],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "forked"
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        with ckpt.ModelDirLock(tmp_path) as lock:  # the live worker does not hold it
            assert lock.held
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sleeping worker is in that session


_INHERITED_HOLDER = textwrap.dedent("""
    import os, subprocess, sys
    from estimator.checkpoint import ModelDirLock
    lock = ModelDirLock(sys.argv[1]).acquire()
    # Hand the locked file to an unrelated program (as a careless spawn with pass_fds would),
    # then exit: the lock lives on in that program, and the file names this dead process.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             pass_fds=(lock._fd,))
    print(child.pid, flush=True)
    os._exit(0)
""")


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
@pytest.mark.slow
def test_lock_message_names_the_live_holder_not_the_dead_trainer(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _INHERITED_HOLDER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    holder = int(proc.stdout.readline())
    proc.wait(timeout=60)
    try:
        with pytest.raises(ckpt.ModelDirLockedError) as info:
            ckpt.ModelDirLock(tmp_path).acquire()
        message = str(info.value)
        assert f"process(es) {holder} (process {proc.pid}, which took it, has exited" in message
    finally:
        os.kill(holder, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the kernel releases the lock with the last holder
        try:
            ckpt.ModelDirLock(tmp_path).acquire().release()
            break
        except ckpt.ModelDirLockedError:
            time.sleep(0.05)
    else:
        pytest.fail("the lock was not released after its holder died")
