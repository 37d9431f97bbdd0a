"""``data.Options``: TF's attribute tree, merge rules and how datasets carry options.

Expected values were checked on tf.data 2.21 (``tf.data.Options``).
"""

import logging
import threading
import time

import pytest
import torch

import data
from data.experimental import AutoShardPolicy


def test_unset_options_are_none_and_policy_defaults_to_auto():
    options = data.Options()
    assert options.deterministic is None
    assert options.threading.private_threadpool_size is None
    assert options.threading.max_intra_op_parallelism is None
    assert options.autotune.enabled is None
    assert options.autotune.cpu_budget is None
    assert options.autotune.ram_budget is None
    assert options.experimental_distribute.auto_shard_policy is AutoShardPolicy.AUTO


def test_auto_shard_policy_has_tf_values():
    assert [(p.name, int(p)) for p in AutoShardPolicy] == [
        ("OFF", -1), ("AUTO", 0), ("FILE", 1), ("DATA", 2), ("HINT", 3)]


def test_tf1_spellings_are_the_same_options():
    options = data.Options()
    options.experimental_threading.private_threadpool_size = 5
    options.experimental_deterministic = False
    assert options.threading.private_threadpool_size == 5
    assert options.deterministic is False
    assert options.experimental_threading is options.threading
    options.distribute.auto_shard_policy = AutoShardPolicy.DATA
    assert options.experimental_distribute.auto_shard_policy is AutoShardPolicy.DATA


@pytest.mark.parametrize("path, value", [
    (("deterministic",), 3),
    (("threading", "private_threadpool_size"), 1.5),
    (("autotune", "enabled"), "yes"),
    (("experimental_distribute", "auto_shard_policy"), 1),  # TF wants the enum, not its int
    (("threading",), 3),
])
def test_wrong_type_is_type_error_naming_the_option(path, value):
    target = data.Options()
    for name in path[:-1]:
        target = getattr(target, name)
    with pytest.raises(TypeError, match=f'Property "{path[-1]}" must be of type'):
        setattr(target, path[-1], value)


def test_unknown_option_is_attribute_error():
    with pytest.raises(AttributeError, match="Cannot set the property foo on Options"):
        data.Options().foo = 1
    with pytest.raises(AttributeError, match="bar"):
        data.Options().threading.bar  # noqa: B018


def test_equality_compares_values():
    a, b = data.Options(), data.Options()
    assert a == b
    a.threading.private_threadpool_size = 2
    assert a != b
    b.threading.private_threadpool_size = 2
    assert a == b


def test_later_options_win_and_defaults_never_override(caplog):
    ds = data.Dataset.range(3)
    a = data.Options()
    a.deterministic = False
    a.threading.private_threadpool_size = 2
    b = data.Options()
    b.deterministic = True
    b.autotune.enabled = False
    with caplog.at_level(logging.WARNING, logger="data.options"):
        merged = ds.with_options(a).with_options(b).options()
    assert (merged.deterministic, merged.threading.private_threadpool_size,
            merged.autotune.enabled) == (True, 2, False)
    assert "Changing the value of option deterministic from False to True" in caplog.text
    merged = a.merge(b)
    assert (merged.deterministic, merged.threading.private_threadpool_size) == (True, 2)


def test_transformations_carry_options_and_zip_merges_in_order():
    a = data.Options()
    a.deterministic = False
    a.threading.private_threadpool_size = 2
    b = data.Options()
    b.deterministic = True
    b.autotune.enabled = False
    ds = data.Dataset.range(3)
    assert ds.with_options(a).map(lambda x: x).batch(2).options().deterministic is False
    zipped = data.Dataset.zip((ds.with_options(a), ds.with_options(b))).options()
    assert (zipped.deterministic, zipped.threading.private_threadpool_size,
            zipped.autotune.enabled) == (True, 2, False)
    assert ds.with_options(a).concatenate(ds.with_options(b)).options().deterministic is True


def test_options_returned_by_a_dataset_are_immutable():
    options = data.Dataset.range(2).options()
    with pytest.raises(ValueError, match="with_options"):
        options.deterministic = False
    with pytest.raises(ValueError, match="with_options"):
        options.threading.private_threadpool_size = 1


def test_with_options_copies_its_argument_and_keeps_the_stream():
    options = data.Options()
    options.deterministic = False
    ds = data.Dataset.range(4).with_options(options)
    options.deterministic = True  # later changes to the caller's object do not leak in
    assert ds.options().deterministic is False
    options.threading.private_threadpool_size = 2
    ds = ds.with_options(options)
    ds.options()
    options.threading.private_threadpool_size = 3  # still the caller's, still mutable
    assert ds.options().threading.private_threadpool_size == 2
    assert list(ds) == [0, 1, 2, 3]


def test_with_options_rejects_other_objects():
    with pytest.raises(TypeError, match="data.Options"):
        data.Dataset.range(2).with_options(3)


# -- the engine honours the options ---------------------------------------------------------
def _with(ds, **settings):
    options = data.Options()
    for path, value in settings.items():
        target = options
        *parents, name = path.split("__")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
    return ds.with_options(options)


def _slow_first(x):
    if x == 0:
        time.sleep(0.3)
    return x


def test_deterministic_option_lets_parallel_map_reorder():
    ds = data.Dataset.range(6).map(_slow_first, num_parallel_calls=2)
    assert list(_with(ds, deterministic=True)) == list(range(6))
    out = list(_with(ds, deterministic=False))
    assert sorted(out) == list(range(6)) and out[0] != 0


def test_map_argument_overrides_deterministic_option():
    ds = data.Dataset.range(6).map(_slow_first, num_parallel_calls=2, deterministic=True)
    assert list(_with(ds, deterministic=False)) == list(range(6))


def test_options_set_upstream_apply_to_the_whole_pipeline_and_later_repetitions():
    # with_options after map and repeat still reaches the map built for each repetition.
    ds = data.Dataset.range(4).map(_slow_first, num_parallel_calls=2).repeat(2)
    out = list(_with(ds, deterministic=False))
    assert sorted(out) == [0, 0, 1, 1, 2, 2, 3, 3] and out[0] != 0 and out[4] != 0


def _thread_names(ds):
    return {name for name, in ds}


def test_private_threadpool_size_caps_map_workers():
    ds = data.Dataset.range(40).map(lambda x: (time.sleep(0.002), threading.current_thread().name)[1:],
                                    num_parallel_calls=8)
    assert len(_thread_names(_with(ds, threading__private_threadpool_size=2))) <= 2
    assert len(_thread_names(ds)) > 2


def test_cpu_budget_sets_autotune_parallelism():
    ds = data.Dataset.range(40).map(lambda x: (time.sleep(0.002), threading.current_thread().name)[1:],
                                    num_parallel_calls=data.AUTOTUNE)
    assert len(_thread_names(_with(ds, autotune__cpu_budget=3))) == 3


def test_max_intra_op_parallelism_sets_torch_threads_in_workers():
    ds = data.Dataset.range(4).map(lambda x: torch.get_num_threads(), num_parallel_calls=2)
    assert set(ds) == {1}  # the engine's default: one torch thread per worker
    assert set(_with(ds, threading__max_intra_op_parallelism=2)) == {2}


def _peak_capacity(ds, n):
    it = iter(ds)
    peak = 0
    for _ in range(n):
        next(it)
        peak = max(peak, it._shared.capacity)  # the engine's buffer size (no public view)
    it.close()
    return peak


def _slow_big(x):
    time.sleep(0.005)
    return torch.zeros(256 * 1024, dtype=torch.uint8)  # 256 KiB


def test_autotune_disabled_keeps_buffers_at_their_start_size():
    ds = data.Dataset.range(30).map(_slow_big, num_parallel_calls=2)
    assert _peak_capacity(ds, 30) > 4  # the consumer waits, so the buffer grows
    assert _peak_capacity(_with(ds, autotune__enabled=False), 30) == 4


def test_ram_budget_bounds_buffer_growth():
    ds = data.Dataset.range(30).map(_slow_big, num_parallel_calls=2)
    assert _peak_capacity(_with(ds, autotune__ram_budget=5 * 256 * 1024), 30) <= 5


def test_tf1_optimization_options_are_accepted_and_autotune_spelling_is_used():
    options = data.Options()
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.map_and_batch_fusion = False
    options.experimental_slack = True
    options.experimental_optimization.autotune_cpu_budget = 3
    ds = data.Dataset.range(40).map(
        lambda x: (time.sleep(0.002), threading.current_thread().name)[1:],
        num_parallel_calls=data.AUTOTUNE).with_options(options)
    assert len(_thread_names(ds)) == 3
    with pytest.raises(TypeError, match='Property "map_fusion" must be of type bool'):
        options.experimental_optimization.map_fusion = "yes"


def test_tf1_autotune_false_keeps_buffers_fixed():
    ds = data.Dataset.range(30).map(_slow_big, num_parallel_calls=2)
    options = data.Options()
    options.experimental_optimization.autotune = False
    assert _peak_capacity(ds.with_options(options), 30) == 4


def test_options_reach_datasets_that_interleave_opens():
    inner = lambda x: data.Dataset.range(6).map(_slow_first, num_parallel_calls=2)  # noqa: E731
    ds = data.Dataset.range(1).interleave(inner, cycle_length=1)
    assert list(ds) == list(range(6))
    out = list(_with(ds, deterministic=False))
    assert sorted(out) == list(range(6)) and out[0] != 0
