"""``python -m estimator inspect``: checkpoints, variables and input position, from a shell."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model_fn(features, labels, mode):
    logits = est.layers.dense(features, 3)
    loss = F.cross_entropy(logits, labels)
    optimizer = est.train.AdamOptimizer(0.1)
    return est.EstimatorSpec(mode, loss=loss,
                             train_op=optimizer.minimize(loss, est.train.get_global_step()))


def _input_fn():
    g = torch.Generator().manual_seed(0)
    features, labels = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    return data.Dataset.from_tensor_slices((features, labels)).shuffle(40, seed=1).repeat().batch(8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("inspect"))
    config = est.RunConfig(save_checkpoints_steps=4)
    est.Estimator(_model_fn, path, config=config).train(_input_fn, steps=6)
    return path


def _run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "estimator", "inspect", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_lists_checkpoints_variables_optimizer_and_input_state(model_dir):
    result = _run(model_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2 checkpoint(s)" in out
    assert "model.ckpt-4.pt  step 4" in out and "model.ckpt-6.pt  step 6" in out
    assert out.count("(latest)") == 1 and "step 6" in out.split("(latest)")[0].splitlines()[-1]
    assert "global_step: 6" in out
    assert "dense.kernel  float32[3, 4]" in out and "dense.bias    float32[3]" in out
    assert "variables: 2 (15 values)" in out
    assert "Adam: 1 param group(s)" in out and "lr=0.1" in out
    assert "op: 'shuffle'" in out and "op: 'batch'" in out


def test_a_given_checkpoint_and_one_tensor(model_dir):
    path = os.path.join(model_dir, "model.ckpt-4.pt")
    result = _run(path, "--tensor-name", "dense.bias")
    assert result.returncode == 0, result.stderr
    saved = est.checkpoint.load(path)["model"]["dense.bias"]
    assert "global_step: 4" in result.stdout
    assert all(f"{v:.4f}" in result.stdout for v in saved.tolist())


def test_unknown_tensor_lists_the_names(model_dir):
    result = _run(model_dir, "--tensor-name", "dense/kernel")
    assert result.returncode == 1
    assert "no variable 'dense/kernel'" in result.stderr and "dense.kernel" in result.stderr


def test_empty_model_dir_is_a_clear_error(tmp_path):
    result = _run(str(tmp_path))
    assert result.returncode == 1
    assert "no checkpoint in model_dir" in result.stderr and str(tmp_path) in result.stderr
