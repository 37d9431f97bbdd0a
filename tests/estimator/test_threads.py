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
