"""examples/census_wide_deep.py: wide, deep and wide-and-deep on generated census rows."""

import pytest
import torch

from example_loader import load_example

census = load_example("census_wide_deep")


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_columns_cover_every_kind():
    wide, deep = census.build_columns()
    kinds = {type(c).__name__ for c in wide + deep}
    assert {"NumericColumn", "BucketizedColumn", "VocabularyListCategoricalColumn",
            "HashedCategoricalColumn", "CrossedColumn", "EmbeddingColumn",
            "IndicatorColumn"} <= kinds


def test_wide_and_deep_learns_beyond_the_baseline(tmp_path):
    results = census.main(["--model-dir", str(tmp_path), "--train-rows", "3000",
                           "--test-rows", "1000", "--epochs", "2", "--batch-size", "40"])
    assert results["global_step"] == 150
    assert results["auc"] > 0.6
    assert results["accuracy"] > results["accuracy_baseline"]


def test_wide_model_learns_the_crossed_interactions(tmp_path):
    results = census.main(["--model-dir", str(tmp_path), "--model-type", "wide",
                           "--train-rows", "3000", "--test-rows", "1000", "--epochs", "2"])
    assert results["accuracy"] > results["accuracy_baseline"] + 0.1
