"""Disk full and read-only model_dir: clear errors, safe files, results kept."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

import rel_program as prog
from estimator import checkpoint as ckpt
from estimator.checkpoint import _files

HERE = os.path.dirname(os.path.abspath(__file__))


def _temp_files(model_dir):
    return [n for n in os.listdir(model_dir) if ".tmp." in n]


class _FullDisk:
    """A file whose writes fail with ENOSPC once ``budget`` bytes are written."""

    def __init__(self, f, budget):
        self._f, self._budget = f, budget

    def write(self, b):
        if len(b) > self._budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(b)
        return self._f.write(b)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.mark.parametrize("budget", [0, 100, 3000, 9000])
def test_disk_full_during_a_save_names_the_file_and_bytes(tmp_path, monkeypatch, budget):
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=4)
    real_open = _files._open_temp
    monkeypatch.setattr(_files, "_open_temp", lambda d, name: (
        lambda tmp_f: (tmp_f[0], _FullDisk(tmp_f[1], budget)))(real_open(d, name)))
    with pytest.raises(ckpt.DiskFullError) as info:
        prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=8)
    message = str(info.value)
    assert os.path.join(str(tmp_path), "model.ckpt-8.pt") in message
    assert "the disk is full" in message and "bytes" in message
    needed = int(message.split("needs about ")[1].split(" bytes")[0])
    assert needed >= 0.9 * os.path.getsize(tmp_path / "model.ckpt-4.pt")
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert _temp_files(tmp_path) == []
    monkeypatch.undo()
    assert ckpt.latest_checkpoint(tmp_path).endswith("model.ckpt-4.pt")
    assert ckpt.load(tmp_path)["global_step"] == 4  # and it still loads


_LIMITED = textwrap.dedent("""
    import resource, signal, sys
    sys.path.insert(0, sys.argv[2])
    import rel_program as prog
    from estimator import checkpoint as ckpt
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    limit = int(sys.argv[3])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        prog.make_estimator(sys.argv[1]).train(prog.input_fn, max_steps=8)
    except ckpt.DiskFullError as e:
        print("DiskFullError:", e)
        sys.exit(0)
    sys.exit(1)
""")


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                    reason="RLIMIT_FSIZE with SIGXFSZ ignored is tested on Linux")
@pytest.mark.slow
def test_file_size_limit_during_a_save_is_a_clear_error(tmp_path):
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=4)
    limit = os.path.getsize(tmp_path / "model.ckpt-4.pt") // 2
    run = subprocess.run([sys.executable, "-c", _LIMITED, str(tmp_path), HERE, str(limit)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "model.ckpt-8.pt: the file size limit (RLIMIT_FSIZE) was reached" in run.stdout
    assert _temp_files(tmp_path) == []
    assert ckpt.load(tmp_path)["global_step"] == 4


_EVALUATE = textwrap.dedent("""
    import logging, os, sys
    sys.path.insert(0, sys.argv[2])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    import rel_program as prog
    import torch.utils.tensorboard  # imported lazily by the writer, so before dropping root
    if os.getuid() == 0:
        os.setuid(65534)  # root ignores permissions: evaluate as nobody
    print("RESULTS", prog.make_estimator(sys.argv[1]).evaluate(prog.input_fn, steps=2))
""")


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
@pytest.mark.slow
def test_evaluate_on_a_read_only_model_dir_returns_results_with_one_warning():
    root = tempfile.mkdtemp()  # not under pytest's private tmp dir: nobody must reach it
    try:
        os.chmod(root, 0o755)
        model_dir = os.path.join(root, "model")
        prog.make_estimator(model_dir).train(prog.input_fn, max_steps=4)
        for dirpath, dirnames, filenames in os.walk(model_dir):
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o444)
            os.chmod(dirpath, 0o555)
        run = subprocess.run([sys.executable, "-c", _EVALUATE, model_dir, HERE],
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "RESULTS {" in run.stdout and "'global_step': 4" in run.stdout
        warnings = [line for line in run.stderr.splitlines() if line.startswith("WARNING")]
        assert len(warnings) == 1 and "evaluation summaries" in warnings[0], run.stderr
        assert not os.path.exists(os.path.join(model_dir, "eval"))
    finally:
        for dirpath, dirnames, filenames in os.walk(root):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(root)
