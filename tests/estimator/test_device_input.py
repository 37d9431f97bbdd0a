"""The device feed the Estimator puts after input_fn for a CUDA model, and metric placement.

Without a GPU the feed runs with a fake CUDA transfer (tests/data/test_device.py's FakeCuda):
the run must be the same, and resume the same, as without the feed.
"""

import os
import sys
import threading

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est
from estimator import _input

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "data"))
from test_device import FakeCuda  # noqa: E402

CPU = dict(device="cpu", save_checkpoints_steps=1000, log_step_count_steps=None,
           save_summary_steps=None, tf_random_seed=0)


def input_fn():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 6, 6, 3, generator=g) * 255).to(torch.uint8)
    y = torch.randint(0, 2, (40,), generator=g)
    return data.Dataset.from_tensor_slices((x, y)).shuffle(10, seed=1).batch(4).prefetch(2)


def model_fn(features, labels, mode):
    assert features.dtype == torch.uint8  # shipped as uint8 ...
    images = data.image.convert_image_dtype(features, torch.float32)  # ... converted on device
    logits = est.layers.dense(est.layers.flatten(images), units=2)
    loss = F.cross_entropy(logits, labels)
    op = est.train.AdamOptimizer(0.01).minimize(loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=op)


@pytest.fixture
def fake_cuda_feed(monkeypatch):
    """The Estimator inserts its device feed (with a fake CUDA transfer) on the CPU."""
    import data.ops.device as device_ops

    transfers = []

    def factory(device):
        transfers.append(FakeCuda(device))
        return transfers[-1]

    monkeypatch.setattr(_input, "feeds_device", lambda device: True)
    monkeypatch.setattr(device_ops, "make_transfer", factory)
    return transfers


def variables(model):
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


def train_split(model_dir):
    model = est.Estimator(model_fn, str(model_dir), config=est.RunConfig(**CPU))
    model.train(input_fn, max_steps=4)
    model.train(input_fn)
    return variables(model)


def test_training_through_the_device_feed_resumes_like_without_it(tmp_path, monkeypatch,
                                                                   fake_cuda_feed):
    with_feed = train_split(tmp_path / "feed")
    assert fake_cuda_feed and all(
        any(what == "wait_event" for what, _, _ in t.log) for t in fake_cuda_feed)
    assert not [t for t in threading.enumerate() if "device_feed" in t.name]
    monkeypatch.setattr(_input, "feeds_device", lambda device: False)
    without = train_split(tmp_path / "plain")
    for name in without:
        assert torch.equal(with_feed[name], without[name]), name


def test_checkpoint_written_through_the_feed_resumes_without_it(tmp_path, monkeypatch,
                                                                 fake_cuda_feed):
    model = est.Estimator(model_fn, str(tmp_path / "a"), config=est.RunConfig(**CPU))
    model.train(input_fn, max_steps=3)
    monkeypatch.setattr(_input, "feeds_device", lambda device: False)
    model.train(input_fn)  # no warning about a position that does not fit; exact resume
    reference = est.Estimator(model_fn, str(tmp_path / "b"), config=est.RunConfig(**CPU))
    reference.train(input_fn)
    a, b = variables(model), variables(reference)
    for name in b:
        assert torch.equal(a[name], b[name]), name


def test_metric_objects_made_outside_model_fn_move_to_the_model_device(tmp_path):
    class Recorder:
        """A torchmetrics-style object that remembers where it was moved."""

        def __init__(self):
            self.device = torch.device("meta")
            self.moves, self.total = [], 0.0

        def to(self, device):
            self.moves.append(torch.device(device))
            self.device = torch.device(device)
            return self

        def update(self, values):
            assert values.device == self.device
            self.total += float(values.sum())

        def compute(self):
            return torch.tensor(self.total)

        def reset(self):
            self.total = 0.0

    metric = Recorder()

    def eval_fn(features, labels, mode):
        logits = est.layers.dense(features, units=2)
        loss = F.cross_entropy(logits, labels)
        if mode == est.ModeKeys.TRAIN:
            op = est.train.GradientDescentOptimizer(0.1).minimize(
                loss, global_step=est.train.get_global_step())
            return est.EstimatorSpec(mode, loss=loss, train_op=op)
        return est.EstimatorSpec(mode, loss=loss,
                                 eval_metric_ops={"labels": (metric, (labels.float(),))})

    model = est.Estimator(eval_fn, str(tmp_path), config=est.RunConfig(**CPU))
    batches = [(torch.ones(3, 2), torch.tensor([0, 1, 1]))] * 2
    model.train(lambda: batches)
    assert model.evaluate(lambda: batches)["labels"] == 4.0
    assert metric.moves == [torch.device("cpu")]  # moved once, before its first update
