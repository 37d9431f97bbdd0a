"""``BaselineClassifier`` and ``BaselineRegressor``: a bias only, to compare models against.

The logits are one learned ``baseline/bias`` per output, the same for every example, so the
classifier learns the label distribution and the regressor the label mean. Default optimizer:
FTRL at learning rate 0.3, as TF.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch

from estimator.canned._common import batch_size_of, check_features
from estimator.canned._optimizers import check_optimizer, get_optimizer
from estimator.canned._train_op import train_op
from estimator.canned.head import SUM_OVER_BATCH_SIZE, Head, RegressionHead, classification_head
from estimator.estimator import Estimator
from estimator.run_config import RunConfig
from estimator.spec import EstimatorSpec
from estimator.variables import get_variable, variable_scope

_LEARNING_RATE = 0.3


class _Baseline(Estimator):
    def __init__(self, head: Head, model_dir: Optional[str], optimizer: Any,
                 config: Optional[RunConfig], where: str) -> None:
        check_optimizer(optimizer, where)
        self.head = head

        def model_fn(features: Any, labels: Any, mode: str) -> EstimatorSpec:
            features = check_features(features, where)
            with variable_scope("baseline"):
                bias = get_variable("bias", [head.logits_dimension], initializer=0.0)
            logits = bias.expand(batch_size_of(features), -1)

            def train_op_fn(loss: torch.Tensor) -> Any:
                return train_op(loss, [(get_optimizer(optimizer, _LEARNING_RATE, where),
                                              lambda: [bias])])

            return head.create_estimator_spec(features, mode, logits, labels, train_op_fn)

        super().__init__(model_fn, model_dir, config)


class BaselineClassifier(_Baseline):
    """A classifier that predicts the label distribution (``tf.estimator.BaselineClassifier``)."""

    def __init__(self, model_dir: Optional[str] = None, n_classes: int = 2,
                 weight_column: Any = None, label_vocabulary: Optional[Sequence[str]] = None,
                 optimizer: Any = "Ftrl", config: Optional[RunConfig] = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE) -> None:
        where = "BaselineClassifier"
        head = classification_head(n_classes, weight_column, label_vocabulary, loss_reduction,
                                   where)
        super().__init__(head, model_dir, optimizer, config, where)


class BaselineRegressor(_Baseline):
    """A regressor that predicts the label mean (``tf.estimator.BaselineRegressor``)."""

    def __init__(self, model_dir: Optional[str] = None, label_dimension: int = 1,
                 weight_column: Any = None, optimizer: Any = "Ftrl",
                 config: Optional[RunConfig] = None,
                 loss_reduction: Any = SUM_OVER_BATCH_SIZE) -> None:
        where = "BaselineRegressor"
        head = RegressionHead(label_dimension, weight_column, loss_reduction, where)
        super().__init__(head, model_dir, optimizer, config, where)
