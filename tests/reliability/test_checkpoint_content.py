"""Corrupt, hostile or poisoned checkpoints: detected, named, and never the latest."""

from __future__ import annotations

import hashlib
import logging
import os

import pytest
import torch

import estimator as est
import rel_program as prog
from estimator import checkpoint as ckpt


def _rewrite(path, payload):
    """Replace a checkpoint as a hand edit would, with a matching checksum sidecar (so only the
    content check can object)."""
    torch.save(payload, path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(path + ".sha256", "w") as f:
        f.write(f"{digest}  {os.path.basename(path)}\n")


@pytest.fixture
def two_checkpoints(tmp_path):
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=8)
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".pt")) == \
        ["model.ckpt-4.pt", "model.ckpt-8.pt"]
    return tmp_path


def _tensor_offset(path, tensor):
    """Where ``tensor``'s bytes sit inside the saved zip (stored uncompressed)."""
    raw = open(path, "rb").read()
    offset = raw.find(tensor.numpy().tobytes())
    assert offset > 0
    return offset


def test_bit_flip_inside_a_tensor_is_detected_and_the_previous_checkpoint_used(two_checkpoints):
    path = str(two_checkpoints / "model.ckpt-8.pt")
    kernel = ckpt.load(path)["model"]["dense.kernel"]
    offset = _tensor_offset(path, kernel) + 5
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x10]))
    with pytest.raises(ckpt.CorruptCheckpointError, match=r"model\.ckpt-8\.pt.*sha256"):
        ckpt.load(path)
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-8\.pt.*sha256") as record:
        payload = ckpt.load(two_checkpoints)
    assert "model.ckpt-4.pt" in str(record[0].message)
    assert payload["global_step"] == 4


def test_truncated_latest_falls_back_and_training_resumes_from_it(two_checkpoints):
    path = two_checkpoints / "model.ckpt-8.pt"
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 3)
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-8\.pt"):
        prog.make_estimator(two_checkpoints).train(prog.input_fn, steps=1)
    assert ckpt.latest_checkpoint(two_checkpoints).endswith("model.ckpt-5.pt")


def test_nan_loss_is_never_checkpointed_and_names_the_first_bad_step(tmp_path):
    # The case: NaN from step 2, a save only at the end (step 7), logs every 100.
    model = prog.make_estimator(tmp_path, {"nan_from": 2}, save_checkpoints_steps=None,
                                save_checkpoints_secs=None)
    with pytest.raises(est.NanLossDuringTrainingError, match=r"at global step 2 \(found at "
                                                             r"step 7, before saving"):
        model.train(prog.input_fn, max_steps=7)
    assert ckpt.latest_checkpoint(tmp_path) is None


def test_nan_loss_keeps_the_last_good_checkpoint_latest(tmp_path):
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=4)
    model = prog.make_estimator(tmp_path, {"nan_from": 6})
    with pytest.raises(est.NanLossDuringTrainingError, match="at global step 6"):
        model.train(prog.input_fn, max_steps=12)  # the next save, at step 8, is refused
    assert ckpt.latest_checkpoint(tmp_path).endswith("model.ckpt-4.pt")
    assert all(torch.isfinite(v).all() for v in ckpt.load(tmp_path)["model"].values())


def test_non_finite_parameters_are_not_checkpointed(tmp_path):
    # An infinite learning rate: every loss is finite when computed, the parameters are not.
    model = prog.make_estimator(tmp_path, {"lr": float("inf")}, save_checkpoints_steps=1)
    with pytest.raises(est.NanLossDuringTrainingError,
                       match=r"refusing to save a checkpoint at global step 1: parameter\(s\) "
                             r"dense\.kernel"):
        model.train(prog.input_fn, max_steps=3)
    assert ckpt.latest_checkpoint(tmp_path) is None


def test_the_loop_does_not_sync_the_loss_on_ordinary_steps(tmp_path, monkeypatch):
    # Only logging and saving steps may read the device: count reads of the loss flag.
    reads = []
    real = est.hooks.FirstNonFinite.first_bad_step
    monkeypatch.setattr(est.hooks.FirstNonFinite, "first_bad_step",
                        lambda self: reads.append(1) or real(self))
    prog.make_estimator(tmp_path, log_step_count_steps=5, save_checkpoints_steps=6).train(
        prog.input_fn, max_steps=12)
    assert len(reads) == 5  # logs at steps 1, 5, 10; saves at 6 and 12


@pytest.mark.parametrize("key, value, expected", [
    ("global_step", -7, r"'global_step' must be an int >= 0, got int -7"),
    ("global_step", "ten", r"'global_step' must be an int >= 0, got str 'ten'"),
    ("model", ["not", "a", "tensor"], r"'model' must be a state_dict mapping, got list"),
    ("model.kernel", [1.0, 2.0], r"'model'\['dense\.kernel'\] must be a tensor, got list"),
    ("rng.torch", "seed", r"'rng'\['torch'\] must be a torch\.uint8 tensor, got str"),
    ("optimizers", {"adam": 3}, r"'optimizers'\['\w+'\] must be an optimizer state_dict"),
])
def test_bad_values_in_a_checkpoint_name_the_file_and_key(tmp_path, key, value, expected):
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=4)
    path = str(tmp_path / "model.ckpt-4.pt")
    payload = torch.load(path, weights_only=True)
    if key == "model.kernel":
        payload["model"]["dense.kernel"] = value
    elif key == "rng.torch":
        payload["rng"]["torch"] = value
    elif key == "optimizers":
        payload["optimizers"] = {next(iter(payload["optimizers"])): 3}
    else:
        payload[key] = value
    _rewrite(path, payload)
    with pytest.raises(ckpt.CheckpointFormatError, match=r"model\.ckpt-4\.pt: key " + expected):
        prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=8)


def test_crafted_input_position_neither_hangs_nor_is_silently_used(tmp_path, caplog):
    prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=4)
    path = str(tmp_path / "model.ckpt-4.pt")
    payload = torch.load(path, weights_only=True)
    state = payload["input_state"]
    while state.get("op") != "map":  # prefetch -> batch -> map
        state = state["upstream"]
    state["position"] += 10 ** 9
    _rewrite(path, payload)
    with caplog.at_level(logging.WARNING, logger="estimator"):
        prog.make_estimator(tmp_path).train(prog.input_fn, max_steps=5)
    assert "map: saved state field 'position' is 1000000" in caplog.text
    assert "starts afresh" in caplog.text
    assert ckpt.latest_checkpoint(tmp_path).endswith("model.ckpt-5.pt")
