"""``train_and_evaluate`` benchmark: what the train <-> eval switch costs.

The seed program (dogs-vs-cats CNN, DESIGN.md section 1 pipeline, 28x28, batch 64, Adam 1e-3)
on a generated JPEG set, with a checkpoint and an evaluation every 100 steps
(``save_checkpoints_steps=100``, ``EvalSpec(steps=None, throttle_secs=0)``), timed by the same
hooks in both frameworks:

- a training hook stamps each step's ``before_run``/``after_run``;
- a saving listener stamps ``before_save``/``after_save`` (the checkpoint write);
- an evaluation hook stamps each evaluation batch.

Per evaluation, the *evaluation wall time* is the gap from the checkpoint's ``after_save`` to
the next training step (minus the usual gap between two training steps). The **switch** is
the part of it outside the evaluation's batches: from ``after_save`` to the first batch (less
one steady batch period, the median time between two evaluation batches, for that batch's own
work) plus from the last batch back to training -- building (TF: the graph, the session,
restoring the checkpoint) or opening the evaluation, its start-up, writing its results, and
returning to training. The report gives it as a share of the run's wall time (target: under
1%).

    python benchmarks/train_and_evaluate.py                      # this library only
    python benchmarks/train_and_evaluate.py --vs tf /path/to/tf215-venv/bin/python   # beside TF 2.15

``--vs tf PYTHON`` runs the same program with TensorFlow's Estimator in a subprocess of that
interpreter (``benchmarks/_tf_train_and_evaluate.py``; TensorFlow is never imported here).
The final evaluation (nothing trains after it) and the frameworks' teardown are left out of
both the switch and the wall time. ``--quick`` runs 200 steps for a smoke test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "examples"))
sys.path.insert(0, ROOT)

import _synthetic  # noqa: E402  (the examples' generated dogs-vs-cats set)

import data  # noqa: E402
import estimator as est  # noqa: E402
from models.dogs_vs_cats import define_model  # noqa: E402

BATCH, EVERY = 64, 100


# -- the seed program --------------------------------------------------------------------------
def get_input_fn(pattern, shuffle=False, num_epochs=None):
    def _path_to_img(path):
        label = 0 if os.path.basename(os.path.dirname(path)) == "dogs" else 1
        image = data.image.decode_jpeg(data.io.read_file(path), channels=3)
        image = data.image.convert_image_dtype(image, torch.float32)
        return data.image.resize(image, (28, 28)), label

    def _input_fn():
        ds = data.Dataset.list_files(pattern)
        if shuffle:
            ds = ds.apply(data.experimental.shuffle_and_repeat(4096, num_epochs))
        else:
            ds = ds.repeat(num_epochs)
        return ds.map(_path_to_img, num_parallel_calls=data.AUTOTUNE).batch(BATCH).prefetch(
            data.AUTOTUNE)
    return _input_fn


def model_fn(features, labels, mode):
    logits = define_model(features, 2)
    predictions = {"classes": logits.argmax(1)}
    if mode == est.ModeKeys.PREDICT:
        return est.EstimatorSpec(mode, predictions=predictions)
    loss = F.cross_entropy(logits, labels)
    accuracy = est.metrics.accuracy(labels=labels, predictions=predictions["classes"])
    est.summary.scalar("accuracy", accuracy[1])
    train_op = est.train.AdamOptimizer(1e-3).minimize(loss, global_step=est.train.get_global_step())
    return est.EstimatorSpec(mode, predictions=predictions, loss=loss, train_op=train_op,
                             eval_metric_ops={"accuracy": accuracy})


# -- the stamps (the TF script has the same three) ---------------------------------------------
class TrainStamps(est.SessionRunHook):
    def __init__(self, log):
        self.log = log

    def before_run(self, run_context):
        self.log["train"].append(["before", time.perf_counter()])

    def after_run(self, run_context, run_values):
        self.log["train"].append(["after", time.perf_counter(), run_context.session.global_step])


class SaveStamps(est.CheckpointSaverListener):
    def __init__(self, log):
        self.log = log

    def before_save(self, session, global_step_value):
        self.log["saves"].append([int(global_step_value), time.perf_counter()])

    def after_save(self, session, global_step_value):
        self.log["saves"][-1].append(time.perf_counter())


class EvalStamps(est.SessionRunHook):
    def __init__(self, log):
        self.log = log

    def begin(self):
        self.log["evals"].append([])

    def after_run(self, run_context, run_values):
        self.log["evals"][-1].append(time.perf_counter())


def run_ours(data_dir: str, steps: int) -> Dict[str, Any]:
    log: Dict[str, Any] = {"train": [], "saves": [], "evals": []}
    config = est.RunConfig(save_checkpoints_steps=EVERY, save_summary_steps=EVERY,
                           log_step_count_steps=EVERY, tf_random_seed=0)
    with tempfile.TemporaryDirectory() as model_dir:
        model = est.Estimator(model_fn, model_dir, config=config)
        train_spec = est.TrainSpec(get_input_fn(os.path.join(data_dir, "train/**/*.jpg"),
                                                shuffle=True), max_steps=steps,
                                   hooks=[TrainStamps(log)], saving_listeners=[SaveStamps(log)])
        eval_spec = est.EvalSpec(get_input_fn(os.path.join(data_dir, "valid/**/*.jpg"),
                                              num_epochs=1), steps=None, throttle_secs=0,
                                 hooks=[EvalStamps(log)])
        log["start"] = time.perf_counter()
        metrics, _ = est.train_and_evaluate(model, train_spec, eval_spec)
        log["stop"] = time.perf_counter()
    log["metrics"] = {k: float(v) for k, v in metrics.items()}
    return log


# -- the analysis (same for both) --------------------------------------------------------------
def analyse(log: Dict[str, Any]) -> Dict[str, float]:
    """Switch and evaluation times of the evaluations that training continues after, as a
    share of the wall time from the start to the last checkpoint (so the final evaluation
    and the framework's teardown are left out, for both)."""
    befores = [t for kind, t, *_ in log["train"] if kind == "before"]
    afters = [(t, step) for kind, t, *step in log["train"] if kind == "after"]
    save_steps = {s[0] for s in log["saves"]}
    gaps = [b - a for (a, step), b in zip(afters, befores[1:]) if step[0] not in save_steps]
    usual_gap = statistics.median(gaps)
    periods = [b - a for ev in log["evals"] for a, b in zip(ev, ev[1:])]
    period = statistics.median(periods)
    evaluation = switch = saving = 0.0
    mid_run = [(s, ev) for s, ev in zip(log["saves"], log["evals"]) if s[2] < befores[-1]]
    for (step, before_save, after_save), batches in mid_run:
        saving += after_save - before_save
        resumed = min(b for b in befores if b > after_save) - usual_gap
        evaluation += resumed - after_save
        # before the first batch (beyond one batch's worth) and after the last one
        switch += max(0.0, batches[0] - after_save - period) + (resumed - batches[-1])
    wall = log["saves"][-1][2] - log["start"]
    n = len(mid_run)
    return {"wall_s": wall, "steps": log["saves"][-1][0], "evaluations": n,
            "eval_batches": len(log["evals"][0]), "eval_batch_period_ms": 1e3 * period,
            "eval_share_pct": 100 * evaluation / wall, "switch_per_eval_ms": 1e3 * switch / n,
            "switch_share_pct": 100 * switch / wall, "save_per_checkpoint_ms": 1e3 * saving / n,
            "train_steps_per_s": len(afters) / (wall - evaluation - saving),
            "accuracy": log["metrics"]["accuracy"]}


def report(name: str, r: Dict[str, float]) -> None:
    print(f"{name}: {r['steps']:.0f} steps in {r['wall_s']:.1f} s with {r['evaluations']:.0f} "
          f"evaluations of {r['eval_batches']:.0f} batches before the last checkpoint (final "
          f"accuracy {r['accuracy']:.3f})")
    print(f"  switch: {r['switch_per_eval_ms']:.0f} ms per evaluation = "
          f"{r['switch_share_pct']:.2f}% of wall time   (all evaluation: "
          f"{r['eval_share_pct']:.1f}%; eval batch {r['eval_batch_period_ms']:.0f} ms; "
          f"checkpoint save {r['save_per_checkpoint_ms']:.0f} ms; training "
          f"{r['train_steps_per_s']:.1f} steps/s)")


def main(argv: List[str] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="200 steps")
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs (default 1)")
    parser.add_argument("--vs", nargs=2, metavar=("tf", "PYTHON"),
                        help="also run TensorFlow's Estimator with this interpreter")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(),
                                                           "torch-estimator-tae-bench"))
    args = parser.parse_args(argv)
    steps = 200 if args.quick else args.steps
    data_dir = _synthetic.make_dogscats(args.data_dir)
    print(f"seed program, {steps} steps, checkpoint + evaluation every {EVERY} steps, "
          f"{torch.get_num_threads()} threads, data in {data_dir}, {args.rounds} round(s)")
    if args.vs and args.vs[0] != "tf":
        parser.error("--vs takes: tf PYTHON")
    results: Dict[str, List[Dict[str, float]]] = {"torch-estimator": [], "TF 2.15 Estimator": []}
    for i in range(args.rounds):  # alternating, so load on a shared machine hits both alike
        print(f"-- round {i + 1}")
        results["torch-estimator"].append(analyse(run_ours(data_dir, steps)))
        report("torch-estimator", results["torch-estimator"][-1])
        if args.vs:
            done = subprocess.run([args.vs[1], os.path.join(HERE, "_tf_train_and_evaluate.py"),
                                   data_dir, str(steps), str(EVERY)], capture_output=True,
                                  text=True)
            if done.returncode != 0:
                sys.exit(f"the TensorFlow run failed:\n{done.stderr[-3000:]}")
            results["TF 2.15 Estimator"].append(
                analyse(json.loads(done.stdout.strip().splitlines()[-1])))
            report("TF 2.15 Estimator", results["TF 2.15 Estimator"][-1])
    print("-- medians over rounds")
    for name, rounds in results.items():
        if rounds:
            median = {key: statistics.median(r[key] for r in rounds)
                      for key in ("switch_per_eval_ms", "switch_share_pct", "eval_share_pct")}
            print(f"{name}: switch {median['switch_per_eval_ms']:.0f} ms per evaluation, "
                  f"{median['switch_share_pct']:.2f}% of wall time; all evaluation "
                  f"{median['eval_share_pct']:.1f}%")

if __name__ == "__main__":
    main()
