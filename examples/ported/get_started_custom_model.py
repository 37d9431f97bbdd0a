# Ported from TensorFlow's "Getting Started With TensorFlow" guide, section "A custom model"
# tensorflow/tensorflow: tensorflow/docs_src/get_started/get_started.md
# Original: Copyright The TensorFlow Authors, Apache License 2.0. This port is also distributed
# under the Apache License 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
#
# Every line that differs from the original ends in "# PORT: ..." (or has such a comment on the
# line above it); everything else is the original, renamed tf.* -> est.* as the README's
# "Porting a TF 1.x program" table says.
import numpy as np
import torch  # PORT: raw tensor math is torch's
import estimator as est  # PORT: import tensorflow as tf

# Declare list of features, we only have one real-valued feature
def model_fn(features, labels, mode):
  # Build a linear model and predict values
  W = est.get_variable("W", [1], dtype=torch.float64)  # PORT: dtype=tf.float64
  b = est.get_variable("b", [1], dtype=torch.float64)  # PORT: dtype=tf.float64
  y = W * features['x'] + b
  # Loss sub-graph
  loss = torch.sum(torch.square(y - labels))  # PORT: tf.reduce_sum(tf.square(y - labels))
  # Training sub-graph
  global_step = est.train.get_global_step()
  optimizer = est.train.GradientDescentOptimizer(0.01)
  # PORT: tf.group(optimizer.minimize(loss), tf.assign_add(global_step, 1)): the global step is
  # an int here; minimize(global_step=...) advances it
  train = optimizer.minimize(loss, global_step=global_step)
  # EstimatorSpec connects subgraphs we built to the
  # appropriate functionality.
  return est.EstimatorSpec(
      mode=mode,
      predictions=y,
      loss=loss,
      train_op=train)

estimator = est.Estimator(model_fn=model_fn)
# define our data sets
x_train = np.array([1., 2., 3., 4.])
y_train = np.array([0., -1., -2., -3.])
x_eval = np.array([2., 5., 8., 1.])
y_eval = np.array([-1.01, -4.1, -7, 0.])
input_fn = est.inputs.numpy_input_fn(
    {"x":x_train}, y_train, batch_size=4, num_epochs=None, shuffle=True)
train_input_fn = est.inputs.numpy_input_fn(
    {"x":x_train}, y_train, batch_size=4, num_epochs=1000, shuffle=False)
eval_input_fn = est.inputs.numpy_input_fn(
    {"x":x_eval}, y_eval, batch_size=4, num_epochs=1000, shuffle=False)

# train
estimator.train(input_fn=input_fn, steps=1000)
# Here we evaluate how well our model did.
train_metrics = estimator.evaluate(input_fn=train_input_fn)
eval_metrics = estimator.evaluate(input_fn=eval_input_fn)
print("train metrics: %r"% train_metrics)
print("eval metrics: %r"% eval_metrics)
