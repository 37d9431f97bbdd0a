"""``tf.layers`` on PyTorch: functions whose parameters live in the model scope.

Semantics follow ``tf.layers``: inputs are NHWC by default (``data_format="channels_last"``;
the NCHW view PyTorch kernels need is a zero-copy permute with channels_last strides),
``padding`` is TF's ``"same"`` or ``"valid"`` for any stride (``"same"`` pads the extra pixel
at the bottom/right, as TF does), kernels start glorot-uniform and biases zero, and
``training=`` (default ``False``, as TF) switches dropout and batch normalization. Floating
inputs of another dtype (numpy's float64) are cast to the layer's dtype (float32), as Keras
layers autocast; a dict of features where a layer expects a tensor is an error naming its keys.

Parameter naming. Each layer is a module named ``conv2d``, ``conv2d_1``, ``dense``, ... in call
order (or ``name=``), prefixed by ``est.variable_scope``; its tensors are:

- ``conv2d/kernel`` shaped ``(filters, in_channels, kh, kw)`` and ``conv2d/bias``;
- ``dense/kernel`` shaped ``(units, in_features)`` and ``dense/bias``;
- ``batch_normalization/gamma``, ``/beta`` and the buffers ``/moving_mean``,
  ``/moving_variance``.

Kernels use PyTorch's layouts (those of ``nn.Conv2d.weight``/``nn.Linear.weight``, the
transpose of TF's), so ``torch.nn.init`` functions work as ``kernel_initializer`` and weights
copy to and from ordinary modules unchanged.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from estimator.scope import current_scope
from estimator.variables import Initializer, initialize

IntPair = Union[int, Sequence[int]]
Activation = Optional[Callable[[torch.Tensor], torch.Tensor]]

__all__ = ["average_pooling2d", "batch_normalization", "conv2d", "dense", "dropout", "flatten",
           "max_pooling2d"]


def _pair(value: IntPair, what: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return pair


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """TF's "same" padding (before, after) for one spatial dimension.

    >>> same_padding(28, 5, 2)   # output 14: total 3, the extra pixel goes after
    (1, 2)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _check_padding(padding: str) -> str:
    p = padding.lower() if isinstance(padding, str) else padding
    if p not in ("same", "valid"):
        raise ValueError(f'padding must be "same" or "valid", got {padding!r}')
    return p


def _to_nchw(x: torch.Tensor, data_format: str) -> torch.Tensor:
    if data_format == "channels_last":
        if x.dim() != 4:
            raise ValueError(f"expected a 4-D NHWC input, got shape {tuple(x.shape)}")
        return x.permute(0, 3, 1, 2)
    if data_format == "channels_first":
        return x
    raise ValueError(f'data_format must be "channels_last" or "channels_first", got {data_format!r}')


def _from_nchw(x: torch.Tensor, data_format: str) -> torch.Tensor:
    return x.permute(0, 2, 3, 1) if data_format == "channels_last" else x


def _pads(x: torch.Tensor, padding: str, kernel: Tuple[int, int], strides: Tuple[int, int],
          dilation: Tuple[int, int] = (1, 1)) -> Tuple[Tuple[int, int], Optional[Tuple[int, ...]]]:
    """(symmetric padding for the op, explicit F.pad spec when TF pads asymmetrically)."""
    if padding == "valid":
        return (0, 0), None
    (t, b) = same_padding(x.shape[2], kernel[0], strides[0], dilation[0])
    (l, r) = same_padding(x.shape[3], kernel[1], strides[1], dilation[1])
    if t == b and l == r:
        return (t, l), None
    return (0, 0), (l, r, t, b)


def _tensor_input(inputs: Any, layer: str) -> torch.Tensor:
    """``inputs`` as a tensor; a dict of features is an error naming its keys."""
    if isinstance(inputs, torch.Tensor):
        return inputs
    if isinstance(inputs, dict):
        raise TypeError(
            f"est.layers.{layer}: inputs is a dict of features with keys {sorted(inputs)}, but "
            f"{layer} expects one tensor; pass one of them, e.g. features[{next(iter(inputs))!r}]")
    if type(inputs).__module__ == "numpy":
        return torch.as_tensor(inputs)
    raise TypeError(f"est.layers.{layer}: inputs must be a torch.Tensor, got "
                    f"{type(inputs).__name__}")


def _autocast(inputs: torch.Tensor, dtype: torch.dtype, layer: str) -> torch.Tensor:
    """Floating inputs take the layer's dtype (float64 numpy data meets float32 kernels), as
    Keras layers autocast; other dtypes are an error naming the layer."""
    if inputs.dtype == dtype:
        return inputs
    if inputs.is_floating_point():
        return inputs.to(dtype)
    raise TypeError(f"est.layers.{layer}: inputs must be floating point, got {inputs.dtype}; "
                    "cast them first, e.g. inputs.float()")


def _check_shape(path: str, what: str, tensor: torch.Tensor, expected: Tuple[int, ...]) -> None:
    if tuple(tensor.shape) != expected:
        raise ValueError(
            f"layer {path!r} was created with {what} of shape {tuple(tensor.shape)} but this call "
            f"needs {expected}; the input or the layer arguments changed between calls (give "
            "the layer its own name=)"
        )


class Conv2D(nn.Module):
    """Parameters of ``conv2d``: ``kernel`` (out, in, kh, kw) and ``bias``."""

    def __init__(self, in_channels: int, filters: int, kernel: Tuple[int, int], use_bias: bool,
                 kernel_initializer: Optional[Initializer],
                 bias_initializer: Optional[Initializer], trainable: bool) -> None:
        super().__init__()
        k = torch.empty(filters, in_channels, *kernel)
        self.kernel = nn.Parameter(initialize(k, kernel_initializer, nn.init.xavier_uniform_),
                                   requires_grad=trainable)
        self.bias = (nn.Parameter(initialize(torch.empty(filters), bias_initializer, nn.init.zeros_),
                                  requires_grad=trainable) if use_bias else None)


class Dense(nn.Module):
    """Parameters of ``dense``: ``kernel`` (units, in_features) and ``bias``."""

    def __init__(self, in_features: int, units: int, use_bias: bool,
                 kernel_initializer: Optional[Initializer],
                 bias_initializer: Optional[Initializer], trainable: bool) -> None:
        super().__init__()
        k = torch.empty(units, in_features)
        self.kernel = nn.Parameter(initialize(k, kernel_initializer, nn.init.xavier_uniform_),
                                   requires_grad=trainable)
        self.bias = (nn.Parameter(initialize(torch.empty(units), bias_initializer, nn.init.zeros_),
                                  requires_grad=trainable) if use_bias else None)


class BatchNorm(nn.Module):
    """State of ``batch_normalization``: ``gamma``, ``beta``, ``moving_mean``, ``moving_variance``."""

    def __init__(self, channels: int, center: bool, scale: bool, trainable: bool) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels), requires_grad=trainable) if scale else None
        self.beta = nn.Parameter(torch.zeros(channels), requires_grad=trainable) if center else None
        self.register_buffer("moving_mean", torch.zeros(channels))
        self.register_buffer("moving_variance", torch.ones(channels))


def conv2d(inputs: torch.Tensor, filters: int, kernel_size: IntPair, strides: IntPair = (1, 1),
           padding: str = "valid", data_format: str = "channels_last",
           dilation_rate: IntPair = (1, 1), activation: Activation = None, use_bias: bool = True,
           kernel_initializer: Optional[Initializer] = None,
           bias_initializer: Optional[Initializer] = None, trainable: bool = True,
           name: Optional[str] = None, reuse: Any = None) -> torch.Tensor:
    """2-D convolution, as ``tf.layers.conv2d`` (``reuse=True`` shares the layer ``name``
    created earlier in this call, as TF's ``reuse``).

    >>> import torch
    >>> from estimator.scope import ModelScope
    >>> with ModelScope().call("infer"):
    ...     y = conv2d(torch.ones(1, 28, 28, 3), filters=8, kernel_size=5, strides=2, padding="same")
    >>> tuple(y.shape)
    (1, 14, 14, 8)
    """
    kernel, stride = _pair(kernel_size, "kernel_size"), _pair(strides, "strides")
    dilation = _pair(dilation_rate, "dilation_rate")
    padding = _check_padding(padding)
    x = _to_nchw(_tensor_input(inputs, "conv2d"), data_format)
    scope = current_scope()
    path = scope.unique_name("conv2d", name, reuse=reuse)
    in_channels = x.shape[1]
    layer = scope.get_or_create(path, lambda: Conv2D(
        in_channels, filters, kernel, use_bias, kernel_initializer, bias_initializer, trainable))
    _check_shape(path, "kernel", layer.kernel, (filters, in_channels) + kernel)
    x = _autocast(x, layer.kernel.dtype, "conv2d")
    pad, explicit = _pads(x, padding, kernel, stride, dilation)
    if explicit is not None:
        x = F.pad(x, explicit)
    y = F.conv2d(x, layer.kernel, layer.bias, stride, pad, dilation)
    if activation is not None:
        y = activation(y)
    return _from_nchw(y, data_format)


def _pool(inputs: torch.Tensor, pool_size: IntPair, strides: IntPair, padding: str,
          data_format: str, is_max: bool) -> torch.Tensor:
    kernel, stride = _pair(pool_size, "pool_size"), _pair(strides, "strides")
    padding = _check_padding(padding)
    x = _to_nchw(_tensor_input(inputs, "max_pooling2d" if is_max else "average_pooling2d"),
                 data_format)
    pad, explicit = _pads(x, padding, kernel, stride)
    if is_max:
        if explicit is not None:
            x = F.pad(x, explicit, value=-math.inf)
        y = F.max_pool2d(x, kernel, stride, pad)
    elif explicit is None:
        y = F.avg_pool2d(x, kernel, stride, pad, count_include_pad=False)
    else:
        # TF averages over the real pixels only: divide window sums by window counts.
        ones = F.pad(torch.ones_like(x[:1, :1]), explicit)
        y = F.avg_pool2d(F.pad(x, explicit), kernel, stride) / F.avg_pool2d(ones, kernel, stride)
    return _from_nchw(y, data_format)


def max_pooling2d(inputs: torch.Tensor, pool_size: IntPair, strides: IntPair,
                  padding: str = "valid", data_format: str = "channels_last",
                  name: Optional[str] = None) -> torch.Tensor:
    """2-D max pooling, as ``tf.layers.max_pooling2d`` (no parameters)."""
    return _pool(inputs, pool_size, strides, padding, data_format, is_max=True)


def average_pooling2d(inputs: torch.Tensor, pool_size: IntPair, strides: IntPair,
                      padding: str = "valid", data_format: str = "channels_last",
                      name: Optional[str] = None) -> torch.Tensor:
    """2-D average pooling, as ``tf.layers.average_pooling2d``: padding is not counted."""
    return _pool(inputs, pool_size, strides, padding, data_format, is_max=False)


def dense(inputs: torch.Tensor, units: int, activation: Activation = None, use_bias: bool = True,
          kernel_initializer: Optional[Initializer] = None,
          bias_initializer: Optional[Initializer] = None, trainable: bool = True,
          name: Optional[str] = None, reuse: Any = None) -> torch.Tensor:
    """Fully connected layer over the last axis, as ``tf.layers.dense`` (``reuse=True`` shares
    the layer ``name`` created earlier in this call).

    >>> import torch
    >>> from estimator.scope import ModelScope
    >>> with ModelScope().call("infer"):
    ...     y = dense(torch.ones(4, 3), units=2, kernel_initializer=torch.nn.init.ones_)
    >>> y.tolist()
    [[3.0, 3.0], [3.0, 3.0], [3.0, 3.0], [3.0, 3.0]]
    """
    inputs = _tensor_input(inputs, "dense")
    scope = current_scope()
    path = scope.unique_name("dense", name, reuse=reuse)
    in_features = inputs.shape[-1]
    layer = scope.get_or_create(path, lambda: Dense(
        in_features, units, use_bias, kernel_initializer, bias_initializer, trainable))
    kernel = layer.kernel
    if kernel.shape != (units, in_features):
        _check_shape(path, "kernel", kernel, (units, in_features))
    if inputs.dtype != kernel.dtype:
        inputs = _autocast(inputs, kernel.dtype, "dense")
    y = F.linear(inputs, kernel, layer.bias)
    return activation(y) if activation is not None else y


def dropout(inputs: torch.Tensor, rate: float = 0.5, noise_shape: Any = None, seed: Any = None,
            training: bool = False, name: Optional[str] = None) -> torch.Tensor:
    """Drop ``rate`` of the units when ``training`` (scaling the rest), as ``tf.layers.dropout``.

    ``noise_shape`` (broadcastable to the input, e.g. ``(batch, 1, 1, channels)``) drops whole
    slices together, as in TF. ``seed`` is accepted for compatibility; the mask comes from
    torch's generator, which the Estimator seeds from ``RunConfig.tf_random_seed``.
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate!r}")
    inputs = _tensor_input(inputs, "dropout")
    if noise_shape is None or not training or rate == 0:
        return F.dropout(inputs, rate, bool(training))
    shape = tuple(inputs.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    try:
        torch.broadcast_shapes(shape, tuple(inputs.shape))
    except RuntimeError:
        raise ValueError(f"dropout: noise_shape {tuple(noise_shape)} does not broadcast to the "
                         f"input shape {tuple(inputs.shape)}") from None
    keep = torch.empty(shape, device=inputs.device, dtype=inputs.dtype).bernoulli_(1 - rate)
    return inputs * keep / (1 - rate)


def flatten(inputs: torch.Tensor, name: Optional[str] = None) -> torch.Tensor:
    """Keep the batch dimension, flatten the rest (NHWC order for NHWC inputs)."""
    inputs = _tensor_input(inputs, "flatten")
    return inputs.reshape(inputs.shape[0], -1)


def batch_normalization(inputs: torch.Tensor, axis: int = -1, momentum: float = 0.99,
                        epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                        training: bool = False, trainable: bool = True,
                        name: Optional[str] = None, reuse: Any = None) -> torch.Tensor:
    """Batch normalization over ``axis`` (the channels), as ``tf.layers.batch_normalization``.

    With ``training=True`` it normalizes with the batch statistics and updates the moving ones
    in place (``moving = momentum * moving + (1 - momentum) * batch``; the variance is the
    unbiased batch variance, as TF's fused kernel); otherwise it uses the moving statistics.
    No ``UPDATE_OPS`` dependency is needed.
    """
    inputs = _tensor_input(inputs, "batch_normalization")
    ndim = inputs.dim()
    axis = axis % ndim
    scope = current_scope()
    path = scope.unique_name("batch_normalization", name, reuse=reuse)
    channels = inputs.shape[axis]
    layer = scope.get_or_create(path, lambda: BatchNorm(channels, center, scale, trainable))
    _check_shape(path, "moving_mean", layer.moving_mean, (channels,))
    inputs = _autocast(inputs, layer.moving_mean.dtype, "batch_normalization")
    x = inputs if axis == 1 else inputs.movedim(axis, 1)
    y = F.batch_norm(x, layer.moving_mean, layer.moving_variance, layer.gamma, layer.beta,
                     bool(training), 1.0 - momentum, epsilon)
    return y if axis == 1 else y.movedim(1, axis)
