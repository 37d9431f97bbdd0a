"""``input_layer`` over plain numeric columns (one stack) equals the general per-column path."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

import estimator as est

fc = est.feature_column


@settings(max_examples=25, deadline=None)
@given(n_columns=st.integers(1, 6), batch=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_plain_numeric_columns_match_the_general_path(n_columns, batch, seed):
    g = torch.Generator().manual_seed(seed)
    features = {f"k{i}": torch.randn(batch, generator=g) for i in range(n_columns)}
    plain = [fc.numeric_column(k) for k in features]
    # an identity normalizer sends every column through the general path
    general = [fc.numeric_column(k, normalizer_fn=lambda t: t) for k in features]
    fast = fc.input_layer(features, plain)
    slow = fc.input_layer(features, general)
    assert fast.shape == (batch, n_columns) and fast.dtype == torch.float32
    assert torch.equal(fast, slow)
    assert torch.equal(fast, torch.stack([features[k] for k in sorted(features)], 1))


def test_mixed_inputs_fall_back_to_the_general_path():
    cols = [fc.numeric_column("a"), fc.numeric_column("b")]
    mixed = fc.input_layer({"a": torch.tensor([1.0, 2.0]), "b": [3, 4]}, cols)
    assert mixed.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    with pytest.raises(KeyError, match="'b'"):
        fc.input_layer({"a": torch.tensor([1.0])}, cols)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):  # as the general path
        fc.input_layer({"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([1.0, 2.0, 3.0])}, cols)
