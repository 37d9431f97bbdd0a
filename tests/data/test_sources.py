"""Sources: from_tensor_slices, from_tensors, range, from_generator, list_files, TextLineDataset."""

import gzip
import os

import numpy as np
import pytest
import torch

import data
from data import Dataset
from resume_harness import check_save_load_state


# -- from_tensor_slices ----------------------------------------------------------------------
def test_from_tensor_slices_nested_rows():
    ds = Dataset.from_tensor_slices(
        {"x": torch.arange(6).reshape(3, 2), "y": ([1, 2, 3], ["a", "b", "c"])})
    rows = list(ds)
    assert len(rows) == 3
    assert rows[1]["x"].tolist() == [2, 3]
    assert int(rows[2]["y"][0]) == 3 and rows[2]["y"][1] == "c"


def test_from_tensor_slices_numpy_is_zero_copy():
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    first = next(iter(Dataset.from_tensor_slices(array)))
    array[0, 0] = 99.0
    assert first[0].item() == 99.0
    assert first.dtype == torch.float32


def test_from_tensor_slices_length_mismatch_names_components():
    with pytest.raises(ValueError, match=r"x\[0\] has 3.*x\[1\] has 4"):
        Dataset.from_tensor_slices((torch.zeros(3), torch.zeros(4)))


def test_from_tensor_slices_scalar_raises():
    with pytest.raises(ValueError, match="from_tensors"):
        Dataset.from_tensor_slices(5)


def test_from_tensor_slices_strings_yield_str():
    assert list(Dataset.from_tensor_slices(["a.jpg", "b.jpg"])) == ["a.jpg", "b.jpg"]
    assert list(Dataset.from_tensor_slices(np.array(["u", "v"]))) == ["u", "v"]


def test_from_tensor_slices_resumes():
    check_save_load_state(lambda: Dataset.from_tensor_slices((torch.arange(7), list("abcdefg"))))


# -- from_tensors ----------------------------------------------------------------------------
def test_from_tensors_is_one_element():
    (element,) = list(Dataset.from_tensors(([1, 2], np.ones(2))))
    assert element[0].tolist() == [1, 2] and element[1].tolist() == [1.0, 1.0]
    check_save_load_state(lambda: Dataset.from_tensors(3))


# -- range -----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [(5,), (2, 9), (2, 9, 3), (9, 2, -2), (3, 3)])
def test_range_matches_python_range(args):
    assert list(Dataset.range(*args)) == list(range(*args))


def test_range_batches_to_int64():
    assert next(iter(Dataset.range(3).batch(3))).dtype == torch.int64


def test_range_zero_step_raises():
    with pytest.raises(ValueError, match="step"):
        Dataset.range(0, 5, 0)


def test_range_resumes():
    check_save_load_state(lambda: Dataset.range(10, 0, -3), expected=[10, 7, 4, 1])


# -- from_generator --------------------------------------------------------------------------
def test_from_generator_calls_generator_afresh_each_iteration():
    ds = Dataset.from_generator(lambda n: iter(range(n)), args=(3,))
    assert list(ds) == [0, 1, 2] and list(ds) == [0, 1, 2]


def test_from_generator_output_types_convert_components():
    ds = Dataset.from_generator(lambda: iter([(1, "a")]), output_types=(torch.float32, str))
    ((x, s),) = list(ds)
    assert x.dtype == torch.float32 and s == "a"


def test_from_generator_output_shapes_mismatch_raises():
    ds = Dataset.from_generator(lambda: iter([torch.zeros(2, 3)]), output_shapes=(2, 4))
    with pytest.raises(ValueError, match=r"element 0: expected shape \(2, 4\), got \(2, 3\)"):
        list(ds)


def test_from_generator_unknown_dimension_accepted():
    ds = Dataset.from_generator(lambda: iter([torch.zeros(5, 3)]), output_shapes=(None, 3))
    assert len(list(ds)) == 1


def test_from_generator_needs_a_callable():
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(iter([1, 2]))


def test_from_generator_resumes_by_fast_forwarding():
    check_save_load_state(lambda: Dataset.from_generator(lambda: (i * i for i in range(6))),
                          expected=[0, 1, 4, 9, 16, 25])


def test_from_generator_shorter_on_restore_is_malformed():
    lengths = iter([5, 1])
    ds = Dataset.from_generator(lambda: iter(range(next(lengths))))
    it = iter(ds)
    next(it), next(it), next(it)
    state = it.state_dict()
    with pytest.raises(data.MalformedStateError, match="not deterministic"):
        iter(ds).load_state_dict(state)


# -- list_files ------------------------------------------------------------------------------
@pytest.fixture
def tree(tmp_path):
    for rel in ["train/dogs/d1.jpg", "train/dogs/d2.jpg", "train/cats/c1.jpg",
                "train/cats/deep/c2.jpg", "train/readme.txt"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def test_list_files_recursive_glob_sorted_without_shuffle(tree):
    files = list(Dataset.list_files(str(tree / "train/**/*.jpg"), shuffle=False))
    rel = [os.path.relpath(f, tree) for f in files]
    assert rel == sorted(["train/cats/c1.jpg", "train/cats/deep/c2.jpg", "train/dogs/d1.jpg",
                          "train/dogs/d2.jpg"])
    assert all(isinstance(f, str) for f in files)


def test_list_files_shuffles_by_default_and_seed_reproduces(tree):
    pattern = str(tree / "train/**/*")
    a = list(Dataset.list_files(pattern, seed=7))
    b = list(Dataset.list_files(pattern, seed=7))
    assert a == b and sorted(a) == list(Dataset.list_files(pattern, shuffle=False))
    orders = {tuple(Dataset.list_files(pattern, seed=s)) for s in range(10)}
    assert len(orders) > 1


def test_list_files_reshuffles_each_iteration(tree):
    ds = Dataset.list_files(str(tree / "train/**/*"), seed=1)
    orders = {tuple(ds) for _ in range(10)}
    assert len(orders) > 1


def test_list_files_accepts_list_of_patterns(tree):
    files = list(Dataset.list_files([str(tree / "train/dogs/*"), str(tree / "train/*.txt")],
                                    shuffle=False))
    assert [os.path.basename(f) for f in files] == ["d1.jpg", "d2.jpg", "readme.txt"]


def test_list_files_no_match_names_pattern(tree):
    pattern = str(tree / "valid/**/*.jpg")
    with pytest.raises(ValueError, match="no files matched pattern .*valid"):
        Dataset.list_files(pattern)


def test_list_files_resumes(tree):
    check_save_load_state(lambda: Dataset.list_files(str(tree / "**/*.jpg")))


# -- TextLineDataset -------------------------------------------------------------------------
def test_text_lines_strip_endings_across_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"one\ntwo\r\nthree")
    (tmp_path / "b.txt").write_bytes(b"\nfour\n")
    ds = data.TextLineDataset([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")])
    assert list(ds) == ["one", "two", "three", "", "four"]


def test_text_lines_gzip(tmp_path):
    with gzip.open(tmp_path / "a.txt.gz", "wb") as f:
        f.write(b"x\ny\n")
    assert list(data.TextLineDataset(str(tmp_path / "a.txt.gz"), compression_type="GZIP")) == [
        "x", "y"]


def test_text_lines_resume_from_offset(tmp_path):
    for name, lines in [("a.txt", "l1\nl2\nl3\n"), ("b.txt", "m1\nm2\n")]:
        (tmp_path / name).write_text(lines)
    files = [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    check_save_load_state(lambda: data.TextLineDataset(files),
                          expected=["l1", "l2", "l3", "m1", "m2"], stop_points=range(6))


def test_text_lines_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        list(data.TextLineDataset(str(tmp_path / "nope.txt")))


def test_text_lines_bad_compression_raises():
    with pytest.raises(ValueError, match="compression_type"):
        data.TextLineDataset("a.txt", compression_type="ZIP")


def test_from_tensor_slices_list_of_tensors_is_stacked():
    rows = list(Dataset.from_tensor_slices([torch.ones(2), torch.zeros(2)]))
    assert [r.tolist() for r in rows] == [[1.0, 1.0], [0.0, 0.0]]


def test_python_number_lists_get_tf_dtypes():
    floats, ints, flags = next(iter(Dataset.from_tensor_slices(([0.5], [1], [True]))))
    assert (floats.dtype, ints.dtype, flags.dtype) == (torch.float32, torch.int64, torch.bool)
