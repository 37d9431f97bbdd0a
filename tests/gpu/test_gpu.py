"""The CUDA path, end to end: sync-free steps, AMP convergence, exact resume, compile + AMP.

Every test here needs a CUDA device and is skipped without one.
"""

import os

import pytest
import torch
import torch.nn.functional as F

import data
import estimator as est
from models import dogs_vs_cats

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

QUIET = dict(device="cuda", log_step_count_steps=None, save_summary_steps=None,
             save_checkpoints_steps=10_000, tf_random_seed=0)


def images_input_fn(n=512, batch=32, size=28, seed=0, epochs=1):
    """A learnable task: the class is whether the top half is brighter than the bottom half.
    uint8 images, as a JPEG pipeline ships them (converted on the device in model_fn)."""
    def input_fn():
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(n, size, size, 3, generator=g) * 0.5
        y = torch.randint(0, 2, (n,), generator=g)
        half = size // 2
        x[y == 1, :half] += 0.5
        x[y == 0, half:] += 0.5
        x = data.image.convert_image_dtype(x, torch.uint8)
        ds = data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=seed).repeat(epochs)
        return ds.batch(batch, drop_remainder=True).prefetch(2)
    return input_fn


def seed_cnn_fn(features, labels, mode, params):
    features = data.image.convert_image_dtype(features, torch.float32)  # uint8 -> float on GPU
    fn = dogs_vs_cats.module_model_fn if params.get("module") else dogs_vs_cats.model_fn
    return fn(features, labels, mode, {"learning_rate": 1e-3})


def make(model_dir, **config):
    module = config.pop("module", False)
    return est.Estimator(seed_cnn_fn, str(model_dir), params={"module": module},
                         config=est.RunConfig(**{**QUIET, **config}))


def variables(model):
    return {n: model.get_variable_value(n) for n in model.get_variable_names()}


class SyncFree(est.SessionRunHook):
    """Turns CUDA's sync debug mode to "error" after the first step (which builds the model
    and its optimizer) until the loop ends (before the final checkpoint and results)."""

    def __init__(self):
        self.steps = 0

    def after_run(self, run_context, run_values):
        self.steps += 1
        if self.steps == 1:
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")

    def end(self, session):
        torch.cuda.set_sync_debug_mode("default")


@pytest.fixture(autouse=True)
def sync_debug_off():
    yield
    torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("policy", [None, "bf16"])
def test_train_and_evaluate_steps_make_no_host_sync(tmp_path, policy):
    model = make(tmp_path, mixed_precision=policy)
    hook = SyncFree()
    model.train(images_input_fn(n=320), hooks=[hook])
    assert hook.steps == 10
    eval_hook = SyncFree()
    results = model.evaluate(images_input_fn(n=320, seed=1), hooks=[eval_hook])
    assert eval_hook.steps == 10 and results["global_step"] == 10


def test_tensor_learning_rate_on_the_gpu_makes_no_host_sync(tmp_path):
    lr = torch.tensor(1e-3, device="cuda")

    def model_fn(features, labels, mode):
        x = data.image.convert_image_dtype(features, torch.float32)
        logits = est.layers.dense(est.layers.flatten(x), units=2)
        loss = F.cross_entropy(logits, labels)
        rate = lr * 0.99 ** est.train.get_global_step()
        op = est.train.AdamOptimizer(rate).minimize(loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    model = est.Estimator(model_fn, str(tmp_path), config=est.RunConfig(**QUIET))
    hook = SyncFree()
    model.train(images_input_fn(n=320), hooks=[hook])
    assert hook.steps == 10


@pytest.mark.parametrize("policy", [None, "bf16", "fp16"])
def test_seed_cnn_converges_in_each_precision(tmp_path, policy):
    model = make(tmp_path, mixed_precision=policy)
    model.train(images_input_fn(n=1024, epochs=2))
    results = model.evaluate(images_input_fn(n=512, seed=1))
    assert results["accuracy"] > 0.9, results
    assert results["global_step"] == 64


@pytest.mark.parametrize("policy", ["bf16", "fp16"])
def test_resume_on_the_gpu_is_exact(tmp_path, policy):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        straight = make(tmp_path / "a", mixed_precision=policy)
        straight.train(images_input_fn(n=320))
        split = make(tmp_path / "b", mixed_precision=policy)
        split.train(images_input_fn(n=320), max_steps=4)
        split.train(images_input_fn(n=320))
    finally:
        torch.backends.cudnn.deterministic = False
    a, b = variables(straight), variables(split)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_compile_with_amp_trains_and_keeps_checkpoint_names(tmp_path):
    eager = make(tmp_path / "eager", module=True, mixed_precision="bf16")
    eager.train(images_input_fn(n=256))
    compiled = make(tmp_path / "compiled", module=True, mixed_precision="bf16", compile=True)
    compiled.train(images_input_fn(n=256))
    assert compiled.get_variable_names() == eager.get_variable_names()
    results = compiled.evaluate(images_input_fn(n=256, seed=1))
    assert results["loss"] < 0.69  # below chance after 8 steps of Adam


def test_prefetch_to_device_delivers_cuda_tensors_equal_to_the_cpu_ones():
    ds = data.Dataset.range(10).map(lambda i: torch.full((3, 4), i, dtype=torch.uint8)).batch(4)
    on_gpu = list(ds.apply(data.experimental.prefetch_to_device("/gpu:0", 2)))
    assert all(b.device.type == "cuda" and b.dtype == torch.uint8 for b in on_gpu)
    assert [b.cpu().tolist() for b in on_gpu] == [b.tolist() for b in ds]


def test_the_estimator_feeds_a_cuda_model_from_a_background_thread(tmp_path):
    seen = []

    def model_fn(features, labels, mode):
        seen.append(features.device.type)
        x = data.image.convert_image_dtype(features, torch.float32)
        logits = est.layers.dense(est.layers.flatten(x), units=2)
        loss = F.cross_entropy(logits, labels)
        op = est.train.GradientDescentOptimizer(0.1).minimize(
            loss, global_step=est.train.get_global_step())
        return est.EstimatorSpec(mode, loss=loss, train_op=op)

    est.Estimator(model_fn, str(tmp_path), config=est.RunConfig(**QUIET)).train(
        images_input_fn(n=64))
    assert seen == ["cuda"] * 2


def test_channels_last_stores_conv_kernels_channels_last_on_cuda(tmp_path):
    model = make(tmp_path, channels_last=True)
    model.train(images_input_fn(n=64))
    kernel = model.get_variable_value("conv2d/kernel")
    assert kernel.is_contiguous(memory_format=torch.channels_last)
