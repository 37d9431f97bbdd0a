"""Input auto-sharding (tf.data's AutoShardPolicy) and InputContext, in one process."""

from __future__ import annotations

import logging
import os

import pytest
import torch
from hypothesis import given, settings, strategies as st

import data
import estimator as est
from estimator._input import open_input
from estimator.distribute import auto_shard, policy_of
from estimator.distribute._config import DistributeConfig
from estimator.distribute._group import Distribution, LaunchEnv
from estimator.distribute._input import input_state_for, pack_input_states
from estimator.distribute._runtime import Replicas


def _rank(rank: int, world: int = 2) -> Replicas:
    """A rank's runtime for the input side (which needs no process group)."""
    return Replicas(Distribution(LaunchEnv(rank, world, rank, 0), DistributeConfig(),
                                 torch.device("cpu"), None))


def _values(ds) -> list:
    out = []
    for element in ds:
        out.extend(element.tolist() if isinstance(element, torch.Tensor) else [element])
    return out


def _policy(ds, name: str):
    options = data.Options()
    options.distribute.auto_shard_policy = getattr(data.experimental.AutoShardPolicy, name)
    return ds.with_options(options)


@pytest.fixture
def files(tmp_path):
    paths = []
    for i in range(4):
        path = tmp_path / f"part-{i}.txt"
        path.write_text("".join(f"{i}-{j}\n" for j in range(3)))
        paths.append(str(path))
    return paths


def test_list_files_is_sharded_by_file_before_its_shuffle(files):
    pattern = os.path.join(os.path.dirname(files[0]), "*.txt")
    shards = []
    for rank in (0, 1):
        ds = data.Dataset.list_files(pattern, shuffle=True).map(lambda p: os.path.basename(p))
        sharded, how = auto_shard(ds, 2, rank)
        assert how == "FILE"
        shards.append(sorted(sharded))
    assert shards == [["part-0.txt", "part-2.txt"], ["part-1.txt", "part-3.txt"]]


def test_text_line_dataset_over_enough_files_is_sharded_by_file(files):
    sharded, how = auto_shard(data.TextLineDataset(files).batch(2), 2, 1)
    assert how == "FILE"
    assert [x for b in sharded for x in b] == ["1-0", "1-1", "1-2", "3-0", "3-1", "3-2"]


def test_too_few_files_fall_back_to_elements_and_file_policy_refuses(files):
    sharded, how = auto_shard(data.TextLineDataset(files[:1]), 2, 1)
    assert (how, list(sharded)) == ("DATA", ["0-1"])
    with pytest.raises(ValueError, match="auto_shard_policy FILE.*at least 2 files"):
        auto_shard(_policy(data.TextLineDataset(files[:1]), "FILE"), 2, 0)


def test_data_policy_shards_at_the_source_through_elementwise_ops():
    ds = data.Dataset.range(10).map(lambda x: x * 10).batch(2)
    sharded, how = auto_shard(ds, 2, 1)
    assert how == "DATA"
    assert [b.tolist() for b in sharded] == [[10, 30], [50, 70], [90]]


def test_data_shard_stays_below_position_dependent_ops():
    # take(6) keeps its meaning: the first 6 elements are split, not 6 of each shard
    sharded, _ = auto_shard(data.Dataset.range(10).take(6).batch(2), 2, 0)
    assert _values(sharded) == [0, 2, 4]


def test_off_policy_leaves_the_input_whole():
    ds = _policy(data.Dataset.range(4), "OFF")
    sharded, how = auto_shard(ds, 2, 1)
    assert how == "OFF" and list(sharded) == [0, 1, 2, 3]
    assert policy_of(ds) == "OFF" and policy_of(data.Dataset.range(1)) == "AUTO"


def test_hint_policy_is_refused_clearly():
    with pytest.raises(ValueError, match="HINT.*not supported"):
        auto_shard(_policy(data.Dataset.range(4), "HINT"), 2, 0)


def test_an_iterable_that_is_not_a_dataset_is_dealt_out_batch_by_batch():
    sharded, how = auto_shard([0, 1, 2, 3, 4], 2, 0)
    assert how == "DATA" and list(sharded) == [0, 2, 4]
    batches = open_input(lambda: [0, 1, 2, 3, 4], "train", {}, est.RunConfig(device="cpu"), None,
                         _rank(1))
    assert [next(batches), next(batches)] == [1, 3]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 40), world=st.integers(1, 4), batch=st.integers(1, 5),
       shuffle=st.booleans())
def test_shards_partition_the_input(n, world, batch, shuffle):
    def pipeline():
        ds = data.Dataset.range(n)
        if shuffle:
            ds = ds.shuffle(8, seed=3)
        return ds.map(lambda x: x + 100).batch(batch)

    shards = [_values(auto_shard(pipeline(), world, r)[0]) for r in range(world)]
    everything = sorted(v for s in shards for v in s)
    assert everything == list(range(100, 100 + n))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_input_fn_taking_input_context_gets_it_and_is_not_auto_sharded():
    seen = []

    def input_fn(input_context):
        seen.append(input_context)
        return data.Dataset.range(6).shard(input_context.num_input_pipelines,
                                           input_context.input_pipeline_id)

    batches = open_input(input_fn, "train", {}, est.RunConfig(), None, _rank(1))
    assert list(batches) == [1, 3, 5]
    ctx = seen[0]
    assert isinstance(ctx, est.InputContext)
    assert (ctx.num_input_pipelines, ctx.input_pipeline_id, ctx.num_replicas_in_sync) == (2, 1, 2)


def test_other_input_fns_are_auto_sharded_per_rank():
    batches = open_input(lambda: data.Dataset.range(6), "train", {}, est.RunConfig(), None,
                         _rank(0))
    assert list(batches) == [0, 2, 4]


def test_input_context_matches_tf():
    ctx = est.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=4)
    assert ctx.get_per_replica_batch_size(64) == 16
    with pytest.raises(ValueError, match="`global_batch_size` 6 is not divisible by "
                                         "`num_replicas_in_sync` 4"):
        ctx.get_per_replica_batch_size(6)
    with pytest.raises(ValueError, match="input_pipeline_id must be < num_input_pipelines"):
        est.InputContext(2, 2)
    default = est.InputContext()
    assert (default.num_input_pipelines, default.input_pipeline_id) == (1, 0)


def test_per_rank_input_states_resume_only_with_the_same_world_size(caplog):
    saved = pack_input_states([{"pos": 0}, {"pos": 1}])
    assert input_state_for(saved, _rank(1).distribution) == {"pos": 1}
    with caplog.at_level(logging.WARNING, logger="estimator"):
        assert input_state_for(saved, _rank(1, world=3).distribution) is None
        assert input_state_for(saved, None) is None
    assert caplog.text.count("written by 2 process(es)") == 2
    assert input_state_for({"pos": 5}, None) == {"pos": 5}  # a single-process checkpoint


def test_tfrecord_dataset_is_sharded_by_file(tmp_path):
    paths = []
    for i in range(3):
        path = str(tmp_path / f"part-{i}.tfrecord")
        with data.io.TFRecordWriter(path) as writer:
            for j in range(2):
                writer.write(f"{i}-{j}".encode())
        paths.append(path)
    sharded, how = auto_shard(data.TFRecordDataset(paths).map(bytes.decode), 2, 0)
    assert how == "FILE"
    assert list(sharded) == ["0-0", "0-1", "2-0", "2-1"]
