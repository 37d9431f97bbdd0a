"""``input_layer`` and ``linear_model``: a batch of features through a list of columns."""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, cast

import torch

import estimator as est
from estimator.feature_column._base import CategoricalColumn, DenseColumn, FeatureColumn, \
    variable_name
from estimator.feature_column._inputs import FeatureCache
from estimator.feature_column.dense import as_dense, combine
from estimator.feature_column.numeric import NumericColumn
from estimator.scope import current_scope


def check_columns(feature_columns: Any, where: str) -> List[FeatureColumn]:
    """``feature_columns`` as a list, checked: columns only, no two with one name."""
    if isinstance(feature_columns, FeatureColumn):
        feature_columns = [feature_columns]
    if isinstance(feature_columns, (str, bytes, Mapping)) or not isinstance(
            feature_columns, Iterable):
        raise ValueError(f"{where}: feature_columns must be a list of feature columns, got "
                         f"{type(feature_columns).__name__}")
    cols = list(feature_columns)
    if not cols:
        raise ValueError(f"{where}: feature_columns must not be empty")
    for c in cols:
        if not isinstance(c, FeatureColumn):
            raise ValueError(f"{where}: items of feature_columns must be feature columns, got "
                             f"{c!r}")
    seen: Dict[str, FeatureColumn] = {}
    for c in cols:
        if c.name in seen and seen[c.name] != c:
            raise ValueError(f"{where}: duplicate feature column name {c.name!r} for columns "
                             f"{seen[c.name]!r} and {c!r}")
        seen[c.name] = c
    return list(seen.values())


def _in_scope(name: str) -> Any:
    try:
        current_scope()
    except RuntimeError:
        return contextlib.nullcontext()
    return est.variable_scope(name)


def _variables(column: FeatureColumn, trainable: bool, where: str) -> Dict[str, Any]:
    try:
        return column.make_variables(trainable)
    except RuntimeError as e:
        raise RuntimeError(f"{where}: column {column.name!r} has variables, so it must run "
                           f"inside a model_fn called by an Estimator ({e})") from e


def input_layer(features: Mapping[str, Any], feature_columns: Iterable[Any],
                weight_collections: Any = None, trainable: bool = True,
                cols_to_vars: Optional[Dict[Any, List[torch.Tensor]]] = None,
                cols_to_output_tensors: Optional[Dict[Any, torch.Tensor]] = None
                ) -> torch.Tensor:
    """The dense input of a network: every column's block, concatenated, ``[batch, n]``
    float32 (TF 1.x ``tf.feature_column.input_layer``).

    Columns are laid out in order of their names, as TF does. Variables (embedding tables)
    are created under ``input_layer/`` in the current variable scope; ``cols_to_vars`` and
    ``cols_to_output_tensors``, when given, are filled per column.

    >>> import torch
    >>> cols = [numeric_column("b"), numeric_column("a", shape=(2,))]
    >>> input_layer({"a": torch.tensor([[1.0, 2.0]]), "b": torch.tensor([3.0])}, cols)
    tensor([[1., 2., 3.]])
    """
    where = "input_layer"
    cols = [as_dense(c, where) for c in check_columns(feature_columns, where)]
    return dense_input(features, sorted(cols, key=lambda c: c.name), trainable, cols_to_vars,
                       cols_to_output_tensors)


def dense_input(features: Mapping[str, Any], sorted_columns: List[DenseColumn],
                trainable: bool = True, cols_to_vars: Optional[Dict[Any, Any]] = None,
                cols_to_output_tensors: Optional[Dict[Any, Any]] = None) -> torch.Tensor:
    """:func:`input_layer` over columns already checked and sorted by name."""
    where = "input_layer"
    cache = FeatureCache(features)
    if cols_to_vars is None and cols_to_output_tensors is None:
        stacked = _stack_plain_numeric(cache, sorted_columns)
        if stacked is not None:
            with _in_scope("input_layer"):  # the same scopes as the general path
                return stacked
    outputs = []
    with _in_scope("input_layer"):
        for column in sorted_columns:
            variables = _variables(column, trainable, where)
            out = column.dense(cache, variables)
            outputs.append(out)
            if cols_to_vars is not None:
                cols_to_vars[column] = list(variables.values())
            if cols_to_output_tensors is not None:
                cols_to_output_tensors[column] = out
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, 1)


#: the feature keys of column lists that are all plain numeric columns (else ``None``), by
#: the list's id (the list kept, so that the id stays its own); bounded
_PLAIN_KEYS: Dict[int, Tuple[List[DenseColumn], Optional[List[str]]]] = {}


def _plain_numeric_keys(columns: List[DenseColumn]) -> Optional[List[str]]:
    hit = _PLAIN_KEYS.get(id(columns))
    if hit is not None and hit[0] is columns:
        return hit[1]
    numeric = [c for c in columns if type(c) is NumericColumn]
    plain = len(numeric) == len(columns) and all(
        c.shape == (1,) and c.normalizer_fn is None for c in numeric)
    keys: Optional[List[str]] = [c.key for c in numeric] if plain else None
    if len(_PLAIN_KEYS) >= 64:
        _PLAIN_KEYS.clear()
    _PLAIN_KEYS[id(columns)] = (columns, keys)
    return keys


def _stack_plain_numeric(cache: FeatureCache, columns: List[DenseColumn]
                         ) -> Optional[torch.Tensor]:
    """One ``stack`` for the common case (every column a plain ``numeric_column(key)`` of a
    ``[batch]`` float32 tensor on the device), equal to the general path's concatenation of
    ``[batch, 1]`` blocks; ``None`` when any column needs the general path."""
    keys = _plain_numeric_keys(columns)
    if keys is None:
        return None
    features = cache.features
    raws = [features.get(key) for key in keys]
    if not all(type(r) is torch.Tensor and r.dtype is torch.float32 for r in raws):
        return None
    try:  # torch checks that the shapes and devices agree
        stacked = torch.stack(cast("List[torch.Tensor]", raws), 1)
    except (RuntimeError, IndexError):
        return None  # the general path raises the error naming the column
    if stacked.dim() != 2 or stacked.device != cache.device:
        return None
    return stacked


def _zeros(t: torch.Tensor) -> torch.Tensor:
    return torch.nn.init.zeros_(t)


def linear_model(features: Mapping[str, Any], feature_columns: Iterable[Any], units: int = 1,
                 sparse_combiner: str = "sum", weight_collections: Any = None,
                 trainable: bool = True,
                 cols_to_vars: Optional[Dict[Any, List[torch.Tensor]]] = None
                 ) -> torch.Tensor:
    """A linear function of the columns, ``[batch, units]`` (``tf.feature_column.linear_model``).

    Each column gets ``linear_model/<column name>/weights`` (``[width, units]`` for a dense
    column, ``[num_buckets, units]`` for a categorical one, whose ids' rows are combined by
    ``sparse_combiner``: ``"sum"``, ``"mean"`` or ``"sqrtn"``), plus one
    ``linear_model/bias_weights``; all start at zero, as in TF. Must run inside a ``model_fn``.
    """
    where = "linear_model"
    if sparse_combiner not in ("sum", "mean", "sqrtn"):
        raise ValueError(f"{where}: sparse_combiner must be 'sum', 'mean' or 'sqrtn', got "
                         f"{sparse_combiner!r}")
    if not isinstance(units, int) or units < 1:
        raise ValueError(f"{where}: units must be a positive int, got {units!r}")
    cols = check_columns(feature_columns, where)
    cache = FeatureCache(features)
    total: Optional[torch.Tensor] = None
    with _in_scope("linear_model"):
        for column in sorted(cols, key=lambda c: c.name):
            name = f"{variable_name(column.name)}/weights"
            if isinstance(column, CategoricalColumn):
                w = est.get_variable(name, [column.num_buckets, units], initializer=_zeros,
                                     trainable=trainable)
                ids = column.ids(cache).valid()
                out = combine(ids, torch.nn.functional.embedding(ids.ids, w), sparse_combiner)
            elif isinstance(column, DenseColumn):
                variables = _variables(column, trainable, where)
                x = column.dense(cache, variables)
                w = est.get_variable(name, [column.dimension_flat, units], initializer=_zeros,
                                     trainable=trainable)
                out = x @ w
            else:  # pragma: no cover - check_columns admits only these
                raise ValueError(f"{where}: unsupported column {column!r}")
            if cols_to_vars is not None:
                cols_to_vars[column] = [w]
            total = out if total is None else total + out
        bias = est.get_variable("bias_weights", [units], initializer=_zeros, trainable=trainable)
        if cols_to_vars is not None:
            cols_to_vars["bias"] = [bias]
    assert total is not None  # check_columns admits no empty column list
    return total + bias
