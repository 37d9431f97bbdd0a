"""Ctrl-C / SIGTERM during train(): the step finishes, a checkpoint is saved, the run stops;
running again resumes from it. Real signals, sent to a real training process."""

import os
import signal
import subprocess
import sys
import textwrap
import pytest

import estimator as est

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TRAINER = textwrap.dedent("""
    import sys, time, torch, data, estimator as est

    def model_fn(features, labels, mode):
        loss = (est.layers.dense(features, 1) - labels).pow(2).mean()
        train_op = est.train.GradientDescentOptimizer(0.01).minimize(
            loss, est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    class Announce(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            print("step", flush=True)
            time.sleep(0.05)

    def input_fn():
        x = torch.arange(64.0).reshape(32, 2) / 64
        return data.Dataset.from_tensor_slices((x, x.sum(1, keepdim=True))).repeat().batch(4)

    config = est.RunConfig(tf_random_seed=1, save_checkpoints_secs=3600)
    est.Estimator(model_fn, sys.argv[1], config=config).train(
        input_fn, steps=int(sys.argv[2]), hooks=[Announce()])
    print("finished", flush=True)
""")


def _start(tmp_path, model_dir, steps):
    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, str(script), str(model_dir), str(steps)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _interrupt_after(process, steps_seen, signum):
    seen = 0
    while seen < steps_seen:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        seen += line == "step\n"
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    return seen + out.count("step\n"), out, err


# An uncaught KeyboardInterrupt ends Python by SIGINT, as a shell expects of Ctrl-C.
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_the_step_just_finished_and_stops(tmp_path, signum):
    model_dir = tmp_path / "model"
    process = _start(tmp_path, model_dir, 10_000)
    steps_done, out, err = _interrupt_after(process, 5, signum)
    assert process.returncode == -signum, err
    assert "finished" not in out
    if signum == signal.SIGINT:
        assert "KeyboardInterrupt" in err
    assert f"{signal.Signals(signum).name} received: saving a checkpoint" in err
    latest = est.checkpoint.load(str(model_dir))
    assert latest["global_step"] == steps_done  # the last step that ran, nothing lost
    assert not [name for name in os.listdir(model_dir) if ".tmp" in name]


def test_running_again_after_ctrl_c_resumes_and_matches_an_uninterrupted_run(tmp_path):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    process = _start(tmp_path, interrupted, 20)
    steps_done, _, err = _interrupt_after(process, 4, signal.SIGINT)
    assert process.returncode == -signal.SIGINT and steps_done < 20, err
    resumed = _start(tmp_path, interrupted, 20 - steps_done)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0 and "finished" in out, err
    uninterrupted = _start(tmp_path, straight, 20)
    assert uninterrupted.wait(timeout=120) == 0
    a, b = est.checkpoint.load(str(interrupted)), est.checkpoint.load(str(straight))
    assert a["global_step"] == b["global_step"] == 20
    for key in b["model"]:
        assert a["model"][key].equal(b["model"][key]), key


def test_handlers_are_restored_after_train(tmp_path):
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    import torch
    import data

    def model_fn(features, labels, mode):
        loss = est.layers.dense(features, 1).pow(2).mean()
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.GradientDescentOptimizer(
            0.1).minimize(loss, est.train.get_global_step()))

    est.Estimator(model_fn, str(tmp_path)).train(
        lambda: data.Dataset.from_tensors((torch.ones(2, 2), torch.ones(2))).repeat(3))
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
