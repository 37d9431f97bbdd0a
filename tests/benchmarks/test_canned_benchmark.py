"""benchmarks/canned.py runs (``--quick``) and reports every configuration."""

import importlib.util
from pathlib import Path

import torch

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "canned.py"


def test_quick_run_reports_each_configuration(capsys):
    spec = importlib.util.spec_from_file_location("canned_benchmark", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    summary = module.main(["--quick", "--hidden", "8"])
    assert torch.get_num_threads() == threads  # restored
    assert set(summary) == {"hand loop", "hand loop, fused Adagrad",
                            "DNNClassifier, batched input", "DNNClassifier, one column",
                            "Estimator, plain model_fn", "DNNClassifier, row input"}
    assert summary["hand loop"]["ratio"] == 1.0
    assert all(r["steps_per_s"] > 0 and r["cpu_ms_per_step"] > 0 for r in summary.values())
    assert "x1.00 of the hand loop" in capsys.readouterr().out
