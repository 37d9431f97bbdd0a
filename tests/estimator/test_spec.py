import dataclasses

import pytest
import torch

import estimator as est
from estimator import EstimatorSpec, ModeKeys


def _train_op():
    return None


def test_mode_keys_match_tf_and_infer_is_predict():
    assert (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT) == ("train", "eval", "infer")
    assert ModeKeys.INFER is ModeKeys.PREDICT


def test_train_without_loss_raises_naming_loss_and_mode():
    with pytest.raises(ValueError, match=r"mode='train'.*missing loss"):
        EstimatorSpec(ModeKeys.TRAIN, train_op=_train_op)


def test_train_without_train_op_raises_naming_train_op():
    with pytest.raises(ValueError, match=r"mode='train'.*missing train_op"):
        EstimatorSpec(ModeKeys.TRAIN, loss=torch.tensor(1.0))


def test_eval_without_loss_raises():
    with pytest.raises(ValueError, match=r"mode='eval'.*missing loss"):
        EstimatorSpec(ModeKeys.EVAL, predictions=torch.zeros(2))


def test_predict_without_predictions_raises():
    with pytest.raises(ValueError, match=r"mode='infer'.*missing predictions"):
        EstimatorSpec(ModeKeys.PREDICT, loss=torch.tensor(1.0))


def test_non_scalar_loss_raises_value_error_with_shape():
    with pytest.raises(ValueError, match=r"loss must be a scalar, got shape \(3,\)"):
        EstimatorSpec(ModeKeys.EVAL, loss=torch.ones(3))


def test_non_tensor_loss_raises_type_error():
    with pytest.raises(TypeError, match=r"loss must be a scalar torch.Tensor, got float"):
        EstimatorSpec(ModeKeys.EVAL, loss=1.0)


def test_loss_of_shape_one_becomes_a_scalar():
    spec = EstimatorSpec(ModeKeys.EVAL, loss=torch.ones(1))
    assert spec.loss.shape == ()


def test_unknown_mode_raises():
    with pytest.raises(ValueError, match=r"mode must be one of"):
        EstimatorSpec("training", loss=torch.tensor(0.0))


def test_predictions_must_be_tensors():
    with pytest.raises(TypeError, match=r"key 'classes' holds list"):
        EstimatorSpec(ModeKeys.PREDICT, predictions={"classes": [1, 2]})


def test_eval_metric_ops_values_are_checked():
    with pytest.raises(TypeError, match=r"eval_metric_ops\['acc'\]"):
        EstimatorSpec(ModeKeys.EVAL, loss=torch.tensor(0.0), eval_metric_ops={"acc": 0.5})


def test_hooks_must_be_session_run_hooks():
    with pytest.raises(TypeError, match=r"training_hooks must hold SessionRunHook"):
        EstimatorSpec(ModeKeys.TRAIN, loss=torch.tensor(0.0), train_op=_train_op,
                      training_hooks=[object()])


def test_spec_is_frozen_and_hooks_become_tuples():
    hook = est.SessionRunHook()
    spec = EstimatorSpec(ModeKeys.PREDICT, predictions=torch.zeros(1), prediction_hooks=[hook])
    assert spec.prediction_hooks == (hook,)
    assert spec.hooks_for_mode() == (hook,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.loss = torch.tensor(1.0)
