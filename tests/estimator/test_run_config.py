import dataclasses

import pytest
import torch

from estimator import RunConfig


def test_defaults_match_tf():
    c = RunConfig()
    assert (c.model_dir, c.tf_random_seed, c.save_summary_steps, c.save_checkpoints_steps,
            c.save_checkpoints_secs, c.keep_checkpoint_max, c.log_step_count_steps) == \
        (None, None, 100, None, 600, 5, 100)


def test_checkpoint_steps_turn_off_the_secs_default():
    c = RunConfig(save_checkpoints_steps=50)
    assert (c.save_checkpoints_steps, c.save_checkpoints_secs) == (50, None)


def test_giving_both_checkpoint_settings_raises():
    with pytest.raises(ValueError, match="not both"):
        RunConfig(save_checkpoints_steps=50, save_checkpoints_secs=60)


def test_explicit_secs_keep_steps_off():
    c = RunConfig(save_checkpoints_secs=30)
    assert (c.save_checkpoints_steps, c.save_checkpoints_secs) == (None, 30)


def test_replace_with_steps_clears_default_secs_and_keeps_other_fields():
    c = RunConfig(tf_random_seed=3).replace(save_checkpoints_steps=10)
    assert (c.save_checkpoints_steps, c.save_checkpoints_secs, c.tf_random_seed) == (10, None, 3)
    back = c.replace(save_checkpoints_secs=20)
    assert (back.save_checkpoints_steps, back.save_checkpoints_secs) == (None, 20)


def test_device_none_picks_cuda_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert RunConfig().device.type == expected
    assert RunConfig(device="cpu").device == torch.device("cpu")


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunConfig().save_summary_steps = 5


@pytest.mark.parametrize("field", ["save_summary_steps", "log_step_count_steps",
                                   "save_checkpoints_steps", "save_checkpoints_secs"])
def test_negative_intervals_raise_naming_the_field(field):
    with pytest.raises(ValueError, match=field):
        RunConfig(**{field: -1})


def test_log_step_count_steps_zero_raises_as_in_tf():
    with pytest.raises(ValueError, match="log_step_count_steps"):
        RunConfig(log_step_count_steps=0)
