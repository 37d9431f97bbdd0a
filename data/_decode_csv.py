"""``decode_csv``: split CSV records into typed columns, with ``tf.io.decode_csv``'s rules.

Follows TF's DecodeCSV kernel: a field that starts with ``"`` (with ``use_quote_delim``) is
quoted, ``""`` inside it is one quote, and it must end with a quote followed by the delimiter
or the end; an unquoted field may not contain a quote. An empty record has no fields. Empty
fields and fields equal to ``na_value`` take the column's default; a column whose default is
empty is required. Numbers must parse whole (``"1.5"`` is not an int32, ``"99999999999"`` is
not an int32 but is an int64); whitespace around a number is allowed, strings keep it.
"""

from __future__ import annotations

import math
import re
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = ["decode_csv"]

_INT = re.compile(r"\s*[+-]?\d+\s*\Z")
_INT_RANGE = {torch.int32: (-(2**31), 2**31 - 1), torch.int64: (-(2**63), 2**63 - 1)}
_NAMES = {torch.int32: "int32", torch.int64: "int64", torch.float32: "float",
          torch.float64: "double", str: "string"}


def _column_type(i: int, default: Any) -> Tuple[Any, Any]:
    """(dtype or ``str``, default value or ``None`` when the column is required)."""
    if isinstance(default, torch.Tensor):
        if default.dtype not in _NAMES:
            raise TypeError(f"decode_csv: record_defaults[{i}] has dtype {default.dtype}; "
                            "supported are int32, int64, float32, float64 and strings")
        if default.numel() > 1:
            raise ValueError(f"decode_csv: record_defaults[{i}] must have at most one value, "
                             f"got {default.numel()}")
        return default.dtype, default.reshape(-1)[0].item() if default.numel() else None
    if isinstance(default, np.ndarray):
        return _column_type(i, torch.from_numpy(default) if default.dtype.kind not in "USO"
                            else default.tolist())
    values = list(default) if isinstance(default, (list, tuple)) else [default]
    if len(values) > 1:
        raise ValueError(f"decode_csv: record_defaults[{i}] must have at most one value, got "
                         f"{values!r}")
    if not values:
        return torch.float32, None  # TF reads [] as an empty float32 tensor
    value = values[0]
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        return str, value
    if isinstance(value, bool):
        raise TypeError(f"decode_csv: record_defaults[{i}] is a bool; supported are int, "
                        "float and string columns")
    if isinstance(value, (int, np.integer)):
        return torch.int32, int(value)  # TF makes Python ints int32
    if isinstance(value, (float, np.floating)):
        return torch.float32, float(value)
    raise TypeError(f"decode_csv: record_defaults[{i}] must be a number, a string or an "
                    f"empty list, got {type(value).__name__}")


def _split(record: str, delim: str, quotes: bool, index: int) -> List[str]:
    if record == "":
        return []
    fields: List[str] = []
    i, n = 0, len(record)
    while True:
        if quotes and i < n and record[i] == '"':
            parts, j = [], i + 1
            while True:
                k = record.find('"', j)
                if k < 0:
                    raise ValueError(f"decode_csv: record {index}: Quoted field has to end "
                                     f"with quote followed by delim or end: {record!r}")
                parts.append(record[j:k])
                if k + 1 < n and record[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                break
            if k + 1 < n and record[k + 1] != delim:
                raise ValueError(f"decode_csv: record {index}: Quoted field has to end with "
                                 f"quote followed by delim or end: {record!r}")
            fields.append("".join(parts))
            i = k + 2
            if k + 1 >= n:
                return fields
        else:
            k = record.find(delim, i)
            field = record[i:] if k < 0 else record[i:k]
            if quotes and ('"' in field or "\n" in field or "\r" in field):
                raise ValueError(f"decode_csv: record {index}: Unquoted fields cannot have "
                                 f"quotes/CRLFs inside: {record!r}")
            fields.append(field)
            if k < 0:
                return fields
            i = k + 1


def _convert(field: str, dtype: Any, column: int, record: int) -> Any:
    if dtype is str:
        return field
    name = _NAMES[dtype]
    if dtype in _INT_RANGE:
        low, high = _INT_RANGE[dtype]
        if _INT.match(field) and low <= int(field) <= high:
            return int(field)
    else:
        try:
            if "_" not in field:
                value = float(field)
                if dtype is torch.float32 or math.isfinite(value) or field.strip().lower() in (
                        "inf", "+inf", "-inf", "infinity", "-infinity", "nan"):
                    return value
        except ValueError:
            pass
    raise ValueError(f"decode_csv: Field {column} in record {record} is not a valid {name}: "
                     f"{field}")


def decode_csv(records: Any, record_defaults: Sequence[Any], field_delim: str = ",",
               use_quote_delim: bool = True, na_value: str = "",
               select_cols: Optional[Sequence[int]] = None,
               name: Optional[str] = None) -> List[Any]:
    """Parse CSV ``records`` into one value per column, like ``tf.io.decode_csv``.

    ``records`` is a ``str`` (or ``bytes``) or a list of them. ``record_defaults`` has one entry
    per (selected) column: ``[value]`` gives the column's type and the value of an empty field
    (Python ``int`` → int32, ``float`` → float32, ``str`` → string; a tensor gives its dtype:
    int32/int64/float32/float64), ``[]`` or an empty tensor makes the column required.
    ``select_cols`` (increasing indices) reads only those columns.

    Returns a list with one entry per column: a tensor shaped like ``records`` for numbers, and
    ``str`` (or a list of ``str``) for strings. Errors are ``ValueError`` with TF's wording and
    the record's index.

    >>> age, name = decode_csv(["31,ann", ",bob"], [[0], ["?"]])
    >>> age.tolist(), name
    ([31, 0], ['ann', 'bob'])
    """
    if not isinstance(field_delim, str) or len(field_delim) != 1:
        raise ValueError(f"decode_csv: field_delim must be one character, got {field_delim!r}")
    columns = [_column_type(i, d) for i, d in enumerate(record_defaults)]
    if select_cols is not None:
        select = [int(c) for c in select_cols]
        if any(c < 0 for c in select) or any(b <= a for a, b in zip(select, select[1:])):
            raise ValueError(f"decode_csv: select_cols must be non-negative and strictly "
                             f"increasing, got {list(select_cols)}")
        if len(select) != len(columns):
            raise ValueError(f"decode_csv: {len(columns)} record_defaults for {len(select)} "
                             "select_cols; give one default per selected column")
    single = isinstance(records, (str, bytes))
    flat = [records] if single else list(np.asarray(records, dtype=object).ravel())
    shape = () if single else np.asarray(records, dtype=object).shape
    out: List[List[Any]] = [[] for _ in columns]
    for r, record in enumerate(flat):
        if isinstance(record, bytes):
            record = record.decode("utf-8")
        if not isinstance(record, str):
            raise TypeError(f"decode_csv: records must be strings; record {r} is a "
                            f"{type(record).__name__}")
        fields = _split(record, field_delim, use_quote_delim, r)
        if select_cols is None:
            if len(fields) != len(columns):
                raise ValueError(f"decode_csv: Expect {len(columns)} fields but have "
                                 f"{len(fields)} in record {r}")
            chosen = fields
        else:
            if len(fields) <= select[-1]:
                raise ValueError(f"decode_csv: Expect {select[-1] + 1} fields but have "
                                 f"{len(fields)} in record {r} (select_cols={select})")
            chosen = [fields[c] for c in select]
        for c, (field, (dtype, default)) in enumerate(zip(chosen, columns)):
            column = select[c] if select_cols is not None else c
            if field == "" or field == na_value:
                if default is None:
                    raise ValueError(f"decode_csv: Field {column} is required but missing in "
                                     f"record {r}!")
                out[c].append(default)
            else:
                out[c].append(_convert(field, dtype, column, r))
    result: List[Any] = []
    for values, (dtype, _) in zip(out, columns):
        if dtype is str:
            result.append(values[0] if single else _reshape(values, shape))
        else:
            result.append(torch.tensor(values, dtype=dtype).reshape(shape))
    return result


def _reshape(values: List[Any], shape: Tuple[int, ...]) -> Any:
    if len(shape) <= 1:
        return values
    step = math.prod(shape[1:])
    return [_reshape(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]
