"""Errors while producing elements: position and traceback reach the consumer;
``ignore_errors`` skips and counts them."""

import logging
import traceback

import pytest
import torch

import data
from resume_harness import check_save_load_state

PARALLELISM = [None, 2]


def _fail_on_three(x):
    if x == 3:
        raise ValueError(f"cannot handle {x}")
    return x


@pytest.mark.parametrize("calls", PARALLELISM)
def test_map_error_names_element_position_and_keeps_type(calls):
    it = iter(data.Dataset.range(6).map(_fail_on_three, num_parallel_calls=calls))
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match=r"input element 3 .*cannot handle 3") as info:
        next(it)
    assert info.value.element_index == 3


@pytest.mark.parametrize("calls", PARALLELISM)
def test_map_error_chains_the_original_traceback(calls):
    it = iter(data.Dataset.range(6).map(_fail_on_three, num_parallel_calls=calls))
    with pytest.raises(ValueError) as info:
        list(it)
    original = info.value.__cause__
    assert isinstance(original, ValueError) and str(original) == "cannot handle 3"
    frames = [f.name for f in traceback.extract_tb(original.__traceback__)]
    assert "_fail_on_three" in frames
    text = "".join(traceback.format_exception(info.type, info.value, info.tb))
    assert "direct cause" in text and "_fail_on_three" in text


@pytest.mark.parametrize("calls", PARALLELISM)
def test_iterator_continues_after_a_function_error(calls):
    it = iter(data.Dataset.range(6).map(_fail_on_three, num_parallel_calls=calls))
    out = []
    while True:
        try:
            out.append(next(it))
        except ValueError:
            out.append("error")
        except StopIteration:
            break
    assert out == [0, 1, 2, "error", 4, 5]


class _NeedsTwoArgs(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


def test_error_type_that_cannot_take_a_message_becomes_runtime_error():
    def fn(x):
        raise _NeedsTwoArgs(1, 2)

    with pytest.raises(RuntimeError, match="_NeedsTwoArgs on input element 0") as info:
        next(iter(data.Dataset.range(2).map(fn, num_parallel_calls=2)))
    assert isinstance(info.value.__cause__, _NeedsTwoArgs)


@pytest.mark.parametrize("calls", PARALLELISM)
def test_ignore_errors_skips_and_counts(calls):
    ds = data.Dataset.range(10).map(lambda x: 10 // (x % 4), num_parallel_calls=calls)
    it = iter(ds.ignore_errors())
    assert list(it) == [10, 5, 3, 10, 5, 3, 10]
    assert it.num_ignored == 3


def test_ignore_errors_logs_a_summary(caplog):
    it = iter(data.Dataset.range(5).map(_fail_on_three).ignore_errors())
    with caplog.at_level(logging.WARNING, logger="data.ops.errors"):
        assert list(it) == [0, 1, 2, 4]
    assert "skipped 1 element" in caplog.text and "cannot handle 3" in caplog.text


def test_ignore_errors_skips_undecodable_files(tmp_path):
    from PIL import Image
    good = tmp_path / "good.jpg"
    Image.new("RGB", (8, 6), (10, 200, 30)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")

    def load(path):
        return data.image.decode_jpeg(data.io.read_file(path), channels=3)

    paths = [str(good), str(bad), str(good)]
    with pytest.raises(data.image.DecodeError, match="bad.jpg"):
        list(data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=2))
    it = iter(data.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=2)
              .ignore_errors())
    images = list(it)
    assert len(images) == 2 and it.num_ignored == 1
    assert images[0].shape == (6, 8, 3)


def test_ignore_errors_does_not_swallow_keyboard_interrupt():
    def fn(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        next(iter(data.Dataset.range(3).map(fn).ignore_errors()))


def test_ignore_errors_resumes_with_its_count():
    make = lambda: data.Dataset.range(30).map(  # noqa: E731
        lambda x: torch.tensor(100 // (x % 5))).ignore_errors()
    check_save_load_state(make, stop_points=[0, 4, 11, 24])
    it = iter(make())
    for _ in range(12):
        next(it)
    state = it.state_dict()
    restored = iter(make())
    restored.load_state_dict(state)
    assert restored.num_ignored == it.num_ignored == 3
