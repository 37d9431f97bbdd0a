"""examples/dogs_vs_cats.py end to end on a tiny generated JPEG tree."""

import json
import logging
import math
import os

import pytest

from example_loader import load_example, synthetic

dogs_vs_cats = load_example("dogs_vs_cats")


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_trains_evaluates_writes_metrics_and_resumes(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    root = synthetic.make_dogscats(str(tmp_path / "dogscats"), counts={"train": 24, "valid": 8})
    model_dir, metrics = str(tmp_path / "model"), str(tmp_path / "out" / "metrics.json")
    argv = ["--data-dir", root, "--model-dir", model_dir, "--batch-size", "16",
            "--metrics-json", metrics]

    first = dogs_vs_cats.main(argv + ["--train-steps", "3"])
    written = _read(metrics)
    assert written["global_step"] == 3 == first["global_step"]
    assert 0.0 <= written["accuracy"] <= 1.0
    assert math.isfinite(written["loss"]) and written["loss"] > 0
    assert "training from scratch" in caplog.text

    caplog.clear()
    dogs_vs_cats.main(argv + ["--train-steps", "2"])
    assert _read(metrics)["global_step"] == 5
    assert "Continuing from checkpoint" in caplog.text


def test_num_epochs_bounds_training_when_no_steps_are_given(tmp_path):
    root = synthetic.make_dogscats(str(tmp_path / "dogscats"), counts={"train": 16, "valid": 4})
    results = dogs_vs_cats.main(["--data-dir", root, "--model-dir", str(tmp_path / "m"),
                                 "--batch-size", "8", "--num-epochs", "2", "--image-size", "20"])
    assert results["global_step"] == 8  # 32 images x 2 epochs / batch 8


def test_without_data_dir_generates_the_synthetic_set_once(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    monkeypatch.chdir(tmp_path)
    dogs_vs_cats.main(["--train-steps", "1", "--batch-size", "8", "--model-dir", "m"])
    folder = tmp_path / ".synthetic_data" / "dogscats"
    assert "synthetic dogs-vs-cats set" in caplog.text and str(folder) in caplog.text
    counts = {split: {label: len(os.listdir(folder / split / label)) for label in ("dogs", "cats")}
              for split in ("train", "valid")}
    assert counts == {"train": {"dogs": 400, "cats": 400}, "valid": {"dogs": 100, "cats": 100}}
    before = os.path.getmtime(folder / "train" / "dogs" / "dog.0.jpg")
    synthetic_again = synthetic.make_dogscats(str(folder))
    assert synthetic_again == str(folder)
    assert os.path.getmtime(folder / "train" / "dogs" / "dog.0.jpg") == before


def test_data_dir_without_the_layout_fails_before_training(tmp_path):
    (tmp_path / "photos" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"train/dogs, train/cats, valid/dogs"):
        dogs_vs_cats.main(["--data-dir", str(tmp_path / "photos"), "--model-dir",
                           str(tmp_path / "m"), "--train-steps", "1"])
    assert not (tmp_path / "m" / "checkpoint").exists()


def _scalar_steps(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return [event.step for event in acc.Scalars(tag)]


def test_run_config_flags_give_curves_checkpoints_and_reproducible_runs(tmp_path):
    root = synthetic.make_dogscats(str(tmp_path / "dogscats"), counts={"train": 16, "valid": 4})
    argv = ["--data-dir", root, "--batch-size", "4", "--train-steps", "12", "--image-size", "16",
            "--save-summary-steps", "3", "--save-checkpoints-steps", "5", "--seed", "7"]
    first = dogs_vs_cats.main(argv + ["--model-dir", str(tmp_path / "a")])
    second = dogs_vs_cats.main(argv + ["--model-dir", str(tmp_path / "b")])
    assert first == second  # --seed: the same losses and accuracy, bit for bit
    assert _scalar_steps(tmp_path / "a", "loss") == [1, 3, 6, 9, 12]
    checkpoints = sorted(int(name.split("-")[1].split(".")[0])
                         for name in os.listdir(tmp_path / "a") if name.endswith(".pt"))
    assert checkpoints == [5, 10, 12]


def test_default_flags_suit_a_short_demo_run():
    args = dogs_vs_cats.parse_args([])
    config = dogs_vs_cats._common.run_config(args)
    assert config.save_summary_steps == 5 and config.save_checkpoints_steps == 25
    assert config.log_step_count_steps == 25
    assert config.save_checkpoints_secs is None and config.tf_random_seed is None
    secs = dogs_vs_cats._common.run_config(dogs_vs_cats.parse_args(["--save-checkpoints-secs",
                                                                    "30"]))
    assert secs.save_checkpoints_secs == 30 and secs.save_checkpoints_steps is None
    off = dogs_vs_cats._common.run_config(dogs_vs_cats.parse_args(["--save-summary-steps", "0"]))
    assert off.save_summary_steps is None


def test_checkpoint_flags_are_mutually_exclusive(capsys):
    with pytest.raises(SystemExit):
        dogs_vs_cats.parse_args(["--save-checkpoints-steps", "5", "--save-checkpoints-secs", "5"])
    assert "not allowed with" in capsys.readouterr().err
