"""The source documents' networks, each as ``model_fn``\\ s and as an ``nn.Module``.

Every model module (``models.dogs_vs_cats``, ``models.mnist_cnn``, ``models.mlp``,
``models.softmax``) offers the same three things:

- ``model_fn(features, labels, mode, params)``: the network built in the model scope with
  ``est.layers`` / ``est.get_variable``, ending in a softmax-classifier ``EstimatorSpec``
  (predictions ``classes`` and ``probabilities``, cross-entropy loss, ``accuracy`` metric and
  summary). Pass it to ``Estimator`` directly; tune it with ``params``.
- ``module_model_fn``: the same, with the ``nn.Module`` class through ``est.get_module``.
- ``DEFAULT_PARAMS``: the ``params`` keys it reads and their defaults (the source document's
  values). Unknown keys are an error; ``params["optimizer"]`` is one of ``"adagrad"``,
  ``"adam"``, ``"momentum"``, ``"rmsprop"``, ``"sgd"``.

>>> import estimator as est, models  # doctest: +SKIP
>>> model_fn = models.mnist_cnn.model_fn  # doctest: +SKIP
>>> est.Estimator(model_fn, "model_dir", params={"learning_rate": 0.01})  # doctest: +SKIP
"""

__distribution__ = "torch-estimator"
__version__ = "0.1.0"

from models import dogs_vs_cats, mlp, mnist_cnn, softmax
from models.dogs_vs_cats import SeedCNN
from models.mlp import MLP
from models.mnist_cnn import MnistCNN
from models.softmax import SoftmaxRegression

__all__ = ["MLP", "MnistCNN", "SeedCNN", "SoftmaxRegression", "dogs_vs_cats", "mlp",
           "mnist_cnn", "softmax"]
