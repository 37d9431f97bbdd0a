"""The training program the reliability battery attacks, and the helpers its tests share.

The pipeline (shuffle_and_repeat, parallel map, batch, prefetch) and the model (dropout, Adam)
put every kind of saved state in the checkpoint, so a resume is bitwise equal to an
uninterrupted run only if all of it comes back. Run as a script it trains in the model_dir
given and dies by SIGKILL at the moment named by ``RELIABILITY_KILL`` (see :func:`main`).
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import torch
import torch.nn.functional as F

import data
import estimator as est

SEED = 4321
N_STEPS = 12
SAVE_EVERY = 4


def input_fn():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(40, 6, generator=g)
    labels = (features.sum(1) > 0).long()
    ds = data.Dataset.from_tensor_slices((features, labels))
    ds = ds.apply(data.experimental.shuffle_and_repeat(16))
    ds = ds.map(lambda x, y: (x * 2.0 + 1.0, y), num_parallel_calls=2)
    return ds.batch(8).prefetch(2)


def model_fn(features, labels, mode, params):
    x = est.layers.dense(features, units=16, activation=F.relu)
    x = est.layers.dropout(x, rate=0.5, training=mode == est.ModeKeys.TRAIN)
    logits = est.layers.dense(x, units=2)
    loss = F.cross_entropy(logits, labels)
    nan_from = params.get("nan_from")
    if nan_from is not None and est.train.get_global_step() + 1 >= nan_from:
        loss = loss * float("nan")
    kill_in_step = params.get("kill_in_step")
    if kill_in_step is not None and est.train.get_global_step() + 1 == kill_in_step:
        os.kill(os.getpid(), signal.SIGKILL)  # after the forward pass, before the update
    train_op = est.train.AdamOptimizer(params.get("lr", 0.01)).minimize(
        loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def make_estimator(model_dir, params=None, **config):
    config.setdefault("save_summary_steps", 1000)
    config.setdefault("save_checkpoints_steps", SAVE_EVERY)
    config.setdefault("device", "cpu")
    return est.Estimator(model_fn, str(model_dir), params=params or {},
                         config=est.RunConfig(tf_random_seed=SEED, **config))


def variables(model_dir) -> dict:
    e = est.Estimator(model_fn, str(model_dir))
    return {name: torch.as_tensor(np.asarray(e.get_variable_value(name)))
            for name in e.get_variable_names()}


def assert_bitwise_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    different = [n for n in a if not (a[n].dtype == b[n].dtype and torch.equal(a[n], b[n]))]
    assert not different, f"variables differ: {different}"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(model_dir: str, moment: str) -> None:
    """Train to N_STEPS, SIGKILLed at ``moment``: ``step:K`` (inside step K), ``save:K``
    (half-way through writing checkpoint K), ``index:K`` (checkpoint K renamed into place, its
    index entry not yet written)."""
    from estimator.checkpoint import _files

    what, step = moment.split(":")
    params = {}
    if what == "step":
        params["kill_in_step"] = int(step)
    elif what == "save":
        real_open = _files._open_temp

        def open_temp(directory, name):
            tmp, f = real_open(directory, name)
            if name != f"model.ckpt-{step}.pt":
                return tmp, f
            real_write = f.write

            def write(b):  # half a kilobyte in, then the machine "loses power"
                n = real_write(bytes(b)[:512])
                f.flush()
                _die()
                return n

            f.write = write
            return tmp, f

        _files._open_temp = open_temp
    elif what == "index":
        real_write_index = _files.write_index

        def write_index(directory, state):
            if state.latest == f"model.ckpt-{step}.pt":
                _die()
            return real_write_index(directory, state)

        _files.write_index = write_index
    make_estimator(model_dir, params).train(input_fn, max_steps=N_STEPS)
    sys.exit(3)  # not reached


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
