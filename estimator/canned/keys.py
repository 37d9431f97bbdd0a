"""TF's prediction and metric keys of the premade estimators (``PredictionKeys``, ``MetricKeys``)."""


class PredictionKeys:
    """Keys of a premade estimator's predictions."""

    ALL_CLASSES = "all_classes"
    ALL_CLASS_IDS = "all_class_ids"
    CLASSES = "classes"
    CLASS_IDS = "class_ids"
    LOGISTIC = "logistic"
    LOGITS = "logits"
    PREDICTIONS = "predictions"
    PROBABILITIES = "probabilities"


class MetricKeys:
    """Keys of a premade estimator's evaluation results."""

    ACCURACY = "accuracy"
    ACCURACY_BASELINE = "accuracy_baseline"
    AUC = "auc"
    AUC_PR = "auc_precision_recall"
    LABEL_MEAN = "label/mean"
    LOSS = "loss"
    LOSS_MEAN = "average_loss"
    PRECISION = "precision"
    PREDICTION_MEAN = "prediction/mean"
    RECALL = "recall"
