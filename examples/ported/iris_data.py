#  Ported from tensorflow/models, samples/core/get_started/iris_data.py (TF 1.x), licensed under
#  the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0); Copyright 2016
#  The TensorFlow Authors. Changed lines end in "# PORT: <what changed>"; the structure is kept.
#  The CSV download is replaced by generated Iris-like data (no network), so load_data() returns
#  dicts of numpy columns where the original returned pandas DataFrames.
import numpy as np  # PORT: numpy for the generated data instead of pandas
import data  # PORT: tf.data -> data

CSV_COLUMN_NAMES = ['SepalLength', 'SepalWidth',
                    'PetalLength', 'PetalWidth', 'Species']
SPECIES = ['Sentosa', 'Versicolor', 'Virginica']

# PORT: per-species mean and standard deviation of the four measurements (Fisher's Iris data)
_STATS = {0: ([5.006, 3.428, 1.462, 0.246], [0.352, 0.379, 0.174, 0.105]),  # PORT
          1: ([5.936, 2.770, 4.260, 1.326], [0.516, 0.314, 0.470, 0.198]),  # PORT
          2: ([6.588, 2.974, 5.552, 2.026], [0.636, 0.322, 0.552, 0.275])}  # PORT


def generate(n, seed):  # PORT: replaces maybe_download(): n Iris-like rows, a fixed seed
    rng = np.random.RandomState(seed)  # PORT
    labels = rng.randint(0, 3, n)  # PORT
    means = np.array([_STATS[c][0] for c in labels])  # PORT
    stds = np.array([_STATS[c][1] for c in labels])  # PORT
    values = np.round(rng.normal(means, stds).clip(0.1), 1).astype(np.float32)  # PORT
    x = {name: values[:, i] for i, name in enumerate(CSV_COLUMN_NAMES[:4])}  # PORT
    return x, labels.astype(np.int64)  # PORT


def load_data(y_name='Species', seed=0):  # PORT: seed of the generated data
    """Returns the iris dataset as (train_x, train_y), (test_x, test_y)."""
    train_x, train_y = generate(120, seed)  # PORT: 120 rows, as iris_training.csv

    test_x, test_y = generate(30, seed + 1)  # PORT: 30 rows, as iris_test.csv

    return (train_x, train_y), (test_x, test_y)


def train_input_fn(features, labels, batch_size):
    """An input function for training"""
    # Convert the inputs to a Dataset.
    dataset = data.Dataset.from_tensor_slices((dict(features), labels))  # PORT: tf.data -> data

    # Shuffle, repeat, and batch the examples.
    dataset = dataset.shuffle(1000).repeat().batch(batch_size)

    # Return the read end of the pipeline.
    return dataset  # PORT: an input_fn returns the Dataset (no make_one_shot_iterator)


def eval_input_fn(features, labels, batch_size):
    """An input function for evaluation or prediction"""
    features = {k: np.asarray(v, np.float32) for k, v in dict(features).items()}  # PORT: lists -> float32 arrays
    if labels is None:
        # No labels, use only features.
        inputs = features
    else:
        inputs = (features, labels)

    # Convert the inputs to a Dataset.
    dataset = data.Dataset.from_tensor_slices(inputs)  # PORT: tf.data -> data

    # Batch the examples
    assert batch_size is not None, "batch_size must not be None"
    dataset = dataset.batch(batch_size)

    # Return the read end of the pipeline.
    return dataset  # PORT: an input_fn returns the Dataset (no make_one_shot_iterator)
