# Ported from Aymeric Damien's TensorFlow-Examples
# aymericdamien/TensorFlow-Examples: examples/3_NeuralNetworks/convolutional_network.py
# Original: Copyright (c) Aymeric Damien, The MIT License (MIT). This port keeps that licence:
# permission is hereby granted, free of charge, to any person obtaining a copy of this software
# and associated documentation files, to deal in the Software without restriction, subject to
# the conditions of the MIT License (https://opensource.org/licenses/MIT); THE SOFTWARE IS
# PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
#
# Every line that differs from the original ends in "# PORT: ..." (or has such a comment on the
# line above it); everything else is the original, renamed tf.* -> est.* as the README's
# "Porting a TF 1.x program" table says. The environment variables MNIST_DATA_DIR and NUM_STEPS
# let tests run it on small generated data; their defaults are the original's.
""" Convolutional Neural Network.

Build and train a convolutional neural network with TensorFlow.
This example is using the MNIST database of handwritten digits
(http://yann.lecun.com/exdb/mnist/)

This example is using TensorFlow layers API, see 'convolutional_network_raw' 
example for a raw implementation with variables.

Author: Aymeric Damien
Project: https://github.com/aymericdamien/TensorFlow-Examples/
"""
from __future__ import division, print_function, absolute_import

import os  # PORT: the environment variables of the header

import numpy as np  # PORT: for the uint8 labels input_data gives
import torch  # PORT: raw tensor math is torch's
import torch.nn.functional as F  # PORT: tf.nn.relu is F.relu

# Import MNIST data
from data import mnist as mnist_files  # PORT: from tensorflow.examples.tutorials.mnist import input_data
# PORT: mnist = input_data.read_data_sets("/tmp/data/", one_hot=False), from local IDX files:
train_images, train_labels = mnist_files.load(os.environ.get("MNIST_DATA_DIR", "/tmp/data/"), "train", flatten=True)
test_images, test_labels = mnist_files.load(os.environ.get("MNIST_DATA_DIR", "/tmp/data/"), "test", flatten=True)  # PORT: (as above)

import estimator as est  # PORT: import tensorflow as tf

# Training Parameters
learning_rate = 0.001
num_steps = int(os.environ.get("NUM_STEPS", 2000))  # PORT: num_steps = 2000, overridable
batch_size = 128

# Network Parameters
num_input = 784 # MNIST data input (img shape: 28*28)
num_classes = 10 # MNIST total classes (0-9 digits)
dropout = 0.25 # Dropout, probability to drop a unit


# Create the neural network
def conv_net(x_dict, n_classes, dropout, reuse, is_training):
    # Define a scope for reusing the variables
    with est.variable_scope('ConvNet', reuse=reuse):
        # TF Estimator input is a dict, in case of multiple inputs
        x = x_dict['images']

        # MNIST data input is a 1-D vector of 784 features (28*28 pixels)
        # Reshape to match picture format [Height x Width x Channel]
        # Tensor input become 4-D: [Batch Size, Height, Width, Channel]
        x = x.reshape(-1, 28, 28, 1)  # PORT: tf.reshape(x, shape=[-1, 28, 28, 1])

        # Convolution Layer with 32 filters and a kernel size of 5
        conv1 = est.layers.conv2d(x, 32, 5, activation=F.relu)  # PORT: tf.nn.relu
        # Max Pooling (down-sampling) with strides of 2 and kernel size of 2
        conv1 = est.layers.max_pooling2d(conv1, 2, 2)

        # Convolution Layer with 64 filters and a kernel size of 3
        conv2 = est.layers.conv2d(conv1, 64, 3, activation=F.relu)  # PORT: tf.nn.relu
        # Max Pooling (down-sampling) with strides of 2 and kernel size of 2
        conv2 = est.layers.max_pooling2d(conv2, 2, 2)

        # Flatten the data to a 1-D vector for the fully connected layer
        fc1 = est.layers.flatten(conv2)  # PORT: tf.contrib.layers.flatten

        # Fully connected layer (in tf contrib folder for now)
        fc1 = est.layers.dense(fc1, 1024)
        # Apply Dropout (if is_training is False, dropout is not applied)
        fc1 = est.layers.dropout(fc1, rate=dropout, training=is_training)

        # Output layer, class prediction
        out = est.layers.dense(fc1, n_classes)

    return out


# Define the model function (following TF Estimator Template)
def model_fn(features, labels, mode):
    # Build the neural network
    # Because Dropout have different behavior at training and prediction time, we
    # need to create 2 distinct computation graphs that still share the same weights.
    logits_train = conv_net(features, num_classes, dropout, reuse=False,
                            is_training=True)
    logits_test = conv_net(features, num_classes, dropout, reuse=True,
                           is_training=False)

    # Predictions
    pred_classes = torch.argmax(logits_test, dim=1)  # PORT: tf.argmax(logits_test, axis=1)
    pred_probas = F.softmax(logits_test, dim=1)  # PORT: tf.nn.softmax(logits_test)

    # If prediction mode, early return
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=pred_classes)

        # Define loss and optimizer
    loss_op = torch.mean(est.nn.sparse_softmax_cross_entropy_with_logits(  # PORT: tf.reduce_mean
        logits=logits_train, labels=labels.to(torch.int32)))  # PORT: tf.cast(labels, dtype=tf.int32)
    optimizer = est.train.AdamOptimizer(learning_rate=learning_rate)
    train_op = optimizer.minimize(loss_op,
                                  global_step=est.train.get_global_step())

    # Evaluate the accuracy of the model
    acc_op = est.metrics.accuracy(labels=labels, predictions=pred_classes)

    # TF Estimators requires to return a EstimatorSpec, that specify
    # the different ops for training, evaluating, ...
    estim_specs = est.EstimatorSpec(
        mode=mode,
        predictions=pred_classes,
        loss=loss_op,
        train_op=train_op,
        eval_metric_ops={'accuracy': acc_op})

    return estim_specs

# Build the Estimator
model = est.Estimator(model_fn)

# Define the input function for training
input_fn = est.inputs.numpy_input_fn(
    x={'images': train_images.numpy()}, y=train_labels.numpy().astype(np.uint8),  # PORT: mnist.train.images, mnist.train.labels
    batch_size=batch_size, num_epochs=None, shuffle=True)
# Train the Model
model.train(input_fn, steps=num_steps)

# Evaluate the Model
# Define the input function for evaluating
input_fn = est.inputs.numpy_input_fn(
    x={'images': test_images.numpy()}, y=test_labels.numpy().astype(np.uint8),  # PORT: mnist.test.images, mnist.test.labels
    batch_size=batch_size, shuffle=False)
# Use the Estimator 'evaluate' method
e = model.evaluate(input_fn)

print("Testing Accuracy:", e['accuracy'])
