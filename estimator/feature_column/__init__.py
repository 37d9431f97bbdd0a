"""``est.feature_column``: TF's feature columns, ``input_layer`` and ``linear_model``.

A feature column says how one raw feature (a key of the ``features`` dict) becomes model input:
dense columns (:func:`numeric_column`, :func:`bucketized_column`, :func:`indicator_column`,
:func:`embedding_column`) give floats for :func:`input_layer`; categorical columns (vocabulary,
identity, hash bucket, crossed, weighted, and bucketized) give ids, for :func:`linear_model`,
indicator and embedding columns. Names, arguments and outputs follow ``tf.feature_column``;
hashing is TF's ``Fingerprint64``, so hashed and out-of-vocabulary ids equal TF's.

>>> import torch, estimator as est
>>> fc = est.feature_column
>>> cols = [fc.numeric_column("age"),
...         fc.indicator_column(fc.categorical_column_with_vocabulary_list("sex", ["f", "m"]))]
>>> fc.input_layer({"age": torch.tensor([31.0, 40.0]), "sex": ["m", "f"]}, cols)
tensor([[31.,  0.,  1.],
        [40.,  1.,  0.]])
"""

from estimator.feature_column._base import CategoricalColumn, DenseColumn, FeatureColumn
from estimator.feature_column._layers import input_layer, linear_model
from estimator.feature_column.categorical import (categorical_column_with_hash_bucket,
                                                  categorical_column_with_identity,
                                                  categorical_column_with_vocabulary_file,
                                                  categorical_column_with_vocabulary_list,
                                                  weighted_categorical_column)
from estimator.feature_column.crossed import crossed_column
from estimator.feature_column.dense import (embedding_column, indicator_column,
                                            shared_embedding_columns, shared_embeddings)
from estimator.feature_column.numeric import bucketized_column, numeric_column

__all__ = [
    "CategoricalColumn",
    "DenseColumn",
    "FeatureColumn",
    "bucketized_column",
    "categorical_column_with_hash_bucket",
    "categorical_column_with_identity",
    "categorical_column_with_vocabulary_file",
    "categorical_column_with_vocabulary_list",
    "crossed_column",
    "embedding_column",
    "indicator_column",
    "input_layer",
    "linear_model",
    "numeric_column",
    "shared_embedding_columns",
    "shared_embeddings",
    "weighted_categorical_column",
]
