"""est.losses and est.nn against the values TensorFlow computes (fixtures/losses.json)."""

import json
import os

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import estimator as est
from estimator.scope import ModelScope

with open(os.path.join(os.path.dirname(__file__), "fixtures", "losses.json")) as f:
    TF = json.load(f)
IN = {k: torch.tensor(v) for k, v in TF["inputs"].items()}
WEIGHTS = {"scalar": 1.0, "scalar2": 2.5, "example": IN["w_example"], "full": IN["w_full"]}
R = est.losses.Reduction


def _call(fn, reduction, weights, smoothing):
    red = getattr(R, reduction)
    L = est.losses
    if fn == "sparse_softmax_cross_entropy":
        return L.sparse_softmax_cross_entropy(IN["labels"], IN["logits"], weights, reduction=red)
    if fn == "softmax_cross_entropy":
        onehot = F.one_hot(IN["labels"].long(), 4)
        return L.softmax_cross_entropy(onehot, IN["logits"], weights, label_smoothing=smoothing,
                                       reduction=red)
    if fn == "sigmoid_cross_entropy":
        w = weights[:, None] if isinstance(weights, torch.Tensor) else weights
        return L.sigmoid_cross_entropy(IN["multi"], IN["logits"], w, label_smoothing=smoothing,
                                       reduction=red)
    pairs = {"mean_squared_error": (IN["target"], IN["pred"]),
             "absolute_difference": (IN["target"], IN["pred"]),
             "huber_loss": (IN["target"] * 3, IN["pred"]),
             "log_loss": (IN["binary"], IN["pred"]),
             "hinge_loss": (IN["binary"], IN["pred"] * 2 - 1)}
    return getattr(L, fn)(*pairs[fn], weights=weights, reduction=red)


@pytest.mark.parametrize("case", TF["cases"], ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_loss_equals_tensorflow(case):
    fn, reduction, weights, smoothing, expected = case
    got = _call(fn, reduction, WEIGHTS[weights], smoothing)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), np.array(expected, dtype=np.float32), rtol=2e-6,
                               atol=1e-6)


def test_default_reduction_is_sum_by_nonzero_weights():
    assert est.losses.Reduction.SUM_BY_NONZERO_WEIGHTS == "weighted_sum_by_nonzero_weights"
    losses = torch.tensor([1.0, 2.0, 6.0])
    weights = torch.tensor([1.0, 0.0, 1.0])
    assert est.losses.compute_weighted_loss(losses, weights).item() == 3.5


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8, torch.int16, torch.int64])
def test_sparse_losses_take_any_integer_label_dtype(dtype):
    labels = torch.tensor([0, 3, 1], dtype=dtype)
    logits = IN["logits"][:3]
    expected = F.cross_entropy(logits, labels.long())
    assert torch.allclose(est.losses.sparse_softmax_cross_entropy(labels, logits), expected)
    per_example = est.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert torch.allclose(per_example, F.cross_entropy(logits, labels.long(), reduction="none"))


def test_sparse_labels_of_shape_batch_by_one_are_squeezed():
    labels = IN["labels"].reshape(-1, 1)
    assert torch.allclose(est.losses.sparse_softmax_cross_entropy(labels, IN["logits"]),
                          F.cross_entropy(IN["logits"], IN["labels"].long()))


@pytest.mark.parametrize("name,fn", [("sparse", "sparse_softmax_cross_entropy_with_logits"),
                                     ("softmax", "softmax_cross_entropy_with_logits"),
                                     ("sigmoid", "sigmoid_cross_entropy_with_logits")])
def test_nn_cross_entropies_equal_tensorflow_per_example(name, fn):
    labels = {"sparse": IN["labels"], "sigmoid": IN["multi"],
              "softmax": F.one_hot(IN["labels"].long(), 4).float() * 0.8 + 0.05}[name]
    got = getattr(est.nn, fn)(labels=labels, logits=IN["logits"])
    np.testing.assert_allclose(got.numpy(), np.array(TF["nn"][name], dtype=np.float32),
                               rtol=2e-6, atol=1e-6)


def test_nn_rejects_positional_arguments_as_tf():
    with pytest.raises(ValueError, match="named arguments"):
        est.nn.sparse_softmax_cross_entropy_with_logits(IN["labels"], IN["logits"])


def test_weights_that_do_not_broadcast_raise_with_both_shapes():
    with pytest.raises(ValueError, match=r"weights of shape \(2,\).*losses of shape \(6,\)"):
        est.losses.sparse_softmax_cross_entropy(IN["labels"], IN["logits"], torch.ones(2))


def test_unknown_reduction_raises():
    with pytest.raises(ValueError, match="Invalid Reduction Key bogus"):
        est.losses.mean_squared_error(IN["target"], IN["pred"], reduction="bogus")


def test_name_on_nn_results_and_losses_collection_in_a_model_fn_call():
    scope = ModelScope()
    with scope.call("train"):
        xent = est.nn.sparse_softmax_cross_entropy_with_logits(
            labels=IN["labels"], logits=IN["logits"], name="xent")
        a = est.losses.mean_squared_error(IN["target"], IN["pred"])
        b = est.losses.absolute_difference(IN["target"], IN["pred"], loss_collection=None)
        est.losses.add_loss(torch.tensor(0.5), "regularization_losses")
        assert est.losses.get_losses() == [a]
        assert torch.allclose(est.losses.get_total_loss(), a + 0.5)
        assert torch.allclose(est.losses.get_total_loss(add_regularization_losses=False), a)
    assert scope.named_tensors["xent"] is xent and b is not None
    with scope.call("train"):  # collections are per call
        assert est.losses.get_losses() == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 5, width=32), min_size=1, max_size=8),
       st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=8, max_size=8))
def test_sum_by_nonzero_weights_is_weighted_sum_over_nonzero_count(values, weights):
    losses = torch.tensor(values)
    w = torch.tensor(weights[:len(values)])
    got = est.losses.compute_weighted_loss(losses, w).item()
    nonzero = int((w != 0).sum())
    expected = float((losses * w).sum()) / nonzero if nonzero else 0.0
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)
