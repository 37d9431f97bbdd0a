"""TensorBoard's Graphs tab: the PREDICT step traced once, after a train() from scratch."""

import glob

import torch
import torch.nn.functional as F
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import data
import estimator as est
from models.dogs_vs_cats import define_model


def _model_fn(features, labels, mode):
    logits = define_model(features, 2)
    predictions = {"classes": logits.argmax(1), "probabilities": logits.softmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    train_op = est.train.AdamOptimizer(1e-3).minimize(loss, est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _input_fn():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(8, 12, 12, 3, generator=g)
    return data.Dataset.from_tensor_slices((images, torch.arange(8) % 2)).batch(4)


def _graph_nodes(model_dir):
    acc = EventAccumulator(str(model_dir))
    acc.Reload()
    if not acc.Tags()["graph"]:
        return None
    return [node.name for node in acc.Graph().node]


def test_first_train_writes_the_predict_graph_with_the_layers(tmp_path):
    est.Estimator(_model_fn, str(tmp_path)).train(_input_fn)
    nodes = _graph_nodes(tmp_path)
    assert nodes is not None
    text = " ".join(nodes)
    assert "conv2d" in text and "dense_1" in text  # the est.layers modules by their names


def test_resumed_train_does_not_write_another_graph(tmp_path):
    model = est.Estimator(_model_fn, str(tmp_path))
    model.train(_input_fn)
    model.train(_input_fn)
    graphs = 0
    for path in glob.glob(f"{tmp_path}/events.out.tfevents.*"):
        acc = EventAccumulator(path)
        acc.Reload()
        graphs += bool(acc.Tags()["graph"])
    assert graphs == 1


def test_an_untraceable_model_fn_trains_and_writes_no_graph(tmp_path, caplog):
    def no_predict_branch(features, labels, mode):
        loss = F.cross_entropy(est.layers.dense(features.flatten(1), 2), labels)
        return est.EstimatorSpec(mode, loss=loss, train_op=est.train.GradientDescentOptimizer(
            0.1).minimize(loss, est.train.get_global_step()))

    caplog.set_level("DEBUG", logger="estimator")
    model = est.Estimator(no_predict_branch, str(tmp_path))
    model.train(_input_fn)
    assert model.get_variable_value("dense/kernel").shape == (2, 432)
    assert _graph_nodes(tmp_path) is None
    assert "No model graph for TensorBoard" in caplog.text


def test_no_graph_when_summaries_are_off(tmp_path):
    config = est.RunConfig(save_summary_steps=None)
    est.Estimator(_model_fn, str(tmp_path), config=config).train(_input_fn)
    assert not glob.glob(f"{tmp_path}/events.out.tfevents.*") or _graph_nodes(tmp_path) is None
