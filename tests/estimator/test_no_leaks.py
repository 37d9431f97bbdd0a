"""No thread outlives an Estimator call: input workers, prefetch and the summary writer."""

from __future__ import annotations

import threading
import time

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est


def _input_fn(repeat=None):
    # endless by default: workers only stop because the Estimator stops them
    ds = data.Dataset.from_tensor_slices((torch.randn(64, 4), torch.randint(0, 2, (64,))))
    ds = ds.shuffle(64).repeat(repeat)
    return ds.map(lambda x, y: (x + 1, y), num_parallel_calls=2).batch(8).prefetch(2)


def _model_fn(features, labels, mode):
    logits = est.layers.dense(features, units=2)
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions={"classes": logits.argmax(1)})
    loss = F.cross_entropy(logits, labels)
    est.summary.scalar("mean_logit", logits.mean())
    train_op = est.train.AdamOptimizer(0.01).minimize(loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op,
                             eval_metric_ops={"accuracy": est.metrics.accuracy(
                                 labels=labels, predictions=logits.argmax(1))})


def _wait_for_threads(baseline: set, timeout: float = 10.0) -> set:
    deadline = time.monotonic() + timeout
    while True:
        extra = {t for t in threading.enumerate() if t.ident not in baseline and t.is_alive()}
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


@pytest.fixture
def baseline_threads():
    return {t.ident for t in threading.enumerate()}


def test_train_evaluate_predict_leave_no_threads(tmp_path, baseline_threads):
    config = est.RunConfig(device="cpu", save_summary_steps=2)
    model = est.Estimator(_model_fn, str(tmp_path), config=config)
    model.train(_input_fn, steps=5)
    model.evaluate(_input_fn, steps=3)
    predictions = model.predict(_input_fn)
    next(predictions)
    predictions.close()  # a prediction generator abandoned early
    assert _wait_for_threads(baseline_threads) == set()


def test_model_fn_error_leaves_no_threads(tmp_path, baseline_threads):
    def failing_model_fn(features, labels, mode):
        if est.train.get_global_step() == 2:
            raise RuntimeError("boom at step 2")
        return _model_fn(features, labels, mode)

    model = est.Estimator(failing_model_fn, str(tmp_path),
                          config=est.RunConfig(device="cpu", save_summary_steps=1))
    with pytest.raises(RuntimeError, match="boom at step 2") as excinfo:
        model.train(_input_fn)
    # the traceback keeps train()'s frame (and its input iterator) alive: only an explicit
    # close stops the workers
    assert _wait_for_threads(baseline_threads, timeout=5.0) == set()
    assert excinfo.traceback
