"""The ``>>>`` examples in ``estimator.feature_column`` run and print what they show."""

import doctest
import importlib

import pytest

import estimator.feature_column as fc

MODULES = ["estimator.feature_column", "estimator.feature_column._hash",
           "estimator.feature_column._layers", "estimator.feature_column.categorical",
           "estimator.feature_column.crossed", "estimator.feature_column.dense",
           "estimator.feature_column.numeric"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={k: getattr(fc, k) for k in fc.__all__},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0 or name.endswith(("_hash",))
