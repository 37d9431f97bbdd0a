"""The checkpoint file layer: atomic writes, index, pruning, fallback, safety, lock, RNG."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estimator import checkpoint as ckpt

Point = collections.namedtuple("Point", "x y")


def _model(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"dense/weight": torch.randn(3, 2, generator=g),
            "dense/bias": torch.randn(3, generator=g)}


def _files(d) -> list:
    """The files in ``d`` but the ``.sha256`` sidecars (checked on their own below)."""
    return sorted(e for e in os.listdir(d) if not e.endswith(".sha256"))


def _index(d) -> str:
    with open(os.path.join(d, "checkpoint")) as f:
        return f.read()


# -- saving and the index ----------------------------------------------------------------------
def test_save_writes_checkpoint_and_tf_shaped_index(tmp_path):
    path = ckpt.save(tmp_path, 7, {"model": _model()}, keep_max=5)
    assert path == os.path.join(str(tmp_path), "model.ckpt-7.pt")
    assert _files(tmp_path) == ["checkpoint", "model.ckpt-7.pt"]
    index = _index(tmp_path).splitlines()
    assert index[0] == 'model_checkpoint_path: "model.ckpt-7.pt"'
    assert 'all_model_checkpoint_paths: "model.ckpt-7.pt"' in index


def test_load_round_trips_every_payload_key(tmp_path):
    model = _model()
    net = torch.nn.Linear(2, 3)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.ones(1, 2)).sum().backward()
    opt.step()
    ckpt.save(tmp_path, 3, {"model": model, "optimizers": {"default": opt.state_dict()},
                            "rng": ckpt.capture_rng_state(), "input_state": {"pos": 4},
                            "scope": {"names": ["dense"]}})
    loaded = ckpt.load(tmp_path)
    assert loaded["format_version"] == ckpt.FORMAT_VERSION
    assert loaded["global_step"] == 3 and isinstance(loaded["global_step"], int)
    assert set(loaded["model"]) == set(model)
    assert all(torch.equal(loaded["model"][k], model[k]) for k in model)
    restored = torch.optim.Adam(torch.nn.Linear(2, 3).parameters(), lr=0.5)
    restored.load_state_dict(loaded["optimizers"]["default"])
    assert restored.param_groups[0]["lr"] == 0.01
    assert loaded["input_state"] == {"pos": 4}
    assert loaded["scope"] == {"names": ["dense"]}


def test_save_fills_missing_optional_keys(tmp_path):
    ckpt.save(tmp_path, 0, {"model": _model()})
    loaded = ckpt.load(tmp_path)
    assert loaded["optimizers"] == {} and loaded["scope"] == {}
    assert loaded["rng"] is None and loaded["input_state"] is None


def test_save_unknown_payload_key_raises(tmp_path):
    with pytest.raises(ValueError, match="optimiser"):
        ckpt.save(tmp_path, 1, {"model": _model(), "optimiser": {}})


def test_save_negative_step_raises(tmp_path):
    with pytest.raises(ValueError, match="global_step"):
        ckpt.save(tmp_path, -1, {"model": _model()})


def test_save_negative_keep_max_raises(tmp_path):
    with pytest.raises(ValueError, match="keep_max"):
        ckpt.save(tmp_path, 1, {"model": _model()}, keep_max=-1)


def test_index_is_written_after_the_checkpoint_file(tmp_path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def recording_replace(src, dst):
        replaced.append(os.path.basename(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    ckpt.save(tmp_path, 5, {"model": _model()})
    assert replaced == ["model.ckpt-5.pt.sha256", "model.ckpt-5.pt", "checkpoint"]


def test_crash_before_rename_keeps_previous_checkpoint(tmp_path, monkeypatch):
    ckpt.save(tmp_path, 1, {"model": _model(1)})
    index_before = _index(tmp_path)

    def crash(src, dst):
        raise OSError("simulated crash between temp write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        ckpt.save(tmp_path, 2, {"model": _model(2)})
    monkeypatch.undo()
    assert _files(tmp_path) == ["checkpoint", "model.ckpt-1.pt"]  # no temp file left
    assert _index(tmp_path) == index_before
    loaded = ckpt.load(tmp_path)
    assert loaded["global_step"] == 1
    assert torch.equal(loaded["model"]["dense/bias"], _model(1)["dense/bias"])


def test_checkpoint_newer_than_index_is_not_used(tmp_path, monkeypatch):
    # Killed after the file's rename, before the index's: the index is the commit point.
    ckpt.save(tmp_path, 1, {"model": _model(1)})
    real_replace = os.replace

    def crash_on_index(src, dst):
        if os.path.basename(dst) == "checkpoint":
            raise OSError("simulated crash before the index write")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_index)
    with pytest.raises(OSError):
        ckpt.save(tmp_path, 2, {"model": _model(2)})
    monkeypatch.undo()
    assert ckpt.latest_checkpoint(tmp_path) == os.path.join(str(tmp_path), "model.ckpt-1.pt")
    assert ckpt.load(tmp_path)["global_step"] == 1


def test_stale_temp_file_of_dead_writer_is_ignored_and_removed(tmp_path):
    ckpt.save(tmp_path, 1, {"model": _model()})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".model.ckpt-2.pt.tmp.{dead.pid}"
    stale.write_bytes(b"half a checkpoint")
    assert ckpt.latest_checkpoint(tmp_path).endswith("model.ckpt-1.pt")
    ckpt.save(tmp_path, 3, {"model": _model()})
    assert _files(tmp_path) == ["checkpoint", "model.ckpt-1.pt", "model.ckpt-3.pt"]


def test_keep_max_prunes_oldest_checkpoints(tmp_path):
    for step in range(1, 6):
        ckpt.save(tmp_path, step * 10, {"model": _model(step)}, keep_max=2)
    assert _files(tmp_path) == ["checkpoint", "model.ckpt-40.pt", "model.ckpt-50.pt"]
    index = _index(tmp_path)
    assert index.count("all_model_checkpoint_paths") == 2
    assert '"model.ckpt-40.pt"' in index and '"model.ckpt-30.pt"' not in index


@pytest.mark.parametrize("keep_max", [None, 0])
def test_keep_max_none_or_zero_keeps_all(tmp_path, keep_max):
    for step in range(4):
        ckpt.save(tmp_path, step, {"model": _model()}, keep_max=keep_max)
    assert _files(tmp_path) == ["checkpoint"] + [f"model.ckpt-{s}.pt" for s in range(4)]


def test_resaving_a_step_keeps_one_index_entry(tmp_path):
    ckpt.save(tmp_path, 1, {"model": _model()}, keep_max=3)
    ckpt.save(tmp_path, 2, {"model": _model()}, keep_max=3)
    ckpt.save(tmp_path, 2, {"model": _model(9)}, keep_max=3)
    assert _index(tmp_path).count('"model.ckpt-2.pt"') == 2  # latest + one list entry
    assert torch.equal(ckpt.load(tmp_path)["model"]["dense/bias"], _model(9)["dense/bias"])


def test_pruning_resumes_from_an_existing_index(tmp_path):
    for step in (1, 2, 3):
        ckpt.save(tmp_path, step, {"model": _model()}, keep_max=0)
    ckpt.save(tmp_path, 4, {"model": _model()}, keep_max=2)
    assert _files(tmp_path) == ["checkpoint", "model.ckpt-3.pt", "model.ckpt-4.pt"]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True).map(sorted),
       keep_max=st.integers(0, 4))
def test_retained_checkpoints_are_the_newest_keep_max(tmp_path_factory, steps, keep_max):
    d = tmp_path_factory.mktemp("prune")
    for step in steps:
        ckpt.save(d, step, {"model": {}}, keep_max=keep_max)
    kept = steps[-keep_max:] if keep_max else steps
    assert _files(d) == sorted(["checkpoint"] + [f"model.ckpt-{s}.pt" for s in kept])
    listed = [line.split('"')[1] for line in _index(d).splitlines()
              if line.startswith("all_model_checkpoint_paths")]
    assert listed == [f"model.ckpt-{s}.pt" for s in kept]
    assert ckpt.latest_checkpoint(d) == os.path.join(str(d), f"model.ckpt-{steps[-1]}.pt")


# -- finding -----------------------------------------------------------------------------------
def test_latest_checkpoint_of_empty_or_missing_dir_is_none(tmp_path):
    assert ckpt.latest_checkpoint(tmp_path) is None
    assert ckpt.latest_checkpoint(tmp_path / "nope") is None


def test_latest_checkpoint_scans_when_index_is_missing(tmp_path):
    for step in (5, 40, 9):
        ckpt.save(tmp_path, step, {"model": _model()})
    os.remove(tmp_path / "checkpoint")
    assert ckpt.latest_checkpoint(tmp_path) == os.path.join(str(tmp_path), "model.ckpt-40.pt")
    assert ckpt.load(tmp_path)["global_step"] == 40


def test_latest_checkpoint_never_returns_a_missing_file(tmp_path):
    ckpt.save(tmp_path, 1, {"model": _model()})
    ckpt.save(tmp_path, 2, {"model": _model()})
    os.remove(tmp_path / "model.ckpt-2.pt")
    assert ckpt.latest_checkpoint(tmp_path) == os.path.join(str(tmp_path), "model.ckpt-1.pt")


# -- corrupt files and fallback ------------------------------------------------------------------
def _truncate(path, keep: float = 0.5) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(int(size * keep))


def test_truncated_latest_warns_naming_it_and_falls_back(tmp_path):
    ckpt.save(tmp_path, 1, {"model": _model(1)})
    ckpt.save(tmp_path, 2, {"model": _model(2)})
    _truncate(tmp_path / "model.ckpt-2.pt")
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-2\.pt") as record:
        loaded = ckpt.load(tmp_path)
    assert "model.ckpt-1.pt" in str(record[0].message)  # names the fallback too
    assert loaded["global_step"] == 1
    assert torch.equal(loaded["model"]["dense/weight"], _model(1)["dense/weight"])


def test_garbage_latest_falls_back(tmp_path):
    ckpt.save(tmp_path, 1, {"model": _model(1)})
    ckpt.save(tmp_path, 2, {"model": _model(2)})
    (tmp_path / "model.ckpt-2.pt").write_bytes(os.urandom(500))
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-2\.pt"):
        assert ckpt.load(tmp_path)["global_step"] == 1


def test_no_loadable_checkpoint_raises_naming_dir(tmp_path):
    ckpt.save(tmp_path, 1, {"model": _model()})
    ckpt.save(tmp_path, 2, {"model": _model()})
    _truncate(tmp_path / "model.ckpt-1.pt")
    (tmp_path / "model.ckpt-2.pt").write_bytes(b"")
    with pytest.raises(ckpt.CorruptCheckpointError, match="no loadable checkpoint") as info:
        ckpt.load(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "model.ckpt-1.pt" in message and "model.ckpt-2.pt" in message


def test_load_from_dir_without_checkpoints_raises_not_found(tmp_path):
    with pytest.raises(ckpt.CheckpointNotFoundError, match=str(tmp_path)):
        ckpt.load(tmp_path)


def test_load_missing_file_raises_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.ckpt-3.pt"):
        ckpt.load(tmp_path / "model.ckpt-3.pt")


def test_explicit_corrupt_file_raises_naming_it(tmp_path):
    path = ckpt.save(tmp_path, 1, {"model": _model()})
    _truncate(path, 0.3)
    with pytest.raises(ckpt.CorruptCheckpointError, match=r"model\.ckpt-1\.pt"):
        ckpt.load(path)


def test_load_accepts_tf_style_prefix(tmp_path):
    ckpt.save(tmp_path, 12, {"model": _model()})
    assert ckpt.load(os.path.join(str(tmp_path), "model.ckpt-12"))["global_step"] == 12


class _RunsCode:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_file_that_would_run_code_is_refused(tmp_path):
    sentinel = tmp_path / "pwned"
    bad = tmp_path / "model.ckpt-9.pt"
    torch.save({"format_version": 1, "model": {"x": _RunsCode(str(sentinel))}}, bad)
    with pytest.raises(ckpt.CorruptCheckpointError, match="run code"):
        ckpt.load(bad)
    assert not sentinel.exists()


def test_code_carrying_latest_in_model_dir_is_skipped(tmp_path):
    sentinel = tmp_path / "pwned"
    ckpt.save(tmp_path, 1, {"model": _model()})
    torch.save({"evil": _RunsCode(str(sentinel))}, tmp_path / "model.ckpt-1.pt.new")
    os.replace(tmp_path / "model.ckpt-1.pt.new", tmp_path / "model.ckpt-5.pt")
    os.remove(tmp_path / "checkpoint")
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-5\.pt"):
        assert ckpt.load(tmp_path)["global_step"] == 1
    assert not sentinel.exists()


def test_newer_format_version_raises(tmp_path):
    path = tmp_path / "model.ckpt-1.pt"
    torch.save({"format_version": ckpt.FORMAT_VERSION + 1, "global_step": 1, "model": {}}, path)
    with pytest.raises(ckpt.CheckpointFormatError, match="newer"):
        ckpt.load(path)


def test_plain_state_dict_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(_model(), path)
    with pytest.raises(ckpt.CheckpointFormatError, match="format_version"):
        ckpt.load(path)


# -- free-form state under weights_only -----------------------------------------------------------
_leaf = st.one_of(
    st.integers(-2**62, 2**62), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.text(max_size=5), st.binary(max_size=5),
    st.lists(st.integers(-100, 100), min_size=1, max_size=4).map(torch.tensor),
    st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=4).map(np.array),
    st.integers(-100, 100).map(np.int64), st.floats(-1e3, 1e3).map(np.float64),
    st.tuples(st.integers(), st.text(max_size=3)).map(lambda t: Point(*t)),
)
_state = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 9)), inner, max_size=3),
), max_leaves=12)


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=_state)
def test_input_state_round_trips_exactly_under_weights_only(tmp_path, state):
    ckpt.save(tmp_path, 1, {"model": {}, "input_state": {"upstream": state},
                            "scope": {"s": state}})
    loaded = ckpt.load(tmp_path)
    assert _same(loaded["input_state"], {"upstream": state})
    assert _same(loaded["scope"], {"s": state})


def test_engine_like_state_with_empty_bytes_round_trips(tmp_path):
    # b"" pickles (protocol 2) as a call that weights_only refuses; it must still come back.
    state = {"op": "shuffle", "exhausted": False, "seed": (12, 34), "epoch": 2,
             "buffer": [(b"", "a.jpg", 3, torch.ones(2)),
                        (b"\xff\xd8", "b.jpg", 0, torch.zeros(2))],
             "keys": {b"": 1, (1, "x"): 2}, "seen": {b"a", b""}, "frozen": frozenset({1, "b"})}
    ckpt.save(tmp_path, 1, {"model": {}, "input_state": state})
    assert _same(ckpt.load(tmp_path)["input_state"], state)


def test_bytes_in_state_are_stored_compactly(tmp_path):
    blob = bytes(range(128, 256)) * 800  # 100 KB of non-ASCII bytes, like JPEG contents
    path = ckpt.save(tmp_path, 1, {"model": {}, "input_state": {"contents": blob}})
    assert os.path.getsize(path) < 110_000
    assert ckpt.load(path)["input_state"]["contents"] == blob


def test_file_bytes_keep_their_class_and_path(tmp_path):
    import data

    (tmp_path / "a.bin").write_bytes(b"\x00\x01")
    contents = data.io.read_file(str(tmp_path / "a.bin"))
    ckpt.save(tmp_path / "m", 1, {"model": {}, "input_state": {"buffer": [contents]}})
    restored = ckpt.load(tmp_path / "m")["input_state"]["buffer"][0]
    assert type(restored) is data.io.FileBytes and restored == b"\x00\x01"
    assert restored.path == str(tmp_path / "a.bin")


def test_namedtuple_state_comes_back_as_its_class(tmp_path):
    ckpt.save(tmp_path, 1, {"model": {}, "input_state": {"buffer": [Point(1, "a")]}})
    element = ckpt.load(tmp_path)["input_state"]["buffer"][0]
    assert type(element) is Point and element == Point(1, "a")


def test_dict_using_the_tag_key_round_trips(tmp_path):
    state = {"__estimator_ckpt_type__": "ndarray", "data": 3}
    ckpt.save(tmp_path, 1, {"model": {}, "input_state": state})
    assert ckpt.load(tmp_path)["input_state"] == state


def test_generator_in_state_round_trips(tmp_path):
    gen = torch.Generator().manual_seed(3)
    ckpt.save(tmp_path, 1, {"model": {}, "input_state": {"gen": gen}})
    restored = ckpt.load(tmp_path)["input_state"]["gen"]
    assert torch.equal(torch.rand(4, generator=restored), torch.rand(4, generator=gen))


def test_unsupported_state_value_raises_naming_its_path(tmp_path):
    with pytest.raises(TypeError, match=r"input_state\['buffer'\]\[1\].*object"):
        ckpt.save(tmp_path, 1, {"model": {}, "input_state": {"buffer": [1, object()]}})
    assert ckpt.latest_checkpoint(tmp_path) is None


def test_small_view_of_large_tensor_is_saved_compactly(tmp_path):
    big = torch.zeros(1_000_000)
    path = ckpt.save(tmp_path, 1, {"model": {}, "input_state": {"element": big[:4]}})
    assert os.path.getsize(path) < 100_000
    assert torch.equal(ckpt.load(path)["input_state"]["element"], torch.zeros(4))


# -- RNG state -----------------------------------------------------------------------------------
def _draws():
    return (torch.rand(5), torch.randn(3), np.random.rand(4), np.random.normal(size=3),
            random.random(), random.gauss(0, 1))


def _assert_draws_equal(a, b):
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[3], b[3])
    assert a[4] == b[4] and a[5] == b[5]


def test_rng_state_round_trip_reproduces_draws():
    random.gauss(0, 1)  # leaves a cached gaussian in Python's and numpy's generators
    np.random.normal()
    state = ckpt.capture_rng_state()
    first = _draws()
    ckpt.restore_rng_state(state)
    _assert_draws_equal(first, _draws())


def test_rng_state_survives_save_and_weights_only_load(tmp_path):
    torch.manual_seed(11)
    np.random.seed(11)
    random.seed(11)
    np.random.normal()
    random.gauss(0, 1)
    ckpt.save(tmp_path, 1, {"model": {}, "rng": ckpt.capture_rng_state()})
    first = _draws()
    _draws()  # move every generator on
    ckpt.restore_rng_state(ckpt.load(tmp_path)["rng"])
    _assert_draws_equal(first, _draws())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_rng_state_round_trip(tmp_path):
    torch.cuda.manual_seed_all(5)
    torch.rand(1, device="cuda")
    ckpt.save(tmp_path, 1, {"model": {}, "rng": ckpt.capture_rng_state()})
    first = torch.rand(8, device="cuda")
    ckpt.restore_rng_state(ckpt.load(tmp_path)["rng"])
    assert torch.equal(first, torch.rand(8, device="cuda"))


# -- lock ---------------------------------------------------------------------------------------
def test_second_lock_in_same_process_raises_naming_dir_and_pid(tmp_path):
    with ckpt.ModelDirLock(tmp_path):
        with pytest.raises(ckpt.ModelDirLockedError) as info:
            ckpt.ModelDirLock(tmp_path).acquire()
    assert str(tmp_path) in str(info.value) and str(os.getpid()) in str(info.value)


def test_lock_is_released_on_exit(tmp_path):
    with ckpt.ModelDirLock(tmp_path):
        pass
    with ckpt.ModelDirLock(tmp_path) as lock:
        assert lock.held


_HOLDER = textwrap.dedent("""
    import sys, time
    from estimator.checkpoint import ModelDirLock
    lock = ModelDirLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(60)
""")


def _start_holder(model_dir):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(model_dir)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_held_by_another_process_raises_with_its_pid(tmp_path):
    proc = _start_holder(tmp_path)
    try:
        with pytest.raises(ckpt.ModelDirLockedError, match=rf"process {proc.pid}\b"):
            ckpt.ModelDirLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()


def test_killed_holder_releases_the_lock(tmp_path):
    proc = _start_holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with ckpt.ModelDirLock(tmp_path) as lock:
        assert lock.held


def test_other_process_cannot_lock_while_held_here(tmp_path):
    with ckpt.ModelDirLock(tmp_path):
        result = subprocess.run([sys.executable, "-c", _HOLDER, str(tmp_path)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ModelDirLockedError" in result.stderr and str(os.getpid()) in result.stderr


# -- model names and warm start ------------------------------------------------------------------
def test_check_model_names_lists_missing_and_unexpected():
    with pytest.raises(ckpt.CheckpointMismatchError) as info:
        ckpt.check_model_names(["a/w", "b/w"], ["a/w", "c/w"], checkpoint="x/model.ckpt-1.pt")
    message = str(info.value)
    assert "missing from the checkpoint (in the model, not saved): c/w" in message
    assert "unexpected in the checkpoint (saved, not in the model): b/w" in message
    assert "x/model.ckpt-1.pt" in message


def test_check_model_names_reports_shape_mismatch():
    with pytest.raises(ckpt.CheckpointMismatchError,
                       match=r"w: checkpoint \(2,\) vs model \(3,\)"):
        ckpt.check_model_names({"w": torch.zeros(2)}, {"w": torch.zeros(3)})


def test_check_model_names_accepts_matching_names():
    assert ckpt.check_model_names({"w": torch.zeros(2)}, {"w": torch.ones(2)}) is None


def test_read_variables_holds_model_variables_and_global_step(tmp_path):
    ckpt.save(tmp_path, 42, {"model": _model(), "optimizers": {"o": {"state": {}}}})
    variables = ckpt.read_variables(tmp_path)
    assert sorted(variables) == ["dense/bias", "dense/weight", "global_step"]
    assert variables["global_step"].item() == 42


def _source(tmp_path):
    # Checkpoints spell names as state_dict keys (dots); users may write TF paths (slashes).
    model = {"conv2d.kernel": torch.ones(2), "conv2d.bias": torch.zeros(2),
             "dense.kernel": torch.full((3,), 2.0), "bn.running_mean": torch.full((2,), 5.0)}
    opt = {"default": {"state": {0: {"momentum_buffer": torch.ones(2)}}, "param_groups": []}}
    ckpt.save(tmp_path, 100, {"model": model, "optimizers": opt})
    return model


def test_warm_start_default_takes_all_model_variables_only(tmp_path):
    model = _source(tmp_path)
    state = ckpt.warm_start_state(str(tmp_path))
    assert sorted(state) == sorted(model)  # no global_step, no optimizer state


def test_warm_start_from_a_file_path(tmp_path):
    _source(tmp_path)
    state = ckpt.warm_start_state(tmp_path / "model.ckpt-100.pt")
    assert torch.equal(state["dense.kernel"], torch.full((3,), 2.0))


def test_warm_start_regex_selects_from_the_start_of_names(tmp_path):
    _source(tmp_path)
    settings_ = ckpt.WarmStartSettings(str(tmp_path), vars_to_warm_start="conv2d/")
    assert sorted(ckpt.warm_start_state(settings_)) == ["conv2d.bias", "conv2d.kernel"]
    settings_ = ckpt.WarmStartSettings(str(tmp_path), vars_to_warm_start="kernel")
    with pytest.raises(ValueError, match="selects no variable"):
        ckpt.warm_start_state(settings_)


def test_warm_start_list_of_names_and_regexes(tmp_path):
    _source(tmp_path)
    settings_ = ckpt.WarmStartSettings(str(tmp_path), vars_to_warm_start=["dense/kernel", r"bn\."])
    assert sorted(ckpt.warm_start_state(settings_)) == ["bn.running_mean", "dense.kernel"]


def test_warm_start_with_current_names_requires_selected_names_in_checkpoint(tmp_path):
    _source(tmp_path)
    live = ["conv2d/kernel", "conv2d/bias", "conv2d/extra"]
    settings_ = ckpt.WarmStartSettings(str(tmp_path), vars_to_warm_start="conv2d/")
    with pytest.raises(ckpt.CheckpointMismatchError, match="conv2d.extra"):
        ckpt.warm_start_state(settings_, current_names=live)
    state = ckpt.warm_start_state(settings_, current_names=live[:2])
    assert sorted(state) == ["conv2d.bias", "conv2d.kernel"]


def test_warm_start_renames_variables(tmp_path):
    _source(tmp_path)
    settings_ = ckpt.WarmStartSettings(str(tmp_path), vars_to_warm_start=None,
                                       var_name_to_prev_var_name={"head/kernel": "dense/kernel"})
    state = ckpt.warm_start_state(settings_)
    assert list(state) == ["head.kernel"]
    assert torch.equal(state["head.kernel"], torch.full((3,), 2.0))


def test_warm_start_settings_rejects_bad_types():
    with pytest.raises(TypeError, match="vars_to_warm_start"):
        ckpt.WarmStartSettings("/tmp/x", vars_to_warm_start=3)


# -- real pipeline states ------------------------------------------------------------------------
def _pipelines(root):
    import data
    from PIL import Image

    for i in range(6):
        os.makedirs(root / "ab"[i % 2], exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(root / "ab"[i % 2] / f"{i}.jpg")
    (root / "t.txt").write_text("\n".join(f"line {i}" for i in range(20)))
    pattern = str(root / "**" / "*.jpg")

    def gen():
        for i in range(10):
            yield np.int64(i), f"s{i}".encode()

    return {
        "file_bytes_in_shuffle_buffer": lambda: data.Dataset.list_files(pattern)
        .map(data.io.read_file).shuffle(4).repeat(3),
        "decode_parallel_map_batch_prefetch": lambda: data.Dataset.list_files(pattern).repeat(2)
        .map(lambda p: (data.image.decode_jpeg(data.io.read_file(p)), p), num_parallel_calls=2)
        .batch(2).prefetch(2),
        "unbatch": lambda: data.Dataset.from_tensor_slices(torch.arange(20).reshape(10, 2))
        .batch(3).unbatch(),
        "padded_batch": lambda: data.Dataset.range(10).map(lambda x: torch.ones(int(x) % 3 + 1))
        .padded_batch(3),
        "text_interleave": lambda: data.Dataset.from_tensors(str(root / "t.txt")).repeat(2)
        .interleave(data.TextLineDataset, cycle_length=2),
        "generator_numpy_bytes": lambda: data.Dataset.from_generator(gen).shuffle(3),
        "namedtuple_elements": lambda: data.Dataset.range(12).map(lambda x: Point(x, str(int(x))))
        .shuffle(5),
        "empty_bytes": lambda: data.Dataset.from_tensor_slices(["", "x", ""] * 3)
        .map(lambda s: s.encode()).shuffle(4),
        "cache_zip_enumerate_shard": lambda: data.Dataset.zip(
            (data.Dataset.range(20).cache(), data.Dataset.range(20))).enumerate().shard(2, 1),
    }


def _same_elements(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_elements, a, b))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(_same_elements(a[k], b[k]) for k in a))
    return _same(a, b) if not isinstance(a, bytes) else type(a) is type(b) and a == b


PIPELINES = ["file_bytes_in_shuffle_buffer", "decode_parallel_map_batch_prefetch", "unbatch",
             "padded_batch", "text_interleave", "generator_numpy_bytes", "namedtuple_elements",
             "empty_bytes", "cache_zip_enumerate_shard"]


@pytest.mark.parametrize("name", PIPELINES)
def test_data_pipeline_state_survives_a_checkpoint(tmp_path, name):
    import data

    make = _pipelines(tmp_path / "files")[name]
    data.set_random_seed(3)
    it = iter(make())
    for _ in range(3):
        next(it)
    ckpt.save(tmp_path / "model", 1, {"model": {}, "input_state": it.state_dict()})
    rest = list(it)
    data.set_random_seed(3)
    resumed = iter(make())
    resumed.load_state_dict(ckpt.load(tmp_path / "model")["input_state"])
    assert len(rest) > 0
    assert _same_elements(list(resumed), rest)
