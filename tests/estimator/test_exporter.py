"""LatestExporter, BestExporter and FinalExporter, alone and in train_and_evaluate."""

import os

import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

import estimator as est
import train_eval_fixtures as fx

RECEIVER = est.export.build_raw_serving_input_receiver_fn({"x": torch.zeros(1, 4)})


def _exports(directory):
    return sorted(n for n in os.listdir(directory) if len(n) == 10 and n.isdigit())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = fx.estimator(tmp_path_factory.mktemp("trained"))
    model.train(fx.train_input_fn(), max_steps=4)
    return model


def test_latest_exporter_keeps_the_newest_exports(trained, tmp_path):
    exporter = est.LatestExporter("latest", RECEIVER, exports_to_keep=2)
    paths = [exporter.export(trained, str(tmp_path), None, {"loss": 1.0}, False)
             for _ in range(3)]
    assert _exports(tmp_path) == [os.path.basename(p) for p in paths[1:]]
    assert est.export.load(paths[-1])(x=fx.XE[:2])["classes"].shape == (2,)


def test_exports_to_keep_none_keeps_everything(trained, tmp_path):
    exporter = est.LatestExporter("latest", RECEIVER, exports_to_keep=None)
    for _ in range(3):
        exporter.export(trained, str(tmp_path), None, {"loss": 1.0}, False)
    assert len(_exports(tmp_path)) == 3


@pytest.mark.parametrize("make", [
    lambda: est.LatestExporter("x", RECEIVER, exports_to_keep=0),
    lambda: est.BestExporter(serving_input_receiver_fn=RECEIVER, exports_to_keep=-1),
])
def test_exports_to_keep_must_be_positive(make):
    with pytest.raises(ValueError, match="exports_to_keep"):
        make()


def test_best_exporter_exports_only_on_improvement(trained, tmp_path):
    exporter = est.BestExporter(serving_input_receiver_fn=RECEIVER, event_file_pattern=None,
                                exports_to_keep=None)
    results = [exporter.export(trained, str(tmp_path), None, {"loss": loss}, False)
               for loss in (0.5, 0.7, 0.4, 0.4, 0.45, 0.1)]
    assert [r is not None for r in results] == [True, False, True, False, False, True]
    assert len(_exports(tmp_path)) == 3


def test_best_exporter_starts_from_the_eval_event_files(trained, tmp_path):
    model = est.Estimator(fx.model_fn, trained.model_dir, config=trained.config)
    writer = SummaryWriter(model.eval_dir())
    writer.add_scalar("loss", 0.3, 4)  # an earlier run's best evaluation
    writer.close()
    exporter = est.BestExporter(serving_input_receiver_fn=RECEIVER, exports_to_keep=None)
    export = lambda loss: exporter.export(model, str(tmp_path), None, {"loss": loss}, False)
    assert export(0.5) is not None  # TF: the first call always exports
    assert export(0.4) is not None  # better than the 0.5 just exported
    exporter = est.BestExporter(serving_input_receiver_fn=RECEIVER, exports_to_keep=None)
    exporter._has_exported = True  # as after a first export in this process
    assert exporter.export(model, str(tmp_path), None, {"loss": 0.35}, False) is None
    assert exporter.export(model, str(tmp_path), None, {"loss": 0.25}, False) is not None


def test_best_exporter_compare_fn(trained, tmp_path):
    def higher_accuracy(best_eval_result, current_eval_result):
        return current_eval_result["accuracy"] > best_eval_result["accuracy"]

    exporter = est.BestExporter(serving_input_receiver_fn=RECEIVER, compare_fn=higher_accuracy,
                                event_file_pattern=None)
    results = [exporter.export(trained, str(tmp_path), None, {"accuracy": a}, False)
               for a in (0.5, 0.6, 0.55)]
    assert [r is not None for r in results] == [True, True, False]


def test_best_exporter_prunes_to_exports_to_keep(trained, tmp_path):
    exporter = est.BestExporter(serving_input_receiver_fn=RECEIVER, event_file_pattern=None,
                                exports_to_keep=2)
    paths = [exporter.export(trained, str(tmp_path), None, {"loss": loss}, False)
             for loss in (0.5, 0.4, 0.3)]
    assert _exports(tmp_path) == [os.path.basename(p) for p in paths[1:]]


@pytest.mark.parametrize("compare_fn, match", [
    (lambda best_eval_result: True, "must include current_eval_result"),
    (lambda best_eval_result, current_eval_result, other: True, "not expected args"),
    (None, "must not be None"),
])
def test_best_exporter_checks_compare_fn(compare_fn, match):
    with pytest.raises(ValueError, match=match):
        est.BestExporter(serving_input_receiver_fn=RECEIVER, compare_fn=compare_fn)


def test_default_compare_fn_needs_loss(trained, tmp_path):
    exporter = est.BestExporter(serving_input_receiver_fn=RECEIVER, event_file_pattern=None)
    exporter.export(trained, str(tmp_path), None, {"loss": 0.5}, False)
    with pytest.raises(ValueError, match="no loss is found"):
        exporter.export(trained, str(tmp_path), None, {"accuracy": 0.5}, False)


def test_final_exporter_exports_only_the_final_evaluation(trained, tmp_path):
    exporter = est.FinalExporter("final", RECEIVER)
    assert exporter.export(trained, str(tmp_path), None, {"loss": 1.0}, False) is None
    assert not os.path.exists(tmp_path) or _exports(tmp_path) == []
    path = exporter.export(trained, str(tmp_path), None, {"loss": 1.0}, True)
    assert _exports(tmp_path) == [os.path.basename(path)]


def test_exporters_in_train_and_evaluate(tmp_path):
    model = fx.estimator(tmp_path)
    exporters = [est.LatestExporter("latest", RECEIVER, exports_to_keep=2),
                 est.FinalExporter("final", RECEIVER),
                 est.BestExporter(serving_input_receiver_fn=RECEIVER)]
    metrics, results = est.train_and_evaluate(
        model, est.TrainSpec(fx.train_input_fn(), max_steps=30),
        est.EvalSpec(fx.eval_input_fn(), steps=None, throttle_secs=0, exporters=exporters))
    base = os.path.join(model.model_dir, "export")
    assert len(_exports(os.path.join(base, "latest"))) == 2
    assert len(_exports(os.path.join(base, "final"))) == 1
    latest, final, _ = results  # the last evaluation's export results, one per exporter
    assert latest.startswith(os.path.join(base, "latest")) and final.startswith(
        os.path.join(base, "final"))
    assert est.export.load(final).global_step == 30 == metrics["global_step"]
