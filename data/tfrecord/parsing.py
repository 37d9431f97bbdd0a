"""``tf.io.parse_example`` / ``parse_single_example`` over serialized ``tf.train.Example`` protos.

Feature specs, as in TF:

- :class:`FixedLenFeature` ``(shape, dtype, default_value=None)``: a dense value of ``shape``;
  a missing feature takes ``default_value`` (required when it is ``None``).
- :class:`VarLenFeature` ``(dtype)``: any number of values, returned as a :class:`SparseTensor`.
- :class:`FixedLenSequenceFeature` ``(shape, dtype, allow_missing=False, default_value=None)``:
  a sequence of values of ``shape`` (``[n, *shape]``); ``parse_example`` pads the batch to the
  longest sequence with ``default_value`` (0 or ``b""`` when ``None``).

``dtype`` is ``torch.int64``, ``torch.float32`` or ``bytes`` (TF's ``tf.string``; ``"string"`` and
``str`` are accepted too, and ``str`` decodes the values as UTF-8). Numbers come back as tensors;
strings as ``bytes`` (a scalar feature) or nested lists of ``bytes`` shaped like the result.

Sparse results (``VarLenFeature``): a :class:`SparseTensor` with TF's three parts: ``indices``
(``int64 [nnz, rank]``), ``values`` (a 1-D tensor, or a list of ``bytes``) and ``dense_shape``
(``int64 [rank]``); rank is 1 for ``parse_single_example`` and 2 (example, position) for
``parse_example``. ``sp.to_dense(default_value)`` is ``tf.sparse.to_dense``. A ``SparseTensor``
is not batched by ``Dataset.batch``: batch the serialized records and call ``parse_example`` (the
order TF recommends), or call ``to_dense()`` inside ``map``. It may sit in a shuffle buffer
that is checkpointed (it is registered with ``torch.serialization.add_safe_globals``).

Decoding: the ``protobuf`` runtime (see :mod:`data.tfrecord._proto`), chosen by measurement
(``benchmarks/tfrecord.py --compare-decoders``: 300 ImageNet-style records, a 43 KB JPEG and 14
other features each, 6 requested; median of 3 rounds on the 2-core machine at load 7-15): 46-62
us per record with the runtime's C parser (upb), 150-215 us with a hand-written wire-format
decoder in Python that skips the features it is not asked for. The hand decoder runs one
Python-level step per field and per integer varint; upb parses the whole record in C.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from data._sparse import SparseTensor
from data.tfrecord._proto import Example

__all__ = ["FixedLenFeature", "FixedLenSequenceFeature", "SparseTensor", "VarLenFeature",
           "parse_example", "parse_single_example"]

Shape = Union[int, Sequence[int], torch.Size]


class FixedLenFeature(NamedTuple):
    """A dense feature of a fixed ``shape`` (``[]`` for a scalar), as ``tf.io.FixedLenFeature``."""

    shape: Shape
    dtype: Any
    default_value: Any = None


class VarLenFeature(NamedTuple):
    """A feature with any number of values, parsed into a :class:`SparseTensor`."""

    dtype: Any


class FixedLenSequenceFeature(NamedTuple):
    """A sequence of values of ``shape`` each, as ``tf.io.FixedLenSequenceFeature``.

    ``allow_missing`` must be ``True`` (TF requires it for ``tf.train.Example``).
    """

    shape: Shape
    dtype: Any
    allow_missing: bool = False
    default_value: Any = None


# -- specs -------------------------------------------------------------------------------------
_KINDS = {"int64_list": "int64", "float_list": "float", "bytes_list": "string"}


@dataclasses.dataclass
class _Spec:
    key: str
    kind: str  # "fixed", "var" or "seq"
    value_kind: str  # "int64", "float" or "string"
    as_str: bool
    shape: Tuple[int, ...]
    default: Any


_VALUE_KINDS = {torch.int64: ("int64", False), "int64": ("int64", False),
                np.int64: ("int64", False), torch.float32: ("float", False),
                "float32": ("float", False), np.float32: ("float", False),
                bytes: ("string", False), "string": ("string", False),
                np.bytes_: ("string", False), object: ("string", False), str: ("string", True)}


def _value_kind(key: str, dtype: Any) -> Tuple[str, bool]:
    try:
        return _VALUE_KINDS[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"feature {key!r}: dtype must be torch.int64, torch.float32 or bytes "
                         f"(tf.string), got {dtype!r}") from None


def _shape(key: str, shape: Shape) -> Tuple[int, ...]:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
        raise ValueError(f"feature {key!r}: shape must be a list of non-negative ints, "
                         f"got {shape!r}")
    return tuple(int(d) for d in dims)


def _specs(features: Mapping[str, Any]) -> List[_Spec]:
    if not isinstance(features, Mapping) or not features:
        raise ValueError(f"features must be a non-empty dict of feature name -> FixedLenFeature "
                         f"/ VarLenFeature / FixedLenSequenceFeature, got {features!r}")
    specs = []
    for key, feature in features.items():
        if isinstance(feature, FixedLenFeature):
            vk, as_str = _value_kind(key, feature.dtype)
            shape = _shape(key, feature.shape)
            default = None
            if feature.default_value is not None:
                default = _default(key, feature.default_value, vk, shape, as_str)
            specs.append(_Spec(key, "fixed", vk, as_str, shape, default))
        elif isinstance(feature, VarLenFeature):
            vk, as_str = _value_kind(key, feature.dtype)
            specs.append(_Spec(key, "var", vk, as_str, (), None))
        elif isinstance(feature, FixedLenSequenceFeature):
            vk, as_str = _value_kind(key, feature.dtype)
            if not feature.allow_missing:
                raise ValueError(f"feature {key!r}: FixedLenSequenceFeature requires "
                                 "allow_missing=True for tf.train.Example protos (as in TF)")
            pad = feature.default_value
            if pad is None:
                pad = (("" if as_str else b"") if vk == "string" else 0)
            specs.append(_Spec(key, "seq", vk, as_str, _shape(key, feature.shape), pad))
        else:
            raise ValueError(f"feature {key!r}: expected a FixedLenFeature, VarLenFeature or "
                             f"FixedLenSequenceFeature, got {type(feature).__name__}")
    return specs


def _default(key: str, value: Any, kind: str, shape: Tuple[int, ...], as_str: bool) -> List[Any]:
    """A FixedLenFeature default as a flat list of ``prod(shape)`` values."""
    size = math.prod(shape)
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    flat = _flatten(value)
    if len(flat) == 1 and size != 1:
        flat = flat * size
    if len(flat) != size:
        raise ValueError(f"feature {key!r}: default_value has {len(flat)} values, the shape "
                         f"{list(shape)} needs {size}")
    if kind == "string":
        return [v.encode() if isinstance(v, str) and not as_str else v for v in flat]
    return flat


def _flatten(value: Any) -> List[Any]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flatten(item)]
    return [value]


def _nest(flat: List[Any], shape: Sequence[int]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = math.prod(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


# -- parsing -----------------------------------------------------------------------------------
def _decode(serialized: Any, name: str) -> Any:
    if isinstance(serialized, str):
        serialized = serialized.encode("latin-1")
    if isinstance(serialized, torch.Tensor):
        serialized = serialized.numpy().tobytes()
    if not isinstance(serialized, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_example: serialized records must be bytes, got "
                        f"{type(serialized).__name__} (example {name})")
    try:
        return Example.FromString(bytes(serialized) if not isinstance(serialized, bytes)
                                  else serialized).features.feature
    except Exception as exc:  # protobuf's DecodeError
        raise ValueError(f"parse_example: example {name} ({len(serialized)} bytes) is not a "
                         f"serialized tf.train.Example: {exc}") from exc


def _values(feature_map: Any, spec: _Spec, name: str, index: int) -> Optional[List[Any]]:
    """The feature's values as a Python list, or ``None`` when it is absent."""
    if spec.key not in feature_map:
        return None
    feature = feature_map[spec.key]
    kind = feature.WhichOneof("kind")
    if kind is None:
        return []
    found = _KINDS[kind]
    if found != spec.value_kind:
        raise ValueError(f"Name: {name}, Key: {spec.key}, Index: {index}.  Data types don't "
                         f"match. Data type: {found} but expected type: {spec.value_kind}")
    values = list(getattr(feature, kind).value)
    if spec.as_str:
        values = [v.decode("utf-8") for v in values]
    return values


def _fixed(values: Optional[List[Any]], spec: _Spec, name: str, index: int) -> List[Any]:
    size = math.prod(spec.shape)
    if values is None:
        if spec.default is None:
            raise ValueError(f"Name: {name}, Feature: {spec.key} (data type: {spec.value_kind}) "
                             "is required but could not be found.")
        return spec.default
    if len(values) != size:
        raise ValueError(f"Name: {name}, Key: {spec.key}, Index: {index}.  Number of "
                         f"{spec.value_kind} values != expected.  Values size: {len(values)} "
                         f"but output shape: {list(spec.shape)}")
    return values


def _sequence_length(values: List[Any], spec: _Spec) -> int:
    step = math.prod(spec.shape)
    if step == 0 or len(values) % step:
        raise ValueError(f"Error while parsing feature with key {spec.key}: number of elements "
                         f"should be divisible by {step}, found {len(values)} instead")
    return len(values) // step


_NUMPY = {"int64": np.int64, "float": np.float32}


def _numbers(flat: List[Any], kind: str) -> torch.Tensor:
    # numpy then from_numpy: a third of torch.tensor's cost for the short lists features hold.
    return torch.from_numpy(np.array(flat, dtype=_NUMPY[kind]))


def _tensor(flat: List[Any], kind: str, shape: Sequence[int]) -> Any:
    if kind == "string":
        return _nest(flat, list(shape)) if shape else flat[0]
    return _numbers(flat, kind).reshape(tuple(shape))


def _sparse(rows: List[List[Any]], spec: _Spec, batched: bool) -> SparseTensor:
    flat = [v for row in rows for v in row]
    values = flat if spec.value_kind == "string" else _numbers(flat, spec.value_kind)
    width = max((len(row) for row in rows), default=0)
    if not batched:
        return SparseTensor(torch.from_numpy(np.arange(len(flat), dtype=np.int64)[:, None]),
                            values, torch.from_numpy(np.array([width], dtype=np.int64)))
    # One flat list: nested lists and repeat_interleave are many times slower.
    pairs = [v for r, row in enumerate(rows) for i in range(len(row)) for v in (r, i)]
    return SparseTensor(_numbers(pairs, "int64").view(-1, 2), values,
                        _numbers([len(rows), width], "int64"))


def _names(example_names: Any, count: int) -> List[str]:
    if example_names is None:
        return ["<unknown>"] * count
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in example_names]
    if len(names) != count:
        raise ValueError(f"example_names has {len(names)} names for {count} examples")
    return names


def parse_example(serialized: Any, features: Mapping[str, Any], example_names: Any = None,
                  name: Optional[str] = None) -> Dict[str, Any]:
    """Parse a batch of serialized ``tf.train.Example`` protos, like ``tf.io.parse_example``.

    ``serialized`` is a list (or tuple, or 1-D numpy object array) of ``bytes``, e.g. a batch
    of ``TFRecordDataset`` records; a single ``bytes`` is parsed as by
    :func:`parse_single_example`. Returns ``{key: value}``: ``FixedLenFeature`` values of shape
    ``[batch, *shape]``, ``FixedLenSequenceFeature`` values ``[batch, longest, *shape]``
    (padded with ``default_value``) and ``VarLenFeature`` values as rank-2 :class:`SparseTensor`.

    Raises ``ValueError`` naming the key (and the example name, when given) for a missing
    required feature, a dtype mismatch or a wrong number of values.

    >>> import data, torch
    >>> record = data.io.serialize_example({"label": [3], "pixels": [0.5, 1.0]})
    >>> out = parse_example([record, record], {
    ...     "label": FixedLenFeature([], torch.int64),
    ...     "pixels": VarLenFeature(torch.float32)})
    >>> out["label"].tolist(), out["pixels"].to_dense().tolist()
    ([3, 3], [[0.5, 1.0], [0.5, 1.0]])
    """
    if isinstance(serialized, (bytes, str)):
        return parse_single_example(serialized, features, example_names, name)
    if isinstance(serialized, np.ndarray):
        serialized = serialized.ravel().tolist()
    records = list(serialized)
    specs = _specs(features)
    names = _names(example_names, len(records))
    maps = [_decode(r, n) for r, n in zip(records, names)]
    out: Dict[str, Any] = {}
    for spec in specs:
        rows = [_values(m, spec, n, i) for i, (m, n) in enumerate(zip(maps, names))]
        if spec.kind == "fixed":
            flat = [v for i, (row, n) in enumerate(zip(rows, names))
                    for v in _fixed(row, spec, n, i)]
            out[spec.key] = _tensor(flat, spec.value_kind, (len(records),) + spec.shape)
        elif spec.kind == "var":
            out[spec.key] = _sparse([row or [] for row in rows], spec, batched=True)
        else:
            present = [row or [] for row in rows]
            lengths = [_sequence_length(row, spec) for row in present]
            longest = max(lengths, default=0)
            step = math.prod(spec.shape)
            flat = []
            for row, n in zip(present, lengths):
                flat.extend(row)
                flat.extend([spec.default] * ((longest - n) * step))
            out[spec.key] = _tensor(flat, spec.value_kind,
                                    (len(records), longest) + spec.shape)
    return out


def parse_single_example(serialized: Any, features: Mapping[str, Any],
                         example_names: Any = None, name: Optional[str] = None) -> Dict[str, Any]:
    """Parse one serialized ``tf.train.Example``, like ``tf.io.parse_single_example``.

    ``FixedLenFeature`` values have the feature's ``shape``, ``FixedLenSequenceFeature``
    values ``[n, *shape]``, ``VarLenFeature`` values are rank-1 :class:`SparseTensor`.

    >>> import data, torch
    >>> record = data.io.serialize_example({"image/encoded": [b"..."], "image/class/label": [7]})
    >>> parsed = parse_single_example(record, {
    ...     "image/encoded": FixedLenFeature([], bytes),
    ...     "image/class/label": FixedLenFeature([], torch.int64)})
    >>> parsed["image/encoded"], int(parsed["image/class/label"])
    (b'...', 7)
    """
    label = _names(example_names, 1)[0] if example_names is not None else "<unknown>"
    feature_map = _decode(serialized, label)
    out: Dict[str, Any] = {}
    for spec in _specs(features):
        values = _values(feature_map, spec, label, 0)
        if spec.kind == "fixed":
            out[spec.key] = _tensor(_fixed(values, spec, label, 0), spec.value_kind, spec.shape)
        elif spec.kind == "var":
            out[spec.key] = _sparse([values or []], spec, batched=False)
        else:
            values = values or []
            n = _sequence_length(values, spec)
            out[spec.key] = _tensor(values, spec.value_kind, (n,) + spec.shape)
    return out
