"""Wide-and-deep census income classifier on generated census-style rows, on this library.

    python examples/census_wide_deep.py --model-type wide_deep --train-rows 20000

The columns are those of TF's census wide-and-deep tutorial: numeric ``age``,
``education_num``, ``capital_gain``, ``capital_loss``, ``hours_per_week`` (standardized with
``normalizer_fn`` for the deep part); ``age`` bucketized;
vocabulary columns ``education``, ``marital_status``, ``relationship``, ``workclass``; hashed
``occupation``; crossed ``education x occupation`` and ``age_buckets x education x occupation``.
The wide part (``LinearClassifier``) sees the categorical and crossed columns, the deep part
(``DNNClassifier``) numeric columns, indicator columns and embeddings. ``--model-type`` picks
``wide``, ``deep`` or ``wide_deep`` (``DNNLinearCombinedClassifier``).

The rows are generated, not downloaded: a logistic rule over the same kinds of features (with
interactions the crossed columns can learn) gives the ``>50K`` label, so the figures are those
of the generator, not of the real census data.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import data  # noqa: E402
import estimator as est  # noqa: E402

fc = est.feature_column

EDUCATION = ["Bachelors", "HS-grad", "11th", "Masters", "9th", "Some-college", "Assoc-acdm",
             "Assoc-voc", "7th-8th", "Doctorate", "Prof-school", "5th-6th", "10th", "1st-4th",
             "Preschool", "12th"]
MARITAL = ["Married-civ-spouse", "Divorced", "Married-spouse-absent", "Never-married",
           "Separated", "Married-AF-spouse", "Widowed"]
RELATIONSHIP = ["Husband", "Not-in-family", "Wife", "Own-child", "Unmarried", "Other-relative"]
WORKCLASS = ["Self-emp-not-inc", "Private", "State-gov", "Federal-gov", "Local-gov", "?",
             "Self-emp-inc", "Without-pay", "Never-worked"]
OCCUPATIONS = [f"occupation-{i}" for i in range(40)]


def generate(rows: int, seed: int) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Census-style rows and a ``>50K`` label (0/1) from a fixed logistic rule."""
    rng = np.random.RandomState(seed)
    rule = np.random.RandomState(12345)  # the same rule for every split
    edu_effect = rule.normal(0, 1, len(EDUCATION))
    occ_effect = rule.normal(0, 1, len(OCCUPATIONS))
    pair_effect = rule.normal(0, 1.5, (len(EDUCATION), len(OCCUPATIONS)))
    age = rng.randint(17, 80, rows)
    education = rng.randint(0, len(EDUCATION), rows)
    occupation = rng.randint(0, len(OCCUPATIONS), rows)
    marital = rng.randint(0, len(MARITAL), rows)
    hours = rng.randint(10, 80, rows)
    gain = np.where(rng.rand(rows) < 0.1, rng.exponential(5000, rows), 0.0)
    score = (edu_effect[education] + occ_effect[occupation]
             + pair_effect[education, occupation]
             - 0.002 * (age - 45) ** 2 + 0.8 * (marital == 0) + 0.02 * (hours - 40)
             + 0.0002 * gain - 0.5)
    label = (score + rng.logistic(0, 0.5, rows) > 0).astype(np.int64)
    features = {
        "age": age.astype(np.float32),
        "education_num": (education % 16 + 1).astype(np.float32),
        "capital_gain": gain.astype(np.float32),
        "capital_loss": np.where(rng.rand(rows) < 0.05, rng.exponential(1000, rows),
                                 0.0).astype(np.float32),
        "hours_per_week": hours.astype(np.float32),
        "education": np.array(EDUCATION)[education],
        "marital_status": np.array(MARITAL)[marital],
        "relationship": np.array(RELATIONSHIP)[rng.randint(0, len(RELATIONSHIP), rows)],
        "workclass": np.array(WORKCLASS)[rng.randint(0, len(WORKCLASS), rows)],
        "occupation": np.array(OCCUPATIONS)[occupation],
    }
    return features, label


def build_columns() -> Tuple[List[Any], List[Any]]:
    """The tutorial's wide and deep columns."""
    age = fc.numeric_column("age")
    # the deep part gets standardized inputs (the tutorial fed them raw; capital gains in the
    # thousands next to ages in tens slow a DNN at the default learning rates)
    numeric = [fc.numeric_column("age", normalizer_fn=lambda x: (x - 48.0) / 18.0),
               fc.numeric_column("education_num", normalizer_fn=lambda x: (x - 8.5) / 4.6),
               fc.numeric_column("capital_gain", normalizer_fn=lambda x: x.log1p() / 10.0),
               fc.numeric_column("capital_loss", normalizer_fn=lambda x: x.log1p() / 8.0),
               fc.numeric_column("hours_per_week", normalizer_fn=lambda x: (x - 45.0) / 20.0)]
    education = fc.categorical_column_with_vocabulary_list("education", EDUCATION)
    marital = fc.categorical_column_with_vocabulary_list("marital_status", MARITAL)
    relationship = fc.categorical_column_with_vocabulary_list("relationship", RELATIONSHIP)
    workclass = fc.categorical_column_with_vocabulary_list("workclass", WORKCLASS)
    occupation = fc.categorical_column_with_hash_bucket("occupation", hash_bucket_size=1000)
    age_buckets = fc.bucketized_column(age, [18, 25, 30, 35, 40, 45, 50, 55, 60, 65])
    base = [education, marital, relationship, workclass, occupation, age_buckets]
    crossed = [fc.crossed_column(["education", "occupation"], hash_bucket_size=1000),
               fc.crossed_column([age_buckets, "education", "occupation"], hash_bucket_size=1000)]
    deep = numeric + [fc.indicator_column(c) for c in (workclass, education, marital,
                                                        relationship)]
    deep.append(fc.embedding_column(occupation, dimension=8))
    return base + crossed, deep


def build_estimator(model_dir: str, model_type: str, seed: int) -> est.Estimator:
    """The tutorial's estimators, with TF 1.x's loss reduction (a sum over the batch), under
    which the tutorial's default learning rates were chosen."""
    wide, deep = build_columns()
    config = est.RunConfig(tf_random_seed=seed)
    hidden = [100, 75, 50, 25]
    if model_type == "wide":
        return est.LinearClassifier(wide, model_dir=model_dir, config=config,
                                    loss_reduction="sum")
    if model_type == "deep":
        return est.DNNClassifier(hidden, deep, model_dir=model_dir, config=config,
                                 loss_reduction="sum")
    return est.DNNLinearCombinedClassifier(model_dir=model_dir, linear_feature_columns=wide,
                                           dnn_feature_columns=deep, dnn_hidden_units=hidden,
                                           config=config, loss_reduction="sum")


def input_fn(features: Dict[str, np.ndarray], labels: np.ndarray, epochs: int, shuffle: bool,
             batch_size: int):
    def fn():
        ds = data.Dataset.from_tensor_slices((features, labels))
        if shuffle:
            ds = ds.shuffle(10 * batch_size)
        return ds.repeat(epochs).batch(batch_size)
    return fn


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default="./census_model")
    parser.add_argument("--model-type", choices=["wide", "deep", "wide_deep"],
                        default="wide_deep")
    parser.add_argument("--train-rows", type=int, default=20000)
    parser.add_argument("--test-rows", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train = generate(args.train_rows, args.seed)
    test = generate(args.test_rows, args.seed + 1)
    model = build_estimator(args.model_dir, args.model_type, args.seed)
    model.train(input_fn(*train, epochs=args.epochs, shuffle=True, batch_size=args.batch_size))
    results = model.evaluate(input_fn(*test, epochs=1, shuffle=False,
                                      batch_size=args.batch_size))
    for key in sorted(results):
        print(f"{key}: {results[key]}")
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
