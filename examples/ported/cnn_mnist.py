#  Ported from TensorFlow's tf.layers tutorial program
#  tensorflow/tensorflow: tensorflow/examples/tutorials/layers/cnn_mnist.py
#  ("Convolutional Neural Network Estimator for MNIST, built with tf.layers.")
#  Original: Copyright 2016 The TensorFlow Authors, Apache License 2.0. This port is also
#  distributed under the Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
#
#  Every line that differs from the original ends in "# PORT: ..." (or has such a comment on
#  the line above it); everything else is the original, renamed tf.* -> est.* as the README's
#  "Porting a TF 1.x program" table says. The original's 2-space indentation is kept.
#  The environment variables MNIST_DATA_DIR, MODEL_DIR and TRAIN_STEPS let tests run it on
#  small generated data; their defaults are the original's.
"""Convolutional Neural Network Estimator for MNIST, built with tf.layers."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import logging  # PORT: tf.logging is the standard logging module
import os  # PORT: the environment variables of the header
import sys  # PORT: tf.app.run() is main(sys.argv)

import numpy as np
import torch.nn.functional as F  # PORT: tf.nn.relu / tf.nn.softmax are torch functions

import estimator as est  # PORT: import tensorflow as tf
from data import mnist as mnist_files  # PORT: reads the local IDX files, no download

logging.basicConfig(level=logging.INFO)  # PORT: tf.logging.set_verbosity(tf.logging.INFO)


def cnn_model_fn(features, labels, mode):
  """Model function for CNN."""
  # Input Layer
  # Reshape X to 4-D tensor: [batch_size, width, height, channels]
  # MNIST images are 28x28 pixels, and have one color channel
  input_layer = features["x"].reshape(-1, 28, 28, 1)  # PORT: tf.reshape(features["x"], [-1, 28, 28, 1])

  # Convolutional Layer #1
  # Computes 32 features using a 5x5 filter with ReLU activation.
  # Padding is added to preserve width and height.
  # Input Tensor Shape: [batch_size, 28, 28, 1]
  # Output Tensor Shape: [batch_size, 28, 28, 32]
  conv1 = est.layers.conv2d(
      inputs=input_layer,
      filters=32,
      kernel_size=[5, 5],
      padding="same",
      activation=F.relu)  # PORT: tf.nn.relu

  # Pooling Layer #1
  # First max pooling layer with a 2x2 filter and stride of 2
  # Input Tensor Shape: [batch_size, 28, 28, 32]
  # Output Tensor Shape: [batch_size, 14, 14, 32]
  pool1 = est.layers.max_pooling2d(inputs=conv1, pool_size=[2, 2], strides=2)

  # Convolutional Layer #2
  # Computes 64 features using a 5x5 filter.
  # Padding is added to preserve width and height.
  # Input Tensor Shape: [batch_size, 14, 14, 32]
  # Output Tensor Shape: [batch_size, 14, 14, 64]
  conv2 = est.layers.conv2d(
      inputs=pool1,
      filters=64,
      kernel_size=[5, 5],
      padding="same",
      activation=F.relu)  # PORT: tf.nn.relu

  # Pooling Layer #2
  # Second max pooling layer with a 2x2 filter and stride of 2
  # Input Tensor Shape: [batch_size, 14, 14, 64]
  # Output Tensor Shape: [batch_size, 7, 7, 64]
  pool2 = est.layers.max_pooling2d(inputs=conv2, pool_size=[2, 2], strides=2)

  # Flatten tensor into a batch of vectors
  # Input Tensor Shape: [batch_size, 7, 7, 64]
  # Output Tensor Shape: [batch_size, 7 * 7 * 64]
  pool2_flat = pool2.reshape(-1, 7 * 7 * 64)  # PORT: tf.reshape(pool2, [-1, 7 * 7 * 64])

  # Dense Layer
  # Densely connected layer with 1024 neurons
  # Input Tensor Shape: [batch_size, 7 * 7 * 64]
  # Output Tensor Shape: [batch_size, 1024]
  dense = est.layers.dense(inputs=pool2_flat, units=1024, activation=F.relu)  # PORT: tf.nn.relu

  # Add dropout operation; 0.6 probability that element will be kept
  dropout = est.layers.dropout(
      inputs=dense, rate=0.4, training=mode == est.ModeKeys.TRAIN)

  # Logits layer
  # Input Tensor Shape: [batch_size, 1024]
  # Output Tensor Shape: [batch_size, 10]
  logits = est.layers.dense(inputs=dropout, units=10)

  predictions = {
      # Generate predictions (for PREDICT and EVAL mode)
      "classes": logits.argmax(dim=1),  # PORT: tf.argmax(input=logits, axis=1)
      # Add `softmax_tensor` to the graph. It is used for PREDICT and by the
      # `logging_hook`.
      # PORT: tf.nn.softmax(logits, name="softmax_tensor"): torch ops take no name, est.identity names it
      "probabilities": est.identity(F.softmax(logits, dim=1), name="softmax_tensor")
  }
  if mode == est.ModeKeys.PREDICT:
    return est.EstimatorSpec(mode=mode, predictions=predictions)

  # Calculate Loss (for both TRAIN and EVAL modes)
  loss = est.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)

  # Configure the Training Op (for TRAIN mode)
  if mode == est.ModeKeys.TRAIN:
    optimizer = est.train.GradientDescentOptimizer(learning_rate=0.001)
    train_op = optimizer.minimize(
        loss=loss,
        global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)

  # Add evaluation metrics (for EVAL mode)
  eval_metric_ops = {
      "accuracy": est.metrics.accuracy(
          labels=labels, predictions=predictions["classes"])}
  return est.EstimatorSpec(
      mode=mode, loss=loss, eval_metric_ops=eval_metric_ops)


def main(unused_argv):
  # Load training and eval data
  data_dir = os.environ.get("MNIST_DATA_DIR", "MNIST_data")  # PORT: tf.contrib.learn.datasets.load_dataset("mnist")
  train_images, train_targets = mnist_files.load(data_dir, "train", flatten=True)  # PORT: (as above)
  test_images, test_targets = mnist_files.load(data_dir, "test", flatten=True)  # PORT: (as above)
  train_data = train_images.numpy()  # PORT: mnist.train.images  # Returns np.array
  train_labels = np.asarray(train_targets.numpy(), dtype=np.int32)  # PORT: mnist.train.labels
  eval_data = test_images.numpy()  # PORT: mnist.test.images  # Returns np.array
  eval_labels = np.asarray(test_targets.numpy(), dtype=np.int32)  # PORT: mnist.test.labels

  # Create the Estimator
  mnist_classifier = est.Estimator(
      model_fn=cnn_model_fn,
      model_dir=os.environ.get("MODEL_DIR", "/tmp/mnist_convnet_model"))  # PORT: overridable

  # Set up logging for predictions
  # Log the values in the "Softmax" tensor with label "probabilities"
  tensors_to_log = {"probabilities": "softmax_tensor"}
  logging_hook = est.LoggingTensorHook(
      tensors=tensors_to_log, every_n_iter=50)

  # Train the model
  train_input_fn = est.inputs.numpy_input_fn(
      x={"x": train_data},
      y=train_labels,
      batch_size=100,
      num_epochs=None,
      shuffle=True)
  mnist_classifier.train(
      input_fn=train_input_fn,
      steps=int(os.environ.get("TRAIN_STEPS", 20000)),  # PORT: steps=20000, overridable
      hooks=[logging_hook])

  # Evaluate the model and print results
  eval_input_fn = est.inputs.numpy_input_fn(
      x={"x": eval_data}, y=eval_labels, num_epochs=1, shuffle=False)
  eval_results = mnist_classifier.evaluate(input_fn=eval_input_fn)
  print(eval_results)
  return eval_results  # PORT: returned for the tests


if __name__ == "__main__":
  main(sys.argv)  # PORT: tf.app.run()
