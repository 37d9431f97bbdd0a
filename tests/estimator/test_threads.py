"""The model's intra-op threads leave room for a parallel input pipeline on the CPU."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _input_fn(parallel_calls):
    def input_fn():
        ds = data.Dataset.from_tensor_slices((torch.randn(32, 3), torch.randint(0, 2, (32,))))
        return ds.map(lambda x, y: (x * 2, y), num_parallel_calls=parallel_calls).batch(8)
    return input_fn


def _recording_model_fn(seen):
    def model_fn(features, labels, mode):
        if mode != est.ModeKeys.PREDICT:  # (the Graphs tab's trace after training)
            seen.append(torch.get_num_threads())
        logits = est.layers.dense(features, units=2)
        loss = F.cross_entropy(logits, labels)
        train_op = est.train.GradientDescentOptimizer(0.1).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=train_op)
    return model_fn


@pytest.fixture
def threads_restored():
    before = torch.get_num_threads()
    yield before
    assert torch.get_num_threads() == before
    torch.set_num_threads(before)


def test_parallel_pipeline_on_cpu_leaves_half_the_cores(tmp_path, threads_restored):
    seen = []
    model = est.Estimator(_recording_model_fn(seen), str(tmp_path),
                          config=est.RunConfig(device="cpu"))
    model.train(_input_fn(2))
    assert seen == [max(1, _cores() // 2)] * 4
    model.evaluate(_input_fn(data.AUTOTUNE))
    assert seen[4:] == [max(1, _cores() // 2)] * 4


def test_serial_pipeline_leaves_torch_threads_alone(tmp_path, threads_restored):
    seen = []
    est.Estimator(_recording_model_fn(seen), str(tmp_path),
                  config=est.RunConfig(device="cpu")).train(_input_fn(None))
    assert seen == [threads_restored] * 4


def test_configured_threads_apply_during_the_call_only(tmp_path, threads_restored):
    seen = []
    config = est.RunConfig(device="cpu", intra_op_parallelism_threads=3)
    est.Estimator(_recording_model_fn(seen), str(tmp_path), config=config).train(_input_fn(None))
    assert seen == [3] * 4


def test_threads_are_restored_when_model_fn_raises(tmp_path, threads_restored):
    def failing_model_fn(features, labels, mode):
        raise RuntimeError("boom")
    config = est.RunConfig(device="cpu", intra_op_parallelism_threads=3)
    with pytest.raises(RuntimeError, match="boom"):
        est.Estimator(failing_model_fn, str(tmp_path), config=config).train(_input_fn(2))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_invalid_intra_op_threads_raise(bad):
    with pytest.raises(ValueError, match="intra_op_parallelism_threads"):
        est.RunConfig(intra_op_parallelism_threads=bad)


class _Workers:
    """What the split sees of an input pipeline: its workers, their limit and CPU time."""

    def __init__(self, workers=2):
        self.workers, self.limits, self.cpu = workers, [], 0.0

    def cpu_workers(self):
        return self.workers

    def limit_workers(self, n):
        self.limits.append(n)

    def worker_cpu_seconds(self):
        return self.cpu


@pytest.mark.skipif(_cores() < 2, reason="needs 2 cores to split")
def test_the_input_gets_the_cores_the_model_leaves(threads_restored):
    pipeline = _Workers()
    with est._threads.compute_threads(torch.device("cpu"), None, pipeline):
        assert torch.get_num_threads() == _cores() // 2
    assert pipeline.limits == [_cores() - _cores() // 2]
    configured = _Workers()
    with est._threads.compute_threads(torch.device("cpu"), 1, configured):
        pass
    assert configured.limits == []  # a thread count the user chose: no split at all


@pytest.mark.skipif(_cores() < 2, reason="needs 2 cores to split")
@pytest.mark.parametrize("input_share, model_gets_every_core", [(0.05, True), (0.9, False)])
def test_a_light_input_leaves_the_model_every_core(threads_restored, input_share,
                                                   model_gets_every_core):
    pipeline = _Workers()
    with est._threads.compute_threads(torch.device("cpu"), None, pipeline) as split:
        split.decide(model_cpu_s=1.0, input_cpu_s=input_share)
        assert torch.get_num_threads() == (_cores() if model_gets_every_core
                                           else _cores() // 2)


@pytest.mark.skipif(_cores() < 2, reason="needs 2 cores to split")
@pytest.mark.parametrize("light", [True, False])
def test_training_measures_the_split_and_restores_the_threads(tmp_path, threads_restored, light):
    def heavy(x, y):  # a map that costs far more CPU than the model's step
        t = torch.randn(256, 256)
        for _ in range(30):
            t = t @ t / 256
        return x, y

    def input_fn():
        ds = data.Dataset.from_tensor_slices((torch.randn(8, 3), torch.randint(0, 2, (8,))))
        ds = ds.repeat().map((lambda x, y: (x, y)) if light else heavy, num_parallel_calls=2)
        return ds.batch(4).prefetch(1)

    def model_fn(features, labels, mode):
        if light:  # a step that costs far more CPU than the map
            t = torch.randn(256, 256)
            for _ in range(10):
                t = t @ t / 256
        if mode == est.ModeKeys.TRAIN:  # (not the Graphs tab's trace)
            seen.append(torch.get_num_threads())
        loss = F.cross_entropy(est.layers.dense(features, units=2), labels)
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.GradientDescentOptimizer(
            0.1).minimize(loss, global_step=est.train.get_global_step()))

    seen = []
    est.Estimator(model_fn, str(tmp_path), config=est.RunConfig(
        device="cpu", save_checkpoints_secs=None)).train(input_fn, steps=30)
    half = _cores() // 2
    first, last = est._threads.MEASURE_STEPS
    assert seen[:last] == [half] * last
    assert set(seen[last:]) == ({_cores()} if light else {half})


@pytest.mark.skipif(_cores() < 2, reason="needs 2 cores to split")
def test_the_measured_split_is_checkpointed_so_a_resumed_run_uses_it(tmp_path, threads_restored):
    def input_fn():
        ds = data.Dataset.from_tensor_slices((torch.randn(8, 3), torch.randint(0, 2, (8,))))
        return ds.repeat().map(lambda x, y: (x, y), num_parallel_calls=2).batch(4).prefetch(1)

    def model_fn(features, labels, mode):
        t = torch.randn(256, 256)
        for _ in range(10):  # a step far heavier than the input
            t = t @ t / 256
        if mode == est.ModeKeys.TRAIN:  # (not the Graphs tab's trace)
            seen.append(torch.get_num_threads())
        loss = F.cross_entropy(est.layers.dense(features, units=2), labels)
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.GradientDescentOptimizer(
            0.1).minimize(loss, global_step=est.train.get_global_step()))

    config = est.RunConfig(device="cpu", save_checkpoints_secs=None)
    seen = []
    est.Estimator(model_fn, str(tmp_path / "whole"), config=config).train(input_fn, steps=20)
    whole, seen = seen, []
    model = est.Estimator(model_fn, str(tmp_path / "parts"), config=config)
    model.train(input_fn, steps=15)
    model.train(input_fn, steps=5)  # a new call (or process): the decision comes back
    assert seen == whole == [_cores() // 2] * 13 + [_cores()] * 7
    saved = torch.load(str(tmp_path / "parts" / "model.ckpt-20.pt"), weights_only=True)
    assert saved["scope"]["model_threads"] == _cores()


def test_a_crafted_thread_count_in_a_checkpoint_is_refused(tmp_path):
    from estimator import checkpoint

    model = est.Estimator(_recording_model_fn([]), str(tmp_path),
                          config=est.RunConfig(device="cpu"))
    model.train(_input_fn(None), steps=1)
    path = str(tmp_path / "model.ckpt-1.pt")
    payload = torch.load(path, weights_only=True)
    payload["scope"] = {"model_threads": 10**9}
    torch.save(payload, path)
    with open(path, "rb") as f:  # keep the sidecar in step, so only the value is wrong
        import hashlib
        digest = hashlib.sha256(f.read()).hexdigest()
    sidecar = path + ".sha256"
    with open(sidecar) as f:
        old = f.read()
    with open(sidecar, "w") as f:
        f.write(old.replace(old.split()[0], digest))
    with pytest.raises(checkpoint.CheckpointFormatError, match="model_threads"):
        model.train(_input_fn(None), steps=1)
