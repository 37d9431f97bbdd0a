"""The ported TF 1.x Iris samples (examples/ported/) on generated Iris-like data, against the
accuracy TensorFlow 2.15 reaches on the same data (fixtures/iris_tf_reference.json, written by
fixtures/make_iris_reference.py)."""

import json
import os
import sys

import pytest
import torch

from example_loader import EXAMPLES

sys.path.insert(0, str(EXAMPLES / "ported"))
import custom_estimator  # noqa: E402
import iris_data  # noqa: E402
import premade_estimator  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "iris_tf_reference.json")) as f:
    REFERENCE = json.load(f)["accuracy"]

STEPS = 300  # of the samples' 1000: the test's time; TF's figure at 300 steps is in the fixture


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one intra-op thread (the test machine may be shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_generated_data_looks_like_iris():
    (train_x, train_y), (test_x, test_y) = iris_data.load_data()
    assert list(train_x) == iris_data.CSV_COLUMN_NAMES[:4]
    assert len(train_y) == 120 and len(test_y) == 30 and set(train_y) == {0, 1, 2}
    setosa = train_x["PetalLength"][train_y == 0]
    virginica = train_x["PetalLength"][train_y == 2]
    assert setosa.max() < virginica.min()  # petal length separates them, as in the real data


@pytest.mark.parametrize("module, tf_kind", [(premade_estimator, "v1.DNNClassifier"),
                                             (custom_estimator, "custom")])
def test_sample_reaches_tensorflow_accuracy(module, tf_kind, tmp_path, capsys):
    result = module.main(["prog", "--train_steps", str(STEPS), "--model_dir", str(tmp_path)])
    tf_accuracy = REFERENCE[tf_kind][str(STEPS)]["0"]
    assert result["global_step"] == STEPS
    assert result["accuracy"] >= tf_accuracy - 0.1  # within 3 of the 30 test rows
    out = capsys.readouterr().out
    assert f"Test set accuracy: {result['accuracy']:0.3f}" in out
    assert 'Prediction is "Sentosa"' in out and 'expected "Setosa"' in out
    assert 'Prediction is "Virginica"' in out


def test_premade_sample_resumes_in_its_model_dir(tmp_path):
    premade_estimator.main(["prog", "--train_steps", "20", "--model_dir", str(tmp_path)])
    result = premade_estimator.main(["prog", "--train_steps", "20", "--model_dir",
                                     str(tmp_path)])
    assert result["global_step"] == 40
