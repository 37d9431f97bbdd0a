"""Scale-out under torchrun on the CPU (gloo): each test launches real processes on localhost.

Every launch has a timeout and kills what it started, so a hang fails a test instead of CI.
"""

from __future__ import annotations

import logging
import os

import pytest
import torch

import estimator as est

import dist_launch as _launch
import dist_worker as worker

pytestmark = pytest.mark.slow


def _assert_close_variables(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_eval")
    model_dir, out = str(root / "model"), str(root / "out")
    run = _launch.torchrun("train_eval", model_dir, out)
    assert run.returncode == 0, run.output[-4000:]
    files = sorted(os.path.relpath(os.path.join(d, f), model_dir)
                   for d, _, names in os.walk(model_dir) for f in names)
    return model_dir, out, run.output, files


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("single"))
    model = est.Estimator(worker.model_fn, model_dir, worker.config(save_checkpoints_steps=4))
    model.train(worker.train_input_fn(batch=2 * worker.BATCH))  # the same global batches
    return model


def test_two_processes_train_like_one_process_on_the_global_batches(two_process_run,
                                                                    single_process_run):
    _, out, _, _ = two_process_run
    want = {n: single_process_run.get_variable_value(n)
            for n in single_process_run.get_variable_names()}
    assert int(want["global_step"]) == 8  # 64 examples, global batch 8
    for rank in (0, 1):
        _assert_close_variables(_launch.result(out, rank)["variables"], want)


def test_two_process_evaluation_equals_one_process_evaluation_of_the_checkpoint(
        two_process_run, tmp_path):
    model_dir, out, _, _ = two_process_run
    single = est.Estimator(worker.model_fn, model_dir, worker.config())
    want = single.evaluate(worker.eval_input_fn())
    for rank in (0, 1):
        got = _launch.result(out, rank)["eval"]
        assert got.keys() == want.keys()
        assert got["global_step"] == want["global_step"] == 8
        for key in ("accuracy", "mean_label", "loss", "label_sum"):
            assert got[key] == pytest.approx(want[key], rel=1e-6), key
    # the eval input (22 examples, batches of 3) is uneven over the ranks and still fully used
    labels = worker.examples(worker.EVAL_EXAMPLES, 2)[1]
    assert want["mean_label"] == pytest.approx(float(labels.float().mean()), rel=1e-6)
    assert want["label_sum"] == float(labels.sum())  # a user's metric object, summed over ranks


def test_predict_is_per_rank_or_gathered_on_rank_0(two_process_run):
    model_dir, out, _, _ = two_process_run
    single = est.Estimator(worker.model_fn, model_dir, worker.config())
    want = [p["classes"].item() for p in single.predict(worker.eval_input_fn())]
    r0, r1 = _launch.result(out, 0), _launch.result(out, 1)
    assert r0["predictions"] == want[0::2] and r1["predictions"] == want[1::2]
    assert r0["gathered"] == want and r1["gathered"] == []


def test_only_rank_0_writes_files(two_process_run):
    model_dir, _, output, files = two_process_run
    events = [f for f in files if "tfevents" in f]
    assert sorted(f for f in files if f not in events and not f.endswith(".sha256")) == [
        ".lock", "checkpoint", "model.ckpt-4.pt", "model.ckpt-8.pt"]
    # one writer for training, one for evaluation: rank 0's
    assert sorted(os.path.dirname(f) for f in events) == ["", "eval"]
    saves = [line for line in output.splitlines() if "Saved checkpoint" in line]
    assert all(line.startswith("[rank 0]") for line in saves)
    assert len([line for line in saves if os.path.join(model_dir, "model.ckpt") in line]) == 2
    assert len({f.rsplit(".", 2)[-2] for f in events}) == 1  # one process id


def test_checkpoint_of_two_processes_resumes_on_one_and_says_the_input_restarts(
        two_process_run, tmp_path, caplog):
    import shutil
    model_dir = str(tmp_path / "copy")
    shutil.copytree(two_process_run[0], model_dir)
    model = est.Estimator(worker.model_fn, model_dir, worker.config(save_checkpoints_steps=100))
    with caplog.at_level(logging.WARNING, logger="estimator"):
        model.train(worker.train_input_fn(), steps=2)
    assert int(model.get_variable_value("global_step")) == 10
    assert "written by 2 process(es) and this run has 1" in caplog.text


@pytest.fixture(scope="module")
def two_node_run(tmp_path_factory):
    """An uninterrupted run of the "resume" scenario on two simulated nodes."""
    root = tmp_path_factory.mktemp("two_nodes")
    runs = _launch.two_nodes("resume", str(root / "model"), str(root / "out"))
    assert all(r.returncode == 0 for r in runs), runs[0].output[-3000:] + runs[1].output[-3000:]
    return runs, str(root / "out")


def test_two_nodes_on_localhost_form_one_job(two_node_run):
    runs, out = two_node_run
    # each node started one process; together they are ranks 0 and 1 of one job
    ranks = sorted(line.split("]")[0] for r in runs for line in r.output.splitlines()
                   if "Initialised the gloo process group" in line)
    assert ranks == ["[rank 0", "[rank 1"]
    results = [_launch.result(out, r) for r in (0, 1)]
    assert results[0]["global_step"] == results[1]["global_step"] == 11
    _assert_close_variables(results[1]["variables"], results[0]["variables"])


def test_sigkill_of_one_rank_restarts_and_equals_an_uninterrupted_run(two_node_run, tmp_path):
    killed = _launch.torchrun("kill", str(tmp_path / "kill"), str(tmp_path / "kill_out"),
                              extra_args=["--max-restarts=1"])
    assert killed.returncode == 0, killed.output[-4000:]
    assert "exitcode: -9" in killed.output  # rank 1 was killed, and torchrun restarted the job
    assert "Restoring parameters from" in killed.output
    want = _launch.result(two_node_run[1], 0)
    got = _launch.result(str(tmp_path / "kill_out"), 0)
    assert got["global_step"] == want["global_step"] == 11
    _assert_close_variables(got["variables"], want["variables"])


def test_uneven_shards_stop_every_rank_together(two_process_run):
    _, out, output, _ = two_process_run
    assert "The input of rank(s) [1] ended; every rank stops here" in output
    # 5 batches dealt out 3 / 2: two synchronous steps; evaluation still sees all 5
    results = [_launch.result(out, r) for r in (0, 1)]
    assert [r["uneven_step"] for r in results] == [2, 2]
    labels = worker.examples(20, 3)[1]
    assert results[0]["uneven_eval"] == results[1]["uneven_eval"]
    assert results[0]["uneven_eval"]["mean_label"] == pytest.approx(float(labels.float().mean()))


def test_a_hook_stopping_one_rank_stops_every_rank_at_the_same_step(two_process_run):
    out = two_process_run[1]
    assert [_launch.result(out, r)["stop_step"] for r in (0, 1)] == [3, 3]


def test_rank_0s_initial_values_reach_every_rank_and_module_names_are_kept(two_process_run):
    out = two_process_run[1]
    r0, r1 = _launch.result(out, 0), _launch.result(out, 1)
    # the factory drew different values on each rank, yet every rank started from rank 0's
    # and they stayed equal; the checkpoint has the unwrapped names
    for key in ("module_first", "module_last"):
        torch.testing.assert_close(r0[key], r1[key], rtol=0, atol=0)
    assert not torch.equal(r0["module_first"], r0["module_last"])  # it did train
    assert r0["module_names"] == ["global_step", "net/bias", "net/weight"]


def test_an_error_on_one_rank_stops_every_rank_with_it(tmp_path):
    runs = _launch.plain_processes("error", str(tmp_path / "m"), str(tmp_path / "o"))
    assert [r.returncode != 0 for r in runs] == [True, True]
    assert "ValueError: boom on rank 1" in runs[1].output
    assert "PeerFailureError: rank 1 of 2 failed, so this rank stops too: ValueError: boom on " \
           "rank 1" in runs[0].output
