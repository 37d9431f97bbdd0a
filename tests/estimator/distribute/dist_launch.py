"""Run ``dist_worker.py`` under torchrun (or as plain processes) with timeouts, for the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Dict, List, Optional

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
WORKER = os.path.join(HERE, "dist_worker.py")
_LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                  "MASTER_PORT", "GROUP_RANK", "TORCHELASTIC_RESTART_COUNT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_VARS}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


class Run:
    def __init__(self, returncode: int, output: str) -> None:
        self.returncode, self.output = returncode, output


def _wait(procs: List[subprocess.Popen], timeout: float) -> List[Run]:
    runs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=timeout)
            runs.append(Run(p.returncode, out))
    finally:
        for p in procs:  # nothing outlives a test, even one that timed out
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
    return runs


def torchrun(scenario: str, model_dir: str, out_dir: str, nproc: int = 2,
             extra_args: Optional[List[str]] = None, timeout: float = 120) -> Run:
    """One ``torchrun --standalone`` job on this machine."""
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "--monitor_interval=0.2", *(extra_args or []),
            WORKER, scenario, model_dir, out_dir]
    return _wait([_popen(args)], timeout)[0]


def two_nodes(scenario: str, model_dir: str, out_dir: str, timeout: float = 120) -> List[Run]:
    """Two torchrun "nodes" of one process each, meeting at a rendezvous on localhost."""
    endpoint = f"127.0.0.1:{free_port()}"
    procs = [_popen([sys.executable, "-m", "torch.distributed.run", "--nnodes=2",
                     f"--node_rank={node}", "--nproc_per_node=1", "--rdzv_backend=c10d",
                     f"--rdzv_endpoint={endpoint}", "--rdzv_id=two-nodes",
                     "--monitor_interval=0.2", WORKER, scenario, model_dir, out_dir])
             for node in range(2)]
    return _wait(procs, timeout)


def plain_processes(scenario: str, model_dir: str, out_dir: str, nproc: int = 2,
                    timeout: float = 120) -> List[Run]:
    """``nproc`` processes started with the launcher's variables set by hand (no torchrun)."""
    port = str(free_port())
    procs = [_popen([sys.executable, WORKER, scenario, model_dir, out_dir],
                    environment(RANK=str(r), WORLD_SIZE=str(nproc), LOCAL_RANK=str(r),
                                MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
             for r in range(nproc)]
    return _wait(procs, timeout)


def _popen(args: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    return subprocess.Popen(args, env=env or environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            cwd=ROOT)


def result(out_dir: str, rank: int) -> dict:
    return torch.load(os.path.join(out_dir, f"rank{rank}.pt"), weights_only=True)
