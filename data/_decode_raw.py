"""``decode_raw``: reinterpret bytes as a tensor of numbers, like ``tf.io.decode_raw``."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

__all__ = ["decode_raw"]

_NUMPY = {torch.uint8: "u1", torch.int8: "i1", torch.int16: "i2", torch.int32: "i4",
          torch.int64: "i8", torch.float16: "f2", torch.float32: "f4", torch.float64: "f8",
          torch.complex64: "c8", torch.complex128: "c16", torch.bool: "?"}


def _as_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, np.bytes_):
        return bytes(value)
    raise TypeError(f"decode_raw: input_bytes must be bytes or a list of bytes; {where} is a "
                    f"{type(value).__name__}")


def decode_raw(input_bytes: Any, out_type: torch.dtype, little_endian: bool = True,
               fixed_length: Optional[int] = None, name: Optional[str] = None) -> torch.Tensor:
    """Bytes as a 1-D tensor of ``out_type`` (a list of ``n`` byte strings gives ``[n, k]``).

    ``little_endian`` gives the byte order of multi-byte types. Without ``fixed_length`` each
    input's length must be a multiple of the type's size (and, for a list, all the same);
    with it, each input is cut or zero-padded to ``fixed_length`` bytes first, as TF does.

    >>> decode_raw(b"\\x01\\x02\\x03\\x04", torch.uint8).tolist()
    [1, 2, 3, 4]
    >>> decode_raw(b"\\x01\\x00\\x02\\x00", torch.int16).tolist()
    [1, 2]
    >>> decode_raw([b"\\x00\\x01", b"\\x00\\x02"], torch.int16, little_endian=False).tolist()
    [[1], [2]]
    """
    if out_type not in _NUMPY:
        raise TypeError(f"decode_raw: out_type must be one of {sorted(map(str, _NUMPY))}, "
                        f"got {out_type!r}")
    dtype = np.dtype(("<" if little_endian else ">") + _NUMPY[out_type])
    single = not isinstance(input_bytes, (list, tuple, np.ndarray))
    items = [_as_bytes(input_bytes, "input_bytes")] if single else [
        _as_bytes(v, f"element {i}") for i, v in enumerate(np.asarray(input_bytes, dtype=object)
                                                           .ravel().tolist()
                                                           if isinstance(input_bytes, np.ndarray)
                                                           else input_bytes)]
    if fixed_length is not None:
        if fixed_length < 0 or fixed_length % dtype.itemsize:
            raise ValueError(f"decode_raw: fixed_length must be a non-negative multiple of "
                             f"{dtype.itemsize}, the size of {out_type}, got {fixed_length}")
        items = [b[:fixed_length].ljust(fixed_length, b"\0") for b in items]
    lengths = {len(b) for b in items}
    if len(lengths) > 1:
        first = len(items[0])
        bad = next(i for i, b in enumerate(items) if len(b) != first)
        raise ValueError(f"decode_raw: input strings must all be the same size, but element "
                         f"{bad} has size {len(items[bad])} != {first} (give fixed_length)")
    length = lengths.pop() if lengths else 0
    if length % dtype.itemsize:
        raise ValueError(f"decode_raw: input has length {length} that is not a multiple of "
                         f"{dtype.itemsize}, the size of {out_type}")
    array = np.frombuffer(b"".join(items), dtype=dtype).astype(dtype.newbyteorder("="))
    array = array.reshape(len(items), length // dtype.itemsize)
    tensor = torch.from_numpy(array)  # astype made a writable, native-order copy
    return tensor[0] if single else tensor
