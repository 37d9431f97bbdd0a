"""Estimator.export_saved_model, receivers, signatures, est.export.load and the serve module."""

import base64
import json
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import data
import estimator as est
import train_eval_fixtures as fx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAW = est.export.build_raw_serving_input_receiver_fn({"x": torch.zeros(1, 4)})


def _trained(model_dir, model_fn=fx.model_fn, params=None, steps=6):
    model = est.Estimator(model_fn, str(model_dir), config=fx.config(keep_checkpoint_max=0,
                                                                    save_checkpoints_steps=3),
                          params=params or {})
    model.train(fx.train_input_fn(), max_steps=steps)
    return model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return _trained(tmp_path_factory.mktemp("model"))


def _predict(model, features, **kwargs):
    batches = list(model.predict(lambda: data.Dataset.from_tensor_slices(features).batch(5),
                                 yield_single_examples=False, **kwargs))
    return {k: torch.cat([b[k] for b in batches]) for k in batches[0]}


# -- the folder --------------------------------------------------------------------------------
def test_export_writes_a_timestamped_folder_with_program_variables_and_description(model,
                                                                                    tmp_path):
    path = model.export_saved_model(str(tmp_path), RAW, as_text=True,
                                    assets_extra={"vocab/words.txt": __file__})
    name = os.path.basename(path)
    assert len(name) == 10 and name.isdigit() and os.path.dirname(path) == str(tmp_path)
    assert sorted(os.listdir(path)) == ["assets", "assets.extra", "model.pt2", "saved_model.json",
                                        "saved_model.txt", "variables"]
    assert os.path.isfile(os.path.join(path, "assets.extra", "vocab", "words.txt"))
    with open(os.path.join(path, "saved_model.json")) as f:
        description = json.load(f)
    assert description["global_step"] == 6 and description["kind"] == "exported_program"
    mode = description["modes"]["infer"]
    assert mode["inputs"] == {"x": {"dtype": "float32", "shape": [None, 4]}}
    sig = mode["signatures"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert {k: v["shape"] for k, v in sig["outputs"].items()} == {"classes": [None],
                                                                   "probabilities": [None, 2]}
    variables = torch.load(os.path.join(path, "variables", "variables.pt"), weights_only=True)
    assert torch.equal(variables["model"]["dense.kernel"], model.get_variable_value("dense/kernel"))
    assert not [n for n in os.listdir(tmp_path) if n.startswith("temp-")]


def test_two_exports_in_one_second_get_different_folders(model, tmp_path):
    first = model.export_saved_model(str(tmp_path), RAW)
    second = model.export_saved_model(str(tmp_path), RAW)
    assert first != second and int(os.path.basename(second)) > int(os.path.basename(first))


# -- what it computes --------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 3, 16])
def test_loaded_model_predicts_as_estimator_predict_for_any_batch_size(model, tmp_path, batch):
    loaded = est.export.load(model.export_saved_model(str(tmp_path), RAW))
    x = fx.XE[:batch]
    expected = _predict(model, {"x": x})
    got = loaded({"x": x})
    assert torch.equal(got["classes"], expected["classes"])
    torch.testing.assert_close(got["probabilities"], expected["probabilities"])
    assert loaded.global_step == 6 and loaded.default_signature == "serving_default"


@pytest.fixture(scope="module")
def loaded(model, tmp_path_factory):
    return est.export.load(model.export_saved_model(str(tmp_path_factory.mktemp("e")), RAW))


@settings(max_examples=8, deadline=None)
@given(rows=st.lists(st.lists(st.floats(-5, 5, width=32), min_size=4, max_size=4), min_size=1,
                     max_size=9))
def test_exported_predictions_equal_predict_for_any_input(model, loaded, rows):
    x = torch.tensor(rows, dtype=torch.float32)
    expected = _predict(model, {"x": x})
    got = loaded(x=x)
    torch.testing.assert_close(got["probabilities"], expected["probabilities"])
    assert torch.equal(got["classes"], expected["classes"])


def test_single_tensor_features_and_numpy_inputs(tmp_path):
    model = _trained(tmp_path / "m")
    receiver = est.export.build_raw_serving_input_receiver_fn(torch.zeros(2, 4))
    loaded = est.export.load(model.export_saved_model(str(tmp_path / "e"), receiver))
    assert sorted(loaded.signatures["serving_default"].inputs) == ["input"]
    got = loaded(input=fx.XE[:4].numpy())
    assert torch.equal(got["classes"], _predict(model, fx.XE[:4])["classes"])


def test_default_batch_size_fixes_the_batch(model, tmp_path):
    receiver = est.export.build_raw_serving_input_receiver_fn({"x": torch.zeros(1, 4)},
                                                              default_batch_size=3)
    loaded = est.export.load(model.export_saved_model(str(tmp_path), receiver))
    assert loaded(x=fx.XE[:3])["classes"].shape == (3,)
    with pytest.raises(ValueError, match=r"input 'x' must have shape \[3, 4\]"):
        loaded(x=fx.XE[:4])


def test_inputs_are_checked_by_name_and_shape(model, tmp_path):
    loaded = est.export.load(model.export_saved_model(str(tmp_path), RAW))
    with pytest.raises(ValueError, match=r"missing \['x'\], unexpected \['y'\]"):
        loaded(y=fx.XE)
    with pytest.raises(ValueError, match=r"must have shape \[None, 4\]"):
        loaded(x=torch.zeros(2, 5))


def test_features_as_a_function_of_the_receiver_tensors_are_traced(model, tmp_path):
    raw = torch.zeros(2, 8)

    def receiver_fn():  # serving takes 8 columns; the model reads the first 4, doubled
        return est.export.ServingInputReceiver(lambda t: {"x": t["wide"][:, :4] * 2},
                                               {"wide": raw})

    loaded = est.export.load(model.export_saved_model(str(tmp_path), receiver_fn))
    wide = torch.cat([fx.XE[:5], torch.randn(5, 4)], dim=1)
    expected = _predict(model, {"x": fx.XE[:5] * 2})
    torch.testing.assert_close(loaded(wide=wide)["probabilities"], expected["probabilities"])


def test_eagerly_computed_features_are_refused_with_the_fix(model, tmp_path):
    raw = torch.zeros(2, 4)

    def receiver_fn():
        return est.export.ServingInputReceiver({"x": raw * 2}, {"raw": raw})

    with pytest.raises(ValueError, match=r"features\['x'\] is not one of the receiver_tensors.*"
                                         r"function of the receiver_tensors"):
        model.export_saved_model(str(tmp_path), receiver_fn)
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_export_of_an_older_checkpoint(model, tmp_path):
    path = model.export_saved_model(
        str(tmp_path), RAW, checkpoint_path=os.path.join(model.model_dir, "model.ckpt-3.pt"))
    assert est.export.load(path).global_step == 3


def test_export_savedmodel_is_the_tf1_name_and_accepts_strip_default_attrs(model, tmp_path):
    path = model.export_savedmodel(str(tmp_path), RAW, strip_default_attrs=True)
    assert est.export.load(path)(x=fx.XE[:2])["classes"].shape == (2,)


def test_export_without_a_checkpoint_fails_clearly(tmp_path):
    model = est.Estimator(fx.model_fn, str(tmp_path / "empty"), config=fx.config())
    with pytest.raises(ValueError, match="Couldn't find trained model at .*empty"):  # TF's words
        model.export_saved_model(str(tmp_path / "e"), RAW)


def test_the_receiver_fn_must_return_a_receiver(model, tmp_path):
    with pytest.raises(TypeError, match="must return an est.export.ServingInputReceiver"):
        model.export_saved_model(str(tmp_path), lambda: {"x": torch.zeros(2, 4)})


# -- signatures --------------------------------------------------------------------------------
def _with_outputs(tmp_path, make_outputs):
    return _trained(tmp_path / "m", params={"export_outputs": make_outputs})


def test_export_outputs_become_signatures(tmp_path):
    model = _with_outputs(tmp_path, lambda p: {
        "serving_default": est.export.PredictOutput(p),
        "classify": est.export.ClassificationOutput(scores=p["probabilities"],
                                                    classes=p["classes"]),
        "regress": est.export.RegressionOutput(p["probabilities"][:, 1])})
    loaded = est.export.load(model.export_saved_model(str(tmp_path / "e"), RAW))
    assert sorted(loaded.signatures) == ["classify", "regress", "serving_default"]
    assert loaded.signatures["classify"].method_name == "tensorflow/serving/classify"
    x = fx.XE[:4]
    classify, regress = loaded.signatures["classify"](x=x), loaded.signatures["regress"](x=x)
    assert sorted(classify) == ["classes", "scores"] and sorted(regress) == ["outputs"]
    torch.testing.assert_close(regress["outputs"], classify["scores"][:, 1])
    assert torch.equal(loaded(x=x)["classes"], classify["classes"])


def test_a_lone_export_output_is_also_the_default(tmp_path):
    model = _with_outputs(tmp_path, lambda p: {
        "scores": est.export.PredictOutput(p["probabilities"])})
    loaded = est.export.load(model.export_saved_model(str(tmp_path / "e"), RAW))
    assert sorted(loaded.signatures) == ["scores", "serving_default"]
    assert sorted(loaded(x=fx.XE[:2])) == ["output"]


def test_several_export_outputs_need_a_default(tmp_path):
    model = _with_outputs(tmp_path, lambda p: {
        "a": est.export.PredictOutput(p), "b": est.export.PredictOutput(p["classes"])})
    with pytest.raises(ValueError, match="none of them is specified as the default"):
        model.export_saved_model(str(tmp_path / "e"), RAW)


@pytest.mark.parametrize("make, match", [
    (lambda: est.export.ClassificationOutput(), "At least one of `scores` and `classes`"),
    (lambda: est.export.ClassificationOutput(scores=torch.zeros(2, dtype=torch.long)),
     "must be a float tensor"),
    (lambda: est.export.RegressionOutput(torch.zeros(2, dtype=torch.long)), "float tensor"),
    (lambda: est.export.PredictOutput({1: torch.zeros(2)}), "key must be a string"),
])
def test_export_outputs_validate_as_tf(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- untraceable model_fn ----------------------------------------------------------------------
def test_an_untraceable_model_fn_fails_naming_the_reason_and_line(tmp_path):
    model = _trained(tmp_path / "m", fx.untraceable_model_fn, steps=2)
    with pytest.raises(est.export.ExportError) as info:
        model.export_saved_model(str(tmp_path / "e"), RAW)
    message = str(info.value)
    assert "GuardOnDataDependentSymNode" in message and "data-dependent" in message
    assert "train_eval_fixtures.py" in message and "if logits.sum() > 0:" in message
    assert "eager_fallback=True" in message
    assert not os.path.exists(tmp_path / "e") or os.listdir(tmp_path / "e") == []


def test_eager_fallback_only_when_asked_and_it_predicts_the_same(tmp_path):
    model = _trained(tmp_path / "m", fx.untraceable_model_fn, steps=2)
    path = model.export_saved_model(str(tmp_path / "e"), RAW, eager_fallback=True)
    with open(os.path.join(path, "saved_model.json")) as f:
        description = json.load(f)
    assert description["kind"] == "eager"
    assert description["eager"]["model_fn"] == "train_eval_fixtures:untraceable_model_fn"
    assert "model.pt2" not in os.listdir(path)
    got = est.export.load(path)(x=fx.XE[:5])
    torch.testing.assert_close(got["logits"], _predict(model, {"x": fx.XE[:5]})["logits"])


# -- all modes ---------------------------------------------------------------------------------
def test_experimental_export_all_saved_models_predict_and_eval(model, tmp_path):
    supervised = est.export.build_raw_supervised_input_receiver_fn(
        {"x": torch.zeros(1, 4)}, torch.zeros(1, dtype=torch.long))
    path = model.experimental_export_all_saved_models(
        str(tmp_path), {est.ModeKeys.PREDICT: RAW, est.ModeKeys.EVAL: supervised})
    assert {"model.pt2", "model_eval.pt2"} <= set(os.listdir(path))
    evaluate = est.export.load(path, mode=est.ModeKeys.EVAL)
    out = evaluate(x=fx.XE, label=fx.YE)
    expected = model.evaluate(lambda: [({"x": fx.XE}, fx.YE)])
    assert out["loss"].item() == pytest.approx(expected["loss"], rel=1e-6)
    assert sorted(out) == ["loss", "predictions/classes", "predictions/probabilities"]
    assert est.export.load(path)(x=fx.XE[:2])["classes"].shape == (2,)


def test_train_mode_export_is_refused(model, tmp_path):
    with pytest.raises(ValueError, match="export of the TRAIN mode is not supported"):
        model.export_saved_model(str(tmp_path), RAW, experimental_mode=est.ModeKeys.TRAIN)


# -- loading and serving -----------------------------------------------------------------------
def test_load_names_a_folder_that_is_not_an_export(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not an export"):
        est.export.load(str(tmp_path))


def test_serve_module_answers_tf_serving_json_requests(model, tmp_path):
    path = model.export_saved_model(str(tmp_path / "e"), RAW)
    x = fx.XE[:3]
    env = dict(os.environ, PYTHONPATH=ROOT)
    request = {"instances": [{"x": row.tolist()} for row in x]}
    done = subprocess.run([sys.executable, "-m", "estimator.export.serve", path],
                          input=json.dumps(request), capture_output=True, text=True,
                          cwd=str(tmp_path), env=env, timeout=300, check=True)
    predictions = json.loads(done.stdout)["predictions"]
    expected = _predict(model, {"x": x})
    assert [p["classes"] for p in predictions] == expected["classes"].tolist()
    torch.testing.assert_close(torch.tensor([p["probabilities"] for p in predictions]),
                               expected["probabilities"])
    columnar = subprocess.run([sys.executable, "-m", "estimator.export.serve", path],
                              input=json.dumps({"inputs": {"x": x.tolist()}}),
                              capture_output=True, text=True, cwd=str(tmp_path), env=env,
                              timeout=300, check=True)
    assert json.loads(columnar.stdout)["outputs"]["classes"] == expected["classes"].tolist()


def test_parsing_receiver_parses_tf_examples_with_data_io(model, tmp_path):
    if not hasattr(data.io, "parse_example") or not hasattr(data.io, "FixedLenFeature"):
        pytest.skip("data.io.parse_example is not available yet")
    with open(os.path.join(os.path.dirname(__file__), "fixtures", "tf_examples_x4.json")) as f:
        fixture = json.load(f)  # written by TF: see fixtures/make_tf_examples.py
    examples = [base64.b64decode(r) for r in fixture["examples_base64"]]
    spec = {"x": data.io.FixedLenFeature([4], torch.float32)}
    receiver = est.export.build_parsing_serving_input_receiver_fn(spec)
    loaded = est.export.load(model.export_saved_model(str(tmp_path), receiver))
    assert sorted(loaded.signatures["serving_default"].inputs) == ["examples"]
    x = torch.tensor(fixture["x"])
    got, expected = loaded(examples=examples), _predict(model, {"x": x})
    assert torch.equal(got["classes"], expected["classes"])
    torch.testing.assert_close(got["probabilities"], expected["probabilities"])


def test_parsing_receiver_needs_fixed_length_numeric_features(model, tmp_path):
    class VarLen:  # what a VarLenFeature looks like: no shape
        dtype = torch.float32

    receiver = est.export.build_parsing_serving_input_receiver_fn({"x": VarLen()})
    with pytest.raises(ValueError, match=r"feature_spec\['x'\]: the export takes fixed-length"):
        model.export_saved_model(str(tmp_path), receiver)
