"""est.inputs.numpy_input_fn / pandas_input_fn: TF's batching (expected values from TF 2.15's
tf.compat.v1.estimator.inputs), shuffling, speed, and resume through the Estimator."""

import time

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import estimator as est
from estimator.inputs import numpy_input_fn, pandas_input_fn

CPU = est.RunConfig(device="cpu", tf_random_seed=0, save_summary_steps=None,
                    log_step_count_steps=None, save_checkpoints_steps=1000)


def test_batches_span_epochs_and_keep_the_last_partial_batch_as_tf():
    fn = numpy_input_fn({"a": np.arange(10.0)}, np.arange(10, dtype=np.int32), batch_size=4,
                        num_epochs=2, shuffle=False)
    batches = list(fn())
    # TF 2.15 gives exactly these five batches
    assert [f["a"].tolist() for f, _ in batches] == [
        [0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 0.0, 1.0], [2.0, 3.0, 4.0, 5.0],
        [6.0, 7.0, 8.0, 9.0]]
    assert [y.tolist() for _, y in batches][2] == [8, 9, 0, 1]
    assert batches[0][1].dtype == torch.int32 and batches[0][0]["a"].dtype == torch.float64


def test_array_x_gives_tensor_features_and_no_y_gives_features_only():
    fn = numpy_input_fn(np.arange(6).reshape(3, 2), batch_size=2, shuffle=False)
    assert [f.tolist() for f in fn()] == [[[0, 1], [2, 3]], [[4, 5]]]


def test_y_dict_gives_dict_labels():
    fn = numpy_input_fn({"x": np.arange(3)}, {"p": np.arange(3) * 2, "q": np.ones(3)},
                        batch_size=3, shuffle=False)
    (features, labels), = list(fn())
    assert sorted(labels) == ["p", "q"] and labels["p"].tolist() == [0, 2, 4]


def test_shuffle_must_be_given_explicitly():
    with pytest.raises(ValueError, match="shuffle must be provided and explicitly set as boolean"):
        numpy_input_fn({"x": np.arange(3)})


def test_mismatched_lengths_and_duplicate_keys_raise_as_tf():
    with pytest.raises(ValueError, match="Length of tensors in x and y is mismatched"):
        numpy_input_fn({"x": np.arange(3)}, np.arange(4), shuffle=False)()
    with pytest.raises(ValueError, match="duplicate keys are found in both x and y"):
        numpy_input_fn({"x": np.arange(3)}, {"x": np.arange(3)}, shuffle=False)()
    with pytest.raises(TypeError, match="x must be a dict or array; got list"):
        numpy_input_fn([1, 2], shuffle=False)()


def test_num_epochs_none_runs_forever_with_full_batches():
    it = iter(numpy_input_fn(np.arange(5), batch_size=3, num_epochs=None, shuffle=False)())
    assert [next(it).tolist() for _ in range(4)] == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4, 0, 1]]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 3))
def test_shuffled_epochs_are_permutations_of_the_data(n, batch_size, epochs):
    fn = numpy_input_fn(np.arange(n), batch_size=batch_size, num_epochs=epochs, shuffle=True)
    stream = torch.cat(list(fn())).tolist()
    assert len(stream) == n * epochs
    for e in range(epochs):
        assert sorted(stream[e * n:(e + 1) * n]) == list(range(n))


def test_shuffled_epochs_differ():
    stream = torch.cat(list(numpy_input_fn(np.arange(100), batch_size=10, num_epochs=2,
                                           shuffle=True)())).tolist()
    assert stream[:100] != stream[100:] and stream[:100] != list(range(100))


def test_a_mnist_sized_epoch_is_as_fast_as_a_hand_written_gather():
    x = np.ones((60000, 784), dtype=np.float32)
    y = np.zeros(60000, dtype=np.int32)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def by_hand():  # the peer: one permutation, one index_select per array and batch
        order = torch.randperm(60000)
        return sum(1 for i in order.split(100) for _ in [(xt.index_select(0, i), yt.index_select(0, i))])

    def ours():
        return sum(1 for _ in numpy_input_fn({"x": x}, y, batch_size=100, num_epochs=1,
                                             shuffle=True)())

    times = {"hand": [], "ours": []}
    for _ in range(4):  # alternate rounds on a shared machine; the best round of each counts
        for name, fn in (("hand", by_hand), ("ours", ours)):
            start = time.perf_counter()
            assert fn() == 600
            times[name].append(time.perf_counter() - start)
    hand, mine = min(times["hand"]), min(times["ours"])
    # both are one index_select per array and batch (about 0.1 s an epoch when idle)
    assert mine < 3 * hand + 0.5, f"600 batches: {mine:.3f} s, by hand {hand:.3f} s"


def _model_fn(features, labels, mode):
    logits = est.layers.dense(features["x"], units=2)  # float64 input, float32 layer
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions={"classes": logits.argmax(1)})
    loss = est.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)  # int32 labels
    train_op = est.train.GradientDescentOptimizer(0.5).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops={
        "accuracy": est.metrics.accuracy(labels=labels, predictions=logits.argmax(1))})


def _data():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(64, 3))  # float64, as numpy makes it
    return x, (x[:, 0] > 0).astype(np.int32)


def test_numpy_input_fn_trains_evaluates_and_predicts(tmp_path):
    x, y = _data()
    model = est.Estimator(_model_fn, str(tmp_path), config=CPU)
    model.train(numpy_input_fn({"x": x}, y, batch_size=8, num_epochs=None, shuffle=True),
                steps=40)
    results = model.evaluate(numpy_input_fn({"x": x}, y, batch_size=10, shuffle=False))
    assert results["global_step"] == 40 and results["accuracy"] > 0.9
    preds = list(model.predict(numpy_input_fn({"x": x}, batch_size=10, shuffle=False)))
    assert len(preds) == 64


def test_training_resumes_at_the_next_batch_of_a_numpy_input(tmp_path):
    x, y = _data()
    make = lambda: numpy_input_fn({"x": x}, y, batch_size=8, num_epochs=3, shuffle=True)  # noqa
    seen = []

    def model_fn(features, labels, mode):
        seen.append(labels.tolist())
        return _model_fn(features, labels, mode)

    est.Estimator(model_fn, str(tmp_path / "a"), config=CPU).train(make(), steps=5)
    est.Estimator(model_fn, str(tmp_path / "a"), config=CPU).train(make(), steps=7)
    resumed, seen[:] = list(seen), []
    est.Estimator(model_fn, str(tmp_path / "b"), config=CPU).train(make(), steps=12)
    assert resumed == seen


def test_pandas_input_fn_as_tf():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"b": [1.0, 2.0, 3.0], "a": [4, 5, 6]}, index=[10, 11, 12])
    y = pd.Series([7, 8, 9], index=[10, 11, 12])
    batches = list(pandas_input_fn(df, y, batch_size=2, shuffle=False)())
    # TF 2.15 gives exactly these two batches
    assert [({k: v.tolist() for k, v in f.items()}, t.tolist()) for f, t in batches] == [
        ({"b": [1.0, 2.0], "a": [4, 5]}, [7, 8]), ({"b": [3.0], "a": [6]}, [9])]
    with pytest.raises(ValueError, match="Index for x and y are mismatched"):
        pandas_input_fn(df, pd.Series([1, 2, 3]), shuffle=False)
    with pytest.raises(ValueError, match="Cannot use name a for target column"):
        pandas_input_fn(df, y, shuffle=False, target_column="a")
    frame_y = pd.DataFrame({"t1": [0, 1, 0], "t2": [1.0, 2.0, 3.0]}, index=df.index)
    (_, labels), = list(pandas_input_fn(df, frame_y, batch_size=3, shuffle=False)())
    assert labels["t1"].tolist() == [0, 1, 0] and labels["t2"].tolist() == [1.0, 2.0, 3.0]


def test_pandas_string_columns_come_as_lists():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"s": ["x", "y", "z"], "n": [1, 2, 3]})
    first = next(iter(pandas_input_fn(df, batch_size=2, shuffle=False)()))
    assert first["s"] == ["x", "y"] and first["n"].tolist() == [1, 2]
