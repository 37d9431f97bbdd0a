"""The ported TF 1.x programs of examples/ported run, unchanged, on small generated data."""

import logging
import re
import runpy
import tempfile

import pytest

from example_loader import EXAMPLES, synthetic
from data import mnist

PORTED = EXAMPLES / "ported"


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    images, labels = synthetic.digits(400, seed=1)
    mnist.write_split(folder, "train", images[:300], labels[:300])
    mnist.write_split(folder, "test", images[300:], labels[300:])  # one evaluation batch
    return str(folder)


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """Programs that build Estimator(model_fn) without model_dir get a folder in tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_cnn_mnist_tutorial_trains_logs_softmax_tensor_and_evaluates(
        mnist_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MNIST_DATA_DIR", mnist_dir)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("TRAIN_STEPS", "3")  # the full CNN is slow on a CPU
    program = runpy.run_path(str(PORTED / "cnn_mnist.py"), run_name="ported")
    with caplog.at_level(logging.INFO, logger="estimator"):
        results = program["main"](["cnn_mnist.py"])
    assert results["global_step"] == 3
    assert 0.0 <= results["accuracy"] <= 1.0 and 0 < results["loss"] < 5
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("probabilities")]
    assert len(logged) == 1  # LoggingTensorHook(every_n_iter=50) found "softmax_tensor" at step 1
    assert logged[0].count("[") == 101  # 100 examples of 10 probabilities


def test_convolutional_network_shares_weights_between_its_two_graphs(mnist_dir, own_tmp,
                                                                     monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", mnist_dir)
    monkeypatch.setenv("NUM_STEPS", "3")  # the full CNN is slow on a CPU
    program = runpy.run_path(str(PORTED / "convolutional_network.py"), run_name="ported")
    model, accuracy = program["model"], program["e"]["accuracy"]
    names = model.get_variable_names()
    assert [n for n in names if n != "global_step"] == [
        "ConvNet/conv2d/bias", "ConvNet/conv2d/kernel", "ConvNet/conv2d_1/bias",
        "ConvNet/conv2d_1/kernel", "ConvNet/dense/bias", "ConvNet/dense/kernel",
        "ConvNet/dense_1/bias", "ConvNet/dense_1/kernel"]  # one set, used by both graphs
    assert program["e"]["global_step"] == 3 and 0.0 <= accuracy <= 1.0


def test_get_started_custom_model_fits_the_line_as_in_tf(own_tmp, capsys):
    program = runpy.run_path(str(PORTED / "get_started_custom_model.py"), run_name="ported")
    # TF's guide prints: train loss 1.227995e-11, eval loss 0.01010036, global_step 1000
    assert program["train_metrics"]["global_step"] == 1000
    assert program["train_metrics"]["loss"] < 1e-9
    assert program["eval_metrics"]["loss"] == pytest.approx(0.0101, abs=2e-4)
    assert "eval metrics:" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["cnn_mnist.py", "convolutional_network.py",
                                  "get_started_custom_model.py"])
def test_ported_programs_name_origin_licence_and_mark_changed_lines(name):
    text = (PORTED / name).read_text()
    header = text[:1200]
    assert "Ported from" in header and "Licen" in header
    assert re.search(r"tensorflow/|aymericdamien/", header)
    assert "import tensorflow" not in text.replace("# PORT: import tensorflow", "")
    for line in text.splitlines():
        if "tf." in line and not line.lstrip().startswith(("#", "\"\"\"")):
            assert "# PORT:" in line, f"unmarked TF line in {name}: {line!r}"
