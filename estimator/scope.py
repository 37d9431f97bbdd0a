"""The model scope: the persistent state a ``model_fn`` runs over.

One :class:`ModelScope` lives for one ``train``/``evaluate``/``predict`` call. It holds the root
``nn.Module`` (a tree of named sub-modules), the optimizers, the streaming metrics, the global
step and the tensors waiting to be restored from a checkpoint. :meth:`ModelScope.call` pushes it
for one ``model_fn`` call; ``est.layers``, ``est.get_module``, ``est.get_variable``,
``est.metrics``, ``est.summary`` and ``est.train`` find it with :func:`current_scope`.

Names. Every object has a slash path such as ``layer_1/conv2d_1/kernel``: the
``variable_scope`` prefixes, then the layer's name (``conv2d``, ``conv2d_1``, ... in call order,
or ``name=``), then the tensor's own name. Counters reset at each call, so the same ``model_fn``
finds the same objects on every call and in every mode. In the root module's ``state_dict`` (and
so in checkpoints) the slashes are dots: ``layer_1.conv2d_1.kernel``.

Restore. Tensors waiting to be restored are copied into each module the moment it is created,
so restoring needs no extra forward pass. After the first step :meth:`check_restored` raises if
a checkpoint tensor was not claimed or a created tensor had no checkpoint value.

Initialization draws from a generator seeded by (scope seed, path), never from the global RNG:
the model's random stream (dropout, ...) is the same whether or not a run was resumed.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import torch
from torch import nn

from estimator._modules import to_channels_last
from estimator._train_step import StepStates

_local = threading.local()


def current_scope() -> "ModelScope":
    """The scope of the ``model_fn`` call in progress.

    Raises ``RuntimeError`` outside a ``model_fn`` run by an Estimator.
    """
    stack = getattr(_local, "stack", None)
    if not stack:
        raise RuntimeError(
            "no model scope is active: est.layers, est.get_module, est.get_variable, "
            "est.metrics, est.summary and est.train.* work only inside a model_fn called by an "
            "Estimator (or inside `with ModelScope(...).call(mode):`)"
        )
    return stack[-1]


def active_scope() -> Optional["ModelScope"]:
    """The scope of the ``model_fn`` call in progress, or ``None`` outside one."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


class _AutoReuse:
    """``est.AUTO_REUSE``: create a variable when it does not exist yet, else reuse it."""

    def __repr__(self) -> str:
        return "AUTO_REUSE"


AUTO_REUSE: Any = _AutoReuse()


def to_state_key(path: str) -> str:
    """``layer_1/dense/kernel`` -> ``layer_1.dense.kernel`` (the state_dict spelling)."""
    return path.replace("/", ".")


def to_path(state_key: str) -> str:
    """``layer_1.dense.kernel`` -> ``layer_1/dense/kernel`` (the TF spelling)."""
    return state_key.replace(".", "/")


#: optimizer param-group flags that pick an implementation of the step, not its state
_KERNEL_FLAGS = ("fused", "foreach", "capturable")


def _with_kernel_flags(saved: Any, opt: torch.optim.Optimizer) -> Any:
    """``saved`` (an optimizer state_dict) with ``opt``'s own :data:`_KERNEL_FLAGS`: which
    kernel runs the step is this process's choice for its device (a checkpoint written on the
    CPU must not ask for a CPU-only fused kernel on a GPU), and torch places the restored step
    counters by those flags."""
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or len(groups) != len(opt.param_groups):
        return saved  # load_state_dict says what does not fit
    flags = [{k: g[k] for k in _KERNEL_FLAGS if k in g} for g in opt.param_groups]
    return {**saved, "param_groups": [{**g, **f} if isinstance(g, dict) else g
                                      for g, f in zip(groups, flags)]}


class ModelScope:
    """State shared by every ``model_fn`` call of one run.

    >>> import torch
    >>> from estimator import layers
    >>> scope = ModelScope()
    >>> with scope.call("infer"):
    ...     y = layers.dense(torch.ones(2, 3), units=4)
    >>> sorted(name for name, _ in scope.root.named_parameters())
    ['dense.bias', 'dense.kernel']
    """

    def __init__(self, device: Any = "cpu", seed: int = 0,
                 restore: Optional[Dict[str, torch.Tensor]] = None,
                 restore_optimizers: Optional[Dict[str, Any]] = None,
                 preload: Optional[Dict[str, torch.Tensor]] = None,
                 ignore_unclaimed: bool = False) -> None:
        self.root = nn.Module()
        self.device = torch.device(device)
        self.seed = int(seed)
        self.mode: Optional[str] = None
        self.global_step = 0
        self.optimizers: Dict[str, torch.optim.Optimizer] = {}
        self.metrics: Dict[str, Any] = {}
        #: bumped whenever a parameter or module is created; ``optimizer_versions`` holds the
        #: version each optimizer last saw, so parameters created later join it
        self.version = 0
        self.optimizer_versions: Dict[str, int] = {}
        self.summary_step = False
        self.summaries: List[Tuple[str, str, Any]] = []
        # Run options set by the Estimator from RunConfig: the autocast dtype of
        # mixed_precision, what get_module compiles, channels_last (see estimator._precision,
        # estimator._modules), and each train op's loss scaler and accumulation state.
        self.autocast_dtype: Optional[torch.dtype] = None
        self.compile: Any = False
        self.channels_last = False
        self.step_states = StepStates()
        #: the model's intra-op threads chosen by measuring the CPU split (checkpointed, so a
        #: resumed run uses the count the uninterrupted one would); None: not measured yet
        self.model_threads: Optional[int] = None
        self._objects: Dict[str, Any] = {}
        self._pending: Dict[str, torch.Tensor] = dict(restore or {})
        self._pending_optimizers: Dict[str, Any] = dict(restore_optimizers or {})
        self._preload: Dict[str, torch.Tensor] = dict(preload or {})
        self._restoring = restore is not None
        self._missing: List[str] = []
        self._used: Dict[str, Set[str]] = {}
        self._prefix: List[str] = []
        self._path = ""  # "/".join(self._prefix)
        #: called with each new module or parameter once it holds its initial (or restored)
        #: values; on many processes it broadcasts rank 0's values
        self.on_create: Optional[Callable[[Any], None]] = None
        #: evaluate/predict restore only what their model_fn builds (train-only state is left)
        self._ignore_unclaimed = ignore_unclaimed
        # per call: variable-scope frames (reuse flags), names claimed, name counters per scope
        self._reuse: List[Any] = []
        self._claimed: Set[str] = set()
        self._counters: Dict[Tuple[str, str], Set[str]] = {}
        #: tensors named in this call (``est.identity``), for hooks
        self.named_tensors: Dict[str, Any] = {}
        self._collections: Dict[str, List[Any]] = {}

    # -- one model_fn call --------------------------------------------------------------------
    @contextlib.contextmanager
    def call(self, mode: str, summary_step: bool = False) -> Iterator["ModelScope"]:
        """Push this scope for one ``model_fn`` call; name counters start afresh."""
        self.mode = mode
        self.summary_step = summary_step
        self._used = {}
        self._prefix, self._path = [], ""
        self._reuse, self._claimed, self._counters = [], set(), {}
        self.named_tensors, self._collections = {}, {}
        stack = getattr(_local, "stack", None)
        if stack is None:
            stack = _local.stack = []
        stack.append(self)
        try:
            yield self
        finally:
            stack.pop()

    @contextlib.contextmanager
    def name_scope(self, name: str, reuse: Any = None, absolute: bool = False) -> Iterator[str]:
        """Prefix the names created inside with ``name/`` (``est.variable_scope``).

        ``reuse=True`` makes every layer/variable inside one that this call created already;
        ``AUTO_REUSE`` creates or reuses; ``None``/``False`` inherit the enclosing scope's flag.
        Entering a scope restarts its name counters, so a network function entered twice names
        its layers the same way both times. ``absolute`` opens ``name`` from the top (a
        ``VariableScope`` object passed back in). Yields the full scope name.
        """
        full, saved = self.push_name_scope(name, reuse, absolute)
        try:
            yield full
        finally:
            self.pop_name_scope(saved)

    def push_name_scope(self, name: str, reuse: Any = None, absolute: bool = False
                        ) -> Tuple[str, Tuple[List[str], str]]:
        """Enter :meth:`name_scope` (for context managers of its own): the full scope name,
        and what :meth:`pop_name_scope` restores."""
        parts = name.split("/") if isinstance(name, str) else []
        if not parts or any(not p or "." in p for p in parts):
            raise ValueError(f"variable_scope name must be non-empty without '.', got {name!r}")
        parent = self._reuse[-1] if self._reuse else False
        effective = parent if reuse is None or reuse is False or parent is True else reuse
        saved = self._prefix, self._path
        self._prefix = (parts if absolute else self._prefix + parts)
        full = self._path = "/".join(self._prefix)
        if self._counters:
            inner = full + "/"
            for key in [k for k in self._counters if k[1] == full or k[1].startswith(inner)]:
                del self._counters[key]
        self._reuse.append(effective)
        return full, saved

    def pop_name_scope(self, saved: Tuple[List[str], str]) -> None:
        """Leave the scope :meth:`push_name_scope` entered."""
        self._reuse.pop()
        self._prefix, self._path = saved

    @contextlib.contextmanager
    def reusing(self, reuse: Any) -> Iterator[None]:
        """Apply ``reuse`` (``True`` or ``AUTO_REUSE``) inside, without a name prefix (what TF's
        shared embedding columns do for their one table)."""
        parent = self._reuse[-1] if self._reuse else False
        self._reuse.append(parent if parent is True else reuse)
        try:
            yield
        finally:
            self._reuse.pop()

    @property
    def reuse(self) -> Any:
        """The reuse flag of the innermost variable scope: ``False``, ``True`` or ``AUTO_REUSE``."""
        return self._reuse[-1] if self._reuse else False

    def set_reuse(self, reuse: Any = True) -> None:
        """Turn reuse on for the rest of the innermost scope (``scope.reuse_variables()``)."""
        if self._reuse:
            self._reuse[-1] = reuse

    def unique_scope_name(self, default_name: str) -> str:
        """``default_name``, ``default_name_1``, ... among the scopes opened here in this call."""
        used = self._counters.setdefault(("scopes", self._path), set())
        name, i = default_name, 0
        while name in used:
            i += 1
            name = f"{default_name}_{i}"
        used.add(name)
        return name

    def unique_name(self, base: str, name: Optional[str] = None, namespace: str = "",
                    shared: bool = False, reuse: Any = None) -> str:
        """Full path for a new object: ``name`` if given, else ``base``, ``base_1``, ...

        For layers and variables (the default namespace) the variable scope's ``reuse`` rules
        apply, as in TF: without reuse a path claimed earlier in this call is an error
        ("already exists"); with ``reuse=True`` a path not claimed yet is one ("does not
        exist"). ``shared`` (``get_module``) returns the same object for the same name;
        ``reuse`` (a layer's own ``reuse=`` argument) applies to this name only.
        """
        prefix = self._path
        if name is not None and (not name or "." in name):
            raise ValueError(f"name must be non-empty without '.', got {name!r}")
        if namespace:
            used = self._used.setdefault(namespace, set())
            full = f"{prefix}/{name or base}" if prefix else (name or base)
            i = 0
            while name is None and full in used:
                i += 1
                full = f"{prefix}/{base}_{i}" if prefix else f"{base}_{i}"
            used.add(full)
            return full
        counters = self._counters.setdefault(("", prefix), set())
        short, i = name if name is not None else base, 0
        while name is None and short in counters:
            i += 1
            short = f"{base}_{i}"
        counters.add(short)
        full = f"{prefix}/{short}" if prefix else short
        reuse = self.reuse if reuse is None or reuse is False or self.reuse is True else reuse
        if reuse is True and full not in self._claimed:
            raise ValueError(
                f"Variable {full} does not exist, or was not created by this model_fn call "
                "before this point. Did you mean to set reuse=est.AUTO_REUSE in the "
                "variable_scope?")
        if reuse is False and not shared and full in self._claimed:
            raise ValueError(
                f"Variable {full} already exists, disallowed. Did you mean to set reuse=True "
                "or reuse=est.AUTO_REUSE in the variable_scope, or to give this layer its own "
                "name=?")
        self._claimed.add(full)
        return full

    # -- named tensors and collections of this call ------------------------------------------
    def name_tensor(self, name: str, tensor: Any) -> None:
        """Record ``tensor`` as ``<variable scope>/name`` for this call (``est.identity``)."""
        prefix = self._path
        self.named_tensors[f"{prefix}/{name}" if prefix else name] = tensor

    def collection(self, name: str) -> List[Any]:
        """This call's collection ``name`` (e.g. the losses ``est.losses`` added)."""
        return self._collections.setdefault(name, [])

    # -- objects ------------------------------------------------------------------------------
    def get(self, path: str) -> Any:
        """The module or parameter at ``path``, or ``None``."""
        return self._objects.get(path)

    def get_or_create(self, path: str, factory: Callable[[], Any]) -> Any:
        """The object at ``path``; ``factory()`` builds it (a Module or a Parameter) on first use."""
        obj = self._objects.get(path)
        if obj is None:
            obj = self._create(path, factory)
        return obj

    def _create(self, path: str, factory: Callable[[], Any]) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(
                (self.seed * 1_000_003 + zlib.crc32(path.encode())) % (2**63))
            obj = factory()
        if isinstance(obj, torch.Tensor) and not isinstance(obj, nn.Parameter):
            obj = nn.Parameter(obj)
        if not isinstance(obj, (nn.Module, nn.Parameter)):
            raise TypeError(
                f"the factory for {path!r} must return an nn.Module or a tensor, got "
                f"{type(obj).__name__}"
            )
        parent, leaf = self._container(path)
        if isinstance(obj, nn.Module):
            obj.to(self.device)
            if self.channels_last:
                to_channels_last(obj)
            obj.train(self.root.training)
            parent.add_module(leaf, obj)
        else:
            if obj.device != self.device:
                obj = nn.Parameter(obj.detach().to(self.device), requires_grad=obj.requires_grad)
            parent.register_parameter(leaf, obj)
        self._objects[path] = obj
        self._load_waiting(path, obj)
        if self.on_create is not None:
            self.on_create(obj)
        self.version += 1
        return obj

    def _container(self, path: str) -> Tuple[nn.Module, str]:
        *parents, leaf = path.split("/")
        node = self.root
        for i, part in enumerate(parents):
            child = node._modules.get(part)
            if child is None:
                if part in node._parameters:
                    raise ValueError(f"{'/'.join(parents[:i + 1])!r} is a variable, not a scope")
                child = nn.Module()
                node.add_module(part, child)
            node = child
        if leaf in node._modules or leaf in node._parameters:
            raise ValueError(
                f"{path!r} already exists in the model scope as another kind of object; "
                "give this one a different name"
            )
        return node, leaf

    def _load_waiting(self, path: str, obj: Any) -> None:
        key = to_state_key(path)
        tensors = ({key: obj} if isinstance(obj, nn.Parameter) else
                   {f"{key}.{k}": v for k, v in obj.state_dict(keep_vars=True).items()})
        for full, tensor in tensors.items():
            value = self._pending.pop(full, None)
            if value is None:
                value = self._preload.pop(full, None)
                if value is None and self._restoring:
                    self._missing.append(to_path(full))
            if value is not None:
                if tuple(value.shape) != tuple(tensor.shape):
                    raise ValueError(
                        f"checkpoint value for {to_path(full)!r} has shape {tuple(value.shape)} "
                        f"but model_fn created it with shape {tuple(tensor.shape)}; the model "
                        "changed since the checkpoint was written (use a new model_dir)"
                    )
                with torch.no_grad():
                    tensor.copy_(value)

    def check_restored(self) -> None:
        """Raise if restored state was not claimed, or created tensors had no saved value.

        Called by the Estimator after the first step.
        """
        self._check_model_restored(optimizers=True)
        self._pending, self._pending_optimizers, self._missing = {}, {}, []
        self._restoring = False
        self._preload = {}

    def _check_model_restored(self, optimizers: bool) -> None:
        unclaimed = [] if self._ignore_unclaimed else sorted(to_path(k) for k in self._pending)
        if optimizers and not self._ignore_unclaimed:
            unclaimed += sorted(f"optimizer {n!r}" for n in self._pending_optimizers)
        if unclaimed or self._missing:
            from estimator.checkpoint import CheckpointMismatchError

            raise CheckpointMismatchError(
                "the checkpoint does not match the model built by model_fn:\n"
                f"  unclaimed keys (in the checkpoint, not created by model_fn): {unclaimed}\n"
                f"  missing keys (created by model_fn, not in the checkpoint): {self._missing}\n"
                "Did model_fn change (layer names follow call order)? Use a new model_dir or "
                "warm_start_from."
            )

    # -- optimizers and metrics ---------------------------------------------------------------
    def get_or_create_optimizer(self, name: str, factory: Callable[[], torch.optim.Optimizer]
                                ) -> torch.optim.Optimizer:
        """The torch optimizer called ``name``; created (and restored) on first use."""
        opt = self.optimizers.get(name)
        if opt is None:
            saved = self._pending_optimizers.pop(name, None)
            if saved is not None:  # model_fn has built the model: check it before its optimizer
                self._check_model_restored(optimizers=False)
            opt = self.optimizers[name] = factory()
            if saved is not None:
                try:
                    opt.load_state_dict(_with_kernel_flags(saved, opt))
                except (ValueError, KeyError) as e:
                    raise ValueError(
                        f"the checkpoint's state for optimizer {name!r} does not fit the "
                        f"optimizer model_fn built now ({e}); did the optimizer or var_list "
                        "change? Use a new model_dir."
                    ) from e
        return opt

    def get_or_create_metric(self, name: str, factory: Callable[[], Any]) -> Any:
        """The streaming metric of this call site, created once and kept across calls.

        Names count like layer names (``accuracy``, ``accuracy_1``, ... within one call, reset
        at each call); the caller passes the user's ``name=`` instead of the default to override.
        """
        path = self.unique_name(name, None, namespace="metrics")
        metric = self.metrics.get(path)
        if metric is None:
            metric = factory()
            if hasattr(metric, "to"):
                moved = metric.to(self.device)
                metric = moved if moved is not None else metric
            self.metrics[path] = metric
        return metric

    # -- summaries ----------------------------------------------------------------------------
    def record_summary(self, kind: str, name: str, value: Any) -> None:
        """Keep a summary for the loop to write (only on summary steps)."""
        prefix = self._path
        self.summaries.append((kind, f"{prefix}/{name}" if prefix else name, value))

    # -- reading ------------------------------------------------------------------------------
    def variable_names(self) -> List[str]:
        """Slash paths of every parameter and buffer."""
        return [to_path(k) for k in self.root.state_dict()]
