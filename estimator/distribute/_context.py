"""``est.InputContext``: what an ``input_fn`` needs to know to read its share of the input."""

from __future__ import annotations


class InputContext:
    """Where this input pipeline stands among the job's, as ``tf.distribute.InputContext``.

    An ``input_fn`` that takes an argument named ``input_context`` gets one and shards its
    input itself (the Estimator then does not auto-shard it), as with TF's
    ``distribute_datasets_from_function``:

    >>> ctx = InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    >>> ctx.get_per_replica_batch_size(64)
    32
    >>> def input_fn(input_context):
    ...     import data
    ...     ds = data.Dataset.range(10).shard(input_context.num_input_pipelines,
    ...                                       input_context.input_pipeline_id)
    ...     return ds.batch(input_context.get_per_replica_batch_size(4))
    >>> [b.tolist() for b in input_fn(ctx)]
    [[1, 3], [5, 7], [9]]
    """

    def __init__(self, num_input_pipelines: int = 1, input_pipeline_id: int = 0,
                 num_replicas_in_sync: int = 1) -> None:
        for name, value, low in (("num_input_pipelines", num_input_pipelines, 1),
                                 ("input_pipeline_id", input_pipeline_id, 0),
                                 ("num_replicas_in_sync", num_replicas_in_sync, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"InputContext: {name} must be an int >= {low}, got {value!r}")
        if input_pipeline_id >= num_input_pipelines:
            raise ValueError(f"InputContext: input_pipeline_id must be < num_input_pipelines "
                             f"({num_input_pipelines}), got {input_pipeline_id}")
        self._num_input_pipelines = num_input_pipelines
        self._input_pipeline_id = input_pipeline_id
        self._num_replicas_in_sync = num_replicas_in_sync

    @property
    def num_input_pipelines(self) -> int:
        """The number of input pipelines in the job (one per process)."""
        return self._num_input_pipelines

    @property
    def input_pipeline_id(self) -> int:
        """This pipeline's index in ``[0, num_input_pipelines)`` (the process's rank)."""
        return self._input_pipeline_id

    @property
    def num_replicas_in_sync(self) -> int:
        """The number of replicas that take one synchronous step together."""
        return self._num_replicas_in_sync

    def get_per_replica_batch_size(self, global_batch_size: int) -> int:
        """``global_batch_size`` split evenly over the replicas; ``ValueError`` if it cannot."""
        if global_batch_size % self._num_replicas_in_sync != 0:
            raise ValueError(f"The `global_batch_size` {global_batch_size!r} is not divisible "
                             f"by `num_replicas_in_sync` {self._num_replicas_in_sync!r}")
        return global_batch_size // self._num_replicas_in_sync

    def __repr__(self) -> str:
        return (f"InputContext(num_input_pipelines={self._num_input_pipelines}, "
                f"input_pipeline_id={self._input_pipeline_id}, "
                f"num_replicas_in_sync={self._num_replicas_in_sync})")
