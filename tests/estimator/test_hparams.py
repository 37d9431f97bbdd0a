"""params and RunConfig reach TensorBoard's HParams tab, read back as the plugin reads them."""

import glob

import torch
import torch.nn.functional as F
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata

import data
import estimator as est


def _model_fn(features, labels, mode, params):
    logits = est.layers.dense(features, 2)
    loss = F.cross_entropy(logits, labels)
    optimizer = est.train.GradientDescentOptimizer(params["learning_rate"])
    return est.EstimatorSpec(mode, loss=loss,
                             train_op=optimizer.minimize(loss, est.train.get_global_step()))


def _input_fn():
    x = torch.arange(16.0).reshape(8, 2)
    return data.Dataset.from_tensor_slices((x, (x[:, 0] > 7).long())).batch(4)


def _session_starts(model_dir):
    starts = []
    for path in glob.glob(f"{model_dir}/events.out.tfevents.*"):
        for event in EventFileLoader(path).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                    content = value.metadata.plugin_data.content
                    if value.tag == metadata.SESSION_START_INFO_TAG:
                        starts.append(metadata.parse_session_start_info_plugin_data(content))
    return starts


def _value(hparam):
    kind = hparam.WhichOneof("kind")
    return getattr(hparam, kind)


def test_params_and_run_config_are_written_as_hparams(tmp_path):
    config = est.RunConfig(tf_random_seed=5, save_summary_steps=1)
    params = {"learning_rate": 0.25, "hidden": [8, 4], "optimizer": {"name": "sgd"}}
    est.Estimator(_model_fn, str(tmp_path), config=config, params=params).train(_input_fn)
    (start,) = _session_starts(tmp_path)
    values = {name: _value(v) for name, v in start.hparams.items()}
    assert values["learning_rate"] == 0.25
    assert values["hidden"] == "[8, 4]"
    assert values["optimizer/name"] == "sgd"
    assert values["config/tf_random_seed"] == 5 and values["config/save_summary_steps"] == 1
    assert values["config/keep_checkpoint_max"] == 5
    assert "config/model_dir" not in values
    assert start.group_name == tmp_path.name  # the trial: this model_dir


def test_each_train_call_starts_a_session(tmp_path):
    model = est.Estimator(_model_fn, str(tmp_path), params={"learning_rate": 0.1})
    model.train(_input_fn)
    model.train(_input_fn)
    assert len(_session_starts(tmp_path)) == 2
