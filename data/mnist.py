"""A small reader (and writer) for the MNIST IDX files.

The four files of the MNIST distribution, gzipped or not, in one directory::

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]    split "train" (60,000)
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]     split "test"  (10,000)

:func:`load` returns the whole split as two tensors: images ``float32`` in ``[0, 1]`` of shape
``[N, 28, 28, 1]`` (HWC, the layout of ``tf.reshape(features, [-1, 28, 28, 1])``) or ``[N, 784]``
with ``flatten=True`` (the layout of the softmax regression), and labels ``int64`` of shape
``[N]``. :func:`dataset` wraps them in a ``Dataset`` of ``(image, label)`` elements.

>>> import tempfile, numpy as np
>>> d = tempfile.mkdtemp()
>>> _ = write_split(d, "test", np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3], np.uint8))
>>> images, labels = load(d, "test", flatten=True)
>>> tuple(images.shape), labels.tolist()
((3, 784), [1, 2, 3])
"""

from __future__ import annotations

import gzip
import os
import struct
from typing import IO, TYPE_CHECKING, Dict, Tuple, Union

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from data import Dataset

__all__ = ["FILES", "IDXFormatError", "dataset", "find_file", "load", "read_idx", "write_idx",
           "write_split"]

PathLike = Union[str, "os.PathLike[str]"]

#: File names of each split: ``split -> (images, labels)``, without the optional ``.gz``.
FILES: Dict[str, Tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SPLIT_ALIASES = {"train": "train", "test": "test", "t10k": "test"}

# IDX type codes (third byte of the magic number) and the big-endian numpy dtype of each.
_IDX_DTYPES: Dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file (bad magic number, shape or length)."""


def _open(path: str, mode: str) -> IO[bytes]:
    if path.endswith(".gz"):
        return gzip.open(path, mode)  # type: ignore[return-value]  # binary modes only
    return open(path, mode)


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` is decompressed) into a numpy array of its declared shape.

    Raises :class:`IDXFormatError` naming the file when the header is malformed or the data is
    shorter or longer than the header declares.
    """
    path = os.fspath(path)
    try:
        with _open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip raises BadGzipFile (an OSError) or EOFError
        raise IDXFormatError(f"cannot read IDX file {path!r}: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise IDXFormatError(
            f"{path!r} is not an IDX file: expected a magic number 00 00 <type> <ndim> with type "
            f"in {sorted(hex(c) for c in _IDX_DTYPES)}, got {raw[:4].hex(' ') or 'an empty file'}"
            "; re-download the file (a gzipped file needs the .gz suffix)")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise IDXFormatError(f"{path!r}: header declares {ndim} dimensions but the file holds "
                             f"{len(raw)} bytes; the file is truncated or not an IDX file")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IDXFormatError(f"{path!r}: header declares shape {list(shape)} ({expected} data "
                             f"bytes) but the file holds {len(raw) - header} data bytes; the file "
                             "is truncated or corrupt, re-download it")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: PathLike, array: np.ndarray) -> str:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``); return the path.

    The dtype must be one IDX knows: uint8, int8, int16, int32, float32 or float64.

    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
    >>> p = write_idx(path, np.arange(5, dtype=np.uint8))
    >>> read_idx(p).tolist()
    [0, 1, 2, 3, 4]
    """
    path = os.fspath(path)
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: array dtype {array.dtype} has no IDX type code; cast it to "
                         "one of uint8, int8, int16, int32, float32, float64")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with _open(path, "wb") as f:
        f.write(header + array.astype(_IDX_DTYPES[code], copy=False).tobytes())
    return path


def _split(split: str) -> str:
    try:
        return _SPLIT_ALIASES[split]
    except KeyError:
        raise ValueError(f"split must be 'train' or 'test' (alias 't10k'), got {split!r}") from None


def find_file(data_dir: PathLike, name: str) -> str:
    """Path of ``name`` or ``name.gz`` in ``data_dir`` (the uncompressed file wins).

    The dotted spelling that common copies of MNIST use (``train-images.idx3-ubyte`` for
    ``train-images-idx3-ubyte``) is found too, after the canonical one.
    """
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        path = os.path.join(os.fspath(data_dir), candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(_missing_message(data_dir, name))


def _missing_message(data_dir: PathLike, name: str) -> str:
    data_dir = os.path.abspath(os.fspath(data_dir))
    present = sorted(os.listdir(data_dir)) if os.path.isdir(data_dir) else None
    wanted = "\n".join(f"  {images}[.gz]\n  {labels}[.gz]" for images, labels in FILES.values())
    wanted += "\n(or the dotted names, such as train-images.idx3-ubyte)"
    found = ("the directory does not exist" if present is None
             else f"it holds: {', '.join(present[:10]) or 'nothing'}"
             + (", ..." if present and len(present) > 10 else ""))
    return (f"MNIST file {name}[.gz] not found in {data_dir!r} ({found}). Expected the four "
            f"IDX files of the MNIST distribution, gzipped or not:\n{wanted}\nDownload them into "
            "that directory or pass the directory that holds them.")


def load(data_dir: PathLike, split: str = "train",
         flatten: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Load one split as ``(images, labels)`` tensors.

    ``images``: float32 in ``[0, 1]``, ``[N, 28, 28, 1]`` (or ``[N, 784]`` with ``flatten``);
    ``labels``: int64 ``[N]``. A missing file raises ``FileNotFoundError`` listing the expected
    names and the directory; a malformed one raises :class:`IDXFormatError` naming it.
    """
    images_name, labels_name = FILES[_split(split)]
    images_path = find_file(data_dir, images_name)
    labels_path = find_file(data_dir, labels_name)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXFormatError(f"{images_path!r}: expected uint8 images of shape [N, rows, cols], "
                             f"got {images.dtype} of shape {list(images.shape)}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise IDXFormatError(f"{labels_path!r}: expected {images.shape[0]} labels (one per image "
                             f"in {os.path.basename(images_path)}), got shape {list(labels.shape)}")
    x = torch.from_numpy(images).to(torch.float32).div_(255.0)
    x = x.reshape(len(x), -1) if flatten else x.unsqueeze(-1)
    return x, torch.from_numpy(labels.astype(np.int64))


def dataset(data_dir: PathLike, split: str = "train", flatten: bool = False) -> "Dataset":
    """A ``Dataset`` of ``(image, label)`` elements of one split (see :func:`load`)."""
    import data  # late: ``data/__init__`` may import this module

    return data.Dataset.from_tensor_slices(load(data_dir, split, flatten))


def write_split(data_dir: PathLike, split: str, images: np.ndarray, labels: np.ndarray,
                gzipped: bool = False) -> Tuple[str, str]:
    """Write a split's two IDX files into ``data_dir`` (created if needed); return their paths.

    ``images`` is uint8 ``[N, rows, cols]``, ``labels`` uint8 ``[N]``: handy for generating
    small MNIST-shaped data in tests.
    """
    os.makedirs(os.fspath(data_dir), exist_ok=True)
    suffix = ".gz" if gzipped else ""
    images_name, labels_name = FILES[_split(split)]
    return (write_idx(os.path.join(os.fspath(data_dir), images_name + suffix),
                      np.asarray(images, np.uint8)),
            write_idx(os.path.join(os.fspath(data_dir), labels_name + suffix),
                      np.asarray(labels, np.uint8)))
