"""Exact resume: k steps, stop (or SIGKILL), resume to N == N steps in one go, bitwise.

The pipeline has shuffle_and_repeat, a parallel map, batch and prefetch; the model has dropout
and Adam (optimizer state), so every piece of saved state (parameters, optimizer, global step,
RNG, input position) has to come back for the parameters to match.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est
from estimator import checkpoint as ckpt

SEED = 1234
N_STEPS = 12  # 40 examples / batch 8 = 5 steps per epoch: crosses two reshuffles


def input_fn():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(40, 6, generator=g)
    labels = (features.sum(1) > 0).long()

    def _scale(x, y):
        return x * 2.0 + 1.0, y

    ds = data.Dataset.from_tensor_slices((features, labels))
    ds = ds.apply(data.experimental.shuffle_and_repeat(16))
    ds = ds.map(_scale, num_parallel_calls=data.AUTOTUNE)
    return ds.batch(8).prefetch(2)


def model_fn(features, labels, mode):
    x = est.layers.dense(features, units=16, activation=F.relu)
    x = est.layers.dropout(x, rate=0.5, training=mode == est.ModeKeys.TRAIN)
    logits = est.layers.dense(x, units=2)
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions={"logits": logits})
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.AdamOptimizer(0.01).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def make_estimator(model_dir, **config):
    config.setdefault("save_summary_steps", 1000)
    return est.Estimator(model_fn, str(model_dir),
                         config=est.RunConfig(tf_random_seed=SEED, **config))


def variables(model_dir) -> dict:
    e = make_estimator(model_dir)
    return {name: torch.as_tensor(np.asarray(e.get_variable_value(name)))
            for name in e.get_variable_names()}


def assert_bitwise_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    different = [n for n in a if not (a[n].dtype == b[n].dtype and torch.equal(a[n], b[n]))]
    assert not different, f"variables differ after resume: {different}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("uninterrupted")
    make_estimator(model_dir).train(input_fn, max_steps=N_STEPS)
    return variables(model_dir)


def test_uninterrupted_run_reaches_max_steps(uninterrupted):
    assert int(uninterrupted["global_step"]) == N_STEPS


def test_same_seed_gives_same_parameters(tmp_path, uninterrupted):
    make_estimator(tmp_path).train(input_fn, max_steps=N_STEPS)
    assert_bitwise_equal(variables(tmp_path), uninterrupted)


@pytest.mark.parametrize("k", [3, 7])
def test_stop_and_resume_with_new_estimator_is_bitwise_equal(tmp_path, uninterrupted, k):
    make_estimator(tmp_path).train(input_fn, max_steps=k)
    assert ckpt.latest_checkpoint(tmp_path).endswith(f"model.ckpt-{k}.pt")
    make_estimator(tmp_path).train(input_fn, max_steps=N_STEPS)
    assert_bitwise_equal(variables(tmp_path), uninterrupted)


def test_resume_with_steps_counts_from_restored_step(tmp_path, uninterrupted):
    make_estimator(tmp_path).train(input_fn, steps=5)
    make_estimator(tmp_path).train(input_fn, steps=N_STEPS - 5)
    assert ckpt.latest_checkpoint(tmp_path).endswith(f"model.ckpt-{N_STEPS}.pt")
    assert_bitwise_equal(variables(tmp_path), uninterrupted)


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    import estimator as est
    from estimator import checkpoint as ckpt
    import test_resume as t

    class KillAfterCheckpoint(est.SessionRunHook):
        def after_run(self, run_context, run_values):
            latest = ckpt.latest_checkpoint(sys.argv[1])
            if latest is not None and latest.endswith("model.ckpt-6.pt"):
                os.kill(os.getpid(), signal.SIGKILL)

    t.make_estimator(sys.argv[1], save_checkpoints_steps=3).train(
        t.input_fn, hooks=[KillAfterCheckpoint()], max_steps=t.N_STEPS)
    sys.exit(3)  # not reached: the hook kills the process
""")


def test_resume_after_sigkill_is_bitwise_equal(tmp_path, uninterrupted):
    run = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(tmp_path),
                          os.path.dirname(os.path.abspath(__file__))],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    assert ckpt.latest_checkpoint(tmp_path).endswith("model.ckpt-6.pt")
    make_estimator(tmp_path).train(input_fn, max_steps=N_STEPS)
    assert_bitwise_equal(variables(tmp_path), uninterrupted)


def test_resume_skips_a_truncated_latest_checkpoint(tmp_path, uninterrupted):
    make_estimator(tmp_path, save_checkpoints_steps=3).train(input_fn, max_steps=7)
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest.endswith("model.ckpt-7.pt")
    with open(latest, "r+b") as f:
        f.truncate(os.path.getsize(latest) // 2)
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-7\.pt"):
        make_estimator(tmp_path).train(input_fn, max_steps=N_STEPS)  # resumes from step 6
    assert_bitwise_equal(variables(tmp_path), uninterrupted)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(6, 16)
        self.norm = torch.nn.BatchNorm1d(16)  # buffers: running stats, num_batches_tracked
        self.drop = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(16, 2)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.norm(self.hidden(x)))))


def module_model_fn(features, labels, mode):
    logits = est.get_module("net", _Net)(features)
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.MomentumOptimizer(0.05, momentum=0.9).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def test_plain_module_with_dropout_and_batch_norm_resumes_bitwise(tmp_path):
    def run(model_dir, *max_steps):
        for m in max_steps:
            est.Estimator(module_model_fn, str(model_dir),
                          config=est.RunConfig(tf_random_seed=SEED)).train(input_fn, max_steps=m)
        e = est.Estimator(module_model_fn, str(model_dir))
        return {n: torch.as_tensor(np.asarray(e.get_variable_value(n)))
                for n in e.get_variable_names()}

    whole = run(tmp_path / "whole", N_STEPS)
    assert int(whole["net/norm/num_batches_tracked"]) == N_STEPS
    assert_bitwise_equal(run(tmp_path / "resumed", 4, 9, N_STEPS), whole)


def test_train_already_at_max_steps_returns_at_once(tmp_path):
    make_estimator(tmp_path).train(input_fn, max_steps=4)
    before = variables(tmp_path)
    files_before = sorted(os.listdir(tmp_path))
    calls = []

    def counting_input_fn():
        calls.append(1)
        return input_fn()

    start = time.perf_counter()
    make_estimator(tmp_path).train(counting_input_fn, max_steps=4)
    assert time.perf_counter() - start < 5.0
    assert calls == []  # as TF: skipped before building the input pipeline
    assert sorted(os.listdir(tmp_path)) == files_before
    assert_bitwise_equal(variables(tmp_path), before)


def test_two_estimators_training_one_model_dir_fail_clearly(tmp_path):
    errors = []

    class TrainSecondEstimator(est.SessionRunHook):
        def before_run(self, run_context):
            if not errors:
                try:
                    make_estimator(tmp_path).train(input_fn, steps=1)
                except Exception as e:  # the assertion below checks which
                    errors.append(e)
                else:
                    errors.append(None)

    make_estimator(tmp_path).train(input_fn, hooks=[TrainSecondEstimator()], max_steps=2)
    assert isinstance(errors[0], ckpt.ModelDirLockedError), errors
    assert str(tmp_path) in str(errors[0])
    assert ckpt.latest_checkpoint(tmp_path).endswith("model.ckpt-2.pt")


def test_checkpoint_from_a_different_model_lists_names(tmp_path):
    make_estimator(tmp_path).train(input_fn, max_steps=1)

    def other_model_fn(features, labels, mode):
        logits = est.layers.dense(features, units=2, name="head")
        loss = F.cross_entropy(logits, labels)
        train_op = est.train.AdamOptimizer(0.01).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    other = est.Estimator(other_model_fn, str(tmp_path), config=est.RunConfig(tf_random_seed=SEED))
    with pytest.raises((ValueError, RuntimeError, KeyError)) as info:
        other.train(input_fn, max_steps=3)
    message = str(info.value)
    assert "head/kernel" in message and "dense_1/kernel" in message


def test_warm_start_copies_variables_but_not_global_step(tmp_path, uninterrupted):
    source = tmp_path / "source"
    make_estimator(source).train(input_fn, max_steps=N_STEPS)

    def frozen_model_fn(features, labels, mode):
        x = est.layers.dense(features, units=16, activation=F.relu)
        logits = est.layers.dense(x, units=2)
        loss = F.cross_entropy(logits, labels)
        train_op = est.train.GradientDescentOptimizer(0.0).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)

    warm = est.Estimator(frozen_model_fn, str(tmp_path / "warm"),
                         config=est.RunConfig(tf_random_seed=SEED + 1),
                         warm_start_from=ckpt.WarmStartSettings(str(source), "dense_1/"))
    warm.train(input_fn, steps=1)
    assert int(warm.get_variable_value("global_step")) == 1
    for name in ("dense_1/kernel", "dense_1/bias"):
        assert np.array_equal(np.asarray(warm.get_variable_value(name)),
                              uninterrupted[name].numpy())
    assert not np.array_equal(np.asarray(warm.get_variable_value("dense/kernel")),
                              uninterrupted["dense/kernel"].numpy())
