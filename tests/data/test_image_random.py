"""Random tf.image ops: TF's distributions, and randomness that belongs to the element, so a
map gives the same augmentations serially, in parallel and after a restore."""

import io

import pytest
import torch
from PIL import Image
from hypothesis import given, settings, strategies as st

import data
from data import image as im
from resume_harness import check_save_load_state
from tf_fixtures import expected


@pytest.fixture(autouse=True)
def _no_global_seed():
    data.set_random_seed(None)
    yield
    data.set_random_seed(None)


def _images(n=16):
    return data.Dataset.from_tensor_slices(torch.rand(n, 4, 5, 3, generator=torch.Generator()
                                                      .manual_seed(0)))


def augment(image):
    image = im.random_flip_left_right(image)
    image = im.random_flip_up_down(image)
    image = im.random_brightness(image, max_delta=32.0 / 255.0)
    image = im.random_saturation(image, lower=0.5, upper=1.5)
    image = im.random_hue(image, max_delta=0.2)
    return im.random_contrast(image, lower=0.5, upper=1.5)


def _run(ds):
    return [x.clone() for x in ds]


def test_parallel_map_gives_the_serial_augmentations():
    data.set_random_seed(7)
    serial = _run(_images().map(augment))
    data.set_random_seed(7)
    parallel = _run(_images().map(augment, num_parallel_calls=3, deterministic=False))
    data.set_random_seed(7)
    parallel_sorted = _run(_images().map(augment, num_parallel_calls=3))
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel_sorted))
    assert sorted(x.sum().item() for x in parallel) == sorted(x.sum().item() for x in serial)


def test_each_epoch_and_each_unseeded_pipeline_draws_new_augmentations():
    ds = _images().map(augment)
    first, second = _run(ds), _run(ds)
    assert not all(torch.equal(a, b) for a, b in zip(first, second))
    assert not all(torch.equal(a, b) for a, b in zip(first, _run(_images().map(augment))))


def test_global_seed_reproduces_a_rebuilt_pipeline():
    data.set_random_seed(3)
    a = _run(_images().map(augment).repeat(2))
    data.set_random_seed(3)
    b = _run(_images().map(augment).repeat(2))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_op_seed_and_call_rank_change_the_draw():
    data.set_random_seed(1)
    x = torch.zeros(1, 1, 1)

    def two_draws(_):
        return (im.random_brightness(x, 1.0, seed=5), im.random_brightness(x, 1.0, seed=5),
                im.random_brightness(x, 1.0, seed=6))

    a, b, c = next(iter(data.Dataset.range(1).map(two_draws)))
    assert len({float(a), float(b), float(c)}) == 3


@pytest.mark.parametrize("seed", [None, 11])
@pytest.mark.parametrize("calls", [None, 2])
def test_resume_reproduces_the_augmentations(seed, calls):
    def make():
        if seed is not None:
            data.set_random_seed(seed)
        return _images(10).shuffle(4, seed=2).map(augment, num_parallel_calls=calls).repeat(2)

    check_save_load_state(make, stop_points=[0, 3, 10, 13, 20])


def test_flip_is_a_fair_coin_and_batches_flip_per_image():
    x = torch.arange(2.0).reshape(1, 2, 1)
    outs = [int(y[0, 0, 0]) for y in data.Dataset.range(400).map(
        lambda _: im.random_flip_left_right(x))]
    assert 150 < sum(outs) < 250
    batch = torch.arange(2.0).reshape(1, 1, 2, 1).repeat(64, 1, 1, 1)
    flipped = im.random_flip_left_right(batch, seed=3)[:, 0, 0, 0]
    assert 10 < int(flipped.sum()) < 54
    assert set(flipped.tolist()) == {0.0, 1.0}


def test_brightness_delta_is_uniform_in_range():
    x = torch.full((2, 2, 3), 0.5)
    deltas = [float(y[0, 0, 0]) - 0.5 for y in data.Dataset.range(300).map(
        lambda _: im.random_brightness(x, 0.25))]
    assert all(-0.25 <= d < 0.25 for d in deltas)
    assert min(deltas) < -0.2 and max(deltas) > 0.2


def test_contrast_factor_is_in_range():
    x = torch.tensor([[[0.2, 0.2, 0.2]], [[0.6, 0.6, 0.6]]])
    for y in data.Dataset.range(50).map(lambda _: im.random_contrast(x, 0.5, 1.5)):
        factor = float((y[1, 0, 0] - y[0, 0, 0]) / 0.4)
        assert 0.5 - 1e-5 <= factor < 1.5 + 1e-5


def test_argument_errors_as_tf():
    x = torch.zeros(2, 2, 3)
    with pytest.raises(ValueError, match="max_delta must be non-negative"):
        im.random_brightness(x, -0.1)
    with pytest.raises(ValueError, match="upper must be > lower"):
        im.random_contrast(x, 1.0, 1.0)
    with pytest.raises(ValueError, match="lower must be non-negative"):
        im.random_saturation(x, -1.0, 1.0)
    with pytest.raises(ValueError, match="max_delta must be <= 0.5"):
        im.random_hue(x, 0.6)


def test_eager_calls_follow_torchs_generator_or_the_op_seed():
    x = torch.zeros(1, 1, 1)
    torch.manual_seed(0)
    a = float(im.random_brightness(x, 1.0))
    torch.manual_seed(0)
    assert float(im.random_brightness(x, 1.0)) == a
    seeded = [float(im.random_brightness(x, 1.0, seed=9)) for _ in range(2)]
    assert seeded[0] != seeded[1]  # a seeded op is a stream, as a TF eager op with a seed


# -- sample_distorted_bounding_box ---------------------------------------------------------------
def _check_box(begin, size, boxes, height, width, area_range, aspect_range, box, covered):
    y, x, _ = begin.tolist()
    h, w, minus_one = size.tolist()
    assert begin.dtype == size.dtype == torch.int32 and minus_one == -1 and begin[2] == 0
    assert 0 <= y and 0 <= x and y + h <= height and x + w <= width
    assert boxes.shape == (1, 1, 4)
    assert torch.allclose(boxes[0, 0], torch.tensor([y / height, x / width, (y + h) / height,
                                                     (x + w) / width]))
    if (h, w) == (height, width):
        return  # the fallback when no attempt satisfied the constraints
    area = h * w / (height * width)
    assert area_range[0] - 1e-6 <= area <= area_range[1] + 1e-6
    assert aspect_range[0] * h - 0.5 <= w <= aspect_range[1] * h + 0.5  # w = round(h * aspect)
    bx0, by0 = int(box[1] * width), int(box[0] * height)
    bx1, by1 = int(box[3] * width), int(box[2] * height)
    inter = max(0, min(x + w, bx1) - max(x, bx0)) * max(0, min(y + h, by1) - max(y, by0))
    assert inter / ((bx1 - bx0) * (by1 - by0)) >= covered


def test_tfs_own_samples_satisfy_the_invariants_checked_here():
    for case in expected()["sample_distorted_bounding_box"]:
        _check_box(torch.tensor(case["begin"], dtype=torch.int32),
                   torch.tensor(case["size"], dtype=torch.int32), torch.tensor(case["boxes"]),
                   40, 60, (0.05, 1.0), (0.75, 1.33), [0.1, 0.2, 0.5, 0.9], 0.1)


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 80), width=st.integers(1, 80),
       box=st.tuples(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0.5, 1), st.floats(0.5, 1)),
       covered=st.sampled_from([0.0, 0.1, 0.5, 0.9]),
       area=st.sampled_from([(0.05, 1.0), (0.08, 1.0), (0.5, 0.7)]),
       seed=st.integers(0, 1000))
def test_sampled_boxes_satisfy_tfs_constraints(height, width, box, covered, area, seed):
    begin, size, boxes = im.sample_distorted_bounding_box(
        [height, width, 3], torch.tensor([[box]]), seed=seed, min_object_covered=covered,
        area_range=area)
    _check_box(begin, size, boxes, height, width, area, (0.75, 1.33), box, covered)


def test_inception_style_crop_in_a_pipeline_resumes():
    encoded_images = []
    for i in range(6):
        buf = io.BytesIO()
        Image.new("RGB", (30 + i, 20), (i * 40, 100, 200)).save(buf, "JPEG")
        encoded_images.append(buf.getvalue())

    def preprocess(encoded):
        shape = im.extract_jpeg_shape(encoded)
        begin, size, _ = im.sample_distorted_bounding_box(
            shape, torch.zeros(1, 0, 4), min_object_covered=0.1,
            aspect_ratio_range=[0.75, 1.33], area_range=[0.05, 1.0], max_attempts=100,
            use_image_if_no_bounding_boxes=True)
        y, x, _ = begin.tolist()
        h, w, _ = size.tolist()
        image = im.decode_and_crop_jpeg(encoded, [y, x, h, w], channels=3)
        image = im.resize(image, (8, 8))
        return im.random_flip_left_right(image)

    def make():
        return data.Dataset.from_tensor_slices(encoded_images).map(preprocess,
                                                                   num_parallel_calls=2)

    stream = check_save_load_state(make, stop_points=[0, 2, 5])
    assert len(stream) == 6


def test_bounding_box_errors():
    with pytest.raises(ValueError, match="no bounding boxes given"):
        im.sample_distorted_bounding_box([4, 4, 3], torch.zeros(1, 0, 4))
    with pytest.raises(ValueError, match="\\[batch, num_boxes, 4\\]"):
        im.sample_distorted_bounding_box([4, 4, 3], torch.zeros(2, 4))
    with pytest.raises(ValueError, match="in \\[0.0, 1.0\\]"):
        im.sample_distorted_bounding_box([4, 4, 3], torch.tensor([[[0, 0, 1.5, 1]]]))
