"""The design's reference input pipeline (DESIGN.md section 1) on a small generated JPEG tree."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

import data
from resume_harness import check_save_load_state

PER_CLASS = {"train": 6, "valid": 3}
COLOURS = {"dogs": (220, 40, 30), "cats": (30, 40, 220)}  # label from colour and from folder


def get_input_fn(pattern, image_size=(28, 28), shuffle=False, batch_size=64, num_epochs=None,
                 buffer_size=4096):
    def _path_to_img(path):                       # path is a str
        label = 0 if path.split("/")[-2] == "dogs" else 1
        image = data.image.decode_jpeg(data.io.read_file(path), channels=3)      # uint8 HWC
        image = data.image.convert_image_dtype(image, torch.float32)             # [0, 1]
        return data.image.resize(image, image_size), label                       # float HWC

    def _input_fn():
        ds = data.Dataset.list_files(pattern)
        if shuffle:
            ds = ds.apply(data.experimental.shuffle_and_repeat(buffer_size, num_epochs))
        else:
            ds = ds.repeat(num_epochs)
        ds = ds.map(_path_to_img, num_parallel_calls=data.AUTOTUNE)
        return ds.batch(batch_size).prefetch(buffer_size)
    return _input_fn


@pytest.fixture(scope="module")
def dogscats(tmp_path_factory):
    root = tmp_path_factory.mktemp("dogscats")
    rng = np.random.default_rng(0)
    for split, n in PER_CLASS.items():
        for label, colour in COLOURS.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(np.array(colour) + rng.integers(-20, 20, (30 + i, 40, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)
    return str(root)


def _unbatched(batches):
    images, labels = [], []
    for features, label in batches:
        images.extend(features)
        labels.extend(label.tolist())
    return images, labels


def test_train_batches_have_tf_shapes_and_dtypes(dogscats):
    ds = get_input_fn(f"{dogscats}/train/**/*.jpg", shuffle=True, batch_size=5, num_epochs=2)()
    batches = list(ds)
    assert [len(labels) for _, labels in batches] == [5, 5, 5, 5, 4]  # 24 images, 2 epochs
    features, labels = batches[0]
    assert features.shape == (5, 28, 28, 3) and features.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert 0.0 <= float(features.min()) and float(features.max()) <= 1.0


def test_labels_come_from_the_folder_names(dogscats):
    ds = get_input_fn(f"{dogscats}/train/**/*.jpg", shuffle=True, batch_size=4, num_epochs=1)()
    images, labels = _unbatched(ds)
    assert sorted(labels) == [0] * 6 + [1] * 6
    for image, label in zip(images, labels):
        red, blue = float(image[..., 0].mean()), float(image[..., 2].mean())
        assert (red > blue) == (label == 0)


def test_evaluation_input_sees_each_file_once_in_listing_order_each_epoch(dogscats):
    ds = get_input_fn(f"{dogscats}/valid/**/*.jpg", batch_size=4, num_epochs=1)()
    images, labels = _unbatched(ds)
    assert len(images) == 6 and sorted(labels) == [0, 0, 0, 1, 1, 1]
    assert all(image.shape == (28, 28, 3) for image in images)


def test_image_size_parameter_is_honoured(dogscats):
    ds = get_input_fn(f"{dogscats}/valid/**/*.jpg", image_size=(64, 48), batch_size=6,
                      num_epochs=1)()
    (features, labels), = list(ds)
    assert features.shape == (6, 64, 48, 3)


def test_each_training_epoch_is_a_new_order(dogscats):
    data.set_random_seed(7)
    try:
        ds = get_input_fn(f"{dogscats}/train/**/*.jpg", shuffle=True, batch_size=12,
                          num_epochs=3)()
        epochs = [torch.stack([img.flatten()[:50] for img in f]) for f, _ in ds]
    finally:
        data.set_random_seed(None)
    assert len(epochs) == 3
    # Same images each epoch, in another order.
    keys = [sorted(tuple(row.tolist()) for row in e) for e in epochs]
    assert keys[0] == keys[1] == keys[2]
    assert not torch.equal(epochs[0], epochs[1]) or not torch.equal(epochs[1], epochs[2])


def test_reference_pipeline_resumes_exactly(dogscats):
    data.set_random_seed(3)
    try:
        check_save_load_state(
            get_input_fn(f"{dogscats}/train/**/*.jpg", shuffle=True, batch_size=5, num_epochs=2),
            stop_points=[0, 2, 5])
    finally:
        data.set_random_seed(None)


def test_undecodable_file_in_the_tree_is_named(dogscats, tmp_path):
    bad_root = tmp_path / "bad"
    (bad_root / "dogs").mkdir(parents=True)
    (bad_root / "dogs" / "corrupt.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    ds = get_input_fn(f"{bad_root}/**/*.jpg", batch_size=2, num_epochs=1)()
    with pytest.raises(data.image.DecodeError, match="corrupt.jpg"):
        list(ds)


def test_missing_pattern_is_named(tmp_path):
    with pytest.raises(ValueError, match="nothing_here"):
        get_input_fn(os.path.join(str(tmp_path), "nothing_here", "*.jpg"))()
