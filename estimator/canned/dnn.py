"""``DNNClassifier`` and ``DNNRegressor``: feed-forward networks over feature columns.

The network is TF's: ``input_layer`` of the feature columns, then one dense layer per entry of
``hidden_units`` (``hiddenlayer_0``, ... with ``activation_fn``, then dropout when training,
then batch normalization if asked), then a ``logits`` layer; all under ``dnn/``. Default
optimizer: Adagrad at learning rate 0.05, as TF.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F

from estimator import layers
from estimator.canned._common import check_features, columns
from estimator.canned._optimizers import check_optimizer, get_optimizer
from estimator.canned._train_op import parameters_under, train_op
from estimator.canned.head import SUM_OVER_BATCH_SIZE, Head, RegressionHead, classification_head
from estimator.estimator import Estimator
from estimator.feature_column._layers import dense_input
from estimator.feature_column.dense import as_dense
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec, ModeKeys
from estimator.train import Optimizer
from estimator.variables import variable_scope

_LEARNING_RATE = 0.05


def check_hidden_units(hidden_units: Any, where: str) -> Sequence[int]:
    if isinstance(hidden_units, int) or not hidden_units or not all(
            isinstance(u, int) and u > 0 for u in hidden_units):
        raise ValueError(f"{where}: hidden_units must be a non-empty list of positive ints "
                         f"(e.g. [10, 10]), got {hidden_units!r}")
    return list(hidden_units)


def check_dropout(dropout: Optional[float], where: str) -> None:
    if dropout is not None and not 0 <= dropout < 1:
        raise ValueError(f"{where}: dropout must be in [0, 1), got {dropout!r}")


def dense_columns(feature_columns: Any, where: str) -> List[Any]:
    """The columns for :func:`dnn_logits`: checked, dense, sorted by name (as ``input_layer``)."""
    return sorted((as_dense(c, where) for c in columns(feature_columns, where)),
                  key=lambda c: c.name)


def dnn_logits(features: Mapping[str, Any], mode: str, units: int, hidden_units: Sequence[int],
               feature_columns: List[Any], activation_fn: Optional[Callable[..., Any]],
               dropout: Optional[float], batch_norm: bool) -> torch.Tensor:
    """TF's DNN over ``feature_columns`` (checked by :func:`dense_columns`) in the current
    variable scope: ``[batch, units]``."""
    training = mode == ModeKeys.TRAIN
    with variable_scope("input_from_feature_columns"):
        net = dense_input(features, feature_columns)
    for i, n in enumerate(hidden_units):
        net = layers.dense(net, n, activation=activation_fn, name=f"hiddenlayer_{i}")
        if dropout is not None and training:
            net = layers.dropout(net, rate=dropout, training=True)
        if batch_norm:
            net = layers.batch_normalization(net, momentum=0.999, training=training,
                                             name=f"batchnorm_{i}")
    return layers.dense(net, units, name="logits")


def dnn_model_fn(features: Any, labels: Any, mode: str, head: Head,
                 hidden_units: Sequence[int], feature_columns: List[Any], optimizer: Any,
                 activation_fn: Optional[Callable[..., Any]], dropout: Optional[float],
                 batch_norm: bool, where: str) -> EstimatorSpec:
    features = check_features(features, where)
    with variable_scope("dnn"):
        logits = dnn_logits(features, mode, head.logits_dimension, hidden_units,
                            feature_columns, activation_fn, dropout, batch_norm)

    def train_op_fn(loss: torch.Tensor) -> Any:
        opt = optimizer if isinstance(optimizer, Optimizer) else get_optimizer(
            optimizer, _LEARNING_RATE, where)
        return train_op(loss, [(opt, parameters_under("dnn"))])

    return head.create_estimator_spec(features, mode, logits, labels, train_op_fn)


class _DNN(Estimator):
    def __init__(self, head: Head, hidden_units: Sequence[int], feature_columns: Any,
                 model_dir: Optional[str], optimizer: Any, activation_fn: Any,
                 dropout: Optional[float], config: Optional[RunConfig], warm_start_from: Any,
                 batch_norm: bool, where: str) -> None:
        units = check_hidden_units(hidden_units, where)
        cols = dense_columns(feature_columns, where)
        check_optimizer(optimizer, where)
        if isinstance(optimizer, str):  # a name makes the same optimizer at every step
            optimizer = get_optimizer(optimizer, _LEARNING_RATE, where)
        check_dropout(dropout, where)
        self.head = head

        def model_fn(features: Any, labels: Any, mode: str) -> EstimatorSpec:
            return dnn_model_fn(features, labels, mode, head, units, cols, optimizer,
                                activation_fn, dropout, batch_norm, where)

        super().__init__(model_fn, model_dir, config, warm_start_from=warm_start_from)


class DNNClassifier(_DNN):
    """A classifier for TensorFlow DNN models (``tf.estimator.DNNClassifier``).

    Predictions: ``logits``, ``probabilities``, ``class_ids``, ``classes`` (bytes),
    ``all_class_ids``, ``all_classes`` and, for two classes, ``logistic``. ``evaluate`` gives
    ``accuracy``, ``average_loss``, ``loss``, ``global_step`` and, for two classes,
    ``accuracy_baseline``, ``auc``, ``auc_precision_recall``, ``label/mean``,
    ``prediction/mean``, ``precision``, ``recall``. ``optimizer`` is a name (``"Adagrad"``,
    ``"Adam"``, ``"Ftrl"``, ``"RMSProp"``, ``"SGD"``, at learning rate 0.05), an ``est.train``
    optimizer, or a callable returning one.

    >>> import numpy as np, data, estimator as est
    >>> x = np.random.RandomState(0).randn(64, 2).astype("float32")
    >>> ds = lambda: data.Dataset.from_tensor_slices(({"x": x}, (x[:, 0] > 0).astype("int64"))).batch(16)
    >>> model = est.DNNClassifier([8], [est.feature_column.numeric_column("x", shape=(2,))],
    ...                           config=est.RunConfig(device="cpu", tf_random_seed=0))
    >>> sorted(model.train(ds).evaluate(ds))[:3]
    ['accuracy', 'accuracy_baseline', 'auc']
    """

    def __init__(self, hidden_units: Sequence[int], feature_columns: Iterable[Any],
                 model_dir: Optional[str] = None, n_classes: int = 2, weight_column: Any = None,
                 label_vocabulary: Optional[Sequence[str]] = None, optimizer: Any = "Adagrad",
                 activation_fn: Optional[Callable[..., Any]] = F.relu,
                 dropout: Optional[float] = None, config: Optional[RunConfig] = None,
                 warm_start_from: Any = None, loss_reduction: Any = SUM_OVER_BATCH_SIZE,
                 batch_norm: bool = False) -> None:
        where = "DNNClassifier"
        head = classification_head(n_classes, weight_column, label_vocabulary, loss_reduction,
                                   where)
        super().__init__(head, hidden_units, feature_columns, model_dir, optimizer,
                         activation_fn, dropout, config, warm_start_from, batch_norm, where)


class DNNRegressor(_DNN):
    """A regressor for TensorFlow DNN models (``tf.estimator.DNNRegressor``).

    Predictions: ``predictions`` (``[batch, label_dimension]``); ``evaluate`` gives
    ``average_loss`` (mean squared error), ``label/mean``, ``prediction/mean``, ``loss``.
    """

    def __init__(self, hidden_units: Sequence[int], feature_columns: Iterable[Any],
                 model_dir: Optional[str] = None, label_dimension: int = 1,
                 weight_column: Any = None, optimizer: Any = "Adagrad",
                 activation_fn: Optional[Callable[..., Any]] = F.relu,
                 dropout: Optional[float] = None, config: Optional[RunConfig] = None,
                 warm_start_from: Any = None, loss_reduction: Any = SUM_OVER_BATCH_SIZE,
                 batch_norm: bool = False) -> None:
        where = "DNNRegressor"
        head = RegressionHead(label_dimension, weight_column, loss_reduction, where)
        super().__init__(head, hidden_units, feature_columns, model_dir, optimizer,
                         activation_fn, dropout, config, warm_start_from, batch_norm, where)
