"""RunConfig(distribute=...) and the launcher's environment, in one process."""

from __future__ import annotations

import pytest

import estimator as est
from estimator.distribute._config import as_distribute_config
from estimator.distribute._group import launch_env, resolve


def test_distribute_setting_forms():
    assert as_distribute_config(None) == est.DistributeConfig()
    assert as_distribute_config(False) is None
    assert as_distribute_config(True).required
    assert as_distribute_config("gloo").backend == "gloo"
    with pytest.raises(TypeError, match="distribute must be None, a bool"):
        est.RunConfig(distribute=3)
    with pytest.raises(ValueError, match="backend must be None or one of"):
        est.DistributeConfig(backend="tcp")
    with pytest.raises(ValueError, match="timeout_secs must be a positive number"):
        est.DistributeConfig(timeout_secs=0)


def test_without_a_launcher_the_estimator_runs_alone(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert launch_env() is None
    assert resolve(est.DistributeConfig(), est.RunConfig().device) is None
    with pytest.raises(RuntimeError, match="needs a launcher: run the program with torchrun"):
        resolve(est.DistributeConfig(required=True), est.RunConfig().device)


def test_launcher_environment_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    env = launch_env()
    assert (env.rank, env.world_size, env.local_rank, env.restart_count) == (1, 4, 0, 2)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match=r"RANK=4 is outside \[0, WORLD_SIZE=4\)"):
        launch_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="must be integers"):
        launch_env()


def test_a_job_of_one_process_and_distribute_false_run_alone(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert resolve(est.DistributeConfig(), est.RunConfig().device) is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert resolve(None, est.RunConfig().device) is None  # RunConfig(distribute=False)
