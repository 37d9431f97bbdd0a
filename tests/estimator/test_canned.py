"""Premade estimators: train/evaluate/predict, TF's keys, defaults, resume and errors."""

import math

import numpy as np
import pytest
import torch

import data
import estimator as est
from estimator import checkpoint

fc = est.feature_column

BINARY_METRICS = {"accuracy", "accuracy_baseline", "auc", "auc_precision_recall", "average_loss",
                  "label/mean", "loss", "precision", "prediction/mean", "recall", "global_step"}
MULTI_METRICS = {"accuracy", "average_loss", "loss", "global_step"}
REGRESSION_METRICS = {"average_loss", "label/mean", "loss", "prediction/mean", "global_step"}
CLASS_PREDICTIONS = {"logits", "probabilities", "class_ids", "classes", "all_class_ids",
                     "all_classes"}


def config(**kwargs):
    # one intra-op thread: tiny models, and the test machine may be shared
    return est.RunConfig(device="cpu", tf_random_seed=7, log_step_count_steps=None,
                         intra_op_parallelism_threads=1, **kwargs)


def make_data(n=200, n_classes=2, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 3).astype(np.float32)
    score = x @ np.array([1.5, -1.0, 0.5], dtype=np.float32)
    if n_classes == 2:
        y = (score > 0).astype(np.int64)
    else:
        y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    color = np.array(["red", "green", "blue"])[rng.randint(0, 3, n)]
    return {"x": x, "color": color, "w": rng.uniform(0.5, 2.0, n).astype(np.float32)}, y


def input_fn(features, labels, batch=32, epochs=1):
    return lambda: data.Dataset.from_tensor_slices((features, labels)).repeat(epochs).batch(batch)


def predict_fn(features, batch=32):
    return lambda: data.Dataset.from_tensor_slices(features).batch(batch)


COLUMNS = [fc.numeric_column("x", shape=(3,)),
           fc.indicator_column(fc.categorical_column_with_vocabulary_list(
               "color", ["red", "green", "blue"]))]


def test_dnn_classifier_binary_keys_and_learning(tmp_path):
    features, labels = make_data()
    model = est.DNNClassifier([16, 8], COLUMNS, model_dir=str(tmp_path), config=config())
    assert isinstance(model, est.Estimator)
    model.train(input_fn(features, labels, epochs=20))
    results = model.evaluate(input_fn(features, labels))
    assert set(results) == BINARY_METRICS
    assert results["accuracy"] > 0.9
    assert results["global_step"] == math.ceil(20 * 200 / 32)
    assert results["label/mean"] == pytest.approx(labels.mean(), abs=1e-6)
    assert results["accuracy_baseline"] == pytest.approx(max(labels.mean(), 1 - labels.mean()),
                                                         abs=1e-6)
    preds = list(model.predict(predict_fn(features)))
    assert len(preds) == 200
    assert set(preds[0]) == CLASS_PREDICTIONS | {"logistic"}
    p = preds[0]
    assert p["logits"].shape == (1,) and p["probabilities"].shape == (2,)
    assert p["class_ids"].dtype == torch.int64 and p["class_ids"].shape == (1,)
    assert p["classes"].tolist() == [str(int(p["class_ids"][0])).encode()]
    assert p["all_classes"].tolist() == [b"0", b"1"]
    assert p["all_class_ids"].tolist() == [0, 1]
    assert float(p["logistic"][0]) == pytest.approx(float(p["probabilities"][1]), abs=1e-6)
    accuracy = np.mean([int(q["class_ids"][0]) == y for q, y in zip(preds, labels)])
    assert accuracy == pytest.approx(results["accuracy"], abs=1e-6)


def test_dnn_classifier_multiclass_keys(tmp_path):
    features, labels = make_data(n_classes=3)
    model = est.DNNClassifier([16], COLUMNS, n_classes=3, model_dir=str(tmp_path),
                              config=config())
    results = model.train(input_fn(features, labels, epochs=15)).evaluate(
        input_fn(features, labels))
    assert set(results) == MULTI_METRICS
    assert results["accuracy"] > 0.8
    pred = next(model.predict(predict_fn(features)))
    assert set(pred) == CLASS_PREDICTIONS
    assert pred["probabilities"].shape == (3,)
    assert float(pred["probabilities"].sum()) == pytest.approx(1.0, abs=1e-6)


def test_label_vocabulary_maps_string_labels_and_classes(tmp_path):
    features, labels = make_data()
    names = np.array(["no", "yes"])[labels]
    model = est.DNNClassifier([8], COLUMNS, label_vocabulary=["no", "yes"],
                              model_dir=str(tmp_path), config=config())
    results = model.train(input_fn(features, names, epochs=10)).evaluate(
        input_fn(features, names))
    assert results["accuracy"] > 0.85
    pred = next(model.predict(predict_fn(features)))
    assert pred["classes"][0] in (b"no", b"yes")
    assert pred["all_classes"].tolist() == [b"no", b"yes"]
    bad = np.array(["no", "maybe"] * 100)
    with pytest.raises(ValueError, match="'maybe' is not in label_vocabulary"):
        model.evaluate(input_fn(features, bad))


def test_label_out_of_range_is_an_error(tmp_path):
    features, labels = make_data(n_classes=3)
    model = est.DNNClassifier([4], COLUMNS, n_classes=2, model_dir=str(tmp_path), config=config())
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        model.train(input_fn(features, labels))


def test_dnn_regressor_keys_and_fit(tmp_path):
    features, _ = make_data()
    y = (features["x"] @ np.array([1.0, 2.0, -1.0], dtype=np.float32)).astype(np.float32)
    model = est.DNNRegressor([16], [fc.numeric_column("x", shape=(3,))], model_dir=str(tmp_path),
                             optimizer="Adam", config=config())
    results = model.train(input_fn(features, y, epochs=40)).evaluate(input_fn(features, y))
    assert set(results) == REGRESSION_METRICS
    assert results["average_loss"] < 0.1 * float(np.var(y))
    assert results["label/mean"] == pytest.approx(float(y.mean()), abs=1e-5)
    pred = next(model.predict(predict_fn(features)))
    assert set(pred) == {"predictions"} and pred["predictions"].shape == (1,)


def test_linear_classifier_variables_and_default_ftrl(tmp_path):
    features, labels = make_data()
    model = est.LinearClassifier(COLUMNS, model_dir=str(tmp_path), config=config())
    results = model.train(input_fn(features, labels, epochs=10)).evaluate(
        input_fn(features, labels))
    assert set(results) == BINARY_METRICS and results["accuracy"] > 0.9
    assert model.get_variable_names() == [
        "global_step", "linear/linear_model/bias_weights",
        "linear/linear_model/color_indicator/weights", "linear/linear_model/x/weights"]
    assert tuple(model.get_variable_value("linear/linear_model/x/weights").shape) == (3, 1)
    saved = checkpoint.load(str(tmp_path))
    assert saved["optimizers"]["Ftrl"]["param_groups"][0]["lr"] == pytest.approx(0.2)


def test_linear_optimizer_none_uses_tf_rate_for_many_columns(tmp_path):
    features = {f"f{i}": np.ones(8, np.float32) for i in range(36)}
    model = est.LinearRegressor([fc.numeric_column(k) for k in features], optimizer=None,
                                model_dir=str(tmp_path), config=config())
    model.train(input_fn(features, np.ones(8, np.float32), batch=8))
    lr = checkpoint.load(str(tmp_path))["optimizers"]["Ftrl"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(1 / 6)


def test_linear_regressor_with_categorical_and_crossed_columns(tmp_path):
    rng = np.random.RandomState(1)
    a = np.array(["p", "q", "r"])[rng.randint(0, 3, 300)]
    b = np.array(["u", "v"])[rng.randint(0, 2, 300)]
    effect = {("p", "u"): 1.0, ("p", "v"): -1.0, ("q", "u"): 2.0, ("q", "v"): 0.0,
              ("r", "u"): -2.0, ("r", "v"): 3.0}
    y = np.array([effect[k] for k in zip(a, b)], dtype=np.float32)
    cols = [fc.crossed_column(["a", "b"], 1000)]
    model = est.LinearRegressor(cols, optimizer="Adagrad", model_dir=str(tmp_path),
                                config=config())
    results = model.train(input_fn({"a": a, "b": b}, y, epochs=60)).evaluate(
        input_fn({"a": a, "b": b}, y))
    assert results["average_loss"] < 0.05


def test_combined_classifier_steps_both_parts_with_tf_defaults(tmp_path):
    features, labels = make_data()
    color = fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])
    model = est.DNNLinearCombinedClassifier(
        model_dir=str(tmp_path), linear_feature_columns=[color, fc.numeric_column("x", (3,))],
        dnn_feature_columns=[fc.embedding_column(color, 2), fc.numeric_column("x", (3,))],
        dnn_hidden_units=[8], config=config())
    results = model.train(input_fn(features, labels, epochs=5)).evaluate(
        input_fn(features, labels))
    assert set(results) == BINARY_METRICS
    saved = checkpoint.load(str(tmp_path))
    assert saved["optimizers"]["Adagrad"]["param_groups"][0]["lr"] == pytest.approx(0.001)
    assert saved["optimizers"]["Ftrl"]["param_groups"][0]["lr"] == pytest.approx(
        min(0.005, 1 / math.sqrt(2)))
    names = model.get_variable_names()
    assert "dnn/input_from_feature_columns/input_layer/color_embedding/embedding_weights" in names
    assert "linear/linear_model/color/weights" in names
    ftrl_params = saved["optimizers"]["Ftrl"]["param_groups"][0]["params"]
    adagrad_params = saved["optimizers"]["Adagrad"]["param_groups"][0]["params"]
    assert len(ftrl_params) == 3 and len(adagrad_params) == 5


def test_combined_regressor_linear_only(tmp_path):
    features, _ = make_data()
    y = features["x"][:, 0] * 2.0
    model = est.DNNLinearCombinedRegressor(
        model_dir=str(tmp_path), linear_feature_columns=[fc.numeric_column("x", (3,))],
        linear_optimizer="SGD", config=config())
    results = model.train(input_fn(features, y, epochs=3)).evaluate(input_fn(features, y))
    assert set(results) == REGRESSION_METRICS
    assert all(n.startswith(("linear/", "global_step")) for n in model.get_variable_names())


def test_baseline_classifier_learns_label_distribution(tmp_path):
    labels = np.array([0] * 30 + [1] * 50 + [2] * 20, dtype=np.int64)
    features = {"any": np.zeros(100, np.float32)}
    model = est.BaselineClassifier(model_dir=str(tmp_path), n_classes=3, config=config())
    model.train(input_fn(features, labels, batch=100, epochs=300))
    pred = next(model.predict(predict_fn(features)))
    np.testing.assert_allclose(pred["probabilities"].numpy(), [0.3, 0.5, 0.2], atol=0.02)
    assert model.get_variable_names() == ["baseline/bias", "global_step"]
    lr = checkpoint.load(str(tmp_path))["optimizers"]["Ftrl"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(0.3)


def test_baseline_regressor_weighted_metrics_are_exact(tmp_path):
    y = np.array([1.0, 2.0, 3.0, 10.0], dtype=np.float32)
    w = np.array([1.0, 1.0, 2.0, 0.0], dtype=np.float32)
    features = {"w": w}
    model = est.BaselineRegressor(model_dir=str(tmp_path), weight_column="w", config=config())
    results = model.train(input_fn(features, y, batch=4, epochs=2)).evaluate(
        input_fn(features, y, batch=4))
    bias = float(model.get_variable_value("baseline/bias")[0])
    assert results["label/mean"] == pytest.approx(float((w * y).sum() / w.sum()), rel=1e-6)
    assert results["prediction/mean"] == pytest.approx(bias, rel=1e-6)
    expected = float((w * (y - bias) ** 2).sum() / w.sum())
    assert results["average_loss"] == pytest.approx(expected, rel=1e-5)
    # SUM_OVER_BATCH_SIZE: weighted sum over the batch size (4), not over the weights (4 too)
    assert results["loss"] == pytest.approx(float((w * (y - bias) ** 2).sum() / 4), rel=1e-5)


def test_loss_reduction_sum(tmp_path):
    y = np.array([1.0, 2.0, 3.0, 10.0], dtype=np.float32)
    features = {"k": np.zeros(4, np.float32)}
    model = est.BaselineRegressor(model_dir=str(tmp_path), loss_reduction="sum",
                                  config=config())
    results = model.train(input_fn(features, y, batch=4)).evaluate(input_fn(features, y, batch=4))
    assert results["loss"] == pytest.approx(4 * results["average_loss"], rel=1e-6)


def test_resume_continues_from_checkpoint(tmp_path):
    features, labels = make_data()
    cols = [fc.numeric_column("x", shape=(3,))]
    model = est.DNNClassifier([8], cols, model_dir=str(tmp_path), config=config())
    model.train(input_fn(features, labels, epochs=50), steps=5)
    first = model.get_variable_value("dnn/logits/kernel").clone()
    again = est.DNNClassifier([8], cols, model_dir=str(tmp_path), config=config())
    again.train(input_fn(features, labels, epochs=50), steps=5)
    assert again.evaluate(input_fn(features, labels))["global_step"] == 10
    assert not torch.equal(first, again.get_variable_value("dnn/logits/kernel"))
    one = est.DNNClassifier([8], cols, model_dir=str(tmp_path), config=config()).evaluate(
        input_fn(features, labels))
    two = again.evaluate(input_fn(features, labels))
    assert one == two


def test_dropout_and_batch_norm(tmp_path):
    features, labels = make_data()
    model = est.DNNClassifier([8, 8], [fc.numeric_column("x", shape=(3,))], dropout=0.2,
                              batch_norm=True, model_dir=str(tmp_path), config=config())
    results = model.train(input_fn(features, labels, epochs=10)).evaluate(
        input_fn(features, labels))
    assert results["accuracy"] > 0.8
    assert "dnn/batchnorm_1/moving_mean" in model.get_variable_names()


@pytest.mark.parametrize("name", ["Adagrad", "Adam", "Ftrl", "RMSProp", "SGD"])
def test_optimizer_names(name, tmp_path):
    features, labels = make_data(n=64)
    model = est.DNNClassifier([4], [fc.numeric_column("x", shape=(3,))], optimizer=name,
                              model_dir=str(tmp_path), config=config())
    model.train(input_fn(features, labels))
    saved = checkpoint.load(str(tmp_path))["optimizers"]
    key = "GradientDescent" if name == "SGD" else name  # est.train's optimizer names
    assert list(saved) == [key] and saved[key]["param_groups"][0]["lr"] == pytest.approx(0.05)


def test_optimizer_instance_and_callable(tmp_path):
    features, labels = make_data(n=64)
    cols = [fc.numeric_column("x", shape=(3,))]
    est.DNNClassifier([4], cols, optimizer=est.train.AdamOptimizer(0.01),
                      model_dir=str(tmp_path / "a"), config=config()).train(
        input_fn(features, labels))
    assert checkpoint.load(str(tmp_path / "a"))["optimizers"]["Adam"]["param_groups"][0][
        "lr"] == pytest.approx(0.01)
    est.DNNClassifier([4], cols, optimizer=lambda: est.train.GradientDescentOptimizer(
        est.train.exponential_decay(0.1, est.train.get_global_step(), 1, 0.5)),
        model_dir=str(tmp_path / "b"), config=config()).train(input_fn(features, labels))
    lr = checkpoint.load(str(tmp_path / "b"))["optimizers"]["GradientDescent"]["param_groups"][
        0]["lr"]
    assert lr == pytest.approx(0.1 * 0.5 ** 1)  # set at the last step (global step 1 of 2)


def test_add_metrics(tmp_path):
    features, labels = make_data()
    model = est.DNNClassifier([8], COLUMNS, model_dir=str(tmp_path), config=config())
    model.train(input_fn(features, labels, epochs=3))

    def metric_fn(labels, predictions, features):
        return {"mean_x0": est.metrics.mean(features["x"][:, 0]),
                "auc": est.metrics.auc(labels, predictions["logistic"], num_thresholds=50)}

    extended = est.add_metrics(model, metric_fn)
    results = extended.evaluate(input_fn(features, labels))
    assert set(results) == BINARY_METRICS | {"mean_x0"}
    assert results["mean_x0"] == pytest.approx(float(features["x"][:, 0].mean()), abs=1e-5)
    with pytest.raises(ValueError, match="predictions"):
        est.add_metrics(model, lambda labels: {})
    with pytest.raises(ValueError, match="may only take"):
        est.add_metrics(model, lambda predictions, mode: {})


@pytest.mark.parametrize("make, match", [
    (lambda: est.DNNClassifier([], COLUMNS), "hidden_units"),
    (lambda: est.DNNClassifier([4], COLUMNS, optimizer="Adadelta"), "unsupported optimizer"),
    (lambda: est.DNNClassifier([4], COLUMNS, optimizer=3), "optimizer must be"),
    (lambda: est.DNNClassifier([4], COLUMNS, n_classes=1), "n_classes"),
    (lambda: est.DNNClassifier([4], COLUMNS, label_vocabulary=["a"]), "label_vocabulary has 1"),
    (lambda: est.DNNClassifier([4], COLUMNS, loss_reduction="none"), "loss_reduction"),
    (lambda: est.DNNClassifier([4], COLUMNS, dropout=1.5), "dropout"),
    (lambda: est.DNNClassifier([4], []), "feature_columns must not be empty"),
    (lambda: est.DNNClassifier([4], [fc.categorical_column_with_identity("i", 3)]).train(
        input_fn({"i": np.zeros(4, np.int64)}, np.zeros(4, np.int64))), "wrap the categorical"),
    (lambda: est.LinearClassifier(COLUMNS, sparse_combiner="max"), "sparse_combiner"),
    (lambda: est.DNNLinearCombinedClassifier(), "either linear_feature_columns"),
    (lambda: est.DNNLinearCombinedClassifier(dnn_feature_columns=COLUMNS), "hidden_units"),
])
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_missing_feature_names_column_and_key(tmp_path):
    features, labels = make_data()
    model = est.DNNClassifier([4], [fc.numeric_column("height")], model_dir=str(tmp_path),
                              config=config())
    with pytest.raises(KeyError, match="'height' needs the feature 'height'.*keys: \\['color'"):
        model.train(input_fn(features, labels))


def test_features_must_be_a_dict(tmp_path):
    model = est.LinearRegressor([fc.numeric_column("x")], model_dir=str(tmp_path),
                                config=config())
    with pytest.raises(ValueError, match="features should be a dict"):
        model.train(lambda: [(torch.zeros(4, 1), torch.zeros(4))])


def test_predict_keys_and_whole_batches_with_string_classes(tmp_path):
    features, labels = make_data(n=40)
    names = np.array(["no", "yes"])[labels]
    model = est.LinearClassifier(COLUMNS, label_vocabulary=["no", "yes"],
                                 model_dir=str(tmp_path), config=config())
    model.train(input_fn(features, names))
    batches = list(model.predict(predict_fn(features, batch=16), predict_keys=["classes"],
                                 yield_single_examples=False))
    assert [b["classes"].shape for b in batches] == [(16, 1), (16, 1), (8, 1)]
    assert set(batches[0]) == {"classes"}
    assert {c for b in batches for c in b["classes"].reshape(-1)} <= {b"no", b"yes"}
