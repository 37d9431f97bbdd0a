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


def _graph_events(model_dir):
    """A log dir's events after the file version (graph, run metadata), without wall times."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    events = []
    for path in sorted(glob.glob(f"{model_dir}/events.out.tfevents.*")):
        for event in EventFileLoader(path).Load():
            if event.WhichOneof("what") != "file_version":
                event.ClearField("wall_time")
                events.append(event.SerializeToString())
    return events


def test_the_graph_is_what_summary_writer_add_graph_writes(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from estimator._graph import _add_graph
    from models.dogs_vs_cats import SeedCNN

    torch.manual_seed(0)
    net, images = SeedCNN(image_size=12), torch.rand(4, 12, 12, 3)
    with torch.no_grad():
        with SummaryWriter(str(tmp_path / "ours")) as writer:
            _add_graph(writer, net, (images,))
        with SummaryWriter(str(tmp_path / "add_graph")) as writer:
            writer.add_graph(net, (images,))
    ours = _graph_events(tmp_path / "ours")
    assert len(ours) == 3  # the graph; the run metadata, read back as two summaries
    assert ours == _graph_events(tmp_path / "add_graph")


def test_the_graph_traces_model_fn_once(tmp_path):
    modes = []

    def counting(features, labels, mode):
        modes.append(mode)
        return _model_fn(features, labels, mode)

    est.Estimator(counting, str(tmp_path)).train(_input_fn, steps=1)
    assert modes == [est.ModeKeys.TRAIN, est.ModeKeys.PREDICT]
    assert _graph_nodes(tmp_path) is not None
