"""examples/mnist_softmax.py and examples/mnist_cnn.py on small generated IDX files."""

import json
import logging
import math
import subprocess
import sys

import pytest

from example_loader import EXAMPLES, load_example, synthetic
from data import mnist

mnist_softmax = load_example("mnist_softmax")
mnist_cnn = load_example("mnist_cnn")


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    images, labels = synthetic.digits(500, seed=0)
    mnist.write_split(folder, "train", images[:400], labels[:400], gzipped=True)
    mnist.write_split(folder, "test", images[400:], labels[400:])
    return str(folder)


def test_softmax_learns_digits_and_writes_metrics(tmp_path, mnist_dir):
    metrics = tmp_path / "metrics.json"
    results = mnist_softmax.main(["--data-dir", mnist_dir, "--model-dir", str(tmp_path / "m"),
                                  "--train-steps", "60", "--batch-size", "50",
                                  "--metrics-json", str(metrics)])
    written = json.loads(metrics.read_text())
    assert written == pytest.approx(results)
    assert written["global_step"] == 60
    assert written["accuracy"] > 0.5  # chance is 0.1
    assert math.isfinite(written["loss"]) and written["loss"] < 2.0  # ln 10 = 2.3 at the start


def test_cnn_runs_and_resumes_from_its_checkpoint(tmp_path, mnist_dir, caplog):
    caplog.set_level(logging.INFO)
    argv = ["--data-dir", mnist_dir, "--model-dir", str(tmp_path / "m"), "--batch-size", "20"]
    first = mnist_cnn.main(argv + ["--train-steps", "2"])
    assert first["global_step"] == 2
    assert 0.0 <= first["accuracy"] <= 1.0 and math.isfinite(first["loss"])
    caplog.clear()
    second = mnist_cnn.main(argv + ["--train-steps", "1"])
    assert second["global_step"] == 3
    assert "Continuing from checkpoint" in caplog.text


@pytest.mark.parametrize("program", ["mnist_cnn.py", "mnist_softmax.py"])
def test_missing_files_exit_with_the_expected_names_and_directory(tmp_path, program):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, str(EXAMPLES / program), "--data-dir", str(empty),
                          "--model-dir", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in run.stderr
    assert str(empty) in run.stderr
    assert not (tmp_path / "m").exists()  # nothing was trained
