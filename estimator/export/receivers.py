"""Serving input receivers: what an exported model takes, and how it becomes ``features``.

A ``serving_input_receiver_fn`` returns a receiver built from **example tensors** (where TF
made placeholders): their dtypes and their shapes after the first (batch) dimension are what
the export accepts; the batch dimension is dynamic unless ``default_batch_size`` fixes it.

- ``features`` equal to ``receiver_tensors`` (the same tensors, as
  :func:`build_raw_serving_input_receiver_fn` builds) are passed straight to ``model_fn``.
- ``features`` computed from ``receiver_tensors`` must be given as a function of them,
  ``features=lambda t: {"x": t["image"] / 255}``, so the computation is traced into the export
  (an eager tensor cannot tell how it was computed).
- :func:`build_parsing_serving_input_receiver_fn` takes serialized ``tf.Example`` records
  (``examples``, a list of ``bytes``) parsed by ``data.io.parse_example`` when the model runs.

>>> import torch
>>> fn = build_raw_serving_input_receiver_fn({"x": torch.zeros(1, 3)})
>>> sorted(fn().receiver_tensors)
['x']
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Union

import torch

__all__ = ["ServingInputReceiver", "SupervisedInputReceiver", "TensorServingInputReceiver",
           "build_parsing_serving_input_receiver_fn", "build_raw_serving_input_receiver_fn",
           "build_raw_supervised_input_receiver_fn"]

Tensors = Union[torch.Tensor, Mapping[str, torch.Tensor]]


def _as_dict(value: Any, default_key: str, what: str) -> Dict[str, torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return {default_key: value}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a tensor or a dict of string to tensor, got "
                         f"{type(value).__name__}")
    for key, tensor in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{what} keys must be strings: {key!r}")
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{what}[{key!r}] must be a torch.Tensor (an example of what the "
                             f"export takes), got {type(tensor).__name__}")
    return dict(value)


class ServingInputReceiver:
    """``features`` for ``model_fn`` and the ``receiver_tensors`` a request supplies.

    ``features``: a tensor (passed as ``{"feature": t}``), a dict of tensors, or a function of
    the ``receiver_tensors`` dict (traced into the export). ``receiver_tensors``: a tensor
    (named ``input``) or a dict. ``receiver_tensors_alternatives`` is not supported.
    """

    def __init__(self, features: Union[Tensors, Callable[[Dict[str, torch.Tensor]], Any]],
                 receiver_tensors: Tensors,
                 receiver_tensors_alternatives: Optional[Mapping[str, Any]] = None) -> None:
        if receiver_tensors_alternatives:
            raise ValueError("ServingInputReceiver: receiver_tensors_alternatives is not "
                             "supported; export one model per input format")
        self.receiver_tensors = _as_dict(receiver_tensors, "input", "receiver_tensors")
        self._fn = features if callable(features) else None
        self.features = None if self._fn else self._wrap(features)
        #: set by the parsing receiver: the feature_spec given to data.io.parse_example
        self.parse_spec: Optional[Dict[str, Any]] = None
        #: a fixed batch size for the export (``None``: any batch size)
        self.default_batch_size: Optional[int] = None

    def _wrap(self, features: Any) -> Any:
        return _as_dict(features, "feature", "features")

    def features_from(self, receiver_tensors: Dict[str, torch.Tensor]) -> Any:
        """``features`` for the given receiver tensors (at export: the example ones)."""
        if self._fn is not None:
            return self._fn(receiver_tensors)
        by_id = {id(t): name for name, t in self.receiver_tensors.items()}
        features = self.features if isinstance(self.features, dict) else {"": self.features}
        out = {}
        for key, tensor in features.items():
            name = by_id.get(id(tensor))
            if name is None:
                raise ValueError(
                    f"features[{key!r}] is not one of the receiver_tensors: an eager tensor "
                    "computed from them cannot be replayed at serving time. Pass features as "
                    "a function of the receiver_tensors dict, e.g. "
                    "ServingInputReceiver(features=lambda t: {'x': t['image'] / 255}, "
                    "receiver_tensors={'image': example}), or move the computation into "
                    "model_fn.")
            out[key] = receiver_tensors[name]
        return out if isinstance(self.features, dict) else out[""]


class TensorServingInputReceiver(ServingInputReceiver):
    """Like :class:`ServingInputReceiver`, but ``features`` is one tensor passed to
    ``model_fn`` as is (not wrapped in a dict).

    >>> import torch
    >>> images = torch.zeros(2, 28, 28, 3)
    >>> receiver = TensorServingInputReceiver(images, {"images": images})
    >>> receiver.features_from(receiver.receiver_tensors).shape
    torch.Size([2, 28, 28, 3])
    """

    def _wrap(self, features: Any) -> Any:
        if not isinstance(features, torch.Tensor):
            raise ValueError(f"TensorServingInputReceiver: features must be a single tensor, got "
                             f"{type(features).__name__}")
        return features


class SupervisedInputReceiver(ServingInputReceiver):
    """Features and labels, for exporting the EVAL mode (``experimental_mode``)."""

    def __init__(self, features: Tensors, labels: Tensors, receiver_tensors: Tensors) -> None:
        super().__init__(features, receiver_tensors)
        self.labels = labels if isinstance(labels, torch.Tensor) else _as_dict(labels, "label",
                                                                               "labels")

    def labels_from(self, receiver_tensors: Dict[str, torch.Tensor]) -> Any:
        by_id = {id(t): name for name, t in self.receiver_tensors.items()}
        labels = self.labels if isinstance(self.labels, dict) else {"": self.labels}
        out = {}
        for key, tensor in labels.items():
            if id(tensor) not in by_id:
                raise ValueError(f"labels[{key!r}] must be one of the receiver_tensors")
            out[key] = receiver_tensors[by_id[id(tensor)]]
        return out if isinstance(self.labels, dict) else out[""]


def _batched(tensor: torch.Tensor, default_batch_size: Optional[int], name: str) -> torch.Tensor:
    if tensor.dim() == 0:
        raise ValueError(f"feature {name!r}: an example tensor needs a batch dimension, got a "
                         "scalar; add one with tensor[None]")
    batch = default_batch_size or tensor.shape[0]
    if tensor.shape[0] == batch:
        return tensor.clone()
    return tensor[:1].expand(batch, *tensor.shape[1:]).clone()


def build_raw_serving_input_receiver_fn(features: Tensors,
                                        default_batch_size: Optional[int] = None
                                        ) -> Callable[[], ServingInputReceiver]:
    """A receiver fn taking exactly ``features`` (example tensors, first dimension the batch;
    a lone tensor gives a :class:`TensorServingInputReceiver` named ``input``)."""
    single = isinstance(features, torch.Tensor)
    examples = _as_dict(features, "input", "features")

    def serving_input_receiver_fn() -> ServingInputReceiver:
        tensors = {k: _batched(t, default_batch_size, k) for k, t in examples.items()}
        receiver = (TensorServingInputReceiver(tensors["input"], tensors) if single
                    else ServingInputReceiver(dict(tensors), tensors))
        receiver.default_batch_size = default_batch_size
        return receiver

    return serving_input_receiver_fn


def build_raw_supervised_input_receiver_fn(features: Tensors, labels: Tensors,
                                           default_batch_size: Optional[int] = None
                                           ) -> Callable[[], SupervisedInputReceiver]:
    """A receiver fn taking ``features`` and ``labels`` (for EVAL-mode exports)."""
    feats = _as_dict(features, "feature", "features")
    labs = _as_dict(labels, "label", "labels")
    clash = sorted(set(feats) & set(labs))
    if clash:
        raise ValueError(f"features and labels have the same keys {clash}; rename one")

    def supervised_input_receiver_fn() -> SupervisedInputReceiver:
        f = {k: _batched(t, default_batch_size, k) for k, t in feats.items()}
        l_ = {k: _batched(t, default_batch_size, k) for k, t in labs.items()}
        receiver = SupervisedInputReceiver(
            f if not isinstance(features, torch.Tensor) else f["feature"],
            l_ if not isinstance(labels, torch.Tensor) else l_["label"], {**f, **l_})
        receiver.default_batch_size = default_batch_size
        return receiver

    return supervised_input_receiver_fn


def _example_tensor(name: str, spec: Any, batch: int) -> torch.Tensor:
    shape, dtype = getattr(spec, "shape", None), getattr(spec, "dtype", None)
    if shape is None or not isinstance(dtype, torch.dtype):
        raise ValueError(f"feature_spec[{name!r}]: the export takes fixed-length numeric "
                         f"features (data.io.FixedLenFeature with a torch dtype); got {spec!r}")
    return torch.zeros((batch, *tuple(shape)), dtype=dtype)


def build_parsing_serving_input_receiver_fn(feature_spec: Mapping[str, Any],
                                            default_batch_size: Optional[int] = None
                                            ) -> Callable[[], ServingInputReceiver]:
    """A receiver fn taking serialized ``tf.Example`` records (``examples``: a list of
    ``bytes``), parsed with ``data.io.parse_example(examples, feature_spec)`` when the exported
    model runs; the model itself is traced over the parsed features."""
    spec = dict(feature_spec)

    def serving_input_receiver_fn() -> ServingInputReceiver:
        batch = default_batch_size or 2
        features = {k: _example_tensor(k, s, batch) for k, s in spec.items()}
        receiver = ServingInputReceiver(dict(features), features)
        receiver.parse_spec = spec
        receiver.default_batch_size = default_batch_size
        return receiver

    return serving_input_receiver_fn
