"""``DNNLinearCombinedClassifier``/``Regressor``: wide (linear) and deep (DNN) models summed.

The logits are ``dnn_logits + linear_logits``; each part has its own optimizer, stepping only
its own variables (``dnn/...`` and ``linear/...``), as TF groups the two ``minimize`` ops.
Defaults as TF: Adagrad at 0.001 for the DNN, FTRL at ``min(0.005, 1/sqrt(n))`` (``n`` linear
feature columns) for the linear part.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F

from estimator.canned._common import check_features, columns
from estimator.canned._optimizers import check_optimizer, get_optimizer
from estimator.canned._train_op import parameters_under, train_op
from estimator.canned.dnn import check_dropout, check_hidden_units, dense_columns, dnn_logits
from estimator.canned.head import SUM_OVER_BATCH_SIZE, Head, RegressionHead, classification_head
from estimator.canned.linear import check_sparse_combiner
from estimator.estimator import Estimator
from estimator.feature_column import linear_model
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec
from estimator.variables import variable_scope

_DNN_LEARNING_RATE = 0.001
_LINEAR_LEARNING_RATE = 0.005


def _linear_learning_rate(num_linear_feature_columns: int) -> float:
    return min(_LINEAR_LEARNING_RATE, 1.0 / math.sqrt(num_linear_feature_columns))


class _Combined(Estimator):
    def __init__(self, head: Head, model_dir: Optional[str], linear_feature_columns: Any,
                 linear_optimizer: Any, dnn_feature_columns: Any, dnn_optimizer: Any,
                 dnn_hidden_units: Any, dnn_activation_fn: Any, dnn_dropout: Optional[float],
                 config: Optional[RunConfig], warm_start_from: Any, batch_norm: bool,
                 linear_sparse_combiner: str, where: str) -> None:
        linear_cols = columns(linear_feature_columns, where) if linear_feature_columns else None
        dnn_cols = dense_columns(dnn_feature_columns, where) if dnn_feature_columns else None
        if not linear_cols and not dnn_cols:
            raise ValueError(f"{where}: either linear_feature_columns or dnn_feature_columns "
                             "must be defined")
        units = check_hidden_units(dnn_hidden_units, where) if dnn_cols else None
        check_optimizer(linear_optimizer, where)
        check_optimizer(dnn_optimizer, where)
        check_dropout(dnn_dropout, where)
        check_sparse_combiner(linear_sparse_combiner, where)
        self.head = head

        def model_fn(features: Any, labels: Any, mode: str) -> EstimatorSpec:
            features = check_features(features, where)
            logits = None
            if dnn_cols:
                assert units is not None  # checked with dnn_cols above
                with variable_scope("dnn"):
                    logits = dnn_logits(features, mode, head.logits_dimension, units, dnn_cols,
                                        dnn_activation_fn, dnn_dropout, batch_norm)
            if linear_cols:
                with variable_scope("linear"):
                    linear = linear_model(features, linear_cols, units=head.logits_dimension,
                                          sparse_combiner=linear_sparse_combiner)
                logits = linear if logits is None else logits + linear
            assert logits is not None  # one of the two parts exists (checked above)

            def train_op_fn(loss: torch.Tensor) -> Any:
                parts = []
                if dnn_cols:
                    parts.append((get_optimizer(dnn_optimizer, _DNN_LEARNING_RATE, where),
                                  parameters_under("dnn")))
                if linear_cols:
                    lr = _linear_learning_rate(len(linear_cols))
                    parts.append((get_optimizer(linear_optimizer, lr, where),
                                  parameters_under("linear")))
                return train_op(loss, parts)

            return head.create_estimator_spec(features, mode, logits, labels, train_op_fn)

        super().__init__(model_fn, model_dir, config, warm_start_from=warm_start_from)


class DNNLinearCombinedClassifier(_Combined):
    """Wide-and-deep classifier (``tf.estimator.DNNLinearCombinedClassifier``); predictions
    and metrics as :class:`~estimator.DNNClassifier`'s."""

    def __init__(self, model_dir: Optional[str] = None,
                 linear_feature_columns: Optional[Iterable[Any]] = None,
                 linear_optimizer: Any = "Ftrl",
                 dnn_feature_columns: Optional[Iterable[Any]] = None,
                 dnn_optimizer: Any = "Adagrad", dnn_hidden_units: Optional[Sequence[int]] = None,
                 dnn_activation_fn: Optional[Callable[..., Any]] = F.relu,
                 dnn_dropout: Optional[float] = None, n_classes: int = 2,
                 weight_column: Any = None, label_vocabulary: Optional[Sequence[str]] = None,
                 config: Optional[RunConfig] = None, warm_start_from: Any = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE, batch_norm: bool = False,
                 linear_sparse_combiner: str = "sum") -> None:
        where = "DNNLinearCombinedClassifier"
        head = classification_head(n_classes, weight_column, label_vocabulary, loss_reduction,
                                   where)
        super().__init__(head, model_dir, linear_feature_columns, linear_optimizer,
                         dnn_feature_columns, dnn_optimizer, dnn_hidden_units, dnn_activation_fn,
                         dnn_dropout, config, warm_start_from, batch_norm,
                         linear_sparse_combiner, where)


class DNNLinearCombinedRegressor(_Combined):
    """Wide-and-deep regressor (``tf.estimator.DNNLinearCombinedRegressor``)."""

    def __init__(self, model_dir: Optional[str] = None,
                 linear_feature_columns: Optional[Iterable[Any]] = None,
                 linear_optimizer: Any = "Ftrl",
                 dnn_feature_columns: Optional[Iterable[Any]] = None,
                 dnn_optimizer: Any = "Adagrad", dnn_hidden_units: Optional[Sequence[int]] = None,
                 dnn_activation_fn: Optional[Callable[..., Any]] = F.relu,
                 dnn_dropout: Optional[float] = None, label_dimension: int = 1,
                 weight_column: Any = None, config: Optional[RunConfig] = None,
                 warm_start_from: Any = None, loss_reduction: Any = SUM_OVER_BATCH_SIZE,
                 batch_norm: bool = False, linear_sparse_combiner: str = "sum") -> None:
        where = "DNNLinearCombinedRegressor"
        head = RegressionHead(label_dimension, weight_column, loss_reduction, where)
        super().__init__(head, model_dir, linear_feature_columns, linear_optimizer,
                         dnn_feature_columns, dnn_optimizer, dnn_hidden_units, dnn_activation_fn,
                         dnn_dropout, config, warm_start_from, batch_norm,
                         linear_sparse_combiner, where)
