#  Ported from tensorflow/models, samples/core/get_started/premade_estimator.py (TF 1.x).
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
#  Changed lines end in "# PORT: <what changed>"; the structure is the original's.
"""An Example of a DNNClassifier for the Iris dataset."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import logging  # PORT: logging instead of tf.logging
import os  # PORT: to import iris_data from this folder
import sys  # PORT: sys.argv instead of tf.app.run

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # PORT
import estimator as est  # PORT: import tensorflow as tf -> the estimator package

import iris_data  # noqa: E402  # PORT: noqa (imported after the path line)


parser = argparse.ArgumentParser()
parser.add_argument('--batch_size', default=100, type=int, help='batch size')
parser.add_argument('--train_steps', default=1000, type=int,
                    help='number of training steps')
parser.add_argument('--model_dir', default=None, help='model directory')  # PORT: for tests
parser.add_argument('--seed', default=0, type=int, help='data and model seed')  # PORT: for tests


def main(argv):
    args = parser.parse_args(argv[1:])

    # Fetch the data
    (train_x, train_y), (test_x, test_y) = iris_data.load_data(seed=args.seed)  # PORT: seed

    # Feature columns describe how to use the input.
    my_feature_columns = []
    for key in train_x.keys():
        my_feature_columns.append(est.feature_column.numeric_column(key=key))  # PORT: tf. -> est.

    # Build 2 hidden layer DNN with 10, 10 units respectively.
    classifier = est.DNNClassifier(  # PORT: tf.estimator -> est
        feature_columns=my_feature_columns,
        # Two hidden layers of 10 nodes each.
        hidden_units=[10, 10],
        # The model must choose between 3 classes.
        n_classes=3,
        model_dir=args.model_dir,  # PORT: for tests
        config=est.RunConfig(tf_random_seed=args.seed))  # PORT: a reproducible run

    # Train the Model.
    classifier.train(
        input_fn=lambda:iris_data.train_input_fn(train_x, train_y,
                                                 args.batch_size),
        steps=args.train_steps)

    # Evaluate the model.
    eval_result = classifier.evaluate(
        input_fn=lambda:iris_data.eval_input_fn(test_x, test_y,
                                                args.batch_size))

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
        input_fn=lambda:iris_data.eval_input_fn(predict_x,
                                                labels=None,
                                                batch_size=args.batch_size))

    for pred_dict, expec in zip(predictions, expected):
        template = ('\nPrediction is "{}" ({:.1f}%), expected "{}"')

        class_id = pred_dict['class_ids'][0]
        probability = pred_dict['probabilities'][class_id]

        print(template.format(iris_data.SPECIES[class_id],
                              100 * probability, expec))
    return eval_result  # PORT: returned for tests


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO)  # PORT: tf.logging.set_verbosity(tf.logging.INFO)
    main(sys.argv)  # PORT: tf.app.run(main)
