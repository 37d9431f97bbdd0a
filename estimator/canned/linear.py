"""``LinearClassifier`` and ``LinearRegressor``: ``linear_model`` over feature columns.

Variables live under ``linear/linear_model/`` (one ``weights`` per column, ``bias_weights``).
The default optimizer is FTRL: ``"Ftrl"`` (the default) at learning rate 0.2; with
``optimizer=None``, TF's ``min(0.2, 1/sqrt(len(feature_columns)))``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Sequence

import torch

from estimator.canned._common import check_features, columns
from estimator.canned._optimizers import check_optimizer, get_optimizer
from estimator.canned._train_op import parameters_under, train_op
from estimator.canned.head import SUM_OVER_BATCH_SIZE, Head, RegressionHead, classification_head
from estimator.estimator import Estimator
from estimator.feature_column import linear_model
from estimator.optimizers.ftrl import FtrlOptimizer
from estimator.train import Optimizer
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec
from estimator.variables import variable_scope

_LEARNING_RATE = 0.2


def check_sparse_combiner(sparse_combiner: str, where: str) -> str:
    if sparse_combiner not in ("mean", "sqrtn", "sum"):
        raise ValueError(f"{where}: sparse_combiner must be one of 'mean', 'sqrtn', 'sum', got "
                         f"{sparse_combiner!r}")
    return sparse_combiner


def linear_model_fn(features: Any, labels: Any, mode: str, head: Head,
                    feature_columns: Sequence[Any], optimizer: Any, sparse_combiner: str,
                    where: str) -> EstimatorSpec:
    features = check_features(features, where)
    with variable_scope("linear"):
        logits = linear_model(features, feature_columns, units=head.logits_dimension,
                              sparse_combiner=sparse_combiner)

    def train_op_fn(loss: torch.Tensor) -> Any:
        opt: Optimizer
        if optimizer is None:
            opt = FtrlOptimizer(min(_LEARNING_RATE, 1.0 / math.sqrt(len(feature_columns))))
        else:
            opt = get_optimizer(optimizer, _LEARNING_RATE, where)
        return train_op(loss, [(opt, parameters_under("linear"))])

    return head.create_estimator_spec(features, mode, logits, labels, train_op_fn)


class _Linear(Estimator):
    def __init__(self, head: Head, feature_columns: Any, model_dir: Optional[str],
                 optimizer: Any, config: Optional[RunConfig], warm_start_from: Any,
                 sparse_combiner: str, where: str) -> None:
        cols = columns(feature_columns, where)
        if optimizer is not None:
            check_optimizer(optimizer, where)
        check_sparse_combiner(sparse_combiner, where)
        self.head = head

        def model_fn(features: Any, labels: Any, mode: str) -> EstimatorSpec:
            return linear_model_fn(features, labels, mode, head, cols, optimizer,
                                   sparse_combiner, where)

        super().__init__(model_fn, model_dir, config, warm_start_from=warm_start_from)


class LinearClassifier(_Linear):
    """A linear classifier (``tf.estimator.LinearClassifier``); predictions and metrics as
    :class:`~estimator.DNNClassifier`'s."""

    def __init__(self, feature_columns: Iterable[Any], model_dir: Optional[str] = None,
                 n_classes: int = 2, weight_column: Any = None,
                 label_vocabulary: Optional[Sequence[str]] = None, optimizer: Any = "Ftrl",
                 config: Optional[RunConfig] = None, warm_start_from: Any = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE, sparse_combiner: str = "sum"
                 ) -> None:
        where = "LinearClassifier"
        head = classification_head(n_classes, weight_column, label_vocabulary, loss_reduction,
                                   where)
        super().__init__(head, feature_columns, model_dir, optimizer, config, warm_start_from,
                         sparse_combiner, where)


class LinearRegressor(_Linear):
    """A linear regressor (``tf.estimator.LinearRegressor``); predictions and metrics as
    :class:`~estimator.DNNRegressor`'s."""

    def __init__(self, feature_columns: Iterable[Any], model_dir: Optional[str] = None,
                 label_dimension: int = 1, weight_column: Any = None, optimizer: Any = "Ftrl",
                 config: Optional[RunConfig] = None, warm_start_from: Any = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE, sparse_combiner: str = "sum"
                 ) -> None:
        where = "LinearRegressor"
        head = RegressionHead(label_dimension, weight_column, loss_reduction, where)
        super().__init__(head, feature_columns, model_dir, optimizer, config, warm_start_from,
                         sparse_combiner, where)
