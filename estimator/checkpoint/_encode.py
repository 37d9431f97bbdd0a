"""Make free-form state (input iterator state, scope data) loadable with ``weights_only=True``.

``torch.load(weights_only=True)`` accepts tensors, ``dict``/``OrderedDict``, ``list``, ``tuple``,
``str``, ``bytearray``, ``int``, ``float``, ``complex``, ``bool``, ``None``,
``torch.Size``/``dtype``/``device``. Those pass through unchanged. A few other values that a
pipeline state may hold are rewritten as tagged dicts and turned back on load:

- ``bytes`` → a uint8 tensor (pickle protocol 2 writes ``b""`` as a call that ``weights_only``
  refuses, and other bytes as latin-1 text, twice the size); a ``bytes`` subclass such as
  ``data.io.FileBytes`` keeps its class and attributes (its ``.path``);
- numpy arrays and numpy scalars (``np.int64(3)``) → their data as a tensor;
- namedtuples → field names and values (loaded back as the same class when its module is
  already imported, else as an equivalent ``collections.namedtuple``);
- ``set``/``frozenset`` → their items (which may be encoded themselves, e.g. bytes);
  ``torch.Generator`` → its state and device.

Classes are looked up only among modules already imported, never imported, so loading runs no
module code. Anything else is refused at save time with the path to the offending value,
instead of writing a checkpoint that cannot be loaded. Tensors that are small views of a much
larger storage are copied, so saving one element of a batch does not save the whole batch.
"""

from __future__ import annotations

import collections
import sys
from typing import Any, Callable, Dict, List, Optional, Type

import numpy as np
import torch

TAG = "__estimator_ckpt_type__"
_PLAIN = frozenset((str, bytearray, int, float, complex, bool, type(None),
                    torch.dtype, torch.device, torch.Size))
_SIMPLE_KEYS = frozenset((str, int, float, bool, type(None)))


def encode(value: Any, path: str = "state") -> Any:
    """A copy of ``value`` made only of types ``weights_only`` loading accepts."""
    if isinstance(value, (np.ndarray, np.generic)):  # before _PLAIN: np.float64 is a float
        return _encode_numpy(value, path)
    if type(value) in _PLAIN:  # exact types: an IntEnum would pickle its class
        return value
    if isinstance(value, bytes):
        # Pickle protocol 2 stores b"" as a call to the bytes class, which weights_only refuses,
        # and other bytes as latin-1 text; a uint8 tensor is exact and compact.
        data = torch.frombuffer(bytearray(value), dtype=torch.uint8) if value else \
            torch.empty(0, dtype=torch.uint8)
        out: Dict[str, Any] = {TAG: "bytes", "data": data}
        if type(value) is not bytes:  # e.g. data.io.FileBytes, which remembers its path
            out["class"] = [type(value).__module__, type(value).__qualname__]
            out["attrs"] = encode(dict(getattr(value, "__dict__", {})), f"{path}.__dict__")
        return out
    if isinstance(value, torch.Tensor):
        return _compact(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        cls = type(value)
        return {TAG: "namedtuple", "module": cls.__module__, "name": cls.__qualname__,
                "fields": list(value._fields),
                "values": [encode(v, f"{path}.{f}") for f, v in zip(value._fields, value)]}
    if isinstance(value, dict):
        entries = {k: encode(v, f"{path}[{k!r}]") for k, v in value.items()}
        if TAG in value or not all(type(k) in _SIMPLE_KEYS for k in value):
            # A dict that looks like one of ours, or with keys needing encoding: wrap it.
            return {TAG: "dict", "items": [[encode(k, f"{path} key {k!r}"), v]
                                           for k, v in entries.items()]}
        if type(value) is collections.OrderedDict:
            return collections.OrderedDict(entries)
        return entries
    if isinstance(value, (list, tuple)):
        items = [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, (set, frozenset)):  # a list: encoded items (tagged dicts) are unhashable
        kind = "frozenset" if isinstance(value, frozenset) else "set"
        return {TAG: kind, "items": [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, torch.Generator):
        return {TAG: "generator", "device": str(value.device), "state": value.get_state()}
    raise TypeError(
        f"cannot checkpoint {path}: a {type(value).__module__}.{type(value).__qualname__} is not "
        "loadable with torch.load(weights_only=True). Iterator and scope states may hold "
        "tensors, numpy arrays, Python scalars, str/bytes and nested dicts/lists/tuples; "
        "convert this value to one of those in its state_dict()."
    )


def decode(value: Any) -> Any:
    """Invert :func:`encode`."""
    if isinstance(value, dict):
        kind = value.get(TAG)
        if kind is None:
            items = {k: decode(v) for k, v in value.items()}
            return collections.OrderedDict(items) if isinstance(value, collections.OrderedDict) \
                else items
        if kind not in _DECODERS:
            raise ValueError(f"unknown tagged value {kind!r} (written by a newer version?)")
        return _DECODERS[kind](value)
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, tuple):
        return tuple(decode(v) for v in value)
    return value


def _compact(t: torch.Tensor) -> torch.Tensor:
    if t.layout != torch.strided or t.numel() == 0:
        return t
    if t.untyped_storage().nbytes() > 2 * t.numel() * t.element_size():
        return t.detach().clone()
    return t


def _encode_numpy(value: Any, path: str) -> Dict[str, Any]:
    array = np.asarray(value)
    if array.dtype.kind in "OUSVMm" or array.dtype.byteorder == ">":
        raise TypeError(
            f"cannot checkpoint {path}: numpy arrays of dtype {array.dtype} have no tensor "
            "equivalent; store them as lists or str/bytes in the state_dict() instead."
        )
    dtype = str(array.dtype)
    if array.dtype == np.uint16 or array.dtype == np.uint32 or array.dtype == np.uint64:
        data = torch.from_numpy(np.array(array, order="C").view(f"int{array.dtype.itemsize * 8}"))
    else:
        data = torch.from_numpy(np.array(array, order="C", copy=True))
    return {TAG: "ndarray", "scalar": isinstance(value, np.generic), "dtype": dtype, "data": data}


def _decode_numpy(d: Dict[str, Any]) -> Any:
    data = d["data"]
    array = data.numpy().view(np.dtype(d["dtype"])).reshape(tuple(data.shape))
    return array[()] if d["scalar"] else array


def _loaded_class(module: str, qualname: str, base: type) -> Optional[type]:
    """The class ``module.qualname`` if that module is already imported (nothing is imported,
    so loading a checkpoint runs no module code) and it subclasses ``base``."""
    cls: Any = sys.modules.get(module)
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    return cls if isinstance(cls, type) and issubclass(cls, base) else None


# The class name and fields come from the checkpoint, so this is typed as a plain class factory
# (a type checker only models namedtuple() calls with literal names).
_namedtuple_class: Callable[[str, List[str]], Type[tuple]] = collections.namedtuple


def _decode_namedtuple(d: Dict[str, Any]) -> Any:
    values = [decode(v) for v in d["values"]]
    cls = _loaded_class(d["module"], d["name"], tuple)
    if cls is None or list(getattr(cls, "_fields", ())) != d["fields"]:
        cls = _namedtuple_class(d["name"].split(".")[-1], d["fields"])
    return cls(*values)


def _decode_bytes(d: Dict[str, Any]) -> bytes:
    raw = d["data"].numpy().tobytes()
    module, qualname = d["class"] if "class" in d else ("", "")
    cls = _loaded_class(module, qualname, bytes) if "class" in d else None
    if cls is None:
        return raw
    obj: bytes = bytes.__new__(cls, raw)
    if hasattr(obj, "__dict__"):
        obj.__dict__.update(decode(d["attrs"]))
    return obj


_DECODERS = {
    "bytes": _decode_bytes,
    "ndarray": _decode_numpy,
    "namedtuple": _decode_namedtuple,
    "frozenset": lambda d: frozenset(decode(v) for v in d["items"]),
    "set": lambda d: {decode(v) for v in d["items"]},
    "dict": lambda d: {decode(k): decode(v) for k, v in d["items"]},
    "generator": lambda d: _generator(d),
}


def _generator(d: Dict[str, Any]) -> torch.Generator:
    gen = torch.Generator(device=d["device"])
    gen.set_state(d["state"])
    return gen
