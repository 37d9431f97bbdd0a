"""est.metrics: the metric objects' contract and the TF-named functions inside a model scope."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from estimator import metrics
from estimator.scope import ModelScope

PAIR_CLASSES = [
    metrics.Accuracy,
    metrics.MeanSquaredError,
    metrics.RootMeanSquaredError,
    metrics.MeanAbsoluteError,
    metrics.Precision,
    metrics.Recall,
    metrics.AUC,
]
ALL_CLASSES = [metrics.Mean] + PAIR_CLASSES


def _batch(seed: int, n: int = 8):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    predictions = torch.rand(n, generator=g)
    weights = torch.rand(n, generator=g)
    return labels, predictions, weights


def _feed(metric: metrics.Metric, seed: int) -> None:
    labels, predictions, weights = _batch(seed)
    if type(metric) is metrics.Mean:
        metric.update(predictions, weights)
    else:
        metric.update(labels, predictions, weights)


# ---------------------------------------------------------------- known values (TF docs, by hand)


def test_accuracy_matches_tf_documentation_example():
    m = metrics.Accuracy()
    m.update(labels=[0, 2, 3], predictions=[1, 2, 3])
    assert float(m.compute()) == pytest.approx(2 / 3)


def test_accuracy_casts_predictions_to_label_dtype_like_tf():
    m = metrics.Accuracy()
    # float predictions are truncated to the integer label dtype: 1.7 -> 1 equals label 1
    m.update(labels=torch.tensor([1, 2]), predictions=torch.tensor([1.7, 0.2]))
    assert float(m.compute()) == 0.5


def test_accuracy_squeezes_trailing_label_dimension():
    m = metrics.Accuracy()
    m.update(labels=torch.tensor([[1], [0], [1]]), predictions=torch.tensor([1, 1, 1]))
    assert float(m.compute()) == pytest.approx(2 / 3)


def test_per_example_weights_apply_to_every_column():
    m = metrics.MeanAbsoluteError()
    labels = torch.zeros(2, 3)
    predictions = torch.tensor([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    m.update(labels, predictions, weights=torch.tensor([1.0, 0.0]))  # expanded to shape [2, 1]
    assert float(m.compute()) == 1.0


def test_mean_with_all_zero_weights_is_zero_not_nan():
    m = metrics.Mean()
    m.update(torch.tensor([5.0, 7.0]), weights=torch.zeros(2))
    assert float(m.compute()) == 0.0


def test_precision_without_predicted_positives_is_zero():
    m = metrics.Precision()
    m.update(labels=torch.tensor([1, 1]), predictions=torch.tensor([0, 0]))
    assert float(m.compute()) == 0.0


def test_precision_and_recall_cast_predictions_to_bool():
    p, r = metrics.Precision(), metrics.Recall()
    for m in (p, r):  # 0.3 is nonzero, so it is a positive prediction, as in TF
        m.update(labels=torch.tensor([1, 0, 1, 1]), predictions=torch.tensor([0.3, 0.3, 0.0, 1.0]))
    assert float(p.compute()) == pytest.approx(2 / 3)
    assert float(r.compute()) == pytest.approx(2 / 3)


def test_root_mean_squared_error_is_sqrt_of_streamed_mean():
    m = metrics.RootMeanSquaredError()
    m.update(torch.tensor([0.0, 0.0]), torch.tensor([3.0, 3.0]))
    m.update(torch.tensor([0.0]), torch.tensor([0.0]))
    assert float(m.compute()) == pytest.approx(math.sqrt(6.0))


def test_auc_of_perfect_and_reversed_ranking():
    good, bad = metrics.AUC(), metrics.AUC()
    labels = torch.tensor([0, 0, 1, 1])
    good.update(labels, torch.tensor([0.1, 0.2, 0.8, 0.9]))
    bad.update(labels, torch.tensor([0.9, 0.8, 0.2, 0.1]))
    assert float(good.compute()) == pytest.approx(1.0, abs=1e-5)
    assert float(bad.compute()) == pytest.approx(0.0, abs=1e-5)


def test_auc_thresholds_follow_tf_placement():
    m = metrics.AUC(num_thresholds=5)
    expected = torch.tensor([-1e-7, 0.25, 0.5, 0.75, 1 + 1e-7], dtype=torch.float32)
    assert torch.equal(m.thresholds, expected)
    explicit = metrics.AUC(thresholds=[0.7, 0.2])
    assert explicit.num_thresholds == 4
    assert torch.equal(
        explicit.thresholds, torch.tensor([-1e-7, 0.2, 0.7, 1 + 1e-7], dtype=torch.float32)
    )


def test_auc_prediction_equal_to_threshold_counts_as_negative():
    m = metrics.AUC(num_thresholds=3)  # thresholds -1e-7, 0.5, 1 + 1e-7
    m.update(labels=torch.tensor([1]), predictions=torch.tensor([0.5]))
    assert m.confusion()["tp"].tolist() == [1.0, 0.0, 0.0]
    assert m.confusion()["fn"].tolist() == [0.0, 1.0, 1.0]


def test_auc_predictions_outside_unit_interval_give_nan():
    m = metrics.AUC()
    m.update(
        labels=torch.tensor([0, 1]), predictions=torch.tensor([-2.0, 3.0])
    )  # logits, not probs
    assert math.isnan(float(m.compute()))
    m.reset()
    m.update(labels=torch.tensor([0, 1]), predictions=torch.tensor([0.2, 0.7]))
    assert float(m.compute()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"curve": "DET"}, "`curve`"),
        ({"summation_method": "simpson"}, "`summation_method`"),
        ({"num_thresholds": 1}, "`num_thresholds`"),
    ],
)
def test_auc_bad_settings_raise_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.AUC(**kwargs)


# ---------------------------------------------------------------- shape errors name the argument


def test_mismatched_labels_and_predictions_raise_naming_both():
    m = metrics.Accuracy()
    with pytest.raises(
        ValueError, match=r"`predictions` has shape \(4, 3\) but `labels` has shape \(4,\)"
    ):
        m.update(labels=torch.zeros(4), predictions=torch.zeros(4, 3))


def test_unbroadcastable_weights_raise_naming_weights():
    m = metrics.Recall()
    with pytest.raises(
        ValueError, match=r"`weights` of shape \(3,\) cannot be broadcast to `predictions`"
    ):
        m.update(labels=torch.zeros(4), predictions=torch.zeros(4), weights=torch.ones(3))


def test_mean_weights_error_names_values():
    with pytest.raises(
        ValueError, match=r"`weights` of shape \(2, 2\) cannot be broadcast to `values`"
    ):
        metrics.Mean().update(torch.zeros(3, 2), weights=torch.ones(2, 2))


def test_missing_labels_raise_naming_labels():
    with pytest.raises(TypeError, match="`labels` is None"):
        metrics.Accuracy().update(None, torch.zeros(2))


# ---------------------------------------------------------------- the Metric contract


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_reset_returns_to_the_fresh_state(cls):
    fresh, used = cls(), cls()
    _feed(used, 0)
    _feed(fresh, 1)
    used.reset()
    assert all(torch.count_nonzero(t) == 0 for t in used.state_tensors().values())
    _feed(used, 1)
    assert torch.equal(used.compute(), fresh.compute())


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_compute_is_a_float32_scalar_without_grad(cls):
    m = cls()
    labels, predictions, weights = _batch(0)
    predictions.requires_grad_(True)
    (
        m.update(predictions, weights)
        if cls is metrics.Mean
        else m.update(labels, predictions, weights)
    )
    value = m.compute()
    assert value.shape == () and value.dtype == torch.float32 and not value.requires_grad
    assert not any(t.requires_grad for t in m.state_tensors().values())


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_state_dict_round_trip_continues_identically(cls):
    a = cls()
    _feed(a, 0)
    b = cls()
    b.load_state_dict(a.state_dict())
    _feed(a, 1)
    _feed(b, 1)
    assert torch.equal(a.compute(), b.compute())


def test_state_dict_is_a_copy():
    m = metrics.Mean()
    m.update(torch.tensor([2.0]))
    saved = m.state_dict()
    m.update(torch.tensor([4.0]))
    assert float(saved["total"]) == 2.0


def test_load_state_dict_with_wrong_keys_raises_listing_them():
    with pytest.raises(
        KeyError, match=r"missing keys \['false_positives'\].*unexpected keys \['false_negatives'\]"
    ):
        metrics.Precision().load_state_dict(metrics.Recall().state_dict())


def test_load_state_dict_with_other_num_thresholds_raises_naming_the_state():
    with pytest.raises(ValueError, match="'positive_weights' has shape"):
        metrics.AUC(num_thresholds=100).load_state_dict(metrics.AUC().state_dict())


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_sync_with_a_sum_equals_one_metric_over_both_shards(cls):
    rank0, rank1, whole = cls(), cls(), cls()
    _feed(rank0, 0)
    _feed(rank1, 1)
    _feed(whole, 0)
    _feed(whole, 1)
    others = iter(rank1.state_tensors().values())
    rank0.sync(lambda t: t.add_(next(others)))  # in place, like torch.distributed.all_reduce
    assert torch.allclose(rank0.compute(), whole.compute(), rtol=1e-6)


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_sync_accepts_a_reduce_fn_that_returns_the_result(cls):
    doubled, twice = cls(), cls()
    _feed(doubled, 0)
    doubled.sync(lambda t: t * 2)
    _feed(twice, 0)
    _feed(twice, 0)
    assert torch.allclose(doubled.compute(), twice.compute(), rtol=1e-6)


class _ForbidHostSync(TorchDispatchMode):
    """Fails on every aten op that reads a tensor's value back to the host (a sync on CUDA)."""

    SYNCING = {
        "aten::_local_scalar_dense",  # .item(), float(t), `if t:`
        "aten::is_nonzero",
        "aten::nonzero",
        "aten::masked_select",
        "aten::bincount",  # sizes its output from max(input)
        "aten::unique_dim",
        "aten::_unique2",
        "aten::equal",
        "aten::repeat_interleave",
    }

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        bool_index = name.startswith("aten::index") and any(
            isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
            for i in (args[1] if len(args) > 1 and isinstance(args[1], (list, tuple)) else ())
        )
        if name in self.SYNCING or bool_index:
            raise AssertionError(f"host sync in a metric: {name}")
        return func(*args, **(kwargs or {}))


def test_forbid_host_sync_mode_detects_syncs():
    t = torch.arange(4.0)
    for read in (
        lambda: t.sum().item(),
        lambda: bool(t.sum() > 0),
        lambda: t[t > 1],
        lambda: t.nonzero(),
    ):
        with pytest.raises(AssertionError, match="host sync"):
            with _ForbidHostSync():
                read()


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_update_and_compute_never_read_tensor_values_on_the_host(cls):
    m = cls()
    labels, predictions, weights = _batch(0)
    with _ForbidHostSync():
        if cls is metrics.Mean:
            m.update(predictions, weights)
        else:
            m.update(labels, predictions, weights)
        value = m.compute()
    assert math.isfinite(float(value))


def test_functions_never_read_tensor_values_on_the_host():
    scope = ModelScope()
    labels, predictions, weights = _batch(0)
    for _ in range(2):  # creation, then reuse
        with scope.call("eval"), _ForbidHostSync():
            metrics.mean(predictions, weights)
            for fn in (
                metrics.accuracy,
                metrics.precision,
                metrics.recall,
                metrics.auc,
                metrics.mean_squared_error,
                metrics.root_mean_squared_error,
                metrics.mean_absolute_error,
            ):
                fn(labels, predictions, weights)
    assert len(scope.metrics) == 8


# ---------------------------------------------------------------- devices


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_to_moves_state_and_results_follow_it(cls):
    m = cls()
    _feed(m, 0)
    before = m.compute()
    m.to("meta")  # a second device that every machine has; CPU inputs are moved to it
    assert m.device == torch.device("meta")
    assert all(t.device.type == "meta" for t in m.state_tensors().values())
    _feed(m, 1)
    assert m.compute().device.type == "meta"
    back = cls()
    _feed(back, 0)
    back.to("cpu")
    assert torch.equal(back.compute(), before)


def test_metric_built_on_a_device_keeps_state_there():
    m = metrics.AUC(device="meta")
    assert {t.device.type for t in m.state_tensors().values()} == {"meta"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_cuda_update_needs_no_host_sync_and_matches_cpu(cls):
    cpu, gpu = cls(), cls(device="cuda")
    _feed(cpu, 0)
    _feed(gpu, 0)  # CPU inputs are copied to the state's device
    labels, predictions, weights = (t.cuda() for t in _batch(1))
    _feed(cpu, 1)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any device-to-host sync now raises
    try:
        if cls is metrics.Mean:
            gpu.update(predictions, weights)
        else:
            gpu.update(labels, predictions, weights)
        value = gpu.compute()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert value.is_cuda and all(t.is_cuda for t in gpu.state_tensors().values())
    assert torch.allclose(value.cpu(), cpu.compute(), rtol=1e-6)


# ---------------------------------------------------------------- the functions in a model scope


def _model_fn_call(scope: ModelScope, fn, *args, **kwargs):
    with scope.call("eval"):
        return fn(*args, **kwargs)


def test_accuracy_returns_value_and_update_op_as_the_running_value():
    scope = ModelScope()
    labels = [torch.tensor([1, 0, 1, 1]), torch.tensor([0, 0]), torch.tensor([1, 1, 0, 0])]
    predictions = [torch.tensor([1, 1, 1, 1]), torch.tensor([0, 0]), torch.tensor([0, 0, 0, 0])]
    running = []
    for lab, pred in zip(labels, predictions):
        op = _model_fn_call(scope, metrics.accuracy, labels=lab, predictions=pred)
        value, update_op = op
        assert torch.equal(value, update_op) and update_op.shape == ()
        running.append(float(op[1]))
    assert running == pytest.approx([3 / 4, 5 / 6, 7 / 10])
    assert isinstance(op.metric, metrics.Accuracy)
    assert float(op.metric.compute()) == pytest.approx(7 / 10)


def test_metric_is_created_once_and_kept_across_calls():
    scope = ModelScope()
    first = _model_fn_call(scope, metrics.mean, torch.tensor([1.0]))
    second = _model_fn_call(scope, metrics.mean, torch.tensor([3.0]))
    assert first.metric is second.metric
    assert float(second[1]) == 2.0


def test_two_calls_in_one_model_fn_are_two_metrics():
    scope = ModelScope()
    for _ in range(2):
        with scope.call("eval"):
            ones = metrics.mean(torch.tensor([1.0]))
            twos = metrics.mean(torch.tensor([2.0]))
            named = metrics.mean(torch.tensor([5.0]), name="loss_mean")
    assert ones.metric is not twos.metric
    assert (float(ones[1]), float(twos[1]), float(named[1])) == (1.0, 2.0, 5.0)
    assert sorted(scope.metrics) == ["loss_mean", "mean", "mean_1"]


def test_metric_state_lives_on_the_scope_device():
    scope = ModelScope(device="meta")
    op = _model_fn_call(scope, metrics.auc, torch.tensor([0, 1]), torch.tensor([0.2, 0.9]))
    assert op.metric.device == torch.device("meta")
    assert op[1].device.type == "meta"


def test_update_from_a_tensor_with_grad_does_not_track_it():
    scope = ModelScope()
    loss = (torch.ones(3, requires_grad=True) * 2).sum()
    op = _model_fn_call(scope, metrics.mean, loss)
    assert not op[1].requires_grad and float(op[1]) == 6.0


def test_every_function_creates_its_class_and_matches_it():
    cases = {
        "accuracy": metrics.Accuracy,
        "precision": metrics.Precision,
        "recall": metrics.Recall,
        "auc": metrics.AUC,
        "mean_squared_error": metrics.MeanSquaredError,
        "root_mean_squared_error": metrics.RootMeanSquaredError,
        "mean_absolute_error": metrics.MeanAbsoluteError,
    }
    labels, predictions, weights = _batch(3)
    for fn_name, cls in cases.items():
        op = _model_fn_call(ModelScope(), getattr(metrics, fn_name), labels, predictions, weights)
        reference = cls()
        reference.update(labels, predictions, weights)
        assert type(op.metric) is cls
        assert torch.equal(op[1], reference.compute()), fn_name


def test_reused_name_with_other_settings_raises_naming_the_setting():
    scope = ModelScope()
    _model_fn_call(scope, metrics.auc, torch.tensor([1]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match=r"num_thresholds=50 \(was 200\).*own `name=`"):
        _model_fn_call(
            scope, metrics.auc, torch.tensor([1]), torch.tensor([0.5]), num_thresholds=50
        )


def test_reused_name_of_another_metric_kind_raises():
    scope = ModelScope()
    _model_fn_call(scope, metrics.precision, torch.tensor([1]), torch.tensor([1]), name="pr")
    with pytest.raises(ValueError, match=r"est.metrics.recall\(name='pr'\).*holds a Precision"):
        _model_fn_call(scope, metrics.recall, torch.tensor([1]), torch.tensor([1]), name="pr")


def test_function_outside_model_fn_raises_naming_it():
    with pytest.raises(
        RuntimeError,
        match=r"est.metrics.accuracy\(\) must be called inside a model_fn.*Accuracy\(\)",
    ):
        metrics.accuracy(labels=torch.tensor([1]), predictions=torch.tensor([1]))


def test_metric_op_unpacks_like_tf():
    op = _model_fn_call(ModelScope(), metrics.mean, torch.tensor([4.0]))
    value, update_op = op
    assert len(op) == 2 and op.value is value and op.update_op is update_op
    assert np.isclose(float(value), 4.0)


def test_strided_predictions_give_the_same_result_as_contiguous():
    probs = torch.rand(16, 2, generator=torch.Generator().manual_seed(5))
    labels = torch.arange(16) % 2
    strided, dense = metrics.AUC(), metrics.AUC()
    strided.update(labels, probs[:, 1])  # a non-contiguous column, as from softmax(1)[:, 1]
    dense.update(labels, probs[:, 1].clone())
    assert torch.equal(strided.compute(), dense.compute())


# ---------------------------------------------------------------- through Estimator.evaluate


def test_evaluate_reports_each_metric_over_the_whole_input_every_time(tmp_path):
    import data
    import estimator as est

    rng = np.random.default_rng(0)
    x = rng.uniform(size=50).astype(np.float32)
    y = (rng.uniform(size=50) < x).astype(np.int64)

    def input_fn():
        return data.Dataset.from_tensor_slices((torch.from_numpy(x), torch.from_numpy(y))).batch(8)

    def model_fn(features, labels, mode):
        w = est.get_variable("w", [1], initializer=torch.nn.init.zeros_)
        loss = ((features + w - labels) ** 2).mean()
        accuracy = est.metrics.accuracy(labels, (features > 0.5).long())
        if mode == est.ModeKeys.TRAIN:
            step = est.train.get_global_step()
            train_op = est.train.GradientDescentOptimizer(0.0).minimize(loss, global_step=step)
            return est.EstimatorSpec(mode, loss=loss, train_op=train_op)
        ops = {"accuracy": accuracy, "mean": est.metrics.mean(features)}
        return est.EstimatorSpec(mode, loss=loss, eval_metric_ops=ops)

    model = est.Estimator(model_fn, str(tmp_path))
    model.train(input_fn, steps=2)
    first, second = model.evaluate(input_fn), model.evaluate(input_fn)
    assert first["accuracy"] == pytest.approx(np.mean((x > 0.5) == y))
    assert first["mean"] == pytest.approx(float(np.mean(x.astype(np.float64))))
    assert second == first  # a second evaluate starts from fresh metric state
