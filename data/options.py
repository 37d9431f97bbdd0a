"""``data.Options``: tf.data's tree of pipeline options, and how a pipeline sees them.

The classes mirror TF's: every option is a typed attribute that is ``None`` until set (a wrong
type is a ``TypeError`` naming it; an unknown name an ``AttributeError``), ``==`` compares the
values, and :meth:`Options.merge` combines two trees as ``tf.data`` does: an option set in the
later tree wins, sub-trees merge recursively, an option left at its default never overrides.
TF 1.15's spellings ``experimental_threading`` and ``experimental_deterministic`` are the same
attributes as ``threading`` and ``deterministic``; ``distribute`` is another name for
``experimental_distribute``.

``Dataset.with_options`` merges into the options its input carries; every transformation
carries its inputs' options (merged in order for ``zip``/``concatenate``), and
``Dataset.options()`` returns an immutable copy. When a pipeline is iterated, the options of the
outermost dataset apply to all of it; ops read them with :func:`current`. How the engine
honours each option is described on the attribute.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import logging
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Type

from data._iterator import DatasetIterator
from data.dataset import Dataset

logger = logging.getLogger(__name__)

__all__ = ["AutoShardPolicy", "AutotuneOptions", "DistributeOptions", "OptimizationOptions",
           "Options", "ThreadingOptions"]


class _OptionsBase:
    """A set of typed options; ``None`` means "not set, use the default"."""

    #: Attribute names that are aliases of others: TF 1.x spellings.
    _aliases: Dict[str, str] = {}

    def __init__(self) -> None:
        object.__setattr__(self, "_options", {})
        object.__setattr__(self, "_mutable", True)

    def __getattr__(self, name: str) -> Any:
        alias = type(self)._aliases.get(name)
        if alias is None:
            raise AttributeError(f"{type(self).__name__} has no option {name!r}")
        return getattr(self, alias)

    def __setattr__(self, name: str, value: Any) -> None:
        name = type(self)._aliases.get(name, name)
        if not self._mutable:
            raise ValueError("Mutating the Options returned by Dataset.options() has no effect; "
                             "use Dataset.with_options(options) to set or update options")
        if not isinstance(getattr(type(self), name, None), property):
            raise AttributeError(f"Cannot set the property {name} on {type(self).__name__}.")
        object.__setattr__(self, name, value)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        names = set(self._options) | set(other._options)
        return all(getattr(self, name) == getattr(other, name) for name in names)

    def __ne__(self, other: Any) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in sorted(self._options)
                          if getattr(self, name) != getattr(type(self)(), name))
        return f"{type(self).__name__}({shown})"

    def _set_mutable(self, mutable: bool) -> None:
        object.__setattr__(self, "_mutable", mutable)
        for value in self._options.values():
            if isinstance(value, _OptionsBase):
                value._set_mutable(mutable)


def _option(name: str, ty: Any, doc: str,
            default_factory: Callable[[], Any] = lambda: None) -> property:
    """A type-checked option attribute, as TF's ``create_option``."""

    def get(self: _OptionsBase) -> Any:
        if name not in self._options:
            value = default_factory()
            if isinstance(value, _OptionsBase) and not self._mutable:
                value._set_mutable(False)
            self._options[name] = value
        return self._options[name]

    def set_(self: _OptionsBase, value: Any) -> None:
        # bool is an int in Python; TF's check lets it through for int options too.
        if not isinstance(value, ty):
            raise TypeError(f'Property "{name}" must be of type {_type_name(ty)}, got: {value!r} '
                            f"(type: {type(value).__name__})")
        self._options[name] = value

    return property(get, set_, None, doc)


def _type_name(ty: Any) -> str:
    return " or ".join(t.__name__ for t in ty) if isinstance(ty, tuple) else ty.__name__


def merge(*options_list: _OptionsBase) -> _OptionsBase:
    """Merge option trees of one type: a value set in a later tree wins (TF's rule)."""
    if not options_list:
        raise ValueError("merge: at least one Options object is needed")
    result_type: Type[_OptionsBase] = type(options_list[0])
    for options in options_list:
        if not isinstance(options, result_type):
            raise TypeError(f"Could not merge incompatible options of type "
                            f"{type(options).__name__} and {result_type.__name__}.")
    default, result = result_type(), result_type()
    for options in options_list:
        for name in options._options:
            this, that = getattr(result, name), getattr(options, name)
            unset = getattr(default, name)
            if that == unset:
                continue
            if isinstance(that, _OptionsBase):  # a copy: the caller's object stays its own
                setattr(result, name, merge(that) if this == unset else merge(this, that))
            elif this == unset:
                setattr(result, name, that)
            elif this != that:
                logger.warning("Changing the value of option %s from %r to %r.", name, this, that)
                setattr(result, name, that)
    return result


class AutoShardPolicy(enum.IntEnum):
    """How a distributed input pipeline is split between workers (TF's values).

    ``OFF`` no sharding; ``AUTO`` by file when the pipeline reads files, else by element;
    ``FILE`` by file; ``DATA`` by element; ``HINT`` where the pipeline calls ``shard``.
    """

    OFF = -1
    AUTO = 0
    FILE = 1
    DATA = 2
    HINT = 3


class ThreadingOptions(_OptionsBase):
    """Threading options (``options.threading``; TF 1.15: ``options.experimental_threading``)."""

    private_threadpool_size = _option(
        "private_threadpool_size", int,
        "If set (> 0), every parallel ``map`` runs at most this many worker threads; 0 or "
        "``None``: no limit beyond ``num_parallel_calls``.")
    max_intra_op_parallelism = _option(
        "max_intra_op_parallelism", int,
        "Torch intra-op (OpenMP) threads each parallel ``map`` worker may use for one call; "
        "``None`` keeps the engine's default of 1 (the workers already use the cores).")


class AutotuneOptions(_OptionsBase):
    """Autotuning options (``options.autotune``)."""

    enabled = _option(
        "enabled", bool,
        "Whether buffers of ``AUTOTUNE`` stages grow while the consumer waits; ``False`` keeps "
        "them at their starting size (``None``: true).")
    cpu_budget = _option(
        "cpu_budget", int,
        "Worker threads that ``num_parallel_calls=AUTOTUNE`` gives a stage (``None`` or 0: the "
        "number of available CPU cores).")
    ram_budget = _option(
        "ram_budget", int,
        "Bytes an ``AUTOTUNE`` buffer may grow to, measured from the elements it holds "
        "(``None`` or 0: no limit beyond the engine's own cap on buffered elements).")


class DistributeOptions(_OptionsBase):
    """Distribution options (``options.experimental_distribute``, also ``options.distribute``).

    Stored for the distributed input pipeline, which reads ``auto_shard_policy``.
    """

    auto_shard_policy = _option(
        "auto_shard_policy", AutoShardPolicy,
        "How to shard the pipeline between workers (a :class:`AutoShardPolicy`).",
        default_factory=lambda: AutoShardPolicy.AUTO)
    num_devices = _option(
        "num_devices", int, "The number of devices the pipeline feeds (``None``: unknown).")


class OptimizationOptions(_OptionsBase):
    """Graph-rewrite switches (``options.experimental_optimization``), accepted so TF programs
    that set them run unchanged. This engine runs the pipeline as written, so the fusion and
    parallelization rewrites have no effect; TF 1.15's ``autotune`` and
    ``autotune_cpu_budget`` are used where ``options.autotune`` leaves them unset."""

    apply_default_optimizations = _option("apply_default_optimizations", bool,
                                          "Accepted; no graph rewrites are applied.")
    filter_fusion = _option("filter_fusion", bool, "Accepted; no effect.")
    filter_parallelization = _option("filter_parallelization", bool, "Accepted; no effect.")
    inject_prefetch = _option("inject_prefetch", bool, "Accepted; no effect.")
    map_and_batch_fusion = _option("map_and_batch_fusion", bool, "Accepted; no effect.")
    map_and_filter_fusion = _option("map_and_filter_fusion", bool, "Accepted; no effect.")
    map_fusion = _option("map_fusion", bool, "Accepted; no effect.")
    map_parallelization = _option("map_parallelization", bool, "Accepted; no effect.")
    noop_elimination = _option("noop_elimination", bool, "Accepted; no effect.")
    parallel_batch = _option("parallel_batch", bool, "Accepted; no effect.")
    shuffle_and_repeat_fusion = _option("shuffle_and_repeat_fusion", bool,
                                        "Accepted; no effect.")
    autotune = _option("autotune", bool, "TF 1.15's spelling of ``autotune.enabled``.")
    autotune_cpu_budget = _option("autotune_cpu_budget", int,
                                  "TF 1.15's spelling of ``autotune.cpu_budget``.")


class Options(_OptionsBase):
    """Options for a whole input pipeline, set with ``Dataset.with_options``.

    >>> import data
    >>> options = data.Options()
    >>> options.deterministic = False
    >>> options.threading.private_threadpool_size = 2
    >>> ds = data.Dataset.range(4).with_options(options)
    >>> ds.options().deterministic, ds.options().threading.private_threadpool_size
    (False, 2)
    """

    _aliases = {"experimental_threading": "threading",
                "experimental_deterministic": "deterministic",
                "distribute": "experimental_distribute"}

    deterministic = _option(
        "deterministic", bool,
        "Whether parallel stages keep the input order (``None``: true). An op's own "
        "``deterministic=`` argument takes precedence.")
    threading = _option("threading", ThreadingOptions, "Threading options.",
                        default_factory=ThreadingOptions)
    autotune = _option("autotune", AutotuneOptions, "Autotuning options.",
                       default_factory=AutotuneOptions)
    experimental_distribute = _option("experimental_distribute", DistributeOptions,
                                      "Distribution options.", default_factory=DistributeOptions)
    experimental_optimization = _option("experimental_optimization", OptimizationOptions,
                                        "Graph-rewrite switches (accepted; see the class).",
                                        default_factory=OptimizationOptions)
    experimental_slack = _option("experimental_slack", bool,
                                 "Accepted; the last prefetch adds no slack here.")

    def merge(self, options: "Options") -> "Options":
        """A new ``Options``: these merged with ``options``, whose set values win."""
        return merge(self, options)  # type: ignore[return-value]


# -- Dataset.with_options -------------------------------------------------------------------
class OptionsDataset(Dataset):
    """The input with options set (see ``Dataset.with_options``); iterates as the input."""

    _keeps_spec = True

    def __init__(self, input_dataset: Dataset, options: Options) -> None:
        super().__init__()
        if not isinstance(options, Options):
            raise TypeError(f"with_options: options must be a data.Options, got "
                            f"{type(options).__name__}")
        self._input = input_dataset
        self._options = merge(Options(), options)  # a private copy

    def options(self) -> Options:
        result = merge(self._input.options(), self._options)
        result._set_mutable(False)
        return result  # type: ignore[return-value]

    def _cardinality(self) -> int:
        return self._input._cardinality()

    def _iterator(self, epoch: int) -> DatasetIterator:
        return self._input._iterator(epoch)


# -- the options of the pipeline being iterated ----------------------------------------------
_current: contextvars.ContextVar[Optional[Options]] = contextvars.ContextVar(
    "data_options", default=None)


def current() -> Options:
    """The options of the pipeline whose iterators are being built (defaults if none)."""
    options = _current.get()
    return options if options is not None else _DEFAULTS


@contextlib.contextmanager
def applied(options: Optional[Options]) -> Iterator[None]:
    """Make ``options`` the :func:`current` ones while iterators are built."""
    token = _current.set(options)
    try:
        yield
    finally:
        _current.reset(token)


_DEFAULTS = Options()
_DEFAULTS._set_mutable(False)


def resolved(options: Options) -> Tuple[bool, int, int, bool, int, int]:
    """The values the engine uses: (deterministic, threadpool size, intra-op threads,
    autotune enabled, cpu budget, ram budget); 0 means "no limit / the default"."""
    legacy = options.experimental_optimization  # TF 1.15's spellings, used when unset
    enabled = options.autotune.enabled
    enabled = legacy.autotune if enabled is None else enabled
    cpu_budget = options.autotune.cpu_budget
    cpu_budget = legacy.autotune_cpu_budget if cpu_budget is None else cpu_budget
    return (options.deterministic is not False,
            max(0, options.threading.private_threadpool_size or 0),
            max(0, options.threading.max_intra_op_parallelism or 0),
            enabled is not False,
            max(0, cpu_budget or 0),
            max(0, options.autotune.ram_budget or 0))
