"""Scale-out: the same ``model_fn`` and ``input_fn`` on many processes, GPUs and nodes.

Start the program with ``torchrun`` (one process per GPU, or several on a CPU)::

    torchrun --nproc_per_node=4 train.py
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=node0:29400 train.py          # and node_rank=1 on the second node

and the Estimator notices the launcher's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``), initialises the process group (NCCL on CUDA, gloo on the CPU) and puts each
process on ``cuda:LOCAL_RANK``. ``RunConfig(distribute=...)`` overrides or disables this (see
:class:`DistributeConfig`). Then, with no change to user code:

- **Training** is synchronous data parallelism: the scope's root module runs inside
  ``DistributedDataParallel`` from the second step on (the first step creates the parameters;
  rank 0's values are broadcast as they are created and its gradients are averaged by hooks).
  The global step advances once per synchronous step, so ``steps``/``max_steps`` mean what they
  mean on one process; the global batch is ``world_size`` times the batch ``input_fn`` makes.
  Checkpoint keys are the unwrapped model's: a checkpoint moves freely between 1 and N processes.
- **Input** is auto-sharded like tf.data's ``AutoShardPolicy`` (by file, else by element; see
  :mod:`estimator.distribute._shard`), unless ``input_fn`` takes ``input_context``
  (an :class:`InputContext`) and shards itself. Training stops on every rank when any rank's
  input ends (one tiny all-reduce per step).
- **Evaluation** runs each rank's shard to its end, then sums loss and metric states over the
  ranks: every rank returns the same, global results. **Prediction** yields each rank's own
  examples, or every example on rank 0 with ``DistributeConfig(gather_predictions=True)``.
- **Files**: only rank 0 takes the ``model_dir`` lock, reads and writes checkpoints and writes
  summaries; it broadcasts what it read, so ``model_dir`` need not be shared between
  nodes. A checkpoint keeps each rank's iterator and RNG state under its rank; resuming with the
  same number of processes continues every input exactly, with another number the input starts
  afresh (with a warning).
- **Failures**: a rank that raises makes every rank raise (the others with
  :class:`PeerFailureError`) instead of waiting; a killed rank makes ``torchrun`` stop the job,
  or restart it with ``--max-restarts=N``, which resumes from the last checkpoint.
  ``DistributeConfig(timeout_secs=...)`` bounds how long a rank waits for a hung one.
"""

from estimator.distribute._config import DistributeConfig
from estimator.distribute._context import InputContext
from estimator.distribute._failure import PeerFailureError
from estimator.distribute._shard import auto_shard, policy_of

__all__ = ["DistributeConfig", "InputContext", "PeerFailureError", "auto_shard", "policy_of"]
