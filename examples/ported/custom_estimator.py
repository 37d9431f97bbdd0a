#  Ported from tensorflow/models, samples/core/get_started/custom_estimator.py (TF 1.x).
#  Copyright 2016 The TensorFlow Authors. All Rights Reserved.
#
#  Licensed under the Apache License, Version 2.0 (the "License");
#  you may not use this file except in compliance with the License.
#  You may obtain a copy of the License at
#
#   http://www.apache.org/licenses/LICENSE-2.0
#
#  Unless required by applicable law or agreed to in writing, software
#  distributed under the License is distributed on an "AS IS" BASIS,
#  WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
#  See the License for the specific language governing permissions and
#  limitations under the License.
#
#  Changed lines end in "# PORT: <what changed>"; the structure is the original's. The CSV
#  download is replaced by the generated Iris-like data of iris_data.py (no network).
"""An Example of a custom Estimator for the Iris dataset."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import logging  # PORT: logging instead of tf.logging
import os  # PORT: to import iris_data from this folder
import sys  # PORT: sys.argv instead of tf.app.run

import torch  # PORT: torch for the ops (tf.argmax, tf.nn.softmax, the loss)
import torch.nn.functional as F  # PORT: as above

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # PORT
import data  # noqa: E402  # PORT: tf.data -> data
import estimator as est  # noqa: E402  # PORT: import tensorflow as tf -> the estimator package
import iris_data  # noqa: E402  # PORT: the generated data instead of pandas + download

parser = argparse.ArgumentParser()
parser.add_argument('--batch_size', default=100, type=int, help='batch size')
parser.add_argument('--train_steps', default=1000, type=int,
                    help='number of training steps')
parser.add_argument('--model_dir', default=None, help='model directory')  # PORT: for tests
parser.add_argument('--seed', default=0, type=int, help='data and model seed')  # PORT: for tests

SPECIES = ['Sentosa', 'Versicolor', 'Virginica']


def load_data(y_name='Species', seed=0):  # PORT: seed of the generated data
    """Returns the iris dataset as (train_x, train_y), (test_x, test_y)."""
    return iris_data.load_data(y_name, seed)  # PORT: generated, as iris_data.load_data


def train_input_fn(features, labels, batch_size):
    """An input function for training"""
    # Convert the inputs to a Dataset.
    dataset = data.Dataset.from_tensor_slices((features, labels))  # PORT: tf.data -> data

    # Shuffle, repeat, and batch the examples.
    dataset = dataset.shuffle(1000).repeat().batch(batch_size)

    # Return the read end of the pipeline.
    return dataset  # PORT: an input_fn returns the Dataset (no make_one_shot_iterator)


def eval_input_fn(features, labels=None, batch_size=None):
    """An input function for evaluation or prediction"""
    features = {k: torch.tensor(v, dtype=torch.float32) for k, v in features.items()}  # PORT: lists -> float32
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


def my_model(features, labels, mode, params):
    """A DNN `model_fn`

    Args:
      features: The features dictionary from the input_fn.
      labels: The labels from the input_fn.
      mode: The model mode, set by the Estimator method.
      params: Configuration for the model. Expected keys are 'feature_columns',
        'hidden_units', and 'n_classes' with the same meanings as the arguments
        of tf.estimator.DNNClassifier.
    """
    # Use `input_layer` to apply the feature columns.
    net = est.feature_column.input_layer(features, params['feature_columns'])  # PORT: tf. -> est.
    for units in params['hidden_units']:
        net = est.layers.dense(net, units=units, activation=F.relu)  # PORT: tf.layers/tf.nn -> est.layers/F

    # Compute logits (1 per class).
    logits = est.layers.dense(net, params['n_classes'], activation=None)  # PORT: tf.layers -> est.layers

    # Compute predictions.
    predicted_classes = torch.argmax(logits, 1)  # PORT: tf.argmax -> torch.argmax
    if mode == est.ModeKeys.PREDICT:  # PORT: tf.estimator -> est
        predictions = {
            'class_ids': predicted_classes[:, None],  # PORT: tf.newaxis -> None
            'probabilities': F.softmax(logits, 1),  # PORT: tf.nn.softmax -> F.softmax
            'logits': logits,
        }
        return est.EstimatorSpec(mode, predictions=predictions)  # PORT: tf.estimator -> est

    # Convert the labels to a one-hot tensor of shape (length of features, 3)
    # and with a on-value of 1 for each one-hot vector of length 3.
    onehot_labels = F.one_hot(labels, 3).float()  # PORT: tf.one_hot -> F.one_hot
    # Compute loss.
    loss = F.cross_entropy(logits, onehot_labels)  # PORT: tf.losses.softmax_cross_entropy -> F.cross_entropy (mean)

    # Compute evaluation metrics.
    accuracy = est.metrics.accuracy(labels=labels,  # PORT: tf.metrics -> est.metrics
                                    predictions=predicted_classes,
                                    name='acc_op')
    metrics = {'accuracy': accuracy}
    est.summary.scalar('accuracy', accuracy[1])  # PORT: tf.summary -> est.summary

    if mode == est.ModeKeys.EVAL:  # PORT: tf.estimator -> est
        return est.EstimatorSpec(  # PORT: tf.estimator -> est
            mode, loss=loss, eval_metric_ops=metrics)

    # Create training op.
    assert mode == est.ModeKeys.TRAIN  # PORT: tf.estimator -> est

    optimizer = est.train.AdagradOptimizer(learning_rate=0.1)  # PORT: tf.train -> est.train
    train_op = optimizer.minimize(loss, global_step=est.train.get_global_step())  # PORT: tf.train -> est.train
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)  # PORT: tf.estimator -> est


def main(argv):
    args = parser.parse_args(argv[1:])

    # Fetch the data
    (train_x, train_y), (test_x, test_y) = load_data(seed=args.seed)  # PORT: seed
    train_x = dict(train_x)
    test_x = dict(test_x)

    # Feature columns describe how to use the input.
    my_feature_columns = []
    for key in train_x.keys():
        my_feature_columns.append(est.feature_column.numeric_column(key=key))  # PORT: tf. -> est.

    # Build 2 hidden layer DNN with 10, 10 units respectively.
    classifier = est.Estimator(  # PORT: tf.estimator -> est
        model_fn=my_model,
        params={
            'feature_columns': my_feature_columns,
            # Two hidden layers of 10 nodes each.
            'hidden_units': [10, 10],
            # The model must choose between 3 classes.
            'n_classes': 3,
        },
        model_dir=args.model_dir,  # PORT: for tests
        config=est.RunConfig(tf_random_seed=args.seed))  # PORT: a reproducible run

    # Train the Model.
    classifier.train(
        input_fn=lambda:train_input_fn(train_x, train_y, args.batch_size),
        steps=args.train_steps)

    # Evaluate the model.
    eval_result = classifier.evaluate(
        input_fn=lambda:eval_input_fn(test_x, test_y, args.batch_size))

    print('\nTest set accuracy: {accuracy:0.3f}\n'.format(**eval_result))

    # Generate predictions from the model
    expected = ['Setosa', 'Versicolor', 'Virginica']
    predict_x = {
        'SepalLength': [5.1, 5.9, 6.9],
        'SepalWidth': [3.3, 3.0, 3.1],
        'PetalLength': [1.7, 4.2, 5.4],
        'PetalWidth': [0.5, 1.5, 2.1],
    }

    predictions = classifier.predict(
        input_fn=lambda:eval_input_fn(predict_x, batch_size=args.batch_size))

    for pred_dict, expec in zip(predictions, expected):
        template = ('\nPrediction is "{}" ({:.1f}%), expected "{}"')

        class_id = pred_dict['class_ids'][0]
        probability = pred_dict['probabilities'][class_id]
        print(template.format(SPECIES[class_id], 100 * probability, expec))
    return eval_result  # PORT: returned for tests


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO)  # PORT: tf.logging.set_verbosity(tf.logging.INFO)
    main(sys.argv)  # PORT: tf.app.run(main)
