"""examples/dogs_vs_cats.py --export-dir: the export runs in a fresh process, without the
example's code, and predicts what Estimator.predict predicts."""

import glob
import os
import subprocess
import sys

import torch

import data
import estimator as est
from example_loader import load_example, synthetic

dogs_vs_cats = load_example("dogs_vs_cats")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SERVE = """
import sys, torch
import estimator as est
model = est.export.load(sys.argv[1])
images = torch.load(sys.argv[2], weights_only=True)
torch.save(model(images=images), sys.argv[3])
assert not any(m.startswith(("models", "example")) for m in sys.modules), "needed model code"
"""


def test_export_dir_writes_a_model_that_serves_the_same_predictions(tmp_path):
    root = synthetic.make_dogscats(str(tmp_path / "dogscats"), counts={"train": 16, "valid": 8})
    model_dir, export_dir = str(tmp_path / "model"), str(tmp_path / "export")
    dogs_vs_cats.main(["--data-dir", root, "--model-dir", model_dir, "--batch-size", "8",
                       "--train-steps", "3", "--image-size", "20", "--export-dir", export_dir])
    (path,) = glob.glob(os.path.join(export_dir, "[0-9]" * 10))

    eval_input_fn = dogs_vs_cats.get_input_fn(os.path.join(root, "valid", "**/*.jpg"),
                                              (20, 20), batch_size=5, num_epochs=1)
    images = torch.cat([x for x, _ in eval_input_fn()])
    assert images.shape == (16, 20, 20, 3)
    model = est.Estimator(dogs_vs_cats.model_fn, model_dir,
                          params={"num_classes": 2, "learning_rate": 1e-3})
    expected = list(model.predict(lambda: data.Dataset.from_tensor_slices(images).batch(7),
                                  yield_single_examples=False))
    expected = {k: torch.cat([batch[k] for batch in expected]) for k in expected[0]}

    torch.save(images, tmp_path / "images.pt")
    env = dict(os.environ, PYTHONPATH=ROOT)  # the library only; the cwd has no project code
    subprocess.run([sys.executable, "-c", SERVE, path, str(tmp_path / "images.pt"),
                    str(tmp_path / "out.pt")], check=True, cwd=str(tmp_path), env=env,
                   timeout=300)
    served = torch.load(tmp_path / "out.pt", weights_only=True)
    assert set(served) == {"classes", "probabilities"}
    assert torch.equal(served["classes"], expected["classes"])
    torch.testing.assert_close(served["probabilities"], expected["probabilities"],
                               rtol=1e-5, atol=1e-6)
